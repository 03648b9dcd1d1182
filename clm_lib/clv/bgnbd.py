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

from clm_lib.clv.base import FutureState, RepeatPurchaseModel

__all__ = ["BetaGeoModel", "bgnbd_loglik", "bgnbd_if_alive_table", "simulate_bgnbd"]


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


def _tables(x, tx, T, w, per_customer=None) -> dict:
    """Parameter-free tables for :func:`bgnbd_weighted_value_and_grad`.

    Every term of the log-likelihood that depends on one of x, T or t_x alone is summed
    per distinct value (few on a day grid): only the terms that mix them are left per
    customer, and only for the customers of ``per_customer`` (a mask; default those
    with repeat purchases: for x = 0 the likelihood has no t_x term).
    """
    ux, ix = np.unique(x, return_inverse=True)
    uT, iT = np.unique(T, return_inverse=True)
    utx, itx = np.unique(tx, return_inverse=True)
    ix, iT, itx = ix.ravel(), iT.ravel(), itx.ravel()
    pos = x > 0 if per_customer is None else per_customer
    return {
        "ux": ux, "uT": uT, "utx": utx,
        "w_x": np.bincount(ix, w, len(ux)),           # total weight per distinct x
        "w_T": np.bincount(iT, w, len(uT)),           # ... per distinct T
        "wx_T": np.bincount(iT, w * x, len(uT)),      # sum of w x per distinct T
        "ix": ix[pos], "iT": iT[pos], "itx": itx[pos], "x": x[pos], "w": w[pos],
    }


def softplus(d, p):
    """``ln(1 + e^d)`` from ``p = expit(d)``, at half the cost of ``np.logaddexp(0, d)``:
    ``max(d, 0) - ln(max(p, 1 - p))``, exact to rounding (absolute error < 1e-16)."""
    return np.maximum(d, 0.0) - np.log(np.maximum(p, 1.0 - p))


def bgnbd_weighted_value_and_grad(params, tables: Mapping[str, np.ndarray]):
    """Weighted total log-likelihood and its gradient in (r, alpha, a, b).

    The same value as ``w @ bgnbd_loglik(params, data)`` (and gradient as
    ``w @ bgnbd_loglik_grad``), on the tables of :func:`_tables`. With
    ``d = A4 - A3 = ln a - ln(b+x-1) - (r+x)(ln(alpha+t_x) - ln(alpha+T))`` the
    per-customer log-likelihood is ``A1 + A2 + A3 + ln(1 + e^d)`` and the weight of the
    dropout branch in the gradient is ``expit(d)``; ``A1``, ``A2`` and ``A3`` are sums
    over distinct x and T.
    """
    r, alpha, a, b = params
    gl, dg = special.gammaln, special.digamma
    ux, uT, utx = tables["ux"], tables["uT"], tables["utx"]
    w_x, w_T, wx_T = tables["w_x"], tables["w_T"], tables["wx_T"]
    w_total = w_x.sum()
    # per distinct value
    lT, ltx = np.log(alpha + uT), np.log(alpha + utx)
    inv_T, inv_tx = 1.0 / (alpha + uT), 1.0 / (alpha + utx)
    c_x = gl(r + ux) + gl(b + ux) - gl(a + b + ux)             # A1 + A2 terms in x
    dab_x = dg(a + b) - dg(a + b + ux)
    inv_b_x = np.where(ux > 0, 1.0 / np.where(ux > 0, b + ux - 1, 1.0), 0.0)
    k_x = np.log(a) - np.log(np.where(ux > 0, b + ux - 1, 1.0))  # ln a - ln(b+x-1), x > 0
    rw_T = r * w_T + wx_T                                       # sum of w (r+x) per T
    # per customer with repeat purchases
    ix, iT, itx, x, w = (tables[k] for k in ("ix", "iT", "itx", "x", "w"))
    take = np.take  # much faster than fancy indexing for a small table and int64 codes
    rx = r + x
    delta = take(ltx, itx) - take(lT, iT)
    d = take(k_x, ix) - rx * delta
    p4 = special.expit(d)
    wp4 = w * p4
    total = (w_total * (-gl(r) + r * np.log(alpha) + gl(a + b) - gl(b)) + w_x @ c_x
             - rw_T @ lT + w @ softplus(d, p4))
    s_p4_x = np.bincount(ix, wp4, len(ux))                      # sum of w p4 per x
    grad = np.array([
        w_x @ dg(r + ux) + w_total * (np.log(alpha) - dg(r)) - w_T @ lT - wp4 @ delta,
        w_total * r / alpha - rw_T @ inv_T - (wp4 * rx) @ (take(inv_tx, itx) - take(inv_T, iT)),
        w_x @ dab_x + s_p4_x.sum() / a,
        w_x @ (dab_x + dg(b + ux)) - w_total * dg(b) - s_p4_x @ inv_b_x,
    ])
    return float(total), grad


#: Starting frequencies of the recurrence of :func:`_lead_hyp_table` are multiples of this.
_STEP = 16
#: Above this z the recurrence hands over to direct values (see :func:`_lead_hyp_table`).
_Z_DIRECT = 0.45


def _lead_hyp_table(params, x, T, t) -> np.ndarray:
    """``v[i, j] = (1 - z)^(r+x_i) 2F1(r+x_i, b+x_i; a+b+x_i-1; z)`` at
    ``z = t_j / (alpha+T_i+t_j)``: the term of :func:`bgnbd_if_alive_table` that costs.

    Element by element this is ``scipy.special.hyp2f1``. For integer x >= 1 at a T whose
    every z is at most 1/2, the values are instead
    carried down in x from two direct ones, by the three-term recurrence that follows from
    the hypergeometric equation and ``d/dz F(A, B; C; z) = AB/C F(A+1, B+1; C+1; z)``:

    ``u(x) = [1 - (A+B+1) z / C] u(x+1) + z (1-z) (A+1)(B+1) / (C (C+1)) u(x+2)``

    (A, B, C at x; for ``v = (1-z)^(r+x) u`` the multipliers are divided by 1-z and
    (1-z)^2). For z <= 1/2 the hypergeometric function is the minimal solution of the
    recurrence in the direction of growing x, so running it downwards is stable: errors
    shrink. Near z = 1/2 the two solutions grow alike, so values at z > ``_Z_DIRECT``
    are direct (then the discounted sums and totals of :mod:`clm_lib.clv.valuation` stay
    within ~1e-11 relative of element-by-element ``hyp2f1``). The direct values are
    taken at a few starting frequencies (multiples of ``_STEP`` at or above the largest
    x of each T), so the recurrence replaces all but a few calls per (T, t).
    """
    r, alpha, a, b = params
    uT, iT = np.unique(T, return_inverse=True)
    iT = iT.ravel()
    z = t[None, :] / (alpha + uT[:, None] + t[None, :])                # (distinct T, t)
    log_1mz = np.log(alpha + uT)[:, None] - np.log(alpha + uT[:, None] + t[None, :])

    def direct(n, rows):                      # v at frequency n (array) on rows of z
        n = np.asarray(n, float)[:, None]
        return np.exp((r + n) * log_1mz[rows]) * special.hyp2f1(r + n, b + n, a + b + n - 1, z[rows])

    out = np.empty((len(x), len(t)))
    lowest = 1                                # x = 0: C = a+b-1 may be near 0
    xi = np.rint(x).astype(np.int64)
    rec = (x == xi) & (xi >= lowest) & (z.max(axis=1) <= 0.5)[iT]
    if (~rec).any():
        out[~rec] = direct(x[~rec], iT[~rec])
    if not rec.any():
        return out
    # rows: the distinct T with recurrence pairs, by starting frequency (descending)
    top = np.full(len(uT), -1, dtype=np.int64)
    np.maximum.at(top, iT[rec], xi[rec])
    rows = np.flatnonzero(top >= 0)
    start = -(-np.maximum(top[rows], lowest) // _STEP) * _STEP
    order = np.argsort(-start, kind="stable")
    rows, start = rows[order], start[order]
    pos = np.empty(len(uT), dtype=np.int64)
    pos[rows] = np.arange(len(rows))
    p_ = 1.0 / (1.0 - z[rows])                # 1 / (1-z)
    q_ = z[rows] * p_                         # z / (1-z)
    p_idx = np.flatnonzero(rec)
    p_idx = p_idx[np.argsort(-xi[p_idx], kind="stable")]
    p_pos = pos[iT[p_idx]]
    ns = np.arange(int(start[0]), lowest - 1, -1)
    n_active = np.searchsorted(-start, -ns, side="right")   # rows started at or above n
    p_end = np.searchsorted(-xi[p_idx], -ns, side="right")  # pairs with x >= n
    v1, v2, vn = (np.zeros_like(p_) for _ in range(3))
    tmp = np.empty_like(p_)
    active, lo = 0, 0
    for n, new_active, hi in zip(ns, n_active, p_end):
        if active:
            A, B, C = r + n, b + n, a + b + n - 1
            s = slice(0, active)
            np.multiply(q_[s], -(A + B + 1) / C, out=vn[s])
            np.add(vn[s], p_[s], out=vn[s])
            np.multiply(vn[s], v1[s], out=vn[s])
            np.multiply(q_[s], v2[s], out=tmp[s])
            np.multiply(tmp[s], (A + 1) * (B + 1) / (C * (C + 1)), out=tmp[s])
            np.add(vn[s], tmp[s], out=vn[s])
        if new_active > active:
            new = slice(active, new_active)
            vn[new] = direct(np.full(new_active - active, n), rows[new])
            v1[new] = direct(np.full(new_active - active, n + 1), rows[new])
            active = new_active
        if hi > lo:
            out[p_idx[lo:hi]] = vn[p_pos[lo:hi]]
            lo = hi
        v2, v1, vn = v1, vn, v2
    # near z = 1/2 the two solutions of the recurrence grow alike: direct values there
    far_T = z > _Z_DIRECT                     # (distinct T, t): few rows have any
    pairs = np.flatnonzero(rec & far_T.any(axis=1)[iT])
    if pairs.size:
        k, j = np.nonzero(far_T[iT[pairs]])
        i = pairs[k]
        out[i, j] = (np.exp((r + x[i]) * log_1mz[iT[i], j])
                     * special.hyp2f1(r + x[i], b + x[i], a + b + x[i] - 1, z[iT[i], j]))
    return out


def bgnbd_if_alive_table(params, x, T, t) -> np.ndarray:
    """``E[Y(t_j) | alive at T_i, x_i, T_i]`` for every row i of (x, T) and every t_j:
    an (n, len(t)) table, the values of
    :meth:`BetaGeoModel.conditional_expected_purchases_if_alive` element by element
    (to ~1e-14 relative in the hypergeometric term; see :func:`_lead_hyp_table`)."""
    r, alpha, a, b = params
    x, T, t = (np.asarray(v, dtype=float).ravel() for v in (x, T, t))
    return (a + b + x - 1)[:, None] / (a - 1) * (1 - _lead_hyp_table(params, x, T, t))

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


class BetaGeoModel(RepeatPurchaseModel):
    """BG/NBD (Fader, Hardie & Lee 2005). Parameters ``r, alpha, a, b``.

    Data columns: ``frequency``, ``recency``, ``T`` (one time unit; see
    :meth:`clm_lib.reduce.Engine.summary_data`). Fit on compressed data with
    ``fit(engine.compress(summary), weights="weights")``.

    Examples
    --------
    >>> m = BetaGeoModel().fit(summary)                             # doctest: +SKIP
    >>> m.conditional_expected_purchases(52, summary)              # doctest: +SKIP
    """

    name = "bgnbd"
    label = "BG/NBD"
    param_names = ("r", "alpha", "a", "b")
    _loglik = staticmethod(bgnbd_loglik)
    _loglik_grad = staticmethod(bgnbd_loglik_grad)

    _tables = staticmethod(_tables)
    _weighted_totals = staticmethod(bgnbd_weighted_value_and_grad)

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

    def p_alive_by_params(self, data):
        """``params -> p_alive(data, params)``, the same values, for many draws of the
        parameters: the logarithms are taken once per distinct x, T and t_x of ``data``."""
        x, tx, T = _arr(data, "frequency"), _arr(data, "recency"), _arr(data, "T")
        pos = x > 0
        (ix, ux), (iT, uT), (itx, utx) = (pd.factorize(v) for v in (x, T, tx))

        def p_alive(params):
            r, alpha, a, b = self._p(params)
            with np.errstate(divide="ignore", invalid="ignore"):
                log_ratio = ((np.log(a) - np.log(np.where(ux > 0, b + ux - 1, 1.0)))[ix]
                             + (r + x) * (np.log(alpha + uT)[iT] - np.log(alpha + utx)[itx]))
            return np.where(pos, special.expit(-log_ratio), 1.0)

        return p_alive

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

    def conditional_expected_purchases_if_alive_table(self, t, data, params=None):
        """:meth:`conditional_expected_purchases_if_alive` for every row of ``data`` and
        every time of ``t``: an (n, len(t)) array (:func:`bgnbd_if_alive_table`)."""
        return bgnbd_if_alive_table(self._p(params), _arr(data, "frequency"), _arr(data, "T"), t)

    def conditional_expected_purchases(self, t, data, params=None):
        """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] (FHL 2005, eq. 10)."""
        return (self.conditional_expected_purchases_if_alive(t, data, params)
                * self.p_alive(data, params))

    def sample_future_state(self, data, rng, params=None, p_alive=None):
        """One draw of each customer's state at T from the posterior given her history:
        alive (with probability P(alive)) and, if alive, her purchase rate and dropout
        probability. Given alive at T the posterior of (lambda, p) factorises into
        Gamma(r + x, rate alpha + T) and Beta(a, b + x) (the alive component of the
        individual likelihood). Returns :class:`~clm_lib.clv.base.FutureState`."""
        r, alpha, a, b = self._p(params)
        x, T = _arr(data, "frequency"), _arr(data, "T")
        alive = rng.random(len(x)) < (self.p_alive(data, params) if p_alive is None else p_alive)
        x, T = x[alive], T[alive]
        return FutureState.for_alive(alive, rng.gamma(r + x, 1.0 / (alpha + T)), rng.beta(a, b + x))

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
