"""Forest-style figure of the differences in retention between segments; draws what
:func:`clm_lib.studies.cohort_retention.differences.segment_differences` returns.

``plot_x(data, *, ax=None, **kwargs) -> Axes``, title and axis labels with units, no
``plt.show()``; colours from :mod:`clm_lib.plotting.style`.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from clm_lib.checks import require_columns as _need
from clm_lib.plotting.style import PALETTE, integer_ticks

__all__ = ["plot_segment_differences"]


def plot_segment_differences(differences: pd.DataFrame, *, ax: Axes | None = None,
                             unit: str = "month", snapshot: bool = False,
                             title: str | None = None) -> Axes:
    """Difference in retention (percentage points) with its interval at each ``k``, one
    colour per segment pair, around a zero line; filled markers are "real" after Holm's
    correction, open ones "noise at this size".

    Parameters
    ----------
    differences : DataFrame
        ``segment``, ``reference``, ``k``, ``difference``, ``lower``, ``upper``, ``verdict``
        (shares: 0.061 = 6.1 points).
    unit : str
        The period of ``k``.
    snapshot : bool
        ``k`` is tenure (snapshot subscriptions), not periods since acquisition.
    """
    _need(differences, ("segment", "reference", "k", "difference", "lower", "upper",
                        "verdict"), "segment differences")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    pairs = differences[["segment", "reference"]].drop_duplicates().to_numpy().tolist()
    width = 0.6
    offsets = (np.linspace(-width / 2, width / 2, len(pairs)) if len(pairs) > 1
               else np.zeros(1))
    handles = []
    for i, ((seg, ref), off) in enumerate(zip(pairs, offsets)):
        g = differences.loc[(differences["segment"] == seg) & (differences["reference"] == ref)]
        colour = PALETTE[i % len(PALETTE)]
        x = g["k"].to_numpy(dtype=float) + off
        y = g["difference"].to_numpy(dtype=float) * 100
        err = np.vstack([y - g["lower"].to_numpy(dtype=float) * 100,
                         g["upper"].to_numpy(dtype=float) * 100 - y])
        ax.errorbar(x, y, yerr=err, fmt="none", ecolor=colour, elinewidth=1.5, capsize=2)
        real = (g["verdict"] == "real").to_numpy()
        ax.scatter(x[real], y[real], color=colour, s=28, zorder=3)
        ax.scatter(x[~real], y[~real], facecolor="white", edgecolor=colour, s=28, zorder=3)
        handles.append(Line2D([], [], color=colour, marker="o", lw=1.5,
                              label=f"{seg} − {ref}"))
    handles += [Line2D([], [], color="0.3", marker="o", lw=0, label="real (Holm)"),
                Line2D([], [], color="0.3", marker="o", lw=0, markerfacecolor="white",
                       label="noise at this size")]
    ax.axhline(0, color="0.2", lw=1)
    ks = np.unique(differences["k"].to_numpy(dtype=int))
    if len(ks) <= 15:
        ax.set_xticks(ks)  # ticks at the k compared (e.g. 6, 12, 24 months of tenure)
    else:
        integer_ticks(ax)
    ax.set_xlabel(f"tenure ({unit}s, k)" if snapshot else f"{unit}s since acquisition (k)")
    ax.set_ylabel("difference in retention (percentage points)")
    ax.set_title(title or "Difference in retention between segments, with intervals")
    ax.legend(handles=handles, fontsize=9, frameon=False)
    return ax
