"""Connections, sources and materialisation for the Ibis engines (DuckDB, Spark).

Kept apart from the reductions so that the expressions in :mod:`._reductions` never
touch a particular backend.

Notes on the pinned stack (2026-11): with duckdb 2.0.0, Ibis 12's DuckDB backend runs
``read_parquet``, ``read_csv``, ``memtable`` and raw SQL, but its generated
``DROP TABLE/VIEW IF EXISTS`` statements (used by ``create_table`` and ``cache``) fail
with a parser error. We therefore *avoid* them: intermediate results are materialised
with our own ``CREATE OR REPLACE TEMP TABLE <name> AS <compiled SQL>`` and dropped with
``DROP TABLE <name>``.
"""
from __future__ import annotations

import glob
import itertools
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from clm_lib.exceptions import ClmError, MissingColumnsError, ParameterError

_counter = itertools.count()


def _ibis():
    try:
        import ibis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ClmError(
            "the duckdb and spark engines need ibis-framework: "
            "pip install 'ibis-framework[duckdb,pyspark]>=12,<13'") from exc
    return ibis


def java_available() -> bool:
    """True when a Java runtime is on the PATH or JAVA_HOME (needed by Spark)."""
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return True
    return shutil.which("java") is not None


def local_spark_session(master: str = "local[2]", app_name: str = "clm-workbench",
                        shuffle_partitions: int = 4):
    """A local SparkSession configured for the workbench.

    The session time zone is UTC so that naive timestamps keep their calendar day, and
    the UI is off. On a cluster, build your own session (e.g. the one ``spark-submit``
    or Databricks gives you) and pass it to :func:`clm_lib.reduce.engine.get_engine`.
    """
    if not java_available():
        raise ClmError("the spark engine needs Java (17 or later) on the PATH or in JAVA_HOME")
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover
        raise ClmError("the spark engine needs pyspark: pip install 'pyspark>=4.0,<4.1'") from exc
    return (SparkSession.builder.master(master).appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
            # Arrow for pandas <-> Spark transfers (compressed triples, predictions)
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.driver.memory", os.environ.get("CLM_SPARK_DRIVER_MEMORY", "2g"))
            .getOrCreate())


def connect(name: str, *, connection: Any = None, spark: Any = None, database: str = ":memory:",
            threads: int | None = None, memory_limit: str | None = None):
    """An Ibis backend for ``name`` ("duckdb" or "spark")."""
    ibis = _ibis()
    if connection is not None:
        return connection
    if name == "duckdb":
        con = ibis.duckdb.connect(database)
        if threads is not None:
            con.raw_sql(f"SET threads = {int(threads)}")
        if memory_limit is not None:
            con.raw_sql(f"SET memory_limit = '{memory_limit}'")
        # Naive timestamps are UTC wall-clock time, as in the Spark session (see
        # local_spark_session); aware ones are converted to UTC.
        con.raw_sql("SET TimeZone = 'UTC'")
        # Row order is never relied upon (results are sorted explicitly); dropping it lets
        # DuckDB stream large results with less memory.
        con.raw_sql("SET preserve_insertion_order = false")
        return con
    if name == "spark":
        session = spark if spark is not None else local_spark_session()
        return ibis.pyspark.connect(session)
    raise ParameterError(f"engine must be 'pandas', 'duckdb' or 'spark', got {name!r}")


def _kind(path: str) -> str:
    low = path.lower()
    for ext in (".parquet", ".pq"):
        if low.endswith(ext):
            return "parquet"
    if low.endswith((".csv", ".csv.gz", ".txt")):
        return "csv"
    if os.path.isdir(path) or "/" in path or "://" in path:
        return "parquet"  # a directory of Parquet files (Spark/Hive layout), local or remote
    return "table"


def source_name(source: Any) -> str:
    """A short description of a source for data-quality records (never a full path)."""
    if isinstance(source, (str, Path)):
        return os.path.basename(str(source).rstrip("/")) or str(source)
    if isinstance(source, pd.DataFrame):
        return "DataFrame"
    return "table"


def read_source(con, source: Any, columns: Mapping[str, str] | None, required: tuple[str, ...],
                what: str, raw: bool = False):
    """An Ibis table for ``source`` with canonical column names.

    ``source`` is a path to a CSV or Parquet file, a glob of many, a directory of Parquet
    files, the name of a table the backend knows, a pandas DataFrame, or an Ibis table.
    ``columns`` maps source names to canonical names (as in ``clm_lib.io.pandas_contract``). With
    ``raw=True`` CSV columns are all text and nothing is renamed or checked: the data
    contract (:mod:`._contract`) does that.
    """
    ibis = _ibis()
    if isinstance(source, ibis.expr.types.Table):
        t = source
    elif isinstance(source, pd.DataFrame):
        t = table_from_pandas(con, source)
    elif isinstance(source, (str, Path)):
        path = str(source)
        kind = _kind(path)
        if kind == "table":
            t = con.table(path)
        else:
            if "://" not in path and not (os.path.exists(path) or glob.glob(path)):
                raise FileNotFoundError(f"{what}: no file matches {path!r}")
            if con.name == "duckdb" and os.path.isdir(path):
                path = os.path.join(path, "**", "*.parquet")
            if kind == "parquet":
                t = _read_parquet(con, path)
            elif raw:
                t = (con.read_csv(path, all_varchar=True) if con.name == "duckdb"
                     else con.read_csv(path, inferSchema=False))
            else:
                t = _read_csv(con, path, columns)
    else:
        raise ParameterError(f"{what}: source must be a path, a table name, a DataFrame or an "
                             f"Ibis table, got {type(source).__name__}")
    if raw:
        return t
    if columns:
        present = {k: v for k, v in columns.items() if k in t.columns and k != v}
        if present:
            t = t.rename({v: k for k, v in present.items()})
    missing = [c for c in required if c not in t.columns]
    if missing:
        raise MissingColumnsError(missing, list(t.columns), what=what)
    return t


def _read_parquet(con, path: str):
    try:
        return con.read_parquet(path)
    except Exception as exc:  # Spark's AnalysisException; matched on its message
        if "TIMESTAMP(NANOS" in str(exc):
            raise ClmError(
                f"Spark cannot read the nanosecond timestamps of {os.path.basename(path)!r}; "
                "write the Parquet files with microseconds (pandas: df.to_parquet(..., "
                "coerce_timestamps='us', allow_truncated_timestamps=True)) or use the "
                "duckdb engine") from None
        raise


def _read_csv(con, path: str, columns: Mapping[str, str] | None):
    """CSV with ``customer_id`` kept as text (ids such as "00001" must not become 1)."""
    id_src = next((k for k, v in (columns or {}).items() if v == "customer_id"), "customer_id")
    if con.name == "duckdb":
        t = con.read_csv(path, types={id_src: "VARCHAR"})
    else:
        t = con.read_csv(path, inferSchema=False)  # all text; typed below
    casts = {}
    for src, canon in {**{c: c for c in t.columns}, **dict(columns or {})}.items():
        if src not in t.columns:
            continue
        typ = t[src].type()
        if canon in ("timestamp", "start", "end") and typ.is_string():
            casts[src] = t[src].cast("timestamp")
        elif canon in ("amount", "tenure") and typ.is_string():
            casts[src] = t[src].cast("float64")
        elif canon == "churned" and typ.is_string():
            casts[src] = t[src].lower().isin(["true", "1", "yes"])
    return t.mutate(**casts) if casts else t


def table_from_pandas(con, df: pd.DataFrame, prefix: str = "clm_df"):
    """Register a pandas frame in the engine under a fresh name and return its table.

    Unlike ``ibis.memtable`` the result is a real named table, so it can be referenced
    from SQL we compile ourselves (see :class:`Materialized`).
    """
    import pyarrow as pa

    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    df = df.reset_index(drop=True)
    if con.name == "duckdb":
        con.con.register(name, pa.Table.from_pandas(df, preserve_index=False))
    elif con.name == "pyspark":
        con._session.createDataFrame(df).createOrReplaceTempView(name)
    else:  # pragma: no cover
        raise ParameterError(f"unsupported backend {con.name!r}")
    return con.table(name)


class Materialized:
    """A named intermediate result kept in the engine; ``drop()`` releases it."""

    def __init__(self, con, expr, prefix: str = "clm_tmp"):
        ibis = _ibis()
        self.con = con
        self.name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        if con.name == "duckdb":
            sql = ibis.to_sql(expr, dialect="duckdb")
            con.raw_sql(f'CREATE OR REPLACE TEMP TABLE "{self.name}" AS {sql}')
            self._spark_df = None
        elif con.name == "pyspark":
            sdf = con._session.sql(str(ibis.to_sql(expr, dialect="pyspark")))
            self._spark_df = sdf.persist()
            self._spark_df.count()  # persist() is lazy: compute now, as DuckDB does
            self._spark_df.createOrReplaceTempView(self.name)
        else:  # pragma: no cover - other Ibis backends are not supported
            raise ParameterError(f"cannot materialise on backend {con.name!r}")
        self.table = con.table(self.name)

    def drop(self) -> None:
        if self.con.name == "duckdb":
            self.con.raw_sql(f'DROP TABLE "{self.name}"')
        else:
            self._spark_df.unpersist()
            self.con._session.catalog.dropTempView(self.name)
