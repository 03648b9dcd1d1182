"""Display tables of the survival study's report, re-exported by :mod:`.report`.

Each function returns the keyword arguments of :func:`clm_lib.reporting.show_table`:
``df`` (the values, unformatted, so that a report sorts them as numbers), ``caption``,
``formats`` (one :mod:`clm_lib.format` kind per column: counts as integers, shares in
percent, p-values "< 0.001", ratios "1.4×") and ``rename`` (the names readers see, with
units). Nothing here computes a model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.studies.survival_churn.wording import (
    _bin_name,
    _fmt_period,
    adjusts_for_others,
    band_text,
    format_p,
    interval_text,
    median_text,
    money,
    value_label,
)

__all__ = ["km_table", "segment_hr_table", "adjusted_hr_table", "banded_hr_table",
           "pairwise_table", "ph_table", "stratified_hr_table", "comparison_table",
           "value_table", "calibration_display_table", "ratio_interval"]

#: How the columns of a hazard-ratio table read.
_HR_FORMATS = {"hr": "ratio", "p": "p_value"}
_HR_NAMES = {"hr": "Hazard ratio", "interval": "95 % interval", "p": "p-value",
             "covariate": "Covariate", "term": "Term"}


def ratio_interval(low: float, high: float) -> str:
    """A hazard ratio's 95 % interval: ``"0.72× to 0.91×"`` ("reference" for 1 to 1,
    "–" when not estimated)."""
    if fmt.is_missing(low) or fmt.is_missing(high) or not np.isfinite(low):
        return fmt.MISSING
    if low == high == 1.0:
        return "reference"
    return f"{fmt.ratio(low)} to {fmt.ratio(high)}"


def _hr_frame(hr: pd.DataFrame) -> pd.DataFrame:
    """``hr``, the interval as text, ``p``: the shape of every hazard-ratio table."""
    out = pd.DataFrame({"hr": hr["hr"],
                        "interval": [ratio_interval(lo, hi)
                                     for lo, hi in zip(hr["ci_low"], hr["ci_high"])],
                        "p": hr["p"]}, index=hr.index)
    return out


def km_table(result) -> dict:
    """Customers, churned, median lifetime and RMST per curve, medians and intervals in
    words where the curve or its band does not fall to 50 %."""
    unit, km = result.time_unit, result.km
    h = _fmt_period(result.rmst_horizon, unit)
    df = pd.DataFrame({
        "customers": km["customers"], "churned": km["churned"],
        "median": [median_text(r["median"], r["follow_up"], unit) for _, r in km.iterrows()],
        "median 95 % interval": [interval_text(r["median_ci_low"], r["median_ci_high"], unit)
                                 for _, r in km.iterrows()],
        "RMST": km["rmst"],
        "RMST 95 % interval": [f"{fmt.number(r['rmst_ci_low'], 2)} to "
                               f"{fmt.number(r['rmst_ci_high'], 2)} {unit}s"
                               for _, r in km.iterrows()],
    }, index=km.index)
    return dict(df=df, formats={"customers": "count", "churned": "count",
                                "RMST": ("number", 2)},
                rename={"segment": result.segment or "Customers", "customers": "Customers",
                        "churned": "Churned", "median": "Median lifetime",
                        "median 95 % interval": "Median, 95 % interval",
                        "RMST": f"RMST ({unit}s of the first {h})",
                        "RMST 95 % interval": "RMST, 95 % interval"},
                caption=f"Lifetime by segment (median and RMST in {unit}s; RMST = "
                        f"mean {unit}s stayed within the first {h}; 95 % intervals)")


def segment_hr_table(result) -> dict:
    """Unadjusted hazard ratio of each segment value against the slowest-churning one."""
    return dict(df=_hr_frame(result.segment_hr), formats=_HR_FORMATS,
                rename={result.segment: result.segment, **_HR_NAMES},
                caption=f"Churn hazard by {result.segment}, relative to the slowest-churning "
                        "value (unadjusted)")


def adjusted_hr_table(result) -> dict:
    """The segment's hazard ratios adjusted for the covariates (same reference); shown
    only when there are covariates besides the segment."""
    return dict(df=_hr_frame(result.segment_hr_adjusted), formats=_HR_FORMATS,
                rename=_HR_NAMES,
                caption=f"Churn hazard by {result.segment}, relative to "
                        f"{result.segment_hr_adjusted.index[-1]}, adjusted for the other "
                        "covariates (Cox; averaged over tenure where proportional hazards "
                        "fails)")


def banded_hr_table(result) -> dict:
    """The segment's adjusted hazard ratios by tenure band."""
    b = result.segment_hr_bands
    unit = result.time_unit
    df = _hr_frame(b)
    df.insert(0, "value", b["value"].astype(str).to_numpy())
    df.insert(0, "tenure", [band_text(r["band_start"], r["band_end"], unit)
                            for _, r in b.iterrows()])
    df["churned"] = b["churned"].to_numpy()
    df["reference_churned"] = b["reference_churned"].to_numpy()
    ref = result.segment_hr_adjusted.index[-1]
    adjusted = ", adjusted for the other covariates" if adjusts_for_others(result) else ""
    return dict(df=df.reset_index(drop=True), index=False,
                formats={**_HR_FORMATS, "churned": "count", "reference_churned": "count"},
                rename={**_HR_NAMES, "tenure": "Tenure", "value": result.segment,
                        "churned": "Churned in the band",
                        "reference_churned": f"{ref} churned in the band"},
                caption=f"Churn hazard by {result.segment} within tenure bands, relative to "
                        f"{ref}{adjusted} (a Cox model per band; '–' where a value or the "
                        "reference has no churn in the band)")


def pairwise_table(result) -> dict:
    """Pairwise log-rank tests, the test of all segment values together in the caption."""
    s = result.pairwise.summary
    pairs = [" vs ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in s.index]
    df = pd.DataFrame({"pair": pairs, "test_statistic": s["test_statistic"].to_numpy(),
                       "p": s["p"].to_numpy()})
    return dict(df=df, index=False, formats={"test_statistic": ("number", 1), "p": "p_value"},
                rename={"pair": "Segments compared", "test_statistic": "Log-rank χ² (1 df)",
                        "p": "p-value"},
                caption=f"Pairwise log-rank tests (all {result.segment} values together: "
                        f"p {format_p(result.logrank.p_value)})")


def ph_table(result) -> dict:
    """The proportional-hazards test per design column."""
    df = result.ph.copy()
    df["violated"] = np.where(df["violated"], "yes", "no")
    return dict(df=df[["covariate", "statistic", "p", "violated"]],
                formats={"statistic": ("number", 2), "p": "p_value"},
                rename={**_HR_NAMES, "statistic": "Test statistic (χ², 1 df)",
                        "violated": "Violated (p < 0.01)"},
                caption="Proportional-hazards check (p < 0.01 = violated)")


def stratified_hr_table(result) -> dict:
    """Hazard ratios of the Cox model stratified on the violating covariates."""
    return dict(df=_hr_frame(result.hazard_ratios_stratified), formats=_HR_FORMATS,
                rename=_HR_NAMES,
                caption=f"Hazard ratios with {', '.join(result.strata)} as strata")


def _gap_points(v) -> str:
    return fmt.MISSING if fmt.is_missing(v) else f"{fmt.number(100 * float(v), 1)} pts"


def comparison_table(result) -> dict:
    """AIC, concordance (Harrell's and Uno's), integrated Brier score, calibration gaps and
    the mean time-dependent AUC per model."""
    caption = (f"Model comparison (fitted on {len(result.train):,} customers, validated on "
               f"{len(result.test):,}); selected: {result.selected}")
    if not result.has_covariates:
        caption += ("; no covariates: one curve for everyone, concordance 0.5 by construction, "
                    "Cox = the baseline (Breslow) curve")
    c = result.comparison
    concord = ("number", 3)
    formats = {"AIC": ("number", 1), "concordance_train": concord,
               "concordance_holdout": concord, "concordance_uno_holdout": concord,
               "integrated_brier_score": ("number", 4),
               "integrated_brier_score_sksurv": ("number", 4),
               "calibration_error": _gap_points, "calibration_worst_gap": _gap_points,
               "mean_auc": concord}
    return dict(df=c, formats={k: v for k, v in formats.items() if k in c}, caption=caption,
                rename={"model": "Model", "AIC": "AIC (lower is better)",
                        "AIC_kind": "AIC kind", "concordance_train": "Concordance, training",
                        "concordance_holdout": "Concordance, holdout (Harrell)",
                        "concordance_uno_holdout": "Concordance, holdout (Uno)",
                        "integrated_brier_score": "Integrated Brier score (Graf)",
                        "integrated_brier_score_sksurv": "Integrated Brier score (scikit-survival)",
                        "calibration_error": "Mean calibration gap",
                        "calibration_worst_gap": "Largest calibration gap",
                        "mean_auc": "Time-dependent AUC, mean over the horizons"})


def value_table(result) -> dict:
    """Active customers, mean churn risk, remaining lifetime and value per segment value."""
    unit, h = result.time_unit, _fmt_period(result.remaining_horizon, result.time_unit)
    basis = value_label(result)
    value = ("" if result.value_basis is None else
             f" and discounted {basis} over them {money(result)}")
    v = result.value
    cur = result.currency or "currency of the data"
    formats = {"customers": "count", "expected_remaining": ("number", 1),
               "mean_value": ("money", result.currency), "total_value": ("money", result.currency)}
    rename = {"segment": result.segment, "customers": "Active customers",
              "expected_remaining": f"Expected {unit}s active of the next {h}",
              "mean_value": f"Discounted {basis} per customer, next {h} ({cur})",
              "total_value": f"Discounted {basis}, all, next {h} ({cur})"}
    for c in v.columns:
        if c.startswith("p_churn_"):
            formats[c] = "percent"
            n = float(c.rsplit("_", 1)[1])
            rename[c] = f"Mean P(churn within {_fmt_period(n, unit)})"
    return dict(df=v, formats={k: f for k, f in formats.items() if k in v}, rename=rename,
                caption=f"Active customers by {result.segment}: mean churn risk, expected "
                        f"{unit}s active over the next {h} (restricted mean)" + value)


def calibration_display_table(result) -> dict:
    """Predicted vs observed churn by fifth of predicted risk, per horizon (the holdout)."""
    cal = result.calibration
    n = int(cal["bin"].max())
    unit = result.time_unit
    df = pd.DataFrame({
        "churn within": [_fmt_period(h, unit) for h in cal["horizon"]],
        "risk group": [_bin_name(int(b), n) if int(b) in (1, n) else f"{int(b)}"
                       for b in cal["bin"]],
        "customers": cal["customers"].to_numpy(),
        "predicted": cal["predicted"].to_numpy(), "observed": cal["observed"].to_numpy(),
        "gap": (cal["observed"] - cal["predicted"]).to_numpy()})
    return dict(df=df, index=False,
                formats={"customers": "count", "predicted": "percent", "observed": "percent",
                         "gap": "points"},
                rename={"churn within": "Churn within", "risk group": "Risk group",
                        "customers": "Holdout customers", "predicted": "Predicted churn",
                        "observed": "Observed churn (1 − Kaplan-Meier)",
                        "gap": "Gap (observed − predicted)"},
                caption=f"Calibration of the {result.selected} model on the holdout: mean "
                        "predicted churn and observed churn (1 - Kaplan-Meier) per group of "
                        "predicted risk (1 = least risky); a gap of more than 5 points in a "
                        "group counts as poor calibration")
