"""Discrimination and calibration of the survival models at each risk horizon, on the
holdout: the cumulative/dynamic time-dependent AUC and its integrated mean, and the
calibration slope.

Both use inverse-probability-of-censoring weights (IPCW) with the Kaplan-Meier censoring
survival ``G`` of the training customers, with scikit-survival's conventions (a churn at
``T`` weighted by ``1 / G(T)``; at a tied time churns come before censorings: see
:func:`.validation.censoring_survival`), so that the AUC equals
``sksurv.metrics.cumulative_dynamic_auc`` on the same inputs (checked in
``tests/studies/survival_churn/test_metrics.py``).

References
----------
Uno, Cai, Tian & Wei (2007), JASA 102, 527-537; Hung & Chiang (2010), Canadian Journal of
Statistics 38, 8-26 (cumulative/dynamic AUC with IPCW); Lambert & Chevret (2016), SMMR
(its mean over time); Cox (1958), Biometrika 45, 562-565 (the calibration slope); Gerds &
Schumacher (2006), Biometrical Journal 48, 1029-1040 (IPCW for binary outcomes at a time).
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import logit

from clm_lib.exceptions import ParameterError
from clm_lib.studies.survival_churn.models import predict_survival
from clm_lib.studies.survival_churn.validation import censoring_survival

__all__ = ["cumulative_dynamic_auc", "mean_auc", "calibration_slope", "horizon_metrics",
           "TIED_TOL", "PROBABILITY_CLIP"]

#: Risks this close count as tied (scikit-survival's ``tied_tol``).
TIED_TOL = 1e-8

#: Predicted probabilities are clipped to [c, 1 - c] before the logit (a prediction of
#: exactly 0 or 1 has an infinite logit).
PROBABILITY_CLIP = 1e-9


def _arrays(durations, events, n_expected: int | None = None):
    T = np.asarray(durations, float)
    E = np.asarray(events, bool)
    if T.shape != E.shape or T.ndim != 1:
        raise ParameterError("durations and events must be 1-d and of the same length; "
                             f"got {T.shape} and {E.shape}")
    if n_expected is not None and len(T) != n_expected:
        raise ParameterError(f"the risk has {n_expected} rows for {len(T)} customers")
    return T, E


def _case_weights(T, E, censoring_durations, censoring_events) -> np.ndarray:
    """``1 / G(T_i)`` for churns, 0 for censored customers (scikit-survival's
    ``predict_ipcw``); NaN where ``G(T_i) = 0``."""
    G = censoring_survival(T if censoring_durations is None else censoring_durations,
                           E if censoring_events is None else censoring_events,
                           ties="sksurv")
    g = G(T)
    with np.errstate(divide="ignore"):
        return np.where(E, np.where(g > 0, 1.0 / g, np.nan), 0.0)


def cumulative_dynamic_auc(durations, risk, events, times, *, censoring_durations=None,
                           censoring_events=None, tied_tol: float = TIED_TOL) -> np.ndarray:
    """Cumulative/dynamic AUC at each time: the chance that a customer who churned by
    ``t`` (a *case*) has a higher risk than one still active after ``t`` (a *control*).

    For time ``t``::

        AUC(t) = sum_i sum_j w_i 1{T_i <= t, churned_i} 1{T_j > t} c(r_i, r_j)
                 / (sum_i w_i 1{T_i <= t, churned_i} * #{j: T_j > t})

    with ``w_i = 1 / G(T_i)`` (the case's inverse probability of being observed: cases
    censored before ``t`` are missing and the observed ones stand in for them) and
    ``c = 1`` if ``r_i > r_j``, 1/2 if they are within ``tied_tol``, else 0; controls are
    not weighted (every customer still active after ``t`` is observed as such). This is
    scikit-survival's ``cumulative_dynamic_auc``.

    Parameters
    ----------
    durations, events : array-like, shape (n,)
        Observed durations (periods) and churn flags of the evaluated customers.
    risk : array-like, shape (n,) or (n, len(times))
        Higher = churns sooner; one column per time for a time-dependent risk (e.g. the
        predicted P(churn by t)).
    times : sequence of float
        Periods.
    censoring_durations, censoring_events : array-like, optional
        Sample for ``G`` (the training customers); default: the evaluated ones.

    Returns
    -------
    ndarray, one AUC per time; NaN at a time without a case or without a control, or where
    a case's ``G(T_i)`` is 0.
    """
    r = np.asarray(risk, float)
    T, E = _arrays(durations, events, r.shape[0])
    times = np.asarray(times, float)
    if r.ndim == 1:
        r = np.broadcast_to(r[:, None], (len(T), len(times)))
    if r.shape[1] != len(times):
        raise ParameterError(f"risk has {r.shape[1]} columns for {len(times)} times")
    w = _case_weights(T, E, censoring_durations, censoring_events)
    out = np.full(len(times), np.nan)
    for k, t in enumerate(times):
        case = E & (T <= t)
        control = T > t
        if not case.any() or not control.any() or np.isnan(w[case]).any():
            continue
        rc = np.sort(r[control, k])
        ri = r[case, k]
        below = np.searchsorted(rc, ri - tied_tol, side="left")  # controls surely lower
        within = np.searchsorted(rc, ri + tied_tol, side="right") - below
        score = (below + 0.5 * within) / len(rc)
        out[k] = float(np.sum(w[case] * score) / np.sum(w[case]))
    return out


def mean_auc(auc: Sequence[float], durations, events, times) -> float:
    """The mean of the AUCs over ``times``, each weighted by the share of customers who
    churned since the time before (Kaplan-Meier of the evaluated customers, from 0 to the
    first time, then between consecutive times), divided by the share churned by the last
    time (scikit-survival's ``mean_auc``; Lambert & Chevret 2016). NaN if an AUC is NaN."""
    from lifelines import KaplanMeierFitter

    a = np.asarray(auc, float)
    if len(a) == 1:
        return float(a[0])
    T, E = _arrays(durations, events)
    s = KaplanMeierFitter().fit(T, E).survival_function_at_times(
        np.asarray(times, float)).to_numpy()
    d = -np.diff(np.r_[1.0, s])
    if 1.0 - s[-1] <= 0:
        return float("nan")
    return float(np.sum(a * d) / (1.0 - s[-1]))


def calibration_slope(predicted, durations, events, horizon: float, *,
                      censoring_durations=None, censoring_events=None) -> dict:
    """Calibration slope at ``horizon``: the slope ``b`` of the logistic regression of the
    observed churn by ``horizon`` on the logit of the predicted P(churn by ``horizon``),
    ``logit P(churned by h) = a + b * logit(p_i)``, with inverse probability of censoring
    weights (IPCW).

    Customers who churned by ``h`` (y = 1) have weight ``1 / G(T_i)``, customers still
    active after ``h`` (y = 0) ``1 / G(h)``, and those censored before ``h`` (status
    unknown) 0: the weighted sample stands for the holdout as if nobody had been censored
    (Gerds & Schumacher 2006). ``b = 1``: the predictions spread as much as the outcomes;
    ``b < 1``: they are too extreme (high risks too high, low ones too low), ``b > 1``: too
    timid. The interval is the 95 % Wald interval from the sandwich (robust) variance of
    the weighted fit, the censoring weights taken as known.

    Parameters
    ----------
    predicted : array-like
        P(churn by ``horizon``) per customer.
    durations, events : array-like
        Observed durations (periods) and churn flags of the same customers.
    horizon : float
        Periods.
    censoring_durations, censoring_events : array-like, optional
        Sample for ``G`` (the training customers); default: the evaluated ones.

    Returns
    -------
    dict: ``slope``, ``slope_ci_low``, ``slope_ci_high``, ``intercept``, ``customers``
    (with a known status at ``horizon``), ``churned`` (by it); the numbers are NaN when
    everyone or no one with a known status churned, when every prediction is the same (a
    model without covariates), or the fit fails.
    """
    p = np.asarray(predicted, float)
    T, E = _arrays(durations, events, len(p))
    if not np.all(np.isfinite(p)) or (p < 0).any() or (p > 1).any():
        raise ParameterError("predicted must hold probabilities in [0, 1]")
    G = censoring_survival(T if censoring_durations is None else censoring_durations,
                           E if censoring_events is None else censoring_events,
                           ties="sksurv")
    h = float(horizon)
    case = E & (T <= h)
    control = T > h
    g_t, g_h = G(T), float(G(h))
    known = (case & (g_t > 0)) | (control & (g_h > 0))
    out = {"slope": np.nan, "slope_ci_low": np.nan, "slope_ci_high": np.nan,
           "intercept": np.nan, "customers": int(known.sum()),
           "churned": int((case & known).sum())}
    y = case[known].astype(float)
    x = logit(np.clip(p[known], PROBABILITY_CLIP, 1 - PROBABILITY_CLIP))
    if len(y) == 0 or y.min() == y.max() or np.ptp(x) <= TIED_TOL:
        return out  # one outcome only, or one prediction for everyone: no slope
    with np.errstate(divide="ignore"):
        w = np.where(case, 1.0 / g_t, 1.0 / g_h)[known]
    X = np.column_stack([np.ones_like(x), x])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.GLM(y, X, family=sm.families.Binomial(), var_weights=w).fit(
                cov_type="HC0")
    except (np.linalg.LinAlgError, ValueError):  # a perfect separation, a singular design
        return out
    lo, hi = fit.conf_int(0.05)[1]
    out.update(slope=float(fit.params[1]), slope_ci_low=float(lo), slope_ci_high=float(hi),
               intercept=float(fit.params[0]))
    return out


def horizon_metrics(models: Mapping[str, object], train: pd.DataFrame, test: pd.DataFrame,
                    horizons: Sequence[float]) -> tuple[pd.DataFrame, dict[str, float]]:
    """Time-dependent AUC and calibration slope of every model at every horizon on the
    holdout, the censoring weights from the training customers.

    The risk at horizon ``h`` is the model's predicted P(churn by h) = 1 - S_i(h); for the
    Cox and AFT models (covariates on the scale) it orders the customers the same way at
    every horizon.

    Parameters
    ----------
    models : mapping name -> lifelines regression fitter fitted on ``train``
    train, test : design frames (``duration`` in periods, ``event``, covariates)
    horizons : sequence of float
        Periods.

    Returns
    -------
    table : DataFrame
        One row per (``model``, ``horizon``): ``auc``, ``cases`` (holdout customers who
        churned by h), ``controls`` (still active after h), ``slope``, ``slope_ci_low``,
        ``slope_ci_high``, ``intercept``, ``slope_customers`` (with a known status at h).
    mean : dict
        ``{model: mean AUC over the horizons}`` (:func:`mean_auc`).
    """
    T, E = test["duration"].to_numpy(float), test["event"].to_numpy(bool)
    cd, ce = train["duration"].to_numpy(float), train["event"].to_numpy(bool)
    horizons = [float(h) for h in horizons]
    rows, mean = [], {}
    for name, m in models.items():
        p = 1.0 - predict_survival(m, test, horizons).to_numpy(float).T  # (n, horizons)
        auc = cumulative_dynamic_auc(T, p, E, horizons, censoring_durations=cd,
                                     censoring_events=ce)
        mean[name] = mean_auc(auc, T, E, horizons)
        for k, h in enumerate(horizons):
            cal = calibration_slope(p[:, k], T, E, h, censoring_durations=cd,
                                    censoring_events=ce)
            rows.append({"model": name, "horizon": h, "auc": float(auc[k]),
                         "cases": int((E & (T <= h)).sum()), "controls": int((T > h).sum()),
                         "slope": cal["slope"], "slope_ci_low": cal["slope_ci_low"],
                         "slope_ci_high": cal["slope_ci_high"],
                         "intercept": cal["intercept"], "slope_customers": cal["customers"]})
    return pd.DataFrame(rows), mean
