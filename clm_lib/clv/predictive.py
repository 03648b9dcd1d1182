"""Predictive distributions of future purchases and value: parameter uncertainty *and*
the randomness of each customer's purchases.

An interval from parameter draws alone (:func:`clm_lib.clv.valuation.customer_value`)
says how well the model's *expectation* is known; it does not say where the realised
number will fall. On 2,000 simulated BG/NBD customers such intervals held the realised
holdout total in 73 % of runs at a nominal 90 %, and a customer's own realised purchases
in 1 %. The predictive distribution here adds the outcome noise, by simulation:

1. draw the parameters from the asymptotic normal of the MLE (:meth:`sample_params`);
2. draw each customer's state at T from the posterior given her history and those
   parameters: alive or not (P(alive)), and if alive her purchase rate and her dropout
   (:meth:`~clm_lib.clv.base.RepeatPurchaseModel.sample_future_state`);
3. simulate her purchases over the next ``duration`` time units: a Poisson process at
   that rate, ending at her death (after any purchase with the dropout probability for
   BG/NBD and MBG/NBD; at an exponential lifetime for Pareto/NBD);
4. with a spend model, draw her mean spend rate from the Gamma-Gamma posterior and each
   purchase's spend from it, and discount each purchase as in
   :mod:`clm_lib.clv.valuation` (a purchase in time unit k as if at its end).

One simulated future of every customer per parameter draw: the totals over customers are
draws from the predictive distribution of the total, and each customer's own draws give
her predictive interval. The mean of the draws converges to the model's conditional
expectation (tested for every model); the interval's coverage is tested by simulation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clm_lib.checks import require_columns as _check
from clm_lib.clv.base import FutureState
from clm_lib.clv.valuation import distinct_rows
from clm_lib.exceptions import ParameterError

__all__ = ["PredictiveDraws", "predictive_draws", "simulate_purchases"]

#: Customer x draw cells simulated at once (memory: ~10 arrays of this many values).
_CELLS = 4_000_000


@dataclass(frozen=True)
class PredictiveDraws:
    """What :func:`predictive_draws` returns.

    ``total_purchases`` (and ``total_value`` with a spend model) hold one draw of the
    total over all customers per parameter draw; ``bounds`` the per-customer central
    ``level`` interval of her purchases (``purchases_lower``, ``purchases_upper``: whole
    purchases) and, with a spend model, of her discounted margin (``value_lower``,
    ``value_upper``), each an array in the order of the data.
    """

    level: float
    total_purchases: np.ndarray
    total_value: np.ndarray | None
    bounds: dict

    def interval(self, what: str = "purchases") -> list[float]:
        """Central ``level`` interval of the total (``"purchases"`` or ``"value"``),
        equal-tailed quantiles of the draws."""
        draws = self.total_purchases if what == "purchases" else self.total_value
        q = [(1 - self.level) / 2, (1 + self.level) / 2]
        return [float(v) for v in np.quantile(draws, q)]


def simulate_purchases(state, duration, rng: np.random.Generator, *, discount_rate: float = 0.0,
                       spend_rate=None, spend_shape: float | None = None):
    """Simulate purchases over ``duration`` time units from customers' states at T.

    Parameters
    ----------
    state : FutureState
        Per-customer state (:meth:`sample_future_state` of a purchase model).
    duration : float or array
        Time units ahead (per customer or one for all).
    rng : numpy Generator
    discount_rate : float
        Per time unit; a purchase in unit k counts ``(1 + d)^-k``.
    spend_rate, spend_shape : arrays or float, optional
        Gamma-Gamma: each purchase's spend is Gamma(``spend_shape``, rate
        ``spend_rate`` of the customer). Without them no value is simulated.

    Returns
    -------
    purchases : int64 array
        Purchases of each customer in (T, T + duration].
    value : float array or None
        Sum of discounted spend of those purchases.
    """
    n = len(state.rate)
    end = np.minimum(np.broadcast_to(np.asarray(duration, float), (n,)), state.lifetime)
    if spend_rate is None:
        # counts only: the arrivals in the window are Poisson(rate * end), and a BG-type
        # customer stops after her K-th purchase, K ~ Geometric(dropout): min(N, K)
        live = state.alive & (state.rate > 0) & (end > 0)
        count = np.zeros(n, dtype=np.int64)
        count[live] = rng.poisson(state.rate[live] * end[live])
        drops = live & (state.dropout > 0)
        count[drops] = np.minimum(count[drops], rng.geometric(state.dropout[drops]))
        return count, None
    count = np.zeros(n, dtype=np.int64)
    value = None if spend_rate is None else np.zeros(n)
    t = np.zeros(n)
    idx = np.flatnonzero(state.alive & (state.rate > 0) & (end > 0))
    while idx.size:
        t[idx] += rng.standard_exponential(idx.size) / state.rate[idx]
        idx = idx[t[idx] <= end[idx]]
        count[idx] += 1
        if value is not None:
            shape = spend_shape if np.ndim(spend_shape) == 0 else spend_shape[idx]
            spend = rng.standard_gamma(shape, idx.size) / spend_rate[idx]
            value[idx] += spend * (1.0 + discount_rate) ** -np.ceil(t[idx])
        # after a purchase a BG-type customer drops out with her dropout probability
        idx = idx[rng.random(idx.size) >= state.dropout[idx]]
    return count, value


def _order_statistics(draws: np.ndarray, level: float):
    """Per row of ``draws`` (customers x draws), the equal-tailed ``level`` interval by
    the inverted empirical distribution: the smallest draw with at least (1 - level) / 2
    of the draws at or below it, and likewise for (1 + level) / 2, so whole purchases stay
    whole."""
    s = np.sort(draws, axis=1)
    n = s.shape[1]
    lo = max(int(np.ceil(n * (1 - level) / 2)) - 1, 0)
    hi = min(int(np.ceil(n * (1 + level) / 2)) - 1, n - 1)
    return s[:, lo], s[:, hi]


def predictive_draws(model, data, duration, *, params, seed: int | None = 0, level: float = 0.9,
                     spend_model=None, spend_params=None, spend_data=None,
                     discount_rate: float = 0.0, margin: float = 1.0) -> PredictiveDraws:
    """Predictive draws of each customer's purchases (and value) over ``duration``.

    Parameters
    ----------
    model : fitted BG/NBD, MBG/NBD or Pareto/NBD model
    data : DataFrame or mapping
        ``frequency``, ``recency``, ``T`` (the model's time unit), one row per customer.
    duration : float or array
        Time units ahead (e.g. the holdout length of each customer, or the horizon).
    params : (n_draws, k) array
        Parameter draws of ``model`` (:meth:`sample_params`); one simulated future of every
        customer per draw.
    seed : int, optional
        Seed of the outcome randomness (the results are reproducible).
    level : float
        Level of the per-customer intervals and of :meth:`PredictiveDraws.interval`.
    spend_model, spend_params, spend_data
        Fitted Gamma-Gamma model, its parameter draws (same number as ``params``) and the
        customers' ``frequency`` (spend observations) and ``monetary_value``; with them the
        discounted margin ``margin * sum(spend * discount)`` is simulated too.
    discount_rate, margin : float
        Per time unit; fraction of spend that is margin.
    """
    _check(data, ["frequency", "recency", "T"], "predictive data")
    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1); got {level!r}")
    params = np.atleast_2d(np.asarray(params, float))
    n_draws = len(params)
    if n_draws < 1:
        raise ParameterError("predictive draws need at least one parameter draw")
    with_value = spend_model is not None
    if with_value and (spend_params is None or len(spend_params) != n_draws or spend_data is None):
        raise ParameterError("spend_params (one per parameter draw) and spend_data are needed "
                             "with spend_model")
    cols = {c: np.asarray(data[c], float) for c in ("frequency", "recency", "T")}
    n = len(cols["T"])
    dur = np.broadcast_to(np.asarray(duration, float), (n,))
    if with_value:
        sx = np.asarray(spend_data["frequency"], float)
        sz = np.where(sx > 0, np.asarray(spend_data["monetary_value"], float), 0.0)
    tot_pur = np.zeros(n_draws)
    tot_val = np.zeros(n_draws) if with_value else None
    bounds = {k: np.empty(n) for k in ("purchases_lower", "purchases_upper")
              + (("value_lower", "value_upper") if with_value else ())}
    step = max(_CELLS // n_draws, 1)
    blocks = [slice(lo, min(lo + step, n)) for lo in range(0, n, step)]
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(blocks))]
    for sl, rng in zip(blocks, rngs):
        part = {c: v[sl] for c, v in cols.items()}
        m = sl.stop - sl.start
        # P(alive) per distinct history of the block, for every draw
        codes, first = distinct_rows(*part.values())
        p_alive = model.p_alive_by_params({c: v[first] for c, v in part.items()})
        # every draw's states stacked (draw-major), then one simulation of all of them
        states = [model.sample_future_state(part, rng, p, p_alive=p_alive(p)[codes])
                  for p in params]
        state = FutureState(*(np.concatenate(f) for f in zip(*states)))
        rate = shape = None
        if with_value:
            sp, sq, sg = (np.repeat(np.asarray(spend_params, float)[:, j], m) for j in range(3))
            x_s, z_s = np.tile(sx[sl], n_draws), np.tile(sz[sl], n_draws)
            # each customer's spend rate nu from its Gamma-Gamma posterior, per draw
            rate = rng.gamma(sp * x_s + sq, 1.0 / (sg + x_s * z_s))
            shape = sp
        count, value = simulate_purchases(state, np.tile(dur[sl], n_draws), rng,
                                          discount_rate=discount_rate, spend_rate=rate,
                                          spend_shape=shape)
        pur = count.reshape(n_draws, m).T
        tot_pur += pur.sum(axis=0)
        bounds["purchases_lower"][sl], bounds["purchases_upper"][sl] = _order_statistics(pur, level)
        if with_value:
            val = margin * value.reshape(n_draws, m).T
            tot_val += val.sum(axis=0)
            bounds["value_lower"][sl], bounds["value_upper"][sl] = _order_statistics(val, level)
    return PredictiveDraws(level=float(level), total_purchases=tot_pur, total_value=tot_val,
                           bounds=bounds)
