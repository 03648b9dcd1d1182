"""Customer-base overview: the first numbers anyone asks about a transaction log.

Every function takes the canonical transactions frame returned by
:func:`clm_lib.io.pandas_contract.load_transactions` (``customer_id``, ``timestamp``, ``amount``, and
optionally ``order_id``) and returns plain Python or pandas objects; nothing here reads
or writes files.

Definitions used throughout (they are repeated in the report's method notes)
-----------------------------------------------------------------------------
order (purchase)
    One row of the frame. When an ``order_id`` column is present, the rows that share a
    customer and an ``order_id`` form one order (amounts summed, earliest timestamp);
    rows with a missing ``order_id`` are one order each. Two identical rows without an
    ``order_id`` are two orders: they can be two real purchases on one day.
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clm_lib.exceptions import InsufficientDataError, ParameterError
from clm_lib.checks import require_columns
from clm_lib.reduce.pandas_reductions import purchase_day_gaps

__all__ = [
    "REQUIRED_COLUMNS",
    "OverviewData",
    "RevenueConcentration",
    "customer_base_summary",
    "format_money",
    "format_share",
    "gap_median",
    "interpurchase_times",
    "key_figures",
    "monthly_activity",
    "monthly_table",
    "orders_per_customer",
    "overview_data",
    "overview_metrics",
    "revenue_concentration",
    "segment_summary",
    "segment_table",
    "summary_lines",
]

#: Columns every function of this module needs.
REQUIRED_COLUMNS = ("customer_id", "timestamp", "amount")


# --------------------------------------------------------------------------- reduction
#: The overview's period frequencies and the engines' names for them.
FREQUENCIES = {"M": "month", "Q": "quarter", "W": "week"}


@dataclass(frozen=True)
class OverviewData:
    """The reduced tables every figure of the overview is computed from.

    Built by :func:`overview_data` with pandas, DuckDB or Spark (identical tables); one
    row per customer, per period and per gap length, so a log of any size fits.

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
    freq : str
        Period frequency of ``periods`` ("M", "Q" or "W").
    segments : DataFrame or None
        With a segment column: ``segment`` (text, ``"(missing)"`` for no value),
        ``customers``, ``orders`` (rows), ``revenue``, ``paid_orders``.
    segment : str or None
        The segment column.
    """

    customers: pd.DataFrame
    periods: pd.DataFrame
    gaps: pd.Series
    freq: str = "M"
    segments: pd.DataFrame | None = None
    segment: str | None = None


def _check(tx: pd.DataFrame, columns: Sequence[str] = REQUIRED_COLUMNS,
           what: str = "transactions") -> None:
    require_columns(tx, columns, what)


def _orders(tx: pd.DataFrame) -> pd.DataFrame:
    """One row per order: ``customer_id``, ``timestamp`` (earliest), ``amount`` (sum).

    Without an ``order_id`` column every row is an order. Rows are returned sorted by
    customer and timestamp.
    """
    _check(tx)
    base = tx[["customer_id", "timestamp", "amount"]]
    if "order_id" in tx.columns:
        oid = tx["order_id"]
        has = oid.notna().to_numpy()
        if has.any():
            grouped = (
                base[has].assign(order_id=oid[has])
                .groupby(["customer_id", "order_id"], sort=False, observed=True)
                .agg(timestamp=("timestamp", "min"), amount=("amount", "sum"))
                .reset_index()[["customer_id", "timestamp", "amount"]]
            )
            base = pd.concat([grouped, base[~has]], ignore_index=True)
    out = base.sort_values(["customer_id", "timestamp"], kind="mergesort")
    return out.reset_index(drop=True)


def _reduce_pandas(tx: pd.DataFrame, freq: str, segment: str | None) -> dict:
    """The tables of :class:`OverviewData` from a transactions frame, in pandas."""
    orders = _orders(tx)
    amount = orders["amount"]
    customers = orders.assign(_paid=amount > 0, _zero=amount == 0).groupby(
        "customer_id", sort=True, observed=True).agg(
        orders=("amount", "size"), paid_orders=("_paid", "sum"), zero_orders=("_zero", "sum"),
        revenue=("amount", "sum"), first_order=("timestamp", "min"),
        last_order=("timestamp", "max"))
    per = orders["timestamp"].dt.to_period(freq)
    per_customer = orders.assign(_p=per).groupby(["customer_id", "_p"], sort=True,
                                                  observed=True)["amount"].agg(["size", "sum"])
    per_customer = per_customer.reset_index()
    first = per_customer.groupby("customer_id", observed=True)["_p"].transform("min")
    new = (per_customer["_p"] == first).to_numpy()
    g = per_customer.assign(_new=new, _rev_new=np.where(new, per_customer["sum"], 0.0)).groupby(
        "_p", sort=True)
    periods = pd.DataFrame({"active_customers": g.size(), "new_customers": g["_new"].sum(),
                            "orders": g["size"].sum(), "revenue": g["sum"].sum(),
                            "revenue_new": g["_rev_new"].sum()})
    periods = periods.rename_axis("period").reset_index()
    out = {"customers": customers, "periods": periods,
           "gaps": purchase_day_gaps(orders, as_of=None)}
    if segment is not None:
        _check(tx, (*REQUIRED_COLUMNS, segment))
        rows = pd.DataFrame({"customer_id": tx["customer_id"].to_numpy(),
                             "amount": tx["amount"].to_numpy(),
                             "segment": tx[segment].astype("string").fillna("(missing)")
                             .to_numpy()})
        g = rows.assign(_paid=rows["amount"] > 0).groupby("segment", sort=True)
        out["segments"] = pd.DataFrame({
            "customers": g["customer_id"].nunique(), "orders": g.size(),
            "revenue": g["amount"].sum(), "paid_orders": g["_paid"].sum(),
        }).reset_index()
    return out


def _periods_from_codes(codes: np.ndarray, freq: str) -> pd.PeriodIndex:
    """Pandas periods of the engines' integer period codes (see
    ``clm_lib.reduce.expressions._period_index``)."""
    codes = np.asarray(codes, dtype=np.int64)
    if freq == "M":
        return pd.PeriodIndex([pd.Period(year=c // 12, month=c % 12 + 1, freq="M") for c in codes])
    if freq == "Q":
        return pd.PeriodIndex([pd.Period(year=c // 4, quarter=c % 4 + 1, freq="Q") for c in codes])
    mondays = np.datetime64("1970-01-05") + codes * np.timedelta64(7, "D")
    return pd.PeriodIndex(pd.DatetimeIndex(mondays), freq="W")


def overview_data(tx, *, freq: str = "M", segment: str | None = None, engine="pandas",
                  columns=None) -> OverviewData:
    """Reduce transactions to the tables of the customer-base overview.

    Parameters
    ----------
    tx : DataFrame, or (duckdb/spark) a path, glob, table name or Ibis table
        Canonical transactions with ``customer_id``, ``timestamp``, ``amount`` and
        optionally ``order_id`` (see the module docstring for what an order is), as
        returned by :func:`clm_lib.io.pandas_contract.load_transactions` or
        :meth:`clm_lib.reduce.engine.Engine.load_transactions`.
    freq : {"M", "Q", "W"}
        Calendar period of the activity table (month, quarter, week from Monday).
    segment : str, optional
        A categorical column to split customers, orders and revenue by.
    engine : {"pandas", "duckdb", "spark"} or Engine
        Where to reduce: pandas in memory, or DuckDB/Spark where the data are (only the
        per-customer, per-period and per-gap tables come back). Results are identical.
    columns : dict, optional
        Source name -> canonical name, for a path loaded by the engine.

    Returns
    -------
    OverviewData

    Raises
    ------
    InsufficientDataError
        If there are no transactions.
    """
    from clm_lib.reduce.engine import get_engine

    if freq not in FREQUENCIES:
        raise ParameterError(f"freq must be one of {list(FREQUENCIES)}, got {freq!r}")
    eng = get_engine(engine)
    if eng.name == "pandas":
        if not isinstance(tx, pd.DataFrame):
            raise ParameterError("the pandas engine needs a transactions DataFrame (load it "
                                 "with clm_lib.io.pandas_contract.load_transactions)")
        _check(tx)
        if tx.empty:
            raise InsufficientDataError("transactions has no rows: nothing to summarise")
        parts = _reduce_pandas(tx, freq, segment)
        periods = parts["periods"]
    else:
        parts = eng.overview_tables(tx, period=FREQUENCIES[freq], segment=segment,
                                    columns=columns)
        if parts["customers"].empty:
            raise InsufficientDataError("transactions has no rows: nothing to summarise")
        periods = parts["periods"].assign(
            period=_periods_from_codes(parts["periods"]["period"], freq))
        if segment is not None:
            seg = parts["segments"].assign(
                segment=parts["segments"]["segment"].fillna("(missing)"))
            parts["segments"] = (seg.groupby("segment", sort=True)
                                 .sum(numeric_only=True).reset_index())
        parts["gaps"] = parts["gaps"].set_index("days")["gaps"]
    gaps = parts["gaps"].astype("int64").rename("gaps").rename_axis("days_between_purchases")
    segments = parts.get("segments")
    if segments is not None:
        segments = segments[["segment", "customers", "orders", "revenue", "paid_orders"]]
        segments = segments.astype({"segment": "string", "customers": "int64",
                                    "orders": "int64", "revenue": float,
                                    "paid_orders": "int64"})
    customers = parts["customers"].astype({"orders": "int64", "paid_orders": "int64",
                                           "zero_orders": "int64", "revenue": float})
    customers.index = customers.index.astype("string").rename("customer_id")
    periods = periods.astype({"active_customers": "int64", "new_customers": "int64",
                              "orders": "int64", "revenue": float, "revenue_new": float})
    return OverviewData(customers=customers, periods=periods.reset_index(drop=True),
                        gaps=gaps, freq=freq, segments=segments, segment=segment)


def _data(tx, freq: str = "M", segment: str | None = None) -> OverviewData:
    """``tx`` as reduced data: an :class:`OverviewData` is used as it is."""
    if isinstance(tx, OverviewData):
        return tx
    return overview_data(tx, freq=freq, segment=segment)


def _top_share(revenue: pd.Series, fraction: float = 0.10) -> float:
    """Revenue share of the top ``fraction`` of customers (``revenue`` indexed by id)."""
    n = len(revenue)
    total = float(revenue.sum())
    if n == 0 or total == 0:
        return float("nan")
    k = max(1, math.ceil(round(n * fraction, 9)))
    ranked = (revenue.rename("revenue").reset_index()
              .sort_values(["revenue", "customer_id"], ascending=[False, True],
                           kind="mergesort"))
    return float(ranked["revenue"].iloc[:k].sum() / total)


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


# --------------------------------------------------------------------------- compute
def customer_base_summary(tx) -> dict:
    """Key figures of a customer base.

    Parameters
    ----------
    tx : DataFrame or OverviewData
        Canonical transactions with columns ``customer_id``, ``timestamp`` (datetime) and
        ``amount`` (currency units); optional ``order_id`` groups rows into orders. Or
        their reduced tables from :func:`overview_data` (any engine).

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

    Raises
    ------
    MissingColumnsError
        If a required column is absent.
    InsufficientDataError
        If the frame has no rows.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...                    "timestamp": pd.to_datetime(["2020-01-01", "2020-01-11", "2020-01-05"]),
    ...                    "amount": [10.0, 20.0, 30.0]})
    >>> s = customer_base_summary(tx)
    >>> s["customers"], s["orders"], s["one_time_buyer_share"], s["median_days_between_purchases"]
    (2, 3, 0.5, 10.0)
    """
    data = _data(tx)
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


def monthly_activity(tx, freq: str = "M") -> pd.DataFrame:
    """Customers, orders and revenue per calendar period.

    Parameters
    ----------
    tx : DataFrame or OverviewData
        Canonical transactions with ``customer_id``, ``timestamp`` and ``amount``, or
        their reduced tables from :func:`overview_data` (whose ``freq`` is then used).
    freq : str, default "M"
        A pandas period frequency: ``"M"`` (calendar month), ``"Q"`` or ``"W"``.

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
    if isinstance(tx, pd.DataFrame) and tx.empty:
        _check(tx)
        return pd.DataFrame(columns=cols)
    data = _data(tx, freq=freq)
    per = data.periods.set_index("period")
    full = pd.period_range(per.index.min(), per.index.max(), freq=per.index.freq)
    out = per.reindex(full).fillna(0)
    for c in ("active_customers", "orders", "new_customers"):
        out[c] = out[c].astype("int64")
    out["revenue_returning"] = out["revenue"] - out["revenue_new"]
    out["period"] = [str(p) for p in out.index]
    out["period_start"] = out.index.to_timestamp()
    return out[cols].reset_index(drop=True)


def orders_per_customer(tx, cap: int = 10) -> pd.DataFrame:
    """Distribution of the number of orders per customer.

    Parameters
    ----------
    tx : DataFrame or OverviewData
        Canonical transactions with ``customer_id``, ``timestamp`` and ``amount``, or
        their reduced tables from :func:`overview_data`.
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
        raise ValueError(f"cap must be at least 2, got {cap}")
    cap = int(cap)
    counts = _data(tx).customers["orders"].clip(upper=cap)
    dist = counts.value_counts().reindex(range(1, cap + 1), fill_value=0).sort_index()
    labels = [str(k) for k in range(1, cap)] + [f"{cap}+"]
    total = int(dist.sum())
    share = dist / total if total else dist.astype(float) * np.nan
    return pd.DataFrame({"orders": labels, "customers": dist.to_numpy().astype("int64"),
                         "share": share.to_numpy().astype(float)})


def interpurchase_times(tx) -> pd.Series:
    """How many times customers came back after each number of days.

    Parameters
    ----------
    tx : DataFrame or OverviewData
        Canonical transactions with ``customer_id``, ``timestamp`` and ``amount``, or
        their reduced tables from :func:`overview_data`.

    Returns
    -------
    Series of int
        Named ``gaps``: the number of gaps of each length between consecutive distinct
        purchase days of a customer, indexed by the length ``days_between_purchases``
        (whole days, sorted). Timestamps are truncated to the day first; several orders
        on one day count as one purchase day, so no gap is ever 0.
    """
    return _data(tx).gaps


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


def revenue_concentration(tx, max_points: int = 1001) -> RevenueConcentration:
    """Concentration curve of revenue: what share of revenue the best x % of customers bring.

    Parameters
    ----------
    tx : DataFrame or OverviewData
        Canonical transactions with ``customer_id``, ``timestamp`` and ``amount``, or
        their reduced tables from :func:`overview_data`.
    max_points : int, default 1001
        The curve is thinned to at most this many points (always keeping both ends) so
        plots stay light for large customer bases.

    Returns
    -------
    RevenueConcentration
    """
    rev = _data(tx).customers["revenue"]
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


def segment_summary(tx, segment: str | None = None) -> pd.DataFrame:
    """Customers, orders and revenue by a categorical column.

    Parameters
    ----------
    tx : DataFrame or OverviewData
        Canonical transactions with ``customer_id``, ``timestamp``, ``amount`` and the
        ``segment`` column, or their reduced tables from :func:`overview_data` built
        with that ``segment``. Orders are counted per row here (``order_id`` is not
        used, since an order's rows may fall in different segments).
    segment : str
        Name of a categorical column (channel, country, ...). Missing values form the
        segment ``"(missing)"``. Optional with reduced tables (their segment is used).

    Returns
    -------
    DataFrame
        One row per segment, largest revenue first: ``segment``, ``customers`` (with at
        least one order in the segment; a customer can be in several), ``orders``,
        ``revenue``, ``revenue_share`` and ``average_order_value`` (revenue / orders with
        a positive amount).
    """
    if isinstance(tx, OverviewData):
        if tx.segments is None or (segment is not None and segment != tx.segment):
            raise ParameterError(f"the reduced tables were built without segment {segment!r}: "
                                 "pass segment= to overview_data")
        data = tx
    else:
        if segment is None:
            raise ParameterError("segment_summary needs the name of a segment column")
        _check(tx, (*REQUIRED_COLUMNS, segment))
        data = _data(tx, segment=segment)
    out = data.segments.copy()
    total = out["revenue"].sum()
    out["revenue_share"] = out["revenue"] / total if total else np.nan
    out["average_order_value"] = out["revenue"] / out["paid_orders"].where(out["paid_orders"] > 0)
    out = out.drop(columns="paid_orders")
    return out.sort_values(["revenue", "segment"], ascending=[False, True],
                           kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- wording
def format_money(x: float, currency: str = "$") -> str:
    """Compact money: ``$2.50 M``, ``$245.3 k``, ``$35.89``; ``n/a`` for NaN."""
    if x is None or not np.isfinite(x):
        return "n/a"
    sign = "-" if x < 0 else ""
    a = abs(float(x))
    if a >= 1e9:
        body = f"{a / 1e9:,.2f} B"
    elif a >= 1e6:
        body = f"{a / 1e6:,.2f} M"
    elif a >= 1e4:
        body = f"{a / 1e3:,.1f} k"
    else:
        body = f"{a:,.2f}"
    return f"{sign}{currency}{body}"


def format_share(p: float, digits: int = 0) -> str:
    """A fraction as a percentage: ``0.5052 -> "51 %"``; ``n/a`` for NaN."""
    if p is None or not np.isfinite(p):
        return "n/a"
    return f"{100 * float(p):.{digits}f} %"


def _month_name(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%B %Y")


def _days(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f} day{'s' if round(x) != 1 else ''}"


def _runs(flags: Iterable[bool]) -> list[tuple[int, int]]:
    """Start/end positions of runs of True."""
    runs, start = [], None
    flags = list(flags)
    for i, f in enumerate(flags):
        if f and start is None:
            start = i
        if not f and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(flags) - 1))
    return runs


def _period_label(monthly: pd.DataFrame, i: int) -> str:
    row = monthly.iloc[i]
    label = str(row["period"])
    if len(label) == 7 and label[4] == "-":  # a calendar month
        return pd.Timestamp(row["period_start"]).strftime("%b %Y")
    return label


def _period_range(monthly: pd.DataFrame, a: int, b: int) -> str:
    """``Jan–Mar 1997`` for months of one year, else ``Nov 1997–Feb 1998``."""
    if a == b:
        return _period_label(monthly, a)
    first, last = _period_label(monthly, a), _period_label(monthly, b)
    fa, la = first.split(" "), last.split(" ")
    if len(fa) == 2 and len(la) == 2 and fa[1] == la[1]:
        return f"{fa[0]}–{last}"
    return f"{first}–{last}"


def summary_lines(summary: dict, monthly: pd.DataFrame | None = None, *,
                  currency: str = "$") -> list[str]:
    """Plain-language sentences computed from :func:`customer_base_summary` and
    :func:`monthly_activity`; nothing is hard-coded, so they read right on any data.

    Parameters
    ----------
    summary : dict
        The result of :func:`customer_base_summary`.
    monthly : DataFrame, optional
        The result of :func:`monthly_activity` (adds sentences on acquisition and on the
        revenue trend).
    currency : str, default "$"
        Currency symbol put before amounts.

    Returns
    -------
    list of str
    """
    s = summary
    lines = [
        f"{s['customers']:,} customers placed {s['orders']:,} orders worth "
        f"{format_money(s['revenue'], currency)} between {_month_name(s['first_date'])} "
        f"and {_month_name(s['last_date'])}.",
        f"{format_share(s['one_time_buyer_share'])} of customers bought only once; "
        f"the top 10 % of customers brought {format_share(s['top10_revenue_share'])} "
        f"of revenue.",
    ]
    if np.isfinite(s.get("median_days_between_purchases", np.nan)):
        lines.append(
            f"The average order was worth {format_money(s['average_order_value'], currency)}; "
            f"customers who came back did so after a median of "
            f"{_days(s['median_days_between_purchases'])} (mean "
            f"{_days(s['mean_days_between_purchases'])}).")
    else:
        lines.append(
            f"The average order was worth {format_money(s['average_order_value'], currency)}; "
            f"no customer bought on two different days.")
    if monthly is not None and len(monthly):
        m = monthly.reset_index(drop=True)
        n_per = len(m)
        runs = _runs(m["new_customers"] > 0)
        monthly_labels = all(len(str(p)) == 7 and str(p)[4] == "-" for p in m["period"])
        unit = "month" if monthly_labels else "period"
        if len(runs) == 1 and runs[0] == (0, n_per - 1):
            busiest = int(m["new_customers"].idxmax())
            lines.append(
                f"New customers arrived in every {unit}; the most "
                f"({int(m.loc[busiest, 'new_customers']):,}) in {_period_label(m, busiest)}.")
        elif len(runs) == 1:
            a, b = runs[0]
            when = _period_range(m, a, b)
            lines.append(
                f"New customers were acquired only in {when}; all later orders came from "
                f"customers already acquired, so the trend below follows one group of "
                f"customers over time." if a == 0 else
                f"New customers were acquired only in {when}.")
        elif runs:
            lines.append(f"New customers were acquired in {sum(b - a + 1 for a, b in runs)} "
                         f"of {n_per} {unit}s.")
        peak = int(m["revenue"].idxmax())
        last = n_per - 1
        lines.append(
            f"Revenue peaked at {format_money(m.loc[peak, 'revenue'], currency)} in "
            f"{_period_label(m, peak)} and was {format_money(m.loc[last, 'revenue'], currency)} "
            f"in {_period_label(m, last)}, the last {unit} observed.")
    return lines


def key_figures(summary: dict, currency: str = "$") -> pd.DataFrame:
    """The summary as a two-column table of formatted values (for the report).

    Returns
    -------
    DataFrame
        Columns ``Measure`` and ``Value`` (strings, units included).
    """
    s = summary
    rows = [
        ("Customers", f"{s['customers']:,}"),
        ("Orders", f"{s['orders']:,}"),
        ("Revenue", format_money(s["revenue"], currency)),
        ("First order", pd.Timestamp(s["first_date"]).strftime("%Y-%m-%d")),
        ("Last order", pd.Timestamp(s["last_date"]).strftime("%Y-%m-%d")),
        ("Orders per customer (mean)", f"{s['orders_per_customer']:.2f}"),
        ("Average order value", format_money(s["average_order_value"], currency)),
        ("Orders with zero amount", f"{s['zero_amount_orders']:,}"),
        ("One-time buyers (share of customers)", format_share(s["one_time_buyer_share"], 1)),
        ("Repeat customers (share of customers)", format_share(s["repeat_customer_share"], 1)),
        ("Revenue share of top 10 % of customers", format_share(s["top10_revenue_share"], 1)),
        ("Time between purchases, median", _days(s["median_days_between_purchases"])),
        ("Time between purchases, mean", _days(s["mean_days_between_purchases"])),
    ]
    return pd.DataFrame(rows, columns=["Measure", "Value"])


def monthly_table(monthly: pd.DataFrame, currency: str = "$") -> pd.DataFrame:
    """:func:`monthly_activity` for display: readable column names, values formatted as
    text with thousands separators (revenue rounded to whole currency units).

    Parameters
    ----------
    monthly : DataFrame
        The result of :func:`monthly_activity`.
    currency : str
        Currency symbol used in the revenue column names.
    """
    _check(monthly, ("period", "new_customers", "active_customers", "orders", "revenue",
                     "revenue_new", "revenue_returning"), what="monthly activity")

    def fmt(col: str) -> list[str]:
        return [f"{v:,.0f}" for v in monthly[col].astype(float)]

    labels = monthly["period"].astype(str).tolist()
    is_month = all(len(p) == 7 and p[4] == "-" for p in labels)
    # short headers keep the table narrow enough that period labels do not wrap
    return pd.DataFrame({
        "Month" if is_month else "Period": labels,
        "New customers": fmt("new_customers"),
        "Active customers": fmt("active_customers"),
        "Orders": fmt("orders"),
        f"Revenue ({currency})": fmt("revenue"),
        f"from new ({currency})": fmt("revenue_new"),
        f"from returning ({currency})": fmt("revenue_returning"),
    })


def overview_metrics(summary: dict, monthly: pd.DataFrame,
                     concentration: RevenueConcentration | None = None, *,
                     currency: str = "$") -> dict:
    """The study's ``metrics.json`` content (without ``data_quality``).

    Keys: ``customers``, ``orders``, ``revenue``, ``first_date``, ``last_date`` (ISO
    dates), ``average_order_value``, ``one_time_buyer_share``, ``repeat_customer_share``,
    ``top10_revenue_share``, ``median_days_between_purchases``,
    ``mean_days_between_purchases`` (days), ``gini`` (when ``concentration`` is given),
    ``monthly`` (one dict per period, ``period_start`` as ISO date) and ``headline``
    (4 formatted entries for the index page).
    """
    s = summary
    rows = monthly.assign(period_start=pd.to_datetime(monthly["period_start"])
                          .dt.strftime("%Y-%m-%d"))
    money = [c for c in ("revenue", "revenue_new", "revenue_returning") if c in rows]
    rows[money] = rows[money].round(2)  # cents; avoids float noise such as 0.7800000003
    out = {
        "customers": int(s["customers"]),
        "orders": int(s["orders"]),
        "revenue": float(s["revenue"]),
        "first_date": pd.Timestamp(s["first_date"]).strftime("%Y-%m-%d"),
        "last_date": pd.Timestamp(s["last_date"]).strftime("%Y-%m-%d"),
        "average_order_value": float(s["average_order_value"]),
        "one_time_buyer_share": float(s["one_time_buyer_share"]),
        "repeat_customer_share": float(s["repeat_customer_share"]),
        "top10_revenue_share": float(s["top10_revenue_share"]),
        "median_days_between_purchases": float(s["median_days_between_purchases"]),
        "mean_days_between_purchases": float(s["mean_days_between_purchases"]),
        "monthly": rows.to_dict("records"),
        "headline": {
            "Customers": f"{s['customers']:,}",
            "Revenue": format_money(s["revenue"], currency),
            "One-time buyers": format_share(s["one_time_buyer_share"]),
            "Top 10 % revenue share": format_share(s["top10_revenue_share"]),
        },
    }
    if concentration is not None:
        out["gini"] = float(concentration.gini)
    return out


def segment_table(segments: pd.DataFrame, currency: str = "$") -> pd.DataFrame:
    """:func:`segment_summary` for display: readable names, formatted text values.

    Parameters
    ----------
    segments : DataFrame
        The result of :func:`segment_summary`.
    currency : str
        Currency symbol for the money columns.
    """
    _check(segments, ("segment", "customers", "orders", "revenue", "revenue_share",
                      "average_order_value"), what="segment summary")
    return pd.DataFrame({
        "Segment": segments["segment"].astype(str).tolist(),
        "Customers": [f"{v:,.0f}" for v in segments["customers"]],
        "Orders": [f"{v:,.0f}" for v in segments["orders"]],
        "Revenue": [format_money(v, currency) for v in segments["revenue"]],
        "Share of revenue": [format_share(v, 1) for v in segments["revenue_share"]],
        "Average order value": [format_money(v, currency)
                                for v in segments["average_order_value"]],
    })
