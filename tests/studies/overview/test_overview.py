"""Customer-base overview: every figure of the result checked against answers computed by
hand (the reduction runs on DuckDB, the default engine)."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from clm_lib.exceptions import InsufficientDataError, MissingColumnsError, ParameterError
from clm_lib.studies.overview.compute import (
    OverviewResult,
    overview_data,
    overview_study,
    segment_summary,
)


def _hand_log() -> pd.DataFrame:
    """Orders spread over several rows (order_id), rows without an order id, a free item,
    a customer with one purchase day, a segment with a missing value."""
    rows = [  # customer, timestamp, amount, order_id, channel
        ("a", "2020-01-01 09:00", 10.0, "o1", "web"),
        ("a", "2020-01-01 09:05", 5.0, "o1", "web"),      # same order: 15.0
        ("a", "2020-01-11 10:00", 0.0, "o2", "shop"),     # free item, a purchase day
        ("a", "2020-03-02 10:00", 20.0, None, "web"),
        ("b", "2020-01-20 12:00", 7.5, None, None),
        ("b", "2020-01-20 18:00", 7.5, None, None),       # two orders on one day, no gap
        ("c", "2020-02-29 23:59", 30.0, "o9", "shop"),
        ("c", "2020-04-06 00:00", 12.0, "o10", "web"),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "order_id", "channel"])
    return df.astype({"customer_id": "string", "order_id": "string", "channel": "string"}).assign(
        timestamp=lambda d: pd.to_datetime(d["timestamp"]))


# ----------------------------------------------------------------- summary
def test_summary_by_hand(tx):
    r = overview_study(tx)
    assert isinstance(r, OverviewResult)
    s = r.summary
    assert s["customers"] == 4
    assert s["orders"] == 8  # the same-day repeat and the free item are orders
    assert s["revenue"] == pytest.approx(150.0)
    assert s["first_date"] == pd.Timestamp("2020-01-01")
    assert s["last_date"] == pd.Timestamp("2020-03-01")
    # zero-amount order is not a spend observation: 150 / 7 paid orders
    assert s["average_order_value"] == pytest.approx(150 / 7)
    assert s["zero_amount_orders"] == 1
    assert s["orders_per_customer"] == pytest.approx(2.0)
    assert s["one_time_buyer_share"] == pytest.approx(0.5)  # b and d
    assert s["repeat_customer_share"] == pytest.approx(0.5)
    # revenues a 35, b 30, c 50, d 35; top ceil(0.4) = 1 customer: c
    assert s["top10_revenue_share"] == pytest.approx(50 / 150)
    # gaps: a 10, 30 (same-day repeat adds none); c 10
    assert s["median_days_between_purchases"] == pytest.approx(10.0)
    assert s["mean_days_between_purchases"] == pytest.approx(50 / 3)
    assert r.gap_median == 10.0
    assert r.quality is None and r.segments is None and r.period == "month"


def test_result_is_frozen(tx):
    r = overview_study(tx)
    with pytest.raises(AttributeError):
        r.gap_median = 3.0


def test_study_does_not_mutate_input(tx):
    before = tx.copy()
    overview_study(tx, segment="channel")
    pd.testing.assert_frame_equal(tx, before)


def test_identical_rows_are_two_orders_but_no_gap(make_tx):
    t = make_tx([("a", "2020-01-01", 10.0), ("a", "2020-01-01", 10.0),
                 ("b", "2020-01-02", 5.0)])
    r = overview_study(t)
    assert r.summary["orders"] == 3
    assert r.summary["one_time_buyer_share"] == pytest.approx(0.5)  # a is a repeat customer
    assert math.isnan(r.summary["median_days_between_purchases"])  # nobody came back
    assert math.isnan(r.gap_median)
    assert len(r.gaps) == 0


def test_order_id_groups_rows_per_customer(make_tx):
    t = make_tx([("x", "2020-01-01", 10.0), ("x", "2020-01-01", 5.0),
                 ("x", "2020-01-03", 7.0), ("y", "2020-01-02", 3.0),
                 ("y", "2020-01-04", 4.0)],
                order_id=["o1", "o1", "o2", "o1", None])
    r = overview_study(t)
    s = r.summary
    # x: o1 (15) and o2 (7); y: o1 (3) and one row without an id (an order of its own)
    assert s["orders"] == 4
    assert s["revenue"] == pytest.approx(29.0)
    assert s["average_order_value"] == pytest.approx(29 / 4)
    assert s["one_time_buyer_share"] == 0.0
    assert r.gaps.to_dict() == {2: 2}  # two gaps of 2 days


def test_top10_share_with_ties_is_deterministic(make_tx):
    # 11 customers with equal revenue: top ceil(1.1) = 2 customers -> 2/11 whatever the order
    rows = [(f"c{i:02d}", "2020-01-01", 5.0) for i in range(11)]
    s1 = overview_study(make_tx(rows)).summary
    s2 = overview_study(make_tx(rows[::-1])).summary
    assert s1["top10_revenue_share"] == pytest.approx(2 / 11)
    assert s1["top10_revenue_share"] == s2["top10_revenue_share"]
    # 20 customers: one big (100), then ties at 10 -> top 2 = 100 + 10 of 290
    rows = [("big", "2020-01-01", 100.0)] + [(f"t{i:02d}", "2020-01-01", 10.0)
                                             for i in range(19)]
    assert overview_study(make_tx(rows)).summary["top10_revenue_share"] == \
        pytest.approx(110 / 290)


def test_missing_columns_named(tx):
    with pytest.raises(MissingColumnsError) as err:
        overview_study(tx.drop(columns="amount"))
    assert err.value.missing == ["amount"]
    assert "customer_id" in err.value.found
    with pytest.raises(MissingColumnsError):
        overview_study(tx.drop(columns="timestamp"))
    with pytest.raises(MissingColumnsError):
        overview_study(tx, segment="country")


def test_empty_frame_is_insufficient(tx):
    with pytest.raises(InsufficientDataError):
        overview_study(tx.iloc[:0])


def test_no_revenue_is_insufficient(make_tx):
    with pytest.raises(InsufficientDataError, match="no revenue"):
        overview_study(make_tx([("a", "2020-01-01", 0.0)]))


def test_parameter_errors(tx):
    with pytest.raises(ParameterError, match="period"):
        overview_study(tx, period="M")
    with pytest.raises(ParameterError, match="as_of"):
        overview_study(tx, as_of="2020-02-01")  # a frame is taken as loaded
    with pytest.raises(ParameterError, match="without a segment"):
        segment_summary(overview_data(tx))
    with pytest.raises(ValueError):
        overview_study(tx, cap=1)


# ----------------------------------------------------------------- monthly activity
def test_monthly_activity_by_hand(tx):
    m = overview_study(tx).monthly
    assert m["period"].tolist() == ["2020-01", "2020-02", "2020-03"]
    assert m["period_start"].tolist() == list(pd.to_datetime(
        ["2020-01-01", "2020-02-01", "2020-03-01"]))
    assert m["new_customers"].tolist() == [2, 1, 1]       # a, b | c | d
    assert m["active_customers"].tolist() == [2, 2, 1]    # a, b | a, c | d
    assert m["orders"].tolist() == [4, 3, 1]
    assert m["revenue"].tolist() == pytest.approx([45.0, 70.0, 35.0])
    assert m["revenue_new"].tolist() == pytest.approx([45.0, 50.0, 35.0])
    assert m["revenue_returning"].tolist() == pytest.approx([0.0, 20.0, 0.0])


def test_monthly_activity_fills_empty_months(tx, make_tx):
    t = pd.concat([tx, make_tx([("e", "2020-05-20", 8.0)])], ignore_index=True)
    m = overview_study(t).monthly
    assert m["period"].tolist() == ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05"]
    apr = m.iloc[3]
    assert (apr["orders"], apr["new_customers"], apr["active_customers"]) == (0, 0, 0)
    assert apr["revenue"] == 0.0
    assert m["orders"].sum() == 9


def test_quarterly_activity(tx):
    r = overview_study(tx, period="quarter")
    assert r.period == "quarter"
    assert r.monthly["period"].tolist() == ["2020Q1"]
    assert r.monthly["new_customers"].tolist() == [4]
    assert r.monthly["revenue_returning"].tolist() == [0.0]


def test_weekly_activity_weeks_start_on_monday(tx):
    m = overview_study(tx, period="week").monthly
    # 2020-01-01 is a Wednesday: its week starts on Monday 2019-12-30
    assert m["period_start"].iloc[0] == pd.Timestamp("2019-12-30")
    assert m["period"].iloc[0] == "2019-12-30/2020-01-05"
    assert m["period_start"].iloc[-1] == pd.Timestamp("2020-02-24")  # week of 1 March
    assert len(m) == 9 and m["orders"].sum() == 8


# ----------------------------------------------------------------- orders per customer
def test_orders_per_customer_by_hand(tx):
    d = overview_study(tx, cap=3).orders_per_customer
    assert d["orders"].tolist() == ["1", "2", "3+"]
    assert d["customers"].tolist() == [2, 1, 1]   # b, d | c | a (4 orders)
    assert d["share"].tolist() == pytest.approx([0.5, 0.25, 0.25])


def test_orders_per_customer_default_cap_keeps_empty_classes(tx):
    d = overview_study(tx).orders_per_customer
    assert d["orders"].tolist() == [str(i) for i in range(1, 10)] + ["10+"]
    assert d["customers"].sum() == 4
    assert d.set_index("orders").loc["4", "customers"] == 1
    assert d.set_index("orders").loc["10+", "customers"] == 0


# ----------------------------------------------------------------- inter-purchase times
def test_interpurchase_times_by_hand(tx):
    g = overview_study(tx).gaps  # gaps of 10 and 30 days (a) and 10 days (c)
    assert g.name == "gaps" and g.index.name == "days_between_purchases"
    assert g.to_dict() == {10: 2, 30: 1}


def test_interpurchase_times_truncate_to_day(make_tx):
    t = make_tx([("a", "2020-01-01 23:00", 1.0), ("a", "2020-01-02 01:00", 1.0),
                 ("a", "2020-01-02 22:00", 1.0)])
    assert overview_study(t).gaps.to_dict() == {1: 1}


def test_gap_median_is_the_median_of_the_gaps(make_tx):
    # gaps 10 and 30 days: an even number, so the mean of the two middle ones
    t = make_tx([("a", "2020-01-01", 1.0), ("a", "2020-01-11", 1.0),
                 ("b", "2020-01-01", 1.0), ("b", "2020-01-31", 1.0)])
    r = overview_study(t)
    assert r.gaps.to_dict() == {10: 1, 30: 1}
    assert r.gap_median == 20.0


# ----------------------------------------------------------------- revenue concentration
def test_revenue_concentration_by_hand(tx):
    rc = overview_study(tx).concentration
    assert rc.customers == 4
    assert rc.curve["customer_share"].tolist() == pytest.approx([0, .25, .5, .75, 1])
    assert rc.curve["revenue_share"].tolist() == pytest.approx(
        [0, 50 / 150, 85 / 150, 120 / 150, 1])
    assert rc.top10_share == pytest.approx(50 / 150)
    # mean absolute difference: sum over ordered pairs 120 / (2 * 16 * 37.5) = 0.1
    assert rc.gini == pytest.approx(0.1)


def test_revenue_concentration_equal_spend_and_thinning(make_tx):
    t = make_tx([(f"c{i:04d}", "2020-01-01", 2.0) for i in range(5000)])
    rc = overview_study(t, max_points=101).concentration
    assert len(rc.curve) <= 101
    assert rc.curve.iloc[0].tolist() == [0.0, 0.0]
    assert rc.curve.iloc[-1].tolist() == pytest.approx([1.0, 1.0])
    assert rc.gini == pytest.approx(0.0, abs=1e-12)
    assert rc.top10_share == pytest.approx(0.1)


# ----------------------------------------------------------------- segments
def test_segment_summary_by_hand(tx):
    r = overview_study(tx, segment="channel")
    assert r.segment == "channel"
    seg = r.segments.set_index("segment")
    # web: a 10+5+0, c 40+10 -> 65, orders 5 (4 paid); shop: a 20, b 30 -> 50; missing: d 35
    assert seg.index.tolist() == ["web", "shop", "(missing)"]
    assert seg["customers"].tolist() == [2, 2, 1]
    assert seg["orders"].tolist() == [5, 2, 1]
    assert seg["revenue"].tolist() == pytest.approx([65, 50, 35])
    assert seg["revenue_share"].tolist() == pytest.approx([65 / 150, 50 / 150, 35 / 150])
    assert seg.loc["web", "average_order_value"] == pytest.approx(65 / 4)


# ----------------------------------------------------------------- a log with order ids
def test_hand_log_by_hand():
    r = overview_study(_hand_log(), segment="channel")
    c = r.data.customers
    assert c["orders"].to_dict() == {"a": 3, "b": 2, "c": 2}
    assert c["paid_orders"].to_dict() == {"a": 2, "b": 2, "c": 2}
    assert c["zero_orders"].to_dict() == {"a": 1, "b": 0, "c": 0}
    assert c["revenue"].to_dict() == {"a": 35.0, "b": 15.0, "c": 42.0}
    assert r.gaps.to_dict() == {10: 1, 37: 1, 51: 1}  # a: 10 and 51 days, c: 37 days
    assert r.gap_median == 37.0
    p = r.monthly.set_index("period")
    assert p.loc["2020-01", ["active_customers", "new_customers", "orders"]].tolist() == [2, 2, 4]
    assert p.loc["2020-03", "revenue_new"] == 0 and p.loc["2020-02", "revenue_new"] == 30.0
    s = r.data.segments.set_index("segment")
    assert s.loc["(missing)", "customers"] == 1 and s.loc["web", "customers"] == 2
    assert s.loc["web", "orders"] == 4  # rows, not orders, per segment


# ----------------------------------------------------------------- a path goes through the contract
def test_path_is_loaded_with_the_contract(tmp_path):
    src = tmp_path / "shop.csv"
    pd.DataFrame({
        "client": ["007", "007", "012", "031", "031"],
        "day": ["03/01/2021", "20/02/2021", "05/01/2021", "09/03/2021", "02/04/2021"],
        "value": [10.0, 20.0, 5.5, 7.25, 99.0],
    }).to_csv(src, index=False)
    r = overview_study(str(src), columns={"client": "customer_id", "day": "timestamp",
                                          "value": "amount"},
                       as_of="2021-03-31", date_format="%d/%m/%Y")
    # the April row is after as_of: dropped and counted
    assert r.quality.rows_in == 5 and r.quality.rows_used == 4
    assert r.summary["customers"] == 3 and r.summary["orders"] == 4
    assert r.summary["revenue"] == pytest.approx(42.75)
    assert r.data.customers.index.tolist() == ["007", "012", "031"]  # ids stay text
    assert r.gaps.to_dict() == {48: 1}  # 3 Jan -> 20 Feb
