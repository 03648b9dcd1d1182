"""The reductions written once as Ibis expressions; they compile to DuckDB and Spark SQL.

Each function takes an Ibis table with canonical columns and returns a lazy Ibis table.
The methods of :class:`clm_lib.reduce.engine.Engine` run them and document the rules;
the tests check them against hand-built logs and DuckDB against Spark.
"""
from __future__ import annotations

import datetime as dt

from clm_lib.io.sources import ROW, _ibis
from clm_lib.reduce.periods import period_code


def on_duckdb(t) -> bool:
    """Whether the table ``t`` lives in DuckDB (where sums are added in a fixed order)."""
    try:
        return t._find_backend(use_default=True).name == "duckdb"
    except Exception:  # noqa: BLE001 - an unbound table: compiled for DuckDB by default
        return True


def _kahan():
    ibis = _ibis()

    @ibis.udf.scalar.builtin(name="clm_kahan_sum")
    def clm_kahan_sum(values) -> float:  # pragma: no cover - SQL only (a DuckDB macro)
        """The compensated sum of a list in list order (see clm_lib.io.sources._MACROS)."""

    return clm_kahan_sum


def daily(t):
    """One row per customer and calendar day, with the day's summed ``amount``.

    On DuckDB the sum does not depend on how the engine splits the work: a day of one
    or two rows needs no order; a day of three or more rows is added in timestamp order
    (ties in the order of the input, from ``__clm_row`` when ``t`` has it, else by
    amount) with Kahan compensation, exactly as pandas' groupby sum adds. Elsewhere
    (Spark) it is the engine's sum, equal to rounding.
    """
    keys = ["customer_id", "day"]
    # Only the columns needed: the engine then keeps less of the transactions between
    # the two uses of ``t`` (summary of 10.6M rows: 13.6 s -> 10.4 s, 2.1 -> 1.8 GB peak).
    t = t.select("customer_id", "timestamp", "amount", *([ROW] if ROW in t.columns else []))
    d = t.select(customer_id=t.customer_id, day=t.timestamp.cast("date"),
                 amount=t.amount.cast("float64"))
    if not on_duckdb(t):
        return d.group_by(keys).agg(amount=d.amount.sum())
    g = d.group_by(keys).agg(amount=d.amount.sum(), __clm_n=d.count())
    many = g.filter(g.__clm_n >= 3).select(*keys)
    # the rows of those days, projected apart (with their order) so that the engine does
    # not keep a copy of the whole table to share between the two uses
    r = t.select(customer_id=t.customer_id, day=t.timestamp.cast("date"),
                 amount=t.amount.cast("float64"), __clm_ts=t.timestamp.cast("timestamp"),
                 __clm_tie=t[ROW] if ROW in t.columns else t.amount.cast("float64"))
    rows = r.semi_join(many, keys)
    exact = rows.group_by(keys).agg(__clm_exact=_kahan()(
        rows.amount.collect(order_by=[rows.__clm_ts, rows.__clm_tie])))
    j = g.left_join(exact, keys)
    return j.select(customer_id=j.customer_id, day=j.day,
                    amount=_ibis().coalesce(j.__clm_exact, j.amount))


def ordered_sum(t, column: str, order: str, where=None):
    """Sum of ``t[column]`` (an aggregation): on DuckDB added one by one in ``order``, so
    the result is the same on every run and with any number of threads (and equals
    numpy's running sum in that order); elsewhere the engine's sum."""
    if on_duckdb(t):
        return t[column].collect(where=where, order_by=t[order]).sums()
    return t[column].sum(where=where)


def _with_first_day(d, t, end):
    """Add each customer's first purchase day up to ``end`` to the daily table ``d`` as
    ``first``, taken from ``t``: the transactions, or the purchase days themselves.

    A join with the per-customer minimum rather than a window: Ibis compiles windows with
    an explicit ``ROWS BETWEEN UNBOUNDED ...`` frame, which DuckDB evaluates markedly slower
    than a hash join (measured ~2x on 10M rows). The minimum is taken over the rows of
    ``t``, not over ``d``: the daily table is then read once, not twice, which with
    DuckDB's memory limit made the summary of 100M rows 20 % faster (63 s -> 49 s).
    """
    ibis = _ibis()
    days = t.select("customer_id", "day") if is_purchase_days(t) else \
        t.select(customer_id=t.customer_id, day=t.timestamp.cast("date"))
    days = days.filter(days.day <= ibis.date(end))
    firsts = days.group_by("customer_id").agg(first=days.day.min())
    return d.inner_join(firsts, "customer_id").select(*d.columns, "first")


def is_purchase_days(t) -> bool:
    """Whether ``t`` is already a purchase-day table: an Ibis table with ``day`` and no
    ``timestamp`` (the output of :func:`daily`, with or without the ``gap`` of
    :func:`with_gaps`; e.g. materialised once by a study)."""
    return (isinstance(t, _ibis().expr.types.Table) and "day" in t.columns
            and "timestamp" not in t.columns)


def purchase_days(t):
    """``t`` collapsed to purchase days (:func:`daily`), or ``t`` itself when it already is
    a purchase-day table (:func:`is_purchase_days`). The per-customer reductions below take
    either; a study that needs several of them collapses once and passes the day table."""
    return t if is_purchase_days(t) else daily(t)


#: Column of ``summary(..., keep_dropped=True)``: the customer's purchase days after as_of.
DAYS_AFTER = "__clm_days_after"


def summary(t, *, as_of: dt.date, calibration_end: dt.date, unit_days: float,
            holdout: bool, keep_dropped: bool = False):
    """Per-customer frequency / recency / T / monetary value (see ``summary_data``) of
    transactions or their purchase days (:func:`purchase_days`).

    Customers whose first purchase is after ``calibration_end`` are left out; purchase
    days after ``as_of`` are ignored. With ``keep_dropped`` the customers left out stay
    (``first_purchase`` after ``calibration_end``, or missing when every purchase is after
    ``as_of``) and :data:`DAYS_AFTER` counts each customer's days after ``as_of``: the
    caller counts what was left out and filters, in the same query.
    """
    ibis = _ibis()
    cal = ibis.date(calibration_end)
    end = ibis.date(as_of)
    d = purchase_days(t)
    ordered = on_duckdb(d)
    if not ordered and "gap" not in d.columns:
        # a repeat day is one after the customer's first (with a gap column: one with a gap)
        firsts = d.group_by("customer_id").agg(first=d.day.min(where=d.day <= end))
        d = d.inner_join(firsts, "customer_id").select(*d.columns, "first")
    seen = d.day <= end
    in_cal = d.day <= cal          # calibration_end <= as_of
    aggs = dict(first=d.day.min(where=seen), n_cal=d.day.count(where=in_cal),
                last=d.day.max(where=in_cal))
    if ordered:
        # The calibration days' amounts in day order: the first is the first purchase
        # day's, the rest are the repeat days', added one by one (a zero adds nothing). No
        # join with each customer's first day is needed (10.6M rows: ~0.5-1 s less).
        aggs.update(nonzero=d.day.count(where=in_cal & (d.amount != 0)),
                    amounts=d.amount.collect(where=in_cal, order_by=d.day))
    else:
        later = d.gap.notnull() if "gap" in d.columns else (d.day != d.first).fill_null(False)
        spend = in_cal & later & (d.amount != 0)
        aggs.update(spend_n=d.day.count(where=spend), spend_sum=d.amount.sum(where=spend))
    if holdout:
        hold = (d.day > cal) & seen
        aggs.update(
            h_n=d.day.count(where=hold),
            h_sn=d.day.count(where=hold & (d.amount != 0)),
            h_sum=ordered_sum(d, "amount", "day", where=hold & (d.amount != 0)),
        )
    if keep_dropped:
        aggs[DAYS_AFTER] = d.day.count(where=~seen)
    a = d.group_by("customer_id").agg(**aggs)
    if not keep_dropped:
        a = a.filter(a.first <= cal)
    if ordered:
        first_spends = ibis.ifelse(a.n_cal > 0, (a.amounts[0] != 0).cast("int64"), 0)
        a = a.mutate(spend_n=a.nonzero - first_spends, spend_sum=a.amounts[1:].sums())
    unit = ibis.literal(float(unit_days))
    cols = dict(
        customer_id=a.customer_id,
        frequency=(a.n_cal - 1).cast("int64"),
        recency=a.last.delta(a.first, unit="day").cast("float64") / unit,
        T=cal.delta(a.first, unit="day").cast("float64") / unit,
        monetary_value=ibis.ifelse(a.spend_n > 0, a.spend_sum / a.spend_n.cast("float64"), 0.0),
        spend_frequency=a.spend_n.cast("int64"),
        first_purchase=a.first,
    )
    if holdout:
        cols.update(
            frequency_holdout=a.h_n.cast("int64"),
            monetary_value_holdout=ibis.ifelse(a.h_sn > 0, a.h_sum / a.h_sn.cast("float64"), 0.0),
            duration_holdout=ibis.literal(float((as_of - calibration_end).days) / unit_days),
        )
    if keep_dropped:
        cols[DAYS_AFTER] = a[DAYS_AFTER].cast("int64")
    return a.select(**cols)


def compress(s, columns):
    """Identical rows of ``columns`` grouped with a ``weights`` count."""
    return s.group_by(list(columns)).agg(weights=s.count())


def customer_periods(t, *, cohort_period: str, as_of: dt.date, last_period: int):
    """One row per customer and calendar period with a purchase (see
    :meth:`clm_lib.reduce.engine.Engine.customer_periods`).

    Purchases after ``as_of`` and in periods after ``last_period`` (the last period
    complete by ``as_of``) are ignored. Returns ``customer_id``, ``p`` (period index),
    ``revenue`` (summed ``amount``), ``c`` (the customer's first remaining period: the
    cohort) and ``last`` (the customer's last active period).
    """
    cp = _active_periods(t, cohort_period=cohort_period, as_of=as_of, last_period=last_period)
    ends = cp.group_by("customer_id").agg(c=cp.p.min(), last=cp.p.max())
    return cp.inner_join(ends, "customer_id").select(*cp.columns, "c", "last")


def _active_periods(t, *, cohort_period: str, as_of: dt.date, last_period: int):
    """``customer_id``, ``p``, ``revenue``: one row per customer and active period."""
    ibis = _ibis()
    d = t.select(customer_id=t.customer_id, day=t.timestamp.cast("date"),
                 amount=t.amount.cast("float64"))
    d = d.filter(d.day <= ibis.date(as_of))
    d = d.mutate(p=period_code(d.day, cohort_period))
    d = d.filter(d.p <= int(last_period))
    return d.group_by(["customer_id", "p"]).agg(revenue=d.amount.sum())


def segment_at_acquisition(t, column: str, *, as_of: dt.date):
    """Each customer's ``column`` at acquisition: :func:`first_values` over the purchases
    up to ``as_of`` (``customer_id``, ``value``)."""
    ibis = _ibis()
    return first_values(t.filter(t.timestamp.cast("date") <= ibis.date(as_of)), column)


def cohort_activity(t, *, cohort_period: str, as_of: dt.date, last_period: int,
                    segment: str | None = None):
    """Active customers and revenue by (acquisition cohort, periods since acquisition).

    Purchases after ``as_of`` and in periods after ``last_period`` (the last period
    complete by ``as_of``) are ignored; a customer's cohort is the first remaining period.
    Returns ``cohort_index``, ``period`` (k = 0, 1, ...), ``customers`` (customers with a
    purchase in period k), ``revenue`` (summed ``amount``) and ``last_active`` (customers
    whose last active period is k; a reverse cumulative sum gives unbounded retention).
    With ``segment`` (a column of ``t``), the counts are also split by the customer's
    value at acquisition (:func:`segment_at_acquisition`; null when the customer has no
    value), returned first as ``segment``.
    """
    cp = customer_periods(t, cohort_period=cohort_period, as_of=as_of, last_period=last_period)
    keys = ["c", "p"]
    if segment is not None:
        seg = segment_at_acquisition(t, segment, as_of=as_of)
        cp = cp.left_join(seg, "customer_id").select(*[cp[c] for c in cp.columns],
                                                     segment=seg.value)
        keys = ["segment", "c", "p"]
    out = cp.group_by(keys).agg(customers=cp.count(), revenue=cp.revenue.sum(),
                                last_active=(cp.p == cp.last).cast("int64").sum())
    return out.select(*(["segment"] if segment is not None else []),
                      cohort_index=out.c, period=(out.p - out.c).cast("int64"),
                      customers=out.customers.cast("int64"), revenue=out.revenue,
                      last_active=out.last_active.cast("int64"))


def churn_counts(t, *, cohort_period: str, as_of: dt.date, last_period: int,
                 inactivity_periods: int):
    """Per-period counts behind the transactions churn rule of
    the cohort study's churn rate (``N = inactivity_periods``).

    For each (customer, active period ``q``), with ``q_next`` the customer's next active
    period (``last_period + 1`` if none): the customer is active at the start of periods
    ``q + 1 .. stop - 1`` and, when ``q_next - q > N``, lost in ``q + 1`` (then
    ``stop = q + 2``; otherwise ``stop = q_next + 1``). Returns one row per period:
    ``period``, ``starts`` (intervals starting there), ``stops`` (intervals ending just
    before it) and ``lost``; the number active at the start of ``p`` is the cumulative
    sum of ``starts - stops`` up to ``p``.
    """
    ibis = _ibis()
    cp = _active_periods(t, cohort_period=cohort_period, as_of=as_of, last_period=last_period)
    cp = cp.select(q=cp.p, nxt=ibis.coalesce(
        cp.p.lead().over(group_by=cp.customer_id, order_by=cp.p), int(last_period) + 1))
    lost = (cp.nxt - cp.q) > int(inactivity_periods)
    one, zero = ibis.literal(1, type="int64"), ibis.literal(0, type="int64")
    rows = cp.select(q=cp.q, stop=ibis.ifelse(lost, cp.q + 1, cp.nxt) + 1,
                     lost=lost.cast("int64"))
    starts = rows.select(period=(rows.q + 1).cast("int64"), starts=one, stops=zero,
                         lost=rows.lost)
    stops = rows.select(period=rows.stop.cast("int64"), starts=zero, stops=one, lost=zero)
    u = starts.union(stops, distinct=False)
    return u.group_by("period").agg(starts=u.starts.sum(), stops=u.stops.sum(),
                                    lost=u.lost.sum())


def interval_durations(t, *, as_of: dt.datetime | None, unit_days: float, covariates):
    """Duration (in ``unit_days`` units) and event flag for interval-form subscriptions."""
    ibis = _ibis()
    start = t.start.cast("timestamp")
    end = t.end.cast("timestamp")
    if as_of is None:
        event = ibis.literal(True)
        stop = end
    else:
        a = as_of
        cutoff = (a + dt.timedelta(days=1)) if a == dt.datetime(a.year, a.month, a.day) \
            else a + dt.timedelta(microseconds=1)
        event = end.notnull() & (end < ibis.timestamp(cutoff))
        stop = ibis.ifelse(event, end, ibis.timestamp(as_of))
    secs = stop.epoch_seconds().cast("float64") - start.epoch_seconds().cast("float64")
    days = secs / 86400.0
    days = ibis.ifelse(days < 0, 0.0, days)
    return t.select(customer_id=t.customer_id.cast("string"),
                    duration=days / float(unit_days), event=event,
                    **{c: t[c] for c in covariates})


def interval_violations(t, *, as_of: dt.datetime | None):
    """Counts of rows breaking the interval contract (checked before reducing)."""
    ibis = _ibis()
    start, end = t.start.cast("timestamp"), t.end.cast("timestamp")
    aggs = dict(
        missing_start=start.isnull().sum(),
        end_before_start=(end < start).sum(),
        active=end.isnull().sum(),
    )
    if as_of is not None:
        a = as_of
        cutoff = (a + dt.timedelta(days=1)) if a == dt.datetime(a.year, a.month, a.day) \
            else a + dt.timedelta(microseconds=1)
        aggs["start_after_as_of"] = (start >= ibis.timestamp(cutoff)).sum()
    return t.aggregate(**aggs)


def repeat_purchases_by_day(t, *, calibration_end: dt.date, as_of: dt.date):
    """Repeat purchase days per calendar day for customers first seen by ``calibration_end``
    (see :meth:`clm_lib.reduce.engine.Engine.repeat_purchases_by_day`)."""
    ibis = _ibis()
    d = purchase_days(t)
    d = d.filter(d.day <= ibis.date(as_of))
    d = _with_first_day(d, t, as_of)
    d = d.filter((d.first <= ibis.date(calibration_end)) & (d.day > d.first))
    return d.group_by("day").agg(repeat_purchases=d.count())


def first_values(t, column: str):
    """Each customer's ``column`` on the earliest purchase row with a value; when several
    rows share that time, the smallest value (so the result never depends on row order).
    Customers without any value are absent."""
    t = t.filter(t[column].notnull())
    firsts = t.group_by("customer_id").agg(_first=t.timestamp.min())
    j = t.inner_join(firsts, "customer_id")
    j = j.filter(j.timestamp == j._first)
    return j.group_by("customer_id").agg(value=j[column].min())


def purchase_spans(t, *, as_of: dt.datetime, lapse_days: float | None = None):
    """Each customer's first and last purchase time, purchase count and spend up to ``as_of``
    (see :meth:`clm_lib.reduce.engine.Engine.purchase_spans`).

    Rows with ``timestamp`` after the instant ``as_of`` are left out. Returns
    ``customer_id``, ``first_purchase``, ``last_purchase`` (timestamps), ``n_purchases``,
    ``total_amount``, ``first_amount`` (spend on the calendar day of the first purchase)
    and, when ``t`` has ``quantity``, ``first_quantity`` (0 when every value is missing).
    With ``lapse_days``, also ``lapse_start`` (the purchase after which the next one came
    more than ``lapse_days`` days later, the first such; null if none), ``lapse_return``
    (that next purchase) and ``n_lapses`` (such gaps), on the purchases up to ``as_of``.
    """
    ibis = _ibis()
    cols = dict(customer_id=t.customer_id, timestamp=t.timestamp.cast("timestamp"),
                amount=t.amount.cast("float64"))
    if "quantity" in t.columns:
        cols["quantity"] = t.quantity.cast("float64")
    d = t.select(**cols)
    d = d.filter(d.timestamp <= ibis.timestamp(as_of))
    if lapse_days is not None:
        # gaps between consecutive purchase times (not days): a lapse dated by the time of
        # day, as the rule dates the last one (last purchase + window)
        nxt = d.timestamp.lead().over(group_by=d.customer_id, order_by=d.timestamp)
        window = ibis.interval(microseconds=int(round(float(lapse_days) * 86_400e6)))
        d = d.mutate(_next=nxt, _lapse=(nxt > d.timestamp + window).fill_null(False))
    firsts = d.group_by("customer_id").agg(first_purchase=d.timestamp.min())
    j = d.inner_join(firsts, "customer_id").select(*d.columns, "first_purchase")
    first_day = j.timestamp.cast("date") == j.first_purchase.cast("date")
    aggs = dict(first_purchase=j.first_purchase.min(), last_purchase=j.timestamp.max(),
                n_purchases=j.count(), total_amount=j.amount.sum(),
                first_amount=j.amount.sum(where=first_day))
    if "quantity" in t.columns:
        aggs["first_quantity"] = j.quantity.sum(where=first_day).fill_null(0.0)
    if lapse_days is not None:
        aggs.update(lapse_start=j.timestamp.min(where=j._lapse),
                    lapse_return=j._next.min(where=j._lapse), n_lapses=j.count(where=j._lapse))
    return j.group_by("customer_id").agg(**aggs)


def purchases_after(t, *, as_of: dt.datetime):
    """Number of rows with ``timestamp`` after the instant ``as_of`` (a scalar expression)."""
    ibis = _ibis()
    return t.filter(t.timestamp.cast("timestamp") > ibis.timestamp(as_of)).count()


# --------------------------------------------------------------------------- overview
def orders(t):
    """One row per order (the overview study's orders): rows sharing a customer and an
    ``order_id`` form one order (earliest timestamp, summed amount); rows without an
    ``order_id`` (or without the column) are one order each. ``customer_id``,
    ``timestamp``, ``amount``."""
    cols = dict(customer_id=t.customer_id, timestamp=t.timestamp.cast("timestamp"),
                amount=t.amount.cast("float64"))
    if "order_id" not in t.columns:
        return t.select(**cols)
    with_id = t.filter(t.order_id.notnull())
    grouped = (with_id.group_by(["customer_id", "order_id"])
               .agg(timestamp=with_id.timestamp.cast("timestamp").min(),
                    amount=with_id.amount.cast("float64").sum())
               .select("customer_id", "timestamp", "amount"))
    single = t.filter(t.order_id.isnull()).select(**cols)
    return grouped.union(single, distinct=False)


def customer_orders(o):
    """Per customer: ``orders``, ``paid_orders`` (amount > 0), ``zero_orders``,
    ``revenue``, ``first_order`` and ``last_order`` (timestamps)."""
    return o.group_by("customer_id").agg(
        orders=o.count(), paid_orders=o.count(where=o.amount > 0),
        zero_orders=o.count(where=o.amount == 0), revenue=o.amount.sum(),
        first_order=o.timestamp.min(), last_order=o.timestamp.max())


def period_activity(o, period: str):
    """Per calendar ``period`` (integer code, see :func:`clm_lib.reduce.periods.period_code`) with an order:
    ``active_customers``, ``new_customers`` (first order in the period), ``orders``,
    ``revenue`` and ``revenue_new`` (from customers new in the period)."""
    p = o.select(customer_id=o.customer_id, amount=o.amount,
                 p=period_code(o.timestamp.cast("date"), period))
    per = p.group_by(["customer_id", "p"]).agg(n=p.count(), revenue=p.amount.sum())
    firsts = per.group_by("customer_id").agg(first_p=per.p.min())
    j = per.inner_join(firsts, "customer_id").select(*per.columns, "first_p")
    new = j.p == j.first_p
    return j.group_by("p").agg(
        active_customers=j.count(), new_customers=j.count(where=new), orders=j.n.sum(),
        revenue=j.revenue.sum(), revenue_new=j.revenue.sum(where=new).fill_null(0.0))


def segment_activity(t, column: str):
    """Per value of ``column`` (null included): ``customers`` with a row in it, ``orders``
    (rows), ``revenue`` and ``paid_orders`` (rows with amount > 0), as
    the overview study counts them."""
    s = t.select(customer_id=t.customer_id, amount=t.amount.cast("float64"), value=t[column])
    per = s.group_by(["value", "customer_id"]).agg(
        n=s.count(), revenue=s.amount.sum(), paid=s.count(where=s.amount > 0))
    return per.group_by("value").agg(customers=per.count(), orders=per.n.sum(),
                                     revenue=per.revenue.sum(), paid_orders=per.paid.sum())


# --------------------------------------------------------------------------- lifecycle
def with_gaps(t, date: dt.date | None = None, amounts: bool = True):
    """The purchase days (:func:`purchase_days`) up to ``date`` (all for None) with ``gap``:
    days since the customer's previous purchase day (null on the first). A gap only looks
    back, so the gaps of a whole day table, cut at ``date`` later, are the same. Without
    ``amounts``, transactions give only their distinct purchase days (no day sums to add)."""
    ibis = _ibis()
    if amounts or is_purchase_days(t):
        d = purchase_days(t)
    else:
        d = t.select(customer_id=t.customer_id, day=t.timestamp.cast("date")).distinct()
    if date is not None:
        d = d.filter(d.day <= ibis.date(date))
    if "gap" in d.columns:
        return d
    prev = d.day.lag().over(group_by=d.customer_id, order_by=d.day)
    return d.mutate(gap=d.day.delta(prev, unit="day").cast("int64"))


def purchase_day_gaps(t, *, as_of: dt.date | None):
    """How many gaps of each length (days) separate consecutive purchase days of the same
    customer up to ``as_of`` (see :meth:`clm_lib.reduce.engine.Engine.purchase_day_gaps`):
    ``days``, ``gaps``."""
    d = with_gaps(t, as_of, amounts=False)
    d = d.filter(d.gap.notnull())
    return d.group_by(days=d.gap).agg(gaps=d.count())


def customer_histories(t, *, date: dt.date, lapsed_days: int, window_days: int):
    """Each customer's purchase-day history up to ``date`` (see
    :meth:`clm_lib.reduce.engine.Engine.customer_histories` for the columns).

    One light pass finds each customer's first purchase and first reactivation; one
    aggregation over the days joined with them gives everything else (the spend of such a
    day is the one amount on it: no arg-min)."""
    d = with_gaps(t, date)
    d = d.mutate(react=(d.gap > int(lapsed_days)).fill_null(False))
    starts = d.group_by("customer_id").agg(first=d.day.min(),
                                           first_react=d.day.min(where=d.react))
    j = d.inner_join(starts, "customer_id")
    since_first = j.day.delta(j.first, unit="day")
    since_react = j.day.delta(j.first_react, unit="day")
    w = int(window_days)
    in_new = ((since_first > 0) & (since_first <= w)).fill_null(False)
    in_react = ((since_react > 0) & (since_react <= w)).fill_null(False)
    return j.group_by("customer_id").agg(
        purchase_days=j.count(), spend=j.amount.sum(), first_purchase=j.first.min(),
        second_purchase=j.day.min(where=j.gap.notnull()), last_purchase=j.day.max(),
        first_reactivation=j.first_react.min(), last_reactivation=j.day.max(where=j.react),
        first_day_spend=j.amount.max(where=j.day == j.first),
        reactivation_day_spend=j.amount.max(where=j.day == j.first_react),
        new_window_days=j.count(where=in_new),
        new_window_spend=j.amount.sum(where=in_new).fill_null(0.0),
        react_window_days=j.count(where=in_react),
        react_window_spend=j.amount.sum(where=in_react).fill_null(0.0))


def first_day_values(t, numeric, text, *, as_of: dt.date):
    """Each customer's attributes on her first purchase day up to ``as_of`` (the calendar
    day of her earliest purchase, as the purchase-day summary counts it): the ``numeric``
    columns summed over the rows of that day (missing values add nothing; null when every
    value of the day is missing), the ``text`` columns the smallest value of that day (so
    the result never depends on row order; null when the day has none).

    Returns ``customer_id`` and one column per name of ``numeric`` and ``text``.
    """
    ibis = _ibis()
    d = t.mutate(_day=t.timestamp.cast("date"))
    d = d.filter(d._day <= ibis.date(as_of))
    firsts = d.group_by("customer_id").agg(_first=d._day.min())
    j = d.inner_join(firsts, "customer_id")
    j = j.filter(j._day == j._first)
    aggs = {c: j[c].cast("float64").sum() for c in numeric}
    aggs.update({c: j[c].cast("string").min() for c in text})
    return j.group_by("customer_id").agg(**aggs)
