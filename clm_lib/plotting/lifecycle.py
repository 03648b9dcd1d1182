"""Figures of the lifecycle and segments study; each draws a table of
:class:`~clm_lib.studies.lifecycle_segments.compute.LifecycleStudy`.
``plot_x(data, *, ax=None, **kwargs) -> Axes``, titles and axis labels with units, never
``plt.show()``. The what-if and the leads exist only when the models were fitted or leads
given: their plots draw nothing and return None when given None.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.patches import Polygon
from matplotlib.ticker import PercentFormatter

from clm_lib import format as fmt
from clm_lib.checks import require_columns as _need
from clm_lib.plotting.style import PALETTE, SEQUENTIAL, integer_ticks

__all__ = ["chart_stages", "plot_stage_counts", "plot_transition_matrix", "plot_flows", "plot_rfm_segments",
           "plot_ladder", "plot_time_to_second_purchase", "plot_what_if", "plot_conversion",
           "plot_funnel_periods"]


def _axes(ax, figsize=(9, 4.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _share_bars(table: pd.DataFrame, cols: dict, ax: Axes, title: str, ylabel: str) -> Axes:
    n, k = len(table), len(cols)
    x = np.arange(n)
    width = 0.8 / k
    for i, (col, label) in enumerate(cols.items()):
        vals = table[col].fillna(0).to_numpy(float) * 100
        bars = ax.bar(x + (i - (k - 1) / 2) * width, vals, width, label=label)
        ax.bar_label(bars, labels=[f"{v:.0f}" for v in vals], fontsize=7, padding=1)
    ax.set_xticks(x, [str(s) for s in table.index], rotation=20, ha="right")
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax


#: The shares the stage chart compares, with their legend names.
_SHARES = {"customer_share": "customers", "revenue_share": "revenue to date",
           "clv_share": "expected value"}


def chart_stages(stage_summary: pd.DataFrame, *, currency: str | None = None,
                 value_label: str = "expected value", title: str | None = None):
    """Interactive grouped bars: the share of customers, of revenue to date and (when
    present) of expected value in each lifecycle stage; hovering a bar shows the stage,
    its customers, revenue, expected value and the share.

    Parameters
    ----------
    stage_summary : DataFrame
        Indexed by stage: ``customers``, ``customer_share``, ``revenue``,
        ``revenue_share`` and optionally ``clv``, ``clv_share`` (currency, fractions).
    currency : str, optional
        Shown with the amounts in the tooltips.
    value_label : str
        What ``clv`` is, e.g. "expected margin, next 52 weeks".

    Returns
    -------
    altair.Chart
        One row per stage and share (at most 7 x 3 rows).
    """
    import altair as alt

    _need(stage_summary, ["customers", "customer_share", "revenue", "revenue_share"],
          "stage summary")
    shares = {k: v for k, v in _SHARES.items() if k in stage_summary}
    valued = "clv" in stage_summary
    rows = []
    for stage, r in stage_summary.iterrows():
        for col, name in shares.items():
            row = {"stage": str(stage), "measure": f"share of {name}",
                   "share": float(r[col]) if pd.notna(r[col]) else 0.0,
                   "share_text": fmt.percent(r[col]),
                   "customers": fmt.count(r["customers"]),
                   "revenue": fmt.money(r["revenue"], currency)}
            if valued:
                row["value"] = fmt.money(r["clv"], currency)
            rows.append(row)
    data = pd.DataFrame(rows)
    order = [str(s) for s in stage_summary.index]
    measures = [f"share of {n}" for n in shares.values()]
    tips = [alt.Tooltip("stage:N", title="stage"), alt.Tooltip("measure:N", title="bar"),
            alt.Tooltip("share_text:N", title="share"),
            alt.Tooltip("customers:N", title="customers"),
            alt.Tooltip("revenue:N", title="revenue to date")]
    if valued:
        tips.append(alt.Tooltip("value:N", title=value_label))
    return alt.Chart(data, title=title or "Lifecycle stages: share of customers, revenue and value").mark_bar().encode(
        x=alt.X("stage:N", sort=order, title="lifecycle stage", axis=alt.Axis(labelAngle=-30)),
        xOffset=alt.XOffset("measure:N", sort=measures),
        y=alt.Y("share:Q", title="share of the total (%)", axis=alt.Axis(format="%")),
        color=alt.Color("measure:N", sort=measures, title=None,
                        scale=alt.Scale(domain=measures, range=PALETTE[:len(measures)]),
                        legend=alt.Legend(orient="top")),
        tooltip=tips,
    ).properties(width="container", height=300)


def plot_stage_counts(stage_summary: pd.DataFrame, *, ax: Axes | None = None,
                      title: str = "Lifecycle stages: share of customers, revenue and value") -> Axes:
    """Grouped bars of ``customer_share``, ``revenue_share`` (and ``clv_share``) by stage."""
    _need(stage_summary, ["customer_share", "revenue_share"], "stage summary")
    cols = {"customer_share": "customers", "revenue_share": "revenue to date"}
    if "clv_share" in stage_summary:
        cols["clv_share"] = "expected value (CLV)"
    return _share_bars(stage_summary, cols, _axes(ax), title, "share (%)")


def plot_rfm_segments(segments: pd.DataFrame, *, ax: Axes | None = None,
                      title: str = "RFM segments: share of customers, revenue and value") -> Axes:
    """Grouped bars of ``customer_share``, ``revenue_share`` (and ``clv_share``) by segment."""
    _need(segments, ["customer_share", "revenue_share"], "segment table")
    cols = {"customer_share": "customers", "revenue_share": "revenue to date"}
    if "clv_share" in segments:
        cols["clv_share"] = "expected value (CLV)"
    return _share_bars(segments, cols, _axes(ax), title, "share (%)")


def plot_transition_matrix(matrix: pd.DataFrame, *, ax: Axes | None = None,
                           title: str = "Stage transitions (customers)") -> Axes:
    """Heatmap of a transition matrix (rows: stage at the first date, columns: at the second),
    annotated with customer counts; colours are row shares."""
    ax = _axes(ax, figsize=(9, 5.5))
    m = matrix.astype(float)
    share = m.div(m.sum(axis=1).replace(0, np.nan), axis=0).fillna(0) * 100
    sns.heatmap(share, ax=ax, cmap=SEQUENTIAL, vmin=0, vmax=100, annot=matrix.to_numpy(), fmt=",d",
                annot_kws={"fontsize": 8}, cbar_kws={"label": "share of the row (%)"})
    ax.tick_params(axis="x", labelrotation=25)
    for lab in ax.get_xticklabels():
        lab.set_horizontalalignment("right")
    ax.set_xlabel(f"stage at {matrix.attrs.get('end', 'the second date')}")
    ax.set_ylabel(f"stage at {matrix.attrs.get('start', 'the first date')}")
    ax.set_title(title)
    return ax


def plot_flows(matrix: pd.DataFrame, *, ax: Axes | None = None, start_label: str = "first date",
               end_label: str = "second date", title: str = "Customer flows between stages",
               hide_stayed: tuple = ("lapsed",)) -> Axes:
    """Flow chart: stacked stage bars at both dates joined by bands whose width is the number
    of customers moving (an alluvial diagram of
    :func:`~clm_lib.studies.lifecycle_segments.flows.transition_matrix`).

    Customers in a stage of ``hide_stayed`` at both dates (by default those lapsed
    throughout, who would dwarf every flow) are not drawn; the title says how many.
    """
    ax = _axes(ax, figsize=(9, 6))
    m = matrix.astype(float).copy()
    out_tot, in_tot = m.sum(axis=1), m.sum(axis=0)
    hidden = 0
    for st in hide_stayed:
        if st in m.index and st in m.columns:
            hidden += int(m.loc[st, st])
            m.loc[st, st] = 0.0
    if hidden:
        title = f"{title}\n({hidden:,} customers {' / '.join(hide_stayed)} at both dates not drawn)"
    rows = [r for r in m.index if m.loc[r].sum() > 0]
    cols = [c for c in m.columns if m[c].sum() > 0]
    total = m.to_numpy().sum()
    if total <= 0:
        ax.set_title(title)
        return ax
    gap = 0.01 * total
    palette = dict(zip(list(dict.fromkeys(list(m.index) + list(m.columns))),
                       [PALETTE[i % len(PALETTE)] for i in range(len(set(m.index) | set(m.columns)))]))
    x0, x1, w = 0.0, 1.0, 0.08

    def stack(names, sizes):
        pos, y = {}, 0.0
        for n in names:
            pos[n] = y
            y += sizes[n] + gap
        return pos
    left = stack(rows, m.sum(axis=1))
    right = stack(cols, m.sum(axis=0))
    lo, ro = dict(left), dict(right)
    for r in rows:
        for c in cols:
            v = m.loc[r, c]
            if v <= 0:
                continue
            y0, y1 = lo[r], ro[c]
            xs = np.linspace(x0 + w, x1 - w, 30)
            s = (1 - np.cos(np.pi * (xs - xs[0]) / (xs[-1] - xs[0]))) / 2
            top = y0 + (y1 - y0) * s
            ax.fill_between(xs, top, top + v, color=palette[r], alpha=0.35, lw=0)
            lo[r] += v
            ro[c] += v
    for names, pos, sizes, x, ha, tot in ((rows, left, m.sum(axis=1), x0, "right", out_tot),
                                          (cols, right, m.sum(axis=0), x1, "left", in_tot)):
        for n in names:
            ax.add_patch(Polygon([(x - w if ha == "left" else x, pos[n]),
                                  (x if ha == "left" else x + w, pos[n]),
                                  (x if ha == "left" else x + w, pos[n] + sizes[n]),
                                  (x - w if ha == "left" else x, pos[n] + sizes[n])],
                                 color=palette[n]))
            tx = x - 0.01 if ha == "right" else x + 0.01
            label = f"{n} ({tot[n]:,.0f}"
            label += f", {tot[n] - sizes[n]:,.0f} not drawn)" if tot[n] > sizes[n] else ")"
            ax.text(tx, pos[n] + sizes[n] / 2, label, ha=ha, va="center", fontsize=8)
    ax.set_xlim(-0.65, 1.6)
    height = max(max(pos[n] + sizes[n] for n in names) for names, pos, sizes in
                 ((rows, left, m.sum(axis=1)), (cols, right, m.sum(axis=0))))
    ax.set_ylim(height + total * 0.02, -total * 0.02)
    ax.set_xticks([x0 + w / 2, x1 - w / 2], [start_label, end_label])
    ax.set_yticks([])
    ax.set_ylabel("customers (band height = number of customers)")
    for s in ("left", "right", "top"):
        ax.spines[s].set_visible(False)
    ax.set_title(title)
    return ax


def plot_ladder(ladder: pd.DataFrame, *, ax: Axes | None = None,
                title: str = "Repeat ladder: chance of one more purchase day") -> Axes:
    """Bars of ``p_next`` = P(k+1 | k) by ``k`` (index)."""
    _need(ladder, ["p_next"], "ladder")
    ax = _axes(ax)
    vals = ladder["p_next"].to_numpy(float) * 100
    bars = ax.bar([str(k) for k in ladder.index], vals, color=PALETTE[0])
    ax.bar_label(bars, labels=[f"{v:.0f}%" for v in vals], fontsize=8)
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_xlabel("k = purchase days so far")
    ax.set_ylabel("P(k+1 purchase days | k) (%)")
    ax.set_title(title)
    return ax


def plot_time_to_second_purchase(kmf, *, ax: Axes | None = None, time_unit: str = "week",
                                 title: str = "Time to second purchase (Kaplan-Meier)") -> Axes:
    """Share of first-time buyers who made a second purchase by time t (1 - KM survival)."""
    ax = _axes(ax)
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_
    t = sf.index.to_numpy(float)
    ax.step(t, (1 - sf.to_numpy()) * 100, where="post", label="made a 2nd purchase")
    ax.fill_between(t, (1 - ci.iloc[:, 1].to_numpy()) * 100, (1 - ci.iloc[:, 0].to_numpy()) * 100,
                    step="post", alpha=0.25, label="95% interval")
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_xlabel(f"{time_unit}s since first purchase")
    integer_ticks(ax)
    ax.set_ylabel("first-time buyers with a 2nd purchase (%)")
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def plot_what_if(what_if: pd.DataFrame | None, *, ax: Axes | None = None, currency: str = "$",
                 horizon: int | None = None, time_unit: str = "week",
                 title: str = "Value of lowering churn, under both readings",
                 value_basis: str = "margin") -> Axes | None:
    """Bars of the value change by churn reduction (index, percentage points; 0 left out),
    one bar per assumption (``value_change_<assumption>``, the shown one, ``attrs["shown"]``,
    first) with the interval (``_lower`` / ``_upper``) as error bars; a table with only
    ``value_change`` gives one bar per point. None for no table (value models not fitted).
    ``value_basis``: "margin" or "revenue" (no margin given); ``currency`` "" for none."""
    if what_if is None:
        return None
    _need(what_if, ["value_change", "value_change_pct"], "what-if table")
    ax = _axes(ax, figsize=(9, 4.5))
    w = what_if.loc[what_if.index > 0]
    shown = what_if.attrs.get("shown")
    names = [a for a in ("absolute", "proportional") if f"value_change_{a}" in w]
    names = sorted(names, key=lambda a: a != shown) or [None]
    x = np.arange(len(w))
    width = 0.8 / len(names)
    colours = (PALETTE[2], PALETTE[7])
    for i, name in enumerate(names):
        sfx = f"_{name}" if name else ""
        v = w[f"value_change{sfx}"].to_numpy(dtype=float)
        pct = w[f"value_change_pct{sfx}"].to_numpy(dtype=float)
        err = None
        if f"value_change{sfx}_lower" in w:
            lo = w[f"value_change{sfx}_lower"].to_numpy(dtype=float)
            hi = w[f"value_change{sfx}_upper"].to_numpy(dtype=float)
            err = np.nan_to_num(np.vstack([v - lo, hi - v]))
        label = (f"{name} cut" + (" (shown)" if name == shown else "")) if name else None
        bars = ax.bar(x + (i - (len(names) - 1) / 2) * width, np.nan_to_num(v), width, yerr=err,
                      capsize=3, color=colours[i % 2], label=label)
        ax.bar_label(bars, labels=["–" if np.isnan(a) else f"{currency or ''}{a:,.0f} ({p:+.1%})"
                                   for a, p in zip(v, pct)], fontsize=8, padding=2)
    ax.set_xticks(x, [f"−{p:g} pt" for p in w.index])
    h = f" over {horizon} {time_unit}s" if horizon else ""
    ax.set_xlabel("churn reduction (percentage points of the dropout probability after a purchase)")
    ax.set_ylabel(f"extra discounted {value_basis}" + (f" ({currency or ''})" if currency else "") + h)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    if names != [None]:
        drawn = any(f"value_change_{n}_lower" in w for n in names)
        ax.legend(frameon=False, loc="upper left",
                  title=(f"error bars: {what_if.attrs.get('level', 0.9):.0%} interval "
                         "(parameter uncertainty)" if drawn else None))
    ax.set_title(title)
    ax.margins(y=0.15)
    return ax


def plot_conversion(kms: dict | None, *, ax: Axes | None = None, time_unit: str = "day",
                    max_time: float | None = None,
                    title: str = "Time to conversion by lead source (Kaplan-Meier)") -> Axes | None:
    """Cumulative conversion (1 - KM) per source; ``kms`` as from ``leads_conversion``
    (``LifecycleStudy.leads_km``); None for no fitters (no leads). ``max_time``: the x axis
    ends there (time units; None: the longest follow-up)."""
    if kms is None:
        return None
    ax = _axes(ax)
    for name, kmf in kms.items():
        sf = kmf.survival_function_.iloc[:, 0]
        ax.step(sf.index.to_numpy(float), (1 - sf.to_numpy()) * 100, where="post", label=str(name),
                lw=2.5 if name == "All" else 1.5)
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_xlabel(f"{time_unit}s since the lead was created")
    integer_ticks(ax)
    ax.set_ylabel("leads converted (%)")
    if max_time is not None:
        ax.set_xlim(0, max_time)
    ax.set_title(title)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def plot_funnel_periods(by_period: pd.DataFrame | None, *, ax: Axes | None = None,
                        window_days: int = 30, level: float = 0.95, period: str = "month",
                        title: str | None = None) -> Axes | None:
    """The share of leads converted within ``window_days`` per creation period, with its
    interval; periods that are not complete (``complete`` False) are shaded and carry no
    point. ``by_period`` as ``LeadFunnel.by_period``; None draws nothing."""
    if by_period is None:
        return None
    _need(by_period, ["complete", "window_rate", "window_rate_lower", "window_rate_upper"],
          "funnel by period")
    ax = _axes(ax)
    x = np.arange(len(by_period))
    r = by_period["window_rate"].to_numpy(float) * 100
    lo = by_period["window_rate_lower"].to_numpy(float) * 100
    hi = by_period["window_rate_upper"].to_numpy(float) * 100
    ok = ~np.isnan(r)
    ax.errorbar(x[ok], r[ok], yerr=[r[ok] - lo[ok], hi[ok] - r[ok]], fmt="o", color=PALETTE[0],
                ecolor=PALETTE[0], elinewidth=1, capsize=2, ms=4,
                label=f"converted within {window_days} days ({fmt.percent(level, 0)} interval)")
    open_ = np.flatnonzero(~by_period["complete"].to_numpy(bool))
    if len(open_):
        ax.axvspan(open_.min() - 0.5, open_.max() + 0.5, color="0.85", zorder=0,
                   label="not complete: window not over")
    ax.set_xlim(-0.5, len(x) - 0.5)
    step = max(1, int(np.ceil(len(x) / 12)))
    ax.set_xticks(x[::step], [str(p) for p in by_period.index[::step]], rotation=30, ha="right")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_xlabel(f"creation {period}")
    ax.set_ylabel(f"leads converted within {window_days} days (%)")
    ax.set_title(title or f"Lead conversion within {window_days} days by creation {period}")
    ax.legend(frameon=False, loc="lower left", fontsize=8)
    return ax
