"""Retention of transaction cohorts implied by a model of the purchases (BG/NBD).

A transaction log says when customers bought, never when they left: the share of a cohort
"still a customer" is not observed. The shifted-beta-geometric model is made for contracts
(an observed cancellation); fed with "bought in ``k`` or any later period" counts it sees
survivors that grow as data arrive. Here retention of transaction cohorts comes instead
from the BG/NBD model (Fader, Hardie & Lee 2005) fitted by maximum likelihood to every
customer's repeat purchases (frequency, recency, T in days; :meth:`clm_lib.reduce.Engine.
summary_table`). Each customer buys at a Poisson rate ``lambda ~ Gamma(r, alpha)`` while
alive and drops out after any repeat purchase with probability ``p ~ Beta(a, b)``. Given
``lambda`` and ``p`` the customer is alive ``t`` days after the first purchase with
probability ``exp(-lambda p t)`` (deaths thin the purchase process), so, unconditionally,

* **share still alive** at ``t``: ``E[exp(-lambda p t)] = 2F1(r, a; a + b; -t / alpha)``
  (Euler's integral over the beta, after the gamma's Laplace transform
  ``(alpha / (alpha + s))**r``); a latent quantity, never observed;
* **share buying in** ``[t, t + tau)``: alive at ``t`` and at least one purchase in the
  window, ``2F1(r, a; a + b; -t / alpha) - (alpha / (alpha + tau))**r
  2F1(r, a; a + b; -t / (alpha + tau))``; observable: it is the expected bounded retention
  of a cohort cell, so it can be checked against the data.

A cohort's expected share in period ``k`` averages these over its customers' acquisition
days (a purchase on day ``s`` is at model time ``s - first_day``, as in the summary).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from clm_lib.exceptions import ClmError
from clm_lib.reduce.periods import period_codes, period_labels, period_start
from clm_lib.studies.cohort_retention.tables import CohortTables

__all__ = ["PurchaseFit", "cohort_expectations", "fit_purchase_retention", "period_end",
           "purchase_holdout", "purchase_projection", "share_alive", "share_buying"]


def share_alive(params, t) -> np.ndarray:
    """Unconditional BG/NBD probability that a customer is still alive ``t`` after the
    first purchase.

    Parameters
    ----------
    params : sequence of 4 floats
        ``r, alpha, a, b`` (``alpha`` in the unit of ``t``).
    t : array-like
        Time since the first purchase (>= 0), same unit as ``alpha``.

    Examples
    --------
    >>> float(share_alive([0.5, 10.0, 1.0, 2.0], 0.0))
    1.0
    """
    r, alpha, a, b = (float(v) for v in params)
    t = np.asarray(t, dtype=float)
    return special.hyp2f1(r, a, a + b, -t / alpha)


def share_buying(params, t, tau) -> np.ndarray:
    """Unconditional BG/NBD probability of at least one purchase in ``[t, t + tau)``
    after the first purchase (``t >= 0``, ``tau > 0``, unit of ``alpha``)."""
    r, alpha, a, b = (float(v) for v in params)
    t = np.asarray(t, dtype=float)
    tau = np.asarray(tau, dtype=float)
    late = (alpha / (alpha + tau)) ** r * special.hyp2f1(r, a, a + b, -t / (alpha + tau))
    return share_alive(params, t) - late


@dataclass(frozen=True)
class PurchaseFit:
    """A BG/NBD model fitted to the purchases up to ``calibration_end`` and the
    acquisition days of the cohorts it describes.

    Attributes
    ----------
    model : clm_lib.clv.bgnbd.BetaGeoModel
        Time unit: days.
    calibration_end : datetime.date
        Last day (inclusive) of the purchases used.
    acquisitions : DataFrame
        ``cohort_index`` (period code), ``first_day`` (datetime64), ``customers``: the
        customers acquired on each day, cohorts complete by ``calibration_end`` only.
    """

    model: object
    calibration_end: dt.date
    acquisitions: pd.DataFrame


def fit_purchase_retention(eng, table, *, calibration_end: dt.date, cohort_period: str,
                           last_period: int) -> PurchaseFit:
    """Fit the BG/NBD model to the purchases up to ``calibration_end`` (inclusive).

    Parameters
    ----------
    eng : Engine
    table : Ibis table
        Canonical transactions of ``eng`` (``customer_id``, ``timestamp``, ``amount``).
    calibration_end : date
        Last day used; later purchases are left out (a holdout check passes an earlier
        day than ``as_of``).
    cohort_period : {"week", "month", "quarter", "year"}
    last_period : int
        Code of the last period complete by ``calibration_end``: customers acquired after
        it are not in any cohort (the model is still fitted on them: their purchases are
        data too).

    Raises
    ------
    InsufficientDataError, ConvergenceError
        From the model when the data cannot support it.
    """
    from clm_lib.clv.bgnbd import BetaGeoModel

    comp = eng.compress(eng.summary_table(table, as_of=calibration_end, time_unit="day"))
    model = BetaGeoModel().fit(comp, weights="weights")
    # T (days) = calibration_end - first purchase day: the compressed table holds the days
    by_T = comp.groupby("T", as_index=False)["weights"].sum()
    first = (np.datetime64(calibration_end, "D")
             - by_T["T"].to_numpy().round().astype("timedelta64[D]"))
    acq = pd.DataFrame({"cohort_index": period_codes(first, cohort_period),
                        "first_day": first.astype("datetime64[ns]"),
                        "customers": by_T["weights"].to_numpy(dtype=np.int64)})
    acq = acq.loc[acq["cohort_index"] <= int(last_period)]
    return PurchaseFit(model, calibration_end,
                       acq.sort_values("first_day", ignore_index=True))


def _period_days(codes, cohort_period: str) -> tuple[np.ndarray, np.ndarray]:
    """First day and length in days of the periods with the given codes."""
    codes = np.asarray(codes, dtype=np.int64)
    start = period_start(codes, cohort_period).to_numpy().astype("datetime64[D]")
    nxt = period_start(codes + 1, cohort_period).to_numpy().astype("datetime64[D]")
    return start, (nxt - start).astype(np.int64).astype(float)


def cohort_expectations(fit: PurchaseFit, ks, cohort_period: str, *,
                        params=None, by_day: bool = False) -> dict[str, pd.DataFrame]:
    """Expected shares of each cohort by ``k`` (periods since acquisition).

    Parameters
    ----------
    fit : PurchaseFit
    ks : array-like of int
        Periods since acquisition (>= 1; ``k = 0`` is 1 by definition and returned so).
    cohort_period : str
    params : sequence of 4 floats, optional
        ``r, alpha, a, b`` in days (default the fitted ones; a draw for a band).

    Returns
    -------
    dict of DataFrames (cohort code × ``k``): ``"buying"`` (expected share of the cohort
    making a purchase in period ``k``, the model's bounded retention), ``"alive"``
    (expected share still alive at the end of period ``k``); and ``"customers"``, a
    Series of cohort sizes by code. With ``by_day``, also ``"buying_by_day"``: the array
    (rows of ``fit.acquisitions`` × ``k``) of the probability that a customer acquired
    on that day buys in period ``k``.
    """
    p = fit.model.params_.to_numpy() if params is None else np.asarray(params, dtype=float)
    acq = fit.acquisitions
    ks = np.asarray(ks, dtype=np.int64)
    c = acq["cohort_index"].to_numpy(dtype=np.int64)
    d = acq["first_day"].to_numpy().astype("datetime64[D]")
    w = acq["customers"].to_numpy(dtype=float)
    start, length = _period_days(c[:, None] + ks[None, :], cohort_period)
    start = start.reshape(len(c), len(ks))
    length = length.reshape(len(c), len(ks))
    t = (start - d[:, None]).astype(np.int64)  # < 0 only at k = 0
    # many (day, k) cells share a (t, length) pair: the special functions once per pair
    pairs, inv_pair = np.unique(np.stack([t.ravel(), length.ravel().astype(np.int64)]),
                                axis=1, return_inverse=True)
    tu, lu = pairs[0].astype(float), pairs[1].astype(float)
    inv_pair = inv_pair.reshape(t.shape)
    buying = np.where(ks[None, :] == 0, 1.0, share_buying(p, np.maximum(tu, 0.0), lu)[inv_pair])
    alive = share_alive(p, tu + lu)[inv_pair]
    codes = np.unique(c)
    inv = np.searchsorted(codes, c)
    size = np.bincount(inv, weights=w)

    def per_cohort(v):
        tot = np.stack([np.bincount(inv, weights=w * v[:, j], minlength=len(codes))
                        for j in range(len(ks))], axis=1)
        return pd.DataFrame(tot / size[:, None], index=pd.Index(codes, name="cohort_index"),
                            columns=pd.Index(ks, name="k"))

    out = {"buying": per_cohort(buying), "alive": per_cohort(alive),
           "customers": pd.Series(size, index=pd.Index(codes, name="cohort_index"),
                                  name="customers")}
    if by_day:
        out["buying_by_day"] = buying
    return out


def period_end(code: int, cohort_period: str) -> dt.date:
    """Last day of the period with code ``code``."""
    return (period_start([int(code) + 1], cohort_period)[0] - pd.Timedelta(days=1)).date()


def _pooled(exp: dict, sizes: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, ...]:
    """Size-weighted shares by k: (buying, alive) over every cohort, and buying over the
    cohorts observable at k (``seen``, cohorts × k; NaN where none is)."""
    b = exp["buying"].to_numpy()
    w = sizes[:, None] * seen
    tot_seen = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.where(tot_seen > 0, (b * w).sum(axis=0) / tot_seen, np.nan)
    return ((b * sizes[:, None]).sum(axis=0) / sizes.sum(),
            (exp["alive"].to_numpy() * sizes[:, None]).sum(axis=0) / sizes.sum(), observed)


def purchase_projection(fit, tables: CohortTables, *, horizon_periods: int,
                        draws: int = 200, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """What the BG/NBD model fitted in ``fit`` says of the study's cohorts, by ``k``.

    ``survival`` and ``buying`` are pooled over every cohort of ``tables`` (weights =
    cohort sizes), whether or not the cohort is observable at ``k``: the model's
    expectation for these customers, up to the last observed ``k`` + ``horizon_periods``.
    ``buying_observed`` is pooled over the cohorts observable at ``k`` only, the same
    cohorts as the pooled actual bounded retention (like for like; NaN beyond the data).

    Returns
    -------
    DataFrame indexed by ``k``: ``survival`` (expected share still alive at the end of
    period ``k``; latent), ``buying`` (expected share buying in period ``k``: the model's
    bounded retention), ``buying_observed``, each with ``_lower`` / ``_upper``: a
    ``level`` band from ``draws`` parameter vectors of the estimate's asymptotic normal
    (parameter uncertainty only, a band for the expectation); and ``buying_pred_lower`` /
    ``buying_pred_upper``, the ``level`` predictive interval of the share of these
    customers that will actually buy in period ``k`` (each parameter draw followed by
    binomial draws of the buyers among the customers acquired on each day: parameter and
    outcome noise; what a period not yet observed can be checked against).
    """
    K = int(tables.last_k.max()) + int(horizon_periods)
    ks = np.arange(K + 1)
    exp = cohort_expectations(fit, ks, tables.cohort_period)
    sizes = exp["customers"].to_numpy(dtype=float)
    labels = period_labels(exp["customers"].index, tables.cohort_period)
    last_k = tables.last_k.reindex(labels).to_numpy(dtype=float)
    seen = ks[None, :] <= last_k[:, None]  # NaN last_k (not a cohort of the tables): never
    names = ("buying", "survival", "buying_observed")
    out = pd.DataFrame(dict(zip(names, _pooled(exp, sizes, seen))),
                       index=pd.Index(ks, name="k"))
    try:
        thetas = fit.model.sample_params(int(draws), seed=seed)
    except ClmError:  # no covariance: no band, said by the NaN
        thetas = np.empty((0, 4))
    rng = np.random.default_rng(seed)
    n_day = fit.acquisitions["customers"].to_numpy(dtype=np.int64)
    sims, realised = [], []
    for th in thetas:
        e = cohort_expectations(fit, ks, tables.cohort_period, params=th, by_day=True)
        if not np.isfinite(e["buying_by_day"]).all():
            # a draw of the normal approximation outside the parameter space (near a
            # boundary, e.g. a and b in the hundreds): not a model, left out of the bands
            continue
        sims.append(_pooled(e, sizes, seen))
        # outcome noise: given the parameters, customers are independent draws of the
        # population, so the buyers among those acquired on one day are binomial
        realised.append(rng.binomial(n_day[:, None], np.clip(e["buying_by_day"], 0, 1))
                        .sum(axis=0) / n_day.sum())
    q = [(1 - level) / 2, (1 + level) / 2]
    for j, name in enumerate(names):
        if sims:
            lo, hi = np.quantile(np.stack([s[j] for s in sims]), q, axis=0)
        else:
            lo = hi = np.full(len(ks), np.nan)
        out[f"{name}_lower"], out[f"{name}_upper"] = lo, hi
    if realised:
        out["buying_pred_lower"], out["buying_pred_upper"] = np.quantile(
            np.stack(realised), q, axis=0)
    else:
        out["buying_pred_lower"] = out["buying_pred_upper"] = np.nan
    return out[["survival", "survival_lower", "survival_upper", "buying", "buying_lower",
                "buying_upper", "buying_pred_lower", "buying_pred_upper", "buying_observed",
                "buying_observed_lower", "buying_observed_upper"]]


def purchase_holdout(fit, tables: CohortTables, *, holdout_periods: int) -> tuple:
    """Expected vs actual buyers in each cohort's held-out periods (the last
    ``holdout_periods`` calendar periods, after ``fit.calibration_end``).

    Returns
    -------
    (by_k, error): ``by_k`` indexed by ``k`` with ``actual`` and ``expected`` (customers
    buying in period ``k``, summed over the held-out cells at ``k``) and ``cells``;
    ``error`` the dict ``actual``, ``expected``, ``relative_error`` (expected/actual -
    1), ``cells`` (numbers only; the calibration end is ``fit.calibration_end``).
    """
    H = int(holdout_periods)
    ks = np.arange(int(tables.last_k.max()) + 1)
    exp = cohort_expectations(fit, ks, tables.cohort_period)["buying"]
    exp.index = pd.Index(period_labels(exp.index, tables.cohort_period), name="cohort")
    counts = tables.bounded_counts.reindex(exp.index)
    lk = tables.last_k.reindex(exp.index).to_numpy()[:, None]
    k = ks[None, :]
    held = (k > lk - H) & (k <= lk) & (k >= 1)
    N = tables.sizes.reindex(exp.index).to_numpy(dtype=float)[:, None]
    expected = np.where(held, N * exp.to_numpy(), 0.0)
    actual = np.where(held, counts.to_numpy(dtype=float), 0.0)
    by_k = pd.DataFrame({"actual": actual.sum(axis=0), "expected": expected.sum(axis=0),
                         "cells": held.sum(axis=0)}, index=pd.Index(ks, name="k"))
    by_k = by_k.loc[by_k["cells"] > 0]
    a, e = float(actual.sum()), float(expected.sum())
    return by_k, {"actual": a, "expected": e,
                  "relative_error": e / a - 1 if a > 0 else float("nan"),
                  "cells": int(held.sum())}
