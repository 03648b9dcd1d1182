"""The CLV study's forecast ledger and its track record: what this run forecasts, for a
later run to score, and how the forecasts of earlier runs came out.

The ledger (:func:`ledger`, in the study's ``time_unit``) holds, from the models refitted
on all data:

* ``purchases`` (total): expected repeat purchases in (as_of, as_of + k], k = 1 ..
  horizon, cumulative, with the predictive interval at the steps of
  :func:`~clm_lib.studies.clv.compute.forecast_steps` (about a quarter, a half-year, the
  horizon);
* ``value`` (total): expected spend x margin in the same windows, **undiscounted** (so
  that it can be scored against the spend that happens; the CLV of the report is
  discounted), with its predictive interval at the same steps;
* per customer (key: the real customer id): ``purchases`` at the steps of
  :func:`forecast_steps`, ``value`` (undiscounted, as the total) and ``clv`` (discounted,
  as the report's CLV) at the horizon, ``p_alive`` (the probability of being active at
  as_of; stored with step = horizon, the only step a probability of the present can be
  given).

:func:`track_record` scores the earlier runs' ``purchases`` and ``value`` forecasts
against what the current data say happened: repeat purchase days (a customer's purchases
on one day count once, as the models count them) and their spend of the customers known
at the forecast's as-of date, computed by the engine from the current run's cleaned
transactions.
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from clm_lib.history import (TrackRecord, covered_steps, earlier_runs, ledger_frame, score_keys,
                             score_total, window_end)
from clm_lib.reduce import expressions as red
from clm_lib.reduce import get_engine
from clm_lib.studies.clv.compute import ClvStudy, _as_table, forecast_steps

__all__ = ["STUDY", "ledger", "customer_forecasts", "window_actuals", "TrackRecord",
           "track_record"]

#: The study's name in the run history.
STUDY = "clv"


def customer_forecasts(study: ClvStudy) -> pd.DataFrame | None:
    """Each customer's expected repeat purchases in (as_of, as_of + k] at the steps of
    :func:`forecast_steps` (columns ``purchases_<k>``), from the purchase model refitted on
    all data; indexed like ``study.values``. None without the value models."""
    if study.values is None or study.final_model is None:
        return None
    full = study.full.loc[study.values.index]
    out = {}
    for k in forecast_steps(study.time_unit, study.horizon):
        out[f"purchases_{k}"] = np.asarray(
            study.final_model.conditional_expected_purchases(float(k), full), float)
    return pd.DataFrame(out, index=study.values.index)


def ledger(study: ClvStudy) -> list[pd.DataFrame]:
    """The study's ledger rows (see the module docstring), unit ``study.time_unit``; empty
    without the value models."""
    if study.windows is None or study.values is None:
        return []
    w, unit, level, h = study.windows, study.time_unit, study.level, study.horizon
    frames = [
        ledger_frame("purchases", w["purchases"], step=w.index, unit=unit,
                     lower=w["purchases_lower"], upper=w["purchases_upper"], level=level),
        ledger_frame("value", w["value"], step=w.index, unit=unit,
                     lower=w["value_lower"], upper=w["value_upper"], level=level),
    ]
    v = study.values
    keys = v.index.astype(str)
    per = customer_forecasts(study)
    for k in forecast_steps(unit, h):
        frames.append(ledger_frame("purchases", per[f"purchases_{k}"], step=k, unit=unit,
                                   scope="customer", key=keys))
    spend = study.margin * v["expected_spend"] * v["expected_purchases"]
    frames.append(ledger_frame("value", spend, step=h, unit=unit, scope="customer", key=keys))
    frames.append(ledger_frame("clv", v["clv"], step=h, unit=unit, scope="customer", key=keys))
    frames.append(ledger_frame("p_alive", v["p_alive"], step=h, unit=unit, scope="customer",
                               key=keys))
    return frames


def window_actuals(transactions, start, end, *, engine="duckdb") -> pd.DataFrame:
    """What the customers known at ``start`` did in the window (start, end]: their repeat
    purchase days and the spend of those days, from the cleaned transactions.

    Parameters
    ----------
    transactions : Ibis table, DataFrame or path
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``) or their
        purchase days (:meth:`~clm_lib.reduce.Engine.kept_purchase_days`).
    start, end : date-like
        The forecast's as-of date and the window's last day (both calendar days).
    engine : str or Engine

    Returns
    -------
    DataFrame indexed by ``customer_id`` as text (every customer whose first purchase is on
    or before ``start``): ``purchases`` (repeat purchase days in the window) and ``spend``
    (their amounts, currency).
    """
    eng = get_engine(engine)
    t = _as_table(eng, transactions)
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    s = eng.summary_data(t, calibration_end=start, as_of=end, time_unit="day")
    # the summary's holdout spend is a mean over the days with a non-zero amount: the
    # window's spend is summed by the engine instead
    spend = _window_spend(eng, t, start, end)
    out = pd.DataFrame({"purchases": s["frequency_holdout"].astype(float),
                        "spend": spend.reindex(s.index).fillna(0.0).to_numpy()}, index=s.index)
    out.index = out.index.astype(str)
    return out


def _window_spend(eng, t, start, end) -> pd.Series:
    """Amounts per customer on her purchase days in (start, end], by the engine."""
    days = red.purchase_days(t)
    inside = days.filter((days.day > start.date()) & (days.day <= end.date()))
    frame = eng.to_pandas(inside.group_by("customer_id").agg(spend=inside.amount.sum()))
    return frame.set_index("customer_id")["spend"].astype(float)




def _not_covered_reason(runs, as_of) -> str:
    ends = []
    for r in runs:
        rows = r.rows("purchases", "total")
        if len(rows):
            ends.append(window_end(r.as_of, float(rows["step"].min()), str(rows["unit"].iloc[0])))
    if not ends:
        return "the earlier runs hold no purchase forecast"
    return ("the earlier runs' windows are not covered yet by the data (next: after "
            f"{min(ends).date().isoformat()})")


def track_record(study: ClvStudy, transactions, history, source: str | None, *,
                 engine="duckdb") -> TrackRecord:
    """Score the earlier runs' purchase and value forecasts on the same source.

    Parameters
    ----------
    study : ClvStudy
        The current run (its ``as_of`` ends the data that score).
    transactions : Ibis table, DataFrame or path
        The current run's cleaned transactions (the table ``clv_study`` read).
    history : str or None
        The run-history store (DuckDB file or ``postgresql://`` URL).
    source : str or None
        The source key (:func:`clm_lib.history.source_key`).
    engine : str or Engine

    Returns
    -------
    TrackRecord
        One entry per earlier run and forecast (``name`` ``purchases`` or ``value``):
        :func:`clm_lib.history.score_total`'s fields plus ``run_id``, ``as_of`` and, for
        purchases, ``customers`` (:func:`clm_lib.history.score_keys` of the per-customer
        forecast, with its ``customer_step``). The totals are scored at the longest step the data cover that has an interval (else
        the longest covered); a value forecast with
        the earlier run's own margin; each customer's purchases at the longest covered
        step of the per-customer forecast, a customer without a purchase counting 0.
    """
    if history is None:
        return TrackRecord(reason="no run history was given (history)")
    if source is None:
        return TrackRecord(reason="the transactions are not a file, so runs cannot be matched")
    runs = earlier_runs(history, STUDY, source, study.as_of,
                        names=["purchases", "value"])
    if not runs:
        return TrackRecord(reason="no earlier run on this data")
    eng = get_engine(engine)
    t = _as_table(eng, transactions)
    cache: dict = {}

    def actual(start, end):
        key = (pd.Timestamp(start), pd.Timestamp(end))
        if key not in cache:
            cache[key] = window_actuals(t, key[0], key[1], engine=eng)
        return cache[key]

    entries = []
    for r in runs:
        margin = float(r.metrics.get("margin") or 1.0)
        pur = r.rows("purchases", "total")
        got = score_total(pur, lambda a, b: actual(a, b)["purchases"].sum(), r.as_of, study.as_of)
        if got is None:
            continue
        per = r.rows("purchases", "customer")
        if len(per):
            steps = covered_steps(per["step"], str(per["unit"].iloc[0]), r.as_of, study.as_of)
            if steps:
                rows = per[per["step"] == steps[-1]]
                end = window_end(r.as_of, steps[-1], str(per["unit"].iloc[0]))
                act = actual(r.as_of, end)["purchases"]
                got["customers"] = score_keys(rows.set_index("key")["value"], act)
                got["customer_step"] = steps[-1]
        entries.append({"name": "purchases", "run_id": r.run_id, "as_of": r.as_of, **got})
        val = score_total(r.rows("value", "total"),
                          lambda a, b: margin * actual(a, b)["spend"].sum(), r.as_of, study.as_of)
        if val is not None:
            entries.append({"name": "value", "run_id": r.run_id, "as_of": r.as_of,
                            "margin": margin, **val})
    if not entries:
        return TrackRecord(reason=_not_covered_reason(runs, study.as_of), runs=len(runs))
    return TrackRecord(entries=entries, runs=len(runs))
