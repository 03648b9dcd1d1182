"""One look for every figure: colour-blind-safe colours, readable type, honest axes.

:func:`apply` is called when a plotting module is imported. The palette is Okabe & Ito's
(distinguishable under the common colour-vision deficiencies); sequential maps are
``viridis`` (perceptually uniform, readable in grey), diverging maps ``RdBu`` (no
red-green contrast). Use :func:`integer_ticks` on axes that count periods and
:func:`plain_log_axis` on log axes, so readers see 1, 2, 3 months and 0.1, 1, 10, not
2.5 months or ``10^-1``.
"""
from __future__ import annotations

import matplotlib as mpl
from matplotlib.ticker import FuncFormatter, MaxNLocator

from clm_lib.reporting import PALETTE  # one palette for figures and interactive charts

__all__ = ["PALETTE", "SEQUENTIAL", "DIVERGING", "apply", "integer_ticks", "plain_log_axis"]

#: Colour map for magnitudes (shares, counts, probabilities).
SEQUENTIAL = "viridis"
#: Colour map for signed values around a midpoint.
DIVERGING = "RdBu"


def apply() -> None:
    """Set the workbench's matplotlib defaults (palette, font sizes, light grid)."""
    mpl.rcParams.update({
        "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
        "image.cmap": SEQUENTIAL,
        "font.size": 11,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "xtick.labelsize": 10,
        "ytick.labelsize": 10,
        "legend.fontsize": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "figure.dpi": 100,
    })


def integer_ticks(ax, axis: str = "x"):
    """Ticks on whole numbers only (periods, purchase counts)."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(MaxNLocator(integer=True))
    return ax


def _plain(v, _pos=None) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1:
        return f"{v:,.0f}"
    return f"{v:.{max(1, -int(f'{v:e}'.split('e')[1]))}f}"


def plain_log_axis(ax, axis: str = "y"):
    """Label a log axis with plain numbers (0.1, 1, 10) instead of powers of ten."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(_plain))
    target.set_minor_formatter(FuncFormatter(lambda v, p: ""))
    return ax


apply()
