"""The decision box and the index-page figures of the lifecycle report (re-exported by
:mod:`.report`): what matters, what to do with which customers and how much value is at
stake, and how sure we are, all computed from a
:class:`~clm_lib.studies.lifecycle_segments.compute.LifecycleStudy`.
"""
from __future__ import annotations

import pandas as pd

from clm_lib import format as fmt
from clm_lib.reporting import Decision, as_of_label, source_label, stage_figure
from clm_lib.studies.clv.report import not_fitted_note
from clm_lib.studies.lifecycle_segments.report_leads import funnel_finding, interval_text
from clm_lib.studies.lifecycle_segments.rfm import ACTIVE_SEGMENTS, QUIET_P_ALIVE, SEGMENT_ACTIONS
from clm_lib.studies.lifecycle_segments.stages import ACTIVE_STAGES

__all__ = ["ACTION_VERBS", "DECISION_ACTIONS", "decision", "lifecycle_figures", "as_of_text",
           "action_groups"]

#: The start of each action's sentence in the decision box ("... the 59 customers in
#: 'can't lose' ..."); the full wording per action is :data:`.report_actions.ACTION_TEXT`.
ACTION_VERBS = {
    "personal outreach": "Call or make a tailored offer to",
    "win-back offer": "Send a time-limited win-back offer to",
    "reward": "Reward and involve (early access, referrals, no discount)",
    "keep close": "Keep close (loyalty benefits, cross-sell)",
    "build the habit": "Build the habit (membership offer, recommendations) of",
    "onboard": "Onboard (welcome series, second-purchase incentive)",
    "automated reminder": "Send an automated reminder, no discount, to",
    "low-cost reactivation": "Reactivate at low cost (content, seasonal offers)",
    "suppress": "Stop paid campaigns to",
}

#: The actions the decision box names, dearest first: the costly ones (a call, an offer) and
#: the most valuable group to keep; with the what-if, four lines a reader takes in at once
#: (the spend to stop and the low-cost actions are in the actions table and export).
DECISION_ACTIONS = ("personal outreach", "win-back offer", "reward")
#: The actions given only to customers worth at least the action value.
COSTLY = tuple(sorted({hi for hi, lo in SEGMENT_ACTIONS.values() if hi != lo}))


def as_of_text(study) -> str:
    """``1998-06-30 (the last date in the data)`` or ``... (as given)``."""
    return as_of_label(study.as_of, study.as_of_source)


def _value_words(study) -> str:
    """``expected discounted margin over the next 52 weeks``."""
    return f"expected discounted {study.value_basis} over the next {study.horizon} {study.time_unit}s"


def _and(words: list[str]) -> str:
    """``'a'``, ``'a' and 'b'``, ``'a', 'b' and 'c'``."""
    return " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words)


def action_groups(study) -> pd.DataFrame:
    """Per action: the segments its customers are in (largest first, as text) and their
    mean P(alive) (NaN without customer values); indexed like ``study.actions``."""
    r = study.rfm
    act = r["action"].astype(str)
    seg = r["segment"].astype(str)
    # an active-segment customer with the actions of 'at risk' was held quiet by P(alive):
    # name her so, or the box would send win-back offers to "champions" without a reason
    quiet = seg.isin(ACTIVE_SEGMENTS) & act.isin(SEGMENT_ACTIONS["at risk"])
    label = seg.where(~quiet, "quiet " + seg)
    names = {a: _and([f"'{s[6:]}' (P(alive) below {fmt.percent(QUIET_P_ALIVE, 0)})"
                      if s.startswith("quiet ") else f"'{s}'"
                      for s in label[act == a].value_counts().index])
             for a in study.actions.index.astype(str)}
    p = (study.values["p_alive"].reindex(r.index).groupby(act).mean()
         if study.values is not None else pd.Series(dtype=float))
    out = pd.DataFrame({"segments": pd.Series(names)})
    out["mean_p_alive"] = p.reindex(out.index)
    return out


def _action_line(study, key: str, groups: pd.DataFrame, currency) -> str | None:
    a = study.actions
    if key not in a.index or int(a.loc[key, "customers"]) == 0:
        return None
    n = int(a.loc[key, "customers"])
    seg = groups.loc[key, "segments"]
    who = f"{ACTION_VERBS[key]} the {fmt.count(n)} customer{'s' if n != 1 else ''} in {seg}"
    if key in COSTLY and study.action_value is not None:
        who += f" worth at least {fmt.money(study.action_value, currency)} each"
    if "clv" not in a:
        return who + " (their value is not estimated)."
    p = groups.loc[key, "mean_p_alive"]
    alive = f"; mean P(alive) {fmt.percent(p, 0)}" if not fmt.is_missing(p) else ""
    value = f"{fmt.money(a.loc[key, 'clv'], currency)} ({fmt.percent(a.loc[key, 'clv_share'])})"
    if key == "suppress":
        return f"{who}: they hold only {value} of the expected value{alive}."
    return f"{who}: {value} of the expected value at stake{alive}."


def _what_if_action(study, currency) -> str | None:
    w = study.what_if
    if w is None:
        return None
    ok = w.loc[(w.index > 0) & w["value"].notna()]
    if not len(ok):
        return None
    x = ok.index[0]
    lo = w.get("value_change_lower")
    interval = ""
    if lo is not None and not fmt.is_missing(lo.loc[x]):
        interval = (f", {fmt.percent(w.attrs.get('level', 0.9), 0)} parameter interval "
                    f"{fmt.money(lo.loc[x], currency)} to {fmt.money(w['value_change_upper'].loc[x], currency)}")
    return (f"Spend at most {fmt.money(w.loc[x, 'value_change'], currency)} on a retention programme "
            f"that lowers churn by {x:g} point{'s' if x != 1 else ''} ({w.attrs['shown']} cut): that is "
            f"what it would add over the next {study.horizon} {study.time_unit}s ({fmt.percent(w.loc[x, 'value_change_pct'], 2, signed=True)}{interval}).")


def decision(study, data_quality=None, currency: str | None = "$") -> Decision:
    """The decision box: three or four findings, the recommended actions with the
    customers and value at stake, how sure we are, the source and the date.

    Parameters
    ----------
    study : LifecycleStudy
    data_quality : DataQuality, optional
        The transactions' record (for the source file name); the leads file is added when
        leads were given.
    currency : str or None
        Shown with amounts ("$", "EUR"); None for amounts without a unit.
    """
    s = study.stage_summary
    n = int(s["customers"].sum())
    th = study.thresholds
    valued = "clv" in s
    vip = s.loc["loyal/VIP"]
    findings = [
        f"{fmt.count(n)} customers at {study.as_of}: {fmt.percent(s.loc['lapsed', 'customer_share'])} "
        f"lapsed (no purchase for more than {th.lapsed_days} days), "
        f"{fmt.percent(s.loc['at risk', 'customer_share'])} at risk (more than {th.at_risk_days} days), "
        f"{fmt.percent(s.loc[list(ACTIVE_STAGES), 'customer_share'].sum())} active.",
    ]
    vip_def = (f"purchase days and spend both in the top {fmt.percent(1 - th.vip_quantile, 0)} "
               "of repeat customers")
    line = (f"Loyal/VIP customers ({vip_def}) are {fmt.count(vip['customers'])} "
            f"({fmt.percent(vip['customer_share'])} of customers) but brought "
            f"{fmt.percent(vip['revenue_share'])} of revenue to date")
    if valued:
        # the one place the box defines "expected value"; the actions below use the words
        line += (f" and hold {fmt.percent(vip['clv_share'])} of the expected value "
                 f"({fmt.money(vip['clv'], currency)} of the {_value_words(study)}, all customers "
                 f"{fmt.money(s['clv'].sum(), currency)}).")
    else:
        line += "."
    findings.append(line)
    seg = study.segments
    slipping = seg.loc[["can't lose", "at risk"]]
    line = (f"{fmt.count(slipping['customers'].sum())} customers in the segments 'can't lose' and "
            f"'at risk' (bought often or well, now silent for {th.at_risk_days}+ days)")
    if valued:
        line += (f" hold {fmt.money(slipping['clv'].sum(), currency)} "
                 f"({fmt.percent(slipping['clv_share'].sum())}) of the expected value.")
    else:
        line += (f" brought {fmt.percent(slipping['revenue_share'].sum())} of revenue to date; their "
                 "expected value is not estimated.")
    # with leads, the funnel line (reach and conversion, the first stages) leads the box and
    # this one gives way: the actions below name these segments with the value at stake
    if study.leads_funnel is None:
        findings.append(line)
    lad = study.ladder["p_next"]
    if len(lad):
        findings.append(
            f"Only {fmt.percent(lad.iloc[0], 0)} of customers made a second purchase day"
            + (f"; of those, {fmt.percent(lad.iloc[1], 0)} made a third" if len(lad) > 1 else "")
            + ": the first repeat is the biggest drop-off.")
    if study.leads_funnel is not None:
        findings.insert(0, funnel_finding(study))
    groups = action_groups(study)
    actions = [a for a in (_action_line(study, k, groups, currency) for k in DECISION_ACTIONS) if a]
    what_if = _what_if_action(study, currency)
    if what_if:
        actions.append(what_if)
    exact = (f"Stages, segments, flows and the repeat ladder are exact counts of the purchases "
             f"to {study.as_of} (the ladder is a lower bound: recent buyers may still come back).")
    if valued:
        level = study.what_if.attrs.get("level", 0.9) if study.what_if is not None else 0.9
        conf = (f"{exact} Expected values and P(alive) are estimates of the {study.model.label} and "
                f"Gamma-Gamma models fitted on all purchases to {study.as_of}; this study keeps no "
                "holdout, so their error is not measured here (the CLV report checks them on one). "
                "The what-if"
                + (f"'s {fmt.percent(level, 0)} interval covers the models' parameter uncertainty "
                   "only, not the chance in future purchases, nor whether a programme achieves the cut."
                   if study.what_if is not None and study.what_if.attrs.get("intervals")
                   else " has no interval."))
    else:
        conf = f"{exact} Expected values were not estimated: {not_fitted_note(study.model_errors)}"
    sources = [data_quality] if data_quality is not None else []
    if study.leads_quality is not None:
        sources.append(study.leads_quality)
    return Decision(findings=findings, actions=actions, confidence=conf,
                    source=source_label(*sources), as_of=as_of_text(study))


def lifecycle_figures(study, currency: str | None = "$") -> list[dict]:
    """The index page's lifecycle figures: ``loyalty`` (loyal/VIP customers and their
    share of value), ``retention`` (at-risk customers and their value) and, with a leads
    table, ``reach`` (leads), ``acquisition`` (leads converted) and ``conversion`` (the share
    converted within the window, over the complete creation periods)."""
    s = study.stage_summary
    th = study.thresholds
    valued = "clv" in s
    vip, risk = s.loc["loyal/VIP"], s.loc["at risk"]
    share = ("clv_share", "of the " + _value_words(study)) if valued else (
        "revenue_share", "of revenue to date")
    out = [
        stage_figure("loyalty", "Loyal/VIP customers",
                     f"{fmt.percent(vip['customer_share'])} of customers, "
                     f"{fmt.percent(vip[share[0]])} of value",
                     f"{fmt.count(vip['customers'])} customers at {study.as_of} with 2+ purchase days, "
                     f"purchase days and spend both in the top {fmt.percent(1 - th.vip_quantile, 0)} "
                     f"of repeat customers; value = share {share[1]}"),
        stage_figure("retention", "At-risk customers",
                     f"{fmt.count(risk['customers'])} ({fmt.percent(risk['customer_share'])})",
                     f"customers at {study.as_of} with no purchase for {th.at_risk_days} to "
                     f"{th.lapsed_days} days"
                     + (f"; {fmt.money(risk['clv'], currency)} of {_value_words(study)}" if valued
                        else f"; {fmt.money(risk['revenue'], currency)} of revenue to date")),
    ]
    f = study.leads_funnel
    if f is not None:
        a = f.by_source.loc["All"]
        what = "leads" + (f" ({study.leads_note})" if study.leads_note else "")
        first = fmt.date(f.durations["created"].min())
        rate = a["window_rate"]
        out += [
            stage_figure("reach", "Leads", fmt.count(a["leads"]),
                         f"{what} created {first} to {f.as_of}, from "
                         f"{fmt.count(len(f.by_source) - 1)} source(s)"),
            stage_figure("acquisition", "Leads converted", fmt.count(a["converted"]),
                         f"{what} converted by {f.as_of}; "
                         f"{fmt.count(a['window_converted'])} of the "
                         f"{fmt.count(a['window_leads'])} leads created to "
                         f"{f.complete_through or f.as_of} within {f.window_days} days"),
            stage_figure("conversion", f"Leads converted within {f.window_days} days",
                         fmt.percent(rate) if not fmt.is_missing(rate) else "not complete yet",
                         (f"{what} created {first} to {f.complete_through} "
                          f"({interval_text(a['window_rate_lower'], a['window_rate_upper'], f.level)}, Wilson)"
                          if f.complete_through else
                          f"no creation {f.period} has had its {f.window_days} days by {f.as_of}")),
        ]
    return out
