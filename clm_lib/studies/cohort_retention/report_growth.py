"""Wording, display tables and figures of the growth accounting
(:func:`~.growth.growth_accounting`): the lifecycle view, the revenue bridge and the quick
ratios. Tables are :class:`~.report.DisplayTable` (values unformatted, a caption, formats,
readers' names); sentences are plain, data-derived strings, shown through the escaping
helpers of :mod:`clm_lib.reporting`, never as Markdown or HTML.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clm_lib import format as fmt
from clm_lib.plotting.growth import chart_lifecycle, plot_lifecycle, plot_quick_ratio
from clm_lib.studies.cohort_retention.report import DisplayTable

__all__ = ["growth_notes", "lifecycle_chart", "lifecycle_figure", "lifecycle_line", "lifecycle_table",
           "quick_ratio_figure", "quick_ratio_line", "quick_ratio_table", "revenue_bridge_table",
           "revenue_line"]


def _unit(g: pd.DataFrame) -> str:
    return g.attrs.get("cohort_period", "period")


def _row(g: pd.DataFrame, period: str | None) -> tuple[str, pd.Series]:
    if g.empty:
        raise ValueError("the growth table has no period (no complete period with data)")
    label = g.index[-1] if period is None else period
    return label, g.loc[label]


def _reading(qr: float, row: pd.Series, first: bool, unit: str) -> str:
    if first:
        return f"the first {unit} of the data: there is no previous {unit} to compare with"
    if not np.isfinite(qr):
        return "no customer went dormant, the base did not lose anyone"
    change = int(row["active"] - row["previous_active"])
    if change > 0:
        return f"the base grew by {fmt.count(change)}"
    if change < 0:
        return f"the base shrank by {fmt.count(-change)}"
    return "the base held steady"


def lifecycle_line(g: pd.DataFrame, period: str | None = None) -> str:
    """One sentence on a period's customers (default: the last), e.g. "In 1998-06, 1,506
    customers were active: 0 new, 446 returning, 1,060 resurrecting; 1,042 went dormant;
    quick ratio 1.02 — the base grew by 18." """
    label, r = _row(g, period)
    first = label == g.index[0]
    qr = float(r["quick_ratio"])
    ratio = "" if not np.isfinite(qr) else f"; quick ratio {fmt.number(qr, 2)}"
    return (f"In {label}, {fmt.count(r['active'])} customers were active: "
            f"{fmt.count(r['new'])} new, {fmt.count(r['returning'])} returning, "
            f"{fmt.count(r['resurrecting'])} resurrecting; {fmt.count(r['dormant'])} went "
            f"dormant{ratio} — {_reading(qr, r, first, _unit(g))}.")


def lifecycle_table(g: pd.DataFrame) -> DisplayTable:
    """Customers per period: active, new, returning, resurrecting, dormant, quick ratio."""
    u = _unit(g)
    cols = ["active", "new", "returning", "resurrecting", "dormant", "quick_ratio"]
    return DisplayTable(
        g[cols], f"Customers per {u} by lifecycle status (active = new + returning + "
                 f"resurrecting; dormant customers bought in the previous {u}, not in this "
                 f"one; the first {u} has no previous {u}, so everyone in it is new)",
        {c: "count" for c in cols[:-1]} | {"quick_ratio": ("number", 2)},
        {"period": u, "active": "active customers", "new": "new (first purchase)",
         "returning": f"returning (active the previous {u})",
         "resurrecting": "resurrecting (back after a gap)",
         "dormant": f"dormant (active the previous {u}, not now)",
         "quick_ratio": "quick ratio ((new + resurrecting) / dormant)"})


def lifecycle_figure(g: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """New, returning and resurrecting customers stacked up, dormant down, per period."""
    return plot_lifecycle(g, ax=ax, period_name=_unit(g))


def lifecycle_chart(g: pd.DataFrame):
    """The interactive (Vega-Lite) lifecycle bars, with counts and quick ratio on hover."""
    return chart_lifecycle(g, period_name=_unit(g))


def revenue_bridge_table(g: pd.DataFrame, currency: str | None = None) -> DisplayTable:
    """Per period: previous revenue, + new, + expansion, − contraction, − churned,
    + resurrected = revenue; contraction and churned revenue are positive amounts that
    the bridge subtracts."""
    u = _unit(g)
    cols = ["previous_revenue", "new_revenue", "expansion", "contraction",
            "churned_revenue", "resurrected_revenue", "revenue", "revenue_quick_ratio"]
    money = ("money", currency) if currency else ("number", 2)
    cur = f" ({currency})" if currency else ""
    return DisplayTable(
        g[cols], f"Revenue bridge per {u}{cur}: previous {u} + new + expansion − contraction "
                 f"− churned + resurrected = this {u} (contraction and churned are shown as "
                 "positive amounts and subtracted)",
        {c: money for c in cols[:-1]} | {"revenue_quick_ratio": ("number", 2)},
        {"period": u, "previous_revenue": f"revenue of the previous {u}",
         "new_revenue": "+ new customers", "expansion": "+ expansion (returning, up)",
         "contraction": "− contraction (returning, down)",
         "churned_revenue": f"− churned (dormant customers' previous-{u} revenue)",
         "resurrected_revenue": "+ resurrected", "revenue": f"revenue of the {u}",
         "revenue_quick_ratio": "revenue quick ratio"})


def revenue_line(g: pd.DataFrame, period: str | None = None,
                 currency: str | None = None) -> str:
    """One sentence on a period's revenue bridge (default: the last)."""
    label, r = _row(g, period)
    m = lambda x: fmt.money(x, currency)  # noqa: E731
    rqr = float(r["revenue_quick_ratio"])
    tail = ("" if not np.isfinite(rqr)
            else f"; revenue quick ratio {fmt.number(rqr, 2)} ("
                 f"{'more' if rqr > 1 else 'less' if rqr < 1 else 'as much'} revenue "
                 f"{'gained than lost' if rqr != 1 else 'gained as lost'})")
    return (f"In {label}, revenue went from {m(r['previous_revenue'])} to {m(r['revenue'])}: "
            f"+{m(r['new_revenue'])} from new customers, +{m(r['expansion'])} expansion, "
            f"−{m(r['contraction'])} contraction, −{m(r['churned_revenue'])} churned, "
            f"+{m(r['resurrected_revenue'])} resurrected{tail}.")


def quick_ratio_table(g: pd.DataFrame, currency: str | None = None) -> DisplayTable:
    """Gains, losses and both quick ratios per period."""
    u = _unit(g)
    frame = pd.DataFrame({
        "gained": g["new"] + g["resurrecting"], "dormant": g["dormant"],
        "quick_ratio": g["quick_ratio"],
        "revenue_gained": g["new_revenue"] + g["expansion"] + g["resurrected_revenue"],
        "revenue_lost": g["contraction"] + g["churned_revenue"],
        "revenue_quick_ratio": g["revenue_quick_ratio"]}, index=g.index)
    two = ("number", 2)
    money = ("money", currency) if currency else two
    return DisplayTable(
        frame, f"Quick ratio per {u} (gained / lost; above 1 the base grew; blank when "
               "nothing was lost, or in the first period)",
        {"gained": "count", "dormant": "count", "quick_ratio": two,
         "revenue_gained": money, "revenue_lost": money, "revenue_quick_ratio": two},
        {"period": u, "gained": "customers gained (new + resurrecting)",
         "dormant": "customers lost (dormant)", "quick_ratio": "quick ratio",
         "revenue_gained": "revenue gained (new + expansion + resurrected)",
         "revenue_lost": "revenue lost (contraction + churned)",
         "revenue_quick_ratio": "revenue quick ratio"})


def quick_ratio_line(g: pd.DataFrame) -> str:
    """How often the base grew, and the last period's ratios, in one sentence."""
    u = _unit(g)
    label, r = _row(g, None)
    qr = g["quick_ratio"]
    defined = qr.notna()
    above = int((qr[defined] > 1).sum())
    last = float(r["quick_ratio"])
    now = (f"in {label} it was {fmt.number(last, 2)}" if np.isfinite(last)
           else f"in {label} it is undefined (nobody went dormant)")
    rqr = float(r["revenue_quick_ratio"])
    rev = f", the revenue quick ratio {fmt.number(rqr, 2)}" if np.isfinite(rqr) else ""
    return (f"The customer quick ratio was above 1 (more customers gained than lost) in "
            f"{above} of the {int(defined.sum())} {u}s where it is defined; {now}{rev}.")


def quick_ratio_figure(g: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Both quick ratios per period with the line of 1."""
    return plot_quick_ratio(g, ax=ax, period_name=_unit(g))


def growth_notes(g: pd.DataFrame) -> list[str]:
    """The definitions, for the method notes."""
    u = _unit(g)
    return [f"A customer is active in a {u} when she made a purchase in it. New: first "
            f"purchase in the {u}; returning: also active in the previous {u}; resurrecting: "
            f"not active in the previous {u} but before it; dormant: active in the previous "
            f"{u}, not in this one.",
            "Expansion and contraction are returning customers' revenue up or down on the "
            "previous period; churned revenue is what the dormant spent in the previous "
            "period; contraction and churned revenue are positive amounts.",
            "Quick ratio = (new + resurrecting) / dormant; revenue quick ratio = (new + "
            "expansion + resurrected) / (contraction + churned). Above 1 the base grew; "
            "blank (undefined) when nothing was lost.",
            f"Only {u}s complete by {g.attrs.get('as_of', 'as_of')} are shown; the first "
            f"{u} of the data has no previous {u}, so everyone active in it counts as new. "
            f"A {u}'s figures never change when later purchases arrive."]
