"""Reductions of subscription tables for the cohort study, as Ibis expressions.

The transaction log is reduced by the engine's own expressions
(:meth:`clm_lib.reduce.Engine.cohort_activity`, :meth:`~clm_lib.reduce.Engine.churn_counts`);
subscriptions are reduced here, in the same shapes, so that only counts per cohort and
``k`` (per segment), per start and end period, or per tenure come back to pandas. Each
function takes an Ibis table with canonical columns and returns a lazy Ibis table; the
rules are those stated in :mod:`clm_lib.studies.cohort_retention.compute`.

Interval form (``customer_id``, ``start``, ``end``; a null ``end`` = still active): a
subscription ``[start, end)`` makes its customer active in every period it overlaps (an
end at 00:00 on a period's first day does not reach into it; a zero-length subscription
still counts in its start period). Subscriptions starting after ``as_of`` are ignored.
Snapshot form (``customer_id``, ``tenure``, ``churned``): counts by whole tenure.
"""
from __future__ import annotations

import datetime as dt

import ibis

from clm_lib.reduce.periods import period_code

__all__ = ["interval_activity", "interval_end_before_start", "interval_segment",
           "interval_spells", "snapshot_counts", "snapshot_violations", "with_zero_amount"]


def _observed(t, as_of: dt.date):
    """Subscriptions started by the end of ``as_of`` (an inclusive day), with ``_start``
    and ``_end`` as timestamps."""
    t = t.mutate(_start=t.start.cast("timestamp"), _end=t.end.cast("timestamp"))
    return t.filter(t._start.cast("date") <= ibis.date(as_of))


def interval_end_before_start(t, *, as_of: dt.date):
    """One row, ``n``: subscriptions started by ``as_of`` whose ``end`` is before
    ``start`` (the interval contract requires 0)."""
    s = _observed(t, as_of)
    return s.aggregate(n=(s._end < s._start).cast("int64").sum())


def _active_periods(t, *, cohort_period: str, as_of: dt.date, last_period: int):
    """One row per customer and period with an active subscription (``customer_id``,
    ``p``), periods after ``last_period`` (the last complete by ``as_of``) left out."""
    s = _observed(t, as_of)
    s = s.mutate(s=period_code(s._start.cast("date"), cohort_period))
    s = s.filter(s.s <= int(last_period))
    # [start, end): the last active period holds the last instant before `end`, which
    # falls on the day before when `end` is exactly midnight
    day = s._end.cast("date")
    last_day = ibis.ifelse(day.cast("timestamp") == s._end, day - ibis.interval(days=1), day)
    e = ibis.coalesce(period_code(last_day, cohort_period), int(last_period))
    e = ibis.greatest(ibis.least(e, int(last_period)), s.s)
    s = s.select(customer_id=s.customer_id, p=ibis.range(s.s, e + 1).unnest())
    return s.distinct()


def interval_activity(t, *, cohort_period: str, as_of: dt.date, last_period: int,
                      segment_values=None):
    """Active customers by (acquisition cohort, periods since acquisition), as
    :func:`clm_lib.reduce.expressions.cohort_activity` returns them for transactions.

    A customer's cohort is the period of their first subscription start (by the last
    complete period). Returns ``cohort_index``, ``period`` (k), ``customers``,
    ``revenue`` (0.0: subscriptions carry no revenue per period) and ``last_active``
    (customers whose last active period is k). With ``segment_values`` (a table
    ``customer_id``, ``value``, e.g. :func:`interval_segment`) the counts are split by
    it, returned first as ``segment`` (null for customers without a value).
    """
    cp = _active_periods(t, cohort_period=cohort_period, as_of=as_of, last_period=last_period)
    ends = cp.group_by("customer_id").agg(c=cp.p.min(), last=cp.p.max())
    cp = cp.inner_join(ends, "customer_id").select("customer_id", "p", "c", "last")
    keys = ["c", "p"]
    if segment_values is not None:
        cp = cp.left_join(segment_values, "customer_id").select(
            *[cp[c] for c in cp.columns], segment=segment_values.value)
        keys = ["segment", "c", "p"]
    out = cp.group_by(keys).agg(customers=cp.count(),
                                last_active=(cp.p == cp["last"]).cast("int64").sum())
    return out.select(*(["segment"] if segment_values is not None else []),
                      cohort_index=out.c, period=(out.p - out.c).cast("int64"),
                      customers=out.customers.cast("int64"),
                      revenue=ibis.literal(0.0, type="float64"),
                      last_active=out.last_active.cast("int64"))


def interval_segment(t, column: str):
    """Each customer's ``column`` on their earliest subscription start (``customer_id``,
    ``value``); when several subscriptions share that start, the smallest value."""
    t = t.mutate(_start=t.start.cast("timestamp"))
    firsts = t.group_by("customer_id").agg(_first=t._start.min())
    j = t.inner_join(firsts, "customer_id")
    j = j.filter(j._start == j._first)
    return j.group_by("customer_id").agg(value=j[column].min())


def interval_spells(t, *, cohort_period: str, as_of: dt.date, last_period: int):
    """Subscriptions counted by start period ``s``, end period ``e`` and ``ended``.

    ``ended``: the subscription ended by ``as_of`` (then ``e`` is the period containing
    ``end``); otherwise ``e = last_period + 1``. Returns ``s``, ``e``, ``ended``, ``n``:
    enough for the churn rate (active at the start of p: ``s < p <= e``; lost in p:
    ``s < p``, ended and ``e == p``).
    """
    s = _observed(t, as_of)
    ended = s._end.notnull() & (s._end.cast("date") <= ibis.date(as_of))
    s = s.select(s=period_code(s._start.cast("date"), cohort_period),
                 e=ibis.ifelse(ended, period_code(s._end.cast("date"), cohort_period),
                               int(last_period) + 1),
                 ended=ended)
    out = s.group_by(["s", "e", "ended"]).agg(n=s.count())
    return out.select(s=out.s.cast("int64"), e=out.e.cast("int64"), ended=out.ended,
                      n=out.n.cast("int64"))


def with_zero_amount(t):
    """Transactions without ``amount``: the same rows with ``amount = 0.0`` (the cohort
    counts need no amount; the revenue tables are then left out)."""
    return t.mutate(amount=ibis.literal(0.0, type="float64"))


def _tenure(t):
    typ = t.tenure.type()
    return t.tenure.try_cast("float64") if typ.is_string() else t.tenure.cast("float64")


def snapshot_violations(t):
    """One row, ``n``: rows whose ``tenure`` is missing, not a number or negative (the
    snapshot contract requires 0)."""
    x = _tenure(t)
    bad = x.isnull() | x.isnan() | (x < 0)
    return t.aggregate(n=ibis.coalesce(bad, True).cast("int64").sum())


def snapshot_counts(t, segment: str | None = None):
    """Customers by whole tenure and churn flag: ``tenure`` (int64, whole periods),
    ``churned`` (bool; null counts as not churned), ``customers``; with ``segment``,
    split by it (``segment`` first, the raw value, null kept)."""
    x = t.select(tenure=_tenure(t).floor().cast("int64"),
                 churned=ibis.coalesce(t.churned.cast("boolean"), False),
                 **({"segment": t[segment]} if segment is not None else {}))
    keys = (["segment"] if segment is not None else []) + ["tenure", "churned"]
    out = x.group_by(keys).agg(customers=x.count())
    return out.select(*keys, customers=out.customers.cast("int64"))
