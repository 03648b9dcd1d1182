"""The words, metrics and exports of the CLV study: the decision box, the lifecycle
figures of the index page, alt texts, metrics.json and the CSV exports with their data
dictionary (display tables: :mod:`clm_lib.studies.clv.tables`).

Everything here reads a :class:`~clm_lib.studies.clv.compute.ClvStudy` and computes
nothing of its own beyond formatting and counting: the notebook shows what these
functions return.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.io import DataQuality
from clm_lib.reporting import ID_COLUMN, Column, Decision, as_of_label, source_label, stage_figure
from clm_lib.studies.clv.compute import MODELS, ClvStudy
from clm_lib.studies.clv.report_checks import (  # noqa: F401  (model checks: one import for the notebook)
    bands_alt,
    bands_sentence,
    bands_sentences,
    bands_table,
    checks_metrics,
    chi_square_sentence,
    chi_square_sentences,
    chi_square_table,
    distribution_column_names,
    distribution_columns,
    log_score_sentence,
    new_customer_sentence,
)
from clm_lib.studies.clv.tables import (  # noqa: F401  (the report's tables, one import for the notebook)
    LABELS as _LABELS,
    captions,
    comparison_table,
    cond_holdout_table,
    frequency_fit_labels,
    frequency_fit_table,
    model_comparison,
    model_label,
    parameters_table,
    segment_table,
    top_customers,
)

__all__ = [
    "decision", "lifecycle", "alt_texts", "not_fitted_note", "section_note", "model_comparison",
    "comparison_table", "parameters_table", "frequency_fit_table", "frequency_fit_labels",
    "cond_holdout_table", "segment_table", "captions", "quantiles_sentence", "method_sentence",
    "model_label", "track_record", "top_customers", "customer_export", "clv_metrics",
    "data_quality", "exports", "export_columns",
]


# ---- models that were not fitted -------------------------------------------------------
def not_fitted_note(model_errors: dict, *keys: str) -> str:
    """One paragraph for a report section that needs the models ``keys`` (all of
    ``model_errors`` when none are given): which were not fitted and why, models that
    failed on the same data for the same reason named together; empty when all were
    fitted. ``model_errors`` as in :class:`ClvStudy`.

    >>> not_fitted_note({"bgnbd": "not fitted (calibration to 2020-03-31): 3 customers",
    ...                  "mbgnbd": "not fitted (calibration to 2020-03-31): 3 customers"})
    'BG/NBD and MBG/NBD not fitted (calibration to 2020-03-31): 3 customers.'
    """
    return " ".join(_not_fitted_sentences(model_errors, *keys))


def _not_fitted_sentences(model_errors: dict, *keys: str) -> list[str]:
    groups: dict[str, list[str]] = {}
    for key in keys or tuple(model_errors):
        if key in model_errors:
            groups.setdefault(model_errors[key], []).append(_LABELS.get(key, key))
    return [f"{_and(names)} {message}." for message, names in groups.items()]


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def section_note(study: ClvStudy, section: str) -> str:
    """What a report section cannot show because a model it needs was not fitted ("" when
    it can show everything). ``section``: ``"comparison"``, ``"tracking"``,
    ``"cond_holdout"``, ``"p_alive"`` or ``"value"``; the last four need the value model
    (:attr:`ClvStudy.value_model`), ``"value"`` refitted on all data with the Gamma-Gamma."""
    if section == "comparison":
        return not_fitted_note(study.model_errors)
    vm = study.value_model
    if section != "value" and vm not in study.models:
        return not_fitted_note(study.model_errors, *MODELS)
    keys = (f"{vm}_all_data", "gamma_gamma_all_data") if section == "value" else (vm,)
    return not_fitted_note(study.model_errors, *keys)


# ---- track record --------------------------------------------------------------------
def track_record(study: ClvStudy, key: str | None = None) -> str:
    """The holdout track record of a model in plain words ("" when it has none): how far
    off its forecast of the holdout total was, and whether the actual total fell inside
    its predictive interval (a total outside it is misfit, not bad luck). ``key``: the
    value model by default."""
    key = key or study.value_model
    h = study.holdout.get(key)
    if h is None:
        return ""
    err = h["aggregate_error"]
    way = "under-predicted" if err < 0 else "over-predicted"
    text = (f"Fitted to purchases up to {study.calibration_end}, the {model_label(key)} model {way} "
            f"the {study.holdout_duration:.0f} {study.time_unit}s to {study.as_of} by "
            f"{fmt.percent(abs(err), 1)} ({fmt.count(h['predicted_total'])} repeat purchases "
            f"expected, {fmt.count(h['actual_total'])} happened)")
    if "interval" not in h:
        return text + "."
    lo, hi = h["interval"]
    level = fmt.percent(h["level"], 0)
    span = f"{fmt.count(lo)}–{fmt.count(hi)}"
    if h["actual_inside"]:
        return text + f", inside its {level} predictive interval of {span}."
    return (text + f", outside its {level} predictive interval of {span}: a misfit, not "
            f"chance, so its forecast may be {'too low' if err < 0 else 'too high'} in the same way.")


def window_sentence(study: ClvStudy) -> str:
    """Where the observation and the calibration end, and whether each was given or
    derived from the data."""
    as_of = ("the last date in the data" if study.as_of_source == "data" else "as given")
    cal = ("derived so that the last third of the observed span is the holdout"
           if study.calibration_end_source == "data" else "as given")
    return (f"Data observed to {study.as_of} ({as_of}); models calibrated on purchases to "
            f"{study.calibration_end} ({cal}) and checked on the {study.holdout_duration:.0f} "
            f"{study.time_unit}s after it.")


# ---- the decision box and the index figures --------------------------------------------
def _span(study: ClvStudy) -> str:
    return f"the next {study.horizon} {study.time_unit}s"


def _value_words(study: ClvStudy) -> str:
    return (f"discounted {study.value_basis}"
            + (f" at a {fmt.percent(study.margin, 0)} margin" if study.value_basis == "margin"
               else " (no margin was given)"))


def _top_decile(v: pd.DataFrame) -> pd.DataFrame:
    """The most valuable 10 % of customers, as :func:`~clm_lib.studies.clv.compute.top_share`
    counts them (at least one)."""
    k = max(int(np.ceil(0.1 * len(v))), 1)
    return v.sort_values("clv", ascending=False).head(k)


def _choice_sentence(study: ClvStudy) -> str:
    vm = study.value_model
    if vm not in study.holdout:
        return (f"No model could be tested on a holdout period; customer values, where shown, come "
                f"from the {model_label(vm)} fitted on all data, without a track record.")
    h = study.holdout[vm]
    if not study.value_model_selected:
        return (f"Customers are valued with the {model_label(vm)} model, the only one fitted; it "
                "takes customers without a repeat purchase to be active until they buy again.")
    others = "; ".join(f"{model_label(k)} {fmt.number(o['mae'], 3)}"
                       for k, o in study.holdout.items() if k != vm)
    return (f"Customers are valued with the {model_label(vm)} model, the lowest per-customer "
            f"holdout error ({fmt.number(h['mae'], 3)} purchases; {others}) of the models that do "
            "not take one-time buyers to be certainly active.")


def _no_interval_sentence(study: ClvStudy) -> str:
    """Why the value forecast has no predictive interval."""
    error = study.forecast.get("interval_error")
    if error:
        return f"No predictive intervals: {error}."
    return "No predictive intervals were drawn (n_draws = 0)."


def _forecast_finding(study: ClvStudy, currency) -> str:
    f, v = study.forecast, study.values
    level = fmt.percent(f["level"], 0)
    pi = f.get("expected_purchases_predictive_interval")
    vi = f.get("clv_total_predictive_interval")
    return (f"Over {_span(study)} after {study.as_of}, the {fmt.count(len(v))} customers are "
            f"expected to make {fmt.count(f['expected_purchases'])} purchases"
            + (f" ({level} predictive interval {fmt.count(pi[0])}–{fmt.count(pi[1])})" if pi else "")
            + f" worth {fmt.money(f['clv_total'], currency)} in {_value_words(study)}"
            + (f" ({level} predictive interval {fmt.money(vi[0], currency)}–{fmt.money(vi[1], currency)})"
               if vi else "")
            + f", at a {fmt.percent(study.annual_discount_rate, 0)} annual discount rate.")


def _activity_finding(study: ClvStudy) -> str:
    v = study.values
    rep = v["frequency"] > 0
    return (f"At {study.as_of}, {fmt.percent((v.loc[rep, 'p_alive'] >= 0.5).mean(), 0)} of the "
            f"{fmt.count(rep.sum())} customers who bought again and "
            f"{fmt.percent((v.loc[~rep, 'p_alive'] >= 0.5).mean(), 0)} of the "
            f"{fmt.count((~rep).sum())} who never did are more likely active than not "
            f"(P(alive) ≥ 0.5, {model_label(study.value_model)}).")


def decision(study: ClvStudy, dq: DataQuality | str | None = None,
             currency: str | None = "$") -> Decision:
    """The decision box of the CLV report, computed from the study.

    Parameters
    ----------
    study : ClvStudy
    dq : DataQuality or str, optional
        The loading record (or the source's name): the box names the source by file name.
    currency : str, optional
        Symbol or code of the amounts ("$", "EUR"); None shows amounts without a unit.

    Returns
    -------
    Decision
        ``findings``: models that could not be fitted (with the reason), the value forecast
        with its predictive interval, its concentration, and who is still active;
        ``actions``: whom to keep and whom to win back, each with the value at stake, and
        what to budget on; ``confidence``: the value model's holdout track record in words.
    """
    findings = [" ".join(_not_fitted_sentences(study.model_errors))]
    actions: list[str] = []
    v = study.values
    u = study.time_unit
    if v is None:
        findings.append("No customer value could be computed: it needs a purchase model and the "
                        f"Gamma-Gamma model fitted on all data to {study.as_of}.")
        actions.append("No customer can be ranked by value on these data: collect more repeat "
                       "purchases (or a longer history) and run the study again; the model "
                       "sections below show what could be fitted.")
    else:
        top = _top_decile(v)
        findings.append(_forecast_finding(study, currency))
        findings.append(f"The top 10 % of customers ({fmt.count(len(top))}) hold "
                        f"{fmt.percent(study.top_decile_share, 0)} of that value; the median "
                        f"customer is worth {fmt.money(study.clv_quantiles['p50'], currency, 2)}.")
        findings.append(_activity_finding(study))
        actions.append(f"Keep the {fmt.count(len(top))} most valuable customers (the top 10 %), "
                       f"worth {fmt.money(top['clv'].sum(), currency)} in {study.value_basis} over "
                       f"{_span(study)}: service and loyalty benefits rather than discounts; they "
                       "head the customer_value export, with P(alive) and CLV per customer_id.")
        lost = v[(v["frequency"] > 0) & (v["p_alive"] < 0.5)]
        if len(lost):
            spent = (lost["frequency"] * lost["monetary_value"]).sum()
            actions.append(f"Win back the {fmt.count(len(lost))} repeat buyers who are now more "
                           f"likely lost than active (P(alive) < 0.5): they spent "
                           f"{fmt.money(spent, currency)} on repeat purchases to {study.as_of}, and "
                           f"the model expects only {fmt.money(lost['clv'].sum(), currency)} "
                           f"of {study.value_basis} from them over {_span(study)}.")
        vi = study.forecast.get("clv_total_predictive_interval")
        if vi:
            inside = study.holdout.get(study.value_model, {}).get("actual_inside", True)
            actions.append(f"Budget on {fmt.money(vi[0], currency)}–{fmt.money(vi[1], currency)} "
                           f"(the {fmt.percent(study.forecast['level'], 0)} predictive interval), "
                           f"not on the point forecast alone"
                           + ("." if inside else ", and allow for more: the model missed its own "
                              "holdout interval (see How sure we are)."))
    confidence = " ".join(x for x in [
        _choice_sentence(study),
        ("Track record: " + track_record(study)) if study.value_model in study.holdout else "",
        ("The intervals cover parameter uncertainty and the randomness of purchases, not "
         "misfit; value beyond the horizon is not counted.")
        if v is not None and study.forecast.get("clv_total_predictive_interval") else
        (_no_interval_sentence(study) if v is not None else ""),
    ] if x)
    return Decision(findings=[x for x in findings if x], actions=actions, confidence=confidence,
                    source=source_label(dq) if dq is not None else "the data given",
                    as_of=as_of_label(study.as_of, study.as_of_source))


def lifecycle(study: ClvStudy, currency: str | None = "$") -> list[dict]:
    """The study's key figures for the index page (``metrics["lifecycle"]``): loyalty (the
    top 10 % share of expected value, the total expected value over the horizon) and
    retention (customers likely still active at ``as_of``); empty without values."""
    v = study.values
    if v is None:
        return []
    n = fmt.count(len(v))
    span = f"the {study.horizon} {study.time_unit}s after {study.as_of}"
    basis = (f"discounted margin ({fmt.percent(study.margin, 0)})" if study.value_basis == "margin"
             else "discounted revenue")
    total = fmt.money(study.forecast["clv_total"], currency)
    alive = int((v["p_alive"] >= 0.5).sum())
    vm = model_label(study.value_model)
    return [
        stage_figure("loyalty", "Top 10 % share of expected value",
                     fmt.percent(study.top_decile_share, 0),
                     f"of the {total} expected over {span}, held by the top 10 % of {n} customers "
                     f"({basis})"),
        stage_figure("loyalty", f"Expected value, next {study.horizon} {study.time_unit}s", total,
                     f"{basis} of {n} customers over {span} ({vm} and Gamma-Gamma)"),
        stage_figure("retention", "Customers likely still active", fmt.count(alive),
                     f"{fmt.percent(alive / len(v), 0)} of {n} customers have P(alive) ≥ 0.5 at "
                     f"{study.as_of} ({vm})"),
    ]


def alt_texts(study: ClvStudy, currency: str | None = "$") -> dict[str, str]:
    """Alt texts of the report's figures and charts, computed from the results: what each
    shows and its main message (keys as in the notebook; only those the study can draw)."""
    u = study.time_unit
    label = model_label(study.value_model)
    out = {}
    t = study.frequency_fit
    if t is not None:
        labels = frequency_fit_labels(study)
        gaps = {k: float((t[k] - t["actual"]).abs().max()) for k in labels}
        out["frequency_fit"] = (
            f"Bar chart of the share of customers with 0, 1, 2, … repeat purchases in the calibration "
            f"period to {study.calibration_end}, actual as bars, each model's expectation as markers; "
            f"{fmt.percent(t['actual'].iloc[0], 1)} made no repeat purchase; the largest gap to the "
            "actual shares is " + ", ".join(f"{fmt.number(100 * g, 1)} pts for the {labels[k]}" for k, g in gaps.items())
            + ".")
    tr = study.tracking
    if tr is not None:
        hold = tr[tr["holdout"]]
        out["tracking"] = (
            f"Line chart of repeat purchases per {u}, actual and expected by the {label} model, over "
            f"{u}s 0 to {len(tr) - 1} since the first acquisition; calibration ends at "
            f"{study.calibration_end}. Over the holdout {fmt.count(hold['actual'].sum())} repeat "
            f"purchases happened and the model, from the first purchases alone, expected "
            f"{fmt.count(hold['predicted'].sum())}.")
        out["tracking_cumulative"] = (
            f"Line chart of cumulative repeat purchases, actual and {label}: "
            f"{fmt.count(tr['actual_cumulative'].iloc[-1])} actual and "
            f"{fmt.count(tr['predicted_cumulative'].iloc[-1])} expected by {study.as_of}.")
    c = study.cond_holdout
    if c is not None:
        last = c.index[-1]
        out["cond_holdout"] = (
            f"Line chart of mean holdout purchases per customer by repeat purchases in calibration, "
            f"actual and {label}; customers with {last} repeat purchases made "
            f"{fmt.number(c['actual'].iloc[-1], 2)} on average, the model expected "
            f"{fmt.number(c['predicted'].iloc[-1], 2)}; those with none made "
            f"{fmt.number(c['actual'].iloc[0], 2)} and it expected {fmt.number(c['predicted'].iloc[0], 2)}.")
    g = study.p_alive_grid
    if g is not None:
        top = g.index[-1]
        out["p_alive"] = (
            f"Heatmap of P(alive) ({label}) by repeat purchases (0 to {top}) and recency (0 to "
            f"{fmt.number(g.columns[-1], 0)} {u}s) at age {fmt.number(study.p_alive_age, 1)} {u}s; "
            f"a customer with {top} repeat purchases is {fmt.percent(g.iloc[-1, -1], 0)} likely "
            f"active if her last purchase was recent and {fmt.percent(g.iloc[-1, 0], 0)} if it "
            "was right after her first.")
    v = study.values
    if v is not None:
        q = study.clv_quantiles
        out["clv"] = (
            f"Histogram of CLV over {_span(study)} for {fmt.count(len(v))} customers, count on a log "
            f"scale: the median customer is worth {fmt.money(q['p50'], currency, 2)}, the top 10 % "
            f"are worth more than {fmt.money(q['p90'], currency, 2)} and hold "
            f"{fmt.percent(study.top_decile_share, 0)} of the value.")
    return out


# ---- sentences of the sections ---------------------------------------------------------
def quantiles_sentence(study: ClvStudy, currency: str | None = "$") -> str:
    """The CLV quantiles and the top-decile share in one sentence ("" without values)."""
    q = study.clv_quantiles
    if q is None:
        return ""
    return (f"CLV quantiles: median {fmt.money(q['p50'], currency, 2)}, 90th percentile "
            f"{fmt.money(q['p90'], currency, 2)}, 99th percentile {fmt.money(q['p99'], currency, 2)}.")


def method_sentence(study: ClvStudy) -> str:
    """The per-unit discount rate used and the frequency-spend correlation (method notes)."""
    return (f"Per-{study.time_unit} discount rate used: {study.discount_rate_per_unit:.5f} "
            f"(from {study.annual_discount_rate:.1%} a year). Correlation of frequency and mean "
            f"spend among repeat customers: {study.spend_correlation:.2f}.")

# ---- metrics, data quality, exports ----------------------------------------------------
def _dropped(study: ClvStudy) -> dict:
    return {**{f"calibration: {k}": v for k, v in study.dropped["calibration"].items()},
            **{f"full period: {k}": v for k, v in study.dropped["full"].items()}}


def data_quality(study: ClvStudy, dq: DataQuality) -> DataQuality:
    """A copy of the loading record ``dq`` with a note for each group of customers a
    reduction of the study left out."""
    notes = [window_sentence(study)]
    notes += [f"CLV reduction: {n:,} excluded ({reason})." for reason, n in _dropped(study).items()]
    return dataclasses.replace(dq, dropped=dict(dq.dropped), warnings=dict(dq.warnings),
                               notes=[*dq.notes, *notes])


def clv_metrics(study: ClvStudy, dq: DataQuality | None = None, currency: str = "$") -> dict:
    """metrics.json content of the study (papers' parameter names); models that were not
    fitted are listed in ``model_errors`` with the reason. With ``dq`` (the record of
    :func:`data_quality`), its JSON form is the ``data_quality`` entry. ``decision`` is the
    decision box (:func:`decision`), ``lifecycle`` the index figures (:func:`lifecycle`)."""
    def brief(m):
        return {kk: vv for kk, vv in m.to_metrics().items() if kk in ("params", "se", "loglik", "aic", "n")}

    models = {k: brief(m) for k, m in study.models.items()}
    if study.final_model is not None:
        models[f"{study.value_model}_all_data"] = brief(study.final_model)
    if study.final_spend_model is not None:
        models["gamma_gamma_all_data"] = brief(study.final_spend_model)
    f = dict(study.forecast)
    headline = {}
    vm = study.value_model
    if vm in study.holdout:
        h = study.holdout[vm]
        headline["Value model"] = model_label(vm)
        headline["Holdout purchases, predicted vs actual"] = (
            f"{h['predicted_total']:,.0f} vs {h['actual_total']:,.0f} ({h['aggregate_error']:+.1%})"
            + ("" if "interval" not in h else
               ", inside" if h["actual_inside"] else ", outside the predictive interval (misfit)"))
        f["track_record"] = {"model": vm, "aggregate_error": h["aggregate_error"],
                             "interval": h.get("interval"), "actual_inside": h.get("actual_inside"),
                             "text": track_record(study)}
    if study.values is not None:
        vi = f.get("clv_total_predictive_interval")
        headline[f"Value, next {study.horizon} {study.time_unit}s"] = (
            f"{currency or ''}{f['clv_total']:,.0f}"
            + (f" ({f['level']:.0%} predictive interval {currency or ''}{vi[0]:,.0f}–{currency or ''}{vi[1]:,.0f})"
               if vi else ""))
        headline["Top-decile share of value"] = f"{study.top_decile_share:.0%}"
    else:
        headline["Customer value"] = "not fitted"
    out = {
        "time_unit": study.time_unit, "calibration_end": study.calibration_end, "as_of": study.as_of,
        "as_of_source": study.as_of_source, "calibration_end_source": study.calibration_end_source,
        "horizon": study.horizon, "annual_discount_rate": study.annual_discount_rate,
        "discount_rate_per_unit": study.discount_rate_per_unit, "margin": study.margin,
        "value_basis": study.value_basis, "currency": currency or None,
        "customers": int(len(study.full)),
        "models": models, "model_errors": study.model_errors,
        "holdout": study.holdout, "forecast": f,
        "frequency_fit": (None if study.frequency_fit is None else
                          {k: {str(i): float(v) for i, v in col.items()}
                           for k, col in study.frequency_fit.drop(columns="customers").items()}),
        "clv_quantiles": study.clv_quantiles, "top_decile_share": study.top_decile_share,
        "frequency_spend_correlation": study.spend_correlation,
        "dropped": _dropped(study),
        "headline": headline,
        "decision": decision(study, dq, currency).to_dict(),
        "lifecycle": lifecycle(study, currency),
        "model_checks": checks_metrics(study),
    }
    if dq is not None:
        out["data_quality"] = dq.to_dict()
    return out


def customer_export(study: ClvStudy, n: int | None = None) -> pd.DataFrame:
    """Per-customer table for the CRM: the real ``customer_id`` (the source's ids), frequency,
    recency, T, P(alive), expected purchases with the predictive interval of her purchases
    (whole purchases), expected spend and CLV with its predictive interval, most valuable
    first; with ``n``, its first ``n`` rows. Exports keep the ids so that a CRM can load
    them (``$CLM_EXPORT_IDS=pseudonymised`` replaces them when written); the report's
    tables show keyed pseudonyms only.

    Without fitted value models (see :class:`ClvStudy`) it holds the purchase summary
    only (frequency, recency, T, mean spend)."""
    v = study.values if study.values is not None else study.full
    cols = [c for c in ["frequency", "recency", "T", "monetary_value", "p_alive",
                        "expected_purchases", "purchases_lower", "purchases_upper",
                        "expected_spend", "clv", "clv_lower", "clv_upper",
                        *distribution_column_names(study)] if c in v]
    out = v[cols].sort_values("clv" if "clv" in v else "frequency", ascending=False)
    if n is not None:
        out = out.head(n)
    out.insert(0, ID_COLUMN, pd.array(out.index.astype(str), dtype="string"))
    return out.reset_index(drop=True)


def exports(study: ClvStudy) -> dict[str, pd.DataFrame]:
    """The CSV exports by name: ``customer_value``, ``model_comparison``, (with a fitted
    purchase model) ``frequency_fit`` and (with the value model) ``tracking``."""
    out = {"customer_value": customer_export(study),
           "model_comparison": model_comparison(study).reset_index()}
    if study.frequency_fit is not None:
        out["frequency_fit"] = study.frequency_fit.reset_index()
    if study.tracking is not None:
        out["tracking"] = study.tracking.reset_index()
    return out


def export_columns(study: ClvStudy, currency: str | None = "$") -> dict[str, dict[str, Column]]:
    """The data dictionary of each export (:func:`exports`): per column its meaning, unit
    and decimals (money 2, probabilities 4)."""
    u = f"{study.time_unit}s"
    money = currency or "currency of the amounts"
    span = f"over the {study.horizon} {u} after {study.as_of}"
    level = fmt.percent(study.level, 0)
    purchases = "purchases (purchase days)"
    customer = {
        ID_COLUMN: Column("the customer's id as in the source data"),
        "frequency": Column(f"repeat purchase days to {study.as_of}", purchases),
        "recency": Column("time from the first to the last purchase", u, 2),
        "T": Column(f"age: time from the first purchase to {study.as_of}", u, 2),
        "monetary_value": Column("mean spend of the repeat purchase days", money, 2),
        "p_alive": Column(f"probability that the customer is still active at {study.as_of} "
                          f"({model_label(study.value_model)})", "probability (0-1)", 4),
        "expected_purchases": Column(f"expected purchases {span}", purchases, 4),
        "purchases_lower": Column(f"lower end of the {level} predictive interval of the purchases {span}",
                                  purchases),
        "purchases_upper": Column(f"upper end of the {level} predictive interval of the purchases {span}",
                                  purchases),
        "expected_spend": Column("expected spend per purchase (Gamma-Gamma)", money, 2),
        "clv": Column(f"customer lifetime value: {_value_words(study)} {span}", money, 2),
        "clv_lower": Column(f"lower end of the {level} predictive interval of the CLV", money, 2),
        "clv_upper": Column(f"upper end of the {level} predictive interval of the CLV", money, 2),
        **distribution_columns(study),
    }
    comparison = {
        "model": Column("purchase model (bgnbd = BG/NBD, pareto_nbd = Pareto/NBD, mbgnbd = MBG/NBD)"),
        "parameters": Column(f"estimates on the calibration period to {study.calibration_end}"),
        "log-likelihood": Column("log-likelihood of the calibration fit", "", 2),
        "AIC": Column("Akaike information criterion of the calibration fit (lower is better)", "", 2),
        "holdout MAE per customer": Column("mean absolute error of the holdout purchases per customer",
                                           purchases, 4),
        "holdout predicted total": Column("holdout purchases expected by the model", purchases, 2),
        "predictive interval low": Column(f"lower end of the {level} predictive interval of the holdout total",
                                          purchases, 2),
        "predictive interval high": Column(f"upper end of the {level} predictive interval of the holdout total",
                                           purchases, 2),
        "holdout actual total": Column("holdout purchases that happened", purchases),
        "aggregate error (%)": Column("(expected - actual) / actual holdout purchases", "percent", 2),
        "actual inside interval": Column("whether the actual holdout total is inside the interval"),
    }
    share = "share of customers (0-1)"
    models = {k: Column(f"share of customers with this many repeat purchases expected by {model_label(k)}",
                        share, 4) for k in MODELS}
    frequency = {
        "repeat purchases": Column(f"repeat purchases in the calibration period to {study.calibration_end} "
                                   "(the last row pools the rest)", purchases),
        "customers": Column("customers with this many repeat purchases", "customers"),
        "actual": Column("share of customers with this many repeat purchases", share, 4),
        **models,
    }
    tracking = {
        "period": Column("time units since the first acquisition (0 = the first)", u),
        "start": Column("first day of the period", "date"),
        "actual": Column("repeat purchases that happened in the period", purchases),
        "predicted": Column(f"repeat purchases expected by {model_label(study.value_model)}", purchases, 2),
        "actual_cumulative": Column("repeat purchases to the end of the period", purchases),
        "predicted_cumulative": Column("expected repeat purchases to the end of the period", purchases, 2),
        "holdout": Column(f"whether the period starts after the calibration end {study.calibration_end}"),
    }
    return {"customer_value": customer, "model_comparison": comparison,
            "frequency_fit": frequency, "tracking": tracking}
