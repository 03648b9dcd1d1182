"""BG/BB model for discrete-time non-contractual settings (e.g. yearly donations).

Fader, P. S., Hardie, B. G. S. & Shang, J. (2010), "Customer-Base Analysis in a
Discrete-Time Noncontractual Setting", *Marketing Science* 29(6), 1086-1108.

There are ``n`` transaction opportunities. While alive, a customer transacts at each
opportunity with probability ``p ~ Beta(alpha, beta)``; before each opportunity she dies
with probability ``theta ~ Beta(gamma, delta)``. Data per customer: ``frequency`` (x,
transactions in the n opportunities), ``recency`` (t_x, the opportunity of the last
transaction, 0 if none) and ``periods`` (n); usually compressed with ``weights``.

``L = B(a+x, b+n-x)/B(a,b) B(g, d+n)/B(g,d)
      + sum_{i=0}^{n-t_x-1} B(a+x, b+t_x-x+i)/B(a,b) B(g+1, d+t_x+i)/B(g,d)``  (FHS eq. 5).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from clm_lib.clv.base import MLEModel, check_purchase_data
from clm_lib.exceptions import DataContractError, InsufficientDataError

__all__ = ["BetaGeoBetaBinomModel", "bgbb_loglik", "simulate_bgbb"]

_bl = special.betaln


def _arr(data, col):
    return np.asarray(data[col], dtype=float)


def _log_terms(params, x, tx, n):
    a, b, g, d = params
    alive = _bl(a + x, b + n - x) - _bl(a, b) + _bl(g, d + n) - _bl(g, d)
    kmax = int(np.max(n - tx)) if len(n) else 0
    i = np.arange(max(kmax, 1))[None, :]
    valid = i < (n - tx)[:, None]
    ii = np.where(valid, i, 0)
    dead = (_bl(a + x[:, None], b + tx[:, None] - x[:, None] + ii) - _bl(a, b)
            + _bl(g + 1, d + tx[:, None] + ii) - _bl(g, d))
    dead = np.where(valid, dead, -np.inf)
    return alive, dead


def bgbb_loglik(params, data) -> np.ndarray:
    """Per-customer BG/BB log-likelihood (FHS 2010, eq. 5) by log-sum-exp."""
    x, tx, n = _arr(data, "frequency"), _arr(data, "recency"), _arr(data, "periods")
    alive, dead = _log_terms(params, x, tx, n)
    return np.logaddexp(alive, special.logsumexp(dead, axis=1))


def simulate_bgbb(params, n_customers: int, periods: int, *, seed=None) -> pd.DataFrame:
    """Simulate ``frequency``, ``recency``, ``periods`` for ``n_customers`` over ``periods``."""
    a, b, g, d = params
    rng = np.random.default_rng(seed)
    p = rng.beta(a, b, n_customers)
    theta = rng.beta(g, d, n_customers)
    alive = np.ones(n_customers, dtype=bool)
    x = np.zeros(n_customers)
    tx = np.zeros(n_customers)
    for t in range(1, periods + 1):
        alive &= rng.random(n_customers) >= theta       # may die before opportunity t
        buy = alive & (rng.random(n_customers) < p)
        x[buy] += 1
        tx[buy] = t
    return pd.DataFrame({"frequency": x, "recency": tx, "periods": float(periods)})


class BetaGeoBetaBinomModel(MLEModel):
    """BG/BB (Fader, Hardie & Shang 2010). Parameters ``alpha, beta, gamma, delta``."""

    name = "bgbb"
    label = "BG/BB"
    param_names = ("alpha", "beta", "gamma", "delta")
    required_columns = ("frequency", "recency", "periods")
    _loglik = staticmethod(bgbb_loglik)

    def _check_values(self, arrays):
        x, tx, n = arrays["frequency"], arrays["recency"], arrays["periods"]
        bad = (x < 0) | (x > tx) | (tx > n) | ((x > 0) & (tx < 1)) | (x != np.round(x))
        if bad.any():
            rows = np.flatnonzero(bad)
            raise DataContractError("frequency", "BG/BB needs integers 0 <= frequency <= recency "
                                    "<= periods (recency >= 1 when frequency > 0)", len(rows), rows)

    def _check_identified(self, data, weights):
        n = data["periods"]
        check_purchase_data(self.label, data["frequency"], n, weights, time_label="periods")
        # With n opportunities a customer's history is one of 1 + n(n+1)/2 patterns
        # (x, t_x); their shares carry that many minus one degrees of freedom, which
        # must be at least the four parameters: n >= 3.
        most = int(np.max(n))
        if most < 3:
            raise InsufficientDataError(
                model=self.label, reason=f"customers were observed for at most {most} purchase "
                "opportunit" + ("y" if most == 1 else "ies")
                + "; at least 3 are needed to estimate its four parameters")

    def _initial_params(self, data):
        return np.array([1.0, 1.0, 1.0, 1.0])

    def p_alive(self, data, params=None):
        """P(alive at opportunity n + 1 | x, t_x, n) (FHS 2010, eq. 11)."""
        a, b, g, d = self._p(params)
        x, n = _arr(data, "frequency"), _arr(data, "periods")
        ll = bgbb_loglik((a, b, g, d), data)
        num = _bl(a + x, b + n - x) - _bl(a, b) + _bl(g, d + n + 1) - _bl(g, d)
        return np.exp(num - ll)

    def expected_purchases(self, n, params=None):
        """E[X(n)]: expected transactions in the first n opportunities (FHS eq. 7)."""
        a, b, g, d = self._p(params)
        n = np.asarray(n, dtype=float)
        gl = special.gammaln
        return a / (a + b) * d / (g - 1) * (
            1 - np.exp(gl(g + d) + gl(1 + d + n) - gl(g + d + n) - gl(1 + d)))

    def conditional_expected_purchases(self, n_star, data, params=None):
        """E[X(n, n + n*) | x, t_x, n]: transactions in the next n* opportunities (FHS eq. 13)."""
        a, b, g, d = self._p(params)
        x, n = _arr(data, "frequency"), _arr(data, "periods")
        gl = special.gammaln
        ll = bgbb_loglik((a, b, g, d), data)
        n_star = np.asarray(n_star, dtype=float)
        lead = _bl(a + x + 1, b + n - x) - _bl(a, b) + np.log(d) - np.log(np.abs(g - 1)) \
            + gl(g + d) - gl(1 + d) - ll
        bracket = (np.exp(gl(1 + d + n) - gl(g + d + n))
                   - np.exp(gl(1 + d + n + n_star) - gl(g + d + n + n_star)))
        return np.exp(lead) * bracket * np.sign(g - 1)

    def probability_of_purchases(self, x, n, params=None):
        """P(X(n) = x) for x = 0..n (FHS eq. 8)."""
        a, b, g, d = self._p(params)
        n = int(n)
        xs = np.atleast_1d(np.asarray(x, dtype=int))
        out = np.empty(len(xs))
        for k, xi in enumerate(xs):
            lc = special.gammaln(n + 1) - special.gammaln(xi + 1) - special.gammaln(n - xi + 1)
            first = np.exp(lc + _bl(a + xi, b + n - xi) - _bl(a, b) + _bl(g, d + n) - _bl(g, d))
            i = np.arange(xi, n)
            lci = special.gammaln(i + 1) - special.gammaln(xi + 1) - special.gammaln(i - xi + 1)
            rest = np.exp(lci + _bl(a + xi, b + i - xi) - _bl(a, b) + _bl(g + 1, d + i) - _bl(g, d))
            out[k] = first + rest.sum()
        return out if np.ndim(x) else out[0]
