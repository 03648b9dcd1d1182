"""RFM scores, named segments and a playbook of actions per segment.

Per customer at ``as_of`` (purchase days: all purchases of a customer on one day count once):
``recency_days`` (days since the last purchase day), ``frequency`` (purchase days),
``monetary`` (total spend to date) and ``days_since_first`` (days since the first purchase).

**Recency score** on the absolute thresholds of the lifecycle stages
(:class:`~clm_lib.studies.lifecycle_segments.stages.Thresholds`), never on ranks, so that a
dying base has few customers at R = 5 and every R score means a number of days:

=====  ===========================================================================
R      last purchase day
=====  ===========================================================================
5      within ``new_days`` (the median gap between purchase days; at most ``at_risk_days``)
4      within ``at_risk_days`` (still active: not at risk)
3      within ``lapsed_days`` (the stage "at risk")
2      within ``2 * lapsed_days`` (the stage "lapsed")
1      longer ago (lapsed for more than twice the lapsed threshold)
=====  ===========================================================================

**Frequency and monetary scores 1-5** (:func:`score`) are quantile groups of the distinct
values: the group of score ``k`` ends at the first value at which the cumulative share of
customers reaches ``k / 5``, tied customers always share a score, and every group holds at
least one distinct value. So every score is used when there are at least five distinct
values, however many customers tie (half of them one-time buyers, say); with fewer, the
lowest value scores 1, the highest 5, the others evenly between. Scores depend only on the
values, never on row order.

**Segments** (first matching rule wins; every customer gets exactly one). Through R they
agree with the lifecycle stages: a champion, loyal customer or potential loyalist is active
(neither at risk nor lapsed), "at risk" is the stage at risk, "hibernating" and "lost" are
lapsed, "can't lose" holds frequent big spenders who are at risk or lapsed, and "new" is
exactly the stage "new":

====================  ==========================================
segment               rule
====================  ==========================================
new                   first purchase within ``new_days``
champions             R >= 4 and F >= 4
loyal                 R >= 4 and F = 3
potential loyalists   R >= 4 and F <= 2
can't lose            R in {2, 3} and F >= 4 and M >= 4
at risk               R = 3
hibernating           R = 2
lost                  R = 1
====================  ==========================================
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib.checks import require_columns as _need
from clm_lib.exceptions import InsufficientDataError, ParameterError
from clm_lib.studies.lifecycle_segments.stages import (Thresholds, derive_thresholds, histories,
                                                     is_customer_histories)

__all__ = ["SEGMENTS", "RULE_ORDER", "ACTIONS", "SEGMENT_ACTIONS", "rfm_table", "score",
           "recency_score", "recency_cuts", "assign_segments", "segment_table", "score_ranges",
           "action_value_threshold", "assign_actions", "action_table", "ACTIVE_SEGMENTS",
           "QUIET_P_ALIVE"]

#: Segments in display order.
SEGMENTS = ("champions", "loyal", "potential loyalists", "new", "at risk", "can't lose",
            "hibernating", "lost")
#: The order in which :func:`assign_segments` evaluates the rules (first match wins).
RULE_ORDER = ("new", "champions", "loyal", "potential loyalists", "can't lose", "at risk",
              "hibernating", "lost")

#: Segments of active customers (R >= 4; "new" included).
ACTIVE_SEGMENTS = ("champions", "loyal", "potential loyalists", "new")
#: Below this P(alive) an active-segment customer gets the actions of "at risk".
QUIET_P_ALIVE = 0.5
#: Recommended actions (keys; the report words them), from the dearest to the cheapest.
ACTIONS = ("personal outreach", "win-back offer", "reward", "keep close", "build the habit",
           "onboard", "automated reminder", "low-cost reactivation", "suppress")
#: Segment -> (action when the customer's expected value is at or above the action value
#: threshold, action below it or when no value is known). The costly actions (a personal
#: call, an offer that gives away margin) go only to customers worth them.
SEGMENT_ACTIONS = {
    "champions": ("reward", "reward"),
    "loyal": ("keep close", "keep close"),
    "potential loyalists": ("build the habit", "build the habit"),
    "new": ("onboard", "onboard"),
    "can't lose": ("personal outreach", "automated reminder"),
    "at risk": ("win-back offer", "automated reminder"),
    "hibernating": ("win-back offer", "low-cost reactivation"),
    "lost": ("win-back offer", "suppress"),
}


def score(values, higher_is_better: bool = True, n_scores: int = 5) -> np.ndarray:
    """Scores 1..n_scores: quantile groups of the distinct values (ties share a score).

    The distinct values are sorted from worst to best; the group of score ``k < n_scores``
    ends at the first value at which the cumulative share of customers reaches
    ``k / n_scores``, moved so that every group holds at least one distinct value. With
    fewer distinct values ``m`` than scores, value ``j`` (0 = worst) scores
    ``round(1 + j (n_scores - 1) / (m - 1))``.

    >>> score([1] * 6 + [2, 3, 4, 5]).tolist()   # six one-time buyers, then 2..5
    [1, 1, 1, 1, 1, 1, 2, 3, 4, 5]
    >>> score([10, 20, 20, 30, 40, 50]).tolist()
    [1, 2, 2, 3, 4, 5]
    """
    v = np.asarray(values, dtype=float)
    if np.isnan(v).any():
        raise InsufficientDataError("score: values contain NaN")
    if len(v) == 0:
        return np.zeros(0, dtype=int)
    u, inv, counts = np.unique(v if higher_is_better else -v, return_inverse=True,
                               return_counts=True)
    m, n = len(u), int(n_scores)
    if m < n:
        steps = np.arange(m) * (n - 1) / max(m - 1, 1)
        return (np.floor(steps + 0.5).astype(int) + 1)[inv]
    cum = np.cumsum(counts)          # integers: the share test k / n is exact
    total = int(cum[-1])
    group = np.empty(m, dtype=int)
    start = 0
    for k in range(1, n + 1):
        if k == n:
            end = m - 1
        else:
            end = int(np.searchsorted(cum * n, k * total, side="left"))
            end = min(max(end, start), m - 1 - (n - k))   # one value left per later score
        group[start:end + 1] = k
        start = end + 1
    return group[inv]


def recency_cuts(thresholds: Thresholds) -> tuple[int, int, int, int]:
    """Upper bounds (days since the last purchase day, inclusive) of R = 5, 4, 3, 2."""
    th = thresholds
    # R >= 4 must mean "not at risk" even when a given new_days exceeds at_risk_days
    return (min(th.new_days, th.at_risk_days), th.at_risk_days, th.lapsed_days,
            2 * th.lapsed_days)


def recency_score(recency_days, thresholds: Thresholds) -> np.ndarray:
    """R score 1-5 of days since the last purchase day, on the stage thresholds (module
    docstring).

    >>> th = Thresholds(new_days=30, at_risk_days=60, lapsed_days=120)
    >>> recency_score([0, 30, 31, 60, 61, 120, 121, 240, 241], th).tolist()
    [5, 5, 4, 4, 3, 3, 2, 2, 1]
    """
    d = np.asarray(recency_days, dtype=float)
    if np.isnan(d).any():
        raise InsufficientDataError("recency_score: recency contains NaN")
    cuts = np.asarray(recency_cuts(thresholds), dtype=float)
    return (5 - np.searchsorted(cuts, d, side="left")).astype(int)


def rfm_table(transactions, *, as_of, thresholds: Thresholds | None = None,
              engine="duckdb") -> pd.DataFrame:
    """Recency, frequency, monetary value and their 1-5 scores per customer.

    Parameters
    ----------
    transactions : DataFrame or Ibis table
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``), reduced by
        ``engine``, or their per-customer histories at ``as_of`` (``purchase_days``,
        ``spend``, ``first_purchase``, ``last_purchase``:
        :meth:`clm_lib.reduce.Engine.customer_histories`).
    as_of : date-like
        Purchases after this day are ignored; recency is measured to it.
    thresholds : Thresholds, optional
        The stage thresholds the recency score uses (days); None derives them from the
        transactions (:func:`~clm_lib.studies.lifecycle_segments.stages.derive_thresholds`),
        which needs transactions, not histories.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (sorted): ``recency_days``, ``frequency``
    (purchase days), ``monetary`` (total spend), ``days_since_first``, ``R``, ``F``,
    ``M``, ``rfm`` (e.g. "545"); ``attrs["thresholds"]`` the thresholds used.
    """
    d = pd.Timestamp(as_of).normalize()
    if is_customer_histories(transactions):
        _need(transactions, ["purchase_days", "spend", "first_purchase", "last_purchase"],
              "customer histories")
        if thresholds is None:
            raise ParameterError("rfm_table: pass the stage thresholds with customer histories")
        per = transactions
    else:  # the reactivation threshold plays no part here
        if thresholds is None:
            thresholds = derive_thresholds(transactions, as_of=d, engine=engine)
        per = histories(transactions, date=d, lapsed_days=0, engine=engine)
    out = pd.DataFrame({"recency_days": (d - per["last_purchase"]).dt.days,
                        "frequency": per["purchase_days"], "monetary": per["spend"],
                        "days_since_first": (d - per["first_purchase"]).dt.days})
    out["R"] = recency_score(out["recency_days"], thresholds)
    out["F"] = score(out["frequency"])
    out["M"] = score(out["monetary"])
    out["rfm"] = (100 * out["R"] + 10 * out["F"] + out["M"]).astype(str)   # scores are 1-5
    out.attrs = {"thresholds": thresholds}
    return out


def assign_segments(rfm: pd.DataFrame, *, new_days: int | None = None) -> pd.Series:
    """Segment of each customer from ``R``, ``F``, ``M`` and ``days_since_first`` (the
    rules of the module docstring, in :data:`RULE_ORDER`).

    ``new_days`` (days) defaults to that of ``rfm.attrs["thresholds"]`` (:func:`rfm_table`).
    """
    _need(rfm, ["R", "F", "M", "days_since_first"], "RFM scores")
    if new_days is None:
        th = rfm.attrs.get("thresholds")
        if th is None:
            raise ParameterError("assign_segments: pass new_days (the RFM table has no thresholds)")
        new_days = th.new_days
    R, F, M, first = (rfm[c].to_numpy() for c in ("R", "F", "M", "days_since_first"))
    if not (np.isin(R, range(1, 6)) & np.isin(F, range(1, 6)) & np.isin(M, range(1, 6))).all():
        raise InsufficientDataError("some customers have scores outside 1-5")
    conds = [first <= new_days, (R >= 4) & (F >= 4), (R >= 4) & (F == 3), R >= 4,
             (R <= 3) & (R >= 2) & (F >= 4) & (M >= 4), R == 3, R == 2, R == 1]
    codes = np.select(conds, [SEGMENTS.index(s) for s in RULE_ORDER], default=-1)
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(SEGMENTS)), index=rfm.index,
                     name="segment")


def score_ranges(rfm: pd.DataFrame) -> pd.DataFrame:
    """Customers and the range of values behind each score: per score 1-5, ``customers``
    and min / max of recency (days), frequency (purchase days) and monetary value."""
    _need(rfm, ["recency_days", "frequency", "monetary", "R", "F", "M"], "RFM table")
    parts = {}
    for sc, col in (("R", "recency_days"), ("F", "frequency"), ("M", "monetary")):
        g = rfm.groupby(sc)[col]
        parts[sc] = pd.DataFrame({"customers": g.size(), "min": g.min(), "max": g.max()}
                                 ).reindex(range(1, 6))
    out = pd.concat(parts, axis=1)
    out.index.name = "score"
    return out


def segment_table(rfm: pd.DataFrame, segments: pd.Series, clv: pd.Series | None = None,
                  p_alive: pd.Series | None = None) -> pd.DataFrame:
    """Customers, revenue share and (with ``clv`` indexed by customer) CLV share per segment
    (and with ``p_alive`` its mean per segment).

    Parameters
    ----------
    rfm : DataFrame
        ``monetary``, ``recency_days``, ``frequency`` per customer (:func:`rfm_table`).
    segments : Series
        Each customer's segment (:func:`assign_segments`).
    clv : Series, optional
        Expected value per customer.
    p_alive : Series, optional
        Probability that each customer is still active.

    Returns
    -------
    DataFrame indexed by segment (all of :data:`SEGMENTS`): ``customers``,
    ``customer_share``, ``revenue``, ``revenue_share``, (``clv``, ``clv_share``),
    ``mean_recency_days``, ``mean_frequency`` (, ``mean_p_alive``).
    """
    _need(rfm, ["monetary", "recency_days", "frequency"], "RFM table")
    g = rfm.groupby(segments, observed=False)
    t = pd.DataFrame({"customers": g.size(), "revenue": g["monetary"].sum(),
                      "mean_recency_days": g["recency_days"].mean(),
                      "mean_frequency": g["frequency"].mean()})
    t["customer_share"] = t["customers"] / t["customers"].sum()
    t["revenue_share"] = t["revenue"] / t["revenue"].sum()
    if clv is not None:
        c = clv.reindex(rfm.index).fillna(0.0).groupby(segments, observed=False).sum()
        t["clv"] = c
        t["clv_share"] = c / c.sum() if c.sum() > 0 else np.nan
    if p_alive is not None:
        t["mean_p_alive"] = p_alive.reindex(rfm.index).groupby(segments, observed=False).mean()
    t.index.name = "segment"
    cols = ["customers", "customer_share", "revenue", "revenue_share"] + \
        (["clv", "clv_share"] if clv is not None else []) + ["mean_recency_days", "mean_frequency"] + \
        (["mean_p_alive"] if p_alive is not None else [])
    return t[cols]


def action_value_threshold(clv: pd.Series | None, *, value: float | None = None,
                           quantile: float = 0.9) -> tuple[float | None, str]:
    """The expected value (currency) from which a customer is worth a costly action.

    ``value`` when given (e.g. the cost of a call and an offer); else the ``quantile`` of
    the customers' expected values ``clv`` (so by default the top 10 % of the base by
    expected value); None when neither is available. Returns ``(threshold, source)`` with
    ``source`` ``"parameter"``, ``"quantile"`` or ``"no value"``.
    """
    if value is not None:
        if not np.isfinite(value) or value < 0:
            raise ParameterError("action_value must be a non-negative amount")
        return float(value), "parameter"
    if not 0 < quantile < 1:
        raise ParameterError("action_value_quantile must be in (0, 1)")
    if clv is None or not np.isfinite(np.asarray(clv, float)).any():
        return None, "no value"
    return float(np.nanquantile(np.asarray(clv, float), quantile)), "quantile"


def assign_actions(segments: pd.Series, clv: pd.Series | None, threshold: float | None,
                   p_alive: pd.Series | None = None, *,
                   alive_threshold: float = QUIET_P_ALIVE) -> pd.Series:
    """Recommended action per customer (:data:`SEGMENT_ACTIONS`): the first action of
    the segment when the customer's expected value ``clv`` (indexed like ``segments``) is at
    or above ``threshold``, the second otherwise (also without a value or threshold).

    A customer of an active segment (:data:`ACTIVE_SEGMENTS`) whose ``p_alive`` is below
    ``alive_threshold`` (more likely gone than not: silent for long by her own rhythm,
    though not by the stage thresholds) gets the actions of "at risk" instead, so that no
    customer the purchase model holds probably lost is told "no discounts needed"."""
    seg = segments.astype(str)
    if p_alive is not None:
        quiet = seg.isin(ACTIVE_SEGMENTS).to_numpy() & (
            np.asarray(p_alive.reindex(seg.index), float) < alive_threshold)
        seg = seg.where(~quiet, "at risk")
    if clv is None or threshold is None:
        high = np.zeros(len(seg), dtype=bool)
    else:
        high = np.asarray(clv.reindex(seg.index), float) >= threshold   # NaN -> below
    first = seg.map({k: v[0] for k, v in SEGMENT_ACTIONS.items()})
    second = seg.map({k: v[1] for k, v in SEGMENT_ACTIONS.items()})
    if first.isna().any():
        raise ParameterError(f"unknown segments: {sorted(set(seg[first.isna()]))}")
    act = np.where(high, first.to_numpy(), second.to_numpy())
    return pd.Series(pd.Categorical(act, categories=list(ACTIONS)), index=seg.index,
                     name="action")


def action_table(actions: pd.Series, clv: pd.Series | None = None) -> pd.DataFrame:
    """Customers and expected value at stake per recommended action.

    Returns a DataFrame indexed by action (all of :data:`ACTIONS`): ``customers`` and,
    with ``clv`` (indexed like ``actions``), ``clv`` (total expected value, currency),
    ``clv_share``, ``mean_clv``, ``min_clv``, ``max_clv``.
    """
    actions = pd.Series(pd.Categorical(actions.astype(str), categories=list(ACTIONS)),
                        index=actions.index)
    if actions.isna().any():
        raise ParameterError("action_table: unknown actions")
    g = pd.Series(1, index=actions.index).groupby(actions, observed=False)
    t = pd.DataFrame({"customers": g.size()})
    if clv is not None:
        v = clv.reindex(actions.index).astype(float).groupby(actions, observed=False)
        t["clv"] = v.sum()
        total = t["clv"].sum()
        t["clv_share"] = t["clv"] / total if total > 0 else np.nan
        t["mean_clv"] = v.mean()
        t["min_clv"] = v.min()
        t["max_clv"] = v.max()
    t.index.name = "action"
    return t
