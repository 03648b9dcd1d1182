"""Durations of the survival study: one row per customer (or subscription) with the
canonical ``customer_id``, ``duration`` (float, periods of ``time_unit``) and ``event``
(bool, True = churned, False = right-censored), plus covariates.

Subscriptions are loaded and reduced to durations in the engine
(:meth:`clm_lib.reduce.Engine.load_subscriptions`, :meth:`~clm_lib.reduce.Engine.subscription_durations`);
transactions are loaded in the engine and reduced there to one purchase span per customer
(:meth:`~clm_lib.reduce.Engine.purchase_spans`), on which the churn-by-inactivity rule
(:func:`inactivity_rule`) runs in pandas. Then :func:`prepare_durations` makes them
model-ready and :func:`encode_covariates` builds the design frame of the models.
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from clm_lib.checks import TIME_UNITS, unit_days
from clm_lib.checks import require_columns as _require
from clm_lib.exceptions import DataContractError, InsufficientDataError, ParameterError
from clm_lib.io.options import load_options
from clm_lib.io.quality import DataQuality
from clm_lib.reduce import get_engine
from clm_lib.io.wording import ends_after_last_start_note
from clm_lib.reduce.customers import day, ends_after_last_start

__all__ = [
    "TIME_UNIT_DAYS",
    "Durations",
    "check_inactivity",
    "inactivity_rule",
    "inactivity_durations",
    "load_churn_durations",
    "prepare_durations",
    "encode_covariates",
    "split_holdout",
    "stratified_sample",
    "default_rmst_horizon",
]

#: Length of one period in days (a month is 365.25 / 12 days, a year 365.25 days).
TIME_UNIT_DAYS = TIME_UNITS

#: Source description of the inactivity step's data-quality record.
INACTIVITY_SOURCE = "transactions -> inactivity durations"


def check_inactivity(as_of, inactivity_days: float, time_unit: str, *,
                     as_of_required: bool = True) -> float:
    """Check the parameters of churn by inactivity; the length of ``time_unit`` in days.
    ``as_of_required=False``: ``as_of`` may be None (the study then takes it from the data)."""
    if as_of is None and as_of_required:
        raise ParameterError("as_of is required for churn by inactivity (the observation end)")
    if isinstance(inactivity_days, bool) or not isinstance(inactivity_days, numbers.Real) \
            or not np.isfinite(inactivity_days) or inactivity_days <= 0:
        raise ParameterError(f"inactivity_days must be a number of days > 0; "
                             f"got {inactivity_days!r}")
    return unit_days(time_unit)


def inactivity_rule(spans: pd.DataFrame, dq: DataQuality, *, as_of, inactivity_days: float,
                    time_unit: str) -> tuple[pd.DataFrame, DataQuality]:
    """Churn by inactivity on per-customer purchase spans.

    Definition. A customer's life starts at the first purchase. The customer *churns* the
    first time ``inactivity_days`` pass without a purchase (the first *lapse*); the churn
    time is the date the rule fires, ``purchase before the first lapse + inactivity_days``.
    A customer who buys again after that lapse has still churned at that date: the later
    purchase is a *reactivation* (counted in the record, ``reactivated`` column), not a
    continuation of the first life. By ``as_of`` we observe:

    * a gap of more than ``inactivity_days`` between two purchases up to ``as_of``:
      churned at the first such gap, ``event=True``,
      ``duration = lapse start + inactivity_days - first purchase``;
    * else ``last purchase + inactivity_days <= as_of``: churned, ``event=True``,
      ``duration = last purchase + inactivity_days - first purchase``;
    * otherwise: still active, ``event=False``, censored at
      ``duration = as_of - first purchase`` (we only know the rule has not fired yet).

    Dating churn at the first lapse makes the definition stable: later data never change
    a churn that was already observed, nor move one that was observed into the past, so the
    Kaplan-Meier curve over periods fully observed at an earlier ``as_of`` is the same with
    later data (dating it at the *last* purchase would undo churns when customers return).
    Observed and censored durations run on the same clock (observed time =
    min(churn time, as_of - first purchase)), which is what right censoring requires.
    Every churned duration is at least ``inactivity_days``, so one-time buyers have
    positive durations.

    Parameters
    ----------
    spans : DataFrame
        :meth:`clm_lib.reduce.Engine.purchase_spans` with ``lapse_days=inactivity_days``:
        ``customer_id``, ``first_purchase``, ``last_purchase``, ``n_purchases``,
        ``total_amount``, ``first_amount`` [, ``first_quantity``], ``lapse_start``,
        ``lapse_return``, ``n_lapses``; ``attrs["purchases_after_as_of"]``.
    dq : DataQuality
        ``rows_in`` = purchases; completed here (purchases after ``as_of`` dropped).

    Returns
    -------
    durations : DataFrame
        The spans plus ``churn_date`` (NaT if censored), ``duration`` (float, periods),
        ``event`` (bool), ``reactivated`` (bool: churned, then bought again by ``as_of``),
        ``min_duration`` (last purchase + window - first purchase, periods: for an active
        customer the earliest possible churn time, used by the risk table) and
        ``spend_per_period`` (total amount / duration, currency per period).
    quality : DataQuality
    """
    _require(spans, ["customer_id", "first_purchase", "last_purchase", "total_amount",
                     "lapse_start", "lapse_return"], "purchase spans")
    days = unit_days(time_unit)
    as_of = pd.Timestamp(as_of)
    dq.drop("purchase after as_of", int(spans.attrs.get("purchases_after_as_of", 0)))
    dq.rows_used = dq.rows_in - dq.n_dropped
    dq.check()
    if spans.empty:
        raise InsufficientDataError(f"no purchase on or before as_of={as_of.date()}")
    out = spans.copy()
    out.attrs = {}
    window = pd.Timedelta(days=float(inactivity_days))
    lapsed = out["lapse_start"].notna()
    # the first lapse between purchases, else the one after the last purchase
    fired = out["lapse_start"].where(lapsed, out["last_purchase"]) + window
    event = fired <= as_of
    end = fired.where(event, as_of)
    out["churn_date"] = fired.where(event)
    out["duration"] = (end - out["first_purchase"]) / pd.Timedelta(days=1) / days
    out["event"] = event.astype(bool)
    out["reactivated"] = lapsed.astype(bool)
    # an active customer's rule cannot fire before last purchase + window: a floor on the
    # churn time
    out["min_duration"] = (out["last_purchase"] + window - out["first_purchase"]) \
        / pd.Timedelta(days=1) / days
    with np.errstate(divide="ignore", invalid="ignore"):
        out["spend_per_period"] = np.where(out["duration"] > 0,
                                           out["total_amount"] / out["duration"], np.nan)
    n_react = int(lapsed.sum())
    dq.notes.append(
        f"Churn = no purchase for {inactivity_days:g} days; churn time = the first such lapse "
        f"(the purchase before it + {inactivity_days:g} days); customers whose window has not "
        f"elapsed by {as_of.date()} are censored at as_of. {n_react:,} of the "
        f"{int(event.sum()):,} churned customers bought again after their first lapse "
        "(reactivations): they count as churned at that lapse, and their return is not a "
        f"new lifetime here. Durations in {time_unit}s ({days:g} days each).")
    out["customer_id"] = out["customer_id"].astype("string")
    return out, dq


def inactivity_durations(tx, *, as_of, inactivity_days: float, time_unit: str = "month",
                         engine="duckdb") -> tuple[pd.DataFrame, DataQuality]:
    """Durations and churn events from loaded transactions, churn defined by inactivity
    (see :func:`inactivity_rule`); the purchase spans are computed in the engine.

    Parameters
    ----------
    tx : DataFrame or Ibis table
        Canonical transactions (as loaded by :meth:`clm_lib.reduce.Engine.load_transactions`):
        ``customer_id``, ``timestamp``, ``amount``; ``quantity`` is used if present.
    as_of : str or Timestamp
        End of observation. Purchases after it are ignored (counted in the record).
    inactivity_days : float
        Length of the inactivity window, in days (> 0).
    time_unit : {"day", "week", "month", "year"}
        Unit of the returned durations (a month is 365.25/12 days).
    engine : str or Engine
        Where the spans are computed.

    Returns
    -------
    durations, quality : see :func:`inactivity_rule`; rows in = purchases.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": pd.array(["a", "a"], dtype="string"),
    ...                    "timestamp": pd.to_datetime(["2020-01-01", "2020-01-11"]),
    ...                    "amount": [1.0, 2.0]})
    >>> d, _ = inactivity_durations(tx, as_of="2020-03-01", inactivity_days=30, time_unit="day")
    >>> float(d["duration"].iloc[0]), bool(d["event"].iloc[0])
    (40.0, True)
    """
    _require(tx, ["customer_id", "timestamp", "amount"], "transactions")
    check_inactivity(as_of, inactivity_days, time_unit)
    eng = get_engine(engine)
    t = eng.table(tx)
    dq = DataQuality(source=INACTIVITY_SOURCE, rows_in=int(t.count().execute()))
    spans = eng.purchase_spans(t, as_of=as_of, lapse_days=inactivity_days)
    return inactivity_rule(spans, dq, as_of=as_of, inactivity_days=inactivity_days,
                           time_unit=time_unit)


class Durations(NamedTuple):
    """What :func:`load_churn_durations` returns."""

    frame: pd.DataFrame  #: one row per customer or subscription
    qualities: list[DataQuality]  #: one data-quality record per step
    kind: str  #: "subscriptions" or "transactions"
    #: end of observation (midnight of the day; None for snapshot subscriptions without one)
    as_of: pd.Timestamp | None = None
    #: where ``as_of`` came from: "parameter", "data" (the last day in the data) or None
    as_of_source: str | None = None


def _default_max_tenure(time_unit: str) -> float:
    """The plausibility limit of a subscription tenure: 100 years in periods of
    ``time_unit`` (a longer tenure is a data error, not a customer)."""
    return 100 * 365.25 / unit_days(time_unit)


def _subscription_options(time_unit: str, options: Mapping) -> dict:
    """The subscriptions loader's options with the default ``max_tenure`` added when the
    user gave none (see :func:`_default_max_tenure`)."""
    return {"max_tenure": _default_max_tenure(time_unit), **options}


def load_churn_durations(subscriptions=None, transactions=None, columns=None, *, as_of=None,
                         inactivity_days: float = 180, time_unit: str = "month",
                         date_format: str | None = None, encoding: str | None = None,
                         delimiter: str | None = None, contract: Mapping | None = None,
                         engine="duckdb") -> Durations:
    """Durations from subscriptions, or from transactions with churn by inactivity.

    Exactly one of ``subscriptions`` and ``transactions`` is given. Subscriptions go
    through the subscriptions data contract and the duration reduction in the engine
    (churn = end of the subscription); transactions through the transactions contract and
    the per-customer purchase spans in the engine, then :func:`inactivity_rule`. Only one
    row per subscription or per customer comes back from the engine.

    Without ``as_of`` the end of observation is the last instant in the data, after the
    data contract: the last purchase for transactions, the last start or end for interval
    subscriptions (:meth:`clm_lib.reduce.Engine.observed_span`); snapshot subscriptions
    need none.

    Parameters
    ----------
    subscriptions, transactions : path, glob, table name, DataFrame or Ibis table, optional
    columns : dict, optional
        Source name -> canonical name.
    as_of : str or Timestamp, optional
        End of observation; default: the last day in the data (see above).
    inactivity_days : float
        Transactions: days without a purchase that define churn.
    time_unit : {"day", "week", "month", "year"}
        Unit of the durations.
    date_format, encoding, delimiter : str, optional
        Reading options of the loader (None: its default).
    contract : mapping, optional
        Contract options of the loader (:data:`clm_lib.io.options.CONTRACT_OPTIONS`);
        subscriptions get ``max_tenure`` = 100 years (:func:`_default_max_tenure`) unless
        given, once the loader takes that option.
    engine : str or Engine
        Where the data are loaded and reduced.

    Returns
    -------
    Durations
        ``frame`` (``customer_id``, ``duration``, ``event``, covariates), ``qualities``
        (loading, then the inactivity rule for transactions), ``kind``, ``as_of`` and
        ``as_of_source``.

    Raises
    ------
    ParameterError
        When neither or both inputs are given.
    """
    if (subscriptions is None) == (transactions is None):
        raise ParameterError(
            "give exactly one of subscriptions and transactions (churn by inactivity); got "
            + ("neither" if subscriptions is None else "both"))
    unit_days(time_unit)
    eng = get_engine(engine)
    read = dict(date_format=date_format, encoding=encoding, delimiter=delimiter,
                contract=contract)
    if transactions is not None:
        check_inactivity(as_of, inactivity_days, time_unit, as_of_required=False)
        tx, dq = eng.load_transactions(transactions, columns, as_of=as_of,
                                       **load_options("transactions", **read))
        end, source = _observation_end(as_of, eng, tx, ("timestamp",))
        spans = eng.purchase_spans(tx, as_of=end, lapse_days=inactivity_days)
        dq2 = DataQuality(source=INACTIVITY_SOURCE, rows_in=dq.rows_used)
        frame, dq2 = inactivity_rule(spans, dq2, as_of=end, inactivity_days=inactivity_days,
                                     time_unit=time_unit)
        return Durations(frame, [dq, dq2], "transactions", pd.Timestamp(end), source)
    opts = _subscription_options(time_unit, load_options("subscriptions", **read))
    source, late = None, 0
    if as_of is not None:
        as_of, source = _observation_end(as_of, eng, None, ())
    subs, dq = eng.load_subscriptions(subscriptions, columns, as_of=as_of, **opts)
    if as_of is None and {"start", "end"} <= set(subs.columns):
        # interval subscriptions need an end of observation: the last instant in the clean
        # data, which three queries read (kept once); snapshots carry their own tenure
        kept = eng.materialize(subs)
        try:
            as_of, source = _observation_end(None, eng, kept.table, ("start", "end"))
            late = ends_after_last_start(eng, kept.table)
            frame = eng.subscription_durations(kept.table, as_of=as_of, time_unit=time_unit)
        finally:
            kept.drop()
    else:
        frame = eng.subscription_durations(subs, as_of=as_of, time_unit=time_unit)
    if late:
        dq.notes.append(ends_after_last_start_note(late, as_of))
    return Durations(frame, [dq], "subscriptions",
                     None if as_of is None else pd.Timestamp(as_of), source)


def _observation_end(as_of, eng, table, columns: tuple[str, ...]):
    """``(as_of, "parameter")`` as given (checked to be a date; a time of day is kept), or
    ``(the last instant among columns of table, "data")``: the data's own end, so that
    a timestamped log's purchases on its last day are inside the observation (its
    midnight would cut them; for date-only data the two are the same)."""
    if as_of is not None:
        day(as_of, "as_of")  # a date, else a ParameterError naming as_of
        return as_of, "parameter"
    return eng.observed_span(table, columns, days=False)[1], "data"


def prepare_durations(df: pd.DataFrame, *, covariates: Sequence[str] = (),
                      segment: str | None = None, zero_duration: float = 0.5,
                      source: str = "durations") -> tuple[pd.DataFrame, DataQuality]:
    """Model-ready durations: counted drops, zero durations shifted.

    * Rows with a missing ``duration``/``event`` or a missing covariate/segment value are
      dropped, counted by column.
    * Negative durations break the contract: :class:`DataContractError`.
    * Durations of exactly 0 (e.g. Telco customers in their first month, tenure 0) are set
      to ``zero_duration`` periods (default half a period, the mid-point of the first
      period), counted as a warning: parametric AFT models need durations > 0.

    Parameters
    ----------
    df : DataFrame
        ``duration`` (periods), ``event`` (bool), the ``covariates`` and ``segment``.
    covariates : sequence of str
        Columns the models will use.
    segment : str, optional
        Column that splits the Kaplan-Meier curves.
    zero_duration : float
        Replacement for zero durations, in periods (> 0).

    Returns
    -------
    frame, quality : DataFrame, DataQuality
    """
    need = ["duration", "event", *covariates] + ([segment] if segment else [])
    _require(df, list(dict.fromkeys(need)), "durations frame")
    if zero_duration <= 0:
        raise ParameterError("zero_duration must be > 0")
    dq = DataQuality(source=source, rows_in=len(df))
    out = df.copy()
    mask = pd.Series(True, index=out.index)
    for col in dict.fromkeys(need):
        miss = out[col].isna() & mask
        dq.drop(f"missing {col}", int(miss.sum()))
        mask &= ~out[col].isna()
    out = out[mask].copy()
    out["duration"] = out["duration"].astype(float)
    neg = out["duration"] < 0
    if neg.any():
        raise DataContractError("duration", "negative duration", int(neg.sum()),
                                np.flatnonzero(neg.to_numpy()))
    out["event"] = out["event"].astype(bool)
    zero = out["duration"] == 0
    if zero.any():
        out.loc[zero, "duration"] = float(zero_duration)
        dq.warn(f"duration 0 set to {zero_duration:g} period", int(zero.sum()))
        dq.notes.append(
            f"{int(zero.sum())} customer(s) with duration 0 (first period not completed) "
            f"were given a duration of {zero_duration:g} period so that parametric models "
            "can use them.")
    dq.rows_used = len(out)
    dq.check()
    return out, dq


def encode_covariates(df: pd.DataFrame, covariates: Sequence[str], *,
                      baselines: Mapping[str, object] | None = None,
                      strata: Sequence[str] = ()) -> tuple[pd.DataFrame, dict]:
    """Design frame for lifelines: ``duration``, ``event`` and numeric covariates.

    Categorical covariates (non-numeric dtype) become one indicator column per level
    except the baseline, named ``"<column>: <level>"``; the baseline is
    ``baselines[column]`` if given, else the most frequent level. Booleans become 0/1.
    ``strata`` columns are passed through unencoded (lifelines stratifies on them).

    Parameters
    ----------
    df : DataFrame
        ``duration``, ``event``, the ``covariates`` and ``strata`` columns, no missing values
        (see :func:`prepare_durations`).
    covariates : sequence of str
    baselines : mapping, optional
        Reference level per categorical covariate.
    strata : sequence of str

    Returns
    -------
    design : DataFrame
        Same index as ``df``.
    baselines : dict
        ``{categorical column: baseline level}`` actually used.
    """
    _require(df, ["duration", "event", *covariates, *strata], "durations frame")
    baselines = dict(baselines or {})
    cols = {"duration": df["duration"].astype(float), "event": df["event"].astype(bool)}
    used = {}
    for c in covariates:
        if c in strata:
            continue
        s = df[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols[c] = s.astype(float)
        else:
            s = s.astype("string")
            levels = s.value_counts()
            base = baselines.get(c, levels.index[0])
            if base not in set(levels.index):
                raise ParameterError(f"baseline {base!r} is not a level of {c!r}")
            used[c] = base
            for level in sorted(levels.index):
                if level != base:
                    cols[f"{c}: {level}"] = (s == level).astype(float)
    for c in strata:
        cols[c] = df[c].astype("string")
    design = pd.DataFrame(cols, index=df.index)
    return design, used


def split_holdout(df: pd.DataFrame, fraction: float = 0.3, *, seed: int = 42
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random train/holdout split (seeded), stratified by ``event`` so both keep the churn rate."""
    if not 0 < fraction < 1:
        raise ParameterError(f"holdout fraction must be in (0, 1); got {fraction!r}")
    _require(df, ["event"], "durations frame")
    rng = np.random.default_rng(seed)
    test = np.zeros(len(df), dtype=bool)
    ev = df["event"].to_numpy(dtype=bool)
    for flag in (True, False):
        idx = np.flatnonzero(ev == flag)
        k = int(round(fraction * len(idx)))
        test[rng.choice(idx, size=k, replace=False)] = True
    return df[~test], df[test]


def stratified_sample(df: pd.DataFrame, size: int, *, seed: int = 42) -> pd.DataFrame:
    """A seeded random sample of ``size`` rows, stratified by ``event`` (the churn rate of
    the sample is that of ``df`` to one row), rows in their original order; ``df`` itself
    when it has no more than ``size`` rows."""
    _require(df, ["event"], "durations frame")
    if size < 1:
        raise ParameterError(f"sample size must be >= 1; got {size!r}")
    if len(df) <= size:
        return df
    rng = np.random.default_rng(seed)
    ev = df["event"].to_numpy(dtype=bool)
    keep = np.zeros(len(df), dtype=bool)
    n_events = int(round(size * ev.mean()))
    for flag, k in ((True, n_events), (False, size - n_events)):
        idx = np.flatnonzero(ev == flag)
        keep[rng.choice(idx, size=min(k, len(idx)), replace=False)] = True
    return df[keep]


def default_rmst_horizon(df: pd.DataFrame, segment: str | None = None,
                         horizon: float | None = None) -> float:
    """RMST horizon (periods): ``horizon`` capped at the shortest follow-up among segments.

    The Kaplan-Meier curve is undefined beyond a segment's longest duration, so the
    common horizon is at most the smallest per-segment maximum; without ``horizon`` that
    cap is used.
    """
    _require(df, ["duration"] + ([segment] if segment else []), "durations frame")
    cap = float(df.groupby(segment, observed=True)["duration"].max().min()) if segment \
        else float(df["duration"].max())
    return cap if horizon is None else float(min(horizon, cap))
