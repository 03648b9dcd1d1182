"""Wording and layout of the cohort-retention report: the notes of each section, the churn
rule, display tables, ``metrics.json`` and the exports, all from a
:class:`~.compute.CohortStudy`. The decision box and the index figures are in
:mod:`.decision`, the figures' alt texts in :mod:`.alt_text`.

Display-table functions return a :class:`DisplayTable` (the values, a caption, how each
column is formatted and what readers call it), so that the notebook writes
``report.churn_table(study).show()``. Every sentence here is data-derived text: it is
shown with the escaping helpers of :mod:`clm_lib.reporting`, never as Markdown.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.history.changes import figure
from clm_lib.io.wording import ends_after_last_start_note
from clm_lib.reporting import Column, show_table
from clm_lib.studies.cohort_retention.compute import CohortStudy
from clm_lib.studies.cohort_retention.snapshot import SYNTHETIC_COHORT

__all__ = ["DisplayTable", "churn_notes", "churn_rule", "churn_rule_text", "churn_table",
           "cohort_metrics", "cohort_sizes_table", "derl_table", "export_columns",
           "export_frames", "holdout_table", "matrix_notes", "model_notes", "period_axis",
           "projection_labels", "projection_table", "sbg_error_text", "sbg_parameters_table",
           "summary_lines"]


class DisplayTable(NamedTuple):
    """A table ready to show: the values (numbers, unformatted), its caption, the format
    of each column (:func:`clm_lib.format.format_frame` specs) and the readers' column
    names with units."""

    frame: pd.DataFrame
    caption: str
    formats: Mapping[str, object] | None = None
    rename: Mapping[str, str] | None = None

    def show(self) -> None:
        """Display the table (escaped, sortable; :func:`clm_lib.reporting.show_table`)."""
        show_table(self.frame, self.caption, formats=self.formats, rename=self.rename)


def _pretty(label: str, unit: str) -> str:
    if unit == "month" and label != SYNTHETIC_COHORT:
        try:
            return pd.Period(label, "M").strftime("%B %Y")
        except ValueError:
            return label
    return label


def _pct(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else fmt.percent(x)


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
            f"{unit}. A {unit}'s figure is final {n - 1} {unit}{'s' if n - 1 != 1 else ''} "
            f"later, when its window is over; until then it is provisional (lost = bought in "
            f"the previous {unit} and not since), an upper bound that can only fall as data "
            "arrive")


def churn_rule(study: CohortStudy) -> str:
    """:func:`churn_rule_text` for the study's data form and parameters."""
    return churn_rule_text(study.form, study.parameters["inactivity_periods"], study.unit)


def _model_label(study: CohortStudy) -> str:
    return ("BG/NBD model of the purchases" if study.retention_model == "bgnbd"
            else "shifted-beta-geometric model")


def sbg_error_text(study: CohortStudy) -> str | None:
    """Why the retention model, or its holdout check, could not be fitted (None if both
    were)."""
    if study.model_failure is not None:
        exc = study.model_failure
        return f"{type(exc).__name__}: {exc}"
    if study.holdout_failure is not None:
        exc = study.holdout_failure
        return (f"holdout check not possible ({type(exc).__name__}: {exc}); the projection "
                "uses all periods")
    return None


def acquisition_line(study: CohortStudy) -> str:
    """Who the cohorts are: how many customers, acquired when (decision box)."""
    t, u = study.tables, study.unit
    if t.form == "snapshot":
        return (f"{fmt.count(t.sizes.iloc[0])} subscribers with tenure up to "
                f"{int(t.last_k.iloc[0])} {u}s form one synthetic cohort (snapshot data "
                "have no start dates).")
    span = (f"one {u}ly cohort ({_pretty(t.sizes.index[0], u)})" if len(t.sizes) == 1
            else f"{len(t.sizes)} {u}ly cohorts from {_pretty(t.sizes.index[0], u)} to "
                 f"{_pretty(t.sizes.index[-1], u)}")
    return f"{fmt.count(t.sizes.sum())} customers were acquired in {span}."


def matrix_notes(study: CohortStudy) -> list[str]:
    """What the retention matrix says of the oldest cohort, and how far the data reach
    (shown under the matrix)."""
    t, u = study.tables, study.unit
    lines = []
    active = "bought" if t.form == "transactions" else "were still subscribed"
    if study.parameters.get("ends_after_last_start"):
        lines.append(ends_after_last_start_note(study.parameters["ends_after_last_start"],
                                                study.parameters["as_of"]))
    first = t.sizes.index[0]
    if t.last_k.iloc[0] >= 1:
        b1 = t.bounded_rates.loc[first, 1]
        u1 = t.unbounded_rates.loc[first, 1]
        who = (f"Of the customers acquired in {_pretty(first, u)} ({fmt.count(t.sizes.iloc[0])})"
               if t.form != "snapshot" else "Of all subscribers")
        if t.form == "transactions":
            lines.append(f"{who}, {_pct(b1)} bought again in their second {u} and "
                         f"{_pct(u1)} bought in their second {u} or later (by "
                         f"{study.parameters['as_of']}; this share grows as data arrive).")
        else:
            lines.append(f"{who}, {_pct(b1)} {active} in their second {u}.")
        K = int(t.last_k.iloc[0])
        them = ("that cohort were active" if t.form == "transactions"
                else "them were still subscribed")
        lines.append(f"{K} {u}s after acquisition (k = {K}, the latest observed), "
                     f"{_pct(t.bounded_rates.loc[first, K])} of {them}.")
    return lines


def cohort_trend(study: CohortStudy) -> str | None:
    """The newest cohort against the oldest in their second period (None with fewer than
    two cohorts observed there); see :func:`_cohort_trend`."""
    t = study.tables
    obs1 = t.bounded_rates[1].dropna() if 1 in t.bounded_rates.columns else pd.Series(dtype=float)
    return _cohort_trend(t, obs1, study.unit) if len(obs1) >= 2 else None


def churn_notes(study: CohortStudy) -> list[str]:
    """The pooled churn rate in full (which periods, what is left out or provisional) and
    the rule (shown in the churn section)."""
    return _churn_lines(study) + [f"Rule used: {churn_rule(study)}."]


def model_notes(study: CohortStudy) -> list[str]:
    """The retention model's projection, its holdout check or why there is none (shown in
    the model section)."""
    u = study.unit
    lines = []
    error = sbg_error_text(study)
    if study.model is not None and study.projection is not None:
        H = int(study.projection.index.max())
        p = study.projection.loc[H]
        if study.retention_model == "bgnbd":
            fit = study.fit_table
            K_obs = int(fit.index[fit["in_fit"]].max())
            lines.append(
                f"Projection ({_model_label(study)}, fitted to every customer's repeat "
                f"purchases up to {study.parameters['as_of']}): {_pct(p['buying'])} of the "
                f"customers of these cohorts are expected to buy in their {_ordinal(H + 1)} "
                f"{u} (k = {H}; 95 % band of this expected share, from parameter "
                f"uncertainty: {_pct(p['buying_lower'])} to {_pct(p['buying_upper'])}; a "
                f"new cohort of the same size would show {_pct(p['buying_pred_lower'])} to "
                f"{_pct(p['buying_pred_upper'])}, 95 % predictive interval). At the latest "
                f"observed k = {K_obs} the "
                f"model says {_pct(fit.loc[K_obs, 'fitted'])} and the cohorts observed then "
                f"show {_pct(fit.loc[K_obs, 'actual'])}. The model lets a customer drop out "
                f"only right after a repeat purchase, so every one-time buyer counts as alive: "
                f"its share still alive ({_pct(p['survival'])}) is not a retention figure.")
        else:
            lines.append(f"The {_model_label(study)} projects that {_pct(p['survival'])} of "
                         f"a new cohort will still be active after {H} {u}s (95 % band "
                         f"{_pct(p['survival_lower'])} to {_pct(p['survival_upper'])}); a new "
                         f"customer's discounted expected lifetime at "
                         f"{fmt.percent(study.parameters['discount_rate'])} per {u} is "
                         f"{fmt.duration(study.valuation['del'], u + 's')}.")
        check = holdout_line(study)
        if check:
            lines.append(check)
        elif error:
            lines.append(f"The model could not be checked on held-out periods: {error}.")
    elif error:
        lines.append(f"The retention projection could not be fitted ({error}).")
    return lines


def summary_lines(study: CohortStudy) -> list[str]:
    """Every data-derived sentence of the report's sections, in page order: who the
    cohorts are, :func:`matrix_notes`, :func:`cohort_trend`, the churn headline and
    :func:`model_notes` (the decision box, :mod:`.decision`, picks from the same)."""
    trend = cohort_trend(study)
    return ([acquisition_line(study)] + matrix_notes(study) + ([trend] if trend else [])
            + _churn_lines(study) + model_notes(study))


def holdout_line(study: CohortStudy) -> str | None:
    """The holdout check in words (None without one)."""
    if not study.holdout_error:
        return None
    u, e = study.unit, study.holdout_error
    what = (f"customer-{u}s with a purchase" if study.retention_model == "bgnbd"
            else f"active customer-{u}s")
    n = int(study.parameters["holdout_periods"])
    held = f"the last {u}" if n == 1 else f"the last {n} {u}s"
    return (f"Checked on {held} held out of a refit, the model expected "
            f"{fmt.count(e['expected'])} {what} there against {fmt.count(e['actual'])} "
            f"observed ({'+' if e['relative_error'] > 0 else ''}"
            f"{fmt.percent(e['relative_error'])}).")


def _cohort_trend(t, obs1: pd.Series, u: str) -> str:
    """The newest cohort against the oldest at ``k = 1``, with the 95 % Newcombe interval
    of the difference: "better" / "worse" only when the interval excludes 0."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    newest, oldest = obs1.index[-1], obs1.index[0]
    n1, n0 = float(t.sizes[newest]), float(t.sizes[oldest])
    c1, c0 = float(t.bounded_counts.loc[newest, 1]), float(t.bounded_counts.loc[oldest, 1])
    lo, hi = confint_proportions_2indep(c1, n1, c0, n0, method="newcomb", compare="diff")
    diff = c1 / n1 - c0 / n0
    head = ("The newest cohort retained better than the oldest in its second " + u if lo > 0
            else "The newest cohort retained worse than the oldest in its second " + u
            if hi < 0 else "In their second " + u + " the newest and the oldest cohort do not "
            "differ beyond sampling noise")
    return (f"{head}: "
            f"{_pct(c1 / n1)} of the {_pretty(newest, u)} cohort were active in their second "
            f"{u}, against {_pct(c0 / n0)} for {_pretty(oldest, u)} (difference "
            f"{100 * diff:+.1f} points, 95 % interval {100 * lo:+.1f} to {100 * hi:+.1f}).")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _span(labels, unit) -> str:
    if not labels:
        return "no period"
    if len(labels) == 1:
        return _pretty(labels[0], unit)
    return f"{_pretty(labels[0], unit)} to {_pretty(labels[-1], unit)}"


def _churn_lines(study: CohortStudy) -> list[str]:
    """The churn headline: pooled over settled periods, and what is provisional."""
    u, c, cs = study.unit, study.churn, study.churn_summary
    if not cs["periods"]:
        return []
    where = "tenure " + u + "s" if study.form == "snapshot" else f"{u}s"
    line = (f"Churn rate: {_pct(cs['rate'])} per {u}, pooled over the {len(cs['periods'])} "
            f"settled {where} {_span(cs['periods'], u)} ({cs['lost']:,.0f} customers lost "
            f"of {cs['at_risk']:,.0f} at risk at the start of a {u}).")
    if cs["basis"] == "all settled" and study.form == "transactions":
        line += (f" Customers were acquired in every one of these {u}s, so the rate includes "
                 f"new customers' first {u}, when one-time buyers are lost.")
    if cs["basis"] == "after acquisition":
        settled = [str(p) for p in c.index[~c["provisional"].astype(bool)]]
        left = [p for p in settled if p not in set(cs["periods"])]
        line += (f" Left out: the {u}s right after an acquisition {u} "
                 f"({_span(left, u)}), when the cohorts' one-time buyers are lost; with "
                 f"them the pooled rate is {_pct(cs['rate_all_settled'])}.")
    prov = list(c.index[c["provisional"].astype(bool)])
    if prov:
        line += (f" The last {len(prov)} {u}{'s' if len(prov) != 1 else ''} "
                 f"({_span([str(p) for p in prov], u)}) are provisional: their window is not "
                 "over, so their rates are upper bounds.")
    return [line]


# ---------------------------------------------------------------------------------------
# Display tables
# ---------------------------------------------------------------------------------------
def _period_name(study: CohortStudy) -> str:
    return f"tenure ({study.unit}s)" if study.form == "snapshot" else study.unit


def period_axis(study: CohortStudy) -> str:
    """What the churn figure's periods are: tenure (snapshot) or calendar periods."""
    return f"tenure ({study.unit}s)" if study.form == "snapshot" else f"calendar {study.unit}"


def cohort_sizes_table(study: CohortStudy) -> DisplayTable:
    """Customers acquired per cohort."""
    return DisplayTable(study.tables.sizes.to_frame(),
                        f"Cohort sizes (customers acquired per {study.unit})",
                        {"customers": "count"},
                        {"cohort": f"cohort ({study.unit})", "customers": "customers acquired"})


#: Status of a period in the churn table and export.
SETTLED, PROVISIONAL = "settled", "provisional (upper bound)"


def churn_table(study: CohortStudy) -> DisplayTable:
    """Active at start, lost, the churn rate and the status (settled / provisional) per
    period."""
    c = study.churn
    frame = c.assign(provisional=np.where(c["provisional"].astype(bool), PROVISIONAL, SETTLED))
    u = study.unit
    return DisplayTable(frame, f"Churn per {u}",
                        {"active_start": "count", "lost": "count", "churn_rate": "percent"},
                        {"period": _period_name(study),
                         "active_start": f"customers active at the start of the {u}",
                         "lost": f"customers lost in the {u}",
                         "churn_rate": f"churn rate (% of active, per {u})",
                         "provisional": "status"})


def sbg_parameters_table(study: CohortStudy) -> DisplayTable:
    """The retention model's parameter summary (4 decimals); requires a fitted model."""
    m = study.model
    unit = " (alpha in days)" if study.retention_model == "bgnbd" else ""
    summary = m.summary
    four = ("number", 4)
    return DisplayTable(summary,
                        f"{m.label} parameters{unit} (all data; log-likelihood "
                        f"{fmt.number(m.loglik_, 2)})",
                        {c: four for c in summary.columns},
                        {"estimate": "estimate", "se": "standard error",
                         "lower 95%": "95 % interval: lower", "upper 95%": "95 % interval: upper"})


def projection_labels(study: CohortStudy) -> dict:
    """Keyword arguments of :func:`clm_lib.plotting.cohorts.plot_retention_projection`
    that say what the study's curves are."""
    u = study.unit
    if study.retention_model == "bgnbd":
        return {"model": "BG/NBD", "fitted_label": f"expected share buying in the {u}",
                "actual_label": f"actual share buying in the {u} (pooled cohorts)",
                "title": f"Customers buying k {u}s after acquisition: BG/NBD model (all "
                         "data) vs actual"}
    return {"model": "sBG", "fitted_label": "still active (survival)",
            "actual_label": "actual still active (pooled cohorts)",
            "title": "sBG survival (all data) vs actual"}


def holdout_table(study: CohortStudy) -> DisplayTable | None:
    """BG/NBD only: expected vs actual customers buying in the held-out cells by ``k``."""
    if study.retention_model != "bgnbd" or study.holdout is None:
        return None
    h = study.holdout
    u = study.unit
    frame = h.assign(error=h["expected"] / h["actual"] - 1)
    return DisplayTable(frame, f"Holdout check: refitted on data to "
                               f"{study.parameters['holdout_calibration_end']}, by {u}s "
                               "since acquisition (k)",
                        {"actual": "count", "expected": "count", "cells": "count",
                         "error": ("percent", 1, True)},
                        {"k": f"{u}s since acquisition (k)",
                         "actual": "customers buying (observed)",
                         "expected": "customers buying (expected by the model)",
                         "cells": "cohorts", "error": "error (% of observed)"})


def derl_table(study: CohortStudy) -> DisplayTable:
    """DERL by number of renewals; requires a fitted model."""
    u, d = study.unit, study.parameters["discount_rate"]
    return DisplayTable(study.derl, "Discounted expected residual lifetime by number of "
                                    f"renewals ({u}s already completed after the first)",
                        {"next_retention_rate": "percent", "derl": ("number", 2)},
                        {"next_retention_rate": "chance of staying one more " + u,
                         "derl": f"DERL ({u}s, discounted at {fmt.percent(d)} per {u})"})


def projection_table(study: CohortStudy) -> DisplayTable:
    """The projection in % over the last ``horizon_periods + 1`` periods; requires a
    fitted model."""
    u = study.unit
    if study.retention_model == "bgnbd":
        cols = ["buying", "buying_lower", "buying_upper", "buying_pred_lower",
                "buying_pred_upper", "survival"]
        names = {"buying": f"expected % buying in the {u}", "buying_lower": "lower 95 %",
                 "buying_upper": "upper 95 %",
                 "buying_pred_lower": "new cohort: predictive lower 95 %",
                 "buying_pred_upper": "new cohort: predictive upper 95 %",
                 "survival": "% alive in the model (customers without a repeat purchase "
                             "never drop out)"}
        caption = (f"BG/NBD projection for the customers of these cohorts ({u}s since "
                   "acquisition; lower/upper: band of the expected share from parameter "
                   "uncertainty; predictive: where the share buying would fall for a new "
                   "cohort of the same size and acquisition days, parameter and outcome "
                   "noise)")
    else:
        cols = ["survival", "survival_lower", "survival_upper"]
        names = {"survival": "projected % still active", "survival_lower": "lower 95 %",
                 "survival_upper": "upper 95 %"}
        caption = f"Projection for a new cohort ({u}s since acquisition)"
    frame = study.projection[cols].tail(int(study.parameters["horizon_periods"]) + 1)
    return DisplayTable(frame, caption, {c: "percent" for c in cols},
                        {"k": f"{u}s since acquisition (k)", **names})


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
    ``churn_rate`` {period: rate}, ``churn_provisional`` [periods], ``churn_pooled``
    (:func:`~.compute.churn_summary`), ``churn_rule``, ``retention_model`` ("sbg" or
    "bgnbd") and under that name {params, se, loglik, aic, projection [{k, survival,
    lower, upper, (bgnbd) buying, buying_lower, buying_upper, buying_pred_lower,
    buying_pred_upper}], holdout, (sbg) del,
    expected_lifetime_horizon, error}, ``headline`` and ``figures`` (its numbers,
    :func:`clm_lib.history.changes.figure`).
    """
    t, u = study.tables, study.unit
    bg = study.retention_model == "bgnbd"
    sbg: dict = {"error": sbg_error_text(study)}
    if study.model is not None:
        sbg.update(study.model.to_metrics())
        sbg["projection"] = [
            {"k": int(k), "survival": float(r["survival"]),
             "lower": _finite(r["survival_lower"]), "upper": _finite(r["survival_upper"]),
             **({"buying": float(r["buying"]), "buying_lower": _finite(r["buying_lower"]),
                 "buying_upper": _finite(r["buying_upper"]),
                 "buying_pred_lower": _finite(r["buying_pred_lower"]),
                 "buying_pred_upper": _finite(r["buying_pred_upper"])} if bg else {})}
            for k, r in study.projection.iterrows()]
        sbg.update(study.valuation)
        if study.holdout_error:
            sbg["holdout"] = {**study.holdout_error,
                              "params": {k: float(v)
                                         for k, v in study.holdout_model.params_.items()}}
    avg = study.average_bounded
    cr = study.churn["churn_rate"]
    cs = study.churn_summary
    headline = {"Customers in cohorts": f"{int(t.sizes.sum()):,}"}
    figures = {"customers": figure("Customers in cohorts (count)", int(t.sizes.sum()), "count")}
    if 1 in avg.index and np.isfinite(avg.loc[1, "retention"]):
        headline[f"Active in 2nd {u} (avg)"] = _pct(avg.loc[1, "retention"])
        figures["active_k1"] = figure(f"Active in the {u} after acquisition (share of the "
                                      "cohort, size-weighted average)",
                                      avg.loc[1, "retention"], "percent", good="up")
    if cs["periods"]:
        which = "settled, after acquisition" if cs["basis"] == "after acquisition" \
            else "settled"
        headline[f"Churn rate per {u} (pooled, {which})"] = _pct(cs["rate"])
        figures["churn_rate"] = figure(f"Churn rate per {u} (pooled, {which}; share of the "
                                       "customers active at the start)", cs["rate"],
                                       "percent", good="down", churn=True)
    if study.model is not None:
        H = int(study.projection.index.max())
        # the projection ends at the cohorts' last period, which moves on with the data:
        # its figure is compared with a previous run's only at the same k
        if bg:
            headline[f"Expected buying in {u} k = {H} (BG/NBD)"] = _pct(
                study.projection.loc[H, "buying"])
            figures["projection_end"] = figure(
                f"Expected buying at the end of the projection (BG/NBD; share of a cohort "
                f"active in its {u} k)", study.projection.loc[H, "buying"], "percent",
                good="up", basis=f"k = {H}")
        else:
            headline[f"Projected survival after {H} {u}s"] = _pct(
                study.projection.loc[H, "survival"])
            figures["projection_end"] = figure(
                f"Projected survival at the end of the projection (share of a cohort, {u} k)",
                study.projection.loc[H, "survival"], "percent", good="up", basis=f"k = {H}")
    return {
        "cohort_period": u, "as_of": study.parameters["as_of"],
        "as_of_source": study.parameters.get("as_of_source"), "form": t.form,
        "parameters": study.parameters,
        "cohort_sizes": {str(k): int(v) for k, v in t.sizes.items()},
        "retention_bounded": _rates_dict(t.bounded_rates),
        "retention_unbounded": _rates_dict(t.unbounded_rates),
        "average_retention": [{"k": int(k), "retention": float(r["retention"]),
                               "lower": float(r["lower"]), "upper": float(r["upper"])}
                              for k, r in avg.dropna(subset=["retention"]).iterrows()],
        "churn_rate": {str(k): None if not np.isfinite(v) else float(v) for k, v in cr.items()},
        "churn_provisional": [str(k) for k in cr.index[study.churn["provisional"].astype(bool)]],
        "churn_pooled": cs,
        "churn_rule": churn_rule(study),
        "retention_model": study.retention_model,
        study.retention_model: sbg,
        "headline": headline,
        "figures": figures,
    }


def _k_column(unit: str, k) -> str:
    return f"{unit}_{int(k)}"


def export_frames(study: CohortStudy) -> dict[str, pd.DataFrame]:
    """The CSV exports by name: bounded and unbounded retention rates (one row per cohort:
    its size, then one column ``<unit>_<k>`` per k, empty where not observable) and the
    churn rate per period (with its status). Documented by :func:`export_columns`."""
    t, u = study.tables, study.unit
    out = {}
    for name, rates in (("retention_bounded", t.bounded_rates),
                        ("retention_unbounded", t.unbounded_rates)):
        frame = rates.rename(columns=lambda k: _k_column(u, k))
        frame.insert(0, "customers_acquired", t.sizes.reindex(frame.index))
        out[name] = frame.rename_axis(index="cohort").reset_index()
    c = study.churn
    out["churn_rate"] = (c.assign(status=np.where(c["provisional"].astype(bool),
                                                  "provisional", "settled"))
                         .drop(columns="provisional").reset_index())
    return out


def export_columns(study: CohortStudy) -> dict[str, dict[str, Column]]:
    """The data dictionary of each export of :func:`export_frames` (name -> column ->
    :class:`~clm_lib.reporting.Column`)."""
    t, u = study.tables, study.unit
    snap = study.form == "snapshot"
    cohort = Column("the synthetic cohort of all subscribers (snapshot data have no start "
                    "dates)" if snap else f"acquisition cohort: the {u} of the first purchase "
                    "or subscription start (ISO label)", u)
    size = Column("customers acquired in the cohort", "customers")
    out = {}
    for name, what in (("retention_bounded", ""), ("retention_unbounded", " or any later one")):
        cols = {"cohort": cohort, "customers_acquired": size}
        for k in t.bounded_rates.columns:
            meaning = (f"share of the subscribers still subscribed at {int(k)} {u}s of tenure"
                       if snap else
                       f"share of the cohort active in the {u} k = {int(k)} after its "
                       f"acquisition {u}{what} (k = 0: the acquisition {u}, always 1)")
            cols[_k_column(u, k)] = Column(meaning + "; empty: not observable yet",
                                           "share (0-1)", 4)
        out[name] = cols
    out["churn_rate"] = {
        "period": Column(f"the tenure {u} (snapshot data)" if snap else f"the calendar {u} "
                         "(ISO label)", u),
        "active_start": Column(f"customers active at the start of the {u}", "customers"),
        "lost": Column(f"customers lost in the {u} (rule: {churn_rule(study)})", "customers"),
        "churn_rate": Column(f"lost / active at the start of the {u}", f"share (0-1) per {u}", 4),
        "status": Column("settled: final; provisional: the inactivity window is not over, "
                         "the rate is an upper bound that can only fall as data arrive"),
    }
    return out
