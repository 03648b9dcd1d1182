"""The cohort study's forecast ledger and track record: scoring against an independent
count on a hand-built log and a hand-filled store, and end to end on CDNOW."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clm_lib.history import ledger_frame, open_store, read_forecasts
from clm_lib.history.recording import study_record
from clm_lib.history.store import StudyRecord
from clm_lib.history.ledger import source_key
from clm_lib.studies.cohort_retention import track
from clm_lib.studies.cohort_retention.compute import cohort_study

SOURCE = "/data/log.csv"


def _log(seed=3, n=600):
    """Customers acquired Jan-Mar 2020, buying at random days up to the end of 2020."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        first = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 91)))
        rows.append((f"c{i:03d}", first))
        rate, drop, day = rng.gamma(2.0, 1 / 60), rng.beta(1.0, 3.0), first
        while True:  # BG/NBD-like: exponential gaps, a dropout after each purchase
            day = day + pd.Timedelta(days=int(min(np.ceil(rng.exponential(1 / rate)), 999)))
            if day > pd.Timestamp("2020-12-31"):
                break
            rows.append((f"c{i:03d}", day))
            if rng.random() < drop:
                break
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp"])
    df["customer_id"] = df["customer_id"].astype("string")
    df["amount"] = 10.0
    return df


def _independent(df, as_of0, months):
    """Per cohort (ISO start) and month after as_of0: customers active, by pandas."""
    first = df.groupby("customer_id")["timestamp"].min().dt.to_period("M")
    per = df.assign(p=df["timestamp"].dt.to_period("M"))
    base = pd.Timestamp(as_of0).to_period("M")
    out = {}
    for m in months:
        p = base + m
        who = per.loc[per["p"] == p, "customer_id"].unique()
        out[m] = first.loc[who].value_counts()
    sizes = first.value_counts()
    return out, sizes


def _store(url, rows, as_of, run_id="r1"):
    rec = StudyRecord(study=track.STUDY, source_key=source_key(track.STUDY,
                                                               {"transactions": SOURCE}),
                      as_of=as_of, fingerprint={}, parameters={}, figures={}, metrics={},
                      forecasts=pd.concat(rows, ignore_index=True))
    open_store(url).record_run({"run_id": run_id, "ok": True}, [rec])


def _hand_ledger():
    keys = ["2020-01-01", "2020-02-01", "2020-03-01"]
    cells = [ledger_frame("retention", [0.30, 0.25, 0.20], step=s, unit="month",
                          scope="cohort", key=keys, lower=[0.2, 0.2, 0.1],
                          upper=[0.4, 0.3, 0.25], level=0.9) for s in (1, 2, 3)]
    total = ledger_frame("active", [80.0, 75.0, 70.0], step=[1, 2, 3], unit="month",
                         lower=[60, 55, 50], upper=[100, 95, 90], level=0.9)
    return cells + [total]


@pytest.mark.parametrize("as_of2, step", [("2020-09-30", 3), ("2020-07-31", 1)])
def test_scores_hand_ledger_against_independent_counts(tmp_path, as_of2, step):
    df = _log()
    url = str(tmp_path / "h.duckdb")
    _store(url, _hand_ledger(), "2020-06-30")
    later = cohort_study(df, "month", as_of=as_of2, holdout_periods=0)
    rec = track.track_record(later, url, {"transactions": SOURCE})
    assert rec.reason is None and len(rec.entries) == 1
    e = rec.entries[0]
    counts, sizes = _independent(df, "2020-06-30", [step])
    got = counts[step]
    actual_total = float(got.sum())
    assert e["step"] == step and e["full_horizon"] == (step == 3)
    assert e["actual"] == actual_total
    assert e["predicted"] == [80.0, 75.0, 70.0][step - 1]
    assert e["error"] == pytest.approx((e["predicted"] - actual_total) / actual_total)
    lo, hi = [60, 55, 50][step - 1], [100, 95, 90][step - 1]
    assert e["inside"] == (lo <= actual_total <= hi)
    months = [pd.Period("2020-01", "M"), pd.Period("2020-02", "M"), pd.Period("2020-03", "M")]
    shares = np.array([got.get(m, 0) / sizes[m] for m in months])
    pred = np.array([0.30, 0.25, 0.20])
    assert e["cohorts"]["mae"] == pytest.approx(np.abs(pred - shares).mean())
    inside = (shares >= [0.2, 0.2, 0.1]) & (shares <= [0.4, 0.3, 0.25])
    assert e["cohorts"]["coverage"] == pytest.approx(inside.mean())
    assert rec.summary["scored"] == 1 and rec.summary["text"] == rec.text


def test_nothing_to_score_says_why(tmp_path):
    df = _log()
    url = str(tmp_path / "h.duckdb")
    _store(url, _hand_ledger(), "2020-06-30")
    soon = cohort_study(df, "month", as_of="2020-07-15", holdout_periods=0)
    rec = track.track_record(soon, url, {"transactions": SOURCE})
    assert rec.entries == [] and "not covered yet" in rec.reason and "2020-07-31" in rec.reason
    assert rec.summary["scored"] == 0 and rec.summary["text"] == rec.reason
    other = track.track_record(soon, url, {"transactions": "/data/other.csv"})
    assert other.reason == "no earlier run on this data"
    assert "history" in track.track_record(soon, None, {"transactions": SOURCE}).reason


def test_ledger_rows_of_a_fitted_study():
    df = _log()
    study = cohort_study(df, "month", as_of="2020-06-30", holdout_periods=0,
                         horizon_periods=4)
    assert study.purchase_fit is not None
    cells, total = track.ledger(study, draws=50)
    assert set(cells["key"]) == {"2020-01-01", "2020-02-01", "2020-03-01"}
    assert sorted(total["step"]) == [1, 2, 3, 4] and (cells["unit"] == "month").all()
    # the total is the cohorts' shares times their sizes
    sizes = study.tables.sizes.to_numpy(dtype=float)
    by_step = cells.pivot(index="key", columns="step", values="value").sort_index()
    assert total["value"].to_numpy() == pytest.approx((by_step.to_numpy() * sizes[:, None]).sum(0))
    assert (cells["lower"] <= cells["value"] + 1e-9).all()
    assert (cells["upper"] >= cells["value"] - 1e-9).all()


@pytest.mark.slow
def test_cdnow_second_run_scores_the_first(run_notebook, history_url):
    from clm_lib.config import CDNOW_MASTER

    out1 = run_notebook("10_cohort_retention.ipynb", as_of="1998-03-31")
    m1 = json.loads((out1 / "metrics.json").read_text())
    assert m1["track_record"]["scored"] == 0
    assert m1["figures"]["churn_rate"]["churn"] is True
    params1 = {"transactions": str(CDNOW_MASTER), "as_of": "1998-03-31"}
    open_store(history_url).record_run(
        {"run_id": "r1", "ok": True}, [study_record(track.STUDY, out1, params1)])
    out2 = run_notebook("10_cohort_retention.ipynb", as_of="1998-06-30", history=history_url)
    tr = json.loads((out2 / "metrics.json").read_text())["track_record"]
    assert tr["scored"] == 1
    e = tr["entries"][0]
    assert e["as_of"] == "1998-03-31" and e["step"] == 3
    assert e["window"] == ["1998-03-31", "1998-06-30"]
    f1 = read_forecasts(out1)
    pred = f1[(f1["name"] == "active") & (f1["step"] == 3)]["value"].iloc[0]
    assert e["predicted"] == pytest.approx(pred)
    raw = pd.read_csv(params1["transactions"], dtype={"customer_id": str},
                      parse_dates=["date"])
    june = raw.loc[raw["date"].dt.to_period("M") == pd.Period("1998-06", "M"), "customer_id"]
    assert e["actual"] == june.nunique()
    assert e["error"] == pytest.approx((pred - june.nunique()) / june.nunique())


def _subscriptions(seed=5, n=900):
    """Subscriptions started on the first of Jan, Feb or Mar 2020, each lasting a geometric
    number of months with a Beta(2, 6) churn probability: sBG data. (Started mid-month,
    nearly all would still be subscribed in part of the next calendar month, a churn near
    0 at k = 1 that no decreasing sBG hazard fits: its fit then runs off to the
    homogeneous boundary, where it stops depends on the machine's floating point.)"""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 91, n), unit="D")
    start = start.to_period("M").to_timestamp()
    theta = rng.beta(2.0, 6.0, n)
    months = rng.geometric(theta)
    end = pd.Series([s + pd.DateOffset(months=int(m)) for s, m in zip(start, months)])
    end = end.where(end <= pd.Timestamp("2020-12-31"))
    return pd.DataFrame({"customer_id": pd.array([f"s{i}" for i in range(n)], dtype="string"),
                         "start": start, "end": pd.to_datetime(end)})


def test_subscription_cohorts_scored_against_independent_counts(tmp_path):
    subs = _subscriptions()
    first = cohort_study(subs, "month", as_of="2020-06-30", holdout_periods=0,
                         horizon_periods=3)
    assert first.model is not None
    rows = track.ledger(first)
    assert {"retention", "active"} == {r["name"].iloc[0] for r in rows}
    url = str(tmp_path / "h.duckdb")
    _store(url, rows, "2020-06-30")
    later = cohort_study(subs, "month", as_of="2020-09-30", holdout_periods=0)
    rec = track.track_record(later, url, {"transactions": SOURCE})
    e = rec.entries[0]
    assert e["step"] == 3 and e["window"] == ["2020-06-30", "2020-09-30"]
    # subscribed during (part of) September 2020: started by its end, not ended by its start
    sep0, sep1 = pd.Timestamp("2020-09-01"), pd.Timestamp("2020-10-01")
    on = (subs["start"] < sep1) & (subs["end"].isna() | (subs["end"] > sep0))
    assert e["actual"] == int(on.sum())
    total = rows[1].set_index("step")
    assert e["predicted"] == pytest.approx(total.loc[3.0, "value"])
    assert e["inside"] == (total.loc[3.0, "lower"] <= on.sum() <= total.loc[3.0, "upper"])
