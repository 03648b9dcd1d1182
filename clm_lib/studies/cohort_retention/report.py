"""Wording and layout of the cohort-retention report: summary lines, the churn rule, display
tables, ``metrics.json`` and the exports, all from a :class:`~.compute.CohortStudy`.

Display-table functions return a :class:`DisplayTable` ``(frame, caption)``, so that the
notebook writes ``show_table(*report.churn_table(study))``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from clm_lib.studies.cohort_retention.compute import CohortStudy
from clm_lib.studies.cohort_retention.snapshot import SYNTHETIC_COHORT

__all__ = ["DisplayTable", "churn_rule", "churn_rule_text", "churn_table", "cohort_metrics",
           "cohort_sizes_table", "derl_table", "export_frames", "projection_table",
           "sbg_error_text", "sbg_parameters_table", "summary_lines"]


class DisplayTable(NamedTuple):
    """A table ready to show and its caption."""

    frame: pd.DataFrame
    caption: str


def _pretty(label: str, unit: str) -> str:
    if unit == "month" and label != SYNTHETIC_COHORT:
        try:
            return pd.Period(label, "M").strftime("%B %Y")
        except ValueError:
            return label
    return label


def _pct(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.1f} %"


# ---------------------------------------------------------------------------------------
# Wording
# ---------------------------------------------------------------------------------------
def churn_rule_text(form: str, inactivity_periods: int, unit: str) -> str:
    """The churn-rate rule in plain language (stated in the report)."""
    if form == "intervals":
        return (f"a customer is lost in the {unit} in which their subscription ends; the rate "
                f"is losses / subscriptions active at the start of the {unit}")
    if form == "snapshot":
        return (f"per {unit} of tenure: customers who cancelled after that many {unit}s / "
                f"customers who reached it (no calendar dates in snapshot data)")
    n = int(inactivity_periods)
    return (f"a customer is lost in a {unit} when they bought in the previous {unit} and then "
            f"not at all for {n} {unit}{'s' if n != 1 else ''} (a later purchase is a "
            f"reactivation); the rate is losses / customers active at the start of the "
            f"{unit}; the last {n - 1} {unit}{'s' if n - 1 != 1 else ''} are not reported "
            "because their window is not over")


def churn_rule(study: CohortStudy) -> str:
    """:func:`churn_rule_text` for the study's data form and parameters."""
    return churn_rule_text(study.form, study.parameters["inactivity_periods"], study.unit)


def sbg_error_text(study: CohortStudy) -> str | None:
    """Why the sBG model, or its holdout check, could not be fitted (None if both were)."""
    if study.sbg_failure is not None:
        exc = study.sbg_failure
        return f"{type(exc).__name__}: {exc}"
    if study.holdout_failure is not None:
        exc = study.holdout_failure
        return (f"holdout check not possible ({type(exc).__name__}: {exc}); the projection "
                "uses all periods")
    return None


def summary_lines(study: CohortStudy) -> list[str]:
    """Plain-language findings computed from the results (no hand-written numbers)."""
    t, u = study.tables, study.unit
    lines = []
    active = "bought" if t.form == "transactions" else "were still subscribed"
    if t.form == "snapshot":
        lines.append(f"{int(t.sizes.iloc[0]):,} subscribers with tenure up to "
                     f"{int(t.last_k.iloc[0])} {u}s form one synthetic cohort (snapshot data "
                     "have no start dates).")
    else:
        span = (f"one {u}ly cohort ({_pretty(t.sizes.index[0], u)})" if len(t.sizes) == 1
                else f"{len(t.sizes)} {u}ly cohorts from {_pretty(t.sizes.index[0], u)} to "
                     f"{_pretty(t.sizes.index[-1], u)}")
        lines.append(f"{int(t.sizes.sum()):,} customers were acquired in {span} "
                     f"(data up to {study.parameters['as_of']}).")
    first = t.sizes.index[0]
    if t.last_k.iloc[0] >= 1:
        b1 = t.bounded_rates.loc[first, 1]
        u1 = t.unbounded_rates.loc[first, 1]
        who = (f"Of the customers acquired in {_pretty(first, u)} ({int(t.sizes.iloc[0]):,})"
               if t.form != "snapshot" else "Of all subscribers")
        if t.form == "transactions":
            lines.append(f"{who}, {_pct(b1)} bought again in their second {u} and "
                         f"{_pct(u1)} bought in their second {u} or later.")
        else:
            lines.append(f"{who}, {_pct(b1)} {active} in their second {u}.")
        K = int(t.last_k.iloc[0])
        them = ("that cohort were active" if t.form == "transactions"
                else "them were still subscribed")
        lines.append(f"{K} {u}s after acquisition (k = {K}, the latest observed), "
                     f"{_pct(t.bounded_rates.loc[first, K])} of {them}.")
    obs1 = t.bounded_rates[1].dropna() if 1 in t.bounded_rates.columns else pd.Series(dtype=float)
    if len(obs1) >= 2:
        new, old = obs1.iloc[-1], obs1.iloc[0]
        trend = ("better" if new > old + 0.01 else "worse" if new < old - 0.01
                 else "about as well")
        lines.append(f"Newer cohorts retain {trend}: {_pct(new)} of the "
                     f"{_pretty(obs1.index[-1], u)} cohort were active in their second {u}, "
                     f"against {_pct(old)} for {_pretty(obs1.index[0], u)}.")
    cr = study.churn["churn_rate"].dropna()
    if len(cr):
        where = "tenure " + u if t.form == "snapshot" else u
        lines.append(f"Churn rate: {_pct(cr.mean())} per {u} on average over {len(cr)} "
                     f"{u}s (latest settled {where} {cr.index[-1]}: {_pct(cr.iloc[-1])}).")
    error = sbg_error_text(study)
    if study.model is not None and study.projection is not None:
        H = int(study.projection.index.max())
        p = study.projection.loc[H]
        lines.append(f"The shifted-beta-geometric model projects that {_pct(p['survival'])} of "
                     f"a new cohort will still be active after {H} {u}s (95 % band "
                     f"{_pct(p['survival_lower'])} to {_pct(p['survival_upper'])}); a new "
                     f"customer's discounted expected lifetime at "
                     f"{100 * study.parameters['discount_rate']:.1f} % per {u} is "
                     f"{study.valuation['del']:.1f} {u}s.")
        if study.holdout_error:
            e = study.holdout_error
            lines.append(f"Checked on the last {study.parameters['holdout_periods']} {u}s held "
                         f"out of the fit, the model expected {e['expected']:,.0f} active "
                         f"customer-{u}s against {e['actual']:,.0f} observed "
                         f"({100 * e['relative_error']:+.1f} %).")
        elif error:
            lines.append(f"The model could not be checked on held-out periods: {error}.")
    elif error:
        lines.append(f"The retention projection could not be fitted ({error}).")
    return lines


# ---------------------------------------------------------------------------------------
# Display tables
# ---------------------------------------------------------------------------------------
def cohort_sizes_table(study: CohortStudy) -> DisplayTable:
    """Customers acquired per cohort."""
    return DisplayTable(study.tables.sizes.rename("customers acquired").to_frame(),
                        f"Cohort sizes (customers acquired per {study.unit})")


def churn_table(study: CohortStudy) -> DisplayTable:
    """Active at start, lost and the churn rate in % (one decimal) per period."""
    c = study.churn
    frame = (c.assign(churn_rate=(100 * c["churn_rate"]).round(1))
             .rename(columns={"active_start": "active at start", "lost": "lost",
                              "churn_rate": "churn rate (%)"}))
    return DisplayTable(frame, f"Churn per {study.unit}")


def sbg_parameters_table(study: CohortStudy) -> DisplayTable:
    """The sBG parameter summary (4 decimals); requires a fitted model."""
    m = study.model
    return DisplayTable(m.summary.round(4),
                        f"sBG parameters (all data; log-likelihood {m.loglik_:,.2f})")


def derl_table(study: CohortStudy) -> DisplayTable:
    """DERL by number of renewals (3 decimals); requires a fitted model."""
    u, d = study.unit, study.parameters["discount_rate"]
    frame = study.derl.round(3).rename(columns={
        "next_retention_rate": "chance of staying one more " + u,
        "derl": f"DERL ({u}s, discounted at {100 * d:.1f} % per {u})"})
    return DisplayTable(frame, "Discounted expected residual lifetime by number of renewals "
                               f"({u}s already completed after the first)")


def projection_table(study: CohortStudy) -> DisplayTable:
    """The projection for a new cohort in % (one decimal) over the last
    ``horizon_periods + 1`` periods; requires a fitted model."""
    cols = ["survival", "survival_lower", "survival_upper"]
    frame = ((100 * study.projection[cols]).round(1)
             .rename(columns={"survival": "projected % still active",
                              "survival_lower": "lower 95 %", "survival_upper": "upper 95 %"})
             .tail(int(study.parameters["horizon_periods"]) + 1))
    return DisplayTable(frame, f"Projection for a new cohort ({study.unit}s since acquisition)")


# ---------------------------------------------------------------------------------------
# metrics.json and exports
# ---------------------------------------------------------------------------------------
def _rates_dict(mat: pd.DataFrame) -> dict:
    return {str(i): [None if not np.isfinite(v) else float(v) for v in row]
            for i, row in zip(mat.index, mat.to_numpy(dtype=float))}


def _finite(x) -> float | None:
    return None if not np.isfinite(x) else float(x)


def cohort_metrics(study: CohortStudy) -> dict:
    """The study's ``metrics.json`` content (without ``data_quality``).

    Keys: ``cohort_period``, ``as_of``, ``form``, ``cohort_sizes`` {label: n},
    ``retention_bounded`` / ``retention_unbounded`` {label: [rate for k = 0, 1, ...], None
    where not observable}, ``average_retention`` [{k, retention, lower, upper}],
    ``churn_rate`` {period: rate}, ``churn_rule``, ``sbg`` {params, se, loglik, aic,
    projection [{k, survival, lower, upper}], holdout, del, expected_lifetime_horizon,
    error}, ``headline``.
    """
    t, u = study.tables, study.unit
    sbg: dict = {"error": sbg_error_text(study)}
    if study.model is not None:
        sbg.update(study.model.to_metrics())
        sbg["projection"] = [
            {"k": int(k), "survival": float(r["survival"]),
             "lower": _finite(r["survival_lower"]), "upper": _finite(r["survival_upper"])}
            for k, r in study.projection.iterrows()]
        sbg.update(study.valuation)
        if study.holdout_error:
            sbg["holdout"] = {**study.holdout_error,
                              "params": {k: float(v)
                                         for k, v in study.holdout_model.params_.items()}}
    avg = study.average_bounded
    cr = study.churn["churn_rate"]
    headline = {"Customers in cohorts": f"{int(t.sizes.sum()):,}"}
    if 1 in avg.index and np.isfinite(avg.loc[1, "retention"]):
        headline[f"Active in 2nd {u} (avg)"] = _pct(avg.loc[1, "retention"])
    if cr.notna().any():
        headline[f"Churn rate per {u} (avg)"] = _pct(cr.dropna().mean())
    if study.model is not None:
        H = int(study.projection.index.max())
        headline[f"Projected survival after {H} {u}s"] = _pct(study.projection.loc[H, "survival"])
    return {
        "cohort_period": u, "as_of": study.parameters["as_of"], "form": t.form,
        "parameters": study.parameters,
        "cohort_sizes": {str(k): int(v) for k, v in t.sizes.items()},
        "retention_bounded": _rates_dict(t.bounded_rates),
        "retention_unbounded": _rates_dict(t.unbounded_rates),
        "average_retention": [{"k": int(k), "retention": float(r["retention"]),
                               "lower": float(r["lower"]), "upper": float(r["upper"])}
                              for k, r in avg.dropna(subset=["retention"]).iterrows()],
        "churn_rate": {str(k): None if not np.isfinite(v) else float(v) for k, v in cr.items()},
        "churn_rule": churn_rule(study),
        "sbg": sbg,
        "headline": headline,
    }


def export_frames(study: CohortStudy) -> dict[str, pd.DataFrame]:
    """The CSV exports by name: bounded and unbounded retention rates (one row per cohort,
    one column per k) and the churn rate per period."""
    return {"retention_bounded": study.tables.bounded_rates.reset_index(),
            "retention_unbounded": study.tables.unbounded_rates.reset_index(),
            "churn_rate": study.churn.reset_index()}
