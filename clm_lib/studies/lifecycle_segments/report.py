"""The lifecycle report: every sentence, display table, caption, alt text, metric and
export of :class:`~clm_lib.studies.lifecycle_segments.compute.LifecycleStudy`.

Display functions return either text (a plain sentence, shown escaped), a *table view*, a
dict ``{"df", "caption"[, "formats", "rename", "float_format"]}`` for
:func:`clm_lib.reporting.show_table`, or a *figure view* ``{"figure", "alt"}``;
:func:`show` displays a sequence of them in order, skipping ``None``. The decision box is
in :mod:`.decision`, the exports and their data dictionary in :mod:`.exports`.
"""
from __future__ import annotations

import re

import pandas as pd

from clm_lib import format as fmt
from clm_lib.history import figure
from clm_lib.reporting import show_figure, show_note, show_table
from clm_lib.studies.clv.report import not_fitted_note
from clm_lib.studies.lifecycle_segments.decision import (ACTION_VERBS, action_groups, as_of_text,
                                                        decision, lifecycle_figures)
from clm_lib.studies.lifecycle_segments.exports import (actions_export, customer_export,
                                                       export_columns, segments_export,
                                                       transitions_export)
from clm_lib.studies.lifecycle_segments.report_actions import (ACTION_TEXT, PLAYBOOK, action_value_note,
                                                             quiet_customers_note)
from clm_lib.studies.lifecycle_segments.report_leads import (conversion_alt, conversion_figure,
                                                            funnel_definitions,
                                                            funnel_finding, funnel_metrics,
                                                            funnel_milestones_view, funnel_period_alt,
                                                            funnel_period_view, funnel_reading,
                                                            leads_note_text, leads_quality_notes,
                                                            leads_view)
from clm_lib.studies.lifecycle_segments.report_rules import (NO_LEADS, SEGMENT_RULES, STAGE_RULES, rule_table,
                                                            score_rules_note, threshold_sources,
                                                            thresholds_dict, thresholds_table)
from clm_lib.studies.lifecycle_segments.report_whatif import (WHAT_IF_ASSUMPTIONS, what_if_line,
                                                             what_if_note)
from clm_lib.studies.lifecycle_segments.rfm import QUIET_P_ALIVE, score_ranges
from clm_lib.studies.lifecycle_segments.stages import ACTIVE_STAGES, STAGES

__all__ = [
    "ACTION_TEXT", "ACTION_VERBS", "action_value_note", "quiet_customers_note",
    "reactivation_note", "actions_view", "actions_export", "PLAYBOOK", "SEGMENT_RULES",
    "STAGE_RULES", "NO_LEADS", "show", "threshold_sources", "thresholds_dict",
    "thresholds_table", "rule_table", "decision", "lifecycle_figures", "as_of_text",
    "action_groups", "champions_note", "value_label", "model_note", "what_if_note", "what_if_line",
    "WHAT_IF_ASSUMPTIONS", "quality_notes", "thresholds_view", "stage_view", "stage_value_note",
    "stage_segments_view", "stage_chart_alt", "flows_figure", "flows_alt", "transitions_figure",
    "transitions_alt", "segments_alt", "ladder_alt", "what_if_alt", "conversion_alt",
    "figure_view", "flows_view", "flows_note", "rules_view", "segments_view",
    "second_purchase_note", "score_rules_note", "score_ranges_view", "new_segment_note",
    "ladder_view", "reactivation_view", "what_if_parts", "leads_view", "method_values_note",
    "purchase_model_note", "lifecycle_metrics", "customer_export", "transitions_export",
    "segments_export", "export_columns", "conversion_figure", "funnel_definitions", "funnel_finding", "funnel_metrics",
    "funnel_milestones_view", "funnel_period_alt", "funnel_period_view", "funnel_reading",
    "leads_note_text", "leads_quality_notes",
]
# ---- display -----------------------------------------------------------------------------
def _unit(currency: str | None) -> str:
    """`` ($)`` after a label, or nothing when the currency is not known."""
    return f" ({currency})" if currency else ""


def _plain(text: str) -> str:
    """Report text without its Markdown emphasis (``**x**``, backticks): sentences are shown
    as escaped text, never as Markdown, so that no data value can become markup."""
    return re.sub(r"\*\*|`", "", text)


def figure_view(fig, alt: str) -> dict:
    """A figure (or Axes) with its alt text, for :func:`show`."""
    return {"figure": fig, "alt": alt}


def show(*parts) -> None:
    """Display ``parts`` in order: text as an escaped note, a table view with
    :func:`~clm_lib.reporting.show_table`, a figure view with
    :func:`~clm_lib.reporting.show_figure` (then closed), lists one by one, anything else
    (the data-quality record) with ``display``; ``None`` is skipped. A bare figure is an
    error: every figure needs its alt text."""
    from IPython.display import display
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    for part in parts:
        if part is None:
            continue
        if isinstance(part, (list, tuple)):
            show(*part)
        elif isinstance(part, str):
            show_note(_plain(part))
        elif isinstance(part, dict) and "figure" in part:
            if part["figure"] is not None:
                show_figure(part["figure"], alt=part["alt"])
        elif isinstance(part, dict):
            show_table(**part)
        elif isinstance(part, (Axes, Figure)):
            raise TypeError("show: a figure needs its alt text (use figure_view(fig, alt))")
        else:
            display(part)


def value_label(study, currency: str | None = None) -> str:
    """``expected value, next 52 weeks ($)``."""
    return _value_label(study, currency)


def _value_label(study, currency: str) -> str:
    return f"expected value, next {study.horizon} {study.time_unit}s{_unit(currency)}"


# ---- sentences ---------------------------------------------------------------------------
def model_note(study) -> str:
    """Which value models were not fitted and why ("" when both were fitted)."""
    return not_fitted_note(study.model_errors)


def quality_notes(study) -> list[str]:
    """Data-quality notes of the study: leads and model rows it left out."""
    notes = leads_quality_notes(study)
    notes += [f"Models: {n:,} excluded ({reason})." for reason, n in study.model_dropped.items()]
    return notes


def champions_note(study) -> str:
    """The champions' share of customers, revenue and value (a finding of the RFM section,
    not of the decision box)."""
    seg = study.segments
    champs = seg.loc["champions"]
    line = (f"RFM champions: {fmt.count(champs['customers'])} customers "
            f"({fmt.percent(champs['customer_share'])}) with {fmt.percent(champs['revenue_share'])} "
            "of revenue to date")
    if "clv_share" in seg:
        risk_share = seg.loc[["at risk", "can't lose"], "clv_share"].sum()
        line += (f" and {fmt.percent(champs['clv_share'])} of expected value; 'at risk' and "
                 f"'can't lose' together hold {fmt.percent(risk_share)} of expected value.")
    else:
        line += ". Expected value is not available: " + model_note(study)
    return line


def flows_note(study) -> str:
    """The headline flows between ``flow_start`` and ``as_of`` in one sentence."""
    f = study.flows
    acquired = (f"{fmt.count(f['newly acquired'])} customers acquired, "
                f"{fmt.count(f['new became repeat'])} new customers became repeat buyers"
                if f["newly acquired"] or f["new became repeat"] else "no customers were acquired")
    return (f"Between {study.flow_start} and {study.as_of}: {acquired}, "
            f"{fmt.count(f['active became at risk or lapsed'])} active ones became at risk or "
            f"lapsed, {fmt.count(f['lapsed were reactivated'])} lapsed ones were reactivated.")


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
_MONEY_COLS = ("revenue", "clv", "mean_clv", "min_clv", "max_clv", "spend_per_customer",
               "start_spend")


def _formats(df: pd.DataFrame, currency, **extra) -> dict:
    """Formats of the columns of ``df`` by their names: counts, shares, money."""
    out = {}
    for c in df.columns:
        if c in ("customers", "reached_k", "reached_k_plus_1", "leads", "converted", "window_days"):
            out[c] = "count"
        elif str(c).endswith("_share") or c in ("p_next", "repurchase_rate", "conversion_rate",
                                                "mean_p_alive"):
            out[c] = "percent"
        elif c in _MONEY_COLS:
            out[c] = ("money", currency)
    out.update(extra)
    return out


def thresholds_view(study) -> dict:
    """The stage thresholds and where they come from."""
    return {"df": thresholds_table(study.thresholds),
            "rename": {"rule": "Stage rule", "threshold": "Threshold", "origin": "Where it comes from"},
            "caption": "Stage rules: thresholds (days) and where they come from"}


def stage_view(study, currency: str | None = "$") -> dict:
    """Customers, revenue and expected value by stage."""
    tab = study.stage_summary
    return {"df": tab, "formats": _formats(tab, currency),
            "rename": {"stage": "Stage", "customers": "Customers",
                       "revenue": f"Revenue to date{_unit(currency)}",
                       "customer_share": "Share of customers", "revenue_share": "Share of revenue",
                       "clv": _value_label(study, currency).capitalize(),
                       "clv_share": "Share of expected value"},
            "caption": f"Customers, revenue and expected value by stage at {study.as_of}"}


def stage_value_note(study) -> str | None:
    """Why expected value is not shown (None when it is)."""
    return "Expected value is not shown: " + model_note(study) if study.model_errors else None


def stage_segments_view(study) -> dict | None:
    """Stages by segment at acquisition (None without a segment)."""
    if study.stage_segments is None:
        return None
    t = study.stage_segments
    return {"df": t, "formats": {c: "percent" for c in t.columns if c in STAGES},
            "caption": f"Stages by {study.segment} (at each customer's first purchase): "
                       "share of the segment's customers"}


def stage_chart_alt(study) -> str:
    """Alt text of the stage chart: what it shows and where customers and value sit."""
    s = study.stage_summary
    top = s["customer_share"].idxmax()
    text = (f"Bars of the share of customers, revenue to date and expected value in each "
            f"lifecycle stage at {study.as_of}. Most customers are {top} "
            f"({fmt.percent(s.loc[top, 'customer_share'])})")
    if "clv_share" in s:
        v = s["clv_share"].idxmax()
        text += (f"; the largest share of expected value is in {v} "
                 f"({fmt.percent(s.loc[v, 'clv_share'])}, with {fmt.percent(s.loc[v, 'customer_share'])} "
                 "of customers)")
    return text + "."


def flows_figure(study) -> dict:
    """Labels and title of the flow chart."""
    return {"start_label": study.flow_start, "end_label": study.as_of,
            "title": f"Customer flows between stages, {study.flow_start} to {study.as_of}"}


def _largest_move(study):
    m = study.transitions.copy()
    for st in m.index:
        if st in m.columns:
            m.loc[st, st] = 0
    stacked = m.stack()
    return stacked.idxmax(), int(stacked.max())


def flows_alt(study) -> str:
    """Alt text of the flow chart: its largest move between two stages."""
    (a, b), n = _largest_move(study)
    move = (f" The largest move: {fmt.count(n)} customers from {a} to {b}." if n
            else " No customer changed stage.")
    return (f"Flow chart of customers from their stage at {study.flow_start} (left) to their stage "
            f"at {study.as_of} (right); band height is the number of customers.{move}")


def transitions_figure(study) -> dict:
    """Title of the transition heatmap."""
    return {"title": f"Stage transitions, {study.flow_start} → {study.as_of} (customers)"}


def transitions_alt(study) -> str:
    """Alt text of the transition matrix."""
    m = study.transitions
    stay = sum(int(m.loc[s, s]) for s in m.index if s in m.columns)
    total = int(m.to_numpy().sum())
    return (f"Matrix of customers by stage at {study.flow_start} (rows) and at {study.as_of} "
            f"(columns), coloured by row share; {fmt.count(stay)} of {fmt.count(total)} customers "
            "stayed in their stage.")


def flows_view(study) -> dict:
    """The headline flows between the two dates."""
    t = pd.Series(study.flows, name="customers").to_frame()
    t.index.name = "flow"
    return {"df": t, "formats": {"customers": "count"}, "rename": {"flow": "Flow", "customers": "Customers"},
            "caption": f"Headline flows, {study.flow_start} → {study.as_of} (customers)"}


def rules_view() -> dict:
    """The segment rules and recommended actions."""
    return {"df": rule_table(),
            "rename": {"segment": "Segment", "rule (scores 1–5)": "Rule (scores 1–5)",
                       "action, expected value ≥ action value": "Action, expected value ≥ action value",
                       "action, below it": "Action, below it"},
            "caption": "Segment rules (R, F, M scores 1–5) and recommended action (customers of the "
                       f"active segments with P(alive) below {fmt.percent(QUIET_P_ALIVE, 0)} get the "
                       "actions of 'at risk')"}


def segments_view(study, currency: str | None = "$") -> dict:
    """Customers, revenue and expected value by RFM segment."""
    seg = study.segments
    return {"df": seg,
            "formats": _formats(seg, currency, mean_recency_days=("number", 0),
                                mean_frequency=("number", 1)),
            "rename": {"segment": "Segment", "customers": "Customers",
                       "customer_share": "Share of customers",
                       "revenue": f"Revenue to date{_unit(currency)}", "revenue_share": "Share of revenue",
                       "clv": _value_label(study, currency).capitalize(),
                       "clv_share": "Share of expected value",
                       "mean_recency_days": "Mean days since last purchase",
                       "mean_frequency": "Mean purchase days", "mean_p_alive": "Mean P(alive)"},
            "caption": f"RFM segments at {study.as_of}"}


def segments_alt(study) -> str:
    """Alt text of the segment bars."""
    c = study.segments.loc["champions"]
    text = (f"Bars of the share of customers, revenue to date and expected value in each RFM segment "
            f"at {study.as_of}; champions are {fmt.percent(c['customer_share'])} of customers with "
            f"{fmt.percent(c['revenue_share'])} of revenue")
    if "clv_share" in c:
        text += f" and {fmt.percent(c['clv_share'])} of expected value"
    return text + "."


def score_ranges_view(study, currency: str | None = "$") -> dict:
    """Customers and the values behind each R, F and M score."""
    t = score_ranges(study.rfm)
    names = {"R": "R: days since last purchase", "F": "F: purchase days",
             "M": f"M: spend to date{_unit(currency)}"}
    for (a, b) in list(t.columns):
        if b in ("min", "max") and a == "M":
            t[(a, b)] = [fmt.money(v, currency, 2) for v in t[(a, b)]]
        elif b in ("min", "max", "customers"):
            t[(a, b)] = [fmt.count(v) for v in t[(a, b)]]
    # one header row: the page's sortable tables have one
    t.columns = [f"{names[a]}: {b}" for a, b in t.columns]
    return {"df": t,
            "caption": "Customers and range of values per score (a score no customer has is empty)"}


def new_segment_note(study) -> str | None:
    """Why the segment 'new' is empty (None when it is not)."""
    if int(study.segments.loc["new", "customers"]) > 0:
        return None
    return (f"No customer is 'new': nobody made a first purchase in the {study.thresholds.new_days} "
            f"days to {study.as_of} (the last first purchase was on "
            f"{fmt.date(study.stages['first_purchase'].max())}).")


def actions_view(study, currency: str | None = "$") -> dict:
    """Customers and expected value at stake per recommended action."""
    t = study.actions.copy()
    t.insert(0, "recommended_action", [ACTION_TEXT[a] for a in t.index])
    t.index = t.index.astype(str)
    return {"df": t, "formats": _formats(t, currency),
            "rename": {"action": "Action", "recommended_action": "What to do", "customers": "Customers",
                       "clv": f"{_value_label(study, currency).capitalize()}, total",
                       "clv_share": "Share of expected value",
                       "mean_clv": f"Mean per customer{_unit(currency)}",
                       "min_clv": f"Lowest{_unit(currency)}", "max_clv": f"Highest{_unit(currency)}"},
            "caption": "Recommended actions: customers and expected value at stake"}


def ladder_view(study) -> dict:
    """The repeat ladder."""
    lad = study.ladder
    return {"df": lad, "formats": _formats(lad, None),
            "rename": {"k": "k (purchase days)", "reached_k": "Customers with ≥ k purchase days",
                       "reached_k_plus_1": "With ≥ k+1", "p_next": "P(k+1 | k)"},
            "caption": f"Repeat ladder (purchase days up to {study.as_of})"}


def ladder_alt(study) -> str:
    """Alt text of the ladder and time-to-second-purchase figure."""
    lad = study.ladder["p_next"]
    low = (f"; lowest at the first repeat ({fmt.percent(lad.iloc[0], 0)})" if len(lad)
           and lad.idxmin() == lad.index[0] else "")
    return (f"Left: bars of the chance of one more purchase day by purchase days so far{low}. "
            f"Right: share of first-time buyers with a second purchase by {study.time_unit}s since "
            f"the first, with its 95 % interval. {second_purchase_note(study)}")


def reactivation_view(study, currency: str | None = "$") -> dict:
    """Reactivated vs new customers after their start."""
    r = study.reactivation
    return {"df": r, "formats": _formats(r, currency, purchase_days_per_customer=("number", 2)),
            "rename": {"group": "Group", "customers": "Customers",
                       "repurchase_rate": "Bought again in window",
                       "purchase_days_per_customer": "Purchase days per customer in window",
                       "spend_per_customer": f"Spend per customer in window{_unit(currency)}",
                       "start_spend": f"Spend on the start day{_unit(currency)}",
                       "window_days": "Window (days)"},
            "caption": "Behaviour after the start (first purchase, or first purchase after "
                       "lapsing), per customer"}


def _signed(v, digits: int = 2) -> str:
    return fmt.MISSING if fmt.is_missing(v) else ("+" if v > 0 else "") + fmt.percent(v, digits)


def what_if_parts(study, currency: str | None = "$") -> list:
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
        cols[(name, "mean dropout")] = [fmt.percent(v, 2) for v in w[f"mean_dropout_{a}"]]
        cols[(name, f"value change{_unit(currency)}")] = [
            fmt.money(v, currency, 0) for v in w[f"value_change_{a}"]]
        cols[(name, "change (%)")] = [_signed(v) for v in w[f"value_change_pct_{a}"]]
        if f"value_change_pct_{a}_lower" in w:
            cols[(name, f"{fmt.percent(level, 0)} interval (%)")] = [
                (fmt.MISSING if fmt.is_missing(lo) else f"{_signed(lo)} to {_signed(hi)}")
                for lo, hi in zip(w[f"value_change_pct_{a}_lower"], w[f"value_change_pct_{a}_upper"])]
    t = pd.DataFrame(cols, index=[f"{p:g}" for p in w.index])
    t.columns = [f"{a}: {b}" for a, b in t.columns]     # one header row, as the page sorts by it
    t.index.name = "churn reduction (points)"
    base = w.loc[0.0, "value"]
    return [{"df": t, "caption": f"Customer-base value by churn reduction under both readings (0 = as "
                                 f"fitted: {fmt.money(base, currency, 0)} over the next {study.horizon} "
                                 f"{study.time_unit}s)"},
            "Assumptions: " + what_if_note(w, study.time_unit, study.value_basis)]


def what_if_alt(study, currency: str | None = "$") -> str:
    """Alt text of the what-if bars."""
    w = study.what_if
    if w is None:
        return ""
    ok = w.loc[(w.index > 0) & w["value"].notna()]
    if not len(ok):
        return "Bars of the value of lowering churn; no reduction could be computed."
    x = ok.index[-1]
    return (f"Bars of the extra {study.value_basis} over the next {study.horizon} {study.time_unit}s "
            f"by churn reduction, under both readings; {x:g} points less churn ({w.attrs['shown']} cut) "
            f"adds {fmt.money(ok.loc[x, 'value_change'], currency, 0)} "
            f"({_signed(ok.loc[x, 'value_change_pct'], 1)}).")


# ---- metrics and exports -----------------------------------------------------------------
def lifecycle_metrics(study, currency: str = "$", *, data_quality=None,
                      leads_data_quality=None) -> dict:
    """``metrics.json`` content; with ``data_quality`` (a DataQuality) its record under
    ``data_quality`` and that of the leads (or None) under ``leads_data_quality``. The
    decision box is under ``decision``, the index page's stage figures under ``lifecycle``,
    the headline as numbers (:func:`clm_lib.history.figure`) under ``figures``."""
    s = study.stage_summary
    seg = study.segments
    w = study.what_if if study.what_if is not None else pd.DataFrame(
        {"value": [], "value_change": [], "value_change_pct": []})
    trans = {str(a): {str(b): int(v) for b, v in row.items()} for a, row in study.transitions.iterrows()}
    wi = {f"{p:g}": (None if pd.isna(w.loc[p, "value_change"]) else float(w.loc[p, "value_change"]))
          for p in w.index if p > 0}
    lapsed, active = s.loc["lapsed", "customer_share"], s.loc[list(ACTIVE_STAGES), "customer_share"].sum()
    head = {"Customers lapsed / active": f"{lapsed:.0%} / {active:.0%}"}
    figs = {"lapsed_share": figure("Lapsed customers, share of customers", lapsed, "percent",
                                   good="down", churn=False),
            "active_share": figure("Active customers, share of customers", active, "percent",
                                   good="up"),
            "champions_share": figure("RFM champions, share of customers",
                                      seg.loc["champions", "customer_share"], "percent")}
    if "clv_share" in seg:
        head["Champions: customers / value share"] = \
            f"{seg.loc['champions', 'customer_share']:.1%} / {seg.loc['champions', 'clv_share']:.0%}"
        figs["champions_value_share"] = figure("RFM champions, share of customer value",
                                               seg.loc["champions", "clv_share"], "percent")
    else:
        head["Customer value"] = "not fitted"
    if len(study.ladder):
        head["P(2nd purchase | 1st)"] = f"{study.ladder['p_next'].iloc[0]:.0%}"
        figs["second_purchase"] = figure("P(2nd purchase | 1st purchase)",
                                         study.ladder["p_next"].iloc[0], "percent", good="up")
    f = study.leads_funnel
    if f is not None and not pd.isna(f.by_source.loc["All", "window_rate"]):
        # measured on the leads of the complete periods: runs to other dates differ in basis
        figs["lead_conversion"] = figure(
            f"Leads converted within {f.window_days} days, share", f.by_source.loc["All", "window_rate"],
            "percent", good="up", basis=f"leads created to {f.complete_through}")
    valid = w.loc[w.index > 0].dropna(subset=["value"])
    if len(valid):
        x = valid.index[0]
        what = f"{x:g} pt less churn ({study.horizon} {study.time_unit}s, {w.attrs['shown']} cut)"
        head[f"Value of {what}"] = \
            f"{currency or ''}{valid.loc[x, 'value_change']:,.0f} ({valid.loc[x, 'value_change_pct']:+.1%})"
        figs["value_of_less_churn"] = figure(
            f"Value of {what}" + (f", {currency}" if currency else ""),
            valid.loc[x, "value_change"], "money")
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
        "figures": figs,
        "decision": decision(study, data_quality, currency).to_dict(),
        "lifecycle": lifecycle_figures(study, currency),
    }
    if study.leads_funnel is not None:
        out["leads_funnel"] = funnel_metrics(study)
    if data_quality is not None:
        out["data_quality"] = data_quality.to_dict()
        out["leads_data_quality"] = (leads_data_quality.to_dict()
                                     if leads_data_quality is not None else None)
    return out
