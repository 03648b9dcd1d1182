"""The survival study's forecast ledger and its track record.

Forecast: for every customer active (at risk) at ``as_of``, the selected model's
probability of churning within each risk horizon (``churn``, scope ``customer``, key = the
real customer id, step = the horizon in the study's time unit), and the expected number of
these customers churning within each horizon (``churners``, scope ``total``), with a 90 %
predictive interval. The churners are a sum of independent Bernoulli outcomes with those
probabilities (a Poisson-binomial count): its interval is the normal approximation,
mean ± z·sqrt(sum p(1 - p)), and covers the outcome noise only (the model's parameters
are taken as known, so it is too narrow when they are uncertain).

Track record: a later run on a source with dates (transactions with churn by inactivity;
interval subscriptions once their durations keep the end date) takes each earlier run's
forecast customers and marks who of them churned by the end of each covered window, by
the study's own definition and dating (the churn date of
:func:`.durations.inactivity_rule`: the first lapse; a subscription's end); customers
the later run does not know count as not churned. It scores the churners
total (:func:`clm_lib.history.score_total`) and, at the same horizon, the customers'
probabilities: calibration by decile with the Brier score
(:func:`clm_lib.history.calibration`) and the AUC (concordance of the probabilities with
the outcomes). Windows are calendar ones (:func:`clm_lib.history.window_end`: ``h``
whole months), while the model's horizon is ``h`` periods of the study's length (a month
of 30.44 days): the two differ by a day or two.

Snapshot subscriptions (tenure and churn flag, such as Telco) carry no dates: nothing can
be scored, which the section and ``metrics.json`` say.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from clm_lib import format as fmt
from clm_lib.history import ledger as hl
from clm_lib.history import scoring as hs
from clm_lib.history.scoring import TrackRecord
from clm_lib.history.recording import study_inputs

__all__ = ["STUDY", "LEVEL", "ledger", "churn_dates", "churned_by", "auc", "TrackRecord",
           "track_record", "track_table", "calibration_frame"]

#: The study's name in the run history.
STUDY = "survival_churn"
#: Level of the ledger's predictive intervals.
LEVEL = 0.9
_UNITS = {"day": ("day", 1), "week": ("week", 1), "month": ("month", 1), "year": ("month", 12)}


def ledger(result, *, level: float = LEVEL) -> list[pd.DataFrame]:
    """The study's ledger rows (see the module docstring): ``churn`` per active customer
    and horizon, ``churners`` per horizon; empty without active customers."""
    risk = result.risk
    if not len(risk) or "customer_id" not in risk.columns:
        return []
    unit, per = _UNITS[result.time_unit]
    keys = risk["customer_id"].astype(str).to_numpy()
    z = stats.norm.ppf((1 + level) / 2)
    frames, totals, lows, highs, steps = [], [], [], [], []
    for h in result.horizons:
        p = risk[f"p_churn_{h:g}"].to_numpy(dtype=float)
        frames.append(hl.ledger_frame("churn", p, step=h * per, unit=unit, scope="customer",
                                      key=keys))
        mean, sd = p.sum(), np.sqrt((p * (1 - p)).sum())
        totals.append(mean)
        lows.append(max(0.0, mean - z * sd))
        highs.append(min(float(len(p)), mean + z * sd))
        steps.append(h * per)
    frames.append(hl.ledger_frame("churners", totals, step=steps, unit=unit, lower=lows,
                                  upper=highs, level=level))
    return frames


def churn_dates(result) -> pd.Series | None:
    """Each customer's churn date by the study's definition (NaT: not churned by
    ``as_of``), indexed by customer id; None when the data carry no dates (a snapshot)."""
    d = result.durations
    if result.as_of is None:
        return None
    ids = d["customer_id"].astype(str)
    if "churn_date" in d.columns:
        dates = pd.to_datetime(d["churn_date"])
    elif "end" in d.columns:
        dates = pd.to_datetime(d["end"]).where(d["event"].astype(bool))
    else:
        return None
    # several subscriptions of one customer: the first churn
    return pd.Series(dates.to_numpy(), index=ids.to_numpy()).groupby(level=0).min()


def churned_by(dates: pd.Series, keys, end) -> pd.Series:
    """1.0 for the ``keys`` whose churn date is on or before ``end``, else 0.0 (customers
    without a date or unknown to ``dates`` included)."""
    d = dates.reindex(pd.Index([str(k) for k in keys]))
    return (d.notna() & (d <= pd.Timestamp(end))).astype(float)


def auc(predicted: pd.Series, outcome: pd.Series) -> float | None:
    """The area under the ROC curve: the probability that a customer who churned got a
    higher prediction than one who did not (ties count half); None with one class only."""
    y = outcome.to_numpy(dtype=float)
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    if not n1 or not n0:
        return None
    ranks = pd.Series(predicted.to_numpy(dtype=float)).rank().to_numpy()
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))




def _score_run(result, dates, run) -> dict | None:
    total = run.rows("churners", "total")
    cust = run.rows("churn", "customer")
    if not len(total) or not len(cust):
        return None
    first = cust[cust["step"] == cust["step"].min()]["key"]

    def actual(start, end):
        return float(churned_by(dates, first, end).sum())

    entry = hs.score_total(total, actual, run.as_of, result.as_of)
    if entry is None:
        return None
    at = cust[cust["step"] == entry["step"]].set_index("key")["value"]
    y = churned_by(dates, at.index, entry["window"][1])
    y.index = at.index
    cal = hs.calibration(at, y)
    return {"run_id": run.run_id, "as_of": run.as_of, "name": "churners", **entry,
            "customers": {"n": cal["n"], "brier": cal["brier"], "auc": auc(at, y),
                          "observed": float(y.mean()) if len(y) else None,
                          "calibration": cal["table"]}}


def track_record(result, history, inputs: Mapping) -> TrackRecord:
    """Score the earlier runs of this study on the same source (``inputs``: the input
    parameters, e.g. ``{"transactions": path}``) stored in ``history``.

    Each entry is the :func:`~clm_lib.history.score_total` dict of the churners plus
    ``run_id``, ``as_of``, ``name`` and ``customers`` (``n``, ``brier``, ``auc`` and the
    ``calibration`` table at the same horizon)."""
    def none(reason):
        return TrackRecord([], reason, reason, hs.summary([], reason))

    if history is None:
        return none("no run history was given (history)")
    dates = churn_dates(result)
    if dates is None and result.as_of is None:
        return none("the data are a snapshot without dates (tenure and a churn flag): a later "
                    "run cannot tell when customers churned, so earlier forecasts cannot be "
                    "scored; a transaction log can")
    if dates is None:
        return none("the subscriptions' durations keep no churn dates here (only tenure and "
                    "a churn flag per subscription), so a later run cannot tell who churned "
                    "in an earlier forecast's window; a transaction log can be scored")
    key = hl.source_key(STUDY, study_inputs(inputs))
    runs = [r for r in hs.earlier_runs(history, STUDY, key, result.as_of)
            if len(r.rows("churners", "total"))]
    if not runs:
        return none("no earlier run on this data")
    entries = [e for e in (_score_run(result, dates, r) for r in runs) if e is not None]
    if not entries:
        first = min(hl.window_end(r.as_of, r.rows("churners", "total")["step"].min(),
                                  r.rows("churners", "total")["unit"].iloc[0]) for r in runs)
        return none("the earlier runs' windows are not covered yet by the data "
                    f"(next: after {fmt.date(first)})")
    text = _sentence(entries, result.time_unit)
    return TrackRecord(entries, None, text, hs.summary(entries, text))


def _sentence(entries, unit) -> str:
    last = entries[-1]
    c = last["customers"]
    parts = [f"Of the customers active on {last['as_of']}, "
             f"{fmt.count(last['actual'])} churned within {fmt.count(last['step'])} "
             f"{unit}{'' if last['step'] == 1 else 's'}, against "
             f"{fmt.number(last['predicted'], 1)} forecast "
             f"({fmt.percent(last['error'], signed=True)})"]
    inside = [e["inside"] for e in entries if e.get("inside") is not None]
    if inside:
        parts.append(f"{sum(inside)} of {len(inside)} actual counts fell inside their "
                     f"{fmt.percent(last.get('level'), 0)} intervals (outcome noise only)")
    if c.get("auc") is not None:
        parts.append(f"the customers' churn probabilities ranked who churned with an AUC of "
                     f"{fmt.number(c['auc'])} (0.5 = a coin toss) and a Brier score of "
                     f"{fmt.number(c['brier'], 3)}")
    return "; ".join(parts) + "."


def track_table(record: TrackRecord, unit: str) -> pd.DataFrame:
    """One row per scored earlier run: as-of, window, forecast and actual churners,
    error, interval, inside, Brier score and AUC of the customers (text)."""
    rows = []
    for e in record.entries:
        c = e["customers"]
        rows.append({
            "Forecast as of": e["as_of"],
            "Window": f"{e['window'][0]} to {e['window'][1]}",
            f"Horizon ({unit}s)": fmt.count(e["step"]),
            "Customers": fmt.count(c["n"]),
            "Forecast churners": fmt.number(e["predicted"], 1),
            "Actual churners": fmt.count(e["actual"]),
            "Error": fmt.percent(e["error"], signed=True),
            "Interval": (f"{fmt.number(e['lower'], 1)} to {fmt.number(e['upper'], 1)}"
                         if e.get("lower") is not None else fmt.MISSING),
            "Inside": {True: "yes", False: "no", None: fmt.MISSING}[e.get("inside")],
            "Brier score": fmt.number(c["brier"], 3),
            "AUC": fmt.number(c["auc"]),
        })
    return pd.DataFrame(rows)


def calibration_frame(record: TrackRecord) -> pd.DataFrame:
    """The calibration by decile of the latest scored run's probabilities (text)."""
    if not record.entries:
        return pd.DataFrame()
    return pd.DataFrame([{"Decile of the forecast": str(r["bin"]), "Customers": fmt.count(r["n"]),
                          "Forecast churn probability": fmt.percent(r["predicted"]),
                          "Share churned": fmt.percent(r["observed"])}
                         for r in record.entries[-1]["customers"]["calibration"]])
