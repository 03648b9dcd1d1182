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
                        max_horizon: float = 240.0, grid_step: float = 0.25) -> pd.DataFrame:
    """Per active customer: survival given tenure so far, churn risk, remaining life, value.

    For a customer with tenure ``t`` (the ``duration`` of a censored row) known to survive
    at least to ``t_min = max(t, min_duration)`` (``min_duration`` column, optional: under
    churn by inactivity the rule cannot fire before last purchase + window), let
    ``S(t + k | .) = 1`` for ``t + k <= t_min`` and ``S(t + k) / S(t_min)`` after
    (lifelines' ``conditional_after``). Then

    * ``p_churn_<h>`` = 1 - S(t + h | .), the probability of churning within ``h`` periods
      from now;
    * ``expected_remaining`` = integral of S(t + u | .) for u in [0, ``max_horizon``]
      (periods; a restricted mean, since heavy-tailed models have long tails);
    * ``risk_tier`` = "high" if P(churn within ``tier_horizon``) >= the upper threshold,
      "medium" if >= the lower one, else "low"; ``tier_horizon`` defaults to the longest
      horizon;
    * ``value`` = margin * ``discounted_lifetime``, with ``discounted_lifetime`` = sum over
      k = 1..``max_horizon`` of S(t + k | .) / (1 + d)**k: margin per period earned at the
      end of each period the customer survives, discounted at ``discount_rate`` per period.

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
    grid = np.arange(0.0, float(max_horizon) + 1.0, 1.0)
    offsets = np.unique(np.concatenate([grid, horizons, [tier_h]]))  # periods from now
    t0 = active["duration"].to_numpy(float)
    t_min = t0.copy()
    if "min_duration" in active.columns:
        t_min = np.maximum(t0, active["min_duration"].to_numpy(float))
    X = active.drop(columns=[c for c in ("customer_id", "min_duration") if c in active.columns])
    lead = t_min - t0
    if not (lead > 0).any():
        S = model.predict_survival_function(X, times=offsets, conditional_after=t0).to_numpy(float)
    else:
        u = np.unique(np.concatenate([np.arange(0.0, float(max_horizon) + grid_step, grid_step),
                                      offsets]))
        C = model.predict_survival_function(X, times=u, conditional_after=t_min).to_numpy(float)
        S = np.empty((len(offsets), len(t0)))
        for i in range(len(t0)):
            S[:, i] = np.where(offsets <= lead[i], 1.0,
                               np.interp(offsets - lead[i], u, C[:, i]))
    out = pd.DataFrame(index=active.index)
    if "customer_id" in active.columns:
        out["customer_id"] = active["customer_id"]
    out["tenure"] = t0
    pos = {t: i for i, t in enumerate(offsets)}
    for h in horizons:
        out[f"p_churn_{h:g}"] = 1 - S[pos[h]]
    Sg = S[[pos[t] for t in grid]]
    out["expected_remaining"] = np.sum((Sg[1:] + Sg[:-1]) / 2 * np.diff(grid)[:, None], axis=0)
    p_tier = 1 - S[pos[tier_h]]
    out["risk_tier"] = pd.Categorical(
        np.where(p_tier >= hi, "high", np.where(p_tier >= lo, "medium", "low")),
        categories=["low", "medium", "high"], ordered=True)
    if margin is not None:
        m = active[margin].to_numpy(float) if isinstance(margin, str) else float(margin)
        disc = (1.0 + discount_rate) ** -grid[1:]
        out["discounted_lifetime"] = (Sg[1:] * disc[:, None]).sum(axis=0)
        out["value"] = m * out["discounted_lifetime"]
    return out


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
