"""The survival study on every engine: same durations, events and data-quality counts.

Subscriptions (interval and snapshot form, messy CSV files and the Telco sample) go
through the subscriptions contract and the duration reduction in DuckDB and Spark
(local[2]); transactions go through the transactions contract and the per-customer
purchase spans in the engine, then the inactivity rule. Everything is compared with the
pandas path (:mod:`clm_lib.io.pandas_contract`, :func:`clm_lib.studies.survival_churn.compute.inactivity_durations`).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clm_lib.studies.survival_churn import compute as sv
from clm_lib.config import TELCO_CHURN
from clm_lib.io.pandas_contract import load_subscriptions, load_transactions
from clm_lib.reduce.engine import get_engine
from clm_lib.exceptions import DataContractError, InsufficientDataError, MissingColumnsError

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

AS_OF = "2020-06-30"
TELCO_COLUMNS = {"customerID": "customer_id", "Churn": "churned"}

# Interval form: one row per rule, in the order the loader applies them (first reason wins).
INTERVALS = [
    # id, from, to, plan, price                           expected fate
    ("007", "2020-01-01", "2020-02-15 12:30", "basic", "10"),  # used, ended
    ("007", "2020-03-01", "", "pro", "20"),                 # used, active (second spell)
    ("007", "2020-03-01", "", "pro", "20"),                 # duplicate subscription row
    (" 42 ", "2020-01-10 08:00", "2020-12-31", "basic", "10"),  # used, ends after as_of
    ("42", "2020-01-10 08:00", "2021-01-05", "basic", "10"),  # duplicate once censored at as_of
    ("", "2020-01-01", "", "basic", "10"),                  # missing customer_id
    ("NA", "", "", "basic", "10"),                          # missing customer_id (first reason)
    ("9", "", "2020-02-01", "basic", "10"),                 # missing start
    ("9", "01/02/2020", "", "basic", "10"),                 # unparseable start
    ("9", "2020-01-05", "soon", "basic", "10"),             # unparseable end
    ("9", "2020-07-01", "", "basic", "10"),                 # start after as_of
    ("9", "2020-06-30 23:00", "", "pro", "20"),             # used (as_of is a whole day)
    ("9", "2020-03-01", "2020-02-01", "basic", "10"),       # end before start
    ("00100", "2020-02-29", "2020-06-30 12:00", "pro", ""),  # used, ended on the as_of day
]
INTERVAL_DROPS = {"missing customer_id": 2, "missing start": 1, "unparseable start": 1,
                  "unparseable end": 1, "start after as_of": 1, "end before start": 1,
                  "duplicate subscription row": 2}
INTERVAL_COLUMNS = {"id": "customer_id", "from": "start", "to": "end"}

# Snapshot form.
SNAPSHOT = [
    # id, months, status, contract, charges, region_code, store_id
    ("0001", "1", "Yes", "m", "10.5", "01", "5"),     # used
    ("0002", "12", "No", "y", " ", "02", "5"),        # used, blank charges
    ("0003", "0", "no", "m", "3", "01", "6"),         # used, zero tenure
    ("0003", "0", "no", "m", "3", "01", "6"),         # duplicate customer row
    ("", "5", "No", "m", "3", "01", "6"),             # missing customer_id
    ("0005", "", "No", "m", "3", "01", "6"),          # missing tenure
    ("0006", "abc", "No", "m", "3", "01", "6"),       # non-numeric tenure
    ("0011", "inf", "No", "m", "3", "01", "6"),       # non-numeric tenure (infinite)
    ("0007", "-2", "No", "m", "3", "01", "6"),        # negative tenure
    ("0008", "3", "", "m", "3", "01", "6"),           # missing churn flag
    ("0009", "3", "maybe", "m", "3", "01", "6"),      # unrecognised churn flag
    ("0010", "6.0", "TRUE", "y", "4", "02", "7"),     # used
    ("0012", " 7 ", " y ", "m", "5", "01", "7"),      # used (text stripped)
]
SNAPSHOT_DROPS = {"missing customer_id": 1, "missing tenure": 1, "non-numeric tenure": 2,
                  "negative tenure": 1, "missing churn flag": 1, "unrecognised churn flag": 1,
                  "duplicate customer row": 1}
SNAPSHOT_COLUMNS = {"id": "customer_id", "months": "tenure", "status": "churned"}

# A small purchase log for churn by inactivity.
LOG = [
    # id, date, dollars, cds
    ("a", "2020-01-01 09:00", "10", "1"),
    ("a", "2020-01-01 17:30", "5.5", ""),     # same first day: first_amount 15.5
    ("a", "2020-02-10", "7", "2"),
    ("b", "2020-01-15 12:00", "20", "x"),     # non-numeric quantity: adds nothing
    ("b", "2020-06-30 15:00", "3", "1"),      # kept by the loader, after the as_of instant
    ("c", "2020-05-01", "0", "1"),            # zero amount, still a purchase
    ("c", "2020-06-29 23:59", "8", "1"),
    ("d", "2020-03-03", "-4", "1"),           # negative amount: dropped by the loader
    ("d", "2020-03-04", "12", "3"),
    ("e", "2020-07-02", "9", "1"),            # after as_of: dropped by the loader
    ("", "2020-01-01", "1", "1"),             # missing customer_id
    ("f", "2020-06-30", "2", "1"),            # first purchase on the as_of day (midnight)
]
LOG_COLUMNS = {"id": "customer_id", "date": "timestamp", "dollars": "amount", "cds": "quantity"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("survival")
    pd.DataFrame(INTERVALS, columns=["id", "from", "to", "plan", "price"]).to_csv(
        d / "intervals.csv", index=False)
    pd.DataFrame(SNAPSHOT, columns=["id", "months", "status", "contract", "charges",
                                    "region_code", "store_id"]).to_csv(d / "snapshot.csv",
                                                                       index=False)
    pd.DataFrame(LOG, columns=["id", "date", "dollars", "cds"]).to_csv(d / "log.csv", index=False)
    return d


def _same_record(got, ref):
    """Same rows in, used, dropped by reason and warnings; the engine says what differs."""
    got, ref = (q.to_dict() if hasattr(q, "to_dict") else q for q in (got, ref))
    for key in ("rows_in", "rows_used", "dropped", "warnings"):
        assert got[key] == ref[key], key
    assert got["rows_in"] == got["rows_used"] + sum(got["dropped"].values())


def test_interval_csv_same_durations_and_record(files, engine):
    path = str(files / "intervals.csv")
    ref, ref_dq = load_subscriptions(path, INTERVAL_COLUMNS, as_of=AS_OF)
    assert ref_dq.dropped == INTERVAL_DROPS
    table, dq = engine.load_subscriptions(path, INTERVAL_COLUMNS, as_of=AS_OF)
    _same_record(dq, ref_dq)
    assert dq.warnings == {"end after as_of (treated as active at as_of, censored)": 2,
                           "customer with more than one subscription (each kept as its own "
                           "spell)": 2,
                           "blank values in numeric column 'price' (kept, value NaN)": 1}
    got = engine.to_pandas(table).sort_values(["customer_id", "start"], ignore_index=True)
    assert got["customer_id"].tolist() == ref["customer_id"].tolist() == [
        "00100", "007", "007", "42", "9"]
    assert got["end"].isna().tolist() == ref["end"].isna().tolist()
    assert got["price"].tolist()[1:] == ref["price"].tolist()[1:] == [10.0, 20.0, 10.0, 20.0]

    want = sv.load_churn_durations(path, None, INTERVAL_COLUMNS, as_of=AS_OF, time_unit="day")
    have = sv.load_churn_durations(path, None, INTERVAL_COLUMNS, as_of=AS_OF, time_unit="day",
                                   engine=engine)
    pd.testing.assert_frame_equal(have[0], want[0], check_exact=True)
    _same_record(have[1][0], want[1][0])
    # by hand, in days: 007 ended after 45.52 days; 42 is censored at as_of (midnight)
    d = have[0]
    assert d["event"].tolist() == [True, True, False, False, False]
    assert d["duration"].iloc[1] == pytest.approx(45 + 12.5 / 24)
    assert d["duration"].iloc[3] == pytest.approx(172 - 8 / 24)


def test_snapshot_csv_same_durations_and_record(files, engine):
    path = str(files / "snapshot.csv")
    want = sv.load_churn_durations(path, None, SNAPSHOT_COLUMNS)
    have = sv.load_churn_durations(path, None, SNAPSHOT_COLUMNS, engine=engine)
    assert want[1][0].dropped == SNAPSHOT_DROPS
    pd.testing.assert_frame_equal(have[0], want[0], check_exact=True)
    _same_record(have[1][0], want[1][0])
    assert have[1][0].warnings == {
        "zero tenure (kept; no time at risk yet)": 1,
        "blank values in numeric column 'charges' (kept, value NaN)": 1}
    frame = have[0]
    assert frame["customer_id"].tolist() == ["0001", "0002", "0003", "0010", "0012"]
    assert frame["duration"].tolist() == [1.0, 12.0, 0.0, 6.0, 7.0]
    assert frame["event"].tolist() == [True, False, False, True, True]
    # codes with leading zeros and identifiers stay text; charges become numbers
    assert frame["region_code"].tolist() == ["01", "02", "01", "02", "01"]
    assert frame["store_id"].tolist() == ["5", "5", "6", "7", "7"]
    assert frame["charges"].dtype == "float64" and frame["charges"].isna().sum() == 1


def test_telco_same_durations_and_record(engine):
    want = sv.load_churn_durations(str(TELCO_CHURN), None, TELCO_COLUMNS)
    have = sv.load_churn_durations(str(TELCO_CHURN), None, TELCO_COLUMNS, engine=engine)
    pd.testing.assert_frame_equal(have[0], want[0], check_exact=True)
    _same_record(have[1][0], want[1][0])
    assert len(have[0]) == 7043 and int(have[0]["event"].sum()) == 1869
    assert have[1][0].warnings[
        "blank values in numeric column 'TotalCharges' (kept, value NaN)"] == 11
    assert have[0]["SeniorCitizen"].dtype == "int64"


def test_subscription_durations_of_a_path_drop_and_count(files, engine):
    """A path is loaded with the contract (drops counted); a loaded table with a bad row
    is still an error."""
    path = str(files / "intervals.csv")
    got = engine.subscription_durations(path, as_of=AS_OF, columns=INTERVAL_COLUMNS,
                                        time_unit="week")
    ref = get_engine("pandas").subscription_durations(path, as_of=AS_OF,
                                                      columns=INTERVAL_COLUMNS, time_unit="week")
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    _same_record(got.attrs["data_quality"], ref.attrs["data_quality"])
    assert got.attrs["data_quality"]["dropped"] == INTERVAL_DROPS
    bad = pd.DataFrame({"customer_id": ["a"], "start": pd.to_datetime(["2020-03-01"]),
                        "end": pd.to_datetime(["2020-02-01"])})
    with pytest.raises(DataContractError, match="end before start"):
        engine.subscription_durations(bad, as_of=AS_OF)


def test_transactions_inactivity_identical(files, engine):
    path = str(files / "log.csv")
    kw = dict(as_of=AS_OF, inactivity_days=30, time_unit="day")
    want, want_q, want_def = sv.load_churn_durations(None, path, LOG_COLUMNS, **kw)
    have, have_q, have_def = sv.load_churn_durations(None, path, LOG_COLUMNS, engine=engine,
                                                     **kw)
    pd.testing.assert_frame_equal(have, want, check_exact=True)
    assert have_def == want_def
    assert want_q[0].dropped == {"missing customer_id": 1, "timestamp after as_of": 1,
                                 "negative amount (return/cancellation)": 1}
    assert want_q[1].dropped == {"purchase after as_of": 1}
    for got, ref in zip(have_q, want_q):
        for key in ("rows_in", "rows_used", "dropped"):
            assert getattr(got, key) == getattr(ref, key), key
    a = have.set_index("customer_id")
    # a: last purchase 02-10 + 30 days = 03-11 <= as_of: churned, 69.625 days after 01-01 09:00
    assert a.loc["a", "event"] and a.loc["a", "duration"] == pytest.approx(69.625)
    assert a.loc["a", "first_amount"] == 15.5 and a.loc["a", "first_quantity"] == 1.0
    assert a.loc["b", "n_purchases"] == 1 and a.loc["b", "first_quantity"] == 0.0
    assert not a.loc["c", "event"] and a.loc["f", "duration"] == 0.0
    assert a.loc["d", "n_purchases"] == 1 and a.loc["d", "total_amount"] == 12.0


def test_purchase_spans_of_a_loaded_table(files, engine):
    """Engine.purchase_spans on the engine's loaded table equals the pandas reference."""
    from clm_lib.reduce.pandas_reductions import purchase_spans

    path = str(files / "log.csv")
    tx, _ = load_transactions(path, LOG_COLUMNS, as_of=AS_OF)
    table, _ = engine.load_transactions(path, LOG_COLUMNS, as_of=AS_OF)
    got = engine.purchase_spans(table, as_of="2020-06-30 12:00")
    ref = purchase_spans(tx, as_of="2020-06-30 12:00")
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    assert got.attrs == ref.attrs == {"purchases_after_as_of": 1}
    # a file is loaded with the contract and the record rides along
    from_path = engine.purchase_spans(path, as_of=AS_OF, columns=LOG_COLUMNS)
    ref_path = get_engine("pandas").purchase_spans(path, as_of=AS_OF, columns=LOG_COLUMNS)
    pd.testing.assert_frame_equal(from_path, ref_path, check_exact=True)
    _same_record(from_path.attrs["data_quality"], ref_path.attrs["data_quality"])
    assert from_path.attrs["purchases_after_as_of"] == 2  # 07-02, and 06-30 15:00


def test_cdnow_inactivity_on_duckdb():
    """69,659 purchases: durations, events and counts identical; spend sums to rounding."""
    from clm_lib.config import CDNOW_MASTER

    cols = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}
    want, want_q, _ = sv.load_churn_durations(None, str(CDNOW_MASTER), cols, as_of="1998-06-30")
    have, have_q, _ = sv.load_churn_durations(None, str(CDNOW_MASTER), cols, as_of="1998-06-30",
                                              engine="duckdb")
    money = ["total_amount", "first_amount", "spend_per_period"]
    pd.testing.assert_frame_equal(have.drop(columns=money), want.drop(columns=money),
                                  check_exact=True)
    pd.testing.assert_frame_equal(have[money], want[money], rtol=1e-12)
    assert len(have) == 23570
    assert [q.rows_used for q in have_q] == [q.rows_used for q in want_q] == [69659, 69659]


@pytest.mark.parametrize("rows,cols,match", [
    ([("", "2020-01-01", ""), ("NA", "2020-01-02", "")], ("customer_id", "start", "end"),
     "every customer_id is missing"),
    ([("a", "", ""), ("b", "", "")], ("customer_id", "start", "end"), "every start date"),
    ([("a", "01/02/2020", ""), ("b", "03/02/2020", "")], ("customer_id", "start", "end"),
     "pass date_format"),
    ([("a", "2020-01-01", "later"), ("b", "2020-01-01", "")], ("customer_id", "start", "end"),
     "no value could be read"),
    ([("a", "", "No"), ("b", "", "Yes")], ("customer_id", "tenure", "churned"), "every tenure"),
    ([("a", "x", "No"), ("b", "", "Yes")], ("customer_id", "tenure", "churned"),
     "no tenure is a number"),
    ([("a", "1", "Churned"), ("b", "2", "Stayed")], ("customer_id", "tenure", "churned"),
     "no churn flag is recognised"),
    ([("a", "1", "No"), ("b", "2", "No"), ("a", "3", "Yes")],
     ("customer_id", "tenure", "churned"), "more than once with different values"),
])
def test_errors_as_in_pandas(engine, tmp_path, rows, cols, match):
    path = tmp_path / "bad.csv"
    pd.DataFrame(rows, columns=list(cols)).to_csv(path, index=False)
    with pytest.raises(DataContractError, match=match) as ref:
        load_subscriptions(path, as_of=AS_OF)
    with pytest.raises(DataContractError, match=match) as got:
        engine.load_subscriptions(str(path), as_of=AS_OF)
    assert (got.value.column, got.value.n_rows) == (ref.value.column, ref.value.n_rows)


def test_other_rules_as_in_pandas(engine, tmp_path):
    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "tenure": [1, 2, 3],
                       "churned": ["Churned", "Stayed", "Yes"]})
    values = {"Churned": True, "Stayed": False}
    _, ref = load_subscriptions(df, churn_values=values)
    table, dq = engine.load_subscriptions(df, churn_values=values)
    _same_record(dq, ref)
    assert dq.dropped == {"unrecognised churn flag": 1}
    assert engine.to_pandas(table).sort_values("customer_id")["churned"].tolist() == [True, False]
    with pytest.raises(MissingColumnsError) as e:
        engine.load_subscriptions(df.drop(columns="churned"))
    assert e.value.missing == ["churned"]
    with pytest.raises(MissingColumnsError) as e:
        engine.load_subscriptions(pd.DataFrame({"customer_id": ["a"], "start": ["2020-01-01"]}))
    assert e.value.missing == ["end"]
    late = pd.DataFrame({"customer_id": ["a"], "start": ["2021-01-01"], "end": [None]})
    with pytest.raises(InsufficientDataError, match="start after as_of: 1"):
        engine.load_subscriptions(late, as_of=AS_OF)
    # typed sources: booleans and numbers as churn flags, numeric ids
    typed = pd.DataFrame({"customer_id": [1.0, 2.0, np.nan], "tenure": [3.0, np.nan, 1.0],
                          "churned": [True, False, True]})
    typed.to_parquet(tmp_path / "typed.parquet")
    ref_t, ref_q = load_subscriptions(tmp_path / "typed.parquet")
    got_t, got_q = engine.load_subscriptions(str(tmp_path / "typed.parquet"))
    _same_record(got_q, ref_q)
    assert engine.to_pandas(got_t)["customer_id"].tolist() == ref_t["customer_id"].tolist() == ["1"]


@pytest.mark.slow
def test_notebook_on_duckdb_matches_pandas(tmp_path):
    """The survival study through the runner with engine=duckdb: same metrics.json."""
    pytest.importorskip("papermill")
    from clm_lib.run.execute import run_studies

    metrics = {}
    for name in ("pandas", "duckdb"):
        result = run_studies(["survival_churn"], out_dir=tmp_path / name,
                             parameters={"engine": name}, progress=False)
        assert result.ok, result
        metrics[name] = json.loads((tmp_path / name / "survival_churn" / "metrics.json")
                                   .read_text())
    p, d = metrics["pandas"], metrics["duckdb"]
    notes = [q.pop("notes") for m in (p, d) for q in [m["data_quality"], *m["data_quality_steps"]]]
    assert d == p
    assert d["data_quality"]["rows_in"] == 7043
    assert any("engine's own number reading" in n for n in notes[len(notes) // 2])
