"""The overview report: display tables, metrics and exports.

Every function takes the :class:`~clm_lib.studies.overview.compute.OverviewResult` of
:func:`~clm_lib.studies.overview.compute.overview_study`; all wording of the study lives
here and in :mod:`.decision` (the decision box, lifecycle figures, section sentences and
alt texts), computed from the result (nothing is hard-coded, so it reads right on any
data).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.exceptions import ParameterError
from clm_lib.history import figure
from clm_lib.reporting import Column, omit_section, save_export, show_table
from clm_lib.studies.overview.compute import OverviewResult
from clm_lib.studies.overview.decision import (  # noqa: F401  (the notebook's one module)
    _days,
    activity_alt,
    concentration_alt,
    decision,
    gap_note,
    gaps_alt,
    lifecycle,
    orders_alt,
    revenue_alt,
)

__all__ = [
    "NO_SEGMENT_REASON",
    "activity_alt",
    "concentration_alt",
    "decision",
    "export_columns",
    "export_frames",
    "format_money",
    "format_share",
    "gap_note",
    "gaps_alt",
    "key_figures",
    "lifecycle",
    "monthly_caption",
    "monthly_table",
    "orders_alt",
    "overview_figures",
    "overview_metrics",
    "revenue_alt",
    "save_exports",
    "segment_caption",
    "segment_table",
    "show_monthly",
    "show_segments",
]

#: Why "By segment" is left out of a run without a segment column (listed in the appendix).
NO_SEGMENT_REASON = ("needs the `segment` parameter: a categorical column of the data (for "
                     "example a sales channel) to split customers, orders and revenue by")


# --------------------------------------------------------------------------- formatting
def format_money(x: float, currency: str = "$") -> str:
    """Compact money for the index page's headline: ``$2.50 M``, ``$245.3 k``, ``$35.89``;
    ``n/a`` for NaN (report text uses :func:`clm_lib.format.money`)."""
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


# --------------------------------------------------------------------------- tables
def key_figures(result: OverviewResult, currency: str | None = "$") -> pd.DataFrame:
    """The summary as a two-column table of formatted values.

    Returns
    -------
    DataFrame
        Columns ``Measure`` and ``Value`` (strings, units included).
    """
    s = result.summary
    rows = [
        ("Customers", fmt.count(s["customers"])),
        ("Orders", fmt.count(s["orders"])),
        ("Revenue", fmt.money(s["revenue"], currency)),
        ("First order", fmt.date(pd.Timestamp(s["first_date"]).normalize())),
        ("Last order", fmt.date(pd.Timestamp(s["last_date"]).normalize())),
        ("Orders per customer (mean)", fmt.number(s["orders_per_customer"], 2)),
        ("Average order value", fmt.money(s["average_order_value"], currency)),
        ("Orders with zero amount", fmt.count(s["zero_amount_orders"])),
        ("One-time buyers (share of customers)", fmt.percent(s["one_time_buyer_share"], 1)),
        ("Repeat customers (share of customers)", fmt.percent(s["repeat_customer_share"], 1)),
        ("Revenue share of top 10 % of customers", fmt.percent(s["top10_revenue_share"], 1)),
        ("Time between purchases, median", _days(s["median_days_between_purchases"])),
        ("Time between purchases, mean", _days(s["mean_days_between_purchases"])),
    ]
    return pd.DataFrame(rows, columns=["Measure", "Value"])


def _monthly_spec(result: OverviewResult, currency: str | None):
    """The activity table's columns, their formats and their readers' names."""
    cols = ["period", "new_customers", "active_customers", "orders", "revenue",
            "revenue_new", "revenue_returning"]
    money = ("money", currency, 0)   # whole currency units (the unit in every cell)
    formats = {"new_customers": "count", "active_customers": "count", "orders": "count",
               "revenue": money, "revenue_new": money, "revenue_returning": money}
    # short headers keep the table narrow enough that period labels do not wrap
    rename = {"period": "Month" if result.period == "month" else "Period",
              "new_customers": "New customers", "active_customers": "Active customers",
              "orders": "Orders", "revenue": "Revenue", "revenue_new": "from new",
              "revenue_returning": "from returning"}
    return result.monthly[cols].astype({"period": str}), formats, rename


def monthly_table(result: OverviewResult, currency: str | None = "$") -> pd.DataFrame:
    """The activity per period as shown (text): readable column names, counts with
    thousands separators, revenue in whole currency units with the currency."""
    frame, formats, rename = _monthly_spec(result, currency)
    return fmt.format_frame(frame, formats, rename=rename)


def show_monthly(result: OverviewResult, currency: str | None = "$") -> None:
    """Display the activity table (sortable by the numbers behind the text)."""
    frame, formats, rename = _monthly_spec(result, currency)
    show_table(frame, caption=monthly_caption(currency), index=False, formats=formats,
               rename=rename)


def monthly_caption(currency: str | None = "$") -> str:
    """Caption of :func:`monthly_table`."""
    return (f"Customers, orders and revenue per calendar month (revenue in "
            f"{currency or 'the currency of the data'}, "
            "split into revenue from customers new that month and from returning customers)")


def _segment_spec(result: OverviewResult, currency: str | None):
    segments = result.segments
    if segments is None:
        raise ParameterError("the overview ran without a segment column")
    formats = {"segment": "text", "customers": "count", "orders": "count",
               "revenue": ("money", currency), "revenue_share": ("percent", 1),
               "average_order_value": ("money", currency)}
    rename = {"segment": "Segment", "customers": "Customers", "orders": "Orders",
              "revenue": "Revenue", "revenue_share": "Share of revenue",
              "average_order_value": "Average order value"}
    return segments[list(formats)], formats, rename


def segment_table(result: OverviewResult, currency: str | None = "$") -> pd.DataFrame:
    """The segment summary as shown: readable names, formatted text values.

    Raises
    ------
    ParameterError
        If the study ran without a segment.
    """
    frame, formats, rename = _segment_spec(result, currency)
    return fmt.format_frame(frame, formats, rename=rename)


def segment_caption(result: OverviewResult) -> str:
    """Caption of :func:`segment_table`."""
    return f"Customers and revenue by {result.segment}"


def show_segments(result: OverviewResult, currency: str | None = "$") -> None:
    """Display the "By segment" section: the table, or leave the section out
    (:data:`NO_SEGMENT_REASON`, listed in the report's appendix)."""
    if result.segment is None:
        omit_section(NO_SEGMENT_REASON)
        return
    frame, formats, rename = _segment_spec(result, currency)
    show_table(frame, caption=segment_caption(result), index=False, formats=formats,
               rename=rename)


# --------------------------------------------------------------------------- outputs
def overview_figures(result: OverviewResult, currency: str | None = "$") -> dict:
    """``metrics["figures"]``: the headline as numbers (:func:`clm_lib.history.figure`):
    ``customers`` (count), ``revenue`` (money, in ``currency``), ``one_time_buyer_share``
    and ``top10_revenue_share`` (fractions)."""
    s = result.summary
    unit = f", {currency}" if currency else ""
    return {
        "customers": figure("Customers with a purchase", s["customers"], "count", good="up"),
        "revenue": figure(f"Revenue{unit}", s["revenue"], "money", good="up"),
        "one_time_buyer_share": figure("One-time buyers, share of customers",
                                       s["one_time_buyer_share"], "percent", good="down"),
        "top10_revenue_share": figure("Revenue share of the top 10 % of customers",
                                      s["top10_revenue_share"], "percent"),
    }


def overview_metrics(result: OverviewResult, *, currency: str | None = "$",
                     source=None) -> dict:
    """The study's ``metrics.json`` content.

    Keys: ``customers``, ``orders``, ``revenue``, ``first_date``, ``last_date`` (ISO
    dates), ``average_order_value``, ``one_time_buyer_share``, ``repeat_customer_share``,
    ``top10_revenue_share``, ``median_days_between_purchases``,
    ``mean_days_between_purchases`` (days), ``monthly`` (one dict per period,
    ``period_start`` as ISO date), ``headline`` (4 formatted entries for the index
    page; ``figures`` the same as numbers, :func:`overview_figures`), ``gini``, ``decision`` (the decision box, :func:`.decision.decision`;
    ``source`` as there), ``lifecycle`` (the index page's stage figures,
    :func:`.decision.lifecycle`) and, when the study loaded the data, ``data_quality``.
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
        "figures": overview_figures(result, currency),
        "gini": float(result.concentration.gini),
        "decision": decision(result, currency=currency, source=source).to_dict(),
        "lifecycle": lifecycle(result),
    }
    if result.quality is not None:
        out["data_quality"] = result.quality.to_dict()
    return out


def export_frames(result: OverviewResult) -> dict[str, pd.DataFrame]:
    """The CSV exports by name: ``monthly_activity`` (see
    :func:`~clm_lib.studies.overview.compute.monthly_activity`) and
    ``orders_per_customer`` (see
    :func:`~clm_lib.studies.overview.compute.orders_per_customer`)."""
    return {"monthly_activity": result.monthly,
            "orders_per_customer": result.orders_per_customer}


def export_columns(result: OverviewResult,
                   currency: str | None = None) -> dict[str, dict[str, Column]]:
    """The data dictionary of each export of :func:`export_frames`: every column's
    meaning, unit and decimals (money to the cent, shares to 4 decimals)."""
    money = currency or "currency of the data"
    word = result.period
    return {
        "monthly_activity": {
            "period": Column(f"calendar {word}, e.g. 1997-01 for a month"),
            "period_start": Column(f"first day of the {word}", "date"),
            "new_customers": Column(f"customers whose first order fell in the {word}",
                                    "customers"),
            "active_customers": Column(f"customers with at least one order in the {word}",
                                       "customers"),
            "orders": Column(f"orders placed in the {word}", "orders"),
            "revenue": Column(f"sum of order amounts in the {word}", money, 2),
            "revenue_new": Column(f"revenue from customers new in the {word}", money, 2),
            "revenue_returning": Column(
                f"revenue from customers whose first order was in an earlier {word}", money, 2),
        },
        "orders_per_customer": {
            "orders": Column("number of orders placed over the whole data (the last class "
                             "pools that number or more, e.g. 10+)", "orders"),
            "customers": Column("customers who placed that many orders", "customers"),
            "share": Column("share of all customers", "fraction (0-1)", 4),
        },
    }


def save_exports(result: OverviewResult, output_dir, currency: str | None = None) -> None:
    """Write every export of :func:`export_frames` with its data dictionary into
    ``output_dir`` (no-op when it is None). The overview exports aggregates only: no
    customer id leaves the study."""
    columns = export_columns(result, currency)
    for name, frame in export_frames(result).items():
        save_export(frame, name, output_dir, columns=columns[name])
