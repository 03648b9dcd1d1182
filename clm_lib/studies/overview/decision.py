"""The overview's reader-facing words: the decision box, the lifecycle figures of the index
page, the sentences of the sections and the alt texts of the figures.

Every function takes the :class:`~clm_lib.studies.overview.compute.OverviewResult` of
:func:`~clm_lib.studies.overview.compute.overview_study` and computes its numbers from it,
so the text reads right on any data. Numbers are written with :mod:`clm_lib.format`.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.reporting import Decision, as_of_label, source_label, stage_figure
from clm_lib.studies.overview.compute import PERIODS, OverviewResult

__all__ = [
    "activity_alt",
    "concentration_alt",
    "decision",
    "gap_note",
    "gaps_alt",
    "last_full_period",
    "lifecycle",
    "orders_alt",
    "revenue_alt",
]


# --------------------------------------------------------------------------- helpers
def _month_name(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%B %Y")


def _days(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f} day{'s' if round(x) != 1 else ''}"


def _unit_word(result: OverviewResult) -> str:
    return "month" if result.period == "month" else "period"


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


def _top_count(customers: int, fraction: float = 0.10) -> int:
    """How many customers "the top 10 %" are (as in the compute module: rounded up)."""
    return max(1, math.ceil(round(customers * fraction, 9))) if customers else 0


def last_full_period(result: OverviewResult) -> int | None:
    """Position in ``result.monthly`` of the last period observed to its end (its last day
    on or before ``as_of``); None when not even the first period is complete."""
    m = result.monthly
    if not len(m) or result.as_of is None:
        return None
    freq = PERIODS[result.period]
    ends = [pd.Period(pd.Timestamp(t), freq=freq).end_time.normalize() for t in m["period_start"]]
    full = [i for i, end in enumerate(ends) if end <= result.as_of]
    return full[-1] if full else None


def _acquisition_state(result: OverviewResult) -> tuple[str, tuple[int, int] | None]:
    """How customers were acquired over the periods: "every" period, only in one "window"
    at the start, in one window later ("window_later"), "scattered", or "none"."""
    m = result.monthly.reset_index(drop=True)
    runs = _runs(m["new_customers"] > 0)
    if not runs:
        return "none", None
    if len(runs) == 1 and runs[0] == (0, len(m) - 1):
        return "every", runs[0]
    if len(runs) == 1:
        return ("window" if runs[0][0] == 0 else "window_later"), runs[0]
    return "scattered", None


# --------------------------------------------------------------------------- sentences
def _base_line(result: OverviewResult, currency: str | None) -> str:
    s = result.summary
    first, last = _month_name(s["first_date"]), _month_name(s["last_date"])
    when = f"in {first}" if first == last else f"between {first} and {last}"
    return (f"{fmt.count(s['customers'])} customers placed {fmt.count(s['orders'])} orders "
            f"worth {fmt.money(s['revenue'], currency)} {when}.")


def _loyalty_line(result: OverviewResult) -> str:
    s = result.summary
    one_time = round(s["one_time_buyer_share"] * s["customers"])
    return (f"{fmt.percent(s['one_time_buyer_share'], 0)} of customers "
            f"({fmt.count(one_time)}) bought only once; the top 10 % of customers "
            f"({fmt.count(_top_count(s['customers']))}) brought "
            f"{fmt.percent(s['top10_revenue_share'], 0)} of revenue.")


def _activity_lines(result: OverviewResult, currency: str | None) -> list[str]:
    """The sentences on acquisition and on revenue per period."""
    m = result.monthly.reset_index(drop=True)
    if not len(m):
        return []
    is_month, unit = result.period == "month", _unit_word(result)
    lines = []
    state, run = _acquisition_state(result)
    if state == "every":
        busiest = int(m["new_customers"].idxmax())
        lines.append(
            f"New customers arrived in every {unit}; the most "
            f"({fmt.count(m.loc[busiest, 'new_customers'])}) in "
            f"{_period_label(m, busiest, is_month)}.")
    elif state == "window":
        lines.append(
            f"New customers were acquired only in {_period_range(m, *run, is_month)}; all "
            f"later orders came from customers already acquired, so the monthly trend "
            f"follows one group of customers over time." if is_month else
            f"New customers were acquired only in {_period_range(m, *run, is_month)}; all "
            f"later orders came from customers already acquired, so the trend follows one "
            f"group of customers over time.")
    elif state == "window_later":
        lines.append(f"New customers were acquired only in {_period_range(m, *run, is_month)}.")
    elif state == "scattered":
        n = int((m["new_customers"] > 0).sum())
        lines.append(f"New customers were acquired in {n} of {len(m)} {unit}s.")
    peak, last = int(m["revenue"].idxmax()), len(m) - 1
    lines.append(
        f"Revenue peaked at {fmt.money(m.loc[peak, 'revenue'], currency)} in "
        f"{_period_label(m, peak, is_month)} and was "
        f"{fmt.money(m.loc[last, 'revenue'], currency)} in "
        f"{_period_label(m, last, is_month)}, the last {unit} observed.")
    return lines


def gap_note(result: OverviewResult) -> str:
    """The sentence under "Time between purchases": median and mean gap, and what they
    leave out."""
    s = result.summary
    if not np.isfinite(s.get("median_days_between_purchases", np.nan)):
        return "No customer bought on two different days, so there is no gap to measure."
    return (f"The median time between a customer's consecutive purchase days was "
            f"{_days(s['median_days_between_purchases'])} (mean "
            f"{_days(s['mean_days_between_purchases'])}); every completed gap counts, so "
            f"frequent buyers weigh more, and the wait of customers who have not come back "
            f"yet is not included.")


# --------------------------------------------------------------------------- decision
def _actions(result: OverviewResult, currency: str | None) -> list[str]:
    s = result.summary
    m = result.monthly.reset_index(drop=True)
    is_month, unit = result.period == "month", _unit_word(result)
    actions = []
    one_time = round(s["one_time_buyer_share"] * s["customers"])
    if one_time:
        aov = s["average_order_value"]
        worth = (f"; one more order from each is worth about {fmt.money(one_time * aov, currency)} "
                 f"at the average order value of {fmt.money(aov, currency)}"
                 if np.isfinite(aov) else "")
        actions.append(
            f"Look at second purchases first: {fmt.percent(s['one_time_buyer_share'], 0)} of "
            f"customers ({fmt.count(one_time)}) never bought again{worth} — see the cohort "
            f"retention and lifecycle reports for when customers drop off.")
    top = _top_count(s["customers"])
    if np.isfinite(s["top10_revenue_share"]):
        actions.append(
            f"Protect the top 10 % ({fmt.count(top)} customer{'s' if top != 1 else ''}): "
            f"they brought "
            f"{fmt.money(s['top10_revenue_share'] * s['revenue'], currency)} "
            f"({fmt.percent(s['top10_revenue_share'], 0)} of revenue) — see the CLV report "
            f"for who they are and what they are expected to spend next.")
    state, run = _acquisition_state(result)
    if state == "window" and len(m):
        last = len(m) - 1
        actions.append(
            f"Do not read the later {unit}s as an acquisition trend: no customer was new "
            f"after {_period_label(m, run[1], is_month)}, so the "
            f"{fmt.money(m.loc[last, 'revenue'], currency)} of "
            f"{_period_label(m, last, is_month)} all came from customers acquired by then — "
            f"see the cohort retention report for how that group fades.")
    else:
        i = last_full_period(result)
        if i is not None:
            n = int(m.loc[i, "new_customers"])
            actions.append(
                f"Check acquisition: {fmt.count(n)} new customer{'s' if n != 1 else ''} "
                f"in {_period_label(m, i, is_month)}, the last full {unit}, brought "
                f"{fmt.money(m.loc[i, 'revenue_new'], currency)} — see the cohort retention "
                f"report for whether recent cohorts come back like earlier ones.")
    return actions


def _confidence(result: OverviewResult) -> str:
    s = result.summary
    parts = [f"Exact: counts and sums over all {fmt.count(s['orders'])} orders in the data, "
             f"with no model and no sampling, so there is no error margin."]
    q = result.quality
    if q is not None and q.rows_in:
        if q.n_dropped:
            parts.append(f"{fmt.count(q.n_dropped)} of {fmt.count(q.rows_in)} input rows "
                         f"({fmt.percent(q.n_dropped / q.rows_in)}) were dropped while "
                         f"loading (see Data quality).")
        else:
            parts.append(f"No input row was dropped while loading ({fmt.count(q.rows_in)} "
                         f"rows read).")
    m = result.monthly.reset_index(drop=True)
    if len(m) and result.as_of is not None:
        is_month, unit = result.period == "month", _unit_word(result)
        last = len(m) - 1
        name = _period_label(m, last, is_month)
        if last_full_period(result) == last:
            parts.append(f"The last {unit}, {name}, is observed to its end.")
        else:
            parts.append(f"The last {unit}, {name}, is only observed to "
                         f"{fmt.date(result.as_of)}: it is not comparable with full "
                         f"{unit}s yet.")
    return " ".join(parts)


def _as_of_text(result: OverviewResult) -> str:
    if result.as_of is None:
        return "not known"
    return as_of_label(result.as_of, result.as_of_source)


def decision(result: OverviewResult, *, currency: str | None = None,
             source=None) -> Decision:
    """The overview's decision box: what matters, where to look next, how sure we are.

    Parameters
    ----------
    result : OverviewResult
    currency : str, optional
        Currency symbol or code of the amounts; None writes amounts without a unit.
    source : str or path, optional
        The data source when the result has no data-quality record (a table passed in).

    Returns
    -------
    Decision
        Four findings (customer base, one-time buyers and top customers, acquisition,
        revenue trend), up to three actions with the value at stake, the confidence
        (exact counts; rows dropped; whether the last period is complete), the source by
        file name and the observation end with how it was set.
    """
    findings = [_base_line(result, currency), _loyalty_line(result),
                *_activity_lines(result, currency)]
    src = result.quality if result.quality is not None else source
    return Decision(findings=findings, actions=_actions(result, currency),
                    confidence=_confidence(result),
                    source=source_label(src) if src is not None else "the data given",
                    as_of=_as_of_text(result))


# --------------------------------------------------------------------------- lifecycle
def lifecycle(result: OverviewResult) -> list[dict]:
    """The overview's figures for the lifecycle index (``metrics["lifecycle"]``).

    ``acquisition``: new customers over the whole data and in the last full period;
    ``conversion``: the second-purchase rate (share of customers with two or more orders
    over the whole data); ``retention``: the share of the customers acquired before the
    last full period who ordered in it (returning active customers / customers acquired
    earlier), when that period has earlier customers.
    """
    s = result.summary
    m = result.monthly.reset_index(drop=True)
    is_month, unit = result.period == "month", _unit_word(result)
    first, last = fmt.date(s["first_date"]), fmt.date(s["last_date"])
    out = [stage_figure("acquisition", "New customers", fmt.count(s["customers"]),
                        f"customers with a first order in the data, {first} to {last}")]
    i = last_full_period(result)
    if i is not None:
        name = _period_label(m, i, is_month)
        out.append(stage_figure(
            "acquisition", f"New customers in {name}", fmt.count(m.loc[i, "new_customers"]),
            f"customers whose first order fell in {name}, the last full {unit} of the data"))
    out.append(stage_figure(
        "conversion", "Second-purchase rate", fmt.percent(s["repeat_customer_share"]),
        f"share of the {fmt.count(s['customers'])} customers who placed a second order "
        f"between {first} and {last} (two orders on one day count)"))
    if i is not None:
        earlier = int(m.loc[: i - 1, "new_customers"].sum()) if i > 0 else 0
        returning = int(m.loc[i, "active_customers"] - m.loc[i, "new_customers"])
        if earlier:
            out.append(stage_figure(
                "retention", f"Earlier customers active in {name}",
                fmt.percent(returning / earlier),
                f"{fmt.count(returning)} of the {fmt.count(earlier)} customers acquired "
                f"before {name} ordered in that {unit}"))
    return out


# --------------------------------------------------------------------------- alt texts
def activity_alt(result: OverviewResult) -> str:
    """Alt text of the monthly activity chart: what it shows and its main message."""
    m = result.monthly.reset_index(drop=True)
    is_month, unit = result.period == "month", _unit_word(result)
    if not len(m):
        return f"Customers who ordered per {unit}: no orders."
    busiest = int(m["active_customers"].idxmax())
    last = len(m) - 1
    return (f"Stacked bars of the customers who ordered per {unit}, new and returning, "
            f"{_period_label(m, 0, is_month)} to {_period_label(m, last, is_month)}; the most "
            f"active customers ({fmt.count(m.loc[busiest, 'active_customers'])}) in "
            f"{_period_label(m, busiest, is_month)}, "
            f"{fmt.count(m.loc[last, 'active_customers'])} in the last {unit}, of whom "
            f"{fmt.count(m.loc[last, 'new_customers'])} new.")


def orders_alt(result: OverviewResult) -> str:
    """Alt text of the orders-per-customer bars."""
    d = result.orders_per_customer
    top = d.iloc[-1]
    return (f"Bar chart of the share of customers by number of orders: "
            f"{fmt.percent(d['share'].iloc[0], 0)} placed one order, "
            f"{fmt.percent(d['share'].iloc[1], 0) if len(d) > 1 else fmt.MISSING} two, and "
            f"{fmt.percent(top['share'], 0)} placed {top['orders']} orders.")


def gaps_alt(result: OverviewResult) -> str:
    """Alt text of the histogram of days between purchases."""
    n = int(result.gaps.sum())
    if not n:
        return "Histogram of the days between purchases: no customer came back on a later day."
    longest = int(result.gaps.index.max())
    return (f"Histogram of the {fmt.count(n)} gaps between a customer's consecutive purchase "
            f"days, up to {fmt.count(longest)} days; the median gap (dashed line) is "
            f"{_days(result.gap_median)}.")


def concentration_alt(result: OverviewResult) -> str:
    """Alt text of the revenue concentration curve."""
    c = result.concentration
    return (f"Concentration curve of revenue against customers ranked by spend: the top "
            f"10 % of customers brought {fmt.percent(c.top10_share, 0)} of revenue "
            f"(Gini {fmt.number(c.gini, 2)}; 0 means everyone spends the same).")


def revenue_alt(result: OverviewResult, currency: str | None = None) -> str:
    """Alt text of the revenue-per-period bars (new and returning customers stacked)."""
    m = result.monthly.reset_index(drop=True)
    is_month, unit = result.period == "month", _unit_word(result)
    if not len(m):
        return f"Revenue per {unit}: no orders."
    peak, last = int(m["revenue"].idxmax()), len(m) - 1
    total = float(m["revenue"].sum())
    returning = float(m["revenue_returning"].sum()) / total if total else float("nan")
    return (f"Stacked bars of revenue per {unit} from new and from returning customers; "
            f"the peak, {fmt.money(m.loc[peak, 'revenue'], currency)}, in "
            f"{_period_label(m, peak, is_month)}; "
            f"{fmt.percent(returning, 0)} of all revenue came from returning customers.")
