"""The checks every layer shares: column contracts and time units.

One helper for each, so that every public function reports a missing column and an
unknown time unit in the same words (CONVENTIONS: column contracts checked in one place).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from clm_lib.exceptions import MissingColumnsError, ParameterError

__all__ = ["TIME_UNITS", "require_columns", "unit_days"]

#: Length of one time unit in days (a month is a twelfth of a Julian year of 365.25 days).
TIME_UNITS: dict[str, float] = {
    "day": 1.0,
    "week": 7.0,
    "month": 365.25 / 12.0,
    "year": 365.25,
}


def require_columns(data: pd.DataFrame | Mapping, columns: Iterable[str],
                    what: str = "input") -> None:
    """Raise :class:`MissingColumnsError` naming what is missing and what was found.

    ``data`` is a DataFrame, a mapping of column name to values (as the models take) or
    an Ibis table (the DuckDB and Spark engines).
    """
    if isinstance(data, pd.DataFrame):
        found = [str(c) for c in data.columns]
    elif hasattr(data, "columns") and callable(getattr(data, "schema", None)):
        found = [str(c) for c in data.columns]
    elif isinstance(data, Mapping):
        found = [str(c) for c in data]
    else:
        raise ParameterError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in found]
    if missing:
        raise MissingColumnsError(missing, found, what=what)


def unit_days(time_unit: str, allowed: Iterable[str] | None = None) -> float:
    """Length of ``time_unit`` in days; ``allowed`` narrows the accepted units.

    >>> unit_days("week")
    7.0
    """
    units = tuple(allowed) if allowed is not None else tuple(TIME_UNITS)
    if time_unit not in units:
        raise ParameterError(f"time_unit must be one of {list(units)}, got {time_unit!r}")
    return TIME_UNITS[time_unit]
