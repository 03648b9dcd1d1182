"""Growth accounting (new / returning / resurrecting / dormant and the revenue bridge):
a hand-built log with its answers written here, a seeded random log against an
independent loop over customers and periods, the identities, stability of the past,
parameters; DuckDB against Spark."""
import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import ParameterError
from clm_lib.studies.cohort_retention.growth import (
    COUNT_COLUMNS,
    REVENUE_COLUMNS,
    growth_accounting,
)
from tests.studies.cohort_retention.growth_oracle import growth_oracle, random_log

AS_OF = "2020-06-30"

# a: Jan 10, Feb 15 (up 5), Mar 5 (down 10), then dormant in Apr
# b: two purchases in Jan (30), dormant Feb, resurrecting Apr (12), dormant May
# c: new Feb (8), Mar 8 (flat), Apr 0.0 (active, down 8), dormant May (churned 0)
# d: Mar 31 23:59 (40), dormant Apr, resurrecting Jun 30 (25)
# e: new on as_of at 22:00; f: only after as_of (never counted)
# g: Jan 5, dormant Feb, resurrecting May (6), returning Jun (9, up 3)
# h: Feb 28 and the leap day (7), dormant Mar
HAND = [("a", "2020-01-10", 10.0), ("a", "2020-02-20", 15.0), ("a", "2020-03-15", 5.0),
        ("b", "2020-01-05", 20.0), ("b", "2020-01-25", 10.0), ("b", "2020-04-01", 12.0),
        ("c", "2020-02-03", 8.0), ("c", "2020-03-03", 8.0), ("c", "2020-04-03", 0.0),
        ("d", "2020-03-31 23:59", 40.0), ("d", "2020-06-30", 25.0),
        ("e", "2020-06-30 22:00", 7.0), ("f", "2020-07-01", 100.0),
        ("g", "2020-01-02", 5.0), ("g", "2020-05-02", 6.0), ("g", "2020-06-02", 9.0),
        ("h", "2020-02-28", 3.0), ("h", "2020-02-29", 4.0)]


def hand_log() -> pd.DataFrame:
    df = pd.DataFrame(HAND, columns=["customer_id", "timestamp", "amount"])
    return df.assign(timestamp=pd.to_datetime(df["timestamp"], format="ISO8601"))


@pytest.fixture(scope="module")
def hand():
    return growth_accounting(hand_log(), "month", as_of=AS_OF)


def test_hand_counts(hand):
    assert hand.index.tolist() == ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05",
                                   "2020-06"]
    got = hand[["active", "new", "returning", "resurrecting", "dormant"]]
    assert got.values.tolist() == [[3, 3, 0, 0, 0],   # a, b, g new
                                   [3, 2, 1, 0, 2],   # c, h new; a back; b, g dormant
                                   [3, 1, 2, 0, 1],   # d new; a, c back; h dormant
                                   [2, 0, 1, 1, 2],   # c back, b resurrecting; a, d dormant
                                   [1, 0, 0, 1, 2],   # g resurrecting; b, c dormant
                                   [3, 1, 1, 1, 0]]   # e new, g back, d resurrecting
    assert hand["previous_active"].tolist() == [0, 3, 3, 3, 2, 1]


def test_hand_revenue(hand):
    cols = ["revenue", "new_revenue", "expansion", "contraction", "churned_revenue",
            "resurrected_revenue"]
    want = [[45, 45, 0, 0, 0, 0],
            [30, 15, 5, 0, 35, 0],     # a +5; b 30 and g 5 churned
            [53, 40, 0, 10, 7, 0],     # a -10 (a positive contraction); h 7 churned
            [12, 0, 0, 8, 45, 12],     # c 8 -> 0; a 5 and d 40 churned; b back with 12
            [6, 0, 0, 0, 12, 6],       # b 12 and c 0 churned
            [41, 7, 3, 0, 0, 25]]
    np.testing.assert_allclose(hand[cols].to_numpy(), np.array(want, dtype=float))


def test_hand_quick_ratios(hand):
    # first period: no previous period, ratios NaN; June: nobody dormant -> NaN, not inf
    np.testing.assert_allclose(hand["quick_ratio"].to_numpy(),
                               [np.nan, 1.0, 1.0, 0.5, 0.5, np.nan])
    np.testing.assert_allclose(hand["revenue_quick_ratio"].to_numpy(),
                               [np.nan, 20 / 35, 40 / 17, 12 / 53, 0.5, np.nan])
    assert not np.isinf(hand[["quick_ratio", "revenue_quick_ratio"]].to_numpy()).any()
    assert set(hand.attrs) >= {"cohort_period", "as_of", "rules", "has_revenue"}
    assert hand.attrs["as_of"] == AS_OF and "first_period" in hand.attrs["rules"]


def _assert_identities(g: pd.DataFrame) -> None:
    prev_active = g["active"].shift(1, fill_value=0)
    prev_rev = g["revenue"].shift(1, fill_value=0.0)
    assert (g["active"] == g["new"] + g["returning"] + g["resurrecting"]).all()
    assert (g["dormant"] == prev_active - g["returning"]).all()
    assert (g["previous_active"] == prev_active).all()
    bridge = (prev_rev + g["new_revenue"] + g["expansion"] - g["contraction"]
              - g["churned_revenue"] + g["resurrected_revenue"])
    np.testing.assert_allclose(g["revenue"], bridge, rtol=1e-9, atol=1e-6)
    assert (g[["expansion", "contraction", "churned_revenue"]] >= 0).all().all()


def _assert_matches_oracle(g: pd.DataFrame, rows: list[dict]) -> None:
    assert len(g) == len(rows)
    for label, row in zip(g.index, rows):
        got = g.loc[label]
        for c in COUNT_COLUMNS:
            assert got[c] == row[c], (label, c)
        for c in REVENUE_COLUMNS + ("quick_ratio", "revenue_quick_ratio"):
            assert got[c] == pytest.approx(row[c], rel=1e-9, abs=1e-6, nan_ok=True), (label, c)


def test_hand_identities_and_oracle(hand):
    _assert_identities(hand)
    _assert_matches_oracle(hand, growth_oracle(hand_log(), "month", AS_OF))


@pytest.mark.parametrize("period", ["week", "month", "quarter"])
def test_random_log_against_loops(period):
    tx = random_log()
    assert tx["customer_id"].nunique() == 300
    g = growth_accounting(tx, period, as_of="2020-12-15")
    rows = growth_oracle(tx, period, "2020-12-15")
    _assert_matches_oracle(g, rows)
    _assert_identities(g)
    # every status occurs, so the comparison says something
    assert (g[["new", "returning", "resurrecting", "dormant"]].sum() > 0).all()
    assert (g["contraction"] > 0).any() and (g["expansion"] > 0).any()
    # the last period is the last complete one
    assert g.index[-1] == {"week": "2020-W50", "month": "2020-11", "quarter": "2020-Q3"}[period]


def test_past_periods_do_not_change_when_later_purchases_arrive():
    tx = random_log()
    early = tx[tx["timestamp"] < "2020-03-01"]
    before = growth_accounting(early, "month", as_of="2020-02-29")
    after = growth_accounting(tx, "month", as_of="2020-12-15")
    pd.testing.assert_frame_equal(after.loc[before.index], before, check_exact=False,
                                  rtol=1e-12)
    # as_of alone cuts them off too
    pd.testing.assert_frame_equal(growth_accounting(tx, "month", as_of="2020-02-29"), before,
                                  check_exact=False, rtol=1e-12)


def test_gap_periods_are_reported_with_zeros():
    tx = hand_log()
    tx = tx[tx["customer_id"].isin(["b"])]  # Jan, nothing in Feb-Mar, Apr
    g = growth_accounting(tx, "month", as_of="2020-05-31")
    assert g.index.tolist() == ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05"]
    assert g["active"].tolist() == [1, 0, 0, 1, 0]
    assert g["dormant"].tolist() == [0, 1, 0, 0, 1]
    assert g["resurrecting"].tolist() == [0, 0, 0, 1, 0]
    _assert_identities(g)


def test_without_amount_revenue_is_zero():
    g = growth_accounting(hand_log().drop(columns="amount"), "month", as_of=AS_OF)
    assert g.attrs["has_revenue"] is False
    assert (g["revenue"] == 0).all() and g["revenue_quick_ratio"].isna().all()
    assert g["active"].tolist() == [3, 3, 3, 2, 1, 3]


def test_nothing_complete_gives_an_empty_table():
    g = growth_accounting(hand_log(), "year", as_of=AS_OF)
    assert g.empty and list(g.columns)[:2] == ["active", "previous_active"]


@pytest.mark.parametrize("kwargs, name", [
    (dict(cohort_period="day"), "cohort_period"),
    (dict(engine="oracle"), "engine"),
    (dict(as_of="not a date"), "as_of"),
])
def test_bad_parameters_name_the_parameter(kwargs, name):
    args = dict(cohort_period="month", as_of=AS_OF) | kwargs
    with pytest.raises(ParameterError, match=name):
        growth_accounting(hand_log(), **args)


def test_subscriptions_are_refused():
    subs = pd.DataFrame({"customer_id": ["a"], "start": pd.to_datetime(["2020-01-01"]),
                         "end": pd.to_datetime([None])})
    with pytest.raises(ParameterError, match="data: growth accounting needs transactions"):
        growth_accounting(subs, "month", as_of=AS_OF)


@pytest.mark.spark
def test_growth_accounting_spark_parity(spark):
    for tx, period, as_of in ((hand_log(), "month", AS_OF),
                              (random_log(), "week", "2020-12-15")):
        a = growth_accounting(tx, period, as_of=as_of)
        b = growth_accounting(tx, period, as_of=as_of, engine=spark)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
