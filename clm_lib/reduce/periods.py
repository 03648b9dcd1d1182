"""Calendar periods as integer codes: one code, one decoder, for pandas values and Ibis
expressions alike.

Month: ``12*year + month - 1``; quarter: ``4*year + quarter - 1``; year: ``year``; week:
ISO weeks (Monday-based) counted from 1970-01-05. Consecutive periods differ by 1, so
"k periods after acquisition" is a subtraction. Labels are ISO strings: ``"1997-01"``,
``"1997-W02"``, ``"1997-Q1"``, ``"1997"``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib.exceptions import DataContractError, ParameterError

__all__ = ["COHORT_PERIODS", "WEEK_EPOCH", "check_period", "last_complete_period",
           "period_code", "period_codes", "period_labels", "period_start"]

#: Calendar periods for acquisition cohorts and activity tables.
COHORT_PERIODS = ("week", "month", "quarter", "year")
#: A Monday: ISO weeks start on Mondays; week code 0 starts here.
WEEK_EPOCH = np.datetime64("1970-01-05", "D")


def check_period(cohort_period: str) -> str:
    if cohort_period not in COHORT_PERIODS:
        raise ParameterError(f"cohort_period must be one of {COHORT_PERIODS}, got {cohort_period!r}")
    return cohort_period


def period_codes(timestamps, cohort_period: str = "month") -> np.ndarray:
    """Integer code of the calendar period containing each timestamp.

    Month: ``12*year + month - 1``; quarter: ``4*year + quarter - 1``; year: ``year``;
    week: ISO weeks (Monday-based) counted from 1970-01-05.

    Raises
    ------
    DataContractError
        If a timestamp is missing (the loaders drop and count those first).
    """
    check_period(cohort_period)
    ts = pd.DatetimeIndex(pd.to_datetime(timestamps))
    if ts.hasnans:
        raise DataContractError("timestamp", "missing dates", int(ts.isna().sum()),
                                np.flatnonzero(ts.isna()))
    if cohort_period == "month":
        return (ts.year.to_numpy() * 12 + ts.month.to_numpy() - 1).astype(np.int64)
    if cohort_period == "quarter":
        return (ts.year.to_numpy() * 4 + (ts.month.to_numpy() - 1) // 3).astype(np.int64)
    if cohort_period == "year":
        return ts.year.to_numpy().astype(np.int64)
    days = ts.to_numpy().astype("datetime64[D]") - WEEK_EPOCH
    return np.floor_divide(days.astype(np.int64), 7)


def period_start(codes, cohort_period: str = "month") -> pd.DatetimeIndex:
    """First day (00:00) of the periods with the given codes."""
    check_period(cohort_period)
    c = np.asarray(codes, dtype=np.int64)
    if cohort_period == "month":
        y, m = np.divmod(c, 12)
    elif cohort_period == "quarter":
        y, q = np.divmod(c, 4)
        m = 3 * q
    elif cohort_period == "year":
        y, m = c, np.zeros_like(c)
    else:
        return pd.DatetimeIndex(WEEK_EPOCH + (7 * c).astype("timedelta64[D]"))
    months = ((y - 1970) * 12 + m).astype("datetime64[M]")
    return pd.DatetimeIndex(months.astype("datetime64[ns]"))


def period_labels(codes, cohort_period: str = "month") -> list[str]:
    """ISO labels: ``"1997-01"``, ``"1997-W02"``, ``"1997-Q1"``, ``"1997"``."""
    check_period(cohort_period)
    c = np.asarray(codes, dtype=np.int64)
    if cohort_period == "month":
        y, m = np.divmod(c, 12)
        return [f"{a:04d}-{b + 1:02d}" for a, b in zip(y, m)]
    if cohort_period == "quarter":
        y, q = np.divmod(c, 4)
        return [f"{a:04d}-Q{b + 1}" for a, b in zip(y, q)]
    if cohort_period == "year":
        return [f"{a:04d}" for a in c]
    iso = period_start(c, "week").isocalendar()
    return [f"{a:04d}-W{b:02d}" for a, b in zip(iso["year"], iso["week"])]


def last_complete_period(as_of, cohort_period: str = "month") -> int:
    """Code of the last period complete by ``as_of`` (an inclusive date: the day
    ``as_of`` counts as observed)."""
    day_after = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    code = int(period_codes([day_after], cohort_period)[0])
    # the period containing the day after as_of is complete only if it starts that day
    return code - 1


def period_code(day, cohort_period: str):
    """The Ibis expression of :func:`period_codes`: the integer code of the calendar period
    containing the date expression ``day``."""
    if cohort_period == "month":
        return day.year().cast("int64") * 12 + day.month().cast("int64") - 1
    if cohort_period == "quarter":
        return day.year().cast("int64") * 4 + day.quarter().cast("int64") - 1
    if cohort_period == "year":
        return day.year().cast("int64")
    if cohort_period == "week":
        # ISO weeks start on Monday; 1970-01-05 (epoch day 4) was a Monday.
        return ((day.epoch_days().cast("int64") - 4).cast("float64") / 7.0).floor().cast("int64")
    check_period(cohort_period)
    raise AssertionError(cohort_period)
