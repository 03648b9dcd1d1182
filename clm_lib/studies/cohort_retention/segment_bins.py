"""A numeric segment (value at acquisition, e.g. the CDs of the first purchase) grouped
into labelled bins, with the counts split by segment re-summed per bin.

The engine brings a segment back as text (``"2.0"``), one row per value and key; the
counts of customers, revenue and last-active customers add up over segments (each
customer has one segment), so a bin's counts are the sums over its values.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from clm_lib.checks import require_columns
from clm_lib.exceptions import DataContractError, ParameterError
from clm_lib.studies.cohort_retention.tables import MISSING_SEGMENT

__all__ = ["bin_segment"]

#: Count columns that add up over segments.
_ADDITIVE = ("customers", "revenue", "last_active")


# ---------------------------------------------------------------------------------------
def _num(v: float) -> str:
    return f"{int(v)}" if float(v).is_integer() else f"{v:g}"


def _bin_labels(cuts: list[float], integral: bool, name: str | None) -> list[str]:
    """Labels of the bins ``(-inf, c0), [c0, c1), ..., [c_last, inf)``."""
    pre = f"{name} " if name else ""
    labels = [f"{pre}< {_num(cuts[0])}"]
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        if integral and float(lo).is_integer() and float(hi).is_integer():
            labels.append(f"{pre}{_num(lo)}" if hi - lo == 1
                          else f"{pre}{_num(lo)}–{_num(hi - 1)}")
        else:
            labels.append(f"{_num(lo)} ≤ {name or 'value'} < {_num(hi)}")
    labels.append(f"{pre}≥ {_num(cuts[-1])}")
    return labels


def bin_segment(table: pd.DataFrame, bins, *, name: str | None = None) -> pd.DataFrame:
    """A numeric segment (value at acquisition) grouped into labelled bins, the counts
    re-summed.

    Parameters
    ----------
    table : DataFrame
        Counts split by ``segment`` (text, as the engine brings it back, e.g. ``"2.0"``):
        cohort activity (``segment`` + :data:`.tables.ACTIVITY_COLUMNS`, optionally
        ``cohort`` and ``cohort_size``) or snapshot counts (``segment``, ``tenure``,
        ``churned``, ``customers``). The counts (``customers``, ``revenue``,
        ``last_active``) add up over segments, since each customer has one segment.
    bins : sequence of numbers
        Increasing cut points; ``[1, 2, 3]`` makes the bins ``[1, 2)``, ``[2, 3)``,
        ``[3, inf)``, and ``(-inf, 1)`` if a value lies below the first cut.
    name : str, optional
        The segment's column name, written in the labels.

    Returns
    -------
    The same layout with ``segment`` the bin label and one row per bin and key. Labels:
    when every value in the data is a whole number, ``"quantity 1"``, ``"quantity 2"``,
    ``"quantity 3–4"``, ``"quantity ≥ 5"``, ``"quantity < 1"``; otherwise
    ``"1 ≤ quantity < 2.5"``. Missing values (and ``"(missing)"``) form the bin
    ``"(missing)"``. ``attrs["segment_order"]`` lists the labels present in bin order.

    Raises
    ------
    DataContractError
        A segment value that is not a number (the message gives how many, not which).

    Examples
    --------
    >>> t = pd.DataFrame({"segment": ["1.0", "2.0", "5.0", None], "tenure": 1,
    ...                   "churned": False, "customers": [3, 4, 5, 1]})
    >>> bin_segment(t, [1, 2, 3], name="quantity")["segment"].tolist()
    ['(missing)', 'quantity 1', 'quantity 2', 'quantity ≥ 3']
    """
    require_columns(table, ("segment",), "counts by segment")
    cuts = [float(b) for b in bins]
    if not cuts or any(b >= a for a, b in zip(cuts[1:], cuts[:-1])) or not all(
            math.isfinite(c) for c in cuts):
        raise ParameterError(f"bins must be increasing finite cut points, got {list(bins)}")
    text = table["segment"].astype("string").str.strip()
    missing = text.isna() | (text == MISSING_SEGMENT) | (text == "")
    values = pd.to_numeric(text.where(~missing), errors="coerce")
    bad = ~missing & values.isna()
    if bad.any():
        # counted in customers (at acquisition), not in rows of the count table
        first = table["period"] == 0 if "period" in table.columns else True
        customers = int(table["customers"].where(bad & first, 0).sum())
        raise DataContractError(name or "segment",
                                f"{int(text[bad].nunique())} distinct value(s) are not "
                                "numbers, so segment_bins cannot bin them; counted below in customers",
                                customers)
    v = values.to_numpy(dtype=float)
    integral = bool(np.all(np.mod(v[~np.isnan(v)], 1) == 0))
    labels = _bin_labels(cuts, integral, name)
    idx = np.searchsorted(np.asarray(cuts), v, side="right")  # 0: below the first cut
    seg = np.where(missing.to_numpy(), MISSING_SEGMENT,
                   np.asarray(labels, dtype=object)[np.where(np.isnan(v), 0, idx)])
    additive = [c for c in _ADDITIVE if c in table.columns]
    keys = [c for c in table.columns if c not in ("segment", "cohort_size", *additive)]
    out = (table.assign(segment=seg)
           .groupby(["segment", *keys], as_index=False, sort=True, dropna=False)[additive].sum())
    if "cohort_size" in table.columns and "period" in out.columns:
        size = out.loc[out["period"] == 0].set_index(["segment", "cohort_index"])["customers"]
        out["cohort_size"] = size.reindex(
            pd.MultiIndex.from_frame(out[["segment", "cohort_index"]])).to_numpy()
    out["segment"] = out["segment"].astype("string")
    present = set(out["segment"])
    out = out[[c for c in table.columns if c in out.columns]]
    out.attrs["segment_order"] = [s for s in labels + [MISSING_SEGMENT] if s in present]
    return out
