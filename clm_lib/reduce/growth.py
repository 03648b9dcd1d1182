"""Growth accounting (lifecycle) and stickiness of a transaction log, written once as Ibis
expressions (DuckDB by default, Spark too). Only one small row per period, per
(month, n) or per week comes back; the studies
(:mod:`clm_lib.studies.cohort_retention.growth`,
:mod:`clm_lib.studies.cohort_retention.stickiness`) shape the tables.

Definitions (a customer is *active* in a calendar period when she has a purchase row in
it, whatever its amount; purchases after ``as_of`` and in periods after ``last_period``
are ignored):

* **new** in ``t``: first active period is ``t``;
* **returning**: active in ``t`` and ``t - 1``;
* **resurrecting**: active in ``t``, not in ``t - 1``, active in some period before ``t - 1``;
* **dormant** in ``t``: active in ``t - 1``, not in ``t``.

Every status looks back one period at most, so the figures of a past period never
change when later purchases arrive.
"""
from __future__ import annotations

import datetime as dt

from clm_lib.io.sources import _ibis
from clm_lib.reduce.expressions import _active_periods
from clm_lib.reduce.periods import period_code

__all__ = ["growth_counts", "stickiness_counts", "weekly_actives"]

#: Columns of :func:`growth_counts`, besides ``period``.
GROWTH_COLUMNS = ("active", "new", "returning", "resurrecting", "dormant", "revenue",
                  "new_revenue", "expansion", "contraction", "churned_revenue",
                  "resurrected_revenue")


def growth_counts(t, *, cohort_period: str, as_of: dt.date, last_period: int):
    """Per calendar period: the customers and revenue of the growth accounting.

    Parameters
    ----------
    t : Ibis table
        Transactions with ``customer_id``, ``timestamp``, ``amount``.
    cohort_period : {"week", "month", "quarter", "year"}
    as_of : date
        Last observed day (inclusive).
    last_period : int
        Code of the last period complete by ``as_of``
        (:func:`clm_lib.reduce.periods.last_complete_period`).

    Returns
    -------
    Ibis table, one row per period with any activity or any dormant customer:
    ``period`` (code) and :data:`GROWTH_COLUMNS`. Counts are customers; revenue is the
    summed ``amount`` (data currency). ``expansion`` is the sum over returning customers
    of ``max(revenue(t) - revenue(t - 1), 0)``, ``contraction`` that of
    ``max(revenue(t - 1) - revenue(t), 0)`` (a positive amount), ``churned_revenue`` the
    ``t - 1`` revenue of the dormant, ``resurrected_revenue`` the revenue of the
    resurrecting. Periods without any row are absent (all zero).
    """
    ibis = _ibis()
    cp = _active_periods(t, cohort_period=cohort_period, as_of=as_of,
                         last_period=last_period)
    w = dict(group_by=cp.customer_id, order_by=cp.p)
    cp = cp.mutate(prev=cp.p.lag().over(**w), prev_rev=cp.revenue.lag().over(**w),
                   nxt=cp.p.lead().over(**w))
    one, zero = ibis.literal(1, type="int64"), ibis.literal(0, type="int64")
    nought = ibis.literal(0.0, type="float64")
    new = cp.prev.isnull()
    ret = (cp.p - cp.prev == 1).fill_null(False)
    res = (cp.p - cp.prev > 1).fill_null(False)
    delta = cp.revenue - cp.prev_rev
    # each active row counts in its own period ...
    here = cp.select(
        period=cp.p.cast("int64"), active=one,
        new=new.cast("int64"), returning=ret.cast("int64"), resurrecting=res.cast("int64"),
        dormant=zero, revenue=cp.revenue,
        new_revenue=ibis.ifelse(new, cp.revenue, nought),
        expansion=ibis.ifelse(ret & (delta > 0), delta, nought),
        contraction=ibis.ifelse(ret & (delta < 0), -delta, nought),
        churned_revenue=nought,
        resurrected_revenue=ibis.ifelse(res, cp.revenue, nought))
    # ... and, when the next period has no purchase, as dormant there (if it is reported)
    gone = cp.filter(((cp.nxt - cp.p) != 1).fill_null(True) & (cp.p + 1 <= int(last_period)))
    later = gone.select(
        period=(gone.p + 1).cast("int64"), active=zero, new=zero, returning=zero,
        resurrecting=zero, dormant=one, revenue=nought, new_revenue=nought,
        expansion=nought, contraction=nought, churned_revenue=gone.revenue,
        resurrected_revenue=nought)
    u = here.union(later, distinct=False)
    return u.group_by("period").agg(**{c: u[c].sum() for c in GROWTH_COLUMNS})


def _purchase_days(t, as_of: dt.date):
    """Distinct (customer, day) up to ``as_of``."""
    ibis = _ibis()
    d = t.select(customer_id=t.customer_id, day=t.timestamp.cast("date"))
    return d.filter(d.day <= ibis.date(as_of)).distinct()


def stickiness_counts(t, *, as_of: dt.date, last_month: int):
    """How many customers were active on 1, 2, 3, ... days, and in 1, 2, ... ISO weeks,
    of each calendar month up to ``last_month`` (a month code).

    A customer's active days in a month are her distinct purchase days in it; her active
    weeks the distinct ISO weeks (Monday-based) holding one of those days, so a week
    that straddles two months counts in both.

    Returns
    -------
    Ibis table: ``kind`` ("days" or "weeks"), ``month`` (code), ``n``, ``customers``.
    Only pairs with customers are present.
    """
    ibis = _ibis()
    d = _purchase_days(t, as_of)
    d = d.mutate(month=period_code(d.day, "month"), week=period_code(d.day, "week"))
    d = d.filter(d.month <= int(last_month))
    per = d.group_by(["customer_id", "month"]).agg(days=d.day.count(),
                                                   weeks=d.week.nunique())
    parts = [per.group_by(["month", per[k].name("n")]).agg(customers=per.count())
             .mutate(kind=ibis.literal(k)) for k in ("days", "weeks")]
    u = parts[0].union(parts[1], distinct=False)
    return u.select(kind=u.kind, month=u.month.cast("int64"), n=u.n.cast("int64"),
                    customers=u.customers.cast("int64"))


def weekly_actives(t, *, as_of: dt.date, last_week: int):
    """Customers with a purchase day in each ISO week up to ``last_week`` (a week code).

    Returns
    -------
    Ibis table: ``week`` (code), ``customers``. Weeks without a purchase are absent.
    """
    d = _purchase_days(t, as_of)
    d = d.mutate(week=period_code(d.day, "week"))
    d = d.filter(d.week <= int(last_week))
    return d.group_by("week").agg(customers=d.customer_id.nunique()).select(
        week=lambda s: s.week.cast("int64"), customers=lambda s: s.customers.cast("int64"))
