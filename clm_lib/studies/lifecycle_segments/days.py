"""The study's reductions from one table of purchase days, computed once in the engine.

The lifecycle study needs the gaps between purchase days, each customer's history at two
dates and the BG/NBD summary at ``as_of``: :meth:`clm_lib.reduce.Engine.purchase_day_gaps`,
:meth:`~clm_lib.reduce.Engine.customer_histories` (twice) and
:meth:`~clm_lib.reduce.Engine.summary_data`. Each of those collapses the log to purchase
days again (and, on a lazy loaded table, re-runs the data contract on the raw file). Here
the log is collapsed once (:func:`clm_lib.reduce.expressions.daily`, the same exact day
sums) with the gap to the previous purchase day, kept in the engine, and everything is
read from that table: one aggregation per customer and one follow-up-window aggregation
give both histories and the summary (10.6M rows: four passes over the raw log and four
collapses became one of each). The values are those of the engine methods, which the
tests check on hand-built logs.
"""
from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from clm_lib.checks import unit_days
from clm_lib.exceptions import InsufficientDataError
from clm_lib.io.sources import read_source
from clm_lib.reduce import expressions as red
from clm_lib.reduce.customers import HISTORY_COLUMNS

__all__ = ["PurchaseDays"]

_TX = ("customer_id", "timestamp", "amount")
_DATES = ("first_purchase", "second_purchase", "last_purchase", "first_reactivation",
          "last_reactivation")


class PurchaseDays:
    """The purchase days of ``transactions`` (``customer_id``, ``day``, ``amount`` summed
    over the day, ``gap`` in days since the customer's previous purchase day, null on the
    first), materialised in ``eng``; use as a context manager (the table is dropped on
    exit)."""

    def __init__(self, eng, transactions):
        t = read_source(eng.con, transactions, None, _TX, "transactions",
                        rows=isinstance(transactions, pd.DataFrame))
        d = red.daily(t)
        prev = d.day.lag().over(group_by=d.customer_id, order_by=d.day)
        self.eng = eng
        self._mat = eng.materialize(d.mutate(gap=d.day.delta(prev, unit="day").cast("int64")))
        self.table = self._mat.table

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._mat.drop()

    def gaps(self, as_of) -> pd.Series:
        """:meth:`clm_lib.reduce.Engine.purchase_day_gaps` up to ``as_of``."""
        d = self.table
        d = d.filter((d.day <= _day(as_of)) & d.gap.notnull())
        out = self.eng.to_pandas(d.group_by(days=d.gap).agg(gaps=d.count()).order_by("days"))
        return out.set_index("days")["gaps"]

    def customers(self, *, as_of, start, lapsed_days: int, time_unit: str
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The histories at ``as_of`` and at ``start``
        (:meth:`~clm_lib.reduce.Engine.customer_histories`, window = ``lapsed_days``) and the
        summary at ``as_of`` without holdout (:meth:`~clm_lib.reduce.Engine.summary_data`
        in ``time_unit``), from one aggregation.

        A history at a date only sees days up to it, and the gap of such a day only looks
        back, so the gaps of the whole table serve both dates; the first purchase and the
        first reactivation at a date are the customer's overall ones when on or before it.
        """
        d, lapsed = self.table, int(lapsed_days)
        dates = {"a": _day(as_of), "s": _day(start)}
        react = (d.gap > lapsed).fill_null(False)
        aggs = dict(first=d.day.min(), first_react=d.day.min(where=react),
                    after=d.count(where=d.day > ibis.date(dates["a"])))
        for k, date in dates.items():
            seen = d.day <= ibis.date(date)
            rs = react & seen
            aggs.update({
                f"purchase_days_{k}": d.count(where=seen),
                f"spend_{k}": d.amount.sum(where=seen),
                f"second_purchase_{k}": d.day.min(where=seen & d.gap.notnull()),
                f"last_purchase_{k}": d.day.max(where=seen),
                f"last_reactivation_{k}": d.day.max(where=rs),
                f"first_day_spend_{k}": d.amount.argmin(d.day, where=seen),
                f"reactivation_day_spend_{k}": d.amount.argmin(d.day, where=rs)})
        spend = (d.day <= ibis.date(dates["a"])) & d.gap.notnull() & (d.amount != 0)
        aggs.update(spend_n=d.count(where=spend),
                    spend_sum=red.ordered_sum(d, "amount", "day", where=spend))
        per = d.group_by("customer_id").agg(**aggs)
        j = d.inner_join(per.select("customer_id", "first", "first_react"), "customer_id")
        since_first = j.day.delta(j.first, unit="day")
        since_react = j.day.delta(j.first_react, unit="day")
        win = {}
        for k, date in dates.items():
            seen = j.day <= ibis.date(date)
            in_new = (seen & (since_first > 0) & (since_first <= lapsed)).fill_null(False)
            in_react = (seen & (since_react > 0) & (since_react <= lapsed)).fill_null(False)
            win.update({f"new_window_days_{k}": j.count(where=in_new),
                        f"new_window_spend_{k}": j.amount.sum(where=in_new).fill_null(0.0),
                        f"react_window_days_{k}": j.count(where=in_react),
                        f"react_window_spend_{k}": j.amount.sum(where=in_react).fill_null(0.0)})
        both = per.inner_join(j.group_by("customer_id").agg(**win), "customer_id")
        unit = float(unit_days(time_unit, ("day", "week", "month")))
        end = ibis.date(dates["a"])
        both = both.mutate(
            recency_a=both.last_purchase_a.delta(both.first, unit="day").cast("float64") / unit,
            T_a=end.delta(both.first, unit="day").cast("float64") / unit,
            monetary_value_a=ibis.ifelse(both.spend_n > 0,
                                         both.spend_sum / both.spend_n.cast("float64"), 0.0))
        out = self.eng.to_pandas(both.order_by("customer_id")).set_index("customer_id")
        hist = {k: self._history(out, k, date, lapsed) for k, date in dates.items()}
        return hist["a"], hist["s"], self._summary(out, dates["a"], time_unit)

    @staticmethod
    def _history(out: pd.DataFrame, k: str, date: dt.date, lapsed: int) -> pd.DataFrame:
        seen = out[f"purchase_days_{k}"] > 0
        if not seen.any():
            raise InsufficientDataError(f"no purchases on or before {date}")
        h = out.loc[seen, [f"{c}_{k}" for c in HISTORY_COLUMNS
                           if c not in ("first_purchase", "first_reactivation")]]
        h.columns = [c[:-2] for c in h.columns]
        h["first_purchase"] = out.loc[seen, "first"]
        fr = out.loc[seen, "first_react"]
        h["first_reactivation"] = fr.where(fr <= pd.Timestamp(date))
        h = h[list(HISTORY_COLUMNS)]
        h.attrs.update({"date": str(date), "lapsed_days": lapsed, "window_days": lapsed})
        return h

    @staticmethod
    def _summary(out: pd.DataFrame, as_of: dt.date, time_unit: str) -> pd.DataFrame:
        seen = out["purchase_days_a"] > 0
        if not seen.any():
            raise InsufficientDataError("summary_data: no transactions")
        o = out.loc[seen]
        s = pd.DataFrame({"frequency": (o["purchase_days_a"] - 1).astype("int64"),
                          "recency": o["recency_a"], "T": o["T_a"],
                          "monetary_value": o["monetary_value_a"],
                          "spend_frequency": o["spend_n"].astype("int64"),
                          "first_purchase": o["first"]}, index=o.index)
        after = int(out["after"].sum())
        s.attrs.update({"time_unit": time_unit, "calibration_end": str(as_of),
                        "as_of": str(as_of),
                        "dropped": {"purchase days after as_of": after} if after else {}})
        return s


def _day(value) -> dt.date:
    return pd.Timestamp(value).normalize().date()
