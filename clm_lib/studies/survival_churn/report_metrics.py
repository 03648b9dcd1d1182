"""Wording, display table and ``metrics.json`` entries of the holdout metrics per risk
horizon (:mod:`.metrics`): the time-dependent AUC and its integrated mean, Uno's
concordance beside Harrell's, and the calibration slope.

Every number is read from the result; nothing here computes a model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.reporting import show_note, show_table
from clm_lib.studies.survival_churn.wording import _fmt_period

__all__ = ["CALIBRATION_SLOPE_METHOD", "SLOPE_TOLERANCE", "auc_sentence",
           "slope_sentence", "uno_sentence", "horizon_lines", "horizon_table",
           "show_horizon_metrics", "horizon_metrics_json"]

#: How the calibration slope handles censoring (metrics.json and the method note).
CALIBRATION_SLOPE_METHOD = (
    "IPCW logistic regression of churned-by-h on logit(predicted P(churn by h)): churns by h "
    "weighted 1/G(T), customers active after h 1/G(h), those censored before h left out; G = "
    "Kaplan-Meier of the training censoring; 95 % interval from the robust (sandwich) variance")

#: A slope whose 95 % interval covers 1, or within this of 1, reads as well calibrated.
SLOPE_TOLERANCE = 0.1


def _selected_rows(result) -> pd.DataFrame:
    t = result.horizon_metrics
    return t[t["model"] == result.selected].sort_values("horizon")


def _finite(v) -> bool:
    return v is not None and np.isfinite(float(v))


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def auc_sentence(result) -> str:
    """The selected model's time-dependent AUC at each horizon and its mean, in words
    ("at 6 months the model ranks a customer who churned by then above one still active
    84 % of the time")."""
    rows, unit = _selected_rows(result), result.time_unit
    parts, missing = [], []
    for _, r in rows.iterrows():
        h = _fmt_period(r["horizon"], unit)
        if _finite(r["auc"]):
            parts.append(f"{fmt.percent(r['auc'], 0)} of the time at {h}")
        else:
            missing.append(h)
    if not parts:
        return (f"Time-dependent AUC of the {result.selected} model: not estimable at any "
                "horizon (no holdout customer churned by it, or none was still observed "
                "after it).")
    text = (f"On the holdout the {result.selected} model ranks a customer who churned by a "
            f"horizon above one still active after it {_join(parts)} (time-dependent AUC, "
            "churners weighted for censoring; 0.5 = coin toss)")
    mean = result.comparison.loc[result.selected, "mean_auc"] \
        if "mean_auc" in result.comparison else np.nan
    if _finite(mean) and len(parts) > 1:
        text += (f"; averaged over the horizons, each weighted by the churn in the time "
                 f"before it, {fmt.percent(mean, 0)}")
    text += "."
    if missing:
        text += (f" Not estimable at {_join(missing)}: no holdout customer churned by "
                 "then, or none was still observed after it.")
    return text


def uno_sentence(result) -> str:
    """Uno's concordance beside Harrell's for the selected model, and what differs."""
    r = result.comparison.loc[result.selected]
    harrell, uno = r["concordance_holdout"], r["concordance_uno_holdout"]
    return (f"Concordance of the {result.selected} model on the holdout: "
            f"{fmt.number(harrell, 3)} (Harrell's) and {fmt.number(uno, 3)} (Uno's, each pair "
            "weighted by the inverse probability that its earlier churn was observed, so it "
            "does not depend on how heavily the holdout is censored); a gap of "
            f"{fmt.number(abs(uno - harrell), 3)} between them.")


def slope_sentence(result) -> str:
    """The selected model's calibration slope at each horizon, in words."""
    rows, unit = _selected_rows(result), result.time_unit
    parts, verdicts = [], {}
    for _, r in rows.iterrows():
        h = _fmt_period(r["horizon"], unit)
        if not _finite(r["slope"]):
            parts.append(f"{h}: not estimable")
            continue
        lo, hi = r["slope_ci_low"], r["slope_ci_high"]
        parts.append(f"{h}: {fmt.number(r['slope'], 2)} (95 % interval "
                     f"{fmt.number(lo, 2)} to {fmt.number(hi, 2)})")
        if lo <= 1 <= hi or abs(r["slope"] - 1) <= SLOPE_TOLERANCE:
            key = "about as spread as the outcomes"
        elif r["slope"] < 1:
            key = "too extreme (high risks too high, low risks too low)"
        else:
            key = "too timid (closer together than the outcomes)"
        verdicts.setdefault(key, []).append(h)
    text = (f"Calibration slope of the {result.selected} model on the holdout (slope of the "
            "observed churn on the logit of the predicted churn probability, weighted for "
            "censoring; 1 = well calibrated, below 1 = predictions too extreme, above 1 = too "
            f"timid): {'; '.join(parts)}.")
    if verdicts:
        text += " The predicted probabilities are " + "; ".join(
            f"{k} at {_join(v)}" for k, v in verdicts.items()) + "."
    if not result.has_covariates:
        text += (" Without covariates every customer gets the same prediction, so there is "
                 "no slope to estimate (and the AUC is 0.5 by construction).")
    return text


def horizon_lines(result) -> list[str]:
    """The three sentences under the horizon table."""
    return [auc_sentence(result), uno_sentence(result), slope_sentence(result)]


def horizon_table(result) -> dict:
    """Time-dependent AUC and calibration slope per model and horizon (``show_table``
    arguments)."""
    t = result.horizon_metrics.copy()
    unit = result.time_unit
    t["horizon"] = [_fmt_period(h, unit) for h in t["horizon"]]
    t["slope_interval"] = [
        f"{fmt.number(lo, 2)} to {fmt.number(hi, 2)}" if _finite(lo) else fmt.MISSING
        for lo, hi in zip(t["slope_ci_low"], t["slope_ci_high"])]
    t = t[["model", "horizon", "auc", "cases", "controls", "slope", "slope_interval"]]
    return dict(df=t, index=False,
                caption=(f"Discrimination and calibration by horizon on the holdout "
                         f"({len(result.test):,} customers); cases = churned by the horizon, "
                         "controls = still active after it; slope interval: 95 %"),
                formats={"auc": ("number", 3), "cases": "count", "controls": "count",
                         "slope": ("number", 2)},
                rename={"model": "Model", "horizon": "Horizon",
                        "auc": "Time-dependent AUC", "cases": "Cases",
                        "controls": "Controls", "slope": "Calibration slope",
                        "slope_interval": "Slope 95 % interval"})


def show_horizon_metrics(result) -> None:
    """The horizon table and its sentences."""
    show_table(**horizon_table(result))
    show_note(*horizon_lines(result))


def _num(v) -> float | None:
    return float(v) if _finite(v) else None


def horizon_metrics_json(result) -> dict:
    """``metrics.json`` entries: ``time_dependent_auc`` ({model: {"<h>": AUC, "mean":
    integrated mean}}), ``uno_c`` and ``harrell_c`` ({model: holdout concordance}),
    ``calibration_slope`` ({model: {"<h>": {slope, ci_low, ci_high, intercept,
    customers}}, "method": :data:`CALIBRATION_SLOPE_METHOD`}); horizons in periods of
    ``time_unit``, None where a number is not estimable."""
    t, c = result.horizon_metrics, result.comparison
    auc, slope = {}, {"method": CALIBRATION_SLOPE_METHOD}
    for name, g in t.groupby("model", sort=False):
        auc[name] = {f"{h:g}": _num(a) for h, a in zip(g["horizon"], g["auc"])}
        auc[name]["mean"] = _num(c.loc[name, "mean_auc"]) if "mean_auc" in c else None
        slope[name] = {f"{r['horizon']:g}": {
            "slope": _num(r["slope"]), "ci_low": _num(r["slope_ci_low"]),
            "ci_high": _num(r["slope_ci_high"]), "intercept": _num(r["intercept"]),
            "customers": int(r["slope_customers"])} for _, r in g.iterrows()}
    return {"time_dependent_auc": auc,
            "uno_c": {k: _num(v) for k, v in c["concordance_uno_holdout"].items()},
            "harrell_c": {k: _num(v) for k, v in c["concordance_holdout"].items()},
            "calibration_slope": slope}
