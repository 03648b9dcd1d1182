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
  ``k`` is the Kaplan-Meier estimate over tenure (:mod:`.snapshot`).

Every input is reduced in the engine (the shared ``engine`` parameter, DuckDB in-process
by default, or Spark): a DataFrame is handed to the engine, a path is loaded with the
transactions data contract, an Ibis table (from ``Engine.load_transactions``) is reduced
where it lives. Transactions go through :meth:`clm_lib.reduce.Engine.cohort_activity`
and :meth:`~clm_lib.reduce.Engine.churn_counts`, subscriptions through the expressions of
:mod:`.reduce`; only counts per cohort and ``k`` (per segment), per period or per tenure
come back, and the tables (:mod:`.tables`, :mod:`.snapshot`) are computed from them.

Retention models: subscriptions (a cancellation is observed) get the shifted-beta-geometric
model of the survivor counts; transactions get the BG/NBD model of the purchases
(:mod:`.purchase`), fitted to the distinct (frequency, recency, T) triples of the
per-customer summary (:meth:`~clm_lib.reduce.Engine.summary_table`, compressed in the
engine), because a transaction log never says when a customer left and the "active in
``k`` or later" counts grow as data arrive.
"""
from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clm_lib.checks import require_columns
from clm_lib.exceptions import (
    ClmError,
    DataContractError,
    DataQualityWarning,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
)
from clm_lib.reduce import ENGINES, Engine, get_engine
from clm_lib.reduce.customers import as_of_from_data, ends_after_last_start
from clm_lib.reduce.periods import check_period, last_complete_period, period_labels
from clm_lib.studies.cohort_retention import reduce as red
from clm_lib.studies.cohort_retention.differences import differences_from_counts
from clm_lib.studies.cohort_retention.purchase import (
    fit_purchase_retention,
    period_end,
    purchase_holdout,
    purchase_projection,
)
from clm_lib.studies.cohort_retention.segment_bins import bin_segment
from clm_lib.studies.cohort_retention.snapshot import (
    SYNTHETIC_COHORT,
    snapshot_churn,
    snapshot_sbg_data,
    snapshot_segments,
    snapshot_tables,
)
from clm_lib.studies.cohort_retention.tables import (
    CohortTables,
    average_retention,
    churn_from_counts,
    churn_from_spells,
    last_purchase_counts,
    pooled_churn,
    segment_curves,
    tables_from_activity,
    total_activity,
)

__all__ = ["SYNTHETIC_COHORT", "CohortStudy", "CohortTables", "churn_rate", "churn_summary",
           "cohort_study", "data_form", "fit_sbg", "holdout_error", "purchase_holdout",
           "purchase_projection", "retention_by_segment", "retention_tables", "sbg_holdout",
           "survival_counts"]

#: The date columns of each form whose last day is ``as_of`` when it is not given.
_DATES = {"transactions": ("timestamp",), "intervals": ("start", "end")}
_REQUIRED = {"transactions": ("customer_id", "timestamp"),
             "intervals": ("customer_id", "start", "end"),
             "snapshot": ("customer_id", "tenure", "churned")}


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
# Input: one Ibis table in the engine
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Input:
    eng: Engine
    form: str
    table: object  # Ibis table
    has_revenue: bool
    cohort_period: str
    as_of: dt.date | None  # None: a snapshot without a date
    last: int | None  # code of the last period complete by as_of
    as_of_source: str  # "parameter", "data" (the last date in the data) or "none"
    ends_after_last_start: int  # intervals with as_of from the data: see the report's note


def _input(data, cohort_period: str, as_of, engine, segment: str | None = None) -> _Input:
    """Check the parameters and hand ``data`` to the engine (see the module notes)."""
    check_period(cohort_period)
    if not isinstance(engine, Engine) and engine not in ENGINES:
        raise ParameterError(f"engine must be one of {list(ENGINES)} or an Engine, "
                             f"got {engine!r}")
    eng = get_engine(engine)
    form = data_form(data)
    if isinstance(data, (str, Path)):
        table, dq = eng.load_transactions(data)
        if dq.dropped:
            warnings.warn(f"{dq.source}: {dq.n_dropped:,} of {dq.rows_in:,} rows dropped by the "
                          f"data contract ({dq.dropped}); use load_transactions to keep the "
                          "record", DataQualityWarning, stacklevel=3)
    elif isinstance(data, pd.DataFrame):
        table = eng.from_pandas(data)
    elif callable(getattr(data, "schema", None)):
        table = data
    else:
        raise ParameterError(f"cohort input must be a DataFrame, a path or an engine table, "
                             f"got {type(data).__name__}")
    require_columns(table, _REQUIRED[form] + ((segment,) if segment else ()), "cohort input")
    has_revenue = form == "transactions" and "amount" in table.columns
    if form == "transactions" and not has_revenue:
        table = red.with_zero_amount(table)
    if as_of is None and form == "snapshot":
        # tenure needs no calendar: the snapshot's date is only recorded when given
        return _Input(eng, form, table, has_revenue, cohort_period, None, None, "none", 0)
    day, source = as_of_from_data(as_of, eng, table, _DATES.get(form, ()))
    late = ends_after_last_start(eng, table) if source == "data" and form == "intervals" else 0
    return _Input(eng, form, table, has_revenue, cohort_period, day.date(),
                  last_complete_period(day, cohort_period), source, late)


def _as_text(values: pd.Series, dtype) -> pd.Series:
    """Segment values brought back from the engine as text, written as pandas writes the
    same column (nulls stay ``<NA>``; integers with nulls do not become floats)."""
    if dtype.is_integer():
        values = values.astype("Int64")
    elif dtype.is_boolean():
        values = values.astype("boolean")
    return values.astype("string")


def _activity(inp: _Input, segment: str | None = None) -> pd.DataFrame:
    """Cohort × k counts (split by ``segment`` if given) of transactions or intervals."""
    if inp.form == "transactions":
        return inp.eng.cohort_activity(inp.table, cohort_period=inp.cohort_period,
                                       as_of=inp.as_of, segment=segment)
    t = inp.table
    bad = int(inp.eng.to_pandas(red.interval_end_before_start(t, as_of=inp.as_of))["n"].iloc[0])
    if bad:
        raise DataContractError("end", "subscription ends before it starts", bad)
    seg = red.interval_segment(t, segment) if segment is not None else None
    out = inp.eng.to_pandas(red.interval_activity(
        t, cohort_period=inp.cohort_period, as_of=inp.as_of, last_period=inp.last,
        segment_values=seg))
    keys = ["cohort_index", "period"]
    if segment is not None:
        out["segment"] = _as_text(out["segment"], t[segment].type())
        keys = ["segment"] + keys
    return out.sort_values(keys, ignore_index=True)


def _snapshot_counts(inp: _Input, segment: str | None = None) -> pd.DataFrame:
    t = inp.table
    bad = int(inp.eng.to_pandas(red.snapshot_violations(t))["n"].iloc[0])
    if bad:
        raise DataContractError("tenure", "missing or negative tenure", bad)
    out = inp.eng.to_pandas(red.snapshot_counts(t, segment))
    out["churned"] = out["churned"].astype(bool)
    keys = ["tenure", "churned"]
    if segment is not None:
        out["segment"] = _as_text(out["segment"], t[segment].type())
        keys = ["segment"] + keys
    return out.sort_values(keys, ignore_index=True)


def _tables(inp: _Input, activity: pd.DataFrame) -> CohortTables:
    return tables_from_activity(activity, inp.cohort_period, inp.as_of, form=inp.form,
                                has_revenue=inp.has_revenue)


def _churn(inp: _Input, inactivity_periods: int, counts: pd.DataFrame | None = None, *,
           activity: pd.DataFrame | None = None):
    if inp.form == "snapshot":
        return snapshot_churn(counts if counts is not None else _snapshot_counts(inp))
    if int(inactivity_periods) < 1:
        raise ParameterError("inactivity_periods must be >= 1")
    if inp.form == "intervals":
        spells = inp.eng.to_pandas(red.interval_spells(
            inp.table, cohort_period=inp.cohort_period, as_of=inp.as_of, last_period=inp.last))
        return churn_from_spells(spells, inp.cohort_period, as_of=inp.as_of)
    counts = inp.eng.churn_counts(inp.table, cohort_period=inp.cohort_period, as_of=inp.as_of,
                                  inactivity_periods=int(inactivity_periods))
    if activity is None:
        activity = _activity(inp)
    return churn_from_counts(counts, inp.cohort_period, as_of=inp.as_of,
                             inactivity_periods=inactivity_periods,
                             last_purchase=last_purchase_counts(activity))


def churn_summary(churn: pd.DataFrame, tables: CohortTables) -> dict:
    """:func:`~.tables.pooled_churn` of a study's churn table: transactions leave out the
    periods right after an acquisition period (a cohort's ``k = 1``, where one-time
    buyers are lost) when settled periods remain without them; subscriptions and
    snapshots pool every period."""
    after = None
    if tables.form == "transactions":
        codes = (last_complete_period(tables.as_of, tables.cohort_period)
                 - tables.last_k.to_numpy(dtype=np.int64))
        after = period_labels(codes + 1, tables.cohort_period)
    return pooled_churn(churn, after)


# ---------------------------------------------------------------------------------------
# Public reductions
# ---------------------------------------------------------------------------------------
def retention_tables(data, cohort_period: str = "month", *, as_of,
                     engine="duckdb") -> CohortTables:
    """All retention tables of a cohort study (see the module docstring for definitions).

    Parameters
    ----------
    data : DataFrame, path or engine table
        Transactions (``customer_id``, ``timestamp``, optional ``amount``), interval
        subscriptions (``customer_id``, ``start``, ``end``) or snapshot subscriptions
        (``customer_id``, ``tenure``, ``churned``: one synthetic cohort, ``k`` = tenure in
        the data's own unit, as_of is then only recorded). A path is read as transactions
        with the data contract.
    cohort_period : {"week", "month", "quarter", "year"}
    as_of : date-like
        Last observed day (inclusive).
    engine : {"duckdb", "spark", "pandas"} or Engine
        Where the data are reduced; only cohort × k counts come back.

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
    inp = _input(data, cohort_period, as_of, engine)
    if inp.form == "snapshot":
        return snapshot_tables(_snapshot_counts(inp), cohort_period, as_of)
    return _tables(inp, _activity(inp))


def retention_by_segment(data, segment: str, cohort_period: str = "month", *, as_of,
                         kind: str = "bounded", engine="duckdb",
                         level: float = 0.95) -> pd.DataFrame:
    """Average retention curve per value of ``segment`` (value at acquisition).

    Parameters
    ----------
    data : DataFrame, path or engine table
        As for :func:`retention_tables`, plus the ``segment`` column.
    segment : str
        Column; a customer belongs to its value at acquisition. Transactions: the value
        on the first purchase up to ``as_of`` that has one, the smallest when several
        rows share that time; subscriptions: the value on the earliest start (the
        smallest when several subscriptions share it); snapshot: their row.
    kind : {"bounded", "unbounded"}
        Snapshot data: always the Kaplan-Meier survival.
    engine : {"duckdb", "spark", "pandas"} or Engine

    Returns
    -------
    Long DataFrame: ``segment``, ``k``, ``retention``, ``lower``, ``upper``, ``cohorts``,
    ``customers``. Missing segment values form the segment ``"(missing)"``.
    """
    if kind not in ("bounded", "unbounded"):
        raise ParameterError("kind must be 'bounded' or 'unbounded'")
    inp = _input(data, cohort_period, as_of, engine, segment)
    if inp.form == "snapshot":
        return snapshot_segments(_snapshot_counts(inp, segment))
    return segment_curves(_activity(inp, segment), cohort_period, inp.as_of, kind=kind,
                          level=level)


def churn_rate(data, cohort_period: str = "month", *, as_of,
               inactivity_periods: int = 3, engine="duckdb") -> pd.DataFrame:
    """Churn rate per calendar period: customers lost during the period / customers
    active at its start (headline: :func:`churn_summary`, pooled, not a mean of rates).

    Rules
    -----
    * Subscriptions (interval form): a loss is a cancellation (``end`` inside the period);
      active at the start = started before the period and not ended before it. A
      subscription that starts and ends within the same period is not counted.
    * Transactions (``N = inactivity_periods``): a customer is **lost in period p** when
      they bought in period ``p - 1`` and then made no purchase in ``p, ..., p + N - 1``
      (N whole periods of silence). A later purchase is a reactivation. **Active at the
      start of p** = acquired before ``p`` and not lost since their latest purchase.
      Period ``p`` is **settled** when its window is over (``p + N - 1 <=`` last complete
      period): its row uses no data after ``p + N - 1`` and is the same for every later
      ``as_of``. The last ``N - 1`` periods are **provisional** (``provisional`` True):
      lost = bought in ``p - 1`` and not since, an upper bound that later data can only
      lower (:func:`~.tables.churn_from_counts`).
    * Snapshot subscriptions: per tenure period ``k``: churned at ``k`` / at risk at ``k``.

    Returns
    -------
    DataFrame indexed by ``period`` (ISO label; for snapshots ``k``) with ``active_start``,
    ``lost``, ``churn_rate``, ``provisional`` (bool; subscriptions: always False).
    """
    return _churn(_input(data, cohort_period, as_of, engine), inactivity_periods)


# ---------------------------------------------------------------------------------------
# sBG on cohort counts
# ---------------------------------------------------------------------------------------
def survival_counts(tables: CohortTables) -> pd.DataFrame:
    """Survivor counts for the sBG model: unbounded counts (= bounded for subscriptions),
    which are non-increasing in ``k`` by construction."""
    return tables.unbounded_counts


def fit_sbg(tables: CohortTables, *, holdout_periods: int = 0, censor_last: int = 0):
    """Fit the shifted-beta-geometric model to the cohorts' survivor counts.

    Made for contracts (subscriptions, where a loss is observed); :func:`cohort_study`
    fits it to subscriptions only. On transaction cohorts the unbounded counts it would
    see grow as later purchases arrive, so the study uses :mod:`.purchase` there.

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
        data = snapshot_sbg_data(tables.snapshot, cut=cut)
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
@dataclass(frozen=True)
class CohortStudy:
    """Results of :func:`cohort_study` (pure data; :mod:`.report` words and lays them out).

    The retention model depends on the data: subscriptions (interval or snapshot) get the
    shifted-beta-geometric model of their survivor counts (``retention_model == "sbg"``);
    transactions get the BG/NBD model of the purchases (``"bgnbd"``,
    :mod:`.purchase`), because "still a customer" is not observed in a transaction log.

    Attributes
    ----------
    tables : CohortTables
    churn : DataFrame
        :func:`churn_rate` (with the ``provisional`` flag).
    churn_summary : dict
        :func:`pooled_churn` of ``churn``.
    average_bounded, average_unbounded : DataFrame
        :func:`~.tables.average_retention` of the bounded / unbounded counts.
    segments : DataFrame or None
        :func:`retention_by_segment` (bounded for transactions, else unbounded).
    model, holdout_model : ShiftedBetaGeometric, BetaGeoModel or None
        The retention model fitted on all the data / without the last ``holdout_periods``.
    projection : DataFrame or None
        The all-data model's projection up to the last observed k + ``horizon_periods``:
        sBG: ``model.projection`` (``survival``, ``retention_rate``, ``survival_lower``,
        ``survival_upper``); BG/NBD: :func:`purchase_projection`.
    holdout : DataFrame or None
        sBG: :func:`sbg_holdout` of the holdout model; BG/NBD: the ``by_k`` table of
        :func:`purchase_holdout`. ``holdout_error`` the matching error dict.
    fit_table : DataFrame or None
        What the projection figure draws, always the **all-data** fit (the one the
        summary and metrics quote): ``actual`` (pooled observed share: unbounded for the
        sBG, bounded for BG/NBD) with ``actual_lower``/``actual_upper``, ``fitted``,
        ``lower``, ``upper`` (the model's value of the same quantity) and ``in_fit``
        (observed range); BG/NBD starts at ``k = 1`` (``k = 0`` is 100 % by definition),
        its ``fitted`` is, in the observed range, the model over the cohorts observed at
        ``k`` (like the actual) and beyond it the projection over every cohort, and it adds
        ``alive``, ``alive_lower``, ``alive_upper``.
    derl : DataFrame or None
        sBG only: ``model.derl_table(discount_rate, max_renewals=5)``.
    valuation : dict
        sBG only: ``del``, ``derl_after_first_period``, ``expected_lifetime_horizon``,
        ``expected_lifetime`` (periods; empty otherwise).
    model_failure, holdout_failure : ClmError or None
        Why the model, or its holdout check, could not be fitted.
    parameters : dict
    purchase_fit : PurchaseFit or None
        BG/NBD only: the all-data fit with its acquisition days (:mod:`.track`).
    """

    tables: CohortTables
    churn: pd.DataFrame
    churn_summary: dict
    average_bounded: pd.DataFrame
    average_unbounded: pd.DataFrame
    segments: pd.DataFrame | None
    model: object | None
    holdout_model: object | None
    holdout: pd.DataFrame | None
    holdout_error: dict | None
    projection: pd.DataFrame | None
    fit_table: pd.DataFrame | None
    derl: pd.DataFrame | None
    valuation: dict
    model_failure: ClmError | None
    holdout_failure: ClmError | None
    parameters: dict
    purchase_fit: object | None = None
    #: with a segment: the tested differences (RetentionDifferences), or why there are none
    differences: object | None = None

    @property
    def unit(self) -> str:
        return self.tables.cohort_period

    @property
    def form(self) -> str:
        return self.tables.form

    @property
    def retention_model(self) -> str:
        """``"bgnbd"`` (transactions) or ``"sbg"`` (subscriptions)."""
        return "bgnbd" if self.form == "transactions" else "sbg"


def _sbg_part(tables, avg_u, *, holdout_periods, horizon_periods, discount_rate):
    """Subscriptions: the sBG model on the survivor counts, its projection, valuation and
    figure table (all-data fit), and the holdout refit without the last periods."""
    model = hmodel = holdout = herr = proj = fit = derl = None
    failure = hfailure = None
    valuation: dict = {}
    try:
        model = fit_sbg(tables)
        K = int(tables.last_k.max())
        proj = model.projection(K + int(horizon_periods))
    except ClmError as exc:  # reported in the report, not hidden
        model, failure = None, exc
    if model is not None and holdout_periods:
        try:
            hmodel = fit_sbg(tables, holdout_periods=holdout_periods)
            holdout = sbg_holdout(hmodel, tables, holdout_periods=holdout_periods,
                                  horizon=K + int(horizon_periods))
            herr = holdout_error(hmodel, tables, holdout_periods=holdout_periods)
        except ClmError as exc:
            hmodel, holdout, herr, hfailure = None, None, None, exc
    if model is not None:
        d = float(discount_rate)
        valuation = {"del": model.del_(d), "derl_after_first_period": model.derl(d, renewals=1),
                     "expected_lifetime_horizon": model.expected_lifetime(
                         horizon=int(horizon_periods)),
                     "expected_lifetime": model.expected_lifetime()}
        derl = model.derl_table(d, max_renewals=5)
        fit = (proj.rename(columns={"survival": "fitted", "survival_lower": "lower",
                                    "survival_upper": "upper"})
               [["fitted", "lower", "upper"]]
               .assign(actual=avg_u["retention"], actual_lower=avg_u["lower"],
                       actual_upper=avg_u["upper"]))
        fit["in_fit"] = fit.index <= int(tables.last_k.max())
    return model, hmodel, holdout, herr, proj, fit, derl, valuation, failure, hfailure, None


def _bgnbd_part(inp, tables, avg_b, *, holdout_periods, horizon_periods):
    """Transactions: the BG/NBD model on every purchase up to ``as_of``, its projection
    and figure table, and the holdout refit on purchases up to the end of the period
    ``holdout_periods`` before the last complete one."""
    model = hmodel = holdout = herr = proj = fit = failure = hfailure = pfit = None
    try:
        pfit = fit_purchase_retention(inp.eng, inp.table, calibration_end=inp.as_of,
                                      cohort_period=inp.cohort_period, last_period=inp.last)
        model = pfit.model
        proj = purchase_projection(pfit, tables, horizon_periods=horizon_periods)
    except ClmError as exc:
        failure = exc
    H = int(holdout_periods)
    if model is not None and H:
        try:
            cal_last = inp.last - H
            if cal_last < inp.last - int(tables.last_k.max()):
                raise InsufficientDataError(
                    f"no cohort was acquired before the {H} held-out "
                    f"{inp.cohort_period}s")
            hfit = fit_purchase_retention(inp.eng, inp.table,
                                          calibration_end=period_end(cal_last,
                                                                      inp.cohort_period),
                                          cohort_period=inp.cohort_period,
                                          last_period=cal_last)
            hmodel = hfit.model
            holdout, herr = purchase_holdout(hfit, tables, holdout_periods=H)
        except ClmError as exc:
            hmodel, holdout, herr, hfailure = None, None, None, exc
    if model is not None:
        # observed k: the model over the same cohorts as the actual; beyond: every cohort
        obs = proj["buying_observed"].notna()
        fit = pd.DataFrame({"fitted": proj["buying_observed"].where(obs, proj["buying"]),
                            "lower": proj["buying_observed_lower"].where(obs,
                                                                         proj["buying_lower"]),
                            "upper": proj["buying_observed_upper"].where(obs,
                                                                         proj["buying_upper"]),
                            "alive": proj["survival"],
                            "alive_lower": proj["survival_lower"],
                            "alive_upper": proj["survival_upper"]})
        fit = fit.assign(actual=avg_b["retention"], actual_lower=avg_b["lower"],
                         actual_upper=avg_b["upper"])
        # k = 0 is 100 % by definition, not a fit
        fit = fit.drop(index=0)
        fit["in_fit"] = fit.index <= int(tables.last_k.max())
    return model, hmodel, holdout, herr, proj, fit, None, {}, failure, hfailure, pfit


def cohort_study(data, cohort_period: str = "month", *, as_of=None, inactivity_periods: int = 3,
                 holdout_periods: int = 3, horizon_periods: int = 12,
                 discount_rate: float = 0.01, segment: str | None = None,
                 segment_bins=None, engine="duckdb") -> CohortStudy:
    """Compute the cohort-retention study.

    Parameters
    ----------
    data : DataFrame, path or engine table
        Canonical transactions, interval subscriptions or snapshot subscriptions (see
        :func:`retention_tables`), e.g. the lazy table of ``Engine.load_transactions`` or
        the frame of :func:`clm_lib.io.load_subscriptions`.
    cohort_period : {"week", "month", "quarter", "year"}
    as_of : date-like, optional
        Last observed day (inclusive); None: the last day in the data (snapshot
        subscriptions: not needed, recorded when given).
    inactivity_periods : int
        Transactions: ``N`` of the churn rule (see :func:`churn_rate`).
    holdout_periods : int
        Last observed calendar periods held out of the retention model's check fit.
    horizon_periods : int
        Projection horizon in periods beyond the last observed ``k``.
    discount_rate : float
        Per period, for the discounted expected lifetime (DEL) of a new subscriber (sBG).
    segment : str, optional
        Column for the segment split (value at acquisition; see
        :func:`retention_by_segment`); the segments' curves come with tested differences
        (:func:`.differences.differences_from_counts`: Newcombe intervals, z or log-rank
        tests, Holm's correction).
    segment_bins : sequence of numbers, optional
        A numeric ``segment`` in bins by their lower edges (:func:`.segment_bins.bin_segment`),
        e.g. ``[1, 2, 3]``: "quantity 1", "quantity 2", "quantity ≥ 3".
    engine : {"duckdb", "spark", "pandas"} or Engine
        Where the data are reduced (tables, churn counts, segment curves, per-customer
        purchase summaries); the models are fitted on the reduced tables.
    """
    if segment_bins is not None and segment is None:
        raise ParameterError("segment_bins needs a numeric segment column (the segment "
                             "parameter)")
    inp = _input(data, cohort_period, as_of, engine, segment)
    form = inp.form
    segs = diffs = None
    if form == "snapshot":
        counts = _snapshot_counts(inp, segment)
        if segment is not None:
            by_segment = _binned(counts, segment, segment_bins)
            segs = snapshot_segments(by_segment)
            diffs = _differences(by_segment, form=form, segment=segment,
                                 cohort_period=cohort_period, as_of=inp.as_of, bins=segment_bins)
        tables = snapshot_tables(counts, cohort_period, inp.as_of)
        churn = _churn(inp, inactivity_periods, counts)
    else:
        # one pass over the data: the counts split by segment add up to the cohort counts
        act = _activity(inp, segment)
        if segment is not None:
            act = _binned(act, segment, segment_bins)
            segs = segment_curves(act, cohort_period, inp.as_of,
                                  kind="bounded" if form == "transactions" else "unbounded")
            diffs = _differences(act, form=form, segment=segment,
                                 cohort_period=cohort_period, as_of=inp.as_of, bins=segment_bins)
            act = total_activity(act)
        tables = _tables(inp, act)
        churn = _churn(inp, inactivity_periods, activity=act)
    avg_b = average_retention(tables.bounded_counts, tables.sizes)
    avg_u = average_retention(tables.unbounded_counts, tables.sizes)
    if form == "transactions":
        parts = _bgnbd_part(inp, tables, avg_b, holdout_periods=holdout_periods,
                            horizon_periods=horizon_periods)
    else:
        parts = _sbg_part(tables, avg_u, holdout_periods=holdout_periods,
                          horizon_periods=horizon_periods, discount_rate=discount_rate)
    params = {"cohort_period": cohort_period,
              "as_of": None if inp.as_of is None else str(inp.as_of),
              "as_of_source": inp.as_of_source,
              "ends_after_last_start": inp.ends_after_last_start,
              "inactivity_periods": int(inactivity_periods),
              "holdout_periods": int(holdout_periods), "horizon_periods": int(horizon_periods),
              "discount_rate": float(discount_rate), "segment": segment,
              "segment_bins": None if segment_bins is None else [float(b) for b in segment_bins],
              "form": form,
              "retention_model": "bgnbd" if form == "transactions" else "sbg",
              # transactions: the refit for the holdout check uses purchases up to this day
              "holdout_calibration_end": (
                  str(period_end(inp.last - int(holdout_periods), cohort_period))
                  if form == "transactions" and int(holdout_periods) else None)}
    return CohortStudy(tables, churn, churn_summary(churn, tables), avg_b, avg_u, segs,
                       *parts[:10], params, parts[10], diffs)


def _differences(counts: pd.DataFrame, **kw):
    """The tested segment differences, or the reason there are none (one segment, no
    ``k`` with enough customers in both bases): a study with segments still runs."""
    try:
        return differences_from_counts(counts, **kw)
    except InsufficientDataError as err:
        return str(err)


def _binned(counts: pd.DataFrame, segment: str, bins) -> pd.DataFrame:
    """Counts split by ``segment``, in the bins of a numeric segment when given."""
    return counts if bins is None else bin_segment(counts, bins, name=segment)
