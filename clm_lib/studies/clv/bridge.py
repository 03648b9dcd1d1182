"""The customer-equity bridge: why the total customer value (the sum of CLV, discounted, as
the report shows it) changed since the previous run of the study on the same source.

The change splits exactly into five parts (:func:`bridge_parts`):

``new``
    customers not in the previous run: their value now;
``lost``
    customers of the previous run likely active then (P(alive) >= ``threshold``) and not
    now: their value now minus their value before;
``behaviour``
    the other customers of both runs: their value under the *previous* parameters with the
    *current* data (what their own purchases and spend since then changed) minus their
    value before;
``parameters``
    the same customers: their value under the current parameters minus their value under
    the previous ones, both with the current data (what re-estimating the models changed);
``gone``
    customers of the previous run absent from the current data (a changed source; usually
    none): minus their value before.

A bridge is only computed when both runs value the same way (value model, time unit,
horizon, margin, discount rate); otherwise :func:`equity_bridge` says which differs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clm_lib.checks import require_columns as _check
from clm_lib.clv.valuation import discounted_expected_purchases, spend_frame
from clm_lib.history import open_store, previous_run
from clm_lib.studies.clv.compute import ClvStudy
from clm_lib.studies.clv.track import STUDY

__all__ = ["LOST_THRESHOLD", "PARTS", "EquityBridge", "bridge_parts", "equity_bridge"]

#: P(alive) at or above which a customer counts as likely active ("more likely active than
#: not", as the report's activity finding counts them).
LOST_THRESHOLD = 0.5
#: The parts of the bridge, in the order they are shown.
PARTS = ("new", "lost", "behaviour", "parameters", "gone")
#: What must agree between the two runs for their values to be compared part by part.
_SETTINGS = {"value_model": "value model", "time_unit": "time unit", "horizon": "horizon",
             "margin": "margin", "annual_discount_rate": "discount rate"}


def bridge_parts(before: pd.DataFrame, now: pd.DataFrame, *,
                 threshold: float = LOST_THRESHOLD) -> dict:
    """The five parts of the change of total value (see the module docstring).

    Parameters
    ----------
    before : DataFrame
        The previous run, indexed by customer id: ``clv`` and ``p_alive``.
    now : DataFrame
        The current run, indexed by customer id: ``clv`` and ``p_alive`` (current
        parameters, current data) and ``clv_previous_parameters`` (previous parameters,
        current data).
    threshold : float
        P(alive) that counts as likely active.

    Returns
    -------
    dict
        ``total_before``, ``total_now``, ``change`` and each of :data:`PARTS` (currency),
        ``customers`` per part (counts), ``threshold``. The parts add up to ``change``.
    """
    _check(before, ["clv", "p_alive"], "previous run's customers")
    _check(now, ["clv", "p_alive", "clv_previous_parameters"], "current customers")
    common = now.index.intersection(before.index)
    new = now.index.difference(before.index)
    gone = before.index.difference(now.index)
    b, n = before.loc[common], now.loc[common]
    lost = (b["p_alive"] >= threshold) & (n["p_alive"] < threshold)
    stay = ~lost
    parts = {
        "new": float(now.loc[new, "clv"].sum()),
        "lost": float((n.loc[lost, "clv"] - b.loc[lost, "clv"]).sum()),
        "behaviour": float((n.loc[stay, "clv_previous_parameters"] - b.loc[stay, "clv"]).sum()),
        "parameters": float((n.loc[stay, "clv"] - n.loc[stay, "clv_previous_parameters"]).sum()),
        "gone": 0.0 - float(before.loc[gone, "clv"].sum()),
    }
    total_before, total_now = float(before["clv"].sum()), float(now["clv"].sum())
    return {"total_before": total_before, "total_now": total_now,
            "change": total_now - total_before, **parts,
            "customers": {"new": int(len(new)), "lost": int(lost.sum()),
                          "behaviour": int(stay.sum()), "parameters": int(stay.sum()),
                          "gone": int(len(gone))},
            "threshold": float(threshold)}


@dataclass(frozen=True)
class EquityBridge:
    """What :func:`equity_bridge` returns: ``parts`` (:func:`bridge_parts`, None when not
    computed), ``reason`` (why not, in words), the previous run's ``run_id`` and
    ``as_of``."""

    parts: dict | None
    reason: str | None = None
    run_id: str | None = None
    as_of: str | None = None


def _setting(metrics, key: str):
    """A valuation setting of a run's metrics (the value model is its forecast's model)."""
    if key == "value_model":
        return ((metrics or {}).get("forecast") or {}).get("model")
    return (metrics or {}).get(key)


def _previous_parameters(metrics, key: str):
    models = (metrics or {}).get("models") or {}
    params = (models.get(key) or {}).get("params")
    return None if not params else params


def equity_bridge(study: ClvStudy, history, source: str | None, *,
                  threshold: float = LOST_THRESHOLD, run_id: str | None = None) -> EquityBridge:
    """The customer-equity bridge against the previous run of the study on ``source``.

    Parameters
    ----------
    study : ClvStudy
    history : str or None
        The run-history store (DuckDB file or ``postgresql://`` URL).
    source : str or None
        The source key (:func:`clm_lib.history.source_key`).
    threshold : float
        P(alive) that counts as likely active (:data:`LOST_THRESHOLD`).
    run_id : str, optional
        The current run's id, left out when looking for the previous run.

    Returns
    -------
    EquityBridge
        The previous run's values and P(alive) are its ledger rows (``clv`` and
        ``p_alive`` per customer); its fitted parameters are those of its metrics
        (``models["<value_model>_all_data"]``, ``models["gamma_gamma_all_data"]``).
    """
    if history is None:
        return EquityBridge(None, "no run history was given (history)")
    if study.values is None:
        return EquityBridge(None, "this run has no customer values")
    prev = previous_run(history, STUDY, source, exclude=run_id)
    if prev is None:
        return EquityBridge(None, "no earlier run on this data")
    metrics = prev.get("metrics") or {}
    ident = {"run_id": prev.get("run_id"), "as_of": str(prev.get("as_of"))[:10]}
    current = {"value_model": study.value_model, "time_unit": study.time_unit,
               "horizon": study.horizon, "margin": study.margin,
               "annual_discount_rate": study.annual_discount_rate}
    differ = [f"{label} {_setting(metrics, k)} then, {current[k]} now"
              for k, label in _SETTINGS.items() if _setting(metrics, k) != current[k]]
    if differ:
        return EquityBridge(None, "the previous run valued customers differently ("
                            + "; ".join(differ) + "), so its values are not compared", **ident)
    p_params = _previous_parameters(metrics, f"{study.value_model}_all_data")
    s_params = _previous_parameters(metrics, "gamma_gamma_all_data")
    if p_params is None or s_params is None:
        return EquityBridge(None, "the previous run has no fitted value models", **ident)
    store = open_store(history)
    rows = store.forecasts([prev["run_id"]], STUDY, names=["clv", "p_alive"], scope="customer")
    if not len(rows):
        return EquityBridge(None, "the previous run holds no customer values", **ident)
    before = rows.pivot_table(index="key", columns="name", values="value", aggfunc="last")
    if not {"clv", "p_alive"} <= set(before.columns):
        return EquityBridge(None, "the previous run holds no customer values", **ident)
    model, spend = study.final_model, study.final_spend_model
    pp = [p_params[n] for n in model.param_names]
    sp = [s_params[n] for n in spend.param_names]
    full = study.full.loc[study.values.index]
    disc = discounted_expected_purchases(model, full, horizon=study.horizon,
                                         discount_rate=study.discount_rate_per_unit, params=pp)
    e_spend = spend.conditional_expected_spend(spend_frame(full), params=sp)
    now = pd.DataFrame({"clv": study.values["clv"].to_numpy(),
                        "p_alive": study.values["p_alive"].to_numpy(),
                        "clv_previous_parameters": study.margin * np.asarray(e_spend) * disc},
                       index=study.values.index.astype(str))
    return EquityBridge(bridge_parts(before[["clv", "p_alive"]], now, threshold=threshold),
                        **ident)
