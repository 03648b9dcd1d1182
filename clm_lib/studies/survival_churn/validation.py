"""Validation of the survival models on the holdout: AIC, concordance, the integrated
Brier score with inverse probability of censoring weights (Graf et al. 1999; the one
estimator lifelines lacks) and calibration by risk bin.

References
----------
Harrell et al. (1982) for the concordance index; Graf, Schmoor, Sauerbrei & Schumacher
(1999), Statistics in Medicine 18, 2529-2545.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.utils import concordance_index

from clm_lib.checks import require_columns as _require
from clm_lib.exceptions import ParameterError
from clm_lib.studies.survival_churn.models import predict_survival

__all__ = ["BRIER_CONVENTIONS", "compare_models", "censoring_survival", "brier_score",
           "integrated_brier_score", "uno_concordance", "calibration_table",
           "POOR_CALIBRATION_GAP", "calibration_summary"]


def _risk_score(model, design: pd.DataFrame) -> np.ndarray:
    """A score that grows with expected lifetime (for the concordance index)."""
    if isinstance(model, CoxPHFitter):
        return -np.asarray(model.predict_log_partial_hazard(design), dtype=float)
    return np.asarray(model.predict_median(design), dtype=float)


def compare_models(models: Mapping[str, object], train: pd.DataFrame,
                   test: pd.DataFrame | None = None, *,
                   ibs_times: Sequence[float] | None = None,
                   calibration_horizons: Sequence[float] | None = None) -> pd.DataFrame:
    """AIC, concordance (train and holdout) and integrated Brier score per model.

    Cox's AIC is the partial-likelihood AIC (``AIC_partial_``), not comparable with the
    full-likelihood AIC of the AFT models; rank the AFT models by AIC and all models by
    concordance and Brier score.

    Columns: ``AIC``, ``AIC_kind`` ("partial" or "full"), ``concordance_train`` and
    ``concordance_holdout`` (Harrell's, lifelines), ``concordance_uno_holdout`` (Uno's,
    :func:`uno_concordance`, censoring weights from ``train``, truncated at the end of the
    Brier-score grid), ``integrated_brier_score`` (Graf et al. weights ``G(T_i-)``) and
    ``integrated_brier_score_sksurv`` (scikit-survival's ``G(T_i)``), both with the
    censoring distribution of ``train``; with ``calibration_horizons``,
    ``calibration_error`` and ``calibration_worst_gap`` (:func:`calibration_summary` of
    :func:`calibration_table` on ``test`` at those horizons).

    Parameters
    ----------
    models : mapping name -> fitted lifelines regression fitter (fitted on ``train``)
    train, test : design frames
    ibs_times : sequence of float, optional
        Grid for the integrated Brier score on ``test``; default: 20 points from the 5th to
        the 80th percentile of holdout durations.
    """
    rows = {}
    if test is not None and ibs_times is None:
        q = np.quantile(test["duration"], [0.05, 0.8])
        ibs_times = np.linspace(max(q[0], 1e-9), q[1], 20)
    for name, m in models.items():
        if isinstance(m, CoxPHFitter):
            aic, kind = m.AIC_partial_, "partial"
        else:
            aic, kind = m.AIC_, "full"
        r = {"AIC": float(aic), "AIC_kind": kind,
             "concordance_train": float(m.concordance_index_)}
        if test is not None:
            score = _risk_score(m, test)
            r["concordance_holdout"] = float(concordance_index(
                test["duration"], score, test["event"]))
            r["concordance_uno_holdout"] = uno_concordance(
                test["duration"], -score, test["event"], censoring_durations=train["duration"],
                censoring_events=train["event"], tau=float(ibs_times[-1]))
            sf = predict_survival(m, test, ibs_times)
            for key, convention in (("integrated_brier_score", "graf"),
                                    ("integrated_brier_score_sksurv", "sksurv")):
                r[key] = integrated_brier_score(
                    sf, test["duration"], test["event"], convention=convention,
                    censoring_durations=train["duration"], censoring_events=train["event"])
            if calibration_horizons:
                c = calibration_summary(calibration_table(m, test, calibration_horizons))
                r["calibration_error"] = c["error"]
                r["calibration_worst_gap"] = c["worst_gap"]
        rows[name] = r
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "model"
    return out


#: Conventions of the censoring weights of the Brier score (see :func:`brier_score`).
BRIER_CONVENTIONS = ("graf", "sksurv")


def censoring_survival(durations, events, *, ties: str = "graf"):
    """Kaplan-Meier estimate ``G`` of the censoring survival function (censoring = the
    'event'), as a function ``G(t, left=False)`` (``left``: the left limit ``G(t-)``).

    ``ties`` says who is at risk of censoring at a time where churn events and censorings
    coincide: ``"graf"`` everyone still observed (lifelines' Kaplan-Meier on the reversed
    flag); ``"sksurv"`` everyone but those who churned then (events come first: what
    scikit-survival's ``kaplan_meier_estimator(..., reverse=True)`` does).
    """
    T = np.asarray(durations, float)
    C = ~np.asarray(events, bool)
    if ties not in BRIER_CONVENTIONS:
        raise ParameterError(f"ties must be one of {BRIER_CONVENTIONS}; got {ties!r}")
    times, inv = np.unique(T, return_inverse=True)
    n_cens = np.bincount(inv, weights=C, minlength=len(times))
    n_ev = np.bincount(inv, weights=~C, minlength=len(times))
    at_risk = len(T) - np.concatenate([[0.0], np.cumsum(n_cens + n_ev)[:-1]])
    if ties == "sksurv":
        at_risk = at_risk - n_ev
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(n_cens > 0, n_cens / at_risk, 0.0)
    vals = np.cumprod(1.0 - ratio)

    def G(t, left=False):
        t = np.asarray(t, float)
        side = "left" if left else "right"
        idx = np.searchsorted(times, t, side=side) - 1
        return np.where(idx >= 0, vals[np.clip(idx, 0, None)], 1.0)

    return G


def brier_score(survival: pd.DataFrame, durations, events, *,
                censoring_durations=None, censoring_events=None,
                convention: str = "graf") -> pd.Series:
    """Brier score at each time with inverse probability of censoring weights.

    Graf et al. (1999), eq. (5): for time ``t`` and subjects ``i = 1..n``::

        BS(t) = 1/n * sum_i [ S_i(t)**2 * 1{T_i <= t, event_i} / G(T_i-)
                              + (1 - S_i(t))**2 * 1{T_i > t} / G(t) ]

    where ``S_i`` is the predicted survival and ``G`` the Kaplan-Meier estimate of the
    censoring survival function (``G(T_i-)`` its left limit). Subjects censored before
    ``t`` contribute 0 but count in ``n``.

    ``convention="sksurv"`` gives scikit-survival's ``brier_score``: the weight of a churn
    at ``T_i`` is ``1 / G(T_i)`` (the value at ``T_i``, after the censorings at ``T_i``),
    and ``G`` counts churns at a tied time before censorings (see
    :func:`censoring_survival`). With durations in whole periods (many ties) the two
    differ by a few per cent; both are consistent.

    Parameters
    ----------
    survival : DataFrame
        Predicted survival, index = times (periods), one column per subject (in the order
        of ``durations``).
    durations, events : array-like
        Observed durations (periods) and churn flags of the same subjects.
    censoring_durations, censoring_events : array-like, optional
        Sample for ``G`` (e.g. the training set); default: the evaluated subjects.
    convention : {"graf", "sksurv"}

    Returns
    -------
    Series indexed by time.
    """
    if convention not in BRIER_CONVENTIONS:
        raise ParameterError(f"convention must be one of {BRIER_CONVENTIONS}; "
                             f"got {convention!r}")
    T = np.asarray(durations, float)
    E = np.asarray(events, bool)
    S = survival.to_numpy(float)
    if S.shape[1] != len(T):
        raise ParameterError(f"survival has {S.shape[1]} columns for {len(T)} subjects")
    G = censoring_survival(T if censoring_durations is None else censoring_durations,
                           E if censoring_events is None else censoring_events,
                           ties=convention)
    g_ti = G(T, left=convention == "graf")
    out = []
    for k, t in enumerate(survival.index.to_numpy(float)):
        s = S[k]
        died = (T <= t) & E
        alive = T > t
        g_t = float(G(t))
        with np.errstate(divide="ignore", invalid="ignore"):
            # G(T_i-) = 0 only when every subject was censored before T_i: no weight exists
            a = np.where(died & (g_ti > 0), s ** 2 / g_ti, 0.0)
            b = np.where(alive, (1 - s) ** 2 / g_t, 0.0) if g_t > 0 else np.zeros_like(s)
        out.append(float(np.sum(a + b) / len(T)))
    return pd.Series(out, index=survival.index, name="brier_score")


def integrated_brier_score(survival: pd.DataFrame, durations, events, **kwargs) -> float:
    """Integrated Brier score: trapezoid integral of :func:`brier_score` over the times of
    ``survival``, divided by the length of that interval (Graf et al. 1999, eq. 6 with
    uniform weight). 0 is perfect; 0.25 is what predicting 50 % for everyone scores.
    """
    bs = brier_score(survival, durations, events, **kwargs)
    t = bs.index.to_numpy(float)
    if len(t) < 2 or t[-1] <= t[0]:
        raise ParameterError("the integrated Brier score needs two or more distinct times")
    v = bs.to_numpy()
    return float(np.sum((v[1:] + v[:-1]) / 2 * np.diff(t)) / (t[-1] - t[0]))


def uno_concordance(durations, risk, events, *, censoring_durations=None,
                    censoring_events=None, tau: float | None = None,
                    tied_tol: float = 1e-8) -> float:
    """Uno's concordance index (Uno, Cai, Pencina, D'Agostino & Wei 2011, eq. 6): the
    share of comparable pairs ordered correctly, each pair weighted by ``1 / G(T_i)**2``.

    A pair (i, j) is comparable when i churned at ``T_i < tau`` and j was still observed
    after it: ``T_j > T_i``, or ``T_j = T_i`` with j censored (at a tied time a censoring
    is taken to come after the churn); it is concordant when ``risk_i > risk_j`` (risks
    within ``tied_tol`` of each other count one half). ``G`` is the
    Kaplan-Meier estimate of the censoring survival function of the censoring sample
    (default: the evaluated subjects) with scikit-survival's conventions (value at
    ``T_i``; churns at a tied time before censorings), so the figure matches
    ``sksurv.metrics.concordance_index_ipcw`` (the censored-at-a-tied-time pairs are its
    rule too; with durations in whole months they move the index by about 0.003).
    Unlike Harrell's index it does not depend on the censoring distribution of the sample
    it is computed on.

    Parameters
    ----------
    durations, events : array-like
        Durations (periods) and churn flags of the evaluated subjects.
    risk : array-like
        Higher = expected to churn sooner.
    censoring_durations, censoring_events : array-like, optional
    tau : float, optional
        Truncation time (periods); default: no truncation beyond ``G(T_i) > 0``.
    tied_tol : float
        Risks this close count as tied (scikit-survival's default).

    Returns
    -------
    float in [0, 1]; 0.5 = random order.
    """
    T = np.asarray(durations, float)
    E = np.asarray(events, bool)
    r = np.asarray(risk, float)
    if not len(T) == len(E) == len(r):
        raise ParameterError("durations, risk and events must have the same length")
    G = censoring_survival(T if censoring_durations is None else censoring_durations,
                           E if censoring_events is None else censoring_events,
                           ties="sksurv")
    g = G(T)
    keep = E & (g > 0) & (T < (np.inf if tau is None else float(tau)))
    idx = np.flatnonzero(keep)
    w = 1.0 / g[idx] ** 2
    num = den = 0.0
    for start in range(0, len(idx), 512):  # bounded memory: (chunk x n) comparisons
        part = idx[start:start + 512]
        later = (T[None, :] > T[part, None]) | ((T[None, :] == T[part, None]) & ~E[None, :])
        tied = np.abs(r[None, :] - r[part, None]) <= tied_tol
        conc = ((r[None, :] < r[part, None]) & ~tied) + 0.5 * tied
        wp = w[start:start + 512]
        num += float(np.sum(wp * np.sum(later * conc, axis=1)))
        den += float(np.sum(wp * np.sum(later, axis=1)))
    if den == 0:
        raise ParameterError("no comparable pair for Uno's concordance index")
    return num / den


def calibration_table(model, test: pd.DataFrame, horizons: Sequence[float], *,
                      n_bins: int = 5) -> pd.DataFrame:
    """Predicted vs observed churn within each horizon, by bins of predicted risk.

    Holdout customers are cut into ``n_bins`` equal-size bins of predicted
    P(churn within h); the observed churn is 1 - Kaplan-Meier(h) within the bin, which
    accounts for censoring.

    Returns
    -------
    DataFrame: ``horizon``, ``bin`` (1 = lowest risk), ``customers``, ``predicted``,
    ``observed``, ``observed_ci_low``, ``observed_ci_high`` (95 % interval of the observed
    churn, from lifelines' exponential Greenwood band).
    """
    _require(test, ["duration", "event"], "design frame")
    sf = predict_survival(model, test, horizons)
    rows = []
    for h in horizons:
        p = 1 - sf.loc[float(h)].to_numpy()
        bins = pd.qcut(pd.Series(p).rank(method="first"), n_bins, labels=False) + 1
        for b in range(1, n_bins + 1):
            sel = (bins == b).to_numpy()
            if not sel.any():
                continue
            kmf = KaplanMeierFitter().fit(test["duration"].to_numpy()[sel],
                                          test["event"].to_numpy()[sel])
            obs = 1 - float(kmf.survival_function_at_times(float(h)).iloc[0])
            ci = kmf.confidence_interval_survival_function_
            ci = ci[ci.index <= float(h)]
            lo, hi = (1 - float(ci.iloc[-1, 1]), 1 - float(ci.iloc[-1, 0])) if len(ci) \
                else (0.0, 0.0)
            rows.append({"horizon": float(h), "bin": b, "customers": int(sel.sum()),
                         "predicted": float(p[sel].mean()), "observed": obs,
                         "observed_ci_low": lo, "observed_ci_high": hi})
    return pd.DataFrame(rows)


#: Largest gap (probability) between predicted and observed churn in a calibration bin
#: beyond which the calibration is called poor (5 percentage points).
POOR_CALIBRATION_GAP = 0.05


def calibration_summary(cal: pd.DataFrame, *, poor_gap: float = POOR_CALIBRATION_GAP) -> dict:
    """One model's calibration in numbers, from :func:`calibration_table`.

    Returns
    -------
    dict: ``error`` (customer-weighted mean of |predicted - observed| over bins and
    horizons), ``worst_gap`` (observed - predicted of the worst bin: > 0 = churn
    under-predicted), ``worst_horizon``, ``worst_bin``, ``worst_predicted``,
    ``worst_observed``, ``poor``. The worst bin is the one with the largest absolute gap
    among those whose prediction falls outside the 95 % interval of the observed churn
    (``observed_ci_low``/``observed_ci_high``, when the table has them), else among all;
    ``poor`` = such a bin is more than ``poor_gap`` off: a gap that is both large and more
    than sampling noise.
    """
    _require(cal, ["horizon", "bin", "customers", "predicted", "observed"], "calibration table")
    gap = cal["observed"] - cal["predicted"]
    w = cal["customers"].to_numpy(float)
    outside = np.ones(len(cal), dtype=bool)
    if {"observed_ci_low", "observed_ci_high"} <= set(cal.columns):
        outside = ((cal["predicted"] < cal["observed_ci_low"])
                   | (cal["predicted"] > cal["observed_ci_high"])).to_numpy()
    pool = np.flatnonzero(outside) if outside.any() else np.arange(len(cal))
    k = int(pool[np.argmax(gap.abs().to_numpy()[pool])])
    row = cal.iloc[k]
    return {"error": float(np.sum(w * gap.abs().to_numpy()) / w.sum()),
            "worst_gap": float(gap.iloc[k]), "worst_horizon": float(row["horizon"]),
            "worst_bin": int(row["bin"]), "worst_predicted": float(row["predicted"]),
            "worst_observed": float(row["observed"]),
            "poor": bool(outside[k] and abs(gap.iloc[k]) > poor_gap)}
