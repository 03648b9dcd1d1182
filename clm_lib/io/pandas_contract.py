"""Data contract and loading: raw file or DataFrame -> canonical frame + data-quality record.

Every loader returns ``(frame, DataQuality)``. No row is lost silently: each row of the
input is either used or dropped with exactly one reason (the first that applies, in the
order listed below), and ``rows_in == rows_used + sum(dropped.values())`` is checked
before returning. Conditions that do not cost a row are counted under ``warnings``; every
policy that was applied is stated in plain language under ``notes``.

Reading
-------
CSV files (``.csv``, ``.csv.gz``, ``.tsv``, ``.txt``) are read with every column as text,
so identifiers keep their form (``"00123"`` stays ``"00123"``, never ``123.0``); numbers
and dates are converted afterwards, column by column, with every failure counted.
Parquet files (``.parquet``, ``.pq``) keep their stored types; integer identifiers are
turned into strings without a decimal point. Empty fields and the tokens ``NA``,
``N/A``, ``NaN``, ``null``, ``None``, ``NaT`` (any case, surrounding spaces ignored) count
as missing.

Column names
------------
``columns`` maps source names to canonical names (``{"dollars": "amount"}``); it is applied
once, here. A mapping that names a column absent from the input raises
:class:`~clm_lib.exceptions.MissingColumnsError` naming it; so does a missing required
canonical column (naming what is missing and what was found).

Dates and time zones
--------------------
Dates are parsed with ``date_format`` (a ``strptime`` format) when given, otherwise as
ISO 8601 (``1997-01-31``, ``1997-01-31 14:05``, ``1997-01-31T14:05:00+01:00``, ...).
Non-ISO text such as ``31/01/1997`` is never guessed (day-first or month-first is
ambiguous): pass ``date_format``. The output is always tz-naive ``datetime64[ns]``,
expressed as wall-clock time in the analysis time zone ``tz``:

* time-zone-aware input (offsets such as ``+01:00`` or ``Z``, or a tz-aware column) is
  converted to ``tz`` (to UTC when ``tz`` is None) and the zone is then dropped;
* naive input is taken to be wall-clock time in ``tz`` already, and is kept as it is
  (with ``tz=None`` it is kept as it is, too);
* a column mixing aware and naive text is an error (no safe reading exists).

``as_of`` (the end of observation) is read the same way. When it has no time of day
(``"1998-06-30"``), the whole of that day is observed: a row dated ``1998-06-30 15:00`` is
kept, a row dated ``1998-07-01`` is dropped as "timestamp after as_of".

Error or counted drop?
----------------------
A few bad values are data: they are dropped and counted. A column where *no* value can
be read means the mapping or the format is wrong, so it raises
:class:`~clm_lib.exceptions.DataContractError` (no date parses, no amount is a number,
every id is missing, no churn flag is recognised). Errors name the column, the reason,
the number of rows and at most five 0-based row positions in the input, never the raw
values (they may be customer data). Other errors:

* ``negative_amounts="error"`` and a negative amount;
* an ``order_id`` (with ``product``, when that column exists: one order may have many
  lines) that appears twice with different values;
* a snapshot-form subscription table with the same customer twice, with different
  values (identical repeats are dropped and counted);
* empty input, or nothing left after cleaning: :class:`~clm_lib.exceptions.InsufficientDataError`.

Transactions: drop reasons, in order
------------------------------------
``missing customer_id``, ``missing timestamp``, ``unparseable timestamp``,
``missing amount``, ``non-numeric amount`` (text, or infinite), ``timestamp after as_of``,
``negative amount (return/cancellation)`` (policy ``"drop"``), ``duplicate order_id``
(an exact repeat of an earlier row with the same order id). Kept with a warning:
zero amounts (a purchase for counting and retention, not a spend observation),
negative amounts under ``"net"`` (returns net against purchases in spend totals),
identical rows without an ``order_id`` (two identical purchases on the same day are
plausible, so they are kept), non-numeric or missing ``quantity`` (set to NaN).

Subscriptions: drop reasons, in order
-------------------------------------
Interval form (``customer_id``, ``start``, ``end``): ``missing customer_id``,
``missing start``, ``unparseable start``, ``unparseable end`` (an empty end means
"active"), ``start after as_of``, ``end before start``, ``duplicate subscription row``.
An end after ``as_of`` is treated as active at ``as_of`` (censored) with a warning.
A customer may hold several intervals (re-subscriptions); each is kept as its own spell,
with a warning.
Snapshot form (``customer_id``, ``tenure``, ``churned``): ``missing customer_id``,
``missing tenure``, ``non-numeric tenure``, ``negative tenure``, ``missing churn flag``,
``unrecognised churn flag``, ``duplicate customer row``.

Other columns
-------------
Kept. A text column whose non-missing values all read as numbers is converted to numbers
(blank cells become NaN and are counted as a warning, e.g. Telco ``TotalCharges``), unless
its name ends in ``id`` or a value has a leading zero (codes and identifiers stay text).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clm_lib.exceptions import (
    DataContractError,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
)
from clm_lib.checks import TIME_UNITS
from clm_lib.io.quality import DataQuality
from clm_lib.checks import require_columns as _require

__all__ = [
    "read_table",
    "load_transactions",
    "load_subscriptions",
    "subscription_durations",
    "load_leads",
    "validate_file",
    "NEGATIVE_AMOUNT_POLICIES",
    "TIME_UNITS",
]

#: Accepted values of ``negative_amounts``.
NEGATIVE_AMOUNT_POLICIES = ("drop", "net", "error")


_MISSING_TOKENS = ["", "na", "n/a", "nan", "null", "none", "nat", "<na>"]
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".tsv", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")
# An explicit UTC offset or "Z" after a time of day marks time-zone-aware text.
_AWARE_RE = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_DEFAULT_CHURN = {
    "yes": True, "no": False, "y": True, "n": False,
    "true": True, "false": False, "t": True, "f": False,
    "1": True, "0": False, "1.0": True, "0.0": False,
}

TX_REQUIRED = ("customer_id", "timestamp", "amount")
INTERVAL_REQUIRED = ("customer_id", "start", "end")
LEADS_REQUIRED = ("lead_id", "created", "source", "converted")
SNAPSHOT_REQUIRED = ("customer_id", "tenure", "churned")


# --------------------------------------------------------------------------- reading
def _kind_of_path(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    raise ParameterError(
        f"unsupported file type for '{path.name}': expected one of "
        f"{', '.join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)}"
    )


def _separator(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".tsv"):
        return "\t"
    if name.endswith(".txt"):
        # The header line decides: the first of , \t ; | found, else runs of whitespace.
        with open(path, encoding="utf-8", errors="replace") as fh:
            header = fh.readline()
        for sep in (",", "\t", ";", "|"):
            if sep in header:
                return sep
        return r"\s+" if header.strip().split() != [header.strip()] else ","
    return ","


def read_table(path: str | Path, columns_needed: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file, keeping identifiers as text.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.csv.gz`` (and other compressed ``.csv.*``), ``.tsv``, ``.txt``
        (delimiter sniffed; whitespace-separated accepted) or ``.parquet``/``.pq``.
    columns_needed : list of str, optional
        Read only these columns; raises :class:`MissingColumnsError` first if any is absent.

    Returns
    -------
    pandas.DataFrame
        CSV: every column as text (``object`` dtype), empty fields as NaN.
        Parquet: the stored types.

    Examples
    --------
    >>> df = read_table(CDNOW_MASTER)           # doctest: +SKIP
    >>> df["customer_id"].iloc[0]               # doctest: +SKIP
    '00001'
    """
    path = Path(path)
    kind = _kind_of_path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if kind == "parquet":
        if columns_needed is not None:
            import pyarrow.parquet as pq

            found = list(pq.read_schema(path).names)
            missing = [c for c in columns_needed if c not in found]
            if missing:
                raise MissingColumnsError(missing, found, what=path.name)
        return pd.read_parquet(path, columns=list(columns_needed) if columns_needed else None)

    sep = _separator(path)
    engine = "c"  # the C parser also handles the whitespace separator r"\s+"
    try:
        if columns_needed is not None:
            found = list(pd.read_csv(path, nrows=0, sep=sep, engine=engine).columns)
            missing = [c for c in columns_needed if c not in found]
            if missing:
                raise MissingColumnsError(missing, found, what=path.name)
        return pd.read_csv(
            path,
            sep=sep,
            engine=engine,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            usecols=list(columns_needed) if columns_needed is not None else None,
        )
    except pd.errors.EmptyDataError as exc:
        raise InsufficientDataError(f"'{path.name}' is empty (no header, no rows)") from exc


def _read_source(source: Any) -> tuple[pd.DataFrame, str]:
    if isinstance(source, pd.DataFrame):
        return source.copy(), "DataFrame"
    if isinstance(source, (str, Path)):
        path = Path(source)
        return read_table(path), path.name
    raise ParameterError(
        f"source must be a file path or a pandas DataFrame, not {type(source).__name__}"
    )


def _apply_mapping(df: pd.DataFrame, columns: Mapping[str, str] | None, what: str) -> pd.DataFrame:
    df.columns = [str(c) for c in df.columns]
    if not columns:
        return df
    if not isinstance(columns, Mapping):
        raise ParameterError("columns must be a mapping {source name: canonical name}")
    absent = [src for src in columns if src not in df.columns]
    if absent:
        raise MissingColumnsError(absent, list(df.columns),
                                  what=f"{what} (column(s) named in the columns mapping)")
    df = df.rename(columns=dict(columns))
    dup = df.columns[df.columns.duplicated()].unique().tolist()
    if dup:
        raise DataContractError(
            dup[0], "two input columns end up with this name after applying the columns mapping"
        )
    return df


def _open(source: Any, columns: Mapping[str, str] | None, kind: str
          ) -> tuple[pd.DataFrame, str, str]:
    """Read ``source``, refuse an empty one, apply the column mapping.

    Returns the frame (index 0..n-1), the source name and ``"<kind> '<name>'"`` for messages.
    """
    raw, name = _read_source(source)
    what = f"{kind} '{name}'"
    if len(raw) == 0:
        raise InsufficientDataError(f"{what} have no rows")
    return _apply_mapping(raw, columns, what).reset_index(drop=True), name, what


def _positions(mask: np.ndarray | pd.Series) -> np.ndarray:
    return np.flatnonzero(np.asarray(mask, dtype=bool))


def _error(column: str | None, reason: str, mask) -> DataContractError:
    pos = _positions(mask)
    return DataContractError(column, reason, len(pos), pos[:5])


# --------------------------------------------------------------------------- parsing
def _factor(s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct stripped texts of a column: (codes, uniques, uniques-missing mask).

    String work (strip, parse, match) is done once per distinct value and mapped back
    through ``codes`` (-1 = null), which is what keeps loading fast on long files.
    """
    codes, uniq = pd.factorize(s.astype(object), use_na_sentinel=True)
    u_txt = pd.Series(uniq, dtype=object).astype(str).str.strip()
    u_missing = u_txt.str.lower().isin(_MISSING_TOKENS).to_numpy()
    return codes, u_txt.to_numpy(dtype=object), u_missing


def _expand(codes: np.ndarray, u_values: np.ndarray, fill) -> np.ndarray:
    """Map per-unique values back to rows; ``fill`` where the row is null."""
    if len(u_values) == 0:
        return np.full(len(codes), fill, dtype=np.asarray(u_values).dtype if fill is not None else object)
    out = np.asarray(u_values)[np.maximum(codes, 0)]
    if (codes < 0).any():
        out = out.copy() if out.dtype != object else out
        out[codes < 0] = fill
    return out


def _text(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Stripped text (object dtype, None where null) and the missing mask of a column."""
    codes, u_txt, u_missing = _factor(s)
    txt = pd.Series(_expand(codes, u_txt, None), index=s.index, dtype=object)
    missing = _expand(codes, u_missing, True).astype(bool)
    return txt, missing


def _ids(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Identifiers as pandas ``string`` dtype (ints without ``.0``) and the missing mask."""
    if pd.api.types.is_bool_dtype(s.dtype):
        raise DataContractError(s.name, "identifiers are true/false values; wrong column mapped?")
    if pd.api.types.is_float_dtype(s.dtype):
        vals = s.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(vals)
        if finite.any() and np.all(vals[finite] == np.round(vals[finite])):
            s = s.astype("Int64")
    if pd.api.types.is_numeric_dtype(s.dtype):
        out = s.astype("string")
        missing = out.isna().to_numpy()
        return out, missing
    txt, missing = _text(s)
    out = txt.astype("string")
    out[missing] = pd.NA
    return out, missing


def _numbers(s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float64 values, missing mask, unreadable mask (text, or +-inf)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        raise DataContractError(s.name, "expected numbers, found true/false values")
    if pd.api.types.is_numeric_dtype(s.dtype):
        vals = s.to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(vals)
    else:
        codes, u_txt, u_missing = _factor(s)
        u_vals = pd.to_numeric(pd.Series(u_txt, dtype=object), errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan)
        u_vals[u_missing] = np.nan
        vals = _expand(codes, u_vals, np.nan).astype("float64")
        missing = _expand(codes, u_missing, True).astype(bool)
    bad = ~missing & ~np.isfinite(vals)
    vals = np.where(bad, np.nan, vals)
    return vals, missing, bad


def _to_naive(parsed: pd.Series, tz: str | None) -> pd.Series:
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert(tz or "UTC").dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def _dates(s: pd.Series, column: str, *, date_format: str | None,
           tz: str | None) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Parse a date column: (datetime64[ns] naive, missing mask, unparseable mask).

    Raises DataContractError when no value parses or when aware and naive text are mixed.
    """
    n = len(s)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        parsed = _to_naive(s, tz)
        missing = parsed.isna().to_numpy()
        return parsed, missing, np.zeros(n, dtype=bool)

    codes, u_txt, u_missing = _factor(s)
    missing = _expand(codes, u_missing, True).astype(bool)
    present = ~missing
    bad = np.zeros(n, dtype=bool)
    if not present.any():
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]"), missing, bad
    u_present = ~u_missing
    u_values = pd.Series(u_txt[u_present], dtype=object)
    if date_format:
        aware = "%z" in date_format or "%Z" in date_format
    else:
        u_aware = np.zeros(len(u_txt), dtype=bool)
        u_aware[u_present] = u_values.str.contains(_AWARE_RE, regex=True).to_numpy(dtype=bool)
        row_aware = _expand(codes, u_aware, False).astype(bool)
        n_aware = int(row_aware.sum())
        if 0 < n_aware < int(present.sum()):
            raise _error(column, "mix of time-zone-aware and naive timestamps; "
                                 "naive rows lack a UTC offset", present & ~row_aware)
        aware = n_aware > 0
    parsed = pd.to_datetime(u_values, format=date_format or "ISO8601", errors="coerce",
                            utc=aware)
    parsed = _to_naive(parsed, tz)
    u_parsed = np.full(len(u_txt), np.datetime64("NaT"), dtype="datetime64[ns]")
    u_parsed[u_present] = parsed.to_numpy()
    values = _expand(codes, u_parsed, np.datetime64("NaT"))
    bad = present & np.isnat(values)
    if bad[present].all():
        hint = (f"with date_format {date_format!r}" if date_format
                else "as ISO 8601 dates; pass date_format, e.g. '%d/%m/%Y'")
        raise _error(column, f"no value could be read {hint}", bad)
    return pd.Series(values, index=s.index, dtype="datetime64[ns]"), missing, bad


def _as_of(as_of: Any, tz: str | None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """(as_of as naive Timestamp, exclusive cutoff): whole day observed when no time of day."""
    if as_of is None:
        return None, None
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"as_of is not a date: {as_of!r}") from exc
    if ts is pd.NaT:
        raise ParameterError("as_of is missing (NaT)")
    if ts.tzinfo is not None:
        ts = ts.tz_convert(tz or "UTC").tz_localize(None)
    cutoff = ts + pd.Timedelta(days=1) if ts == ts.normalize() else ts + pd.Timedelta(1, "ns")
    return ts, cutoff


def _when(as_of_ts: pd.Timestamp) -> str:
    if as_of_ts == as_of_ts.normalize():
        return f"{as_of_ts:%Y-%m-%d} (that whole day included)"
    return f"{as_of_ts:%Y-%m-%d %H:%M:%S}"


def _check_tz(tz: str | None) -> None:
    if tz is None:
        return
    try:
        pd.Timestamp("2000-01-01", tz=tz)
    except Exception as exc:  # noqa: BLE001 - any failure means the name is unusable
        raise ParameterError(f"unknown time zone {tz!r}") from exc


def _tz_note(tz: str | None) -> str:
    if tz:
        return (f"Time zone: time-zone-aware timestamps were converted to {tz}; naive "
                f"timestamps were taken as {tz} wall-clock time; times are shown without zone.")
    return ("Time zone: time-zone-aware timestamps were converted to UTC; naive timestamps "
            "were kept as they are; times are shown without zone.")


def _date_note(date_format: str | None) -> str:
    if date_format:
        return f"Dates were read with the format {date_format!r}."
    return "Dates were read as ISO 8601 (year-month-day)."


# Notes for the data-quality record, shared with the DuckDB/Spark contract
# (clm_lib.io.contract) so that both say the same thing in the same words.
ONE_REASON_NOTE = "Each row was dropped for at most one reason (the first that applied)."


def _order_duplicates_note(key: list[str]) -> str:
    return ("Duplicates: rows repeating an earlier row with the same "
            f"{' and '.join(key)} were dropped as double-recorded; "
            "a repeated order id with different values would have been an error.")


def _amount_notes(negative_amounts: str, n_zero: int) -> list[str]:
    """What happened to zero and negative amounts (``negative_amounts`` policy)."""
    notes = []
    if n_zero:
        notes.append("Zero amounts: kept as purchases (they count for frequency and "
                     "retention) but are not spend observations.")
    notes.append({
        "drop": "Negative amounts (returns/cancellations): dropped and counted.",
        "net": "Negative amounts (returns/cancellations): kept as negative rows; spend "
               "totals net them against purchases.",
    }.get(negative_amounts, "Negative amounts: not allowed (none found)."))
    return notes


def _interval_notes(n_active: int) -> list[str]:
    return [f"Form: intervals (start, end); an empty end means active "
            f"({n_active} active, censored at as_of in durations).",
            "Identical rows were dropped as double-recorded; a customer may hold "
            "several subscriptions, each kept as its own spell."]


def _interval_as_of_note(as_of_label: str) -> str:
    return (f"Observation end (as_of): {as_of_label}; subscriptions starting later were "
            "dropped, ends after it count as still active.")


def _snapshot_notes(churn_values, as_of_given: bool) -> list[str]:
    notes = ["Form: snapshot (tenure, churned); tenure is in the periods of the data "
             "(e.g. months for Telco).",
             "Churn flags read as " + ("given by churn_values." if churn_values is not None
                                       else "yes/no, true/false, y/n, t/f or 1/0 (any case)."),
             "Identical repeated rows were dropped as double-recorded; a customer repeated "
             "with different values would have been an error."]
    if as_of_given:
        notes.append("as_of is not used by the snapshot form (tenure is already measured).")
    return notes


def _looks_like_id(name: str) -> bool:
    """``id``, ``store_id``, ``order-id``, ``customerID``, ``userId``; not ``paid``."""
    return bool(re.search(r"(?:^|[\W_])id$", name, re.IGNORECASE)
                or re.search(r"[a-z0-9](?:ID|Id)$", name))


def _infer_numeric(df: pd.DataFrame, skip: set[str], dq: DataQuality) -> pd.DataFrame:
    """Convert text columns whose values all read as numbers; count blanks as warnings."""
    for col in df.columns:
        if col in skip or _looks_like_id(col):
            continue
        s = df[col]
        if s.dtype != object and not isinstance(s.dtype, pd.StringDtype):
            continue
        txt, missing = _text(s)
        present = ~missing
        if not present.any():
            continue
        values = txt[present]
        if values.str.match(r"^[+-]?0\d").any():
            continue  # leading zeros: a code, keep as text
        num = pd.to_numeric(values, errors="coerce")
        if num.isna().any():
            continue
        full = np.full(len(s), np.nan)
        full[present] = num.to_numpy(dtype="float64")
        if not missing.any() and np.all(full == np.round(full)):
            df[col] = full.astype("int64")
        else:
            df[col] = full
        n_blank = int(missing.sum())
        if n_blank:
            dq.warn(f"blank values in numeric column '{col}' (kept, value NaN)", n_blank)
    return df


class _Dropper:
    """Assign each row at most one drop reason, in the order reasons are applied."""

    def __init__(self, n: int, dq: DataQuality):
        self.alive = np.ones(n, dtype=bool)
        self.dq = dq

    def drop(self, reason: str, mask) -> None:
        m = np.asarray(mask, dtype=bool) & self.alive
        self.dq.drop(reason, int(m.sum()))
        self.alive &= ~m


def _finish(df: pd.DataFrame, dq: DataQuality, what: str) -> None:
    dq.rows_used = len(df)
    dq.check()
    if dq.rows_used == 0:
        reasons = "; ".join(f"{r}: {n}" for r, n in dq.dropped.items())
        raise InsufficientDataError(f"{what}: no row left after cleaning ({reasons})")


# --------------------------------------------------------------------------- transactions
def load_transactions(
    source: str | Path | pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    *,
    as_of: Any = None,
    date_format: str | None = None,
    tz: str | None = None,
    negative_amounts: str = "drop",
) -> tuple[pd.DataFrame, DataQuality]:
    """Load purchases into the canonical transactions frame.

    Parameters
    ----------
    source : str, Path or DataFrame
        CSV/Parquet file (see :func:`read_table`) or a DataFrame (not modified).
        Needs columns ``customer_id``, ``timestamp``, ``amount`` (after ``columns``);
        optional ``order_id``, ``quantity``, ``product``; other columns are kept.
    columns : dict, optional
        Source name -> canonical name, e.g. CDNOW master
        ``{"date": "timestamp", "dollars": "amount", "cds": "quantity"}``.
    as_of : str, date or Timestamp, optional
        End of observation; later rows are dropped (a date without time keeps that day).
    date_format : str, optional
        ``strptime`` format of ``timestamp``; ISO 8601 when None.
    tz : str, optional
        Analysis time zone (IANA name); see the module notes for the rule.
    negative_amounts : {"drop", "net", "error"}
        Returns/cancellations: drop and count; keep as negative rows (spend nets against
        purchases); or raise :class:`DataContractError`.

    Returns
    -------
    frame : DataFrame
        ``customer_id`` (string), ``timestamp`` (datetime64[ns], naive), ``amount``
        (float64, currency of the data), optional ``order_id`` (string), ``quantity``
        (float64), other columns; sorted by customer_id then timestamp (stable),
        index 0..n-1.
    quality : DataQuality
        Rows in, used, dropped by reason, warnings, notes.

    Raises
    ------
    MissingColumnsError, DataContractError, InsufficientDataError, ParameterError

    Examples
    --------
    >>> tx, dq = load_transactions(CDNOW_MASTER,
    ...     {"date": "timestamp", "dollars": "amount", "cds": "quantity"})  # doctest: +SKIP
    >>> dq.rows_in, tx["customer_id"].nunique()                            # doctest: +SKIP
    (69659, 23570)
    """
    if negative_amounts not in NEGATIVE_AMOUNT_POLICIES:
        raise ParameterError(
            f"negative_amounts must be one of {NEGATIVE_AMOUNT_POLICIES}, not {negative_amounts!r}"
        )
    _check_tz(tz)
    as_of_ts, cutoff = _as_of(as_of, tz)
    df, name, what = _open(source, columns, "transactions")
    _require(df, TX_REQUIRED, what)
    dq = DataQuality(source=name, rows_in=len(df))

    cid, cid_missing = _ids(df["customer_id"])
    if cid_missing.all():
        raise _error("customer_id", "every customer_id is missing; wrong column mapped?", cid_missing)
    ts, ts_missing, ts_bad = _dates(df["timestamp"], "timestamp", date_format=date_format, tz=tz)
    if ts_missing.all():
        raise _error("timestamp", "every timestamp is missing; wrong column mapped?", ts_missing)
    amount, amt_missing, amt_bad = _numbers(df["amount"])
    if amt_missing.all():
        raise _error("amount", "every amount is missing; wrong column mapped?", amt_missing)
    if amt_bad[~amt_missing].all():
        raise _error("amount", "no amount is a number (currency symbols or thousands "
                               "separators must be removed before loading)", amt_bad)

    d = _Dropper(len(df), dq)
    d.drop("missing customer_id", cid_missing)
    d.drop("missing timestamp", ts_missing)
    d.drop("unparseable timestamp", ts_bad)
    d.drop("missing amount", amt_missing)
    d.drop("non-numeric amount", amt_bad)
    if cutoff is not None:
        d.drop("timestamp after as_of", (ts >= cutoff).to_numpy())
    negative = np.nan_to_num(amount) < 0
    n_neg = int((negative & d.alive).sum())
    if negative_amounts == "error" and n_neg:
        raise _error("amount", "negative amounts (returns/cancellations) are not allowed with "
                               "negative_amounts='error'; use 'drop' or 'net'",
                     negative & d.alive)
    if negative_amounts == "drop":
        d.drop("negative amount (return/cancellation)", negative)

    df["customer_id"] = cid
    df["timestamp"] = ts
    df["amount"] = amount
    if "order_id" in df.columns:
        df["order_id"] = _ids(df["order_id"])[0]
    out = df.loc[d.alive].copy()

    # Duplicates: an order id (with product, when present) identifies one purchase line.
    if "order_id" in out.columns:
        has_order = out["order_id"].notna().to_numpy()
        exact = out.duplicated(keep="first").to_numpy() & has_order
        key = ["order_id"] + (["product"] if "product" in out.columns else [])
        dropped_pos = out.index.to_numpy()[exact]
        d.drop("duplicate order_id", np.isin(np.arange(len(df)), dropped_pos))
        out = out.loc[~exact]
        has_order = out["order_id"].notna().to_numpy()
        conflict = out.duplicated(subset=key, keep=False).to_numpy() & has_order
        if conflict.any():
            mask = np.zeros(len(df), dtype=bool)
            mask[out.index.to_numpy()[conflict]] = True
            raise _error("order_id", "the same order id appears with different values "
                                     f"(key: {', '.join(key)})", mask)
        dq.notes.append(_order_duplicates_note(key))
        n_ident = int(out.loc[~has_order].duplicated(keep="first").sum())
        dq.warn("identical rows kept (no order_id to tell duplicates)", n_ident)
    else:
        n_ident = int(out.duplicated(keep="first").sum())
        dq.warn("identical rows kept (no order_id to tell duplicates)", n_ident)
        dq.notes.append(
            "Duplicates: without an order id, identical rows cannot be told apart from two "
            "identical purchases, so they were kept (counted under warnings)."
        )

    if "quantity" in out.columns:
        q, q_missing, q_bad = _numbers(out["quantity"])
        out["quantity"] = q
        dq.warn("missing quantity (kept, value NaN)", int(q_missing.sum()))
        dq.warn("non-numeric quantity (kept, value NaN)", int(q_bad.sum()))
    out = _infer_numeric(out, set(TX_REQUIRED) | {"order_id", "quantity", "product"}, dq)

    amt = out["amount"].to_numpy()
    n_zero = int((amt == 0).sum())
    dq.warn("zero amount (kept as purchase, not a spend observation)", n_zero)
    if negative_amounts == "net":
        dq.warn("negative amount kept (return/cancellation, nets against spend)",
                int((amt < 0).sum()))
    dq.notes += _amount_notes(negative_amounts, n_zero)
    dq.notes.append(_date_note(date_format))
    dq.notes.append(_tz_note(tz))
    if as_of_ts is not None:
        dq.notes.append(f"Observation end (as_of): {_when(as_of_ts)}; later rows dropped.")
    dq.notes.append(ONE_REASON_NOTE)

    out = out.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)
    first = [c for c in ("customer_id", "timestamp", "amount", "order_id", "quantity", "product")
             if c in out.columns]
    out = out[first + [c for c in out.columns if c not in first]]
    out["customer_id"] = out["customer_id"].astype("string")
    out["timestamp"] = out["timestamp"].astype("datetime64[ns]")
    out["amount"] = out["amount"].astype("float64")
    _finish(out, dq, what)
    from clm_lib.io.schemas import TransactionsSchema

    TransactionsSchema.validate(out)
    return out, dq


# --------------------------------------------------------------------------- subscriptions
def _churn_table(churn_values: Mapping[Any, bool] | None) -> dict[str, bool]:
    """Lower-case stripped text -> churned, from ``churn_values`` or the default reading.

    Shared with the engines' contract (:mod:`clm_lib.io.contract`).
    """
    if churn_values is None:
        return dict(_DEFAULT_CHURN)
    if not isinstance(churn_values, Mapping) or not all(
            isinstance(v, (bool, np.bool_)) for v in churn_values.values()):
        raise ParameterError("churn_values must map source values to True (churned) "
                             "or False (not churned)")
    return {str(k).strip().lower(): bool(v) for k, v in churn_values.items()}


def _churn_flags(s: pd.Series, churn_values: Mapping[Any, bool] | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flags bool, missing mask, unrecognised mask)."""
    table = _churn_table(churn_values)
    if pd.api.types.is_bool_dtype(s.dtype) and churn_values is None:
        missing = s.isna().to_numpy()
        return s.fillna(False).to_numpy(dtype=bool), missing, np.zeros(len(s), dtype=bool)
    txt, missing = _text(s)
    mapped = txt.astype(str).str.lower().map(table)
    unknown = ~missing & mapped.isna().to_numpy()
    flags = mapped.eq(True).to_numpy(dtype=bool)
    return flags, missing, unknown


def load_subscriptions(
    source: str | Path | pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    *,
    as_of: Any = None,
    date_format: str | None = None,
    tz: str | None = None,
    churn_values: Mapping[Any, bool] | None = None,
) -> tuple[pd.DataFrame, DataQuality]:
    """Load subscriptions (contractual customers) in interval or snapshot form.

    Parameters
    ----------
    source : str, Path or DataFrame
        File (see :func:`read_table`) or DataFrame (not modified). After ``columns``, either
        the interval form ``customer_id``, ``start``, ``end`` (empty end = still active) or
        the snapshot form ``customer_id``, ``tenure`` (periods, e.g. months), ``churned``.
        Other columns are kept as covariates.
    columns : dict, optional
        Source name -> canonical name; Telco: ``{"customerID": "customer_id", "Churn": "churned"}``.
    as_of : str, date or Timestamp, optional
        Interval form: end of observation; starts after it are dropped, ends after it are
        treated as active (censored). Not used by the snapshot form.
    date_format, tz
        As in :func:`load_transactions` (interval form only).
    churn_values : dict, optional
        Snapshot form: source value -> bool, replacing the default reading (yes/no,
        true/false, y/n, t/f, 1/0, any case), e.g. ``{"Churned": True, "Stayed": False}``.

    Returns
    -------
    frame : DataFrame
        Interval: ``customer_id`` (string), ``start``, ``end`` (datetime64[ns], NaT = active),
        covariates; sorted by customer_id, start.
        Snapshot: ``customer_id`` (string, unique), ``tenure`` (float64, in the periods of the
        data), ``churned`` (bool), covariates; sorted by customer_id.
    quality : DataQuality

    Examples
    --------
    >>> subs, dq = load_subscriptions(TELCO_CHURN,
    ...     {"customerID": "customer_id", "Churn": "churned"})   # doctest: +SKIP
    >>> dq.warnings["blank values in numeric column 'TotalCharges' (kept, value NaN)"]  # doctest: +SKIP
    11
    """
    _check_tz(tz)
    as_of_ts, cutoff = _as_of(as_of, tz)
    df, name, what = _open(source, columns, "subscriptions")
    if "start" in df.columns:
        _require(df, INTERVAL_REQUIRED, what + " (interval form)")
        form = "interval"
    else:
        _require(df, SNAPSHOT_REQUIRED,
                 what + " (snapshot form needs customer_id, tenure, churned; interval form "
                        "needs customer_id, start, end)")
        form = "snapshot"
    dq = DataQuality(source=name, rows_in=len(df))
    cid, cid_missing = _ids(df["customer_id"])
    if cid_missing.all():
        raise _error("customer_id", "every customer_id is missing; wrong column mapped?", cid_missing)
    d = _Dropper(len(df), dq)
    d.drop("missing customer_id", cid_missing)
    df["customer_id"] = cid

    if form == "interval":
        start, s_missing, s_bad = _dates(df["start"], "start", date_format=date_format, tz=tz)
        if s_missing.all():
            raise _error("start", "every start date is missing; wrong column mapped?", s_missing)
        end, e_missing, e_bad = _dates(df["end"], "end", date_format=date_format, tz=tz) \
            if not _all_missing(df["end"]) else (
                pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]"),
                np.ones(len(df), dtype=bool), np.zeros(len(df), dtype=bool))
        d.drop("missing start", s_missing)
        d.drop("unparseable start", s_bad)
        d.drop("unparseable end", e_bad)
        if cutoff is not None:
            d.drop("start after as_of", (start >= cutoff).to_numpy())
        d.drop("end before start", (end < start).to_numpy())
        if cutoff is not None:
            late = (end >= cutoff).to_numpy() & d.alive
            dq.warn("end after as_of (treated as active at as_of, censored)", int(late.sum()))
            end = end.mask(late)
            dq.notes.append(_interval_as_of_note(_when(as_of_ts)))
        df["start"] = start
        df["end"] = end
        out = df.loc[d.alive]
        exact = out.duplicated(keep="first").to_numpy()
        mask = np.zeros(len(df), dtype=bool)
        mask[out.index.to_numpy()[exact]] = True
        d.drop("duplicate subscription row", mask)
        out = out.loc[~exact].copy()
        dq.warn("customer with more than one subscription (each kept as its own spell)",
                int(out["customer_id"].duplicated(keep=False).sum()))
        n_active = int(out["end"].isna().sum())
        out = _infer_numeric(out, {"customer_id", "start", "end"}, dq)
        out = out.sort_values(["customer_id", "start"], kind="stable").reset_index(drop=True)
        out["start"] = out["start"].astype("datetime64[ns]")
        out["end"] = out["end"].astype("datetime64[ns]")
        dq.notes += _interval_notes(n_active)
        dq.notes.append(_date_note(date_format))
        dq.notes.append(_tz_note(tz))
        schema_name = "SubscriptionIntervalsSchema"
    else:
        tenure, t_missing, t_bad = _numbers(df["tenure"])
        if t_missing.all():
            raise _error("tenure", "every tenure is missing; wrong column mapped?", t_missing)
        if t_bad[~t_missing].all():
            raise _error("tenure", "no tenure is a number", t_bad)
        flags, c_missing, c_unknown = _churn_flags(df["churned"], churn_values)
        if c_unknown[~c_missing].all() and (~c_missing).any():
            raise _error("churned", "no churn flag is recognised; pass churn_values, e.g. "
                                    "{'Churned': True, 'Active': False}", c_unknown)
        d.drop("missing tenure", t_missing)
        d.drop("non-numeric tenure", t_bad)
        d.drop("negative tenure", np.nan_to_num(tenure) < 0)
        d.drop("missing churn flag", c_missing)
        d.drop("unrecognised churn flag", c_unknown)
        df["tenure"] = tenure
        df["churned"] = flags
        out = df.loc[d.alive]
        exact = out.duplicated(keep="first").to_numpy()
        mask = np.zeros(len(df), dtype=bool)
        mask[out.index.to_numpy()[exact]] = True
        d.drop("duplicate customer row", mask)
        out = out.loc[~exact].copy()
        conflict = out["customer_id"].duplicated(keep=False).to_numpy()
        if conflict.any():
            mask = np.zeros(len(df), dtype=bool)
            mask[out.index.to_numpy()[conflict]] = True
            raise _error("customer_id", "the same customer appears more than once with "
                                        "different values (a snapshot has one row per customer)",
                         mask)
        dq.warn("zero tenure (kept; no time at risk yet)", int((out["tenure"] == 0).sum()))
        out = _infer_numeric(out, {"customer_id", "tenure", "churned"}, dq)
        out = out.sort_values("customer_id", kind="stable").reset_index(drop=True)
        out["tenure"] = out["tenure"].astype("float64")
        out["churned"] = out["churned"].astype(bool)
        dq.notes += _snapshot_notes(churn_values, as_of is not None)
        schema_name = "SubscriptionSnapshotSchema"
    out["customer_id"] = out["customer_id"].astype("string")
    dq.notes.append(ONE_REASON_NOTE)
    _finish(out, dq, what)
    from clm_lib.io import schemas as contracts

    getattr(contracts, schema_name).validate(out)
    return out, dq


def _all_missing(s: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return bool(s.isna().all())
    return bool(_text(s)[1].all())


# --------------------------------------------------------------------------- durations
def subscription_durations(subs: pd.DataFrame, *, as_of: Any = None,
                           time_unit: str = "month") -> pd.DataFrame:
    """Duration and event indicator per subscription, for survival analysis.

    Parameters
    ----------
    subs : DataFrame
        Output of :func:`load_subscriptions`: interval form (``customer_id``, ``start``,
        ``end``; NaT end = active) or snapshot form (``customer_id``, ``tenure``,
        ``churned``). Other columns are carried along as covariates.
    as_of : str, date or Timestamp, optional
        Interval form: end of observation, required when some subscription is active;
        ends after it are censored at it. Ignored by the snapshot form.
    time_unit : {"day", "week", "month", "year"}
        Interval form: unit of ``duration`` (a month is 365.25/12 days, a year 365.25
        days). The snapshot form passes ``tenure`` through unchanged: its unit is that of
        the data (months for Telco), whatever ``time_unit`` says.

    Returns
    -------
    DataFrame
        ``customer_id`` (string), ``duration`` (float64, >= 0), ``event`` (bool: True =
        churned/ended, False = censored, still active at as_of), then covariates.

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": ["a"], "start": pd.to_datetime(["2020-01-01"]),
    ...                      "end": pd.to_datetime(["2020-01-08"])})
    >>> d = subscription_durations(subs, time_unit="week")
    >>> float(d["duration"].iloc[0]), bool(d["event"].iloc[0])
    (1.0, True)
    """
    if time_unit not in TIME_UNITS:
        raise ParameterError(f"time_unit must be one of {tuple(TIME_UNITS)}, not {time_unit!r}")
    cols = set(subs.columns)
    if {"start", "end"} <= cols:
        _require(subs, INTERVAL_REQUIRED, "subscriptions (interval form)")
        start = pd.to_datetime(subs["start"]).reset_index(drop=True)
        end = pd.to_datetime(subs["end"]).reset_index(drop=True)
        if start.isna().any():
            raise _error("start", "missing start date", start.isna())
        as_of_ts, cutoff = _as_of(as_of, None)
        if as_of_ts is None:
            if end.isna().any():
                raise ParameterError(
                    f"as_of is required: {int(end.isna().sum())} subscription(s) are active "
                    "(no end) and need an observation end to measure their duration")
            event = np.ones(len(end), dtype=bool)
            stop = end
        else:
            if (start >= cutoff).any():
                raise _error("start", "subscription starts after as_of", start >= cutoff)
            event = (end.notna() & (end < cutoff)).to_numpy()
            stop = end.where(event, as_of_ts)
        if (end < start).any():
            raise _error("end", "end before start", end < start)
        days = (stop - start) / pd.Timedelta(days=1)
        duration = np.clip(days.to_numpy(dtype="float64"), 0, None) / TIME_UNITS[time_unit]
        drop = ["customer_id", "start", "end"]
    elif {"tenure", "churned"} <= cols:
        _require(subs, SNAPSHOT_REQUIRED, "subscriptions (snapshot form)")
        duration = pd.to_numeric(subs["tenure"], errors="coerce").to_numpy(dtype="float64")
        bad = ~np.isfinite(duration) | (np.nan_to_num(duration) < 0)
        if bad.any():
            raise _error("tenure", "missing, non-numeric or negative tenure", bad)
        churned = subs["churned"]
        if not pd.api.types.is_bool_dtype(churned.dtype):
            raise DataContractError("churned", "must be true/false; load with load_subscriptions")
        event = churned.to_numpy(dtype=bool)
        drop = ["customer_id", "tenure", "churned"]
    else:
        missing = [c for c in ("start", "end") if c not in cols] if "start" in cols else \
            [c for c in SNAPSHOT_REQUIRED if c not in cols]
        raise MissingColumnsError(missing, list(subs.columns),
                                  what="subscriptions (interval form needs customer_id, start, "
                                       "end; snapshot form customer_id, tenure, churned)")
    out = pd.DataFrame({
        "customer_id": subs["customer_id"].astype("string").to_numpy(),
        "duration": np.asarray(duration, dtype="float64"),
        "event": np.asarray(event, dtype=bool),
    })
    covariates = subs.drop(columns=drop).reset_index(drop=True)
    covariates = covariates.drop(columns=[c for c in ("duration", "event") if c in covariates])
    out = pd.concat([out, covariates], axis=1)
    out["customer_id"] = out["customer_id"].astype("string")
    return out


# --------------------------------------------------------------------------- CLI helper
# --------------------------------------------------------------------------- leads
def load_leads(
    source: str | Path | pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    *,
    as_of: Any = None,
    date_format: str | None = None,
    tz: str | None = None,
) -> tuple[pd.DataFrame, DataQuality]:
    """Load a leads table (before the first purchase: reach and conversion).

    Parameters
    ----------
    source : str, Path or DataFrame
        Needs ``lead_id``, ``created`` (date the lead was created), ``source`` (channel or
        campaign; empty becomes ``"(unknown)"``) and ``converted`` (date of conversion,
        empty when not converted); optional ``customer_id``; other columns are kept.
    columns : dict, optional
        Source name -> canonical name.
    as_of : date-like, optional
        End of observation: leads created later are dropped and counted; conversions
        later than ``as_of`` are treated as not converted yet (counted as a warning).
    date_format, tz
        As in :func:`load_transactions`; ``date_format`` applies to both date columns.

    Returns
    -------
    frame : DataFrame
        ``lead_id`` (string), ``created``, ``converted`` (datetime64[ns], NaT = not
        converted by ``as_of``), ``source`` (string), optional ``customer_id``; sorted by
        ``created``.
    quality : DataQuality

    Drop reasons, in order: missing lead_id, missing created, unparseable created,
    unparseable converted (a conversion that cannot be dated cannot be placed in time),
    created after as_of, converted before created, duplicate lead row (identical repeat).
    A ``lead_id`` repeated with different values is a :class:`DataContractError`.
    """
    _check_tz(tz)
    as_of_ts, cutoff = _as_of(as_of, tz)
    df, name, what = _open(source, columns, "leads")
    _require(df, LEADS_REQUIRED, what)
    dq = DataQuality(source=name, rows_in=len(df))

    lead, lead_missing = _ids(df["lead_id"])
    if lead_missing.all():
        raise _error("lead_id", "every lead_id is missing; wrong column mapped?", lead_missing)
    created, created_missing, created_bad = _dates(df["created"], "created",
                                                   date_format=date_format, tz=tz)
    if created_missing.all():
        raise _error("created", "every created date is missing; wrong column mapped?",
                     created_missing)
    converted, _, converted_bad = _dates(df["converted"], "converted",
                                         date_format=date_format, tz=tz)

    d = _Dropper(len(df), dq)
    d.drop("missing lead_id", lead_missing)
    d.drop("missing created", created_missing)
    d.drop("unparseable created", created_bad)
    d.drop("unparseable converted", converted_bad)
    if cutoff is not None:
        d.drop("created after as_of", (created >= cutoff).to_numpy())
    d.drop("converted before created", (converted < created).to_numpy())

    df["lead_id"] = lead
    df["created"] = created
    df["converted"] = converted
    df["source"] = _text(df["source"])[0].fillna("(unknown)")
    if "customer_id" in df.columns:
        df["customer_id"] = _ids(df["customer_id"])[0]
    out = df.loc[d.alive].copy()

    identical = out.duplicated(keep="first").to_numpy()
    d.drop("duplicate lead row", np.isin(np.arange(len(df)), out.index.to_numpy()[identical]))
    out = out.loc[~identical]
    conflict = out.duplicated(subset=["lead_id"], keep=False).to_numpy()
    if conflict.any():
        mask = np.zeros(len(df), dtype=bool)
        mask[out.index.to_numpy()[conflict]] = True
        raise _error("lead_id", "the same lead id appears with different values", mask)

    if cutoff is not None:
        late = (out["converted"] >= cutoff).to_numpy()
        dq.warn("converted after as_of (treated as not converted yet)", int(late.sum()))
        out.loc[late, "converted"] = pd.NaT
        dq.notes.append(f"Observation end (as_of): {_when(as_of_ts)}; leads created later "
                        "dropped, later conversions treated as not converted yet.")
    dq.notes.append("Leads without a conversion date are not converted (censored at as_of).")
    dq.notes.append(_date_note(date_format))
    dq.notes.append(_tz_note(tz))
    out = out.sort_values(["created", "lead_id"], kind="stable").reset_index(drop=True)
    out["lead_id"] = out["lead_id"].astype("string")
    out["source"] = out["source"].astype("string")
    _finish(out, dq, what)
    return out, dq


def validate_file(path: str | Path, kind: str = "transactions",
                  columns: Mapping[str, str] | None = None, **kwargs: Any) -> DataQuality:
    """Load a file with the contract of ``kind`` and return its data-quality record.

    Parameters
    ----------
    path : str or Path
        CSV or Parquet file.
    kind : {"transactions", "subscriptions", "leads"}
    columns : dict, optional
        Source name -> canonical name.
    **kwargs
        Passed to :func:`load_transactions` or :func:`load_subscriptions`
        (``as_of``, ``date_format``, ``tz``, ``negative_amounts``, ``churn_values``).

    Returns
    -------
    DataQuality
        ``.to_dict()`` gives ``rows_in``, ``rows_used``, ``dropped`` by reason, ``warnings``
        and ``notes``. Contract violations raise as in the loaders.
    """
    loaders = {"transactions": load_transactions, "subscriptions": load_subscriptions,
               "leads": load_leads}
    if kind not in loaders:
        raise ParameterError(f"kind must be one of {tuple(loaders)}, not {kind!r}")
    _, dq = loaders[kind](path, columns, **kwargs)
    return dq
