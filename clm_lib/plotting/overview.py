"""Figures of the customer-base overview; each draws a table of the
:class:`~clm_lib.studies.overview.compute.OverviewResult` and computes nothing.

Every function has the form ``plot_x(data, *, ax=None, **kwargs) -> Axes``, sets a title
and axis labels with units, and never calls ``plt.show()``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, PercentFormatter

from clm_lib import format as fmt
from clm_lib.checks import require_columns as _need
from clm_lib.plotting.style import PALETTE, integer_ticks

__all__ = [
    "chart_monthly_activity",
    "plot_interpurchase_times",
    "plot_monthly_activity",
    "plot_monthly_revenue",
    "plot_orders_per_customer",
    "plot_revenue_concentration",
]

# new and returning customers: Okabe-Ito blue and orange, told apart under every common
# colour-vision deficiency (two blues were not)
_NEW = PALETTE[0]
_RETURNING = PALETTE[1]


def _axes(ax: Axes | None, figsize=(9, 4)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _period_ticks(ax: Axes, labels) -> None:
    labels = [str(x) for x in labels]
    step = max(1, int(np.ceil(len(labels) / 18)))
    pos = np.arange(len(labels))
    ax.set_xticks(pos[::step])
    ax.set_xticklabels(labels[::step], rotation=45, ha="right")


def _money_axis(ax: Axes, currency: str) -> None:
    def fmt(v, _pos):
        a = abs(v)
        if a >= 1e6:
            return f"{currency or ''}{v / 1e6:,.1f} M"
        if a >= 1e3:
            return f"{currency or ''}{v / 1e3:,.0f} k"
        return f"{currency or ''}{v:,.0f}"
    ax.yaxis.set_major_formatter(FuncFormatter(fmt))


def plot_monthly_activity(monthly: pd.DataFrame, *, ax: Axes | None = None,
                          period_name: str = "month", **kwargs) -> Axes:
    """Active customers per period, split into new and returning customers (stacked bars).

    Parameters
    ----------
    monthly : DataFrame
        ``OverviewResult.monthly`` (see
        :func:`clm_lib.studies.overview.compute.monthly_activity`): ``period``,
        ``new_customers``, ``active_customers``.
    ax : Axes, optional
    period_name : str
        Word for one period in the labels ("month", "quarter", "week").
    **kwargs
        Passed to :meth:`Axes.bar`.
    """
    _need(monthly, ["period", "new_customers", "active_customers"], "monthly activity")
    ax = _axes(ax)
    x = np.arange(len(monthly))
    new = monthly["new_customers"].to_numpy()
    returning = monthly["active_customers"].to_numpy() - new
    ax.bar(x, new, color=_NEW, label="new customers (first order)", **kwargs)
    ax.bar(x, returning, bottom=new, color=_RETURNING,
           label="returning customers", **kwargs)
    _period_ticks(ax, monthly["period"])
    integer_ticks(ax, "y")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.set_title(f"Customers who ordered, per {period_name}")
    ax.set_xlabel(f"Calendar {period_name}")
    ax.set_ylabel("Customers (count)")
    ax.legend(frameon=False)
    sns.despine(ax=ax)
    return ax


def plot_monthly_revenue(monthly: pd.DataFrame, *, ax: Axes | None = None,
                         currency: str = "$", period_name: str = "month", **kwargs) -> Axes:
    """Revenue per period from new and from returning customers (stacked bars).

    Parameters
    ----------
    monthly : DataFrame
        ``OverviewResult.monthly`` (see
        :func:`clm_lib.studies.overview.compute.monthly_activity`): ``period``,
        ``revenue_new``, ``revenue_returning``.
    currency : str
        Currency symbol for the axis.
    """
    _need(monthly, ["period", "revenue_new", "revenue_returning"], "monthly activity")
    ax = _axes(ax)
    x = np.arange(len(monthly))
    new = monthly["revenue_new"].to_numpy(dtype=float)
    ret = monthly["revenue_returning"].to_numpy(dtype=float)
    ax.bar(x, new, color=_NEW, label="from new customers", **kwargs)
    ax.bar(x, ret, bottom=new, color=_RETURNING, label="from returning customers", **kwargs)
    _period_ticks(ax, monthly["period"])
    _money_axis(ax, currency)
    ax.set_title(f"Revenue per {period_name}")
    ax.set_xlabel(f"Calendar {period_name}")
    ax.set_ylabel("Revenue" + (f" ({currency or ''})" if currency else ""))
    ax.legend(frameon=False)
    sns.despine(ax=ax)
    return ax


def plot_orders_per_customer(dist: pd.DataFrame, *, ax: Axes | None = None,
                             **kwargs) -> Axes:
    """Share of customers by number of orders placed (bars labelled with the share).

    Parameters
    ----------
    dist : DataFrame
        ``OverviewResult.orders_per_customer`` (see
        :func:`clm_lib.studies.overview.compute.orders_per_customer`): ``orders``,
        ``customers``, ``share``.
    """
    _need(dist, ["orders", "customers", "share"], "orders per customer")
    ax = _axes(ax, figsize=(8, 4))
    x = np.arange(len(dist))
    share = dist["share"].to_numpy(dtype=float) * 100
    bars = ax.bar(x, share, color=kwargs.pop("color", _NEW), **kwargs)
    ax.bar_label(bars, labels=[f"{v:.0f} %" if v >= 0.5 else f"{v:.1f} %" for v in share],
                 padding=2, fontsize=8)
    ax.set_xticks(x)
    ax.set_xticklabels([str(v) for v in dist["orders"]])
    ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    ax.set_title("How many orders each customer placed")
    ax.set_xlabel("Orders per customer (count)")
    ax.set_ylabel("Customers (% of all customers)")
    sns.despine(ax=ax)
    return ax


def plot_interpurchase_times(gaps: pd.Series, *, ax: Axes | None = None,
                             median: float | None = None, binwidth: float | None = None,
                             max_days: float | None = None, **kwargs) -> Axes:
    """Histogram of the days between consecutive purchase days, with the median marked.

    Parameters
    ----------
    gaps : Series
        ``OverviewResult.gaps`` (see
        :func:`clm_lib.studies.overview.compute.interpurchase_times`): the number of gaps
        (values) of each length in days (index).
    median : float, optional
        ``OverviewResult.gap_median``: drawn as a dashed line (none when omitted or NaN).
    binwidth : float, optional
        Bin width in days (default: 7 days when the longest gap exceeds 8 weeks, else 1).
    max_days : float, optional
        Cut the x axis here (gaps beyond it still count in the median).
    """
    ax = _axes(ax)
    counts = pd.Series(gaps, dtype="int64")
    counts = counts[counts > 0]
    days = counts.index.to_numpy(dtype=float)
    if binwidth is None:
        binwidth = 7.0 if (len(days) and days.max() > 56) else 1.0
    if len(days):
        sns.histplot(x=days, weights=counts.to_numpy(dtype=float), binwidth=binwidth,
                     binrange=(0, days.max() + binwidth), ax=ax,
                     color=kwargs.pop("color", _NEW), **kwargs)
    if len(days) and median is not None and np.isfinite(median):
        ax.axvline(median, color="black", linestyle="--", linewidth=1,
                   label=f"median: {median:,.0f} days")
        ax.legend(frameon=False)
    integer_ticks(ax, "x")
    integer_ticks(ax, "y")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    if max_days is not None:
        ax.set_xlim(0, max_days)
    unit = "week" if binwidth == 7 else f"{binwidth:g} day{'s' if binwidth != 1 else ''}"
    ax.set_title("Time between purchases (customers who came back)")
    ax.set_xlabel("Days between consecutive purchase days")
    ax.set_ylabel(f"Repeat purchases (count per {unit})")
    sns.despine(ax=ax)
    return ax


def plot_revenue_concentration(conc, *, ax: Axes | None = None, **kwargs) -> Axes:
    """Concentration curve: cumulative share of revenue from the best x % of customers.

    Parameters
    ----------
    conc : RevenueConcentration or DataFrame
        ``OverviewResult.concentration`` (see
        :func:`clm_lib.studies.overview.compute.revenue_concentration`), or its ``curve``
        (``customer_share``, ``revenue_share``; then the top 10 % are not marked).
    """
    curve = conc if isinstance(conc, pd.DataFrame) else conc.curve
    _need(curve, ["customer_share", "revenue_share"], "concentration curve")
    ax = _axes(ax, figsize=(6, 5))
    x = curve["customer_share"].to_numpy(dtype=float) * 100
    y = curve["revenue_share"].to_numpy(dtype=float) * 100
    ax.plot(x, y, color=kwargs.pop("color", _NEW), label="actual", **kwargs)
    ax.plot([0, 100], [0, 100], color="grey", linestyle=":",
            label="if every customer spent the same")
    top = getattr(conc, "top10_share", None)
    if top is not None and np.isfinite(top):
        ax.plot([10, 10, 0], [0, top * 100, top * 100], color="black", linestyle="--",
                linewidth=1)
        ax.annotate(f"top 10 % of customers: {top * 100:.0f} % of revenue",
                    xy=(10, top * 100), xytext=(38, 24),
                    fontsize=9, arrowprops={"arrowstyle": "->", "lw": 0.8})
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.xaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    ax.set_title("How concentrated revenue is")
    ax.set_xlabel("Customers, biggest spenders first (cumulative % of customers)")
    ax.set_ylabel("Revenue (cumulative % of total)")
    ax.legend(frameon=False, loc="lower right")
    sns.despine(ax=ax)
    return ax


# --------------------------------------------------------------------------- interactive
#: The two groups of the activity chart, in stacking order, as readers see them.
_GROUPS = (("new", "new customers"), ("returning", "returning customers"))


def _activity_rows(monthly: pd.DataFrame, currency: str | None) -> pd.DataFrame:
    """The activity chart's data: one row per period and group (new, returning), with the
    tooltip texts already formatted (counts, money with its currency, shares)."""
    rows = []
    for i, r in enumerate(monthly.itertuples(index=False)):
        active = int(r.active_customers)
        parts = {"new": (int(r.new_customers), float(r.revenue_new)),
                 "returning": (active - int(r.new_customers), float(r.revenue_returning))}
        for order, (key, label) in enumerate(_GROUPS):
            n, rev = parts[key]
            rows.append({
                "period": str(r.period), "position": i, "group": label, "stack": order,
                "customers": n, "revenue": round(rev, 2),
                "customers_text": fmt.count(n),
                "share_text": fmt.percent(n / active) if active else fmt.MISSING,
                "revenue_text": fmt.money(rev, currency),
                "active_text": fmt.count(active),
                "orders_text": fmt.count(r.orders),
                "total_revenue_text": fmt.money(r.revenue, currency),
            })
    return pd.DataFrame(rows)


def chart_monthly_activity(monthly: pd.DataFrame, *, currency: str | None = None,
                           period_name: str = "month"):
    """Interactive chart of the customers who ordered per period, new and returning
    stacked; hovering a bar shows its customers, their share of the period's active
    customers and the revenue they brought, with the period's totals.

    Parameters
    ----------
    monthly : DataFrame
        ``OverviewResult.monthly`` (see
        :func:`clm_lib.studies.overview.compute.monthly_activity`): ``period``,
        ``new_customers``, ``active_customers``, ``orders``, ``revenue``, ``revenue_new``,
        ``revenue_returning`` (currency units).
    currency : str, optional
        Currency symbol or code of the amounts in the tooltips.
    period_name : str
        Word for one period ("month", "quarter", "week").

    Returns
    -------
    altair.Chart
        Vega-Lite 5 stacked bars, as wide as the page, two rows of data per period.
    """
    import altair as alt

    _need(monthly, ["period", "new_customers", "active_customers", "orders", "revenue",
                    "revenue_new", "revenue_returning"], "monthly activity")
    data = _activity_rows(monthly, currency)
    unit = f" ({currency})" if currency else ""
    word = period_name.capitalize()
    order = [str(p) for p in monthly["period"]]
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("period:O", sort=order, title=f"Calendar {period_name}",
                axis=alt.Axis(labelAngle=-45, labelOverlap=True)),
        y=alt.Y("customers:Q", stack="zero", title="Customers who ordered (count)",
                axis=alt.Axis(format=",d", tickMinStep=1)),
        color=alt.Color("group:N", title=None,
                        scale=alt.Scale(domain=[g for _, g in _GROUPS],
                                        range=[_NEW, _RETURNING])),
        order=alt.Order("stack:Q", sort="ascending"),
        tooltip=[
            alt.Tooltip("period:N", title=word),
            alt.Tooltip("group:N", title="Customers"),
            alt.Tooltip("customers_text:N", title="Count"),
            alt.Tooltip("share_text:N", title=f"Share of the {period_name}'s active customers"),
            alt.Tooltip("revenue_text:N", title=f"Revenue from them{unit}"),
            alt.Tooltip("active_text:N", title="All active customers"),
            alt.Tooltip("orders_text:N", title="All orders"),
            alt.Tooltip("total_revenue_text:N", title=f"All revenue{unit}"),
        ],
    ).properties(width="container", height=300,
                 title=f"Customers who ordered, per {period_name}")
