"""Purchase days collapsed once and kept in the engine (``Engine.kept_purchase_days``): the
engine's per-customer methods read them as they read the log, on a hand-built log whose
answers are also written out."""
import pandas as pd
import pytest

from clm_lib.exceptions import InsufficientDataError
from clm_lib.reduce import get_engine

AS_OF = pd.Timestamp("2020-12-31")
START = pd.Timestamp("2020-06-30")
LAPSED = 60


@pytest.fixture
def log():
    rows = [
        # a: three rows on one day (the exact day sum), a repeat, a reactivation after 100 days
        ("a", "2020-01-01 09:00", 1.0), ("a", "2020-01-01 10:00", 2.0),
        ("a", "2020-01-01 11:00", 0.1), ("a", "2020-01-21", 5.0), ("a", "2020-04-30", 7.0),
        ("a", "2020-05-20", 0.0), ("a", "2020-11-01", 3.0),
        # b: one purchase day before the start date
        ("b", "2020-03-01", 4.0),
        # c: first seen after the start date, again 10 days later
        ("c", "2020-08-01", 2.5), ("c", "2020-08-11", 1.5),
        # d: a day after as_of is not seen
        ("d", "2020-02-01", 1.0), ("d", "2021-01-05", 9.0),
        # e: only after as_of
        ("e", "2021-02-01", 1.0),
    ]
    return pd.DataFrame({"customer_id": [r[0] for r in rows],
                         "timestamp": pd.to_datetime([r[1] for r in rows], format="ISO8601"),
                         "amount": [r[2] for r in rows]})


def _reduced(source, eng):
    return (eng.purchase_day_gaps(source, as_of=AS_OF),
            eng.customer_histories(source, date=AS_OF, lapsed_days=LAPSED),
            eng.customer_histories(source, date=START, lapsed_days=LAPSED),
            eng.summary_data(source, as_of=AS_OF, time_unit="week"))


def _from_days(tx, eng):
    with eng.kept_purchase_days(tx, gaps=True) as days:
        return _reduced(days, eng)


def test_equals_engine_methods_on_the_log(log):
    eng = get_engine()
    got, want = _from_days(log, eng), _reduced(log, eng)
    pd.testing.assert_series_equal(got[0], want[0])
    for g, w in zip(got[1:], want[1:]):
        # the histories' spend is an unordered sum: equal to rounding
        pd.testing.assert_frame_equal(g, w, check_exact=False, rtol=1e-12)
        assert g.attrs == w.attrs
    pd.testing.assert_frame_equal(got[3], want[3])  # the summary's sums are ordered: exact


def test_without_gaps_the_summaries_and_repeat_days_equal_those_of_the_log(log):
    """The CLV study's use: both summaries and the repeat purchases per day."""
    eng = get_engine()
    kw = dict(as_of=AS_OF, time_unit="week")

    def reduced(source):
        return (eng.summary_data(source, calibration_end=START, **kw),
                eng.summary_data(source, **kw),
                eng.repeat_purchases_by_day(source, calibration_end=START, as_of=AS_OF))

    with eng.kept_purchase_days(log) as days:
        assert sorted(days.columns) == ["amount", "customer_id", "day"]
        got = reduced(days)
    want = reduced(log)
    for g, w in zip(got[:2], want[:2]):
        pd.testing.assert_frame_equal(g, w)
        assert g.attrs == w.attrs
    pd.testing.assert_series_equal(got[2], want[2])
    # repeat days of customers first seen by START (a, b, d): a's 4, none of b's or d's
    assert got[2].to_dict() == {pd.Timestamp(d): 1 for d in
                                ("2020-01-21", "2020-04-30", "2020-05-20", "2020-11-01")}


def test_written_answers_and_dropped_on_exit(log):
    eng = get_engine()

    def tables():
        return eng.con.raw_sql("SELECT table_name FROM duckdb_tables()").fetchall()

    with eng.kept_purchase_days(log, gaps=True) as days:
        name = days.get_name()
        assert (name,) in tables()
        assert sorted(days.columns) == ["amount", "customer_id", "day", "gap"]
        assert len(eng.to_pandas(days)) == 11  # a's three rows of Jan 1 are one day
        gaps, hist, hist_start, summ = _reduced(days, eng)
    assert (name,) not in tables()
    assert gaps.to_dict() == {10: 1, 20: 2, 100: 1, 165: 1}
    assert list(hist.index) == ["a", "b", "c", "d"]
    assert list(hist_start.index) == ["a", "b", "d"]  # c first bought after the start
    a = hist.loc["a"]
    assert a["purchase_days"] == 5
    assert a["first_day_spend"] == pytest.approx(3.1)
    assert a["first_reactivation"] == pd.Timestamp("2020-04-30")
    assert a["last_reactivation"] == pd.Timestamp("2020-11-01")
    assert a["new_window_days"] == 1 and a["react_window_days"] == 1
    assert a["react_window_spend"] == 0.0  # the zero-amount day 20 days after
    assert pd.isna(hist.loc["b", "second_purchase"])
    # at the start date, d's only day is seen; the day after as_of never is
    assert hist.loc["d", "purchase_days"] == 1 and hist_start.loc["d", "spend"] == 1.0
    # summary: a repeats on 4 days, 3 of them with spend (5, 7, 3)
    assert summ.loc["a", "frequency"] == 4 and summ.loc["a", "spend_frequency"] == 3
    assert summ.loc["a", "monetary_value"] == pytest.approx(5.0)
    assert summ.loc["a", "recency"] == pytest.approx(305 / 7)
    assert summ.attrs["dropped"] == {"purchase days after as_of": 2}
    assert "e" not in summ.index


def test_no_purchase_by_start(log):
    late = log[log["customer_id"] == "c"]
    with pytest.raises(InsufficientDataError):
        _from_days(late, get_engine())
