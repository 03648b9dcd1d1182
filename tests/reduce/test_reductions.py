"""Reductions of transactions to frequency / recency / T / monetary value (hand-computed)."""
import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import MissingColumnsError, ParameterError
from clm_lib.reduce.pandas_reductions import compress, summary_data, unit_days


def _tx(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    df["customer_id"] = df["customer_id"].astype("string")
    df["timestamp"] = pd.to_datetime(df["timestamp"], format="ISO8601")
    return df


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


def test_hand_computed_summary_with_holdout(tx):
    s = summary_data(tx, as_of="2020-02-05", calibration_end="2020-01-15", time_unit="week")
    assert list(s.index) == ["a", "b"]
    a = s.loc["a"]
    assert a["frequency"] == 2                       # Jan 8 and Jan 15
    assert a["recency"] == pytest.approx(14 / 7)
    assert a["T"] == pytest.approx(14 / 7)
    assert a["monetary_value"] == pytest.approx(20.0)  # zero-spend day excluded
    assert a["spend_frequency"] == 1
    assert a["frequency_holdout"] == 1
    assert a["monetary_value_holdout"] == pytest.approx(40.0)
    assert a["duration_holdout"] == pytest.approx(21 / 7)
    b = s.loc["b"]
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0, 5 / 7, 0)
    assert s.attrs["dropped"] == {
        "purchase days after as_of": 1,
        "customers whose first purchase is after calibration_end": 1,
    }


def test_time_units_and_no_holdout(tx):
    d = summary_data(tx, as_of="2020-01-31", time_unit="day")
    assert d.loc["a", "T"] == 30 and d.loc["a", "frequency"] == 3
    assert "frequency_holdout" not in d
    m = summary_data(tx, as_of="2020-01-31", time_unit="month")
    assert m.loc["a", "T"] == pytest.approx(30 / 30.4375)
    assert unit_days("week") == 7
    with pytest.raises(ParameterError):
        summary_data(tx, as_of="2020-01-31", time_unit="year")
    with pytest.raises(ParameterError):
        summary_data(tx, as_of="2020-01-31", calibration_end="2020-02-28")


def test_missing_columns_are_named(tx):
    with pytest.raises(MissingColumnsError, match="amount"):
        summary_data(tx.drop(columns="amount"), as_of="2020-01-31")


def test_compress_counts_identical_rows():
    s = pd.DataFrame({"frequency": [0, 0, 1, 1, 1], "recency": [0, 0, 2, 2, 3], "T": [5, 5, 5, 5, 5]})
    c = compress(s)
    assert len(c) == 3 and c["weights"].sum() == 5
    assert c.loc[(c.frequency == 1) & (c.recency == 2), "weights"].item() == 2


def test_cdnow_sample_matches_hardie_summary():
    """Hardie's CDNOW summary: customer 0001 has x = 2, t_x = 30.43, T = 38.86 weeks;
    946 of 2,357 customers repeat in the 39-week calibration (FHL 2005)."""
    from clm_lib.config import CDNOW_SAMPLE
    d = pd.read_csv(CDNOW_SAMPLE, dtype={"customer_id": str})
    tx = pd.DataFrame({"customer_id": d["customer_id"].astype("string"),
                       "timestamp": pd.to_datetime(d["date"]), "amount": d["dollars"]})
    s = summary_data(tx, as_of="1998-06-30", calibration_end="1997-09-30", time_unit="week")
    assert len(s) == 2357 and (s.frequency > 0).sum() == 946
    assert s.loc["0001", ["frequency", "recency", "T"]].astype(float).round(2).tolist() == [2, 30.43, 38.86]
    assert np.allclose(s["duration_holdout"], 39.0)
