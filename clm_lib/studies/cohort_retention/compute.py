"""Acquisition cohorts, retention matrices, revenue retention and churn rates.

Definitions used throughout (and stated in the cohort-retention report):

* **Cohort**: the calendar period (ISO week, month, quarter or year) of a customer's first
  purchase (transactions) or subscription start (subscriptions). Labels are ISO strings:
  ``"1997-W02"`` (ISO week, Monday-based), ``"1997-01"``, ``"1997-Q1"``, ``"1997"``.
* **k**: periods since acquisition; ``k = 0`` is the acquisition period itself.
* **Active in a period**: made at least one purchase in it (transactions), or the
  subscription interval ``[start, end)`` overlaps it (subscriptions; ``end`` NaT = still
  active).
* **Bounded retention** at ``k``: share of the cohort active in *exactly* period ``k``
  ("N-day/N-month retention").
* **Unbounded retention** at ``k``: share of the cohort active in period ``k`` *or any later
  observed period* (Amplitude's/Mixpanel's "unbounded" or "rolling" retention); it is
  non-increasing in ``k``. For subscriptions (contiguous activity) both coincide.
* **Observability**: data are used up to and including ``as_of`` (inclusive date). Only
  periods that are complete by ``as_of`` are reported; cells ``(cohort, k)`` whose period is
  not complete are NaN, never 0. The last observable ``k`` of a cohort is
  ``last_complete_period(as_of) - cohort``.
* **Snapshot subscriptions** (``tenure`` in periods + ``churned``, no dates, e.g. Telco):
  all customers form one synthetic cohort labelled :data:`SYNTHETIC_COHORT`; survival at
  ``k`` is the Kaplan-Meier estimate over tenure (customers still subscribed are censored
  at their tenure), so "counts" are cohort size × survival.

Engines (the shared ``engine`` parameter; see :mod:`clm_lib.reduce.engine`): ``"pandas"``
(default; in memory, numpy counting), ``"duckdb"`` or ``"spark"``. On DuckDB and Spark the
transaction log is reduced where it lives (a path: CSV, Parquet, a glob of many files or
a directory; a table name; or the lazy table returned by
:meth:`clm_lib.reduce.engine.Engine.load_transactions`) by the Ibis reductions of
:mod:`clm_lib.reduce.expressions`: only counts per cohort and ``k`` (per segment) and per
calendar period come back. All engines return identical tables. Subscriptions (interval
or snapshot form, one row per subscription) are always reduced in pandas; with another
engine they are brought into memory first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from clm_lib.exceptions import (
    DataContractError,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
)
from clm_lib.checks import require_columns as _require
from clm_lib.reduce.periods import (
    COHORT_PERIODS,
    WEEK_EPOCH as _WEEK_EPOCH,
    check_period as _check_period,
    last_complete_period,
    period_codes,
    period_labels,
    period_start,
)

__all__ = [
    "COHORT_PERIODS", "SYNTHETIC_COHORT", "CohortStudy", "CohortTables", "average_retention",
    "churn_rate", "churn_rule_text", "cohort_metrics", "cohort_study", "customer_periods",
    "data_form", "fit_sbg", "holdout_error", "last_complete_period", "period_codes",
    "period_labels", "period_start", "retention_by_segment", "retention_tables",
    "sbg_holdout", "snapshot_survival", "summary_lines", "survival_counts",
    "tables_from_customer_periods",
]

SYNTHETIC_COHORT = "all (by tenure)"
_TX_COLUMNS = ("customer_id", "timestamp")
_INTERVAL_COLUMNS = ("customer_id", "start", "end")
_SNAPSHOT_COLUMNS = ("customer_id", "tenure", "churned")


def data_form(data) -> str:
    """``"transactions"``, ``"intervals"`` or ``"snapshot"`` from the canonical columns."""
    if isinstance(data, (str, Path)):
        return "transactions"
    cols = set(data.columns)
    if {"timestamp"} <= cols:
        return "transactions"
    if {"start"} <= cols:
        return "intervals"
    if {"tenure", "churned"} <= cols:
        return "snapshot"
    raise MissingColumnsError(["timestamp (transactions) or start, end (subscriptions) or "
                               "tenure, churned (snapshot subscriptions)"], list(cols),
                              what="cohort input")


# ---------------------------------------------------------------------------------------
# Reduction: one row per (customer, active period)
# ---------------------------------------------------------------------------------------
def customer_periods(data, cohort_period: str = "month", *, as_of, engine="pandas",
                     segment: str | None = None) -> pd.DataFrame:
    """One row per customer and period in which the customer was active.

    Parameters
    ----------
    data : DataFrame, path or engine table
        Transactions with ``customer_id``, ``timestamp`` (and optionally ``amount``;
        required on DuckDB and Spark), or subscriptions in interval form ``customer_id``,
        ``start``, ``end`` (NaT: still active). Transactions may also be a path or table
        name (loaded with the data contract) or a DuckDB/Spark table (see the module notes).
    cohort_period : {"week", "month", "quarter", "year"}
    as_of : date-like
        Last observed day (inclusive). Rows after it are ignored; only periods complete by
        ``as_of`` are kept.
    engine : {"pandas", "duckdb", "spark"} or Engine
        Where transactions are reduced (subscriptions: always pandas). The result has one
        row per customer and active period, so prefer the aggregated
        :func:`retention_tables` on large data.
    segment : str, optional
        A column whose value at acquisition is attached, as text: transactions, the value
        on the first purchase up to ``as_of`` (the smallest when several rows share that
        time; :func:`clm_lib.reduce.pandas_reductions.first_values`); subscriptions, the value on the
        first start.

    Returns
    -------
    DataFrame with ``customer_id``, ``cohort`` (code), ``period`` (code), ``k``
    (``period - cohort``), ``revenue`` (sum of ``amount`` in the period, 0 if no amount
    column or subscriptions) and ``segment`` if asked (text, ``<NA>`` without a value);
    sorted by cohort, customer, period. Customers whose acquisition period is not
    complete by ``as_of`` are excluded.
    """
    _check_period(cohort_period)
    if as_of is None:
        raise ParameterError("as_of is required (the last observed day, inclusive)")
    eng = _engine(engine)
    form = data_form(data)
    last = last_complete_period(as_of, cohort_period)
    if form == "transactions" and eng.name != "pandas":
        return eng.customer_periods(data, cohort_period=cohort_period, as_of=as_of,
                                    segment=segment)
    data = _in_pandas(data)
    if form == "transactions":
        _require(data, _TX_COLUMNS + ((segment,) if segment else ()), "transactions")
        cutoff = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
        d = data.loc[data["timestamp"] < cutoff]
        p = period_codes(d["timestamp"], cohort_period)
        keep = p <= last
        amount = (d["amount"].to_numpy(dtype=float) if "amount" in d.columns
                  else np.zeros(len(d)))
        frame = pd.DataFrame({"customer_id": d["customer_id"].to_numpy()[keep],
                              "period": p[keep], "revenue": amount[keep]})
        out = frame.groupby(["customer_id", "period"], sort=False, as_index=False,
                            observed=True)["revenue"].sum()
    elif form == "intervals":
        _require(data, _INTERVAL_COLUMNS + ((segment,) if segment else ()), "subscriptions")
        cutoff = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
        d = data.loc[pd.to_datetime(data["start"]) < cutoff]
        start = period_codes(d["start"], cohort_period)
        end = pd.to_datetime(d["end"])
        # [start, end): the last active period contains the last instant before `end`
        end_code = np.where(end.isna().to_numpy(), last,
                            period_codes(end.fillna(pd.Timestamp("1970-01-05"))
                                         - pd.Timedelta(nanoseconds=1), cohort_period))
        end_code = np.minimum(end_code, last)
        bad = end.notna().to_numpy() & (end.to_numpy() < pd.to_datetime(d["start"]).to_numpy())
        if bad.any():
            raise DataContractError("end", "subscription ends before it starts",
                                    int(bad.sum()), np.flatnonzero(bad))
        # zero-length subscriptions (end == start) still count as acquired in their period
        end_code = np.maximum(end_code, np.minimum(start, last))
        ok = start <= last
        start, end_code = start[ok], end_code[ok]
        n = end_code - start + 1
        ids = np.repeat(d["customer_id"].to_numpy()[ok], n)
        offs = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        frame = pd.DataFrame({"customer_id": ids, "period": np.repeat(start, n) + offs})
        out = frame.drop_duplicates().assign(revenue=0.0)
    else:
        raise ParameterError("snapshot subscriptions have no calendar periods; use "
                             "retention_tables(), which builds a synthetic tenure cohort")
    cohort = out.groupby("customer_id", sort=False)["period"].transform("min")
    out["cohort"] = cohort.to_numpy(dtype=np.int64)
    out["k"] = out["period"].to_numpy(dtype=np.int64) - out["cohort"].to_numpy()
    if segment:
        first = _segment_at_acquisition(data, segment, form, as_of)
        out["segment"] = out["customer_id"].map(first).astype("string")
    out = out.sort_values(["cohort", "customer_id", "period"], kind="stable").reset_index(drop=True)
    cols = ["customer_id", "cohort", "period", "k", "revenue"] + (["segment"] if segment else [])
    return out[cols]


def _segment_at_acquisition(data: pd.DataFrame, segment: str, form: str, as_of) -> pd.Series:
    """Each customer's ``segment`` at acquisition, as text. Transactions: the
    :func:`~clm_lib.reduce.pandas_reductions.first_values` rule on the purchases up to ``as_of`` (the
    same on every engine); subscriptions: the value on the earliest start."""
    if form == "transactions":
        from clm_lib.reduce.pandas_reductions import first_values

        cutoff = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
        return first_values(data.loc[data["timestamp"] < cutoff], segment).astype("string")
    d = data[["customer_id", "start", segment]].sort_values(["customer_id", "start"],
                                                           kind="stable")
    return d.drop_duplicates("customer_id").set_index("customer_id")[segment].astype("string")


def _engine(engine):
    """The :class:`~clm_lib.reduce.engine.Engine` for ``engine`` (a name or an Engine)."""
    from clm_lib.reduce.engine import ENGINES, Engine, get_engine

    if not isinstance(engine, Engine) and engine not in ENGINES:
        raise ParameterError(f"engine must be one of {list(ENGINES)} or an Engine, "
                             f"got {engine!r}")
    return get_engine(engine)


def _in_pandas(data) -> pd.DataFrame:
    """``data`` in memory, for the pandas reductions (and for subscriptions on any engine:
    one row per subscription). A path is loaded with the transactions data contract; a
    DuckDB/Spark table is brought back whole."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        import warnings

        from clm_lib.reduce.engine import get_engine
        from clm_lib.exceptions import DataQualityWarning

        df, dq = get_engine("pandas").load_transactions(data)
        if dq.dropped:
            warnings.warn(f"{dq.source}: {dq.n_dropped:,} of {dq.rows_in:,} rows dropped by the "
                          f"data contract ({dq.dropped}); use load_transactions to keep the "
                          "record", DataQualityWarning, stacklevel=3)
        return df
    if hasattr(data, "to_pandas"):
        return data.to_pandas()
    raise ParameterError(f"cohort input must be a DataFrame, a path or an engine table, got "
                         f"{type(data).__name__}")


# ---------------------------------------------------------------------------------------
# Retention tables
# ---------------------------------------------------------------------------------------
@dataclass
class CohortTables:
    """Retention tables of one cohort study; every matrix has cohorts (ISO labels) as
    rows and ``k`` (periods since acquisition) as columns, NaN where not observable.

    Attributes
    ----------
    cohort_period : str
    as_of : pd.Timestamp
    form : str
        ``"transactions"``, ``"intervals"`` or ``"snapshot"``.
    sizes : Series
        Customers acquired per cohort.
    last_k : Series
        Last observable ``k`` per cohort.
    bounded_counts, unbounded_counts : DataFrame
        Customers active in exactly period ``k`` / in ``k`` or later.
    revenue : DataFrame or None
        Revenue of the cohort in period ``k`` (transactions with ``amount`` only).
    """

    cohort_period: str
    as_of: pd.Timestamp
    form: str
    sizes: pd.Series
    last_k: pd.Series
    bounded_counts: pd.DataFrame
    unbounded_counts: pd.DataFrame
    revenue: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    #: snapshot form only: one row per customer, ``t`` (tenure) and ``churned``
    snapshot_rows: pd.DataFrame | None = None

    @property
    def bounded_rates(self) -> pd.DataFrame:
        """Bounded retention: share of the cohort active in exactly period ``k``."""
        return self.bounded_counts.div(self.sizes, axis=0)

    @property
    def unbounded_rates(self) -> pd.DataFrame:
        """Unbounded retention: share of the cohort active in period ``k`` or later."""
        return self.unbounded_counts.div(self.sizes, axis=0)

    @property
    def revenue_retention(self) -> pd.DataFrame | None:
        """Revenue in period ``k`` / revenue in period 0, per cohort."""
        if self.revenue is None:
            return None
        return self.revenue.div(self.revenue[0].replace(0, np.nan), axis=0)

    @property
    def value_curves(self) -> pd.DataFrame | None:
        """Cumulative revenue per acquired customer up to and including period ``k``
        (cohort value curves; currency units per customer)."""
        if self.revenue is None:
            return None
        cum = self.revenue.cumsum(axis=1).where(self.revenue.notna())
        return cum.div(self.sizes, axis=0)


def _mask_unobservable(mat: pd.DataFrame, last_k: pd.Series) -> pd.DataFrame:
    k = np.asarray(mat.columns, dtype=np.int64)[None, :]
    lk = last_k.reindex(mat.index).to_numpy()[:, None]
    return mat.where(k <= lk)


def tables_from_customer_periods(cp: pd.DataFrame, cohort_period: str, *, as_of,
                                 form: str = "transactions",
                                 has_revenue: bool = True) -> CohortTables:
    """Retention tables from the reduced table of :func:`customer_periods`."""
    _require(cp, ("customer_id", "cohort", "k"), "customer periods")
    last = last_complete_period(as_of, cohort_period)
    if cp.empty:
        raise InsufficientDataError("no customer was acquired in a complete period by as_of")
    cohorts = np.sort(cp["cohort"].unique())
    labels = period_labels(cohorts, cohort_period)
    lab = dict(zip(cohorts, labels))
    last_k = pd.Series(last - cohorts, index=pd.Index(labels, name="cohort"), name="last_k")
    K = int(last_k.max())
    ks = pd.RangeIndex(K + 1, name="k")
    cl = cp["cohort"].map(lab)
    bounded = (pd.crosstab(cl, cp["k"]).reindex(index=labels, columns=ks, fill_value=0)
               .astype(float))
    bounded.index.name = "cohort"
    # unbounded: count customers by the last k at which they were active, then a reverse
    # cumulative sum over k (active at k or later <=> last active k >= k)
    lastk = cp.groupby("customer_id", sort=False).agg(cohort=("cohort", "first"), k=("k", "max"))
    ub = (pd.crosstab(lastk["cohort"].map(lab), lastk["k"])
          .reindex(index=labels, columns=ks, fill_value=0))
    unbounded = ub.iloc[:, ::-1].cumsum(axis=1).iloc[:, ::-1].astype(float)
    unbounded.index.name = "cohort"
    sizes = bounded[0].rename("customers").astype(np.int64)
    revenue = None
    if has_revenue and "revenue" in cp.columns:
        revenue = (cp.assign(cohort_label=cl).pivot_table(index="cohort_label", columns="k",
                                                          values="revenue", aggfunc="sum")
                   .reindex(index=labels, columns=ks).fillna(0.0))
        revenue.index.name = "cohort"
        revenue = _mask_unobservable(revenue, last_k)
    return CohortTables(cohort_period, pd.Timestamp(as_of), form, sizes, last_k,
                        _mask_unobservable(bounded, last_k),
                        _mask_unobservable(unbounded, last_k), revenue)


def snapshot_survival(subs: pd.DataFrame) -> pd.DataFrame:
    """Kaplan-Meier survival by tenure for snapshot subscriptions.

    Parameters
    ----------
    subs : DataFrame
        ``customer_id``, ``tenure`` (whole periods completed, >= 0) and ``churned`` (bool;
        True: lost after ``tenure`` periods, False: still active, censored at ``tenure``).

    Returns
    -------
    DataFrame indexed by ``k`` (periods of tenure) with ``at_risk`` (tenure >= k),
    ``churned`` (lost at k), ``survival`` (share still subscribed after k periods).
    """
    _require(subs, _SNAPSHOT_COLUMNS, "snapshot subscriptions")
    t = pd.to_numeric(subs["tenure"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(t) | (t < 0)
    if bad.any():
        raise DataContractError("tenure", "missing or negative tenure", int(bad.sum()),
                                np.flatnonzero(bad))
    t = np.floor(t).astype(np.int64)
    c = subs["churned"].astype(bool).to_numpy()
    K = int(t.max())
    ks = np.arange(K + 1)
    at_risk = np.array([(t >= k).sum() for k in ks], dtype=float)
    # churn recorded at tenure 0 is treated as churn during the first period
    d = np.bincount(np.maximum(t[c], 1), minlength=K + 2)[: K + 1].astype(float)
    haz = np.divide(d, at_risk, out=np.zeros_like(d), where=at_risk > 0)
    surv = np.cumprod(1 - haz)
    return pd.DataFrame({"at_risk": at_risk, "churned": d, "survival": surv},
                        index=pd.Index(ks, name="k"))


def retention_tables(data, cohort_period: str = "month", *, as_of,
                     engine="pandas") -> CohortTables:
    """All retention tables of a cohort study (see the module docstring for definitions).

    Parameters
    ----------
    data : DataFrame, path or engine table
        Transactions (``customer_id``, ``timestamp``, optional ``amount``; required on
        DuckDB and Spark), interval subscriptions (``customer_id``, ``start``, ``end``) or
        snapshot subscriptions (``customer_id``, ``tenure``, ``churned``: one synthetic
        cohort, ``k`` = tenure in the data's own unit, as_of is then only recorded).
        Transactions may be a path, table name or DuckDB/Spark table (module notes).
    cohort_period : {"week", "month", "quarter", "year"}
    as_of : date-like
        Last observed day (inclusive).
    engine : {"pandas", "duckdb", "spark"} or Engine
        Where transactions are reduced: pandas counts in memory with numpy; DuckDB and
        Spark run :meth:`~clm_lib.reduce.engine.Engine.cohort_activity` and only cohort × k
        counts come back. Subscriptions are reduced in pandas on every engine.

    Returns
    -------
    CohortTables

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...                    "timestamp": pd.to_datetime(["2020-01-05", "2020-03-01", "2020-01-09"]),
    ...                    "amount": [10.0, 5.0, 7.0]})
    >>> t = retention_tables(tx, "month", as_of="2020-03-31")
    >>> t.bounded_counts.loc["2020-01"].tolist(), t.unbounded_counts.loc["2020-01"].tolist()
    ([2.0, 0.0, 1.0], [2.0, 1.0, 1.0])
    """
    if as_of is None:
        raise ParameterError("as_of is required (the last observed day, inclusive)")
    _check_period(cohort_period)
    eng = _engine(engine)
    form = data_form(data)
    if form == "transactions" and eng.name != "pandas":
        act = eng.cohort_activity(data, cohort_period=cohort_period, as_of=as_of)
        return _tables_from_activity(act, cohort_period, as_of)
    data = _in_pandas(data)
    if form == "snapshot":
        km = snapshot_survival(data)
        n = float(len(data))
        label = pd.Index([SYNTHETIC_COHORT], name="cohort")
        ks = pd.RangeIndex(len(km), name="k")
        counts = pd.DataFrame([km["survival"].to_numpy() * n], index=label, columns=ks)
        return CohortTables(cohort_period, pd.Timestamp(as_of), form,
                            pd.Series([int(n)], index=label, name="customers"),
                            pd.Series([len(km) - 1], index=label, name="last_k"),
                            counts, counts.copy(), None,
                            snapshot_rows=pd.DataFrame({
                                "t": np.floor(pd.to_numeric(data["tenure"]).to_numpy(float)),
                                "churned": data["churned"].astype(bool).to_numpy()}),
                            notes=["Snapshot data (tenure, churned; no dates): one synthetic "
                                   "cohort; survival by tenure is the Kaplan-Meier estimate."])
    if form == "transactions":
        return _tables_numpy(data, cohort_period, as_of)
    cp = customer_periods(data, cohort_period, as_of=as_of)
    return tables_from_customer_periods(cp, cohort_period, as_of=as_of, form=form,
                                        has_revenue=False)


def _fast_period_codes(ts: pd.Series, cohort_period: str) -> np.ndarray:
    """Same codes as :func:`period_codes`, via integer days and a small lookup table of
    the days in the data's range (calendar arithmetic once per distinct day, not per row)."""
    v = ts.to_numpy(dtype="datetime64[ns]").view(np.int64)
    days = np.floor_divide(v, 86_400_000_000_000)
    if cohort_period == "week":
        return np.floor_divide(days - 4, 7)  # 1970-01-05 (day 4) is a Monday
    d0 = int(days.min())
    span = np.arange(d0, int(days.max()) + 1).astype("datetime64[D]")
    months = span.astype("datetime64[M]").astype(np.int64) + 1970 * 12  # 12*year + month - 1
    if cohort_period == "quarter":
        months = months // 3
    elif cohort_period == "year":
        months = months // 12
    return months[days - d0]


def _tables_numpy(data: pd.DataFrame, cohort_period: str, as_of) -> CohortTables:
    """Retention tables for transactions with integer keys and bincounts (pandas engine)."""
    _require(data, _TX_COLUMNS, "transactions")
    last = last_complete_period(as_of, cohort_period)
    cutoff = np.datetime64(pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1), "ns")
    ts = data["timestamp"]
    if ts.isna().any():
        raise DataContractError("timestamp", "missing dates", int(ts.isna().sum()),
                                np.flatnonzero(ts.isna().to_numpy()))
    p = _fast_period_codes(ts, cohort_period)
    keep = (ts.to_numpy(dtype="datetime64[ns]") < cutoff) & (p <= last)
    has_rev = "amount" in data.columns
    ids = data["customer_id"].to_numpy()[keep]
    p = p[keep]
    if len(p) == 0:
        raise InsufficientDataError("no customer was acquired in a complete period by as_of")
    if (np.issubdtype(ids.dtype, np.integer)
            and int(ids.max()) - int(ids.min()) < 4 * len(ids) + 1024):
        cust = (ids - ids.min()).astype(np.int64)  # dense enough: use ids as indices
    else:
        cust, _ = pd.factorize(ids)
    pmin = int(p.min())
    P = int(p.max()) - pmin + 1
    ncust = int(cust.max()) + 1
    key = cust.astype(np.int64) * P + (p - pmin)
    amount = data["amount"].to_numpy(dtype=float)[keep] if has_rev else None
    if ncust * P <= 64_000_000:
        # direct addressing: one slot per (customer, period) is cheaper than hashing
        counts = np.bincount(key, minlength=ncust * P)
        ukey = np.flatnonzero(counts)
        revenue = (np.bincount(key, weights=amount, minlength=ncust * P)[ukey]
                   if has_rev else None)
        del counts
    else:
        pair, ukey = pd.factorize(key)
        revenue = np.bincount(pair, weights=amount, minlength=len(ukey)) if has_rev else None
    pc, pp = np.divmod(ukey, P)  # customer index, period offset of each pair
    first = np.full(ncust, P, dtype=np.int64)
    lastp = np.full(ncust, -1, dtype=np.int64)
    np.minimum.at(first, pc, pp)
    np.maximum.at(lastp, pc, pp)
    present = lastp >= 0
    cohorts = np.unique(first[present])
    labels = period_labels(cohorts + pmin, cohort_period)
    last_k = pd.Series(last - (cohorts + pmin), index=pd.Index(labels, name="cohort"),
                       name="last_k")
    K = int(last_k.max()) + 1
    cidx = np.searchsorted(cohorts, first)  # cohort row of each customer
    cell = cidx[pc] * K + (pp - first[pc])
    shape = (len(cohorts), K)
    ks = pd.RangeIndex(K, name="k")

    def frame(values):
        return pd.DataFrame(values.reshape(shape).astype(float),
                            index=last_k.index.copy(), columns=ks)

    bounded = frame(np.bincount(cell, minlength=shape[0] * K))
    ub = np.bincount((cidx * K + (lastp - first))[present],
                     minlength=shape[0] * K).reshape(shape)
    unbounded = frame(ub[:, ::-1].cumsum(axis=1)[:, ::-1])
    rev = (_mask_unobservable(frame(np.bincount(cell, weights=revenue, minlength=shape[0] * K)),
                              last_k) if has_rev else None)
    sizes = bounded[0].rename("customers").astype(np.int64)
    return CohortTables(cohort_period, pd.Timestamp(as_of), "transactions", sizes, last_k,
                        _mask_unobservable(bounded, last_k),
                        _mask_unobservable(unbounded, last_k), rev)


def _tables_from_activity(activity: pd.DataFrame, cohort_period: str, as_of) -> CohortTables:
    """Retention tables from :meth:`~clm_lib.reduce.engine.Engine.cohort_activity` (cohort × k
    counts computed in DuckDB or Spark), laid out exactly as :func:`_tables_numpy` does."""
    from clm_lib.reduce.engine import retention_matrices

    if activity.empty:
        raise InsufficientDataError("no customer was acquired in a complete period by as_of")
    last = last_complete_period(as_of, cohort_period)
    activity = activity.copy()
    activity.attrs["last_complete_period"] = last
    cohorts = np.sort(activity["cohort_index"].unique()).astype(np.int64)
    labels = pd.Index(period_labels(cohorts, cohort_period), name="cohort")
    last_k = pd.Series(last - cohorts, index=labels, name="last_k")
    ks = pd.RangeIndex(int(last_k.max()) + 1, name="k")
    mats = retention_matrices(activity)

    def frame(m):
        m = m.reindex(index=labels, columns=ks)
        return _mask_unobservable(pd.DataFrame(m.to_numpy(dtype=float), index=labels.copy(),
                                               columns=ks), last_k)

    bounded = frame(mats["bounded"])
    sizes = bounded[0].rename("customers").astype(np.int64)
    return CohortTables(cohort_period, pd.Timestamp(as_of), "transactions", sizes, last_k,
                        bounded, frame(mats["unbounded"]), frame(mats["revenue"]))


# ---------------------------------------------------------------------------------------
# Average curve, segments, churn rate
# ---------------------------------------------------------------------------------------
def average_retention(counts: pd.DataFrame, sizes: pd.Series, *, level: float = 0.95,
                      min_cohorts: int = 1) -> pd.DataFrame:
    """Cohort-size-weighted average retention curve with a confidence band.

    At each ``k`` the estimate is ``sum_c n_ck / sum_c N_c`` over the cohorts observable
    at ``k``. The band is a normal interval whose standard error treats cohorts as
    clusters (ratio estimator: ``sqrt(m/(m-1) * sum_c (n_ck - r N_c)^2) / sum_c N_c``,
    which captures cohort-to-cohort variation); with a single cohort, the binomial
    standard error. Clipped to [0, 1].

    Parameters
    ----------
    counts : DataFrame
        Cohorts × ``k`` retained counts (NaN: not observable), e.g. ``bounded_counts``.
    sizes : Series
        Cohort sizes, same index.

    Returns
    -------
    DataFrame indexed by ``k`` with ``retention``, ``lower``, ``upper``, ``cohorts`` (m),
    ``customers`` (sum of N_c).
    """
    z = stats.norm.ppf(0.5 + level / 2)
    N = sizes.reindex(counts.index).to_numpy(dtype=float)
    rows = []
    for k in counts.columns:
        n = counts[k].to_numpy(dtype=float)
        ok = ~np.isnan(n) & (N > 0)
        m = int(ok.sum())
        if m < min_cohorts or m == 0:
            rows.append((k, np.nan, np.nan, np.nan, m, 0.0))
            continue
        tot = N[ok].sum()
        r = n[ok].sum() / tot
        if m >= 2:
            se = np.sqrt(m / (m - 1) * np.sum((n[ok] - r * N[ok]) ** 2)) / tot
        else:
            se = np.sqrt(r * (1 - r) / tot)
        rows.append((k, r, max(r - z * se, 0.0), min(r + z * se, 1.0), m, tot))
    out = pd.DataFrame(rows, columns=["k", "retention", "lower", "upper", "cohorts",
                                      "customers"]).set_index("k")
    return out


def retention_by_segment(data, segment: str, cohort_period: str = "month", *, as_of,
                         kind: str = "bounded", engine="pandas",
                         level: float = 0.95) -> pd.DataFrame:
    """Average retention curve per value of ``segment`` (value at acquisition).

    Parameters
    ----------
    data : DataFrame, path or engine table
        As for :func:`retention_tables`, plus the ``segment`` column.
    segment : str
        Column; a customer belongs to its value at acquisition. Transactions: the value
        on the first purchase up to ``as_of``, the smallest when several rows share that
        time (:func:`clm_lib.reduce.pandas_reductions.first_values`; the same rule on every engine);
        subscriptions: the first start; snapshot: their row.
    kind : {"bounded", "unbounded"}
    engine : {"pandas", "duckdb", "spark"} or Engine
        Where transactions are reduced (DuckDB and Spark: cohort × k counts per segment
        from :meth:`~clm_lib.reduce.engine.Engine.cohort_activity`); subscriptions: pandas.

    Returns
    -------
    Long DataFrame: ``segment``, ``k``, ``retention``, ``lower``, ``upper``, ``cohorts``,
    ``customers``. Missing segment values form the segment ``"(missing)"``.
    """
    if kind not in ("bounded", "unbounded"):
        raise ParameterError("kind must be 'bounded' or 'unbounded'")
    eng = _engine(engine)
    form = data_form(data)
    req = {"transactions": _TX_COLUMNS, "intervals": _INTERVAL_COLUMNS,
           "snapshot": _SNAPSHOT_COLUMNS}[form] + (segment,)
    if form == "transactions" and eng.name != "pandas":
        act = eng.cohort_activity(data, cohort_period=cohort_period, as_of=as_of,
                                  segment=segment)
        return _segment_curves(act, cohort_period, as_of, kind=kind, level=level)
    data = _in_pandas(data)
    _require(data, req, "cohort input")
    if form == "snapshot":
        parts = []
        for val, g in data.groupby(data[segment].astype("string").fillna("(missing)")):
            km = snapshot_survival(g)
            parts.append(pd.DataFrame({"segment": val, "k": km.index,
                                       "retention": km["survival"].to_numpy(),
                                       "lower": np.nan, "upper": np.nan, "cohorts": 1,
                                       "customers": km["at_risk"].to_numpy()}))
        return pd.concat(parts, ignore_index=True)
    cp = customer_periods(data, cohort_period, as_of=as_of, segment=segment)
    cp["segment"] = cp["segment"].astype("string").fillna("(missing)")
    parts = []
    for val, g in cp.groupby("segment", sort=True):
        t = tables_from_customer_periods(g.drop(columns="segment"), cohort_period,
                                         as_of=as_of, form=form, has_revenue=False)
        counts = t.bounded_counts if kind == "bounded" else t.unbounded_counts
        avg = average_retention(counts, t.sizes, level=level).reset_index()
        avg.insert(0, "segment", val)
        parts.append(avg)
    return pd.concat(parts, ignore_index=True)


def _segment_curves(activity: pd.DataFrame, cohort_period: str, as_of, *, kind: str,
                    level: float = 0.95) -> pd.DataFrame:
    """:func:`retention_by_segment` from cohort activity split by segment (DuckDB, Spark)."""
    act = activity.assign(segment=activity["segment"].fillna("(missing)"))
    parts = []
    for val, g in act.groupby("segment", sort=True):
        t = _tables_from_activity(g.drop(columns="segment"), cohort_period, as_of)
        counts = t.bounded_counts if kind == "bounded" else t.unbounded_counts
        avg = average_retention(counts, t.sizes, level=level).reset_index()
        avg.insert(0, "segment", val)
        parts.append(avg)
    return pd.concat(parts, ignore_index=True)


def churn_rate(data, cohort_period: str = "month", *, as_of,
               inactivity_periods: int = 3, engine="pandas") -> pd.DataFrame:
    """Churn rate per calendar period: customers lost during the period / customers
    active at its start.

    Rules
    -----
    * Subscriptions (interval form): a loss is a cancellation (``end`` inside the period);
      active at the start = started before the period and not ended before it. A
      subscription that starts and ends within the same period is not counted.
    * Transactions (``N = inactivity_periods``): a customer is **lost in period p** when
      they bought in period ``p - 1`` and then made no purchase in ``p, ..., p + N - 1``
      (N whole periods of silence). A later purchase is a reactivation. **Active at the
      start of p** = acquired before ``p`` and not lost since their latest purchase. Period
      ``p`` is reported only when its window is over (``p + N - 1 <=`` last complete
      period); later periods are left out, not reported as 0.
    * Snapshot subscriptions: per tenure period ``k``: churned at ``k`` / at risk at ``k``.

    ``engine`` ({"pandas", "duckdb", "spark"} or Engine): where transactions are reduced;
    DuckDB and Spark return only per-period counts
    (:meth:`~clm_lib.reduce.engine.Engine.churn_counts`). Subscriptions: pandas.

    Returns
    -------
    DataFrame indexed by ``period`` (ISO label; for snapshots ``k``) with ``active_start``,
    ``lost``, ``churn_rate``.
    """
    if as_of is None:
        raise ParameterError("as_of is required (the last observed day, inclusive)")
    _check_period(cohort_period)
    eng = _engine(engine)
    form = data_form(data)
    if form != "transactions" or eng.name == "pandas":
        data = _in_pandas(data)
    if form == "snapshot":
        km = snapshot_survival(data).iloc[1:]
        out = pd.DataFrame({"active_start": km["at_risk"], "lost": km["churned"]})
        out["churn_rate"] = out["lost"] / out["active_start"]
        out.index.name = "period"
        return out
    if int(inactivity_periods) < 1:
        raise ParameterError("inactivity_periods must be >= 1")
    last = last_complete_period(as_of, cohort_period)
    N = int(inactivity_periods)
    if form == "intervals":
        _require(data, _INTERVAL_COLUMNS, "subscriptions")
        cutoff = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
        d = data.loc[pd.to_datetime(data["start"]) < cutoff]
        s = period_codes(d["start"], cohort_period)
        end = pd.to_datetime(d["end"])
        has_end = end.notna().to_numpy() & (end < cutoff).to_numpy()
        e = np.full(len(d), last + 1, dtype=np.int64)
        if has_end.any():
            e[has_end] = period_codes(end[has_end], cohort_period)
        first = int(s.min())
        periods = np.arange(first + 1, last + 1)
        # active at start of p: s < p and (no end or e >= p), i.e. the end is in p or later
        # (an end exactly at the period start is a loss in that period)
        active = np.array([np.sum((s < p) & (e >= p)) for p in periods], dtype=float)
        lost = np.array([np.sum((s < p) & (e == p) & has_end) for p in periods], dtype=float)
    else:
        if eng.name == "pandas":
            counts = _churn_counts_pandas(data, cohort_period, as_of=as_of, inactivity_periods=N)
        else:
            counts = eng.churn_counts(data, cohort_period=cohort_period, as_of=as_of,
                                      inactivity_periods=N)
        if counts.empty:
            raise InsufficientDataError("no purchase in a period complete by as_of")
        # active at the start of p: intervals started at or before p and not yet stopped
        first = int(counts["period"].min())
        full = np.arange(first, max(last + 2, int(counts["period"].max())) + 1)
        c = counts.set_index("period")
        net = (c["starts"] - c["stops"]).reindex(full, fill_value=0).to_numpy(dtype=np.int64)
        periods = np.arange(first, last + 2)
        active = np.cumsum(net)[: len(periods)].astype(float)
        lost = c["lost"].reindex(periods, fill_value=0).to_numpy(dtype=float)
        ok = periods + N - 1 <= last
        periods, active, lost = periods[ok], active[ok], lost[ok]
    out = pd.DataFrame({"active_start": active, "lost": lost},
                       index=pd.Index(period_labels(periods, cohort_period), name="period"))
    out["churn_rate"] = np.where(out["active_start"] > 0,
                                 out["lost"] / out["active_start"].where(out["active_start"] > 0),
                                 np.nan)
    return out


def _churn_counts_pandas(data: pd.DataFrame, cohort_period: str, *, as_of,
                         inactivity_periods: int) -> pd.DataFrame:
    """The per-period counts of :func:`clm_lib.reduce.expressions.churn_counts`, in
    pandas: ``period``, ``starts``, ``stops``, ``lost`` (int64), sorted by period."""
    last = last_complete_period(as_of, cohort_period)
    cp = customer_periods(data, cohort_period, as_of=as_of)
    cp = cp.sort_values(["customer_id", "period"], kind="stable")
    q = cp["period"].to_numpy(dtype=np.int64)
    ids = cp["customer_id"].to_numpy()
    q_next = np.full(len(q), last + 1, dtype=np.int64)
    q_next[:-1] = np.where(ids[1:] == ids[:-1], q[1:], last + 1)
    # lost in q + 1 when the gap exceeds N; otherwise active at the start of q + 1 .. q_next
    lost = (q_next - q) > int(inactivity_periods)
    stop = np.where(lost, q + 1, q_next) + 1
    period, inv = np.unique(np.concatenate([q + 1, stop]), return_inverse=True)
    n = len(period)
    return pd.DataFrame({
        "period": period.astype(np.int64),
        "starts": np.bincount(inv[: len(q)], minlength=n).astype(np.int64),
        "stops": np.bincount(inv[len(q):], minlength=n).astype(np.int64),
        "lost": np.bincount(inv[: len(q)], weights=lost, minlength=n).astype(np.int64),
    })


# ---------------------------------------------------------------------------------------
# sBG on cohort counts
# ---------------------------------------------------------------------------------------
def survival_counts(tables: CohortTables) -> pd.DataFrame:
    """Survivor counts for the sBG model: unbounded counts (= bounded for subscriptions),
    which are non-increasing in ``k`` by construction."""
    return tables.unbounded_counts


def fit_sbg(tables: CohortTables, *, holdout_periods: int = 0, censor_last: int = 0):
    """Fit the shifted-beta-geometric model to the cohorts' survivor counts.

    Parameters
    ----------
    tables : CohortTables
    holdout_periods : int, default 0
        Calendar holdout: the last ``holdout_periods`` observed periods of every cohort are
        left out of the fit (cohorts with fewer than 2 remaining periods do not contribute).
    censor_last : int, default 0
        Further periods dropped at the end of each cohort because their status is not
        settled (transactions: the inactivity window ``N``).

    Returns
    -------
    ShiftedBetaGeometric, fitted.
    """
    from clm_lib.clv.sbg import ShiftedBetaGeometric, sbg_data_from_counts

    cut = int(holdout_periods) + int(censor_last)
    if tables.form == "snapshot":
        # exact customer-level likelihood: churn at tenure t, or still active at tenure t
        rows = tables.snapshot_rows
        t = rows["t"].to_numpy(dtype=float)
        c = rows["churned"].to_numpy(dtype=bool)
        t = np.where(c, np.maximum(t, 1), t)
        tmax = float(t.max()) - cut
        c = c & (t <= tmax)
        t = np.minimum(t, tmax)
        data = (pd.DataFrame({"t": t, "churned": c.astype(int)})
                .loc[lambda d: d["t"] > 0]
                .groupby(["t", "churned"], as_index=False).size()
                .rename(columns={"size": "weights"}))
    else:
        data = sbg_data_from_counts(survival_counts(tables), censor_last=cut)
    # too few customers, no churn, a single period: the model refuses in words
    return ShiftedBetaGeometric().fit(data, weights="weights")


def sbg_holdout(model, tables: CohortTables, *, holdout_periods: int, horizon: int,
                censor_last: int = 0) -> pd.DataFrame:
    """Fitted vs actual retention by ``k``, marking the periods held out of the fit.

    Actual = pooled survivors / pooled cohort size over cohorts observable at ``k``
    (unbounded counts). ``in_fit`` is True where at least one cohort's cell at ``k`` was
    used for the fit. Columns: ``actual``, ``fitted`` (``S(k)``), ``lower``, ``upper``
    (parameter band), ``in_fit``, ``cohorts``; index ``k = 0..max(horizon, last k)``.
    """
    counts = survival_counts(tables)
    if censor_last:
        # the last `censor_last` periods of each cohort are not settled: not "actual" yet
        k = np.asarray(counts.columns, dtype=np.int64)[None, :]
        lk = (tables.last_k.reindex(counts.index).to_numpy() - int(censor_last))[:, None]
        counts = counts.where(k <= lk)
    avg = average_retention(counts, tables.sizes)
    K = max(int(horizon), int(counts.columns.max()))
    proj = model.projection(K)
    used_k = (tables.last_k - int(holdout_periods) - int(censor_last)).clip(lower=-1)
    max_fit_k = int(used_k.max())
    out = pd.DataFrame({"actual": avg["retention"].reindex(proj.index),
                        "fitted": proj["survival"],
                        "lower": proj["survival_lower"], "upper": proj["survival_upper"]})
    out["in_fit"] = out.index <= max_fit_k
    out["cohorts"] = avg["cohorts"].reindex(proj.index).fillna(0).astype(int)
    return out


def holdout_error(model, tables: CohortTables, *, holdout_periods: int,
                  censor_last: int = 0) -> dict:
    """Expected vs actual survivors summed over the held-out cells (each cohort's last
    ``holdout_periods`` observed periods before ``censor_last``): ``actual``, ``expected``,
    ``relative_error`` = expected/actual - 1, ``cells``."""
    counts = survival_counts(tables).to_numpy(dtype=float)
    N = tables.sizes.reindex(tables.unbounded_counts.index).to_numpy(dtype=float)
    lk = tables.last_k.reindex(tables.unbounded_counts.index).to_numpy() - int(censor_last)
    k = np.arange(counts.shape[1])[None, :]
    mask = (k > (lk - int(holdout_periods))[:, None]) & (k <= lk[:, None]) & (k >= 1)
    expected = (N[:, None] * model.survival(np.arange(counts.shape[1]))[None, :])[mask].sum()
    actual = np.nansum(counts[mask])
    return {"actual": float(actual), "expected": float(expected),
            "relative_error": float(expected / actual - 1) if actual > 0 else float("nan"),
            "cells": int(mask.sum())}


# ---------------------------------------------------------------------------------------
# The study: everything the cohort-retention report shows, computed once
# ---------------------------------------------------------------------------------------
@dataclass
class CohortStudy:
    """Results of :func:`cohort_study` (all pure data; the notebook only displays them)."""

    tables: CohortTables
    churn: pd.DataFrame
    churn_rule: str
    average_bounded: pd.DataFrame
    average_unbounded: pd.DataFrame
    segments: pd.DataFrame | None
    model: object | None
    holdout_model: object | None
    holdout: pd.DataFrame | None
    holdout_error: dict | None
    projection: pd.DataFrame | None
    sbg_error: str | None
    parameters: dict

    @property
    def unit(self) -> str:
        return self.tables.cohort_period


def churn_rule_text(form: str, inactivity_periods: int, unit: str) -> str:
    """The churn-rate rule in plain language (stated in the report)."""
    if form == "intervals":
        return (f"a customer is lost in the {unit} in which their subscription ends; the rate "
                f"is losses / subscriptions active at the start of the {unit}")
    if form == "snapshot":
        return (f"per {unit} of tenure: customers who cancelled after that many {unit}s / "
                f"customers who reached it (no calendar dates in snapshot data)")
    n = int(inactivity_periods)
    return (f"a customer is lost in a {unit} when they bought in the previous {unit} and then "
            f"not at all for {n} {unit}{'s' if n != 1 else ''} (a later purchase is a "
            f"reactivation); the rate is losses / customers active at the start of the "
            f"{unit}; the last {n - 1} {unit}{'s' if n - 1 != 1 else ''} are not reported "
            "because their window is not over")


def cohort_study(data, cohort_period: str = "month", *, as_of, inactivity_periods: int = 3,
                 holdout_periods: int = 3, horizon_periods: int = 12,
                 discount_rate: float = 0.01, segment: str | None = None,
                 engine="pandas") -> CohortStudy:
    """Compute the cohort-retention study.

    Parameters
    ----------
    data : DataFrame, path or engine table
        Canonical transactions, interval subscriptions or snapshot subscriptions (see
        :func:`retention_tables`); transactions as returned by ``load_transactions`` of
        ``engine`` (a DataFrame, or a lazy DuckDB/Spark table).
    cohort_period : {"week", "month", "quarter", "year"}
    as_of : date-like
        Last observed day (inclusive).
    inactivity_periods : int
        Transactions: ``N`` of the churn rule (see :func:`churn_rate`); also the number of
        final periods per cohort whose survival is not settled and is left out of the sBG fit.
    holdout_periods : int
        Last observed periods per cohort held out of the sBG validation fit.
    horizon_periods : int
        Projection horizon in periods beyond the last observed ``k``.
    discount_rate : float
        Per period, for the discounted expected lifetime (DEL) of a new customer.
    segment : str, optional
        Column for the segment split (value at acquisition; see
        :func:`retention_by_segment`).
    engine : {"pandas", "duckdb", "spark"} or Engine
        Where transactions are reduced (tables, churn counts, segment curves; identical
        results on every engine); the sBG model is fitted on the reduced counts in
        pandas. Subscriptions are reduced in pandas on every engine.
    """
    from clm_lib.exceptions import ClmError

    eng = _engine(engine)
    segs = None
    if segment is not None and eng.name != "pandas" and data_form(data) == "transactions":
        # one pass over the log: the counts split by segment add up to the cohort counts
        act = eng.cohort_activity(data, cohort_period=cohort_period, as_of=as_of,
                                  segment=segment)
        segs = _segment_curves(act, cohort_period, as_of, kind="bounded")
        total = (act.groupby(["cohort_index", "cohort", "period"], as_index=False, sort=True)
                 [["customers", "revenue", "last_active"]].sum())
        tables = _tables_from_activity(total, cohort_period, as_of)
    else:
        tables = retention_tables(data, cohort_period, as_of=as_of, engine=eng)
    form = tables.form
    censor = int(inactivity_periods) if form == "transactions" else 0
    churn = churn_rate(data, cohort_period, as_of=as_of, inactivity_periods=inactivity_periods,
                       engine=eng)
    avg_b = average_retention(tables.bounded_counts, tables.sizes)
    avg_u = average_retention(tables.unbounded_counts, tables.sizes)
    if segment is not None and segs is None:
        segs = retention_by_segment(data, segment, cohort_period, as_of=as_of, engine=eng,
                                    kind="bounded" if form == "transactions" else "unbounded")
    model = hmodel = holdout = herr = proj = None
    err = None
    try:
        model = fit_sbg(tables, censor_last=censor)
        K = int(tables.last_k.max())
        proj = model.projection(K + int(horizon_periods))
    except ClmError as exc:  # reported in the notebook, not hidden
        err = f"{type(exc).__name__}: {exc}"
    if model is not None and holdout_periods:
        try:
            hmodel = fit_sbg(tables, holdout_periods=holdout_periods, censor_last=censor)
            holdout = sbg_holdout(hmodel, tables, holdout_periods=holdout_periods,
                                  horizon=K + int(horizon_periods), censor_last=censor)
            herr = holdout_error(hmodel, tables, holdout_periods=holdout_periods,
                                 censor_last=censor)
        except ClmError as exc:
            hmodel = None
            err = (f"holdout check not possible ({type(exc).__name__}: {exc}); the projection "
                   "uses all periods")
    params = {"cohort_period": cohort_period, "as_of": str(pd.Timestamp(as_of).date()),
              "inactivity_periods": int(inactivity_periods),
              "holdout_periods": int(holdout_periods), "horizon_periods": int(horizon_periods),
              "discount_rate": float(discount_rate), "segment": segment, "form": form,
              "sbg_censored_final_periods": censor}
    return CohortStudy(tables, churn, churn_rule_text(form, inactivity_periods, cohort_period),
                       avg_b, avg_u, segs, model, hmodel, holdout, herr, proj, err, params)


def _pretty(label: str, unit: str) -> str:
    if unit == "month" and label != SYNTHETIC_COHORT:
        try:
            return pd.Period(label, "M").strftime("%B %Y")
        except ValueError:
            return label
    return label


def _pct(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.1f} %"


def summary_lines(study: CohortStudy) -> list[str]:
    """Plain-language findings computed from the results (no hand-written numbers)."""
    t, u = study.tables, study.unit
    lines = []
    active = "bought" if t.form == "transactions" else "were still subscribed"
    if t.form == "snapshot":
        lines.append(f"{int(t.sizes.iloc[0]):,} subscribers with tenure up to "
                     f"{int(t.last_k.iloc[0])} {u}s form one synthetic cohort (snapshot data "
                     "have no start dates).")
    else:
        span = (f"one {u}ly cohort ({_pretty(t.sizes.index[0], u)})" if len(t.sizes) == 1
                else f"{len(t.sizes)} {u}ly cohorts from {_pretty(t.sizes.index[0], u)} to "
                     f"{_pretty(t.sizes.index[-1], u)}")
        lines.append(f"{int(t.sizes.sum()):,} customers were acquired in {span} "
                     f"(data up to {study.parameters['as_of']}).")
    first = t.sizes.index[0]
    if t.last_k.iloc[0] >= 1:
        b1 = t.bounded_rates.loc[first, 1]
        u1 = t.unbounded_rates.loc[first, 1]
        who = (f"Of the customers acquired in {_pretty(first, u)} ({int(t.sizes.iloc[0]):,})"
               if t.form != "snapshot" else "Of all subscribers")
        if t.form == "transactions":
            lines.append(f"{who}, {_pct(b1)} bought again in their second {u} and "
                         f"{_pct(u1)} bought in their second {u} or later.")
        else:
            lines.append(f"{who}, {_pct(b1)} {active} in their second {u}.")
        K = int(t.last_k.iloc[0])
        lines.append(f"{K} {u}s after acquisition (k = {K}, the latest observed), "
                     f"{_pct(t.bounded_rates.loc[first, K])} of "
                     f"{'that cohort were active' if t.form == 'transactions' else 'them were still subscribed'}.")
    obs1 = t.bounded_rates[1].dropna() if 1 in t.bounded_rates.columns else pd.Series(dtype=float)
    if len(obs1) >= 2:
        new, old = obs1.iloc[-1], obs1.iloc[0]
        trend = ("better" if new > old + 0.01 else "worse" if new < old - 0.01
                 else "about as well")
        lines.append(f"Newer cohorts retain {trend}: {_pct(new)} of the {_pretty(obs1.index[-1], u)} "
                     f"cohort were active in their second {u}, against {_pct(old)} for "
                     f"{_pretty(obs1.index[0], u)}.")
    cr = study.churn["churn_rate"].dropna()
    if len(cr):
        where = "tenure " + u if t.form == "snapshot" else u
        lines.append(f"Churn rate: {_pct(cr.mean())} per {u} on average over {len(cr)} "
                     f"{u}s (latest settled {where} {cr.index[-1]}: {_pct(cr.iloc[-1])}).")
    if study.model is not None and study.projection is not None:
        H = int(study.projection.index.max())
        p = study.projection.loc[H]
        m = study.model
        lines.append(f"The shifted-beta-geometric model projects that {_pct(p['survival'])} of "
                     f"a new cohort will still be active after {H} {u}s (95 % band "
                     f"{_pct(p['survival_lower'])} to {_pct(p['survival_upper'])}); a new "
                     f"customer's discounted expected lifetime at "
                     f"{100 * study.parameters['discount_rate']:.1f} % per {u} is "
                     f"{m.del_(study.parameters['discount_rate']):.1f} {u}s.")
        if study.holdout_error:
            e = study.holdout_error
            lines.append(f"Checked on the last {study.parameters['holdout_periods']} {u}s held "
                         f"out of the fit, the model expected {e['expected']:,.0f} active "
                         f"customer-{u}s against {e['actual']:,.0f} observed "
                         f"({100 * e['relative_error']:+.1f} %).")
        elif study.sbg_error:
            lines.append(f"The model could not be checked on held-out periods: {study.sbg_error}.")
    elif study.sbg_error:
        lines.append(f"The retention projection could not be fitted ({study.sbg_error}).")
    return lines


def _rates_dict(mat: pd.DataFrame) -> dict:
    return {str(i): [None if not np.isfinite(v) else float(v) for v in row]
            for i, row in zip(mat.index, mat.to_numpy(dtype=float))}


def cohort_metrics(study: CohortStudy) -> dict:
    """The study's ``metrics.json`` content (without ``data_quality``).

    Keys: ``cohort_period``, ``as_of``, ``form``, ``cohort_sizes`` {label: n},
    ``retention_bounded`` / ``retention_unbounded`` {label: [rate for k = 0, 1, ...], None
    where not observable}, ``average_retention`` [{k, retention, lower, upper}],
    ``churn_rate`` {period: rate}, ``churn_rule``, ``sbg`` {params, se, loglik, aic,
    projection [{k, survival, lower, upper}], holdout, del, expected_lifetime_horizon,
    error}, ``headline``.
    """
    t, u = study.tables, study.unit
    sbg: dict = {"error": study.sbg_error}
    if study.model is not None:
        m = study.model
        d = study.parameters["discount_rate"]
        H = int(study.parameters["horizon_periods"])
        sbg.update(m.to_metrics())
        sbg["projection"] = [
            {"k": int(k), "survival": float(r["survival"]),
             "lower": None if not np.isfinite(r["survival_lower"]) else float(r["survival_lower"]),
             "upper": None if not np.isfinite(r["survival_upper"]) else float(r["survival_upper"])}
            for k, r in study.projection.iterrows()]
        sbg["del"] = m.del_(d)
        sbg["derl_after_first_period"] = m.derl(d, renewals=1)
        sbg["expected_lifetime_horizon"] = m.expected_lifetime(horizon=H)
        sbg["expected_lifetime"] = m.expected_lifetime()
        if study.holdout_error:
            sbg["holdout"] = {**study.holdout_error,
                              "params": {k: float(v) for k, v in study.holdout_model.params_.items()}}
    avg = study.average_bounded
    cr = study.churn["churn_rate"]
    headline = {"Customers in cohorts": f"{int(t.sizes.sum()):,}"}
    if 1 in avg.index and np.isfinite(avg.loc[1, "retention"]):
        headline[f"Active in 2nd {u} (avg)"] = _pct(avg.loc[1, "retention"])
    if cr.notna().any():
        headline[f"Churn rate per {u} (avg)"] = _pct(cr.dropna().mean())
    if study.model is not None:
        H = int(study.projection.index.max())
        headline[f"Projected survival after {H} {u}s"] = _pct(study.projection.loc[H, "survival"])
    return {
        "cohort_period": u, "as_of": study.parameters["as_of"], "form": t.form,
        "parameters": study.parameters,
        "cohort_sizes": {str(k): int(v) for k, v in t.sizes.items()},
        "retention_bounded": _rates_dict(t.bounded_rates),
        "retention_unbounded": _rates_dict(t.unbounded_rates),
        "average_retention": [{"k": int(k), "retention": float(r["retention"]),
                               "lower": float(r["lower"]), "upper": float(r["upper"])}
                              for k, r in avg.dropna(subset=["retention"]).iterrows()],
        "churn_rate": {str(k): None if not np.isfinite(v) else float(v) for k, v in cr.items()},
        "churn_rule": study.churn_rule,
        "sbg": sbg,
        "headline": headline,
    }
