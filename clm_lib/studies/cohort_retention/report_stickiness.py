"""Wording, display tables and figures of stickiness
(:func:`~.stickiness.stickiness`): how many days and ISO weeks a month's active customers
bought on, and DAU/MAU, WAU/MAU over time. Tables are :class:`~.report.DisplayTable`;
sentences are plain, data-derived strings (shown through the escaping helpers).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clm_lib import format as fmt
from clm_lib.plotting.growth import plot_active_ratios, plot_stickiness
from clm_lib.studies.cohort_retention.report import DisplayTable
from clm_lib.studies.cohort_retention.stickiness import Stickiness

__all__ = ["distribution", "ratios_figure", "ratios_line", "ratios_table", "stickiness_figure",
           "stickiness_line", "stickiness_notes", "stickiness_table"]

#: Active days or weeks from which on counts are pooled ("5+").
TOP = 5


def _counts(s: Stickiness, kind: str) -> pd.DataFrame:
    if kind not in ("days", "weeks"):
        raise ValueError(f"kind must be 'days' or 'weeks', got {kind!r}")
    return s.days if kind == "days" else s.weeks


def distribution(s: Stickiness, kind: str = "days", top: int = TOP) -> pd.DataFrame:
    """Customers by active days (or weeks) per month, ``top`` and more pooled into one
    column ``"{top}+"``: columns ``1 .. top-1``, ``"{top}+"`` (customers)."""
    c = _counts(s, kind)
    keep = [n for n in c.columns if n < top]
    out = c[keep].copy()
    out[f"{top}+"] = c[[n for n in c.columns if n >= top]].sum(axis=1)
    out.columns = [str(n) for n in out.columns]
    return out


def stickiness_table(s: Stickiness, kind: str = "days", top: int = TOP) -> DisplayTable:
    """Per month: customers active, and the share of them with 1, 2, ... active days (or
    ISO weeks)."""
    d = distribution(s, kind, top)
    mau = d.sum(axis=1)
    shares = d.div(mau.where(mau > 0), axis=0)
    frame = pd.concat([mau.rename("customers"), shares], axis=1)
    word = "days" if kind == "days" else "ISO weeks"
    unit = "day" if kind == "days" else "week"
    rename = {"month": "month", "customers": "customers active in the month"}
    rename |= {c: f"{c} {unit}" if c == "1" else f"{c} {unit}s" for c in d.columns}
    how = ("; a week counts when a purchase day of it falls in the month"
           if kind == "weeks" else "")
    return DisplayTable(frame, f"Active {word} per customer within each month (% of the "
                               f"month's active customers{how})",
                        {"customers": "count"} | {c: "percent" for c in d.columns}, rename)


def stickiness_line(s: Stickiness, month: str | None = None) -> str:
    """One sentence on a month's distribution (default: the last), e.g. "In 1998-06,
    1,506 customers bought: 80.5 % on one day only, 14.3 % on two days, 5.2 % on three
    or more; 83.7 % in one ISO week only." """
    label = s.days.index[-1] if month is None else month
    days = s.days.loc[label]
    mau = int(days.sum())
    if mau == 0:
        return f"In {label}, no customer bought."
    one, two = days.get(1, 0) / mau, days.get(2, 0) / mau
    more = days[[n for n in days.index if n >= 3]].sum() / mau
    week1 = s.weeks.loc[label].get(1, 0) / mau
    return (f"In {label}, {fmt.count(mau)} customers bought: {fmt.percent(one)} on one day "
            f"only, {fmt.percent(two)} on two days, {fmt.percent(more)} on three or more; "
            f"{fmt.percent(week1)} in one ISO week only.")


def stickiness_figure(s: Stickiness, kind: str = "days", month: str | None = None, *,
                      top: int = TOP, ax: Axes | None = None) -> Axes:
    """Bars of a month's shares by active days (or weeks); default the last month."""
    d = distribution(s, kind, top)
    label = d.index[-1] if month is None else month
    row = d.loc[label]
    total = row.sum()
    shares = row / total if total else row.astype(float) * np.nan
    return plot_stickiness(shares, ax=ax, kind=kind, month=label)


def ratios_table(s: Stickiness) -> DisplayTable:
    """Per month: active customers, mean daily and weekly actives, DAU/MAU, WAU/MAU."""
    r = s.ratios
    cols = ["mau", "mean_dau", "dau_mau", "weeks_in_month", "mean_wau", "wau_mau"]
    return DisplayTable(
        r[cols], "Active-customer ratios per month (DAU: mean over every day of the month; "
                 "WAU: mean over the ISO weeks ending on a Sunday in the month; both divided "
                 "by the customers active in the month)",
        {"mau": "count", "mean_dau": ("number", 1), "dau_mau": "percent",
         "weeks_in_month": "count", "mean_wau": ("number", 1), "wau_mau": "percent"},
        {"month": "month", "mau": "customers active in the month (MAU)",
         "mean_dau": "mean customers per day (DAU)", "dau_mau": "DAU/MAU",
         "weeks_in_month": "weeks averaged", "mean_wau": "mean customers per week (WAU)",
         "wau_mau": "WAU/MAU"})


def ratios_line(s: Stickiness, month: str | None = None) -> str:
    """One sentence on a month's DAU/MAU and WAU/MAU (default: the last)."""
    label = s.ratios.index[-1] if month is None else month
    r = s.ratios.loc[label]
    if not r["mau"]:
        return f"In {label}, no customer bought, so DAU/MAU and WAU/MAU are undefined."
    return (f"In {label}, on an average day {fmt.number(r['mean_dau'], 1)} customers bought, "
            f"{fmt.percent(r['dau_mau'])} of the month's {fmt.count(r['mau'])} (DAU/MAU); in "
            f"an average week {fmt.number(r['mean_wau'], 1)}, {fmt.percent(r['wau_mau'])} "
            "(WAU/MAU).")


def ratios_figure(s: Stickiness, *, ax: Axes | None = None) -> Axes:
    """DAU/MAU and WAU/MAU per month."""
    return plot_active_ratios(s.ratios, ax=ax)


def stickiness_notes(s: Stickiness) -> list[str]:
    """The definitions, for the method notes."""
    return ["Active days: a customer's distinct purchase days in the month; active weeks: "
            "the ISO weeks (Monday to Sunday) with one of those days, so a week across two "
            "months counts in both.",
            "DAU/MAU: customers buying on an average day of the month (every calendar day, "
            "days without purchases included) over the customers active in the month. "
            "WAU/MAU: customers buying in an average ISO week ending in the month (Monday to "
            "Sunday, complete when the month is) over the same.",
            f"Only calendar months complete by {s.as_of} are shown."]
