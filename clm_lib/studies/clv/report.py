"""The words, display tables, metrics and exports of the CLV study.

Everything here reads a :class:`~clm_lib.studies.clv.compute.ClvStudy` and computes
nothing of its own beyond formatting: the notebook shows what these functions return.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from clm_lib.clv.bgnbd import BetaGeoModel
from clm_lib.clv.gamma_gamma import GammaGammaModel
from clm_lib.io import DataQuality
from clm_lib.studies.clv.compute import MODELS, ClvStudy

__all__ = [
    "summary_lines", "not_fitted_note", "section_note", "model_comparison", "comparison_table",
    "parameters_table", "cond_holdout_table", "segment_table", "captions", "quantiles_sentence",
    "method_sentence", "top_customers", "customer_export", "clv_metrics", "data_quality",
    "exports",
]

#: Report names of the fitted models, keyed as in ``ClvStudy.models`` and ``model_errors``.
_LABELS = {**{name: cls.label for name, cls in MODELS.items()},
           "gamma_gamma": GammaGammaModel.label,
           "bgnbd_all_data": f"{BetaGeoModel.label} on all data",
           "gamma_gamma_all_data": f"{GammaGammaModel.label} on all data"}

#: The models each section of the report needs (``None``: every model).
_SECTION_MODELS = {"comparison": None, "tracking": ("bgnbd",), "cond_holdout": ("bgnbd",),
                   "p_alive": ("bgnbd",), "value": ("bgnbd_all_data", "gamma_gamma_all_data")}

_COMPARISON_COLUMNS = ["model", "parameters", "log-likelihood", "AIC", "holdout MAE per customer",
                       "holdout predicted total", "holdout actual total", "aggregate error (%)"]


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
    ``"cond_holdout"``, ``"p_alive"`` or ``"value"``."""
    keys = _SECTION_MODELS[section]
    return not_fitted_note(study.model_errors, *(keys or ()))


# ---- summary ---------------------------------------------------------------------------
def summary_lines(study: ClvStudy, currency: str = "$") -> list[str]:
    """Plain-language summary computed from the study (holdout accuracy stated first).

    Models the data could not support are named with the reason, first."""
    u = study.time_unit
    f = study.forecast
    lines = []
    lines += _not_fitted_sentences(study.model_errors)
    if "bgnbd" in study.holdout:
        h = study.holdout["bgnbd"]
        lines.append(
            f"Holdout test: fitted on purchases up to {study.calibration_end}, the BG/NBD model "
            f"predicted {h['predicted_total']:,.0f} repeat purchases for the holdout period to "
            f"{study.as_of}; {h['actual_total']:,.0f} happened ({h['aggregate_error']:+.1%}). "
            f"Per customer the mean absolute error is {h['mae']:.2f} purchases.")
        if "holdout_predicted_interval" in f:
            lo, hi = f["holdout_predicted_interval"]
            inside = lo <= h["actual_total"] <= hi
            lines.append(f"The {f['level']:.0%} parameter interval of that forecast is "
                         f"{lo:,.0f}–{hi:,.0f}: the actual total is {'inside' if inside else 'outside'} it"
                         + ("" if inside else " (the interval reflects parameter uncertainty only)") + ".")
    comparison = model_comparison(study)
    if len(comparison):
        best = comparison["holdout MAE per customer"].idxmin()
        lines.append(f"Of the models compared, {best} has the lowest per-customer holdout error"
                     + (f"; values below use the BG/NBD refitted on all data to {study.as_of}."
                        if study.values is not None else "."))
    v = study.values
    if v is None:
        lines.append("No customer value could be computed: it needs the BG/NBD and Gamma-Gamma "
                     f"models fitted on all data to {study.as_of} (see above).")
        return lines
    lines.append(
        f"Over the next {study.horizon} {u}s, {len(v):,} customers are expected to make "
        f"{f['expected_purchases']:,.0f} purchases worth {currency}{f['clv_total']:,.0f} in discounted margin"
        + (f" ({f['level']:.0%} interval {currency}{f['clv_total_interval'][0]:,.0f}–"
           f"{currency}{f['clv_total_interval'][1]:,.0f})" if "clv_total_interval" in f else "")
        + f" at a {study.margin:.0%} margin and {study.annual_discount_rate:.0%} annual discount rate.")
    lines.append(f"The top 10 % of customers hold {study.top_decile_share:.0%} of that value; "
                 f"the median customer is worth {currency}{study.clv_quantiles['p50']:,.2f}.")
    rep = v["frequency"] > 0
    lines.append(f"Of the {int(rep.sum()):,} customers who bought again, {(v.loc[rep, 'p_alive'] >= 0.5).mean():.0%} "
                 f"are more likely active than not (P(alive) ≥ 0.5) at {study.as_of}; the BG/NBD counts "
                 f"the {int((~rep).sum()):,} who never bought again as active, but expects few purchases from them.")
    return lines


# ---- display tables and their captions -------------------------------------------------
def model_comparison(study: ClvStudy) -> pd.DataFrame:
    """The purchase models fitted on the calibration period, side by side: parameters,
    log-likelihood, AIC and holdout accuracy (indexed by ``model``; also the export)."""
    rows = []
    for name, h in study.holdout.items():
        m = study.models[name]
        rows.append({"model": name, "parameters": ", ".join(f"{k}={v:.3g}" for k, v in m.params_.items()),
                     "log-likelihood": m.loglik_, "AIC": m.AIC_,
                     "holdout MAE per customer": h["mae"],
                     "holdout predicted total": h["predicted_total"],
                     "holdout actual total": h["actual_total"],
                     # in percent, as the report's reading guide states it
                     "aggregate error (%)": 100 * h["aggregate_error"]})
    return pd.DataFrame(rows, columns=_COMPARISON_COLUMNS).set_index("model")


def comparison_table(study: ClvStudy) -> pd.DataFrame | None:
    """:func:`model_comparison` rounded for display; None when no model was fitted."""
    table = model_comparison(study)
    return table.round(3) if len(table) else None


def parameters_table(study: ClvStudy) -> pd.DataFrame | None:
    """Estimates of the calibration BG/NBD with standard errors and 95 % intervals."""
    bg = study.models.get("bgnbd")
    return None if bg is None else bg.summary.round(4)


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
        "parameters": f"BG/NBD parameters on the calibration period (rate parameter alpha in {u}s)",
        "holdout_label": f"holdout ({study.holdout_duration:.0f} {u}s)",
        "cond_holdout": "Mean holdout purchases per customer by calibration frequency",
        "p_alive": f"P(alive) at age {study.p_alive_age:.1f} {u}s",
        "top_customers": (f"Top 15 customers by CLV (pseudonymised ids; {study.level:.0%} intervals "
                          "from parameter uncertainty)"),
        "segments": f"Value by segment ({study.segment}, at first purchase)",
    }


def quantiles_sentence(study: ClvStudy, currency: str = "$") -> str:
    """The CLV quantiles and the top-decile share in one sentence ("" without values)."""
    q = study.clv_quantiles
    if q is None:
        return ""
    return (f"CLV quantiles: median {currency}{q['p50']:,.2f}, 90th percentile {currency}{q['p90']:,.2f}, "
            f"99th percentile {currency}{q['p99']:,.2f}; top 10 % of customers hold "
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
    expected purchases, expected spend and CLV with interval (raw ids never leave), most
    valuable first; with ``n``, its first ``n`` rows (only those are pseudonymised).

    Without fitted value models (see :class:`ClvStudy`) it holds the purchase summary
    only (frequency, recency, T, mean spend)."""
    v = study.values if study.values is not None else study.full
    cols = [c for c in ["frequency", "recency", "T", "monetary_value", "p_alive",
                        "expected_purchases", "expected_purchases_lower", "expected_purchases_upper",
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
    notes = [f"CLV reduction: {n:,} excluded ({reason})." for reason, n in _dropped(study).items()]
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
        models["bgnbd_all_data"] = brief(study.final_model)
    if study.final_spend_model is not None:
        models["gamma_gamma_all_data"] = brief(study.final_spend_model)
    f = study.forecast
    headline = {}
    if "bgnbd" in study.holdout:
        h = study.holdout["bgnbd"]
        headline["Holdout purchases, predicted vs actual"] = (
            f"{h['predicted_total']:,.0f} vs {h['actual_total']:,.0f} ({h['aggregate_error']:+.1%})")
    if study.values is not None:
        headline[f"Value, next {study.horizon} {study.time_unit}s"] = f"{currency}{f['clv_total']:,.0f}"
        headline["Top-decile share of value"] = f"{study.top_decile_share:.0%}"
    else:
        headline["Customer value"] = "not fitted"
    out = {
        "time_unit": study.time_unit, "calibration_end": study.calibration_end, "as_of": study.as_of,
        "horizon": study.horizon, "annual_discount_rate": study.annual_discount_rate,
        "discount_rate_per_unit": study.discount_rate_per_unit, "margin": study.margin,
        "customers": int(len(study.full)),
        "models": models, "model_errors": study.model_errors,
        "holdout": study.holdout, "forecast": f,
        "clv_quantiles": study.clv_quantiles, "top_decile_share": study.top_decile_share,
        "frequency_spend_correlation": study.spend_correlation,
        "dropped": _dropped(study),
        "headline": headline,
    }
    if dq is not None:
        out["data_quality"] = dq.to_dict()
    return out


def exports(study: ClvStudy) -> dict[str, pd.DataFrame]:
    """The CSV exports by name: ``customer_value``, ``model_comparison`` and (with the
    calibration BG/NBD) ``tracking``."""
    out = {"customer_value": customer_export(study),
           "model_comparison": model_comparison(study).reset_index()}
    if study.tracking is not None:
        out["tracking"] = study.tracking.reset_index()
    return out
