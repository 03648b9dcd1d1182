"""Deprecated names of the old pandas data contract; import them from :mod:`clm_lib.io`.

The contract is written once (:mod:`clm_lib.io.transactions`, ``.subscriptions``,
``.leads``) and runs on the in-process DuckDB; these names lead there, for the modules
not yet moved to :mod:`clm_lib.io` and :mod:`clm_lib.reduce`. This module goes when
nothing imports it any more.
"""
from __future__ import annotations

from clm_lib.checks import TIME_UNITS
from clm_lib.io.contract import NEGATIVE_AMOUNT_POLICIES
from clm_lib.io.load import (
    load_leads,
    load_subscriptions,
    load_transactions,
    read_table,
    validate_file,
)

__all__ = ["read_table", "load_transactions", "load_subscriptions", "subscription_durations",
           "load_leads", "validate_file", "NEGATIVE_AMOUNT_POLICIES", "TIME_UNITS"]


def subscription_durations(subs, *, as_of=None, time_unit: str = "month"):
    """:meth:`clm_lib.reduce.engine.Engine.subscription_durations` on the default engine."""
    from clm_lib.reduce.engine import get_engine

    return get_engine().subscription_durations(subs, as_of=as_of, time_unit=time_unit)
