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

__all__ = ["compare_models", "brier_score", "integrated_brier_score", "calibration_table"]


def _risk_score(model, design: pd.DataFrame) -> np.ndarray:
    """A score that grows with expected lifetime (for the concordance index)."""
    if isinstance(model, CoxPHFitter):
        return -np.asarray(model.predict_log_partial_hazard(design), dtype=float)
    return np.asarray(model.predict_median(design), dtype=float)


def compare_models(models: Mapping[str, object], train: pd.DataFrame,
                   test: pd.DataFrame | None = None, *,
                   ibs_times: Sequence[float] | None = None) -> pd.DataFrame:
    """AIC, concordance (train and holdout) and integrated Brier score per model.

    Cox's AIC is the partial-likelihood AIC (``AIC_partial_``), not comparable with the
    full-likelihood AIC of the AFT models; rank the AFT models by AIC and all models by
    concordance and Brier score.

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
            r["concordance_holdout"] = float(concordance_index(
                test["duration"], _risk_score(m, test), test["event"]))
            sf = predict_survival(m, test, ibs_times)
            r["integrated_brier_score"] = integrated_brier_score(
                sf, test["duration"], test["event"],
                censoring_durations=train["duration"], censoring_events=train["event"])
        rows[name] = r
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "model"
    return out


def _censoring_survival(durations, events):
    """KM estimate G of the censoring distribution (censoring = the 'event')."""
    kmf = KaplanMeierFitter().fit(np.asarray(durations, float),
                                  ~np.asarray(events, bool))
    sf = kmf.survival_function_.iloc[:, 0]
    times = sf.index.to_numpy(float)
    vals = sf.to_numpy(float)

    def G(t, left=False):
        t = np.asarray(t, float)
        side = "left" if left else "right"
        idx = np.searchsorted(times, t, side=side) - 1
        return np.where(idx >= 0, vals[np.clip(idx, 0, None)], 1.0)

    return G


def brier_score(survival: pd.DataFrame, durations, events, *,
                censoring_durations=None, censoring_events=None) -> pd.Series:
    """Brier score at each time with inverse probability of censoring weights.

    Graf et al. (1999), eq. (5): for time ``t`` and subjects ``i = 1..n``::

        BS(t) = 1/n * sum_i [ S_i(t)**2 * 1{T_i <= t, event_i} / G(T_i-)
                              + (1 - S_i(t))**2 * 1{T_i > t} / G(t) ]

    where ``S_i`` is the predicted survival and ``G`` the Kaplan-Meier estimate of the
    censoring survival function (``G(T_i-)`` its left limit). Subjects censored before
    ``t`` contribute 0 but count in ``n``.

    Parameters
    ----------
    survival : DataFrame
        Predicted survival, index = times (periods), one column per subject (in the order
        of ``durations``).
    durations, events : array-like
        Observed durations (periods) and churn flags of the same subjects.
    censoring_durations, censoring_events : array-like, optional
        Sample for ``G`` (e.g. the training set); default: the evaluated subjects.

    Returns
    -------
    Series indexed by time.
    """
    T = np.asarray(durations, float)
    E = np.asarray(events, bool)
    S = survival.to_numpy(float)
    if S.shape[1] != len(T):
        raise ParameterError(f"survival has {S.shape[1]} columns for {len(T)} subjects")
    G = _censoring_survival(T if censoring_durations is None else censoring_durations,
                            E if censoring_events is None else censoring_events)
    g_ti = G(T, left=True)
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


def calibration_table(model, test: pd.DataFrame, horizons: Sequence[float], *,
                      n_bins: int = 5) -> pd.DataFrame:
    """Predicted vs observed churn within each horizon, by bins of predicted risk.

    Holdout customers are cut into ``n_bins`` equal-size bins of predicted
    P(churn within h); the observed churn is 1 - Kaplan-Meier(h) within the bin, which
    accounts for censoring.

    Returns
    -------
    DataFrame: ``horizon``, ``bin`` (1 = lowest risk), ``customers``, ``predicted``,
    ``observed``.
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
            rows.append({"horizon": float(h), "bin": b, "customers": int(sel.sum()),
                         "predicted": float(p[sel].mean()), "observed": obs})
    return pd.DataFrame(rows)
