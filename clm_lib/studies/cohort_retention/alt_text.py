"""Alt texts of the cohort-retention figures: what each shows and its main message, computed
from the :class:`~.compute.CohortStudy` (screen readers and anyone whose images do not
load read these instead of the figure)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.studies.cohort_retention.compute import CohortStudy
from clm_lib.studies.cohort_retention.report import _pct, _pretty, _span

__all__ = ["churn_alt", "curves_alt", "heatmap_alt", "projection_alt", "revenue_alt",
           "segments_alt", "value_alt"]


def _cohorts(study: CohortStudy) -> str:
    t, u = study.tables, study.unit
    if study.form == "snapshot":
        return f"all {fmt.count(t.sizes.iloc[0])} subscribers (one synthetic cohort, by tenure)"
    n = len(t.sizes)
    return (f"{n} {u}ly cohort{'s' if n != 1 else ''} "
            f"({_span([str(x) for x in t.sizes.index], u)})")


def _max_cell(mat: pd.DataFrame) -> tuple[object, int, float] | None:
    later = mat.drop(columns=[c for c in mat.columns if c == 0]).astype(float)
    if not np.isfinite(later.to_numpy()).any():
        return None
    s = later.stack().dropna()
    (cohort, k), v = s.idxmax(), float(s.max())
    return cohort, int(k), v


def heatmap_alt(study: CohortStudy, kind: str = "bounded") -> str:
    """The retention matrix (``kind`` "bounded" or "unbounded")."""
    t, u = study.tables, study.unit
    mat = t.bounded_rates if kind == "bounded" else t.unbounded_rates
    what = f"active in exactly {u} k" if kind == "bounded" else f"active in {u} k or later"
    text = (f"Heatmap of the share of {_cohorts(study)} {what} after acquisition, k = 1 to "
            f"{int(t.last_k.max())} (k = 0, always 100 %, left out).")
    top = _max_cell(mat)
    if top:
        cohort, k, v = top
        first = t.sizes.index[0]
        K = int(t.last_k.iloc[0])
        if study.form == "snapshot":
            return text + (f" It falls from {_pct(mat.loc[first, 1])} at k = 1 to "
                           f"{_pct(mat.loc[first, K])} at k = {K}.") if K >= 1 else text
        text += f" The highest share is {_pct(v)} ({_pretty(str(cohort), u)}, k = {k})"
        if K >= 1:
            text += (f"; the oldest cohort stands at {_pct(mat.loc[first, K])} at its latest "
                     f"observed k = {K}")
        text += "."
    return text


def curves_alt(study: CohortStudy) -> str:
    """The interactive retention curves."""
    avg, u = study.average_bounded.dropna(subset=["retention"]), study.unit
    text = (f"Line chart of the share of {_cohorts(study)} active k {u}s after acquisition"
            + (", one line per cohort" if len(study.tables.sizes) >= 2 else ""))
    if len(study.tables.sizes) >= 2:
        text += " and their size-weighted average (dashed)"
    later = avg.loc[avg.index >= 1]
    if len(later):
        k0, k1 = int(later.index[0]), int(later.index[-1])
        text += (f"; {'the average' if len(study.tables.sizes) >= 2 else 'it'} falls from {_pct(later.loc[k0, 'retention'])} at k = {k0} "
                 f"to {_pct(later.loc[k1, 'retention'])} at k = {k1}")
    return text + (" (k = 0, always 100 %, left out). Hover a point for the cohort, k, the "
                   "share and the customers.")


def revenue_alt(study: CohortStudy) -> str:
    """The revenue-retention matrix (transactions with amounts)."""
    u, rr = study.unit, study.tables.revenue_retention
    text = (f"Heatmap of each cohort's revenue in {u} k as a share of its acquisition-{u} "
            f"revenue, for {_cohorts(study)}, k = 1 on (k = 0 left out).")
    top = _max_cell(rr)
    if top:
        cohort, k, v = top
        text += f" The highest is {_pct(v)} ({_pretty(str(cohort), u)}, k = {k})."
    return text


def value_alt(study: CohortStudy, currency: str | None = None) -> str:
    """The cohort value curves (cumulative revenue per acquired customer)."""
    u, vc = study.unit, study.tables.value_curves
    text = (f"Line chart of the cumulative revenue per acquired customer of {_cohorts(study)} "
            f"by {u}s since acquisition")
    first = vc.index[0]
    row = vc.loc[first].dropna()
    if len(row):
        text += (f"; a customer of {_pretty(str(first), u)} brought "
                 f"{fmt.money(row.iloc[0], currency)} in the acquisition {u} and "
                 f"{fmt.money(row.iloc[-1], currency)} by k = {int(row.index[-1])}")
    return text + "."


def churn_alt(study: CohortStudy) -> str:
    """The churn rate per period."""
    c, u, cs = study.churn, study.unit, study.churn_summary
    rates = c["churn_rate"].dropna()
    where = f"tenure {u}" if study.form == "snapshot" else u
    text = f"Line chart of the churn rate per {where}"
    if len(rates):
        text += (f", {_span([str(rates.index[0]), str(rates.index[-1])], u)}: between "
                 f"{_pct(rates.min())} and {_pct(rates.max())}")
    if cs["periods"]:
        text += f"; pooled over the settled {u}s {_pct(cs['rate'])}"
    prov = int(c["provisional"].astype(bool).sum())
    if prov:
        text += f"; the last {prov} {u}{'s' if prov != 1 else ''} provisional (hollow points)"
    return text + "."


def projection_alt(study: CohortStudy) -> str:
    """The retention model's fit and projection."""
    fit, u = study.fit_table, study.unit
    obs = fit.loc[fit["in_fit"].astype(bool)]
    H = int(fit.index.max())
    what = (f"share of customers buying in {u} k" if study.retention_model == "bgnbd"
            else f"share still subscribed after k {u}s")
    text = (f"Line chart of the {what}: the model fitted to all data with its 95 % band "
            f"against the pooled actual figures")
    if len(obs):
        K = int(obs.index.max())
        text += (f"; at the latest observed k = {K} the model says "
                 f"{_pct(fit.loc[K, 'fitted'])}, the data {_pct(fit.loc[K, 'actual'])}")
    return text + f"; projected to k = {H}: {_pct(fit.loc[H, 'fitted'])}."


def segments_alt(study: CohortStudy, segment: str) -> str:
    """The average retention curve per segment (``segment`` the column's name)."""
    seg, u = study.segments.dropna(subset=["retention"]), study.unit
    names = sorted(seg["segment"].astype(str).unique())
    text = (f"Line chart of the average retention by {segment} ({len(names)} values: "
            f"{', '.join(names[:6])}{', …' if len(names) > 6 else ''})")
    common = seg.groupby("k")["segment"].nunique()
    ks = common.index[(common == len(names)) & (common.index >= 1)]
    if len(ks):
        k = int(ks.max())
        at = seg.loc[seg["k"] == k].set_index("segment")["retention"]
        text += (f"; at k = {k} {u}s {at.idxmax()} keeps the most ({_pct(at.max())}) and "
                 f"{at.idxmin()} the least ({_pct(at.min())})")
    return text + "."
