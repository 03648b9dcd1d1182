"""Orders and the reduced tables behind the customer-base overview (the :class:`Engine`
method).

Rows sharing a customer and an ``order_id`` are one order (earliest timestamp, summed
amount); rows without an ``order_id`` (or without the column) are one order each.
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from clm_lib.exceptions import MissingColumnsError, ParameterError
from clm_lib.reduce import expressions as red

OVERVIEW_PERIODS = ("week", "month", "quarter")


class OrderReductions:
    """The overview method of :class:`clm_lib.reduce.engine.Engine`."""

    def overview_tables(self, source, *, period: str = "month", segment: str | None = None,
                        columns: Mapping[str, str] | None = None) -> dict[str, pd.DataFrame]:
        """The reduced tables behind the customer-base overview, computed in the engine.

        Parameters
        ----------
        source : path, glob, table name, DataFrame or Ibis table
            Transactions; a file or table name is loaded with the data contract, a
            DataFrame or Ibis table is taken as loaded.
        period : {"week", "month", "quarter"}
            Calendar period of the activity table.
        segment : str, optional
            A column of ``source`` to split rows by.

        Returns
        -------
        dict of DataFrames
            ``customers``: one row per customer (indexed by ``customer_id``, sorted):
            ``orders``, ``paid_orders``, ``zero_orders``, ``revenue``, ``first_order``,
            ``last_order``; ``periods``: one row per period with an order (``period``, the
            code of :func:`clm_lib.reduce.periods.period_codes`, sorted):
            ``active_customers``, ``new_customers``, ``orders``, ``revenue``,
            ``revenue_new``; ``gaps``: ``days`` between consecutive distinct purchase days
            and the number of such ``gaps`` (sorted by days); with ``segment``,
            ``segments``: ``segment`` (text, ``<NA>`` for a missing value), ``customers``,
            ``orders``, ``revenue``, ``paid_orders``.
        """
        if period not in OVERVIEW_PERIODS:
            raise ParameterError(f"period must be week, month or quarter, got {period!r}")
        t, _ = self._transactions(source, columns)
        if segment is not None and segment not in t.columns:
            raise MissingColumnsError([segment], list(t.columns), what="transactions")
        # With order ids, forming the orders is a grouping of its own: do it once for the
        # three queries below rather than in each.
        kept = self.materialize(red.orders(t)) if "order_id" in t.columns else None
        try:
            return self._overview_queries(t, red.orders(t) if kept is None else kept.table,
                                          period, segment)
        finally:
            if kept is not None:
                kept.drop()

    def _overview_queries(self, t, o, period: str, segment: str | None) -> dict:
        cust = self.to_pandas(red.customer_orders(o).order_by("customer_id"))
        periods = self.to_pandas(red.period_activity(o, period).rename(period="p")
                                 .order_by("period"))
        gaps = self.to_pandas(red.purchase_day_gaps(o, as_of=None).order_by("days"))
        out = {"customers": cust.set_index("customer_id"), "periods": periods, "gaps": gaps}
        if segment is not None:
            seg = self.to_pandas(red.segment_activity(t, segment).rename(segment="value"))
            seg["segment"] = seg["segment"].astype("string")
            out["segments"] = seg
        return out
