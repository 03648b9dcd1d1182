"""The overview report: summary sentences, display tables, captions, metrics and exports.

Every function takes the :class:`~clm_lib.studies.overview.compute.OverviewResult` of
:func:`~clm_lib.studies.overview.compute.overview_study`; all wording of the study lives
here, computed from the result (nothing is hard-coded, so it reads right on any data).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from clm_lib.exceptions import ParameterError
from clm_lib.studies.overview.compute import OverviewResult

__all__ = [
    "NO_SEGMENT_NOTE",
    "export_frames",
    "format_money",
    "format_share",
    "key_figures",
    "monthly_caption",
    "monthly_table",
    "overview_metrics",
    "segment_caption",
    "segment_table",
    "show_segments",
    "summary_lines",
]

#: Shown under "By segment" when the run has no segment column.
NO_SEGMENT_NOTE = ("*No segment was chosen for this run: set the `segment` parameter to a "
                   "categorical column of the data (for example a sales channel) to see "
                   "this split.*")


# --------------------------------------------------------------------------- formatting
def _unit(currency: str | None) -> str:
    """`` ($)`` after a label, or nothing when the currency is not known."""
    return f" ({currency})" if currency else ""


def format_money(x: float, currency: str = "$") -> str:
    """Compact money: ``$2.50 M``, ``$245.3 k``, ``$35.89``; ``n/a`` for NaN."""
    if x is None or not np.isfinite(x):
        return "n/a"
    sign = "-" if x < 0 else ""
    a = abs(float(x))
    if a >= 1e9:
        body = f"{a / 1e9:,.2f} B"
    elif a >= 1e6:
        body = f"{a / 1e6:,.2f} M"
    elif a >= 1e4:
        body = f"{a / 1e3:,.1f} k"
    else:
        body = f"{a:,.2f}"
    return f"{sign}{currency or ''}{body}"


def format_share(p: float, digits: int = 0) -> str:
    """A fraction as a percentage: ``0.5052 -> "51 %"``; ``n/a`` for NaN."""
    if p is None or not np.isfinite(p):
        return "n/a"
    return f"{100 * float(p):.{digits}f} %"


def _month_name(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%B %Y")


def _days(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f} day{'s' if round(x) != 1 else ''}"


def _runs(flags: Iterable[bool]) -> list[tuple[int, int]]:
    """Start/end positions of runs of True."""
    runs, start = [], None
    flags = list(flags)
    for i, f in enumerate(flags):
        if f and start is None:
            start = i
        if not f and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(flags) - 1))
    return runs


def _period_label(monthly: pd.DataFrame, i: int, is_month: bool) -> str:
    row = monthly.iloc[i]
    if is_month:
        return pd.Timestamp(row["period_start"]).strftime("%b %Y")
    return str(row["period"])


def _period_range(monthly: pd.DataFrame, a: int, b: int, is_month: bool) -> str:
    """``Jan–Mar 1997`` for months of one year, else ``Nov 1997–Feb 1998``."""
    if a == b:
        return _period_label(monthly, a, is_month)
    first, last = _period_label(monthly, a, is_month), _period_label(monthly, b, is_month)
    fa, la = first.split(" "), last.split(" ")
    if len(fa) == 2 and len(la) == 2 and fa[1] == la[1]:
        return f"{fa[0]}–{last}"
    return f"{first}–{last}"


# --------------------------------------------------------------------------- summary
def summary_lines(result: OverviewResult, *, currency: str = "$") -> list[str]:
    """Plain-language sentences on the customer base, acquisition and the revenue trend.

    Parameters
    ----------
    result : OverviewResult
    currency : str, default "$"
        Currency symbol put before amounts.

    Returns
    -------
    list of str
    """
    s = result.summary
    lines = [
        f"{s['customers']:,} customers placed {s['orders']:,} orders worth "
        f"{format_money(s['revenue'], currency)} between {_month_name(s['first_date'])} "
        f"and {_month_name(s['last_date'])}.",
        f"{format_share(s['one_time_buyer_share'])} of customers bought only once; "
        f"the top 10 % of customers brought {format_share(s['top10_revenue_share'])} "
        f"of revenue.",
    ]
    if np.isfinite(s.get("median_days_between_purchases", np.nan)):
        lines.append(
            f"The average order was worth {format_money(s['average_order_value'], currency)}; "
            f"the median time between a customer's consecutive purchase days was "
            f"{_days(s['median_days_between_purchases'])} (mean "
            f"{_days(s['mean_days_between_purchases'])}; every completed gap counts, so frequent "
            f"buyers weigh more, and the wait of customers who have not come back yet is not "
            f"included).")
    else:
        lines.append(
            f"The average order was worth {format_money(s['average_order_value'], currency)}; "
            f"no customer bought on two different days.")
    m = result.monthly.reset_index(drop=True)
    if len(m):
        lines += _activity_lines(m, result.period == "month", currency)
    return lines


def _activity_lines(m: pd.DataFrame, is_month: bool, currency: str) -> list[str]:
    """The sentences on acquisition and on revenue per period."""
    lines = []
    n_per = len(m)
    runs = _runs(m["new_customers"] > 0)
    unit = "month" if is_month else "period"
    if len(runs) == 1 and runs[0] == (0, n_per - 1):
        busiest = int(m["new_customers"].idxmax())
        lines.append(
            f"New customers arrived in every {unit}; the most "
            f"({int(m.loc[busiest, 'new_customers']):,}) in "
            f"{_period_label(m, busiest, is_month)}.")
    elif len(runs) == 1:
        a, b = runs[0]
        when = _period_range(m, a, b, is_month)
        lines.append(
            f"New customers were acquired only in {when}; all later orders came from "
            f"customers already acquired, so the trend below follows one group of "
            f"customers over time." if a == 0 else
            f"New customers were acquired only in {when}.")
    elif runs:
        lines.append(f"New customers were acquired in {sum(b - a + 1 for a, b in runs)} "
                     f"of {n_per} {unit}s.")
    peak = int(m["revenue"].idxmax())
    last = n_per - 1
    lines.append(
        f"Revenue peaked at {format_money(m.loc[peak, 'revenue'], currency)} in "
        f"{_period_label(m, peak, is_month)} and was "
        f"{format_money(m.loc[last, 'revenue'], currency)} in "
        f"{_period_label(m, last, is_month)}, the last {unit} observed.")
    return lines


# --------------------------------------------------------------------------- tables
def key_figures(result: OverviewResult, currency: str = "$") -> pd.DataFrame:
    """The summary as a two-column table of formatted values.

    Returns
    -------
    DataFrame
        Columns ``Measure`` and ``Value`` (strings, units included).
    """
    s = result.summary
    rows = [
        ("Customers", f"{s['customers']:,}"),
        ("Orders", f"{s['orders']:,}"),
        ("Revenue", format_money(s["revenue"], currency)),
        ("First order", pd.Timestamp(s["first_date"]).strftime("%Y-%m-%d")),
        ("Last order", pd.Timestamp(s["last_date"]).strftime("%Y-%m-%d")),
        ("Orders per customer (mean)", f"{s['orders_per_customer']:.2f}"),
        ("Average order value", format_money(s["average_order_value"], currency)),
        ("Orders with zero amount", f"{s['zero_amount_orders']:,}"),
        ("One-time buyers (share of customers)", format_share(s["one_time_buyer_share"], 1)),
        ("Repeat customers (share of customers)", format_share(s["repeat_customer_share"], 1)),
        ("Revenue share of top 10 % of customers", format_share(s["top10_revenue_share"], 1)),
        ("Time between purchases, median", _days(s["median_days_between_purchases"])),
        ("Time between purchases, mean", _days(s["mean_days_between_purchases"])),
    ]
    return pd.DataFrame(rows, columns=["Measure", "Value"])


def monthly_table(result: OverviewResult, currency: str = "$") -> pd.DataFrame:
    """The activity per period for display: readable column names, values formatted as
    text with thousands separators (revenue rounded to whole currency units)."""
    monthly = result.monthly

    def fmt(col: str) -> list[str]:
        return [f"{v:,.0f}" for v in monthly[col].astype(float)]

    # short headers keep the table narrow enough that period labels do not wrap
    return pd.DataFrame({
        "Month" if result.period == "month" else "Period": monthly["period"].astype(str).tolist(),
        "New customers": fmt("new_customers"),
        "Active customers": fmt("active_customers"),
        "Orders": fmt("orders"),
        f"Revenue{_unit(currency)}": fmt("revenue"),
        f"from new{_unit(currency)}": fmt("revenue_new"),
        f"from returning{_unit(currency)}": fmt("revenue_returning"),
    })


def monthly_caption(currency: str = "$") -> str:
    """Caption of :func:`monthly_table`."""
    return (f"Customers, orders and revenue per calendar month (revenue in "
            f"{currency or 'the currency of the data'}, "
            "split into revenue from customers new that month and from returning customers)")


def segment_table(result: OverviewResult, currency: str = "$") -> pd.DataFrame:
    """The segment summary for display: readable names, formatted text values.

    Raises
    ------
    ParameterError
        If the study ran without a segment.
    """
    segments = result.segments
    if segments is None:
        raise ParameterError("the overview ran without a segment column")
    return pd.DataFrame({
        "Segment": segments["segment"].astype(str).tolist(),
        "Customers": [f"{v:,.0f}" for v in segments["customers"]],
        "Orders": [f"{v:,.0f}" for v in segments["orders"]],
        "Revenue": [format_money(v, currency) for v in segments["revenue"]],
        "Share of revenue": [format_share(v, 1) for v in segments["revenue_share"]],
        "Average order value": [format_money(v, currency)
                                for v in segments["average_order_value"]],
    })


def segment_caption(result: OverviewResult) -> str:
    """Caption of :func:`segment_table`."""
    return f"Customers and revenue by {result.segment}"


def show_segments(result: OverviewResult, currency: str = "$") -> None:
    """Display the "By segment" section: the table, or :data:`NO_SEGMENT_NOTE`."""
    from IPython.display import Markdown, display

    from clm_lib.reporting import show_table

    if result.segment is None:
        display(Markdown(NO_SEGMENT_NOTE))
    else:
        show_table(segment_table(result, currency=currency),
                   caption=segment_caption(result), index=False)


# --------------------------------------------------------------------------- outputs
def overview_metrics(result: OverviewResult, *, currency: str = "$") -> dict:
    """The study's ``metrics.json`` content.

    Keys: ``customers``, ``orders``, ``revenue``, ``first_date``, ``last_date`` (ISO
    dates), ``average_order_value``, ``one_time_buyer_share``, ``repeat_customer_share``,
    ``top10_revenue_share``, ``median_days_between_purchases``,
    ``mean_days_between_purchases`` (days), ``monthly`` (one dict per period,
    ``period_start`` as ISO date), ``headline`` (4 formatted entries for the index
    page), ``gini`` and, when the study loaded the data, ``data_quality``.
    """
    s = result.summary
    monthly = result.monthly
    rows = monthly.assign(period_start=pd.to_datetime(monthly["period_start"])
                          .dt.strftime("%Y-%m-%d"))
    money = ["revenue", "revenue_new", "revenue_returning"]
    rows[money] = rows[money].round(2)  # cents; avoids float noise such as 0.7800000003
    out = {
        "customers": int(s["customers"]),
        "orders": int(s["orders"]),
        "revenue": float(s["revenue"]),
        "as_of": None if result.as_of is None else result.as_of.strftime("%Y-%m-%d"),
        "as_of_source": result.as_of_source, "currency": currency or None,
        "first_date": pd.Timestamp(s["first_date"]).strftime("%Y-%m-%d"),
        "last_date": pd.Timestamp(s["last_date"]).strftime("%Y-%m-%d"),
        "average_order_value": float(s["average_order_value"]),
        "one_time_buyer_share": float(s["one_time_buyer_share"]),
        "repeat_customer_share": float(s["repeat_customer_share"]),
        "top10_revenue_share": float(s["top10_revenue_share"]),
        "median_days_between_purchases": float(s["median_days_between_purchases"]),
        "mean_days_between_purchases": float(s["mean_days_between_purchases"]),
        "monthly": rows.to_dict("records"),
        "headline": {
            "Customers": f"{s['customers']:,}",
            "Revenue": format_money(s["revenue"], currency),
            "One-time buyers": format_share(s["one_time_buyer_share"]),
            "Top 10 % revenue share": format_share(s["top10_revenue_share"]),
        },
        "gini": float(result.concentration.gini),
    }
    if result.quality is not None:
        out["data_quality"] = result.quality.to_dict()
    return out


def export_frames(result: OverviewResult) -> dict[str, pd.DataFrame]:
    """The CSV exports by name: ``monthly_activity`` (see
    :func:`~clm_lib.studies.overview.compute.monthly_activity`) and
    ``orders_per_customer``."""
    return {"monthly_activity": result.monthly,
            "orders_per_customer": result.orders_per_customer}
