"""Figures of the CLV study; each draws what :class:`clm_lib.studies.clv.compute.ClvStudy` holds.

Every function has the form ``plot_x(data, *, ax=None, **kwargs) -> Axes``, sets a title
and axis labels with units, and never calls ``plt.show()``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from clm_lib.checks import require_columns as _need
from clm_lib.plotting.style import PALETTE, SEQUENTIAL, integer_ticks, plain_log_axis

__all__ = ["chart_tracking", "chart_track_record", "plot_tracking", "plot_frequency_fit", "plot_conditional_vs_holdout",
           "plot_p_alive_matrix", "plot_clv_distribution"]

#: Colours of what the figures compare: what happened, and what a model expects.
_ACTUAL, _MODEL = "black", PALETTE[0]


def _axes(ax, figsize=(9, 4.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_tracking(tracking: pd.DataFrame, *, ax: Axes | None = None, cumulative: bool = False,
                  time_unit: str = "week", title: str | None = None,
                  model_label: str = "model") -> Axes:
    """Repeat purchases per time unit (or cumulative), actual vs model, with the end of the
    calibration period marked. ``tracking`` is :func:`clm_lib.studies.clv.compute.tracking_data`;
    ``model_label`` names the model in the legend."""
    _need(tracking, ["actual", "predicted", "actual_cumulative", "predicted_cumulative"], "tracking")
    ax = _axes(ax)
    a, p = (("actual_cumulative", "predicted_cumulative") if cumulative else ("actual", "predicted"))
    x = tracking.index.to_numpy()
    ax.plot(x, tracking[a], color=_ACTUAL, label="actual")
    ax.plot(x, tracking[p], color=_MODEL, linestyle="--", label=model_label)
    cal = tracking.attrs.get("calibration_periods")
    if cal is not None:
        ax.axvline(cal, color="grey", linestyle=":", label="end of calibration")
    kind = "cumulative repeat purchases" if cumulative else f"repeat purchases per {time_unit}"
    ax.set_xlabel(f"{time_unit}s since the first acquisition")
    ax.set_ylabel(f"{kind} (purchase days)")
    ax.set_title(title or f"Tracking: {kind}, actual vs model")
    ax.legend(frameon=False)
    integer_ticks(ax, "x")
    return ax


def plot_frequency_fit(table: pd.DataFrame, *, models: dict, ax: Axes | None = None,
                       title: str = "Customers by repeat purchases in calibration, actual vs models") -> Axes:
    """Share of customers with 0, 1, 2, ... repeat purchases, actual (bars) and expected by
    each model (markers). ``table`` is
    :func:`clm_lib.studies.clv.compute.frequency_distribution`; ``models`` maps its model
    columns to legend labels."""
    _need(table, ["actual", *models], "frequency-distribution table")
    ax = _axes(ax, figsize=(9, 4.5))
    x = np.arange(len(table))
    ax.bar(x, 100 * table["actual"], color="lightgrey", edgecolor="black", label="actual")
    for (col, label), marker, colour in zip(models.items(), "osD^v", PALETTE):
        ax.plot(x, 100 * table[col], marker=marker, linestyle="none", color=colour, label=label)
    ax.set_xticks(x, table.index.astype(str))
    ax.set_xlabel("repeat purchases in the calibration period (count)")
    ax.set_ylabel("customers (%)")
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def plot_conditional_vs_holdout(table: pd.DataFrame, *, ax: Axes | None = None,
                                holdout_label: str = "holdout", model_label: str = "predicted",
                                title: str = "Holdout purchases by calibration frequency") -> Axes:
    """Mean holdout purchases per customer by calibration frequency, actual vs predicted
    (:func:`clm_lib.studies.clv.compute.conditional_vs_holdout`); ``model_label`` names the
    model in the legend."""
    _need(table, ["actual", "predicted"], "calibration-vs-holdout table")
    ax = _axes(ax, figsize=(8, 4.5))
    x = np.arange(len(table))
    ax.plot(x, table["actual"], marker="o", color=_ACTUAL, label="actual")
    ax.plot(x, table["predicted"], marker="s", color=_MODEL, linestyle="--", label=model_label)
    ax.set_xticks(x, table.index.astype(str))
    ax.set_xlabel("repeat purchases in the calibration period (count)")
    ax.set_ylabel(f"purchases per customer, {holdout_label}\n(count, mean)")
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def plot_p_alive_matrix(grid: pd.DataFrame, *, ax: Axes | None = None, time_unit: str = "week",
                        title: str | None = None) -> Axes:
    """Heatmap of P(alive) by frequency (rows) and recency (columns)
    (:func:`clm_lib.studies.clv.compute.p_alive_matrix`), on the sequential colour map
    (bright = likely active, dark = likely lost; no red-green contrast)."""
    ax = _axes(ax, figsize=(10, 6))
    # every repeat-purchase count labelled; every other recency (21 labels overlap)
    sns.heatmap(grid.iloc[::-1] * 100, ax=ax, cmap=SEQUENTIAL, vmin=0, vmax=100,
                xticklabels=2, yticklabels=1, cbar_kws={"label": "P(alive) (%)"})
    ax.collections[0].set_edgecolor("face")   # no hairline seams between cells in SVG
    ax.tick_params(axis="x", labelrotation=0)
    ax.grid(False)
    ax.set_xlabel(f"recency: time of last purchase since the first ({time_unit}s)")
    ax.set_ylabel("repeat purchases (count)")
    ax.set_title(title or "Probability that a customer is still active")
    return ax


def plot_clv_distribution(values: pd.DataFrame, *, ax: Axes | None = None, currency: str = "$",
                          horizon: int | None = None, time_unit: str = "week",
                          top_decile: float | None = None, title: str | None = None,
                          value_basis: str = "margin") -> Axes:
    """Histogram of per-customer CLV (log-scaled count axis) with the top-decile threshold
    ``top_decile`` (the 90th percentile of CLV, ``ClvStudy.clv_quantiles["p90"]``) marked.
    ``value_basis``: what the value is, "margin" or "revenue"; ``currency`` "" for none."""
    _need(values, ["clv"], "customer values")
    ax = _axes(ax)
    ax.hist(values["clv"].to_numpy(), bins=60, color=_MODEL, alpha=0.8)
    ax.set_yscale("log")
    plain_log_axis(ax, "y")
    if top_decile is not None:
        ax.axvline(top_decile, color="black", linestyle=":",
                   label=f"top 10 % above {currency or ''}{top_decile:,.0f}")
    span = f" over {horizon} {time_unit}s" if horizon else ""
    unit = f" ({currency or ''})" if currency else ""
    ax.set_xlabel(f"CLV: discounted expected {value_basis}{span}{unit}")
    ax.set_ylabel("customers (count, log scale)")
    ax.set_title(title or "Distribution of customer lifetime value")
    if top_decile is not None:
        ax.legend(frameon=False)
    return ax


def chart_tracking(tracking: pd.DataFrame, *, cumulative: bool = False, time_unit: str = "week",
                   model_label: str = "model", title: str | None = None):
    """The tracking chart, interactive: repeat purchases per time unit (or cumulative),
    actual vs model, the end of the calibration period marked by a rule; hovering shows the
    period, its first day, the actual and the expected purchases.

    ``tracking`` is :func:`clm_lib.studies.clv.compute.tracking_data` (one row per time
    unit: aggregated, a few hundred rows at most). Returns an Altair chart (Vega-Lite 5)
    as wide as its container.
    """
    import altair as alt

    cols = ["start", "actual", "predicted", "actual_cumulative", "predicted_cumulative", "holdout"]
    _need(tracking, cols, "tracking")
    a, p = (("actual_cumulative", "predicted_cumulative") if cumulative else ("actual", "predicted"))
    kind = "cumulative repeat purchases" if cumulative else f"repeat purchases per {time_unit}"
    frame = pd.DataFrame({
        "period": np.asarray(tracking.index, dtype=int),
        "start": pd.to_datetime(tracking["start"]).dt.strftime("%Y-%m-%d"),
        "phase": np.where(tracking["holdout"], "holdout", "calibration"),
        "actual": tracking[a].round(1).to_numpy(), "expected": tracking[p].round(1).to_numpy(),
    })
    long = frame.melt(id_vars=["period", "start", "phase"], value_vars=["actual", "expected"],
                      var_name="series", value_name="purchases")
    long["series"] = long["series"].map({"actual": "actual", "expected": model_label})
    x = alt.X("period:Q", title=f"{time_unit}s since the first acquisition",
              axis=alt.Axis(tickMinStep=1, format="d"))
    colour = alt.Color("series:N", title=None,
                       scale=alt.Scale(domain=["actual", model_label], range=[_ACTUAL, _MODEL]),
                       legend=alt.Legend(orient="top"))
    lines = alt.Chart(long).mark_line().encode(
        x=x, y=alt.Y("purchases:Q", title=f"{kind} (purchase days)"), color=colour,
        # the same legend as the colour (one legend for the two channels of one field)
        strokeDash=alt.StrokeDash("series:N", title=None, legend=alt.Legend(orient="top"),
                                  scale=alt.Scale(domain=["actual", model_label], range=[[1, 0], [6, 3]])))
    hover = alt.selection_point(fields=["period"], nearest=True, on="pointerover", empty=False)
    points = alt.Chart(frame).mark_rule(color="grey", opacity=0.001, strokeWidth=8).encode(
        x=x, tooltip=[alt.Tooltip("period:Q", title=f"{time_unit}s since the first acquisition"),
                      alt.Tooltip("start:N", title="period starts"),
                      alt.Tooltip("phase:N", title="period"),
                      alt.Tooltip("actual:Q", title="actual (purchase days)", format=",.0f"),
                      alt.Tooltip("expected:Q", title=f"expected, {model_label} (purchase days)",
                                  format=",.1f")],
    ).add_params(hover)
    layers = [lines, points]
    cal = tracking.attrs.get("calibration_periods")
    if cal is not None:
        end = pd.DataFrame({"period": [float(cal)], "label": ["end of calibration"]})
        layers.append(alt.Chart(end).mark_rule(color="grey", strokeDash=[2, 2]).encode(
            x="period:Q", tooltip=[alt.Tooltip("label:N", title="marker")]))
        layers.append(alt.Chart(end).mark_text(align="left", dx=4, dy=-130, color="grey").encode(
            x="period:Q", text="label:N"))
    return alt.layer(*layers).properties(
        width="container", height=300,
        title=title or kind[0].upper() + kind[1:])   # short: the chart may be 400 px wide


def chart_track_record(entries, *, name: str = "purchases", unit_label: str = "repeat purchases",
                       title: str | None = None):
    """The track record, interactive: for each earlier run (its as-of date on the x axis),
    the forecast for its window with its predictive interval (a bar) and what happened
    (a black dot); hovering shows the window, the numbers and the error.

    ``entries`` are the scored entries of a track record (``metrics["track_record"]
    ["entries"]``: ``name``, ``as_of``, ``window``, ``predicted``, ``actual``, ``lower``,
    ``upper``, ``error``); only those of forecast ``name`` are drawn. Returns an Altair chart
    (Vega-Lite 5) as wide as its container, or None when there is nothing to draw.
    """
    import altair as alt

    rows = [e for e in entries if e.get("name") == name]
    if not rows:
        return None
    frame = pd.DataFrame({
        "as_of": [e["as_of"] for e in rows],
        "window": [f"{e['window'][0]} to {e['window'][1]}" for e in rows],
        "forecast": [e["predicted"] for e in rows], "actual": [e["actual"] for e in rows],
        "lower": [e.get("lower") if e.get("lower") is not None else e["predicted"] for e in rows],
        "upper": [e.get("upper") if e.get("upper") is not None else e["predicted"] for e in rows],
        "error": [e.get("error") for e in rows],
    })
    x = alt.X("as_of:N", title="forecast made as of", axis=alt.Axis(labelAngle=0))
    tooltip = [alt.Tooltip("as_of:N", title="forecast made as of"),
               alt.Tooltip("window:N", title="window"),
               alt.Tooltip("forecast:Q", title=f"forecast ({unit_label})", format=",.0f"),
               alt.Tooltip("lower:Q", title="interval from", format=",.0f"),
               alt.Tooltip("upper:Q", title="interval to", format=",.0f"),
               alt.Tooltip("actual:Q", title=f"actual ({unit_label})", format=",.0f"),
               alt.Tooltip("error:Q", title="error", format="+.1%")]
    band = alt.Chart(frame).mark_bar(size=18, color=_MODEL, opacity=0.35).encode(
        x=x, y=alt.Y("lower:Q", title=unit_label, scale=alt.Scale(zero=False)),
        y2="upper:Q", tooltip=tooltip)
    tick = alt.Chart(frame).mark_tick(color=_MODEL, thickness=2, size=22).encode(
        x=x, y="forecast:Q", tooltip=tooltip)
    dot = alt.Chart(frame).mark_point(color=_ACTUAL, filled=True, size=70).encode(
        x=x, y="actual:Q", tooltip=tooltip)
    chart = (band + tick + dot).properties(width="container", height=260)
    if title:
        chart = chart.properties(title=title)
    return chart
