"""The study's purchase days, collapsed once and kept in the engine.

The lifecycle study needs the gaps between purchase days, each customer's history at two
dates and the BG/NBD summary at ``as_of``: :meth:`clm_lib.reduce.Engine.purchase_day_gaps`,
:meth:`~clm_lib.reduce.Engine.customer_histories` (twice) and
:meth:`~clm_lib.reduce.Engine.summary_data`. Given transactions, each of those collapses
the log to purchase days again (and, on a lazy loaded table, re-runs the data contract on
the raw file). Here the log is collapsed once, with the gap to the previous purchase day
(:func:`clm_lib.reduce.expressions.with_gaps`), and kept in the engine; the same methods
then read that table (10.6M rows: four passes over the raw log and four collapses became
one of each).
"""
from __future__ import annotations

from contextlib import contextmanager

from clm_lib.reduce import expressions as red

__all__ = ["purchase_days"]


@contextmanager
def purchase_days(eng, transactions):
    """The purchase days of ``transactions`` (``customer_id``, ``day``, ``amount`` summed
    over the day, ``gap`` in days since the customer's previous purchase day, null on the
    first) materialised in ``eng``: an Ibis table for the engine's per-customer methods,
    dropped on exit."""
    t, _ = eng._transactions(transactions, None)   # the engine's one reading rule
    kept = eng.materialize(red.with_gaps(t))
    try:
        yield kept.table
    finally:
        kept.drop()
