"""Customer lifetime value from a fitted purchase model and a spend model, with intervals.

CLV here is the *discounted expected margin over a finite horizon* (Fader & Hardie, notes
024 and 033, on timing and discounting conventions):

``CLV_i = margin * E[spend_i] * sum_{k=1..H} (E[Y_i(k)] - E[Y_i(k-1)]) / (1 + d)^k``

* ``H`` is the horizon in whole time units (e.g. 52 weeks) after the end of observation;
* ``E[Y_i(k)]`` is the conditional expected number of purchases in (T, T + k] given the
  customer's history (frequency, recency, T) under the purchase model;
* purchases made during unit ``k`` are discounted as if at its end;
* ``d`` is the discount rate *per time unit*, converted from an annual rate as
  ``d = (1 + annual)^(unit_days / 365.25) - 1`` (:func:`per_unit_discount_rate`);
* ``E[spend_i]`` is the Gamma-Gamma conditional expected spend per purchase and
  ``margin`` the fraction of spend that is margin.

Intervals come from drawing parameter vectors from the asymptotic normal of the MLE of both
models (:meth:`MLEModel.sample_params`) and recomputing; they reflect parameter uncertainty
only, not the Poisson noise of future purchases.

The expensive part, ``E[Y(k) | alive, x, T]``, depends on (x, T) only, so it is computed once
per distinct (frequency, T) pair and multiplied by each customer's P(alive).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clm_lib.clv.base import MLEModel
from clm_lib.clv.bgnbd import BetaGeoModel
from clm_lib.clv.gamma_gamma import GammaGammaModel, frequency_spend_correlation
from clm_lib.clv.mbgnbd import ModifiedBetaGeoModel
from clm_lib.clv.pareto_nbd import ParetoNBDModel
from clm_lib.exceptions import ConvergenceError, InsufficientDataError, ParameterError
from clm_lib.reduce.pandas_reductions import compress, repeat_purchases_by_day, unit_days
from clm_lib.checks import require_columns as _check

__all__ = [
    "per_unit_discount_rate", "discounted_expected_purchases", "customer_value",
    "holdout_errors", "tracking_data", "conditional_vs_holdout", "p_alive_matrix",
    "top_share", "clv_study", "ClvStudy", "summary_lines", "clv_metrics", "top_customers",
    "customer_export", "not_fitted_note", "fit_purchase_model", "fit_spend_model",
    "fit_or_reason",
]


def per_unit_discount_rate(annual_rate: float, time_unit: str) -> float:
    """Discount rate per ``time_unit`` equivalent to ``annual_rate`` (365.25-day year).

    >>> round(per_unit_discount_rate(0.15, "week"), 6)
    0.002682
    """
    if annual_rate <= -1:
        raise ParameterError("discount_rate must be greater than -1")
    return (1.0 + annual_rate) ** (unit_days(time_unit) / 365.25) - 1.0


#: Customers per block when computing interval draws (memory: n_draws x _CHUNK floats x 2).
_CHUNK = 50_000


def _xT_groups(data):
    """Distinct (frequency, T) pairs (sorted by frequency, then T) and each customer's
    group. Codes of the two columns are combined into one integer, which is much faster
    than ``np.unique(..., axis=0)`` on a million rows."""
    ux, ix = np.unique(np.asarray(data["frequency"], float), return_inverse=True)
    uT, iT = np.unique(np.asarray(data["T"], float), return_inverse=True)
    pair = ix.ravel().astype(np.int64) * len(uT) + iT.ravel()
    upair, codes = np.unique(pair, return_inverse=True)
    return ux[upair // len(uT)], uT[upair % len(uT)], codes.ravel()


def _det_groups(model, ux, uT, horizon, discount_rate, params=None):
    k = np.arange(1, horizon + 1, dtype=float)
    grid = {"frequency": np.repeat(ux, horizon), "T": np.repeat(uT, horizon)}
    cum = model.conditional_expected_purchases_if_alive(np.tile(k, len(ux)), grid, params)
    cum = cum.reshape(len(ux), horizon)
    inc = np.diff(cum, axis=1, prepend=0.0)
    return inc @ (1.0 + discount_rate) ** -k, cum[:, -1]


def discounted_expected_purchases(model, data, *, horizon: int, discount_rate: float,
                                  params=None, return_total: bool = False, _groups=None):
    """Discounted expected purchases over ``horizon`` time units, per customer.

    Parameters
    ----------
    model : fitted BG/NBD, MBG/NBD or Pareto/NBD model
    data : DataFrame with ``frequency``, ``recency``, ``T`` (the model's time unit)
    horizon : int
        Number of whole time units ahead.
    discount_rate : float
        Per time unit (see :func:`per_unit_discount_rate`).
    params : array-like, optional
        Parameters to use instead of the fitted ones (for draws).
    return_total : bool
        Also return the undiscounted expected purchases over the horizon.
    """
    _check(data, ["frequency", "recency", "T"], "CLV data")
    horizon = int(horizon)
    if horizon < 1:
        raise ParameterError("horizon must be at least one time unit")
    ux, uT, codes = _groups if _groups is not None else _xT_groups(data)
    det_u, tot_u = _det_groups(model, ux, uT, horizon, discount_rate, params)
    alive = model.p_alive(data, params)
    det = det_u[codes] * alive
    if return_total:
        return det, tot_u[codes] * alive
    return det


def _spend_frame(data):
    freq_col = "spend_frequency" if "spend_frequency" in data else "frequency"
    _check(data, [freq_col, "monetary_value"], "CLV spend data")
    return pd.DataFrame({"frequency": np.asarray(data[freq_col], float),
                         "monetary_value": np.asarray(data["monetary_value"], float)})


def customer_value(model, spend_model: GammaGammaModel, data: pd.DataFrame, *,
                   horizon: int, discount_rate: float, margin: float,
                   n_draws: int = 200, seed: int | None = 0, level: float = 0.9) -> pd.DataFrame:
    """Per-customer expected purchases, P(alive), expected spend and CLV with intervals.

    Parameters
    ----------
    model : fitted purchase model (BG/NBD, MBG/NBD or Pareto/NBD)
    spend_model : fitted :class:`GammaGammaModel`
    data : DataFrame
        ``frequency``, ``recency``, ``T`` (model time unit), ``monetary_value`` and
        (optional) ``spend_frequency`` (the number of spend observations averaged).
    horizon : int
        Time units ahead.
    discount_rate : float
        Per time unit.
    margin : float
        Fraction of spend that is margin (0..1].
    n_draws : int
        Parameter draws for the intervals (0: no intervals).
    level : float
        Central interval level, e.g. 0.9 for the 5 %..95 % quantiles.

    Returns
    -------
    DataFrame indexed like ``data``: ``p_alive``, ``expected_purchases`` (undiscounted,
    over the horizon), ``expected_spend`` (per purchase), ``clv``, ``clv_lower``,
    ``clv_upper``, ``expected_purchases_lower``, ``expected_purchases_upper``.
    The ``attrs["draws_total_clv"]`` and ``attrs["draws_total_purchases"]`` hold the draws
    of the totals (for aggregate intervals).
    """
    if not 0 < margin <= 1:
        raise ParameterError("margin must be in (0, 1]")
    spend = _spend_frame(data)
    det, total = discounted_expected_purchases(model, data, horizon=horizon,
                                               discount_rate=discount_rate, return_total=True)
    e_spend = spend_model.conditional_expected_spend(spend)
    clv = margin * e_spend * det
    out = pd.DataFrame({"p_alive": model.p_alive(data), "expected_purchases": total,
                        "expected_spend": e_spend, "clv": clv}, index=data.index)
    if n_draws and n_draws > 0:
        rng_seed = None if seed is None else int(seed)
        tp = model.sample_params(n_draws, seed=rng_seed)
        sp = spend_model.sample_params(n_draws, seed=None if seed is None else rng_seed + 1)
        ux, uT, codes = _xT_groups(data)
        # per draw, the (frequency, T) tables are small; customers are then taken in
        # chunks so that memory stays at n_draws x chunk, whatever the number of customers
        tables = [_det_groups(model, ux, uT, int(horizon), discount_rate, tp[i])
                  for i in range(n_draws)]
        q = [(1 - level) / 2, (1 + level) / 2]
        n = len(data)
        bounds = {c: np.empty(n) for c in ("clv_lower", "clv_upper", "expected_purchases_lower",
                                           "expected_purchases_upper")}
        tot_clv, tot_pur = np.zeros(n_draws), np.zeros(n_draws)
        for lo in range(0, n, _CHUNK):
            sl = slice(lo, min(lo + _CHUNK, n))
            part, spend_part, codes_part = data.iloc[sl], spend.iloc[sl], codes[sl]
            clv_d = np.empty((n_draws, len(part)))
            pur_d = np.empty((n_draws, len(part)))
            for i, (det_u, tot_u) in enumerate(tables):
                alive = model.p_alive(part, tp[i])
                spend_i = spend_model.conditional_expected_spend(spend_part, params=sp[i])
                clv_d[i] = margin * spend_i * det_u[codes_part] * alive
                pur_d[i] = tot_u[codes_part] * alive
            bounds["clv_lower"][sl], bounds["clv_upper"][sl] = np.quantile(clv_d, q, axis=0)
            (bounds["expected_purchases_lower"][sl],
             bounds["expected_purchases_upper"][sl]) = np.quantile(pur_d, q, axis=0)
            tot_clv += clv_d.sum(axis=1)
            tot_pur += pur_d.sum(axis=1)
        for c, v in bounds.items():
            out[c] = v
        # plain lists: pandas compares attrs when combining frames
        out.attrs["draws_total_clv"] = tot_clv.tolist()
        out.attrs["draws_total_purchases"] = tot_pur.tolist()
    out.attrs.update({"horizon": int(horizon), "discount_rate_per_unit": float(discount_rate),
                      "margin": float(margin), "level": float(level)})
    return out


def holdout_errors(model, data: pd.DataFrame) -> dict:
    """Holdout accuracy: predicted E[Y(holdout) | history] vs actual holdout purchases.

    ``data`` needs ``frequency``, ``recency``, ``T``, ``frequency_holdout`` and
    ``duration_holdout`` (from :func:`summary_data` with a ``calibration_end``).
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


def tracking_data(transactions, summary: pd.DataFrame, model, *,
                  calibration_end, as_of, time_unit: str) -> pd.DataFrame:
    """Repeat purchases per time unit, actual vs model, across calibration and holdout.

    Parameters
    ----------
    transactions : DataFrame or Series
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``), or their
        reduction :func:`clm_lib.reduce.pandas_reductions.repeat_purchases_by_day` (repeat purchase
        days per calendar day of the customers in ``summary``, e.g. from
        :meth:`clm_lib.reduce.engine.Engine.repeat_purchases_by_day`).
    summary : DataFrame
        :func:`summary_data` output (index ``customer_id``, column ``first_purchase``):
        the cohort tracked.
    model : fitted purchase model (unconditional ``expected_purchases``).

    Returns
    -------
    DataFrame indexed by ``period`` (0, 1, ... time units since the first acquisition) with
    ``start`` (date), ``actual``, ``predicted`` (repeat purchase days in the period) and
    their cumulative sums ``actual_cumulative``, ``predicted_cumulative``; ``holdout``
    (bool) marks periods after ``calibration_end``. The last period may be partial.
    """
    _check(summary, ["first_purchase"], "summary")
    u = unit_days(time_unit)
    start = pd.Timestamp(summary["first_purchase"].min())
    end_excl = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    n_days = (end_excl - start).days
    n_per = int(np.ceil(n_days / u))
    bounds = np.minimum(np.arange(1, n_per + 1) * u, n_days)  # exclusive ends, days since start
    if isinstance(transactions, pd.Series):
        per_day = transactions
    else:
        tx = transactions.loc[transactions["customer_id"].isin(summary.index)]
        per_day = repeat_purchases_by_day(tx, calibration_end=calibration_end, as_of=as_of)
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

    Frequencies at or above ``max_frequency`` are pooled (label ``"7+"``)."""
    _check(data, ["frequency", "recency", "T", "frequency_holdout", "duration_holdout"], "holdout data")
    pred = model.conditional_expected_purchases(np.asarray(data["duration_holdout"], float), data)
    f = np.minimum(np.asarray(data["frequency"], int), max_frequency)
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    df = pd.DataFrame({"bin": f, "actual": np.asarray(data["frequency_holdout"], float),
                       "predicted": pred})
    g = df.groupby("bin").agg(customers=("actual", "size"), actual=("actual", "mean"),
                              predicted=("predicted", "mean"))
    g.index = pd.Index([labels[i] for i in g.index], name="calibration frequency")
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


# ---------------------------------------------------------------------------------------
@dataclass
class ClvStudy:
    """Everything the CLV notebook shows; see :func:`clv_study`.

    A model the data cannot support is not fitted: it is absent from ``models`` and its
    reason is in ``model_errors`` (``"not fitted (<data>): <reason>"``). The parts that
    need a model are then None: ``tracking``, ``cond_holdout`` and ``p_alive_grid`` need the calibration
    BG/NBD; ``values``, ``clv_quantiles`` and ``top_decile_share`` need the BG/NBD and the
    Gamma-Gamma refitted on all data (``final_model``, ``final_spend_model``).
    """

    time_unit: str
    calibration_end: str
    as_of: str
    horizon: int
    annual_discount_rate: float
    discount_rate_per_unit: float
    margin: float
    calibration: pd.DataFrame
    full: pd.DataFrame
    models: dict
    model_errors: dict
    comparison: pd.DataFrame
    holdout: dict
    tracking: pd.DataFrame | None
    cond_holdout: pd.DataFrame | None
    p_alive_grid: pd.DataFrame | None
    values: pd.DataFrame | None
    final_model: MLEModel | None
    final_spend_model: GammaGammaModel | None
    forecast: dict
    clv_quantiles: dict | None
    top_decile_share: float | None
    spend_correlation: float
    segments: pd.DataFrame | None = None
    dropped: dict = field(default_factory=dict)


_MODELS = {"bgnbd": BetaGeoModel, "pareto_nbd": ParetoNBDModel, "mbgnbd": ModifiedBetaGeoModel}


def fit_purchase_model(cls, data):
    """Fit on the compressed (frequency, recency, T) table: same estimates, faster."""
    return cls().fit(compress(data), weights="weights")


def fit_spend_model(data):
    """Gamma-Gamma on the customers with repeat spend of a summary table."""
    spend = _spend_frame(data)
    return GammaGammaModel().fit(spend.loc[spend["frequency"] > 0])


def fit_or_reason(fit, errors: dict, key: str, period: str):
    """``fit()``, or None with ``errors[key] = "not fitted (<period>): <reason>"`` when
    the data cannot support the model (the study goes on without it). The reason is the
    error's own, without the model's name (the key names the model)."""
    try:
        return fit()
    except (InsufficientDataError, ConvergenceError) as exc:
        errors[key] = f"not fitted ({period}): {exc.reason}"
        return None


def clv_study(transactions, *, calibration_end, as_of, time_unit: str = "week",
              horizon: int = 52, discount_rate: float = 0.15, margin: float = 0.3,
              n_draws: int = 200, seed: int = 42, segment: str | None = None,
              level: float = 0.9, engine="pandas") -> ClvStudy:
    """The CLV study: holdout validation of BG/NBD, Pareto/NBD and MBG/NBD, then per-customer
    value from BG/NBD + Gamma-Gamma refitted on all data up to ``as_of``.

    Parameters
    ----------
    transactions : DataFrame or Ibis table
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``; ``segment``
        column if given), as returned by ``load_transactions`` of ``engine``: a pandas
        DataFrame, or a table in DuckDB or Spark.
    calibration_end, as_of : date-like
        Calibration period ends at ``calibration_end`` (inclusive); the holdout runs to
        ``as_of`` (inclusive).
    time_unit : {"day", "week", "month"}
    horizon : int
        CLV horizon, in time units after ``as_of``.
    discount_rate : float
        *Annual* discount rate, converted per time unit.
    margin : float
        Margin as a fraction of spend.
    n_draws, seed, level
        Parameter draws, their seed and the interval level.
    segment : str, optional
        Column of ``transactions``; each customer takes the value of her first purchase
        (the smallest when several rows share that time; see
        :func:`clm_lib.reduce.pandas_reductions.first_values`), and values are summarised per segment.
    engine : {"pandas", "duckdb", "spark"} or Engine
        Where the transactions are reduced (per-customer summaries, repeat purchases per
        day, segment at first purchase); models are fitted on the reduced data in pandas.

    Returns
    -------
    ClvStudy
        A model that the data cannot support (no repeat purchase, too few customers, a
        fit on a boundary: :class:`InsufficientDataError`, :class:`ConvergenceError`) is
        not fitted; the reason is in ``model_errors`` and the study goes on with the
        rest (see :class:`ClvStudy` for what is then None).
    """
    from clm_lib.reduce.engine import get_engine

    eng = get_engine(engine)
    need = ["customer_id", "timestamp", "amount"] + ([segment] if segment is not None else [])
    _check(transactions, need, "transactions")
    reduce_kw = dict(as_of=as_of, time_unit=time_unit)
    cal = eng.summary_data(transactions, calibration_end=calibration_end, **reduce_kw)
    full = eng.summary_data(transactions, **reduce_kw)
    d_unit = per_unit_discount_rate(discount_rate, time_unit)

    models, errors, holdout, rows = {}, {}, {}, []
    cal_period = f"calibration to {pd.Timestamp(calibration_end).date()}"
    full_period = f"all data to {pd.Timestamp(as_of).date()}"
    for name, cls in _MODELS.items():
        m = fit_or_reason(lambda: fit_purchase_model(cls, cal), errors, name, cal_period)
        if m is None:
            continue
        models[name] = m
        holdout[name] = holdout_errors(m, cal)
        rows.append({"model": name, "parameters": ", ".join(f"{k}={v:.3g}" for k, v in m.params_.items()),
                     "log-likelihood": m.loglik_, "AIC": m.AIC_,
                     "holdout MAE per customer": holdout[name]["mae"],
                     "holdout predicted total": holdout[name]["predicted_total"],
                     "holdout actual total": holdout[name]["actual_total"],
                     # in percent, as the report's reading guide states it
                     "aggregate error (%)": 100 * holdout[name]["aggregate_error"]})
    spend_cal = fit_or_reason(lambda: fit_spend_model(cal), errors, "gamma_gamma", cal_period)
    if spend_cal is not None:
        models["gamma_gamma"] = spend_cal
    comparison = pd.DataFrame(rows, columns=["model", "parameters", "log-likelihood", "AIC",
                                             "holdout MAE per customer", "holdout predicted total",
                                             "holdout actual total", "aggregate error (%)"]
                              ).set_index("model")

    bg = models.get("bgnbd")
    tracking = cond = grid = None
    if bg is not None:
        per_day = eng.repeat_purchases_by_day(transactions, calibration_end=calibration_end,
                                              as_of=as_of)
        tracking = tracking_data(per_day, cal, bg, calibration_end=calibration_end,
                                 as_of=as_of, time_unit=time_unit)
        cond = conditional_vs_holdout(bg, cal)
        grid = p_alive_matrix(bg, T=float(cal["T"].max()), max_frequency=15)

    # Final: refit on everything up to as_of; value over the next `horizon` units.
    final = fit_or_reason(lambda: fit_purchase_model(BetaGeoModel, full), errors,
                          "bgnbd_all_data", full_period)
    final_spend = fit_or_reason(lambda: fit_spend_model(full), errors,
                                "gamma_gamma_all_data", full_period)
    q = [(1 - level) / 2, (1 + level) / 2]
    forecast = {"horizon": int(horizon), "time_unit": time_unit, "level": level}
    values = clv_q = top = seg_table = None
    if final is not None and final_spend is not None:
        values = customer_value(final, final_spend, full, horizon=horizon, discount_rate=d_unit,
                                margin=margin, n_draws=n_draws, seed=seed, level=level)
        draws = dict(values.attrs)
        values = values.join(full[["frequency", "recency", "T", "monetary_value"]])
        values.attrs.update(draws)
        forecast.update({"expected_purchases": float(values["expected_purchases"].sum()),
                         "clv_total": float(values["clv"].sum())})
        if n_draws:
            forecast["expected_purchases_interval"] = [float(v) for v in np.quantile(values.attrs["draws_total_purchases"], q)]
            forecast["clv_total_interval"] = [float(v) for v in np.quantile(values.attrs["draws_total_clv"], q)]
        clv_q = {f"p{int(p * 100)}": float(v) for p, v in
                 zip([0.1, 0.25, 0.5, 0.75, 0.9, 0.99], np.quantile(values["clv"], [0.1, 0.25, 0.5, 0.75, 0.9, 0.99]))}
        top = top_share(values["clv"], 0.1)
        if segment is not None:
            seg = eng.first_values(transactions, segment)
            v = values.join(seg.rename("segment"))
            seg_table = v.groupby("segment", dropna=False).agg(
                customers=("clv", "size"), total_clv=("clv", "sum"), mean_clv=("clv", "mean"),
                mean_p_alive=("p_alive", "mean"))
            seg_table["share_of_clv"] = seg_table["total_clv"] / seg_table["total_clv"].sum()
    if bg is not None:
        if n_draws:
            # holdout forecast of the calibration fit, with interval, against the actual
            hp = bg.sample_params(n_draws, seed=seed)
            dur = np.asarray(cal["duration_holdout"], float)
            tot = [float(np.sum(bg.conditional_expected_purchases(dur, cal, params=p))) for p in hp]
            forecast["holdout_predicted_interval"] = [float(v) for v in np.quantile(tot, q)]
        forecast["holdout_predicted"] = holdout["bgnbd"]["predicted_total"]
        forecast["holdout_actual"] = holdout["bgnbd"]["actual_total"]

    dropped = {**{f"calibration: {k}": v for k, v in cal.attrs.get("dropped", {}).items()},
               **{f"full period: {k}": v for k, v in full.attrs.get("dropped", {}).items()}}
    return ClvStudy(
        time_unit=time_unit, calibration_end=str(pd.Timestamp(calibration_end).date()),
        as_of=str(pd.Timestamp(as_of).date()), horizon=int(horizon),
        annual_discount_rate=float(discount_rate), discount_rate_per_unit=d_unit, margin=margin,
        calibration=cal, full=full, models=models, model_errors=errors, comparison=comparison,
        holdout=holdout, tracking=tracking, cond_holdout=cond, p_alive_grid=grid, values=values,
        final_model=final, final_spend_model=final_spend, forecast=forecast,
        clv_quantiles=clv_q, top_decile_share=top,
        spend_correlation=frequency_spend_correlation(_spend_frame(cal)), segments=seg_table,
        dropped=dropped,
    )


def summary_lines(study: ClvStudy, currency: str = "$") -> list[str]:
    """Plain-language summary computed from the study (holdout accuracy stated first).

    Models the data could not support are named with the reason, first."""
    u = study.time_unit
    f = study.forecast
    lines = []
    lines += _not_fitted_sentences(study.model_errors)
    if "bgnbd" in study.holdout:
        h = study.holdout["bgnbd"]
        lines.append(
            f"Holdout test: fitted on purchases up to {study.calibration_end}, the BG/NBD model "
            f"predicted {h['predicted_total']:,.0f} repeat purchases for the holdout period to "
            f"{study.as_of}; {h['actual_total']:,.0f} happened ({h['aggregate_error']:+.1%}). "
            f"Per customer the mean absolute error is {h['mae']:.2f} purchases.")
        if "holdout_predicted_interval" in f:
            lo, hi = f["holdout_predicted_interval"]
            inside = lo <= h["actual_total"] <= hi
            lines.append(f"The {f['level']:.0%} parameter interval of that forecast is "
                         f"{lo:,.0f}–{hi:,.0f}: the actual total is {'inside' if inside else 'outside'} it"
                         + ("" if inside else " (the interval reflects parameter uncertainty only)") + ".")
    if len(study.comparison):
        best = study.comparison["holdout MAE per customer"].idxmin()
        lines.append(f"Of the models compared, {best} has the lowest per-customer holdout error"
                     + (f"; values below use the BG/NBD refitted on all data to {study.as_of}."
                        if study.values is not None else "."))
    v = study.values
    if v is None:
        lines.append("No customer value could be computed: it needs the BG/NBD and Gamma-Gamma "
                     f"models fitted on all data to {study.as_of} (see above).")
        return lines
    lines.append(
        f"Over the next {study.horizon} {u}s, {len(v):,} customers are expected to make "
        f"{f['expected_purchases']:,.0f} purchases worth {currency}{f['clv_total']:,.0f} in discounted margin"
        + (f" ({f['level']:.0%} interval {currency}{f['clv_total_interval'][0]:,.0f}–"
           f"{currency}{f['clv_total_interval'][1]:,.0f})" if "clv_total_interval" in f else "")
        + f" at a {study.margin:.0%} margin and {study.annual_discount_rate:.0%} annual discount rate.")
    lines.append(f"The top 10 % of customers hold {study.top_decile_share:.0%} of that value; "
                 f"the median customer is worth {currency}{study.clv_quantiles['p50']:,.2f}.")
    rep = v["frequency"] > 0
    lines.append(f"Of the {int(rep.sum()):,} customers who bought again, {(v.loc[rep, 'p_alive'] >= 0.5).mean():.0%} "
                 f"are more likely active than not (P(alive) ≥ 0.5) at {study.as_of}; the BG/NBD counts "
                 f"the {int((~rep).sum()):,} who never bought again as active, but expects few purchases from them.")
    return lines


#: Report names of the fitted models, keyed as in ``ClvStudy.models`` and ``model_errors``.
_LABELS = {**{name: cls.label for name, cls in _MODELS.items()},
           "gamma_gamma": GammaGammaModel.label,
           "bgnbd_all_data": f"{BetaGeoModel.label} on all data",
           "gamma_gamma_all_data": f"{GammaGammaModel.label} on all data"}


def not_fitted_note(model_errors: dict, *keys: str) -> str:
    """One paragraph for a report section that needs the models ``keys`` (all of
    ``model_errors`` when none are given): which were not fitted and why, models that
    failed on the same data for the same reason named together; empty when all were
    fitted. ``model_errors`` as in :class:`ClvStudy`.

    >>> not_fitted_note({"bgnbd": "not fitted (calibration to 2020-03-31): 3 customers",
    ...                  "mbgnbd": "not fitted (calibration to 2020-03-31): 3 customers"})
    'BG/NBD and MBG/NBD not fitted (calibration to 2020-03-31): 3 customers.'
    """
    return " ".join(_not_fitted_sentences(model_errors, *keys))


def _not_fitted_sentences(model_errors: dict, *keys: str) -> list[str]:
    groups: dict[str, list[str]] = {}
    for key in keys or tuple(model_errors):
        if key in model_errors:
            groups.setdefault(model_errors[key], []).append(_LABELS.get(key, key))
    return [f"{_and(names)} {message}." for message, names in groups.items()]


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _pseudo(index) -> np.ndarray:
    from clm_lib.reporting import pseudonymise   # reporting helper; no I/O
    return pseudonymise(pd.Series(index, dtype="string")).to_numpy()


def customer_export(study: ClvStudy) -> pd.DataFrame:
    """Per-customer table for export: pseudonymised id, frequency, recency, T, P(alive),
    expected purchases, expected spend and CLV with interval (raw ids never leave).

    Without fitted value models (see :class:`ClvStudy`) it holds the purchase summary
    only (frequency, recency, T, mean spend)."""
    v = study.values if study.values is not None else study.full
    cols = [c for c in ["frequency", "recency", "T", "monetary_value", "p_alive",
                        "expected_purchases", "expected_purchases_lower", "expected_purchases_upper",
                        "expected_spend", "clv", "clv_lower", "clv_upper"] if c in v]
    out = v[cols].copy()
    out.insert(0, "customer", _pseudo(v.index))
    return out.sort_values("clv" if "clv" in out else "frequency",
                           ascending=False).reset_index(drop=True)


def top_customers(study: ClvStudy, n: int = 20) -> pd.DataFrame:
    """The ``n`` most valuable customers (pseudonymised), for display."""
    u = study.time_unit
    e = customer_export(study).head(n)
    ren = {"customer": "customer (pseudonym)", "frequency": "repeat purchases",
           "recency": f"recency ({u}s)", "T": f"age ({u}s)", "monetary_value": "mean spend",
           "p_alive": "P(alive)", "expected_purchases": f"expected purchases, next {study.horizon} {u}s",
           "expected_spend": "expected spend per purchase", "clv": "CLV",
           "clv_lower": "CLV lower", "clv_upper": "CLV upper"}
    keep = [c for c in ren if c in e]
    return e[keep].rename(columns=ren).set_index("customer (pseudonym)")


def clv_metrics(study: ClvStudy, currency: str = "$") -> dict:
    """metrics.json content of the study (papers' parameter names); models that were not
    fitted are listed in ``model_errors`` with the reason."""
    def brief(m):
        return {kk: vv for kk, vv in m.to_metrics().items() if kk in ("params", "se", "loglik", "aic", "n")}

    models = {k: brief(m) for k, m in study.models.items()}
    if study.final_model is not None:
        models["bgnbd_all_data"] = brief(study.final_model)
    if study.final_spend_model is not None:
        models["gamma_gamma_all_data"] = brief(study.final_spend_model)
    f = study.forecast
    headline = {}
    if "bgnbd" in study.holdout:
        h = study.holdout["bgnbd"]
        headline["Holdout purchases, predicted vs actual"] = (
            f"{h['predicted_total']:,.0f} vs {h['actual_total']:,.0f} ({h['aggregate_error']:+.1%})")
    if study.values is not None:
        headline[f"Value, next {study.horizon} {study.time_unit}s"] = f"{currency}{f['clv_total']:,.0f}"
        headline["Top-decile share of value"] = f"{study.top_decile_share:.0%}"
    else:
        headline["Customer value"] = "not fitted"
    return {
        "time_unit": study.time_unit, "calibration_end": study.calibration_end, "as_of": study.as_of,
        "horizon": study.horizon, "annual_discount_rate": study.annual_discount_rate,
        "discount_rate_per_unit": study.discount_rate_per_unit, "margin": study.margin,
        "customers": int(len(study.full)),
        "models": models, "model_errors": study.model_errors,
        "holdout": study.holdout, "forecast": f,
        "clv_quantiles": study.clv_quantiles, "top_decile_share": study.top_decile_share,
        "frequency_spend_correlation": study.spend_correlation,
        "dropped": study.dropped,
        "headline": headline,
    }
