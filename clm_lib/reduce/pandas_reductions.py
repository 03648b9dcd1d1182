"""Deprecated names of the old pandas reductions; use the :class:`~clm_lib.reduce.Engine`
methods (``clm_lib.reduce.get_engine().summary_data(...)`` etc.).

Every reduction is written once, as Ibis expressions run by the engine; these functions
call the default engine, for the modules not yet moved to :mod:`clm_lib.reduce`. This
module goes when nothing imports it any more.
"""
from __future__ import annotations

import pandas as pd

from clm_lib.checks import TIME_UNITS as _ALL_UNITS
from clm_lib.checks import unit_days as _unit_days
from clm_lib.reduce.customers import is_customer_histories
from clm_lib.reduce.engine import TRIPLE, get_engine

__all__ = ["TIME_UNITS", "unit_days", "summary_data", "compress", "daily_transactions",
           "repeat_purchases_by_day", "first_values", "purchase_spans", "purchase_day_gaps",
           "customer_histories", "is_customer_histories"]

#: Time units of the purchase summaries (a month is 365.25 / 12 = 30.4375 days).
TIME_UNITS: dict[str, float] = {u: _ALL_UNITS[u] for u in ("day", "week", "month")}


def unit_days(time_unit: str) -> float:
    """Length of ``time_unit`` in days (``day`` 1, ``week`` 7, ``month`` 30.4375)."""
    return _unit_days(time_unit, allowed=TIME_UNITS)


def summary_data(transactions, *, as_of, calibration_end=None, time_unit: str = "week"):
    """:meth:`Engine.summary_data` on the default engine."""
    return get_engine().summary_data(transactions, as_of=as_of,
                                     calibration_end=calibration_end, time_unit=time_unit)


def compress(summary, columns=TRIPLE):
    """:meth:`Engine.compress` on the default engine."""
    return get_engine().compress(summary, columns)


def daily_transactions(transactions) -> pd.DataFrame:
    """One row per customer and calendar day (``customer_id``, ``day``, summed
    ``amount``), sorted by customer and day."""
    from clm_lib.reduce import expressions as red

    eng = get_engine()
    return eng.to_pandas(red.daily(eng.table(transactions)).order_by(["customer_id", "day"]))


def repeat_purchases_by_day(transactions, *, calibration_end, as_of):
    """:meth:`Engine.repeat_purchases_by_day` on the default engine."""
    return get_engine().repeat_purchases_by_day(transactions, calibration_end=calibration_end,
                                                as_of=as_of)


def first_values(transactions, column: str):
    """:meth:`Engine.first_values` on the default engine."""
    return get_engine().first_values(transactions, column)


def purchase_spans(transactions, *, as_of):
    """:meth:`Engine.purchase_spans` on the default engine."""
    return get_engine().purchase_spans(transactions, as_of=as_of)


def purchase_day_gaps(transactions, *, as_of):
    """:meth:`Engine.purchase_day_gaps` on the default engine."""
    return get_engine().purchase_day_gaps(transactions, as_of=as_of)


def customer_histories(transactions, *, date, lapsed_days: int, window_days=None):
    """:meth:`Engine.customer_histories` on the default engine."""
    return get_engine().customer_histories(transactions, date=date, lapsed_days=lapsed_days,
                                           window_days=window_days)
