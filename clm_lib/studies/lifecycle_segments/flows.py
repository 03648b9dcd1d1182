"""Flows between lifecycle stages: the stage of every customer at two dates, as a
transition matrix and as headline counts."""
from __future__ import annotations

import pandas as pd

from clm_lib.checks import require_columns as _need
from clm_lib.exceptions import ParameterError
from clm_lib.studies.lifecycle_segments.stages import NOT_YET, STAGES

__all__ = ["default_flow_start", "transition_matrix", "flow_counts"]


def default_flow_start(as_of, months: int = 6) -> str:
    """``as_of`` minus ``months`` calendar months (ISO date).

    >>> default_flow_start("2020-12-31")
    '2020-06-30'
    """
    return str((pd.Timestamp(as_of) - pd.DateOffset(months=months)).date())


def transition_matrix(start: pd.DataFrame, end: pd.DataFrame) -> pd.DataFrame:
    """Customers by stage at the first date (rows) and at the second (columns).

    ``start`` and ``end`` are stages (``stage`` column, indexed by customer) from
    :func:`~clm_lib.studies.lifecycle_segments.stages.customer_stages`. Customers acquired
    between the dates form the row ``"not yet a customer"``; each other row sums to the
    stage's count at the first date.
    """
    _need(start, ["stage"], "stages at the first date")
    _need(end, ["stage"], "stages at the second date")
    s = start["stage"].astype(object).reindex(end.index).fillna(NOT_YET)
    missing = start.index.difference(end.index)
    if len(missing):
        raise ParameterError(f"{len(missing)} customers at the first date are missing at the second; "
                             "the second date must not precede the first")
    rows = [NOT_YET] + list(STAGES)
    m = pd.crosstab(pd.Categorical(s, categories=rows), end["stage"], dropna=False)
    m = m.reindex(index=rows, columns=list(STAGES), fill_value=0).astype(int)
    m.index.name, m.columns.name = "from", "to"
    m.attrs.update({"start": start.attrs.get("date"), "end": end.attrs.get("date")})
    return m


def flow_counts(matrix: pd.DataFrame) -> dict:
    """Headline flows from a :func:`transition_matrix` (customers)."""
    def cell(a, b):
        return int(matrix.loc[a, b]) if a in matrix.index and b in matrix.columns else 0
    active = ["active repeat", "loyal/VIP", "reactivated"]
    return {
        "new became repeat": sum(cell("new", b) for b in ("active repeat", "loyal/VIP")),
        "new became one-time buyers": cell("new", "one-time buyer"),
        "active became at risk or lapsed": sum(cell(a, b) for a in active for b in ("at risk", "lapsed")),
        "at risk became lapsed": cell("at risk", "lapsed"),
        # any move out of "lapsed" needs a purchase after a gap longer than lapsed_days
        "lapsed were reactivated": sum(cell("lapsed", b) for b in STAGES if b != "lapsed"),
        "newly acquired": int(matrix.loc[NOT_YET].sum()) if NOT_YET in matrix.index else 0,
    }
