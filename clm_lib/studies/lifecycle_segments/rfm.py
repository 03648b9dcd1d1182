"""RFM scores, named segments and a playbook of actions per segment.

Per customer at ``as_of`` (purchase days: all purchases of a customer on one day count once):
``recency_days`` (days since the last purchase day), ``frequency`` (purchase days) and
``monetary`` (total spend to date).

**Scores 1-5.** Each score depends only on the customer's value and the distribution of
values, never on row order: with ``rank`` the *minimum* rank of the value among all ``n``
customers (1 = worst: longest recency, fewest purchases, lowest spend), the score is
``floor(5 * (rank - 1) / n) + 1``. Tied customers always share a score; when many
customers tie at the bottom (e.g. one-time buyers) the lower scores are simply not used
and the next value starts at the score its position implies.

**Segments** (first matching rule wins; every customer gets exactly one):

====================  ==========================================
segment               rule (R, F, M scores)
====================  ==========================================
champions             R >= 4 and F >= 4
loyal                 R = 3 and F >= 4
can't lose            R <= 2 and F >= 4 and M >= 4
at risk               R <= 2 and F >= 3
new                   R >= 4 and F = 1
potential loyalists   R >= 3 and F in {2, 3}
hibernating           R = 3 and F = 1, or R = 2 and F <= 2
lost                  R = 1 and F <= 2
====================  ==========================================
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib.checks import require_columns as _need
from clm_lib.exceptions import InsufficientDataError
from clm_lib.studies.lifecycle_segments.stages import histories, is_customer_histories

__all__ = ["SEGMENTS", "RULE_ORDER", "rfm_table", "score", "assign_segments", "segment_table"]

#: Segments in display order.
SEGMENTS = ("champions", "loyal", "potential loyalists", "new", "at risk", "can't lose",
            "hibernating", "lost")
#: The order in which :func:`assign_segments` evaluates the rules (first match wins).
RULE_ORDER = ("champions", "loyal", "can't lose", "at risk", "new", "potential loyalists",
              "hibernating", "lost")


def score(values, higher_is_better: bool = True, n_scores: int = 5) -> np.ndarray:
    """Scores 1..n_scores from the minimum rank of each value (ties share a score).

    >>> score([10, 20, 20, 30, 40]).tolist()
    [1, 2, 2, 4, 5]
    """
    v = pd.Series(np.asarray(values, dtype=float))
    if v.isna().any():
        raise InsufficientDataError("score: values contain NaN")
    if not higher_is_better:
        v = -v
    n = len(v)
    rank = v.rank(method="min").to_numpy()
    return (np.floor(n_scores * (rank - 1) / n) + 1).astype(int)


def rfm_table(transactions, *, as_of, engine="duckdb") -> pd.DataFrame:
    """Recency, frequency, monetary value and their 1-5 scores per customer.

    Parameters
    ----------
    transactions : DataFrame or Ibis table
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``), reduced by
        ``engine``, or their per-customer histories at ``as_of`` (``purchase_days``,
        ``spend``, ``last_purchase``: :meth:`clm_lib.reduce.Engine.customer_histories`).
    as_of : date-like
        Purchases after this day are ignored; recency is measured to it.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (sorted): ``recency_days``, ``frequency``
    (purchase days), ``monetary`` (total spend), ``R``, ``F``, ``M``, ``rfm`` (e.g. "545").
    """
    d = pd.Timestamp(as_of).normalize()
    if is_customer_histories(transactions):
        _need(transactions, ["purchase_days", "spend", "last_purchase"], "customer histories")
        per = transactions
    else:  # the reactivation threshold plays no part here
        per = histories(transactions, date=d, lapsed_days=0, engine=engine)
    out = pd.DataFrame({"recency_days": (d - per["last_purchase"]).dt.days,
                        "frequency": per["purchase_days"], "monetary": per["spend"]})
    out["R"] = score(out["recency_days"], higher_is_better=False)
    out["F"] = score(out["frequency"])
    out["M"] = score(out["monetary"])
    out["rfm"] = (100 * out["R"] + 10 * out["F"] + out["M"]).astype(str)   # scores are 1-5
    return out


def assign_segments(rfm: pd.DataFrame) -> pd.Series:
    """Segment of each customer from ``R``, ``F``, ``M`` (the rules of the module
    docstring, in :data:`RULE_ORDER`)."""
    _need(rfm, ["R", "F", "M"], "RFM scores")
    R, F, M = (rfm[c].to_numpy() for c in ("R", "F", "M"))
    conds = [(R >= 4) & (F >= 4), (R == 3) & (F >= 4), (R <= 2) & (F >= 4) & (M >= 4),
             (R <= 2) & (F >= 3), (R >= 4) & (F == 1), (R >= 3) & (F >= 2) & (F <= 3),
             ((R == 3) & (F == 1)) | ((R == 2) & (F <= 2)), (R == 1) & (F <= 2)]
    codes = np.select(conds, [SEGMENTS.index(s) for s in RULE_ORDER], default=-1)
    if (codes < 0).any():   # cannot happen for scores in 1..5; guards against bad input
        raise InsufficientDataError(f"{int((codes < 0).sum())} customers have scores outside 1-5")
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(SEGMENTS)), index=rfm.index,
                     name="segment")


def segment_table(rfm: pd.DataFrame, segments: pd.Series, clv: pd.Series | None = None) -> pd.DataFrame:
    """Customers, revenue share and (with ``clv`` indexed by customer) CLV share per segment.

    Parameters
    ----------
    rfm : DataFrame
        ``monetary``, ``recency_days``, ``frequency`` per customer (:func:`rfm_table`).
    segments : Series
        Each customer's segment (:func:`assign_segments`).
    clv : Series, optional
        Expected value per customer.

    Returns
    -------
    DataFrame indexed by segment (all of :data:`SEGMENTS`): ``customers``,
    ``customer_share``, ``revenue``, ``revenue_share``, (``clv``, ``clv_share``),
    ``mean_recency_days``, ``mean_frequency``.
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
    t.index.name = "segment"
    cols = ["customers", "customer_share", "revenue", "revenue_share"] + \
        (["clv", "clv_share"] if clv is not None else []) + ["mean_recency_days", "mean_frequency"]
    return t[cols]
