"""Wording, display tables, metrics and exports of the survival study (the sentences
built from numbers are in :mod:`.wording`, re-exported here).

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
from clm_lib.studies.survival_churn.wording import (
    NO_VALUE,
    _bin_name,
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
]

#: What ``integrated_brier_score`` in metrics.json means (``..._sksurv`` is the other one).
IBS_CONVENTION = ("Graf et al. (1999): a churn at T weighted by 1/G(T-), G = Kaplan-Meier of "
                  "the training censoring; integrated_brier_score_sksurv: scikit-survival's "
                  "1/G(T), churns before censorings at tied times")

#: Text shown where no segment was chosen.
NO_SEGMENT = "No segment was chosen (`segment = None`): the curves are not split."


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
    if result.as_of is not None:
        end = observed_to(result)
        lines.append(end[0].upper() + end[1:] + ".")
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
    if not result.has_covariates:
        lines.append(no_covariates_sentence(result))
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
                            " This is revenue, not margin: no margin was given (set the "
                            "parameter margin to a margin column or amount per period)."))
    if result.value_basis is None:
        lines.append(NO_VALUE)
    lines.append(definition(result))
    return lines


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
    """The segment's hazard ratios adjusted for the covariates (same reference); shown
    only when there are covariates besides the segment."""
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
    adjusted = ", adjusted for the other covariates" if adjusts_for_others(result) else ""
    return dict(df=b, float_format="{:,.3g}",
                caption=f"Churn hazard by {result.segment} within tenure bands, relative to "
                        f"{result.segment_hr_adjusted.index[-1]}{adjusted} (a Cox model per "
                        "band; '–' where a value or the reference has no churn in the band)")


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
    caption = (f"Model comparison (fitted on {len(result.train):,} customers, validated on "
               f"{len(result.test):,}); selected: {result.selected}")
    if not result.has_covariates:
        caption += ("; no covariates: one curve for everyone, concordance 0.5 by construction, "
                    "Cox = the baseline (Breslow) curve")
    return dict(df=result.comparison, float_format="{:,.3f}", caption=caption)


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
    value = ("" if result.value_basis is None else
             f" and discounted {value_label(result)} over them {money(result)}")
    return dict(df=result.value.rename(columns=_value_columns(result)),
                caption=f"Active customers by {result.segment}: mean churn risk, expected "
                        f"{unit}s active over the next "
                        f"{_fmt_period(result.remaining_horizon, unit)} (restricted mean)"
                        + value)


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
    if adjusts_for_others(result):
        show_table(**adjusted_hr_table(result))
    if result.segment_hr_bands is not None:
        show_table(**banded_hr_table(result))
    _markdown(segment_effect_sentence(result))
    show_table(**pairwise_table(result))


def show_drivers(result, figure) -> None:
    """The section on what drives churn: ``figure(result)`` (the hazard-ratio figure, e.g.
    :func:`clm_lib.plotting.survival.hazard_ratio_figure`) and
    :func:`show_proportional_hazards`; without covariates one line that says why there is
    nothing to show."""
    if not result.has_covariates:
        _markdown(f"{no_covariates_reason(result)}: the Cox model has no hazard ratio to "
                  "estimate, and proportional hazards nothing to test. The curves above and "
                  "the segment tests are the whole story.")
        return
    from IPython.display import display

    display(figure(result))
    show_proportional_hazards(result)


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
