"""Durations of the survival study: churn by inactivity, subscriptions through the
contract and the duration reduction (DuckDB, the default engine), model-ready frames.
Every answer is written in the test (worked out by hand from the rows)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_lib.config import CDNOW_MASTER, TELCO_CHURN
from clm_lib.exceptions import (
    DataContractError,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
)
from clm_lib.reduce import get_engine
from clm_lib.studies.survival_churn import durations as du

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]


@pytest.fixture(scope="module")
def engine():
    return get_engine("duckdb")


# ---------------------------------------------------------------------------------------
# Churn by inactivity
# ---------------------------------------------------------------------------------------

@pytest.fixture
def tiny_log():
    rows = [
        ("a", "2020-01-01", 5.0), ("a", "2020-01-11", 7.0),   # churned: 01-11 + 30 d <= as_of
        ("b", "2020-01-01", 1.0), ("b", "2020-02-15", 1.0),   # lapsed 01-31, came back 02-15
        ("c", "2020-01-31", 3.0),                              # churned exactly at as_of
        ("d", "2020-03-05", 2.0),                              # only purchase after as_of
        ("e", "2020-02-20", 4.0), ("e", "2020-03-10", 4.0),   # censored, 2nd purchase ignored
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    df["customer_id"] = df["customer_id"].astype("string")
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    return df


def test_inactivity_rule_by_hand(tiny_log):
    d, dq = du.inactivity_durations(tiny_log, as_of="2020-03-01", inactivity_days=30,
                                    time_unit="day")
    d = d.set_index("customer_id")
    assert list(d.index) == ["a", "b", "c", "e"]
    # a: 2020-01-01 -> churn fires 2020-02-10: 40 days, observed
    assert d.loc["a", "duration"] == pytest.approx(40.0)
    assert bool(d.loc["a", "event"]) is True
    assert d.loc["a", "churn_date"] == pd.Timestamp("2020-02-10")
    # b: 45 days without a purchase after 01-01 -> churned at the first lapse, 01-31 (30
    # days), although the window after the last purchase (02-15) has not elapsed: the
    # return on 02-15 is a reactivation
    assert d.loc["b", "duration"] == pytest.approx(30.0)
    assert bool(d.loc["b", "event"]) is True
    assert d.loc["b", "churn_date"] == pd.Timestamp("2020-01-31")
    assert d["reactivated"].to_dict() == {"a": False, "b": True, "c": False, "e": False}
    assert "1 of the 3 churned customers bought again" in dq.notes[-1]
    # c: one purchase, window ends exactly on as_of -> churned, 30 days
    assert d.loc["c", "duration"] == pytest.approx(30.0)
    assert bool(d.loc["c", "event"]) is True
    # e: purchase after as_of ignored; censored 10 days after first purchase
    assert d.loc["e", "duration"] == pytest.approx(10.0)
    assert bool(d.loc["e", "event"]) is False
    assert d.loc["e", "n_purchases"] == 1
    assert d.loc["a", "first_amount"] == 5.0 and d.loc["a", "total_amount"] == 12.0
    assert d.loc["a", "spend_per_period"] == pytest.approx(12.0 / 40.0)
    assert dq.rows_in == 8 and dq.rows_used == 6
    assert dq.dropped == {"purchase after as_of": 2}
    assert d["event"].dtype == bool


def test_inactivity_time_unit_months(tiny_log):
    d, _ = du.inactivity_durations(tiny_log, as_of="2020-03-01", inactivity_days=30,
                                   time_unit="month")
    a = d.set_index("customer_id").loc["a", "duration"]
    assert a == pytest.approx(40.0 / (365.25 / 12))


def test_inactivity_errors(tiny_log):
    with pytest.raises(MissingColumnsError, match="amount"):
        du.inactivity_durations(tiny_log.drop(columns="amount"), as_of="2020-03-01",
                                inactivity_days=30)
    with pytest.raises(ParameterError):
        du.inactivity_durations(tiny_log, as_of=None, inactivity_days=30)
    with pytest.raises(ParameterError):
        du.inactivity_durations(tiny_log, as_of="2020-03-01", inactivity_days=0)
    with pytest.raises(ParameterError, match="time_unit"):
        du.inactivity_durations(tiny_log, as_of="2020-03-01", inactivity_days=30,
                                time_unit="fortnight")
    with pytest.raises(InsufficientDataError):
        du.inactivity_durations(tiny_log, as_of="2019-01-01", inactivity_days=30)


# ---------------------------------------------------------------------------------------
# Preparing frames
# ---------------------------------------------------------------------------------------

def test_prepare_durations_counts_and_shifts():
    df = pd.DataFrame({"duration": [0.0, 0.0, 3.0, 5.0, np.nan],
                       "event": [False, True, True, False, True],
                       "plan": ["a", "b", None, "a", "b"]})
    out, dq = du.prepare_durations(df, covariates=["plan"])
    assert dq.rows_in == 5 and dq.rows_used == 3
    assert dq.dropped == {"missing duration": 1, "missing plan": 1}
    assert dq.warnings == {"duration 0 set to 0.5 period": 2}
    assert out["duration"].tolist() == [0.5, 0.5, 5.0]
    with pytest.raises(DataContractError, match="negative"):
        du.prepare_durations(pd.DataFrame({"duration": [-1.0], "event": [True]}))
    with pytest.raises(MissingColumnsError, match="plan"):
        du.prepare_durations(pd.DataFrame({"duration": [1.0], "event": [True]}),
                             covariates=["plan"])


def test_encode_covariates_baseline():
    df = pd.DataFrame({"duration": [1.0, 2, 3, 4], "event": [True, False, True, True],
                       "plan": ["x", "y", "y", "z"], "flag": [True, False, True, False],
                       "price": [1, 2, 3, 4]})
    X, base = du.encode_covariates(df, ["plan", "flag", "price"])
    assert base == {"plan": "y"}  # most frequent level
    assert list(X.columns) == ["duration", "event", "plan: x", "plan: z", "flag", "price"]
    assert X["plan: x"].tolist() == [1.0, 0, 0, 0]
    X2, base2 = du.encode_covariates(df, ["plan"], baselines={"plan": "x"})
    assert base2 == {"plan": "x"} and "plan: y" in X2 and "plan: x" not in X2
    with pytest.raises(ParameterError):
        du.encode_covariates(df, ["plan"], baselines={"plan": "nope"})
    X3, _ = du.encode_covariates(df, ["plan", "price"], strata=["plan"])
    assert "plan" in X3 and "plan: x" not in X3


def test_split_holdout_seeded_and_stratified():
    df = pd.DataFrame({"event": [True] * 40 + [False] * 60, "x": range(100)})
    tr, te = du.split_holdout(df, 0.3, seed=1)
    tr2, te2 = du.split_holdout(df, 0.3, seed=1)
    assert te.index.equals(te2.index)
    assert len(te) == 30 and te["event"].sum() == 12
    assert set(tr.index).isdisjoint(te.index) and len(tr) + len(te) == 100
    with pytest.raises(ParameterError):
        du.split_holdout(df, 1.0)


def test_inactivity_min_duration(tiny_log):
    d, _ = du.inactivity_durations(tiny_log, as_of="2020-03-01", inactivity_days=30,
                                   time_unit="day")
    d = d.set_index("customer_id")
    # b: last purchase 02-15 + 30 days = 03-16, 75 days after the first purchase
    assert d.loc["b", "min_duration"] == pytest.approx(75.0)
    assert d.loc["a", "min_duration"] == pytest.approx(d.loc["a", "duration"])


# ---------------------------------------------------------------------------------------
# Subscriptions and transactions from files, through the contract (hand-built CSV files)
# ---------------------------------------------------------------------------------------

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


def _record(q):
    q = q.to_dict() if hasattr(q, "to_dict") else q
    assert q["rows_in"] == q["rows_used"] + sum(q["dropped"].values())
    return q


def test_interval_csv_durations_and_record(files, engine):
    path = str(files / "intervals.csv")
    table, dq = engine.load_subscriptions(path, INTERVAL_COLUMNS, as_of=AS_OF)
    assert _record(dq)["dropped"] == INTERVAL_DROPS
    assert dq.warnings == {"end after as_of (treated as active at as_of, censored)": 2,
                           "customer with more than one subscription (each kept as its own "
                           "spell)": 2,
                           "blank values in numeric column 'price' (kept, value NaN)": 1}
    got = engine.to_pandas(table).sort_values(["customer_id", "start"], ignore_index=True)
    assert got["customer_id"].tolist() == ["00100", "007", "007", "42", "9"]
    assert got["end"].isna().tolist() == [False, False, True, True, True]
    assert got["price"].tolist()[1:] == [10.0, 20.0, 10.0, 20.0]

    frame, qualities, kind, *_ = du.load_churn_durations(path, None, INTERVAL_COLUMNS,
                                                         as_of=AS_OF, time_unit="day")
    assert kind == "subscriptions" and len(qualities) == 1
    assert _record(qualities[0])["dropped"] == INTERVAL_DROPS
    # by hand, in days: 007 ended after 45.52 days; 42 is censored at as_of (midnight)
    assert frame["customer_id"].tolist() == ["00100", "007", "007", "42", "9"]
    assert frame["event"].tolist() == [True, True, False, False, False]
    assert frame["duration"].iloc[0] == pytest.approx(122.5)  # 02-29 -> 06-30 12:00
    assert frame["duration"].iloc[1] == pytest.approx(45 + 12.5 / 24)
    assert frame["duration"].iloc[3] == pytest.approx(172 - 8 / 24)


def test_snapshot_csv_durations_and_record(files):
    path = str(files / "snapshot.csv")
    frame, qualities, _, *_ = du.load_churn_durations(path, None, SNAPSHOT_COLUMNS)
    q = _record(qualities[0])
    assert q["dropped"] == SNAPSHOT_DROPS
    assert q["warnings"] == {
        "zero tenure (kept; no time at risk yet)": 1,
        "blank values in numeric column 'charges' (kept, value NaN)": 1}
    assert frame["customer_id"].tolist() == ["0001", "0002", "0003", "0010", "0012"]
    assert frame["duration"].tolist() == [1.0, 12.0, 0.0, 6.0, 7.0]
    assert frame["event"].tolist() == [True, False, False, True, True]
    # codes with leading zeros and identifiers stay text; charges become numbers
    assert frame["region_code"].tolist() == ["01", "02", "01", "02", "01"]
    assert frame["store_id"].tolist() == ["5", "5", "6", "7", "7"]
    assert frame["charges"].dtype == "float64" and frame["charges"].isna().sum() == 1


def test_telco_durations_and_record():
    frame, qualities, _, *_ = du.load_churn_durations(str(TELCO_CHURN), None, TELCO_COLUMNS)
    assert len(frame) == 7043 and int(frame["event"].sum()) == 1869
    assert qualities[0].warnings[
        "blank values in numeric column 'TotalCharges' (kept, value NaN)"] == 11
    assert qualities[0].warnings["zero tenure (kept; no time at risk yet)"] == 11
    assert frame["SeniorCitizen"].dtype == "int64"


def test_subscription_durations_of_a_path_drop_and_count(files, engine):
    """A path is loaded with the contract (drops counted); a loaded table with a bad row
    is still an error."""
    path = str(files / "intervals.csv")
    got = engine.subscription_durations(path, as_of=AS_OF, columns=INTERVAL_COLUMNS,
                                        time_unit="week")
    assert _record(got.attrs["data_quality"])["dropped"] == INTERVAL_DROPS
    assert got["duration"].iloc[1] == pytest.approx((45 + 12.5 / 24) / 7)
    bad = pd.DataFrame({"customer_id": ["a"], "start": pd.to_datetime(["2020-03-01"]),
                        "end": pd.to_datetime(["2020-02-01"])})
    with pytest.raises(DataContractError, match="end before start"):
        engine.subscription_durations(bad, as_of=AS_OF)


def test_transactions_inactivity_from_a_file(files):
    path = str(files / "log.csv")
    frame, q, kind, *_ = du.load_churn_durations(None, path, LOG_COLUMNS, as_of=AS_OF,
                                                 inactivity_days=30, time_unit="day")
    assert kind == "transactions"
    assert q[0].dropped == {"missing customer_id": 1, "timestamp after as_of": 1,
                            "negative amount (return/cancellation)": 1}
    assert (q[0].rows_in, q[0].rows_used) == (12, 9)
    assert q[1].dropped == {"purchase after as_of": 1}
    assert (q[1].rows_in, q[1].rows_used) == (9, 8)
    a = frame.set_index("customer_id")
    assert list(a.index) == ["a", "b", "c", "d", "f"]
    # a: more than 30 days from 01-01 17:30 to 02-10: churned at the first lapse, 01-31
    # 17:30 (dated by the time of day), 30 days 8.5 hours after 01-01 09:00; the purchase
    # of 02-10 is a reactivation (dating by the last purchase would give 69.625 days)
    assert a.loc["a", "event"] and a.loc["a", "duration"] == pytest.approx(30 + 8.5 / 24)
    assert a.loc["a", "churn_date"] == pd.Timestamp("2020-01-31 17:30")
    # c: 05-01 to 06-29 23:59 is a lapse too: churned 05-31, back on 06-29
    assert a["reactivated"].to_dict() == {"a": True, "b": False, "c": True, "d": False,
                                          "f": False}
    assert a.loc["a", "first_amount"] == 15.5 and a.loc["a", "first_quantity"] == 1.0
    assert a.loc["b", "n_purchases"] == 1 and a.loc["b", "first_quantity"] == 0.0
    assert a.loc["c", "event"] and a.loc["c", "duration"] == pytest.approx(30.0)
    assert not a.loc["f", "event"] and a.loc["f", "duration"] == 0.0
    assert a.loc["d", "n_purchases"] == 1 and a.loc["d", "total_amount"] == 12.0


def test_purchase_spans_of_a_loaded_table(files, engine):
    path = str(files / "log.csv")
    table, _ = engine.load_transactions(path, LOG_COLUMNS, as_of=AS_OF)
    got = engine.purchase_spans(table, as_of="2020-06-30 12:00").set_index("customer_id")
    assert got.attrs == {"purchases_after_as_of": 1}  # b's purchase at 15:00
    assert got["n_purchases"].to_dict() == {"a": 3, "b": 1, "c": 2, "d": 1, "f": 1}
    assert got.loc["c", "last_purchase"] == pd.Timestamp("2020-06-29 23:59")
    # a file is loaded with the contract (no as_of there) and the record rides along
    from_path = engine.purchase_spans(path, as_of=AS_OF, columns=LOG_COLUMNS)
    assert from_path.attrs["purchases_after_as_of"] == 2  # 07-02, and 06-30 15:00
    assert _record(from_path.attrs["data_quality"])["rows_in"] == 12


def test_cdnow_inactivity():
    """69,659 purchases of 23,570 customers, none dropped."""
    cols = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}
    frame, q, _, *_ = du.load_churn_durations(None, str(CDNOW_MASTER), cols,
                                              as_of="1998-06-30")
    assert len(frame) == 23570
    assert [x.rows_used for x in q] == [69659, 69659]
    assert frame["n_purchases"].sum() == 69659


@pytest.mark.parametrize("rows,cols,match,column,n_rows", [
    ([("", "2020-01-01", ""), ("NA", "2020-01-02", "")], ("customer_id", "start", "end"),
     "every customer_id is missing", "customer_id", 2),
    ([("a", "", ""), ("b", "", "")], ("customer_id", "start", "end"), "every start date",
     "start", 2),
    ([("a", "01/02/2020", ""), ("b", "03/02/2020", "")], ("customer_id", "start", "end"),
     "pass date_format", "start", 2),
    ([("a", "2020-01-01", "later"), ("b", "2020-01-01", "")], ("customer_id", "start", "end"),
     "no value could be read", "end", 1),
    ([("a", "", "No"), ("b", "", "Yes")], ("customer_id", "tenure", "churned"), "every tenure",
     "tenure", 2),
    ([("a", "x", "No"), ("b", "", "Yes")], ("customer_id", "tenure", "churned"),
     "no tenure is a number", "tenure", 1),
    ([("a", "1", "Churned"), ("b", "2", "Stayed")], ("customer_id", "tenure", "churned"),
     "no churn flag is recognised", "churned", 2),
    ([("a", "1", "No"), ("b", "2", "No"), ("a", "3", "Yes")],
     ("customer_id", "tenure", "churned"), "more than once with different values",
     "customer_id", 2),
])
def test_subscription_contract_errors(engine, tmp_path, rows, cols, match, column, n_rows):
    path = tmp_path / "bad.csv"
    pd.DataFrame(rows, columns=list(cols)).to_csv(path, index=False)
    with pytest.raises(DataContractError, match=match) as got:
        engine.load_subscriptions(str(path), as_of=AS_OF)
    assert (got.value.column, got.value.n_rows) == (column, n_rows)


def test_other_subscription_rules(engine, tmp_path):
    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "tenure": [1, 2, 3],
                       "churned": ["Churned", "Stayed", "Yes"]})
    values = {"Churned": True, "Stayed": False}
    table, dq = engine.load_subscriptions(df, churn_values=values)
    assert _record(dq)["dropped"] == {"unrecognised churn flag": 1}
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
    got_t, got_q = engine.load_subscriptions(str(tmp_path / "typed.parquet"))
    assert _record(got_q)["rows_used"] == 1
    assert engine.to_pandas(got_t)["customer_id"].tolist() == ["1"]


def test_load_churn_durations_needs_exactly_one_input(tmp_path):
    with pytest.raises(ParameterError, match="exactly one of subscriptions and transactions.*"
                                             "neither"):
        du.load_churn_durations()
    # both given was "transactions win", silently: now an error naming both
    with pytest.raises(ParameterError, match="exactly one of subscriptions and transactions.*"
                                             "both"):
        du.load_churn_durations(str(TELCO_CHURN), str(CDNOW_MASTER))


def test_stratified_sample_keeps_churn_rate_and_order():
    df = pd.DataFrame({"event": [True] * 30 + [False] * 70, "x": range(100)})
    s = du.stratified_sample(df, 20, seed=1)
    assert len(s) == 20 and s["event"].sum() == 6  # 30 % of 20
    assert s.index.is_monotonic_increasing
    pd.testing.assert_frame_equal(s, du.stratified_sample(df, 20, seed=1))
    assert du.stratified_sample(df, 100) is df and du.stratified_sample(df, 500) is df
    with pytest.raises(ParameterError):
        du.stratified_sample(df, 0)


def test_purchase_spans_lapses_by_hand(engine):
    """The first gap of more than lapse_days between purchase times, by customer."""
    tx = pd.DataFrame({
        "customer_id": ["a"] * 4 + ["b", "b", "c"],
        "amount": [1.0] * 7,
        "timestamp": pd.to_datetime(["2020-01-01 09:00", "2020-01-05 00:00",
                                     "2020-03-01 00:00", "2020-06-01 00:00",
                                     # b: 30 days and 1 hour: a lapse of 30 days by the clock
                                     "2020-01-01 00:00", "2020-01-31 01:00",
                                     "2020-01-01 00:00"])})
    s = engine.purchase_spans(tx, as_of="2020-12-31", lapse_days=30).set_index("customer_id")
    assert s.loc["a", "lapse_start"] == pd.Timestamp("2020-01-05")
    assert s.loc["a", "lapse_return"] == pd.Timestamp("2020-03-01")
    assert s["n_lapses"].to_dict() == {"a": 2, "b": 1, "c": 0}
    assert s.loc["b", "lapse_start"] == pd.Timestamp("2020-01-01")
    assert pd.isna(s.loc["c", "lapse_start"]) and pd.isna(s.loc["c", "lapse_return"])
    # a purchase after as_of does not end a lapse
    cut = engine.purchase_spans(tx, as_of="2020-02-01", lapse_days=30).set_index("customer_id")
    assert cut["n_lapses"].to_dict() == {"a": 0, "b": 1, "c": 0}
    # without lapse_days the columns are not there (other callers unchanged)
    assert "lapse_start" not in engine.purchase_spans(tx, as_of="2020-12-31").columns


def _km_at(frame, times):
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter().fit(frame["duration"], frame["event"])
    return kmf.survival_function_at_times(times).to_numpy()


def test_churn_of_the_past_does_not_move_with_later_data():
    """A fixed cohort (first purchases in January 2020): the Kaplan-Meier curve over the
    days fully observed at the earlier as_of (up to as_of - last first purchase) is the same
    whatever as_of is; so is every churn already observed then."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(300):
        t = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 31)))
        for _ in range(int(rng.integers(1, 8))):
            rows.append((f"c{i}", t, 1.0))
            t += pd.Timedelta(days=float(rng.exponential(40)))
    tx = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    early, later = "2020-06-30", "2021-06-30"
    a, _ = du.inactivity_durations(tx, as_of=early, inactivity_days=60, time_unit="day")
    b, _ = du.inactivity_durations(tx, as_of=later, inactivity_days=60, time_unit="day")
    a, b = a.set_index("customer_id"), b.set_index("customer_id")
    assert a["reactivated"].sum() > 20  # the case that matters: customers who came back
    full = (pd.Timestamp(early) - pd.Timestamp("2020-01-31")).days  # 151 days
    times = np.arange(0, full + 1, 1.0)
    np.testing.assert_allclose(_km_at(a, times), _km_at(b, times), rtol=0, atol=1e-12)
    # every churn observed early is the same churn later
    seen = a.index[a["event"]]
    pd.testing.assert_series_equal(a.loc[seen, "churn_date"], b.loc[seen, "churn_date"])
    # and a customer censored early churns later no earlier than the censoring time
    cens = a.index[~a["event"]]
    assert (b.loc[cens, "duration"] >= a.loc[cens, "duration"] - 1e-9).all()


@pytest.mark.slow
def test_cdnow_km_at_nine_months_does_not_move():
    """CDNOW master, 180 days: S(9 months) is 0.215 with data to 1998-01-31 and to
    1998-06-30 (dating churn at the last purchase gave 0.329 and 0.382)."""
    cols = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}
    got = {}
    for as_of in ("1998-01-31", "1998-06-30"):
        frame = du.load_churn_durations(None, str(CDNOW_MASTER), cols, as_of=as_of).frame
        got[as_of] = frame
    s9 = {k: float(_km_at(f, [9.0])[0]) for k, f in got.items()}
    assert s9["1998-01-31"] == pytest.approx(s9["1998-06-30"], abs=1e-12)
    assert s9["1998-06-30"] == pytest.approx(0.215, abs=5e-4)
    late = got["1998-06-30"]
    assert int(late["event"].sum()) == 21788 and int(late["reactivated"].sum()) == 4968
