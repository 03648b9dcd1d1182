"""Coming back: time from the first to the second purchase day (Kaplan-Meier) and the later
behaviour of reactivated customers against newly acquired ones."""
from __future__ import annotations

import pandas as pd

from clm_lib.checks import require_columns as _need
from clm_lib.checks import unit_days
from clm_lib.studies.lifecycle_segments.stages import (TIME_UNITS, Thresholds, histories,
                                                     is_customer_histories)

__all__ = ["time_to_second_purchase", "reactivation_comparison"]


def time_to_second_purchase(transactions, *, as_of, time_unit: str = "week", engine="duckdb"):
    """Kaplan-Meier of the time from first to second purchase day (no second purchase by
    ``as_of``: censored at ``as_of``).

    ``transactions`` are canonical transactions (reduced by ``engine``) or their
    per-customer histories at ``as_of`` (:meth:`clm_lib.reduce.Engine.customer_histories`).

    Returns
    -------
    (durations DataFrame indexed by customer with ``duration`` (time units) and ``event``,
    fitted :class:`lifelines.KaplanMeierFitter`)
    """
    from lifelines import KaplanMeierFitter

    d = pd.Timestamp(as_of).normalize()
    if is_customer_histories(transactions):
        _need(transactions, ["first_purchase", "second_purchase"], "customer histories")
        hist = transactions
    else:  # the reactivation threshold plays no part here
        hist = histories(transactions, date=d, lapsed_days=0, engine=engine)
    first, second = hist["first_purchase"], hist["second_purchase"]
    end = second.fillna(d)
    df = pd.DataFrame({"duration": (end - first).dt.days / unit_days(time_unit, TIME_UNITS),
                       "event": second.notna()})
    kmf = KaplanMeierFitter().fit(df["duration"], df["event"], label="time to 2nd purchase")
    return df, kmf


def reactivation_comparison(transactions, *, as_of, thresholds: Thresholds,
                            window_days: int | None = None, engine="duckdb") -> pd.DataFrame:
    """Later behaviour of reactivated customers vs newly acquired ones.

    For new customers the start is the first purchase day; for reactivated customers the
    first purchase day after a gap of more than ``lapsed_days``. Only starts at least
    ``window_days`` (default ``lapsed_days``) before ``as_of`` are compared, so every
    customer is followed for the full window.

    ``transactions`` are canonical transactions (reduced by ``engine``) or their
    per-customer histories at ``as_of`` reduced with ``lapsed_days`` and ``window_days``
    (:meth:`clm_lib.reduce.Engine.customer_histories`).

    Returns
    -------
    DataFrame indexed by group (``new``, ``reactivated``): ``customers``,
    ``repurchase_rate`` (share with another purchase day in the window),
    ``purchase_days_per_customer`` and ``spend_per_customer`` (in the window, after the
    start day), ``start_spend`` (mean spend on the start day), ``window_days``.
    """
    d = pd.Timestamp(as_of).normalize()
    w = int(window_days if window_days is not None else thresholds.lapsed_days)
    hist = histories(transactions, date=d, lapsed_days=thresholds.lapsed_days, window_days=w,
                     engine=engine)
    last_start = d - pd.Timedelta(days=w)
    rows = {}
    for name, start, prefix, spend in (
            ("new", "first_purchase", "new", "first_day_spend"),
            ("reactivated", "first_reactivation", "react", "reactivation_day_spend")):
        h = hist.loc[hist[start].notna() & (hist[start] <= last_start)]
        n = len(h)
        if n == 0:
            rows[name] = {"customers": 0}
            continue
        days = h[f"{prefix}_window_days"]
        rows[name] = {"customers": n, "repurchase_rate": float((days > 0).sum() / n),
                      "purchase_days_per_customer": float(days.sum() / n),
                      "spend_per_customer": float(h[f"{prefix}_window_spend"].sum() / n),
                      "start_spend": float(h[spend].mean())}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out["window_days"] = w
    out.index.name = "group"
    return out
