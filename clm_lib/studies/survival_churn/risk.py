"""Per active customer: churn risk given the tenure so far, expected remaining lifetime
and discounted value, from a fitted parametric model; and their sums by segment.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from clm_lib.checks import require_columns as _require
from clm_lib.exceptions import ParameterError

__all__ = ["active_customers", "customer_risk_table", "segment_value"]


def active_customers(design: pd.DataFrame, data: pd.DataFrame, *,
                     margin: str | float | None = None) -> pd.DataFrame:
    """Design rows of the censored (still active) customers, ready for
    :func:`customer_risk_table`: adds ``customer_id``, ``min_duration`` (if ``data`` has
    it) and, when ``margin`` names a column of ``data``, a ``margin`` column (per period). ``design`` and ``data`` share an index.
    """
    _require(design, ["duration", "event"], "design frame")
    _require(data, ["customer_id"] + ([margin] if isinstance(margin, str) else []),
             "durations frame")
    act = design.loc[~design["event"].astype(bool)].drop(columns="event")
    act = act.assign(customer_id=data.loc[act.index, "customer_id"])
    if "min_duration" in data.columns:
        act["min_duration"] = data.loc[act.index, "min_duration"].astype(float)
    if isinstance(margin, str):
        act["margin"] = data.loc[act.index, margin].astype(float)
    return act


def customer_risk_table(model, active: pd.DataFrame, *, horizons: Sequence[float] = (1, 3, 6),
                        margin: str | float | None = None, discount_rate: float = 0.01,
                        tier_thresholds: tuple[float, float] = (0.2, 0.5),
                        tier_horizon: float | None = None,
                        max_horizon: float = 240.0, grid_step: float = 0.25,
                        chunk_size: int = 10_000) -> pd.DataFrame:
    """Per active customer: survival given tenure so far, churn risk, remaining life, value.

    For a customer with tenure ``t`` (the ``duration`` of a censored row) known to survive
    at least to ``t_min = max(t, min_duration)`` (``min_duration`` column, optional: under
    churn by inactivity the rule cannot fire before last purchase + window), let
    ``S(t + k | .) = 1`` for ``t + k <= t_min`` and ``S(t + k) / S(t_min)`` after
    (lifelines' ``conditional_after``). Then

    * ``p_churn_<h>`` = 1 - S(t + h | .), the probability of churning within ``h`` periods
      from now;
    * ``expected_remaining`` = integral of S(t + u | .) for u in [0, ``max_horizon``]
      (periods): the restricted mean remaining lifetime over the next ``max_horizon``
      periods (at most ``max_horizon``; the study keeps it within the follow-up by default);
    * ``risk_tier`` = "high" if P(churn within ``tier_horizon``) >= the upper threshold,
      "medium" if >= the lower one, else "low"; ``tier_horizon`` defaults to the longest
      horizon;
    * ``value`` = margin * ``discounted_lifetime``, with ``discounted_lifetime`` = sum over
      whole k = 1..``max_horizon`` of S(t + k | .) / (1 + d)**k: margin (or revenue) per
      period earned at the end of each period the customer survives, discounted at
      ``discount_rate`` per period.

    Without ``min_duration`` (or where it does not exceed the tenure) the survival is
    evaluated exactly at whole periods; otherwise it is interpolated linearly on a grid of
    ``grid_step`` periods.

    Parameters
    ----------
    model : fitted lifelines regression fitter
    active : DataFrame
        Design frame of the active (censored) customers, ``duration`` = tenure so far
        (periods); ``customer_id`` and ``min_duration`` are carried over / used if present;
        the ``margin`` column if named.
    margin : str, float or None
        Column of margin per period, or one number for all; None: no value columns.
    chunk_size : int
        Customers evaluated at once (memory grows with it; the result does not).

    Returns
    -------
    DataFrame with one row per active customer, same index as ``active``.
    """
    _require(active, ["duration"] + ([margin] if isinstance(margin, str) else []),
             "active customers")
    if discount_rate < 0:
        raise ParameterError("discount_rate must be >= 0")
    lo, hi = tier_thresholds
    if not 0 < lo < hi < 1:
        raise ParameterError("tier_thresholds must satisfy 0 < low < high < 1")
    horizons = [float(h) for h in horizons]
    tier_h = float(tier_horizon) if tier_horizon is not None else max(horizons)
    if max_horizon <= 0:
        raise ParameterError("max_horizon must be > 0")
    # whole periods from now, and the horizon itself when it is not whole
    grid = np.unique(np.concatenate([np.arange(0.0, float(max_horizon), 1.0),
                                     [float(max_horizon)]]))
    offsets = np.unique(np.concatenate([grid, horizons, [tier_h]]))  # periods from now
    t0 = active["duration"].to_numpy(float)
    t_min = t0.copy()
    if "min_duration" in active.columns:
        t_min = np.maximum(t0, active["min_duration"].to_numpy(float))
    X = active.drop(columns=[c for c in ("customer_id", "min_duration") if c in active.columns])
    lead = t_min - t0
    # with a floor on the churn time anywhere, every customer's curve comes from a fine grid
    u = None if not (lead > 0).any() else np.unique(np.concatenate(
        [np.arange(0.0, float(max_horizon) + grid_step, grid_step), offsets]))
    pos = {t: i for i, t in enumerate(offsets)}
    rows_h = [pos[h] for h in horizons]
    rows_g = [pos[t] for t in grid]
    # margin is earned at the end of each whole period survived within the horizon
    whole = grid[1:] == np.floor(grid[1:])
    disc = np.where(whole, (1.0 + discount_rate) ** -grid[1:], 0.0)
    n = len(t0)
    p_h, p_tier = np.empty((len(horizons), n)), np.empty(n)
    remaining, lifetime = np.empty(n), np.empty(n)
    for start in range(0, n, chunk_size):  # bounded memory: curves are (grid x chunk)
        part = slice(start, start + chunk_size)
        S = _survival_from_now(model, X.iloc[part], t0[part], t_min[part], lead[part],
                               offsets, u)
        p_h[:, part] = 1 - S[rows_h]
        Sg = S[rows_g]
        remaining[part] = np.sum((Sg[1:] + Sg[:-1]) / 2 * np.diff(grid)[:, None], axis=0)
        p_tier[part] = 1 - S[pos[tier_h]]
        lifetime[part] = (Sg[1:] * disc[:, None]).sum(axis=0)
    out = pd.DataFrame(index=active.index)
    if "customer_id" in active.columns:
        out["customer_id"] = active["customer_id"]
    out["tenure"] = t0
    for k, h in enumerate(horizons):
        out[f"p_churn_{h:g}"] = p_h[k]
    out["expected_remaining"] = remaining
    out["risk_tier"] = pd.Categorical(
        np.where(p_tier >= hi, "high", np.where(p_tier >= lo, "medium", "low")),
        categories=["low", "medium", "high"], ordered=True)
    if margin is not None:
        m = active[margin].to_numpy(float) if isinstance(margin, str) else float(margin)
        out["discounted_lifetime"] = lifetime
        out["value"] = m * out["discounted_lifetime"]
    return out


def _survival_from_now(model, X: pd.DataFrame, t0: np.ndarray, t_min: np.ndarray,
                       lead: np.ndarray, offsets: np.ndarray, u: np.ndarray | None
                       ) -> np.ndarray:
    """S(t0 + offset | survived to t_min), one column per customer.

    Without a fine grid ``u`` the model is evaluated at the offsets directly (conditional
    on ``t0``). Otherwise the curve conditional on ``t_min`` on the grid ``u`` is read
    off at ``offset - lead`` by linear interpolation, as :func:`numpy.interp` per customer
    does (same formula), and is 1 up to the lead. Only the two grid points around each
    offset are evaluated, each exactly as lifelines' ``predict_survival_function(X,
    times=u, conditional_after=t_min)`` computes it.
    """
    if u is None:
        return model.predict_survival_function(X, times=offsets,
                                               conditional_after=t0).to_numpy(float)
    x = offsets[:, None] - lead[None, :]
    j = np.clip(np.searchsorted(u, x, side="right") - 1, 0, len(u) - 2)
    cumhaz = _cumulative_hazard(model, X)
    h0 = cumhaz(t_min)

    def curve(times):  # lifelines: exp(-clip(H(t_min + u) - H(t_min), 0, inf))
        with np.errstate(divide="ignore", over="ignore"):
            return np.exp(-np.clip(cumhaz(t_min[None, :] + times) - h0, 0, np.inf))

    c_lo, c_hi = curve(u[j]), curve(u[j + 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (c_hi - c_lo) / (u[j + 1] - u[j])
        inner = slope * (x - u[j]) + c_lo
    S = np.where(x == u[j], c_lo, inner)
    S = np.where(x >= u[-1], curve(np.full((1, len(t0)), u[-1])), S)
    return np.where(offsets[:, None] <= lead[None, :], 1.0, S)


def _cumulative_hazard(model, X: pd.DataFrame):
    """``times -> H(times | X)`` of a fitted lifelines parametric regression model, with
    one column of ``times`` per row of ``X`` (lifelines' ``predict_cumulative_hazard``
    evaluates every row at the same times; here each customer gets its own)."""
    from lifelines.utils import DataframeSlicer

    Xs = DataframeSlicer(model.regressors.transform_df(X.copy()))
    params = {name: model.params_.loc[name].values for name in model._fitted_parameter_names}
    return lambda times: model._cumulative_hazard(params, times, Xs)


def segment_value(risk: pd.DataFrame, segment: pd.Series) -> pd.DataFrame:
    """Active customers, mean churn risk, mean remaining lifetime and value per segment.

    ``segment`` is aligned on the index of ``risk`` (one value per active customer).
    """
    df = risk.copy()
    df["_segment"] = segment.reindex(df.index).astype("string").fillna("(missing)")
    agg = {"customers": ("tenure", "size"),
           "expected_remaining": ("expected_remaining", "mean")}
    for c in df.columns:
        if c.startswith("p_churn_"):
            agg[c] = (c, "mean")
    if "value" in df:
        agg["mean_value"] = ("value", "mean")
        agg["total_value"] = ("value", "sum")
    out = df.groupby("_segment", observed=True).agg(**agg)
    out.index.name = "segment"
    return out
