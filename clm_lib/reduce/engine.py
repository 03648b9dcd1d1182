"""The engine: where the data contract and every reduction run, DuckDB or Spark.

* ``"duckdb"`` (the default) — embedded, in process, multi-threaded and out of core: a
  file, a glob of many, a Parquet folder or a DataFrame (scanned without a copy);
* ``"spark"`` — Apache Spark through PySpark, for data in a lake or warehouse (local mode
  in tests, ``spark-submit`` or a cluster session in production);
* ``"pandas"`` — accepted as the name of the default (existing configurations keep
  working); the engine's name is then "duckdb".

Every reduction is written once, as Ibis expressions (:mod:`clm_lib.reduce.expressions`);
only small reduced tables (one row per customer, per cohort and k, per period) come back
to pandas, through the one dtype map of :func:`clm_lib.io.sources.to_pandas`.

Models only need the reduced data, and the buy-till-you-die likelihoods only depend on
``(frequency, recency, T)``: :meth:`Engine.compress` groups identical triples with a count
in the engine, so a model is fitted on a small weighted table
(``model.fit(table, weights="weights")``), and :meth:`Engine.score` computes predictions
on the unique triples and joins them back in the engine.

Examples
--------
>>> from clm_lib.reduce import get_engine
>>> eng = get_engine()                                                  # doctest: +SKIP
>>> tx, dq = eng.load_transactions("tx/*.parquet", as_of="2024-12-31")  # doctest: +SKIP
>>> summ = eng.summary_table(tx, as_of="2024-12-31", calibration_end="2024-06-30",
...                          time_unit="week")                          # doctest: +SKIP
>>> triples = eng.compress(summ)      # frequency, recency, T, weights  # doctest: +SKIP
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from clm_lib.exceptions import MissingColumnsError, ParameterError
from clm_lib.io.contract import DEFAULT_EARLIEST_DATE, DEFAULT_MAX_AMOUNT
from clm_lib.io.quality import DataQuality
from clm_lib.io.sources import (
    Materialized,
    add_macros,
    backend_of,
    connect,
    default_connection,
    java_available,
    local_spark_session,
    raw_table,
    read_errors,
    read_source,
    source_name,
    table_from_pandas,
    to_pandas,
)
from clm_lib.reduce import expressions as red
from clm_lib.reduce.cohorts import CohortReductions, retention_matrices
from clm_lib.reduce.customers import CustomerReductions
from clm_lib.reduce.orders import OrderReductions
from clm_lib.reduce.periods import COHORT_PERIODS
from clm_lib.reduce.subscriptions import SubscriptionReductions

__all__ = ["ENGINES", "COHORT_PERIODS", "Engine", "get_engine", "summary_data", "compress",
           "cohort_activity", "subscription_durations", "retention_matrices",
           "local_spark_session", "java_available"]

#: Names accepted by the shared ``engine`` parameter ("pandas" is the default, DuckDB).
ENGINES = ("pandas", "duckdb", "spark")
#: What each name runs on.
_BACKENDS = {"duckdb": "duckdb", "pandas": "duckdb", "spark": "spark"}
TX_COLUMNS = ("customer_id", "timestamp", "amount")
TRIPLE = ("frequency", "recency", "T")


class Engine(CustomerReductions, CohortReductions, OrderReductions, SubscriptionReductions):
    """The data contract and the reductions on one engine; create with :func:`get_engine`.

    Attributes
    ----------
    name : {"duckdb", "spark"}
    con : the Ibis backend
    """

    def __init__(self, name: str = "duckdb", *, connection: Any = None, spark: Any = None,
                 threads: int | None = None, memory_limit: str | None = None):
        if name not in _BACKENDS:
            raise ParameterError(f"engine must be one of {list(ENGINES)}, got {name!r}")
        self.name = _BACKENDS[name]
        own = connection is not None or spark is not None or threads or memory_limit
        if self.name == "duckdb" and not own:
            self.con = default_connection()
        else:
            self.con = connect(self.name, connection=connection, spark=spark, threads=threads,
                               memory_limit=memory_limit)
            add_macros(self.con)

    def __repr__(self) -> str:
        return f"<Engine {self.name}>"

    @property
    def backend(self) -> str:
        return backend_of(self.con)

    # ------------------------------------------------------------------ sources
    def table(self, source, columns: Mapping[str, str] | None = None,
              required: Sequence[str] = TX_COLUMNS, what: str = "transactions", *,
              encoding: str | None = None, delimiter: str | None = None):
        """The Ibis table of ``source`` (path, glob, table name, DataFrame or Ibis table),
        taken as already loaded (no data contract; see :meth:`load_transactions`);
        ``encoding`` and ``delimiter`` of a CSV file as in :func:`clm_lib.io.read_table`."""
        return read_source(self.con, source, columns, tuple(required), what,
                           encoding=encoding, delimiter=delimiter)

    def load_transactions(self, source, columns: Mapping[str, str] | None = None, *,
                          as_of=None, date_format: str | None = None, tz: str | None = None,
                          negative_amounts: str = "drop", encoding: str | None = None,
                          delimiter: str | None = None, cancellation_prefix: str | None = None,
                          max_amount: float = DEFAULT_MAX_AMOUNT,
                          earliest_date: Any = DEFAULT_EARLIEST_DATE,
                          id_numbers: str = "warn") -> tuple[Any, DataQuality]:
        """Apply the transactions data contract in the engine.

        The rules, drop reasons, warnings and errors of :func:`clm_lib.io.load_transactions`
        (:mod:`clm_lib.io.transactions`), evaluated where the data are: one aggregation
        counts every drop reason, and the clean rows stay lazy in the engine.

        Parameters
        ----------
        source : path, glob, directory of Parquet files, table name, DataFrame or Ibis table
            Raw transactions; CSV files are read as text and converted column by column.
        columns, as_of, date_format, tz, negative_amounts, encoding, delimiter, \
cancellation_prefix, max_amount, earliest_date, id_numbers
            As in :func:`clm_lib.io.load_transactions`. Spark reads the encodings its
            CSV reader knows (:func:`clm_lib.io.sources.raw_table`); a byte that is not
            in the encoding past the first MiB becomes U+FFFD there, where DuckDB raises.

        Returns
        -------
        table : Ibis table
            Canonical ``customer_id`` (text), ``timestamp`` (naive), ``amount`` (float64)
            and the other columns; lazy and unordered.
        quality : DataQuality
        """
        from clm_lib.io.transactions import check_transactions

        raw = raw_table(self.con, source, "transactions", rows=True, encoding=encoding,
                        delimiter=delimiter)
        with read_errors(source, encoding):
            return check_transactions(raw, backend=self.backend, name=source_name(source),
                                      columns=columns, as_of=as_of, date_format=date_format,
                                      tz=tz, negative_amounts=negative_amounts,
                                      cancellation_prefix=cancellation_prefix,
                                      max_amount=max_amount, earliest_date=earliest_date,
                                      id_numbers=id_numbers)

    def load_subscriptions(self, source, columns: Mapping[str, str] | None = None, *,
                           as_of=None, date_format: str | None = None, tz: str | None = None,
                           churn_values: Mapping[Any, bool] | None = None,
                           encoding: str | None = None, delimiter: str | None = None,
                           earliest_date: Any = DEFAULT_EARLIEST_DATE,
                           max_tenure: float | None = None, id_numbers: str = "warn"
                           ) -> tuple[Any, DataQuality]:
        """Apply the subscriptions data contract (interval or snapshot form) in the engine;
        the rules of :func:`clm_lib.io.load_subscriptions` (:mod:`clm_lib.io.subscriptions`).
        Returns the clean lazy table (canonical columns and covariates, unordered) and the
        data-quality record."""
        from clm_lib.io.subscriptions import check_subscriptions

        raw = raw_table(self.con, source, "subscriptions", encoding=encoding,
                        delimiter=delimiter)
        with read_errors(source, encoding):
            return check_subscriptions(raw, backend=self.backend, name=source_name(source),
                                       columns=columns, as_of=as_of, date_format=date_format,
                                       tz=tz, churn_values=churn_values,
                                       earliest_date=earliest_date, max_tenure=max_tenure,
                                       id_numbers=id_numbers)

    def load_leads(self, source, columns: Mapping[str, str] | None = None, *, as_of=None,
                   date_format: str | None = None, tz: str | None = None,
                   encoding: str | None = None, delimiter: str | None = None,
                   earliest_date: Any = DEFAULT_EARLIEST_DATE, id_numbers: str = "warn"
                   ) -> tuple[Any, DataQuality]:
        """Apply the leads data contract in the engine (the rules of
        :func:`clm_lib.io.load_leads`); returns the clean lazy table and the record."""
        from clm_lib.io.leads import check_leads

        raw = raw_table(self.con, source, "leads", encoding=encoding, delimiter=delimiter)
        with read_errors(source, encoding):
            return check_leads(raw, backend=self.backend, name=source_name(source),
                               columns=columns, as_of=as_of, date_format=date_format, tz=tz,
                               earliest_date=earliest_date, id_numbers=id_numbers)

    def _transactions(self, source, columns) -> tuple[Any, DataQuality | None]:
        """A file or table name goes through the data contract; a DataFrame or Ibis table
        is taken as already loaded (canonical columns)."""
        if isinstance(source, (str, os.PathLike)):
            return self.load_transactions(source, columns)
        # a frame's row order orders ties (equal timestamps) as the frame does
        return read_source(self.con, source, columns, TX_COLUMNS, "transactions",
                           rows=isinstance(source, pd.DataFrame)), None

    # ------------------------------------------------------------------ utilities
    def to_pandas(self, expr) -> pd.DataFrame:
        """Execute an Ibis table expression; the result in pandas, typed by the one dtype
        map of :func:`clm_lib.io.sources.to_pandas`."""
        return to_pandas(expr)

    def materialize(self, expr) -> Materialized:
        """Compute ``expr`` once and keep it in the engine (DuckDB temp table, Spark
        persisted view); ``.table`` is the Ibis table, ``.drop()`` releases it."""
        return Materialized(self.con, expr)

    def from_pandas(self, df: pd.DataFrame):
        """Register a pandas frame in the engine (DuckDB scans it without a copy) and
        return its Ibis table."""
        return table_from_pandas(self.con, df)

    # ------------------------------------------------------------------ compression
    def compress(self, summary, columns: Sequence[str] = TRIPLE, *,
                 where: Any = None) -> pd.DataFrame:
        """Group identical rows of ``columns`` with a ``weights`` count, in the engine.

        Parameters
        ----------
        summary : DataFrame or Ibis table
            A per-customer summary (e.g. :meth:`summary_data`, or the lazy table of
            :meth:`summary_table`).
        columns : sequence of str
            Columns that define identical customers for the model (default the BG/NBD
            and Pareto/NBD triple ``frequency, recency, T``).
        where : callable, optional
            Filter applied first, ``where(table) -> boolean column`` (e.g.
            ``lambda t: t.frequency > 0`` for the Gamma-Gamma spend model).

        Returns
        -------
        DataFrame
            ``columns`` + ``weights`` (int64), sorted by ``columns``; fit a model with
            ``model.fit(result, weights="weights")``. The weights sum to the number of
            customers: the log-likelihoods are sums over customers, so the estimates are
            those of the full table.
        """
        columns = list(columns)
        missing = [c for c in columns if c not in summary.columns]
        if missing:
            raise MissingColumnsError(missing, [str(c) for c in summary.columns], what="summary")
        t = self.from_pandas(summary[columns]) if isinstance(summary, pd.DataFrame) else summary
        if where is not None:
            t = t.filter(where(t))
        return self.to_pandas(red.compress(t, columns).order_by(columns))

    # ------------------------------------------------------------------ scoring
    def score(self, summary, predict: Callable[[pd.DataFrame], pd.DataFrame],
              columns: Sequence[str] = TRIPLE, *, distinct_from=None):
        """Predictions per customer, computed once per distinct ``columns`` row.

        Parameters
        ----------
        summary : DataFrame or Ibis table
            Per-customer summary with ``columns``.
        predict : callable
            ``predict(unique) -> DataFrame`` with one row per row of ``unique`` (a pandas
            frame of the distinct ``columns``), e.g.
            ``lambda u: pd.DataFrame({"p_alive": model.conditional_probability_alive(...)})``.
        columns : sequence of str
            The columns predictions depend on.
        distinct_from : DataFrame or Ibis table, optional
            Where to take the distinct ``columns`` from (default ``summary``); pass the
            materialised base table when ``summary`` is itself a lazy join, e.g. when
            chaining a purchase model score and a spend model score.

        Returns
        -------
        Same kind as ``summary`` (pandas DataFrame, or a lazy Ibis table in the engine)
        with the prediction columns added. Customers are never dropped: the join is on
        exact values of ``columns`` taken from the same table.
        """
        columns = list(columns)
        base = summary if distinct_from is None else distinct_from
        unique = self.compress(base, columns).drop(columns="weights")
        preds = pd.DataFrame(predict(unique.copy()))
        if len(preds) != len(unique):
            raise ParameterError(f"predict returned {len(preds)} rows for {len(unique)} unique rows")
        clash = [c for c in preds.columns if c in columns or c in summary.columns]
        if clash:
            raise ParameterError(f"predict returned columns that already exist: {clash}")
        table = pd.concat([unique.reset_index(drop=True), preds.reset_index(drop=True)], axis=1)
        if isinstance(summary, pd.DataFrame):
            # joining the predictions back to the caller's own frame
            idx_name = summary.index.name
            merged = summary.reset_index().merge(table, on=columns, how="left", validate="m:1")
            return merged.set_index(idx_name) if idx_name in merged.columns else merged
        right = self.from_pandas(table)
        joined = summary.left_join(right, columns)
        return joined.select(*[summary[c] for c in summary.columns],
                             *[right[c] for c in preds.columns])


_ENGINE_CACHE: dict[str, Engine] = {}


def get_engine(name: str | Engine = "duckdb", **kwargs) -> Engine:
    """The :class:`Engine` for ``name`` ("duckdb", the default; "spark"; "pandas", an alias
    of "duckdb").

    Without keyword arguments one engine per backend is created and reused (a Spark
    session takes seconds to start). Keyword arguments (``connection=`` an Ibis backend,
    ``spark=`` a SparkSession, ``threads=``, ``memory_limit=`` for DuckDB) create a new one.
    """
    if isinstance(name, Engine):
        return name
    if name not in _BACKENDS:
        raise ParameterError(f"engine must be one of {list(ENGINES)}, got {name!r}")
    if kwargs:
        return Engine(name, **kwargs)
    key = _BACKENDS[name]
    if key not in _ENGINE_CACHE:
        _ENGINE_CACHE[key] = Engine(key)
    return _ENGINE_CACHE[key]


def summary_data(source, *, as_of, calibration_end=None, time_unit: str = "week",
                 engine: str | Engine = "duckdb", columns=None) -> pd.DataFrame:
    """:meth:`Engine.summary_data` on the engine named by ``engine``."""
    return get_engine(engine).summary_data(source, as_of=as_of, calibration_end=calibration_end,
                                           time_unit=time_unit, columns=columns)


def compress(summary, columns: Sequence[str] = TRIPLE, *, engine: str | Engine = "duckdb",
             where=None) -> pd.DataFrame:
    """:meth:`Engine.compress` on the engine named by ``engine``."""
    return get_engine(engine).compress(summary, columns, where=where)


def cohort_activity(source, *, cohort_period: str = "month", as_of,
                    engine: str | Engine = "duckdb", columns=None,
                    segment: str | None = None) -> pd.DataFrame:
    """:meth:`Engine.cohort_activity` on the engine named by ``engine``."""
    return get_engine(engine).cohort_activity(source, cohort_period=cohort_period, as_of=as_of,
                                              columns=columns, segment=segment)


def subscription_durations(source, *, as_of=None, time_unit: str = "month",
                           engine: str | Engine = "duckdb", columns=None, date_format=None,
                           churn_values=None) -> pd.DataFrame:
    """:meth:`Engine.subscription_durations` on the engine named by ``engine``."""
    return get_engine(engine).subscription_durations(source, as_of=as_of, time_unit=time_unit,
                                                     columns=columns, date_format=date_format,
                                                     churn_values=churn_values)
