"""The cohort study's forecast ledger and its track record.

Forecast (transactions, BG/NBD): for every cohort of the study and each of the next
``periods`` calendar periods after the last one complete by ``as_of``, the model's
expected share of the cohort buying in that period (``retention``, scope ``cohort``, key
= the ISO date the cohort period starts), the same bounded "active in period k" as the
retention matrix; and the total number of customers of all cohorts active in each of those
periods (``active``, scope ``total``). Both carry a predictive interval: parameter draws of
the fitted model followed by binomial draws of the buyers among the customers acquired on
each day (parameter and outcome noise; what a period not yet observed is checked against).

Interval subscriptions (sBG): each cohort's subscribers in its last observed period are
carried forward by the model's survival, ``n * S(k + j) / S(k)``, with the binomial outcome
noise of those survivors as the interval (parameters taken as known). Snapshot tables get
no ledger: their one synthetic cohort has no calendar to score against later.

Track record: a later run on the same source takes each earlier run's ledger, reads the
actual bounded counts of the same cohorts in the forecast periods from its own retention
matrix (complete periods only), and scores the total at the longest covered step
(:func:`clm_lib.history.score_total`) and the cohorts at that step
(:func:`clm_lib.history.score_keys`, with the coverage of their intervals).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.exceptions import ClmError
from clm_lib.history import ledger as hl
from clm_lib.history import scoring as hs
from clm_lib.history.scoring import TrackRecord
from clm_lib.history.recording import study_inputs
from clm_lib.reduce.periods import last_complete_period, period_codes, period_labels, period_start
from clm_lib.studies.cohort_retention.purchase import cohort_expectations

__all__ = ["STUDY", "LEVEL", "ledger_unit", "ledger", "actual_shares", "TrackRecord",
           "track_record", "track_table", "cohort_table"]

#: The study's name in the run history.
STUDY = "cohort_retention"
#: Level of the ledger's predictive intervals.
LEVEL = 0.9
_PER = {"day": ("day", 1), "week": ("week", 1), "month": ("month", 1),
        "quarter": ("month", 3), "year": ("month", 12)}


def ledger_unit(cohort_period: str) -> tuple[str, int]:
    """The ledger unit of a cohort period and the number of units per period
    (``quarter`` -> ``("month", 3)``)."""
    return _PER[cohort_period]


def _next_periods(study, periods: int):
    """Cohort codes, the last complete period code and the k of each cohort in each of
    the next ``periods`` periods (cohorts × periods)."""
    unit = study.unit
    last = last_complete_period(study.parameters["as_of"], unit)
    fit = study.purchase_fit
    codes = np.unique(fit.acquisitions["cohort_index"].to_numpy(dtype=np.int64))
    j = np.arange(1, int(periods) + 1)
    return codes, last, (last - codes)[:, None] + j[None, :]


def ledger(study, *, periods: int | None = None, draws: int = 200, level: float = LEVEL,
           seed: int = 0) -> list[pd.DataFrame]:
    """The study's ledger rows (see the module docstring); empty without a BG/NBD fit.

    Parameters
    ----------
    study : CohortStudy
    periods : int, optional
        Periods after ``as_of`` forecast (default the study's ``horizon_periods``).
    draws : int
        Parameter draws of the predictive interval.
    level : float
        Level of the intervals.
    """
    H = int(periods if periods is not None else study.parameters["horizon_periods"])
    if H < 1 or study.parameters.get("as_of") is None:
        return []
    if study.form == "intervals" and study.model is not None:
        return _sbg_ledger(study, H, level)
    if study.purchase_fit is None:
        return []
    unit, per = ledger_unit(study.unit)
    fit = study.purchase_fit
    codes, last, kk = _next_periods(study, H)
    ks = np.arange(int(kk.max()) + 1)
    exp = cohort_expectations(fit, ks, study.unit)
    buying = exp["buying"].reindex(codes).to_numpy()
    sizes = exp["customers"].reindex(codes).to_numpy(dtype=float)
    share = np.take_along_axis(buying, kk, axis=1)  # cohorts × next periods
    # predictive draws: parameters, then binomial buyers per acquisition day
    acq = fit.acquisitions
    day_code = acq["cohort_index"].to_numpy(dtype=np.int64)
    day_k = (last - day_code)[:, None] + np.arange(1, H + 1)[None, :]
    inv = np.searchsorted(codes, day_code)
    n_day = acq["customers"].to_numpy(dtype=np.int64)
    try:
        thetas = fit.model.sample_params(int(draws), seed=seed)
    except ClmError:
        thetas = np.empty((0, 4))
    rng = np.random.default_rng(seed)
    sims = []
    for th in thetas:
        by_day = cohort_expectations(fit, ks, study.unit, params=th,
                                     by_day=True)["buying_by_day"]
        p = np.clip(np.take_along_axis(by_day, day_k, axis=1), 0, 1)
        buyers = rng.binomial(n_day[:, None], p)
        sims.append(np.stack([np.bincount(inv, weights=buyers[:, h], minlength=len(codes))
                              for h in range(H)], axis=1))
    q = [(1 - level) / 2, (1 + level) / 2]
    if sims:
        sims = np.stack(sims)  # draws × cohorts × periods (buyers)
        lo, hi = np.quantile(sims / sizes[None, :, None], q, axis=0)
        tlo, thi = np.quantile(sims.sum(axis=1), q, axis=0)
        lvl = level
    else:
        lo = hi = np.full(share.shape, np.nan)
        tlo = thi = np.full(H, np.nan)
        lvl = None
    keys = [d.date().isoformat() for d in period_start(codes, study.unit)]
    steps = np.arange(1, H + 1) * per
    rows = pd.concat([hl.ledger_frame("retention", share[:, h], step=steps[h], unit=unit,
                                      scope="cohort", key=keys, lower=lo[:, h],
                                      upper=hi[:, h], level=lvl) for h in range(H)],
                     ignore_index=True)
    total = hl.ledger_frame("active", (share * sizes[:, None]).sum(axis=0), step=steps,
                            unit=unit, lower=tlo, upper=thi, level=lvl)
    return [rows, total]


def _sbg_ledger(study, H: int, level: float) -> list[pd.DataFrame]:
    """Interval subscriptions: each cohort's subscribers of its last observed period
    carried forward by the sBG survival, ``n * S(k + j) / S(k)``; the interval is the
    binomial outcome noise of those survivors (normal approximation; parameters taken as
    known)."""
    from scipy import stats

    t = study.tables
    unit, per = ledger_unit(study.unit)
    last = last_complete_period(study.parameters["as_of"], study.unit)
    lk = t.last_k.to_numpy(dtype=np.int64)
    codes = last - lk
    n0 = np.array([float(t.unbounded_counts.loc[c, k]) for c, k in zip(t.last_k.index, lk)])
    j = np.arange(1, H + 1)
    S = study.model.survival
    ratio = S(lk[:, None] + j[None, :]) / S(lk)[:, None]
    mean = n0[:, None] * ratio
    sd = np.sqrt(n0[:, None] * ratio * (1 - ratio))
    z = stats.norm.ppf((1 + level) / 2)
    sizes = t.sizes.to_numpy(dtype=float)[:, None]
    lo = np.clip(mean - z * sd, 0, None) / sizes
    hi = np.minimum(mean + z * sd, n0[:, None]) / sizes
    keys = [d.date().isoformat() for d in period_start(codes, study.unit)]
    steps = j * per
    rows = pd.concat([hl.ledger_frame("retention", mean[:, h] / sizes[:, 0], step=steps[h],
                                      unit=unit, scope="cohort", key=keys, lower=lo[:, h],
                                      upper=hi[:, h], level=level) for h in range(H)],
                     ignore_index=True)
    tsd = np.sqrt((sd ** 2).sum(axis=0))
    tot = mean.sum(axis=0)
    total = hl.ledger_frame("active", tot, step=steps, unit=unit,
                            lower=np.clip(tot - z * tsd, 0, None), upper=tot + z * tsd,
                            level=level)
    return [rows, total]


def actual_shares(study, keys, forecast_as_of, steps) -> pd.DataFrame:
    """What happened: per cohort (``keys``, ISO start dates) and step, the cohort's
    customers active in that period after ``forecast_as_of`` and the share of the cohort,
    read from the study's bounded retention matrix (complete periods only; NaN where the
    period is not complete yet, 0 customers for a cohort the study does not have).

    Returns
    -------
    DataFrame with ``key``, ``step``, ``active``, ``size``, ``share``.
    """
    unit, per = ledger_unit(study.unit)
    t = study.tables
    last0 = last_complete_period(forecast_as_of, study.unit)
    last = last_complete_period(study.parameters["as_of"], study.unit)
    keys = np.asarray(list(keys), dtype=object)
    steps = np.asarray(list(steps), dtype=float)
    c = period_codes(pd.to_datetime(pd.Series(keys)).to_numpy(), study.unit)
    labels = period_labels(c, study.unit)
    p = last0 + np.rint(steps / per).astype(np.int64)
    k = p - c
    counts = t.bounded_counts
    active = np.array([float(counts.loc[lab, kk]) if lab in counts.index and kk in counts.columns
                       else (0.0 if pp <= last else np.nan)
                       for lab, kk, pp in zip(labels, k, p)])
    active = np.where(p <= last, np.nan_to_num(active, nan=0.0), np.nan)
    size = t.sizes.reindex(labels).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = active / size
    return pd.DataFrame({"key": keys, "step": steps, "active": active, "size": size,
                         "share": share})




def _score_run(study, run) -> dict | None:
    total = run.rows("active", "total")
    cells = run.rows("retention", "cohort")
    if not len(total):
        return None
    as_of = study.parameters["as_of"]
    steps = sorted(set(total["step"]))
    act = actual_shares(study, np.repeat(cells["key"].unique(), len(steps)),
                        run.as_of, np.tile(steps, cells["key"].nunique()))
    by_step = act.groupby("step")["active"].sum(min_count=1)
    # a window of whole months from a month's end can end before the period does
    # (June 30 + 1 month = July 30): score only periods complete in this run's data
    last_step = float(total["step"].max())
    total = total[total["step"].isin(by_step.dropna().index)]

    def actual(start, end):
        step = next(s for s in steps if hl.window_end(run.as_of, s, total["unit"].iloc[0]) == end)
        return float(by_step.loc[step])

    entry = hs.score_total(total, actual, run.as_of, as_of)
    if entry is None:
        return None
    entry["full_horizon"] = bool(entry["step"] == last_step)
    at = cells[cells["step"] == entry["step"]].set_index("key")
    got = actual_shares(study, at.index, run.as_of, at["step"]).set_index("key")["share"]
    cohorts = hs.score_keys(at["value"], got, at["lower"], at["upper"])
    rows = [{"cohort": k, "predicted": float(r["value"]), "actual": _num(got.get(k)),
             "lower": _num(r["lower"]), "upper": _num(r["upper"])} for k, r in at.iterrows()]
    return {"run_id": run.run_id, "as_of": run.as_of, "name": "active", **entry,
            "cohorts": cohorts, "cohort_rows": rows}


def _num(x) -> float | None:
    return None if x is None or pd.isna(x) else float(x)


def track_record(study, history, inputs: Mapping) -> TrackRecord:
    """Score the earlier runs of this study on the same source (``inputs``: the input
    parameters, e.g. ``{"transactions": path}``) stored in ``history``.

    Each entry is the :func:`~clm_lib.history.score_total` dict of the total actives
    plus ``run_id``, ``as_of``, ``name`` and ``cohorts`` (:func:`~clm_lib.history.score_keys`
    of the cohorts at the same step)."""
    def none(reason):
        return TrackRecord([], reason, reason, hs.summary([], reason))

    if history is None:
        return none("no run history was given (history)")
    if study.form == "snapshot":
        return none("the data are a snapshot without dates (tenure and a churn flag): its "
                    "one synthetic cohort has no calendar periods to score forecasts in")
    as_of = study.parameters.get("as_of")
    key = hl.source_key(STUDY, study_inputs(inputs))
    runs = hs.earlier_runs(history, STUDY, key, as_of, scope=None)
    runs = [r for r in runs if len(r.rows("active", "total"))]
    if not runs:
        return none("no earlier run on this data")
    entries = [e for e in (_score_run(study, r) for r in runs) if e is not None]
    if not entries:
        first = min(_step_end(r.as_of, r.rows("active", "total"), study.unit) for r in runs)
        return none("the earlier runs' windows are not covered yet by the data "
                    f"(next: after {fmt.date(first)})")
    text = _sentence(entries, study.unit)
    return TrackRecord(entries, None, text, hs.summary(entries, text))


def _step_end(as_of, rows, cohort_period) -> pd.Timestamp:
    """The day from which the first step of ``rows`` can be scored: its window's end or
    the end of its period, whichever is later."""
    step = float(rows["step"].min())
    per = ledger_unit(cohort_period)[1]
    code = last_complete_period(as_of, cohort_period) + int(round(step / per))
    end = period_start([code + 1], cohort_period)[0] - pd.Timedelta(days=1)
    return max(end, hl.window_end(as_of, step, rows["unit"].iloc[0]))


def _sentence(entries, unit) -> str:
    last = entries[-1]
    inside = [e["inside"] for e in entries if e.get("inside") is not None]
    parts = [f"The forecast made on {last['as_of']} of the customers active in the "
             f"{_ordinal(last['step'])} {unit} after it missed by "
             f"{fmt.percent(last['error'], signed=True)} "
             f"({fmt.count(last['predicted'])} forecast, {fmt.count(last['actual'])} active)"]
    if inside:
        lvl = last.get("level")
        parts.append(f"{sum(inside)} of {len(inside)} actual totals fell inside their "
                     f"{fmt.percent(lvl, 0)} intervals")
    cov = last["cohorts"].get("coverage")
    if cov is not None:
        parts.append(f"{fmt.percent(cov, 0)} of the cohorts' shares fell inside theirs "
                     f"(mean absolute error {fmt.points(last['cohorts']['mae']).lstrip('+')})")
    return "; ".join(parts) + "."


def _ordinal(step) -> str:
    n = int(round(float(step)))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def track_table(record: TrackRecord, unit: str) -> pd.DataFrame:
    """One row per scored earlier run: as-of, window, forecast and actual active
    customers, error, interval, inside, cohort error and coverage (text)."""
    rows = []
    for e in record.entries:
        c = e["cohorts"]
        rows.append({
            "Forecast as of": e["as_of"],
            "Window": f"{e['window'][0]} to {e['window'][1]}",
            f"{unit.capitalize()} after as-of": fmt.count(e["step"]),
            "Forecast active": fmt.count(e["predicted"]),
            "Actual active": fmt.count(e["actual"]),
            "Error": fmt.percent(e["error"], signed=True),
            "Interval": (f"{fmt.count(e['lower'])} to {fmt.count(e['upper'])}"
                         if e.get("lower") is not None else fmt.MISSING),
            "Inside": {True: "yes", False: "no", None: fmt.MISSING}[e.get("inside")],
            "Cohort share MAE": fmt.points(c["mae"]).lstrip("+"),
            "Cohorts inside interval": fmt.percent(c.get("coverage"), 0),
        })
    return pd.DataFrame(rows)


def cohort_table(study, record: TrackRecord) -> pd.DataFrame:
    """Per cohort of the latest scored run: forecast and actual share active in the
    scored period, and the interval (text)."""
    if not record.entries:
        return pd.DataFrame()
    e = record.entries[-1]
    starts = pd.to_datetime(pd.Series([r["cohort"] for r in e["cohort_rows"]])).to_numpy()
    labels = period_labels(period_codes(starts, study.unit), study.unit)
    return pd.DataFrame([{
        "Cohort": lab, "Forecast share active": fmt.percent(r["predicted"]),
        "Actual share active": fmt.percent(r["actual"]),
        "Interval": (f"{fmt.percent(r['lower'])} to {fmt.percent(r['upper'])}"
                     if r["lower"] is not None else fmt.MISSING),
        "Error": fmt.points(None if r["actual"] is None else r["predicted"] - r["actual"]),
    } for lab, r in zip(labels, e["cohort_rows"])])
