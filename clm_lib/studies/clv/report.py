"""The words, display tables, metrics and exports of the CLV study.

Everything here reads a :class:`~clm_lib.studies.clv.compute.ClvStudy` and computes
nothing of its own beyond formatting: the notebook shows what these functions return.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from clm_lib.clv.gamma_gamma import GammaGammaModel
from clm_lib.io import DataQuality
from clm_lib.studies.clv.compute import MODELS, ClvStudy

__all__ = [
    "summary_lines", "not_fitted_note", "section_note", "model_comparison", "comparison_table",
    "parameters_table", "frequency_fit_table", "frequency_fit_labels", "cond_holdout_table",
    "segment_table", "captions", "quantiles_sentence", "method_sentence", "model_label",
    "track_record", "top_customers", "customer_export", "clv_metrics", "data_quality", "exports",
]

#: Report names of the fitted models, keyed as in ``ClvStudy.models`` and ``model_errors``.
_LABELS = {**{name: cls.label for name, cls in MODELS.items()},
           **{f"{name}_all_data": f"{cls.label} on all data" for name, cls in MODELS.items()},
           "gamma_gamma": GammaGammaModel.label,
           "gamma_gamma_all_data": f"{GammaGammaModel.label} on all data"}

_COMPARISON_COLUMNS = ["model", "parameters", "log-likelihood", "AIC", "holdout MAE per customer",
                       "holdout predicted total", "predictive interval low",
                       "predictive interval high", "holdout actual total", "aggregate error (%)",
                       "actual inside interval"]


def model_label(key: str | None) -> str:
    """Report name of a model key (``"pareto_nbd"`` -> ``"Pareto/NBD"``)."""
    return _LABELS.get(key, str(key))


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


# ---- summary ---------------------------------------------------------------------------
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
            f"the {study.holdout_duration:.0f} {study.time_unit}s to {study.as_of} by {abs(err):.1%} "
            f"({h['predicted_total']:,.0f} repeat purchases expected, {h['actual_total']:,.0f} happened)")
    if "interval" not in h:
        return text + "."
    lo, hi = h["interval"]
    level = f"{h['level']:.0%}"
    if h["actual_inside"]:
        return text + f", inside its {level} predictive interval of {lo:,.0f}–{hi:,.0f}."
    return (text + f", outside its {level} predictive interval of {lo:,.0f}–{hi:,.0f}: the miss is "
            "larger than chance allows, so the model does not fully fit these customers (misfit), "
            f"and its forecast below may be {'too low' if err < 0 else 'too high'} in the same way.")


def window_sentence(study: ClvStudy) -> str:
    """Where the observation and the calibration end, and whether each was given or
    derived from the data."""
    as_of = ("the last date in the data" if study.as_of_source == "data" else "as given")
    cal = ("derived so that the last third of the observed span is the holdout"
           if study.calibration_end_source == "data" else "as given")
    return (f"Data observed to {study.as_of} ({as_of}); models calibrated on purchases to "
            f"{study.calibration_end} ({cal}) and checked on the {study.holdout_duration:.0f} "
            f"{study.time_unit}s after it.")


def summary_lines(study: ClvStudy, currency: str = "$") -> list[str]:
    """Plain-language summary computed from the study: which model values customers and
    why, its holdout track record, then the forecast with its predictive interval.

    Models the data could not support are named with the reason, first."""
    u = study.time_unit
    f = study.forecast
    lines = []
    lines += _not_fitted_sentences(study.model_errors)
    if "data" in (study.as_of_source, study.calibration_end_source):
        lines.append(window_sentence(study))
    vm = study.value_model
    if vm not in study.holdout:
        lines.append(f"No model could be tested on the holdout; customer values, where shown, come "
                     f"from the {model_label(vm)} fitted on all data, without a track record.")
    else:
        h = study.holdout[vm]
        if study.value_model_selected:
            others = "; ".join(f"{model_label(k)} {o['mae']:.3f}"
                               for k, o in study.holdout.items() if k != vm)
            lines.append(
                f"Customers are valued with the {model_label(vm)} model: of the models that do not "
                f"take customers without a repeat purchase to be certainly active, it has the "
                f"lowest per-customer holdout error ({h['mae']:.3f} purchases; {others}).")
        else:
            lines.append(f"Customers are valued with the {model_label(vm)} model, the only one fitted; "
                         "it takes customers without a repeat purchase to be active until they buy again.")
        lines.append("Track record: " + track_record(study))
    v = study.values
    if v is None:
        lines.append("No customer value could be computed: it needs a purchase model and the "
                     f"Gamma-Gamma model fitted on all data to {study.as_of} (see above).")
        return lines
    pi = f.get("expected_purchases_predictive_interval")
    vi = f.get("clv_total_predictive_interval")
    level = f"{f['level']:.0%}"
    lines.append(
        f"Over the next {study.horizon} {u}s, {len(v):,} customers are expected to make "
        f"{f['expected_purchases']:,.0f} purchases"
        + (f" ({level} predictive interval {pi[0]:,.0f}–{pi[1]:,.0f})" if pi else "")
        + f" worth {currency or ''}{f['clv_total']:,.0f} in discounted {study.value_basis}"
        + (f" ({level} predictive interval {currency or ''}{vi[0]:,.0f}–{currency or ''}{vi[1]:,.0f})" if vi else "")
        + (f" at a {study.margin:.0%} margin and" if study.value_basis == "margin" else
           " (no margin was given: value is revenue) at a")
        + f" {study.annual_discount_rate:.0%} annual discount rate."
        + (" The intervals cover parameter uncertainty and the randomness of purchases if the "
           "model is right; they do not cover the misfit the track record shows."
           if pi and not study.holdout.get(vm, {}).get("actual_inside", True) else ""))
    lines.append(f"The top 10 % of customers hold {study.top_decile_share:.0%} of that value; "
                 f"the median customer is worth {currency or ''}{study.clv_quantiles['p50']:,.2f}.")
    rep = v["frequency"] > 0
    lines.append(
        f"At {study.as_of}, {(v.loc[rep, 'p_alive'] >= 0.5).mean():.0%} of the {int(rep.sum()):,} "
        f"customers who bought again and {(v.loc[~rep, 'p_alive'] >= 0.5).mean():.0%} of the "
        f"{int((~rep).sum()):,} who never did are more likely active than not (P(alive) ≥ 0.5, "
        f"{model_label(vm)}).")
    return lines


# ---- display tables and their captions -------------------------------------------------
def model_comparison(study: ClvStudy) -> pd.DataFrame:
    """The purchase models fitted on the calibration period, side by side: parameters,
    log-likelihood, AIC, holdout accuracy and the predictive interval of the holdout total
    (indexed by the model key; also the export). The interval columns are empty without
    draws."""
    rows = []
    for name, h in study.holdout.items():
        m = study.models[name]
        lo, hi = h.get("interval", (np.nan, np.nan))
        rows.append({"model": name, "parameters": ", ".join(f"{k}={v:.3g}" for k, v in m.params_.items()),
                     "log-likelihood": m.loglik_, "AIC": m.AIC_,
                     "holdout MAE per customer": h["mae"],
                     "holdout predicted total": h["predicted_total"],
                     "predictive interval low": lo, "predictive interval high": hi,
                     "holdout actual total": h["actual_total"],
                     # in percent, as the report's reading guide states it
                     "aggregate error (%)": 100 * h["aggregate_error"],
                     "actual inside interval": h.get("actual_inside")})
    return pd.DataFrame(rows, columns=_COMPARISON_COLUMNS).set_index("model")


def comparison_table(study: ClvStudy) -> pd.DataFrame | None:
    """:func:`model_comparison` for display: report names (the value model marked),
    rounded, "yes"/"no" for the interval; None when no model was fitted."""
    table = model_comparison(study)
    if not len(table):
        return None
    table = table.round(3)
    table["actual inside interval"] = table["actual inside interval"].map(
        {True: "yes", False: "no"}).fillna("")
    table.index = [model_label(k) + (" (values customers)" if k == study.value_model else "")
                   for k in table.index]
    return table.rename_axis("model")


def parameters_table(study: ClvStudy) -> pd.DataFrame | None:
    """Estimates of the value model on the calibration period, with standard errors and
    95 % intervals (None without a value model)."""
    m = study.models.get(study.value_model)
    return None if m is None else m.summary.round(4)


def frequency_fit_labels(study: ClvStudy) -> dict[str, str]:
    """Model columns of :attr:`ClvStudy.frequency_fit` -> report names."""
    return {k: model_label(k) for k in MODELS if study.frequency_fit is not None
            and k in study.frequency_fit}


def frequency_fit_table(study: ClvStudy) -> pd.DataFrame | None:
    """The frequency-distribution check for display: customers and shares in percent,
    actual and per model (None without a fitted purchase model)."""
    t = study.frequency_fit
    if t is None:
        return None
    out = pd.DataFrame({"customers": t["customers"], "actual (%)": 100 * t["actual"]})
    for k, label in frequency_fit_labels(study).items():
        out[f"{label} (%)"] = 100 * t[k]
    return out.round(2)


def cond_holdout_table(study: ClvStudy) -> pd.DataFrame | None:
    """Mean holdout purchases per customer by calibration frequency, for display."""
    if study.cond_holdout is None:
        return None
    return study.cond_holdout.round(3).rename_axis("calibration frequency")


def segment_table(study: ClvStudy) -> pd.DataFrame | None:
    """Value by segment at first purchase, for display (None without a segment)."""
    return None if study.segments is None else study.segments.round(3)


def captions(study: ClvStudy) -> dict[str, str]:
    """Captions and titles of the report's tables and figures, keyed by what they label."""
    u = study.time_unit
    return {
        "comparison": (f"Model comparison (calibration to {study.calibration_end}, holdout to "
                       f"{study.as_of}; purchases counted as purchase days)"),
        "parameters": (f"{model_label(study.value_model)} parameters on the calibration period "
                       f"(scale parameters in {u}s)"),
        "frequency_fit": (f"Customers by repeat purchases in the calibration period to "
                          f"{study.calibration_end}: actual and expected by each model"),
        "holdout_label": f"holdout ({study.holdout_duration:.0f} {u}s)",
        "cond_holdout": "Mean holdout purchases per customer by calibration frequency",
        "p_alive": f"P(alive) at age {study.p_alive_age:.1f} {u}s",
        "top_customers": (f"Top 15 customers by CLV (pseudonymised ids; {study.level:.0%} predictive "
                          "intervals: parameter uncertainty and the randomness of purchases)"),
        "segments": f"Value by segment ({study.segment}, at first purchase)",
    }


def quantiles_sentence(study: ClvStudy, currency: str = "$") -> str:
    """The CLV quantiles and the top-decile share in one sentence ("" without values)."""
    q = study.clv_quantiles
    if q is None:
        return ""
    return (f"CLV quantiles: median {currency or ''}{q['p50']:,.2f}, 90th percentile {currency or ''}{q['p90']:,.2f}, "
            f"99th percentile {currency or ''}{q['p99']:,.2f}; top 10 % of customers hold "
            f"{study.top_decile_share:.0%} of the value.")


def method_sentence(study: ClvStudy) -> str:
    """The per-unit discount rate used and the frequency-spend correlation (method notes)."""
    return (f"Per-{study.time_unit} discount rate used: {study.discount_rate_per_unit:.5f} "
            f"(from {study.annual_discount_rate:.1%} a year). Correlation of frequency and mean "
            f"spend among repeat customers: {study.spend_correlation:.2f}.")


def _pseudo(index) -> np.ndarray:
    from clm_lib.reporting import pseudonymise   # reporting helper; no I/O
    return pseudonymise(pd.Series(index, dtype="string")).to_numpy()


def customer_export(study: ClvStudy, n: int | None = None) -> pd.DataFrame:
    """Per-customer table for export: pseudonymised id, frequency, recency, T, P(alive),
    expected purchases with the predictive interval of her purchases (whole purchases),
    expected spend and CLV with its predictive interval (raw ids never leave), most
    valuable first; with ``n``, its first ``n`` rows (only those are pseudonymised).

    Without fitted value models (see :class:`ClvStudy`) it holds the purchase summary
    only (frequency, recency, T, mean spend)."""
    v = study.values if study.values is not None else study.full
    cols = [c for c in ["frequency", "recency", "T", "monetary_value", "p_alive",
                        "expected_purchases", "purchases_lower", "purchases_upper",
                        "expected_spend", "clv", "clv_lower", "clv_upper"] if c in v]
    out = v[cols].sort_values("clv" if "clv" in v else "frequency", ascending=False)
    if n is not None:
        out = out.head(n)
    out.insert(0, "customer", _pseudo(out.index))
    return out.reset_index(drop=True)


def top_customers(study: ClvStudy, n: int = 20) -> pd.DataFrame:
    """The ``n`` most valuable customers (pseudonymised), for display."""
    u = study.time_unit
    e = customer_export(study, n)
    ren = {"customer": "customer (pseudonym)", "frequency": "repeat purchases",
           "recency": f"recency ({u}s)", "T": f"age ({u}s)", "monetary_value": "mean spend",
           "p_alive": "P(alive)", "expected_purchases": f"expected purchases, next {study.horizon} {u}s",
           "purchases_lower": "purchases lower", "purchases_upper": "purchases upper",
           "expected_spend": "expected spend per purchase", "clv": "CLV",
           "clv_lower": "CLV lower", "clv_upper": "CLV upper"}
    keep = [c for c in ren if c in e]
    return e[keep].rename(columns=ren).set_index("customer (pseudonym)")


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
    :func:`data_quality`), its JSON form is the ``data_quality`` entry."""
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
    }
    if dq is not None:
        out["data_quality"] = dq.to_dict()
    return out


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
