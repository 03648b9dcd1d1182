"""Reductions of clean tables to what the models need (per-customer summaries, cohort
counts, orders, subscription durations), and the engine that runs them."""

from clm_lib.reduce.engine import ENGINES, Engine, get_engine

__all__ = ["ENGINES", "Engine", "get_engine"]
