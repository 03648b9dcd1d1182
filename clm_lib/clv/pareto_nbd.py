"""Pareto/NBD model of non-contractual repeat purchasing.

Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987), "Counting Your Customers: Who Are
They and What Will They Do Next?", *Management Science* 33(1), 1-24; expressions as derived
in Fader & Hardie (2005), note 008, "A Note on Deriving the Pareto/NBD Model and Related
Expressions", with its two branches of the Gaussian hypergeometric term
(``alpha >= beta`` and ``alpha < beta``) so that the argument stays in [0, 1).

While alive a customer buys as a Poisson process with rate ``lambda``; her lifetime is
exponential with rate ``mu``. Across customers ``lambda ~ Gamma(r, rate alpha)`` and
``mu ~ Gamma(s, rate beta)``. Data: ``frequency``, ``recency``, ``T`` in one time unit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from clm_lib.clv.base import FutureState, RepeatPurchaseModel, distinct_pairs

__all__ = ["ParetoNBDModel", "pareto_nbd_loglik", "simulate_pareto_nbd"]


def _arr(data, col):
    return np.asarray(data[col], dtype=float)


def _log_f(params, x, y):
    """log of 2F1(r+s+x, b2; r+s+x+1; diff/(big+y)) / (big+y)^(r+s+x) (one A0 end point)."""
    r, alpha, s, beta = params
    rsx = r + s + x
    if np.ndim(alpha) or np.ndim(beta):
        # per-customer parameters (covariates): the branch customer by customer
        ge = alpha >= beta
        big, b2, diff = np.where(ge, alpha, beta), np.where(ge, s + 1.0, r + x), np.abs(alpha - beta)
    elif alpha >= beta:
        big, b2, diff = alpha, s + 1.0, alpha - beta
    else:
        big, b2, diff = beta, r + x, beta - alpha
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(special.hyp2f1(rsx, b2, rsx + 1, diff / (big + y))) - rsx * np.log(big + y)


def _loglik_parts(params, data):
    r, alpha, s, beta = params
    x, tx, T = _arr(data, "frequency"), _arr(data, "recency"), _arr(data, "T")
    if "_x_i" in data:
        # functions of x or T alone: once per distinct value (the same numbers)
        ux, ix, uT, iT = data["_x_u"], data["_x_i"], data["_T_u"], data["_T_i"]
        gl_x, l_rsx = special.gammaln(r + ux)[ix], np.log(r + s + ux)[ix]
        l_aT, l_bT = np.log(alpha + uT)[iT], np.log(beta + uT)[iT]
    else:
        gl_x, l_rsx = special.gammaln(r + x), np.log(r + s + x)
        l_aT, l_bT = np.log(alpha + T), np.log(beta + T)
    head = gl_x - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    t1 = -(r + x) * l_aT - s * l_bT
    if "_xtx_u" in data:
        # the end points of A0 depend on (x, t_x) and (x, T) only: evaluate the costly
        # hypergeometric function once per distinct pair (tables from ``_prepare``)
        u, v = data["_xtx_u"], data["_xT_u"]
        f1 = _log_f(params, u[:, 0], u[:, 1])[data["_xtx_i"]]
        f2 = _log_f(params, v[:, 0], v[:, 1])[data["_xT_i"]]
    else:
        f1, f2 = _log_f(params, x, tx), _log_f(params, x, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_a0 = f1 + np.log1p(-np.exp(f2 - f1))
    t2 = np.log(s) - l_rsx + log_a0
    return head, t1, t2


def _lookup_tables(arrays, only_if_smaller: bool = False) -> dict:
    """``arrays`` (``frequency``, ``recency``, ``T``) with the tables of
    :func:`_loglik_parts`: distinct x and T values, and distinct (x, t_x) and (x, T) pairs
    for the hypergeometric end points. With ``only_if_smaller`` the pair tables are kept
    only when both at least halve the rows (for a fit; P(alive) over many draws always
    gains)."""
    arrays = dict(arrays)
    x = arrays["frequency"]
    for key, col in (("xtx", "recency"), ("xT", "T")):
        u, i = distinct_pairs(x, arrays[col])
        if not only_if_smaller or len(u) * 2 <= len(x):
            arrays[f"_{key}_u"], arrays[f"_{key}_i"] = u, i
    for key, col in (("x", "frequency"), ("T", "T")):
        arrays[f"_{key}_i"], arrays[f"_{key}_u"] = pd.factorize(arrays[col])
    if "_xtx_u" not in arrays or "_xT_u" not in arrays:
        for key in ("xtx", "xT"):
            arrays.pop(f"_{key}_u", None)
            arrays.pop(f"_{key}_i", None)
    return arrays


def pareto_nbd_loglik(params, data) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood (note 008, eq. 18-20), in log space:
    ``ln L = ln G(r+x) - ln G(r) + r ln alpha + s ln beta
    + ln( (alpha+T)^-(r+x) (beta+T)^-s + s/(r+s+x) A0 )``."""
    head, t1, t2 = _loglik_parts(params, data)
    with np.errstate(invalid="ignore"):
        return head + np.logaddexp(t1, t2)


def simulate_pareto_nbd(params, T, *, seed=None) -> pd.DataFrame:
    """Simulate ``frequency``, ``recency``, ``T`` (time units) under the Pareto/NBD."""
    r, alpha, s, beta = params
    rng = np.random.default_rng(seed)
    T = np.asarray(T, dtype=float)
    n = len(T)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    tau = rng.exponential(1.0, n) / mu
    active_for = np.minimum(tau, T)
    x = rng.poisson(lam * active_for)
    # the last of x uniform purchase times on (0, active_for]
    with np.errstate(divide="ignore"):
        tx = np.where(x > 0, active_for * rng.random(n) ** (1.0 / np.maximum(x, 1)), 0.0)
    return pd.DataFrame({"frequency": x.astype(float), "recency": tx, "T": T})


class ParetoNBDModel(RepeatPurchaseModel):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987). Parameters ``r, alpha, s, beta``."""

    name = "pareto_nbd"
    label = "Pareto/NBD"
    param_names = ("r", "alpha", "s", "beta")
    _loglik = staticmethod(pareto_nbd_loglik)

    def _prepare(self, data, weights=None):
        arrays, w = super()._prepare(data, weights)
        return _lookup_tables(arrays, only_if_smaller=True), w

    def _initial_params(self, data):
        x, T = data["frequency"], data["T"]
        rate = max(np.mean(x) / max(np.mean(T), 1e-9), 1e-3)
        return np.array([0.5, 0.5 / rate, 0.5, np.mean(T)])

    def p_alive(self, data, params=None):
        """P(alive at T | x, t_x, T) (note 008, eq. 22)."""
        head, t1, t2 = _loglik_parts(self._p(params), data)
        return special.expit(t1 - t2)

    def p_alive_by_params(self, data):
        """``params -> p_alive(data, params)``, the same values, for many parameter draws:
        the hypergeometric end points of A0 once per distinct (x, t_x) and (x, T) pair of
        ``data``, the logarithms once per distinct x and T (the likelihood's tables)."""
        arrays = _lookup_tables({c: _arr(data, c) for c in ("frequency", "recency", "T")})

        def p_alive(params):
            head, t1, t2 = _loglik_parts(self._p(params), arrays)
            return special.expit(t1 - t2)

        return p_alive

    def expected_purchases(self, t, params=None):
        """E[X(t)] for a customer just acquired (note 008, eq. 25); t in time units."""
        r, alpha, s, beta = self._p(params)
        t = np.asarray(t, dtype=float)
        return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))

    def conditional_expected_purchases_if_alive(self, t, data, params=None):
        """E[Y(t) | alive at T, x, T]; depends on (x, T) only."""
        r, alpha, s, beta = self._p(params)
        x, T = _arr(data, "frequency"), _arr(data, "T")
        t = np.asarray(t, dtype=float)
        return ((r + x) * (beta + T) / ((alpha + T) * (s - 1))
                * (1 - np.exp((s - 1) * (np.log(beta + T) - np.log(beta + T + t)))))

    def conditional_expected_purchases(self, t, data, params=None):
        """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] (note 008, eq. 27)."""
        return (self.conditional_expected_purchases_if_alive(t, data, params)
                * self.p_alive(data, params))

    def sample_future_state(self, data, rng, params=None, p_alive=None):
        """One posterior draw of each customer's state at T: alive with probability
        P(alive); given alive at T, lambda ~ Gamma(r + x, rate alpha + T) and
        mu ~ Gamma(s, rate beta + T), independent; the remaining lifetime is exponential
        with rate mu (memoryless). No dropout at purchases. Returns
        :class:`~clm_lib.clv.base.FutureState`."""
        r, alpha, s, beta = self._p(params)
        x, T = _arr(data, "frequency"), _arr(data, "T")
        alive = rng.random(len(x)) < (self.p_alive(data, params) if p_alive is None else p_alive)
        x, T = x[alive], T[alive]
        mu = rng.gamma(s, 1.0 / (beta + T))
        return FutureState.for_alive(alive, rng.gamma(r + x, 1.0 / (alpha + T)),
                                     lifetime=rng.standard_exponential(len(x)) / mu)

    def probability_of_purchases(self, x, t, params=None):
        """P(X(t) = x) for a customer just acquired (SMC 1987, in the form of Fader &
        Hardie's notes): a no-death NBD term plus a death-before-t term with 2F1, with the
        same two branches as the likelihood. Checked in the tests: sums to one over x and
        its mean equals E[X(t)]."""
        r, alpha, s, beta = self._p(params)
        t = float(t)
        xs = np.atleast_1d(np.asarray(x, dtype=int))
        out = np.empty(len(xs))
        if alpha >= beta:
            big, diff = alpha, alpha - beta
        else:
            big, diff = beta, beta - alpha
        for k, xi in enumerate(xs):
            b2 = s + 1.0 if alpha >= beta else r + xi
            c = r + s + xi + 1
            first = np.exp(special.gammaln(r + xi) - special.gammaln(r) - special.gammaln(xi + 1)
                           + r * np.log(alpha / (alpha + t)) + xi * np.log(t / (alpha + t))
                           + s * np.log(beta / (beta + t)))
            log_pref = (r * np.log(alpha) + s * np.log(beta)
                        + special.betaln(r + xi, s + 1) - special.betaln(r, s))
            b1 = special.hyp2f1(r + s, b2, c, diff / big) / big ** (r + s)
            j = np.arange(xi + 1)
            log_terms = (np.log(special.hyp2f1(r + s + j, b2, c, diff / (big + t)))
                         - (r + s + j) * np.log(big + t)
                         + special.gammaln(r + s + j) - special.gammaln(r + s)
                         + j * np.log(t) - special.gammaln(j + 1))
            out[k] = first + np.exp(log_pref) * (b1 - np.sum(np.exp(log_terms)))
        # the bracket is a difference of nearly equal terms for very large x: clip the
        # rounding noise (probabilities there are below 1e-12)
        out = np.clip(out, 0.0, 1.0)
        return out if np.ndim(x) else out[0]
