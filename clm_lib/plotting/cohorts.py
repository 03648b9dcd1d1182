"""Figures of the cohort-retention study; each draws what
:class:`clm_lib.studies.cohort_retention.compute.CohortStudy` holds.

Every function has the form ``plot_x(data, *, ax=None, **kwargs) -> Axes``, sets a title
and axis labels with units (``unit`` is the cohort period: "month", "week", ...), and
never calls ``plt.show()``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from clm_lib.checks import require_columns as _need

__all__ = [
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


def plot_retention_heatmap(rates: pd.DataFrame, *, ax: Axes | None = None,
                           unit: str = "month", title: str = "Retention by cohort",
                           value_label: str = "customers active (% of cohort)",
                           annotate: bool | None = None, vmax: float | None = 1.0) -> Axes:
    """Heatmap of a cohort × k matrix of shares (cohorts as rows; empty = not observable).

    Parameters
    ----------
    rates : DataFrame
        Rows cohorts, columns ``k`` (periods since acquisition), values shares (1 = 100 %).
    vmax : float or None
        Upper end of the colour scale (None: the data's maximum, e.g. revenue retention).
    """
    n_rows, n_cols = rates.shape
    ax = _axes(ax, figsize=(min(2 + 0.55 * n_cols, 16), min(1.5 + 0.35 * n_rows, 12)))
    if annotate is None:
        annotate = n_cols <= 25 and n_rows <= 40
    data = rates.astype(float) * 100
    sns.heatmap(data, ax=ax, cmap="Blues", vmin=0,
                vmax=None if vmax is None else vmax * 100,
                annot=annotate, fmt=".0f", annot_kws={"fontsize": 7},
                cbar_kws={"label": value_label},
                mask=data.isna())
    ax.set_title(title)
    ax.set_xlabel(f"{unit}s since acquisition (k)")
    ax.set_ylabel(f"acquisition cohort ({unit})")
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
    palette = sns.color_palette("viridis", max(len(recent), 1))
    ci = 0
    for lab in labels:
        row = rates.loc[lab].astype(float).dropna()
        if lab in recent:
            ax.plot(row.index, row.to_numpy() * 100, marker="o", ms=3, lw=2,
                    color=palette[ci], label=str(lab))
            ci += 1
        else:
            ax.plot(row.index, row.to_numpy() * 100, color="0.75", lw=1)
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
        ax.legend(fontsize=8, frameon=False)
    return ax


def plot_value_curves(curves: pd.DataFrame, *, ax: Axes | None = None, unit: str = "month",
                      currency: str = "$", highlight: int = 3,
                      title: str = "Cumulative revenue per acquired customer") -> Axes:
    """Cohort value curves: cumulative revenue per acquired customer by ``k``."""
    ax = _axes(ax)
    labels = list(curves.index)
    palette = sns.color_palette("viridis", max(min(highlight, len(labels)), 1))
    recent = labels[-highlight:] if highlight else []
    for lab in labels:
        row = curves.loc[lab].astype(float).dropna()
        if lab in recent:
            ax.plot(row.index, row.to_numpy(), lw=2, marker="o", ms=3,
                    color=palette[recent.index(lab)], label=str(lab))
        else:
            ax.plot(row.index, row.to_numpy(), color="0.75", lw=1)
    ax.set_xlabel(f"{unit}s since acquisition (k)")
    ax.set_ylabel("cumulative revenue per customer" + (f" ({currency or ''})" if currency else ""))
    ax.set_title(title)
    if recent:
        ax.legend(fontsize=8, frameon=False)
    return ax


def plot_churn_rate(churn: pd.DataFrame, *, ax: Axes | None = None, unit: str = "month",
                    title: str = "Churn rate per period") -> Axes:
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
        ax.legend(fontsize=8, frameon=False)
    step = max(1, len(churn) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([str(i) for i in churn.index[::step]], rotation=45, ha="right")
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"{churn.index.name or 'period'} ({unit})")
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
    ax.set_xlabel(f"{unit}s since acquisition (k)")
    ax.set_ylabel("customers (% of cohort)")
    ax.set_title(title or f"{model} retention: fitted to all data, and projected")
    ax.legend(fontsize=8, frameon=False)
    return ax


def plot_segment_curves(segments: pd.DataFrame, *, ax: Axes | None = None, unit: str = "month",
                        title: str = "Average retention by segment") -> Axes:
    """One average retention curve per segment (long table of
    :func:`clm_lib.studies.cohort_retention.compute.retention_by_segment`), with bands where available."""
    _need(segments, ("segment", "k", "retention", "lower", "upper"), "segment curves")
    ax = _axes(ax)
    for i, (val, g) in enumerate(segments.groupby("segment", sort=True)):
        g = g.dropna(subset=["retention"])
        ax.plot(g["k"], g["retention"] * 100, lw=2, color=f"C{i % 10}", label=str(val))
        if g["lower"].notna().any():
            ax.fill_between(g["k"], g["lower"] * 100, g["upper"] * 100, color=f"C{i % 10}",
                            alpha=0.15)
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_xlabel(f"{unit}s since acquisition (k)")
    ax.set_ylabel("customers active (% of cohort)")
    ax.set_title(title)
    ax.legend(fontsize=8, frameon=False, title="segment")
    return ax
