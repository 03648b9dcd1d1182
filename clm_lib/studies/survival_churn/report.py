"""Wording, display tables, metrics and exports of the survival study.

Everything here reads a :class:`~clm_lib.studies.survival_churn.compute.SurvivalStudy`
and computes no model: the summary lines and headline, the churn definition, the
captions and column selections of the tables the report shows, ``metrics.json`` and the
per-customer risk export. Table functions return ``dict(df=..., caption=...,
float_format=...)`` for :func:`clm_lib.reporting.show_table`; the ``show_*`` functions
display a section whose content depends on the result (a segment or none, strata or none).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from clm_lib.reporting import pseudonymise, show_table

__all__ = [
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
    "show_proportional_hazards",
    "show_segment_value",
    "survival_metrics",
    "risk_export",
]

#: What ``integrated_brier_score`` in metrics.json means (``..._sksurv`` is the other one).
IBS_CONVENTION = ("Graf et al. (1999): a churn at T weighted by 1/G(T-), G = Kaplan-Meier of "
                  "the training censoring; integrated_brier_score_sksurv: scikit-survival's "
                  "1/G(T), churns before censorings at tied times")

#: Text shown where no segment was chosen.
NO_SEGMENT = "No segment was chosen (`segment = None`): the curves are not split."


def format_p(p: float) -> str:
    """A p-value for report text: 3 significant digits, ``< 1e-300`` when it underflows."""
    if p is None or not np.isfinite(p):
        return "n/a"
    return "< 1e-300" if p < 1e-300 else f"= {p:.3g}"


def _fmt_period(x: float, unit: str) -> str:
    num = f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"
    return f"{num} {unit}{'s' if abs(x) != 1 else ''}"


def _fmt_num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def median_text(median: float, follow_up: float, unit: str) -> str:
    """A Kaplan-Meier median for the reader: ``"35 months"``, or ``"not reached (> 72
    months)"`` when the curve stays above 50 % over the whole follow-up."""
    if np.isfinite(median):
        return _fmt_period(median, unit)
    return f"not reached (> {_fmt_period(follow_up, unit)})"


def interval_text(low: float, high: float, unit: str) -> str:
    """A 95 % interval of a median: ``"32 to 38 months"``; an unbounded end (the band does
    not fall to 50 %) reads "not reached"."""
    if not np.isfinite(low):
        return "not reached"
    lo = _fmt_num(low)
    return f"{lo} to {_fmt_num(high)} {unit}s" if np.isfinite(high) else \
        f"{lo} {unit}s to not reached"


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
    """The churn definition as a Markdown paragraph for the method notes."""
    return "**Churn definition.** " + definition(result)


def summary_lines(result) -> list[str]:
    """Plain-language findings computed from the study's results (for ``show_summary``)."""
    km, unit, seg_hr = result.km, result.time_unit, result.segment_hr
    lines = []
    overall = km.loc["All"]
    med = overall["median"]
    lines.append(
        f"{int(overall['customers']):,} customers, {int(overall['churned']):,} of whom churned "
        f"({overall['churned'] / overall['customers']:.0%}); the median lifetime is "
        + (_fmt_period(med, unit) if np.isfinite(med) else
           f"not reached (more than half are still active after "
           f"{_fmt_period(overall['follow_up'], unit)}, the longest follow-up)") + ".")
    if seg_hr is not None and len(seg_hr) >= 2:
        fast = seg_hr.index[0]
        frow = km.loc[str(fast)] if str(fast) in km.index else None
        lines.append(segment_effect_sentence(result) + f" The median lifetime of {fast} "
                     "customers is " + ("not known" if frow is None else median_text(
                         frow["median"], frow["follow_up"], unit)) + ".")
    lines.append(f"Over the first {_fmt_period(result.rmst_horizon, unit)} an average customer "
                 f"stays {_fmt_period(overall['rmst'], unit)} (restricted mean).")
    r = result.comparison.loc[result.selected]
    lines.append(f"Model of the risk scores: {result.selected} (among the parametric models "
                 "that rank and score the holdout as well as the best, the best calibrated); "
                 "on the holdout it "
                 f"ranks pairs of customers correctly {r['concordance_holdout']:.0%} of the "
                 f"time (Harrell's concordance; Uno's, weighted for censoring: "
                 f"{r['concordance_uno_holdout']:.0%}) with an integrated Brier score of "
                 f"{r['integrated_brier_score']:.4f} (censoring weights G(T-), Graf et al.; "
                 f"{r['integrated_brier_score_sksurv']:.4f} with scikit-survival's G(T)).")
    lines.append(calibration_sentence(result))
    if result.model_sample is not None:
        lines.append(f"The regression models were fitted on a random sample of "
                     f"{result.model_sample:,} of the {len(result.durations):,} customers "
                     "(seeded, stratified by churn); the curves and the risk scores use every "
                     "customer. Their estimates carry the sample's error: standard errors "
                     f"about {np.sqrt(len(result.durations) / result.model_sample):.1f} times "
                     "those of a fit on every customer, and the intervals shown are the "
                     "sample's.")
    risk = result.risk
    if len(risk):
        high = int((risk["risk_tier"] == "high").sum())
        lines.append(f"Of {len(risk):,} active customers, {high:,} ({high / len(risk):.0%}) are "
                     f"high risk of churning within {_fmt_period(result.tier_horizon, unit)}.")
        lines.append(remaining_sentence(result))
        if "value" in risk:
            lines.append(f"The active customers' expected discounted {value_label(result)} "
                         "over the next "
                         f"{_fmt_period(result.remaining_horizon, unit)} totals "
                         f"{risk['value'].sum():,.0f} {money(result)}; "
                         f"{risk.loc[risk['risk_tier'] == 'high', 'value'].sum():,.0f} "
                         "of it sits with high-risk customers."
                         + ("" if result.value_basis == "margin" else
                            " This is revenue, not margin: no margin was given (set `margin` "
                            "to a margin column or amount per period)."))
    lines.append(definition(result))
    return lines


def value_label(result) -> str:
    """What the value columns sum: "margin" or "revenue"."""
    return result.value_basis or "value"


def money(result) -> str:
    """The currency of the value figures in words."""
    return f"({result.currency})" if result.currency else "(in the currency of the data)"


def remaining_sentence(result) -> str:
    """The restricted mean remaining lifetime of the active customers, its horizon, and
    whether it rests on extrapolation past the follow-up."""
    unit, risk, h = result.time_unit, result.risk, result.remaining_horizon
    beyond = int((risk["tenure"] + h > result.follow_up + 1e-9).sum())
    text = (f"Over the next {_fmt_period(h, unit)} an active customer is expected to stay "
            f"{_fmt_period(round(float(risk['expected_remaining'].mean()), 1), unit)} on average "
            f"(restricted mean; the horizon is stated because the data follow customers for "
            f"at most {_fmt_period(result.follow_up, unit)}).")
    if h > result.follow_up:
        text += (f" Extrapolated (on request): {_fmt_period(h, unit)} is longer than anything "
                 f"observed; the figures rest on the {result.selected} model's tail.")
    elif beyond:
        who = (f"every active customer ({beyond:,})" if beyond == len(risk) else
               f"{beyond:,} customers already longer than "
               f"{_fmt_period(result.follow_up - h, unit)}")
        text += (f" For {who} these {_fmt_period(h, unit)} reach past the "
                 f"{_fmt_period(result.follow_up, unit)} observed: there the model extends "
                 "the curve.")
    return text


def band_text(start: float, end: float, unit: str) -> str:
    """A tenure band in words: ``"months 4 to 20"``, ``"month 20 onwards"``."""
    if not np.isfinite(end):
        return f"from {unit} {_fmt_num(start)} on"
    return f"in {unit}s {_fmt_num(start)} to {_fmt_num(end)}"


def _ph_holds(result) -> bool:
    from clm_lib.studies.survival_churn.models import PH_ALPHA

    p = result.segment_ph_p
    return p is None or not np.isfinite(p) or p >= PH_ALPHA


def _fast_bands(result) -> pd.DataFrame:
    """Band rows of the fastest-churning value (by the adjusted model)."""
    fast = str(result.segment_hr_adjusted.index[0])
    b = result.segment_hr_bands
    return b[b["value"] == fast]


def segment_effect_sentence(result) -> str:
    """How much faster the fastest-churning segment value churns than the slowest: the
    adjusted hazard ratio when proportional hazards holds for the segment, the adjusted
    ratios by tenure band when it fails (the time-averaged and unadjusted figures then
    labelled as such)."""
    unit, seg = result.time_unit, result.segment
    adj, un = result.segment_hr_adjusted, result.segment_hr
    fast, slow = str(adj.index[0]), str(adj.index[-1])
    a = adj.iloc[0]
    adjusted = (f"{a['hr']:.1f} times (adjusted Cox hazard ratio, 95 % interval "
                f"{a['ci_low']:.1f}-{a['ci_high']:.1f})")
    unadjusted = f"{un.loc[fast, 'hr']:.1f} times" if fast in un.index else "n/a"
    if _ph_holds(result):
        return (f"{fast} customers churn {adjusted} as fast as {slow} customers with the "
                f"other covariates held fixed; proportional hazards holds for {seg} "
                f"(p {format_p(result.segment_ph_p)}), so one ratio describes every tenure. "
                f"Unadjusted: {unadjusted}.")
    text = (f"How much faster {fast} customers churn than {slow} customers changes with "
            f"tenure (proportional hazards fails for {seg}, p "
            f"{format_p(result.segment_ph_p)}), so no single hazard ratio describes it.")
    if result.segment_hr_bands is not None and len(_fast_bands(result)):
        parts = []
        for _, r in _fast_bands(result).iterrows():
            where = band_text(r["band_start"], r["band_end"], unit)
            if np.isfinite(r["hr"]):
                parts.append(f"{r['hr']:.1f} times {where} (95 % interval "
                             f"{r['ci_low']:.1f}-{r['ci_high']:.1f})")
            elif r["reference_churned"] == 0:
                parts.append(f"{where} no {slow} customer churned while "
                             f"{int(r['churned']):,} {fast} customers did (no ratio can be "
                             "estimated)")
            else:
                parts.append(f"{where} no {fast} customer churned")
        text += (" Adjusted for the other covariates, by tenure band: " + "; ".join(parts)
                 + ".")
    return text + (f" Averaged over tenure the adjusted ratio is {a['hr']:.1f} and the "
                   f"unadjusted {unadjusted.split()[0]}; read those as averages only.")


def segment_headline(result) -> tuple[str, str] | None:
    """The headline figure of the segment effect (label, value), the adjusted and
    assumption-checked one; None without a segment."""
    adj = result.segment_hr_adjusted
    if adj is None or len(adj) < 2:
        return None
    unit = result.time_unit
    label = f"{adj.index[0]} vs {adj.index[-1]}"
    a = adj.iloc[0]
    if _ph_holds(result):
        return label, f"{a['hr']:.1f}x churn hazard (adjusted Cox)"
    bands = _fast_bands(result) if result.segment_hr_bands is not None else pd.DataFrame()
    ok = bands[np.isfinite(bands["hr"])] if len(bands) else bands
    if len(ok):
        r = ok.loc[ok["churned"].idxmax()]
        return label, (f"{r['hr']:.1f}x churn hazard "
                       f"{band_text(r['band_start'], r['band_end'], unit)} (adjusted, by "
                       "tenure band: proportional hazards fails)")
    return label, (f"{a['hr']:.1f}x churn hazard (adjusted Cox, averaged over tenure: "
                   "proportional hazards fails)")


def calibration_sentence(result) -> str:
    """How well the selected model's churn probabilities match the holdout, in words;
    poor calibration (a bin more than 5 points off) is said with its consequence."""
    c, unit = result.calibration_check, result.time_unit
    who = _bin_name(c["worst_bin"], int(result.calibration["bin"].max()))
    within = _fmt_period(c["worst_horizon"], unit)
    pair = (f"it predicts {c['worst_predicted']:.1%} churn within {within} for the {who} of "
            f"holdout customers, and {c['worst_observed']:.1%} churned")
    if not c["poor"]:
        return ("Its churn probabilities match the holdout: no group of predicted risk is "
                "more than 5 percentage points off beyond sampling noise (largest gap: "
                f"{pair}).")
    side = "under-predicts" if c["worst_gap"] > 0 else "over-predicts"
    return (f"Warning: calibration is poor. The model {side} churn: {pair} (mean gap "
            f"{c['error'] * 100:.1f} percentage points over the calibration table). Read the churn probabilities and "
            "risk tiers below as a ranking of customers, not as probabilities: "
            + ("the riskiest customers are more likely to churn than their scores say."
               if side == "under-predicts" else
               "customers are less likely to churn than their scores say."))


def calibration_warning(result) -> str:
    """The calibration warning carried into the risk tiers and the export ('' if fine)."""
    c = result.calibration_check
    if not c["poor"]:
        return ""
    side = "under-predicts" if c["worst_gap"] > 0 else "over-predicts"
    who = _bin_name(c["worst_bin"], int(result.calibration["bin"].max()))
    return (f"poorly calibrated: {side} churn ({who} of the holdout: "
            f"{c['worst_predicted']:.1%} predicted, {c['worst_observed']:.1%} observed within "
            f"{_fmt_period(c['worst_horizon'], result.time_unit)}); use as a ranking")


def _bin_name(b: int, n: int) -> str:
    names = {1: "least risky", n: "riskiest"}
    part = "fifth" if n == 5 else f"1/{n}"
    return f"{names[b]} {part}" if b in names else f"risk {part} number {b}"


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
def km_table(result) -> dict:
    """Customers, churned, median lifetime and RMST per curve, medians and intervals in
    words where the curve or its band does not fall to 50 %."""
    unit, km = result.time_unit, result.km
    df = pd.DataFrame({
        "customers": km["customers"], "churned": km["churned"],
        "median": [median_text(r["median"], r["follow_up"], unit) for _, r in km.iterrows()],
        "median 95 % interval": [interval_text(r["median_ci_low"], r["median_ci_high"], unit)
                                 for _, r in km.iterrows()],
        "RMST": km["rmst"],
        "RMST 95 % interval": [f"{r['rmst_ci_low']:.2f} to {r['rmst_ci_high']:.2f}"
                               for _, r in km.iterrows()],
    }, index=km.index)
    return dict(df=df, caption=f"Lifetime by segment (median and RMST in {unit}s; RMST = "
                               f"mean {unit}s stayed within the first "
                               f"{_fmt_period(result.rmst_horizon, unit)}; 95 % intervals)")


def segment_hr_table(result) -> dict:
    """Unadjusted hazard ratio of each segment value against the slowest-churning one."""
    return dict(df=result.segment_hr, float_format="{:,.3g}",
                caption=f"Churn hazard by {result.segment}, relative to the slowest-churning "
                        "value (unadjusted)")


def adjusted_hr_table(result) -> dict:
    """The segment's hazard ratios adjusted for the covariates (same reference)."""
    return dict(df=result.segment_hr_adjusted, float_format="{:,.3g}",
                caption=f"Churn hazard by {result.segment}, relative to "
                        f"{result.segment_hr_adjusted.index[-1]}, adjusted for the other "
                        "covariates (Cox; averaged over tenure where proportional hazards "
                        "fails)")


def banded_hr_table(result) -> dict:
    """The segment's adjusted hazard ratios by tenure band."""
    b = result.segment_hr_bands.copy()
    unit = result.time_unit
    b.insert(0, "tenure", [band_text(r["band_start"], r["band_end"], unit)
                           for _, r in b.iterrows()])
    b = b.drop(columns=["band_start", "band_end"]).set_index(["tenure", "value"])
    return dict(df=b, float_format="{:,.3g}",
                caption=f"Churn hazard by {result.segment} within tenure bands, relative to "
                        f"{result.segment_hr_adjusted.index[-1]}, adjusted for the other "
                        "covariates (a Cox model per band; '–' where a value or the reference "
                        "has no churn in the band)")


def pairwise_table(result) -> dict:
    """Pairwise log-rank tests, the test of all segment values together in the caption."""
    return dict(df=result.pairwise.summary[["test_statistic", "p"]], float_format="{:,.3g}",
                caption=f"Pairwise log-rank tests (all {result.segment} values together: "
                        f"p {format_p(result.logrank.p_value)})")


def ph_table(result) -> dict:
    """The proportional-hazards test per design column."""
    return dict(df=result.ph, float_format="{:,.3g}",
                caption="Proportional-hazards check (p < 0.01 = violated)")


def stratified_hr_table(result) -> dict:
    """Hazard ratios of the Cox model stratified on the violating covariates."""
    return dict(df=result.hazard_ratios_stratified, float_format="{:,.3g}",
                caption=f"Hazard ratios with {', '.join(result.strata)} as strata")


def comparison_table(result) -> dict:
    """AIC, concordance and integrated Brier score per model."""
    return dict(df=result.comparison, float_format="{:,.3f}",
                caption=f"Model comparison (fitted on {len(result.train):,} customers, "
                        f"validated on {len(result.test):,}); selected: {result.selected}")


def _value_columns(result) -> dict[str, str]:
    """Names that say what the remaining-lifetime and value columns hold."""
    unit, h = result.time_unit, f"{result.remaining_horizon:g}"
    basis = value_label(result)
    return {"expected_remaining": f"expected_{unit}s_active_of_next_{h}",
            "discounted_lifetime": f"discounted_{unit}s_active_of_next_{h}",
            "value": f"discounted_{basis}_next_{h}_{unit}s",
            "mean_value": f"mean_discounted_{basis}_next_{h}_{unit}s",
            "total_value": f"total_discounted_{basis}_next_{h}_{unit}s"}


def value_table(result) -> dict:
    """Active customers, mean churn risk, remaining lifetime and value per segment value."""
    unit = result.time_unit
    return dict(df=result.value.rename(columns=_value_columns(result)),
                caption=f"Active customers by {result.segment}: mean churn risk, expected "
                        f"{unit}s active over the next "
                        f"{_fmt_period(result.remaining_horizon, unit)} (restricted mean) and "
                        f"discounted {value_label(result)} over them {money(result)}")


def calibration_display_table(result) -> dict:
    """Predicted vs observed churn by fifth of predicted risk, per horizon (the holdout)."""
    cal = result.calibration.copy()
    n = int(cal["bin"].max())
    cal["risk group"] = [_bin_name(int(b), n) if int(b) in (1, n) else f"{int(b)}"
                         for b in cal["bin"]]
    cal["gap (observed - predicted)"] = cal["observed"] - cal["predicted"]
    unit = result.time_unit
    cal["churn within"] = [_fmt_period(h, unit) for h in cal["horizon"]]
    df = cal.set_index(["churn within", "risk group"])[
        ["customers", "predicted", "observed", "gap (observed - predicted)"]]
    return dict(df=df, float_format="{:.1%}",
                caption=f"Calibration of the {result.selected} model on the holdout: mean "
                        "predicted churn and observed churn (1 - Kaplan-Meier) per group of "
                        "predicted risk (1 = least risky); a gap of more than 5 points in a "
                        "group counts as poor calibration")


def show_calibration(result) -> None:
    """The calibration table and what it means."""
    show_table(**calibration_display_table(result))
    _markdown(calibration_sentence(result))


def show_risk_caveat(result) -> None:
    """Under the risk tiers: the calibration warning, when there is one."""
    if result.calibration_check["poor"]:
        _markdown(f"**Risk tiers and churn probabilities: {calibration_warning(result)}** "
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
def _markdown(text: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(text))


def show_segment_tests(result) -> None:
    """Segment hazard ratios and log-rank tests, or a line saying there is no segment."""
    if result.segment is None:
        _markdown(NO_SEGMENT)
        return
    show_table(**segment_hr_table(result))
    show_table(**adjusted_hr_table(result))
    if result.segment_hr_bands is not None:
        show_table(**banded_hr_table(result))
    _markdown(segment_effect_sentence(result))
    show_table(**pairwise_table(result))


def show_proportional_hazards(result) -> None:
    """Reference levels, the proportional-hazards check, what was done about it, and the
    stratified model's hazard ratios when there is one."""
    _markdown(reference_levels(result))
    show_table(**ph_table(result))
    _markdown(ph_note(result.ph, result.strata))
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

    Keys: ``time_unit``, ``km_median_by_segment`` ({segment: median or None}),
    ``rmst_horizon``, ``rmst_by_segment`` ({segment: {rmst, ci_low, ci_high}}),
    ``logrank_p``, ``cox`` ({term: {hr, ci_low, ci_high, p}}), ``model_comparison``,
    ``selected_model``, ``concordance_holdout`` (Harrell's) and ``integrated_brier_score``
    (Graf et al.'s weights) of the selected model, ``integrated_brier_score_sksurv``
    (scikit-survival's weights), ``integrated_brier_score_convention`` (the two in words),
    ``concordance_uno_holdout``, ``km_survival_at`` (:func:`km_survival_at`),
    ``calibration`` (:func:`.validation.calibration_summary` of the selected model, its
    ``warning`` or None, and its ``table``), ``remaining_horizon`` and ``follow_up``
    (periods), ``value_basis`` ("margin", "revenue" or None), ``currency``, ``risk_tiers``
    ({tier: count}), ``model_sample`` (customers the models were fitted on, only when they
    were sampled), ``headline``, ``data_quality`` (the loading record) and
    ``data_quality_steps`` (every record).
    """
    km = result.km
    seg = km.drop(index="All") if len(km) > 1 else km
    comparison, selected = result.comparison, result.selected
    counts = result.risk["risk_tier"].value_counts()
    return {
        "time_unit": result.time_unit,
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
        "calibration": {**result.calibration_check,
                        "warning": calibration_warning(result) or None,
                        "table": result.calibration.to_dict(orient="records")},
        "remaining_horizon": float(result.remaining_horizon),
        "follow_up": float(result.follow_up),
        "value_basis": result.value_basis, "currency": result.currency,
        "risk_tiers": {t: int(counts.get(t, 0)) for t in ("low", "medium", "high")},
        **({} if result.model_sample is None else {"model_sample": result.model_sample}),
        "headline": headline(result),
        "data_quality": result.qualities[0].to_dict(),
        "data_quality_steps": [q.to_dict() for q in result.qualities],
    }


def risk_export(result) -> pd.DataFrame:
    """The per-customer risk table for export, customer ids replaced by pseudonyms, with
    the segment value after the id when the study has a segment, and a
    ``calibration_warning`` column (:func:`calibration_warning`; empty when the model is
    well calibrated on the holdout)."""
    out = result.risk.copy()
    if "customer_id" in out:
        out["customer_id"] = pseudonymise(out["customer_id"]).to_numpy()
    if result.segment:
        segment = result.durations[result.segment]
        out.insert(1, "segment", segment.reindex(out.index).astype("string").to_numpy())
    out["risk_tier"] = out["risk_tier"].astype(str)
    out = out.rename(columns=_value_columns(result))
    if result.value_basis is not None:
        out["currency"] = result.currency or ""
    out["calibration_warning"] = calibration_warning(result)
    return out.reset_index(drop=True)
