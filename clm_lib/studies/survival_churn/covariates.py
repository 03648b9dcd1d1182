"""The covariates of the survival models when the user names none: chosen from the columns
the durations carry, each column left out with the reason.

A column is a candidate unless it is the id, the duration or the event, or was computed by
the study (the purchase-history columns of churn by inactivity), or holds the value basis
(``revenue``/``margin``: a per-period amount the value is computed from). A candidate is
chosen when it is categorical with 2..:data:`MAX_LEVELS` levels or numeric, and left out
when it is a date, mostly missing (more than :data:`MAX_MISSING_SHARE` of the rows),
constant, near-unique (an id), has too many levels, or is numeric and restates the
duration (|Spearman correlation| with it above :data:`MAX_DURATION_SPEARMAN`: Telco's
``TotalCharges`` is about tenure x ``MonthlyCharges``, and would leak the outcome). Last,
a column whose indicators (or values) are a linear combination of those of the columns
chosen before it is left out as collinear: the Cox fit would be singular (Telco's
``OnlineSecurity = No internet service`` is ``InternetService = No``).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = ["MAX_LEVELS", "MAX_MISSING_SHARE", "MAX_DURATION_SPEARMAN", "ID_UNIQUE_SHARE",
           "STUDY_COLUMNS", "CovariateChoice", "choose_covariates"]

#: Most levels of a categorical covariate chosen automatically.
MAX_LEVELS = 20

#: Largest share of missing values of a covariate chosen automatically (its rows with a
#: missing value are dropped, counted, by :func:`.durations.prepare_durations`).
MAX_MISSING_SHARE = 0.2

#: Largest |Spearman correlation| of a numeric covariate with the duration: above it the
#: column restates the duration (e.g. a total accumulated over the tenure).
MAX_DURATION_SPEARMAN = 0.8

#: Share of distinct values from which a text or whole-number column is taken for an id.
ID_UNIQUE_SHARE = 0.95

#: Columns the study itself adds to the durations (never chosen automatically): the
#: canonical ones, and under churn by inactivity the purchase history up to ``as_of``,
#: which is part of the outcome (``first_amount`` and ``first_quantity``, known at the
#: first purchase, can be named in ``covariates``).
STUDY_COLUMNS = ("customer_id", "duration", "event", "first_purchase", "last_purchase",
                 "n_purchases", "total_amount", "first_amount", "first_quantity",
                 "lapse_start", "lapse_return", "n_lapses", "churn_date", "reactivated",
                 "min_duration", "spend_per_period")


class CovariateChoice(NamedTuple):
    """What :func:`choose_covariates` returns."""

    chosen: tuple[str, ...]  #: in the order of the columns
    left_out: dict[str, str]  #: column -> why it was left out


def choose_covariates(durations: pd.DataFrame, *, value_columns: Iterable[str] = ()
                      ) -> CovariateChoice:
    """The covariates of the models, chosen from the columns of ``durations``.

    Parameters
    ----------
    durations : DataFrame
        One row per customer: ``duration`` (periods) and the columns carried from the
        input (see the module docstring for the rules).
    value_columns : iterable of str
        Columns that hold the value basis (``revenue``/``margin``): left out.

    Returns
    -------
    CovariateChoice
        ``chosen`` and ``left_out`` (``{column: reason}``, in words).

    Examples
    --------
    >>> d = pd.DataFrame({"duration": [1.0, 2, 3, 4, 5, 6], "plan": list("ababab"),
    ...                   "total": [10.0, 20, 30, 40, 50, 61], "region": ["x"] * 6})
    >>> c = choose_covariates(d)
    >>> c.chosen, sorted(c.left_out)
    (('plan',), ['region', 'total'])
    """
    value_columns = set(value_columns)
    chosen, left_out = [], {}
    n = len(durations)
    for col in durations.columns:
        if col in STUDY_COLUMNS or str(col).startswith("__clm_"):
            continue
        if col in value_columns:
            left_out[col] = "the value basis (revenue or margin per period), not a covariate"
            continue
        reason = _reason(durations[col], durations["duration"], n)
        if reason is None:
            chosen.append(col)
        else:
            left_out[col] = reason
    kept, blocks = [], [np.ones((n, 1))]  # the intercept
    rank = 1
    for col in chosen:
        block = _columns(durations[col])
        r = int(np.linalg.matrix_rank(np.hstack([*blocks, block])))
        if r < rank + block.shape[1]:
            left_out[col] = ("collinear with the covariates chosen before it (the Cox fit "
                             "would be singular)")
            continue
        kept.append(col)
        blocks.append(block)
        rank = r
    return CovariateChoice(tuple(kept), left_out)


def _columns(s: pd.Series) -> np.ndarray:
    """The design columns ``s`` adds, as the models encode it (indicators of every level
    but one, or the standardised values; missing values as the mean, which is where the
    rows dropped for them would not change the rank)."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        x = s.astype(float)
        x = (x - x.mean()) / (x.std() or 1.0)
        return x.fillna(0.0).to_numpy()[:, None]
    text = s.astype("string")
    levels = sorted(text.dropna().unique())
    return np.column_stack([(text == v).fillna(False).to_numpy(float) for v in levels[1:]])


def _reason(s: pd.Series, duration: pd.Series, n: int) -> str | None:
    """Why ``s`` is not a covariate, or None when it is one."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return "a date"
    missing = float(s.isna().mean()) if n else 1.0
    if missing > MAX_MISSING_SHARE:
        return (f"mostly missing ({missing:.0%} of the rows; at most "
                f"{MAX_MISSING_SHARE:.0%} allowed)")
    present = s.dropna()
    levels = int(present.nunique())
    if levels <= 1:
        return "constant (one value)"
    numeric = (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))
    whole = numeric and bool(np.all(np.mod(present.to_numpy(float), 1) == 0))
    if (not numeric or whole) and levels > MAX_LEVELS and \
            levels >= ID_UNIQUE_SHARE * len(present):
        return f"near-unique ({levels:,} distinct values in {len(present):,} rows: an id)"
    if not numeric:
        if levels > MAX_LEVELS:
            return f"too many levels ({levels:,}; at most {MAX_LEVELS} allowed)"
        return None
    both = pd.concat([s.astype(float), duration.astype(float)], axis=1).dropna()
    rho = float(both.iloc[:, 0].corr(both.iloc[:, 1], method="spearman")) if len(both) > 2 \
        else np.nan
    if np.isfinite(rho) and abs(rho) > MAX_DURATION_SPEARMAN:
        return (f"restates the duration (Spearman correlation {rho:+.2f} with it; more than "
                f"{MAX_DURATION_SPEARMAN:g} in absolute value would leak the outcome)")
    return None
