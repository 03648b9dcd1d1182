"""MBG/NBD: the modified BG/NBD of Batislam, Denizel & Filiztekin (2007).

Batislam, E. P., Denizel, M. & Filiztekin, A. (2007), "Empirical validation and comparison of
models for customer base analysis", *International Journal of Research in Marketing* 24(3),
201-209. As the BG/NBD (Fader, Hardie & Lee 2005), but a customer may also drop out right
after her *first* purchase (time 0), so customers without repeat purchases are no longer
certainly alive. With ``lambda ~ Gamma(r, rate alpha)``, ``p ~ Beta(a, b)``:

``L = G(r+x) alpha^r / G(r) * [ B(a, b+x+1)/B(a,b) (alpha+T)^-(r+x)
                               + B(a+1, b+x)/B(a,b) (alpha+t_x)^-(r+x) ]``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from clm_lib.clv.base import FutureState, RepeatPurchaseModel
from clm_lib.clv.bgnbd import _tables as bgnbd_tables
from clm_lib.clv.bgnbd import softplus

__all__ = ["ModifiedBetaGeoModel", "mbgnbd_loglik", "simulate_mbgnbd"]


def _arr(data, col):
    return np.asarray(data[col], dtype=float)


def _parts(params, data):
    r, alpha, a, b = params
    x, tx, T = _arr(data, "frequency"), _arr(data, "recency"), _arr(data, "T")
    head = (special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
            - special.betaln(a, b))
    t1 = special.betaln(a, b + x + 1) - (r + x) * np.log(alpha + T)
    t2 = special.betaln(a + 1, b + x) - (r + x) * np.log(alpha + tx)
    return x, tx, T, head, t1, t2


def mbgnbd_loglik(params, data) -> np.ndarray:
    """Per-customer MBG/NBD log-likelihood (Batislam et al. 2007, eq. 5), in log space."""
    _, _, _, head, t1, t2 = _parts(params, data)
    return head + np.logaddexp(t1, t2)


def mbgnbd_loglik_grad(params, data) -> np.ndarray:
    """Gradient of :func:`mbgnbd_loglik` in (r, alpha, a, b); shape (n, 4)."""
    r, alpha, a, b = params
    x, tx, T, _, t1, t2 = _parts(params, data)
    w2 = special.expit(t2 - t1)
    w1 = 1.0 - w2
    dg = special.digamma
    g = np.empty((len(x), 4))
    g[:, 0] = (dg(r + x) - dg(r) + np.log(alpha)
               - w1 * np.log(alpha + T) - w2 * np.log(alpha + tx))
    g[:, 1] = r / alpha - (r + x) * (w1 / (alpha + T) + w2 / (alpha + tx))
    d_end = dg(a + b + x + 1)
    g[:, 2] = -(dg(a) - dg(a + b)) + w1 * (dg(a) - d_end) + w2 * (dg(a + 1) - d_end)
    g[:, 3] = -(dg(b) - dg(a + b)) + w1 * (dg(b + x + 1) - d_end) + w2 * (dg(b + x) - d_end)
    return g


def _tables(x, tx, T, w) -> dict:
    """Parameter-free tables for :func:`mbgnbd_weighted_value_and_grad`: those of the
    BG/NBD (every term in one of x, T or t_x alone summed per distinct value). The
    dropout term mixes them; for a customer without repeat purchases (x = 0, t_x = 0)
    it depends on T alone, so those customers are summed per T (``w0_T``) and only the
    others stay per customer."""
    by_T = (x == 0) & (tx == 0)
    tables = bgnbd_tables(x, tx, T, w, per_customer=~by_T)
    iT = np.searchsorted(tables["uT"], T[by_T])
    return {**tables, "w0_T": np.bincount(iT, w[by_T], len(tables["uT"]))}


def mbgnbd_weighted_value_and_grad(params, tables):
    """Weighted total log-likelihood and its gradient in (r, alpha, a, b).

    The same value as ``w @ mbgnbd_loglik(params, data)`` (and gradient as
    ``w @ mbgnbd_loglik_grad``), on the tables of :func:`_tables`. Per customer
    ``ln L = c + c_x - (r+x) ln(alpha+T) + ln(1 + e^d)`` with
    ``c_x = ln G(r+x) + ln G(b+x+1) - ln G(a+b+x+1)`` and
    ``d = ln a - ln(b+x) - (r+x)(ln(alpha+t_x) - ln(alpha+T))``; the weight of the
    dropout branch in the gradient is ``expit(d)``.
    """
    r, alpha, a, b = params
    gl, dg = special.gammaln, special.digamma
    ux, uT, utx = tables["ux"], tables["uT"], tables["utx"]
    w_x, w_T, wx_T, w0_T = tables["w_x"], tables["w_T"], tables["wx_T"], tables["w0_T"]
    w_total = w_x.sum()
    lT, ltx = np.log(alpha + uT), np.log(alpha + utx)
    inv_T, inv_tx = 1.0 / (alpha + uT), 1.0 / (alpha + utx)
    c_x = gl(r + ux) + gl(b + ux + 1) - gl(a + b + ux + 1)
    dab_x = dg(a + b) - dg(a + b + ux + 1)
    rw_T = r * w_T + wx_T                                       # sum of w (r+x) per T
    # customers with repeat purchases (or a t_x of their own)
    ix, iT, itx, x, w = (tables[k] for k in ("ix", "iT", "itx", "x", "w"))
    take = np.take
    rx = r + x
    delta = take(ltx, itx) - take(lT, iT)
    d = take(np.log(a) - np.log(b + ux), ix) - rx * delta
    p = special.expit(d)
    wp = w * p
    # x = t_x = 0, per distinct T
    delta0 = np.log(alpha) - lT
    d0 = np.log(a) - np.log(b) - r * delta0
    p0 = special.expit(d0)
    wp0 = w0_T * p0
    total = (w_total * (-gl(r) + r * np.log(alpha) + gl(a + b) - gl(b)) + w_x @ c_x
             - rw_T @ lT + w @ softplus(d, p) + w0_T @ softplus(d0, p0))
    s_p_x = np.bincount(ix, wp, len(ux))                        # sum of w p per x
    grad = np.array([
        w_x @ dg(r + ux) + w_total * (np.log(alpha) - dg(r)) - w_T @ lT - wp @ delta
        - wp0 @ delta0,
        w_total * r / alpha - rw_T @ inv_T - (wp * rx) @ (take(inv_tx, itx) - take(inv_T, iT))
        - r * (wp0 @ (1.0 / alpha - inv_T)),
        w_x @ dab_x + (wp.sum() + wp0.sum()) / a,
        w_x @ (dab_x + dg(b + ux + 1)) - w_total * dg(b) - s_p_x @ (1.0 / (b + ux))
        - wp0.sum() / b,
    ])
    return float(total), grad


def simulate_mbgnbd(params, T, *, seed=None) -> pd.DataFrame:
    """Simulate ``frequency``, ``recency``, ``T`` under the MBG/NBD (death coin also at 0)."""
    r, alpha, a, b = params
    rng = np.random.default_rng(seed)
    T = np.asarray(T, dtype=float)
    n = len(T)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x, tx, t = np.zeros(n), np.zeros(n), np.zeros(n)
    active = rng.random(n) >= p          # may drop out right after the first purchase
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1.0, idx.size) / lam[idx]
        buys = t[idx] <= T[idx]
        b_idx = idx[buys]
        x[b_idx] += 1
        tx[b_idx] = t[b_idx]
        active[idx[~buys]] = False
        active[b_idx[rng.random(b_idx.size) < p[b_idx]]] = False
    return pd.DataFrame({"frequency": x, "recency": tx, "T": T})


class ModifiedBetaGeoModel(RepeatPurchaseModel):
    """MBG/NBD (Batislam, Denizel & Filiztekin 2007). Parameters ``r, alpha, a, b``."""

    name = "mbgnbd"
    label = "MBG/NBD"
    param_names = ("r", "alpha", "a", "b")
    _loglik = staticmethod(mbgnbd_loglik)
    _loglik_grad = staticmethod(mbgnbd_loglik_grad)

    _tables = staticmethod(_tables)
    _weighted_totals = staticmethod(mbgnbd_weighted_value_and_grad)

    def _initial_params(self, data):
        x, T = data["frequency"], data["T"]
        rate = max(np.mean(x) / max(np.mean(T), 1e-9), 1e-3)
        return np.array([0.5, 0.5 / rate, 1.0, 2.0])

    def expected_purchases(self, t, params=None):
        """E[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]."""
        r, alpha, a, b = self._p(params)
        t = np.asarray(t, dtype=float)
        return b / (a - 1) * (1 - (alpha / (alpha + t)) ** r
                              * special.hyp2f1(r, b + 1, a + b, t / (alpha + t)))

    def p_alive(self, data, params=None):
        """P(alive at T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)), also for x = 0."""
        r, alpha, a, b = self._p(params)
        x, tx, T = _arr(data, "frequency"), _arr(data, "recency"), _arr(data, "T")
        log_ratio = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return special.expit(-log_ratio)

    def conditional_expected_purchases_if_alive(self, t, data, params=None):
        """E[Y(t) | alive, x, T]: a BG/NBD customer with (r+x, alpha+T, a, b+x+1)."""
        r, alpha, a, b = self._p(params)
        x, T = _arr(data, "frequency"), _arr(data, "T")
        t = np.asarray(t, dtype=float)
        z = t / (alpha + T + t)
        return (a + b + x) / (a - 1) * (
            1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
            * special.hyp2f1(r + x, b + x + 1, a + b + x, z))

    def conditional_expected_purchases(self, t, data, params=None):
        """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t]."""
        return (self.conditional_expected_purchases_if_alive(t, data, params)
                * self.p_alive(data, params))

    def sample_future_state(self, data, rng, params=None, p_alive=None):
        """One posterior draw of each customer's state at T (see
        :meth:`BetaGeoModel.sample_future_state`): alive with probability P(alive); then
        Gamma(r + x, rate alpha + T) and Beta(a, b + x + 1), as the MBG/NBD customer has
        survived x + 1 dropout chances (the first purchase included)."""
        r, alpha, a, b = self._p(params)
        x, T = _arr(data, "frequency"), _arr(data, "T")
        alive = rng.random(len(x)) < (self.p_alive(data, params) if p_alive is None else p_alive)
        x, T = x[alive], T[alive]
        return FutureState.for_alive(alive, rng.gamma(r + x, 1.0 / (alpha + T)),
                                     rng.beta(a, b + x + 1))

    def probability_of_purchases(self, x, t, params=None):
        """P(X(t) = x) = B(a,b+x+1)/B(a,b) NBD(x; t) + B(a+1,b+x)/B(a,b) P_NBD(N(t) >= x)."""
        r, alpha, a, b = self._p(params)
        x = np.asarray(x, dtype=float)
        t = float(t)
        lb = special.betaln(a, b)
        log_nbd = (special.gammaln(r + x) - special.gammaln(r) - special.gammaln(x + 1)
                   + r * np.log(alpha / (alpha + t)) + x * np.log(t / (alpha + t)))
        tail = np.where(x > 0, special.betainc(np.maximum(x, 1), r, t / (alpha + t)), 1.0)
        return (np.exp(special.betaln(a, b + x + 1) - lb + log_nbd)
                + np.exp(special.betaln(a + 1, b + x) - lb) * tail)
