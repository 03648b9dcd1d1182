"""What the transactions, subscriptions and leads contracts share: ``as_of``, the column
mapping, counting drop reasons, exact repeats, errors that name rows, and the numeric
reading of other text columns.

Every contract takes an Ibis table of the raw source (see
:func:`clm_lib.io.sources.raw_table`) and returns the clean table, still lazy in the
engine, and a :class:`~clm_lib.io.quality.DataQuality` record. No row is lost silently:
each row of the input is either used or dropped with exactly one reason (the first that
applies), and ``rows_in == rows_used + sum(dropped.values())`` is checked.

Errors name the column, the reason, the number of rows and at most five 0-based row
positions in the input, never the raw values (they may be customer data). The positions
need row numbers, which cost a pass over the data: a contract runs without them and,
only when it has to raise, runs again with them (:func:`with_positions`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import contextmanager
from typing import Any

import pandas as pd

from clm_lib.exceptions import (
    DataContractError,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
)
from clm_lib.io import parse
from clm_lib.io.quality import DataQuality
from clm_lib.io.sniff import suggest_columns
from clm_lib.io.sources import ROW, _ibis, number_rows

#: Accepted values of ``negative_amounts``.
NEGATIVE_AMOUNT_POLICIES = ("drop", "net", "error")
#: Accepted values of ``id_numbers`` (ids that differ only as numbers, ``1`` and ``1.0``).
ID_NUMBER_POLICIES = ("warn", "merge", "error")
#: Default plausible range: a line's |amount| above it is dropped (``max_amount``).
DEFAULT_MAX_AMOUNT = 1e9
#: Default earliest plausible date (``earliest_date``); earlier rows are dropped.
DEFAULT_EARLIEST_DATE = "1900-01-01"
# A bound larger than this would let sums of bounded values overflow float64 (1e300 times
# 1e8 lines is still finite), which the bound is there to prevent.
_MAX_BOUND = 1e300


class NeedPositions(Exception):
    """Raised inside a contract run without row numbers when it must raise an error
    that names rows; :func:`with_positions` then runs it again with them."""


def check_tz(tz: str | None) -> None:
    if tz is None:
        return
    try:
        pd.Timestamp("2000-01-01", tz=tz)
    except Exception as exc:  # noqa: BLE001 - any failure means the name is unusable
        raise ParameterError(f"unknown time zone {tz!r}") from exc


def check_choice(option: str, value: Any, choices: tuple) -> None:
    """A :class:`ParameterError` naming ``option`` unless ``value`` is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(f"{option} must be one of {choices}, not {value!r}")


def check_bound(option: str, value: Any, none: bool = False) -> float | None:
    """``value`` as a positive finite float no larger than 1e300 (None allowed when
    ``none``); a :class:`ParameterError` naming ``option`` otherwise."""
    if value is None and none:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not 0 < float(value) <= _MAX_BOUND:
        raise ParameterError(f"{option} must be a positive number no larger than "
                             f"{_MAX_BOUND:g}{' or None' if none else ''}, not {value!r}")
    return float(value)


def date_value(value: Any, name: str) -> pd.Timestamp:
    """``value`` as a Timestamp; a :class:`ParameterError` naming ``name`` when it is not a
    date or is missing."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"{name} is not a date: {value!r}") from exc
    if ts is pd.NaT:
        raise ParameterError(f"{name} is missing (NaT)")
    return ts


def parse_earliest(earliest_date: Any) -> pd.Timestamp | None:
    """``earliest_date`` as a naive Timestamp (None: no limit); a :class:`ParameterError`
    naming the option when it is not a date."""
    if earliest_date is None:
        return None
    ts = date_value(earliest_date, "earliest_date")
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


def parse_as_of(as_of: Any, tz: str | None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """(as_of as a naive Timestamp, exclusive cutoff): the whole day is observed when
    ``as_of`` has no time of day. An aware ``as_of`` is converted to ``tz`` (UTC)."""
    if as_of is None:
        return None, None
    ts = date_value(as_of, "as_of")
    if ts.tzinfo is not None:
        ts = ts.tz_convert(tz or "UTC").tz_localize(None)
    # the engines hold microseconds: "after a time of day" starts one microsecond later
    cutoff = ts + pd.Timedelta(days=1) if ts == ts.normalize() else ts + pd.Timedelta(1, "us")
    return ts, cutoff


def rename(t, columns: Mapping[str, str] | None, what: str):
    """Apply the ``columns`` mapping {source name: canonical name} once, at loading."""
    if not columns:
        return t
    if not isinstance(columns, Mapping):
        raise ParameterError("columns must be a mapping {source name: canonical name}")
    absent = [src for src in columns if src not in t.columns]
    if absent:
        raise MissingColumnsError(absent, [c for c in t.columns if c != ROW],
                                  what=f"{what} (column(s) named in the columns mapping)")
    seen: set[str] = set()
    clash = [n for n in (columns.get(c, c) for c in t.columns) if n in seen or seen.add(n)]
    if clash:
        raise DataContractError(clash[0], "two input columns end up with this name after "
                                          "applying the columns mapping")
    return t.rename({v: k for k, v in columns.items() if k != v})


def require(t, names, what: str) -> None:
    missing = [c for c in names if c not in t.columns]
    if missing:
        found = [c for c in t.columns if c != ROW]
        raise MissingColumnsError(missing, found, what=what,
                                  suggestion=suggest_columns(missing, found))


def counts(expr) -> dict[str, int]:
    """Execute a one-row aggregation as ``{name: int}`` (an empty sum is 0)."""
    row = expr.to_pyarrow().to_pylist()[0]
    return {k: int(0 if v is None else v) for k, v in row.items()}


def total(cond):
    """Number of rows where ``cond`` holds (an aggregation)."""
    return parse.flag(cond).cast("int64").sum()


def numbered(t, backend: str):
    """``t`` with :data:`ROW`, the 0-based position of each row in the input.

    DuckDB numbers the rows of a scan in the order of the file (or frame); Spark in the
    order of ``monotonically_increasing_id``, which follows the files' order."""
    ibis = _ibis()
    if ROW in t.columns:
        return t
    if backend == "duckdb":
        return number_rows(t)

    @ibis.udf.scalar.builtin(name="monotonically_increasing_id")
    def mono() -> int:  # pragma: no cover - SQL only
        """Spark's monotonically_increasing_id."""

    t = t.mutate(__clm_mono=mono()).view()
    return t.mutate(**{ROW: ibis.row_number().over(order_by=t.__clm_mono)}).drop(
        "__clm_mono").view()


def with_positions(check: Callable, t, *, backend: str, **kwargs):
    """Run ``check(t, backend=..., **kwargs)``; when it must name rows in an error, run it
    again on the numbered table so that the error carries them."""
    if ROW in t.columns:
        return check(t, backend=backend, **kwargs)
    try:
        return check(t, backend=backend, **kwargs)
    except NeedPositions:
        return check(numbered(t, backend), backend=backend, **kwargs)


def first_rows(t, cond, k: int = 5) -> list[int]:
    """The first ``k`` row positions of ``t`` where ``cond`` holds."""
    sel = t.filter(parse.flag(cond)).select(t[ROW]).order_by(ROW).limit(k)
    return [int(v) for v in sel.to_pyarrow().column(0).to_pylist()]


def fail(t, column: str | None, reason: str, n: int, cond) -> DataContractError:
    """The error for ``n`` rows of ``t`` where ``cond`` holds, with their positions
    (raises :class:`NeedPositions` when ``t`` has no row numbers)."""
    if ROW not in t.columns:
        raise NeedPositions
    return DataContractError(column, reason, n, first_rows(t, cond))


def unreadable_dates(t, column: str, n_bad: int, cond, date_format: str | None):
    hint = (f"with date_format {date_format!r}" if date_format
            else "as ISO 8601 dates; pass date_format, e.g. '%d/%m/%Y'")
    return fail(t, column, f"no value could be read {hint}", n_bad, cond)


def mixed_zones(t, column: str, n_naive: int, cond):
    return fail(t, column, "mix of time-zone-aware and naive timestamps; naive rows lack a "
                           "UTC offset", n_naive, cond)


def whole_floats(t, column: str) -> bool:
    """For a float id column: every finite value is whole (then ids are written as
    integers), as pandas decides it."""
    col = t[column]
    if not col.type().is_floating():
        return True
    finite = parse.flag(col.notnull() & ~col.isnan() & ~col.isinf())
    c = counts(t.aggregate(finite=total(finite), frac=total(finite & (col.floor() != col))))
    return bool(c["finite"]) and not c["frac"]


def first_code(conditions) -> Any:
    """The code (1-based position) of the first condition that holds, 0 for none."""
    ibis = _ibis()
    return ibis.cases(*[(parse.flag(c), i + 1) for i, c in enumerate(conditions)],
                      else_=0).cast("int64")


def distinct_count(t, cols, where=None):
    """Distinct rows of ``cols`` (nulls equal, as pandas' ``duplicated``), an aggregation."""
    ibis = _ibis()
    if not cols:
        return ibis.literal(1, "int64")
    return ibis.struct({c: t[c] for c in cols}).nunique(where=where)


def hash_count(t, cols, where=None):
    """Distinct hashes of the rows of ``cols``, an aggregation: at most the number of
    distinct rows, and equal to the number of rows only when no two rows are identical
    (identical rows hash alike). Cheaper than :func:`distinct_count` (10.6M rows: ~0.9 s
    against ~1.8 s on DuckDB). Spark's hash has 32 bits: on millions of rows some share
    one, and :func:`identical_rows` then compares those."""
    return _ibis().struct({c: t[c] for c in cols}).hash().nunique(where=where)


def identical_rows(t, cols) -> int:
    """Rows of ``t`` identical in ``cols`` to another row, beyond the first of each kind
    (pandas' ``duplicated(keep="first").sum()``), executed. Only the rows whose hash
    another row shares are compared: a row with a hash of its own is distinct."""
    h = t.mutate(__clm_h=_ibis().struct({c: t[c] for c in cols}).hash())
    per = h.group_by("__clm_h").aggregate(__clm_n=h.count())
    shared = h.semi_join(per.filter(per.__clm_n > 1), "__clm_h")
    c = counts(shared.aggregate(n=shared.count(), u=distinct_count(shared, cols)))
    return c["n"] - c["u"]


def first_of_repeats(t, cols):
    """``t`` with one row for each distinct row of ``cols`` (the first one, when ``t``
    has row numbers)."""
    if ROW in t.columns:
        return t.group_by(cols).aggregate(**{ROW: t[ROW].min()})
    return t.select(*cols).distinct()


def repeated_keys(u, key: list[str]):
    """Rows of ``u`` (no exact repeats left) whose ``key`` occurs more than once."""
    per = u.group_by(key).aggregate(__clm_n=u.count())
    bad = per.filter(per.__clm_n > 1).select(*key)
    return u.inner_join(bad, key).select(*u.columns)


def infer_numeric(t, skip: set[str], dq: DataQuality, cands: dict | None = None,
                  found: dict | None = None):
    """Text columns whose present values all read as numbers become numbers: not for
    ``skip``, names that look like identifiers, or codes with a leading zero; int64 when
    no value is blank and all are whole, float64 otherwise, blanks counted as warnings.

    ``cands``/``found``: the candidates of :func:`clm_lib.io.parse.numeric_candidates` and
    their counts (:func:`candidate_aggs`) when the caller aggregated them already.
    """
    from clm_lib.io import wording

    ibis = _ibis()
    if cands is None:
        cands = parse.numeric_candidates(t, set(skip) | {ROW})
    if not cands:
        return t
    if found is None:
        found = counts(parse.candidate_counts_table(t, list(cands)))
    casts = {}
    for i, (name, c) in enumerate(cands.items()):
        n = {k: found[f"{k}__{i}"] for k in c["aggs"]}
        if not n["present"] or n["text"] or n["zero"]:
            continue
        number = ibis.ifelse(c["missing"], ibis.null("float64"), c["value"])
        casts[name] = number.cast("int64") if not n["blank"] and not n["frac"] else number
        dq.warn(wording.blank_numeric(name), n["blank"])
    return t.mutate(**casts) if casts else t


def candidate_aggs(cands: dict) -> dict:
    """The aggregations of numeric candidates, named for :func:`infer_numeric`."""
    return {f"{k}__{i}": agg for i, c in enumerate(cands.values())
            for k, agg in c["aggs"].items()}


def finish(dq: DataQuality, what: str) -> DataQuality:
    """Set ``rows_used``, check the invariant, refuse an empty result."""
    dq.rows_used = dq.rows_in - dq.n_dropped
    dq.check()
    if dq.rows_used == 0:
        reasons = "; ".join(f"{r}: {n}" for r, n in dq.dropped.items())
        raise InsufficientDataError(f"{what}: no row left after cleaning ({reasons})")
    return dq


@contextmanager
def scratch(con):
    """``with scratch(con) as keep:`` gives ``keep(expr) -> table``, which computes
    ``expr`` once into a temporary table of the engine; the tables are dropped on exit."""
    from clm_lib.io.sources import Materialized

    kept: list = []

    def keep(expr):
        m = Materialized(con, expr, prefix="clm_contract")
        kept.append(m)
        return m.table

    try:
        yield keep
    finally:
        for m in kept:
            m.drop()


def no_rows(what: str) -> InsufficientDataError:
    return InsufficientDataError(f"{what} have no rows")


# --------------------------------------------------------------------------- id spellings
_PLAIN_NUMBER = r"^[+-]?[0-9]+(?:\.[0-9]*)?$"


def number_key(col):
    """The number a plain decimal id spells, as canonical text, null for other ids: no
    ``+``, no leading zeros, no trailing zeros after the point nor the point itself
    (``"007"`` -> ``"7"``, ``"1.0"`` -> ``"1"``, ``"+1.50"`` -> ``"1.5"``). Ids with
    exponents or other characters are not numbers here: they are never compared."""
    ibis = _ibis()
    negative = col.startswith("-")
    body = col.re_replace(r"^[+-]", "")
    body = ibis.ifelse(body.contains("."), body.re_replace("0+$", "").re_replace(r"\.$", ""),
                       body)
    body = body.re_replace("^0+", "")
    body = ibis.ifelse((body == "") | body.startswith("."), "0" + body, body)
    key = ibis.ifelse(negative & (body != "0"), "-" + body, body)
    return ibis.ifelse(parse.flag(col.re_search(_PLAIN_NUMBER)), key, ibis.null("string"))


def spelling_aggs(col, where) -> dict:
    """Aggregations that tell whether two ids of ``col`` (rows where ``where`` holds) may
    spell the same number: ``idn_ids`` distinct ids that read as numbers, ``idn_keys``
    distinct numbers they read as. Equal counts: no two spellings of one number, and
    :func:`id_spellings` has nothing to do. Counted within a contract's pass, so that
    most data need no query of their own; the numbers are floats, cheaper than
    :func:`number_key` on every row (a third of the pass on CDNOW), and ids that only
    round alike (17 digits) merely send the ids to the exact comparison."""
    number = col.try_cast("float64")
    keep = parse.flag(where) & number.notnull()
    return {"idn_ids": col.nunique(where=keep), "idn_keys": number.nunique(where=keep)}


def id_spellings(t, column: str, policy: str, dq: DataQuality):
    """Apply the ``id_numbers`` policy to the text ids of ``column`` in ``t`` (the kept
    rows): ids that spell the same number (``1``, ``1.0``, ``01``) are kept apart with a
    warning (``"warn"``), merged into the group's most frequent spelling, ties to the
    first in sort order (``"merge"``), or refused (``"error"``). Ids that are not plain
    numbers, and numbers spelled one way only (CDNOW's ``00001``), are left alone.
    Returns ``t``, mapped under ``"merge"``; the counts (rows) and a note with up to three
    example pairs go to ``dq``. One query over the distinct ids; a second one, on the
    engine, only to merge."""
    from clm_lib.io import wording
    from clm_lib.io.sources import table_from_pandas, to_pandas

    ids = t.group_by(column).aggregate(__clm_n=t.count())
    ids = ids.mutate(__clm_key=number_key(ids[column])).view()
    ids = ids.filter(ids.__clm_key.notnull())
    per = ids.group_by("__clm_key").aggregate(__clm_k=ids.count())
    clash = ids.semi_join(per.filter(per.__clm_k > 1), "__clm_key")
    found = to_pandas(clash)
    if found.empty:
        return t
    found = found.sort_values(["__clm_key", column], kind="stable", ignore_index=True)
    found[column] = found[column].astype(str)
    groups = found.groupby("__clm_key", sort=False)
    examples = [tuple(g[column].iloc[:2]) for _, g in list(groups)[:3]]
    n_rows, n_ids = int(found["__clm_n"].sum()), len(found)
    if policy == "error":
        raise fail(t, column, f"{n_ids} ids differ only as numbers from another id, by "
                              f"{wording.spelling_kinds(examples)}; pass id_numbers='merge' "
                              "to merge them or 'warn' to keep them apart", n_rows,
                   t[column].isin(found[column].tolist()))
    if policy == "warn":
        dq.warn(wording.id_numbers_warning(column, policy), n_rows)
        dq.notes.append(wording.id_numbers_note(column, policy, n_ids, examples))
        return t
    # the most frequent spelling of each number; ties: the first in sort order
    order = found.sort_values(["__clm_key", "__clm_n", column], ascending=[True, False, True],
                              kind="stable")
    winner = order.groupby("__clm_key", sort=False)[column].first()
    found["__clm_to"] = found["__clm_key"].map(winner)
    moved = found[found[column] != found["__clm_to"]]
    dq.warn(wording.id_numbers_warning(column, policy), int(moved["__clm_n"].sum()))
    dq.notes.append(wording.id_numbers_note(column, policy, len(moved),
                                            list(zip(moved[column], moved["__clm_to"]))[:3]))
    right = table_from_pandas(t._find_backend(), pd.DataFrame(
        {"__clm_from": moved[column].astype(str).tolist(),
         "__clm_to": moved["__clm_to"].astype(str).tolist()}))
    j = t.left_join(right, t[column] == right.__clm_from)
    return j.select(*[_ibis().coalesce(j.__clm_to, j[c]).name(c) if c == column else j[c]
                      for c in t.columns]).view()
