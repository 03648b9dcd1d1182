"""Figures of the growth accounting and of stickiness; each draws a table of
:func:`clm_lib.studies.cohort_retention.growth.growth_accounting` or of a
:class:`~clm_lib.studies.cohort_retention.stickiness.Stickiness` and computes nothing.

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

__all__ = ["LIFECYCLE_GROUPS", "chart_lifecycle", "plot_active_ratios", "plot_lifecycle", "plot_quick_ratio",
           "plot_stickiness"]

#: (column, legend label, colour) of the lifecycle bars, bottom to top; dormant is drawn
#: below zero.
LIFECYCLE_GROUPS = (("new", "new (first purchase)", PALETTE[0]),
                    ("returning", "returning (also active the period before)", PALETTE[2]),
                    ("resurrecting", "resurrecting (back after a gap)", PALETTE[1]),
                    ("dormant", "dormant (active the period before, not now)", PALETTE[3]))


def _axes(ax: Axes | None, figsize=(9, 4.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _period_ticks(ax: Axes, labels) -> None:
    labels = [str(x) for x in labels]
    step = max(1, int(np.ceil(len(labels) / 18)))
    pos = np.arange(len(labels))
    ax.set_xticks(pos[::step])
    ax.set_xticklabels(labels[::step], rotation=45, ha="right")


def plot_lifecycle(growth: pd.DataFrame, *, ax: Axes | None = None,
                   period_name: str = "month", **kwargs) -> Axes:
    """Customers per period by lifecycle status: new, returning and resurrecting stacked
    above zero (together the period's active customers), dormant below it.

    Parameters
    ----------
    growth : DataFrame
        Indexed by period label, with ``new``, ``returning``, ``resurrecting``,
        ``dormant`` (customers).
    period_name : str
        Word for one period ("month", "week", ...).
    **kwargs
        Passed to :meth:`Axes.bar`.
    """
    _need(growth, [g for g, _, _ in LIFECYCLE_GROUPS], "growth accounting")
    ax = _axes(ax)
    x = np.arange(len(growth))
    bottom = np.zeros(len(growth))
    for col, label, colour in LIFECYCLE_GROUPS:
        v = growth[col].to_numpy(dtype=float)
        if col == "dormant":
            ax.bar(x, -v, color=colour, label=label, **kwargs)
        else:
            ax.bar(x, v, bottom=bottom, color=colour, label=label, **kwargs)
            bottom += v
    ax.axhline(0, color="0.3", linewidth=0.8)
    # stacked bars make their bottoms sticky edges, which would remove the top margin
    top, low = float(bottom.max(initial=0.0)), float(growth["dormant"].to_numpy(dtype=float).max(initial=0.0))
    ax.set_ylim(-1.05 * low - (low == 0), 1.05 * top + (top == 0))
    _period_ticks(ax, growth.index)
    integer_ticks(ax, "y")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{abs(v):,.0f}"))
    ax.set_title(f"Customers per {period_name} by lifecycle status")
    ax.set_xlabel(f"Calendar {period_name}")
    ax.set_ylabel("Customers (count; dormant below 0)")
    # beside the axes: inside, it would cover the tallest bars
    ax.legend(frameon=False, fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    sns.despine(ax=ax)
    return ax


def _lifecycle_rows(growth: pd.DataFrame) -> pd.DataFrame:
    """The lifecycle chart's data: one row per period and status, dormant negative, with
    the tooltip texts already formatted."""
    rows = []
    for i, (period, r) in enumerate(growth.iterrows()):
        qr = r.get("quick_ratio", np.nan)
        for order, (col, label, _) in enumerate(LIFECYCLE_GROUPS):
            n = int(r[col])
            rows.append({"period": str(period), "position": i, "group": label,
                         "stack": order, "customers": -n if col == "dormant" else n,
                         "customers_text": fmt.count(n),
                         "active_text": fmt.count(r.get("active", np.nan)),
                         "quick_ratio_text": fmt.number(qr, 2)})
    return pd.DataFrame(rows)


def chart_lifecycle(growth: pd.DataFrame, *, period_name: str = "month"):
    """Interactive version of :func:`plot_lifecycle`: new, returning and resurrecting
    customers stacked above zero, dormant below; hovering a bar shows its count, the
    period's active customers and quick ratio.

    Parameters
    ----------
    growth : DataFrame
        Indexed by period label, with ``new``, ``returning``, ``resurrecting``,
        ``dormant``, ``active`` (customers) and ``quick_ratio``.

    Returns
    -------
    altair.Chart
        Vega-Lite 5 stacked bars, as wide as the page, four rows of data per period.
    """
    import altair as alt

    _need(growth, [g for g, _, _ in LIFECYCLE_GROUPS] + ["active", "quick_ratio"],
          "growth accounting")
    data = _lifecycle_rows(growth)
    order = [str(p) for p in growth.index]
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("period:O", sort=order, title=f"Calendar {period_name}",
                axis=alt.Axis(labelAngle=-45, labelOverlap=True)),
        y=alt.Y("customers:Q", stack="zero", title="Customers (count; dormant below 0)",
                axis=alt.Axis(format=",d", tickMinStep=1)),
        color=alt.Color("group:N", title=None,
                        scale=alt.Scale(domain=[g for _, g, _ in LIFECYCLE_GROUPS],
                                        range=[c for _, _, c in LIFECYCLE_GROUPS])),
        order=alt.Order("stack:Q", sort="ascending"),
        tooltip=[alt.Tooltip("period:N", title=period_name.capitalize()),
                 alt.Tooltip("group:N", title="Customers"),
                 alt.Tooltip("customers_text:N", title="Count"),
                 alt.Tooltip("active_text:N", title="All active customers"),
                 alt.Tooltip("quick_ratio_text:N", title="Quick ratio")],
    ).properties(width="container", height=300,
                 title=f"Customers per {period_name} by lifecycle status")


def plot_quick_ratio(growth: pd.DataFrame, *, ax: Axes | None = None,
                     period_name: str = "month", **kwargs) -> Axes:
    """The customer and revenue quick ratios per period, with the line of 1 (above it the
    base grew); periods where a ratio is undefined (NaN) leave a gap.

    Parameters
    ----------
    growth : DataFrame
        Indexed by period label, with ``quick_ratio`` and ``revenue_quick_ratio``.
    **kwargs
        Passed to :meth:`Axes.plot`.
    """
    _need(growth, ["quick_ratio", "revenue_quick_ratio"], "growth accounting")
    ax = _axes(ax)
    x = np.arange(len(growth))
    ax.plot(x, growth["quick_ratio"].to_numpy(dtype=float), marker="o", color=PALETTE[0],
            label="customers: (new + resurrecting) / dormant", **kwargs)
    ax.plot(x, growth["revenue_quick_ratio"].to_numpy(dtype=float), marker="s",
            color=PALETTE[1], label="revenue: (new + expansion + resurrected) / "
            "(contraction + churned)", **kwargs)
    ax.axhline(1.0, color="0.3", linewidth=0.8, linestyle="--")
    _period_ticks(ax, growth.index)
    ax.set_ylim(bottom=0)
    ax.set_title(f"Quick ratio per {period_name} (above 1: the base grew)")
    ax.set_xlabel(f"Calendar {period_name}")
    ax.set_ylabel("Quick ratio (gained / lost)")
    ax.legend(frameon=False, fontsize=9)
    sns.despine(ax=ax)
    return ax


def plot_stickiness(shares: pd.Series, *, ax: Axes | None = None, kind: str = "days",
                    month: str = "", **kwargs) -> Axes:
    """Share of a month's active customers by number of active days (or ISO weeks).

    Parameters
    ----------
    shares : Series
        Index: the number of active days or weeks (labels, e.g. ``1, 2, ..., "5+"``);
        values: shares of the month's active customers (1 = 100 %).
    kind : {"days", "weeks"}
    month : str
        The month's label, for the title.
    **kwargs
        Passed to :meth:`Axes.bar`.
    """
    ax = _axes(ax, figsize=(7, 4))
    x = np.arange(len(shares))
    pct = shares.to_numpy(dtype=float) * 100
    bars = ax.bar(x, pct, color=kwargs.pop("color", PALETTE[0]), **kwargs)
    ax.bar_label(bars, labels=[f"{v:.0f} %" if v >= 0.5 else f"{v:.1f} %" for v in pct],
                 fontsize=9)
    ax.set_xticks(x)
    ax.set_xticklabels([str(i) for i in shares.index])
    ax.yaxis.set_major_formatter(PercentFormatter(100))
    word = "days" if kind == "days" else "ISO weeks"
    ax.set_title(f"Active {word} per customer active in {month or 'the month'}")
    ax.set_xlabel(f"Active {word} in the month (count)")
    ax.set_ylabel("Customers active in the month (%)")
    sns.despine(ax=ax)
    return ax


def plot_active_ratios(ratios: pd.DataFrame, *, ax: Axes | None = None, **kwargs) -> Axes:
    """DAU/MAU and WAU/MAU per month, in percent.

    Parameters
    ----------
    ratios : DataFrame
        Indexed by month label, with ``dau_mau`` and ``wau_mau`` (shares).
    **kwargs
        Passed to :meth:`Axes.plot`.
    """
    _need(ratios, ["dau_mau", "wau_mau"], "stickiness ratios")
    ax = _axes(ax)
    x = np.arange(len(ratios))
    ax.plot(x, ratios["wau_mau"].to_numpy(dtype=float) * 100, marker="s", color=PALETTE[1],
            label="WAU/MAU: mean weekly actives / monthly actives", **kwargs)
    ax.plot(x, ratios["dau_mau"].to_numpy(dtype=float) * 100, marker="o", color=PALETTE[0],
            label="DAU/MAU: mean daily actives / monthly actives", **kwargs)
    _period_ticks(ax, ratios.index)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(PercentFormatter(100))
    ax.set_title("Active-customer ratios per month")
    ax.set_xlabel("Calendar month")
    ax.set_ylabel("Share of the month's active customers (%)")
    ax.legend(frameon=False, fontsize=9)
    sns.despine(ax=ax)
    return ax
