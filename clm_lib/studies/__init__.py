"""The studies: one package per study notebook, each a ``compute`` module (inputs → a
frozen result) and a ``report`` module (summary lines, display tables, metrics, exports)."""
