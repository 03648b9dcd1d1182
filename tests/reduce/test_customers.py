"""Per-customer reductions on hand-built logs whose answers are written here: the RFM
summary, first values, purchase spans, gaps between purchase days, histories and repeat
purchases per day; and the CDNOW summary, bit for bit that of the pandas path before."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clm_lib.config import CDNOW_MASTER, CDNOW_SAMPLE
from clm_lib.exceptions import InsufficientDataError, MissingColumnsError, ParameterError
from clm_lib.reduce import expressions as red
from clm_lib.reduce import get_engine

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _tx(rows, extra=None):
    cols = ["customer_id", "timestamp", "amount"] + list(extra or [])
    df = pd.DataFrame(rows, columns=cols)
    df["customer_id"] = df["customer_id"].astype("string")
    df["timestamp"] = pd.to_datetime(df["timestamp"], format="ISO8601")
    return df


@pytest.fixture(scope="module")
def eng():
    return get_engine()


@pytest.fixture
def tx():
    return _tx([
        ("a", "2020-01-01 09:00", 10.0),
        ("a", "2020-01-01 17:00", 5.0),    # same day: one purchase of 15
        ("a", "2020-01-08", 20.0),
        ("a", "2020-01-15", 0.0),          # zero spend: a purchase, not a spend observation
        ("a", "2020-01-29", 40.0),         # holdout
        ("b", "2020-01-10", 7.0),
        ("c", "2020-01-20", 3.0),          # first purchase after calibration end
        ("c", "2020-03-01", 3.0),          # after as_of
    ])


def test_summary_with_holdout_by_hand(tx, eng):
    s = eng.summary_data(tx, as_of="2020-02-05", calibration_end="2020-01-15", time_unit="week")
    assert list(s.index) == ["a", "b"]
    a = s.loc["a"]
    assert a["frequency"] == 2                       # Jan 8 and Jan 15
    assert a["recency"] == 14 / 7 and a["T"] == 14 / 7
    assert a["monetary_value"] == 20.0               # the zero-spend day left out
    assert a["spend_frequency"] == 1
    assert a["frequency_holdout"] == 1 and a["monetary_value_holdout"] == 40.0
    assert a["duration_holdout"] == 21 / 7
    assert a["first_purchase"] == pd.Timestamp("2020-01-01")
    b = s.loc["b"]
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0, 5 / 7, 0)
    assert s.attrs["dropped"] == {
        "purchase days after as_of": 1,
        "customers whose first purchase is after calibration_end": 1,
    }
    assert s.attrs["time_unit"] == "week" and s.attrs["calibration_end"] == "2020-01-15"
    assert s.dtypes.to_dict() == {
        "frequency": "int64", "recency": "float64", "T": "float64",
        "monetary_value": "float64", "spend_frequency": "int64",
        "first_purchase": "datetime64[ns]", "frequency_holdout": "int64",
        "monetary_value_holdout": "float64", "duration_holdout": "float64"}


def test_summary_time_units_and_errors(tx, eng):
    d = eng.summary_data(tx, as_of="2020-01-31", time_unit="day")
    assert d.loc["a", "T"] == 30 and d.loc["a", "frequency"] == 3
    assert "frequency_holdout" not in d
    m = eng.summary_data(tx, as_of="2020-01-31", time_unit="month")
    assert m.loc["a", "T"] == pytest.approx(30 / 30.4375)
    with pytest.raises(ParameterError, match="time_unit"):
        eng.summary_data(tx, as_of="2020-01-31", time_unit="year")
    with pytest.raises(ParameterError, match="after as_of"):
        eng.summary_data(tx, as_of="2020-01-31", calibration_end="2020-02-28")
    with pytest.raises(MissingColumnsError, match="amount"):
        eng.summary_data(tx.drop(columns="amount"), as_of="2020-01-31")
    with pytest.raises(InsufficientDataError, match="no transactions"):
        eng.summary_data(tx.iloc[:0], as_of="2020-01-31")


def test_cdnow_sample_matches_hardie_summary(eng):
    """Hardie's CDNOW summary: customer 0001 has x = 2, t_x = 30.43, T = 38.86 weeks;
    946 of 2,357 customers repeat in the 39-week calibration (FHL 2005)."""
    s = eng.summary_data(str(CDNOW_SAMPLE), as_of="1998-06-30", calibration_end="1997-09-30",
                         time_unit="week", columns={"date": "timestamp", "dollars": "amount"})
    assert len(s) == 2357 and (s.frequency > 0).sum() == 946
    assert s.loc["0001", ["frequency", "recency", "T"]].astype(float).round(2).tolist() == [
        2, 30.43, 38.86]
    assert np.allclose(s["duration_holdout"], 39.0)


def _digest():
    spec = importlib.util.spec_from_file_location("golden_build", GOLDEN / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.digest


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_cdnow_summary_bit_for_bit_as_pandas_with_any_threads(threads):
    """The sums are added in a fixed order (daily totals as pandas' groupby adds them,
    spend totals as a running sum in day order), so the CDNOW summary is that of the
    pandas path to the last bit, whatever the number of threads."""
    golden = json.loads((GOLDEN / "summary_cdnow.json").read_text())
    digest = _digest()
    eng = get_engine("duckdb", threads=threads)
    t, _ = eng.load_transactions(str(CDNOW_MASTER), golden["columns"])
    for case in golden["cases"].values():
        s = eng.summary_data(t, as_of=case["as_of"], calibration_end=case["calibration_end"],
                             time_unit=case["time_unit"])
        assert digest(s.reset_index()) == case["digest"]


def test_ties_are_added_in_input_order(eng):
    """Three purchases on one day at one time: their total depends, in the last bit, on
    the order of addition; it is that of the input, as pandas' groupby sum added them."""
    def kahan(xs):  # pandas' own sum of one group, in the order given
        return pd.Series(xs).groupby([0] * len(xs)).sum().item()

    for amounts in ([76.23, 0.21, 44.54], [0.21, 76.23, 44.54]):
        # a repeat purchase day of three rows: its total is the monetary value
        tx = _tx([("a", "2020-01-01", 1.0)] + [("a", "2020-01-02", x) for x in amounts])
        s = eng.summary_data(tx, as_of="2020-01-31", time_unit="day")
        assert s.loc["a", "monetary_value"] == kahan(amounts)
    assert kahan([76.23, 0.21, 44.54]) != kahan([0.21, 76.23, 44.54])  # the order matters


def test_first_values_by_hand(eng):
    tx = _tx([("a", "2020-01-02", 1.0, "web"), ("a", "2020-01-01", 1.0, None),
              ("a", "2020-01-03", 1.0, "ads"), ("b", "2020-01-05", 1.0, "web"),
              ("b", "2020-01-05", 1.0, "ads"), ("c", "2020-01-05", 1.0, None)],
             extra=["channel"])
    got = eng.first_values(tx, "channel")
    # a: the earliest row with a value; b: two at the same time -> the smallest; c: none
    assert got.to_dict() == {"a": "web", "b": "ads"}
    assert got.name == "channel"
    with pytest.raises(MissingColumnsError, match="region"):
        eng.first_values(tx, "region")


def test_purchase_spans_by_hand(eng):
    tx = _tx([("a", "2020-01-01 09:00", 1.0, 1.0), ("a", "2020-01-01 18:00", 2.0, np.nan),
              ("a", "2020-01-05 10:00", 4.0, 2.0), ("b", "2020-02-01", 5.0, 3.0),
              ("b", "2020-03-01", 6.0, 1.0)], extra=["quantity"])
    s = eng.purchase_spans(tx, as_of="2020-02-15")
    assert s["customer_id"].tolist() == ["a", "b"]
    assert s["first_purchase"].tolist() == [pd.Timestamp("2020-01-01 09:00"),
                                            pd.Timestamp("2020-02-01")]
    assert s["last_purchase"].tolist() == [pd.Timestamp("2020-01-05 10:00"),
                                           pd.Timestamp("2020-02-01")]
    assert s["n_purchases"].tolist() == [3, 1]
    assert s["total_amount"].tolist() == [7.0, 5.0]
    assert s["first_amount"].tolist() == [3.0, 5.0]     # the first purchase's calendar day
    assert s["first_quantity"].tolist() == [1.0, 3.0]   # a missing quantity adds nothing
    assert s.attrs["purchases_after_as_of"] == 1
    with pytest.raises(ParameterError, match="as_of is required"):
        eng.purchase_spans(tx, as_of=None)


def test_purchase_day_gaps_by_hand(eng):
    tx = _tx([("a", "2020-01-01 08:00", 1.0), ("a", "2020-01-01 20:00", 1.0),
              ("a", "2020-01-11", 1.0), ("a", "2020-01-31", 1.0),
              ("b", "2020-01-05", 1.0), ("b", "2020-01-15", 1.0), ("c", "2020-01-07", 1.0)])
    assert eng.purchase_day_gaps(tx, as_of="2020-02-01").to_dict() == {10: 2, 20: 1}
    assert eng.purchase_day_gaps(tx, as_of="2020-01-20").to_dict() == {10: 2}
    assert eng.purchase_day_gaps(tx, as_of=None).to_dict() == {10: 2, 20: 1}


def test_customer_histories_by_hand(eng):
    tx = _tx([("a", "2020-01-01", 5.0), ("a", "2020-01-05", 3.0),
              ("a", "2020-01-30", 4.0),    # 25 days after the last: a reactivation
              ("a", "2020-02-03", 2.0), ("a", "2020-02-20", 6.0),   # 17 days: another
              ("a", "2020-03-05", 9.0),    # after the date
              ("b", "2020-01-10", 7.0)])
    h = eng.customer_histories(tx, date="2020-03-01", lapsed_days=10)
    a, b = h.loc["a"], h.loc["b"]
    assert (a["purchase_days"], a["spend"]) == (5, 20.0)
    assert [a[c] for c in ("first_purchase", "second_purchase", "last_purchase",
                           "first_reactivation", "last_reactivation")] == [
        pd.Timestamp(d) for d in ("2020-01-01", "2020-01-05", "2020-02-20", "2020-01-30",
                                  "2020-02-20")]
    assert (a["first_day_spend"], a["reactivation_day_spend"]) == (5.0, 4.0)
    assert (a["new_window_days"], a["new_window_spend"]) == (1, 3.0)     # Jan 5
    assert (a["react_window_days"], a["react_window_spend"]) == (1, 2.0)  # Feb 3
    assert (b["purchase_days"], b["spend"], b["first_day_spend"]) == (1, 7.0, 7.0)
    assert pd.isna(b["second_purchase"]) and pd.isna(b["first_reactivation"])
    assert np.isnan(b["reactivation_day_spend"])
    assert (b["new_window_days"], b["new_window_spend"], b["react_window_days"]) == (0, 0.0, 0)
    assert h.attrs == {"date": "2020-03-01", "lapsed_days": 10, "window_days": 10}
    with pytest.raises(InsufficientDataError, match="no purchases"):
        eng.customer_histories(tx, date="2019-12-31", lapsed_days=10)


def test_repeat_purchases_by_day_by_hand(eng):
    tx = _tx([("a", "2020-01-01 09:00", 1.0), ("a", "2020-01-01 18:30", 2.0),
              ("a", "2020-01-08", 5.0), ("a", "2020-01-20", 0.0), ("a", "2020-02-10", 4.0),
              ("b", "2020-02-05", 3.0), ("b", "2020-02-06", 3.0),   # first seen after cal.
              ("c", "2020-01-15", 7.0), ("c", "2020-03-05", 9.0)])  # the 2nd after as_of
    s = eng.repeat_purchases_by_day(tx, calibration_end="2020-01-31", as_of="2020-02-29")
    assert s.to_dict() == {pd.Timestamp("2020-01-08"): 1, pd.Timestamp("2020-01-20"): 1,
                           pd.Timestamp("2020-02-10"): 1}
    assert s.name == "repeat_purchases" and s.dtype == "int64"


@pytest.mark.parametrize("gaps", [False, True])
def test_purchase_day_table_gives_what_the_transactions_give(tx, eng, gaps):
    """The summary, gaps and histories read the log's purchase days (collapsed once, with
    the gaps or not) exactly as they read the transactions."""
    t = eng.table(tx)
    d = red.with_gaps(t) if gaps else red.daily(t)
    assert red.is_purchase_days(d) and not red.is_purchase_days(t)
    kw = dict(as_of="2020-02-05", calibration_end="2020-01-15", time_unit="week")
    want, got = eng.summary_data(tx, **kw), eng.summary_data(d, **kw)
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs == want.attrs
    for as_of in ("2020-01-20", None):
        pd.testing.assert_series_equal(eng.purchase_day_gaps(d, as_of=as_of),
                                       eng.purchase_day_gaps(tx, as_of=as_of))
    want = eng.customer_histories(tx, date="2020-01-20", lapsed_days=5)
    got = eng.customer_histories(d, date="2020-01-20", lapsed_days=5)
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs == want.attrs
