"""How the data contract reads one column, as Ibis expressions (DuckDB and Spark alike).

Text is stripped as Python's ``str.strip`` strips it; the tokens of :data:`MISSING_TOKENS`
(any case) are missing values. Identifiers stay text (``"00123"`` stays ``"00123"``;
whole floats lose their ``.0``). Numbers are decimal text (``12``, ``-3.5``, ``1e2``,
``.5``); anything else (``$12``, ``1,000``, ``1_000``, ``inf``) is unreadable. Dates are
ISO 8601 read as pandas' ``format="ISO8601"`` reads them (``1997-01-31``, ``1997/01/31``,
``19970131``, ``1997-01``, ``1997-01-31 14:05``, ``...T14:05:00.5+01:00``, ``...Z``), within
the years pandas can hold (1677-09-22 to 2262-04-11), or with a ``strptime`` format.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from clm_lib.exceptions import DataContractError, ParameterError
from clm_lib.io.sources import _ibis

#: Text read as missing (after stripping, any case).
MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none", "nat", "<na>")
_MAX_FLOAT = 1.7976931348623157e308
#: One character that Python's ``str.strip`` removes (``str.isspace``): ASCII whitespace,
#: the separators \x1c-\x1f and \x85, and every Unicode space (``\p{Z}``, e.g. the
#: no-break space). The same class in DuckDB's RE2 and in Spark's Java regular expressions.
_SPACE = r"[\t\n\x0b\x0c\r \x1c-\x1f\x85\p{Z}]"
#: Decimal numbers as pandas' ``to_numeric`` reads them (infinite values are unreadable).
NUMBER_RE = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
#: Text with an explicit UTC offset or "Z" after a time of day: time-zone-aware.
AWARE_RE = (r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?[\t\n\x0b\x0c\r ]*"
            r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)$")
# The common forms, read by the engine's own cast (checked for hour 24 and the range).
_FAST_RE = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9]{2}:[0-9]{2}"
            r"(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?$")
_FAST_AWARE_RE = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}"
                  r"(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)$")
# Every form pandas reads (numpy's ISO 8601 parser): a date with separators or without,
# then the time of day (with ":" or without) and the zone. Several patterns, since DuckDB
# extracts groups 1 to 9 only.
_DATE_SEP = r"^([0-9]{4})(?:([-./\\ ])([0-9]{1,2})(?:([-./\\ ])([0-9]{1,2})(?:[T ](.+))?)?)?$"
_DATE_NOSEP = r"^([0-9]{4})([0-9]{2})([0-9]{2})(?:[T ](.+))?$"
_ZONE = r"[\t\n\x0b\x0c\r ]*(?:(Z)|([+-])([0-9]{1,2})(?::?([0-9]{1,2}))?)?$"
_TIME_SEP = r"^([0-9]{1,2}):([0-9]{1,2})(?::([0-9]{1,2})(?:\.([0-9]{0,18}))?)?" + _ZONE
_TIME_NOSEP = r"^([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:\.([0-9]{0,18}))?)?)?" + _ZONE
# The range of pandas' datetime64[ns], at the engines' microsecond resolution.
_MIN_TS = dt.datetime(1677, 9, 21, 0, 12, 43, 145225)
_MAX_TS = dt.datetime(2262, 4, 11, 23, 47, 16, 854775)

_DEFAULT_CHURN = {
    "yes": True, "no": False, "y": True, "n": False,
    "true": True, "false": False, "t": True, "f": False,
    "1": True, "0": False, "1.0": True, "0.0": False,
}
_LEADING_ZERO = r"^[+-]?0[0-9]"

# strptime directive -> Java DateTimeFormatter letters (Spark), variable and fixed width.
_JAVA = {"Y": ("yyyy", "yyyy"), "y": ("yy", "yy"), "m": ("M", "MM"), "d": ("d", "dd"),
         "H": ("H", "HH"), "I": ("h", "hh"), "M": ("m", "mm"), "S": ("s", "ss"),
         "f": ("SSSSSS", "SSSSSS"), "b": ("MMM", "MMM"), "B": ("MMMM", "MMMM"),
         "j": ("D", "DDD"), "p": ("a", "a"), "z": ("XX", "XX"), "%": ("%", "%")}


def flag(expr):
    """A boolean that is never null (null -> False)."""
    return expr.fill_null(False)


def _padded(col):
    """Text whose first or last character is not printable ASCII (so it may need
    stripping). A gate for the costly :func:`_strip`: a superset is harmless. Written as
    ``BETWEEN`` on printable ASCII, which both engines evaluate fastest."""
    return flag(~col.left(1).between("!", "~") | ~col.right(1).between("!", "~"))


def _trim_spaces(col):
    return col.re_replace(f"^{_SPACE}+|{_SPACE}+$", "")


def strip(col, padded=None):
    """``col`` without leading and trailing whitespace, as Python's ``str.strip`` (the
    engines' ``TRIM`` knows ASCII spaces only); the regular expression runs only on the
    rows :func:`_padded` flags."""
    padded = _padded(col) if padded is None else padded
    return _ibis().ifelse(padded, _trim_spaces(col), col)


def text_missing(col, padded=None):
    """Null, or a missing-value token once stripped and lower-cased (strip and lower run
    only on padded text or text short enough to be a token)."""
    ibis = _ibis()
    tokens = list(MISSING_TOKENS)
    padded = _padded(col) if padded is None else padded
    short = ibis.ifelse(col.length() <= max(map(len, tokens)), col.lower().isin(tokens), False)
    return flag(col.isnull() | ibis.ifelse(padded, _trim_spaces(col).lower().isin(tokens), short))


def with_padding(t, names):
    """``t`` with a ``__clm_pad_<name>`` flag (:func:`_padded`) for each text column of
    ``names``, computed once in a projection of its own (neither engine shares a repeated
    subexpression; this halved the counting pass over a 10M-row log of text ids on
    DuckDB). Read the flags with :func:`pad`."""
    texts = [c for c in names if c in t.columns and t[c].type().is_string()]
    return t.mutate(**{f"__clm_pad_{c}": _padded(t[c]) for c in texts}).view() if texts else t


def pad(t, name: str):
    """The padding flag of column ``name`` of ``t`` (see :func:`with_padding`), or None."""
    key = f"__clm_pad_{name}"
    return t[key] if key in t.columns else None


def no_values(typ) -> bool:
    """The type of a column without any value (e.g. a DataFrame column of None)."""
    return typ.is_null() or (typ.is_unknown() and "NULL" in str(getattr(typ, "raw_type", "")))


# --------------------------------------------------------------------------- identifiers
def id_column(col, name: str, padded=None, whole: bool = True):
    """(id as text, missing flag). ``whole``: for a float column, whether every finite
    value is whole (then ``3.0`` is written ``"3"``, as pandas writes an integer id)."""
    typ = col.type()
    ibis = _ibis()
    if typ.is_boolean():
        raise DataContractError(name, "identifiers are true/false values; wrong column mapped?")
    if no_values(typ):
        return ibis.null("string"), ibis.literal(True)
    if typ.is_string():
        padded = _padded(col) if padded is None else padded
        return strip(col, padded), text_missing(col, padded)
    if typ.is_floating():
        missing = flag(col.isnull() | col.isnan())
        text = col.cast("int64").cast("string") if whole else col.cast("string")
        return ibis.ifelse(missing, ibis.null("string"), text), missing
    return col.cast("string"), flag(col.isnull())


# --------------------------------------------------------------------------- numbers
def number_column(col, name: str, padded=None):
    """(float64 value, missing flag, unreadable flag: text, or infinite)."""
    ibis = _ibis()
    typ = col.type()
    if no_values(typ):
        return ibis.null("float64"), ibis.literal(True), ibis.literal(False)
    if typ.is_boolean():
        raise DataContractError(name, "expected numbers, found true/false values")
    if typ.is_string():
        missing = text_missing(col, padded)
        text = strip(col, padded)
        value = ibis.ifelse(text.re_search(NUMBER_RE), text.try_cast("float64"),
                            ibis.null("float64"))
    elif typ.is_numeric():
        value = col.cast("float64")
        missing = flag(value.isnull() | value.isnan())
    else:
        raise DataContractError(name, f"expected numbers, found values of type {typ}")
    bad = ~missing & flag(value.isnull() | value.isnan() | (value.abs() > _MAX_FLOAT))
    return ibis.ifelse(bad, ibis.null("float64"), value), missing, bad


# --------------------------------------------------------------------------- dates
@dataclass
class Dates:
    """A parsed date column, as columns ``<prefix>value`` (naive timestamp), ``miss``,
    ``bad`` (unparseable), ``aware`` (text with an offset after a time of day) and
    ``rare`` (text in a rarer ISO 8601 form, see :func:`dates`) of a table; ``on(t)``
    gives them on ``t`` or any table built on it by adding columns."""
    prefix: str
    value: Any = None
    missing: Any = None
    bad: Any = None
    aware: Any = None
    rare: Any = None

    def on(self, t) -> "Dates":
        p = self.prefix
        return Dates(p, t[p + "value"], t[p + "miss"], t[p + "bad"], t[p + "aware"],
                     t[p + "rare"])


def java_pattern(date_format: str) -> str:
    """Translate a ``strptime`` format to a Java ``DateTimeFormatter`` pattern (Spark).

    Numeric fields directly next to another directive keep their fixed width
    (``%Y%m%d`` -> ``yyyyMMdd``); otherwise one letter is used, which parses one or two
    digits like ``strptime`` does. Literal text is quoted.
    """
    out, literal = [], []

    def flush():
        if literal:
            text = "".join(literal).replace("'", "''")
            out.append(text if re.fullmatch(r"[\s\-/:.,T]*", text) and "T" not in text
                       else f"'{text}'")
            literal.clear()

    i = 0
    while i < len(date_format):
        ch = date_format[i]
        if ch == "%" and i + 1 < len(date_format):
            d = date_format[i + 1]
            if d not in _JAVA:
                raise ParameterError(f"date_format directive %{d} is not supported on the spark "
                                     f"engine; supported: {', '.join('%' + k for k in _JAVA)}")
            adjacent = date_format[i + 2:i + 3] == "%" or (not literal and i > 0)
            flush()
            out.append(_JAVA[d][1 if adjacent else 0])
            i += 2
        else:
            literal.append(ch)
            i += 1
    flush()
    return "".join(out)


@functools.cache
def _builtins():
    """Engine functions Ibis does not name: (DuckDB try_strptime, Spark try_to_timestamp,
    DuckDB timezone(zone, timestamptz), Spark from_utc_timestamp). Only the return type
    is declared, so that the arguments reach the engine with their own types."""
    ibis = _ibis()

    @ibis.udf.scalar.builtin(name="try_strptime")
    def duckdb_try_strptime(text, fmt) -> dt.datetime:  # pragma: no cover - SQL only
        """DuckDB's try_strptime."""

    @ibis.udf.scalar.builtin(name="try_to_timestamp")
    def spark_try_to_timestamp(text, fmt) -> dt.datetime:  # pragma: no cover
        """Spark's try_to_timestamp."""

    @ibis.udf.scalar.builtin(name="timezone")
    def duckdb_timezone(zone, ts) -> dt.datetime:  # pragma: no cover
        """DuckDB's timezone(zone, timestamptz): the wall-clock time in ``zone``."""

    @ibis.udf.scalar.builtin(name="from_utc_timestamp")
    def spark_from_utc(ts, zone) -> dt.datetime:  # pragma: no cover
        """Spark's from_utc_timestamp."""

    return duckdb_try_strptime, spark_try_to_timestamp, duckdb_timezone, spark_from_utc


def to_zone(utc, tz: str | None, backend: str):
    """Naive UTC time -> naive wall-clock time in ``tz`` (unchanged for None)."""
    if not tz:
        return utc
    _, _, duck_tz, spark_tz = _builtins()
    if backend == "duckdb":
        return duck_tz(tz, utc.cast("timestamp('UTC')")).cast("timestamp")
    return spark_tz(utc, tz).cast("timestamp")


def _in_range(value):
    ibis = _ibis()
    return ibis.ifelse(flag(value.between(ibis.timestamp(_MIN_TS), ibis.timestamp(_MAX_TS))),
                       value, ibis.null("timestamp"))


def _two(num):
    return num.cast("string").lpad(2, "0")


def _stage(t, **cols):
    """``t`` with ``cols`` added in a projection of its own: each is then computed once
    per row, however often later expressions use it (neither engine shares a repeated
    subexpression, and inlined ones make the SQL grow with every use)."""
    return t.mutate(**cols).view()


def dates(t, column: str, backend: str, date_format: str | None = None,
          tz: str | None = None, padded=None, rare: bool = True):
    """Read the date column ``column`` of ``t``: ``(t with helper columns, Dates)``.

    Values are naive timestamps: wall-clock time in ``tz`` (UTC for None) for
    time-zone-aware input, as read for naive input. Text in the common forms
    (``1997-01-31``, ``1997-01-31 14:05[:00[.5]]``, the same with ``T`` and with ``Z`` or
    an offset) is read by the engine's cast; the rarer forms pandas reads
    (``1997/1/31``, ``19970131``, ``1997-01``, ``14:05 +01:00``, ...) from their parts,
    only on the rows that need it. With ``rare=False`` they are not read (their value is
    null); ``Dates.rare`` flags them, so that a caller that finds none spares the engine
    the expressions that read them.
    """
    ibis = _ibis()
    col = t[column]
    typ = col.type()
    p = f"__clm_d_{column}_"
    no = ibis.literal(False)

    def done(t, value, missing, aware=no, rare_rows=no):
        t = _stage(t, **{p + "value": value, p + "miss": missing})
        t = _stage(t, **{p + "bad": ~t[p + "miss"] & flag(t[p + "value"].isnull()),
                         p + "aware": aware if aware is no else t[aware],
                         p + "rare": rare_rows if rare_rows is no else t[rare_rows]})
        return t, Dates(p).on(t)

    if no_values(typ):
        return done(t, ibis.null("timestamp"), ibis.literal(True))
    if typ.is_timestamp():
        value = col.cast("timestamp")
        if typ.timezone is not None:
            value = to_zone(value, tz, backend)
        return done(t, value, flag(col.isnull()))
    if typ.is_date():
        return done(t, col.cast("timestamp"), flag(col.isnull()))
    if not typ.is_string():
        # pandas reads any other values through their text (20200131 is a date)
        col, padded = col.cast("string"), None

    def c(name):
        return t[p + name]

    t = _stage(t, **{p + "missing": text_missing(col, padded), p + "txt": strip(col, padded)})
    if date_format:
        duck, spark, _, _ = _builtins()
        value = (duck(c("txt"), date_format) if backend == "duckdb"
                 else spark(c("txt"), java_pattern(date_format)))
        if "%z" in date_format or "%Z" in date_format:
            value = to_zone(value.cast("timestamp('UTC')").cast("timestamp"), tz, backend)
        else:
            value = value.cast("timestamp")
        return done(t, _in_range(value), c("missing"))
    t = _stage(t, **{p + "fast": flag(c("txt").re_search(_FAST_RE)),
                     p + "fastz": flag(c("txt").re_search(_FAST_AWARE_RE))})
    text = c("txt")
    slow = ~c("missing") & ~c("fast") & ~c("fastz")
    hour_ok = (text.length() <= 10) | (text.substr(11, 2) < "24")
    utc = text.try_cast("timestamp('UTC')").cast("timestamp")
    t = _stage(t, **{
        p + "quick": ibis.cases(
            (c("fast") & hour_ok, _in_range(text.try_cast("timestamp"))),
            (c("fastz") & hour_ok, to_zone(_in_range(utc), tz, backend)),
            else_=ibis.null("timestamp")),
        p + "slow": slow,
        p + "isaware": c("fastz") | flag(slow & text.re_search(AWARE_RE))})
    if rare and backend == "duckdb":
        t, slow_value = _iso_parts(t, p, backend, tz)
        value = ibis.ifelse(c("slow"), slow_value, c("quick"))
    elif rare:
        t = _rare_by_lookup(t, p, tz)
        value = ibis.ifelse(c("slow"), c("looked_up"), c("quick"))
    else:
        value = c("quick")
    return done(t, value, c("missing"), p + "isaware", p + "slow")


def _rare_by_lookup(t, p: str, tz: str | None):
    """``t`` with ``<p>looked_up``: the value of the rare-form texts, read by the same
    expressions on the in-process DuckDB. Spark plans the expressions of
    :func:`_iso_parts` into code too large to compile; the distinct rare texts of a column
    are few (they are odd forms), so they are read once each on the driver and joined
    back."""
    from clm_lib.io.sources import default_connection, table_from_pandas, to_pandas

    texts = to_pandas(t.filter(t[p + "slow"]).select(text=t[p + "txt"]).distinct())
    duck = default_connection()
    d = table_from_pandas(duck, texts.rename(columns={"text": "__clm_x"}))
    d, parsed = dates(d, "__clm_x", "duckdb", None, tz, rare=True)
    lookup = to_pandas(d.select(__clm_key=d.__clm_x, __clm_val=parsed.value))
    right = table_from_pandas(t._find_backend(), lookup)
    j = t.left_join(right, t[p + "txt"] == right.__clm_key)
    return j.select(*t.columns, **{p + "looked_up": j.__clm_val}).view()


def _iso_parts(t, p: str, backend: str, tz: str | None):
    """(t with the parts of the slow rows' text, their value): the rules of numpy's ISO
    8601 parser, which pandas uses; every expression is null on the other rows."""
    ibis = _ibis()
    text, slow = t[p + "txt"], t[p + "slow"]

    def on_slow(expr):
        return ibis.ifelse(slow, expr, ibis.null(expr.type()))

    def g(expr, pattern, i):
        return expr.re_extract(pattern, i).nullif("")

    def either(expr, first, second, i, j):
        return on_slow(ibis.coalesce(g(expr, first, i), g(expr, second, j)))

    t = _stage(t, **{
        p + "ok": on_slow(flag(text.re_search(_DATE_SEP) | text.re_search(_DATE_NOSEP))),
        p + "seps": on_slow(flag(g(text, _DATE_SEP, 4).isnull()
                                 | (g(text, _DATE_SEP, 4) == g(text, _DATE_SEP, 2)))),
        p + "y": either(text, _DATE_SEP, _DATE_NOSEP, 1, 1),
        p + "m": either(text, _DATE_SEP, _DATE_NOSEP, 3, 2),
        p + "d": either(text, _DATE_SEP, _DATE_NOSEP, 5, 3),
        p + "rest": either(text, _DATE_SEP, _DATE_NOSEP, 6, 4)})
    rest, slow = t[p + "rest"], t[p + "slow"]
    t = _stage(t, **{p + f"t{i}": either(rest, _TIME_SEP, _TIME_NOSEP, i, i)
                     for i in range(1, 9)},
               **{p + "tok": flag(rest.isnull() | rest.re_search(_TIME_SEP)
                                  | rest.re_search(_TIME_NOSEP))})

    def num(name, default):
        return ibis.coalesce(t[p + name].cast("int64"), default)

    rest = t[p + "rest"]
    month, day = num("m", 1), num("d", 1)
    hour, minute, second = num("t1", 0), num("t2", 0), num("t3", 0)
    oh, om = num("t7", 0), num("t8", 0)
    sign = t[p + "t6"]
    has_offset = flag(rest.notnull() & ((t[p + "t5"] == "Z") | sign.notnull()))
    valid = flag(t[p + "ok"] & t[p + "seps"] & t[p + "tok"] & t[p + "y"].notnull()
                 & month.between(1, 12) & (day >= 1) & (hour < 24) & (minute < 60)
                 & (second < 60) & (oh < 24) & (om < 60))
    canonical = (t[p + "y"] + "-" + _two(month) + "-" + _two(day) + " " + _two(hour) + ":"
                 + _two(minute) + ":" + _two(second) + "."
                 + ibis.coalesce(t[p + "t4"], "").left(6).rpad(6, "0"))
    t = _stage(t, **{p + "local": ibis.ifelse(valid, canonical, ibis.null("string")
                                              ).try_cast("timestamp"),
                     p + "offset": ibis.ifelse(flag(sign == "-"), -1, 1) * (oh * 60 + om),
                     p + "zoned": has_offset})
    local = t[p + "local"]
    utc = local - t[p + "offset"].as_interval("m")
    value = ibis.ifelse(t[p + "zoned"], to_zone(_in_range(utc), tz, backend), _in_range(local))
    return t, value


# --------------------------------------------------------------------------- churn flags
def churn_table(churn_values: Mapping[Any, bool] | None) -> dict[str, bool]:
    """Lower-case stripped text -> churned, from ``churn_values`` or the default reading."""
    if churn_values is None:
        return dict(_DEFAULT_CHURN)
    if not isinstance(churn_values, Mapping) or not all(
            isinstance(v, (bool, np.bool_)) for v in churn_values.values()):
        raise ParameterError("churn_values must map source values to True (churned) "
                             "or False (not churned)")
    return {str(k).strip().lower(): bool(v) for k, v in churn_values.items()}


def churn_column(col, churn_values):
    """(churned flag, missing flag, unrecognised flag)."""
    ibis = _ibis()
    table = churn_table(churn_values)
    typ = col.type()
    if no_values(typ):
        return ibis.literal(False), ibis.literal(True), ibis.literal(False)
    if typ.is_boolean() and churn_values is None:
        return col.fill_null(False), flag(col.isnull()), ibis.literal(False)
    if typ.is_string():
        key, missing = strip(col).lower(), text_missing(col)
    else:
        # numbers and booleans are read through their text ("1", "1.0", "true"), as pandas
        key = col.cast("string").lower()
        missing = flag(col.isnull() | col.isnan()) if typ.is_floating() else flag(col.isnull())
    trues = [k for k, v in table.items() if v]
    churned = flag(key.isin(trues)) if trues else ibis.literal(False)
    known = flag(key.isin(list(table))) if table else ibis.literal(False)
    return churned, missing, ~missing & ~known


# --------------------------------------------------------------------------- other columns
def looks_like_id(name: str) -> bool:
    """``id``, ``store_id``, ``order-id``, ``customerID``, ``userId``; not ``paid``."""
    return bool(re.search(r"(?:^|[\W_])id$", name, re.IGNORECASE)
                or re.search(r"[a-z0-9](?:ID|Id)$", name))


def numeric_candidates(t, skip: set[str], where=None) -> dict[str, dict]:
    """Aggregations that decide which text columns of ``t`` are numbers (over the rows
    where ``where`` holds): per candidate, present values, unreadable ones, leading zeros
    (codes), fractions and blanks; with the parsed ``value`` and ``missing`` flag."""
    ibis = _ibis()
    keep = ibis.literal(True) if where is None else flag(where)
    cands = {}
    for c in candidate_names(t, skip):
        value, missing, bad = number_column(t[c], c)
        cands[c] = {"value": value, "missing": missing,
                    "aggs": _candidate_aggs(keep, value, missing, bad,
                                            strip(t[c]).re_search(_LEADING_ZERO))}
    return cands


def candidate_names(t, skip: set[str]) -> list[str]:
    """The text columns of ``t`` that may hold numbers (not ``skip``, not internal, not
    named like an identifier)."""
    return [c for c in t.columns if c not in skip and not c.startswith("__clm_")
            and not looks_like_id(c) and t[c].type().is_string()]


def candidate_counts_table(t, names: list[str]):
    """The counts of :func:`numeric_candidates` for ``names``, as a one-row aggregation
    over a projection that parses each column once (its value, missing, unreadable and
    leading-zero flags become columns). Written inline, the five counts of a column hold
    the parse up to a dozen times over (a 500 kB query for the 19 text columns of the
    Telco file, ~55 s on local Spark; ~30 s with the projection). Names as
    :func:`candidate_aggs` gives them."""
    ibis = _ibis()
    parsed = {}
    for i, c in enumerate(names):
        value, missing, bad = number_column(t[c], c)
        parsed.update({f"__clm_v{i}": value, f"__clm_m{i}": missing, f"__clm_b{i}": bad,
                       f"__clm_z{i}": flag(strip(t[c]).re_search(_LEADING_ZERO))})
    p = t.select(**parsed).view()
    aggs = {}
    for i in range(len(names)):
        col = {k: p[f"__clm_{k}{i}"] for k in "vmbz"}
        aggs.update({f"{k}__{i}": agg for k, agg in _candidate_aggs(
            ibis.literal(True), col["v"], col["m"], col["b"], col["z"]).items()})
    return p.aggregate(**aggs)


def _candidate_aggs(keep, value, missing, bad, zero) -> dict:
    """The five counts that decide whether a text column is a number column."""
    present = keep & ~missing
    return {"present": present.cast("int64").sum(),
            "text": flag(present & bad).cast("int64").sum(),
            "zero": flag(present & zero).cast("int64").sum(),
            "frac": flag(present & (value % 1.0 != 0)).cast("int64").sum(),
            "blank": flag(keep & missing).cast("int64").sum()}
