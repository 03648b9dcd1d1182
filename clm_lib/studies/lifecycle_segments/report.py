"""The lifecycle report: every sentence, display table, caption, metric and export of
:class:`~clm_lib.studies.lifecycle_segments.compute.LifecycleStudy`.

Display functions return either text (Markdown) or a *table view*, a dict
``{"df", "caption"[, "float_format"]}`` for :func:`clm_lib.reporting.show_table`;
:func:`show` displays a sequence of them (and figures) in order, skipping ``None``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib.reporting import pseudonymise, show_table
from clm_lib.studies.clv.report import not_fitted_note
from clm_lib.studies.lifecycle_segments.report_actions import (ACTION_TEXT, PLAYBOOK, action_value_note,
                                                             actions_line, quiet_customers_note)
from clm_lib.studies.lifecycle_segments.report_whatif import (WHAT_IF_ASSUMPTIONS, what_if_line,
                                                             what_if_note)
from clm_lib.studies.lifecycle_segments.rfm import (QUIET_P_ALIVE, SEGMENT_ACTIONS, recency_cuts,
                                                   score_ranges)
from clm_lib.studies.lifecycle_segments.stages import ACTIVE_STAGES, STAGES, Thresholds

__all__ = [
    "ACTION_TEXT", "action_value_note", "quiet_customers_note", "actions_line", "reactivation_note", "actions_view", "actions_export", "PLAYBOOK", "SEGMENT_RULES", "STAGE_RULES", "NO_LEADS", "show", "percent_columns",
    "threshold_sources", "thresholds_dict", "thresholds_table", "rule_table",
    "summary_lines", "model_note", "what_if_note", "what_if_line", "WHAT_IF_ASSUMPTIONS", "quality_notes", "thresholds_view",
    "stage_view", "stage_value_note", "stage_segments_view", "flows_figure",
    "transitions_figure", "flows_view", "rules_view", "segments_view", "second_purchase_note",
    "score_rules_note", "score_ranges_view", "new_segment_note", "ladder_view", "reactivation_view", "what_if_parts", "leads_view", "method_values_note",
    "purchase_model_note",
    "lifecycle_metrics", "customer_export", "transitions_export", "segments_export",
]

#: (segment, rule in words), in the order :func:`~.rfm.assign_segments` evaluates them.
SEGMENT_RULES = (
    ("new", "first purchase within the new threshold (the stage 'new')"),
    ("champions", "R ≥ 4 and F ≥ 4"),
    ("loyal", "R ≥ 4 and F = 3"),
    ("potential loyalists", "R ≥ 4 and F ≤ 2"),
    ("can't lose", "R = 2–3 and F ≥ 4 and M ≥ 4"),
    ("at risk", "R = 3"),
    ("hibernating", "R = 2"),
    ("lost", "R = 1"),
)

#: The stage rules in words (first match wins).
STAGE_RULES = (
    "Stage rules, first match wins: **lapsed** no purchase for more than the lapsed threshold; "
    "**new** first purchase within the new threshold; **reactivated** bought again after a gap "
    "longer than the lapsed threshold, within the new threshold; **at risk** no purchase for "
    "more than the at-risk threshold; **loyal/VIP** 2+ purchase days with purchase days and "
    "spend both in the top 20 % of repeat customers; **active repeat** 2+ purchase days; "
    "**one-time buyer** the rest.")

NO_LEADS = ("No leads table was given (parameter `leads`), so reach and conversion cannot be "
            "measured from a transaction log.")


# ---- display -----------------------------------------------------------------------------
def _unit(currency: str | None) -> str:
    """`` ($)`` after a label, or nothing when the currency is not known."""
    return f" ({currency})" if currency else ""


def show(*parts) -> None:
    """Display ``parts`` in order: text as Markdown, a table view with
    :func:`~clm_lib.reporting.show_table`, a Matplotlib figure or Axes as its figure (then
    closed), lists one by one, anything else with ``display``; ``None`` is skipped."""
    from IPython.display import Markdown, display
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    for part in parts:
        if part is None:
            continue
        if isinstance(part, (list, tuple)):
            show(*part)
        elif isinstance(part, str):
            display(Markdown(part))
        elif isinstance(part, dict):
            show_table(**part)
        elif isinstance(part, (Axes, Figure)):
            import matplotlib.pyplot as plt

            fig = part.figure if isinstance(part, Axes) else part
            display(fig)
            plt.close(fig)
        else:
            display(part)


def percent_columns(df: pd.DataFrame, columns, digits: int = 1) -> pd.DataFrame:
    """Display copy of ``df`` with ``columns`` (fractions) written as percentages and integer
    columns with thousands separators."""
    out = df.copy()
    for c in columns:
        if c in out:
            out[c] = [("–" if pd.isna(v) else f"{v * 100:.{digits}f}%") for v in out[c]]
    for c in out.columns:
        if c not in columns and pd.api.types.is_integer_dtype(out[c]):
            out[c] = [f"{v:,}" for v in out[c]]
    return out


def _value_label(study, currency: str) -> str:
    return f"expected value, next {study.horizon} {study.time_unit}s{_unit(currency)}"


# ---- thresholds and rules ----------------------------------------------------------------
def threshold_sources(th: Thresholds) -> dict:
    """Where each threshold comes from, in words ("parameter" or the gap quantile)."""
    out = {}
    for name in ("new_days", "at_risk_days", "lapsed_days"):
        q = th.quantiles.get(name)
        out[name] = ("parameter" if q is None
                     else f"{q:.0%} quantile of {th.n_gaps:,} inter-purchase gaps")
    if th.capped:
        out["at_risk_days"] += f", capped at lapsed_days ({th.lapsed_days})"
    return out


def thresholds_dict(th: Thresholds) -> dict:
    """The thresholds for ``metrics.json``."""
    return {"new_days": th.new_days, "at_risk_days": th.at_risk_days,
            "lapsed_days": th.lapsed_days, "vip_quantile": th.vip_quantile,
            "source": threshold_sources(th)}


def thresholds_table(th: Thresholds) -> pd.DataFrame:
    """Display table: threshold, days, origin."""
    src = threshold_sources(th)
    rows = [("new: first purchase within", f"{th.new_days} days", src["new_days"]),
            ("at risk: no purchase for more than", f"{th.at_risk_days} days", src["at_risk_days"]),
            ("lapsed: no purchase for more than", f"{th.lapsed_days} days", src["lapsed_days"]),
            ("reactivated: bought again after lapsing, within", f"{th.new_days} days",
             "same as new"),
            ("loyal/VIP: purchase days and spend both in the top", f"{1 - th.vip_quantile:.0%}",
             "of repeat customers (parameter)")]
    return pd.DataFrame(rows, columns=["rule", "threshold", "origin"]).set_index("rule")


def rule_table() -> pd.DataFrame:
    """The segment rules and playbook as a display table: the action at or above the
    action value and the one below it."""
    rows = [(s, r, ACTION_TEXT[SEGMENT_ACTIONS[s][0]],
             ACTION_TEXT[SEGMENT_ACTIONS[s][1]] if SEGMENT_ACTIONS[s][1] != SEGMENT_ACTIONS[s][0]
             else "(same)") for s, r in SEGMENT_RULES]
    return pd.DataFrame(rows, columns=["segment", "rule (scores 1–5)",
                                       "action, expected value ≥ action value",
                                       "action, below it"]).set_index("segment")


def score_rules_note(th: Thresholds) -> str:
    """How the R, F and M scores are given, with the recency cut-offs in days."""
    c5, c4, c3, c2 = recency_cuts(th)
    return (f"**Scores.** R (recency) on the stage thresholds, in days since the last purchase: "
            f"5 = within {c5} days, 4 = within {c4} (active), 3 = within {c3} (at risk), "
            f"2 = within {c2} (lapsed), 1 = longer ago (lapsed more than twice the lapsed "
            "threshold). So R means the same number of days whatever the rest of the base does, "
            "and a lapsed customer can never be a champion. F (purchase days) and M (spend to "
            "date) are quantile groups of the distinct values: score k ends at the first value "
            "where the cumulative share of customers reaches k/5, tied customers share a score and "
            "every score is used when there are five distinct values (the table below gives the "
            "values behind each score).")


# ---- sentences ---------------------------------------------------------------------------
def model_note(study) -> str:
    """Which value models were not fitted and why ("" when both were fitted)."""
    return not_fitted_note(study.model_errors)


def quality_notes(study) -> list[str]:
    """Data-quality notes of the study: leads and model rows it left out."""
    notes = []
    if study.leads_table is not None:
        notes += [f"Leads: {n:,} excluded ({reason})."
                  for reason, n in study.leads_table.attrs.get("dropped", {}).items() if n]
    notes += [f"Models: {n:,} excluded ({reason})." for reason, n in study.model_dropped.items()]
    return notes


def summary_lines(study, currency: str = "$") -> list[str]:
    """Plain-language summary computed from the study."""
    s = study.stage_summary
    n = int(s["customers"].sum())
    th = study.thresholds
    top_stage = s["customers"].idxmax()
    active = s.loc[list(ACTIVE_STAGES)]
    seg = study.segments
    champs = seg.loc["champions"]
    lad = study.ladder["p_next"]
    f = study.flows
    valued = "clv_share" in s
    lines = [
        f"{n:,} customers at {study.as_of}: {s.loc['lapsed', 'customer_share']:.0%} lapsed "
        f"(no purchase for more than {th.lapsed_days} days), {s.loc['at risk', 'customer_share']:.0%} at risk, "
        f"{active['customers'].sum() / n:.0%} active; the largest stage is '{top_stage}'.",
    ]
    if valued:
        risk_share = seg.loc[["at risk", "can't lose"], "clv_share"].sum()
        lines += [
            f"Loyal/VIP customers are {s.loc['loyal/VIP', 'customer_share']:.1%} of customers, brought "
            f"{s.loc['loyal/VIP', 'revenue_share']:.0%} of revenue to date and hold "
            f"{s.loc['loyal/VIP', 'clv_share']:.0%} of the expected value of the next {study.horizon} {study.time_unit}s.",
            f"RFM champions: {int(champs['customers']):,} customers ({champs['customer_share']:.1%}) with "
            f"{champs['revenue_share']:.0%} of revenue and {champs['clv_share']:.0%} of expected value; "
            f"'at risk' and 'can't lose' together hold {risk_share:.1%} of expected value.",
        ]
        if study.action_value is not None:
            lines.append(actions_line(study, currency))
    else:
        lines += [
            f"Loyal/VIP customers are {s.loc['loyal/VIP', 'customer_share']:.1%} of customers and brought "
            f"{s.loc['loyal/VIP', 'revenue_share']:.0%} of revenue to date; RFM champions are "
            f"{int(champs['customers']):,} customers ({champs['customer_share']:.1%}) with "
            f"{champs['revenue_share']:.0%} of revenue.",
            "Expected value and the churn what-if are not available: " + model_note(study),
        ]
    if len(lad):
        lines.append(f"Only {lad.iloc[0]:.0%} of customers made a second purchase day"
                     + (f"; after two, {lad.iloc[1]:.0%} made a third" if len(lad) > 1 else "")
                     + ": the first repeat is the biggest drop-off.")
    acquired = (f"{f['newly acquired']:,} customers acquired, {f['new became repeat']:,} new customers "
                "became repeat buyers" if f["newly acquired"] or f["new became repeat"]
                else "no customers were acquired")
    lines.append(f"Between {study.flow_start} and {study.as_of}: {acquired}, "
                 f"{f['active became at risk or lapsed']:,} active ones became at risk or lapsed, "
                 f"{f['lapsed were reactivated']:,} lapsed ones were reactivated.")
    w = study.what_if.dropna(subset=["value"]) if study.what_if is not None else pd.DataFrame()
    w = w.loc[w.index > 0]
    if len(w):
        lines.append(what_if_line(study, currency))
    if study.leads_table is not None:
        a = study.leads_table.loc["All"]
        lines.append(f"Leads: {int(a['leads']):,}, of which {a['conversion_rate']:.0%} converted by {study.as_of}.")
    return lines


def reactivation_note(study) -> str:
    """How (not) to read the reactivation comparison."""
    return ("**Selection, not effect.** Reactivated customers are a selected group: they are "
            "proven repeat buyers who came back of their own accord, while new customers include "
            "every one-time buyer. A higher repurchase rate or spend after reactivation therefore "
            "describes who comes back; it is not evidence that win-back campaigns would cause "
            "lapsed customers to return or to be worth as much (no campaign is compared here; "
            "that needs a test with a held-out control group).")


def second_purchase_note(study) -> str:
    """The median time to a second purchase day, in words."""
    med = study.second_purchase_km.median_survival_time_
    return "Median time to a second purchase: " + (
        f"{med:.0f} {study.time_unit}s." if med != float("inf")
        else "not reached (fewer than half of first-time buyers have come back).")


def purchase_model_note(study) -> str:
    """Which purchase model gives P(alive) and expected purchases, and why."""
    if study.model is None:
        return model_note(study)
    if study.model_fallback is None:
        return ("P(alive) and expected purchases come from the MBG/NBD (Batislam, Denizel & "
                "Filiztekin 2007): as in the BG/NBD a customer may stop after each repeat "
                "purchase, and in addition right after her first, so a one-time buyer silent "
                "for a long time is not certainly alive (the BG/NBD would give her P(alive) = 1).")
    return ("P(alive) and expected purchases come from the BG/NBD because the MBG/NBD "
            f"{study.model_fallback}; under the BG/NBD a customer with no repeat purchase has "
            "P(alive) = 1 however long she has been silent, so P(alive) of one-time buyers "
            "says nothing here.")


def method_values_note(study) -> str:
    """The thresholds, the purchase model and its parameters (or why the models were not
    fitted)."""
    th = study.thresholds
    return (f"Thresholds used: new {th.new_days} days, at risk {th.at_risk_days} days, "
            f"lapsed {th.lapsed_days} days. " + purchase_model_note(study)
            + (f" {study.model.label} parameters ({study.time_unit}s): "
               + ", ".join(f"{k} = {v:.3g}" for k, v in study.model.params_.items()) + "."
               if study.model is not None else ""))


# ---- table views -------------------------------------------------------------------------
def thresholds_view(study) -> dict:
    """The stage thresholds and where they come from."""
    return {"df": thresholds_table(study.thresholds), "float_format": "{:,.2f}",
            "caption": "Stage rules: thresholds (days) and where they come from"}


def stage_view(study, currency: str = "$") -> dict:
    """Customers, revenue and expected value by stage."""
    tab = study.stage_summary.rename(columns={
        "revenue": f"revenue to date{_unit(currency)}", "customer_share": "share of customers",
        "revenue_share": "share of revenue", "clv": _value_label(study, currency),
        "clv_share": "share of expected value"})
    return {"df": percent_columns(tab, ["share of customers", "share of revenue",
                                        "share of expected value"]),
            "caption": f"Customers, revenue and expected value by stage at {study.as_of}"}


def stage_value_note(study) -> str | None:
    """Why expected value is not shown (None when it is)."""
    return "Expected value is not shown: " + model_note(study) if study.model_errors else None


def stage_segments_view(study) -> dict | None:
    """Stages by segment at acquisition (None without a segment)."""
    if study.stage_segments is None:
        return None
    return {"df": percent_columns(study.stage_segments, list(STAGES)),
            "caption": f"Stages by {study.segment} (at each customer's first purchase): "
                       "share of the segment's customers"}


def flows_figure(study) -> dict:
    """Labels and title of the flow chart."""
    return {"start_label": study.flow_start, "end_label": study.as_of,
            "title": f"Customer flows between stages, {study.flow_start} to {study.as_of}"}


def transitions_figure(study) -> dict:
    """Title of the transition heatmap."""
    return {"title": f"Stage transitions, {study.flow_start} → {study.as_of} (customers)"}


def flows_view(study) -> dict:
    """The headline flows between the two dates."""
    return {"df": percent_columns(pd.Series(study.flows, name="customers").to_frame(), []),
            "caption": f"Headline flows, {study.flow_start} → {study.as_of} (customers)"}


def rules_view() -> dict:
    """The segment rules and recommended actions."""
    return {"df": rule_table(),
            "caption": "Segment rules (R, F, M scores 1–5) and recommended action (customers of the "
                       f"active segments with P(alive) below {QUIET_P_ALIVE:.0%} get the actions of "
                       "'at risk')"}


def segments_view(study, currency: str = "$") -> dict:
    """Customers, revenue and expected value by RFM segment."""
    seg = study.segments.rename(columns={
        "customer_share": "share of customers", "revenue": f"revenue to date{_unit(currency)}",
        "revenue_share": "share of revenue", "clv": _value_label(study, currency),
        "clv_share": "share of expected value", "mean_recency_days": "mean days since last purchase",
        "mean_frequency": "mean purchase days", "mean_p_alive": "mean P(alive)"})
    return {"df": percent_columns(seg, ["share of customers", "share of revenue",
                                        "share of expected value", "mean P(alive)"]),
            "caption": f"RFM segments at {study.as_of}"}


def score_ranges_view(study, currency: str = "$") -> dict:
    """Customers and the values behind each R, F and M score."""
    t = score_ranges(study.rfm)
    t.columns = pd.MultiIndex.from_tuples(
        [({"R": "R: days since last purchase", "F": "F: purchase days",
           "M": f"M: spend to date{_unit(currency)}"}[a], b) for a, b in t.columns])
    return {"df": t, "float_format": "{:,.0f}",
            "caption": "Customers and range of values per score (a score no customer has is empty)"}


def new_segment_note(study) -> str | None:
    """Why the segment 'new' is empty (None when it is not)."""
    if int(study.segments.loc["new", "customers"]) > 0:
        return None
    return (f"No customer is 'new': nobody made a first purchase in the {study.thresholds.new_days} "
            f"days to {study.as_of} (the last first purchase was on "
            f"{study.stages['first_purchase'].max().date()}).")


def actions_view(study, currency: str = "$") -> dict:
    """Customers and expected value at stake per recommended action."""
    t = study.actions.copy()
    t.insert(0, "action", [ACTION_TEXT[a] for a in t.index])
    t.index = t.index.astype(str)
    t = t.rename(columns={"clv": f"{_value_label(study, currency)}, total",
                          "clv_share": "share of expected value",
                          "mean_clv": f"mean per customer{_unit(currency)}",
                          "min_clv": f"lowest{_unit(currency)}", "max_clv": f"highest{_unit(currency)}"})
    return {"df": percent_columns(t, ["share of expected value"]), "float_format": "{:,.2f}",
            "caption": "Recommended actions: customers and expected value at stake"}


def ladder_view(study) -> dict:
    """The repeat ladder."""
    lad = study.ladder.rename(columns={"reached_k": "customers with ≥ k purchase days",
                                       "reached_k_plus_1": "with ≥ k+1", "p_next": "P(k+1 | k)"})
    return {"df": percent_columns(lad, ["P(k+1 | k)"]),
            "caption": "Repeat ladder (purchase days up to as_of)"}


def reactivation_view(study, currency: str = "$") -> dict:
    """Reactivated vs new customers after their start."""
    r = study.reactivation.rename(columns={
        "repurchase_rate": "bought again in window",
        "purchase_days_per_customer": "purchase days per customer in window",
        "spend_per_customer": f"spend per customer in window{_unit(currency)}",
        "start_spend": f"spend on the start day{_unit(currency)}", "window_days": "window (days)"})
    return {"df": percent_columns(r, ["bought again in window"]),
            "caption": "Behaviour after the start (first purchase, or first purchase after "
                       "lapsing), per customer"}


def what_if_parts(study, currency: str = "$") -> list:
    """The what-if table (both assumptions, the shown one first, with intervals) and its
    assumptions (or why it is missing)."""
    if study.what_if is None:
        return [model_note(study)]
    w = study.what_if
    shown = w.attrs["shown"]
    order = [shown] + [a for a in ("absolute", "proportional") if a != shown]
    level = w.attrs.get("level", 0.9)
    cols = {}
    for a in order:
        name = f"{a} cut{' (shown)' if a == shown else ''}"
        cols[(name, "mean dropout")] = [("–" if pd.isna(v) else f"{v:.2%}") for v in w[f"mean_dropout_{a}"]]
        cols[(name, f"value change{_unit(currency)}")] = [
            ("–" if pd.isna(v) else f"{v:,.0f}") for v in w[f"value_change_{a}"]]
        cols[(name, "change (%)")] = [("–" if pd.isna(v) else f"{v:+.2%}") for v in w[f"value_change_pct_{a}"]]
        if f"value_change_pct_{a}_lower" in w:
            cols[(name, f"{level:.0%} interval (%)")] = [
                ("–" if pd.isna(lo) else f"{lo:+.2%} to {hi:+.2%}")
                for lo, hi in zip(w[f"value_change_pct_{a}_lower"], w[f"value_change_pct_{a}_upper"])]
    t = pd.DataFrame(cols, index=[f"{p:g}" for p in w.index])
    t.columns = pd.MultiIndex.from_tuples(t.columns)
    t.index.name = "churn reduction (points)"
    base = w.loc[0.0, "value"]
    return [{"df": t, "caption": f"Customer-base value by churn reduction under both readings (0 = as "
                                 f"fitted: {currency or ''}{base:,.0f} over the next {study.horizon} "
                                 f"{study.time_unit}s)"},
            "**Assumptions:** " + what_if_note(w, study.time_unit, study.value_basis)]


def leads_view(study):
    """Leads by source (or why there are none)."""
    if study.leads_table is None:
        return NO_LEADS
    t = study.leads_table.rename(columns={"conversion_rate": "conversion rate",
                                          "median_time_to_conversion": "median days to conversion (KM)"})
    return {"df": percent_columns(t, ["conversion rate"]), "caption": "Leads by source"}


# ---- metrics and exports -----------------------------------------------------------------
def lifecycle_metrics(study, currency: str = "$", *, data_quality=None,
                      leads_data_quality=None) -> dict:
    """``metrics.json`` content; with ``data_quality`` (a DataQuality) its record under
    ``data_quality`` and that of the leads (or None) under ``leads_data_quality``."""
    s = study.stage_summary
    seg = study.segments
    w = study.what_if if study.what_if is not None else pd.DataFrame(
        {"value": [], "value_change": [], "value_change_pct": []})
    trans = {str(a): {str(b): int(v) for b, v in row.items()} for a, row in study.transitions.iterrows()}
    wi = {f"{p:g}": (None if pd.isna(w.loc[p, "value_change"]) else float(w.loc[p, "value_change"]))
          for p in w.index if p > 0}
    head = {
        "Customers lapsed / active": f"{s.loc['lapsed', 'customer_share']:.0%} / "
                                     f"{s.loc[list(ACTIVE_STAGES), 'customer_share'].sum():.0%}",
    }
    if "clv_share" in seg:
        head["Champions: customers / value share"] = \
            f"{seg.loc['champions', 'customer_share']:.1%} / {seg.loc['champions', 'clv_share']:.0%}"
    else:
        head["Customer value"] = "not fitted"
    if len(study.ladder):
        head["P(2nd purchase | 1st)"] = f"{study.ladder['p_next'].iloc[0]:.0%}"
    valid = w.loc[w.index > 0].dropna(subset=["value"])
    if len(valid):
        x = valid.index[0]
        head[f"Value of {x:g} pt less churn ({study.horizon} {study.time_unit}s, "
             f"{w.attrs['shown']} cut)"] = \
            f"{currency or ''}{valid.loc[x, 'value_change']:,.0f} ({valid.loc[x, 'value_change_pct']:+.1%})"
    out = {
        "as_of": study.as_of, "as_of_source": study.as_of_source, "flow_start": study.flow_start,
        "time_unit": study.time_unit, "margin": study.margin, "value_basis": study.value_basis,
        "currency": currency or None,
        "horizon": study.horizon, "thresholds": thresholds_dict(study.thresholds),
        "stage_counts": {str(k): int(v) for k, v in s["customers"].items()},
        "stage_revenue_share": {str(k): float(v) for k, v in s["revenue_share"].items()},
        "transitions": trans, "flows": study.flows,
        "rfm_segments": {str(k): {"customers": int(r["customers"]), "revenue_share": float(r["revenue_share"]),
                                  "clv_share": float(r["clv_share"]) if "clv_share" in r else None}
                         for k, r in seg.iterrows()},
        "ladder": [float(v) for v in study.ladder["p_next"]],
        "time_to_second_purchase_median": float(study.second_purchase_km.median_survival_time_),
        "reactivation": study.reactivation.reset_index().to_dict(orient="records"),
        "actions": {str(a): {"customers": int(r["customers"]),
                             "clv": float(r["clv"]) if "clv" in r else None}
                    for a, r in study.actions.iterrows()},
        "action_value": study.action_value, "action_value_source": study.action_value_source,
        "what_if": wi,
        "what_if_assumption": w.attrs.get("shown"),
        "what_if_by_assumption": {
            a: {f"{p:g}": {k: (None if pd.isna(w.loc[p, c]) else float(w.loc[p, c]))
                           for k, c in (("value_change", f"value_change_{a}"),
                                        ("value_change_pct", f"value_change_pct_{a}"),
                                        ("pct_lower", f"value_change_pct_{a}_lower"),
                                        ("pct_upper", f"value_change_pct_{a}_upper"))
                           if c in w}
                for p in w.index if p > 0}
            for a in ("absolute", "proportional") if f"value_{a}" in w},
        "what_if_intervals": w.attrs.get("intervals"),
        "what_if_interval_level": w.attrs.get("level"),
        "what_if_baseline_value": float(w.loc[0.0, "value"]) if 0.0 in w.index else None,
        "what_if_baseline_mean_dropout": (float(w.attrs["baseline_mean_dropout"])
                                          if "baseline_mean_dropout" in w.attrs else None),
        "purchase_model": study.model.label if study.model is not None else None,
        "purchase_model_params": ({k: float(v) for k, v in study.model.params_.items()}
                                  if study.model is not None else None),
        "purchase_model_fallback": study.model_fallback,
        # kept for readers of earlier metrics: set only when the BG/NBD is the model used
        "bgnbd_params": ({k: float(v) for k, v in study.model.params_.items()}
                         if study.model is not None and study.model.name == "bgnbd" else None),
        "model_errors": study.model_errors,
        "headline": head,
    }
    if study.leads_table is not None:
        out["leads"] = study.leads_table.reset_index().to_dict(orient="records")
    if data_quality is not None:
        out["data_quality"] = data_quality.to_dict()
        out["leads_data_quality"] = (leads_data_quality.to_dict()
                                     if leads_data_quality is not None else None)
    return out


def customer_export(study) -> pd.DataFrame:
    """CRM export: pseudonymised customer, stage, R/F/M scores, segment, CLV, P(alive),
    action (key) and recommended action in words, which depends on the segment and on the
    customer's expected value (raw ids never leave)."""
    r = study.rfm
    v = (study.values.reindex(r.index) if study.values is not None
         else pd.DataFrame({"clv": np.nan, "p_alive": np.nan}, index=r.index))
    customer = pseudonymise(pd.Series(r.index, dtype="string")).to_numpy(dtype=str)
    out = pd.DataFrame({
        "customer": customer.astype(object),
        "stage": study.stages["stage"].reindex(r.index).astype(str).to_numpy(),
        "recency_days": r["recency_days"].to_numpy(), "frequency": r["frequency"].to_numpy(),
        "monetary": r["monetary"].to_numpy(), "R": r["R"].to_numpy(), "F": r["F"].to_numpy(),
        "M": r["M"].to_numpy(), "segment": r["segment"].astype(str).to_numpy(),
        "clv": v["clv"].to_numpy(), "p_alive": v["p_alive"].to_numpy(),
        "action": r["action"].astype(str).to_numpy(),
        "recommended_action": r["action"].astype(str).map(ACTION_TEXT).astype(object).to_numpy(),
    })
    if "segment_value" in r:
        out["customer_segment"] = r["segment_value"].astype("string").to_numpy()
    # highest value first, ties by pseudonym; NaN last (np.lexsort on fixed-width text is
    # several times faster than a DataFrame sort on an object column of a million ids)
    order = np.lexsort((customer, -out["clv"].to_numpy(dtype=float)))
    return out.take(order).reset_index(drop=True)


def transitions_export(study) -> pd.DataFrame:
    """The transition matrix with its ``from`` column."""
    return study.transitions.reset_index()


def actions_export(study) -> pd.DataFrame:
    """Customers and expected value at stake per action, with the action in words and the
    action value used."""
    t = study.actions.assign(recommended_action=[ACTION_TEXT[a] for a in study.actions.index],
                             action_value=study.action_value)
    t.index = t.index.astype(str)
    return t.reset_index()


def segments_export(study) -> pd.DataFrame:
    """The segment table with the recommended action(s) of each segment and the action
    value (currency) that splits them."""
    t = study.segments.assign(action=[PLAYBOOK[s] for s in study.segments.index],
                              action_value=study.action_value)
    return t.reset_index()

