"""Stickiness (active days and weeks per customer within a month, DAU/MAU, WAU/MAU): a
hand-built log with its answers written here, a seeded random log against loops over
customers, months and days, stability of the past, parameters; DuckDB against Spark."""
import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import ParameterError
from clm_lib.studies.cohort_retention.stickiness import Stickiness, stickiness
from tests.studies.cohort_retention.growth_oracle import code, random_log, stickiness_oracle

AS_OF = "2021-03-31"

# February 2021 starts on a Monday: its ISO weeks ending in it end on the 7th, 14th, 21st
# and 28th. a: three purchase days (two rows on 1 Feb) in two ISO weeks; b: Sunday 28 Feb
# and Monday 1 March (one week in each month); c: Wednesday 31 March, in the week ending
# 4 April (not a March week for WAU); d: after as_of.
HAND = [("a", "2021-02-01 09:00"), ("a", "2021-02-01 18:00"), ("a", "2021-02-03 10:00"),
        ("a", "2021-02-10 10:00"), ("b", "2021-02-28 23:00"), ("b", "2021-03-01 00:00"),
        ("c", "2021-03-31 12:00"), ("d", "2021-04-01 08:00")]


def hand_log() -> pd.DataFrame:
    df = pd.DataFrame(HAND, columns=["customer_id", "timestamp"])
    return df.assign(timestamp=pd.to_datetime(df["timestamp"]), amount=1.0)


@pytest.fixture(scope="module")
def hand() -> Stickiness:
    return stickiness(hand_log(), as_of=AS_OF)


def test_hand_distributions(hand):
    assert hand.days.index.tolist() == ["2021-02", "2021-03"]
    assert hand.days.to_dict("index") == {"2021-02": {1: 1, 2: 0, 3: 1},
                                          "2021-03": {1: 2, 2: 0, 3: 0}}
    assert hand.weeks.to_dict("index") == {"2021-02": {1: 1, 2: 1}, "2021-03": {1: 2, 2: 0}}


def test_hand_ratios(hand):
    r = hand.ratios
    assert r["mau"].tolist() == [2, 2]
    assert r["days_in_month"].tolist() == [28, 31]
    assert r["weeks_in_month"].tolist() == [4, 4]
    # Feb: 4 customer-days over 28 days; weeks to 7, 14, 21, 28 Feb have 1, 1, 0, 1 actives
    np.testing.assert_allclose(r["mean_dau"], [4 / 28, 2 / 31])
    np.testing.assert_allclose(r["dau_mau"], [1 / 14, 1 / 31])
    np.testing.assert_allclose(r["mean_wau"], [3 / 4, 1 / 4])
    np.testing.assert_allclose(r["wau_mau"], [3 / 8, 1 / 8])
    assert hand.as_of == AS_OF and set(hand.rules) == {"active_days", "active_weeks",
                                                       "dau_mau", "wau_mau"}


def _assert_matches_oracle(s: Stickiness, want: dict) -> None:
    assert len(s.days) == len(want)
    for label, m in zip(s.days.index, want):
        assert code(pd.Timestamp(label + "-01").date(), "month") == m
        w = want[m]
        days = {n: v for n, v in s.days.loc[label].items() if v}
        weeks = {n: v for n, v in s.weeks.loc[label].items() if v}
        assert days == w["days"] and weeks == w["weeks"], label
        r = s.ratios.loc[label]
        assert r["mau"] == w["mau"]
        assert r["mean_dau"] == pytest.approx(w["mean_dau"], rel=1e-12)
        assert r["mean_wau"] == pytest.approx(w["mean_wau"], rel=1e-12)
        if w["mau"]:
            assert r["dau_mau"] == pytest.approx(w["mean_dau"] / w["mau"], rel=1e-12)
            assert r["wau_mau"] == pytest.approx(w["mean_wau"] / w["mau"], rel=1e-12)
        else:
            assert np.isnan(r["dau_mau"]) and np.isnan(r["wau_mau"])


def test_hand_against_loops(hand):
    _assert_matches_oracle(hand, stickiness_oracle(hand_log(), AS_OF))


def test_random_log_against_loops():
    tx = random_log()
    s = stickiness(tx, as_of="2020-12-15")
    assert s.days.index[0] == "2019-01" and s.days.index[-1] == "2020-11"
    _assert_matches_oracle(s, stickiness_oracle(tx, "2020-12-15"))
    assert s.days.columns.max() >= 3 and (s.weeks.to_numpy()[:, 1:] > 0).any()
    # MAU is the same whether counted by days or by weeks
    assert (s.days.sum(axis=1) == s.weeks.sum(axis=1)).all()


def test_past_months_do_not_change_when_later_purchases_arrive():
    tx = random_log()
    before = stickiness(tx[tx["timestamp"] < "2020-03-01"], as_of="2020-02-29")
    after = stickiness(tx, as_of="2020-12-15")
    idx = before.days.index
    cols = before.days.columns
    pd.testing.assert_frame_equal(after.days.loc[idx, cols], before.days)
    pd.testing.assert_frame_equal(after.weeks.loc[idx, before.weeks.columns], before.weeks)
    pd.testing.assert_frame_equal(after.ratios.loc[idx], before.ratios, rtol=1e-12)


def test_bad_parameters_name_the_parameter():
    with pytest.raises(ParameterError, match="engine"):
        stickiness(hand_log(), as_of=AS_OF, engine="oracle")
    with pytest.raises(ParameterError, match="as_of"):
        stickiness(hand_log(), as_of="yesterday-ish")
    subs = pd.DataFrame({"customer_id": ["a"], "start": pd.to_datetime(["2020-01-01"]),
                         "end": pd.to_datetime([None])})
    with pytest.raises(ParameterError, match="data: "):
        stickiness(subs, as_of=AS_OF)


@pytest.mark.spark
def test_stickiness_spark_parity(spark):
    tx = random_log()
    a = stickiness(tx, as_of="2020-12-15")
    b = stickiness(tx, as_of="2020-12-15", engine=spark)
    pd.testing.assert_frame_equal(a.days, b.days)
    pd.testing.assert_frame_equal(a.weeks, b.weeks)
    pd.testing.assert_frame_equal(a.ratios, b.ratios, rtol=1e-12)
