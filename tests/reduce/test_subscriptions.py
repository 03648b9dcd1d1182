"""Subscription durations on hand-built tables whose answers are written here."""
from __future__ import annotations

import pandas as pd
import pytest

from clm_lib.config import TELCO_CHURN
from clm_lib.exceptions import DataContractError, MissingColumnsError, ParameterError
from clm_lib.reduce import get_engine
from clm_lib.reduce.engine import subscription_durations


@pytest.mark.parametrize("time_unit,days", [("day", 1.0), ("week", 7.0),
                                            ("month", 365.25 / 12), ("year", 365.25)])
def test_interval_durations_by_hand(typed_intervals, time_unit, days):
    got = subscription_durations(typed_intervals, as_of="2020-03-31", time_unit=time_unit)
    # a: 31 days, ended; b: active, 75.5 days to the end of as_of's day... censored at
    # 2020-03-31 00:00; c: ends after as_of, censored; d: ended within as_of's day
    assert got["customer_id"].tolist() == ["a", "b", "c", "d"]
    assert got["duration"].tolist() == pytest.approx([31 / days, 75.5 / days, 30 / days,
                                                      59.75 / days], rel=1e-12)
    assert got["event"].tolist() == [True, False, False, True]
    assert got["plan"].tolist() == ["basic", "pro", "basic", "pro"]
    assert got.dtypes[["duration", "event"]].tolist() == ["float64", "bool"]


def test_snapshot_durations_and_errors(typed_intervals):
    eng = get_engine()
    snap = pd.DataFrame({"customer_id": ["x", "y"], "tenure": [3.0, 10.0],
                         "churned": [True, False], "contract": ["m", "y"]})
    s = eng.subscription_durations(snap)
    assert s["duration"].tolist() == [3.0, 10.0] and s["event"].tolist() == [True, False]
    assert s["contract"].tolist() == ["m", "y"]
    bad = typed_intervals.assign(end=typed_intervals["start"] - pd.Timedelta(days=1))
    with pytest.raises(DataContractError, match="end before start"):
        eng.subscription_durations(bad, as_of="2020-03-31")
    with pytest.raises(ParameterError, match="as_of is required"):
        eng.subscription_durations(typed_intervals)
    with pytest.raises(DataContractError, match="after as_of"):
        eng.subscription_durations(typed_intervals, as_of="2020-02-15")
    with pytest.raises(DataContractError, match="negative tenure"):
        eng.subscription_durations(snap.assign(tenure=[-1.0, 2.0]))
    with pytest.raises(MissingColumnsError, match="interval form"):
        eng.subscription_durations(pd.DataFrame({"customer_id": ["a"], "x": [1]}))
    with pytest.raises(ParameterError, match="time_unit"):
        eng.subscription_durations(typed_intervals, as_of="2020-03-31", time_unit="fortnight")


def test_telco_from_the_file_carries_the_record():
    cols = {"customerID": "customer_id", "Churn": "churned"}
    got = get_engine().subscription_durations(str(TELCO_CHURN), columns=cols)
    assert len(got) == 7043 and int(got["event"].sum()) == 1869  # churners in the IBM sample
    assert got["customer_id"].is_monotonic_increasing
    assert got.attrs["data_quality"]["rows_used"] == 7043
    assert got["TotalCharges"].isna().sum() == 11   # blanks read as missing numbers
