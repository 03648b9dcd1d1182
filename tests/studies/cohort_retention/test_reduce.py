"""The subscription reductions of the cohort study (Ibis), on tiny hand-built tables whose
answers are written here; run on DuckDB (Spark: tests/test_spark_parity.py)."""
import datetime as dt

import pandas as pd
import pytest

from clm_lib.reduce import get_engine
from clm_lib.studies.cohort_retention import reduce as red

AS_OF = dt.date(2020, 4, 30)
JAN, FEB, MAR, APR = (2020 * 12 + m for m in range(4))
LAST = APR


@pytest.fixture(scope="module")
def duck():
    return get_engine("duckdb")


def subs(rows):
    return pd.DataFrame(rows, columns=["customer_id", "start", "end", "plan"]).assign(
        start=lambda d: pd.to_datetime(d["start"]), end=lambda d: pd.to_datetime(d["end"], format="ISO8601"))


# x: two overlapping subscriptions (Jan..Feb and Feb..Mar; Feb counted once)
# y: ends at 00:00 on 1 March (not active in March); v: ends at 10:00 on 1 March (active)
# w: zero-length in February (still acquired there); z: still active (null end)
# u: starts in May, after as_of (ignored)
ROWS = [("x", "2020-01-10", "2020-02-15", "pro"), ("x", "2020-02-20", "2020-03-05", "basic"),
        ("y", "2020-01-20", "2020-03-01", "basic"),
        ("v", "2020-01-25", "2020-03-01 10:00", None),
        ("w", "2020-02-03", "2020-02-03", "pro"),
        ("z", "2020-03-15", None, "pro"),
        ("u", "2020-05-02", None, "pro")]


def test_interval_activity_by_hand(duck):
    t = duck.from_pandas(subs(ROWS))
    got = duck.to_pandas(red.interval_activity(t, cohort_period="month", as_of=AS_OF,
                                               last_period=LAST))
    got = got.sort_values(["cohort_index", "period"]).reset_index(drop=True)
    # Jan cohort: x (Jan, Feb, Mar), y (Jan, Feb), v (Jan, Feb, Mar)
    # Feb cohort: w (Feb); Mar cohort: z (Mar, Apr)
    want = pd.DataFrame({
        "cohort_index": [JAN, JAN, JAN, FEB, MAR, MAR],
        "period": [0, 1, 2, 0, 0, 1],
        "customers": [3, 3, 2, 1, 1, 1],
        "last_active": [0, 1, 2, 1, 0, 1],
    })
    pd.testing.assert_frame_equal(got[list(want.columns)], want, check_dtype=False)
    assert (got["revenue"] == 0.0).all()


def test_interval_activity_by_segment_by_hand(duck):
    t = duck.from_pandas(subs(ROWS))
    seg = red.interval_segment(t, "plan")
    got = duck.to_pandas(seg).set_index("customer_id")["value"]
    # x's earliest start is the "pro" one; v has no value; u is there too (not filtered)
    assert got.fillna("-").to_dict() == {"x": "pro", "y": "basic", "v": "-", "w": "pro",
                                         "z": "pro", "u": "pro"}
    act = duck.to_pandas(red.interval_activity(t, cohort_period="month", as_of=AS_OF,
                                               last_period=LAST, segment_values=seg))
    k0 = act[act["period"] == 0].groupby(act["segment"].fillna("-"))["customers"].sum()
    assert k0.to_dict() == {"-": 1, "basic": 1, "pro": 3}


def test_interval_segment_ties_take_the_smallest_value(duck):
    t = duck.from_pandas(subs([("x", "2020-01-10", None, "pro"),
                               ("x", "2020-01-10", "2020-02-01", "basic"),
                               ("y", "2020-01-10", None, None),
                               ("y", "2020-01-10", None, "pro")]))
    got = duck.to_pandas(red.interval_segment(t, "plan")).set_index("customer_id")["value"]
    assert got.to_dict() == {"x": "basic", "y": "pro"}


def test_interval_spells_by_hand(duck):
    t = duck.from_pandas(subs(ROWS))
    got = duck.to_pandas(red.interval_spells(t, cohort_period="month", as_of=AS_OF,
                                             last_period=LAST))
    got = got.sort_values(["s", "e", "ended"]).reset_index(drop=True)
    # ended: e = period containing `end` (y's end on 1 March is a loss in March);
    # active (z): e = LAST + 1
    want = pd.DataFrame({"s": [JAN, JAN, FEB, FEB, MAR],
                         "e": [FEB, MAR, FEB, MAR, LAST + 1],
                         "ended": [True, True, True, True, False],
                         "n": [1, 2, 1, 1, 1]})  # (x), (y, v), (w), (x again), (z)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_interval_end_before_start(duck):
    t = duck.from_pandas(subs(ROWS + [("q", "2020-02-01", "2020-01-01", None),
                                      ("r", "2020-06-01", "2020-05-01", None)]))
    # r starts after as_of: not counted
    assert duck.to_pandas(red.interval_end_before_start(t, as_of=AS_OF))["n"].iloc[0] == 1


def test_snapshot_counts_by_hand(duck):
    snap = pd.DataFrame({"customer_id": list("pqrstu"), "tenure": [0, 1, 2.5, 2, 3, 1],
                         "churned": [False, True, True, False, False, True],
                         "plan": ["a", "a", "b", None, "b", "a"]})
    t = duck.from_pandas(snap)
    got = duck.to_pandas(red.snapshot_counts(t)).sort_values(["tenure", "churned"])
    # tenure 2.5 counts as 2 whole periods
    assert [tuple(r) for r in got.itertuples(index=False)] == [
        (0, False, 1), (1, True, 2), (2, False, 1), (2, True, 1), (3, False, 1)]
    by = duck.to_pandas(red.snapshot_counts(t, "plan"))
    assert by.groupby(by["segment"].fillna("-"))["customers"].sum().to_dict() == {
        "-": 1, "a": 3, "b": 2}
    assert duck.to_pandas(red.snapshot_violations(t))["n"].iloc[0] == 0
    bad = duck.from_pandas(snap.assign(tenure=[0, -1, None, 2, 3, 1]))
    assert duck.to_pandas(red.snapshot_violations(bad))["n"].iloc[0] == 2


def test_with_zero_amount(duck):
    t = duck.from_pandas(pd.DataFrame({"customer_id": ["a"],
                                       "timestamp": pd.to_datetime(["2020-01-01"])}))
    assert duck.to_pandas(red.with_zero_amount(t))["amount"].tolist() == [0.0]
