"""The study's one-table reductions (PurchaseDays) against the engine methods they replace,
on a hand-built log whose answers are also written out."""
import pandas as pd
import pytest

from clm_lib.exceptions import InsufficientDataError
from clm_lib.reduce import get_engine
from clm_lib.studies.lifecycle_segments.days import PurchaseDays

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


def _reduced(tx, eng):
    with PurchaseDays(eng, tx) as days:
        gaps = days.gaps(AS_OF)
        hist, hist_start, summ = days.customers(as_of=AS_OF, start=START, lapsed_days=LAPSED,
                                                time_unit="week")
    return gaps, hist, hist_start, summ


def test_equals_engine_methods(log):
    eng = get_engine()
    gaps, hist, hist_start, summ = _reduced(log, eng)
    pd.testing.assert_series_equal(gaps, eng.purchase_day_gaps(log, as_of=AS_OF))
    for got, date in ((hist, AS_OF), (hist_start, START)):
        want = eng.customer_histories(log, date=date, lapsed_days=LAPSED)
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
        assert got.attrs == want.attrs
    want = eng.summary_data(log, as_of=AS_OF, time_unit="week")
    pd.testing.assert_frame_equal(summ, want)
    assert summ.attrs == want.attrs


def test_written_answers(log):
    gaps, hist, hist_start, summ = _reduced(log, get_engine())
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
        _reduced(late, get_engine())
