"""The survival study's decision box and its figures for the index page.

:func:`decision` says what matters (how many stay, who leaves first, how many active
customers are at risk), what to do (with the value at stake) and how sure the study is
(the selected model's holdout record); :func:`lifecycle` gives the retention figures of
the index. Both read a :class:`~clm_lib.studies.survival_churn.compute.SurvivalStudy`
and compute no model; numbers go through :mod:`clm_lib.format`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.reporting import Decision, source_label, stage_figure
from clm_lib.studies.survival_churn.wording import (
    _bin_name,
    _fmt_period,
    median_text,
    segment_headline,
    value_label,
)

__all__ = ["retention_horizon", "km_share_at", "worst_segment_gain", "decision", "lifecycle"]

#: One year in each time unit: the horizon of the "still active after" figure.
_ONE_YEAR = {"day": 365, "week": 52, "month": 12, "year": 1}


def retention_horizon(result) -> float:
    """The horizon of the retention figure, in periods: one year, or the longest
    follow-up when the data do not reach a year."""
    return float(min(_ONE_YEAR.get(result.time_unit, 12), result.follow_up))


def km_share_at(result, t: float, curve: str = "All") -> float:
    """Kaplan-Meier share of ``curve``'s customers still active after ``t`` periods."""
    return float(result.km_fits[curve].survival_function_at_times(float(t)).iloc[0])


def _money(result, x: float) -> str:
    """An amount in the study's currency (or the data's, said in words)."""
    if result.currency:
        return fmt.money(x, result.currency)
    return f"{fmt.money(x)} (currency of the data)"


def _segment_of_risk(result) -> pd.Series | None:
    if not result.segment or not len(result.risk):
        return None
    return result.durations[result.segment].reindex(result.risk.index).astype("string")


def worst_segment_gain(result) -> dict | None:
    """What keeping the fastest-churning segment's active customers as long as the
    slowest-churning segment's is worth, over the remaining-lifetime horizon.

    Returns ``{worst, best, customers, months, value}``: the segment values (by the
    adjusted Cox ranking), the worst segment's active customers, the expected
    periods active gained in total (each customer brought up to the best segment's mean,
    never down), and the value of those periods (each customer's own value per
    discounted period; None without a value basis). None without a segment or when the
    worst segment has no active customers. An upper bound: the segment was not assigned
    at random, so part of the gap belongs to who chooses it.
    """
    seg = _segment_of_risk(result)
    adj = result.segment_hr_adjusted
    if seg is None or adj is None or len(adj) < 2:
        return None
    worst, best = str(adj.index[0]), str(adj.index[-1])
    risk = result.risk
    w, b = risk[seg.to_numpy() == worst], risk[seg.to_numpy() == best]
    if not len(w) or not len(b):
        return None
    months = float(np.clip(b["expected_remaining"].mean() - w["expected_remaining"], 0, None).sum())
    value = None
    if "value" in risk and result.value_basis is not None:
        per_period = w["value"] / w["discounted_lifetime"].where(w["discounted_lifetime"] > 0)
        gain = np.clip(b["discounted_lifetime"].mean() - w["discounted_lifetime"], 0, None)
        value = float((per_period.fillna(0) * gain).sum())
    return {"worst": worst, "best": best, "customers": int(len(w)), "months": months,
            "value": value}


def _findings(result) -> list[str]:
    unit, km = result.time_unit, result.km
    overall = km.loc["All"]
    h = retention_horizon(result)
    out = [f"{fmt.percent(km_share_at(result, h))} of customers are still active after "
           f"{_fmt_period(h, unit)} (Kaplan-Meier, {fmt.count(overall['customers'])} "
           f"customers, {fmt.count(overall['churned'])} churned); median lifetime "
           f"{median_text(overall['median'], overall['follow_up'], unit)}."]
    seg = segment_headline(result) if result.segment_hr is not None else None
    if seg is not None:
        worst, best = str(result.segment_hr_adjusted.index[0]), str(result.segment_hr_adjusted.index[-1])
        shares = ""
        if worst in result.km_fits and best in result.km_fits:
            shares = (f"; after {_fmt_period(h, unit)} {fmt.percent(km_share_at(result, h, worst))} "
                      f"of {worst} and {fmt.percent(km_share_at(result, h, best))} of {best} "
                      "customers are still active")
        out.append(f"{worst} customers ({result.segment}) churn fastest: "
                   f"{seg[1].replace('x churn hazard', '× the churn hazard of ' + best, 1)}"
                   f"{shares}.")
    risk = result.risk
    if len(risk):
        high = int((risk["risk_tier"] == "high").sum())
        out.append(f"{fmt.count(high)} of the {fmt.count(len(risk))} active customers "
                   f"({fmt.percent(high / len(risk))}) are at high risk of churning within "
                   f"{_fmt_period(result.tier_horizon, unit)} (P ≥ "
                   f"{fmt.percent(result.risk_thresholds[1], 0)}).")
        if "value" in risk and result.value_basis is not None:
            out.append(f"The active customers are expected to bring "
                       f"{_money(result, risk['value'].sum())} of discounted "
                       f"{value_label(result)} over the next "
                       f"{_fmt_period(result.remaining_horizon, unit)}.")
    return out


def _actions(result) -> list[str]:
    unit, risk = result.time_unit, result.risk
    out = []
    if len(risk):
        has_value = "value" in risk and result.value_basis is not None
        for tier, verb in (("high", "Contact"), ("medium", "Watch")):
            rows = risk[risk["risk_tier"] == tier]
            if not len(rows):
                continue
            worth = (f", worth {_money(result, rows['value'].sum())} of discounted "
                     f"{value_label(result)} over the next "
                     f"{_fmt_period(result.remaining_horizon, unit)}" if has_value else "")
            out.append(f"{verb} the {fmt.count(len(rows))} {tier}-risk active customers"
                       f"{' first' if tier == 'high' else ' next'}{worth} (export "
                       "customer_risk, column risk_tier).")
    gain = worst_segment_gain(result)
    if gain is not None:
        worth = ("" if gain["value"] is None else
                 f"worth up to {_money(result, gain['value'])} of discounted "
                 f"{value_label(result)} and ")
        out.append(f"Keep {gain['worst']} customers ({result.segment}) longer (e.g. offer "
                   f"{gain['best']} terms): if its {fmt.count(gain['customers'])} active "
                   f"customers stayed as long as {gain['best']} customers, that is {worth}"
                   f"{fmt.count(gain['months'])} more customer-{unit}s over the next "
                   f"{_fmt_period(result.remaining_horizon, unit)} (an upper bound: part of "
                   "the gap is who chooses the segment).")
    if not out:
        out.append("No active customers to act on: every customer in the data has churned.")
    return out


def _confidence(result) -> str:
    r = result.comparison.loc[result.selected]
    c = result.calibration_check
    text = (f"Risk scores from the {result.selected} model, checked on "
            f"{fmt.count(len(result.test))} held-out customers: it orders pairs of customers "
            f"by churn correctly {fmt.percent(r['concordance_holdout'], 0)} of the time "
            f"(Harrell's concordance; 50 % = coin toss), integrated Brier score "
            f"{fmt.number(r['integrated_brier_score'], 3)}.")
    if not result.has_covariates:
        text += " Without covariates every customer gets the same curve: no ranking beyond tenure."
    who = _bin_name(c["worst_bin"], int(result.calibration["bin"].max()))
    pair = (f"{who} of the holdout: {fmt.percent(c['worst_predicted'])} predicted, "
            f"{fmt.percent(c['worst_observed'])} churned within "
            f"{_fmt_period(c['worst_horizon'], result.time_unit)}")
    if c["poor"]:
        side = "under-predicts" if c["worst_gap"] > 0 else "over-predicts"
        text += (f" Its probabilities are poorly calibrated ({side} churn; {pair}): use the "
                 "risk tiers as a ranking, not as probabilities.")
    else:
        text += f" Its probabilities match the holdout within 5 points (largest gap: {pair})."
    text += (" The shares still active are Kaplan-Meier estimates with 95 % intervals "
             "(see the curves).")
    return text


def _as_of(result) -> str:
    if result.as_of is None:
        return "the date of the extract (a snapshot of tenures: no end date in the data)"
    how = "the last date in the data" if result.as_of_source == "data" else "as given"
    return f"{result.as_of:%Y-%m-%d} ({how})"


def decision(result) -> Decision:
    """The decision box of the survival report (shown first, stored under
    ``metrics["decision"]``): 3-4 findings, the actions with their value at stake
    (risk tiers, the fastest-churning segment), the holdout record, the source and
    the end of observation."""
    return Decision(findings=_findings(result), actions=_actions(result),
                    confidence=_confidence(result), source=source_label(result.qualities[0]),
                    as_of=_as_of(result))


def lifecycle(result) -> list[dict]:
    """The retention figures of the index page (``metrics["lifecycle"]``): the share still
    active after a year (Kaplan-Meier) and the median lifetime, of all customers."""
    unit, overall = result.time_unit, result.km.loc["All"]
    h = retention_horizon(result)
    who = (f"all {fmt.count(overall['customers'])} customers"
           + (f" (every {result.segment})" if result.segment else ""))
    churn = ("churn = the subscription ended" if result.kind != "transactions" else
             f"churn = {result.inactivity_days:g} days without a purchase")
    return [
        stage_figure("retention", f"Still active after {_fmt_period(h, unit)}",
                     fmt.percent(km_share_at(result, h)),
                     f"Kaplan-Meier share of {who} still active {_fmt_period(h, unit)} after "
                     f"their start; {churn}"),
        stage_figure("retention", "Median customer lifetime",
                     median_text(overall["median"], overall["follow_up"], unit),
                     f"{unit}s until half of {who} have churned (Kaplan-Meier); 'not reached' "
                     "when more than half are still active at the longest follow-up"),
    ]
