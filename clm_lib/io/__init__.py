"""Reading and checking input: sources (file, glob, Parquet folder, DataFrame), the data
contract for transactions, subscriptions and leads (clean table + data-quality record),
and the data-quality record itself.

The loaders are imported on first use, so that ``import clm_lib.io`` stays light.
"""
from importlib import import_module

from clm_lib.io.quality import DataQuality

__all__ = ["DataQuality", "load_leads", "load_subscriptions", "load_transactions",
           "read_table", "validate_file"]

_LAZY = {name: "clm_lib.io.load" for name in __all__ if name != "DataQuality"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'clm_lib.io' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
