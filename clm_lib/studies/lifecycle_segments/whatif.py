"""Retention what-if: the value of lowering the BG/NBD dropout probability."""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib.checks import require_columns as _need
from clm_lib.clv.valuation import _xT_groups, discounted_expected_purchases, spend_frame

__all__ = ["retention_what_if"]


def retention_what_if(model, spend_model, data: pd.DataFrame, *, points=(1, 5, 10),
                      horizon: int, discount_rate: float, margin: float) -> pd.DataFrame:
    """Value of lowering churn: change in expected customer-base value over ``horizon``.

    Churn is the BG/NBD's dropout probability after each repeat purchase, ``p ~ Beta(a, b)``
    with mean ``a / (a + b)``. Lowering churn by ``x`` points sets the mean to
    ``a/(a+b) - x/100`` with the concentration ``a + b`` unchanged. Who is alive today is
    what the data say (P(alive) under the fitted parameters); only the future changes: the
    expected purchases of an alive customer are recomputed with the new ``(a, b)``. Value =
    ``margin`` x Gamma-Gamma expected spend x discounted expected purchases, summed over
    customers. Points at or above the mean dropout give NaN.

    Parameters
    ----------
    model : fitted :class:`~clm_lib.clv.bgnbd.BetaGeoModel`
    spend_model : fitted :class:`~clm_lib.clv.gamma_gamma.GammaGammaModel`
    data : DataFrame
        ``frequency``, ``recency``, ``T``, ``monetary_value`` (and ``spend_frequency``).
    points : sequence of float
        Reductions of the mean dropout probability, in percentage points.
    horizon : int
        Time units ahead. discount_rate : per time unit. margin : fraction of spend.

    Returns
    -------
    DataFrame indexed by ``points`` (0 = baseline): ``mean_dropout``, ``value``,
    ``value_change``, ``value_change_pct``; ``attrs`` ``horizon``, ``a``, ``b`` and
    ``baseline_mean_dropout``.
    """
    _need(data, ["frequency", "recency", "T", "monetary_value"], "CLV data")
    r, alpha, a, b = (float(v) for v in model.params_.to_numpy())
    s = a + b
    p0 = a / s
    spend = spend_model.conditional_expected_spend(spend_frame(data))
    alive = model.p_alive(data)
    groups = _xT_groups(data)  # the distinct (frequency, T) pairs, found once for all points
    rows = []
    for x in [0.0] + [float(v) for v in points]:
        pm = p0 - x / 100.0
        if pm <= 0:
            rows.append({"points": x, "mean_dropout": pm, "value": np.nan})
            continue
        params = np.array([r, alpha, pm * s, (1 - pm) * s])
        det_alive = discounted_expected_purchases(model, data, horizon=horizon,
                                                  discount_rate=discount_rate, params=params,
                                                  _groups=groups)
        det = det_alive / model.p_alive(data, params) * alive
        rows.append({"points": x, "mean_dropout": pm, "value": float(np.sum(margin * spend * det))})
    out = pd.DataFrame(rows).set_index("points")
    base = out.loc[0.0, "value"]
    out["value_change"] = out["value"] - base
    out["value_change_pct"] = out["value_change"] / base
    out.attrs.update({"horizon": int(horizon), "a": a, "b": b, "baseline_mean_dropout": p0})
    return out
