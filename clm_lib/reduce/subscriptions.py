"""Subscription durations for survival analysis (the :class:`Engine` method)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from clm_lib.checks import TIME_UNITS, unit_days
from clm_lib.exceptions import DataContractError, MissingColumnsError, ParameterError
from clm_lib.io.sources import _ibis
from clm_lib.reduce import expressions as red
from clm_lib.reduce.customers import instant

INTERVAL = ("customer_id", "start", "end")
SNAPSHOT = ("customer_id", "tenure", "churned")


class SubscriptionReductions:
    """The subscription methods of :class:`clm_lib.reduce.engine.Engine`."""

    def subscription_durations(self, source, *, as_of=None, time_unit: str = "month",
                               columns: Mapping[str, str] | None = None,
                               date_format: str | None = None,
                               churn_values: Mapping[Any, bool] | None = None,
                               encoding: str | None = None,
                               delimiter: str | None = None) -> pd.DataFrame:
        """Duration and event indicator per subscription.

        Parameters
        ----------
        source : path, table name, DataFrame or Ibis table
            Interval form (``customer_id``, ``start``, ``end``; null end = active) or
            snapshot form (``customer_id``, ``tenure``, ``churned`` boolean), after
            ``columns``. Other columns are carried along as covariates. A path or table
            name is loaded with the data contract (:meth:`load_subscriptions`): bad rows
            are dropped and counted. A DataFrame or Ibis table is taken as loaded: a bad
            row is an error.
        as_of : date-like, optional
            Interval form: end of observation (a date alone means the whole day),
            required when some subscription is active; ends after it are censored at it.
        time_unit : {"day", "week", "month", "year"}
            Interval form: unit of ``duration`` (a month is 365.25/12 days). The snapshot
            form passes ``tenure`` through: its unit is that of the data.
        date_format, churn_values, encoding, delimiter
            Passed to :meth:`load_subscriptions` when a path or table name is loaded.

        Returns
        -------
        DataFrame ``customer_id``, ``duration`` (float, >= 0), ``event`` (bool: True =
        ended, False = censored), covariates; sorted by customer, then start and end;
        ``attrs["data_quality"]`` (the loading record, a dict) when a path was loaded.

        Examples
        --------
        >>> from clm_lib.reduce import get_engine
        >>> subs = pd.DataFrame({"customer_id": ["a"], "start": pd.to_datetime(["2020-01-01"]),
        ...                      "end": pd.to_datetime(["2020-01-08"])})
        >>> d = get_engine().subscription_durations(subs, time_unit="week")
        >>> float(d["duration"].iloc[0]), bool(d["event"].iloc[0])
        (1.0, True)
        """
        unit = unit_days(time_unit, tuple(TIME_UNITS))
        dq = None
        if isinstance(source, (str, os.PathLike)):
            source, dq = self.load_subscriptions(source, columns, as_of=as_of,
                                                 date_format=date_format,
                                                 churn_values=churn_values,
                                                 encoding=encoding, delimiter=delimiter)
            columns = None
        t = self.table(source, columns, required=("customer_id",), what="subscriptions")
        cols = [c for c in t.columns if not c.startswith("__clm_")]
        if {"start", "end"} <= set(cols):
            expr, order = self._intervals(t, cols, as_of=as_of, unit=unit, loaded=dq is not None)
        elif {"tenure", "churned"} <= set(cols):
            covs = [c for c in cols if c not in (*SNAPSHOT, "duration", "event")]
            expr = t.select(customer_id=t.customer_id.cast("string"),
                            duration=t.tenure.cast("float64"), event=t.churned.cast("boolean"),
                            **{c: t[c] for c in covs})
            order = ["customer_id"]
            if dq is None:
                bad = int(t.filter(t.tenure.isnull() | (t.tenure < 0)).count().execute())
                if bad:
                    raise DataContractError("tenure", "missing or negative tenure", bad)
        else:
            raise MissingColumnsError(["start", "end"], cols,
                                      what="subscriptions (interval form needs customer_id, "
                                           "start, end; snapshot form customer_id, tenure, "
                                           "churned)")
        ibis = _ibis()
        out = self.to_pandas(expr.order_by([ibis.asc(c, nulls_first=False) for c in order])
                             ).drop(columns=order[1:])
        if dq is not None:
            out.attrs["data_quality"] = dq.to_dict()
        return out

    def _intervals(self, t, cols, *, as_of, unit: float, loaded: bool):
        """The durations expression of interval-form subscriptions and its sort keys,
        after refusing rows that break the interval contract (unless loaded with it)."""
        a = None if as_of is None else instant(as_of)
        if loaded and a is not None:
            v = {}  # loaded with the contract: the violations were dropped and counted
        else:
            v = self.to_pandas(red.interval_violations(t, as_of=a)).iloc[0].fillna(0)
            v = {k: int(x) for k, x in v.items()}
        if v.get("missing_start"):
            raise DataContractError("start", "missing start date", v["missing_start"])
        if a is None and v.get("active"):
            raise ParameterError(f"as_of is required: {v['active']} subscription(s) are "
                                 "active (no end) and need an observation end")
        if v.get("start_after_as_of"):
            raise DataContractError("start", "subscription starts after as_of",
                                    v["start_after_as_of"])
        if v.get("end_before_start"):
            raise DataContractError("end", "end before start", v["end_before_start"])
        covs = [c for c in cols if c not in (*INTERVAL, "duration", "event")]
        # a customer's spells in start (then end) order, as the loader sorts them
        t = t.mutate(__clm_start=t.start.cast("timestamp"), __clm_end=t.end.cast("timestamp"))
        order = ["customer_id", "__clm_start", "__clm_end"]
        return red.interval_durations(t, as_of=a, unit_days=unit,
                                      covariates=covs + order[1:]), order
