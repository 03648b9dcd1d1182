"""Snapshot subscriptions (``tenure`` + ``churned``, no dates): one synthetic cohort.

All customers form the cohort :data:`SYNTHETIC_COHORT`; survival at ``k`` is the
Kaplan-Meier estimate over tenure (customers still subscribed are censored at their
tenure), so "counts" are cohort size × survival. Everything starts from the counts of
:func:`.reduce.snapshot_counts`: customers by whole ``tenure``, ``churned`` (and segment).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib.checks import require_columns
from clm_lib.studies.cohort_retention.tables import MISSING_SEGMENT, CohortTables

__all__ = ["SYNTHETIC_COHORT", "snapshot_churn", "snapshot_sbg_data", "snapshot_segments",
           "snapshot_survival", "snapshot_tables"]

SYNTHETIC_COHORT = "all (by tenure)"
_COUNT_COLUMNS = ("tenure", "churned", "customers")


def snapshot_survival(counts: pd.DataFrame) -> pd.DataFrame:
    """Kaplan-Meier survival by tenure.

    Parameters
    ----------
    counts : DataFrame
        ``tenure`` (whole periods completed, >= 0), ``churned`` (True: lost after
        ``tenure`` periods; False: still active, censored at ``tenure``) and
        ``customers`` (how many customers have that pair).

    Returns
    -------
    DataFrame indexed by ``k`` (periods of tenure) with ``at_risk`` (tenure >= k),
    ``churned`` (lost at k), ``survival`` (share still subscribed after k periods).
    """
    require_columns(counts, _COUNT_COLUMNS, "snapshot counts")
    t = counts["tenure"].to_numpy(dtype=np.int64)
    c = counts["churned"].to_numpy(dtype=bool)
    w = counts["customers"].to_numpy(dtype=float)
    K = int(t.max())
    ks = np.arange(K + 1)
    at_risk = np.bincount(t, weights=w, minlength=K + 1)[::-1].cumsum()[::-1]
    # churn recorded at tenure 0 is treated as churn during the first period (bincount
    # of no churn at all is integer: made float)
    d = np.bincount(np.maximum(t[c], 1), weights=w[c], minlength=K + 2)[: K + 1].astype(float)
    haz = np.divide(d, at_risk, out=np.zeros_like(d), where=at_risk > 0)
    surv = np.cumprod(1 - haz)
    return pd.DataFrame({"at_risk": at_risk, "churned": d, "survival": surv},
                        index=pd.Index(ks, name="k"))


def snapshot_tables(counts: pd.DataFrame, cohort_period: str, as_of) -> CohortTables:
    """The retention tables of the synthetic cohort (bounded = unbounded = size × KM
    survival; ``k`` is tenure in the data's own unit, ``as_of`` is only recorded)."""
    km = snapshot_survival(counts)
    n = float(counts["customers"].sum())
    label = pd.Index([SYNTHETIC_COHORT], name="cohort")
    ks = pd.RangeIndex(len(km), name="k")
    mat = pd.DataFrame([km["survival"].to_numpy() * n], index=label, columns=ks)
    return CohortTables(cohort_period, pd.Timestamp(as_of), "snapshot",
                        pd.Series([int(n)], index=label, name="customers"),
                        pd.Series([len(km) - 1], index=label, name="last_k"),
                        mat, mat.copy(), None,
                        snapshot=counts[list(_COUNT_COLUMNS)].reset_index(drop=True))


def snapshot_churn(counts: pd.DataFrame) -> pd.DataFrame:
    """Per tenure period ``k >= 1``: churned at ``k`` / at risk at ``k``; indexed by
    ``period`` (= k) with ``active_start``, ``lost``, ``churn_rate`` and ``provisional``
    (always False: a cancellation is known when it happens)."""
    km = snapshot_survival(counts).iloc[1:]
    out = pd.DataFrame({"active_start": km["at_risk"], "lost": km["churned"]})
    out["churn_rate"] = out["lost"] / out["active_start"]
    out["provisional"] = False
    out.index.name = "period"
    return out


def snapshot_segments(counts: pd.DataFrame) -> pd.DataFrame:
    """Kaplan-Meier survival per ``segment`` (text; missing = ``"(missing)"``), in the
    long layout of :func:`.tables.segment_curves` (no band: ``lower``/``upper`` NaN)."""
    require_columns(counts, ("segment",) + _COUNT_COLUMNS, "snapshot counts by segment")
    parts = []
    for val, g in counts.groupby(counts["segment"].fillna(MISSING_SEGMENT), sort=True):
        km = snapshot_survival(g)
        parts.append(pd.DataFrame({"segment": val, "k": km.index,
                                   "retention": km["survival"].to_numpy(),
                                   "lower": np.nan, "upper": np.nan, "cohorts": 1,
                                   "customers": km["at_risk"].to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def snapshot_sbg_data(counts: pd.DataFrame, *, cut: int = 0) -> pd.DataFrame:
    """Exact customer-level sBG data (``t``, ``churned``, ``weights``): churn at tenure
    t (tenure 0 counts as 1), or still active at tenure t; the last ``cut`` tenure
    periods are censored (a churn there becomes "still active at the cut")."""
    require_columns(counts, _COUNT_COLUMNS, "snapshot counts")
    t = counts["tenure"].to_numpy(dtype=float)
    c = counts["churned"].to_numpy(dtype=bool)
    t = np.where(c, np.maximum(t, 1), t)
    tmax = float(t.max()) - int(cut)
    c = c & (t <= tmax)
    t = np.minimum(t, tmax)
    return (pd.DataFrame({"t": t, "churned": c.astype(int),
                          "weights": counts["customers"].to_numpy(dtype=np.int64)})
            .loc[lambda d: d["t"] > 0]
            .groupby(["t", "churned"], as_index=False)["weights"].sum())
