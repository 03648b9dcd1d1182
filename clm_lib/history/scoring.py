"""Scoring earlier forecasts against what happened: the track record of a study.

A later run reads the forecasts of the earlier runs of the same study on the same source
(:func:`earlier_runs`), computes what happened in each forecast's window from its own data
(study code: the actual purchases, churn or retention), and scores them with the pure
functions here:

* :func:`score_total`: a total forecast at the longest step the data cover in full, its
  relative error and whether the actual value fell inside the predictive interval;
* :func:`score_keys`: per-customer (or per-cohort) error: mean absolute error, root mean
  squared error, bias, on the customers of the forecast;
* :func:`calibration`: predicted probabilities against observed outcomes by decile of the
  prediction (the calibration table), with the Brier score;
* :func:`coverage`: the share of actual values inside their intervals.

:func:`summary` puts the scored entries of a track record into the ``track_record`` entry
of ``metrics.json``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clm_lib.history.ledger import covered_steps, window_end
from clm_lib.history.store import HistoryStore, open_store

__all__ = ["EarlierRun", "TrackRecord", "earlier_runs", "previous_run", "score_total", "score_keys",
           "calibration", "coverage", "summary"]


@dataclass(frozen=True)
class EarlierRun:
    """An earlier run of a study on the same source: its as-of date, its ledger rows
    (``forecasts``), its ``metrics.json`` and its headline ``figures``."""

    run_id: str
    as_of: str
    forecasts: pd.DataFrame
    metrics: Mapping
    figures: Mapping
    committed: str

    def rows(self, name: str, scope: str | None = None) -> pd.DataFrame:
        f = self.forecasts
        keep = f["name"] == name
        if scope is not None:
            keep &= f["scope"] == scope
        return f[keep]


def earlier_runs(history, study: str, source_key: str | None, as_of,
                 names: Sequence[str] | None = None, scope: str | None = None
                 ) -> list[EarlierRun]:
    """The earlier runs of ``study`` on ``source_key`` whose as-of date is before ``as_of``
    (the only ones whose forecasts the data up to ``as_of`` can score), one per as-of
    date (the latest run of that date), oldest first, with their ledger rows (only
    ``names`` and ``scope`` when given). Empty without a store or a source key."""
    store: HistoryStore | None = open_store(history)
    if store is None or source_key is None:
        return []
    rows = store.studies(study, source_key)
    if not len(rows):
        return []
    cut = pd.Timestamp(as_of)
    rows = rows[pd.to_datetime(rows["as_of"]) < cut]
    rows = rows.sort_values("committed").drop_duplicates("as_of", keep="last")
    rows = rows.sort_values("as_of")
    if not len(rows):
        return []
    ledger = store.forecasts(rows["run_id"].tolist(), study, names=names, scope=scope)
    out = []
    for r in rows.itertuples(index=False):
        out.append(EarlierRun(run_id=r.run_id, as_of=str(r.as_of)[:10],
                              forecasts=ledger[ledger["run_id"] == r.run_id].reset_index(drop=True),
                              metrics=r.metrics, figures=r.figures, committed=r.committed))
    return out


def previous_run(history, study: str, source_key: str | None, exclude: str | None = None
                 ) -> Mapping | None:
    """The last committed run of ``study`` on ``source_key`` (its study row as a dict:
    ``run_id``, ``as_of``, ``figures``, ``metrics``, ...), or None."""
    store = open_store(history)
    if store is None or source_key is None:
        return None
    rows = store.studies(study, source_key)
    if exclude is not None and len(rows):
        rows = rows[rows["run_id"] != exclude]
    if not len(rows):
        return None
    return rows.iloc[-1].to_dict()


def score_total(rows: pd.DataFrame, actual, forecast_as_of, data_as_of, *,
                prefer_interval: bool = True) -> dict | None:
    """Score a total forecast (its ledger rows, one per step) at the longest step whose
    window the data cover in full; with ``prefer_interval``, the longest such step that
    has a predictive interval, when one has (a forecast whose intervals are stored at some
    steps only is then scored where its coverage can be judged).

    Parameters
    ----------
    rows : DataFrame
        Ledger rows of one total forecast (``scope == "total"``, one ``name``).
    actual : callable
        ``actual(start, end) -> float``: what happened in the window (start, end] (dates).
    forecast_as_of, data_as_of : date-like
        The forecast's origin and the end of the data that score it.

    Returns
    -------
    dict or None
        ``step``, ``unit``, ``window`` (start, end as ISO dates), ``predicted``, ``actual``,
        ``error`` (relative: (predicted - actual) / actual), ``lower``, ``upper``,
        ``level``, ``inside``, ``full_horizon`` (the step scored is the forecast's last),
        ``longest_covered`` (the longest step the data cover, which may be later than the
        step scored when that has no interval);
        None when no step is covered yet.
    """
    if rows is None or not len(rows):
        return None
    unit = str(rows["unit"].iloc[0])
    steps = covered_steps(rows["step"], unit, forecast_as_of, data_as_of)
    if not steps:
        return None
    if prefer_interval:
        has = rows[rows["lower"].notna() & rows["upper"].notna()]["step"].astype(float)
        with_interval = [s for s in steps if s in set(has)]
        step = with_interval[-1] if with_interval else steps[-1]
    else:
        step = steps[-1]
    row = rows[rows["step"] == step].iloc[0]
    start = pd.Timestamp(forecast_as_of)
    end = window_end(forecast_as_of, step, unit)
    got = float(actual(start, end))
    pred = float(row["value"])
    lower, upper = _num(row.get("lower")), _num(row.get("upper"))
    inside = None if lower is None or upper is None else bool(lower <= got <= upper)
    return {
        "step": step, "unit": unit, "window": [start.date().isoformat(), end.date().isoformat()],
        "predicted": pred, "actual": got,
        "error": (pred - got) / got if got else None,
        "lower": lower, "upper": upper, "level": _num(row.get("level")), "inside": inside,
        "full_horizon": bool(step == float(rows["step"].max())),
        "longest_covered": steps[-1],
    }


def _num(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(v) else v


def score_keys(predicted: pd.Series, actual: pd.Series, lower: pd.Series | None = None,
               upper: pd.Series | None = None) -> dict:
    """Per-key error of a forecast: ``predicted`` and ``actual`` indexed by key (customer
    id); a key of the forecast missing from ``actual`` counts as 0 (no purchase).

    Returns ``n``, ``mae``, ``rmse``, ``bias`` (mean of predicted - actual),
    ``predicted_total``, ``actual_total``, and ``coverage`` of the per-key intervals when
    ``lower``/``upper`` are given.
    """
    pred = pd.to_numeric(predicted, errors="coerce").astype("float64")
    act = pd.to_numeric(actual, errors="coerce").reindex(pred.index).fillna(0.0).astype("float64")
    diff = pred - act
    out = {"n": int(len(pred)),
           "mae": float(diff.abs().mean()) if len(pred) else None,
           "rmse": float(np.sqrt((diff ** 2).mean())) if len(pred) else None,
           "bias": float(diff.mean()) if len(pred) else None,
           "predicted_total": float(pred.sum()), "actual_total": float(act.sum())}
    if lower is not None and upper is not None:
        out["coverage"] = coverage(lower.reindex(pred.index), upper.reindex(pred.index), act)
    return out


def calibration(predicted: pd.Series, observed: pd.Series, bins: int = 10) -> dict:
    """Predicted probabilities against observed outcomes (0/1), by decile of the prediction.

    Returns ``table`` (list of {bin, n, predicted, observed}, lowest predictions first),
    ``brier`` (mean squared error of the probabilities) and ``n``; the bins are the
    deciles of the predictions (fewer when many predictions are equal).
    """
    p = pd.to_numeric(predicted, errors="coerce").astype("float64")
    y = pd.to_numeric(observed, errors="coerce").reindex(p.index).astype("float64")
    ok = p.notna() & y.notna()
    p, y = p[ok], y[ok]
    if not len(p):
        return {"table": [], "brier": None, "n": 0}
    ranks = p.rank(method="first")
    groups = pd.qcut(ranks, q=min(bins, len(p)), labels=False, duplicates="drop")
    frame = pd.DataFrame({"p": p, "y": y, "g": groups})
    table = frame.groupby("g").agg(n=("p", "size"), predicted=("p", "mean"), observed=("y", "mean"))
    return {"table": [{"bin": int(g) + 1, "n": int(r.n), "predicted": float(r.predicted),
                       "observed": float(r.observed)} for g, r in table.iterrows()],
            "brier": float(((p - y) ** 2).mean()), "n": int(len(p))}


def coverage(lower, upper, actual) -> float | None:
    """Share of ``actual`` values inside [lower, upper] (rows with an interval only)."""
    lo = pd.to_numeric(pd.Series(np.asarray(lower, dtype="float64")), errors="coerce")
    hi = pd.to_numeric(pd.Series(np.asarray(upper, dtype="float64")), errors="coerce")
    act = pd.Series(np.asarray(actual, dtype="float64"))
    ok = lo.notna() & hi.notna() & act.notna()
    if not ok.any():
        return None
    return float(((act[ok] >= lo[ok]) & (act[ok] <= hi[ok])).mean())


def summary(entries: Sequence[Mapping], text: str | None = None) -> dict:
    """The ``track_record`` entry of ``metrics.json``: the scored ``entries`` (one per
    earlier run and forecast), how many were scored, the mean absolute relative error of
    the totals and the coverage of their intervals (share of actuals inside, with the
    intervals' level)."""
    errors = [abs(e["error"]) for e in entries if e.get("error") is not None]
    inside = [bool(e["inside"]) for e in entries if e.get("inside") is not None]
    levels = sorted({e["level"] for e in entries if e.get("level") is not None})
    return {
        "scored": len(entries),
        "mean_abs_error": float(np.mean(errors)) if errors else None,
        "max_abs_error": float(np.max(errors)) if errors else None,
        "coverage": float(np.mean(inside)) if inside else None,
        "intervals": len(inside),
        "level": levels[0] if len(levels) == 1 else (levels or None),
        "entries": list(entries),
        "text": text,
    }


@dataclass(frozen=True)
class TrackRecord:
    """A study's scored earlier runs, as its report shows them.

    ``entries``: one dict per earlier run (and forecast) scored: the :func:`score_total`
    fields plus ``run_id``, ``as_of``, ``name`` and the study's per-key scores (each
    study's ``track_record`` says which); ``reason``: why nothing was scored (None when
    something was); ``text``: the sentence for the report; ``summary``: the
    ``track_record`` entry of ``metrics.json`` (:func:`summary`); ``runs``: how many
    earlier runs were found.
    """

    entries: list = field(default_factory=list)
    reason: str | None = None
    text: str | None = None
    summary: dict = field(default_factory=dict)
    runs: int = 0
