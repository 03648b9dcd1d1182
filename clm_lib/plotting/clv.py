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

__all__ = ["plot_tracking", "plot_frequency_fit", "plot_conditional_vs_holdout", "plot_p_alive_matrix",
           "plot_clv_distribution"]


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
    ax.plot(x, tracking[a], color="black", label="actual")
    ax.plot(x, tracking[p], color="tab:blue", linestyle="--", label=model_label)
    cal = tracking.attrs.get("calibration_periods")
    if cal is not None:
        ax.axvline(cal, color="grey", linestyle=":", label="end of calibration")
    kind = "cumulative repeat purchases" if cumulative else f"repeat purchases per {time_unit}"
    ax.set_xlabel(f"{time_unit}s since the first acquisition")
    ax.set_ylabel(f"{kind} (purchase days)")
    ax.set_title(title or f"Tracking: {kind}, actual vs model")
    ax.legend(frameon=False)
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
    for (col, label), marker in zip(models.items(), "osD^v"):
        ax.plot(x, 100 * table[col], marker=marker, linestyle="none", label=label)
    ax.set_xticks(x, table.index.astype(str))
    ax.set_xlabel("repeat purchases in the calibration period (count)")
    ax.set_ylabel("customers (%)")
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def plot_conditional_vs_holdout(table: pd.DataFrame, *, ax: Axes | None = None,
                                holdout_label: str = "holdout",
                                title: str = "Holdout purchases by calibration frequency") -> Axes:
    """Mean holdout purchases per customer by calibration frequency, actual vs predicted
    (:func:`clm_lib.studies.clv.compute.conditional_vs_holdout`)."""
    _need(table, ["actual", "predicted"], "calibration-vs-holdout table")
    ax = _axes(ax, figsize=(8, 4.5))
    x = np.arange(len(table))
    ax.plot(x, table["actual"], marker="o", color="black", label="actual")
    ax.plot(x, table["predicted"], marker="s", color="tab:blue", linestyle="--", label="predicted")
    ax.set_xticks(x, table.index.astype(str))
    ax.set_xlabel("repeat purchases in the calibration period (count)")
    ax.set_ylabel(f"mean purchases per customer in the {holdout_label} (count)")
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def plot_p_alive_matrix(grid: pd.DataFrame, *, ax: Axes | None = None, time_unit: str = "week",
                        title: str | None = None) -> Axes:
    """Heatmap of P(alive) by frequency (rows) and recency (columns)
    (:func:`clm_lib.studies.clv.compute.p_alive_matrix`)."""
    ax = _axes(ax, figsize=(10, 6))
    sns.heatmap(grid.iloc[::-1] * 100, ax=ax, cmap="RdYlGn", vmin=0, vmax=100,
                cbar_kws={"label": "P(alive) (%)"})
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
    ax.hist(values["clv"].to_numpy(), bins=60, color="tab:blue", alpha=0.8)
    ax.set_yscale("log")
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
