"""Per-customer reductions of transactions: the RFM summary, first values, purchase spans,
gaps between purchase days and purchase-day histories (the :class:`Engine` methods).

The recency-frequency-monetary summary of the buy-till-you-die literature (Fader,
Hardie & Lee 2005): ``frequency`` (x) is the number of *repeat* purchase days in the
calibration period; ``recency`` (t_x) the time from the first to the last of them;
``T`` the time from the first purchase to the end of calibration; ``monetary_value`` the
mean spend over the repeat purchase days with non-zero spend (0 when none),
``spend_frequency`` the number of such days. All purchases of one customer on one
calendar day are one purchase (their amounts summed); times are whole days divided by
the unit: ``"day"``, ``"week"`` (7 days) or ``"month"`` (365.25 / 12 = 30.4375 days).
A day whose spend sums to zero is a purchase (it counts in ``frequency`` and
``recency``) but not a spend observation.

Each method takes a path, glob, table name, DataFrame or Ibis table: a path or table
name is loaded with the data contract, a DataFrame or Ibis table is taken as loaded
(canonical ``customer_id``, ``timestamp``, ``amount``). The summary, the gaps and the
histories also take the log's purchase days (``customer_id``, ``day``, ``amount`` and
optionally ``gap``: :func:`clm_lib.reduce.expressions.with_gaps`), so that a study calling
several of them collapses the log once. Only one row per customer (or per
day, per gap length) comes back, through the one dtype map of
:func:`clm_lib.io.sources.to_pandas`.
"""
from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Mapping
from contextlib import contextmanager

import pandas as pd

from clm_lib.checks import unit_days
from clm_lib.exceptions import (
    DataQualityWarning,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
)
from clm_lib.io.contract import date_value
from clm_lib.reduce import expressions as red

HISTORY_COLUMNS = ("purchase_days", "spend", "first_purchase", "second_purchase",
                   "last_purchase", "first_reactivation", "last_reactivation",
                   "first_day_spend", "reactivation_day_spend", "new_window_days",
                   "new_window_spend", "react_window_days", "react_window_spend")


def day(value, name: str) -> dt.date:
    """``value`` as a calendar day; a :class:`ParameterError` naming ``name`` otherwise."""
    return date_value(value, name).normalize().date()


def as_of_from_data(as_of, engine, source, columns: tuple[str, ...] = ("timestamp",)
                    ) -> tuple[pd.Timestamp, str]:
    """The end of observation of a study: ``as_of`` when given, else the last day in the
    data (:meth:`CustomerReductions.observed_span`), and where it came from.

    Returns
    -------
    (Timestamp, str)
        The day (midnight; the whole day is observed) and ``"parameter"`` or ``"data"``.
    """
    if as_of is not None:
        return pd.Timestamp(day(as_of, "as_of")), "parameter"
    return engine.observed_span(source, columns)[1], "data"


#: Share of the observed span held out when a study derives its calibration end.
HOLDOUT_SHARE = 1 / 3


def observation_window(engine, source, *, as_of=None, calibration_end=None,
                       holdout_share: float = HOLDOUT_SHARE) -> dict:
    """The end of observation and of calibration of a study, given or from the data.

    ``as_of`` defaults to the last day in the data (:meth:`CustomerReductions.observed_span`);
    ``calibration_end`` to the day that leaves the last ``holdout_share`` of the observed
    span, from the first day to ``as_of``, as the holdout: ``first + floor((1 -
    holdout_share) * days)``. Both are days (the whole day observed).

    Returns
    -------
    dict
        ``as_of``, ``calibration_end`` (Timestamps, midnight), ``first_day``, and
        ``as_of_source`` / ``calibration_end_source``: ``"parameter"`` or ``"data"``.
    """
    first, last = engine.observed_span(source)
    end = pd.Timestamp(day(as_of, "as_of")) if as_of is not None else last
    if calibration_end is not None:
        cal, cal_source = pd.Timestamp(day(calibration_end, "calibration_end")), "parameter"
    else:
        span = max((end - first).days, 0)
        cal, cal_source = first + pd.Timedelta(days=int(span * (1 - holdout_share))), "data"
    return {"as_of": end, "as_of_source": "parameter" if as_of is not None else "data",
            "calibration_end": cal, "calibration_end_source": cal_source, "first_day": first}


def ends_after_last_start(engine, table) -> int:
    """Interval subscriptions whose ``end`` is after the last ``start`` in ``table``.

    When ``as_of`` comes from the data it is the last start or end; if the data hold
    *scheduled* ends (a contract's end date beyond the extraction), the last of them
    becomes ``as_of`` and every such subscription counts as ended by then. A study that
    derives ``as_of`` says how many ends lie after the last start, so that a reader can
    tell (:func:`clm_lib.io.wording.ends_after_last_start_note`)."""
    import ibis

    last_start = engine.observed_span(table, ("start",), days=False)[1].to_pydatetime()
    late = table.filter(table.end.notnull() & (table.end > ibis.timestamp(last_start)))
    return int(engine.to_pandas(late.aggregate(n=late.count()))["n"].iloc[0])


def instant(value, name: str = "as_of") -> dt.datetime:
    """``value`` as a naive instant (aware ones in UTC)."""
    if value is None:
        raise ParameterError(f"{name} is required (the observation end)")
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


class CustomerReductions:
    """The per-customer methods of :class:`clm_lib.reduce.engine.Engine`."""

    def observed_span(self, source, columns: tuple[str, ...] = ("timestamp",), *,
                      days: bool = True) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The first and the last day in ``source``: the calendar days of the earliest and
        the latest value among ``columns`` (missing values ignored); ``days=False``: the
        earliest and latest instants themselves.

        A study whose ``as_of`` is not given observes the data to the end of the last day
        in them, after the data contract (:func:`as_of_from_data`).

        Raises
        ------
        InsufficientDataError
            When every value of ``columns`` is missing (no day observed).
        """
        if isinstance(source, pd.DataFrame):
            t = self.from_pandas(source)
        elif isinstance(source, (str, os.PathLike)):
            t = self._transactions(source, None)[0]
        else:  # an Ibis table, e.g. the clean table of a data contract
            t = source
        missing = [c for c in columns if c not in t.columns]
        if missing:
            raise MissingColumnsError(missing, list(t.columns), what="the data")
        aggs = {}
        for i, c in enumerate(columns):
            aggs[f"lo{i}"], aggs[f"hi{i}"] = t[c].min(), t[c].max()
        row = self.to_pandas(t.aggregate(**aggs)).iloc[0]
        lows = [pd.Timestamp(row[f"lo{i}"]) for i in range(len(columns))
                if pd.notna(row[f"lo{i}"])]
        highs = [pd.Timestamp(row[f"hi{i}"]) for i in range(len(columns))
                 if pd.notna(row[f"hi{i}"])]
        if not highs:
            raise InsufficientDataError(f"no date in {', '.join(columns)}: the data observe no day")
        first, last = min(lows), max(highs)
        return (first.normalize(), last.normalize()) if days else (first, last)

    @contextmanager
    def kept_purchase_days(self, source, *, gaps: bool = False,
                           columns: Mapping[str, str] | None = None):
        """``with eng.kept_purchase_days(tx) as days:`` the purchase days of ``source``
        (``customer_id``, ``day``, ``amount`` summed over the day; with ``gaps``, also
        ``gap``, the days since the customer's previous purchase day, null on the first:
        :func:`clm_lib.reduce.expressions.with_gaps`) computed once and kept in the engine,
        dropped on exit.

        The per-customer methods below read such a table as they read transactions, with
        the same results: a study that calls several of them collapses the log once
        instead of once per call (and, on a lazy loaded table, reads the raw file once).
        """
        t, _ = self._transactions(source, columns)
        kept = self.materialize(red.with_gaps(t) if gaps else red.purchase_days(t))
        try:
            yield kept.table
        finally:
            kept.drop()

    def _days_or_transactions(self, source, columns):
        """``source`` as it is when it already is a purchase-day table, else as
        transactions (:meth:`_transactions`); with the loading record."""
        return (source, None) if red.is_purchase_days(source) else \
            self._transactions(source, columns)

    def _summary_expr(self, t, *, as_of, calibration_end, time_unit, keep_dropped=False):
        unit = unit_days(time_unit, ("day", "week", "month"))
        end = day(as_of, "as_of")
        cal = end if calibration_end is None else day(calibration_end, "calibration_end")
        if cal > end:
            raise ParameterError(f"calibration_end {cal} is after as_of {end}")
        return red.summary(t, as_of=end, calibration_end=cal, unit_days=unit,
                           holdout=calibration_end is not None,
                           keep_dropped=keep_dropped), end, cal

    def summary_table(self, source, *, as_of, calibration_end=None, time_unit: str = "week",
                      columns: Mapping[str, str] | None = None):
        """Lazy per-customer summary in the engine (an Ibis table with ``customer_id``; the
        columns of :meth:`summary_data`). Nothing is computed until it is used; use
        :meth:`materialize` to keep it when it is used several times.

        ``source`` is best the table returned by :meth:`load_transactions`, whose
        data-quality record you keep. A path is loaded here with the data contract; rows
        it drops are reported with a :class:`~clm_lib.exceptions.DataQualityWarning`.
        """
        t, dq = self._days_or_transactions(source, columns)
        if dq is not None and dq.dropped:
            warnings.warn(f"{dq.source}: {dq.n_dropped:,} of {dq.rows_in:,} rows dropped by the "
                          f"data contract ({dq.dropped}); use Engine.load_transactions to keep "
                          "the record", DataQualityWarning, stacklevel=2)
        return self._summary_expr(t, as_of=as_of, calibration_end=calibration_end,
                                  time_unit=time_unit)[0]

    def summary_data(self, source, *, as_of, calibration_end=None, time_unit: str = "week",
                     columns: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Per-customer frequency / recency / T / monetary value, with an optional holdout.

        Parameters
        ----------
        source : path, glob, table name, DataFrame or Ibis table
            Transactions (``customer_id``, ``timestamp``, ``amount`` after ``columns``) or
            their purchase days (see the module notes).
        as_of : date-like
            End of the observation (inclusive, a calendar day); later purchase days are
            left out and counted in ``attrs["dropped"]``.
        calibration_end : date-like, optional
            Last day (inclusive) of calibration; None: calibration runs to ``as_of``, no
            holdout. Customers first seen after it are left out and counted.
        time_unit : {"day", "week", "month"}
            Unit of ``recency``, ``T`` and ``duration_holdout``.
        columns : dict, optional
            Source name -> canonical name.

        Returns
        -------
        DataFrame indexed by ``customer_id`` (sorted): ``frequency``, ``recency``, ``T``,
        ``monetary_value``, ``spend_frequency``, ``first_purchase`` and, with a holdout,
        ``frequency_holdout``, ``monetary_value_holdout``, ``duration_holdout``.
        ``attrs``: ``time_unit``, ``calibration_end``, ``as_of``, ``dropped`` and
        ``data_quality`` (the loading record, a dict) when a file was loaded.

        Examples
        --------
        >>> from clm_lib.reduce import get_engine
        >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a"],
        ...                    "timestamp": pd.to_datetime(["2020-01-01", "2020-01-01",
        ...                                                 "2020-01-08"]),
        ...                    "amount": [1.0, 2.0, 5.0]})
        >>> s = get_engine().summary_data(tx, as_of="2020-01-15", time_unit="week")
        >>> s[["frequency", "recency", "T"]]
                     frequency  recency    T
        customer_id
        a                    1      1.0  2.0
        """
        t, dq = self._days_or_transactions(source, columns)
        expr, end, cal = self._summary_expr(t, as_of=as_of, calibration_end=calibration_end,
                                            time_unit=time_unit, keep_dropped=True)
        # one query: every customer, those left out counted and dropped here
        every = self.to_pandas(expr.order_by("customer_id"))
        if every.empty:
            raise InsufficientDataError("summary_data: no transactions")
        first = every["first_purchase"]
        kept = first.notna() & (first <= pd.Timestamp(cal))
        dropped = {k: int(n) for k, n in (
            ("purchase days after as_of", every.pop(red.DAYS_AFTER).sum()),
            ("customers whose first purchase is after calibration_end",
             (first > pd.Timestamp(cal)).sum())) if n}
        out = (every if kept.all() else every[kept]).set_index("customer_id")
        out.attrs.update({"time_unit": time_unit, "calibration_end": str(cal),
                          "as_of": str(end), "dropped": dropped})
        if dq is not None:
            out.attrs["data_quality"] = dq.to_dict()
        return out

    def repeat_purchases_by_day(self, source, *, calibration_end, as_of,
                                columns: Mapping[str, str] | None = None) -> pd.Series:
        """Repeat purchase days per calendar day, for the customers acquired by
        ``calibration_end`` (the input of the CLV tracking plot): purchases of one customer
        on one day count once, a first purchase day is not a repeat, days after ``as_of``
        are left out.

        Returns
        -------
        Series ``repeat_purchases`` (int64) indexed by ``day`` (datetime64, sorted); days
        without a repeat purchase are absent.
        """
        end = day(as_of, "as_of")
        cal = day(calibration_end, "calibration_end")
        t, _ = self._days_or_transactions(source, columns)
        out = self.to_pandas(red.repeat_purchases_by_day(t, calibration_end=cal, as_of=end)
                             .order_by("day"))
        return out.set_index("day")["repeat_purchases"]

    def first_values(self, source, column: str,
                     columns: Mapping[str, str] | None = None) -> pd.Series:
        """Each customer's ``column`` on the earliest purchase row with a value (e.g. the
        acquisition channel); when several rows share that time, the smallest value, so
        the result never depends on row order. Indexed by ``customer_id`` (sorted);
        customers without any value are absent."""
        t, _ = self._transactions(source, columns)
        if column not in t.columns:
            raise MissingColumnsError([column], list(t.columns), what="transactions")
        out = self.to_pandas(red.first_values(t, column).order_by("customer_id"))
        return out.set_index("customer_id")["value"].rename(column)

    def first_purchase_values(self, source, columns: list[str], *, as_of,
                              text: tuple[str, ...] = ()) -> pd.DataFrame:
        """Each customer's ``columns`` on her first purchase day up to ``as_of``: numbers
        summed over the rows of that day (e.g. the CDs of the first order), the columns of
        ``text`` (and every non-numeric column) the smallest value of that day
        (:func:`clm_lib.reduce.expressions.first_day_values`). Indexed by ``customer_id``
        (sorted), one row per customer with a purchase up to ``as_of``; a value is missing
        when every row of that day misses it."""
        t, _ = self._transactions(source, None)
        missing = [c for c in columns if c not in t.columns]
        if missing:
            raise MissingColumnsError(missing, list(t.columns), what="transactions")
        schema = t.schema()
        txt = [c for c in columns if c in text or not schema[c].is_numeric()]
        num = [c for c in columns if c not in txt]
        expr = red.first_day_values(t, num, txt, as_of=day(as_of, "as_of"))
        out = self.to_pandas(expr.order_by("customer_id")).set_index("customer_id")
        return out[list(columns)]

    def purchase_spans(self, source, *, as_of, columns: Mapping[str, str] | None = None,
                       lapse_days: float | None = None) -> pd.DataFrame:
        """Each customer's first and last purchase, purchase count and spend up to ``as_of``
        (the input of churn by inactivity). Every row is a purchase (rows of one day are
        not collapsed) and times keep their time of day.

        Parameters
        ----------
        source : path, glob, table name, DataFrame or Ibis table
            Transactions; ``quantity`` is used if present.
        as_of : date-like
            Rows after this instant are left out (a date alone means its midnight).
        lapse_days : float, optional
            With it, each customer's first *lapse* among the purchases up to ``as_of``: a
            gap of more than ``lapse_days`` days between consecutive purchase times.

        Returns
        -------
        DataFrame
            ``customer_id``, ``first_purchase``, ``last_purchase``, ``n_purchases``,
            ``total_amount``, ``first_amount`` (spend on the calendar day of the first
            purchase) and, with ``quantity``, ``first_quantity`` (missing quantities add
            nothing); with ``lapse_days``, ``lapse_start`` (the purchase the first lapse
            follows; NaT if none), ``lapse_return`` (the purchase that ends it) and
            ``n_lapses``; sorted by customer, index 0..n-1. ``attrs["purchases_after_as_of"]``:
            rows left out; ``attrs["data_quality"]`` when a file was loaded.

        Examples
        --------
        >>> from clm_lib.reduce import get_engine
        >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a"], "amount": [1.0, 2.0, 4.0],
        ...                    "timestamp": pd.to_datetime(["2020-01-01 09:00",
        ...                                                 "2020-01-01 18:00",
        ...                                                 "2020-01-05 10:00"])})
        >>> s = get_engine().purchase_spans(tx, as_of="2020-01-31")
        >>> int(s["n_purchases"].iloc[0]), float(s["first_amount"].iloc[0])
        (3, 3.0)
        """
        end = instant(as_of)
        t, dq = self._transactions(source, columns)
        spans = red.purchase_spans(t, as_of=end, lapse_days=lapse_days)
        out = self.to_pandas(spans.order_by("customer_id"))
        out.attrs["purchases_after_as_of"] = int(red.purchases_after(t, as_of=end).execute())
        if dq is not None:
            out.attrs["data_quality"] = dq.to_dict()
        return out

    def purchase_day_gaps(self, source, *, as_of,
                          columns: Mapping[str, str] | None = None) -> pd.Series:
        """How many gaps of each length (days) separate consecutive purchase days of a
        customer up to ``as_of`` (inclusive; None: all). Several purchases on one day are
        one purchase day, so no gap is 0.

        Returns
        -------
        Series ``gaps`` (int64) indexed by ``days`` (sorted).

        Examples
        --------
        >>> from clm_lib.reduce import get_engine
        >>> tx = pd.DataFrame({"customer_id": ["a"] * 3, "amount": [1.0] * 3,
        ...                    "timestamp": pd.to_datetime(["2020-01-01", "2020-01-11",
        ...                                                 "2020-01-31"])})
        >>> get_engine().purchase_day_gaps(tx, as_of="2020-02-01").to_dict()
        {10: 1, 20: 1}
        """
        end = None if as_of is None else day(as_of, "as_of")
        t, _ = self._days_or_transactions(source, columns)
        out = self.to_pandas(red.purchase_day_gaps(t, as_of=end).order_by("days"))
        return out.set_index("days")["gaps"]

    def customer_histories(self, source, *, date, lapsed_days: int,
                           window_days: int | None = None,
                           columns: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Each customer's purchase-day history up to ``date``: the reduced input of the
        lifecycle stages, RFM scores, time to a second purchase and reactivation. A
        *reactivation* is a purchase day after a gap of more than ``lapsed_days`` days.

        Parameters
        ----------
        source : path, glob, table name, DataFrame or Ibis table
            Transactions or their purchase days (see the module notes).
        date : date-like
            Only purchase days up to this day (inclusive) are seen.
        lapsed_days : int
            Gap (days) beyond which a return is a reactivation.
        window_days : int, optional
            Follow-up window (days) after the first purchase and after the first
            reactivation (default ``lapsed_days``).

        Returns
        -------
        DataFrame indexed by ``customer_id`` (sorted): ``purchase_days``, ``spend`` (to
        date), ``first_purchase``, ``second_purchase``, ``last_purchase``,
        ``first_reactivation``, ``last_reactivation`` (days; NaT when there is none),
        ``first_day_spend``, ``reactivation_day_spend`` (spend on the first purchase day and
        on the first reactivation day; NaN without one), ``new_window_days``,
        ``new_window_spend``, ``react_window_days``, ``react_window_spend`` (purchase days
        and spend in the ``window_days`` after the first purchase / first reactivation day,
        that day excluded). ``attrs``: ``date``, ``lapsed_days``, ``window_days``.
        """
        end = day(date, "date")
        w = int(window_days if window_days is not None else lapsed_days)
        t, _ = self._days_or_transactions(source, columns)
        out = self.to_pandas(red.customer_histories(t, date=end, lapsed_days=int(lapsed_days),
                                                    window_days=w).order_by("customer_id"))
        if out.empty:
            raise InsufficientDataError(f"no purchases on or before {end}")
        out = out.set_index("customer_id")[list(HISTORY_COLUMNS)]
        out.attrs.update({"date": str(end), "lapsed_days": int(lapsed_days), "window_days": w})
        return out
