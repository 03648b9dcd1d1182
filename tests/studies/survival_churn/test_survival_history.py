"""The survival study's forecast ledger and track record: scoring a hand-filled store
against a hand-built dated log (churn by inactivity, worked out by hand), and end to end
on CDNOW transactions."""
from __future__ import annotations

import json
from itertools import product
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from clm_lib.history import ledger_frame, open_store, read_forecasts
from clm_lib.history.ledger import source_key
from clm_lib.history.recording import study_record
from clm_lib.history.store import StudyRecord
from clm_lib.studies.survival_churn import track
from clm_lib.studies.survival_churn.durations import inactivity_durations

SOURCE = "/data/tx.csv"
AS_OF0 = "2020-01-31"
KEYS = ["a", "b", "c", "d", "e", "zz"]  # zz: unknown to the later data
P30 = [0.9, 0.1, 0.5, 0.3, 0.8, 0.2]
P60 = [0.95, 0.2, 0.6, 0.5, 0.9, 0.2]
# churn by 30 days of inactivity, by hand: a churns 02-19 (01-20 + 30), b never by 04-30,
# c on 02-29 (lapse after 01-30; its return on 03-10 is a reactivation), d on 04-24
# (03-25 + 30), e on 02-01; zz is not in the log.
CHURNED_BY_0301 = {"a": 1, "b": 0, "c": 1, "d": 0, "e": 1, "zz": 0}
CHURNED_BY_0331 = CHURNED_BY_0301


def _tx():
    days = {"a": ["2020-01-01", "2020-01-20"],
            "b": ["2020-01-05", "2020-01-25", "2020-02-20", "2020-03-15", "2020-04-10"],
            "c": ["2020-01-10", "2020-01-30", "2020-03-10"],
            "d": ["2020-01-15", "2020-02-10", "2020-03-05", "2020-03-25"],
            "e": ["2020-01-02"], "f": ["2019-12-01"]}
    rows = [(c, pd.Timestamp(d)) for c, ds in days.items() for d in ds]
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp"])
    df["customer_id"] = df["customer_id"].astype("string")
    df["amount"] = 5.0
    return df


def _later(as_of):
    """What track_record reads of a study result: its durations by the study's own churn
    rule, its as-of date and time unit."""
    d, _ = inactivity_durations(_tx(), as_of=as_of, inactivity_days=30, time_unit="day")
    return SimpleNamespace(durations=d, as_of=pd.Timestamp(as_of), time_unit="day")


def _store(url):
    rows = [ledger_frame("churn", P30, step=30, unit="day", scope="customer", key=KEYS),
            ledger_frame("churn", P60, step=60, unit="day", scope="customer", key=KEYS),
            ledger_frame("churners", [sum(P30), sum(P60)], step=[30, 60], unit="day",
                         lower=[1.5, 1.6], upper=[4.5, 4.7], level=0.9)]
    rec = StudyRecord(study=track.STUDY,
                      source_key=source_key(track.STUDY, {"transactions": SOURCE}),
                      as_of=AS_OF0, fingerprint={}, parameters={}, figures={}, metrics={},
                      forecasts=pd.concat(rows, ignore_index=True))
    open_store(url).record_run({"run_id": "r1", "ok": True}, [rec])


def _auc(p, y):
    pos = [pi for pi, yi in zip(p, y) if yi]
    neg = [pi for pi, yi in zip(p, y) if not yi]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_churn_dates_follow_the_study_definition():
    dates = track.churn_dates(_later("2020-04-30"))
    assert dates["a"] == pd.Timestamp("2020-02-19")
    assert dates["c"] == pd.Timestamp("2020-02-29")
    assert dates["d"] == pd.Timestamp("2020-04-24")
    assert pd.isna(dates["b"])
    got = track.churned_by(dates, KEYS, "2020-03-01")
    assert got.tolist() == [CHURNED_BY_0301[k] for k in KEYS]


@pytest.mark.parametrize("as_of, step, outcome, probs", [
    ("2020-04-30", 60, CHURNED_BY_0331, P60),   # the whole horizon is covered
    ("2020-03-15", 30, CHURNED_BY_0301, P30),   # only the first window is
])
def test_scores_against_hand_counts(tmp_path, as_of, step, outcome, probs):
    url = str(tmp_path / "h.duckdb")
    _store(url)
    rec = track.track_record(_later(as_of), url, {"transactions": SOURCE})
    assert rec.reason is None and len(rec.entries) == 1
    e = rec.entries[0]
    y = [outcome[k] for k in KEYS]
    assert e["step"] == step and e["full_horizon"] == (step == 60)
    assert e["actual"] == sum(y) == 3
    assert e["predicted"] == pytest.approx(sum(probs))
    assert e["error"] == pytest.approx((sum(probs) - 3) / 3)
    lo, hi = {30: (1.5, 4.5), 60: (1.6, 4.7)}[step]
    assert e["inside"] == (lo <= 3 <= hi)
    c = e["customers"]
    assert c["n"] == 6
    assert c["brier"] == pytest.approx(np.mean((np.array(probs) - np.array(y)) ** 2))
    assert c["auc"] == pytest.approx(_auc(probs, y))
    assert sum(r["n"] for r in c["calibration"]) == 6
    assert rec.summary["scored"] == 1 and "churned within" in rec.text


def test_nothing_to_score_says_why(tmp_path):
    url = str(tmp_path / "h.duckdb")
    _store(url)
    soon = track.track_record(_later("2020-02-20"), url, {"transactions": SOURCE})
    assert soon.entries == [] and "not covered yet" in soon.reason
    assert "2020-03-01" in soon.reason and soon.summary["scored"] == 0
    other = track.track_record(_later("2020-04-30"), url, {"transactions": "/data/b.csv"})
    assert other.reason == "no earlier run on this data"
    none = track.track_record(_later("2020-04-30"), None, {"transactions": SOURCE})
    assert "history" in none.reason
    snapshot = SimpleNamespace(durations=pd.DataFrame({"customer_id": ["x"], "duration": [3.0],
                                                       "event": [True]}),
                               as_of=None, time_unit="month")
    snap = track.track_record(snapshot, url, {"subscriptions": "/data/telco.csv"})
    assert "snapshot without dates" in snap.reason
    assert snap.summary == {**snap.summary, "scored": 0, "text": snap.reason}
    intervals = SimpleNamespace(durations=snapshot.durations, as_of=pd.Timestamp("2020-04-30"),
                                time_unit="month")
    kept = track.track_record(intervals, url, {"subscriptions": "/data/subs.csv"})
    assert "keep no churn dates" in kept.reason


def test_ledger_churners_interval_is_the_poisson_binomial_normal():
    risk = pd.DataFrame({"customer_id": ["1", "2", "3"], "p_churn_1": [0.1, 0.5, 0.9],
                         "p_churn_3": [0.2, 0.6, 0.95]})
    result = SimpleNamespace(risk=risk, time_unit="month", horizons=(1.0, 3.0))
    *cust, total = track.ledger(result)
    assert list(cust[0]["key"]) == ["1", "2", "3"] and set(cust[1]["step"]) == {3.0}
    p = np.array([0.1, 0.5, 0.9])
    sd = np.sqrt((p * (1 - p)).sum())
    assert total["value"].iloc[0] == pytest.approx(1.5)
    assert total["upper"].iloc[0] == pytest.approx(1.5 + 1.6448536 * sd, rel=1e-6)
    assert total["lower"].iloc[0] == pytest.approx(1.5 - 1.6448536 * sd, rel=1e-6)


@pytest.mark.slow
def test_cdnow_second_run_scores_the_first(run_notebook, history_url):
    from clm_lib.config import CDNOW_MASTER

    base = {"transactions": str(CDNOW_MASTER),
            "columns": {"date": "timestamp", "dollars": "amount", "cds": "quantity"}}
    out1 = run_notebook("20_survival_churn.ipynb", sample=False, as_of="1997-12-31", **base)
    m1 = json.loads((out1 / "metrics.json").read_text())
    assert m1["track_record"]["scored"] == 0 and "high_risk" in m1["figures"]
    open_store(history_url).record_run(
        {"run_id": "r1", "ok": True},
        [study_record(track.STUDY, out1, {**base, "as_of": "1997-12-31"})])
    out2 = run_notebook("20_survival_churn.ipynb", sample=False, as_of="1998-06-30",
                        history=history_url, **base)
    tr = json.loads((out2 / "metrics.json").read_text())["track_record"]
    assert tr["scored"] == 1
    e = tr["entries"][0]
    assert e["as_of"] == "1997-12-31" and e["step"] == 6
    f1 = read_forecasts(out1)
    assert e["predicted"] == pytest.approx(
        f1[(f1["name"] == "churners") & (f1["step"] == 6)]["value"].iloc[0])
    # independently: customers active at 1997-12-31 (the rule had not fired) whose first
    # 180-day lapse ends by 1998-06-30
    raw = pd.read_csv(CDNOW_MASTER, dtype={"customer_id": str}, parse_dates=["date"])
    raw = raw.sort_values(["customer_id", "date"])
    fire = {}
    for cid, days in raw.groupby("customer_id")["date"]:
        d = days.drop_duplicates().tolist()
        gaps = [a for a, b in zip(d, d[1:]) if (b - a).days > 180]
        fire[cid] = (gaps[0] if gaps else d[-1]) + pd.Timedelta(days=180)
    keys = f1[(f1["name"] == "churn") & (f1["step"] == 6)]["key"]
    assert all(fire[k] > pd.Timestamp("1997-12-31") for k in keys)
    assert e["actual"] == sum(fire[k] <= pd.Timestamp("1998-06-30") for k in keys)


@pytest.mark.slow
def test_telco_snapshot_says_why_nothing_is_scored(run_notebook, tmp_path):
    out = run_notebook("20_survival_churn.ipynb", history=str(tmp_path / "h.duckdb"))
    m = json.loads((out / "metrics.json").read_text())
    tr = m["track_record"]
    assert tr["scored"] == 0 and "snapshot without dates" in tr["text"]
    figs = m["figures"]
    assert figs["churned_12"]["churn"] is True and figs["churned_12"]["good"] == "down"
    assert figs["segment_hr"]["kind"] == "ratio" and figs["segment_hr"]["value"] > 1
    assert figs["high_risk"]["value"] == m["risk_tiers"]["high"]
    assert figs["concordance"]["value"] == pytest.approx(m["concordance_holdout"])
    f = read_forecasts(out)
    churn = f[f["name"] == "churn"]
    assert set(churn["step"]) == {1.0, 3.0, 6.0} and (churn["scope"] == "customer").all()
    total = f[f["name"] == "churners"].set_index("step")["value"]
    assert total.loc[6.0] == pytest.approx(churn[churn["step"] == 6.0]["value"].sum())
