"""The forecast ledger: what a study forecast, in one long table, and the earlier runs a
later run can score.

A study's notebook builds its ledger rows with :func:`ledger_frame` and writes them with
:func:`save_forecasts` into its output folder (``forecasts.parquet``); the runner puts them
into the history store with the run, in one transaction (:mod:`clm_lib.history.store`).

One ledger row is one forecast value:

``name``
    what is forecast, e.g. ``purchases`` (expected number in the window), ``value``
    (expected value in the window, in the currency), ``p_alive``, ``churn`` (the probability
    of churning by ``step``), ``retention`` (share of a cohort active in a period).
``scope``
    ``total`` (the whole customer base), ``customer`` (``key`` is the real customer id),
    ``cohort`` or ``segment`` (``key`` is its label).
``step``, ``unit``
    the end of the forecast window, counted from the run's as-of date in ``unit`` (``day``,
    ``week``, ``month``): the window is (as_of, as_of + step units]. A total forecast
    usually holds one row per step, cumulative, so a later run whose data cover only part
    of the horizon scores the longest step its data cover.
``value``, ``lower``, ``upper``, ``level``
    the point forecast and, when there is one, its predictive interval and the interval's
    level (0.9 for a 90 % interval).

The store keeps the real customer ids (like the CRM exports, not the pseudonyms of the
reports): a later run matches its customers to the forecast by them.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from clm_lib.exceptions import ClmError

__all__ = [
    "FORECASTS_FILE", "LEDGER_COLUMNS", "SCOPES", "UNITS", "ledger_frame", "save_forecasts",
    "read_forecasts", "source_key", "window_end", "covered_steps",
]

#: The file a study's forecasts are written to, in its output folder.
FORECASTS_FILE = "forecasts.parquet"
#: The ledger's columns as a study writes them (the store adds ``run_id`` and ``study``).
LEDGER_COLUMNS = ("name", "scope", "key", "step", "unit", "value", "lower", "upper", "level")
SCOPES = ("total", "customer", "cohort", "segment")
UNITS = ("day", "week", "month")


def ledger_frame(name: str, values, *, step, unit: str, scope: str = "total", key=None,
                 lower=None, upper=None, level: float | None = None) -> pd.DataFrame:
    """Ledger rows for one forecast (see the module docstring).

    Parameters
    ----------
    name : str
        What is forecast (``purchases``, ``value``, ``p_alive``, ``churn``, ``retention``).
    values : scalar or array-like
        The point forecasts.
    step : scalar or array-like
        End of each forecast window in ``unit`` after the as-of date.
    unit : {"day", "week", "month"}
    scope : {"total", "customer", "cohort", "segment"}
    key : scalar or array-like, optional
        The customer id, cohort or segment of each value ("" for a total).
    lower, upper : array-like, optional
        The predictive interval of each value.
    level : float, optional
        The interval's level, in (0, 1).

    Returns
    -------
    DataFrame with :data:`LEDGER_COLUMNS`.
    """
    if scope not in SCOPES:
        raise ClmError(f"ledger: scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if unit not in UNITS:
        raise ClmError(f"ledger: unit must be one of {', '.join(UNITS)}, got {unit!r}")
    value = np.atleast_1d(np.asarray(values, dtype="float64"))
    n = len(value)

    def column(x, fill, dtype):
        if x is None:
            return np.full(n, fill, dtype=dtype)
        arr = np.atleast_1d(np.asarray(x, dtype=dtype))
        if len(arr) == 1 and n != 1:
            arr = np.repeat(arr, n)
        if len(arr) != n:
            raise ClmError(f"ledger {name}: {len(arr)} values where {n} were expected")
        return arr

    if level is not None and not 0 < float(level) < 1:
        raise ClmError(f"ledger {name}: level must be in (0, 1), got {level!r}")
    keys = column(None if key is None else [str(k) for k in np.atleast_1d(key)], "", object)
    if scope != "total" and (keys == "").any():
        raise ClmError(f"ledger {name}: a {scope} forecast needs a key for every value")
    frame = pd.DataFrame({
        "name": str(name), "scope": scope, "key": keys,
        "step": column(step, np.nan, "float64"), "unit": unit, "value": value,
        "lower": column(lower, np.nan, "float64"), "upper": column(upper, np.nan, "float64"),
        "level": np.nan if level is None else float(level),
    })
    if frame["step"].isna().any() or (frame["step"] <= 0).any():
        raise ClmError(f"ledger {name}: every step must be a positive number of {unit}s")
    return frame


def save_forecasts(frames: pd.DataFrame | Iterable[pd.DataFrame],
                   output_dir: str | os.PathLike | None) -> Path | None:
    """Write a study's ledger rows to ``output_dir/forecasts.parquet`` (nothing without an
    ``output_dir``, as in an interactive session); returns the path."""
    if output_dir is None:
        return None
    if isinstance(frames, pd.DataFrame):
        frames = [frames]
    frames = [f for f in frames if f is not None and len(f)]
    frame = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame({c: pd.Series(dtype="float64" if c in ("step", "value", "lower",
                                                                        "upper", "level")
                                             else "object") for c in LEDGER_COLUMNS}))
    missing = [c for c in LEDGER_COLUMNS if c not in frame]
    if missing:
        raise ClmError(f"ledger: rows lack column(s) {missing}; build them with ledger_frame")
    path = Path(output_dir) / FORECASTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame[list(LEDGER_COLUMNS)].to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def read_forecasts(output_dir: str | os.PathLike) -> pd.DataFrame | None:
    """The ledger rows a study wrote into ``output_dir`` (None when it wrote none)."""
    path = Path(output_dir) / FORECASTS_FILE
    if not path.exists():
        return None
    return pd.read_parquet(path)


def source_key(study: str, inputs: Mapping[str, object]) -> str | None:
    """What makes two runs of ``study`` comparable: its input files (``{kind: path}``,
    e.g. ``{"transactions": ".../cdnow_master.csv"}``), as resolved paths. None when an
    input is not a file (a DataFrame given in a notebook): such runs are not compared."""
    parts = []
    for kind in sorted(inputs):
        path = inputs[kind]
        if path is None:
            continue
        if not isinstance(path, (str, os.PathLike)):
            return None
        parts.append(f"{kind}={Path(path).expanduser().resolve()}")
    return f"{study}|" + "|".join(parts) if parts else None


_OFFSETS = {"day": "D", "week": "W", "month": "M"}


def window_end(as_of, step: float, unit: str) -> pd.Timestamp:
    """The last day of the window (as_of, as_of + step units] (months are calendar months
    when ``step`` is whole, 30.4375 days per month otherwise)."""
    start = pd.Timestamp(as_of)
    if unit == "day":
        return start + pd.Timedelta(days=float(step))
    if unit == "week":
        return start + pd.Timedelta(days=7 * float(step))
    if float(step).is_integer():
        return start + pd.DateOffset(months=int(step))
    return start + pd.Timedelta(days=30.4375 * float(step))


def covered_steps(steps: Iterable[float], unit: str, forecast_as_of, data_as_of) -> list[float]:
    """The steps of a forecast made at ``forecast_as_of`` whose windows the data up to
    ``data_as_of`` cover in full, smallest first."""
    end = pd.Timestamp(data_as_of)
    return sorted(float(s) for s in set(steps)
                  if window_end(forecast_as_of, s, unit) <= end)
