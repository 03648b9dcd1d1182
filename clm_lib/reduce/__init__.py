"""Reductions of clean tables to what the models need (per-customer summaries, cohort
counts, orders, subscription durations), and the engine that runs them."""
