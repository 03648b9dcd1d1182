"""Alt texts of the survival report's figures and chart: what each shows and its main
message, computed from the result (re-exported by :mod:`.report`). Plain text; the
display helpers escape it."""
from __future__ import annotations

import numpy as np

from clm_lib import format as fmt
from clm_lib.studies.survival_churn.wording import _fmt_period

__all__ = ["km_alt", "hazard_ratio_alt", "calibration_alt", "risk_tier_alt", "value_alt"]


def _curves(result) -> list[str]:
    names = [k for k in result.km_fits if k != "All"]
    return names or ["All"]


def km_alt(result) -> str:
    """The Kaplan-Meier chart: the curves drawn and where each stands at the end of its
    follow-up (the lowest and highest named)."""
    from clm_lib.studies.survival_churn.decision import km_share_at, retention_horizon

    unit = result.time_unit
    h = retention_horizon(result)
    shares = {c: km_share_at(result, h, c) for c in _curves(result)}
    split = f" by {result.segment}" if result.segment and len(shares) > 1 else ""
    text = (f"Step chart of the share of customers still active (Kaplan-Meier, 95 % bands) "
            f"against {unit}s since start, up to {_fmt_period(result.follow_up, unit)}{split}.")
    if len(shares) > 1:
        lo, hi = min(shares, key=shares.get), max(shares, key=shares.get)
        text += (f" After {_fmt_period(h, unit)} {fmt.percent(shares[hi])} of {hi} customers "
                 f"are still active and {fmt.percent(shares[lo])} of {lo}.")
    else:
        text += f" After {_fmt_period(h, unit)} {fmt.percent(next(iter(shares.values())))} are still active."
    return text


def hazard_ratio_alt(result) -> str:
    """The forest plot: how many terms, and the strongest effects either side of 1."""
    hr = result.hazard_ratios
    text = (f"Forest plot of the Cox model's hazard ratios of churn for {len(hr)} covariate "
            "terms, with 95 % intervals, on a log scale around 1.")
    if len(hr):
        top, low = hr["hr"].idxmax(), hr["hr"].idxmin()
        if hr.loc[top, "hr"] > 1:
            text += (f" Largest ratio: {top} ({fmt.ratio(hr.loc[top, 'hr'])}, churns faster "
                     "than its reference).")
        if hr.loc[low, "hr"] < 1:
            text += (f" Smallest: {low} ({fmt.ratio(hr.loc[low, 'hr'])}, churns slower than "
                     "its reference).")
    return text


def calibration_alt(result) -> str:
    """The calibration chart: predicted against observed churn, and the largest gap."""
    c = result.calibration_check
    verdict = ("poorly calibrated" if c["poor"] else "calibrated within 5 points")
    return (f"Predicted against observed churn on the holdout, by fifth of predicted risk and "
            f"horizon, for the {result.selected} model; the model is {verdict}: the largest "
            f"gap is {fmt.percent(c['worst_predicted'])} predicted against "
            f"{fmt.percent(c['worst_observed'])} observed within "
            f"{_fmt_period(c['worst_horizon'], result.time_unit)}.")


def risk_tier_alt(result) -> str:
    """The risk-tier bars: the count of each tier."""
    counts = result.risk["risk_tier"].astype(str).value_counts()
    parts = ", ".join(f"{t} {fmt.count(counts.get(t, 0))}" for t in ("low", "medium", "high"))
    return (f"Bar chart of active customers by risk of churning within "
            f"{_fmt_period(result.tier_horizon, result.time_unit)}: {parts}.")


def value_alt(result) -> str:
    """The value-by-segment bars: the highest and lowest value per customer."""
    v = result.value["mean_value"]
    hi, lo = v.idxmax(), v.idxmin()
    basis = result.value_basis or "value"
    cur = result.currency or "currency of the data"
    return (f"Bar chart of the expected discounted {basis} per active customer over the next "
            f"{_fmt_period(result.remaining_horizon, result.time_unit)} by {result.segment} "
            f"({cur}): highest {hi} ({fmt.money(v[hi])}), lowest {lo} "
            f"({fmt.money(v[lo])}).") if np.isfinite(v).all() else (
        f"Bar chart of the expected discounted {basis} per active customer by {result.segment}.")
