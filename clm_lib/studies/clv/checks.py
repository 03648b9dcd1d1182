"""Model checks of the CLV study and the purchase distribution it exports.

- :func:`chi_square_fit`: actual vs expected customers with 0, 1, ..., 7+ repeat purchases in
  calibration (the table of :func:`clm_lib.studies.clv.compute.frequency_distribution`),
  cells pooled until every expected count is at least 5, Pearson's chi-square with
  ``cells - 1 - parameters`` degrees of freedom.
- :func:`holdout_bands`: mean holdout purchases by calibration frequency, actual, expected
  and the central predictive band of the group mean (parameter draws, each with one
  simulated future of every customer: :mod:`clm_lib.clv.predictive`).
- :func:`log_scores`: the holdout log predictive score, ``sum_i ln P(Y_i = y_i | history_i)``
  (Gneiting & Raftery 2007), per model; the model with the highest score is preferred.
- :func:`purchase_distribution_columns` and :func:`new_customer`: P(no purchase) and
  P(0, 1, 2, 3+ purchases) over the horizon per customer, and what a customer just acquired
  is expected to buy and be worth (:mod:`clm_lib.clv.distribution`).

Numbers only; the words are in :mod:`clm_lib.studies.clv.report_checks`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from clm_lib.checks import require_columns as _check
from clm_lib.clv.distribution import conditional_pmf, conditional_pmf_at, new_customer_expected
from clm_lib.clv.predictive import simulate_purchases
from clm_lib.exceptions import ConvergenceError

__all__ = ["MIN_EXPECTED", "pool_cells", "chi_square_fit", "holdout_bands", "log_scores",
           "model_checks", "purchase_distribution_columns", "p_no_purchase_column", "new_customer"]

#: Smallest expected count of a cell of the chi-square test (the usual rule).
MIN_EXPECTED = 5.0

_HOLDOUT = ["frequency", "recency", "T", "frequency_holdout", "duration_holdout"]


def pool_cells(labels, observed, expected, min_expected: float = MIN_EXPECTED):
    """Pool adjacent cells, left to right, until each expected count is at least
    ``min_expected``; a short last group joins the one before. Returns the pooled labels
    ("3-4", "7+" ...), observed and expected counts."""
    labels = [str(v) for v in labels]
    obs, exp = np.asarray(observed, float), np.asarray(expected, float)
    groups, cur = [], []
    for i in range(len(obs)):
        cur.append(i)
        if exp[cur].sum() >= min_expected:
            groups.append(cur)
            cur = []
    if cur:
        if groups:
            groups[-1] = groups[-1] + cur
        else:
            groups = [cur]

    def name(g):
        first, last = labels[g[0]], labels[g[-1]]
        if len(g) == 1:
            return first
        return f"{first.rstrip('+')}+" if last.endswith("+") else f"{first}-{last}"

    return ([name(g) for g in groups], np.array([obs[g].sum() for g in groups]),
            np.array([exp[g].sum() for g in groups]))


def chi_square_fit(frequency_fit: pd.DataFrame, model: str, n_params: int,
                   min_expected: float = MIN_EXPECTED) -> dict:
    """Pearson chi-square goodness of fit of one model's calibration histogram.

    ``frequency_fit`` is :func:`~clm_lib.studies.clv.compute.frequency_distribution`'s table
    (``customers`` and the model's share column ``model``); expected counts are share x
    customers. Returns the pooled ``cells`` (labels), ``observed``, ``expected``,
    ``statistic``, ``df`` (cells - 1 - ``n_params``) and ``p_value`` (None when df < 1)."""
    _check(frequency_fit, ["customers", model], "frequency-distribution table")
    obs = frequency_fit["customers"].to_numpy(float)
    exp = frequency_fit[model].to_numpy(float) * obs.sum()
    labels, o, e = pool_cells(frequency_fit.index, obs, exp, min_expected)
    stat = float(np.sum((o - e) ** 2 / e))
    df = len(o) - 1 - int(n_params)
    return {"cells": labels, "observed": o.tolist(), "expected": e.tolist(), "statistic": stat,
            "df": int(df), "p_value": float(stats.chi2.sf(stat, df)) if df >= 1 else None}


def holdout_bands(model, data: pd.DataFrame, *, n_draws: int, seed: int | None, level: float,
                  max_frequency: int = 7) -> pd.DataFrame:
    """Mean holdout purchases per customer by calibration frequency (0, 1, ...,
    ``max_frequency``+): ``customers``, ``actual``, ``expected`` (the conditional
    expectation) and ``lower``/``upper``, the central ``level`` band of the group mean over
    ``n_draws`` parameter draws each with one simulated holdout of every customer (outcome
    and parameter noise). When the fit is too uncertain to draw parameters from
    (:class:`ConvergenceError`), the draws use the estimates (outcome noise only) and the
    frame's ``attrs["parameter_draws"]`` is False."""
    _check(data, _HOLDOUT, "holdout data")
    dur = np.asarray(data["duration_holdout"], float)
    f = np.minimum(np.asarray(data["frequency"], int), max_frequency)
    act = np.asarray(data["frequency_holdout"], float)
    exp = np.asarray(model.conditional_expected_purchases(dur, data), float)
    n_draws = max(int(n_draws), 1)
    try:
        params, drawn = model.sample_params(n_draws, seed=seed), True
    except ConvergenceError:
        params, drawn = np.tile(model.params_.to_numpy(float), (n_draws, 1)), False
    rng = np.random.default_rng(seed)
    groups = np.unique(f)
    sizes = np.bincount(f, minlength=max_frequency + 1)[groups]
    means = np.empty((n_draws, len(groups)))
    for j, p in enumerate(params):
        state = model.sample_future_state(data, rng, params=p)
        count, _ = simulate_purchases(state, dur, rng)
        means[j] = np.bincount(f, weights=count, minlength=max_frequency + 1)[groups] / sizes
    q = np.quantile(means, [(1 - level) / 2, (1 + level) / 2], axis=0)
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    out = pd.DataFrame({
        "customers": sizes,
        "actual": np.bincount(f, weights=act, minlength=max_frequency + 1)[groups] / sizes,
        "expected": np.bincount(f, weights=exp, minlength=max_frequency + 1)[groups] / sizes,
        "lower": q[0], "upper": q[1]}, index=pd.Index([labels[g] for g in groups], name="frequency"))
    out["inside"] = (out["actual"] >= out["lower"]) & (out["actual"] <= out["upper"])
    out.attrs["parameter_draws"] = drawn
    out.attrs["level"] = float(level)
    return out


def log_scores(models: dict, data: pd.DataFrame) -> dict:
    """Holdout log predictive score of each model: ``total`` = sum over customers of
    ``ln P(Y_i = y_i | calibration history)`` (natural log; y_i her holdout purchases in
    her holdout window), ``per_customer`` its mean, ``customers``. Higher is better."""
    _check(data, _HOLDOUT, "holdout data")
    out = {}
    for name, m in models.items():
        p = conditional_pmf_at(m, data, np.asarray(data["frequency_holdout"], int),
                               np.asarray(data["duration_holdout"], float))
        with np.errstate(divide="ignore"):
            lp = np.log(p)
        out[name] = {"total": float(lp.sum()), "per_customer": float(lp.mean()) if len(lp) else None,
                     "customers": int(len(lp)), "zero_probability": int(np.sum(p <= 0))}
    return out


def model_checks(models: dict, data: pd.DataFrame, frequency_fit: pd.DataFrame | None, holdout: dict,
                 *, n_draws: int, seed: int | None, level: float) -> dict:
    """All checks of the fitted purchase models (``models``: name -> model, in report
    order) on the calibration/holdout summary ``data``: per model ``chi_square``,
    ``holdout_bands`` (a DataFrame; None with ``n_draws`` 0: no draws, no band) and
    ``log_score``; ``preferred_by_score`` (highest
    score), ``preferred_by_mae`` (lowest holdout MAE of ``holdout``, the errors the report
    shows) and whether they ``agree``."""
    if not models:
        return {"models": {}, "preferred_by_score": None, "preferred_by_mae": None, "agree": None}
    scores = log_scores(models, data)
    per = {}
    for name, m in models.items():
        per[name] = {
            "chi_square": (None if frequency_fit is None or name not in frequency_fit
                           else chi_square_fit(frequency_fit, name, len(m.param_names))),
            "holdout_bands": (holdout_bands(m, data, n_draws=n_draws, seed=seed, level=level)
                              if n_draws else None),
            "log_score": scores[name],
        }
    by_score = max(scores, key=lambda k: scores[k]["total"])
    with_mae = [k for k in models if k in holdout]
    by_mae = min(with_mae, key=lambda k: holdout[k]["mae"]) if with_mae else None
    return {"models": per, "preferred_by_score": by_score, "preferred_by_mae": by_mae,
            "agree": None if by_mae is None else by_score == by_mae, "level": float(level)}


def purchase_distribution_columns(model, data: pd.DataFrame, horizon: float) -> pd.DataFrame:
    """Per customer (index of ``data``): ``p_no_purchase_<horizon>`` (no purchase in the
    next ``horizon`` time units) and ``p_purchases_0``, ``_1``, ``_2``, ``_3plus`` (they sum
    to one) in the same window."""
    p = conditional_pmf(model, data, [0, 1, 2], float(horizon))
    return pd.DataFrame({p_no_purchase_column(horizon): p[:, 0], "p_purchases_0": p[:, 0],
                         "p_purchases_1": p[:, 1], "p_purchases_2": p[:, 2],
                         "p_purchases_3plus": np.clip(1.0 - p.sum(axis=1), 0.0, 1.0)},
                        index=data.index)


def p_no_purchase_column(horizon) -> str:
    """The export's name of P(no purchase in the next ``horizon`` time units)."""
    return f"p_no_purchase_{int(horizon)}"


def new_customer(model, spend_model, *, horizon: int, discount_rate: float, margin: float) -> dict:
    """A customer just acquired, over the next ``horizon`` time units: expected repeat
    purchases (``purchases``; ``discounted_purchases``), the Gamma-Gamma population mean
    spend per purchase (``mean_spend``) and ``value`` = discounted purchases x mean spend x
    ``margin`` (the margin 1 when value is revenue)."""
    e = new_customer_expected(model, horizon, discount_rate)
    spend = float(spend_model.population_mean_spend())
    return {**e, "mean_spend": spend, "value": e["discounted_purchases"] * spend * margin,
            "horizon": int(horizon)}
