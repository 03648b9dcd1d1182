"""Checks of the survival study's parameters, each error naming the parameter: the values
before anything is loaded (:func:`check_values`), the columns they name once the durations
are known (:func:`check_columns`).
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from clm_lib.checks import unit_days
from clm_lib.exceptions import MissingColumnsError, ParameterError

__all__ = ["check_values", "check_columns"]


def _number(value, name: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = True, integer: bool = False) -> float:
    """``value`` as a finite number within the bounds, or a ParameterError naming ``name``."""
    kinds = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kinds) or not np.isfinite(value):
        what = "a whole number" if integer else "a number"
        raise ParameterError(f"{name} must be {what}; got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise ParameterError(f"{name} must be {'>' if low_open else '>='} {low:g}; "
                             f"got {value!r}")
    if high is not None and value >= high:
        raise ParameterError(f"{name} must be < {high:g}; got {value!r}")
    return float(value)


def _numbers(value, name: str) -> tuple[float, ...]:
    """A non-empty sequence of numbers > 0, or a ParameterError naming ``name``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not len(value):
        raise ParameterError(f"{name} must be a non-empty list of numbers of periods > 0; "
                             f"got {value!r}")
    return tuple(_number(v, f"{name}[{i}]", low=0) for i, v in enumerate(value))


def check_values(*, time_unit, horizons, risk_thresholds, rmst_horizon, remaining_horizon,
                 discount_rate, holdout_fraction, seed, max_model_customers, hazard_bands,
                 covariates, baselines, margin, revenue) -> dict:
    """The study's parameters checked and normalised (horizons, thresholds and bands as
    tuples of floats), before any data are read.

    Raises
    ------
    ParameterError
        Naming the parameter: an unknown ``time_unit``; ``horizons`` empty or not > 0;
        ``risk_thresholds`` not two increasing probabilities in (0, 1); a horizon, rate,
        fraction or size of the wrong type or out of range; ``covariates`` not a list of
        column names (or None); ``margin``/``revenue`` neither a column name nor a number.
    """
    unit_days(time_unit)
    out = {"horizons": _numbers(horizons, "horizons")}
    if isinstance(risk_thresholds, (str, bytes)) or not isinstance(risk_thresholds, Sequence) \
            or len(risk_thresholds) != 2:
        raise ParameterError(f"risk_thresholds must be two probabilities (medium, high); "
                             f"got {risk_thresholds!r}")
    lo, hi = (_number(v, f"risk_thresholds[{i}]", low=0, high=1)
              for i, v in enumerate(risk_thresholds))
    if not lo < hi:
        raise ParameterError(f"risk_thresholds must be increasing (medium < high); "
                             f"got {list(risk_thresholds)!r}")
    out["risk_thresholds"] = (lo, hi)
    if rmst_horizon is not None:
        _number(rmst_horizon, "rmst_horizon", low=0)
    if remaining_horizon is not None:
        _number(remaining_horizon, "remaining_horizon", low=0)
    _number(discount_rate, "discount_rate", low=0, low_open=False)
    _number(holdout_fraction, "holdout_fraction", low=0, high=1)
    _number(seed, "seed", low=0, low_open=False, integer=True)
    if max_model_customers is not None:
        _number(max_model_customers, "max_model_customers", low=0, integer=True)
    out["hazard_bands"] = None if hazard_bands is None else (
        () if isinstance(hazard_bands, Sequence) and not isinstance(hazard_bands, str)
        and not len(hazard_bands) else _numbers(hazard_bands, "hazard_bands"))
    if covariates is not None and (isinstance(covariates, (str, bytes))
                                   or not isinstance(covariates, Sequence)
                                   or not all(isinstance(c, str) for c in covariates)):
        raise ParameterError(f"covariates must be a list of column names, [] (none) or None "
                             f"(chosen from the columns present); got {covariates!r}")
    if baselines is not None and not hasattr(baselines, "items"):
        raise ParameterError(f"baselines must map a covariate to its reference level; "
                             f"got {baselines!r}")
    for name, v in (("margin", margin), ("revenue", revenue)):
        if v is not None and not isinstance(v, str):
            _number(v, name)
    return out


def check_columns(frame: pd.DataFrame, *, covariates: Sequence[str] | None,
                  segment: str | None, margin, revenue, baselines,
                  reason: str | None = None) -> None:
    """The columns the parameters name exist in the durations.

    Raises
    ------
    MissingColumnsError
        Naming the parameter, the missing column(s) and the columns found.
    ParameterError
        A ``baselines`` entry for a column that is not a covariate.
    """
    found = list(frame.columns)
    named = [("covariates", list(covariates or ())), ("segment", [segment] if segment else []),
             ("margin", [margin] if isinstance(margin, str) else []),
             ("revenue", [revenue] if isinstance(revenue, str) else []),
             ("reason", [reason] if reason else [])]
    for name, cols in named:
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise MissingColumnsError(missing, found, what=f"the durations (parameter {name})")
    if covariates is not None:
        extra = sorted(set(baselines or {}) - set(covariates))
        if extra:
            raise ParameterError(f"baselines names {extra}, which are not covariates "
                                 f"{list(covariates)}")
