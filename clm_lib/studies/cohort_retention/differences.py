"""Differences in retention between segments, with intervals and tests corrected for the
number of comparisons.

When cohort retention is broken down by a segment (each customer's value at acquisition,
see :func:`.compute.retention_by_segment`), a reader sees several curves and wants to know
which gaps are real and which are noise at the data's size. This module answers with one
row per comparison (a pair of segments at one ``k``): the difference, its interval, a test
and a verdict after Holm's correction over **every row shown**.

Methods
-------
* **Transactions and interval subscriptions** (counts per segment × cohort × ``k`` from
  :func:`.compute._activity`). At each ``k`` a segment's retention is pooled exactly as
  :func:`.tables.average_retention` pools it: customers active at ``k`` summed over the
  cohorts observable at ``k`` / the customers acquired in those cohorts (bounded counts
  for transactions, unbounded for subscriptions, like the study's segment curves). The
  difference of two such shares gets Newcombe's hybrid Wilson score interval (Newcombe
  1998, "Interval estimation for the difference between independent proportions:
  comparison of eleven methods", Statistics in Medicine 17, method 10) and the
  two-proportion z test with the pooled variance. Both treat customers as independent
  draws; the cohort-to-cohort spread that the band of :func:`.tables.average_retention`
  also captures is not in them (both segments are pooled over the same cohorts).
* **Snapshot subscriptions** (``tenure`` + ``churned``, e.g. Telco): the Kaplan-Meier
  survival of each segment at ``k`` (:func:`.snapshot.snapshot_survival`, the study's
  curves), the difference with a normal interval whose variance is the sum of the two
  Greenwood variances, and the matching Wald z test. The curves as a whole are compared by
  the log-rank test (lifelines: the k-sample test over every segment, and each pair),
  :func:`logrank_differences`.

Which comparisons, which ``k``
------------------------------
* With at most :data:`MAX_SEGMENTS_FOR_PAIRS` segments, every pair (the larger segment,
  by customers acquired, is the ``reference``); with more, or when ``reference`` is given,
  each segment against the reference (by default the largest segment).
* ``k = 1 .. K`` (``k = 0`` is 100 % by definition), where for each pair ``K`` is the
  smaller of ``max_k`` (:data:`DEFAULT_MAX_K`) and the last ``k`` up to which both bases
  (customers of the cohorts observable at ``k``; snapshot: customers at risk at ``k``)
  hold at least ``min_base`` (:data:`DEFAULT_MIN_BASE`) customers.

The correction
--------------
The family is **all rows returned**: every segment pair × every ``k`` reported. Holm's
step-down procedure (:func:`holm`) controls the
family-wise error rate at ``alpha`` under any dependence between the tests. That matters
here: retention at successive ``k`` in the same cohort is measured on the same customers,
and pairs share segments, so the tests are positively dependent, not independent. Holm
needs no independence (it rests on Bonferroni's inequality), so it stays valid; it is only
more conservative than a method that would model the dependence. A row is ``"real"`` when
its Holm-adjusted p-value is below ``alpha``, otherwise ``"noise at this size"``: not
"no difference", but none that the data can tell from chance at their size.

The ``mdd`` column is the minimum detectable difference of the row: the true difference
the test would call real with 80 % power at the strictest Holm threshold
``alpha / m`` (``m`` the family size), ``(z_{1 - alpha/(2m)} + z_{0.8}) × SE_0`` with
``SE_0`` the standard error under no difference (shares: the pooled binomial one;
Kaplan-Meier: the Greenwood one of the observed curves), a normal approximation.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from clm_lib.checks import require_columns
from clm_lib.exceptions import InsufficientDataError, ParameterError
from clm_lib.reduce.periods import last_complete_period
from clm_lib.studies.cohort_retention.segment_bins import bin_segment
from clm_lib.studies.cohort_retention.snapshot import snapshot_survival
from clm_lib.studies.cohort_retention.tables import ACTIVITY_COLUMNS, MISSING_SEGMENT

__all__ = ["DEFAULT_MAX_K", "DEFAULT_MIN_BASE", "MAX_SEGMENTS_FOR_PAIRS", "NOISE", "REAL",
           "RetentionDifferences", "differences_from_counts", "holm", "logrank_differences",
           "newcombe_interval", "pooled_segment_retention", "retention_differences",
           "segment_differences", "snapshot_segment_survival", "two_proportion_ztest"]

#: Largest ``k`` compared by default (periods since acquisition).
DEFAULT_MAX_K = 12
#: Fewest customers a base (per segment, at ``k``) must hold for ``k`` to be compared.
DEFAULT_MIN_BASE = 30
#: Up to this many segments every pair is compared; beyond, each against the reference.
MAX_SEGMENTS_FOR_PAIRS = 4
#: Power at which the minimum detectable difference is given.
POWER = 0.8
REAL = "real"
NOISE = "noise at this size"

COLUMNS = ["segment", "reference", "k", "retention", "reference_retention", "difference",
           "lower", "upper", "z", "p_value", "p_adjusted", "verdict", "n", "n_reference",
           "retained", "retained_reference", "mdd"]
_SNAPSHOT_COLUMNS = ("segment", "tenure", "churned", "customers")


# ---------------------------------------------------------------------------------------
# Statistics (vectorised; statsmodels is the oracle in the tests)
# ---------------------------------------------------------------------------------------
def newcombe_interval(x1, n1, x2, n2, level: float = 0.95):
    """Newcombe's hybrid Wilson score interval for ``x1/n1 - x2/n2`` (method 10 of
    Newcombe 1998, no continuity correction).

    With Wilson limits ``(l_i, u_i)`` of each share:
    ``lower = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)``,
    ``upper = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)``.

    >>> [round(float(v), 4) for v in newcombe_interval(56, 70, 48, 80)]
    [0.0524, 0.3339]
    """
    x1, n1, x2, n2 = (np.asarray(v, dtype=float) for v in (x1, n1, x2, n2))
    l1, u1 = proportion_confint(x1, n1, alpha=1 - level, method="wilson")
    l2, u2 = proportion_confint(x2, n2, alpha=1 - level, method="wilson")
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    lower = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return lower, upper


def two_proportion_ztest(x1, n1, x2, n2):
    """Two-sided two-proportion z test with the pooled variance (as statsmodels'
    ``proportions_ztest``); returns ``(z, p_value, se0)``. Where both shares are 0 or
    both 1 (no variance), ``z = 0`` and ``p = 1``."""
    x1, n1, x2, n2 = (np.asarray(v, dtype=float) for v in (x1, n1, x2, n2))
    p = (x1 + x2) / (n1 + n2)
    se0 = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    d = x1 / n1 - x2 / n2
    z = np.divide(d, se0, out=np.zeros_like(d), where=se0 > 0)
    return z, 2 * stats.norm.sf(np.abs(z)), se0


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values: sorted ascending, ``p_(i) × (m - i + 1)`` made
    non-decreasing and capped at 1 (Holm 1979); valid under any dependence between the
    tests. NaN p-values are left out of the family.

    Written out rather than statsmodels' ``multipletests(method="holm")``, which the tests
    use as the oracle: that function runs a full garbage collection on every call (a tenth
    of a second, more in a large session), too slow for the simulations.

    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m:
        order = ok[np.argsort(p[ok], kind="stable")]
        adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
        out[order] = np.minimum(adj, 1.0)
    return out


# ---------------------------------------------------------------------------------------
# Per-segment retention at k
# ---------------------------------------------------------------------------------------
def pooled_segment_retention(activity: pd.DataFrame, cohort_period: str, as_of, *,
                             kind: str = "bounded") -> pd.DataFrame:
    """Pooled retention per segment and ``k`` with its counts.

    Parameters
    ----------
    activity : DataFrame
        Cohort activity split by segment (:func:`.compute._activity` with a segment):
        ``segment`` (text; missing values form ``"(missing)"``) and
        :data:`.tables.ACTIVITY_COLUMNS`.
    cohort_period : str
    as_of : date-like
        Last observed day (inclusive).
    kind : {"bounded", "unbounded"}

    Returns
    -------
    DataFrame: ``segment``, ``k``, ``retained`` (customers active at ``k`` in the cohorts
    observable at ``k``), ``customers`` (acquired in those cohorts), ``cohorts`` and
    ``retention`` = retained / customers: the estimate of
    :func:`.tables.average_retention`, so the curve of :func:`.tables.segment_curves`
    (the same cells; summed here straight from the counts, which the simulations need to
    be fast, and checked against it in the tests).
    """
    if kind not in ("bounded", "unbounded"):
        raise ParameterError("kind must be 'bounded' or 'unbounded'")
    require_columns(activity, ("segment",) + ACTIVITY_COLUMNS, "cohort activity by segment")
    if activity.empty:
        raise InsufficientDataError("no customer was acquired in a complete period by as_of")
    last = last_complete_period(as_of, cohort_period)
    seg = activity["segment"].astype("string").fillna(MISSING_SEGMENT).astype(str).to_numpy()
    c = activity["cohort_index"].to_numpy(dtype=np.int64)
    k = activity["period"].to_numpy(dtype=np.int64)
    lk = last - c  # each row's cohort: last observable k
    # cells after a cohort's last observable k are not observed (as in .tables)
    seen = (k <= lk) & (lk >= 0)
    value = activity["customers" if kind == "bounded" else "last_active"].to_numpy(float)
    size = activity["customers"].to_numpy(float)
    parts = []
    for val in sorted(set(seg)):
        r = (seg == val) & seen
        if not r.any():
            continue
        K = int(lk[r].max())
        start = r & (k == 0)
        lk0, N0 = lk[start], size[start]  # one row per cohort: its size and last k
        ks = np.arange(K + 1)
        obs = ks[None, :] <= lk0[:, None]  # cohort × k observable
        customers = (N0[:, None] * obs).sum(axis=0)
        cohorts = (obs & (N0[:, None] > 0)).sum(axis=0)
        per_k = np.bincount(k[r], weights=value[r], minlength=K + 1)
        if kind == "unbounded":
            # active at k or later = last active at k or later, within the observed cells
            # of the cohorts observable at k (a cohort's cells stop at its own last k)
            per_k = np.array([value[r & (k >= j) & (lk >= j)].sum() for j in ks])
        parts.append(pd.DataFrame({
            "segment": val, "k": ks, "retained": per_k, "customers": customers,
            "cohorts": cohorts,
            "retention": np.divide(per_k, customers, out=np.full(K + 1, np.nan),
                                   where=customers > 0)}))
    return pd.concat(parts, ignore_index=True)


def snapshot_segment_survival(counts: pd.DataFrame) -> pd.DataFrame:
    """Kaplan-Meier survival per segment and ``k`` with Greenwood's variance.

    Parameters
    ----------
    counts : DataFrame
        ``segment``, ``tenure``, ``churned``, ``customers`` (:func:`.compute._snapshot_counts`
        with a segment).

    Returns
    -------
    DataFrame: ``segment``, ``k``, ``survival``, ``variance``
    (``S(k)^2 × sum_{j <= k} d_j / (n_j (n_j - d_j))``), ``at_risk``, ``customers``
    (of the segment).
    """
    require_columns(counts, _SNAPSHOT_COLUMNS, "snapshot counts by segment")
    parts = []
    for val, g in counts.groupby(counts["segment"].astype("string").fillna(MISSING_SEGMENT),
                                 sort=True):
        km = snapshot_survival(g)
        n, d = km["at_risk"].to_numpy(float), km["churned"].to_numpy(float)
        ok = (n - d) > 0
        term = np.divide(d, n * (n - d), out=np.zeros_like(d), where=ok)
        s = km["survival"].to_numpy(float)
        parts.append(pd.DataFrame({"segment": str(val), "k": km.index.to_numpy(),
                                   "survival": s, "variance": s ** 2 * np.cumsum(term),
                                   "at_risk": n, "customers": float(g["customers"].sum())}))
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------------------
def _pairs(sizes: pd.Series, reference, comparisons: str) -> list[tuple[str, str]]:
    """(segment, reference) pairs; ``sizes`` in descending order of customers."""
    segs = list(sizes.index)
    if len(segs) < 2:
        raise InsufficientDataError("a comparison between segments needs two or more "
                                    f"segments, found {len(segs)}")
    if comparisons not in ("auto", "pairs", "reference"):
        raise ParameterError("comparisons must be 'auto', 'pairs' or 'reference'")
    if comparisons == "pairs" and reference is not None:
        raise ParameterError("reference is for comparisons='reference' (or 'auto')")
    if comparisons == "auto":
        comparisons = ("pairs" if reference is None and len(segs) <= MAX_SEGMENTS_FOR_PAIRS
                       else "reference")
    if comparisons == "pairs":
        return [(segs[j], segs[i]) for i, j in itertools.combinations(range(len(segs)), 2)]
    ref = segs[0] if reference is None else str(reference)
    if ref not in segs:
        raise ParameterError(f"reference {ref!r} is not a segment; segments: {segs}")
    return [(s, ref) for s in segs if s != ref]


def _ks(base_a: pd.Series, base_b: pd.Series, *, max_k, min_base, ks) -> list[int]:
    """The ``k`` compared for one pair (bases indexed by k; see the module notes)."""
    both = pd.concat([base_a, base_b], axis=1).fillna(0).min(axis=1)
    if ks is not None:
        return [int(k) for k in ks if k in both.index and both[k] >= min_base]
    out = []
    for k in range(1, int(both.index.max()) + 1):
        if (max_k is not None and k > max_k) or k not in both.index or both[k] < min_base:
            break
        out.append(k)
    return out


def segment_differences(data: pd.DataFrame, *, form: str, cohort_period: str | None = None,
                        as_of=None, kind: str | None = None, alpha: float = 0.05,
                        level: float = 0.95, reference: str | None = None,
                        comparisons: str = "auto", max_k: int | None = DEFAULT_MAX_K,
                        min_base: int = DEFAULT_MIN_BASE, ks=None) -> pd.DataFrame:
    """Difference in retention between segments at each ``k``, with Holm's correction.

    Parameters
    ----------
    data : DataFrame
        ``form`` "transactions" or "intervals": cohort activity split by segment
        (``segment`` + :data:`.tables.ACTIVITY_COLUMNS`, :func:`.compute._activity`);
        "snapshot": ``segment``, ``tenure``, ``churned``, ``customers``
        (:func:`.compute._snapshot_counts`).
    form : {"transactions", "intervals", "snapshot"}
    cohort_period, as_of
        Needed for activity (which cohorts are observable at ``k``).
    kind : {"bounded", "unbounded"}, optional
        Activity only; default bounded for transactions, unbounded for intervals (the
        study's segment curves).
    alpha : float
        Family-wise error rate of the Holm correction; ``"real"`` when adjusted p < alpha.
    level : float
        Confidence level of the intervals (per row, not simultaneous).
    reference : str, optional
        Compare every segment with this one (default: every pair when there are at most
        :data:`MAX_SEGMENTS_FOR_PAIRS` segments, else each against the largest).
    comparisons : {"auto", "pairs", "reference"}
    max_k : int or None
        Largest ``k`` compared (None: no cap).
    min_base : int
        ``k`` is compared while both bases hold at least this many customers.
    ks : sequence of int, optional
        Compare exactly these ``k`` (those with bases of ``min_base`` or more); overrides
        ``max_k``.

    Returns
    -------
    DataFrame with :data:`COLUMNS`, one row per (pair, k), sorted by pair then ``k``:
    ``difference`` = ``retention`` - ``reference_retention`` (a share: 0.061 is 6.1
    points), ``lower``/``upper`` its interval, ``z``, ``p_value``, ``p_adjusted`` (Holm
    over all rows), ``verdict`` ("real" / "noise at this size"), ``n``/``n_reference``
    (the bases: customers of the cohorts observable at ``k``; snapshot: at risk at ``k``),
    ``retained``/``retained_reference`` (activity only), ``mdd``. ``attrs`` records
    ``alpha``, ``level``, ``family`` (rows), ``pairs``, ``form``, ``method``,
    ``segment_sizes`` and the pairs ``skipped`` for want of a base.
    """
    if form not in ("transactions", "intervals", "snapshot"):
        raise ParameterError("form must be 'transactions', 'intervals' or 'snapshot'")
    if not 0 < alpha < 1 or not 0 < level < 1:
        raise ParameterError("alpha and level must lie between 0 and 1")
    if form == "snapshot":
        per = snapshot_segment_survival(data).rename(columns={"survival": "retention",
                                                              "at_risk": "base"})
        sizes = per.groupby("segment")["customers"].first()
        method = "Kaplan-Meier difference, Greenwood interval, Wald z test"
    else:
        if cohort_period is None or as_of is None:
            raise ParameterError("cohort activity needs cohort_period and as_of")
        kind = kind or ("bounded" if form == "transactions" else "unbounded")
        per = pooled_segment_retention(data, cohort_period, as_of, kind=kind).rename(
            columns={"customers": "base"})
        sizes = per.loc[per["k"] == 0].set_index("segment")["base"]
        method = "Newcombe hybrid score interval, two-proportion z test (pooled variance)"
    sizes = sizes.sort_values(ascending=False, kind="stable")
    sizes = sizes.loc[sorted(sizes.index, key=lambda s: (-sizes[s], s))]
    by = {s: g.set_index("k") for s, g in per.groupby("segment")}
    rows, skipped = [], []
    for seg, ref in _pairs(sizes, reference, comparisons):
        a, b = by[seg], by[ref]
        use = _ks(a["base"], b["base"], max_k=max_k, min_base=min_base, ks=ks)
        if not use:
            skipped.append((seg, ref))
            continue
        a, b = a.loc[use], b.loc[use]
        r = pd.DataFrame({"segment": seg, "reference": ref, "k": use,
                          "retention": a["retention"].to_numpy(),
                          "reference_retention": b["retention"].to_numpy(),
                          "n": a["base"].to_numpy(), "n_reference": b["base"].to_numpy()})
        r["difference"] = r["retention"] - r["reference_retention"]
        if form == "snapshot":
            se = np.sqrt(a["variance"].to_numpy() + b["variance"].to_numpy())
            zq = stats.norm.ppf(0.5 + level / 2)
            r["lower"] = np.clip(r["difference"] - zq * se, -1, 1)
            r["upper"] = np.clip(r["difference"] + zq * se, -1, 1)
            z = np.divide(r["difference"].to_numpy(), se, out=np.zeros(len(r)), where=se > 0)
            r["z"], r["p_value"], r["_se0"] = z, 2 * stats.norm.sf(np.abs(z)), se
            r["retained"] = r["retained_reference"] = np.nan
        else:
            x1, x2 = a["retained"].to_numpy(), b["retained"].to_numpy()
            r["retained"], r["retained_reference"] = x1, x2
            r["lower"], r["upper"] = newcombe_interval(x1, r["n"], x2, r["n_reference"], level)
            r["z"], r["p_value"], r["_se0"] = two_proportion_ztest(x1, r["n"], x2,
                                                                    r["n_reference"])
        rows.append(r)
    if not rows:
        raise InsufficientDataError(f"no segment pair has {min_base} or more customers in "
                                    "both bases at k = 1")
    out = pd.concat(rows, ignore_index=True)
    m = len(out)
    out["p_adjusted"] = holm(out["p_value"])
    out["verdict"] = np.where(out["p_adjusted"] < alpha, REAL, NOISE)
    out["mdd"] = (stats.norm.ppf(1 - alpha / (2 * m)) + stats.norm.ppf(POWER)) * out["_se0"]
    out = out[COLUMNS]
    out.attrs.update({"alpha": float(alpha), "level": float(level), "family": m,
                      "pairs": int(out[["segment", "reference"]].drop_duplicates().shape[0]),
                      "form": form, "kind": kind if form != "snapshot" else "km",
                      "method": method, "max_k": max_k, "min_base": int(min_base),
                      "ks": None if ks is None else [int(k) for k in ks],
                      "segment_sizes": {str(k): float(v) for k, v in sizes.items()},
                      "skipped": skipped, "unit": cohort_period})
    return out


def _durations(counts: pd.DataFrame):
    """Durations, events and case weights of snapshot counts (churn at tenure 0 counts
    as churn in the first period, as in :func:`.snapshot.snapshot_survival`)."""
    t = counts["tenure"].to_numpy(dtype=float)
    e = counts["churned"].to_numpy(dtype=bool)
    return np.where(e, np.maximum(t, 1), t), e, counts["customers"].to_numpy(dtype=float)


def logrank_differences(counts: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Log-rank tests between the survival curves of the segments (lifelines).

    Parameters
    ----------
    counts : DataFrame
        ``segment``, ``tenure``, ``churned``, ``customers``.
    alpha : float
        Family-wise error rate of the Holm correction over the **pairwise** tests (a
        family of its own: "which curves differ at all", not "at which k").

    Returns
    -------
    DataFrame: a first row ``segment = "all"`` (the k-sample test over every segment,
    ``multivariate_logrank_test``; one test, ``p_adjusted`` = ``p_value``), then one row per
    pair (``logrank_test``, reference = the larger segment): ``segment``, ``reference``,
    ``chi2``, ``df``, ``p_value``, ``p_adjusted``, ``verdict``, ``n``, ``n_reference``.
    """
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    require_columns(counts, _SNAPSHOT_COLUMNS, "snapshot counts by segment")
    c = counts.loc[counts["customers"] > 0]
    seg = c["segment"].astype("string").fillna(MISSING_SEGMENT).astype(str).to_numpy()
    t, e, w = _durations(c)
    sizes = pd.Series(w).groupby(seg).sum()
    sizes = sizes.loc[sorted(sizes.index, key=lambda s: (-sizes[s], s))]
    if len(sizes) < 2:
        raise InsufficientDataError("a log-rank test needs two or more segments")
    multi = multivariate_logrank_test(t, seg, e, weights=w)
    rows = [{"segment": "all", "reference": "", "chi2": float(multi.test_statistic),
             "df": int(multi.degrees_of_freedom), "p_value": float(multi.p_value),
             "n": float(w.sum()), "n_reference": np.nan}]
    segs = list(sizes.index)
    for i, j in itertools.combinations(range(len(segs)), 2):
        a, b = seg == segs[j], seg == segs[i]
        res = logrank_test(t[a], t[b], e[a], e[b], weights_A=w[a], weights_B=w[b])
        rows.append({"segment": segs[j], "reference": segs[i],
                     "chi2": float(res.test_statistic), "df": 1, "p_value": float(res.p_value),
                     "n": float(w[a].sum()), "n_reference": float(w[b].sum())})
    out = pd.DataFrame(rows)
    out["p_adjusted"] = out["p_value"]
    out.loc[1:, "p_adjusted"] = holm(out["p_value"].iloc[1:])
    out["verdict"] = np.where(out["p_adjusted"] < alpha, REAL, NOISE)
    out.attrs.update({"alpha": float(alpha), "family": len(out) - 1})
    return out[["segment", "reference", "chi2", "df", "p_value", "p_adjusted", "verdict",
                "n", "n_reference"]]


# ---------------------------------------------------------------------------------------
# From any input form
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetentionDifferences:
    """Result of :func:`retention_differences` (words: :mod:`.report_differences`).

    Attributes
    ----------
    differences : DataFrame
        :func:`segment_differences`.
    logrank : DataFrame or None
        Snapshot data: :func:`logrank_differences`.
    segments : DataFrame
        Per segment (in bin order when binned, else by size): ``customers`` acquired.
    parameters : dict
    """

    differences: pd.DataFrame
    logrank: pd.DataFrame | None
    segments: pd.DataFrame
    parameters: dict = field(default_factory=dict)

    @property
    def unit(self) -> str:
        return self.parameters.get("cohort_period") or "period"


def retention_differences(data, segment: str, cohort_period: str = "month", *, as_of,
                          engine="duckdb", bins=None, kind: str | None = None,
                          alpha: float = 0.05, level: float = 0.95,
                          reference: str | None = None, comparisons: str = "auto",
                          max_k: int | None = DEFAULT_MAX_K,
                          min_base: int = DEFAULT_MIN_BASE, ks=None) -> RetentionDifferences:
    """Tested differences in retention between the values of ``segment``.

    Parameters
    ----------
    data : DataFrame, path or engine table
        Any input of :func:`.compute.retention_by_segment` (transactions, interval or
        snapshot subscriptions), with the ``segment`` column.
    segment : str
        Column; each customer's value at acquisition (see
        :func:`.compute.retention_by_segment`).
    cohort_period : {"week", "month", "quarter", "year"}
    as_of : date-like or None
        Last observed day (inclusive); None: the last day in the data (snapshot: not
        needed).
    engine : {"duckdb", "spark", "pandas"} or Engine
    bins : sequence of numbers, optional
        Cut points for a numeric segment (:func:`bin_segment`), e.g. ``[1, 2, 3]``.
    kind, alpha, level, reference, comparisons, max_k, min_base, ks
        As in :func:`segment_differences`; ``reference`` names a segment (a bin label
        when binned).

    Returns
    -------
    RetentionDifferences

    Examples
    --------
    CDNOW with the CDs of the first purchase in three bins::

        tx, dq = load_transactions("data/cdnow_master.csv",
                                   {"date": "timestamp", "dollars": "amount",
                                    "cds": "quantity"})
        res = retention_differences(tx, "quantity", as_of="1998-06-30", bins=[1, 2, 3])
    """
    # compute's private readers: one reduction path for every input form
    from clm_lib.studies.cohort_retention.compute import _activity, _input, _snapshot_counts

    inp = _input(data, cohort_period, as_of, engine, segment)
    counts = _snapshot_counts(inp, segment) if inp.form == "snapshot" else _activity(inp,
                                                                                     segment)
    if bins is not None:
        counts = bin_segment(counts, bins, name=segment)
    return differences_from_counts(
        counts, form=inp.form, segment=segment, cohort_period=cohort_period, as_of=inp.as_of,
        bins=bins, kind=kind, alpha=alpha, level=level, reference=reference,
        comparisons=comparisons, max_k=max_k, min_base=min_base, ks=ks)


def differences_from_counts(counts: pd.DataFrame, *, form: str, segment: str,
                            cohort_period: str, as_of, bins=None, kind: str | None = None,
                            alpha: float = 0.05, level: float = 0.95,
                            reference: str | None = None, comparisons: str = "auto",
                            max_k: int | None = DEFAULT_MAX_K,
                            min_base: int = DEFAULT_MIN_BASE, ks=None) -> RetentionDifferences:
    """:func:`retention_differences` from counts already read (and binned with
    :func:`bin_segment` when ``bins`` are given): the cohort study's own segment counts,
    so that its curves and its tests come from one pass over the data."""
    order = counts.attrs.get("segment_order") if bins is not None else None
    diffs = segment_differences(counts, form=form, cohort_period=cohort_period,
                                as_of=as_of, kind=kind, alpha=alpha, level=level,
                                reference=reference, comparisons=comparisons, max_k=max_k,
                                min_base=min_base, ks=ks)
    sizes = pd.Series(diffs.attrs["segment_sizes"], name="customers")
    if order is not None:
        sizes = sizes.reindex([s for s in order if s in sizes.index])
    segs = sizes.rename_axis("segment").reset_index()
    segs["share"] = segs["customers"] / segs["customers"].sum()
    lr = logrank_differences(counts, alpha=alpha) if form == "snapshot" else None
    params = {"segment": segment, "cohort_period": cohort_period,
              "as_of": None if as_of is None else str(as_of), "form": form,
              "bins": None if bins is None else [float(b) for b in bins],
              "kind": diffs.attrs["kind"], "alpha": float(alpha), "level": float(level),
              "reference": reference, "comparisons": comparisons, "max_k": max_k,
              "min_base": int(min_base), "ks": None if ks is None else [int(k) for k in ks]}
    diffs.attrs["unit"] = cohort_period
    return RetentionDifferences(diffs, lr, segs, params)
