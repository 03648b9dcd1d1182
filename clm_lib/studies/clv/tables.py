"""The display tables of the CLV report: friendly column names with units, one formatter
per column (:mod:`clm_lib.format`), pseudonyms instead of customer ids.

Each ``*_table`` function returns the keyword arguments of
:func:`clm_lib.reporting.show_table` (``df``, ``caption``, ``formats``, ``rename``), or
None when the study has nothing to show; the frame keeps its numbers, so that a report
sorts the columns by value while showing them formatted.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.clv.gamma_gamma import GammaGammaModel
from clm_lib.studies.clv.compute import MODELS, ClvStudy

__all__ = ["model_label", "model_comparison", "comparison_table", "parameters_table",
           "frequency_fit_labels", "frequency_fit_table", "cond_holdout_table", "segment_table",
           "top_customers", "captions", "significant"]

#: Report names of the fitted models, keyed as in ``ClvStudy.models`` and ``model_errors``.
LABELS = {**{name: cls.label for name, cls in MODELS.items()},
          **{f"{name}_all_data": f"{cls.label} on all data" for name, cls in MODELS.items()},
          "gamma_gamma": GammaGammaModel.label,
          "gamma_gamma_all_data": f"{GammaGammaModel.label} on all data"}

_COMPARISON_COLUMNS = ["model", "parameters", "log-likelihood", "AIC", "holdout MAE per customer",
                       "holdout predicted total", "predictive interval low",
                       "predictive interval high", "holdout actual total", "aggregate error (%)",
                       "actual inside interval"]


def model_label(key: str | None) -> str:
    """Report name of a model key (``"pareto_nbd"`` -> ``"Pareto/NBD"``)."""
    return LABELS.get(key, str(key))


def significant(x, digits: int = 3) -> str:
    """A number with ``digits`` significant digits in plain notation (never "0.00" for a
    small standard error: ``0.000123`` -> ``0.000123``, ``11.234`` -> ``11.2``).

    >>> significant(0.0123), significant(11.234), significant(0.5)
    ('0.0123', '11.2', '0.500')
    """
    v = fmt._real(x)
    if v is None or not math.isfinite(v) or v == 0:
        return fmt.number(x, 0) if v == 0 else fmt.number(x)
    decimals = min(max(digits - 1 - math.floor(math.log10(abs(v))), 0), 8)
    return fmt.number(v, decimals)


def _interval(lo, hi, kind=fmt.count) -> str:
    if fmt.is_missing(lo) or fmt.is_missing(hi):
        return fmt.MISSING
    return f"{kind(lo)} – {kind(hi)}"


# ---- model comparison ------------------------------------------------------------------
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


def comparison_table(study: ClvStudy) -> dict | None:
    """:func:`model_comparison` for display: report names (the value model marked), the
    interval as one range, errors in percent, "yes"/"no" for the interval; None when no
    model was fitted."""
    raw = model_comparison(study)
    if not len(raw):
        return None
    level = fmt.percent(study.level, 0)
    df = pd.DataFrame({
        "parameters": raw["parameters"], "loglik": raw["log-likelihood"], "aic": raw["AIC"],
        "mae": raw["holdout MAE per customer"], "predicted": raw["holdout predicted total"],
        "interval": [_interval(lo, hi) for lo, hi in zip(raw["predictive interval low"],
                                                         raw["predictive interval high"])],
        "actual": raw["holdout actual total"], "error": raw["aggregate error (%)"] / 100,
        "inside": raw["actual inside interval"].map({True: "yes", False: "no"}).fillna(fmt.MISSING),
    })
    df.index = [model_label(k) + (" (values customers)" if k == study.value_model else "")
                for k in raw.index]
    df.index.name = "model"
    return {"df": df, "caption": captions(study)["comparison"],
            "formats": {"loglik": ("number", 1), "aic": ("number", 1), "mae": ("number", 3),
                        "predicted": "count", "actual": "count", "error": ("percent", 1)},
            "rename": {"model": "Model", "parameters": "Parameters (calibration fit)",
                       "loglik": "Log-likelihood", "aic": "AIC",
                       "mae": "Holdout error per customer (purchases, mean absolute)",
                       "predicted": "Holdout purchases expected",
                       "interval": f"{level} predictive interval (purchases)",
                       "actual": "Holdout purchases actual",
                       "error": "Aggregate error (expected vs actual)",
                       "inside": "Actual inside the interval"}}


def parameters_table(study: ClvStudy) -> dict | None:
    """Estimates of the value model on the calibration period, with standard errors and
    95 % intervals, three significant digits (None without a value model)."""
    m = study.models.get(study.value_model)
    if m is None:
        return None
    s = m.summary.rename_axis("parameter")
    return {"df": s, "caption": captions(study)["parameters"],
            "formats": {c: significant for c in s.columns},
            "rename": {"parameter": "Parameter", "estimate": "Estimate", "se": "Standard error",
                       "lower 95%": "95 % interval, low", "upper 95%": "95 % interval, high"}}


# ---- model checks ----------------------------------------------------------------------
def frequency_fit_labels(study: ClvStudy) -> dict[str, str]:
    """Model columns of :attr:`ClvStudy.frequency_fit` -> report names."""
    return {k: model_label(k) for k in MODELS if study.frequency_fit is not None
            and k in study.frequency_fit}


def frequency_fit_table(study: ClvStudy) -> dict | None:
    """The frequency-distribution check for display: customers and shares in percent,
    actual and per model (None without a fitted purchase model)."""
    t = study.frequency_fit
    if t is None:
        return None
    labels = frequency_fit_labels(study)
    df = t[["customers", "actual", *labels]]
    return {"df": df, "caption": captions(study)["frequency_fit"],
            "formats": {"customers": "count", **{c: ("percent", 1) for c in ["actual", *labels]}},
            "rename": {"repeat purchases": "Repeat purchases in calibration",
                       "customers": "Customers", "actual": "Share of customers, actual",
                       **{k: f"Share expected, {v}" for k, v in labels.items()}}}


def cond_holdout_table(study: ClvStudy) -> dict | None:
    """Mean holdout purchases per customer by calibration frequency, for display."""
    t = study.cond_holdout
    if t is None:
        return None
    df = t.rename_axis("frequency")
    label = model_label(study.value_model)
    return {"df": df, "caption": captions(study)["cond_holdout"],
            "formats": {c: ("count" if c == "customers" else ("number", 3)) for c in df.columns},
            "rename": {"frequency": "Repeat purchases in calibration", "customers": "Customers",
                       "actual": "Holdout purchases per customer, actual (mean)",
                       "predicted": f"Holdout purchases per customer, {label} (mean)"}}


def segment_table(study: ClvStudy, currency: str | None = "$") -> dict | None:
    """Value by segment at first purchase, for display (None without a segment)."""
    if study.segments is None:
        return None
    df = study.segments.rename_axis("segment")
    df.index = df.index.astype("string").fillna("(no value)")
    basis = study.value_basis
    return {"df": df, "caption": captions(study)["segments"],
            "formats": {"customers": "count", "total_clv": ("money", currency),
                        "mean_clv": ("money", currency, 2), "mean_p_alive": ("percent", 1),
                        "share_of_clv": ("percent", 1)},
            "rename": {"segment": f"Segment ({study.segment})", "customers": "Customers",
                       "total_clv": f"CLV, total ({basis})", "mean_clv": "CLV per customer (mean)",
                       "mean_p_alive": "P(alive), mean", "share_of_clv": "Share of total CLV"}}


def top_customers(study: ClvStudy, n: int = 20, currency: str | None = "$") -> dict | None:
    """The ``n`` most valuable customers under keyed pseudonyms (never the ids), for
    display; None without values."""
    from clm_lib.reporting import pseudonymise

    v = study.values
    if v is None:
        return None
    u = study.time_unit
    top = v.sort_values("clv", ascending=False).head(n)
    df = pd.DataFrame({"customer": pseudonymise(pd.Series(top.index, dtype="string")).to_numpy(),
                       "frequency": top["frequency"].to_numpy(), "recency": top["recency"].to_numpy(),
                       "T": top["T"].to_numpy(), "monetary_value": top["monetary_value"].to_numpy(),
                       "p_alive": top["p_alive"].to_numpy(),
                       "expected_purchases": top["expected_purchases"].to_numpy()})
    if "purchases_lower" in top:
        df["purchases"] = [_interval(a, b) for a, b in zip(top["purchases_lower"], top["purchases_upper"])]
    df["expected_spend"] = top["expected_spend"].to_numpy()
    df["clv"] = top["clv"].to_numpy()
    if "clv_lower" in top:
        money = (lambda x: fmt.money(x, currency, 0))
        df["clv_interval"] = [_interval(a, b, money) for a, b in zip(top["clv_lower"], top["clv_upper"])]
    level = fmt.percent(study.level, 0)
    span = f"next {study.horizon} {u}s"
    return {"df": df.set_index("customer"), "caption": captions(study)["top_customers"],
            "formats": {"frequency": "count", "recency": ("number", 1),
                        "T": ("number", 1), "monetary_value": ("money", currency, 2),
                        "p_alive": ("percent", 1), "expected_purchases": ("number", 2),
                        "expected_spend": ("money", currency, 2), "clv": ("money", currency, 2)},
            "rename": {"customer": "Customer (pseudonym)", "frequency": "Repeat purchases",
                       "recency": f"Recency ({u}s)", "T": f"Age ({u}s)",
                       "monetary_value": "Mean spend per purchase",
                       "p_alive": "P(alive)", "expected_purchases": f"Expected purchases, {span}",
                       "purchases": f"Purchases, {level} interval",
                       "expected_spend": "Expected spend per purchase",
                       "clv": f"CLV, {span} ({study.value_basis})",
                       "clv_interval": f"CLV, {level} interval"}}


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
        "top_customers": (f"Top 15 customers by CLV (pseudonymised ids; {fmt.percent(study.level, 0)} predictive "
                          "intervals: parameter uncertainty and the randomness of purchases)"),
        "segments": f"Value by segment ({study.segment}, at first purchase)",
    }
