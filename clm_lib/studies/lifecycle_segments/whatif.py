"""Retention what-if: the value of lower dropout in the BG/NBD or MBG/NBD, under two stated
assumptions, with parameter intervals.

In both models a customer who is alive stops after each purchase with probability ``p``
(in the MBG/NBD also right after her first); ``p ~ Beta(a, b)`` across customers. Given her
history and that she is alive, her purchase rate is ``lambda ~ Gamma(r + x, alpha + T)`` and
her ``p ~ Beta(a, b + x)`` (BG/NBD) or ``Beta(a, b + x + 1)`` (MBG/NBD), and her expected
purchases in the next ``t`` time units, given ``lambda`` and ``p``, are
``(1 - exp(-lambda p t)) / p`` (Fader, Hardie & Lee 2005, eq. 9 before mixing). "``x``
points less churn" is read in one of two ways:

``absolute``
    every alive customer's own dropout probability is cut by ``x`` points,
    ``p -> max(p - x/100, 0)``. The expectation over ``lambda`` is closed-form; the one over
    ``p`` is by quadrature (Gauss-Legendre in the Beta's probability scale where the cut
    bends it, Gauss-Jacobi near ``p = 1``), which reproduces the models' closed forms at
    ``x = 0`` to about 2e-5 (relative; the change is taken against the quadrature's own
    baseline, which cancels most of that).
``proportional``
    the mean of the Beta is lowered by ``x`` points with its concentration ``a + b`` fixed,
    so ``a`` shrinks by the factor ``1 - x / (100 * mean)``: every customer's dropout falls
    by about the same *relative* amount (5.4 % per point at a mean of 18.6 %), so the few
    customers with a low dropout, who hold most of the value, gain little.

Who is alive today is what the data say (P(alive) under the fitted parameters); only the
future changes. Value = ``margin`` x Gamma-Gamma expected spend x discounted expected
purchases, summed over customers; no new customers, no cost of the effort. Intervals
redraw the parameters of both models from the asymptotic normal of their estimates
(:meth:`clm_lib.clv.base.MLEModel.sample_params`) and recompute base and changed value
with each draw: they cover parameter uncertainty, not the chance of future purchases.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import special

from clm_lib.checks import require_columns as _need
from clm_lib.clv.valuation import _det_groups, _map_threads, _xT_groups, spend_frame
from clm_lib.exceptions import ConvergenceError, ParameterError

__all__ = ["ASSUMPTIONS", "retention_what_if", "discounted_purchases_if_alive_cut"]

#: The two readings of "x points less churn" (module docstring).
ASSUMPTIONS = ("absolute", "proportional")
#: Extra dropout chances of an alive customer with x repeat purchases beyond x, per model.
_EXTRA = {"bgnbd": 0, "mbgnbd": 1}
#: Quadrature nodes (below and above the split point) for the estimate and for each draw:
#: relative error of the value about 2e-5 and 1e-4 (CDNOW), and the change is taken against
#: the same quadrature's baseline, which cancels most of it.
NODES, DRAW_NODES = (32, 16), (16, 8)


def _discount_weights(horizon: int, discount_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Time units 1..H and the weights that turn a cumulative expectation into its
    discounted sum of increments (as in :mod:`clm_lib.clv.valuation`)."""
    k = np.arange(1, horizon + 1, dtype=float)
    d = (1.0 + discount_rate) ** -k
    return k, d - np.r_[d[1:], 0.0]


def _discounted_given_p(pp, rx, A, k, wd):
    """Discounted sum over the horizon of E over lambda ~ Gamma(rx, A) of
    (1 - exp(-lambda pp k)) / pp: an (m, nodes) array for rows (rx, A) of length m and cut
    dropouts ``pp`` (nodes); ``k`` the times, ``wd`` their weights."""
    z = np.log1p(pp[None, :, None] * k[None, None, :] / A[:, None, None])
    z *= -rx
    cum = -np.expm1(z, out=z)
    return (cum @ wd) / pp[None, :]


def discounted_purchases_if_alive_cut(params, ux, uT, *, extra: int, horizon: int,
                                      discount_rate: float, cut: float,
                                      nodes: tuple[int, int] = NODES) -> np.ndarray:
    """Discounted expected purchases over ``horizon`` of an alive customer whose dropout
    probability is cut by ``cut`` (a probability, 0 <= cut < 1), per distinct (x, T).

    Parameters
    ----------
    params : (r, alpha, a, b)
        BG/NBD or MBG/NBD parameters (time unit of ``uT``).
    ux, uT : arrays
        Repeat purchases and age (time units) of each distinct history.
    extra : int
        Dropout chances beyond ``x`` that an alive customer survived (0 BG/NBD, 1 MBG/NBD).
    horizon : int
        Time units ahead. discount_rate : per time unit.
    nodes : (int, int)
        Gauss-Legendre nodes below the split point ``(1 + cut) / 2``, Gauss-Jacobi above.
    """
    if not 0 <= cut < 1:
        raise ParameterError("the cut of the dropout probability must be in [0, 1)")
    r, alpha, a, b = (float(v) for v in params)
    k, wd = _discount_weights(int(horizon), discount_rate)
    gl_t, gl_w = special.roots_legendre(int(nodes[0]))
    gl_t, gl_w = (gl_t + 1) / 2, gl_w / 2
    out = np.empty(len(ux))
    ux, uT = np.asarray(ux, float), np.asarray(uT, float)
    for xv in np.unique(ux):
        idx = np.flatnonzero(ux == xv)
        bp = b + xv + extra
        rx, A = r + xv, alpha + uT[idx]
        c = (1.0 + cut) / 2.0                    # lower part up to c, upper part from c
        F0 = special.betainc(a, bp, cut) if cut > 0 else 0.0
        Fc = special.betainc(a, bp, c)
        # p < cut: the customer no longer drops out; E[lambda] k purchases by k
        total = F0 * (rx / A) * float(k @ wd)
        # cut <= p <= c: Gauss-Legendre in the Beta's probability scale (smooth where the
        # cut bends the integrand)
        if Fc > F0:
            u = F0 + (Fc - F0) * gl_t
            p = special.betaincinv(a, bp, u)
            pp = np.maximum(p - cut, 1e-300)
            total = total + (Fc - F0) * (_discounted_given_p(pp, rx, A, k, wd) @ gl_w)
        # c < p < 1: Gauss-Jacobi with the weight (1 - p)^(bp - 1) (bp may be large: then
        # the mass here is negligible and skipped)
        upper = special.betaincc(a, bp, c)
        if upper > 1e-14:
            v, w = special.roots_jacobi(int(nodes[1]), bp - 1, 0.0)
            p = c + (1 - c) * (1 + v) / 2
            logw = (np.log(w) + bp * np.log((1 - c) / 2) + (a - 1) * np.log(p)
                    - special.betaln(a, bp))
            total = total + _discounted_given_p(p - cut, rx, A, k, wd) @ np.exp(logw)
        out[idx] = total
    return out


def _value_parts(model, spend_model, data, spend, groups, params, spend_params):
    """Per distinct (x, T): the sum over its customers of margin-free spend x P(alive)."""
    ux, uT, codes = groups
    alive = model.p_alive(data, params)
    e_spend = spend_model.conditional_expected_spend(spend, params=spend_params)
    return np.bincount(codes, weights=e_spend * alive, minlength=len(ux))


def _values(model, spend_model, data, spend, groups, xs, *, params, spend_params, horizon,
            discount_rate, margin, extra, nodes=NODES):
    """Base value and value under each assumption and cut ``xs`` (points) for one set of
    parameters: dict assumption -> array over ``[0] + xs`` (0 = base for both)."""
    ux, uT, _ = groups
    weight = margin * _value_parts(model, spend_model, data, spend, groups, params, spend_params)
    r, alpha, a, b = (float(v) for v in params)
    s, p0 = a + b, a / (a + b)
    base = float(weight @ _det_groups(model, ux, uT, horizon, discount_rate, params)[0])
    kw = dict(extra=extra, horizon=horizon, discount_rate=discount_rate, nodes=nodes)
    q0 = float(weight @ discounted_purchases_if_alive_cut(params, ux, uT, cut=0.0, **kw))
    out = {"proportional": [base], "absolute": [base]}
    for x in xs:
        pm = p0 - x / 100.0
        if pm <= 0:
            out["proportional"].append(np.nan)
        else:
            det = _det_groups(model, ux, uT, horizon, discount_rate,
                              np.array([r, alpha, pm * s, (1 - pm) * s]))[0]
            out["proportional"].append(float(weight @ det))
        # the quadrature's own baseline cancels its (tiny) error in the change
        cut = float(weight @ discounted_purchases_if_alive_cut(params, ux, uT, cut=x / 100.0, **kw))
        out["absolute"].append(base + cut - q0)
    return {k: np.asarray(v) for k, v in out.items()}


def _mean_after_cut(a: float, b: float, cut: float) -> float:
    """E[max(p - cut, 0)] for p ~ Beta(a, b)."""
    if cut <= 0:
        return a / (a + b)
    return float(a / (a + b) * special.betaincc(a + 1, b, cut) - cut * special.betaincc(a, b, cut))


def retention_what_if(model, spend_model, data: pd.DataFrame, *, points=(1, 5, 10),
                      horizon: int, discount_rate: float, margin: float,
                      shown: str = "absolute", n_draws: int = 100, seed: int | None = 0,
                      level: float = 0.9) -> pd.DataFrame:
    """Value of lowering churn: change in expected customer-base value over ``horizon``
    under both assumptions of the module docstring, with parameter intervals.

    Parameters
    ----------
    model : fitted :class:`~clm_lib.clv.mbgnbd.ModifiedBetaGeoModel` or
        :class:`~clm_lib.clv.bgnbd.BetaGeoModel`
    spend_model : fitted :class:`~clm_lib.clv.gamma_gamma.GammaGammaModel`
    data : DataFrame
        ``frequency``, ``recency``, ``T``, ``monetary_value`` (and ``spend_frequency``).
    points : sequence of float
        Churn reductions in percentage points (0 < x < 100).
    horizon : int
        Time units ahead. discount_rate : per time unit. margin : fraction of spend.
    shown : {"absolute", "proportional"}
        The assumption of the columns ``value``, ``value_change``, ``value_change_pct``
        (and their bounds), which the report leads with.
    n_draws : int
        Parameter draws for the intervals (0: none). seed : of the draws.
    level : float
        Central interval level (0.9: 5 %..95 % of the draws).

    Returns
    -------
    DataFrame indexed by ``points`` (0 = baseline). Per assumption ``A``:
    ``mean_dropout_A`` (mean of the dropout distribution after the cut), ``value_A``,
    ``value_change_A``, ``value_change_pct_A`` and, with draws, ``value_change_A_lower`` /
    ``_upper`` and ``value_change_pct_A_lower`` / ``_upper``; the shown assumption again
    without the suffix (``mean_dropout``, ``value``, ...). ``attrs``: ``shown``,
    ``horizon``, ``a``, ``b``, ``baseline_mean_dropout``, ``model``, ``n_draws``,
    ``level``, ``draws_error`` (why there are no intervals, or None). The proportional
    assumption gives NaN for points at or above the mean dropout.
    """
    _need(data, ["frequency", "recency", "T", "monetary_value"], "CLV data")
    if shown not in ASSUMPTIONS:
        raise ParameterError(f"shown must be one of {ASSUMPTIONS}, not {shown!r}")
    if model.name not in _EXTRA:
        raise ParameterError(f"the what-if needs a BG/NBD or MBG/NBD model, not {model.label}")
    xs = [float(v) for v in points]
    if any(not 0 < x < 100 for x in xs):
        raise ParameterError("what-if points must be between 0 and 100 percentage points")
    extra = _EXTRA[model.name]
    spend = spend_frame(data)
    groups = _xT_groups(data)   # the distinct (frequency, T) pairs, found once for all
    kw = dict(horizon=int(horizon), discount_rate=discount_rate, margin=margin, extra=extra)
    fitted = _values(model, spend_model, data, spend, groups, xs, params=model.params_.to_numpy(),
                     spend_params=None, **kw)
    r, alpha, a, b = (float(v) for v in model.params_.to_numpy())
    p0 = a / (a + b)
    index = pd.Index([0.0] + xs, name="points")
    out = pd.DataFrame(index=index)
    for name, v in fitted.items():
        out[f"mean_dropout_{name}"] = ([p0 - x / 100.0 for x in index] if name == "proportional"
                                       else [_mean_after_cut(a, b, x / 100.0) for x in index])
        out[f"value_{name}"] = v
        out[f"value_change_{name}"] = v - v[0]
        out[f"value_change_pct_{name}"] = (v - v[0]) / v[0]
    draws_error = None
    if n_draws and n_draws > 0:
        try:
            tp = model.sample_params(int(n_draws), seed=seed)
            sp = spend_model.sample_params(int(n_draws), seed=None if seed is None else seed + 1)
        except ConvergenceError as exc:
            draws_error = exc.reason
        else:
            # numpy and scipy loops release the GIL: threads share the draws out, each
            # value computed as in one thread
            runs = _map_threads(lambda i: _values(model, spend_model, data, spend, groups, xs,
                                                  params=tp[i], spend_params=sp[i],
                                                  nodes=DRAW_NODES, **kw), range(int(n_draws)))
            q = [(1 - level) / 2, (1 + level) / 2]
            for name in ASSUMPTIONS:
                v = np.array([run[name] for run in runs])          # draws x points
                change = v - v[:, :1]
                with np.errstate(invalid="ignore", divide="ignore"):
                    pct = change / v[:, :1]
                for col, arr in ((f"value_change_{name}", change), (f"value_change_pct_{name}", pct)):
                    with warnings.catch_warnings():   # a point no draw can compute: NaN
                        warnings.simplefilter("ignore", RuntimeWarning)
                        lo, hi = np.nanquantile(arr, q, axis=0)
                    undefined = ~np.isfinite(out[col].to_numpy())
                    out[f"{col}_lower"] = np.where(undefined, np.nan, lo)
                    out[f"{col}_upper"] = np.where(undefined, np.nan, hi)
    for col in [c for c in out.columns if c.endswith(f"_{shown}") or f"_{shown}_" in c]:
        out[col.replace(f"_{shown}", "")] = out[col]
    out.attrs.update({"shown": shown, "horizon": int(horizon), "a": a, "b": b,
                      "baseline_mean_dropout": p0, "model": model.label,
                      "n_draws": int(n_draws or 0) if draws_error is None else 0,
                      "level": float(level), "draws_error": draws_error})
    return out
