"""Wording, display tables, metrics and exports of the survival study (the sentences
built from numbers are in :mod:`.wording`, re-exported here).

Everything here reads a :class:`~clm_lib.studies.survival_churn.compute.SurvivalStudy`
and computes no model: the findings of each section and the headline, the churn
definition, ``metrics.json`` and the per-customer risk export with its data dictionary.
The decision box is in :mod:`.decision`, the display tables (``dict(df=..., caption=...,
formats=..., rename=...)`` for :func:`clm_lib.reporting.show_table`) in :mod:`.tables`,
the figures' alt texts in :mod:`.alt_text`, all re-exported here. The ``show_*``
functions display a section whose content depends on the result (a segment or none,
strata or none) through the escaping display helpers, never as Markdown.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.history.changes import figure
from clm_lib.reporting import (
    ID_COLUMN,
    Column,
    omit_section,
    save_export,
    show_figure,
    show_note,
    show_table,
)
from clm_lib.studies.survival_churn.alt_text import (
    calibration_alt,
    hazard_ratio_alt,
    km_alt,
    risk_tier_alt,
    value_alt,
)
from clm_lib.studies.survival_churn.decision import decision, lifecycle
from clm_lib.studies.survival_churn.report_competing import competing_json
from clm_lib.studies.survival_churn.report_metrics import horizon_metrics_json
from clm_lib.studies.survival_churn.tables import (
    adjusted_hr_table,
    banded_hr_table,
    calibration_display_table,
    comparison_table,
    km_table,
    pairwise_table,
    ph_table,
    segment_hr_table,
    stratified_hr_table,
    value_table,
)
from clm_lib.studies.survival_churn.wording import (
    NO_VALUE,
    adjusts_for_others,
    _fmt_period,
    band_text,
    calibration_sentence,
    calibration_warning,
    covariates_note,
    format_p,
    interval_text,
    median_text,
    money,
    no_covariates_reason,
    no_covariates_sentence,
    observed_to,
    remaining_sentence,
    segment_effect_sentence,
    segment_headline,
    value_label,
)

__all__ = [
    "figures",
    "format_p",
    "definition",
    "median_text",
    "interval_text",
    "definition_note",
    "summary_lines",
    "headline",
    "band_text",
    "segment_effect_sentence",
    "segment_headline",
    "adjusted_hr_table",
    "banded_hr_table",
    "ph_note",
    "reference_levels",
    "km_table",
    "segment_hr_table",
    "pairwise_table",
    "ph_table",
    "stratified_hr_table",
    "comparison_table",
    "value_table",
    "calibration_title",
    "calibration_sentence",
    "calibration_warning",
    "calibration_display_table",
    "show_calibration",
    "show_risk_caveat",
    "risk_tier_label",
    "remaining_sentence",
    "value_label",
    "money",
    "km_survival_at",
    "show_segment_tests",
    "show_drivers",
    "show_proportional_hazards",
    "observed_to",
    "covariates_note",
    "no_covariates_sentence",
    "show_segment_value",
    "survival_metrics",
    "risk_export",
    "risk_export_columns",
    "export_risk",
    "decision",
    "lifecycle",
    "lifetime_lines",
    "segment_lines",
    "model_lines",
    "risk_lines",
    "REVENUE_NOT_MARGIN",
    "km_alt",
    "hazard_ratio_alt",
    "calibration_alt",
    "risk_tier_alt",
    "value_alt",
]

#: What ``integrated_brier_score`` in metrics.json means (``..._sksurv`` is the other one).
IBS_CONVENTION = ("Graf et al. (1999): a churn at T weighted by 1/G(T-), G = Kaplan-Meier of "
                  "the training censoring; integrated_brier_score_sksurv: scikit-survival's "
                  "1/G(T), churns before censorings at tied times")

#: Why the segment section is left out without a segment (listed in the appendix).
NO_SEGMENT = ("needs the `segment` parameter: name a column (a plan, a contract type) whose "
              "values get their own survival curves, tests and hazard ratios")


def definition(result) -> str:
    """The churn definition in plain language."""
    unit = result.time_unit
    if result.kind == "transactions":
        days = result.inactivity_days
        d = result.durations
        back = int(d["reactivated"].sum()) if "reactivated" in d else 0
        churned = int(d["event"].sum())
        return (f"A customer churns the first time {days:g} days pass without a purchase; "
                f"the churn date is the purchase before that lapse plus {days:g} days. A "
                "customer who buys again after it has still churned at that date; the return "
                f"is a reactivation, not a continuation (here {back:,} of the {churned:,} "
                "churned customers came back by the end of the data). So a churn, once "
                "observed, never changes when later data arrive. Customers whose last "
                f"purchase is less than {days:g} days before {result.as_of.date()} and who "
                "have had no lapse are still active (censored), not churned. Lifetimes run "
                f"from the first purchase, in {unit}s.")
    return ("A customer churns when the subscription ends; customers still subscribed at "
            "the end of the data are censored (still active), not churned. Lifetimes "
            f"are the subscription tenure, in {unit}s.")


def definition_note(result) -> str:
    """The churn definition as a plain paragraph for the method notes (shown escaped)."""
    return "Churn definition. " + definition(result)


def _overall_line(result) -> str:
    km, unit = result.km, result.time_unit
    overall = km.loc["All"]
    med = overall["median"]
    return (f"{fmt.count(overall['customers'])} customers, {fmt.count(overall['churned'])} of "
            f"whom churned ({fmt.percent(overall['churned'] / overall['customers'], 0)}); the "
            "median lifetime is "
            + (_fmt_period(med, unit) if np.isfinite(med) else
               f"not reached (more than half are still active after "
               f"{_fmt_period(overall['follow_up'], unit)}, the longest follow-up)") + ".")


def lifetime_lines(result) -> list[str]:
    """Findings of the section on how long customers stay: the end of observation and the
    restricted mean lifetime."""
    unit, overall = result.time_unit, result.km.loc["All"]
    lines = []
    if result.as_of is not None:
        end = observed_to(result)
        lines.append(end[0].upper() + end[1:] + ".")
    lines.append(f"Over the first {_fmt_period(result.rmst_horizon, unit)} an average customer "
                 f"stays {_fmt_period(overall['rmst'], unit)} (restricted mean).")
    return lines


def segment_lines(result) -> list[str]:
    """The segment effect and the median lifetime of the fastest-churning value ([] without
    a segment)."""
    km, unit, seg_hr = result.km, result.time_unit, result.segment_hr
    if seg_hr is None or len(seg_hr) < 2:
        return []
    fast = seg_hr.index[0]
    frow = km.loc[str(fast)] if str(fast) in km.index else None
    return [segment_effect_sentence(result) + f" The median lifetime of {fast} "
            "customers is " + ("not known" if frow is None else median_text(
                frow["median"], frow["follow_up"], unit)) + "."]


def model_lines(result) -> list[str]:
    """The selected model and its holdout record, what models without covariates can say,
    and the model sample when the models were fitted on one."""
    r = result.comparison.loc[result.selected]
    lines = [f"Model of the risk scores: {result.selected} (among the parametric models "
             "that rank and score the holdout as well as the best, the best calibrated); "
             "on the holdout it "
             f"ranks pairs of customers correctly {fmt.percent(r['concordance_holdout'], 0)} "
             f"of the time (Harrell's concordance; Uno's, weighted for censoring: "
             f"{fmt.percent(r['concordance_uno_holdout'], 0)}) with an integrated Brier "
             f"score of {r['integrated_brier_score']:.4f} (censoring weights G(T-), Graf et "
             f"al.; {r['integrated_brier_score_sksurv']:.4f} with scikit-survival's G(T))."]
    if not result.has_covariates:
        lines.append(no_covariates_sentence(result))
    if result.model_sample is not None:
        lines.append(f"The regression models were fitted on a random sample of "
                     f"{result.model_sample:,} of the {len(result.durations):,} customers "
                     "(seeded, stratified by churn); the curves and the risk scores use every "
                     "customer. Their estimates carry the sample's error: standard errors "
                     f"about {np.sqrt(len(result.durations) / result.model_sample):.1f} times "
                     "those of a fit on every customer, and the intervals shown are the "
                     "sample's.")
    return lines


def _risk_value_lines(result) -> list[str]:
    """The high-risk share and the value of the active customers (what the decision box
    says in its own words: shown there, not again in the section)."""
    risk, unit = result.risk, result.time_unit
    if not len(risk):
        return []
    high = int((risk["risk_tier"] == "high").sum())
    lines = [f"Of {len(risk):,} active customers, {high:,} ({high / len(risk):.0%}) are "
             f"high risk of churning within {_fmt_period(result.tier_horizon, unit)}."]
    if "value" in risk:
        lines.append(f"The active customers' expected discounted {value_label(result)} "
                     "over the next "
                     f"{_fmt_period(result.remaining_horizon, unit)} totals "
                     f"{risk['value'].sum():,.0f} {money(result)}; "
                     f"{risk.loc[risk['risk_tier'] == 'high', 'value'].sum():,.0f} "
                     "of it sits with high-risk customers.")
    return lines


#: Said in the risk section when the value is revenue.
REVENUE_NOT_MARGIN = ("The value figures are revenue, not margin: no margin was given (set "
                      "the parameter margin to a margin column or amount per period).")


def risk_lines(result) -> list[str]:
    """Findings of the section on active customers beyond the decision box: the
    remaining lifetime, and what the value figures are (revenue, or no value basis)."""
    lines = [remaining_sentence(result)] if len(result.risk) else []
    if "value" in result.risk and result.value_basis == "revenue":
        lines.append(REVENUE_NOT_MARGIN)
    if result.value_basis is None:
        lines.append(NO_VALUE)
    return lines


def summary_lines(result) -> list[str]:
    """Every finding as plain text, in report order: the overall lifetime, the segment
    effect, the lifetime, model, calibration and risk lines, the churn definition. The
    report shows them where they belong (the decision box, then each section);
    this is the whole list, e.g. for a plain-text summary."""
    return [_overall_line(result), *lifetime_lines(result)[:-1], *segment_lines(result),
            lifetime_lines(result)[-1], *model_lines(result), calibration_sentence(result),
            *_risk_value_lines(result), *risk_lines(result), definition(result)]


def headline(result) -> dict[str, str]:
    """Two to four formatted headline numbers for the report index."""
    overall = result.km.loc["All"]
    out = {"Median lifetime": median_text(overall["median"], overall["follow_up"],
                                          result.time_unit)}
    seg = segment_headline(result) if result.segment_hr is not None else None
    if seg is not None:
        out[seg[0]] = seg[1]
    out["Holdout concordance"] = \
        f"{result.comparison.loc[result.selected, 'concordance_holdout']:.2f}"
    out["High-risk active customers"] = f"{int((result.risk['risk_tier'] == 'high').sum()):,}"
    return out


def figures(result) -> dict[str, dict]:
    """The headline as numbers (:func:`clm_lib.history.changes.figure`): the share of
    customers churned by 12 periods (Kaplan-Meier; when the follow-up reaches it), the
    segment hazard ratio, the holdout concordance and the high-risk active customers."""
    unit = result.time_unit
    out = {}
    kmf = result.km_fits["All"]
    if 12 <= float(kmf.timeline.max()):
        out["churned_12"] = figure(f"Share churned by 12 {unit}s (Kaplan-Meier)",
                                   1 - float(kmf.survival_function_at_times(12.0).iloc[0]),
                                   "percent", good="down", churn=True)
    adj = result.segment_hr_adjusted
    if adj is not None and len(adj) >= 2:
        out["segment_hr"] = figure(f"Churn hazard ratio, {adj.index[0]} vs {adj.index[-1]} "
                                   "(times the reference; Cox, whole period)",
                                   float(adj.iloc[0]["hr"]), "ratio")
    out["concordance"] = figure("Holdout concordance (Harrell's C; 0.5 = a coin toss)",
                                float(result.comparison.loc[result.selected,
                                                            "concordance_holdout"]),
                                "number", good="up")
    out["high_risk"] = figure("High-risk active customers (count)",
                              int((result.risk["risk_tier"] == "high").sum()), "count",
                              good="down")
    return out


def ph_note(ph: pd.DataFrame, strata: Sequence[str]) -> str:
    """One sentence on the proportional-hazards check and what was done about it."""
    bad = list(dict.fromkeys(ph.loc[ph["violated"], "covariate"]))
    if not bad:
        return "No covariate violates proportional hazards (1 % level): the Cox model is kept as is."
    other = [c for c in bad if c not in strata]
    text = f"Proportional hazards is violated (1 % level) for: {', '.join(bad)}."
    if strata:
        text += (f" A second Cox model uses {', '.join(strata)} as strata (separate baseline "
                 "hazards); its hazard ratios for the other covariates are shown below.")
    if other:
        text += (f" For {', '.join(other)} (numeric) the hazard ratio is a time-averaged "
                 "effect; read it with care.")
    return text


def reference_levels(result) -> str:
    """The reference level of each categorical covariate, as a sentence."""
    levels = ", ".join(f"{k} = {v}" for k, v in result.baselines.items())
    return "Reference levels: " + (levels or "none (all covariates numeric)") + "."


# ------------------------------------------------------------------ display tables
def _value_columns(result) -> dict[str, str]:
    """Names that say what the remaining-lifetime and value columns hold."""
    unit, h = result.time_unit, f"{result.remaining_horizon:g}"
    basis = value_label(result)
    return {"expected_remaining": f"expected_{unit}s_active_of_next_{h}",
            "discounted_lifetime": f"discounted_{unit}s_active_of_next_{h}",
            "value": f"discounted_{basis}_next_{h}_{unit}s",
            "mean_value": f"mean_discounted_{basis}_next_{h}_{unit}s",
            "total_value": f"total_discounted_{basis}_next_{h}_{unit}s"}



def show_calibration(result) -> None:
    """The calibration table and what it means."""
    show_table(**calibration_display_table(result))
    show_note(calibration_sentence(result))


def show_risk_caveat(result) -> None:
    """Under the risk tiers: the calibration warning, when there is one."""
    if result.calibration_check["poor"]:
        show_note(f"Risk tiers and churn probabilities: {calibration_warning(result)} "
                  "(see the calibration table above).")


def calibration_title(result) -> str:
    """Title of the calibration figure."""
    return f"Calibration of the {result.selected} model on the holdout"


def risk_tier_label(result) -> str:
    """What the risk tiers mean, for the axis of the risk-tier figure."""
    lo, hi = result.risk_thresholds
    note = " [model poorly calibrated: a ranking]" if result.calibration_check["poor"] else ""
    return (f"P(churn within {result.tier_horizon:g} {result.time_unit}s): medium from "
            f"{lo:.0%}, high from {hi:.0%}{note}")


# ------------------------------------------------------------------ sections
# Every data-derived sentence goes through show_note / show_table, which escape it: a
# segment value or a column name such as "<img src=x onerror=...>" must stay text
# (Markdown would keep it as live HTML).
def show_segment_tests(result) -> None:
    """Segment hazard ratios and log-rank tests; without a segment the section is left
    out (:func:`clm_lib.reporting.omit_section`)."""
    if result.segment is None:
        omit_section(NO_SEGMENT)
        return
    show_table(**segment_hr_table(result))
    if adjusts_for_others(result):
        show_table(**adjusted_hr_table(result))
    if result.segment_hr_bands is not None:
        show_table(**banded_hr_table(result))
    show_note(*segment_lines(result))
    show_table(**pairwise_table(result))


def show_drivers(result, figure) -> None:
    """The section on what drives churn: ``figure(result)`` (the hazard-ratio figure, e.g.
    :func:`clm_lib.plotting.survival.hazard_ratio_figure`) with its alt text and
    :func:`show_proportional_hazards`; without covariates the section is left out, with
    the reason."""
    if not result.has_covariates:
        omit_section(f"{no_covariates_reason(result)}: the Cox model has no hazard ratio to "
                     "estimate, and proportional hazards nothing to test; name columns in "
                     "the `covariates` parameter")
        return
    show_figure(figure(result), alt=hazard_ratio_alt(result))
    show_proportional_hazards(result)


def show_proportional_hazards(result) -> None:
    """Reference levels, the proportional-hazards check, what was done about it, and the
    stratified model's hazard ratios when there is one."""
    show_note(reference_levels(result))
    show_table(**ph_table(result))
    show_note(ph_note(result.ph, result.strata))
    if result.cox_stratified is not None:
        show_table(**stratified_hr_table(result))


def show_segment_value(result) -> None:
    """Risk and value by segment value (nothing without a segment)."""
    if result.value is not None:
        show_table(**value_table(result))


# ------------------------------------------------------------------ metrics, export
def _float(v) -> float | None:
    return float(v) if np.isfinite(v) else None


def km_survival_at(result) -> dict[str, float | None]:
    """Overall Kaplan-Meier survival at each of the study's horizons: ``{"<h>": S(h)}``
    (periods of ``time_unit``; None past the longest duration, where the curve is not
    estimated)."""
    kmf = result.km_fits["All"]
    last = float(kmf.timeline.max())
    return {f"{h:g}": (float(kmf.survival_function_at_times(float(h)).iloc[0])
                       if h <= last else None) for h in result.horizons}


def survival_metrics(result) -> dict:
    """The study's ``metrics.json`` content.

    Keys: ``time_unit``, ``as_of`` (ISO date or None) and ``as_of_source`` ("parameter",
    "data" or None), ``covariates_chosen`` (the covariates of the models),
    ``covariates_source`` ("parameter" or "data") and ``covariates_left_out`` ({column:
    reason}, when chosen from the data), ``km_median_by_segment`` ({segment: median or None}),
    ``rmst_horizon``, ``rmst_by_segment`` ({segment: {rmst, ci_low, ci_high}}),
    ``logrank_p``, ``cox`` ({term: {hr, ci_low, ci_high, p}}), ``model_comparison``,
    ``selected_model``, ``concordance_holdout`` (Harrell's) and ``integrated_brier_score``
    (Graf et al.'s weights) of the selected model, ``integrated_brier_score_sksurv``
    (scikit-survival's weights), ``integrated_brier_score_convention`` (the two in words),
    ``concordance_uno_holdout``, ``km_survival_at`` (:func:`km_survival_at`),
    ``time_dependent_auc``, ``uno_c``, ``harrell_c`` and ``calibration_slope`` (every
    model, :func:`.report_metrics.horizon_metrics_json`), ``competing_risks``
    (:func:`.report_competing.competing_json`),
    ``calibration`` (:func:`.validation.calibration_summary` of the selected model, its
    ``warning`` or None, and its ``table``), ``remaining_horizon`` and ``follow_up``
    (periods), ``value_basis`` ("margin", "revenue" or None), ``currency``, ``risk_tiers``
    ({tier: count}), ``model_sample`` (customers the models were fitted on, only when they
    were sampled), ``headline``, ``figures`` (:func:`figures`), ``decision``
    (:func:`.decision.decision`, the decision box), ``lifecycle`` (:func:`.decision.lifecycle`, the retention figures of the index),
    ``data_quality`` (the loading record) and
    ``data_quality_steps`` (every record).
    """
    km = result.km
    seg = km.drop(index="All") if len(km) > 1 else km
    comparison, selected = result.comparison, result.selected
    counts = result.risk["risk_tier"].value_counts()
    return {
        "time_unit": result.time_unit,
        "as_of": None if result.as_of is None else f"{result.as_of:%Y-%m-%d}",
        "as_of_source": result.as_of_source,
        "covariates_chosen": list(result.covariates),
        "covariates_source": result.covariates_source,
        "covariates_left_out": dict(result.covariates_left_out),
        "km_median_by_segment": {str(k): _float(v) for k, v in seg["median"].items()},
        "rmst_horizon": float(result.rmst_horizon),
        "rmst_by_segment": {str(k): {"rmst": float(r["rmst"]), "ci_low": float(r["rmst_ci_low"]),
                                     "ci_high": float(r["rmst_ci_high"])}
                            for k, r in seg.iterrows()},
        "logrank_p": None if result.logrank is None else float(result.logrank.p_value),
        "cox": {k: {"hr": float(r["hr"]), "ci_low": float(r["ci_low"]),
                    "ci_high": float(r["ci_high"]), "p": float(r["p"])}
                for k, r in result.hazard_ratios.iterrows()},
        "model_comparison": {k: {c: (v if isinstance(v, str) else float(v))
                                 for c, v in r.items()} for k, r in comparison.iterrows()},
        "selected_model": selected,
        "concordance_holdout": float(comparison.loc[selected, "concordance_holdout"]),
        "integrated_brier_score": float(comparison.loc[selected, "integrated_brier_score"]),
        "integrated_brier_score_sksurv": float(
            comparison.loc[selected, "integrated_brier_score_sksurv"]),
        "integrated_brier_score_convention": IBS_CONVENTION,
        "concordance_uno_holdout": float(comparison.loc[selected, "concordance_uno_holdout"]),
        "km_survival_at": km_survival_at(result),
        **horizon_metrics_json(result),
        "competing_risks": competing_json(result),
        "calibration": {**result.calibration_check,
                        "warning": calibration_warning(result) or None,
                        "table": result.calibration.to_dict(orient="records")},
        "remaining_horizon": float(result.remaining_horizon),
        "follow_up": float(result.follow_up),
        "value_basis": result.value_basis, "currency": result.currency,
        "risk_tiers": {t: int(counts.get(t, 0)) for t in ("low", "medium", "high")},
        **({} if result.model_sample is None else {"model_sample": result.model_sample}),
        "headline": headline(result),
        "figures": figures(result),
        "decision": decision(result).to_dict(),
        "lifecycle": lifecycle(result),
        "data_quality": result.qualities[0].to_dict(),
        "data_quality_steps": [q.to_dict() for q in result.qualities],
    }


def risk_export(result) -> pd.DataFrame:
    """The per-customer risk table for export: the real customer id (for the CRM) in
    ``customer_id``, the segment value after it when the study has a segment, and a
    ``probabilities_calibrated`` flag (False when the model's churn probabilities missed
    the holdout; the data dictionary then says how, :func:`calibration_warning`, rather
    than every row repeating it). Its data dictionary is :func:`risk_export_columns`."""
    out = result.risk.copy()
    if "customer_id" in out:
        out = out.rename(columns={"customer_id": ID_COLUMN})
    if result.segment:
        segment = result.durations[result.segment]
        out.insert(1, "segment", segment.reindex(out.index).astype("string").to_numpy())
    out["risk_tier"] = out["risk_tier"].astype(str)
    out = out.rename(columns=_value_columns(result))
    if result.value_basis is not None:
        out["currency"] = result.currency or ""
    out["probabilities_calibrated"] = not calibration_warning(result)
    return out.reset_index(drop=True)


def risk_export_columns(result) -> dict[str, Column]:
    """The data dictionary of :func:`risk_export`: meaning, unit and decimals of every
    column (probabilities 4 decimals, money 2, periods 2)."""
    unit, h = result.time_unit, _fmt_period(result.remaining_horizon, result.time_unit)
    names = _value_columns(result)
    basis = value_label(result)
    cur = result.currency or "currency of the data"
    lo, hi = result.risk_thresholds
    cols = {
        ID_COLUMN: Column("customer id as in the source data"),
        "segment": Column(f"value of the segment column {result.segment}"),
        "tenure": Column(f"{unit}s active so far (to the end of observation)", f"{unit}s", 2),
        names["expected_remaining"]: Column(
            f"expected {unit}s active of the next {h} (restricted mean, selected model "
            f"{result.selected})", f"{unit}s", 2),
        names["discounted_lifetime"]: Column(
            f"discounted {unit}s active of the next {h} (discount rate per {unit} applied)",
            f"{unit}s", 2),
        names["value"]: Column(f"expected discounted {basis} of the next {h}", cur, 2),
        "risk_tier": Column(f"low / medium / high: P(churn within "
                            f"{_fmt_period(result.tier_horizon, unit)}) from {lo:.0%} medium, "
                            f"from {hi:.0%} high"),
        "currency": Column(f"currency of the {basis} column ('' = that of the data)"),
        "probabilities_calibrated": Column(
            "True when the selected model's churn probabilities matched the holdout; False: "
            + (f"{calibration_warning(result)} (this run)" if calibration_warning(result)
               else "read the probabilities as a ranking of customers only")),
    }
    for c in result.risk.columns:
        if c.startswith("p_churn_"):
            n = float(c.rsplit("_", 1)[1])
            cols[c] = Column(f"probability of churning within the next "
                             f"{_fmt_period(n, unit)} (selected model {result.selected})",
                             "probability (0-1)", 4)
    return cols


def export_risk(result, output_dir) -> None:
    """Write ``exports/customer_risk.csv`` with its rows of the data dictionary."""
    frame = risk_export(result)
    cols = risk_export_columns(result)
    save_export(frame, "customer_risk", output_dir, columns={c: cols[c] for c in frame.columns})
