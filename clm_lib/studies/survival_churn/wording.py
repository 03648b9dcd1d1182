"""Sentences of the survival study's report: numbers in words (medians not reached, intervals,
tenure bands, p-values), the segment effect, calibration and remaining-lifetime sentences.
Read by :mod:`.report`, which re-exports them; nothing here computes a model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib import format as fmt

__all__ = [
    "format_p",
    "median_text",
    "interval_text",
    "band_text",
    "value_label",
    "money",
    "remaining_sentence",
    "segment_effect_sentence",
    "segment_headline",
    "calibration_sentence",
    "calibration_warning",
    "observed_to",
    "adjusts_for_others",
    "covariates_note",
    "no_covariates_sentence",
    "no_covariates_reason",
    "NO_VALUE",
]

#: Said once in the summary when neither ``margin`` nor ``revenue`` is given.
NO_VALUE = ("No value basis: neither margin nor revenue was given, so the report shows "
            "churn risk and remaining lifetime but no value (set the parameter margin or "
            "revenue to a column or an amount per period).")


def no_covariates_reason(result) -> str:
    """Why the models have no covariates, in a few words (plain text: the summary shows
    it as it is)."""
    if result.covariates_source == "parameter":
        return "No covariates (covariates = [] was given)"
    return "No covariates (none of the columns qualified; see the method notes)"


def no_covariates_sentence(result) -> str:
    """What models without covariates can and cannot say (for the summary)."""
    tail = (" and, under churn by inactivity, by the time since their last purchase"
            if result.kind == "transactions" else "")
    return (f"{no_covariates_reason(result)}: every "
            "customer gets the same survival curve, so the holdout concordance is 0.5 by "
            "construction (no ranking), the Cox model has no hazard ratio to estimate and "
            "proportional hazards nothing to test. The risk scores differ only by how long "
            f"each customer has already stayed{tail}.")


def covariates_note(result) -> str:
    """The covariates of the models, and when chosen from the data which columns were left
    out and why, as a plain paragraph for the method notes (shown escaped: the column
    names come from the data)."""
    from clm_lib.studies.survival_churn.covariates import (
        MAX_DURATION_SPEARMAN,
        MAX_LEVELS,
        MAX_MISSING_SHARE,
    )

    used = ", ".join(f"'{c}'" for c in result.covariates) or "none"
    if result.covariates_source == "parameter":
        return f"Covariates (as given in the parameter covariates): {used}."
    text = (f"Covariates (chosen from the columns of the data, covariates = None): "
            f"{used}. Chosen are categorical columns with 2 to {MAX_LEVELS} levels and "
            f"numeric columns; left out are dates, columns with more than "
            f"{MAX_MISSING_SHARE:.0%} missing values, constant and near-unique (id) columns, "
            f"columns with more levels, numeric columns that restate the duration "
            f"(|Spearman correlation| with it above {MAX_DURATION_SPEARMAN:g}: they would "
            "leak the outcome), the value basis and the columns the study computes from the "
            "purchase history.")
    if result.covariates_left_out:
        text += " Left out: " + "; ".join(f"'{c}': {why}" for c, why in
                                          result.covariates_left_out.items()) + "."
    if result.kind == "transactions":
        text += (" Under churn by inactivity the durations carry only what the study computes "
                 "from the purchases, which restates the lifetime; first_amount (and "
                 "first_quantity), known at the first purchase, can be named in "
                 "covariates.")
    return text + " Name the covariates in the parameter covariates to choose others."


def observed_to(result) -> str:
    """Where observation ends, in words: ``"observed to 1998-06-30, the last date in the
    data"`` (or ``"..., the as_of given"``); '' for snapshots without an end."""
    if result.as_of is None:
        return ""
    where = ("the last date in the data" if result.as_of_source == "data"
             else "the as_of given")
    return f"observed to {result.as_of:%Y-%m-%d}, {where}"


def adjusts_for_others(result) -> bool:
    """Whether the segment's Cox models hold other covariates fixed (else the 'adjusted'
    ratios are the segment's own, and are not called adjusted)."""
    return any(c != result.segment for c in result.covariates)


def format_p(p: float) -> str:
    """A p-value for report text after "p": ``"= 0.031"``, ``"< 0.001"`` below the printing
    precision (never ``4.94e-161``), ``"n/a"`` when there is none."""
    if p is None or not np.isfinite(p):
        return "n/a"
    text = fmt.p_value(p)
    return text if text.startswith("<") else f"= {text}"


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
    others = adjusts_for_others(result)
    adjusted = (f"{a['hr']:.1f} times ({'adjusted ' if others else ''}Cox hazard ratio, 95 % "
                f"interval {a['ci_low']:.1f}-{a['ci_high']:.1f})")
    unadjusted = f"{un.loc[fast, 'hr']:.1f} times" if fast in un.index else "n/a"
    if _ph_holds(result):
        held = ("with the other covariates held fixed" if others else
                "(no other covariate to adjust for)")
        return (f"{fast} customers churn {adjusted} as fast as {slow} customers {held}; "
                f"proportional hazards holds for {seg} "
                f"(p {format_p(result.segment_ph_p)}), so one ratio describes every tenure."
                + (f" Unadjusted: {unadjusted}." if others else ""))
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
        text += ((" Adjusted for the other covariates, by tenure band: " if others else
                  " By tenure band: ") + "; ".join(parts) + ".")
    if not others:
        return text + (f" Averaged over tenure the ratio is {a['hr']:.1f}; read it as an "
                       "average only.")
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
    adjusted = "adjusted " if adjusts_for_others(result) else ""
    if _ph_holds(result):
        return label, f"{a['hr']:.1f}x churn hazard ({adjusted}Cox)"
    bands = _fast_bands(result) if result.segment_hr_bands is not None else pd.DataFrame()
    ok = bands[np.isfinite(bands["hr"])] if len(bands) else bands
    if len(ok):
        r = ok.loc[ok["churned"].idxmax()]
        return label, (f"{r['hr']:.1f}x churn hazard "
                       f"{band_text(r['band_start'], r['band_end'], unit)} ("
                       f"{adjusted.strip() + ', ' if adjusted else ''}by tenure band: "
                       "proportional hazards fails)")
    return label, (f"{a['hr']:.1f}x churn hazard ({adjusted}Cox, averaged over tenure: "
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
            f"{c['error'] * 100:.1f} percentage points over the calibration table). Read the "
            "churn probabilities and risk tiers below as a ranking of customers, not as "
            "probabilities: "
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
