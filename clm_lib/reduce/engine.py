"""Run the workbench's reductions where the data live: DuckDB in-process, or Spark.

The shared ``engine`` parameter selects where the data contract, per-customer summaries,
cohort counts, orders and subscription durations are computed:

* ``"duckdb"`` (the default) — embedded in the Python process, multi-threaded, out of
  core: a DataFrame, a CSV or Parquet file, a glob of many files or a Parquet folder;
* ``"spark"`` — Apache Spark through PySpark, for data in a lake or warehouse.

``"pandas"``, the in-process default of older configs, is accepted and means DuckDB. Every
reduction is written once, as an Ibis expression (:mod:`clm_lib.reduce.expressions`),
and runs unchanged on both engines (tests/test_spark_parity.py compares them).

Models only need the reduced data, and the buy-till-you-die likelihoods only depend on
``(frequency, recency, T)``: :meth:`Engine.compress` groups identical triples with a
count *in the engine*, so a model is fitted on a small weighted table
(``model.fit(table, weights="weights")``), and :meth:`Engine.score` computes predictions
on the unique triples and joins them back in the engine.

Examples
--------
>>> from clm_lib.reduce.engine import get_engine
>>> eng = get_engine("duckdb")                                          # doctest: +SKIP
>>> summ = eng.summary_table("tx/*.parquet", as_of="2024-12-31",
...                          calibration_end="2024-06-30", time_unit="week")  # doctest: +SKIP
>>> triples = eng.compress(summ)   # a DataFrame: frequency, recency, T, weights  # doctest: +SKIP
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clm_lib.checks import TIME_UNITS, unit_days
from clm_lib.exceptions import (
    DataContractError,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
)

from clm_lib.io.quality import DataQuality
from clm_lib.reduce.periods import (
    COHORT_PERIODS,
    check_period,
    last_complete_period,
    period_labels,
)

from clm_lib.reduce import expressions as red
from clm_lib.io.sources import (
    Materialized,
    connect,
    java_available,
    local_spark_session,
    read_source,
    source_name,
    table_from_pandas,
)
from clm_lib.io.contract import check_subscriptions, check_transactions

__all__ = [
    "ENGINES",
    "COHORT_PERIODS",
    "Engine",
    "get_engine",
    "summary_data",
    "compress",
    "cohort_activity",
    "subscription_durations",
    "retention_matrices",
    "local_spark_session",
    "java_available",
]

#: Names accepted by the shared ``engine`` parameter.
ENGINES = ("duckdb", "spark")
#: Names accepted for an engine that are another's: ``"pandas"`` (the in-process default
#: of older configs) runs on DuckDB.
ALIASES = {"pandas": "duckdb"}
_UNIT_DAYS = TIME_UNITS
TX_COLUMNS = ("customer_id", "timestamp", "amount")
TRIPLE = ("frequency", "recency", "T")


def _unit(time_unit: str, allowed=("day", "week", "month")) -> float:
    return unit_days(time_unit, allowed)


def _day(value, name: str) -> dt.date:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} is not a date: {value!r}") from exc
    if ts is pd.NaT:
        raise ParameterError(f"{name} is missing")
    return ts.normalize().date()


def retention_matrices(activity: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Cohort × k matrices from :meth:`Engine.cohort_activity` (small, in pandas).

    Parameters
    ----------
    activity : DataFrame
        Output of :meth:`Engine.cohort_activity` (``cohort``, ``cohort_index``, ``period``,
        ``customers``, ``revenue``, ``last_active``; ``attrs["last_complete_period"]``).

    Returns
    -------
    dict with ``"bounded"`` (customers active in exactly period k), ``"unbounded"``
    (active in k or later), ``"revenue"`` (revenue in period k): DataFrames indexed by
    cohort label, columns k = 0, 1, ..., float, with cells not observable by ``as_of``
    NaN (never 0), as in :class:`clm_lib.studies.cohort_retention.compute.CohortTables`; and ``"sizes"``.
    """
    need = ["cohort", "cohort_index", "period", "customers", "revenue", "last_active"]
    missing = [c for c in need if c not in activity.columns]
    if missing:
        raise MissingColumnsError(missing, list(activity.columns), what="cohort activity")
    if activity.empty:
        raise InsufficientDataError("no customer was acquired in a complete period by as_of")
    last = activity.attrs.get("last_complete_period")
    idx = activity.drop_duplicates("cohort").sort_values("cohort_index")
    labels = pd.Index(idx["cohort"].astype(str).tolist(), name="cohort")
    last_k = pd.Series((last - idx["cohort_index"]).to_numpy() if last is not None
                       else np.full(len(idx), activity["period"].max()), index=labels)
    ks = pd.RangeIndex(int(max(last_k.max(), activity["period"].max())) + 1, name="k")
    a = activity.assign(cohort=activity["cohort"].astype(str))

    def pivot(col):
        m = (a.pivot(index="cohort", columns="period", values=col)
             .reindex(index=labels, columns=ks).fillna(0).astype(float))
        m.columns.name = "k"
        return m.where(np.asarray(ks)[None, :] <= last_k.to_numpy()[:, None])

    last_active = pivot("last_active").fillna(0)
    unbounded = last_active.iloc[:, ::-1].cumsum(axis=1).iloc[:, ::-1]
    unbounded = unbounded.where(np.asarray(ks)[None, :] <= last_k.to_numpy()[:, None])
    sizes = a.loc[a["period"] == 0].set_index("cohort")["customers"].reindex(labels)
    return {"bounded": pivot("customers"), "unbounded": unbounded, "revenue": pivot("revenue"),
            "sizes": sizes.astype(np.int64).rename("customers")}


def _as_text(values: pd.Series, dtype) -> pd.Series:
    """Values brought back from an engine as text, written as pandas writes the same
    column (nulls stay ``<NA>``; an integer column with nulls is not turned into floats)."""
    if dtype.is_integer():
        values = values.astype("Int64")
    elif dtype.is_boolean():
        values = values.astype("boolean")
    return values.astype("string")


class Engine:
    """Reductions on one engine; create with :func:`get_engine`.

    Attributes
    ----------
    name : {"duckdb", "spark"}
        ``"pandas"`` is accepted and gives DuckDB (see :data:`ALIASES`).
    con : Ibis backend
    """

    def __init__(self, name: str = "duckdb", *, connection: Any = None, spark: Any = None,
                 threads: int | None = None, memory_limit: str | None = None):
        name = ALIASES.get(name, name)
        if name not in ENGINES:
            raise ParameterError(f"engine must be one of {list(ENGINES)} (or 'pandas', the "
                                 f"same as 'duckdb'), got {name!r}")
        self.name = name
        self.con = connect(
            name, connection=connection, spark=spark, threads=threads, memory_limit=memory_limit)

    def __repr__(self) -> str:
        return f"<Engine {self.name}>"

    # ------------------------------------------------------------------ sources
    def table(self, source, columns: Mapping[str, str] | None = None,
              required: Sequence[str] = TX_COLUMNS, what: str = "transactions"):
        """The Ibis table of ``source`` (path, glob, table name, DataFrame or Ibis table),
        read as it is (no data contract; see :meth:`load_transactions`)."""
        self._need_ibis("table")
        return read_source(self.con, source, columns, tuple(required), what)

    def load_transactions(self, source, columns: Mapping[str, str] | None = None, *,
                          as_of=None, date_format: str | None = None,
                          negative_amounts: str = "drop"):
        """Apply the transactions data contract in the engine.

        The rules, drop reasons and errors of :func:`clm_lib.io.pandas_contract.load_transactions`
        evaluated where the data are: one aggregation
        counts every drop reason, and the clean rows stay lazy in the engine.

        Parameters
        ----------
        source : path, glob, directory of Parquet files, table name, DataFrame or Ibis table
            Raw transactions; CSV files are read as text and converted column by column.
        columns, as_of, date_format, negative_amounts
            As in :func:`clm_lib.io.pandas_contract.load_transactions` (``tz`` is not offered: text
            with a UTC offset is converted to UTC, naive timestamps are kept as they are).

        Returns
        -------
        table : Ibis table (lazy, in the engine)
            Canonical ``customer_id`` (text), ``timestamp`` (naive), ``amount`` (float64)
            and the other columns.
        quality : DataQuality
            ``rows_in == rows_used + dropped``, by reason; see :mod:`._contract` for what
            the engines count differently (identical rows without an order id).
        """
        from clm_lib.io.pandas_contract import NEGATIVE_AMOUNT_POLICIES, _as_of, _when

        if negative_amounts not in NEGATIVE_AMOUNT_POLICIES:
            raise ParameterError(f"negative_amounts must be one of {NEGATIVE_AMOUNT_POLICIES}, "
                                 f"not {negative_amounts!r}")
        as_of_ts, cutoff = _as_of(as_of, None)
        raw = read_source(self.con, source, None, (), "transactions", raw=True)
        note = (f"Observation end (as_of): {_when(as_of_ts)}; later rows dropped."
                if as_of_ts is not None else None)
        return check_transactions(raw, backend="duckdb" if self.con.name == "duckdb" else "spark",
                                  name=source_name(source), columns=columns, cutoff=cutoff,
                                  as_of_note=note, date_format=date_format,
                                  negative_amounts=negative_amounts)

    def load_subscriptions(self, source, columns: Mapping[str, str] | None = None, *,
                           as_of=None, date_format: str | None = None,
                           churn_values: Mapping[Any, bool] | None = None):
        """Apply the subscriptions data contract in the engine.

        The rules, drop reasons and errors of :func:`clm_lib.io.pandas_contract.load_subscriptions`
        for both forms, evaluated where the data are: bad
        rows are dropped and counted by reason, exact repeats dropped, a snapshot
        customer repeated with different values is an error, and text columns whose
        values all read as numbers become numbers (e.g. Telco ``TotalCharges``).

        Parameters
        ----------
        source : path, table name, DataFrame or Ibis table
            Interval form (``customer_id``, ``start``, ``end``; an empty end = active) or
            snapshot form (``customer_id``, ``tenure``, ``churned``) after ``columns``;
            CSV files are read as text and converted column by column.
        columns, as_of, date_format, churn_values
            As in :func:`clm_lib.io.pandas_contract.load_subscriptions` (``tz`` is not offered: text
            with a UTC offset is converted to UTC, naive dates are kept as they are).

        Returns
        -------
        table : Ibis table (lazy, in the engine)
            Canonical columns and covariates; the engines' table is lazy and unordered.
        quality : DataQuality
            ``rows_in == rows_used + dropped``, by reason; the notes say what the engines
            do differently (see :func:`clm_lib.io.contract.check_subscriptions`).
        """
        from clm_lib.io.pandas_contract import _as_of, _when

        as_of_ts, cutoff = _as_of(as_of, None)
        raw = read_source(self.con, source, None, (), "subscriptions", raw=True)
        return check_subscriptions(raw, backend="duckdb" if self.con.name == "duckdb" else "spark",
                                   name=source_name(source), columns=columns, cutoff=cutoff,
                                   as_of_label=None if as_of_ts is None else _when(as_of_ts),
                                   date_format=date_format, churn_values=churn_values)

    def _transactions(self, source, columns) -> tuple[Any, DataQuality | None]:
        """A file or table name goes through the data contract; a DataFrame or Ibis table
        is taken as already loaded (canonical columns)."""
        if isinstance(source, (str, os.PathLike)):
            return self.load_transactions(source, columns)
        return self.table(source, columns), None

    def _need_ibis(self, what: str) -> None:
        if self.con is None:
            raise ParameterError(f"{what} needs the duckdb or spark engine")

    # ------------------------------------------------------------------ summaries
    def _summary_expr(self, t, *, as_of, calibration_end, time_unit):
        unit = _unit(time_unit)
        end = _day(as_of, "as_of")
        cal = end if calibration_end is None else _day(calibration_end, "calibration_end")
        if cal > end:
            raise ParameterError(f"calibration_end {cal} is after as_of {end}")
        return red.summary(t, as_of=end, calibration_end=cal, unit_days=unit,
                           holdout=calibration_end is not None), end, cal

    def summary_table(self, source, *, as_of, calibration_end=None, time_unit: str = "week",
                      columns: Mapping[str, str] | None = None):
        """Lazy per-customer summary in the engine (an Ibis table; duckdb/spark only).

        Same columns and semantics as :func:`clm_lib.reduce.pandas_reductions.summary_data`, with
        ``customer_id`` a column. Nothing is computed until the table is used; use
        :meth:`materialize` to keep it in the engine when it is used several times.

        ``source`` is best the table returned by :meth:`load_transactions`, whose
        data-quality record you keep. A path is loaded here with the data contract; rows
        it drops are reported with a :class:`~clm_lib.exceptions.DataQualityWarning`.
        """
        self._need_ibis("summary_table")
        t, dq = self._transactions(source, columns)
        if dq is not None and dq.dropped:
            import warnings

            from clm_lib.exceptions import DataQualityWarning

            warnings.warn(f"{dq.source}: {dq.n_dropped:,} of {dq.rows_in:,} rows dropped by the "
                          f"data contract ({dq.dropped}); use Engine.load_transactions to keep "
                          "the record", DataQualityWarning, stacklevel=2)
        return self._summary_expr(t, as_of=as_of, calibration_end=calibration_end,
                                  time_unit=time_unit)[0]

    def summary_data(self, source, *, as_of, calibration_end=None, time_unit: str = "week",
                     columns: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Per-customer frequency / recency / T / monetary value, computed in the engine.

        Parameters
        ----------
        source : path, glob, table name, DataFrame or Ibis table
            Transactions with ``customer_id``, ``timestamp`` and ``amount`` (after
            ``columns`` renames source names to these canonical names). A file or table
            name is loaded with the data contract (:meth:`load_transactions`); a
            DataFrame or Ibis table is taken as already loaded.
        as_of, calibration_end, time_unit
            As in :func:`clm_lib.reduce.pandas_reductions.summary_data` (calibration end and as_of
            inclusive calendar days; week = 7 days, month = 30.4375 days).
        columns : dict, optional
            Source name -> canonical name.

        Returns
        -------
        DataFrame
            Identical to :func:`clm_lib.reduce.pandas_reductions.summary_data` on the same data: indexed
            by ``customer_id`` (sorted), ``attrs`` with ``time_unit``, ``calibration_end``,
            ``as_of`` and ``dropped``; and ``data_quality`` (the loading record, a dict)
            when a file was loaded.
        """
        t, dq = self._transactions(source, columns)
        expr, end, cal = self._summary_expr(t, as_of=as_of, calibration_end=calibration_end,
                                            time_unit=time_unit)
        if int(t.count().execute()) == 0:
            raise InsufficientDataError("summary_data: no transactions")
        after, late = red.dropped_counts(t, as_of=end, calibration_end=cal)
        dropped = {}
        n_after, n_late = int(after.execute()), int(late.execute())
        if n_after:
            dropped["purchase days after as_of"] = n_after
        if n_late:
            dropped["customers whose first purchase is after calibration_end"] = n_late
        out = self.to_pandas(expr.order_by("customer_id"))
        out["first_purchase"] = pd.to_datetime(out["first_purchase"]).astype("datetime64[ns]")
        out["customer_id"] = out["customer_id"].astype("string")
        out = out.set_index("customer_id")
        out.attrs.update({"time_unit": time_unit, "calibration_end": str(cal),
                          "as_of": str(end), "dropped": dropped})
        if dq is not None:
            out.attrs["data_quality"] = dq.to_dict()
        return out

    def repeat_purchases_by_day(self, source, *, calibration_end, as_of,
                                columns: Mapping[str, str] | None = None) -> pd.Series:
        """Repeat purchase days per calendar day (the CLV tracking plot's input).

        See :func:`clm_lib.reduce.pandas_reductions.repeat_purchases_by_day`; only one row per day comes
        back from DuckDB or Spark.
        """

        end = _day(as_of, "as_of")
        cal = _day(calibration_end, "calibration_end")
        t, _ = self._transactions(source, columns)
        out = self.to_pandas(red.repeat_purchases_by_day(t, calibration_end=cal, as_of=end))
        out["day"] = pd.to_datetime(out["day"]).astype("datetime64[ns]")
        s = out.set_index("day")["repeat_purchases"].sort_index().astype(np.int64)
        return s

    def first_values(self, source, column: str,
                     columns: Mapping[str, str] | None = None) -> pd.Series:
        """Each customer's ``column`` on the earliest purchase (e.g. the acquisition
        channel), indexed by ``customer_id``; see :func:`clm_lib.reduce.pandas_reductions.first_values`."""

        t, _ = self._transactions(source, columns)
        if column not in t.columns:
            raise MissingColumnsError([column], list(t.columns), what="transactions")
        out = self.to_pandas(red.first_values(t, column))
        out["customer_id"] = out["customer_id"].astype("string")
        return out.set_index("customer_id")["value"].rename(column).sort_index()

    def purchase_spans(self, source, *, as_of,
                       columns: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Each customer's first and last purchase time, purchase count and spend up to
        ``as_of``, computed in the engine (see :func:`clm_lib.reduce.pandas_reductions.purchase_spans`).

        The input of churn by inactivity (:func:`clm_lib.studies.survival_churn.compute.inactivity_durations`):
        one row per customer comes back from DuckDB or Spark.

        Parameters
        ----------
        source : path, glob, table name, DataFrame or Ibis table
            Transactions; a file or table name is loaded with the data contract
            (:meth:`load_transactions`), a DataFrame or Ibis table is taken as loaded.
        as_of : str or Timestamp
            Rows after this instant are left out (a date alone means its midnight).

        Returns
        -------
        DataFrame
            As :func:`clm_lib.reduce.pandas_reductions.purchase_spans` (times and counts identical on
            every engine; spend sums equal to rounding, as they are added in another order):
            ``customer_id``, ``first_purchase``, ``last_purchase``, ``n_purchases``,
            ``total_amount``, ``first_amount`` [, ``first_quantity``], sorted by customer;
            ``attrs["purchases_after_as_of"]``, and ``attrs["data_quality"]`` when a file
            was loaded.
        """

        if as_of is None:
            raise ParameterError("as_of is required (the observation end)")
        end = pd.Timestamp(as_of)
        if end.tzinfo is not None:
            end = end.tz_convert("UTC").tz_localize(None)
        t, dq = self._transactions(source, columns)
        out = self.to_pandas(red.purchase_spans(t, as_of=end.to_pydatetime()))
        n_after = int(red.purchases_after(t, as_of=end.to_pydatetime()).execute())
        out = out.sort_values("customer_id", ignore_index=True)
        out["customer_id"] = out["customer_id"].astype("string")
        for c in ("first_purchase", "last_purchase"):
            out[c] = pd.to_datetime(out[c]).astype("datetime64[ns]")
        out["n_purchases"] = out["n_purchases"].astype(np.int64)
        for c in ("total_amount", "first_amount", "first_quantity"):
            if c in out:
                out[c] = out[c].astype(float)
        out.attrs["purchases_after_as_of"] = n_after
        if dq is not None:
            out.attrs["data_quality"] = dq.to_dict()
        return out

    def purchase_day_gaps(self, source, *, as_of,
                          columns: Mapping[str, str] | None = None) -> pd.Series:
        """How many gaps of each length (days) separate consecutive purchase days of a
        customer up to ``as_of``, computed in the engine; see
        :func:`clm_lib.reduce.pandas_reductions.purchase_day_gaps` (one row per gap length comes back)."""

        end = _day(as_of, "as_of")
        t, _ = self._transactions(source, columns)
        out = self.to_pandas(red.purchase_day_gaps(t, as_of=end)).astype(np.int64)
        return out.set_index("days")["gaps"].sort_index()

    def customer_histories(self, source, *, date, lapsed_days: int,
                           window_days: int | None = None,
                           columns: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Each customer's purchase-day history up to ``date``, computed in the engine;
        the columns and rules of :func:`clm_lib.reduce.pandas_reductions.customer_histories` (one row
        per customer comes back; spend sums equal to rounding)."""

        end = _day(date, "date")
        w = int(window_days if window_days is not None else lapsed_days)
        t, _ = self._transactions(source, columns)
        out = self.to_pandas(red.customer_histories(t, date=end, lapsed_days=int(lapsed_days),
                                                    window_days=w))
        if out.empty:
            raise InsufficientDataError(f"no purchases on or before {end}")
        out["customer_id"] = out["customer_id"].astype("string")
        out = out.set_index("customer_id").sort_index()
        days = ("first_purchase", "second_purchase", "last_purchase", "first_reactivation",
                "last_reactivation")
        for c in days:
            out[c] = pd.to_datetime(out[c]).astype("datetime64[ns]")
        for c in ("purchase_days", "new_window_days", "react_window_days"):
            out[c] = out[c].astype(np.int64)
        for c in ("spend", "first_day_spend", "reactivation_day_spend", "new_window_spend",
                  "react_window_spend"):
            out[c] = out[c].astype(float)
        cols = ["purchase_days", "spend", "first_purchase", "second_purchase", "last_purchase",
                "first_reactivation", "last_reactivation", "first_day_spend",
                "reactivation_day_spend", "new_window_days", "new_window_spend",
                "react_window_days", "react_window_spend"]
        out = out[cols]
        out.attrs.update({"date": str(end), "lapsed_days": int(lapsed_days), "window_days": w})
        return out

    def overview_tables(self, source, *, period: str = "month", segment: str | None = None,
                        columns: Mapping[str, str] | None = None) -> dict[str, pd.DataFrame]:
        """The reduced tables behind the customer-base overview, computed in the engine.

        Used by :func:`clm_lib.studies.overview.compute.overview_data` for the duckdb and spark engines
        (the pandas engine computes the same tables there). Orders are formed as in
        :mod:`clm_lib.studies.overview.compute` (rows sharing a customer and an ``order_id`` are one order).

        Parameters
        ----------
        source : path, glob, table name, DataFrame or Ibis table
            Transactions; a file or table name is loaded with the data contract, a
            DataFrame or Ibis table is taken as loaded.
        period : {"week", "month", "quarter"}
            Calendar period of the activity table.
        segment : str, optional
            A column of ``source`` to split rows by.

        Returns
        -------
        dict of DataFrames
            ``customers``: one row per customer (sorted by ``customer_id``): ``orders``,
            ``paid_orders``, ``zero_orders``, ``revenue``, ``first_order``,
            ``last_order``; ``periods``: one row per period with an order (``period``,
            the integer code of :func:`clm_lib.reduce.periods.period_codes`, sorted):
            ``active_customers``, ``new_customers``, ``orders``, ``revenue``,
            ``revenue_new``; ``gaps``: ``days`` between consecutive distinct purchase
            days and the number of such ``gaps`` (sorted by days); with ``segment``,
            ``segments``: ``segment`` (text as pandas writes it, ``<NA>`` for a missing
            value), ``customers``, ``orders``, ``revenue``, ``paid_orders``.
        """
        self._need_ibis("overview_tables")
        if period not in ("week", "month", "quarter"):
            raise ParameterError(f"period must be week, month or quarter, got {period!r}")
        t, _ = self._transactions(source, columns)
        if segment is not None and segment not in t.columns:
            raise MissingColumnsError([segment], list(t.columns), what="transactions")
        # With order ids, forming the orders is a grouping of its own: do it once for
        # the three queries below rather than in each.
        kept = self.materialize(red.orders(t)) if "order_id" in t.columns else None
        try:
            return self._overview_queries(t, red.orders(t) if kept is None else kept.table,
                                          period, segment)
        finally:
            if kept is not None:
                kept.drop()

    def _overview_queries(self, t, o, period: str, segment: str | None) -> dict:
        """The queries of :meth:`overview_tables` on the orders table ``o``."""
        cust = self.to_pandas(red.customer_orders(o)).sort_values("customer_id")
        cust["customer_id"] = cust["customer_id"].astype("string")
        for c in ("first_order", "last_order"):
            cust[c] = pd.to_datetime(cust[c]).astype("datetime64[ns]")
        for c in ("orders", "paid_orders", "zero_orders"):
            cust[c] = cust[c].astype(np.int64)
        cust["revenue"] = cust["revenue"].astype(float)
        periods = self.to_pandas(red.period_activity(o, period)).rename(columns={"p": "period"})
        periods = periods.astype({"period": np.int64, "active_customers": np.int64,
                                  "new_customers": np.int64, "orders": np.int64,
                                  "revenue": float, "revenue_new": float})
        gaps = self.to_pandas(red.purchase_day_gaps(o, as_of=None)).astype(np.int64)
        out = {"customers": cust.set_index("customer_id"),
               "periods": periods.sort_values("period", ignore_index=True),
               "gaps": gaps.sort_values("days", ignore_index=True)}
        if segment is not None:
            seg = self.to_pandas(red.segment_activity(t, segment))
            seg = pd.DataFrame({"segment": _as_text(seg["value"], t[segment].type()),
                                "customers": seg["customers"].astype(np.int64),
                                "orders": seg["orders"].astype(np.int64),
                                "revenue": seg["revenue"].astype(float),
                                "paid_orders": seg["paid_orders"].astype(np.int64)})
            out["segments"] = seg
        return out

    # ------------------------------------------------------------------ utilities
    def to_pandas(self, expr) -> pd.DataFrame:
        """Execute an Ibis expression and return a pandas DataFrame."""
        return expr.to_pandas() if hasattr(expr, "to_pandas") else expr.execute()

    def materialize(self, expr) -> Materialized:
        """Compute ``expr`` once and keep it in the engine (DuckDB temp table, Spark
        persisted view); ``.table`` is the Ibis table, ``.drop()`` releases it."""
        self._need_ibis("materialize")
        return Materialized(self.con, expr)

    def from_pandas(self, df: pd.DataFrame):
        """Register a pandas frame in the engine and return its Ibis table."""
        self._need_ibis("from_pandas")
        return table_from_pandas(self.con, df)

    # ------------------------------------------------------------------ compression
    def compress(self, summary, columns: Sequence[str] = TRIPLE, *,
                 where: Any = None) -> pd.DataFrame:
        """Group identical rows of ``columns`` with a ``weights`` count, in the engine.

        Parameters
        ----------
        summary : DataFrame or Ibis table
            A per-customer summary: the lazy table of :meth:`summary_table`, a
            materialised one, or a DataFrame (registered in the engine first).
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
            customers.
        """
        columns = list(columns)
        missing = [c for c in columns if c not in summary.columns]
        if missing:
            raise MissingColumnsError(missing, list(summary.columns), what="summary")
        if isinstance(summary, pd.DataFrame):
            summary = self.from_pandas(summary[columns])
        s = summary.filter(where(summary)) if where is not None else summary
        out = self.to_pandas(red.compress(s, columns))
        out = out.sort_values(columns, kind="stable").reset_index(drop=True)
        out["weights"] = out["weights"].astype(np.int64)
        for c in columns:
            if out[c].dtype == object:
                out[c] = pd.to_numeric(out[c])
        return out

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
            idx_name = summary.index.name
            merged = summary.reset_index().merge(table, on=columns, how="left", validate="m:1")
            return merged.set_index(idx_name) if idx_name in merged.columns else merged
        right = self.from_pandas(table)
        joined = summary.left_join(right, columns)
        return joined.select(*[summary[c] for c in summary.columns],
                             *[right[c] for c in preds.columns])

    # ------------------------------------------------------------------ cohorts
    def _cohort_setup(self, cohort_period: str, as_of) -> tuple[dt.date, int]:
        """Checked ``as_of`` (a day) and the index of the last period complete by it."""
        check_period(cohort_period)
        if as_of is None:
            raise ParameterError("as_of is required (the last observed day, inclusive)")
        end = _day(as_of, "as_of")
        return end, last_complete_period(end, cohort_period)

    def cohort_activity(self, source, *, cohort_period: str = "month", as_of,
                        columns: Mapping[str, str] | None = None,
                        segment: str | None = None) -> pd.DataFrame:
        """Active customers and revenue by acquisition cohort and periods since acquisition.

        The aggregated form of :func:`clm_lib.studies.cohort_retention.compute.customer_periods` (same rules): a
        customer's cohort is the calendar period (``cohort_period``) of the first
        purchase; ``period`` k counts calendar periods since then; only periods complete
        by ``as_of`` are used, so customers acquired in an incomplete period are left out.
        The result has one row per (cohort, k) with activity, whatever the number of
        customers, so it is small enough to bring back from DuckDB or Spark.

        Parameters
        ----------
        source : path, glob, table name, DataFrame or Ibis table
            Transactions with ``customer_id``, ``timestamp``, ``amount``.
        cohort_period : {"week", "month", "quarter", "year"}
            ISO weeks start on Monday.
        as_of : date
            Last observed day (inclusive).
        segment : str, optional
            A column of ``source``: the counts are split by each customer's value at
            acquisition (the value on the first purchase up to ``as_of``, the smallest
            when several rows share that time; see :func:`clm_lib.reduce.pandas_reductions.first_values`).

        Returns
        -------
        DataFrame
            ``segment`` (text, ``<NA>`` when the customer has no value; only with
            ``segment``), ``cohort`` (ISO label: "1997-01", "1997-W02", "1997-Q1", "1997"),
            ``cohort_index`` (integer period code as in :mod:`clm_lib.studies.cohort_retention.compute`),
            ``period`` (k, int64), ``customers`` (customers active in period k: the
            bounded retention count), ``revenue`` (sum of ``amount``), ``last_active``
            (customers whose last active period is k: the reverse cumulative sum over k
            is the unbounded retention count) and ``cohort_size``; sorted by (segment,)
            cohort and k. Pairs with no activity are absent.
        """
        end, last = self._cohort_setup(cohort_period, as_of)
        t, dq = self._transactions(source, columns)
        if segment is not None and segment not in t.columns:
            raise MissingColumnsError([segment], list(t.columns), what="transactions")
        raw = self.to_pandas(red.cohort_activity(t, cohort_period=cohort_period, as_of=end,
                                                 last_period=last, segment=segment))
        if segment is not None:
            raw["segment"] = _as_text(raw["segment"], t[segment].type())
        keys = (["segment"] if segment is not None else []) + ["cohort_index"]
        raw = raw.sort_values(keys + ["period"]).reset_index(drop=True)
        size = (raw["customers"].where(raw["period"] == 0)
                .groupby([raw[k] for k in keys], dropna=False).transform("max"))
        codes = raw["cohort_index"].unique()
        labels = dict(zip(codes, period_labels(codes, cohort_period)))
        out = pd.DataFrame({
            "cohort": raw["cohort_index"].map(labels).astype("string"),
            "cohort_index": raw["cohort_index"].astype(np.int64),
            "period": raw["period"].astype(np.int64),
            "customers": raw["customers"].astype(np.int64),
            "revenue": raw["revenue"].astype(float),
            "last_active": raw["last_active"].astype(np.int64),
            "cohort_size": size.astype(np.int64),
        })
        if segment is not None:
            out.insert(0, "segment", raw["segment"].astype("string"))
        out.attrs.update({"cohort_period": cohort_period, "as_of": str(end),
                          "last_complete_period": last})
        if dq is not None:
            out.attrs["data_quality"] = dq.to_dict()
        return out

    def customer_periods(self, source, *, cohort_period: str = "month", as_of,
                         columns: Mapping[str, str] | None = None,
                         segment: str | None = None) -> pd.DataFrame:
        """One row per customer and active period: :func:`clm_lib.studies.cohort_retention.compute.customer_periods`
        for transactions, computed in the engine.

        The result has a row per customer and period, so it is as large as the customer
        base times its active periods; the cohort tables need only
        :meth:`cohort_activity` and :meth:`churn_counts`, which bring back aggregates.

        Returns
        -------
        DataFrame
            ``customer_id``, ``cohort``, ``period`` (integer period codes), ``k``,
            ``revenue`` and, with ``segment``, ``segment`` (text at acquisition, ``<NA>``
            without a value); sorted by cohort, customer and period.
        """
        end, last = self._cohort_setup(cohort_period, as_of)
        t, _ = self._transactions(source, columns)
        cp = red.customer_periods(t, cohort_period=cohort_period, as_of=end, last_period=last)
        if segment is not None:
            if segment not in t.columns:
                raise MissingColumnsError([segment], list(t.columns), what="transactions")
            seg = red.segment_at_acquisition(t, segment, as_of=end)
            cp = cp.left_join(seg, "customer_id").select(*[cp[c] for c in cp.columns],
                                                         segment=seg.value)
        out = self.to_pandas(cp)
        out = pd.DataFrame({
            "customer_id": out["customer_id"],
            "cohort": out["c"].astype(np.int64),
            "period": out["p"].astype(np.int64),
            "k": (out["p"] - out["c"]).astype(np.int64),
            "revenue": out["revenue"].astype(float),
            **({"segment": _as_text(out["segment"], t[segment].type())}
               if segment is not None else {}),
        })
        return out.sort_values(["cohort", "customer_id", "period"], kind="stable",
                               ignore_index=True)

    def churn_counts(self, source, *, cohort_period: str = "month", as_of,
                     inactivity_periods: int = 3,
                     columns: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Per-period counts behind the transactions churn rate of
        :func:`clm_lib.studies.cohort_retention.compute.churn_rate` (rule and columns: see
        :func:`clm_lib.reduce.expressions.churn_counts`); one row per period comes back.

        Returns
        -------
        DataFrame
            ``period`` (integer period code), ``starts``, ``stops``, ``lost`` (int64),
            sorted by period; ``attrs["last_complete_period"]``.
        """
        end, last = self._cohort_setup(cohort_period, as_of)
        n = int(inactivity_periods)
        if n < 1:
            raise ParameterError("inactivity_periods must be >= 1")
        t, _ = self._transactions(source, columns)
        out = self.to_pandas(red.churn_counts(t, cohort_period=cohort_period, as_of=end,
                                              last_period=last, inactivity_periods=n))
        out = out.astype(np.int64).sort_values("period", ignore_index=True)
        out.attrs["last_complete_period"] = last
        return out

    # ------------------------------------------------------------------ subscriptions
    def subscription_durations(self, source, *, as_of=None, time_unit: str = "month",
                               columns: Mapping[str, str] | None = None,
                               date_format: str | None = None,
                               churn_values: Mapping[Any, bool] | None = None) -> pd.DataFrame:
        """Duration and event per subscription (see :func:`clm_lib.io.pandas_contract.subscription_durations`).

        Parameters
        ----------
        source : path, table name, DataFrame or Ibis table
            Interval form (``customer_id``, ``start``, ``end``; null end = active) or
            snapshot form (``customer_id``, ``tenure``, ``churned`` boolean), after
            ``columns`` renames. Other columns are carried along as covariates.
            A path or table name is loaded with the data contract
            (:meth:`load_subscriptions`): bad rows are dropped and counted. A DataFrame
            or Ibis table is taken as already loaded: a bad row is an error.
        as_of : date or timestamp, optional
            Interval form: end of observation (a date alone means the whole day).
        time_unit : {"day", "week", "month", "year"}
        date_format, churn_values
            Passed to :meth:`load_subscriptions` when a path or table name is loaded.

        Returns
        -------
        DataFrame ``customer_id``, ``duration`` (float, ``time_unit``), ``event`` (bool),
        covariates; in the order of the source for pandas (a loaded path: by customer,
        then start), sorted by customer, then start and end, for the other engines;
        ``attrs["data_quality"]`` (the loading record, a dict) when a path or table name
        was loaded.
        """
        unit = _unit(time_unit, allowed=tuple(_UNIT_DAYS))
        dq = None
        if isinstance(source, (str, os.PathLike)):
            source, dq = self.load_subscriptions(source, columns, as_of=as_of,
                                                 date_format=date_format,
                                                 churn_values=churn_values)
            columns = None
        t = self.table(source, columns, required=("customer_id",), what="subscriptions")
        order = ["customer_id"]
        cols = list(t.columns)
        if {"start", "end"} <= set(cols):
            a = None
            if as_of is not None:
                ts = pd.Timestamp(as_of)
                if ts.tzinfo is not None:
                    ts = ts.tz_convert("UTC").tz_localize(None)
                a = ts.to_pydatetime()
            if dq is not None and a is not None:
                v = {}  # loaded with the contract: the violations were dropped and counted
            else:
                v = self.to_pandas(red.interval_violations(t, as_of=a)).iloc[0]
                v = {k: int(0 if pd.isna(x) else x) for k, x in v.items()}
            if v.get("missing_start"):
                raise DataContractError("start", "missing start date", v["missing_start"])
            if a is None and v["active"]:
                raise ParameterError(f"as_of is required: {v['active']} subscription(s) are "
                                     "active (no end) and need an observation end")
            if v.get("start_after_as_of"):
                raise DataContractError("start", "subscription starts after as_of",
                                        v["start_after_as_of"])
            if v.get("end_before_start"):
                raise DataContractError("end", "end before start", v["end_before_start"])
            covs = [c for c in cols if c not in ("customer_id", "start", "end", "duration", "event")]
            # a customer's spells in start (then end) order, as the pandas loader sorts them
            order = ["customer_id", "_order_start", "_order_end"]
            t = t.mutate(_order_start=t.start.cast("timestamp"), _order_end=t.end.cast("timestamp"))
            expr = red.interval_durations(t, as_of=a, unit_days=unit,
                                          covariates=covs + order[1:])
        elif {"tenure", "churned"} <= set(cols):
            covs = [c for c in cols if c not in ("customer_id", "tenure", "churned", "duration", "event")]
            expr = t.select(customer_id=t.customer_id.cast("string"),
                            duration=t.tenure.cast("float64"), event=t.churned.cast("boolean"),
                            **{c: t[c] for c in covs})
            bad = 0 if dq is not None else int(
                t.filter(t.tenure.isnull() | (t.tenure < 0)).count().execute())
            if bad:
                raise DataContractError("tenure", "missing or negative tenure", bad)
        else:
            raise MissingColumnsError(["start", "end"], cols,
                                      what="subscriptions (interval form needs customer_id, start, "
                                           "end; snapshot form customer_id, tenure, churned)")
        out = self.to_pandas(expr)
        out["customer_id"] = out["customer_id"].astype("string")
        out = (out.sort_values(order, kind="stable", na_position="last", ignore_index=True)
               .drop(columns=order[1:]))
        out["event"] = out["event"].astype(bool)
        if dq is not None:
            out.attrs["data_quality"] = dq.to_dict()
        return out


_ENGINE_CACHE: dict[str, Engine] = {}


def get_engine(name: str | Engine = "duckdb", **kwargs) -> Engine:
    """The :class:`Engine` for ``name``: ``"duckdb"`` (in-process, the default) or
    ``"spark"``; ``"pandas"`` is accepted as the name of the in-process default.

    Without keyword arguments, one engine per name is created and reused (a Spark
    session takes seconds to start). Keyword arguments (``connection=`` an Ibis backend,
    ``spark=`` a SparkSession, ``threads=``, ``memory_limit=`` for DuckDB) create a new one.
    """
    if isinstance(name, Engine):
        return name
    name = ALIASES.get(name, name)
    if kwargs:
        return Engine(name, **kwargs)
    if name not in _ENGINE_CACHE:
        _ENGINE_CACHE[name] = Engine(name)
    return _ENGINE_CACHE[name]


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
