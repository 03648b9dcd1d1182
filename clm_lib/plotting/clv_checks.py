"""Figures of the CLV model checks; each draws what
:func:`clm_lib.studies.clv.checks.model_checks` returns and computes nothing.

``plot_x(data, *, ax=None, **kwargs) -> Axes``; titles and axis labels with units; never
``plt.show()``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clm_lib.checks import require_columns as _need
from clm_lib.plotting.clv import _ACTUAL, _MODEL, _axes

__all__ = ["plot_holdout_bands"]


def plot_holdout_bands(bands: pd.DataFrame, *, ax: Axes | None = None, model_label: str = "model",
                       band_label: str | None = None, holdout_label: str = "holdout",
                       title: str = "Holdout purchases by calibration frequency") -> Axes:
    """Mean holdout purchases per customer by calibration frequency: actual (points), the
    model's expectation (line) and its predictive band of the group mean (shaded);
    ``bands`` is :func:`clm_lib.studies.clv.checks.holdout_bands` (the band's legend names
    the level in ``bands.attrs["level"]`` unless ``band_label`` is given)."""
    _need(bands, ["actual", "expected", "lower", "upper"], "holdout-bands table")
    ax = _axes(ax, figsize=(8, 4.5))
    if band_label is None:
        level = bands.attrs.get("level")
        band_label = "predictive band of the mean" if level is None else f"{level:.0%} predictive band of the mean"
    x = np.arange(len(bands))
    ax.fill_between(x, bands["lower"], bands["upper"], color=_MODEL, alpha=0.2, label=band_label)
    ax.plot(x, bands["expected"], color=_MODEL, linestyle="--", marker="s", label=f"{model_label}, expected")
    ax.plot(x, bands["actual"], color=_ACTUAL, linestyle="none", marker="o", label="actual")
    ax.set_xticks(x, bands.index.astype(str))
    ax.set_xlabel("repeat purchases in the calibration period (count)")
    ax.set_ylabel(f"purchases per customer, {holdout_label}\n(count, mean)")
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax
