"""Reductions of canonical transactions to per-customer summaries for customer-base models.

The recency-frequency-monetary ("RFM") summary of the buy-till-you-die literature
(Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way"):

* ``frequency`` (x): number of *repeat* purchase days in the calibration period;
* ``recency`` (t_x): time from the first purchase to the last purchase;
* ``T``: time from the first purchase to the end of the calibration period;
* ``monetary_value``: mean daily spend over the repeat purchase days (0 when there is
  no repeat spend observation), ``spend_frequency`` the number of days it averages.

Times are in ``time_unit``: ``"day"`` (1 day), ``"week"`` (7 days) or ``"month"``
(365.25 / 12 = 30.4375 days). Following the literature, all purchases of one customer
on one calendar day count as a single purchase (their amounts are summed), and times are
measured in whole days then divided by the unit, e.g. a first purchase on 1997-01-01 and
a calibration end of 1997-09-30 give ``T = 272 / 7 = 38.86`` weeks, as in Hardie's CDNOW
summary file.

Zero-amount rule: a day whose summed spend is zero (e.g. free items) *is* a purchase
(it counts in ``frequency`` and ``recency``) but is *not* a spend observation: it is left
out of ``monetary_value`` and of ``spend_frequency``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib.exceptions import InsufficientDataError, ParameterError
from clm_lib.checks import TIME_UNITS as ALL_TIME_UNITS
from clm_lib.checks import require_columns as _check_columns
from clm_lib.checks import unit_days as _unit_days

__all__ = ["TIME_UNITS", "unit_days", "summary_data", "compress", "daily_transactions",
           "purchase_spans", "purchase_day_gaps", "customer_histories",
           "is_customer_histories"]

#: Time units of the purchase summaries (a month is 365.25 / 12 = 30.4375 days).
TIME_UNITS: dict[str, float] = {u: ALL_TIME_UNITS[u] for u in ("day", "week", "month")}


def unit_days(time_unit: str) -> float:
    """Length of ``time_unit`` in days (``day`` 1, ``week`` 7, ``month`` 30.4375)."""
    return _unit_days(time_unit, allowed=TIME_UNITS)


def daily_transactions(transactions: pd.DataFrame) -> pd.DataFrame:
    """Collapse transactions to one row per customer and calendar day.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions with ``customer_id``, ``timestamp`` (datetime64) and
        ``amount`` (float, currency units).

    Returns
    -------
    DataFrame
        ``customer_id``, ``day`` (datetime64, midnight), ``amount`` (summed spend of the
        day), sorted by customer and day.
    """
    _check_columns(transactions, ["customer_id", "timestamp", "amount"], "transactions")
    day = pd.to_datetime(transactions["timestamp"]).dt.normalize()
    out = (
        pd.DataFrame({"customer_id": transactions["customer_id"].to_numpy(),
                      "day": day.to_numpy(),
                      "amount": transactions["amount"].to_numpy(dtype=float)})
        .groupby(["customer_id", "day"], sort=True, observed=True)["amount"].sum()
        .reset_index()
    )
    return out


def summary_data(
    transactions: pd.DataFrame,
    *,
    as_of: str | pd.Timestamp,
    calibration_end: str | pd.Timestamp | None = None,
    time_unit: str = "week",
) -> pd.DataFrame:
    """Per-customer frequency / recency / T / monetary value, with an optional holdout.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions: ``customer_id``, ``timestamp`` (datetime64), ``amount``.
    as_of : str or Timestamp
        End of the observation (inclusive, a calendar day). Transactions after it are
        dropped and counted in ``result.attrs["dropped"]``.
    calibration_end : str or Timestamp, optional
        Last day (inclusive) of the calibration period. ``None`` means the calibration
        runs to ``as_of`` and there is no holdout. Customers whose first purchase is
        after ``calibration_end`` are not in the calibration cohort; they are excluded
        and counted in ``attrs["dropped"]``.
    time_unit : {"day", "week", "month"}
        Unit of ``recency``, ``T`` and ``duration_holdout`` (week = 7 days,
        month = 30.4375 days).

    Returns
    -------
    DataFrame indexed by ``customer_id`` with

    - ``frequency``: repeat purchase days in calibration;
    - ``recency``: first to last calibration purchase, in ``time_unit``;
    - ``T``: first purchase to ``calibration_end`` (or ``as_of``), in ``time_unit``;
    - ``monetary_value``: mean spend per repeat purchase day with non-zero spend
      (0 if none), currency units; ``spend_frequency``: the number of such days;
    - ``first_purchase``: date of the first purchase;
    - with a holdout: ``frequency_holdout`` (purchase days in
      (calibration_end, as_of]), ``monetary_value_holdout`` (mean spend per holdout
      purchase day with non-zero spend, 0 if none) and ``duration_holdout`` (length of the
      holdout, in ``time_unit``).

    ``attrs`` holds ``time_unit``, ``calibration_end``, ``as_of`` and ``dropped``
    ({reason: count}).

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a"],
    ...                    "timestamp": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-08"]),
    ...                    "amount": [1.0, 2.0, 5.0]})
    >>> summary_data(tx, as_of="2020-01-15", time_unit="week")[["frequency", "recency", "T"]]
                 frequency  recency    T
    customer_id
    a                    1      1.0  2.0
    """
    _check_columns(transactions, ["customer_id", "timestamp", "amount"], "transactions")
    unit = unit_days(time_unit)
    as_of = pd.Timestamp(as_of).normalize()
    cal_end = as_of if calibration_end is None else pd.Timestamp(calibration_end).normalize()
    if cal_end > as_of:
        raise ParameterError(f"calibration_end {cal_end.date()} is after as_of {as_of.date()}")
    if len(transactions) == 0:
        raise InsufficientDataError("summary_data: no transactions")
    amount = transactions["amount"].to_numpy(dtype=float)
    if not np.all(np.isfinite(amount)):
        raise ParameterError("summary_data: amount has non-finite values; load with clm_lib.io.pandas_contract")

    daily = daily_transactions(transactions)
    dropped: dict[str, int] = {}
    after = daily["day"] > as_of
    if after.any():
        dropped["purchase days after as_of"] = int(after.sum())
        daily = daily.loc[~after]

    cust = daily["customer_id"].to_numpy()
    # Codes of customers in sorted order (daily is sorted by customer, day).
    codes, uniques = pd.factorize(cust, sort=False)
    n = len(uniques)
    day_num = (daily["day"].to_numpy().astype("datetime64[D]").astype(np.int64))
    amt = daily["amount"].to_numpy(dtype=float)
    cal_num = np.datetime64(cal_end.date(), "D").astype(np.int64)
    as_of_num = np.datetime64(as_of.date(), "D").astype(np.int64)

    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, codes, day_num)
    in_cal = day_num <= cal_num
    last = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last, codes[in_cal], day_num[in_cal])
    n_cal = np.bincount(codes[in_cal], minlength=n)
    is_first = day_num == first[codes]
    repeat = in_cal & ~is_first
    spend_obs = repeat & (amt != 0)
    spend_n = np.bincount(codes[spend_obs], minlength=n)
    spend_sum = np.bincount(codes[spend_obs], weights=amt[spend_obs], minlength=n)

    cohort = first <= cal_num
    n_out = int((~cohort).sum())
    if n_out:
        dropped["customers whose first purchase is after calibration_end"] = n_out

    with np.errstate(invalid="ignore", divide="ignore"):
        mv = np.where(spend_n > 0, spend_sum / np.maximum(spend_n, 1), 0.0)
    out = pd.DataFrame(
        {
            "frequency": (n_cal - 1).clip(min=0),
            "recency": (last - first) / unit,
            "T": (cal_num - first) / unit,
            "monetary_value": mv,
            "spend_frequency": spend_n,
            "first_purchase": first.astype("datetime64[D]").astype("datetime64[ns]"),
        },
        index=pd.Index(uniques, name="customer_id"),
    )
    if calibration_end is not None:
        hold = ~in_cal
        h_n = np.bincount(codes[hold], minlength=n)
        h_spend = hold & (amt != 0)
        h_sn = np.bincount(codes[h_spend], minlength=n)
        h_sum = np.bincount(codes[h_spend], weights=amt[h_spend], minlength=n)
        out["frequency_holdout"] = h_n
        out["monetary_value_holdout"] = np.where(h_sn > 0, h_sum / np.maximum(h_sn, 1), 0.0)
        out["duration_holdout"] = (as_of_num - cal_num) / unit
    out = out.loc[cohort]
    out.attrs.update({"time_unit": time_unit, "calibration_end": str(cal_end.date()),
                      "as_of": str(as_of.date()), "dropped": dropped})
    return out


def compress(summary: pd.DataFrame, columns=("frequency", "recency", "T")) -> pd.DataFrame:
    """Group identical rows of ``columns`` into one row with a ``weights`` count.

    The log-likelihood of the customer-base models is a sum over customers, so fitting the
    compressed table with ``weights="weights"`` gives exactly the same estimates, faster.

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`summary_data` (or any frame with ``columns``).
    columns : sequence of str
        Columns that define identical customers for the model to be fitted.

    Returns
    -------
    DataFrame with ``columns`` and ``weights`` (int), one row per distinct combination.
    """
    columns = list(columns)
    _check_columns(summary, columns, "summary")
    out = (summary[columns].groupby(columns, sort=True, observed=True).size()
           .rename("weights").reset_index())
    return out


def repeat_purchases_by_day(transactions: pd.DataFrame, *, calibration_end, as_of) -> pd.Series:
    """Repeat purchase days per calendar day, for the customers acquired by ``calibration_end``.

    The input of the tracking plot (:func:`clm_lib.studies.clv.compute.tracking_data`): purchases of
    one customer on one day count once; a customer's first purchase day is not a repeat
    purchase; days after ``as_of`` (inclusive) are left out.

    Returns
    -------
    Series indexed by ``day`` (datetime64, midnight, sorted): number of customers with a
    repeat purchase that day (int64). Days without one are absent.
    """
    daily = daily_transactions(transactions)
    end = pd.Timestamp(as_of).normalize()
    daily = daily.loc[daily["day"] <= end]
    first = daily.groupby("customer_id", observed=True)["day"].transform("min")
    keep = (first <= pd.Timestamp(calibration_end).normalize()) & (daily["day"] > first)
    out = daily.loc[keep].groupby("day").size().astype(np.int64)
    return out.rename("repeat_purchases")


def first_values(transactions: pd.DataFrame, column: str) -> pd.Series:
    """Each customer's ``column`` on the earliest purchase row with a value, indexed by
    ``customer_id``. When several rows share that time, the smallest value is taken, so the
    result never depends on row order (and is the same on every engine)."""
    _check_columns(transactions, ["customer_id", "timestamp", column], "transactions")
    tx = transactions.loc[transactions[column].notna(), ["customer_id", "timestamp", column]]
    tx = tx.sort_values(["customer_id", "timestamp", column], kind="stable")
    return tx.groupby("customer_id", observed=True)[column].first()


def purchase_spans(transactions: pd.DataFrame, *, as_of) -> pd.DataFrame:
    """Each customer's first and last purchase, purchase count and spend up to ``as_of``.

    The per-customer input of churn by inactivity
    (:func:`clm_lib.studies.survival_churn.compute.inactivity_durations`). Every row is a purchase (rows of
    one day are not collapsed) and times keep their time of day.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions: ``customer_id``, ``timestamp`` (datetime64), ``amount``
        (float); ``quantity`` is used if present.
    as_of : str or Timestamp
        Rows after this instant are left out (a date alone means its midnight).

    Returns
    -------
    DataFrame
        ``customer_id`` (string), ``first_purchase``, ``last_purchase`` (datetime64[ns]),
        ``n_purchases`` (int64), ``total_amount``, ``first_amount`` (spend on the calendar
        day of the first purchase) and, with ``quantity``, ``first_quantity`` (float;
        missing quantities add nothing); sorted by customer, index 0..n-1.
        ``attrs["purchases_after_as_of"]``: the number of rows left out.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a"], "amount": [1.0, 2.0, 4.0],
    ...                    "timestamp": pd.to_datetime(["2020-01-01 09:00", "2020-01-01 18:00",
    ...                                                 "2020-01-05 10:00"])})
    >>> s = purchase_spans(tx, as_of="2020-01-31")
    >>> int(s["n_purchases"].iloc[0]), float(s["first_amount"].iloc[0])
    (3, 3.0)
    """
    _check_columns(transactions, ["customer_id", "timestamp", "amount"], "transactions")
    as_of = pd.Timestamp(as_of)
    ts = pd.to_datetime(transactions["timestamp"])
    keep = ts <= as_of
    extra = ["quantity"] if "quantity" in transactions else []
    t = transactions.loc[keep, ["customer_id", "amount"] + extra].copy()
    t["timestamp"] = ts[keep]
    g = t.groupby("customer_id", sort=True, observed=True)
    out = pd.DataFrame({
        "first_purchase": g["timestamp"].min(),
        "last_purchase": g["timestamp"].max(),
        "n_purchases": g.size(),
        "total_amount": g["amount"].sum(),
    })
    first_day = (t["timestamp"].dt.normalize() == t["customer_id"].map(
        out["first_purchase"].dt.normalize())).to_numpy()
    out["first_amount"] = t[first_day].groupby("customer_id")["amount"].sum()
    if extra:
        out["first_quantity"] = (t[first_day].groupby("customer_id")["quantity"]
                                 .sum().astype(float))
    out = out.reset_index()
    out["customer_id"] = out["customer_id"].astype("string")
    out["n_purchases"] = out["n_purchases"].astype(np.int64)
    out.attrs["purchases_after_as_of"] = int((~keep).sum())
    return out


def _daily_with_gaps(transactions: pd.DataFrame, date) -> tuple[pd.DataFrame, np.ndarray]:
    """The daily table up to ``date`` (inclusive; all of it for None) and each row's gap
    in days to the customer's previous purchase day (-1 on the first)."""
    daily = daily_transactions(transactions)
    if date is not None:
        daily = daily.loc[daily["day"] <= pd.Timestamp(date).normalize()]
    daily = daily.reset_index(drop=True)
    cid = daily["customer_id"].to_numpy()
    day = daily["day"].to_numpy().astype("datetime64[D]").astype(np.int64)
    first = np.r_[True, cid[1:] != cid[:-1]] if len(cid) else np.zeros(0, bool)
    gap = np.where(first, -1, np.r_[0, np.diff(day)]) if len(cid) else np.zeros(0, np.int64)
    return daily, gap


def purchase_day_gaps(transactions: pd.DataFrame, *, as_of) -> pd.Series:
    """How many gaps of each length separate consecutive purchase days of a customer.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``).
    as_of : date-like or None
        Only purchase days up to this day (inclusive) are used; None: all.

    Returns
    -------
    Series of int named ``gaps``, indexed by the gap length ``days`` (sorted); several
    purchases on one day are one purchase day, so no gap is 0.

    >>> tx = pd.DataFrame({"customer_id": ["a"] * 3, "amount": [1.0] * 3,
    ...                    "timestamp": pd.to_datetime(["2020-01-01", "2020-01-11", "2020-01-31"])})
    >>> purchase_day_gaps(tx, as_of="2020-02-01").to_dict()
    {10: 1, 20: 1}
    """
    _check_columns(transactions, ["customer_id", "timestamp", "amount"], "transactions")
    _, gap = _daily_with_gaps(transactions, as_of)
    gap = gap[gap >= 0]
    counts = pd.Series(gap, dtype=np.int64).value_counts().sort_index()
    return counts.rename("gaps").rename_axis("days")


def is_customer_histories(data) -> bool:
    """True for a frame of :func:`customer_histories` (from any engine), False for
    transactions: the lifecycle and RFM functions take either."""
    return isinstance(data, pd.DataFrame) and "purchase_days" in data.columns


def customer_histories(transactions: pd.DataFrame, *, date, lapsed_days: int,
                       window_days: int | None = None) -> pd.DataFrame:
    """Each customer's purchase-day history up to ``date``: the reduced input of the
    lifecycle stages, RFM scores, time to a second purchase and reactivation.

    A *reactivation* is a purchase day after a gap of more than ``lapsed_days`` days.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``).
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
    _check_columns(transactions, ["customer_id", "timestamp", "amount"], "transactions")
    w = int(window_days if window_days is not None else lapsed_days)
    daily, gap = _daily_with_gaps(transactions, date)
    if daily.empty:
        raise InsufficientDataError(f"no purchases on or before {pd.Timestamp(date).date()}")
    day = daily["day"]
    react = gap > int(lapsed_days)
    g = daily.assign(_second=day.where(gap >= 0), _react=day.where(react),
                     _first_spend=daily["amount"].where(gap < 0))
    per = g.groupby("customer_id", sort=True, observed=True).agg(
        purchase_days=("day", "size"), spend=("amount", "sum"), first_purchase=("day", "min"),
        second_purchase=("_second", "min"), last_purchase=("day", "max"),
        first_reactivation=("_react", "min"), last_reactivation=("_react", "max"),
        first_day_spend=("_first_spend", "sum"))
    codes = np.cumsum(gap < 0) - 1  # position of each row's customer in ``per``
    first_react = per["first_reactivation"].to_numpy()[codes]
    on_react = (day.to_numpy() == first_react)
    per["reactivation_day_spend"] = (daily["amount"].where(on_react)
                                     .groupby(daily["customer_id"], sort=True, observed=True)
                                     .sum(min_count=1).to_numpy())
    days_in = (day.to_numpy().astype("datetime64[D]").astype(np.int64))
    start_new = per["first_purchase"].to_numpy().astype("datetime64[D]").astype(np.int64)[codes]
    start_react = first_react.astype("datetime64[D]")
    since_new = days_in - start_new
    since_react = np.where(np.isnat(start_react), -1, days_in - start_react.astype(np.int64))
    in_new = (since_new > 0) & (since_new <= w)
    in_react = (since_react > 0) & (since_react <= w)
    amount = daily["amount"].to_numpy()
    by = daily["customer_id"]
    window = pd.DataFrame({
        "new_window_days": in_new.astype(np.int64),
        "new_window_spend": np.where(in_new, amount, 0.0),
        "react_window_days": in_react.astype(np.int64),
        "react_window_spend": np.where(in_react, amount, 0.0)})
    sums = window.groupby(by.to_numpy(), sort=True).sum()
    for c in window.columns:
        per[c] = sums[c].to_numpy()
    per.index = per.index.astype("string")
    per.attrs.update({"date": str(pd.Timestamp(date).normalize().date()),
                      "lapsed_days": int(lapsed_days), "window_days": w})
    return per
