"""Acquisition cohorts: customer periods, cohort x k activity, churn counts and the
retention matrices built from them (the :class:`Engine` methods and one pandas step on
the small cohort x k table).

A customer's cohort is the calendar period (``cohort_period``: ISO weeks from Monday,
months, quarters, years; codes of :mod:`clm_lib.reduce.periods`) of the first purchase;
``k`` counts calendar periods since then. Only periods complete by ``as_of`` (inclusive)
are used, so customers acquired in an incomplete period are left out.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from clm_lib.exceptions import InsufficientDataError, MissingColumnsError, ParameterError
from clm_lib.io.sources import _ibis
from clm_lib.reduce import expressions as red
from clm_lib.reduce.customers import day
from clm_lib.reduce.periods import check_period, last_complete_period, period_labels


def retention_matrices(activity: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Cohort x k matrices from :meth:`CohortReductions.cohort_activity` (small, in pandas).

    Parameters
    ----------
    activity : DataFrame
        ``cohort``, ``cohort_index``, ``period``, ``customers``, ``revenue``,
        ``last_active``; ``attrs["last_complete_period"]``.

    Returns
    -------
    dict with ``"bounded"`` (customers active in exactly period k), ``"unbounded"``
    (active in k or later), ``"revenue"`` (revenue in period k): DataFrames indexed by
    cohort label, columns k = 0, 1, ..., float, cells not observable by ``as_of`` NaN
    (never 0); and ``"sizes"`` (customers per cohort).
    """
    need = ["cohort", "cohort_index", "period", "customers", "revenue", "last_active"]
    missing = [c for c in need if c not in activity.columns]
    if missing:
        raise MissingColumnsError(missing, list(activity.columns), what="cohort activity")
    if activity.empty:
        raise InsufficientDataError("no customer was acquired in a complete period by as_of")
    last = activity.attrs.get("last_complete_period")
    idx = activity.drop_duplicates("cohort").sort_values("cohort_index")
    labels = pd.Index(idx["cohort"].astype(str).tolist(), name="cohort")
    last_k = pd.Series((last - idx["cohort_index"]).to_numpy() if last is not None
                       else np.full(len(idx), activity["period"].max()), index=labels)
    ks = pd.RangeIndex(int(max(last_k.max(), activity["period"].max())) + 1, name="k")
    a = activity.assign(cohort=activity["cohort"].astype(str))
    observable = np.asarray(ks)[None, :] <= last_k.to_numpy()[:, None]

    def pivot(col):
        m = (a.pivot(index="cohort", columns="period", values=col)
             .reindex(index=labels, columns=ks).fillna(0).astype(float))
        m.columns.name = "k"
        return m.where(observable)

    last_active = pivot("last_active").fillna(0)
    unbounded = last_active.iloc[:, ::-1].cumsum(axis=1).iloc[:, ::-1].where(observable)
    sizes = a.loc[a["period"] == 0].set_index("cohort")["customers"].reindex(labels)
    return {"bounded": pivot("customers"), "unbounded": unbounded, "revenue": pivot("revenue"),
            "sizes": sizes.astype(np.int64).rename("customers")}


def _setup(cohort_period: str, as_of) -> tuple[dt.date, int]:
    """Checked ``as_of`` (a day) and the code of the last period complete by it."""
    check_period(cohort_period)
    if as_of is None:
        raise ParameterError("as_of is required (the last observed day, inclusive)")
    end = day(as_of, "as_of")
    return end, last_complete_period(end, cohort_period)


class CohortReductions:
    """The cohort methods of :class:`clm_lib.reduce.engine.Engine`."""

    def _segmented(self, source, columns, segment):
        t, dq = self._transactions(source, columns)
        if segment is not None and segment not in t.columns:
            raise MissingColumnsError([segment], list(t.columns), what="transactions")
        return t, dq

    def cohort_activity(self, source, *, cohort_period: str = "month", as_of,
                        columns: Mapping[str, str] | None = None,
                        segment: str | None = None) -> pd.DataFrame:
        """Active customers and revenue by acquisition cohort and periods since acquisition.

        The aggregated form of :meth:`customer_periods` (same rules): one row per (cohort,
        k) with activity, however many customers, so small enough to bring back.

        Parameters
        ----------
        source : path, glob, table name, DataFrame or Ibis table
            Transactions with ``customer_id``, ``timestamp``, ``amount``.
        cohort_period : {"week", "month", "quarter", "year"}
        as_of : date-like
            Last observed day (inclusive).
        segment : str, optional
            A column of ``source``: the counts are split by each customer's value at
            acquisition (the value on the first purchase up to ``as_of``, the smallest
            when several rows share that time).

        Returns
        -------
        DataFrame
            ``segment`` (text, ``<NA>`` without a value; only with ``segment``),
            ``cohort`` (ISO label: "1997-01", "1997-W02", "1997-Q1", "1997"),
            ``cohort_index`` (period code), ``period`` (k), ``customers`` (active in
            period k: the bounded retention count), ``revenue`` (sum of ``amount``),
            ``last_active`` (customers whose last active period is k; its reverse
            cumulative sum over k is the unbounded count) and ``cohort_size``; sorted by
            (segment,) cohort and k. ``attrs``: ``cohort_period``, ``as_of``,
            ``last_complete_period`` and ``data_quality`` when a file was loaded.
        """
        end, last = _setup(cohort_period, as_of)
        t, dq = self._segmented(source, columns, segment)
        keys = (["segment"] if segment is not None else []) + ["cohort_index"]
        raw = self.to_pandas(red.cohort_activity(t, cohort_period=cohort_period, as_of=end,
                                                 last_period=last, segment=segment)
                             .order_by([_ibis().asc(k, nulls_first=False)
                                        for k in (*keys, "period")]))
        if segment is not None:
            raw["segment"] = raw["segment"].astype("string")
        size = (raw["customers"].where(raw["period"] == 0)
                .groupby([raw[k] for k in keys], dropna=False).transform("max"))
        codes = raw["cohort_index"].unique()
        labels = dict(zip(codes, period_labels(codes, cohort_period)))
        raw.insert(len(keys) - 1, "cohort", raw["cohort_index"].map(labels).astype("string"))
        out = raw.assign(cohort_size=size.astype(np.int64))
        out.attrs.update({"cohort_period": cohort_period, "as_of": str(end),
                          "last_complete_period": last})
        if dq is not None:
            out.attrs["data_quality"] = dq.to_dict()
        return out

    def customer_periods(self, source, *, cohort_period: str = "month", as_of,
                         columns: Mapping[str, str] | None = None,
                         segment: str | None = None) -> pd.DataFrame:
        """One row per customer and active period (purchases up to ``as_of``, periods
        complete by it).

        The result is as large as the customer base times its active periods; the cohort
        tables need only :meth:`cohort_activity` and :meth:`churn_counts`.

        Returns
        -------
        DataFrame
            ``customer_id``, ``cohort``, ``period`` (period codes), ``k`` (``period -
            cohort``), ``revenue`` (summed ``amount``) and, with ``segment``, ``segment``
            (text at acquisition, ``<NA>`` without a value); sorted by cohort, customer
            and period.
        """
        end, last = _setup(cohort_period, as_of)
        t, _ = self._segmented(source, columns, segment)
        cp = red.customer_periods(t, cohort_period=cohort_period, as_of=end, last_period=last)
        cols = dict(customer_id=cp.customer_id, cohort=cp.c, period=cp.p,
                    k=(cp.p - cp.c).cast("int64"), revenue=cp.revenue)
        if segment is not None:
            seg = red.segment_at_acquisition(t, segment, as_of=end)
            cp = cp.left_join(seg, "customer_id")
            cols = dict(customer_id=cp.customer_id, cohort=cp.c, period=cp.p,
                        k=(cp.p - cp.c).cast("int64"), revenue=cp.revenue, segment=cp.value)
        out = self.to_pandas(cp.select(**cols).order_by(["cohort", "customer_id", "period"]))
        if segment is not None:
            out["segment"] = out["segment"].astype("string")
        return out

    def churn_counts(self, source, *, cohort_period: str = "month", as_of,
                     inactivity_periods: int = 3,
                     columns: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Per-period counts behind the transactions churn rate (a customer is lost in
        period p after buying in p - 1 and then not in p .. p + N - 1; rule and columns:
        :func:`clm_lib.reduce.expressions.churn_counts`); one row per period comes back.

        Returns
        -------
        DataFrame
            ``period`` (period code), ``starts``, ``stops``, ``lost`` (int64), sorted by
            period; ``attrs["last_complete_period"]``.
        """
        end, last = _setup(cohort_period, as_of)
        n = int(inactivity_periods)
        if n < 1:
            raise ParameterError("inactivity_periods must be >= 1")
        t, _ = self._transactions(source, columns)
        out = self.to_pandas(red.churn_counts(t, cohort_period=cohort_period, as_of=end,
                                              last_period=last, inactivity_periods=n)
                             .order_by("period"))
        out.attrs["last_complete_period"] = last
        return out
