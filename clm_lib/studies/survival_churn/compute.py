"""Survival-based churn: durations, Kaplan-Meier, Cox and AFT models, holdout checks, risk.

Everything here works on a *durations frame*: one row per customer with the canonical
columns ``customer_id``, ``duration`` (float, in periods of ``time_unit``) and ``event``
(bool, True = churned, False = right-censored at ``as_of``), plus covariates. Such a frame
comes from :func:`clm_lib.io.pandas_contract.subscription_durations` (subscriptions) or from
:func:`inactivity_durations` (transactions, churn by inactivity).

Models are real lifelines fitters (``KaplanMeierFitter``, ``CoxPHFitter``,
``WeibullAFTFitter``, ``LogNormalAFTFitter``, ``LogLogisticAFTFitter``); the functions
below choose their options, prepare their input and read their results into tables.
The one estimator lifelines lacks, the integrated Brier score with inverse probability of
censoring weights (Graf et al. 1999), is implemented here.

References
----------
Kaplan & Meier (1958); Cox (1972); Harrell et al. (1982) for the concordance index;
Graf, Schmoor, Sauerbrei & Schumacher (1999), Statistics in Medicine 18, 2529-2545.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from lifelines import (
    CoxPHFitter,
    KaplanMeierFitter,
    LogLogisticAFTFitter,
    LogNormalAFTFitter,
    WeibullAFTFitter,
)
from lifelines.statistics import (
    StatisticalResult,
    multivariate_logrank_test,
    pairwise_logrank_test,
    proportional_hazard_test,
)
from lifelines.utils import concordance_index, median_survival_times

from clm_lib.exceptions import (
    DataContractError,
    InsufficientDataError,
    ParameterError,
)
from clm_lib.io.quality import DataQuality
from clm_lib.checks import TIME_UNITS, unit_days
from clm_lib.checks import require_columns as _require

__all__ = [
    "TIME_UNIT_DAYS",
    "inactivity_durations",
    "prepare_durations",
    "encode_covariates",
    "split_holdout",
    "kaplan_meier",
    "km_summary",
    "rmst_km",
    "logrank_tests",
    "fit_cox",
    "hazard_ratio_table",
    "check_proportional_hazards",
    "fit_aft_models",
    "compare_models",
    "fit_aft",
    "active_customers",
    "predict_survival",
    "brier_score",
    "integrated_brier_score",
    "calibration_table",
    "customer_risk_table",
    "segment_value",
    "load_churn_durations",
    "default_rmst_horizon",
    "segment_hazard_ratios",
    "ph_strata",
    "ph_note",
    "format_p",
    "select_model",
    "summary_lines",
    "survival_metrics",
    "risk_export",
    "headline",
]

#: Length of one period in days (a month is 365.25 / 12 days, a year 365.25 days).
TIME_UNIT_DAYS = TIME_UNITS

#: Row count above which :func:`fit_cox` asks lifelines for its batch algorithm.
COX_BATCH_THRESHOLD = 50_000


_period_days = unit_days


# ---------------------------------------------------------------------------------------
# Durations
# ---------------------------------------------------------------------------------------

def inactivity_durations(tx: pd.DataFrame, *, as_of, inactivity_days: float,
                         time_unit: str = "month") -> tuple[pd.DataFrame, DataQuality]:
    """Durations and churn events from a purchase log, churn defined by inactivity.

    Definition. A customer's life starts at the first purchase. The customer *churns* when
    ``inactivity_days`` pass without a purchase; the churn time is the date the rule fires,
    ``last purchase + inactivity_days``. By ``as_of`` we observe:

    * ``last purchase + inactivity_days <= as_of``: churned, ``event=True``,
      ``duration = last purchase + inactivity_days - first purchase``;
    * otherwise: still active, ``event=False``, censored at
      ``duration = as_of - first purchase`` (we only know the rule has not fired yet).

    Observed and censored durations thus run on the same clock (observed time =
    min(churn time, as_of - first purchase)), which is what right censoring requires;
    taking ``last - first`` for churners but ``as_of - first`` for the censored would
    inflate the censored durations by up to a window. Every churned duration is at least
    ``inactivity_days``, so one-time buyers have positive durations.

    Parameters
    ----------
    tx : DataFrame
        Canonical transactions (:func:`clm_lib.io.pandas_contract.load_transactions`): ``customer_id``,
        ``timestamp`` (datetime64), ``amount`` (float); ``quantity`` is used if present.
    as_of : str or Timestamp
        End of observation. Purchases after it are ignored (counted in the record).
    inactivity_days : float
        Length of the inactivity window, in days (> 0).
    time_unit : {"day", "week", "month", "year"}
        Unit of the returned durations (a month is 365.25/12 days).

    Returns
    -------
    durations : DataFrame
        One row per customer: ``customer_id``, ``first_purchase``, ``last_purchase``,
        ``n_purchases``, ``total_amount``, ``first_amount`` (spend on the first purchase
        day), ``first_quantity`` (if ``quantity`` given), ``churn_date`` (NaT if censored),
        ``duration`` (float, periods), ``event`` (bool), ``min_duration`` (last purchase +
        window - first purchase, periods: the earliest possible churn time, used by
        :func:`customer_risk_table`), ``spend_per_period`` (total amount / duration, in
        currency per period).
    quality : DataQuality
        Rows in = purchases; rows used = purchases on or before ``as_of``.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": pd.array(["a", "a"], dtype="string"),
    ...                    "timestamp": pd.to_datetime(["2020-01-01", "2020-01-11"]),
    ...                    "amount": [1.0, 2.0]})
    >>> d, _ = inactivity_durations(tx, as_of="2020-03-01", inactivity_days=30, time_unit="day")
    >>> float(d["duration"].iloc[0]), bool(d["event"].iloc[0])
    (40.0, True)
    """
    from clm_lib.reduce.pandas_reductions import purchase_spans

    _require(tx, ["customer_id", "timestamp", "amount"], "transactions")
    _check_inactivity(as_of, inactivity_days, time_unit)
    dq = DataQuality(source="transactions -> inactivity durations", rows_in=len(tx))
    ts = pd.to_datetime(tx["timestamp"])
    bad_ts = ts.isna()
    if bad_ts.any():
        raise DataContractError("timestamp", "missing timestamp", int(bad_ts.sum()),
                                np.flatnonzero(bad_ts.to_numpy()))
    spans = purchase_spans(tx, as_of=as_of)
    return _inactivity_rule(spans, dq, as_of=as_of, inactivity_days=inactivity_days,
                            time_unit=time_unit)


def _check_inactivity(as_of, inactivity_days: float, time_unit: str) -> float:
    """Check the parameters of churn by inactivity; the length of ``time_unit`` in days."""
    if as_of is None:
        raise ParameterError("as_of is required for churn by inactivity (the observation end)")
    if not inactivity_days or inactivity_days <= 0:
        raise ParameterError(f"inactivity_days must be > 0; got {inactivity_days!r}")
    return _period_days(time_unit)


def _inactivity_rule(spans: pd.DataFrame, dq: DataQuality, *, as_of, inactivity_days: float,
                     time_unit: str) -> tuple[pd.DataFrame, DataQuality]:
    """Churn by inactivity on per-customer purchase spans (the rule of
    :func:`inactivity_durations`, written once for every engine).

    ``spans`` is :func:`clm_lib.reduce.pandas_reductions.purchase_spans` (or the same from an engine,
    :meth:`clm_lib.reduce.engine.Engine.purchase_spans`); ``dq`` has ``rows_in`` = purchases.
    """
    days = _period_days(time_unit)
    as_of = pd.Timestamp(as_of)
    dq.drop("purchase after as_of", int(spans.attrs.get("purchases_after_as_of", 0)))
    dq.rows_used = dq.rows_in - dq.n_dropped
    dq.check()
    if spans.empty:
        raise InsufficientDataError(f"no purchase on or before as_of={as_of.date()}")
    out = spans.copy()
    out.attrs = {}
    window = pd.Timedelta(days=float(inactivity_days))
    fired = out["last_purchase"] + window
    event = fired <= as_of
    end = fired.where(event, as_of)
    out["churn_date"] = fired.where(event)
    out["duration"] = (end - out["first_purchase"]) / pd.Timedelta(days=1) / days
    out["event"] = event.astype(bool)
    # the rule cannot fire before last purchase + window: a floor on the churn time
    out["min_duration"] = (fired - out["first_purchase"]) / pd.Timedelta(days=1) / days
    with np.errstate(divide="ignore", invalid="ignore"):
        out["spend_per_period"] = np.where(out["duration"] > 0,
                                           out["total_amount"] / out["duration"], np.nan)
    dq.notes.append(
        f"Churn = no purchase for {inactivity_days:g} days; churn time = last purchase + "
        f"{inactivity_days:g} days; customers whose window has not elapsed by "
        f"{as_of.date()} are censored at as_of. Durations in {time_unit}s "
        f"({days:g} days each).")
    out["customer_id"] = out["customer_id"].astype("string")
    return out, dq


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
        if pd.api.types.is_bool_dtype(s):
            cols[c] = s.astype(float)
        elif pd.api.types.is_numeric_dtype(s):
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


# ---------------------------------------------------------------------------------------
# Kaplan-Meier, RMST, log-rank
# ---------------------------------------------------------------------------------------

def kaplan_meier(df: pd.DataFrame, *, segment: str | None = None, alpha: float = 0.05,
                 min_size: int = 1) -> dict[str, KaplanMeierFitter]:
    """Kaplan-Meier fitters: ``"All"`` plus one per value of ``segment``.

    Parameters
    ----------
    df : DataFrame
        ``duration`` (periods), ``event`` (bool) and ``segment``.
    segment : str, optional
    alpha : float
        1 - confidence level of the bands (exponential Greenwood, lifelines' default).
    min_size : int
        Segments with fewer customers are skipped.

    Returns
    -------
    dict[str, KaplanMeierFitter]
    """
    _require(df, ["duration", "event"] + ([segment] if segment else []), "durations frame")
    if df.empty:
        raise InsufficientDataError("no customers to fit a Kaplan-Meier curve on")
    out = {"All": KaplanMeierFitter(alpha=alpha).fit(df["duration"], df["event"], label="All")}
    if segment:
        for value, g in df.groupby(segment, sort=True, observed=True):
            if len(g) >= min_size:
                out[str(value)] = KaplanMeierFitter(alpha=alpha).fit(
                    g["duration"], g["event"], label=str(value))
    return out


def rmst_km(kmf: KaplanMeierFitter, horizon: float) -> tuple[float, float]:
    """Restricted mean survival time of a Kaplan-Meier curve up to ``horizon``, with its SE.

    RMST = integral of the KM step function from 0 to ``horizon``. Its variance is the
    Greenwood-type estimator (Klein & Moeschberger 2003, section 4.5):
    ``sum over event times t_i <= horizon of A_i**2 * d_i / (n_i * (n_i - d_i))`` with
    ``A_i`` the area under the curve between ``t_i`` and ``horizon``.

    Returns
    -------
    (rmst, standard error), both in periods.
    """
    sf = kmf.survival_function_.iloc[:, 0]
    times = sf.index.to_numpy(dtype=float)
    values = sf.to_numpy(dtype=float)
    # the step function on [0, horizon]
    knots = np.concatenate([[0.0], times[(times > 0) & (times < horizon)], [horizon]])
    idx = np.searchsorted(times, knots[:-1], side="right") - 1
    level = np.where(idx >= 0, values[np.clip(idx, 0, None)], 1.0)
    widths = np.diff(knots)
    pieces = level * widths
    rmst = float(pieces.sum())
    et = kmf.event_table
    ev = et[(et["observed"] > 0) & (et.index <= horizon) & (et.index > 0)]
    var = 0.0
    for t_i, row in ev.iterrows():
        n_i, d_i = float(row["at_risk"]), float(row["observed"])
        if n_i - d_i <= 0:
            continue  # the curve falls to 0: no variance contribution defined
        a_i = float(pieces[knots[:-1] >= t_i].sum())
        var += a_i ** 2 * d_i / (n_i * (n_i - d_i))
    return rmst, float(np.sqrt(var))


def km_summary(kmfs: Mapping[str, KaplanMeierFitter], *, horizon: float,
               alpha: float = 0.05) -> pd.DataFrame:
    """Per curve: customers, churn events, median lifetime and RMST with intervals.

    Parameters
    ----------
    kmfs : mapping
        Output of :func:`kaplan_meier`.
    horizon : float
        RMST horizon, in periods.

    Returns
    -------
    DataFrame indexed by segment: ``customers``, ``churned``, ``median`` (NaN where the
    curve never falls to 50 %), ``median_ci_low``, ``median_ci_high`` (inf = unbounded),
    ``rmst``, ``rmst_ci_low``, ``rmst_ci_high`` (normal approximation).
    """
    from scipy.stats import norm

    z = norm.ppf(1 - alpha / 2)
    rows = {}
    for name, kmf in kmfs.items():
        med = float(kmf.median_survival_time_)
        ci = median_survival_times(kmf.confidence_interval_)
        lo, hi = (float(ci.iloc[0, 0]), float(ci.iloc[0, 1])) if ci.shape[1] == 2 else (np.nan,) * 2
        rm, se = rmst_km(kmf, horizon)
        rows[name] = {
            "customers": int(kmf.event_table["entrance"].sum()),
            "churned": int(kmf.event_observed.sum()),
            "median": med if np.isfinite(med) else np.nan,
            # lifelines' CI columns are (lower, upper) of S: the median of the upper band is
            # the upper limit of the median
            "median_ci_low": min(lo, hi), "median_ci_high": max(lo, hi),
            "rmst": rm, "rmst_ci_low": rm - z * se, "rmst_ci_high": min(rm + z * se, horizon),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "segment"
    return out


def logrank_tests(df: pd.DataFrame, segment: str
                  ) -> tuple[StatisticalResult, StatisticalResult]:
    """Multivariate log-rank test across all values of ``segment`` and pairwise tests.

    Returns the two lifelines ``StatisticalResult`` objects (``.p_value``, ``.summary``).
    """
    _require(df, ["duration", "event", segment], "durations frame")
    if df[segment].nunique() < 2:
        raise InsufficientDataError(f"log-rank test needs two or more values of {segment!r}")
    groups = df[segment].astype("string")
    multi = multivariate_logrank_test(df["duration"], groups, df["event"])
    pair = pairwise_logrank_test(df["duration"], groups, df["event"])
    return multi, pair


# ---------------------------------------------------------------------------------------
# Regression models
# ---------------------------------------------------------------------------------------

def fit_cox(design: pd.DataFrame, *, strata: Sequence[str] | None = None,
            penalizer: float = 0.0, batch_mode: bool | None | str = "auto",
            alpha: float = 0.05) -> CoxPHFitter:
    """Cox proportional-hazards model (Breslow/Efron as in lifelines) on a design frame.

    ``batch_mode="auto"`` uses lifelines' batch algorithm from
    :data:`COX_BATCH_THRESHOLD` rows on, and lifelines' own choice below: its heuristic
    picks the per-row algorithm for large frames with mostly distinct durations, which is
    an order of magnitude slower there (see ``benchmarks/bench_cox.py``).

    Parameters
    ----------
    design : DataFrame
        Output of :func:`encode_covariates`: ``duration``, ``event``, numeric covariates,
        and the ``strata`` columns.
    strata : sequence of str, optional
        Columns to stratify on (separate baseline hazards, no coefficient).
    """
    _require(design, ["duration", "event", *(strata or [])], "design frame")
    if batch_mode == "auto":
        batch_mode = True if len(design) >= COX_BATCH_THRESHOLD else None
    cph = CoxPHFitter(penalizer=penalizer, alpha=alpha, strata=list(strata) if strata else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        cph.fit(design, duration_col="duration", event_col="event", batch_mode=batch_mode)
    return cph


def hazard_ratio_table(cph: CoxPHFitter) -> pd.DataFrame:
    """Hazard ratios of a fitted Cox model: ``hr``, ``ci_low``, ``ci_high``, ``p`` per covariate."""
    s = cph.summary
    lo = [c for c in s.columns if c.startswith("exp(coef) lower")][0]
    hi = [c for c in s.columns if c.startswith("exp(coef) upper")][0]
    out = pd.DataFrame({"hr": s["exp(coef)"], "ci_low": s[lo], "ci_high": s[hi], "p": s["p"]})
    out.index = [str(i) for i in out.index]
    out.index.name = "covariate"
    return out


def check_proportional_hazards(cph: CoxPHFitter, design: pd.DataFrame, *,
                               alpha: float = 0.01) -> pd.DataFrame:
    """Schoenfeld-residual test of proportional hazards (time transform: KM rank).

    Returns
    -------
    DataFrame indexed by design column: ``statistic``, ``p``, ``violated`` (p < alpha),
    ``covariate`` (the source column: ``"Contract"`` for ``"Contract: Two year"``).
    """
    res = proportional_hazard_test(cph, design, time_transform="rank")
    s = res.summary
    out = pd.DataFrame({"statistic": s["test_statistic"].to_numpy(),
                        "p": s["p"].to_numpy()}, index=[str(i) for i in s.index])
    out["violated"] = out["p"] < alpha
    out["covariate"] = [i.split(": ", 1)[0] for i in out.index]
    out.index.name = "term"
    return out


AFT_MODELS = {
    "Weibull AFT": WeibullAFTFitter,
    "Log-normal AFT": LogNormalAFTFitter,
    "Log-logistic AFT": LogLogisticAFTFitter,
}


def fit_aft_models(design: pd.DataFrame, *, penalizer: float = 0.0
                   ) -> dict[str, WeibullAFTFitter | LogNormalAFTFitter | LogLogisticAFTFitter]:
    """Weibull, log-normal and log-logistic AFT models on a design frame (durations > 0).

    Models that fail to converge are left out with a warning naming them.
    """
    _require(design, ["duration", "event"], "design frame")
    if (design["duration"] <= 0).any():
        raise DataContractError("duration", "AFT models need durations > 0 "
                                "(see prepare_durations)", int((design["duration"] <= 0).sum()))
    out = {}
    for name in AFT_MODELS:
        try:
            out[name] = fit_aft(design, name, penalizer=penalizer)
        except Exception as exc:  # lifelines raises ConvergenceError of its own
            from clm_lib.exceptions import ConvergenceWarning
            warnings.warn(f"{name} did not converge ({type(exc).__name__}); left out",
                          ConvergenceWarning, stacklevel=2)
    return out


def fit_aft(design: pd.DataFrame, name: str, *, penalizer: float = 0.0):
    """One AFT model by name (a key of :data:`AFT_MODELS`) on the numeric design columns."""
    if name not in AFT_MODELS:
        raise ParameterError(f"unknown AFT model {name!r}; choose from {list(AFT_MODELS)}")
    _require(design, ["duration", "event"], "design frame")
    num = design.select_dtypes(include=[np.number, bool])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return AFT_MODELS[name](penalizer=penalizer).fit(num, "duration", "event")


def active_customers(design: pd.DataFrame, data: pd.DataFrame, *,
                     margin: str | float | None = None) -> pd.DataFrame:
    """Design rows of the censored (still active) customers, ready for
    :func:`customer_risk_table`: adds ``customer_id``, ``min_duration`` (if ``data`` has
    it) and, when ``margin`` names a column of ``data``, a ``margin`` column (per period). ``design`` and ``data`` share an index.
    """
    _require(design, ["duration", "event"], "design frame")
    _require(data, ["customer_id"] + ([margin] if isinstance(margin, str) else []),
             "durations frame")
    act = design.loc[~design["event"].astype(bool)].drop(columns="event")
    act = act.assign(customer_id=data.loc[act.index, "customer_id"])
    if "min_duration" in data.columns:
        act["min_duration"] = data.loc[act.index, "min_duration"].astype(float)
    if isinstance(margin, str):
        act["margin"] = data.loc[act.index, margin].astype(float)
    return act


def predict_survival(model, design: pd.DataFrame, times: Sequence[float]) -> pd.DataFrame:
    """Survival probabilities, index = ``times`` (periods), one column per row of ``design``."""
    times = np.asarray(times, dtype=float)
    sf = model.predict_survival_function(design, times=times)
    sf.columns = design.index
    return sf


def _risk_score(model, design: pd.DataFrame) -> np.ndarray:
    """A score that grows with expected lifetime (for the concordance index)."""
    if isinstance(model, CoxPHFitter):
        return -np.asarray(model.predict_log_partial_hazard(design), dtype=float)
    return np.asarray(model.predict_median(design), dtype=float)


def compare_models(models: Mapping[str, object], train: pd.DataFrame,
                   test: pd.DataFrame | None = None, *,
                   ibs_times: Sequence[float] | None = None) -> pd.DataFrame:
    """AIC, concordance (train and holdout) and integrated Brier score per model.

    Cox's AIC is the partial-likelihood AIC (``AIC_partial_``), not comparable with the
    full-likelihood AIC of the AFT models; rank the AFT models by AIC and all models by
    concordance and Brier score.

    Parameters
    ----------
    models : mapping name -> fitted lifelines regression fitter (fitted on ``train``)
    train, test : design frames
    ibs_times : sequence of float, optional
        Grid for the integrated Brier score on ``test``; default: 20 points from the 5th to
        the 80th percentile of holdout durations.
    """
    rows = {}
    if test is not None and ibs_times is None:
        q = np.quantile(test["duration"], [0.05, 0.8])
        ibs_times = np.linspace(max(q[0], 1e-9), q[1], 20)
    for name, m in models.items():
        if isinstance(m, CoxPHFitter):
            aic, kind = m.AIC_partial_, "partial"
        else:
            aic, kind = m.AIC_, "full"
        r = {"AIC": float(aic), "AIC_kind": kind,
             "concordance_train": float(m.concordance_index_)}
        if test is not None:
            r["concordance_holdout"] = float(concordance_index(
                test["duration"], _risk_score(m, test), test["event"]))
            sf = predict_survival(m, test, ibs_times)
            r["integrated_brier_score"] = integrated_brier_score(
                sf, test["duration"], test["event"],
                censoring_durations=train["duration"], censoring_events=train["event"])
        rows[name] = r
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "model"
    return out


# ---------------------------------------------------------------------------------------
# Brier score (Graf et al. 1999)
# ---------------------------------------------------------------------------------------

def _censoring_survival(durations, events):
    """KM estimate G of the censoring distribution (censoring = the 'event')."""
    kmf = KaplanMeierFitter().fit(np.asarray(durations, float),
                                  ~np.asarray(events, bool))
    sf = kmf.survival_function_.iloc[:, 0]
    times = sf.index.to_numpy(float)
    vals = sf.to_numpy(float)

    def G(t, left=False):
        t = np.asarray(t, float)
        side = "left" if left else "right"
        idx = np.searchsorted(times, t, side=side) - 1
        return np.where(idx >= 0, vals[np.clip(idx, 0, None)], 1.0)

    return G


def brier_score(survival: pd.DataFrame, durations, events, *,
                censoring_durations=None, censoring_events=None) -> pd.Series:
    """Brier score at each time with inverse probability of censoring weights.

    Graf et al. (1999), eq. (5): for time ``t`` and subjects ``i = 1..n``::

        BS(t) = 1/n * sum_i [ S_i(t)**2 * 1{T_i <= t, event_i} / G(T_i-)
                              + (1 - S_i(t))**2 * 1{T_i > t} / G(t) ]

    where ``S_i`` is the predicted survival and ``G`` the Kaplan-Meier estimate of the
    censoring survival function (``G(T_i-)`` its left limit). Subjects censored before
    ``t`` contribute 0 but count in ``n``.

    Parameters
    ----------
    survival : DataFrame
        Predicted survival, index = times (periods), one column per subject (in the order
        of ``durations``).
    durations, events : array-like
        Observed durations (periods) and churn flags of the same subjects.
    censoring_durations, censoring_events : array-like, optional
        Sample for ``G`` (e.g. the training set); default: the evaluated subjects.

    Returns
    -------
    Series indexed by time.
    """
    T = np.asarray(durations, float)
    E = np.asarray(events, bool)
    S = survival.to_numpy(float)
    if S.shape[1] != len(T):
        raise ParameterError(f"survival has {S.shape[1]} columns for {len(T)} subjects")
    G = _censoring_survival(T if censoring_durations is None else censoring_durations,
                            E if censoring_events is None else censoring_events)
    g_ti = G(T, left=True)
    out = []
    for k, t in enumerate(survival.index.to_numpy(float)):
        s = S[k]
        died = (T <= t) & E
        alive = T > t
        g_t = float(G(t))
        with np.errstate(divide="ignore", invalid="ignore"):
            # G(T_i-) = 0 only when every subject was censored before T_i: no weight exists
            a = np.where(died & (g_ti > 0), s ** 2 / g_ti, 0.0)
            b = np.where(alive, (1 - s) ** 2 / g_t, 0.0) if g_t > 0 else np.zeros_like(s)
        out.append(float(np.sum(a + b) / len(T)))
    return pd.Series(out, index=survival.index, name="brier_score")


def integrated_brier_score(survival: pd.DataFrame, durations, events, **kwargs) -> float:
    """Integrated Brier score: trapezoid integral of :func:`brier_score` over the times of
    ``survival``, divided by the length of that interval (Graf et al. 1999, eq. 6 with
    uniform weight). 0 is perfect; 0.25 is what predicting 50 % for everyone scores.
    """
    bs = brier_score(survival, durations, events, **kwargs)
    t = bs.index.to_numpy(float)
    if len(t) < 2 or t[-1] <= t[0]:
        raise ParameterError("the integrated Brier score needs two or more distinct times")
    v = bs.to_numpy()
    return float(np.sum((v[1:] + v[:-1]) / 2 * np.diff(t)) / (t[-1] - t[0]))


# ---------------------------------------------------------------------------------------
# Calibration, per-customer risk and value
# ---------------------------------------------------------------------------------------

def calibration_table(model, test: pd.DataFrame, horizons: Sequence[float], *,
                      n_bins: int = 5) -> pd.DataFrame:
    """Predicted vs observed churn within each horizon, by bins of predicted risk.

    Holdout customers are cut into ``n_bins`` equal-size bins of predicted
    P(churn within h); the observed churn is 1 - Kaplan-Meier(h) within the bin, which
    accounts for censoring.

    Returns
    -------
    DataFrame: ``horizon``, ``bin`` (1 = lowest risk), ``customers``, ``predicted``,
    ``observed``.
    """
    _require(test, ["duration", "event"], "design frame")
    sf = predict_survival(model, test, horizons)
    rows = []
    for h in horizons:
        p = 1 - sf.loc[float(h)].to_numpy()
        bins = pd.qcut(pd.Series(p).rank(method="first"), n_bins, labels=False) + 1
        for b in range(1, n_bins + 1):
            sel = (bins == b).to_numpy()
            if not sel.any():
                continue
            kmf = KaplanMeierFitter().fit(test["duration"].to_numpy()[sel],
                                          test["event"].to_numpy()[sel])
            obs = 1 - float(kmf.survival_function_at_times(float(h)).iloc[0])
            rows.append({"horizon": float(h), "bin": b, "customers": int(sel.sum()),
                         "predicted": float(p[sel].mean()), "observed": obs})
    return pd.DataFrame(rows)


def customer_risk_table(model, active: pd.DataFrame, *, horizons: Sequence[float] = (1, 3, 6),
                        margin: str | float | None = None, discount_rate: float = 0.01,
                        tier_thresholds: tuple[float, float] = (0.2, 0.5),
                        tier_horizon: float | None = None,
                        max_horizon: float = 240.0, grid_step: float = 0.25) -> pd.DataFrame:
    """Per active customer: survival given tenure so far, churn risk, remaining life, value.

    For a customer with tenure ``t`` (the ``duration`` of a censored row) known to survive
    at least to ``t_min = max(t, min_duration)`` (``min_duration`` column, optional: under
    churn by inactivity the rule cannot fire before last purchase + window), let
    ``S(t + k | .) = 1`` for ``t + k <= t_min`` and ``S(t + k) / S(t_min)`` after
    (lifelines' ``conditional_after``). Then

    * ``p_churn_<h>`` = 1 - S(t + h | .), the probability of churning within ``h`` periods
      from now;
    * ``expected_remaining`` = integral of S(t + u | .) for u in [0, ``max_horizon``]
      (periods; a restricted mean, since heavy-tailed models have long tails);
    * ``risk_tier`` = "high" if P(churn within ``tier_horizon``) >= the upper threshold,
      "medium" if >= the lower one, else "low"; ``tier_horizon`` defaults to the longest
      horizon;
    * ``value`` = margin * ``discounted_lifetime``, with ``discounted_lifetime`` = sum over
      k = 1..``max_horizon`` of S(t + k | .) / (1 + d)**k: margin per period earned at the
      end of each period the customer survives, discounted at ``discount_rate`` per period.

    Without ``min_duration`` (or where it does not exceed the tenure) the survival is
    evaluated exactly at whole periods; otherwise it is interpolated linearly on a grid of
    ``grid_step`` periods.

    Parameters
    ----------
    model : fitted lifelines regression fitter
    active : DataFrame
        Design frame of the active (censored) customers, ``duration`` = tenure so far
        (periods); ``customer_id`` and ``min_duration`` are carried over / used if present;
        the ``margin`` column if named.
    margin : str, float or None
        Column of margin per period, or one number for all; None: no value columns.

    Returns
    -------
    DataFrame with one row per active customer, same index as ``active``.
    """
    _require(active, ["duration"] + ([margin] if isinstance(margin, str) else []),
             "active customers")
    if discount_rate < 0:
        raise ParameterError("discount_rate must be >= 0")
    lo, hi = tier_thresholds
    if not 0 < lo < hi < 1:
        raise ParameterError("tier_thresholds must satisfy 0 < low < high < 1")
    horizons = [float(h) for h in horizons]
    tier_h = float(tier_horizon) if tier_horizon is not None else max(horizons)
    grid = np.arange(0.0, float(max_horizon) + 1.0, 1.0)
    offsets = np.unique(np.concatenate([grid, horizons, [tier_h]]))  # periods from now
    t0 = active["duration"].to_numpy(float)
    t_min = t0.copy()
    if "min_duration" in active.columns:
        t_min = np.maximum(t0, active["min_duration"].to_numpy(float))
    X = active.drop(columns=[c for c in ("customer_id", "min_duration") if c in active.columns])
    lead = t_min - t0
    if not (lead > 0).any():
        S = model.predict_survival_function(X, times=offsets, conditional_after=t0).to_numpy(float)
    else:
        u = np.unique(np.concatenate([np.arange(0.0, float(max_horizon) + grid_step, grid_step),
                                      offsets]))
        C = model.predict_survival_function(X, times=u, conditional_after=t_min).to_numpy(float)
        S = np.empty((len(offsets), len(t0)))
        for i in range(len(t0)):
            S[:, i] = np.where(offsets <= lead[i], 1.0,
                               np.interp(offsets - lead[i], u, C[:, i]))
    out = pd.DataFrame(index=active.index)
    if "customer_id" in active.columns:
        out["customer_id"] = active["customer_id"]
    out["tenure"] = t0
    pos = {t: i for i, t in enumerate(offsets)}
    for h in horizons:
        out[f"p_churn_{h:g}"] = 1 - S[pos[h]]
    Sg = S[[pos[t] for t in grid]]
    out["expected_remaining"] = np.sum((Sg[1:] + Sg[:-1]) / 2 * np.diff(grid)[:, None], axis=0)
    p_tier = 1 - S[pos[tier_h]]
    out["risk_tier"] = pd.Categorical(
        np.where(p_tier >= hi, "high", np.where(p_tier >= lo, "medium", "low")),
        categories=["low", "medium", "high"], ordered=True)
    if margin is not None:
        m = active[margin].to_numpy(float) if isinstance(margin, str) else float(margin)
        disc = (1.0 + discount_rate) ** -grid[1:]
        out["discounted_lifetime"] = (Sg[1:] * disc[:, None]).sum(axis=0)
        out["value"] = m * out["discounted_lifetime"]
    return out


def segment_value(risk: pd.DataFrame, segment: pd.Series) -> pd.DataFrame:
    """Active customers, mean churn risk, mean remaining lifetime and value per segment.

    ``segment`` is aligned on the index of ``risk`` (one value per active customer).
    """
    df = risk.copy()
    df["_segment"] = segment.reindex(df.index).astype("string").fillna("(missing)")
    agg = {"customers": ("tenure", "size"),
           "expected_remaining": ("expected_remaining", "mean")}
    for c in df.columns:
        if c.startswith("p_churn_"):
            agg[c] = (c, "mean")
    if "value" in df:
        agg["mean_value"] = ("value", "mean")
        agg["total_value"] = ("value", "sum")
    out = df.groupby("_segment", observed=True).agg(**agg)
    out.index.name = "segment"
    return out


# ---------------------------------------------------------------------------------------
# Study helpers: input, model choice, summary, metrics, export
# ---------------------------------------------------------------------------------------

def load_churn_durations(subscriptions=None, transactions=None, columns=None, *, as_of=None,
                         inactivity_days: float = 180, time_unit: str = "month",
                         engine="pandas"
                         ) -> tuple[pd.DataFrame, list[DataQuality], str]:
    """Durations frame from subscriptions, or from transactions with churn by inactivity.

    ``transactions`` wins when both are given. Subscriptions go through the subscriptions
    data contract (:func:`clm_lib.io.pandas_contract.load_subscriptions`) and
    :func:`clm_lib.io.pandas_contract.subscription_durations` (churn = end of the subscription);
    transactions through the transactions contract (:func:`clm_lib.io.pandas_contract.load_transactions`)
    and :func:`inactivity_durations`.

    With ``engine="duckdb"`` or ``"spark"`` the contract and the reduction run in that
    engine (:meth:`clm_lib.reduce.engine.Engine.load_subscriptions` and
    :meth:`~clm_lib.reduce.engine.Engine.subscription_durations`, or
    :meth:`~clm_lib.reduce.engine.Engine.load_transactions` and
    :meth:`~clm_lib.reduce.engine.Engine.purchase_spans`); only one row per subscription or per
    customer comes back, and the inactivity rule is then applied as in
    :func:`inactivity_durations`. The durations, events and the counts of the
    data-quality records are those of the pandas path (spend sums per customer agree to
    rounding: the engines add them in another order).

    Parameters
    ----------
    subscriptions, transactions : path, glob, table name or DataFrame, optional
        The input (a glob of many files or a table name needs duckdb or spark, except
        transactions globs of Parquet files, which pandas reads file by file).
    columns : dict, optional
        Source name -> canonical name.
    as_of : str or Timestamp, optional
        End of observation; required for transactions and interval subscriptions.
    inactivity_days : float
        Transactions: days without a purchase that define churn.
    time_unit : {"day", "week", "month", "year"}
        Unit of the durations.
    engine : {"pandas", "duckdb", "spark"} or Engine
        Where the data are loaded and reduced (an :class:`~clm_lib.reduce.engine.Engine` from
        :func:`~clm_lib.reduce.engine.get_engine`, e.g. on your own Spark session, is used as is).

    Returns
    -------
    frame : DataFrame
        ``customer_id``, ``duration`` (periods of ``time_unit``), ``event``, covariates.
    qualities : list of DataQuality
        One per step (loading, then the inactivity rule for transactions).
    definition : str
        The churn definition in plain language, for the report.
    """
    from clm_lib.reduce.engine import get_engine

    _period_days(time_unit)
    eng = get_engine(engine)
    if transactions is not None:
        _check_inactivity(as_of, inactivity_days, time_unit)
        tx, dq = eng.load_transactions(transactions, columns, as_of=as_of)
        if eng.name == "pandas":
            frame, dq2 = inactivity_durations(tx, as_of=as_of, inactivity_days=inactivity_days,
                                              time_unit=time_unit)
        else:
            spans = eng.purchase_spans(tx, as_of=as_of)
            dq2 = DataQuality(source="transactions -> inactivity durations",
                              rows_in=dq.rows_used)
            frame, dq2 = _inactivity_rule(spans, dq2, as_of=as_of,
                                          inactivity_days=inactivity_days, time_unit=time_unit)
        definition = (
            f"A customer churns when {inactivity_days:g} days pass without a purchase; the "
            f"churn date is the last purchase plus {inactivity_days:g} days. Customers whose "
            f"last purchase is less than {inactivity_days:g} days before {pd.Timestamp(as_of).date()} "
            "are still active (censored), not churned. Lifetimes run from the first purchase, "
            f"in {time_unit}s.")
        return frame, [dq, dq2], definition
    if subscriptions is None:
        raise ParameterError("give subscriptions or transactions")
    if isinstance(subscriptions, (str, os.PathLike)):
        # loaded and reduced in one go: the engine knows the contract was applied
        frame = eng.subscription_durations(subscriptions, as_of=as_of, time_unit=time_unit,
                                           columns=columns)
        dq = DataQuality(**frame.attrs.pop("data_quality"))
    else:
        subs, dq = eng.load_subscriptions(subscriptions, columns, as_of=as_of)
        frame = eng.subscription_durations(subs, as_of=as_of, time_unit=time_unit)
    definition = ("A customer churns when the subscription ends; customers still subscribed at "
                  "the end of the data are censored (still active), not churned. Lifetimes "
                  f"are the subscription tenure, in {time_unit}s.")
    return frame, [dq], definition


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


def segment_hazard_ratios(df: pd.DataFrame, segment: str) -> pd.DataFrame:
    """Unadjusted hazard ratio of each segment against the slowest-churning one.

    A Cox model with the segment as the only covariate, refitted with the
    lowest-hazard segment as baseline. Returns :func:`hazard_ratio_table` indexed by
    segment value (the baseline row has HR 1), sorted from fastest to slowest.
    """
    _require(df, ["duration", "event", segment], "durations frame")
    X, base = encode_covariates(df, [segment])
    hr = hazard_ratio_table(fit_cox(X))
    slowest = base[segment]
    if (hr["hr"] < 1).any():
        slowest = hr["hr"].idxmin().split(": ", 1)[1]
        X, base = encode_covariates(df, [segment], baselines={segment: slowest})
        hr = hazard_ratio_table(fit_cox(X))
    hr.index = [i.split(": ", 1)[1] for i in hr.index]
    hr.loc[slowest] = {"hr": 1.0, "ci_low": 1.0, "ci_high": 1.0, "p": np.nan}
    hr.index.name = segment
    return hr.sort_values("hr", ascending=False)


def ph_strata(ph: pd.DataFrame, df: pd.DataFrame) -> list[str]:
    """Categorical covariates with a proportional-hazards violation: candidates for strata.

    Numeric covariates are not stratified (that would need binning); their violations are
    reported only.
    """
    bad = ph.loc[ph["violated"], "covariate"].unique()
    return [c for c in bad if c in df.columns and not pd.api.types.is_numeric_dtype(df[c])
            and not pd.api.types.is_bool_dtype(df[c])]


def ph_note(ph: pd.DataFrame, strata: Sequence[str]) -> str:
    """One sentence on the proportional-hazards check and what was done about it."""
    bad = list(dict.fromkeys(ph.loc[ph["violated"], "covariate"]))
    if not bad:
        return "No covariate violates proportional hazards (1 % level): the Cox model is kept as is."
    other = [c for c in bad if c not in strata]
    text = f"Proportional hazards is violated (1 % level) for: {', '.join(bad)}."
    if strata:
        text += (f" A second Cox model uses {', '.join(strata)} as strata (separate baseline "
                 "hazards); its hazard ratios for the other covariates are shown below.")
    if other:
        text += (f" For {', '.join(other)} (numeric) the hazard ratio is a time-averaged "
                 "effect; read it with care.")
    return text


def select_model(comparison: pd.DataFrame) -> str:
    """The AFT model with the lowest AIC (AIC is comparable among them, not with Cox).

    AFT models are preferred over Cox for per-customer value because they extrapolate the
    survival curve beyond the longest observed duration.
    """
    aft = comparison[comparison["AIC_kind"] == "full"]
    if aft.empty:
        raise InsufficientDataError("no AFT model converged")
    return str(aft["AIC"].idxmin())


def format_p(p: float) -> str:
    """A p-value for report text: 3 significant digits, ``< 1e-300`` when it underflows."""
    if p is None or not np.isfinite(p):
        return "n/a"
    return "< 1e-300" if p < 1e-300 else f"= {p:.3g}"


def _fmt_period(x: float, unit: str) -> str:
    num = f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"
    return f"{num} {unit}{'s' if abs(x) != 1 else ''}"


def summary_lines(km: pd.DataFrame, *, time_unit: str, definition: str,
                  segment_hr: pd.DataFrame | None = None, comparison: pd.DataFrame | None = None,
                  selected: str | None = None, risk: pd.DataFrame | None = None,
                  horizon: float | None = None, tier_horizon: float | None = None) -> list[str]:
    """Plain-language findings computed from the study's results (for ``show_summary``)."""
    lines = []
    overall = km.loc["All"]
    med = overall["median"]
    lines.append(
        f"{int(overall['customers']):,} customers, {int(overall['churned']):,} of whom churned "
        f"({overall['churned'] / overall['customers']:.0%}); the median lifetime is "
        + (_fmt_period(med, time_unit) if np.isfinite(med) else
           "not reached (more than half are still active at the end of the data)") + ".")
    if segment_hr is not None and len(segment_hr) >= 2:
        fast, slow = segment_hr.index[0], segment_hr.index[-1]
        fmed = km.loc[str(fast), "median"] if str(fast) in km.index else np.nan
        lines.append(
            f"{fast} customers churn {segment_hr.iloc[0]['hr']:.1f} times as fast as {slow} "
            f"customers (hazard ratio, 95 % interval {segment_hr.iloc[0]['ci_low']:.1f}-"
            f"{segment_hr.iloc[0]['ci_high']:.1f}); their median lifetime is "
            + (_fmt_period(fmed, time_unit) if np.isfinite(fmed) else "not reached") + ".")
    if horizon is not None:
        lines.append(f"Over the first {_fmt_period(horizon, time_unit)} an average customer "
                     f"stays {_fmt_period(overall['rmst'], time_unit)} (restricted mean).")
    if comparison is not None and selected is not None:
        r = comparison.loc[selected]
        lines.append(f"Best parametric model: {selected} (lowest AIC); on the holdout it ranks "
                     f"pairs of customers correctly {r['concordance_holdout']:.0%} of the time "
                     f"(concordance) with an integrated Brier score of "
                     f"{r['integrated_brier_score']:.3f}.")
    if risk is not None and len(risk):
        high = int((risk["risk_tier"] == "high").sum())
        h = tier_horizon
        lines.append(f"Of {len(risk):,} active customers, {high:,} ({high / len(risk):.0%}) are "
                     f"high risk" + (f" of churning within {_fmt_period(h, time_unit)}" if h else "")
                     + ".")
        if "value" in risk:
            lines.append(f"Their expected discounted remaining value totals "
                         f"{risk['value'].sum():,.0f} (margin units); "
                         f"{risk.loc[risk['risk_tier'] == 'high', 'value'].sum():,.0f} "
                         "of it sits with high-risk customers.")
    lines.append(definition)
    return lines


def survival_metrics(km: pd.DataFrame, *, horizon: float, logrank=None,
                     cox: CoxPHFitter | None = None, comparison: pd.DataFrame | None = None,
                     selected: str | None = None, risk: pd.DataFrame | None = None,
                     time_unit: str = "month") -> dict:
    """The study's ``metrics.json`` content (without headline and data quality).

    Keys: ``time_unit``, ``km_median_by_segment`` ({segment: median or None}),
    ``rmst_by_segment`` ({segment: {rmst, ci_low, ci_high}}), ``rmst_horizon``,
    ``logrank_p``, ``cox`` ({term: {hr, ci_low, ci_high, p}}), ``selected_model``,
    ``concordance_holdout`` and ``integrated_brier_score`` (of the selected model),
    ``model_comparison``, ``risk_tiers`` ({tier: count}).
    """
    seg = km.drop(index="All") if len(km) > 1 else km
    out = {
        "time_unit": time_unit,
        "km_median_by_segment": {str(k): (float(v) if np.isfinite(v) else None)
                                 for k, v in seg["median"].items()},
        "rmst_horizon": float(horizon),
        "rmst_by_segment": {str(k): {"rmst": float(r["rmst"]), "ci_low": float(r["rmst_ci_low"]),
                                     "ci_high": float(r["rmst_ci_high"])}
                            for k, r in seg.iterrows()},
        "logrank_p": None if logrank is None else float(logrank.p_value),
    }
    if cox is not None:
        out["cox"] = {k: {"hr": float(r["hr"]), "ci_low": float(r["ci_low"]),
                          "ci_high": float(r["ci_high"]), "p": float(r["p"])}
                      for k, r in hazard_ratio_table(cox).iterrows()}
    if comparison is not None:
        out["model_comparison"] = {k: {c: (v if isinstance(v, str) else float(v))
                                       for c, v in r.items()} for k, r in comparison.iterrows()}
        if selected is not None:
            out["selected_model"] = selected
            out["concordance_holdout"] = float(comparison.loc[selected, "concordance_holdout"])
            out["integrated_brier_score"] = float(
                comparison.loc[selected, "integrated_brier_score"])
    if risk is not None:
        counts = risk["risk_tier"].value_counts()
        out["risk_tiers"] = {t: int(counts.get(t, 0)) for t in ("low", "medium", "high")}
    return out


def headline(km: pd.DataFrame, *, time_unit: str, segment_hr: pd.DataFrame | None = None,
             comparison: pd.DataFrame | None = None, selected: str | None = None,
             risk: pd.DataFrame | None = None) -> dict[str, str]:
    """Two to four formatted headline numbers for the report index."""
    med = km.loc["All", "median"]
    out = {"Median lifetime": _fmt_period(med, time_unit) if np.isfinite(med) else "not reached"}
    if segment_hr is not None and len(segment_hr) >= 2:
        out[f"{segment_hr.index[0]} vs {segment_hr.index[-1]}"] = \
            f"{segment_hr.iloc[0]['hr']:.1f}x churn hazard"
    if comparison is not None and selected is not None:
        out["Holdout concordance"] = f"{comparison.loc[selected, 'concordance_holdout']:.2f}"
    if risk is not None:
        out["High-risk active customers"] = f"{int((risk['risk_tier'] == 'high').sum()):,}"
    return out


def risk_export(risk: pd.DataFrame, segment: pd.Series | None = None) -> pd.DataFrame:
    """The per-customer risk table for export, customer ids replaced by pseudonyms."""
    from clm_lib.reporting import pseudonymise

    out = risk.copy()
    if "customer_id" in out:
        out["customer_id"] = pseudonymise(out["customer_id"]).to_numpy()
    if segment is not None:
        out.insert(1, "segment", segment.reindex(out.index).astype("string").to_numpy())
    out["risk_tier"] = out["risk_tier"].astype(str)
    return out.reset_index(drop=True)
