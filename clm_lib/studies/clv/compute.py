"""The CLV study: holdout validation of three purchase models, then customer value.

BG/NBD, Pareto/NBD and MBG/NBD are fitted on a calibration period and tested on the holdout
period that follows, each with the predictive interval of its holdout total
(:mod:`clm_lib.clv.predictive`) and the frequency-distribution check. The model the holdout
selects (:func:`select_value_model`) and the Gamma-Gamma spend model are then refitted on
all data up to ``as_of`` and value every customer over the next ``horizon`` time units,
with predictive intervals (parameter and purchase randomness) per customer and in total,
and the parameter-only interval of the expected purchases, labelled as such.

The transactions are reduced where they live (the engine: per-customer summaries, repeat
purchases per day, segment at first purchase); only those reduced tables come back to
pandas, where the models are fitted. :func:`clv_study` returns a frozen :class:`ClvStudy`;
every word of the report is in :mod:`clm_lib.studies.clv.report`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clm_lib.checks import require_columns as _check
from clm_lib.checks import unit_days
from clm_lib.clv.base import MLEModel, distinct_pairs
from clm_lib.clv.bgnbd import BetaGeoModel
from clm_lib.clv.gamma_gamma import GammaGammaModel, frequency_spend_correlation
from clm_lib.clv.mbgnbd import ModifiedBetaGeoModel
from clm_lib.clv.pareto_nbd import ParetoNBDModel
from clm_lib.clv.predictive import predictive_draws
from clm_lib.clv.valuation import (
    customer_value,
    distinct_rows,
    fit_or_reason,
    fit_purchase_model,
    fit_spend_model,
    per_unit_discount_rate,
    spend_frame,
)
from clm_lib.exceptions import ConvergenceError, ParameterError
from clm_lib.reduce import get_engine
from clm_lib.studies.clv.checks import model_checks, new_customer, purchase_distribution_columns
from clm_lib.reduce.customers import observation_window

__all__ = [
    "MODELS", "VALUE_CANDIDATES", "ClvStudy", "clv_study", "holdout_errors", "holdout_interval",
    "select_value_model", "frequency_distribution", "tracking_data", "conditional_vs_holdout",
    "p_alive_matrix", "top_share", "per_unit_discount_rate", "forecast_steps", "window_forecasts",
]

#: The purchase models compared on the holdout, keyed as in ``ClvStudy.models``.
MODELS = {"bgnbd": BetaGeoModel, "pareto_nbd": ParetoNBDModel, "mbgnbd": ModifiedBetaGeoModel}

#: The models that may value customers, in order of preference on a tie. The BG/NBD is
#: compared on the holdout but does not value: it takes every customer without a repeat
#: purchase to be alive (P(alive) = 1 however long she has been silent).
VALUE_CANDIDATES = ("pareto_nbd", "mbgnbd")

_UNITS = ("day", "week", "month")


def holdout_errors(model, data: pd.DataFrame) -> dict:
    """Holdout accuracy: predicted E[Y(holdout) | history] vs actual holdout purchases.

    ``data`` needs ``frequency``, ``recency``, ``T``, ``frequency_holdout`` and
    ``duration_holdout`` (a per-customer summary with a ``calibration_end``).
    Returns per-customer MAE and RMSE (purchases) and the aggregate totals and their
    relative error (predicted / actual - 1).
    """
    _check(data, ["frequency", "recency", "T", "frequency_holdout", "duration_holdout"], "holdout data")
    pred = model.conditional_expected_purchases(np.asarray(data["duration_holdout"], float), data)
    act = np.asarray(data["frequency_holdout"], float)
    err = pred - act
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err ** 2))),
            "predicted_total": float(pred.sum()), "actual_total": float(act.sum()),
            "aggregate_error": float(pred.sum() / act.sum() - 1) if act.sum() > 0 else float("nan")}


def holdout_interval(model, data: pd.DataFrame, *, n_draws: int, seed: int | None,
                     level: float) -> dict:
    """Predictive interval of the total holdout purchases (parameter uncertainty and the
    randomness of purchases; :func:`clm_lib.clv.predictive.predictive_draws`), whether the
    actual total is inside it, and the share of customers whose own holdout purchases are
    inside their own predictive interval.

    ``data`` as for :func:`holdout_errors`. Returns ``{"interval": [lo, hi], "level",
    "actual_inside": bool, "customer_coverage": share}``.
    """
    _check(data, ["frequency", "recency", "T", "frequency_holdout", "duration_holdout"], "holdout data")
    draws = predictive_draws(model, data, np.asarray(data["duration_holdout"], float),
                             params=model.sample_params(n_draws, seed=seed), seed=seed,
                             level=level)
    lo, hi = draws.interval()
    act = np.asarray(data["frequency_holdout"], float)
    inside = (act >= draws.bounds["purchases_lower"]) & (act <= draws.bounds["purchases_upper"])
    return {"interval": [lo, hi], "level": float(level),
            "actual_inside": bool(lo <= act.sum() <= hi),
            "customer_coverage": float(inside.mean()) if len(act) else float("nan")}


def select_value_model(holdout: dict) -> str | None:
    """The model that values customers: of :data:`VALUE_CANDIDATES` with holdout errors,
    the one with the lowest per-customer holdout MAE (the first on a tie); None when none
    of them was fitted.

    >>> select_value_model({"bgnbd": {"mae": 0.7}, "pareto_nbd": {"mae": 0.9},
    ...                     "mbgnbd": {"mae": 0.8}})
    'mbgnbd'
    """
    fitted = [k for k in VALUE_CANDIDATES if k in holdout]
    return min(fitted, key=lambda k: holdout[k]["mae"]) if fitted else None


def frequency_distribution(models: dict, data: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Share of customers with 0, 1, 2, ... repeat purchases in calibration, actual and as
    each model expects it for customers of the same ages (lifetimes'
    ``plot_period_transactions``, computed exactly instead of by simulation): the model's
    share of ``x`` is the mean over customers of P(X(T_i) = x), evaluated once per distinct
    age T. Frequencies at or above ``max_frequency`` are pooled (``"7+"``).

    Parameters
    ----------
    models : dict
        Name -> fitted purchase model (``probability_of_purchases``).
    data : DataFrame
        ``frequency`` and ``T`` (calibration), one row per customer.

    Returns
    -------
    DataFrame indexed by ``repeat purchases`` (text), columns ``customers`` (actual count),
    ``actual`` (share) and one share column per model name.
    """
    _check(data, ["frequency", "T"], "frequency data")
    x = np.minimum(np.asarray(data["frequency"], int), max_frequency)
    n = len(x)
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    counts = np.bincount(x, minlength=max_frequency + 1).astype(float)
    out = pd.DataFrame({"customers": counts.astype(int), "actual": counts / max(n, 1)},
                       index=pd.Index(labels, name="repeat purchases"))
    ages, weight = np.unique(np.asarray(data["T"], float), return_counts=True)
    ks = np.arange(max_frequency)
    for name, model in models.items():
        share = np.zeros(max_frequency)
        for age, w in zip(ages, weight):
            share += w * np.asarray(model.probability_of_purchases(ks, age), float)
        share /= max(n, 1)
        out[name] = np.r_[share, max(1.0 - share.sum(), 0.0)]
    return out


def tracking_data(per_day: pd.Series, summary: pd.DataFrame, model, *,
                  calibration_end, as_of, time_unit: str) -> pd.DataFrame:
    """Repeat purchases per time unit, actual vs model, across calibration and holdout.

    Parameters
    ----------
    per_day : Series
        Repeat purchase days per calendar day of the customers in ``summary``
        (:meth:`clm_lib.reduce.Engine.repeat_purchases_by_day`), indexed by day.
    summary : DataFrame
        Per-customer summary with a ``first_purchase`` column: the cohort tracked.
    model : fitted purchase model (unconditional ``expected_purchases``).

    Returns
    -------
    DataFrame indexed by ``period`` (0, 1, ... time units since the first acquisition) with
    ``start`` (date), ``actual``, ``predicted`` (repeat purchase days in the period) and
    their cumulative sums ``actual_cumulative``, ``predicted_cumulative``; ``holdout``
    (bool) marks periods after ``calibration_end``. The last period may be partial.
    """
    _check(summary, ["first_purchase"], "summary")
    u = unit_days(time_unit, _UNITS)
    start = pd.Timestamp(summary["first_purchase"].min())
    end_excl = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    n_days = (end_excl - start).days
    n_per = int(np.ceil(n_days / u))
    bounds = np.minimum(np.arange(1, n_per + 1) * u, n_days)  # exclusive ends, days since start
    rep_days = (pd.to_datetime(per_day.index) - start).days.to_numpy()
    per = np.searchsorted(bounds, rep_days, side="right")
    actual = np.bincount(per, weights=per_day.to_numpy(dtype=float),
                         minlength=n_per)[:n_per].astype(float)
    d0 = (pd.to_datetime(summary["first_purchase"]) - start).dt.days.to_numpy()
    days, counts = np.unique(d0, return_counts=True)
    # elapsed time at the end of each period (inclusive last day), per first-purchase day
    t = (bounds[None, :] - 1 - days[:, None]) / u
    ex = np.where(t > 0, model.expected_purchases(np.maximum(t, 0.0)), 0.0)
    cum_pred = counts @ ex
    cal_end = pd.Timestamp(calibration_end).normalize()
    starts = start + pd.to_timedelta(np.arange(n_per) * u, unit="D")
    out = pd.DataFrame({
        "start": starts.normalize(),
        "actual": actual,
        "predicted": np.diff(cum_pred, prepend=0.0),
        "actual_cumulative": np.cumsum(actual),
        "predicted_cumulative": cum_pred,
        "holdout": starts.normalize() > cal_end,
    }, index=pd.RangeIndex(n_per, name="period"))
    out.attrs.update({"time_unit": time_unit, "calibration_end": str(cal_end.date()),
                      "calibration_periods": float(((cal_end - start).days + 1) / u)})
    return out


def conditional_vs_holdout(model, data: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Mean holdout purchases by calibration frequency, actual vs conditional expectation.

    Indexed by ``frequency`` (text: ``"0"``, ``"1"``, ...; frequencies at or above
    ``max_frequency`` are pooled as ``"7+"``): ``customers``, ``actual``, ``predicted``."""
    _check(data, ["frequency", "recency", "T", "frequency_holdout", "duration_holdout"], "holdout data")
    pred = model.conditional_expected_purchases(np.asarray(data["duration_holdout"], float), data)
    f = np.minimum(np.asarray(data["frequency"], int), max_frequency)
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    df = pd.DataFrame({"bin": f, "actual": np.asarray(data["frequency_holdout"], float),
                       "predicted": pred})
    g = df.groupby("bin").agg(customers=("actual", "size"), actual=("actual", "mean"),
                              predicted=("predicted", "mean"))
    g.index = pd.Index([labels[i] for i in g.index], name="frequency")
    return g


def p_alive_matrix(model, *, T: float, max_frequency: int = 20, n_recency: int = 20) -> pd.DataFrame:
    """P(alive) on a grid of frequency (rows) and recency (columns, time units) at a given T.

    Recency > 0 is impossible without repeat purchases, so the x = 0 row is NaN there."""
    rec = np.linspace(0.0, T, n_recency + 1)
    x = np.arange(max_frequency + 1, dtype=float)
    X, R = np.meshgrid(x, rec, indexing="ij")
    pa = model.p_alive({"frequency": X.ravel(), "recency": R.ravel(),
                        "T": np.full(X.size, T)}).reshape(X.shape)
    pa[0, 1:] = np.nan
    return pd.DataFrame(pa, index=pd.Index(x.astype(int), name="frequency"),
                        columns=pd.Index(np.round(rec, 1), name="recency"))


def top_share(values, fraction: float = 0.1) -> float:
    """Share of the total held by the top ``fraction`` of customers (by value)."""
    v = np.sort(np.asarray(values, float))[::-1]
    k = max(int(np.ceil(fraction * len(v))), 1)
    return float(v[:k].sum() / v.sum()) if v.sum() > 0 else float("nan")


#: About a quarter and a half-year in each time unit: the steps of the per-customer
#: forecasts (with the horizon) and of the predictive intervals of the window totals.
_QUARTER_STEPS = {"day": (91, 182, 273), "week": (13, 26, 39), "month": (3, 6, 9)}


def forecast_steps(time_unit: str, horizon: int) -> tuple[int, ...]:
    """The steps (time units after ``as_of``) of the per-customer forecasts and of the
    predictive intervals of the window totals: the quarters of the first year and the
    horizon, those within the horizon (a later run a quarter on scores a forecast at an
    interval, whichever quarter its data reach).

    >>> forecast_steps("week", 52), forecast_steps("month", 4)
    ((13, 26, 39, 52), (3, 4))
    """
    unit_days(time_unit, _UNITS)
    return tuple(sorted({s for s in _QUARTER_STEPS[time_unit] if s < horizon} | {int(horizon)}))


def window_forecasts(model, spend_model, data: pd.DataFrame, *, horizon: int, margin: float,
                     time_unit: str = "week", n_draws: int = 0, seed: int | None = 42, level: float = 0.9) -> pd.DataFrame:
    """What the customers of ``data`` are expected to buy in the windows (as_of, as_of + k]
    for k = 1..``horizon`` time units: totals over customers, **undiscounted**, the basis
    a later run can score against the purchases and spend that then happen.

    Parameters
    ----------
    model : fitted purchase model (``p_alive``,
        ``conditional_expected_purchases_if_alive_table``)
    spend_model : fitted Gamma-Gamma model
    data : DataFrame
        ``frequency``, ``recency``, ``T`` (time units), ``monetary_value`` (and
        ``spend_frequency`` when present), one row per customer.
    horizon : int
        Last window, in time units.
    margin : float
        Fraction of spend that is value (1 for revenue).
    time_unit : {"day", "week", "month"}
        The unit of ``data`` and of the steps.
    n_draws, seed, level
        Predictive draws (parameters and purchase randomness,
        :func:`clm_lib.clv.predictive.predictive_draws`) for the intervals at the steps of
        :func:`forecast_steps`; 0: none.

    Returns
    -------
    DataFrame indexed by ``step`` (1..horizon): ``purchases`` (expected repeat purchases in
    the window), ``value`` (expected spend x margin in the window, currency, undiscounted)
    and, at the steps of :func:`forecast_steps` with ``n_draws``, their predictive interval
    ``purchases_lower``/``purchases_upper`` and ``value_lower``/``value_upper`` (NaN
    elsewhere). ``attrs["level"]`` the interval level.
    """
    _check(data, ["frequency", "recency", "T", "monetary_value"], "window forecast data")
    steps = np.arange(1, int(horizon) + 1, dtype=float)
    pairs, codes = distinct_pairs(data["frequency"], data["T"])
    cum = model.conditional_expected_purchases_if_alive_table(
        steps, {"frequency": pairs[:, 0], "T": pairs[:, 1]})
    alive = np.asarray(model.p_alive(data), float)
    spend = np.asarray(spend_model.conditional_expected_spend(spend_frame(data)), float)
    # sum over customers of alive_i * cum[pair_i, k], grouped by pair
    w_pur = np.bincount(codes, weights=alive, minlength=len(pairs))
    w_val = np.bincount(codes, weights=alive * spend, minlength=len(pairs))
    out = pd.DataFrame({"purchases": w_pur @ cum, "value": margin * (w_val @ cum)},
                       index=pd.Index(steps.astype(int), name="step"))
    for c in ("purchases_lower", "purchases_upper", "value_lower", "value_upper"):
        out[c] = np.nan
    out.attrs["level"] = float(level)
    if n_draws:
        try:
            params = model.sample_params(n_draws, seed=seed)
            spend_params = spend_model.sample_params(n_draws, seed=seed + 1)
        except ConvergenceError as exc:  # the expectations stand without their intervals
            out.attrs["interval_error"] = str(exc)
            return out
        for k in forecast_steps(time_unit, int(horizon)):
            pred = predictive_draws(
                model, data, float(k), params=params, seed=seed, level=level,
                spend_model=spend_model, spend_params=spend_params,
                spend_data=spend_frame(data), discount_rate=0.0, margin=margin)
            out.loc[k, ["purchases_lower", "purchases_upper"]] = pred.interval("purchases")
            out.loc[k, ["value_lower", "value_upper"]] = pred.interval("value")
    return out


# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClvStudy:
    """Everything the CLV report shows; see :func:`clv_study`.

    A model the data cannot support is not fitted: it is absent from ``models`` and its
    reason is in ``model_errors`` (``"not fitted (<data>): <reason>"``).

    ``value_model`` is the key (in :data:`MODELS`) of the model that values customers: the
    one :func:`select_value_model` picks from the holdout; else the BG/NBD when it alone was
    fitted, or the first of :data:`VALUE_CANDIDATES` (tried on all data, without a holdout
    check) when no model could be fitted on the calibration period
    (``value_model_selected`` is then False). ``tracking``, ``cond_holdout`` and
    ``p_alive_grid`` show its calibration fit;
    ``values``, ``clv_quantiles`` and ``top_decile_share`` need it and the Gamma-Gamma
    refitted on all data (``final_model``, ``final_spend_model``, errors keyed
    ``"<value_model>_all_data"`` and ``"gamma_gamma_all_data"``); all are None without.

    ``holdout`` holds the holdout errors of each purchase model fitted on the calibration
    period (:func:`holdout_errors`), in the order of :data:`MODELS`, with the predictive
    interval of the total (:func:`holdout_interval`) when ``n_draws`` > 0;
    ``frequency_fit`` the frequency-distribution check (:func:`frequency_distribution`);
    ``holdout_duration`` is the length of the holdout period and ``p_alive_age`` the age
    (T) of ``p_alive_grid``, both in time units. ``dropped`` counts what each reduction
    left out, ``{"calibration": {reason: n}, "full": {reason: n}}``.
    """

    time_unit: str
    calibration_end: str
    as_of: str
    #: where ``as_of`` and ``calibration_end`` came from: "parameter" or "data"
    #: (:func:`clm_lib.reduce.customers.observation_window`)
    as_of_source: str
    calibration_end_source: str
    horizon: int
    annual_discount_rate: float
    discount_rate_per_unit: float
    margin: float  #: fraction of spend that is value (1.0 when no margin was given)
    value_basis: str  #: "margin" (a margin was given) or "revenue"
    level: float
    segment: str | None
    calibration: pd.DataFrame
    full: pd.DataFrame
    models: dict
    model_errors: dict
    holdout: dict
    holdout_duration: float
    value_model: str
    value_model_selected: bool
    frequency_fit: pd.DataFrame | None
    tracking: pd.DataFrame | None
    cond_holdout: pd.DataFrame | None
    p_alive_grid: pd.DataFrame | None
    p_alive_age: float
    values: pd.DataFrame | None
    final_model: MLEModel | None
    final_spend_model: GammaGammaModel | None
    forecast: dict
    clv_quantiles: dict | None
    top_decile_share: float | None
    spend_correlation: float
    segments: pd.DataFrame | None
    dropped: dict
    #: undiscounted expected purchases and value per window (as_of, as_of + k], k = 1 ..
    #: horizon, with predictive intervals at :func:`forecast_steps`
    #: (:func:`window_forecasts`); None without the value models
    windows: pd.DataFrame | None = None
    #: model checks on the calibration/holdout split (:func:`checks.model_checks`)
    checks: dict | None = None
    #: the fits with and without covariates (:mod:`clm_lib.studies.clv.covariates`);
    #: None when no covariate was given
    covariates: object | None = None


def _as_table(eng, transactions):
    """The transactions as a table of the engine: a path goes through the data contract
    (its record is not kept: load it with ``eng.load_transactions`` to keep it), a
    DataFrame is taken as loaded."""
    if isinstance(transactions, pd.DataFrame):
        return eng.from_pandas(transactions)
    if isinstance(transactions, (str, os.PathLike)):
        return eng.load_transactions(transactions)[0]
    return transactions


def clv_study(transactions, *, calibration_end=None, as_of=None, time_unit: str = "week",
              horizon: int = 52, discount_rate: float = 0.15, margin: float | None = None,
              n_draws: int = 200, seed: int = 42, segment: str | None = None,
              level: float = 0.9, engine="duckdb", covariates=(), covariates_purchase=None,
              covariates_dropout=None, covariates_spend=None, customers=None,
              columns=None) -> ClvStudy:
    """The CLV study: holdout validation of BG/NBD, Pareto/NBD and MBG/NBD, then per-customer
    value from the model the holdout selects (:func:`select_value_model`) and the
    Gamma-Gamma, both refitted on all data up to ``as_of``.

    Parameters
    ----------
    transactions : Ibis table, DataFrame or path
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``; ``segment``
        column if given), best the table returned by ``load_transactions`` of ``engine``
        (whose data-quality record you keep); a DataFrame is taken as loaded, a path is
        loaded with the data contract.
    calibration_end, as_of : date-like, optional
        Calibration period ends at ``calibration_end`` (inclusive); the holdout runs to
        ``as_of`` (inclusive). Defaults from the data: ``as_of`` the last day in them,
        ``calibration_end`` the day that leaves the last third of the observed span as
        the holdout (:func:`clm_lib.reduce.customers.observation_window`); the study
        records which were derived.
    time_unit : {"day", "week", "month"}
    horizon : int
        CLV horizon, in time units after ``as_of``.
    discount_rate : float
        *Annual* discount rate, converted per time unit.
    margin : float, optional
        Margin as a fraction of spend, in (0, 1]. None: no margin is known and value is
        revenue (``value_basis`` "revenue", margin 1).
    n_draws, seed, level
        Draws for the intervals (parameter draws, each with one simulated future of every
        customer), their seed and the interval level; 0 draws: no intervals.
    segment : str, optional
        Column of ``transactions``; each customer takes the value of her first purchase
        (the smallest when several rows share that time; see
        :meth:`clm_lib.reduce.Engine.first_values`), and values are summarised per segment.
    engine : {"duckdb", "spark"} or Engine
        Where the transactions are reduced (per-customer summaries, repeat purchases per
        day, segment at first purchase); models are fitted on the reduced data in pandas.
    covariates, covariates_purchase, covariates_dropout, covariates_spend, customers, columns
        Covariates of the value model and the Gamma-Gamma (columns of the transactions at
        the first purchase day, or of the customer table ``customers`` renamed by
        ``columns``): :func:`clm_lib.studies.clv.covariates.covariate_fits`; none by default.

    Returns
    -------
    ClvStudy
        A model that the data cannot support (no repeat purchase, too few customers, a
        fit on a boundary: :class:`InsufficientDataError`, :class:`ConvergenceError`) is
        not fitted; the reason is in ``model_errors`` and the study goes on with the
        rest (see :class:`ClvStudy` for what is then None).
    """
    from clm_lib.studies.clv import covariates as cov

    eng = get_engine(engine)
    t = _as_table(eng, transactions)
    spec = cov.covariate_spec(covariates, covariates_purchase, covariates_dropout, covariates_spend)
    _check(t, ["customer_id", "timestamp", "amount"] + ([segment] if segment is not None else []),
           "transactions")
    if margin is not None and not 0 < margin <= 1:
        raise ParameterError(f"margin must be a fraction of spend in (0, 1], got {margin!r}")
    basis, margin = ("margin", float(margin)) if margin is not None else ("revenue", 1.0)
    window = observation_window(eng, t, as_of=as_of, calibration_end=calibration_end)
    as_of, calibration_end = window["as_of"], window["calibration_end"]
    if calibration_end >= as_of:
        raise ParameterError(f"calibration_end {calibration_end.date()} must be before as_of "
                             f"{as_of.date()}: the holdout between them checks the models")
    reduce_kw = dict(as_of=as_of, time_unit=time_unit)
    # the log collapsed to purchase days once; both summaries and the repeat purchases
    # per day (the tracking plot) are read from it
    with eng.kept_purchase_days(t) as days:
        cal = eng.summary_data(days, calibration_end=calibration_end, **reduce_kw)
        full = eng.summary_data(days, **reduce_kw)
        per_day = eng.repeat_purchases_by_day(days, calibration_end=calibration_end,
                                              as_of=as_of)
    d_unit = per_unit_discount_rate(discount_rate, time_unit)

    models, errors, holdout = {}, {}, {}
    cal_period = f"calibration to {pd.Timestamp(calibration_end).date()}"
    full_period = f"all data to {pd.Timestamp(as_of).date()}"
    for name, cls in MODELS.items():
        m = fit_or_reason(lambda: fit_purchase_model(cls, cal, engine=eng), errors, name, cal_period)
        if m is not None:
            models[name] = m
            holdout[name] = holdout_errors(m, cal)
            if n_draws:
                try:
                    holdout[name].update(holdout_interval(m, cal, n_draws=n_draws, seed=seed,
                                                          level=level))
                except ConvergenceError as exc:  # the errors stand without their interval
                    holdout[name]["interval_error"] = str(exc)
    spend_cal = fit_or_reason(lambda: fit_spend_model(cal), errors, "gamma_gamma", cal_period)
    if spend_cal is not None:
        models["gamma_gamma"] = spend_cal
    purchase_models = {k: models[k] for k in MODELS if k in models}
    freq_fit = frequency_distribution(purchase_models, cal) if purchase_models else None
    checks = model_checks(purchase_models, cal, freq_fit, holdout, n_draws=n_draws, seed=seed,
                          level=level)

    # the holdout's choice; else the BG/NBD if it alone was fitted; else (nothing could be
    # fitted on the calibration period) the first candidate, tried on all data unvalidated
    chosen = select_value_model(holdout)
    selected = chosen is not None
    if chosen is None:
        chosen = "bgnbd" if "bgnbd" in models else VALUE_CANDIDATES[0]
    vm = models.get(chosen) if chosen is not None else None
    tracking = cond = grid = None
    if vm is not None:
        tracking = tracking_data(per_day, cal, vm, calibration_end=calibration_end,
                                 as_of=as_of, time_unit=time_unit)
        cond = conditional_vs_holdout(vm, cal)
        grid = p_alive_matrix(vm, T=float(cal["T"].max()), max_frequency=15)

    # Final: refit the chosen model on everything up to as_of; value the next `horizon` units.
    final = fit_or_reason(lambda: fit_purchase_model(MODELS[chosen], full, engine=eng), errors,
                          f"{chosen}_all_data", full_period)
    final_spend = fit_or_reason(lambda: fit_spend_model(full), errors,
                                "gamma_gamma_all_data", full_period)
    cov_fits = None
    if any(spec.values()):
        cov_fits = cov.covariate_fits(eng, t, cal, full, model_key=chosen, model_cls=MODELS[chosen],
                                      spec=spec, as_of=as_of, customers=customers, columns=columns,
                                      horizon=horizon, discount_rate=d_unit, margin=margin,
                                      spend_model=final_spend)
    forecast = {"model": chosen, "horizon": int(horizon), "time_unit": time_unit, "level": level}
    values = clv_q = top = seg_table = windows = None
    if final is not None and final_spend is not None:
        windows = window_forecasts(final, final_spend, full, horizon=horizon, margin=margin,
                                   time_unit=time_unit, n_draws=n_draws, seed=seed, level=level)
        # the expectations; their intervals are predictive (parameter-only intervals say
        # where a customer's expectation is, not where her purchases will fall)
        values = customer_value(final, final_spend, full, horizon=horizon, discount_rate=d_unit,
                                margin=margin, n_draws=0, level=level)
        values = values.join(full[["frequency", "recency", "T", "monetary_value"]])
        values = values.join(purchase_distribution_columns(final, full, horizon))
        forecast["new_customer"] = new_customer(final, final_spend, horizon=horizon,
                                                discount_rate=d_unit, margin=margin)
        forecast.update({"expected_purchases": float(values["expected_purchases"].sum()),
                         "clv_total": float(values["clv"].sum())})
        pred = None
        if n_draws:
            try:
                params = final.sample_params(n_draws, seed=seed)
                spend_params = final_spend.sample_params(n_draws, seed=seed + 1)
            except ConvergenceError as exc:  # the expectations stand without their intervals
                forecast["interval_error"] = str(exc)
            else:
                pred = predictive_draws(
                    final, full, float(horizon), params=params, seed=seed, level=level,
                    spend_model=final_spend, spend_params=spend_params,
                    spend_data=spend_frame(full), discount_rate=d_unit, margin=margin)
        if pred is not None:
            forecast["expected_purchases_predictive_interval"] = pred.interval("purchases")
            forecast["clv_total_predictive_interval"] = pred.interval("value")
            forecast["expected_purchases_parameter_interval"] = pred.interval("expected purchases")
            for col, key in (("purchases_lower", "purchases_lower"),
                             ("purchases_upper", "purchases_upper"),
                             ("clv_lower", "value_lower"), ("clv_upper", "value_upper")):
                values[col] = pred.bounds[key]
        probs = [0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
        clv_q = {f"p{int(p * 100)}": float(v) for p, v in zip(probs, np.quantile(values["clv"], probs))}
        top = top_share(values["clv"], 0.1)
        if segment is not None:
            v = values.join(eng.first_values(t, segment).rename("segment"))
            seg_table = v.groupby("segment", dropna=False).agg(
                customers=("clv", "size"), total_clv=("clv", "sum"), mean_clv=("clv", "mean"),
                mean_p_alive=("p_alive", "mean"))
            seg_table["share_of_clv"] = seg_table["total_clv"] / seg_table["total_clv"].sum()

    return ClvStudy(
        time_unit=time_unit, calibration_end=str(pd.Timestamp(calibration_end).date()),
        as_of=str(pd.Timestamp(as_of).date()), as_of_source=window["as_of_source"],
        calibration_end_source=window["calibration_end_source"], horizon=int(horizon),
        annual_discount_rate=float(discount_rate), discount_rate_per_unit=d_unit, margin=margin,
        value_basis=basis,
        level=level, segment=segment, calibration=cal, full=full, models=models,
        model_errors=errors, holdout=holdout,
        holdout_duration=(float(cal["duration_holdout"].iloc[0]) if len(cal) else float("nan")),
        value_model=chosen, value_model_selected=selected, frequency_fit=freq_fit,
        tracking=tracking, cond_holdout=cond, p_alive_grid=grid,
        p_alive_age=float(cal["T"].max()) if len(cal) else float("nan"), values=values,
        final_model=final, final_spend_model=final_spend, forecast=forecast,
        clv_quantiles=clv_q, top_decile_share=top,
        spend_correlation=frequency_spend_correlation(spend_frame(cal)), segments=seg_table,
        dropped={"calibration": dict(cal.attrs.get("dropped", {})),
                 "full": dict(full.attrs.get("dropped", {}))},
        windows=windows, checks=checks, covariates=cov_fits,
    )
