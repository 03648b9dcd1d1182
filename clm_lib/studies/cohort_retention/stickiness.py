"""Stickiness: how often the customers active in a calendar month came back within it,
and the active-customer ratios DAU/MAU and WAU/MAU over time.

Definitions (transactions; data up to and including ``as_of``; only calendar months
complete by ``as_of``, from the month of the first purchase on, are reported):

* **monthly actives** (MAU) of a month: customers with a purchase day in it;
* **active days** of a customer in a month: her distinct purchase days in it
  (1 to 31); the *day distribution* counts the month's actives by active days;
* **active weeks** of a customer in a month: the distinct ISO weeks (Monday to Sunday)
  holding one of her purchase days in the month (1 to 6; a week straddling two months
  counts in both); the *week distribution* counts them likewise;
* **DAU/MAU** of a month: the mean, over *every calendar day of the month* (28 to 31,
  days without purchases count 0), of the customers with a purchase that day, divided by
  the month's MAU. It equals the mean active days per active customer / days in month;
* **WAU/MAU** of a month: the mean, over *the ISO weeks whose Sunday falls in the month*
  (4 or 5; each week belongs to one month and is complete when the month is), of the
  customers with a purchase day in that week (Monday to Sunday, so up to six days of it
  may lie in the previous month), divided by the month's MAU. A week's actives need not
  be the month's, so WAU/MAU can exceed 1 in principle; in the first month of data the
  days before the first purchase count as observed and empty.

Ratios are NaN in a month without actives. Subscription data are refused
(:class:`ParameterError`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clm_lib.reduce.growth import stickiness_counts, weekly_actives
from clm_lib.reduce.periods import WEEK_EPOCH, period_codes, period_labels, period_start
from clm_lib.studies.cohort_retention.growth import _ratio, _transactions

__all__ = ["Stickiness", "stickiness"]

RULES = {
    "active_days": "distinct purchase days of the customer in the month",
    "active_weeks": "distinct ISO weeks (Monday-Sunday) with a purchase day of the "
                    "customer in the month",
    "dau_mau": "mean over every calendar day of the month of the customers with a "
               "purchase that day, / customers active in the month",
    "wau_mau": "mean over the ISO weeks whose Sunday falls in the month of the customers "
               "with a purchase in the week (Monday-Sunday), / customers active in the month",
}


@dataclass(frozen=True)
class Stickiness:
    """Result of :func:`stickiness`.

    Attributes
    ----------
    days : DataFrame
        Rows months (ISO labels ``"1998-06"``), columns ``n`` = 1, 2, ... active days;
        values customers (int, 0 where none).
    weeks : DataFrame
        The same by active ISO weeks (``n`` = 1 to 6).
    ratios : DataFrame
        Rows months: ``mau`` (customers), ``days_in_month``, ``mean_dau`` (customers per
        day), ``weeks_in_month`` (ISO weeks ending in the month), ``mean_wau`` (customers
        per week), ``dau_mau`` and ``wau_mau`` (shares; NaN without actives).
    as_of : str
        ISO date, the last observed day.
    rules : dict
        The definitions, in words.
    """

    days: pd.DataFrame
    weeks: pd.DataFrame
    ratios: pd.DataFrame
    as_of: str
    rules: dict = field(default_factory=lambda: dict(RULES))


def _wide(long: pd.DataFrame, kind: str, months: np.ndarray, labels, top: int) -> pd.DataFrame:
    part = long[long["kind"] == kind]
    wide = part.pivot_table(index="month", columns="n", values="customers", aggfunc="sum")
    n_max = max(int(part["n"].max()) if len(part) else 0, top)
    wide = wide.reindex(index=months, columns=range(1, n_max + 1)).fillna(0).astype("int64")
    wide.index = pd.Index(labels, name="month")
    wide.columns = pd.Index(list(wide.columns), name=f"active {kind}")
    return wide


def stickiness(data, *, as_of, engine="duckdb") -> Stickiness:
    """Active days and weeks per customer within each complete calendar month, and the
    DAU/MAU and WAU/MAU ratios per month (see the module notes for the exact days and
    weeks averaged).

    Parameters
    ----------
    data : DataFrame, path or engine table
        Transactions: ``customer_id``, ``timestamp`` (``amount`` is not used).
    as_of : date-like or None
        Last observed day (inclusive); None: the last day in the data.
    engine : {"duckdb", "spark", "pandas"} or Engine
        Where the log is reduced; one row per (month, n) and per week comes back.

    Returns
    -------
    Stickiness

    Raises
    ------
    ParameterError
        ``engine`` unknown, or subscription data.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...                    "timestamp": pd.to_datetime(["2020-03-02", "2020-03-09",
    ...                                                 "2020-03-09"])})
    >>> s = stickiness(tx, as_of="2020-03-31")
    >>> s.days.loc["2020-03", [1, 2]].tolist(), round(float(s.ratios.loc["2020-03", "dau_mau"]), 4)
    ([1, 1], 0.0484)
    """
    inp = _transactions(data, "month", as_of, engine)
    last_month = inp.last
    # the last ISO week whose Sunday is in a complete month
    month_end = period_start([last_month + 1], "month")[0] - pd.Timedelta(days=1)
    last_week = int(period_codes([month_end], "week")[0])
    if month_end.dayofweek != 6:
        last_week -= 1
    long = inp.eng.to_pandas(stickiness_counts(inp.table, as_of=inp.as_of,
                                               last_month=last_month))
    weekly = inp.eng.to_pandas(weekly_actives(inp.table, as_of=inp.as_of,
                                              last_week=last_week))
    first = int(long["month"].min()) if len(long) else last_month + 1
    months = np.arange(first, last_month + 1, dtype=np.int64)
    labels = period_labels(months, "month")
    days = _wide(long, "days", months, labels, 1)
    weeks = _wide(long, "weeks", months, labels, 1)
    mau = days.sum(axis=1).to_numpy(dtype=np.int64)
    customer_days = (days * np.asarray(days.columns, dtype=np.int64)).sum(axis=1)
    starts = period_start(months, "month")
    n_days = np.asarray(starts.days_in_month, dtype=np.int64)
    # each ISO week to the month of its Sunday
    sundays = pd.DatetimeIndex(WEEK_EPOCH + (7 * weekly["week"].to_numpy(np.int64) + 6)
                               .astype("timedelta64[D]"))
    week_sum = pd.Series(weekly["customers"].to_numpy(np.int64),
                         index=period_codes(sundays, "month")).groupby(level=0).sum()
    n_weeks = np.array([_sundays_in(s) for s in starts], dtype=np.int64)
    wau_sum = week_sum.reindex(months, fill_value=0).to_numpy(dtype=float)
    mean_dau = customer_days.to_numpy(dtype=float) / n_days
    mean_wau = wau_sum / n_weeks
    ratios = pd.DataFrame({"mau": mau, "days_in_month": n_days, "mean_dau": mean_dau,
                           "weeks_in_month": n_weeks, "mean_wau": mean_wau,
                           "dau_mau": _ratio(mean_dau, mau), "wau_mau": _ratio(mean_wau, mau)},
                          index=pd.Index(labels, name="month"))
    return Stickiness(days, weeks, ratios, inp.as_of.isoformat())


def _sundays_in(start: pd.Timestamp) -> int:
    """Sundays in the month starting on ``start``: the ISO weeks ending in it."""
    first_sunday = start + pd.Timedelta(days=(6 - start.dayofweek) % 7)
    return int((start.days_in_month - 1 - (first_sunday - start).days) // 7 + 1)
