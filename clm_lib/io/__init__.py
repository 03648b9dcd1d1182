"""Reading and checking input: sources (file, glob, Parquet folder, DataFrame), the data
contract for transactions, subscriptions and leads (clean table + data-quality record),
and the data-quality record itself."""

from clm_lib.io.pandas_contract import (
    load_leads,
    load_subscriptions,
    load_transactions,
    read_table,
    validate_file,
)
from clm_lib.io.quality import DataQuality

__all__ = ["DataQuality", "load_leads", "load_subscriptions", "load_transactions",
           "read_table", "validate_file"]
