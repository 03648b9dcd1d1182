"""Figures of the cohort-retention study; each draws what
:class:`clm_lib.studies.cohort_retention.compute.CohortStudy` holds.

Every function has the form ``plot_x(data, *, ax=None, **kwargs) -> Axes``, sets a title
and axis labels with units (``unit`` is the cohort period: "month", "week", ...), and
never calls ``plt.show()``. Colours are the workbench's colour-blind-safe ones
(:mod:`clm_lib.plotting.style`); axes that count periods have whole-number ticks.
:func:`chart_retention_curves` is the interactive (Vega-Lite) version of the curves.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from clm_lib.checks import require_columns as _need
from clm_lib.plotting.style import PALETTE, SEQUENTIAL, integer_ticks

__all__ = [
    "chart_retention_curves",
    "plot_churn_rate",
    "plot_retention_curves",
    "plot_retention_heatmap",
    "plot_retention_projection",
    "plot_segment_curves",
    "plot_value_curves",
]


def _axes(ax: Axes | None, figsize=(9, 4.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_retention_heatmap(rates: pd.DataFrame, *, sizes: pd.Series | None = None,
                           ax: Axes | None = None, unit: str = "month",
                           title: str = "Retention by cohort",
                           value_label: str = "customers active (% of cohort)",
                           annotate: bool | None = None, vmax: float | None = None) -> Axes:
    """Heatmap of a cohort × k matrix of shares (cohorts as rows; empty = not observable),
    from ``k = 1`` on.

    ``k = 0`` is left out: it is 100 % by definition for retention (and for revenue
    retention), and drawn it would set the colour scale, so that every later cell looked
    alike. The cohort sizes stand beside the rows instead, when given.

    Parameters
    ----------
    rates : DataFrame
        Rows cohorts, columns ``k`` (periods since acquisition), values shares (1 = 100 %).
    sizes : Series, optional
        Customers acquired per cohort (same index), written after the cohort labels.
    annotate : bool, optional
        Write the percentages in the cells; by default only when the matrix is small
        enough for them to be read (at most 18 columns and 30 rows).
    vmax : float or None
        Upper end of the colour scale as a share; None: the largest shown cell.
    """
    data = rates.astype(float) * 100
    if len(data.columns) > 1 and data.columns[0] == 0:
        data = data.drop(columns=data.columns[0])
    n_rows, n_cols = data.shape
    ax = _axes(ax, figsize=(min(3.5 + 0.6 * n_cols, 14), min(max(3.2, 1.8 + 0.42 * n_rows), 12)))
    if annotate is None:
        annotate = n_cols <= 18 and n_rows <= 30
    top = np.nanmax(data.to_numpy()) if np.isfinite(data.to_numpy()).any() else 100.0
    labels = [str(c) for c in data.index]
    if sizes is not None:
        labels = [f"{c}  (n = {int(sizes[c]):,})" for c in data.index]
    sns.heatmap(data, ax=ax, cmap=SEQUENTIAL, vmin=0,
                vmax=top if vmax is None else vmax * 100,
                annot=annotate, fmt=".0f", annot_kws={"fontsize": 9},
                cbar_kws={"label": value_label}, mask=data.isna(),
                yticklabels=labels, xticklabels="auto")
    ax.tick_params(axis="y", rotation=0)
    ax.set_title(title)
    ax.set_xlabel(f"{unit}s since acquisition (k; k = 0 left out)")
    ax.set_ylabel(f"cohort ({unit}; customers)" if sizes is not None else f"acquisition cohort ({unit})")
    return ax


def plot_retention_curves(rates: pd.DataFrame, *, ax: Axes | None = None, unit: str = "month",
                          highlight: int = 3, average: pd.DataFrame | None = None,
                          title: str = "Retention curves by cohort",
                          ylabel: str = "customers active (% of cohort)") -> Axes:
    """One line per cohort; the ``highlight`` most recent cohorts in colour, the others
    grey; optionally the average curve (``retention``, ``lower``, ``upper`` by ``k``)
    with its band."""
    ax = _axes(ax)
    labels = list(rates.index)
    recent = set(labels[-highlight:]) if highlight else set()
    palette = PALETTE
    ci = 0
    for lab in labels:
        row = rates.loc[lab].astype(float).dropna()
        if lab in recent:
            ax.plot(row.index, row.to_numpy() * 100, marker="o", ms=3, lw=2,
                    color=palette[ci], label=str(lab))
            ci += 1
        else:
            ax.plot(row.index, row.to_numpy() * 100, color="0.75", lw=1)
    integer_ticks(ax)
    if average is not None:
        _need(average, ("retention", "lower", "upper"), "average retention")
        ax.plot(average.index, average["retention"] * 100, color="black", lw=2,
                ls="--", label="average (size-weighted)")
        ax.fill_between(average.index, average["lower"] * 100, average["upper"] * 100,
                        color="black", alpha=0.12, label="95% band")
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_xlabel(f"{unit}s since acquisition (k)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if recent or average is not None:
        ax.legend(fontsize=9, frameon=False)
    return ax


def plot_value_curves(curves: pd.DataFrame, *, ax: Axes | None = None, unit: str = "month",
                      currency: str = "$", highlight: int = 3,
                      title: str = "Cumulative revenue per acquired customer") -> Axes:
    """Cohort value curves: cumulative revenue per acquired customer by ``k``."""
    ax = _axes(ax)
    labels = list(curves.index)
    palette = PALETTE
    recent = labels[-highlight:] if highlight else []
    for lab in labels:
        row = curves.loc[lab].astype(float).dropna()
        if lab in recent:
            ax.plot(row.index, row.to_numpy(), lw=2, marker="o", ms=3,
                    color=palette[recent.index(lab)], label=str(lab))
        else:
            ax.plot(row.index, row.to_numpy(), color="0.75", lw=1)
    integer_ticks(ax)
    ax.set_xlabel(f"{unit}s since acquisition (k)")
    ax.set_ylabel("cumulative revenue per customer" + (f" ({currency or ''})" if currency else ""))
    ax.set_title(title)
    if recent:
        ax.legend(fontsize=9, frameon=False)
    return ax


def plot_churn_rate(churn: pd.DataFrame, *, ax: Axes | None = None, unit: str = "month",
                    title: str = "Churn rate per period", xlabel: str | None = None) -> Axes:
    """Churn rate (lost / active at start) per calendar period (or tenure period);
    periods flagged ``provisional`` (window not over: upper bounds) are drawn hollow on a
    dashed line and named in the legend."""
    _need(churn, ("churn_rate",), "churn rate table")
    ax = _axes(ax)
    x = np.arange(len(churn))
    y = churn["churn_rate"].to_numpy(dtype=float) * 100
    prov = (churn["provisional"].to_numpy(dtype=bool) if "provisional" in churn.columns
            else np.zeros(len(churn), dtype=bool))
    settled = ~prov
    ax.plot(x[settled], y[settled], marker="o", ms=3, color="C0", label="settled")
    if prov.any():
        i = np.flatnonzero(prov)
        j = np.r_[i[0] - 1, i] if i[0] > 0 else i  # join to the last settled point
        ax.plot(x[j], y[j], ls="--", color="C0", lw=1)
        ax.plot(x[i], y[i], ls="none", marker="o", ms=5, mfc="white", color="C0",
                label="provisional (window not over: upper bound)")
        ax.legend(fontsize=9, frameon=False)
    step = max(1, len(churn) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([str(i) for i in churn.index[::step]], rotation=45, ha="right")
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_ylim(bottom=0)
    ax.set_xlabel(xlabel or f"{churn.index.name or 'period'} ({unit})")
    ax.set_ylabel(f"customers lost in the {unit} (% of active at start)")
    ax.set_title(title)
    return ax


def plot_retention_projection(table: pd.DataFrame, *, ax: Axes | None = None,
                              unit: str = "month", model: str = "sBG",
                              fitted_label: str = "still active (model)",
                              actual_label: str = "actual (pooled cohorts)",
                              title: str | None = None) -> Axes:
    """A retention model's curve with its parameter band against the pooled actual
    figures (with their band when given); the observed range is shaded
    (``CohortStudy.fit_table``: ``actual``, ``fitted``, ``lower``, ``upper``,
    ``in_fit``, optional ``actual_lower``/``actual_upper``)."""
    _need(table, ("actual", "fitted", "lower", "upper", "in_fit"), "retention model table")
    ax = _axes(ax)
    k = table.index.to_numpy()
    ax.plot(k, table["fitted"] * 100, color="C1", lw=2, label=f"{model}: {fitted_label}")
    if table["lower"].notna().any():
        ax.fill_between(k, table["lower"] * 100, table["upper"] * 100, color="C1", alpha=0.2,
                        label="95% parameter band")
    ax.plot(k, table["actual"] * 100, color="C0", marker="o", ms=3, lw=1, label=actual_label)
    if {"actual_lower", "actual_upper"} <= set(table.columns) \
            and table["actual_lower"].notna().any():
        ax.fill_between(k, table["actual_lower"] * 100, table["actual_upper"] * 100,
                        color="C0", alpha=0.12, label="95% band of the actual")
    fit_k = k[table["in_fit"].to_numpy(dtype=bool)]
    if len(fit_k):
        ax.axvspan(fit_k.min(), fit_k.max(), color="0.9", zorder=0,
                   label="observed (beyond: projection)")
    ax.yaxis.set_major_formatter(PercentFormatter())
    top = np.nanmax(np.r_[table["upper"].to_numpy(dtype=float),
                          table["actual"].to_numpy(dtype=float)]) * 100
    ax.set_ylim(0, min(105, 1.15 * top) if np.isfinite(top) and top > 0 else 105)
    integer_ticks(ax)
    ax.set_xlabel(f"{unit}s since acquisition (k)")
    ax.set_ylabel("customers (% of cohort)")
    ax.set_title(title or f"{model} retention: fitted to all data, and projected")
    ax.legend(fontsize=9, frameon=False)
    return ax


def plot_segment_curves(segments: pd.DataFrame, *, ax: Axes | None = None, unit: str = "month",
                        title: str = "Average retention by segment") -> Axes:
    """One average retention curve per segment (long table of
    :func:`clm_lib.studies.cohort_retention.compute.retention_by_segment`), with bands where available."""
    _need(segments, ("segment", "k", "retention", "lower", "upper"), "segment curves")
    ax = _axes(ax)
    for i, (val, g) in enumerate(segments.groupby("segment", sort=True)):
        g = g.dropna(subset=["retention"])
        ax.plot(g["k"], g["retention"] * 100, lw=2, color=PALETTE[i % len(PALETTE)],
                label=str(val))
        if g["lower"].notna().any():
            ax.fill_between(g["k"], g["lower"] * 100, g["upper"] * 100,
                            color=PALETTE[i % len(PALETTE)],
                            alpha=0.15)
    ax.yaxis.set_major_formatter(PercentFormatter())
    integer_ticks(ax)
    ax.set_xlabel(f"{unit}s since acquisition (k)")
    ax.set_ylabel("customers active (% of cohort)")
    ax.set_title(title)
    ax.legend(fontsize=9, frameon=False, title="segment")
    return ax


#: Rows an interactive chart may carry (the page holds its data inline).
CHART_ROWS = 4000
AVERAGE_LABEL = "average (size-weighted)"


def chart_retention_curves(rates: pd.DataFrame, counts: pd.DataFrame, *,
                           average: pd.DataFrame | None = None, unit: str = "month",
                           title: str = "Retention curves by cohort",
                           share_label: str = "customers active (% of cohort)"):
    """Interactive retention curves: the share of each cohort active ``k`` periods after
    acquisition, one line per cohort and the size-weighted average, from ``k = 1`` on
    (``k = 0`` is 100 % by definition and would squeeze every later share to the bottom);
    hovering a point shows the cohort, ``k``, the share and the customers behind it;
    clicking a cohort in the legend picks it out.

    Parameters
    ----------
    rates, counts : DataFrame
        Cohorts × ``k`` shares (1 = 100 %) and the customer counts behind them (NaN: not
        observable), e.g. ``bounded_rates`` and ``bounded_counts``.
    average : DataFrame, optional
        ``retention`` and ``customers`` (cohort sizes summed) by ``k``
        (:func:`~clm_lib.studies.cohort_retention.tables.average_retention`); drawn
        dashed when there are two cohorts or more.

    Returns
    -------
    altair.Chart
        Aggregated data only: at most :data:`CHART_ROWS` rows (the newest cohorts are kept
        when there are more).
    """
    import altair as alt

    long = (rates.rename_axis(index="cohort", columns="k").stack().rename("share").to_frame()
            .join(counts.rename_axis(index="cohort", columns="k").stack().rename("customers"))
            .reset_index().dropna(subset=["share"]))
    long = long.loc[long["k"] >= 1]
    long["cohort"] = long["cohort"].astype(str)
    long["series"] = "cohort"
    order = [str(c) for c in rates.index]
    if len(long) > CHART_ROWS:   # keep the newest cohorts that fit
        keep, n = [], 0
        for c in reversed(order):
            n += int((long["cohort"] == c).sum())
            if n > CHART_ROWS:
                break
            keep.append(c)
        order = keep[::-1]
        long = long.loc[long["cohort"].isin(order)]
    if average is not None and len(rates) >= 2:
        _need(average, ("retention", "customers"), "average retention")
        avg = average.dropna(subset=["retention"])
        avg = avg.loc[avg.index >= 1]
        long = pd.concat([long, pd.DataFrame({
            "cohort": AVERAGE_LABEL, "k": avg.index.to_numpy(dtype=int),
            "share": avg["retention"].to_numpy(dtype=float),
            "customers": np.round(avg["retention"] * avg["customers"]).to_numpy(),
            "series": "average"})], ignore_index=True)
        order = order + [AVERAGE_LABEL]
    long["k"] = long["k"].astype(int)
    long["customers"] = long["customers"].round().astype("Int64")
    colours = (list(PALETTE[: len(order) - 1]) + ["#000000"] if len(order) <= len(PALETTE)
               else None)
    scale = (alt.Scale(domain=order, range=colours) if colours
             else alt.Scale(scheme=SEQUENTIAL, domain=order))
    period = f"{unit}s since acquisition"
    pick = alt.selection_point(fields=["cohort"], bind="legend")
    return (alt.Chart(long, title=title)
            .mark_line(point=True, strokeWidth=2)
            .add_params(pick)
            .encode(
                x=alt.X("k:Q", title=f"{period} (k)",
                        axis=alt.Axis(format="d", tickMinStep=1),
                        scale=alt.Scale(domain=[1, int(long["k"].max())], nice=False)),
                y=alt.Y("share:Q", title=share_label, axis=alt.Axis(format="%"),
                        scale=alt.Scale(zero=True)),
                opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
                color=alt.Color("cohort:N", sort=order, scale=scale,
                                legend=alt.Legend(title=f"cohort ({unit})")),
                strokeDash=alt.StrokeDash("series:N", legend=None,
                                          scale=alt.Scale(domain=["cohort", "average"],
                                                          range=[[1, 0], [6, 4]])),
                tooltip=[alt.Tooltip("cohort:N", title=f"cohort ({unit})"),
                         alt.Tooltip("k:Q", title=period, format="d"),
                         alt.Tooltip("share:Q", title="share active", format=".1%"),
                         alt.Tooltip("customers:Q", title="customers active", format=",")])
            .properties(width="container", height=300))
