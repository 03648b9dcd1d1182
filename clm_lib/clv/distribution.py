"""The distribution of future purchases: P(Y(t) = k | history), P(no purchase in the next
t), and what a customer just acquired is expected to buy.

For the three purchase models a customer *alive at T* given her history is, from T on, a
customer just acquired with updated parameters (the Poisson process is memoryless, the
posteriors are conjugate):

- BG/NBD (Fader, Hardie & Lee 2005): ``lambda ~ Gamma(r + x, rate alpha + T)``,
  ``p ~ Beta(a, b + x)``; she may drop out only after a purchase, so her future is a BG/NBD
  customer with ``(r + x, alpha + T, a, b + x)``.
- MBG/NBD (Batislam et al. 2007): ``p ~ Beta(a, b + x + 1)`` (she survived x + 1 coins,
  the one at her first purchase included); from T on no coin is tossed before her next
  purchase, so her future is a *BG/NBD* customer with ``(r + x, alpha + T, a, b + x + 1)``.
- Pareto/NBD (note 008): ``lambda ~ Gamma(r + x, alpha + T)`` and ``mu ~ Gamma(s, beta + T)``
  independent; her exponential lifetime is memoryless, so she may die during the window and
  her future is a Pareto/NBD customer with ``(r + x, alpha + T, s, beta + T)``.

Hence ``P(Y(t) = k | x, t_x, T) = P(alive) P_new(X(t) = k; updated) + (1 - P(alive)) [k = 0]``
and ``P(no purchase in (T, T + t]) = P(alive) P_new(X(t) = 0; updated) + 1 - P(alive)``: the
models' own closed forms of P(X(t) = k) (``probability_of_purchases``: FHL 2005 eq. 8, the
MBG/NBD paper, SMC 1987 / Fader-Hardie) evaluated at the updated parameters, once per distinct
(x, T); for the Pareto/NBD by quadrature over her lifetime (:func:`pareto_nbd_pmf_rows`).
For the Pareto/NBD, Fader & Hardie's note 028 ("The Pareto/NBD conditional PMF", eq. 16, the
form lifetimes' ``conditional_probability_of_n_purchases_up_to_time`` evaluates) writes the
same quantity as one closed form: the tests check ours against it, and every model against
event-level simulation of its generative story. Times are in the model's time unit (the
fit's: e.g. weeks).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from clm_lib.checks import require_columns as _check
from clm_lib.clv.bgnbd import BetaGeoModel
from clm_lib.clv.mbgnbd import ModifiedBetaGeoModel
from clm_lib.clv.pareto_nbd import ParetoNBDModel
from clm_lib.exceptions import ParameterError

__all__ = ["alive_params", "conditional_pmf", "conditional_pmf_at", "p_no_purchase",
           "new_customer_pmf", "new_customer_expected", "pareto_nbd_pmf_rows"]

_BG = BetaGeoModel()


def _kind(model) -> str:
    if isinstance(model, ModifiedBetaGeoModel):
        return "mbgnbd"
    if isinstance(model, BetaGeoModel):
        return "bgnbd"
    if isinstance(model, ParetoNBDModel):
        return "pareto_nbd"
    raise ParameterError(f"model: no purchase distribution for {type(model).__name__}; "
                         "expected BG/NBD, MBG/NBD or Pareto/NBD")


def alive_params(model, x, T, params=None) -> np.ndarray:
    """Parameters of the customer-just-acquired model that an alive customer with ``x``
    repeat purchases at age ``T`` follows from T on (see the module docstring); one row per
    (x, T), in the order of the future model's parameters (BG/NBD for BG/NBD and MBG/NBD)."""
    kind = _kind(model)
    p1, p2, p3, p4 = model._p(params)
    x, T = np.asarray(x, float), np.asarray(T, float)
    one = np.ones_like(x + T)
    if kind == "bgnbd":
        cols = (p1 + x, p2 + T, p3 * one, p4 + x)
    elif kind == "mbgnbd":
        cols = (p1 + x, p2 + T, p3 * one, p4 + x + 1)
    else:
        cols = (p1 + x, p2 + T, p3 * one, p4 + T)
    return np.column_stack([np.broadcast_to(c, one.shape).ravel() for c in cols])


def _k_values(k) -> np.ndarray:
    k = np.atleast_1d(np.asarray(k))
    if k.size == 0 or np.any(k < 0) or np.any(k != np.round(k)):
        raise ParameterError(f"k: purchase counts must be whole numbers >= 0, got {k.tolist()}")
    return k.astype(int)


def _check_t(t) -> float:
    t = float(t)
    if not np.isfinite(t) or t <= 0:
        raise ParameterError(f"t: the window must be a positive number of time units, got {t}")
    return t


def new_customer_pmf(model, k, t, params=None) -> np.ndarray:
    """P(X(t) = k) for a customer just acquired (at time 0), for every k of ``k``: the
    model's ``probability_of_purchases`` (its paper's closed form); ``t`` in time units."""
    _kind(model)
    return np.asarray(model.probability_of_purchases(_k_values(k), _check_t(t), params=params), float)


#: Gauss-Legendre rule of each piece of :func:`pareto_nbd_pmf_rows`' integral.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
#: Its pieces: [0, t rho^m] and geometric pieces [t rho^(i+1), t rho^i] up to t.
_RHO, _PIECES = 0.7, 40


def _log_nbd(k, r, alpha, tau):
    """ln P(N(tau) = k) of a Poisson process with a Gamma(r, rate alpha) rate (NBD)."""
    with np.errstate(divide="ignore"):
        return (special.gammaln(r + k) - special.gammaln(r) - special.gammaln(k + 1)
                + r * (np.log(alpha) - np.log(alpha + tau)) + k * (np.log(tau) - np.log(alpha + tau)))


def pareto_nbd_pmf_rows(k, t, r, alpha, s, beta) -> np.ndarray:
    """P(X(t) = k) of a Pareto/NBD customer just acquired, for arrays of parameters (one
    row each) and counts ``k`` (columns): an (n, len(k)) table.

    Her lifetime tau is Lomax(s, beta) (exponential with a Gamma(s, beta) rate), independent
    of her purchases, so ``P(X(t) = k) = S(t) NBD(k; t) + int_0^t f(tau) NBD(k; tau) dtau``
    with ``S(t) = (beta / (beta + t))^s``, ``f = s beta^s / (beta + tau)^(s+1)`` and
    ``NBD(k; tau)`` the Gamma(r, alpha)-mixed Poisson probability of k purchases in tau. The
    integral is taken by Gauss-Legendre on pieces that shrink geometrically towards 0 (the
    integrand peaks near ``tau = k alpha / r``, close to 0 for a frequent buyer): no
    difference of nearly equal terms, so it stays accurate where the closed form of
    :meth:`ParetoNBDModel.probability_of_purchases` loses every digit (r of 100 and more:
    the history of a frequent buyer); the tests check the two agree where both are exact.
    """
    k = _k_values(k).astype(float)[None, :, None]
    r, alpha, s, beta = (np.asarray(v, float).ravel()[:, None, None] for v in (r, alpha, s, beta))
    t = _check_t(t)
    ends = t * _RHO ** np.arange(_PIECES + 1)[::-1]            # increasing, last = t
    lo, hi = np.r_[0.0, ends[:-1]], ends
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    tau = (mid[:, None] + half[:, None] * _GL_NODES[None, :]).ravel()[None, None, :]
    w = (half[:, None] * _GL_WEIGHTS[None, :]).ravel()[None, None, :]
    log_f = np.log(s) + s * np.log(beta) - (s + 1) * np.log(beta + tau)
    integral = np.sum(w * np.exp(log_f + _log_nbd(k, r, alpha, tau)), axis=2)
    survive = np.exp(s * (np.log(beta) - np.log(beta + t)) + _log_nbd(k, r, alpha, t))[:, :, 0]
    return survive + integral


def _future_pmf_rows(model, post, k, t) -> np.ndarray:
    """P_new(X(t) = k_j) at each row of future-model parameters ``post``: (n, len(k))."""
    if _kind(model) == "pareto_nbd":
        return np.vstack([pareto_nbd_pmf_rows(k, t, *post[i:i + 512].T)
                          for i in range(0, len(post), 512)]) if len(post) else np.zeros((0, len(k)))
    return np.array([_BG.probability_of_purchases(k, t, params=p) for p in post], float).reshape(len(post), len(k))


def _alive_pmf_table(model, x, T, k, t, params):
    """P_new(X(t) = k_j; updated(x_i, T_i)) as an (n, len(k)) table, once per distinct (x, T)."""
    x, T = np.asarray(x, float), np.asarray(T, float)
    pairs, inv = np.unique(np.column_stack([x, T]), axis=0, return_inverse=True)
    post = alive_params(model, pairs[:, 0], pairs[:, 1], params)
    return _future_pmf_rows(model, post, k, t)[inv.ravel()]


def conditional_pmf(model, data: pd.DataFrame, k, t, params=None) -> np.ndarray:
    """P(Y(t) = k | x, t_x, T): the probability that each customer makes exactly k
    purchases in (T, T + t], given her history.

    Parameters
    ----------
    model : fitted BetaGeoModel, ModifiedBetaGeoModel or ParetoNBDModel
    data : DataFrame
        ``frequency``, ``recency``, ``T`` (the model's time unit), one row per customer.
    k : int or sequence of int
        Purchase counts (>= 0).
    t : float
        Window length, time units.
    params : array-like, optional
        Parameters instead of the fitted ones.

    Returns
    -------
    ndarray of shape (n customers, len(k)).
    """
    _check(data, ["frequency", "recency", "T"], "purchase distribution data")
    k, t = _k_values(k), _check_t(t)
    alive = np.asarray(model.p_alive(data, params), float)
    table = _alive_pmf_table(model, data["frequency"], data["T"], k, t, params)
    return alive[:, None] * table + (1.0 - alive)[:, None] * (k == 0)[None, :]


def conditional_pmf_at(model, data: pd.DataFrame, counts, t, params=None) -> np.ndarray:
    """P(Y(t_i) = y_i | history_i): each customer's probability of her own count ``y_i``
    (``counts``) in a window of ``t_i`` time units (``t``: scalar or per customer), e.g. her
    holdout purchases; once per distinct (x, T, t, y)."""
    _check(data, ["frequency", "recency", "T"], "purchase distribution data")
    n = len(data)
    y = _k_values(counts) if n else np.zeros(0, int)
    t = np.broadcast_to(np.asarray(t, float), (n,))
    if len(y) != n:
        raise ParameterError(f"counts: one per customer expected, got {len(y)} for {n} customers")
    alive = np.asarray(model.p_alive(data, params), float)
    keys = np.column_stack([np.asarray(data["frequency"], float), np.asarray(data["T"], float), t, y])
    u, inv = np.unique(keys, axis=0, return_inverse=True)
    post = alive_params(model, u[:, 0], u[:, 1], params)
    pk = np.empty(len(u))
    ty, group = np.unique(u[:, 2:], axis=0, return_inverse=True)
    group = group.ravel()
    for g, (tt, yy) in enumerate(ty):                 # one call per distinct (t, y)
        rows = np.flatnonzero(group == g)
        pk[rows] = _future_pmf_rows(model, post[rows], [int(yy)], tt)[:, 0]
    return alive * pk[inv.ravel()] + (1.0 - alive) * (y == 0)


def p_no_purchase(model, data: pd.DataFrame, t, params=None) -> np.ndarray:
    """P(no purchase in (T, T + t] | x, t_x, T) per customer: ``1 - P(alive)`` plus
    ``P(alive)`` times the probability that an alive customer makes none (for the
    Pareto/NBD she may die within the window, for the BG/NBD and MBG/NBD only after a
    purchase). ``t`` in time units. An operational churn score for transaction businesses."""
    return conditional_pmf(model, data, [0], t, params)[:, 0]


def new_customer_expected(model, horizon: int, discount_rate: float = 0.0, params=None) -> dict:
    """What a customer just acquired is expected to buy over the next ``horizon`` whole
    time units: ``purchases`` E[X(horizon)] (repeat purchases, the model's
    ``expected_purchases``) and ``discounted_purchases``, each unit's expected purchases
    ``E[X(k)] - E[X(k-1)]`` discounted by ``(1 + discount_rate)^-k`` (a purchase in unit k
    as if at its end, as :mod:`clm_lib.clv.valuation` discounts)."""
    horizon = int(horizon)
    if horizon < 1:
        raise ParameterError(f"horizon: at least one time unit, got {horizon}")
    steps = np.arange(horizon + 1, dtype=float)
    cum = np.asarray(model.expected_purchases(steps, params=params), float)
    cum[0] = 0.0
    per_unit = np.diff(cum)
    disc = (1.0 + discount_rate) ** -steps[1:]
    return {"purchases": float(cum[-1]), "discounted_purchases": float(per_unit @ disc)}
