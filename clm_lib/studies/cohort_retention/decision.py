"""The cohort-retention decision box and the index's retention figures, from a
:class:`~.compute.CohortStudy`: what matters, what to do (with the customers and money at
stake), how sure we are, from which data and as of when.

Every number is computed from the study and formatted with :mod:`clm_lib.format`; the
texts are shown through :func:`clm_lib.reporting.show_decision`, which escapes them.
"""
from __future__ import annotations

import numpy as np

from clm_lib import format as fmt
from clm_lib.reporting import Decision, as_of_label, source_label, stage_figure
from clm_lib.studies.cohort_retention.compute import CohortStudy
from clm_lib.studies.cohort_retention.report import (
    _model_label,
    _ordinal,
    _pct,
    _pretty,
    _span,
    acquisition_line,
    cohort_trend,
    holdout_line,
    sbg_error_text,
)

__all__ = ["as_of_text", "decision", "lifecycle", "revenue_per_active"]

#: The ``k`` of the "later" retention figure (besides k = 1) in the decision and the index.
LATER_K = 3


def _avg(study: CohortStudy, k: int) -> float | None:
    avg = study.average_bounded
    if k in avg.index and np.isfinite(avg.loc[k, "retention"]):
        return float(avg.loc[k, "retention"])
    return None


def revenue_per_active(study: CohortStudy) -> float | None:
    """Average revenue of an active customer-period after acquisition (``k >= 1``):
    the cohorts' revenue from their second period on / their active customer-periods
    then (currency units per customer and period); None without revenue or repeat
    activity."""
    t = study.tables
    if t.revenue is None or t.revenue.shape[1] < 2:
        return None
    active = float(np.nansum(t.bounded_counts.iloc[:, 1:].to_numpy()))
    revenue = float(np.nansum(t.revenue.iloc[:, 1:].to_numpy()))
    return revenue / active if active > 0 else None


def as_of_text(study: CohortStudy) -> str:
    """The end of observation and how it was set, for the decision box."""
    p = study.parameters
    if p.get("as_of") is None:
        return "the snapshot's end (no calendar dates: tenure only)"
    # the date given plays no part in a snapshot's tenure counts
    note = "the snapshot itself has no dates" if study.form == "snapshot" else None
    return as_of_label(p["as_of"], p.get("as_of_source"), note)


def _active_word(study: CohortStudy) -> str:
    return {"transactions": "bought", "intervals": "were still subscribed"}.get(
        study.form, "were still subscribed")


def _retention_finding(study: CohortStudy) -> str | None:
    u, r1, r3 = study.unit, _avg(study, 1), _avg(study, LATER_K)
    if r1 is None:
        return None
    if study.form == "snapshot":
        text = (f"{_pct(r1)} of the subscribers were still subscribed after 1 {u} of tenure "
                f"(k = 1)")
        if r3 is not None:
            text += f" and {_pct(r3)} after {LATER_K} {u}s (k = {LATER_K})"
    else:
        text = (f"{_pct(r1)} of a cohort (size-weighted average) {_active_word(study)} in the "
                f"{u} after their acquisition {u} (k = 1)")
        if r3 is not None:
            text += f" and {_pct(r3)} {LATER_K} {u}s after it (k = {LATER_K})"
    return text + "."


def _churn_finding(study: CohortStudy) -> str | None:
    cs, u, c = study.churn_summary, study.unit, study.churn
    if not cs["periods"]:
        return None
    where = f"tenure {u}s" if study.form == "snapshot" else f"{u}s"
    who = "active customers" if study.form == "transactions" else "subscribers"
    text = (f"{_pct(cs['rate'])} of {who} are lost per {u} (pooled over the "
            f"{len(cs['periods'])} settled {where} {_span(cs['periods'], u)}")
    prov = [str(p) for p in c.index[c["provisional"].astype(bool)]]
    if prov:
        text += f"; {_span(prov, u)} still provisional"
    return text + ")."


def _projection_finding(study: CohortStudy) -> str | None:
    if study.model is None or study.projection is None:
        return None
    u, H = study.unit, int(study.projection.index.max())
    p = study.projection.loc[H]
    if study.retention_model == "bgnbd":
        return (f"The {_model_label(study)} expects {_pct(p['buying'])} of these customers "
                f"to buy in their {_ordinal(H + 1)} {u} (k = {H}; 95 % band "
                f"{_pct(p['buying_lower'])} to {_pct(p['buying_upper'])}).")
    return (f"The {_model_label(study)} projects {_pct(p['survival'])} of a new cohort "
            f"still active after {H} {u}s (95 % band {_pct(p['survival_lower'])} to "
            f"{_pct(p['survival_upper'])}).")


def _value(n: float, per: float | None, currency: str | None, u: str) -> str:
    if per is None:
        return ""
    return (f": at {fmt.money(per, currency)} per active customer-{u}, every {u} they buy "
            f"is worth {fmt.money(n * per, currency)}")


def _win_back_action(study: CohortStudy, per, currency) -> str | None:
    """Transactions: the customers provisionally lost (bought in the period before and
    not since): the ones a win-back campaign can still reach."""
    c, u = study.churn, study.unit
    prov = c.loc[c["provisional"].astype(bool)]
    if prov.empty or prov["lost"].sum() < 1:
        return None
    n = float(prov["lost"].sum())
    labels = [str(p) for p in prov.index]
    return (f"Win back the {fmt.count(n)} customers lapsing now (provisionally lost in "
            f"{_span(labels, u)}: bought in the {u} before and not since)"
            f"{_value(n, per, currency, u)}.")


def _second_period_action(study: CohortStudy, per, currency) -> str | None:
    """Transactions: the repeat buyers the cohorts would have had at the best cohort's
    second-period retention."""
    t, u = study.tables, study.unit
    if 1 not in t.bounded_rates.columns:
        return None
    r1 = t.bounded_rates[1].dropna()
    if len(r1) < 2:
        return None
    best = r1.idxmax()
    gain = float(((r1.max() - r1) * t.sizes.reindex(r1.index)).sum())
    if gain < 1:
        return None
    value = (f", about {fmt.money(gain * per, currency)} at {fmt.money(per, currency)} per "
             f"active customer-{u}" if per is not None else "")
    return (f"Lift repeat buying in the second {u}: had every cohort matched "
            f"{_pretty(best, u)} ({_pct(r1.max())} buying again in their second {u}), "
            f"{fmt.count(gain)} more customers would have come back{value}.")


def _early_tenure_action(study: CohortStudy) -> str | None:
    """Snapshot subscriptions: churn in the first tenure periods against later, and the
    current subscribers in that window."""
    t, c, u = study.tables, study.churn, study.unit
    if t.snapshot is None or len(c) < 4:
        return None
    W = int(min(12, max(1, len(c) // 3)))
    early, late = c.iloc[:W], c.iloc[W:]
    if early["active_start"].sum() <= 0 or late["active_start"].sum() <= 0:
        return None
    r_e = float(early["lost"].sum() / early["active_start"].sum())
    r_l = float(late["lost"].sum() / late["active_start"].sum())
    snap = t.snapshot
    n = float(snap.loc[(~snap["churned"].astype(bool)) & (snap["tenure"] < W),
                       "customers"].sum())
    return (f"Protect subscribers in their first {W} {u}s: they cancel at {_pct(r_e)} per "
            f"{u}, against {_pct(r_l)} afterwards; at that rate about {fmt.count(n * r_e)} "
            f"of the {fmt.count(n)} current subscribers with under {W} {u}s of tenure leave "
            f"in the coming {u}.")


def _churn_action(study: CohortStudy) -> str | None:
    """Any form: the customers the pooled churn rate loses per period, and a tenth of it."""
    cs, c, u, t = study.churn_summary, study.churn, study.unit, study.tables
    if not cs["periods"] or not np.isfinite(cs["rate"]):
        return None
    if t.snapshot is not None:
        snap = t.snapshot
        n = float(snap.loc[~snap["churned"].astype(bool), "customers"].sum())
        base = f"the {fmt.count(n)} current subscribers"
    else:
        n = float(c["active_start"].iloc[-1])
        base = f"the {fmt.count(n)} customers active at the start of {_span([str(c.index[-1])], u)}"
    lost = n * cs["rate"]
    return (f"Cut churn: at {_pct(cs['rate'])} per {u}, about {fmt.count(lost)} of {base} "
            f"are lost each {u}; a tenth less churn keeps about {fmt.count(lost / 10)} more "
            f"per {u}.")


def _confidence(study: CohortStudy) -> str:
    u, c = study.unit, study.churn
    if study.form == "snapshot":
        text = ("Retention and churn by tenure are exact counts from one snapshot (the "
                "Kaplan-Meier estimate; no calendar dates, so customers who joined at "
                "different times are pooled and a change over time cannot be seen).")
    else:
        text = f"Retention and churn figures are exact counts from the data; settled {u}s are final"
        prov = [str(p) for p in c.index[c["provisional"].astype(bool)]]
        text += (f", {_span(prov, u)} provisional (upper bounds that can only fall as data "
                 "arrive)." if prov else ".")
    check = holdout_line(study)
    if check:
        text += (f" Projection: {check[0].lower()}{check[1:]} Its 95 % intervals reach their "
                 "coverage in simulation (test suite); on these data only the error above is "
                 "known.")
    elif study.model is not None:
        text += (f" The projection has no holdout check ({sbg_error_text(study) or 'no periods held out'}): "
                 "treat it as untested.")
    else:
        text += f" No projection: {sbg_error_text(study)}."
    return text


def decision(study: CohortStudy, dq=None, *, currency: str | None = None) -> Decision:
    """The decision box of the cohort-retention report.

    Parameters
    ----------
    study : CohortStudy
    dq : DataQuality or str, optional
        The data-quality record (or the source) of the input: its file name is shown.
    currency : str, optional
        Currency symbol or code of the amounts (transactions with revenue).

    Returns
    -------
    Decision
        ``findings``: who the cohorts are, retention at k = 1 and k = 3, the pooled churn
        rate, the newest-vs-oldest trend or the projection (at most four); ``actions``:
        transactions: win back the lapsing customers, lift second-period repeat buying
        (customers and revenue at stake); subscriptions: protect early tenure, cut churn.
    """
    first = acquisition_line(study)
    retention = _retention_finding(study)
    findings = [f"{first} {retention}" if retention else first]
    findings += [x for x in (_churn_finding(study), cohort_trend(study),
                             _projection_finding(study)) if x][:3]
    if study.form == "transactions":
        per = revenue_per_active(study)
        actions = [_win_back_action(study, per, currency),
                   _second_period_action(study, per, currency)]
    else:
        actions = [_early_tenure_action(study)]
    actions = [a for a in actions if a]
    if len(actions) < 2:
        actions += [a for a in (_churn_action(study),) if a]
    if not actions:
        actions = ["No action can be valued yet: no settled period of churn has been "
                   "observed; rerun when more data have arrived."]
    return Decision(findings=findings, actions=actions, confidence=_confidence(study),
                    source=source_label(dq) if dq is not None else "the data given",
                    as_of=as_of_text(study))


def lifecycle(study: CohortStudy) -> list[dict]:
    """The study's retention figures for the index page (``metrics["lifecycle"]``)."""
    t, u, cs = study.tables, study.unit, study.churn_summary
    who = (f"all {fmt.count(t.sizes.sum())} subscribers of the snapshot, by tenure"
           if study.form == "snapshot" else
           f"the {len(t.sizes)} {u}ly cohorts {_span([str(x) for x in t.sizes.index], u)} "
           f"({fmt.count(t.sizes.sum())} customers), size-weighted")
    out = []
    for k in (1, LATER_K):
        r = _avg(study, k)
        if r is not None:
            out.append(stage_figure(
                "retention", f"Active {k} {u}{'s' if k != 1 else ''} after acquisition",
                _pct(r), f"share of customers active in {u} k = {k} after the acquisition "
                         f"{u}; {who}"))
    if cs["periods"]:
        where = f"tenure {u}s" if study.form == "snapshot" else f"{u}s"
        out.append(stage_figure(
            "retention", f"Churn rate per {u}", _pct(cs["rate"]),
            f"customers lost / customers active at the start of the {u}, pooled over the "
            f"{len(cs['periods'])} settled {where} {_span(cs['periods'], u)}"))
    return out

