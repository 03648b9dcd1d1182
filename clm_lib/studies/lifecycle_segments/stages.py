"""Lifecycle stages: thresholds, one stage per customer at a date, stage tables, the
repeat ladder.

Everything is computed from purchase *days* (all purchases of one customer on one calendar
day count once, amounts summed): the per-customer histories of
:meth:`clm_lib.reduce.Engine.customer_histories`, reduced where the log lives.

Stages at a date ``d`` (first matching rule wins, so every customer has exactly one stage;
only purchases on or before ``d`` are seen):

=================  =============================================================================
stage              rule
=================  =============================================================================
lapsed             no purchase for more than ``lapsed_days`` days
new                first purchase within the last ``new_days`` days
reactivated        a purchase after a gap of more than ``lapsed_days`` days, within the last
                   ``new_days`` days
at risk            no purchase for more than ``at_risk_days`` days (but not lapsed)
loyal/VIP          two or more purchase days and both purchase days and spend to date at or
                   above the ``vip_quantile`` of repeat customers at ``d``
active repeat      two or more purchase days
one-time buyer     one purchase day, older than ``new_days``, not yet at risk
=================  =============================================================================

Default thresholds come from the gaps between consecutive purchase days of all customers
up to ``as_of`` (:func:`derive_thresholds`): ``new_days`` the median gap, ``at_risk_days``
the 75th and ``lapsed_days`` the 90th percentile, so "lapsed" means a silence longer than
90 % of the gaps after which customers did come back.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clm_lib.checks import require_columns as _need
from clm_lib.exceptions import InsufficientDataError, ParameterError
from clm_lib.reduce import get_engine

__all__ = ["STAGES", "ACTIVE_STAGES", "NOT_YET", "HISTORY_COLUMNS", "THRESHOLD_QUANTILES",
           "TIME_UNITS", "Thresholds", "is_customer_histories", "histories", "purchase_day_gaps",
           "derive_thresholds", "customer_stages", "stage_table", "stages_by_segment",
           "repeat_ladder"]

#: Stage names in display order (the order of the rules differs, see the module docstring).
STAGES = ("new", "one-time buyer", "active repeat", "loyal/VIP", "reactivated",
          "at risk", "lapsed")
#: The stages of customers who are neither at risk nor lapsed.
ACTIVE_STAGES = ("new", "one-time buyer", "active repeat", "loyal/VIP", "reactivated")
#: Row of the transition matrix for customers acquired between the two dates.
NOT_YET = "not yet a customer"

#: Columns of :meth:`clm_lib.reduce.Engine.customer_histories` the stages need.
HISTORY_COLUMNS = ("purchase_days", "spend", "first_purchase", "last_purchase",
                   "last_reactivation")
TRANSACTION_COLUMNS = ("customer_id", "timestamp", "amount")
#: Time units of the durations and of the value horizon.
TIME_UNITS = ("day", "week", "month")

#: Quantile of the inter-purchase gaps each threshold defaults to.
THRESHOLD_QUANTILES = {"new_days": 0.5, "at_risk_days": 0.75, "lapsed_days": 0.9}


def is_customer_histories(data) -> bool:
    """True for a frame of per-customer histories (from any engine), False for
    transactions: the stage, RFM and repeat functions take either."""
    return isinstance(data, pd.DataFrame) and "purchase_days" in data.columns


def histories(data, *, date, lapsed_days: int, window_days: int | None = None,
              engine="duckdb") -> pd.DataFrame:
    """``data`` as per-customer histories at ``date``.

    A histories frame (:meth:`clm_lib.reduce.Engine.customer_histories`) is checked and
    used as it is (refused when it was reduced for another date or threshold);
    transactions (``customer_id``, ``timestamp``, ``amount``: a DataFrame, Ibis table or
    path) are reduced by ``engine``.
    """
    d = pd.Timestamp(date).normalize()
    if not is_customer_histories(data):
        if isinstance(data, pd.DataFrame):
            _need(data, TRANSACTION_COLUMNS, "transactions")
        return get_engine(engine).customer_histories(data, date=d, lapsed_days=lapsed_days,
                                                     window_days=window_days)
    _need(data, HISTORY_COLUMNS, "customer histories")
    want = {"date": str(d.date()), "lapsed_days": int(lapsed_days)}
    if window_days is not None:
        want["window_days"] = int(window_days)
    got = {k: data.attrs.get(k) for k in want}
    if any(v is not None and v != want[k] for k, v in got.items()):
        raise ParameterError(f"the customer histories were reduced with {got}, not {want}")
    return data


def purchase_day_gaps(data, *, as_of, engine="duckdb") -> pd.Series:
    """Gaps (days) between consecutive purchase days of a customer up to ``as_of``,
    counted per length by ``engine`` (:meth:`clm_lib.reduce.Engine.purchase_day_gaps`)."""
    if isinstance(data, pd.DataFrame):
        _need(data, TRANSACTION_COLUMNS, "transactions")
    return get_engine(engine).purchase_day_gaps(data, as_of=pd.Timestamp(as_of).normalize())


@dataclass(frozen=True)
class Thresholds:
    """Stage thresholds in days.

    ``quantiles`` holds, for each threshold derived from the gaps, the quantile it is
    (a threshold absent from it was given as a parameter); ``n_gaps`` is the number of
    gaps they were derived from, and ``capped`` is True when a derived ``at_risk_days``
    was lowered to a given ``lapsed_days``.
    """

    new_days: int
    at_risk_days: int
    lapsed_days: int
    vip_quantile: float = 0.8
    quantiles: dict = field(default_factory=dict)
    n_gaps: int = 0
    capped: bool = False


def _gap_quantile(gaps: pd.Series, q: float) -> float:
    """``np.quantile`` (linear interpolation) of the gaps given as counts per length: the
    same arithmetic on the two gaps around the quantile's position, so the result is
    identical to that of the expanded gaps."""
    counts = gaps.to_numpy(dtype=np.int64)
    values = gaps.index.to_numpy(dtype=float)
    n = int(counts.sum())
    h = (n - 1) * q
    lo = int(np.floor(h))
    cum = np.cumsum(counts)
    x_lo = values[np.searchsorted(cum, lo, side="right")]
    x_hi = values[np.searchsorted(cum, min(lo + 1, n - 1), side="right")]
    return float(np.quantile(np.array([x_lo, x_hi]), h - lo))


def derive_thresholds(transactions, *, as_of, new_days: int | None = None,
                      at_risk_days: int | None = None, lapsed_days: int | None = None,
                      vip_quantile: float = 0.8, engine="duckdb") -> Thresholds:
    """Stage thresholds: the given values, or quantiles of the inter-purchase gaps.

    Parameters
    ----------
    transactions : DataFrame, Ibis table or Series
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``), reduced by
        ``engine``, or the gaps already counted per length (a Series indexed by the gap
        in days, as from :func:`purchase_day_gaps`).
    as_of : date-like
        Only purchase days up to this day (inclusive) are used.
    new_days, at_risk_days, lapsed_days : int, optional
        Thresholds in days; ``None`` = the 50th, 75th, 90th percentile of the gaps (days)
        between consecutive purchase days of the same customer, rounded up.
    vip_quantile : float
        Loyal/VIP customers have purchase days and spend at or above this quantile.
    engine : str or Engine
        Where transactions are reduced.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a"] * 3, "amount": [1.0] * 3,
    ...                    "timestamp": pd.to_datetime(["2020-01-01", "2020-01-11", "2020-01-31"])})
    >>> derive_thresholds(tx, as_of="2020-02-01").lapsed_days   # gaps 10, 20: 90 % quantile 19
    19
    """
    if not 0 < vip_quantile < 1:
        raise ParameterError("vip_quantile must be in (0, 1)")
    gaps = (transactions if isinstance(transactions, pd.Series)
            else purchase_day_gaps(transactions, as_of=as_of, engine=engine))
    n_gaps = int(gaps.sum())
    given = {"new_days": new_days, "at_risk_days": at_risk_days, "lapsed_days": lapsed_days}
    vals, quantiles = {}, {}
    for name, q in THRESHOLD_QUANTILES.items():
        if given[name] is not None:
            if given[name] <= 0:
                raise ParameterError(f"{name} must be a positive number of days")
            vals[name] = int(given[name])
        else:
            if n_gaps == 0:
                raise InsufficientDataError(
                    f"{name}: no repeat purchases to derive it from; pass it explicitly")
            vals[name] = int(np.ceil(_gap_quantile(gaps, q)))
            quantiles[name] = q
    capped = ("at_risk_days" in quantiles and "lapsed_days" not in quantiles
              and vals["at_risk_days"] > vals["lapsed_days"])
    if capped:  # a short lapsed_days given by the user caps the derived at-risk threshold
        vals["at_risk_days"] = vals["lapsed_days"]
    if not vals["at_risk_days"] <= vals["lapsed_days"]:
        raise ParameterError(f"at_risk_days ({vals['at_risk_days']}) must not exceed "
                             f"lapsed_days ({vals['lapsed_days']})")
    return Thresholds(vals["new_days"], vals["at_risk_days"], vals["lapsed_days"],
                      float(vip_quantile), quantiles, n_gaps, capped)


def customer_stages(transactions, *, date, thresholds: Thresholds,
                    engine="duckdb") -> pd.DataFrame:
    """Lifecycle stage of every customer with a purchase on or before ``date``.

    Parameters
    ----------
    transactions : DataFrame or Ibis table
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``), reduced by
        ``engine``, or their per-customer histories at ``date`` reduced with
        ``thresholds.lapsed_days`` (:meth:`clm_lib.reduce.Engine.customer_histories`).
    date : date-like
        Day at which stages are assessed (inclusive).
    thresholds : Thresholds
        From :func:`derive_thresholds`.

    Returns
    -------
    DataFrame indexed by ``customer_id``: ``stage`` (categorical, :data:`STAGES`),
    ``purchase_days``, ``spend`` (to date), ``first_purchase``, ``last_purchase``,
    ``last_reactivation`` (NaT if never), ``days_since_last``, ``days_since_first``.
    """
    d = pd.Timestamp(date).normalize()
    th = thresholds
    per = histories(transactions, date=d, lapsed_days=th.lapsed_days, engine=engine)
    per = per[list(HISTORY_COLUMNS)].copy()
    since_last = (d - per["last_purchase"]).dt.days
    since_first = (d - per["first_purchase"]).dt.days
    since_react = (d - per["last_reactivation"]).dt.days
    repeat = per["purchase_days"] >= 2
    if repeat.any():
        f_cut = per.loc[repeat, "purchase_days"].quantile(th.vip_quantile)
        s_cut = per.loc[repeat, "spend"].quantile(th.vip_quantile)
        vip = repeat & (per["purchase_days"] >= f_cut) & (per["spend"] >= s_cut)
    else:
        vip = repeat
    conditions = [since_last > th.lapsed_days, since_first <= th.new_days,
                  since_react.le(th.new_days).fillna(False).astype(bool),
                  since_last > th.at_risk_days, vip, repeat]
    choices = ["lapsed", "new", "reactivated", "at risk", "loyal/VIP", "active repeat"]
    codes = np.select([np.asarray(c, bool) for c in conditions],
                      [STAGES.index(c) for c in choices], default=STAGES.index("one-time buyer"))
    per.insert(0, "stage", pd.Categorical.from_codes(codes, categories=list(STAGES)))
    per["days_since_last"] = since_last
    per["days_since_first"] = since_first
    per.attrs = {"date": str(d.date())}
    return per


def stage_table(stages: pd.DataFrame, values: pd.Series | None = None) -> pd.DataFrame:
    """Customers, share, revenue to date and its share per stage (plus value share if
    ``values``, e.g. CLV, indexed by customer, is given).

    ``stages`` needs ``stage`` and ``spend`` (from :func:`customer_stages`).
    """
    _need(stages, ["stage", "spend"], "stages")
    t = stages.groupby("stage", observed=False).agg(customers=("spend", "size"), revenue=("spend", "sum"))
    t["customer_share"] = t["customers"] / t["customers"].sum()
    t["revenue_share"] = t["revenue"] / t["revenue"].sum()
    if values is not None:
        v = values.reindex(stages.index).fillna(0.0).groupby(stages["stage"], observed=False).sum()
        t["clv"] = v
        t["clv_share"] = v / v.sum() if v.sum() > 0 else np.nan
    return t


def stages_by_segment(stages: pd.DataFrame, column: str = "segment_value") -> pd.DataFrame:
    """Share of each segment's customers in each stage (rows: segment values, columns:
    stages, plus ``customers``); ``column`` holds each customer's segment."""
    _need(stages, ["stage", column], "stages")
    seg = stages[column].astype("string").fillna("(missing)")
    t = pd.crosstab(seg, stages["stage"], normalize="index", dropna=False)
    t = t.reindex(columns=list(STAGES), fill_value=0.0)
    t.insert(0, "customers", seg.value_counts().reindex(t.index).astype(int))
    t.index.name = "segment"
    return t


def repeat_ladder(stages: pd.DataFrame, max_k: int = 10, min_customers: int = 20) -> pd.DataFrame:
    """P(k+1 purchase days | k purchase days) for k = 1, 2, ... .

    Parameters
    ----------
    stages : DataFrame
        ``purchase_days`` per customer (from :func:`customer_stages`).
    max_k : int
        Last rung.
    min_customers : int
        Rungs with fewer customers reaching k are not shown.

    Returns
    -------
    DataFrame indexed by ``k``: ``reached_k``, ``reached_k_plus_1``, ``p_next``. Customers
    still early in their history may yet climb, so the ratios are lower bounds of the
    eventual rates.
    """
    _need(stages, ["purchase_days"], "stages")
    n = stages["purchase_days"].to_numpy()
    rows = []
    for k in range(1, int(max_k) + 1):
        reached = int((n >= k).sum())
        if reached < min_customers:
            break
        nxt = int((n >= k + 1).sum())
        rows.append({"k": k, "reached_k": reached, "reached_k_plus_1": nxt, "p_next": nxt / reached})
    return pd.DataFrame(rows, columns=["k", "reached_k", "reached_k_plus_1", "p_next"]).set_index("k")
