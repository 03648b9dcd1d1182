"""Figures of the survival churn study; each draws what
:class:`clm_lib.studies.survival_churn.compute.SurvivalStudy` holds.

Every ``plot_x(data, *, ax=None, **kwargs) -> Axes`` sets a title and axis labels with
units and never calls ``plt.show()``. The ``*_figure(result)`` functions lay out the
report's figures (size, titles from :mod:`clm_lib.studies.survival_churn.report`) and
return the closed :class:`~matplotlib.figure.Figure`, ready for ``display``.
"""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from clm_lib import format as fmt
from clm_lib.checks import require_columns as _need
from clm_lib.plotting.style import PALETTE, integer_ticks, plain_log_axis

__all__ = [
    "plot_km_curves",
    "plot_hazard_ratios",
    "plot_calibration",
    "plot_risk_tiers",
    "plot_value_by_segment",
    "km_figure",
    "hazard_ratio_figure",
    "calibration_figure",
    "risk_tier_figure",
    "value_figures",
    "km_chart_data",
    "chart_km",
]

#: Risk tiers in the colour-blind-safe palette (blue, orange, vermillion; no red-green
#: pair), the tier also named under each bar.
_TIER_COLOURS = {"low": PALETTE[0], "medium": PALETTE[1], "high": PALETTE[3]}
#: Points per curve above which the interactive chart reads the curve on a grid.
MAX_CHART_POINTS = 400


def _axes(ax: Axes | None, figsize=(9, 5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_km_curves(kmfs: Mapping, *, ax: Axes | None = None, time_unit: str = "month",
                   ci: bool = True, at_risk: bool = True, include_all: bool | None = None,
                   title: str = "Share of customers still active (Kaplan-Meier)") -> Axes:
    """Kaplan-Meier curves with confidence bands and an at-risk table below the axes.

    Parameters
    ----------
    kmfs : mapping name -> fitted ``KaplanMeierFitter`` (:func:`clm_lib.studies.survival_churn.km.kaplan_meier`)
    include_all : bool, optional
        Draw the "All" curve; default: only when it is the sole curve.
    """
    ax = _axes(ax)
    items = dict(kmfs)
    if include_all is None:
        include_all = len(items) == 1
    if not include_all and len(items) > 1:
        items.pop("All", None)
    for kmf in items.values():
        kmf.plot_survival_function(ax=ax, ci_show=ci)
    if at_risk:
        from lifelines.plotting import add_at_risk_counts

        add_at_risk_counts(*items.values(), ax=ax, rows_to_show=["At risk"])
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    integer_ticks(ax, "x")
    ax.set_xlabel(f"Time since start ({time_unit}s)")
    ax.set_ylabel("Still active (% of customers)")
    ax.set_title(title)
    ax.legend(title=None, loc="lower left")
    return ax


def plot_hazard_ratios(hr: pd.DataFrame, *, ax: Axes | None = None,
                       title: str = "Hazard ratios of churn (Cox model, 95 % intervals)") -> Axes:
    """Forest plot of hazard ratios on a log scale, reference line at 1.

    ``hr`` is :func:`clm_lib.studies.survival_churn.models.hazard_ratio_table` (``hr``, ``ci_low``, ``ci_high``).
    """
    _need(hr, ["hr", "ci_low", "ci_high"], "hazard-ratio table")
    ax = _axes(ax, figsize=(8, 0.45 * len(hr) + 1.5))
    y = np.arange(len(hr))[::-1]
    err = np.vstack([hr["hr"] - hr["ci_low"], hr["ci_high"] - hr["hr"]])
    colours = np.where(hr["hr"] > 1, PALETTE[3], PALETTE[0])
    ax.errorbar(hr["hr"], y, xerr=err, fmt="none", ecolor="grey", capsize=3)
    ax.scatter(hr["hr"], y, c=colours, zorder=3)
    ax.axvline(1.0, color="black", lw=1, ls="--")
    ax.set_xscale("log")
    plain_log_axis(ax, "x")  # 0.1, 1, 10, not 10^-1
    ax.set_yticks(y)
    ax.set_yticklabels([str(i) for i in hr.index])
    ax.set_xlabel("Hazard ratio vs baseline (log scale; > 1 = churns faster)")
    ax.set_ylabel("Covariate")
    ax.set_title(title)
    return ax


def plot_calibration(cal: pd.DataFrame, *, ax: Axes | None = None, time_unit: str = "month",
                     title: str = "Calibration on the holdout: predicted vs observed churn"
                     ) -> Axes:
    """Predicted vs observed (Kaplan-Meier) churn by risk bin, one series per horizon.

    ``cal`` is :func:`clm_lib.studies.survival_churn.validation.calibration_table`.
    """
    _need(cal, ["horizon", "predicted", "observed"], "calibration table")
    ax = _axes(ax, figsize=(6, 6))
    top = float(max(cal["predicted"].max(), cal["observed"].max(), 0.01)) * 1.05
    ax.plot([0, top], [0, top], color="black", lw=1, ls="--", label="perfect calibration")
    for h, g in cal.groupby("horizon", sort=True):
        ax.plot(g["predicted"], g["observed"], marker="o",
                label=f"within {h:g} {time_unit}{'s' if h != 1 else ''}")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("Predicted churn probability (% of customers, mean of bin)")
    ax.set_ylabel("Observed churn (% of customers, Kaplan-Meier)")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return ax


def plot_risk_tiers(risk: pd.DataFrame, *, ax: Axes | None = None, horizon_label: str = "",
                    title: str = "Active customers by churn-risk tier") -> Axes:
    """Bar chart of active customers per risk tier (``risk_tier`` column of the risk table)."""
    _need(risk, ["risk_tier"], "risk table")
    ax = _axes(ax, figsize=(6, 4))
    counts = risk["risk_tier"].value_counts(sort=False)
    order = [t for t in ("low", "medium", "high") if t in counts.index]
    counts = counts.reindex(order)
    bars = ax.bar(order, counts.to_numpy(), color=[_TIER_COLOURS[t] for t in order])
    ax.bar_label(bars, labels=[f"{int(v):,}" for v in counts.to_numpy()])
    integer_ticks(ax, "y")
    ax.set_xlabel(f"Risk tier{(' (' + horizon_label + ')') if horizon_label else ''}")
    ax.set_ylabel("Active customers (count)")
    ax.set_title(title)
    return ax


def plot_value_by_segment(value: pd.DataFrame, *, ax: Axes | None = None,
                          currency: str = "", time_unit: str = "month", basis: str = "margin",
                          horizon: float | None = None,
                          title: str = "Expected remaining value per active customer") -> Axes:
    """Mean discounted remaining value per active customer, by segment.

    ``value`` is :func:`clm_lib.studies.survival_churn.risk.segment_value` (``mean_value`` column).
    """
    _need(value, ["mean_value"], "segment value table")
    ax = _axes(ax, figsize=(7, 4))
    v = value["mean_value"].sort_values()
    ax.barh([str(i) for i in v.index], v.to_numpy(), color=PALETTE[0])
    over = "" if horizon is None else f" over the next {horizon:g} {time_unit}s"
    ax.set_xlabel(f"Discounted {basis}{over} per customer ({currency or 'currency of the data'}; "
                  f"{basis} per {time_unit} x survival)")
    ax.set_ylabel("Segment")
    ax.set_title(title)
    return ax


# ------------------------------------------------------------------ the report's figures
def _done(fig: Figure) -> Figure:
    fig.tight_layout()
    plt.close(fig)  # shown once, by display(), not again when the cell ends
    return fig


def km_figure(result) -> Figure:
    """Kaplan-Meier curves of every segment value (or of all customers)."""
    fig, ax = plt.subplots(figsize=(10, 6))
    plot_km_curves(result.km_fits, ax=ax, time_unit=result.time_unit)
    return _done(fig)


def hazard_ratio_figure(result) -> Figure:
    """Forest plot of the Cox model's hazard ratios."""
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(result.hazard_ratios) + 1.8))
    plot_hazard_ratios(result.hazard_ratios, ax=ax)
    return _done(fig)


def calibration_figure(result) -> Figure:
    """Calibration of the selected model on the holdout."""
    from clm_lib.studies.survival_churn.report import calibration_title

    fig, ax = plt.subplots(figsize=(6, 6))
    plot_calibration(result.calibration, ax=ax, time_unit=result.time_unit,
                     title=calibration_title(result))
    return _done(fig)


def risk_tier_figure(result) -> Figure:
    """Active customers per risk tier."""
    from clm_lib.studies.survival_churn.report import risk_tier_label

    fig, ax = plt.subplots(figsize=(6, 4))
    plot_risk_tiers(result.risk, ax=ax, horizon_label=risk_tier_label(result))
    return _done(fig)


def value_figures(result) -> list[Figure]:
    """The value-by-segment figure, when the study has a segment and a margin (else none)."""
    if result.value is None or "mean_value" not in result.value:
        return []
    fig, ax = plt.subplots(figsize=(7, 4))
    plot_value_by_segment(result.value, ax=ax, time_unit=result.time_unit,
                          basis=result.value_basis or "value", currency=result.currency or "",
                          horizon=result.remaining_horizon,
                          title=f"Expected discounted {result.value_basis or 'value'} per active "
                                "customer")
    return [_done(fig)]


# ------------------------------------------------------------------ the interactive chart
def km_chart_data(result) -> pd.DataFrame:
    """The Kaplan-Meier curves as rows for :func:`chart_km`: one row per curve and time
    (the curve's own step times, or a grid of :data:`MAX_CHART_POINTS` times when it has
    more), with the share still active, its 95 % band, the customers still at risk and
    the same values as text for the tooltip.

    Columns: ``curve``, ``time`` (periods), ``survival``, ``lower``, ``upper`` (shares
    0-1), ``at_risk`` (customers), ``time_text``, ``survival_text``, ``band_text``,
    ``at_risk_text``.
    """
    unit = result.time_unit
    fits = dict(result.km_fits)
    if len(fits) > 1:
        fits.pop("All", None)
    d = result.durations
    rows = []
    for name, kmf in fits.items():
        times = np.asarray(kmf.timeline, dtype=float)
        if len(times) > MAX_CHART_POINTS:
            times = np.unique(np.concatenate([[0.0], np.linspace(0, times.max(), MAX_CHART_POINTS)]))
        sf = kmf.survival_function_at_times(times).to_numpy()
        ci = kmf.confidence_interval_survival_function_
        band = ci.reindex(ci.index.union(times)).ffill().loc[times].to_numpy()
        who = d["duration"] if name == "All" else d.loc[d[result.segment].astype(str) == str(name),
                                                        "duration"]
        dur = np.sort(who.to_numpy(dtype=float))
        at_risk = len(dur) - np.searchsorted(dur, times, side="left")
        rows.append(pd.DataFrame({"curve": str(name), "time": times, "survival": sf,
                                  "lower": band[:, 0], "upper": band[:, 1],
                                  "at_risk": at_risk.astype(int)}))
    out = pd.concat(rows, ignore_index=True)
    out["time_text"] = [f"{fmt.number(t, 0 if float(t).is_integer() else 1)} "
                        f"{unit}{'' if t == 1 else 's'}" for t in out["time"]]
    out["survival_text"] = [fmt.percent(v) for v in out["survival"]]
    out["band_text"] = [f"{fmt.percent(lo)} to {fmt.percent(hi)}"
                        for lo, hi in zip(out["lower"], out["upper"])]
    out["at_risk_text"] = [fmt.count(v) for v in out["at_risk"]]
    return out


def chart_km(result):
    """The report's main chart: Kaplan-Meier step curves by segment (or of all customers)
    with their 95 % bands; hovering shows the segment, the time, the share still active,
    its band and the customers at risk. An Altair layered chart (Vega-Lite 5), aggregated
    data only (:func:`km_chart_data`)."""
    import altair as alt

    data = km_chart_data(result)
    unit = result.time_unit
    legend = result.segment or "Customers"
    curves = list(dict.fromkeys(data["curve"]))
    colour = alt.Color("curve:N", title=legend, sort=curves,
                       scale=alt.Scale(domain=curves, range=PALETTE[:len(curves)] if
                                       len(curves) <= len(PALETTE) else None))
    x = alt.X("time:Q", title=f"{unit.capitalize()}s since start",
              scale=alt.Scale(domain=[0, float(data["time"].max())], nice=False),
              axis=alt.Axis(tickMinStep=1, format="d"))
    y = alt.Y("survival:Q", title="Still active (% of customers)",
              scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"))
    tooltip = [alt.Tooltip("curve:N", title=legend),
               alt.Tooltip("time_text:N", title=f"{unit.capitalize()}s since start"),
               alt.Tooltip("survival_text:N", title="Still active"),
               alt.Tooltip("band_text:N", title="95 % interval"),
               alt.Tooltip("at_risk_text:N", title="Customers at risk")]
    base = alt.Chart(data)
    band = base.mark_area(opacity=0.18, interpolate="step-after").encode(
        x=x, y=alt.Y("lower:Q", scale=alt.Scale(domain=[0, 1])), y2="upper:Q", color=colour)
    line = base.mark_line(interpolate="step-after", strokeWidth=2).encode(
        x=x, y=y, color=colour)
    hover = base.mark_point(size=80, opacity=0, filled=True).encode(
        x=x, y=y, color=colour, tooltip=tooltip)
    return (alt.layer(band, line, hover)
            .properties(width="container", height=300,
                        title="Share of customers still active (Kaplan-Meier, 95 % bands)")
            .configure_legend(orient="bottom"))
