"""BG/NBD model of non-contractual repeat purchasing.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "'Counting Your Customers' the Easy
Way: An Alternative to the Pareto/NBD Model", *Marketing Science* 24(2), 275-284; the
likelihood in the numerically stable form of Fader & Hardie, note 027, "Overcoming the
BG/NBD Model's #NUM! Error Problem" (2013).

While active, a customer buys as a Poisson process with rate ``lambda``; after each repeat
purchase she drops out with probability ``p``. Across customers
``lambda ~ Gamma(r, rate alpha)`` and ``p ~ Beta(a, b)``. Data per customer: ``frequency``
(x, repeat purchases), ``recency`` (t_x) and ``T``, in one time unit (e.g. weeks); ``alpha``
is in that unit.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import special

from clm_lib.clv.base import MLEModel

__all__ = ["BetaGeoModel", "bgnbd_loglik", "simulate_bgnbd"]


def _arr(data, col):
    return np.asarray(data[col], dtype=float)


def _terms(params, x, tx, T):
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (special.gammaln(a + b) + special.gammaln(b + x)
          - special.gammaln(b) - special.gammaln(a + b + x))
    a3 = -(r + x) * np.log(alpha + T)
    pos = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(pos, np.log(a) - np.log(np.where(pos, b + x - 1, 1.0))
                      - (r + x) * np.log(alpha + tx), -np.inf)
    return a1, a2, a3, a4, pos


def bgnbd_loglik(params, data: Mapping[str, np.ndarray]) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (note 027 form).

    ``ln L = A1 + A2 + ln(exp(A3) + [x > 0] exp(A4))`` with
    ``A1 = ln G(r+x) - ln G(r) + r ln alpha``,
    ``A2 = ln G(a+b) + ln G(b+x) - ln G(b) - ln G(a+b+x)``,
    ``A3 = -(r+x) ln(alpha+T)``,
    ``A4 = ln a - ln(b+x-1) - (r+x) ln(alpha+t_x)``; evaluated with ``logaddexp``.
    """
    x, tx, T = _arr(data, "frequency"), _arr(data, "recency"), _arr(data, "T")
    a1, a2, a3, a4, _ = _terms(params, x, tx, T)
    return a1 + a2 + np.logaddexp(a3, a4)


def bgnbd_loglik_grad(params, data: Mapping[str, np.ndarray]) -> np.ndarray:
    """Per-customer gradient of :func:`bgnbd_loglik` in (r, alpha, a, b); shape (n, 4)."""
    r, alpha, a, b = params
    x, tx, T = _arr(data, "frequency"), _arr(data, "recency"), _arr(data, "T")
    _, _, a3, a4, pos = _terms(params, x, tx, T)
    m = np.maximum(a3, a4)
    e3, e4 = np.exp(a3 - m), np.exp(a4 - m)
    w3, w4 = e3 / (e3 + e4), e4 / (e3 + e4)
    dg = special.digamma
    l_T, l_tx = np.log(alpha + T), np.log(alpha + tx)
    g = np.empty((len(x), 4))
    g[:, 0] = dg(r + x) - dg(r) + np.log(alpha) - w3 * l_T - w4 * l_tx
    g[:, 1] = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + tx)
    dab = dg(a + b) - dg(a + b + x)
    g[:, 2] = dab + w4 / a
    g[:, 3] = dab + dg(b + x) - dg(b) - w4 / np.where(pos, b + x - 1, 1.0)
    return g


def _lookup(data, col, key):
    """Gather helper: evaluate f on the distinct values of a column when the model's
    ``_prepare`` stored them (``_<key>_u``, ``_<key>_i``), else on the column itself."""
    if f"_{key}_u" in data:
        u, i = data[f"_{key}_u"], data[f"_{key}_i"]
        return lambda f: f(u)[i]
    v = _arr(data, col)
    return lambda f: f(v)


def bgnbd_value_and_grad(params, data):
    """Fused per-customer log-likelihood and gradient (same values as
    :func:`bgnbd_loglik` / :func:`bgnbd_loglik_grad`), evaluating every function of x, T
    and t_x alone once per distinct value when lookup tables are present."""
    r, alpha, a, b = params
    x = _arr(data, "frequency")
    gx, gT, gtx = _lookup(data, "frequency", "x"), _lookup(data, "T", "T"), _lookup(data, "recency", "tx")
    gl, dg = special.gammaln, special.digamma
    pos = x > 0
    rx = r + x
    lT = gT(lambda u: np.log(alpha + u))
    ltx = gtx(lambda u: np.log(alpha + u))
    const = -gl(r) + r * np.log(alpha) + gl(a + b) - gl(b)
    cx = gx(lambda u: gl(r + u) + gl(b + u) - gl(a + b + u))
    bx1 = gx(lambda u: np.where(u > 0, b + u - 1, 1.0))
    a3 = -rx * lT
    with np.errstate(divide="ignore"):
        a4 = np.where(pos, np.log(a) - np.log(bx1) - rx * ltx, -np.inf)
    m = np.maximum(a3, a4)
    e3, e4 = np.exp(a3 - m), np.exp(a4 - m)
    tot = e3 + e4
    ll = const + cx + m + np.log(tot)
    w4 = e4 / tot
    w3 = 1.0 - w4
    g = np.empty((len(x), 4))
    g[:, 0] = gx(lambda u: dg(r + u)) - dg(r) + np.log(alpha) - w3 * lT - w4 * ltx
    g[:, 1] = r / alpha - rx * (w3 * gT(lambda u: 1.0 / (alpha + u)) + w4 * gtx(lambda u: 1.0 / (alpha + u)))
    dab = dg(a + b) - gx(lambda u: dg(a + b + u))
    g[:, 2] = dab + w4 / a
    g[:, 3] = dab + gx(lambda u: dg(b + u)) - dg(b) - w4 / bx1
    return ll, g


def simulate_bgnbd(params, T, *, seed=None) -> pd.DataFrame:
    """Simulate ``frequency``, ``recency``, ``T`` for customers observed for ``T`` units.

    Parameters
    ----------
    params : (r, alpha, a, b)
    T : array-like
        Observation length of each customer since the first purchase, in time units.
    seed : int, optional
        Seed of the random generator (results are reproducible).
    """
    r, alpha, a, b = params
    rng = np.random.default_rng(seed)
    T = np.asarray(T, dtype=float)
    n = len(T)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    x = np.zeros(n)
    tx = np.zeros(n)
    t = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1.0, size=idx.size) / lam[idx]
        buys = t[idx] <= T[idx]
        b_idx = idx[buys]
        x[b_idx] += 1
        tx[b_idx] = t[b_idx]
        # after a purchase the customer drops out with probability p
        dies = rng.random(b_idx.size) < p[b_idx]
        active[idx[~buys]] = False
        active[b_idx[dies]] = False
    return pd.DataFrame({"frequency": x, "recency": tx, "T": T})


class BetaGeoModel(MLEModel):
    """BG/NBD (Fader, Hardie & Lee 2005). Parameters ``r, alpha, a, b``.

    Data columns: ``frequency``, ``recency``, ``T`` (one time unit; see
    :func:`clm_lib.reductions.summary_data`). Fit on compressed data with
    ``fit(compress(summary), weights="weights")``.

    Examples
    --------
    >>> m = BetaGeoModel().fit(summary)                             # doctest: +SKIP
    >>> m.conditional_expected_purchases(52, summary)              # doctest: +SKIP
    """

    name = "bgnbd"
    singular_information_is_error = True
    param_names = ("r", "alpha", "a", "b")
    required_columns = ("frequency", "recency", "T")
    _loglik = staticmethod(bgnbd_loglik)
    _loglik_grad = staticmethod(bgnbd_loglik_grad)
    _loglik_value_and_grad = staticmethod(bgnbd_value_and_grad)

    def _prepare(self, data, weights=None):
        arrays, w = super()._prepare(data, weights)
        arrays = dict(arrays)
        # distinct values of x, T and t_x (few on a day grid): the special functions of
        # each are evaluated once per distinct value in the fused likelihood
        for col, key in (("frequency", "x"), ("T", "T"), ("recency", "tx")):
            u, i = np.unique(arrays[col], return_inverse=True)
            if len(u) * 4 <= len(i):
                arrays[f"_{key}_u"], arrays[f"_{key}_i"] = u, i.ravel()
        return arrays, w

    def _initial_params(self, data):
        x, T = data["frequency"], data["T"]
        rate = max(np.mean(x) / max(np.mean(T), 1e-9), 1e-3)
        return np.array([0.5, 0.5 / rate, 1.0, 2.0])

    # ---- predictions (pure functions of parameters and data) --------------------------
    def expected_purchases(self, t, params=None):
        """E[X(t)]: expected repeat purchases in (0, t] of a customer just acquired (FHL eq. 7).

        ``t`` in the model's time unit (scalar or array)."""
        r, alpha, a, b = self._p(params)
        t = np.asarray(t, dtype=float)
        z = t / (alpha + t)
        return (a + b - 1) / (a - 1) * (
            1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, z))

    def p_alive(self, data, params=None):
        """P(still active at T | x, t_x, T) (FHL 2005, eq. A2 / note 027)."""
        r, alpha, a, b = self._p(params)
        x, tx, T = _arr(data, "frequency"), _arr(data, "recency"), _arr(data, "T")
        pos = x > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = (np.log(a) - np.log(np.where(pos, b + x - 1, 1.0))
                         + (r + x) * (np.log(alpha + T) - np.log(alpha + tx)))
        return np.where(pos, special.expit(-log_ratio), 1.0)

    def conditional_expected_purchases_if_alive(self, t, data, params=None):
        """E[Y(t) | alive at T, x, T]: depends on (x, T) only, not on t_x.

        It is E[X(t)] of a new customer with parameters (r + x, alpha + T, a, b + x)."""
        r, alpha, a, b = self._p(params)
        x, T = _arr(data, "frequency"), _arr(data, "T")
        t = np.asarray(t, dtype=float)
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        return (a + b + x - 1) / (a - 1) * (
            1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp)

    def conditional_expected_purchases(self, t, data, params=None):
        """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] (FHL 2005, eq. 10)."""
        return (self.conditional_expected_purchases_if_alive(t, data, params)
                * self.p_alive(data, params))

    def probability_of_purchases(self, x, t, params=None):
        """P(X(t) = x) for a customer just acquired (FHL 2005, eq. 8).

        ``x`` non-negative integer(s), ``t`` time units."""
        r, alpha, a, b = self._p(params)
        x = np.asarray(x, dtype=float)
        t = float(t)
        lb = special.betaln(a, b)
        log_nbd = (special.gammaln(r + x) - special.gammaln(r) - special.gammaln(x + 1)
                   + r * np.log(alpha / (alpha + t)) + x * np.log(t / (alpha + t)))
        first = np.exp(special.betaln(a, b + x) - lb + log_nbd)
        # P(N(t) >= x) under the NBD = 1 - sum_{j<x} NBD(j) = I_{t/(alpha+t)}(x, r)
        tail = np.where(x > 0, special.betainc(np.maximum(x, 1), r, t / (alpha + t)), 0.0)
        with np.errstate(invalid="ignore"):
            second = np.where(x > 0, np.exp(special.betaln(a + 1, np.maximum(b + x - 1, 1e-300)) - lb), 0.0)
        return first + second * tail
