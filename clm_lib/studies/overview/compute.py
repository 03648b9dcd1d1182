"""Customer-base overview: the first numbers anyone asks about a transaction log.

:func:`overview_study` reduces the transactions in the engine (DuckDB in-process by
default, Spark for big data) to one row per customer, per calendar period and per gap
length, and computes every table and figure of the overview from those small tables. It
returns an :class:`OverviewResult`; the wording lives in :mod:`.report`.

Definitions used throughout (they are repeated in the report's method notes)
-----------------------------------------------------------------------------
order (purchase)
    One row of the transactions. When an ``order_id`` column is present, the rows that
    share a customer and an ``order_id`` form one order (amounts summed, earliest
    timestamp); rows with a missing ``order_id`` are one order each. Two identical rows
    without an ``order_id`` are two orders: they can be two real purchases on one day.
revenue
    The sum of ``amount`` over all orders (negative amounts are handled by the loader).
average order value
    Revenue divided by the number of orders with a positive amount. A zero-amount order
    (a free item) counts as a purchase everywhere else but is not a spend observation.
one-time buyer / repeat customer
    A customer with exactly one order / with two or more orders (so two orders on the
    same day make a repeat customer).
time between purchases
    For each customer, the gaps in whole days between consecutive distinct purchase
    days. Repeat orders on the same day add no gap (a gap of 0 days is not a return
    visit); customers with a single purchase day contribute nothing.
top 10 % of customers
    The ``ceil(10 % x customers)`` customers with the highest revenue. Ties are broken by
    ``customer_id`` so the set is deterministic; the revenue share itself does not depend
    on how ties at the boundary are broken.
new customer in a period
    A customer whose first order falls in that period. In the first period of the data
    every customer is "new", because earlier history is not observed.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clm_lib.exceptions import InsufficientDataError, ParameterError
from clm_lib.io.options import load_options
from clm_lib.reduce import get_engine
from clm_lib.reduce.periods import period_start

if TYPE_CHECKING:
    from clm_lib.io import DataQuality

__all__ = [
    "PERIODS",
    "OverviewData",
    "OverviewResult",
    "RevenueConcentration",
    "customer_base_summary",
    "gap_median",
    "interpurchase_times",
    "monthly_activity",
    "orders_per_customer",
    "overview_data",
    "overview_study",
    "revenue_concentration",
    "segment_summary",
]

#: The overview's calendar periods and the pandas frequency of their labels.
PERIODS = {"month": "M", "quarter": "Q", "week": "W"}


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class OverviewData:
    """The reduced tables every figure of the overview is computed from.

    Built by :func:`overview_data` in the engine; one row per customer, per period and
    per gap length, so a log of any size fits.

    Attributes
    ----------
    customers : DataFrame
        Indexed by ``customer_id`` (sorted): ``orders``, ``paid_orders`` (amount > 0),
        ``zero_orders``, ``revenue`` (currency units), ``first_order``, ``last_order``
        (timestamps).
    periods : DataFrame
        One row per calendar period with an order, in order: ``period`` (pandas Period),
        ``active_customers``, ``new_customers``, ``orders``, ``revenue``, ``revenue_new``.
    gaps : Series
        Number of gaps (int) between consecutive distinct purchase days of a customer,
        indexed by their length ``days_between_purchases`` (int, sorted).
    period : str
        Calendar period of ``periods`` ("month", "quarter" or "week").
    segments : DataFrame or None
        With a segment column: ``segment`` (text, ``"(missing)"`` for no value),
        ``customers``, ``orders`` (rows), ``revenue``, ``paid_orders``.
    segment : str or None
        The segment column.
    """

    customers: pd.DataFrame
    periods: pd.DataFrame
    gaps: pd.Series
    period: str = "month"
    segments: pd.DataFrame | None = None
    segment: str | None = None


@dataclass(frozen=True)
class RevenueConcentration:
    """How concentrated revenue is among customers.

    Attributes
    ----------
    curve : DataFrame
        ``customer_share`` (cumulative fraction of customers, best customers first,
        starting at 0) and ``revenue_share`` (cumulative fraction of revenue they bring).
    top10_share : float
        Fraction of revenue from the top 10 % of customers.
    gini : float
        Gini coefficient of revenue per customer (0 = everyone spends the same, 1 = one
        customer brings everything).
    customers : int
        Number of customers.
    """

    curve: pd.DataFrame
    top10_share: float
    gini: float
    customers: int


@dataclass(frozen=True)
class OverviewResult:
    """Everything the overview report shows, computed by :func:`overview_study`.

    Attributes
    ----------
    summary : dict
        Key figures, see :func:`customer_base_summary`.
    monthly : DataFrame
        Activity per calendar period, see :func:`monthly_activity` (the name is kept for
        the default period, the calendar month).
    orders_per_customer : DataFrame
        Distribution of orders per customer, see :func:`orders_per_customer`.
    gaps : Series
        Gaps between purchase days by length, see :func:`interpurchase_times`.
    gap_median : float
        Median gap in days (:func:`gap_median`; NaN without gaps).
    concentration : RevenueConcentration
        Revenue concentration, see :func:`revenue_concentration`.
    segments : DataFrame or None
        Customers, orders and revenue by ``segment``, see :func:`segment_summary`.
    segment : str or None
        The segment column.
    period : str
        Calendar period of ``monthly`` ("month", "quarter" or "week").
    quality : DataQuality or None
        The data-quality record when :func:`overview_study` loaded the transactions from
        a path; None for a table passed in as loaded.
    data : OverviewData
        The reduced tables everything above was computed from.
    as_of, as_of_source : Timestamp, str
        End of observation (a day) and "parameter" (given) or "data" (the last order's day).
    """

    summary: dict
    monthly: pd.DataFrame
    orders_per_customer: pd.DataFrame
    gaps: pd.Series
    gap_median: float
    concentration: RevenueConcentration
    segments: pd.DataFrame | None
    segment: str | None
    period: str
    quality: DataQuality | None
    data: OverviewData
    #: end of observation (a day) and where it came from: "parameter" or "data" (the day
    #: of the last order)
    as_of: pd.Timestamp | None = None
    as_of_source: str = "data"


# --------------------------------------------------------------------------- reduction
def _check_period(period: str) -> str:
    if period not in PERIODS:
        raise ParameterError(f"period must be one of {list(PERIODS)}, got {period!r}")
    return period


def overview_data(tx, *, period: str = "month", segment: str | None = None,
                  engine="duckdb", columns=None) -> OverviewData:
    """Reduce transactions to the tables of the customer-base overview, in the engine.

    Parameters
    ----------
    tx : path, glob, table name, DataFrame or Ibis table
        Transactions. A path or table name is loaded with the data contract; a DataFrame
        or Ibis table is taken as loaded (canonical ``customer_id``, ``timestamp``,
        ``amount`` and optionally ``order_id``: see the module docstring for what an
        order is), as returned by :meth:`clm_lib.reduce.Engine.load_transactions`.
    period : {"month", "quarter", "week"}
        Calendar period of the activity table (weeks start on Monday).
    segment : str, optional
        A categorical column to split customers, orders and revenue by.
    engine : {"duckdb", "spark"} or Engine
        Where to reduce; only the per-customer, per-period and per-gap tables come back.
    columns : dict, optional
        Source name -> canonical name.

    Returns
    -------
    OverviewData

    Raises
    ------
    MissingColumnsError
        If a required column (or ``segment``) is absent.
    InsufficientDataError
        If there are no transactions.
    """
    _check_period(period)
    parts = get_engine(engine).overview_tables(tx, period=period, segment=segment,
                                               columns=columns)
    customers = parts["customers"]
    if customers.empty:
        raise InsufficientDataError("transactions has no rows: nothing to summarise")
    customers = customers.astype({"orders": "int64", "paid_orders": "int64",
                                  "zero_orders": "int64", "revenue": float})
    customers.index = customers.index.astype("string").rename("customer_id")
    periods = parts["periods"]
    labels = period_start(periods["period"], period).to_period(PERIODS[period])
    periods = periods.assign(period=labels).astype(
        {"active_customers": "int64", "new_customers": "int64", "orders": "int64",
         "revenue": float, "revenue_new": float}).reset_index(drop=True)
    gaps = (parts["gaps"].set_index("days")["gaps"].astype("int64").rename("gaps")
            .rename_axis("days_between_purchases"))
    segments = None
    if segment is not None:
        seg = parts["segments"]
        # a missing value and "(missing)" are one segment of the report
        seg = (seg.assign(segment=seg["segment"].fillna("(missing)"))
               .groupby("segment", sort=True).sum(numeric_only=True).reset_index())
        segments = seg[["segment", "customers", "orders", "revenue", "paid_orders"]].astype(
            {"segment": "string", "customers": "int64", "orders": "int64", "revenue": float,
             "paid_orders": "int64"})
    return OverviewData(customers=customers, periods=periods, gaps=gaps, period=period,
                        segments=segments, segment=segment)


# --------------------------------------------------------------------------- tables
def _top_share(revenue: pd.Series, fraction: float = 0.10) -> float:
    """Revenue share of the top ``fraction`` of customers (``revenue`` indexed by id)."""
    n = len(revenue)
    total = float(revenue.sum())
    if n == 0 or total == 0:
        return float("nan")
    k = max(1, math.ceil(round(n * fraction, 9)))
    # the k largest values, largest first (which of several tied customers is in the top
    # does not change the sum)
    top = np.ascontiguousarray(np.sort(revenue.to_numpy(dtype=float))[::-1][:k])
    return float(top.sum() / total)


def gap_median(gaps: pd.Series) -> float:
    """Median number of days between purchases from :func:`interpurchase_times` (counts
    per gap length), as ``np.median`` of the gaps themselves: the mean of the two middle
    gaps when their number is even; NaN without gaps.

    >>> gap_median(pd.Series({10: 2, 30: 1}))     # gaps 10, 10, 30
    10.0
    >>> gap_median(pd.Series({10: 1, 30: 1}))     # gaps 10, 30
    20.0
    """
    counts = np.asarray(gaps, dtype=np.int64)
    n = int(counts.sum())
    if n == 0:
        return float("nan")
    values = gaps.index.to_numpy(dtype=float)
    cum = np.cumsum(counts)
    lo = values[np.searchsorted(cum, (n - 1) // 2, side="right")]
    hi = values[np.searchsorted(cum, n // 2, side="right")]
    return (float(lo) + float(hi)) / 2


def customer_base_summary(data: OverviewData) -> dict:
    """Key figures of a customer base.

    Parameters
    ----------
    data : OverviewData
        The reduced tables from :func:`overview_data`.

    Returns
    -------
    dict
        ``customers``, ``orders``, ``revenue`` (currency units), ``first_date``,
        ``last_date`` (Timestamps of the first and last order), ``average_order_value``
        (revenue / orders with a positive amount), ``zero_amount_orders``,
        ``one_time_buyer_share`` and ``repeat_customer_share`` (fractions of customers
        with one / two or more orders), ``top10_revenue_share`` (fraction of revenue from
        the top 10 % of customers by revenue), ``median_days_between_purchases`` and
        ``mean_days_between_purchases`` (days, over gaps between distinct purchase days;
        NaN when nobody came back on a later day) and ``orders_per_customer`` (mean).
        See the module docstring for the exact definitions.
    """
    cust = data.customers
    n_orders = int(cust["orders"].sum())
    revenue = float(cust["revenue"].sum())
    paid = int(cust["paid_orders"].sum())
    one_time = float((cust["orders"] == 1).mean())
    days = data.gaps.index.to_numpy(dtype=float)
    counts = data.gaps.to_numpy()
    return {
        "customers": int(len(cust)),
        "orders": n_orders,
        "revenue": revenue,
        "first_date": cust["first_order"].min(),
        "last_date": cust["last_order"].max(),
        "average_order_value": revenue / paid if paid else float("nan"),
        "zero_amount_orders": int(cust["zero_orders"].sum()),
        "orders_per_customer": n_orders / len(cust),
        "one_time_buyer_share": one_time,
        "repeat_customer_share": 1.0 - one_time,
        "top10_revenue_share": _top_share(cust["revenue"], 0.10),
        "median_days_between_purchases": gap_median(data.gaps),
        "mean_days_between_purchases": (float(days @ counts / counts.sum()) if counts.sum()
                                        else float("nan")),
    }


def monthly_activity(data: OverviewData) -> pd.DataFrame:
    """Customers, orders and revenue per calendar period (``data.period``).

    Returns
    -------
    DataFrame
        One row per period from the first to the last order, empty periods included,
        with columns ``period`` (label such as ``"1997-01"``), ``period_start``
        (Timestamp), ``new_customers`` (first order in the period), ``active_customers``
        (at least one order in the period), ``orders``, ``revenue``, ``revenue_new``
        (from customers new in the period) and ``revenue_returning`` (from customers whose
        first order was earlier); revenue in currency units.
    """
    cols = ["period", "period_start", "new_customers", "active_customers", "orders",
            "revenue", "revenue_new", "revenue_returning"]
    per = data.periods.set_index("period")
    full = pd.period_range(per.index.min(), per.index.max(), freq=per.index.freq)
    out = per.reindex(full).fillna(0)
    for c in ("active_customers", "orders", "new_customers"):
        out[c] = out[c].astype("int64")
    out["revenue_returning"] = out["revenue"] - out["revenue_new"]
    out["period"] = [str(p) for p in out.index]
    out["period_start"] = out.index.to_timestamp()
    return out[cols].reset_index(drop=True)


def orders_per_customer(data: OverviewData, cap: int = 10) -> pd.DataFrame:
    """Distribution of the number of orders per customer.

    Parameters
    ----------
    data : OverviewData
    cap : int, default 10
        Customers with ``cap`` or more orders are pooled in one class labelled ``"10+"``.

    Returns
    -------
    DataFrame
        One row per class ``"1"``, ``"2"``, ..., ``f"{cap}+"`` (classes with no customer
        included), columns ``orders`` (label), ``customers`` (count) and ``share``
        (fraction of customers).
    """
    if int(cap) < 2:
        raise ParameterError(f"cap must be at least 2, got {cap}")
    cap = int(cap)
    counts = data.customers["orders"].clip(upper=cap)
    dist = counts.value_counts().reindex(range(1, cap + 1), fill_value=0).sort_index()
    labels = [str(k) for k in range(1, cap)] + [f"{cap}+"]
    share = dist / int(dist.sum())
    return pd.DataFrame({"orders": labels, "customers": dist.to_numpy().astype("int64"),
                         "share": share.to_numpy().astype(float)})


def interpurchase_times(data: OverviewData) -> pd.Series:
    """How many times customers came back after each number of days.

    Returns
    -------
    Series of int
        Named ``gaps``: the number of gaps of each length between consecutive distinct
        purchase days of a customer, indexed by the length ``days_between_purchases``
        (whole days, sorted). Timestamps are truncated to the day first; several orders
        on one day count as one purchase day, so no gap is ever 0.
    """
    return data.gaps


def revenue_concentration(data: OverviewData, max_points: int = 1001) -> RevenueConcentration:
    """Concentration curve of revenue: what share of revenue the best x % of customers bring.

    Parameters
    ----------
    data : OverviewData
    max_points : int, default 1001
        The curve is thinned to at most this many points (always keeping both ends) so
        plots stay light for large customer bases.

    Raises
    ------
    InsufficientDataError
        If there is no revenue.
    """
    rev = data.customers["revenue"]
    n = len(rev)
    total = float(rev.sum())
    if n == 0 or total == 0:
        raise InsufficientDataError("no revenue: the concentration curve is undefined")
    desc = np.sort(rev.to_numpy(dtype=float))[::-1]
    cum = np.concatenate([[0.0], np.cumsum(desc) / total])
    cshare = np.arange(n + 1) / n
    if n + 1 > max_points:
        idx = np.unique(np.linspace(0, n, max_points).round().astype(int))
        cum, cshare = cum[idx], cshare[idx]
    asc = desc[::-1]
    # Gini from the ascending Lorenz curve: 1 - 2 * area under it (trapezoids).
    lorenz = np.concatenate([[0.0], np.cumsum(asc) / total])
    gini = float(1.0 - (lorenz[1:] + lorenz[:-1]).sum() / n)
    curve = pd.DataFrame({"customer_share": cshare, "revenue_share": cum})
    return RevenueConcentration(curve=curve, top10_share=_top_share(rev, 0.10),
                                gini=gini, customers=n)


def segment_summary(data: OverviewData) -> pd.DataFrame:
    """Customers, orders and revenue by the segment column of ``data``.

    Orders are counted per row here (``order_id`` is not used, since an order's rows may
    fall in different segments); missing values form the segment ``"(missing)"``.

    Returns
    -------
    DataFrame
        One row per segment, largest revenue first: ``segment``, ``customers`` (with at
        least one order in the segment; a customer can be in several), ``orders``,
        ``revenue``, ``revenue_share`` and ``average_order_value`` (revenue / orders with
        a positive amount).

    Raises
    ------
    ParameterError
        If ``data`` was reduced without a segment.
    """
    if data.segments is None:
        raise ParameterError("the reduced tables were built without a segment: pass "
                             "segment= to overview_data")
    out = data.segments.copy()
    total = out["revenue"].sum()
    out["revenue_share"] = out["revenue"] / total if total else np.nan
    out["average_order_value"] = out["revenue"] / out["paid_orders"].where(out["paid_orders"] > 0)
    out = out.drop(columns="paid_orders")
    return out.sort_values(["revenue", "segment"], ascending=[False, True],
                           kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- the study
def overview_study(tx, *, columns: dict | None = None, as_of: Any = None,
                   date_format: str | None = None, encoding: str | None = None,
                   delimiter: str | None = None, contract: dict | None = None,
                   segment: str | None = None, period: str = "month", cap: int = 10,
                   max_points: int = 1001, engine="duckdb") -> OverviewResult:
    """The customer-base overview of a transaction log.

    Parameters
    ----------
    tx : path, glob, directory of Parquet files, DataFrame or Ibis table
        A path (or glob, or Parquet folder) is loaded with the transactions data
        contract (``columns``, ``as_of``, ``date_format``) and its data-quality record
        kept in the result. A DataFrame or an Ibis table (e.g. from
        :meth:`clm_lib.reduce.Engine.load_transactions`) is taken as loaded: canonical
        ``customer_id``, ``timestamp``, ``amount`` and optionally ``order_id``
        (``columns`` renames its columns).
    columns : dict, optional
        Source name -> canonical name.
    as_of, date_format, encoding, delimiter, contract
        Observation end (later rows are dropped; None: the data to their last day), and
        the reading and contract options (:func:`clm_lib.io.options.load_options`), for a
        path; see :meth:`clm_lib.reduce.Engine.load_transactions`.
    segment : str, optional
        A categorical column to split customers, orders and revenue by.
    period : {"month", "quarter", "week"}
        Calendar period of the activity table.
    cap : int, default 10
        Orders per customer from which customers are pooled (``"10+"``).
    max_points : int, default 1001
        Points kept on the revenue concentration curve.
    engine : {"duckdb", "spark"} or Engine
        Where the transactions are reduced.

    Returns
    -------
    OverviewResult

    Raises
    ------
    ParameterError
        For an unknown ``period``, or ``as_of``/``date_format`` with a loaded table.
    MissingColumnsError
        If a required column (or ``segment``) is absent.
    InsufficientDataError
        If there are no transactions, or no revenue.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...                    "timestamp": pd.to_datetime(["2020-01-01", "2020-01-11", "2020-01-05"]),
    ...                    "amount": [10.0, 20.0, 30.0]})
    >>> r = overview_study(tx)
    >>> s = r.summary
    >>> s["customers"], s["orders"], s["one_time_buyer_share"], r.gap_median
    (2, 3, 0.5, 10.0)
    """
    _check_period(period)
    eng = get_engine(engine)
    quality = None
    options = load_options("transactions", date_format=date_format, encoding=encoding,
                           delimiter=delimiter, contract=contract)
    if isinstance(tx, (str, os.PathLike)):
        tx, quality = eng.load_transactions(tx, columns, as_of=as_of, **options)
        columns = None
    elif as_of is not None or options:
        raise ParameterError("as_of and the reading and contract options apply when the "
                             "transactions are loaded from a path; a DataFrame or table is "
                             "taken as loaded")
    data = overview_data(tx, period=period, segment=segment, engine=eng, columns=columns)
    summary = customer_base_summary(data)
    concentration = revenue_concentration(data, max_points=max_points)
    return OverviewResult(
        summary=summary, monthly=monthly_activity(data),
        orders_per_customer=orders_per_customer(data, cap=cap), gaps=data.gaps,
        gap_median=summary["median_days_between_purchases"], concentration=concentration,
        segments=None if segment is None else segment_summary(data), segment=segment,
        period=period, quality=quality, data=data,
        as_of=(pd.Timestamp(as_of).normalize() if as_of is not None
               else pd.Timestamp(summary["last_date"]).normalize()),
        as_of_source="parameter" if as_of is not None else "data")
