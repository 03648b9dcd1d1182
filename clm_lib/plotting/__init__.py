"""Plotting: one module per study; functions draw what compute functions return.

Every function has the form ``plot_x(data, *, ax=None, **kwargs) -> Axes`` and sets a
title and axis labels with units; none computes a model or calls ``plt.show()``.
Importing any of them applies the shared look (:mod:`clm_lib.plotting.style`).
"""
from clm_lib.plotting import style as _style  # noqa: F401  (sets the matplotlib defaults)
