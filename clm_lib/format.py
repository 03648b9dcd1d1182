"""Numbers as a reader expects them in reports and tables: one formatter per kind of value.

Every table and sentence in a report formats its values through these functions, so that
counts are integers with thousands separators, shares are percentages, p-values below the
printing precision read "< 0.001", and an infinite duration reads "not reached" instead of
``inf``. Missing values become an en dash. The functions return text; escaping for HTML is
the caller's job (:func:`clm_lib.reporting.escape`).

>>> count(7846.0), percent(0.3318), p_value(4.94e-161), p_value(0.0312)
('7,846', '33.2 %', '< 0.001', '0.031')
>>> money(1234.6, "$"), money(1234.6, None), money(-3.2, "EUR")
('$1,235', '1,235', '−EUR 3.20')
>>> duration(float("inf"), "months"), duration(13.25, "months")
('not reached', '13.2 months')
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

__all__ = ["MISSING", "count", "number", "percent", "points", "p_value", "money", "duration",
           "ratio", "date", "is_missing", "format_frame", "KINDS"]

#: What a missing value reads as.
MISSING = "–"


def is_missing(x) -> bool:
    """True for None, NaN and pandas' NA/NaT."""
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _real(x) -> float | None:
    if is_missing(x):
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def count(x) -> str:
    """A count: an integer with thousands separators (``7846.0`` -> ``7,846``)."""
    v = _real(x)
    if v is None:
        return MISSING
    if not math.isfinite(v):
        return "∞" if v > 0 else "−∞"
    return f"{int(round(v)):,}"


def number(x, digits: int = 2) -> str:
    """A plain number with ``digits`` decimals and thousands separators."""
    v = _real(x)
    if v is None:
        return MISSING
    if not math.isfinite(v):
        return "∞" if v > 0 else "−∞"
    text = f"{v:,.{digits}f}"
    if text.lstrip("-").strip("0.,") == "":          # -0.00 -> 0.00
        text = text.lstrip("-")
    return text.replace("-", "−")


def percent(x, digits: int = 1, signed: bool = False) -> str:
    """A share given as a fraction, shown in percent (``0.3318`` -> ``33.2 %``); with
    ``signed`` a change, positive ones with a plus sign (``+10.5 %``)."""
    v = _real(x)
    if v is None:
        return MISSING
    sign = "+" if signed and v > 0 else ""
    return f"{sign}{number(100 * v, digits)} %"


def points(x, digits: int = 1) -> str:
    """A difference of two percentages, given as a fraction, in percentage points."""
    v = _real(x)
    if v is None:
        return MISSING
    sign = "+" if v > 0 else ""
    return f"{sign}{number(100 * v, digits)} pts"


def p_value(p, floor: float = 0.001) -> str:
    """A p-value: three decimals, and ``< 0.001`` below that (never ``4.94e-161``)."""
    v = _real(p)
    if v is None:
        return MISSING
    if v < floor:
        return f"< {floor:g}"
    return f"{v:.3f}"


def money(x, currency: str | None = None, digits: int | None = None) -> str:
    """An amount with its currency; whole units from 1,000 up, cents below.

    ``currency`` is a symbol ("$", "€", "£") written before the number without a space, or a
    code ("EUR") written with one; None shows the number alone.
    """
    v = _real(x)
    if v is None:
        return MISSING
    if digits is None:
        digits = 0 if abs(v) >= 1000 else 2
    body = number(abs(v), digits)
    sign = "−" if v < 0 and body.strip("0.,") else ""
    if not currency:
        return f"{sign}{body}"
    gap = " " if currency[-1:].isalpha() else ""
    return f"{sign}{currency}{gap}{body}"


def duration(x, unit: str | None = None, digits: int = 1) -> str:
    """A length of time in ``unit``; infinite reads "not reached" (a median never crossed)."""
    v = _real(x)
    if v is None:
        return MISSING
    if math.isinf(v):
        return "not reached"
    text = number(v, digits)
    return f"{text} {unit}" if unit else text


def ratio(x, digits: int = 2) -> str:
    """A multiplicative effect such as a hazard ratio (``1.4×``)."""
    v = _real(x)
    if v is None:
        return MISSING
    if not math.isfinite(v):
        return "∞" if v > 0 else MISSING
    return f"{number(v, digits)}×"


def date(x) -> str:
    """A calendar date as ISO ``YYYY-MM-DD`` (a time of day only when it is not midnight)."""
    if is_missing(x):
        return MISSING
    ts = pd.Timestamp(x)
    if ts == ts.normalize():
        return ts.strftime("%Y-%m-%d")
    return ts.strftime("%Y-%m-%d %H:%M")


#: The kinds :func:`format_frame` understands, by name.
KINDS: Mapping[str, Callable] = {
    "count": count, "number": number, "percent": percent, "points": points,
    "p_value": p_value, "money": money, "duration": duration, "ratio": ratio, "date": date,
    "text": lambda x: MISSING if is_missing(x) else str(x),
}


def _formatter(spec) -> Callable:
    """``"count"``, ``("number", 3)``, ``("money", "$")``, ``("duration", "months")`` or a
    function of one value."""
    if callable(spec):
        return spec
    if isinstance(spec, str):
        return KINDS[spec]
    kind, *args = spec
    fn = KINDS[kind]
    return lambda x: fn(x, *args)


def format_frame(df: pd.DataFrame, formats: Mapping[str, object], *,
                 rename: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A copy of ``df`` with the named columns as text, one formatter per column.

    Columns not named keep their values (numbers are formatted by
    :func:`clm_lib.reporting.show_table`); ``rename`` gives the friendly column names
    shown to readers (with their units, e.g. ``"Churn within 3 months"``).

    >>> df = pd.DataFrame({"n": [1200.0, 3.0], "p": [1e-9, 0.2]})
    >>> format_frame(df, {"n": "count", "p": "p_value"}, rename={"n": "Customers"})
      Customers        p
    0     1,200  < 0.001
    1         3    0.200
    """
    unknown = [c for c in formats if c not in df.columns]
    if unknown:
        raise KeyError(f"format_frame: no column {unknown} (columns: {list(df.columns)})")
    out = df.copy()
    for col, spec in formats.items():
        fn = _formatter(spec)
        out[col] = [fn(v) for v in out[col].to_numpy(dtype=object)]
    if rename:
        out = out.rename(columns=dict(rename))
    return out

