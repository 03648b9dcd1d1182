"""Retention tables, average curves and churn rates from reduced counts (small, in pandas).

Everything here starts from what the engine brings back: counts per (segment,) cohort and
``k`` (:meth:`clm_lib.reduce.Engine.cohort_activity` for transactions,
:func:`.reduce.interval_activity` for subscriptions), per-period churn counts
(:meth:`clm_lib.reduce.Engine.churn_counts`) or subscription spells
(:func:`.reduce.interval_spells`). Definitions: :mod:`clm_lib.studies.cohort_retention.compute`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from clm_lib.checks import require_columns
from clm_lib.exceptions import InsufficientDataError
from clm_lib.reduce.engine import retention_matrices
from clm_lib.reduce.periods import last_complete_period, period_labels

__all__ = ["ACTIVITY_COLUMNS", "CohortTables", "average_retention", "churn_from_counts",
           "churn_from_spells", "mask_unobservable", "segment_curves", "tables_from_activity",
           "total_activity"]

#: Columns of a cohort activity table (one row per cohort and k with activity).
ACTIVITY_COLUMNS = ("cohort_index", "period", "customers", "revenue", "last_active")
MISSING_SEGMENT = "(missing)"


@dataclass(frozen=True)
class CohortTables:
    """Retention tables of one cohort study; every matrix has cohorts (ISO labels) as
    rows and ``k`` (periods since acquisition) as columns, NaN where not observable.

    Attributes
    ----------
    cohort_period : str
    as_of : pd.Timestamp
    form : str
        ``"transactions"``, ``"intervals"`` or ``"snapshot"``.
    sizes : Series
        Customers acquired per cohort.
    last_k : Series
        Last observable ``k`` per cohort.
    bounded_counts, unbounded_counts : DataFrame
        Customers active in exactly period ``k`` / in ``k`` or later.
    revenue : DataFrame or None
        Revenue of the cohort in period ``k`` (transactions with ``amount`` only).
    snapshot : DataFrame or None
        Snapshot form only: customers by whole ``tenure`` and ``churned``
        (:func:`.reduce.snapshot_counts`), what the exact sBG likelihood needs.
    """

    cohort_period: str
    as_of: pd.Timestamp
    form: str
    sizes: pd.Series
    last_k: pd.Series
    bounded_counts: pd.DataFrame
    unbounded_counts: pd.DataFrame
    revenue: pd.DataFrame | None = None
    snapshot: pd.DataFrame | None = None

    @property
    def bounded_rates(self) -> pd.DataFrame:
        """Bounded retention: share of the cohort active in exactly period ``k``."""
        return self.bounded_counts.div(self.sizes, axis=0)

    @property
    def unbounded_rates(self) -> pd.DataFrame:
        """Unbounded retention: share of the cohort active in period ``k`` or later."""
        return self.unbounded_counts.div(self.sizes, axis=0)

    @property
    def revenue_retention(self) -> pd.DataFrame | None:
        """Revenue in period ``k`` / revenue in period 0, per cohort."""
        if self.revenue is None:
            return None
        return self.revenue.div(self.revenue[0].replace(0, np.nan), axis=0)

    @property
    def value_curves(self) -> pd.DataFrame | None:
        """Cumulative revenue per acquired customer up to and including period ``k``
        (cohort value curves; currency units per customer)."""
        if self.revenue is None:
            return None
        cum = self.revenue.cumsum(axis=1).where(self.revenue.notna())
        return cum.div(self.sizes, axis=0)


def mask_unobservable(mat: pd.DataFrame, last_k: pd.Series) -> pd.DataFrame:
    """``mat`` with the cells after each cohort's last observable ``k`` set to NaN."""
    k = np.asarray(mat.columns, dtype=np.int64)[None, :]
    lk = last_k.reindex(mat.index).to_numpy()[:, None]
    return mat.where(k <= lk)


def tables_from_activity(activity: pd.DataFrame, cohort_period: str, as_of, *,
                         form: str = "transactions", has_revenue: bool = True) -> CohortTables:
    """Retention tables from cohort × k counts.

    Parameters
    ----------
    activity : DataFrame
        :data:`ACTIVITY_COLUMNS`: ``cohort_index`` (period code of the cohort), ``period``
        (k), ``customers`` (active in k), ``revenue`` and ``last_active`` (customers whose
        last active period is k); pairs without activity absent.
    cohort_period : {"week", "month", "quarter", "year"}
    as_of : date-like
        Last observed day (inclusive): cells after the last complete period are NaN.
    form : str
        Recorded in the result.
    has_revenue : bool
        False: ``revenue`` is None (subscriptions, transactions without amounts).
    """
    require_columns(activity, ACTIVITY_COLUMNS, "cohort activity")
    if activity.empty:
        raise InsufficientDataError("no customer was acquired in a complete period by as_of")
    last = last_complete_period(as_of, cohort_period)
    cohorts = np.sort(activity["cohort_index"].unique()).astype(np.int64)
    labels = pd.Index(period_labels(cohorts, cohort_period), name="cohort")
    activity = activity.assign(cohort=activity["cohort_index"].map(dict(zip(cohorts, labels))))
    activity.attrs["last_complete_period"] = last
    last_k = pd.Series(last - cohorts, index=labels, name="last_k")
    ks = pd.RangeIndex(int(last_k.max()) + 1, name="k")
    mats = retention_matrices(activity)

    def frame(m):
        m = m.reindex(index=labels, columns=ks)
        return mask_unobservable(pd.DataFrame(m.to_numpy(dtype=float), index=labels.copy(),
                                              columns=ks), last_k)

    bounded = frame(mats["bounded"])
    sizes = bounded[0].rename("customers").astype(np.int64)
    return CohortTables(cohort_period, pd.Timestamp(as_of), form, sizes, last_k, bounded,
                        frame(mats["unbounded"]),
                        frame(mats["revenue"]) if has_revenue else None)


def total_activity(activity: pd.DataFrame) -> pd.DataFrame:
    """Cohort activity split by segment, added up over the segments (each customer has
    one segment, so this is the cohort activity itself)."""
    return (activity.groupby(["cohort_index", "period"], as_index=False, sort=True)
            [["customers", "revenue", "last_active"]].sum())


def average_retention(counts: pd.DataFrame, sizes: pd.Series, *, level: float = 0.95,
                      min_cohorts: int = 1) -> pd.DataFrame:
    """Cohort-size-weighted average retention curve with a confidence band.

    At each ``k`` the estimate is ``sum_c n_ck / sum_c N_c`` over the cohorts observable
    at ``k``. The band is a normal interval whose standard error treats cohorts as
    clusters (ratio estimator: ``sqrt(m/(m-1) * sum_c (n_ck - r N_c)^2) / sum_c N_c``,
    which captures cohort-to-cohort variation); with a single cohort, the binomial
    standard error. Clipped to [0, 1].

    Parameters
    ----------
    counts : DataFrame
        Cohorts × ``k`` retained counts (NaN: not observable), e.g. ``bounded_counts``.
    sizes : Series
        Cohort sizes, same index.

    Returns
    -------
    DataFrame indexed by ``k`` with ``retention``, ``lower``, ``upper``, ``cohorts`` (m),
    ``customers`` (sum of N_c).
    """
    z = stats.norm.ppf(0.5 + level / 2)
    N = sizes.reindex(counts.index).to_numpy(dtype=float)
    rows = []
    for k in counts.columns:
        n = counts[k].to_numpy(dtype=float)
        ok = ~np.isnan(n) & (N > 0)
        m = int(ok.sum())
        if m < min_cohorts or m == 0:
            rows.append((k, np.nan, np.nan, np.nan, m, 0.0))
            continue
        tot = N[ok].sum()
        r = n[ok].sum() / tot
        if m >= 2:
            se = np.sqrt(m / (m - 1) * np.sum((n[ok] - r * N[ok]) ** 2)) / tot
        else:
            se = np.sqrt(r * (1 - r) / tot)
        rows.append((k, r, max(r - z * se, 0.0), min(r + z * se, 1.0), m, tot))
    return pd.DataFrame(rows, columns=["k", "retention", "lower", "upper", "cohorts",
                                       "customers"]).set_index("k")


def segment_curves(activity: pd.DataFrame, cohort_period: str, as_of, *, kind: str,
                   level: float = 0.95) -> pd.DataFrame:
    """Average retention curve per segment from cohort activity split by ``segment``
    (text; missing values form the segment ``"(missing)"``).

    Returns a long DataFrame: ``segment``, ``k``, ``retention``, ``lower``, ``upper``,
    ``cohorts``, ``customers``; segments in sorted order.
    """
    require_columns(activity, ("segment",) + ACTIVITY_COLUMNS, "cohort activity by segment")
    act = activity.assign(segment=activity["segment"].fillna(MISSING_SEGMENT))
    parts = []
    for val, g in act.groupby("segment", sort=True):
        t = tables_from_activity(g.drop(columns="segment"), cohort_period, as_of)
        counts = t.bounded_counts if kind == "bounded" else t.unbounded_counts
        avg = average_retention(counts, t.sizes, level=level).reset_index()
        avg.insert(0, "segment", val)
        parts.append(avg)
    return pd.concat(parts, ignore_index=True)


def _churn_frame(periods: np.ndarray, active: np.ndarray, lost: np.ndarray,
                 cohort_period: str) -> pd.DataFrame:
    out = pd.DataFrame({"active_start": active, "lost": lost},
                       index=pd.Index(period_labels(periods, cohort_period), name="period"))
    out["churn_rate"] = np.where(out["active_start"] > 0,
                                 out["lost"] / out["active_start"].where(out["active_start"] > 0),
                                 np.nan)
    return out


def churn_from_counts(counts: pd.DataFrame, cohort_period: str, *, as_of,
                      inactivity_periods: int) -> pd.DataFrame:
    """The transactions churn rate from :meth:`clm_lib.reduce.Engine.churn_counts`
    (``period``, ``starts``, ``stops``, ``lost``): active at the start of p = cumulative
    ``starts - stops``; periods whose inactivity window is not over are left out."""
    require_columns(counts, ("period", "starts", "stops", "lost"), "churn counts")
    if counts.empty:
        raise InsufficientDataError("no purchase in a period complete by as_of")
    last = last_complete_period(as_of, cohort_period)
    N = int(inactivity_periods)
    first = int(counts["period"].min())
    full = np.arange(first, max(last + 2, int(counts["period"].max())) + 1)
    c = counts.set_index("period")
    net = (c["starts"] - c["stops"]).reindex(full, fill_value=0).to_numpy(dtype=np.int64)
    periods = np.arange(first, last + 2)
    active = np.cumsum(net)[: len(periods)].astype(float)
    lost = c["lost"].reindex(periods, fill_value=0).to_numpy(dtype=float)
    ok = periods + N - 1 <= last
    return _churn_frame(periods[ok], active[ok], lost[ok], cohort_period)


def churn_from_spells(spells: pd.DataFrame, cohort_period: str, *, as_of) -> pd.DataFrame:
    """The subscriptions churn rate from :func:`.reduce.interval_spells` (``s``, ``e``,
    ``ended``, ``n``): for each period p after the first start up to the last complete
    one, active at its start = ``s < p <= e``, lost = ``s < p``, ended in p."""
    require_columns(spells, ("s", "e", "ended", "n"), "subscription spells")
    if spells.empty:
        raise InsufficientDataError("no subscription started by as_of")
    last = last_complete_period(as_of, cohort_period)
    s = spells["s"].to_numpy(dtype=np.int64)
    e = spells["e"].to_numpy(dtype=np.int64)
    ended = spells["ended"].to_numpy(dtype=bool)
    n = spells["n"].to_numpy(dtype=np.int64)
    periods = np.arange(int(s.min()) + 1, last + 1)
    # an end exactly at the start of a period is a loss in that period
    active = np.array([n[(s < p) & (e >= p)].sum() for p in periods], dtype=float)
    lost = np.array([n[(s < p) & (e == p) & ended].sum() for p in periods], dtype=float)
    return _churn_frame(periods, active, lost, cohort_period)
