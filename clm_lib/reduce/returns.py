"""Return rules and windows: who counts as having come back, when, relative to what start.

One reduction, written once as Ibis expressions (DuckDB by default, Spark alike), for every
combination of the options of :func:`return_counts`; only counts per (cohort, window) come
back. The matrices, the observability mask and the wording are built from them in
:mod:`clm_lib.studies.cohort_retention.returns`.

Definitions
-----------
* **Purchase day**: a customer-day with at least one transaction (what :func:`~.expressions.daily`
  collapses to). Counts of purchases below are counts of purchase days.
* **Start** (``start``): ``"first"``, the customer's first purchase day (one start per
  customer; cohort = its calendar period); ``"recurring"``, every calendar period in which
  the customer bought is a start, dated on the first purchase day in that period (cohort =
  that period).
* **Windows** (``windows``), counted from the start: ``"calendar"``, window ``k`` is the
  calendar period ``k`` periods after the cohort's; an int ``N``, window ``k`` covers days
  ``[k*N, (k+1)*N)`` since the start day (window 0 holds the start day); brackets, a list of
  inclusive day ranges since the start day such as ``[(1, 7), (8, 30)]``.
* **Returned** in a window: at least ``min_purchases`` purchase days in it (in window 0 the
  start day itself is one of them).
"""
from __future__ import annotations

import datetime as dt
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass

from clm_lib.exceptions import ParameterError
from clm_lib.io.sources import _ibis
from clm_lib.reduce.expressions import is_purchase_days
from clm_lib.reduce.periods import period_code

__all__ = ["BASES", "STARTS", "Windows", "check_base", "check_min_purchases", "check_start",
           "check_windows", "return_counts"]

STARTS = ("first", "recurring")
BASES = ("cohort", "previous")
#: Kinds of :class:`Windows`.
CALENDAR, ROLLING, BRACKETS = "calendar", "rolling", "brackets"


@dataclass(frozen=True)
class Windows:
    """Checked windows: ``kind`` is ``"calendar"``, ``"rolling"`` (``days`` long, from the
    start day) or ``"brackets"`` (``brackets``: inclusive ``(first, last)`` days since the
    start day, increasing and not overlapping)."""

    kind: str
    days: int | None = None
    brackets: tuple[tuple[int, int], ...] = ()

    def spec(self):
        """The parameter value that gives these windows (for records and ``-p``)."""
        if self.kind == CALENDAR:
            return CALENDAR
        if self.kind == ROLLING:
            return self.days
        return [f"{a}-{b}" for a, b in self.brackets]


def check_start(start) -> str:
    if start not in STARTS:
        raise ParameterError(f"start must be one of {STARTS}, got {start!r}")
    return start


def check_base(base) -> str:
    if base not in BASES:
        raise ParameterError(f"base must be one of {BASES}, got {base!r}")
    return base


def check_min_purchases(min_purchases) -> int:
    if isinstance(min_purchases, bool) or not isinstance(min_purchases, numbers.Integral):
        raise ParameterError(f"min_purchases must be a whole number >= 1 (purchase days), "
                             f"got {min_purchases!r}")
    m = int(min_purchases)
    if m < 1:
        raise ParameterError(f"min_purchases must be >= 1 (purchase days), got {m}")
    return m


_RANGE = re.compile(r"^\s*(\d+)\s*[-\u2013\u2014]\s*(\d+)\s*$")


def _bracket(item, i: int) -> tuple[int, int]:
    if isinstance(item, str):
        m = _RANGE.match(item)
        if not m:
            raise ParameterError(f"windows[{i}] must be a day range like '8-30', got {item!r}")
        return int(m.group(1)), int(m.group(2))
    if isinstance(item, Sequence) and len(item) == 2 and all(
            isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in item):
        return int(item[0]), int(item[1])
    raise ParameterError(f"windows[{i}] must be a day range like '8-30' or a pair (8, 30) of "
                         f"whole days, got {item!r}")


def check_windows(windows) -> Windows:
    """:class:`Windows` from the ``windows`` parameter: ``"calendar"``, a whole number of
    days ``N >= 1`` or a list of inclusive day ranges (``"1-7"`` or ``(1, 7)``), each
    starting on day 1 or later, increasing and not overlapping."""
    if isinstance(windows, str):
        if windows == CALENDAR:
            return Windows(CALENDAR)
        if windows.strip().isdigit():
            windows = int(windows)
        elif _RANGE.match(windows.split(",")[0]):
            # "1-7,8-30,31-90", as a command line or a config file writes it
            windows = [w for w in windows.split(",")]
        else:
            raise ParameterError(f"windows must be 'calendar', a number of days or a list of "
                                 f"day ranges like ['1-7', '8-30'], got {windows!r}")
    if isinstance(windows, bool):
        raise ParameterError(f"windows must be 'calendar', a number of days or a list of day "
                             f"ranges, got {windows!r}")
    if isinstance(windows, numbers.Integral):
        if windows < 1:
            raise ParameterError(f"windows: a window length must be >= 1 day, got {windows}")
        return Windows(ROLLING, days=int(windows))
    if not isinstance(windows, Sequence) or isinstance(windows, (bytes, bytearray)) \
            or not len(windows):
        raise ParameterError(f"windows must be 'calendar', a number of days or a non-empty "
                             f"list of day ranges like ['1-7', '8-30'], got {windows!r}")
    out = [_bracket(w, i) for i, w in enumerate(windows)]
    prev = 0
    for i, (a, b) in enumerate(out):
        if a < 1:
            raise ParameterError(f"windows[{i}]: day ranges start on day 1 or later (day 0 is "
                                 f"the start day itself), got {a}-{b}")
        if b < a:
            raise ParameterError(f"windows[{i}]: a day range must not end before it starts, "
                                 f"got {a}-{b}")
        if a <= prev:
            raise ParameterError(f"windows[{i}]: day ranges must increase and not overlap, "
                                 f"got {a}-{b} after one ending on day {prev}")
        prev = b
    return Windows(BRACKETS, brackets=tuple(out))


def _days(t, as_of: dt.date):
    """Purchase days up to ``as_of``: ``customer_id``, ``day`` (one row per customer-day)."""
    ibis = _ibis()
    d = t.select("customer_id", "day") if is_purchase_days(t) else \
        t.select(customer_id=t.customer_id, day=t.timestamp.cast("date"))
    d = d.filter(d.day <= ibis.date(as_of))
    return d.distinct()


def _window_index(diff, p, c, windows: Windows):
    """Window of a purchase day ``diff`` days after the start (calendar: period ``p``
    of a start in period ``c``); null outside every bracket."""
    ibis = _ibis()
    if windows.kind == CALENDAR:
        return (p - c).cast("int64")
    if windows.kind == ROLLING:
        return (diff.cast("float64") / float(windows.days)).floor().cast("int64")
    w = ibis.null().cast("int64")
    for i, (a, b) in reversed(list(enumerate(windows.brackets))):
        w = ibis.ifelse((diff >= a) & (diff <= b), ibis.literal(i, type="int64"), w)
    return w


def return_counts(t, *, cohort_period: str, as_of: dt.date, last_period: int,
                  start: str = "first", windows: Windows = Windows(CALENDAR),
                  min_purchases: int = 1, previous: bool = False):
    """Starts and returns per (cohort, window), as one small long table.

    Purchases after ``as_of`` are ignored; starts in periods after ``last_period`` (the last
    period complete by ``as_of``) are left out; calendar windows after ``last_period`` are
    not counted (they are not observable).

    Parameters
    ----------
    t : Ibis table
        Transactions (``customer_id``, ``timestamp``) or purchase days (``customer_id``,
        ``day``).
    start : {"first", "recurring"}
    windows : Windows
        From :func:`check_windows`.
    min_purchases : int
        Purchase days in a window for a start to count as returned there.
    previous : bool
        Also count the starts returned both in window ``k - 1`` and in ``k``.

    Returns
    -------
    Ibis table with ``what`` (``"starts"``: starts per cohort, ``window`` = -1;
    ``"returned"``: starts returned in the window; ``"both"``: returned in the window and in
    the one before, only with ``previous``), ``cohort_index`` (period code), ``window``
    (index, 0-based) and ``n`` (int64).
    """
    ibis = _ibis()
    d = _days(t, as_of)
    d = d.mutate(p=period_code(d.day, cohort_period))
    if start == "first":
        s = d.group_by("customer_id").agg(s_day=d.day.min())
        s = s.mutate(c=period_code(s.s_day, cohort_period))
    elif start == "recurring":
        s = d.group_by(["customer_id", "p"]).agg(s_day=d.day.min())
        s = s.select("customer_id", "s_day", c=s.p)
    else:
        raise ParameterError(f"start must be one of {STARTS}, got {start!r}")
    s = s.filter(s.c <= int(last_period))
    if windows.kind == CALENDAR:
        # a calendar window is a period: join the starts with the customer's periods (their
        # purchase days counted), not with every purchase day; the period's first day is
        # on or after the start day exactly when the period is the start's or later
        u = d.filter(d.p <= int(last_period))
        u = u.group_by(["customer_id", "p"]).agg(day=u.day.min(), n_days=u.count())
    else:
        u = d.mutate(n_days=_ibis().literal(1, type="int64"))
    j = s.inner_join(u, "customer_id")
    j = j.filter(j.day >= j.s_day)
    diff = j.day.delta(j.s_day, unit="day").cast("int64")
    j = j.select("customer_id", "c", "n_days",
                 window=_window_index(diff, j.p, j.c, windows))
    j = j.filter(j.window.notnull())
    if windows.kind == CALENDAR:
        per = j.select("customer_id", "c", "window", days=j.n_days)  # one row per window
    else:
        per = j.group_by(["customer_id", "c", "window"]).agg(days=j.n_days.sum())
    r = per.filter(per.days >= int(min_purchases)).select("customer_id", "c", "window")

    def counted(x, what):
        g = x.group_by(["c", "window"]).agg(n=x.count())
        return g.select(what=ibis.literal(what, type="string"), cohort_index=g.c.cast("int64"),
                        window=g.window.cast("int64"), n=g.n.cast("int64"))

    sizes = s.group_by("c").agg(n=s.count())
    parts = [sizes.select(what=ibis.literal("starts", type="string"),
                          cohort_index=sizes.c.cast("int64"),
                          window=ibis.literal(-1, type="int64"), n=sizes.n.cast("int64")),
             counted(r, "returned")]
    if previous:
        before = r.select(customer_id=r.customer_id, c=r.c, window=(r.window + 1))
        both = r.inner_join(before, ["customer_id", "c", "window"]).select("c", "window")
        parts.append(counted(both, "both"))
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p, distinct=False)
    return out
