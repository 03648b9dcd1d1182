"""The words, tables and metrics of the covariates in the CLV study ("What drives
purchasing and value"): one sentence per covariate in plain words, the table of effects,
the likelihood-ratio tests and the holdout errors with and without covariates.

Everything reads :attr:`ClvStudy.covariates <clm_lib.studies.clv.compute.ClvStudy>` (a
:class:`~clm_lib.studies.clv.covariates.CovariateFits`); nothing is computed here beyond
formatting. Covariate names and levels are data: they reach a page only through the
escaping display helpers of :mod:`clm_lib.reporting`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.studies.clv.compute import MODELS, ClvStudy

__all__ = ["effect_sentences", "lrt_sentence", "effects_table", "fit_table",
           "covariate_notes", "covariate_metrics", "value_sentence", "none_sentence", "SIGNIFICANCE"]

#: The p-value below which a test says the covariates improve the fit.
SIGNIFICANCE = 0.05

_SPEND_LABEL = "Gamma-Gamma"


def none_sentence() -> str:
    """The one line of the section when no covariate was given."""
    return ("No covariates were used: every customer's purchasing, dropout and spend come "
            "from the same population distribution. Give `covariates` (columns of the "
            "transactions, taken at the first purchase, or of the `customers` table) to see "
            "what drives them.")


def _verb(process: str, multiplier: float, model: str) -> str:
    m = fmt.number(multiplier, 2)
    if process == "purchase":
        return f"buy {m}× as often"
    if process == "spend":
        return f"spend {m}× as much per purchase"
    if model == "pareto_nbd":
        return f"stop buying {m}× as fast (dropout rate)"
    return f"are {m}× as likely to stop after each purchase (dropout odds)"


_PROCESS_WORDS = {"purchase": "how often they buy", "dropout": "when they stop buying",
                  "spend": "how much they spend per purchase"}


def _subject(term: dict, source: str) -> str:
    if term["kind"] == "numeric":
        if term["column"] == "quantity" and source == "transactions":
            return "Customers whose first purchase day had one more item (quantity)"
        where = ("on their first purchase day" if source == "transactions"
                 else "in the customer table")
        return f"Customers with one more unit of {term['column']} {where}"
    return (f"Customers whose {term['column']} is {term['level']} (against "
            f"{term['baseline']}, the most frequent)")


def effect_sentences(study: ClvStudy) -> list[str]:
    """One sentence per covariate term: the effects distinguishable from none (interval
    excludes 1) with their intervals, then those that are not."""
    c = study.covariates
    if c is None or c.effects is None:
        return []
    pct = fmt.number(100 * c.level, 0)
    out = []
    for term in c.terms:
        rows = c.effects.loc[c.effects["covariate"] == term["name"]]
        clear, null = [], []
        for _, r in rows.iterrows():
            ci = f"{fmt.number(r['lower'], 2)}–{fmt.number(r['upper'], 2)}"
            if r["lower"] <= 1 <= r["upper"]:
                null.append(f"{_PROCESS_WORDS[r['process']]} ({fmt.number(r['multiplier'], 2)}×, "
                            f"{ci})")
            else:
                clear.append(f"{_verb(r['process'], r['multiplier'], c.model)} ({ci}, {pct} % CI)")
        subject = _subject(term, c.record["sources"][term["column"]])
        parts = []
        if clear:
            body = clear[0] if len(clear) == 1 else ", ".join(clear[:-1]) + " and " + clear[-1]
            parts.append(f"{subject} {body}.")
        if null:
            what = null[0] if len(null) == 1 else ", ".join(null[:-1]) + " and " + null[-1]
            lead = "Its effect on" if clear else f"{subject}: the effect on"
            parts.append(f"{lead} {what} is not distinguishable from no effect "
                         f"(the {pct} % interval includes 1).")
        if parts:
            out.append(" ".join(parts))
    return out


def _model_label(key: str) -> str:
    return MODELS[key].label if key in MODELS else _SPEND_LABEL


def lrt_sentence(study: ClvStudy) -> str:
    """The likelihood-ratio tests in words ("" without covariates)."""
    c = study.covariates
    if c is None:
        return ""
    out = []
    for part, label in (("purchase", _model_label(c.model)), ("spend", _SPEND_LABEL)):
        t = c.lrt.get(part)
        if not t:
            continue
        stat = f"χ² = {fmt.number(t['statistic'], 1)} on {int(t['df'])} df, p {_p(t['p_value'])}"
        if t["p_value"] < SIGNIFICANCE:
            out.append(f"In the {label}, the covariates improve the fit: {stat}.")
        else:
            out.append(f"In the {label}, the covariates do not improve the fit "
                       f"significantly: {stat}.")
    return " ".join(out)


def _loglik(model) -> float:
    # the covariate models name it log_likelihood_, the base models loglik_
    ll = getattr(model, "log_likelihood_", None)
    return float(model.loglik_ if ll is None else ll)


def _p(p) -> str:
    s = fmt.p_value(p)
    return s if s.startswith("<") else f"= {s}"


def effects_table(study: ClvStudy) -> dict | None:
    """The multiplicative effects, for display (None without effects)."""
    c = study.covariates
    if c is None or c.effects is None:
        return None
    df = c.effects[["process", "covariate", "multiplier", "lower", "upper", "p_value"]].copy()
    df["model"] = [_model_label(c.model) if p != "spend" else _SPEND_LABEL for p in df["process"]]
    df = df[["model", "process", "covariate", "multiplier", "lower", "upper", "p_value"]]
    pct = fmt.number(100 * c.level, 0)
    return {"df": df, "index": False,
            "caption": (f"Effect of each covariate as a multiplier of the purchase rate, the "
                        f"dropout ({'rate' if c.model == 'pareto_nbd' else 'odds'}) or the mean "
                        f"spend per purchase, with its {pct} % confidence interval (parameter "
                        "uncertainty, from the standard errors of the coefficients); 1 is no "
                        "effect. Fitted on all data to the end of observation."),
            "formats": {"multiplier": ("number", 2), "lower": ("number", 2),
                        "upper": ("number", 2), "p_value": fmt.p_value},
            "rename": {"model": "Model", "process": "Process", "covariate": "Covariate",
                       "multiplier": "Multiplier", "lower": f"{pct} % CI low",
                       "upper": f"{pct} % CI high", "p_value": "p"}}


def fit_table(study: ClvStudy) -> dict | None:
    """Log-likelihood, AIC and holdout errors with and without covariates, side by side."""
    c = study.covariates
    if c is None:
        return None
    rows = []
    for part, fits in (("purchase", c.purchase), ("spend", c.spend)):
        label = _model_label(c.model) if part == "purchase" else _SPEND_LABEL
        for key, word in (("without", "without covariates"), ("with", "with covariates")):
            m = fits.get(key)
            if m is None:
                continue
            h = c.holdout.get(key, {}) if part == "purchase" else {}
            rows.append({"model": f"{label}, {word}", "parameters": len(m.params_),
                         "loglik": _loglik(m), "aic": float(m.AIC_),
                         "mae": h.get("mae", np.nan), "rmse": h.get("rmse", np.nan),
                         "agg": 100 * h.get("aggregate_error", np.nan)})
    if not rows:
        return None
    u = study.time_unit
    return {"df": pd.DataFrame(rows), "index": False,
            "caption": (f"Fit with and without covariates on the same "
                        f"{fmt.count(c.record['customers_used'])} customers: log-likelihood "
                        "and AIC on all data (lower AIC is better); holdout errors of the "
                        "purchase model fitted on the calibration period (repeat purchases "
                        f"per customer over the {fmt.number(study.holdout_duration, 1)}-{u} "
                        "holdout)."),
            "formats": {"parameters": "count", "loglik": ("number", 1), "aic": ("number", 1),
                        "mae": ("number", 3), "rmse": ("number", 3), "agg": ("number", 1)},
            "rename": {"model": "Model", "parameters": "Parameters", "loglik": "Log-likelihood",
                       "aic": "AIC", "mae": "Holdout MAE per customer",
                       "rmse": "Holdout RMSE per customer", "agg": "Holdout aggregate error (%)"}}


def covariate_notes(study: ClvStudy) -> list[str]:
    """Where the covariates came from, how they are encoded, who was left out, which
    fits failed, and which model values the customers."""
    c = study.covariates
    if c is None:
        return [none_sentence()]
    notes = []
    for col, src in c.record["sources"].items():
        terms = [t for t in c.terms if t["column"] == col]
        procs = [p for p in ("purchase", "dropout", "spend") if col in c.spec[p]]
        where = ("the customer table, joined on customer_id" if src == "customer table"
                 else "the transactions, on the customer's first purchase day (rows of that "
                      "day summed for a number, the smallest value for text)")
        if terms and terms[0]["kind"] == "level":
            enc = (f"text: one indicator per level against {terms[0]['baseline']}, the most "
                   "frequent level")
        else:
            enc = "a number, its effect per one unit more"
        notes.append(f"{col}: from {where}; {enc}; on {', '.join(procs)}.")
    r = c.record
    lost = sum(r["dropped"].values())
    if lost:
        why = "; ".join(f"{n:,} {k}" for k, n in r["dropped"].items())
        notes.append(f"{fmt.count(r['customers_in'])} customers in, {fmt.count(r['customers_used'])} "
                     f"used by the covariate fits, {fmt.count(lost)} left out ({why}); the fits "
                     "without covariates they are compared with use the same customers.")
    else:
        notes.append(f"All {fmt.count(r['customers_in'])} customers have every covariate.")
    for key, reason in c.errors.items():
        notes.append(f"Not fitted ({key.replace('_', ' ')} covariates): {reason}.")
    if c.valued_by_covariates:
        notes.append(f"The customer values of this report come from the {_model_label(c.model)} "
                     "and the Gamma-Gamma with covariates.")
    else:
        notes.append("The customer values, their predictive intervals, the track record and "
                     "the exports of this report come from the models without covariates (the "
                     "intervals and the scoring of earlier runs are built for them)"
                     + ("; the value with covariates is compared above." if c.values is not None
                        else "."))
    return notes


def value_sentence(study: ClvStudy, currency: str | None = "$") -> str:
    """The total value of the customers with covariates beside the one without ("" when
    either is missing)."""
    c = study.covariates
    v = getattr(study, "values", None)
    if c is None or c.values is None or v is None:
        return ""
    ids = v.index.astype("string")
    base = v.set_axis(ids)["clv"].reindex(c.values.index)
    with_cov = float(c.values["clv"].sum())
    without = float(base.sum())
    rho = float(pd.Series(c.values["clv"].to_numpy()).corr(pd.Series(base.to_numpy()),
                                                           method="spearman"))
    u = study.time_unit
    return (f"Valued with the covariates, the {fmt.count(len(c.values))} customers are worth "
            f"{fmt.money(with_cov, currency)} over the next {study.horizon} {u}s "
            f"({fmt.money(without, currency)} without covariates, "
            f"{fmt.percent(with_cov / without - 1, 1, signed=True) if without else 'n/a'}); "
            f"the two rank the customers alike to a rank correlation of {fmt.number(rho, 3)}.")


def covariate_metrics(study: ClvStudy) -> dict:
    """The ``covariates`` entry of metrics.json (None-valued when none were given)."""
    c = study.covariates
    if c is None:
        return {"covariates": None}
    eff = (c.effects[["process", "covariate", "multiplier", "lower", "upper", "p_value"]]
           .to_dict("records") if c.effects is not None else [])
    return {"covariates": {
        "spec": {k: list(v) for k, v in c.spec.items()}, "model": c.model, "level": c.level,
        "customers": {"in": c.record["customers_in"], "used": c.record["customers_used"],
                      "dropped": dict(c.record["dropped"])},
        "effects": eff, "lrt": {k: {kk: float(vv) for kk, vv in v.items()} for k, v in c.lrt.items()},
        "aic": dict(c.aic), "holdout": {k: dict(v) for k, v in c.holdout.items()},
        "clv_total_with_covariates": (float(c.values["clv"].sum()) if c.values is not None
                                      else None),
        "valued_by_covariates": bool(c.valued_by_covariates), "errors": dict(c.errors)}}
