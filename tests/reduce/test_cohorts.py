"""Cohort reductions on a hand-built log whose answers are written here: cohort x k
activity (with a segment), customer periods, churn counts and retention matrices."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import InsufficientDataError, MissingColumnsError, ParameterError
from clm_lib.reduce import get_engine
from clm_lib.reduce.engine import cohort_activity, retention_matrices

JAN, FEB, MAR = 2020 * 12, 2020 * 12 + 1, 2020 * 12 + 2  # month codes: 12 * year + month - 1


@pytest.fixture(scope="module")
def eng():
    return get_engine()


@pytest.fixture(scope="module")
def tx():
    # a: Jan and Mar; b: Jan; c: Feb twice; d: April (not complete by as_of: left out)
    df = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c", "c", "d"],
        "timestamp": pd.to_datetime(["2020-01-05", "2020-03-01", "2020-01-09", "2020-02-10",
                                     "2020-02-11", "2020-04-02"]),
        "amount": [10.0, 5.0, 7.0, 1.0, 2.0, 1.0],
        "channel": ["web", "ads", None, "ads", "web", "web"],
    })
    df["customer_id"] = df["customer_id"].astype("string")
    return df


def test_cohort_activity_by_hand(tx, eng):
    got = cohort_activity(tx, cohort_period="month", as_of="2020-03-31", engine=eng)
    assert got.columns.tolist() == ["cohort", "cohort_index", "period", "customers", "revenue",
                                    "last_active", "cohort_size"]
    assert got["cohort"].tolist() == ["2020-01", "2020-01", "2020-02"]
    assert got["cohort_index"].tolist() == [JAN, JAN, FEB]
    assert got["period"].tolist() == [0, 2, 0]
    assert got["customers"].tolist() == [2, 1, 1]
    assert got["revenue"].tolist() == [17.0, 5.0, 3.0]
    assert got["last_active"].tolist() == [1, 1, 1]
    assert got["cohort_size"].tolist() == [2, 2, 1]
    assert got.attrs["last_complete_period"] == MAR
    assert got.attrs["cohort_period"] == "month" and got.attrs["as_of"] == "2020-03-31"


def test_cohort_activity_by_segment_at_acquisition(tx, eng):
    """Each customer's segment is the value on the first purchase (a: web, b: none, c: ads)."""
    got = eng.cohort_activity(tx, cohort_period="month", as_of="2020-03-31", segment="channel")
    assert got.columns[0] == "segment" and got["segment"].dtype == "string"
    rows = [tuple(None if pd.isna(v) else v for v in r) for r in
            got[["segment", "cohort", "period", "customers", "revenue", "last_active",
                 "cohort_size"]].itertuples(index=False)]
    assert rows == [("ads", "2020-02", 0, 1, 3.0, 1, 1), ("web", "2020-01", 0, 1, 10.0, 0, 1),
                    ("web", "2020-01", 2, 1, 5.0, 1, 1), (None, "2020-01", 0, 1, 7.0, 1, 1)]
    with pytest.raises(MissingColumnsError, match="region"):
        eng.cohort_activity(tx, as_of="2020-03-31", segment="region")


@pytest.mark.parametrize("period,cohorts", [
    ("week", ["2020-W01", "2020-W02", "2020-W07"]),
    ("quarter", ["2020-Q1"]), ("year", [])])
def test_cohort_labels_by_period(tx, eng, period, cohorts):
    if not cohorts:  # 2020 is not complete by 2020-03-31
        assert eng.cohort_activity(tx, cohort_period=period, as_of="2020-03-31").empty
        return
    got = eng.cohort_activity(tx, cohort_period=period, as_of="2020-03-31")
    assert got["cohort"].unique().tolist() == cohorts


def test_customer_periods_by_hand(tx, eng):
    cp = eng.customer_periods(tx, cohort_period="month", as_of="2020-03-31", segment="channel")
    assert cp["customer_id"].tolist() == ["a", "a", "b", "c"]
    assert cp["cohort"].tolist() == [JAN, JAN, JAN, FEB]
    assert cp["period"].tolist() == [JAN, MAR, JAN, FEB]
    assert cp["k"].tolist() == [0, 2, 0, 0]
    assert cp["revenue"].tolist() == [10.0, 5.0, 7.0, 3.0]
    assert cp["segment"].tolist()[:2] == ["web", "web"] and pd.isna(cp["segment"].iloc[2])
    assert "segment" not in eng.customer_periods(tx, as_of="2020-03-31").columns


def test_churn_counts_by_hand(eng):
    """N = 2 months of silence. a buys in Jan, Feb and Jun; b in Jan only (as_of: June).

    a: Jan -> Feb (gap 1): active at the start of Feb, stops after it; Feb -> Jun (gap 4
    > 2): lost in Mar, active at its start; Jun -> (Jul = last + 1): active at the start
    of Jul. b: Jan -> Jul (gap 6): lost in Feb, active at its start."""
    tx = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
                       "timestamp": pd.to_datetime(["2020-01-10", "2020-02-10", "2020-06-10",
                                                    "2020-01-20"]),
                       "amount": [1.0, 1.0, 1.0, 1.0]})
    got = eng.churn_counts(tx, cohort_period="month", as_of="2020-06-30", inactivity_periods=2)
    assert got.to_dict("list") == {"period": [FEB, MAR, MAR + 1, JAN + 6, JAN + 7],
                                   "starts": [2, 1, 0, 1, 0],
                                   "stops": [0, 2, 1, 0, 1],
                                   "lost": [1, 1, 0, 0, 0]}
    assert got.attrs["last_complete_period"] == JAN + 5
    assert got.dtypes.unique().tolist() == [np.dtype("int64")]
    with pytest.raises(ParameterError, match="inactivity_periods"):
        eng.churn_counts(tx, as_of="2020-06-30", inactivity_periods=0)
    with pytest.raises(ParameterError, match="as_of is required"):
        eng.churn_counts(tx, as_of=None)
    with pytest.raises(ParameterError, match="cohort_period"):
        eng.churn_counts(tx, as_of="2020-06-30", cohort_period="fortnight")


def test_retention_matrices_by_hand(tx, eng):
    mats = retention_matrices(eng.cohort_activity(tx, cohort_period="month", as_of="2020-03-31"))
    nan = np.nan
    # Jan is observed for k = 0..2, Feb for k = 0..1 (March is the last complete month)
    np.testing.assert_array_equal(mats["bounded"].to_numpy(), [[2, 0, 1], [1, 0, nan]])
    np.testing.assert_array_equal(mats["unbounded"].to_numpy(), [[2, 1, 1], [1, 0, nan]])
    np.testing.assert_array_equal(mats["revenue"].to_numpy(), [[17, 0, 5], [3, 0, nan]])
    assert mats["bounded"].index.tolist() == ["2020-01", "2020-02"]
    assert mats["bounded"].columns.tolist() == [0, 1, 2]
    assert mats["sizes"].tolist() == [2, 1]
    with pytest.raises(InsufficientDataError):
        retention_matrices(eng.cohort_activity(tx, cohort_period="year", as_of="2020-03-31"))
    with pytest.raises(MissingColumnsError):
        retention_matrices(pd.DataFrame({"cohort": []}))
