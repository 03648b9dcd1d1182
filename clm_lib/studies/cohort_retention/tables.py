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
           "churn_from_spells", "last_purchase_counts", "mask_unobservable", "pooled_churn",
           "segment_curves", "tables_from_activity", "total_activity"]

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
                 cohort_period: str, provisional: np.ndarray | None = None) -> pd.DataFrame:
    out = pd.DataFrame({"active_start": active, "lost": lost},
                       index=pd.Index(period_labels(periods, cohort_period), name="period"))
    out["churn_rate"] = np.where(out["active_start"] > 0,
                                 out["lost"] / out["active_start"].where(out["active_start"] > 0),
                                 np.nan)
    out["provisional"] = (np.zeros(len(out), dtype=bool) if provisional is None
                          else np.asarray(provisional, dtype=bool))
    return out


def last_purchase_counts(activity: pd.DataFrame) -> pd.Series:
    """Customers by the period code of their last purchase (up to ``as_of``), from a
    cohort activity table (``cohort_index + period`` of ``last_active``)."""
    require_columns(activity, ("cohort_index", "period", "last_active"), "cohort activity")
    q = activity["cohort_index"].to_numpy(dtype=np.int64) + activity["period"].to_numpy(
        dtype=np.int64)
    return (pd.Series(activity["last_active"].to_numpy(dtype=np.int64), index=q)
            .groupby(level=0).sum().rename("customers"))


def churn_from_counts(counts: pd.DataFrame, cohort_period: str, *, as_of,
                      inactivity_periods: int,
                      last_purchase: pd.Series | None = None) -> pd.DataFrame:
    """The transactions churn rate from :meth:`clm_lib.reduce.Engine.churn_counts`
    (``period``, ``starts``, ``stops``, ``lost``): active at the start of p = cumulative
    ``starts - stops``.

    What is known when
    ------------------
    With ``N = inactivity_periods``, a loss in ``p`` (bought in ``p - 1``, then nothing in
    ``p .. p + N - 1``) is known at the end of ``p + N - 1``; the at-risk count of ``p``
    excludes only customers lost in earlier periods, known by the end of ``p + N - 2``.
    So a period's row uses no data after ``p + N - 1`` and is **settled** (final, the same
    for every later ``as_of``) once ``p + N - 1 <=`` the last complete period; the last
    ``N - 1`` periods are **provisional**.

    Provisional periods (only with ``last_purchase``, otherwise left out) count as lost
    the customers who bought in ``p - 1`` and not since (up to ``as_of``), and leave them
    out of the later periods' at-risk counts. Every customer lost in the end is among
    them, so a provisional rate is an upper bound of the final one: later data can only
    lower it.

    Parameters
    ----------
    counts : DataFrame
        ``period``, ``starts``, ``stops``, ``lost``.
    last_purchase : Series, optional
        Customers by the period code of their last purchase up to ``as_of``
        (:func:`last_purchase_counts`).

    Returns
    -------
    DataFrame indexed by ``period`` with ``active_start``, ``lost``, ``churn_rate`` and
    ``provisional`` (bool).
    """
    require_columns(counts, ("period", "starts", "stops", "lost"), "churn counts")
    if counts.empty:
        raise InsufficientDataError("no purchase in a period complete by as_of")
    last = last_complete_period(as_of, cohort_period)
    N = int(inactivity_periods)
    first = int(counts["period"].min())
    full = np.arange(first, max(last + 2, int(counts["period"].max())) + 1)
    c = counts.set_index("period")
    periods = np.arange(first, last + 1)
    lost = c["lost"].reindex(periods, fill_value=0).to_numpy(dtype=float)
    net = (c["starts"] - c["stops"]).reindex(full, fill_value=0).to_numpy(dtype=np.int64)
    settled = periods + N - 1 <= last
    if last_purchase is None:
        ok = settled
    else:
        # lapsed so far: last purchase in p - 1 for a provisional p; out of p + 1 on
        lapsed = last_purchase.reindex(periods - 1, fill_value=0).to_numpy(dtype=np.int64)
        lapsed = np.where(settled, 0, lapsed)
        lost = lost + lapsed
        net = net.copy()
        net[np.searchsorted(full, periods[~settled] + 1)] -= lapsed[~settled]
        ok = np.ones(len(periods), dtype=bool)
    active = np.cumsum(net)[: len(periods)].astype(float)
    return _churn_frame(periods[ok], active[ok], lost[ok], cohort_period, ~settled[ok])


def pooled_churn(churn: pd.DataFrame, after_acquisition=None) -> dict:
    """Pooled churn rate: customers lost / customers at risk, summed over the settled
    periods (not a mean of per-period rates, which weighs a small period like a big one).

    Parameters
    ----------
    churn : DataFrame
        ``active_start``, ``lost``, ``provisional`` by period label.
    after_acquisition : sequence of str, optional
        Labels of the periods right after an acquisition period (a cohort's ``k = 1``):
        their at-risk count holds that cohort's first period, where one-time buyers are
        lost. The headline rate leaves them out, unless no settled period would remain
        (customers acquired every period): then every settled period is pooled.

    Returns
    -------
    dict: ``rate``, ``lost``, ``at_risk``, ``periods`` (labels pooled), ``basis``
    (``"after acquisition"``: settled periods after the acquisition periods, or ``"all
    settled"``), ``rate_all_settled`` (pooled over every settled period) and
    ``mean_of_rates`` (unweighted mean over the periods of ``rate``, for comparison).
    """
    require_columns(churn, ("active_start", "lost", "provisional"), "churn table")
    s = churn.loc[~churn["provisional"].astype(bool) & (churn["active_start"] > 0)]
    if s.empty:
        return {"rate": float("nan"), "lost": 0.0, "at_risk": 0.0, "periods": [],
                "basis": "all settled", "rate_all_settled": float("nan"),
                "mean_of_rates": float("nan")}
    basis, use = "all settled", s
    if after_acquisition is not None:
        rest = s.loc[~s.index.astype(str).isin([str(x) for x in after_acquisition])]
        if len(rest):
            basis, use = "after acquisition", rest
    lost, risk = float(use["lost"].sum()), float(use["active_start"].sum())
    return {"rate": lost / risk, "lost": lost, "at_risk": risk,
            "periods": [str(p) for p in use.index], "basis": basis,
            "rate_all_settled": float(s["lost"].sum() / s["active_start"].sum()),
            "mean_of_rates": float((use["lost"] / use["active_start"]).mean())}


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
