"""Reading and checking input: sources (file, glob, Parquet folder, DataFrame), the data
contract for transactions, subscriptions and leads (clean table + data-quality record),
and the data-quality record itself."""
