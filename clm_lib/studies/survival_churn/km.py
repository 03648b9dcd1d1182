"""Kaplan-Meier curves, restricted mean survival time and log-rank tests.

Real lifelines fitters (``KaplanMeierFitter``) and tests (``multivariate_logrank_test``,
``pairwise_logrank_test``); the restricted mean and its Greenwood-type variance are
computed here (lifelines has no standard error for it).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import (
    StatisticalResult,
    multivariate_logrank_test,
    pairwise_logrank_test,
)
from lifelines.utils import median_survival_times

from clm_lib.checks import require_columns as _require
from clm_lib.exceptions import InsufficientDataError

__all__ = ["kaplan_meier", "rmst_km", "km_summary", "logrank_tests"]


def kaplan_meier(df: pd.DataFrame, *, segment: str | None = None, alpha: float = 0.05,
                 min_size: int = 1) -> dict[str, KaplanMeierFitter]:
    """Kaplan-Meier fitters: ``"All"`` plus one per value of ``segment``.

    Parameters
    ----------
    df : DataFrame
        ``duration`` (periods), ``event`` (bool) and ``segment``.
    segment : str, optional
    alpha : float
        1 - confidence level of the bands (exponential Greenwood, lifelines' default).
    min_size : int
        Segments with fewer customers are skipped.

    Returns
    -------
    dict[str, KaplanMeierFitter]
    """
    _require(df, ["duration", "event"] + ([segment] if segment else []), "durations frame")
    if df.empty:
        raise InsufficientDataError("no customers to fit a Kaplan-Meier curve on")
    out = {"All": KaplanMeierFitter(alpha=alpha).fit(df["duration"], df["event"], label="All")}
    if segment:
        for value, g in df.groupby(segment, sort=True, observed=True):
            if len(g) >= min_size:
                out[str(value)] = KaplanMeierFitter(alpha=alpha).fit(
                    g["duration"], g["event"], label=str(value))
    return out


def rmst_km(kmf: KaplanMeierFitter, horizon: float) -> tuple[float, float]:
    """Restricted mean survival time of a Kaplan-Meier curve up to ``horizon``, with its SE.

    RMST = integral of the KM step function from 0 to ``horizon``. Its variance is the
    Greenwood-type estimator (Klein & Moeschberger 2003, section 4.5):
    ``sum over event times t_i <= horizon of A_i**2 * d_i / (n_i * (n_i - d_i))`` with
    ``A_i`` the area under the curve between ``t_i`` and ``horizon``.

    Returns
    -------
    (rmst, standard error), both in periods.
    """
    sf = kmf.survival_function_.iloc[:, 0]
    times = sf.index.to_numpy(dtype=float)
    values = sf.to_numpy(dtype=float)
    # the step function on [0, horizon]
    knots = np.concatenate([[0.0], times[(times > 0) & (times < horizon)], [horizon]])
    idx = np.searchsorted(times, knots[:-1], side="right") - 1
    level = np.where(idx >= 0, values[np.clip(idx, 0, None)], 1.0)
    widths = np.diff(knots)
    pieces = level * widths
    rmst = float(pieces.sum())
    et = kmf.event_table
    ev = et[(et["observed"] > 0) & (et.index <= horizon) & (et.index > 0)]
    n_i = ev["at_risk"].to_numpy(float)
    d_i = ev["observed"].to_numpy(float)
    # A_i: the area under the curve from t_i to the horizon, the sum of the pieces whose
    # left knot is >= t_i (a sum from the right, 0 past the last knot)
    tail = np.concatenate([np.cumsum(pieces[::-1])[::-1], [0.0]])
    a_i = tail[np.searchsorted(knots[:-1], ev.index.to_numpy(float), side="left")]
    ok = n_i - d_i > 0  # where the curve falls to 0 no variance contribution is defined
    var = float(np.sum(a_i[ok] ** 2 * d_i[ok] / (n_i[ok] * (n_i[ok] - d_i[ok]))))
    return rmst, float(np.sqrt(var))


def km_summary(kmfs: Mapping[str, KaplanMeierFitter], *, horizon: float,
               alpha: float = 0.05) -> pd.DataFrame:
    """Per curve: customers, churn events, median lifetime and RMST with intervals.

    Parameters
    ----------
    kmfs : mapping
        Output of :func:`kaplan_meier`.
    horizon : float
        RMST horizon, in periods.

    Returns
    -------
    DataFrame indexed by segment: ``customers``, ``churned``, ``follow_up`` (the longest
    duration of the curve, periods: where it ends), ``median`` (NaN where the curve never
    falls to 50 % within the follow-up: the median is then more than ``follow_up``),
    ``median_ci_low``, ``median_ci_high`` (inf = unbounded: the band does not reach 50 %),
    ``rmst``, ``rmst_ci_low``, ``rmst_ci_high`` (normal approximation).
    """
    from scipy.stats import norm

    z = norm.ppf(1 - alpha / 2)
    rows = {}
    for name, kmf in kmfs.items():
        med = float(kmf.median_survival_time_)
        ci = median_survival_times(kmf.confidence_interval_)
        lo, hi = (float(ci.iloc[0, 0]), float(ci.iloc[0, 1])) if ci.shape[1] == 2 else (np.nan,) * 2
        rm, se = rmst_km(kmf, horizon)
        rows[name] = {
            "customers": int(kmf.event_table["entrance"].sum()),
            "churned": int(kmf.event_observed.sum()),
            "follow_up": float(np.max(kmf.durations)),
            "median": med if np.isfinite(med) else np.nan,
            # lifelines' CI columns are (lower, upper) of S: the median of the upper band is
            # the upper limit of the median
            "median_ci_low": min(lo, hi), "median_ci_high": max(lo, hi),
            "rmst": rm, "rmst_ci_low": rm - z * se, "rmst_ci_high": min(rm + z * se, horizon),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "segment"
    return out


def logrank_tests(df: pd.DataFrame, segment: str
                  ) -> tuple[StatisticalResult, StatisticalResult]:
    """Multivariate log-rank test across all values of ``segment`` and pairwise tests.

    Returns the two lifelines ``StatisticalResult`` objects (``.p_value``, ``.summary``).
    """
    _require(df, ["duration", "event", segment], "durations frame")
    if df[segment].nunique() < 2:
        raise InsufficientDataError(f"log-rank test needs two or more values of {segment!r}")
    groups = df[segment].astype("string")
    multi = multivariate_logrank_test(df["duration"], groups, df["event"])
    pair = pairwise_logrank_test(df["duration"], groups, df["event"])
    return multi, pair
