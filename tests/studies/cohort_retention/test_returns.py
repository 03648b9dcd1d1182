"""Return retention (start event, windows, minimum purchase days, base) against an
independent computation: a loop over customers and their purchase days in plain Python,
on a hand-built log (some answers written out by hand) and on a seeded random log."""
from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import ParameterError
from clm_lib.reduce.periods import period_labels
from clm_lib.studies.cohort_retention.compute import retention_tables
from clm_lib.studies.cohort_retention.returns import (
    ReturnTable,
    average_returns,
    return_comparison,
    return_retention,
)

D = dt.date


# ---------------------------------------------------------------------------------------
# The independent computation
# ---------------------------------------------------------------------------------------
def _code(day: dt.date, period: str) -> int:
    if period == "month":
        return day.year * 12 + day.month - 1
    if period == "quarter":
        return day.year * 4 + (day.month - 1) // 3
    if period == "year":
        return day.year
    return (day - D(1970, 1, 5)).days // 7  # ISO weeks from a Monday


def _period_end(code: int, period: str) -> dt.date:
    """Last day of the period: walk forward from a day inside it."""
    if period == "week":
        day = D(1970, 1, 5) + dt.timedelta(days=7 * code)
    elif period == "month":
        day = D(code // 12, code % 12 + 1, 1)
    elif period == "quarter":
        day = D(code // 4, 3 * (code % 4) + 1, 1)
    else:
        day = D(code, 1, 1)
    while _code(day + dt.timedelta(days=1), period) == code:
        day += dt.timedelta(days=1)
    return day


def _brackets(windows):
    if isinstance(windows, str):
        windows = windows.split(",")
    out = []
    for w in windows:
        a, b = (map(int, w.split("-")) if isinstance(w, str) else w)
        out.append((a, b))
    return out


def oracle(tx: pd.DataFrame, period: str, as_of, *, start="first", windows="calendar",
           min_purchases=1, base="cohort"):
    """(sizes, counts, base_counts) by cohort code and window, NaN where not observable."""
    as_of = pd.Timestamp(as_of).date()
    days: dict[str, set] = {}
    for cid, ts in zip(tx["customer_id"], pd.to_datetime(tx["timestamp"])):
        if ts.date() <= as_of:
            days.setdefault(cid, set()).add(ts.date())
    last = _code(as_of, period)
    if _code(as_of + dt.timedelta(days=1), period) == last:
        last -= 1  # the period of as_of is not over
    starts = []  # (customer, cohort code, start day)
    for cid, ds in days.items():
        if start == "first":
            s = min(ds)
            starts.append((cid, _code(s, period), s))
        else:
            for c in sorted({_code(d, period) for d in ds}):
                starts.append((cid, c, min(d for d in ds if _code(d, period) == c)))
    starts = [s for s in starts if s[1] <= last]
    cohorts = sorted({c for _, c, _ in starts})
    ends = {c: _period_end(c, period) for c in cohorts}
    if windows == "calendar":
        n_windows = last - cohorts[0] + 1
        ranges = None
    elif isinstance(windows, int):
        n_windows = 1
        while any((ends[c] - D(1, 1, 1)).days + (n_windows + 1) * windows - 1
                  <= (as_of - D(1, 1, 1)).days for c in cohorts):
            n_windows += 1
        ranges = [(k * windows, (k + 1) * windows - 1) for k in range(n_windows)]
    else:
        ranges = _brackets(windows)
        n_windows = len(ranges)

    def observable(c, k):
        if ranges is None:
            return c + k <= last
        return ends[c] + dt.timedelta(days=ranges[k][1]) <= as_of

    size = {c: 0 for c in cohorts}
    num = {(c, k): 0 for c in cohorts for k in range(n_windows)}
    den = dict(num)
    for cid, c, s in starts:
        size[c] += 1
        returned = []
        for k in range(n_windows):
            if ranges is None:
                n = sum(1 for d in days[cid] if d >= s and _code(d, period) == c + k)
            else:
                a, b = ranges[k]
                n = sum(1 for d in days[cid] if a <= (d - s).days <= b)
            returned.append(n >= min_purchases)
        for k in range(n_windows):
            if base == "cohort" or k == 0:
                den[c, k] += 1
                num[c, k] += returned[k]
            else:
                den[c, k] += returned[k - 1]
                num[c, k] += returned[k - 1] and returned[k]
    labels = pd.Index(period_labels(cohorts, period), name="cohort")
    ks = pd.RangeIndex(n_windows, name="k")

    def frame(x):
        return pd.DataFrame([[float(x[c, k]) if observable(c, k) else np.nan for k in ks]
                             for c in cohorts], index=labels, columns=ks)

    sizes = pd.Series([size[c] for c in cohorts], index=labels.copy())
    return sizes, frame(num), frame(den)


def assert_matches_oracle(got: ReturnTable, tx, period, as_of, **kw):
    sizes, num, den = oracle(tx, period, as_of, **kw)
    pd.testing.assert_series_equal(got.sizes, sizes, check_names=False, check_dtype=False)
    pd.testing.assert_frame_equal(got.counts, num, check_exact=True)
    pd.testing.assert_frame_equal(got.base_counts, den, check_exact=True)


# ---------------------------------------------------------------------------------------
# A hand-built log
# ---------------------------------------------------------------------------------------
HAND = [
    ("a", "2020-01-05 09:00"), ("a", "2020-01-05 17:00"),  # one purchase day
    ("a", "2020-01-10 12:00"), ("a", "2020-02-03 12:00"), ("a", "2020-03-20 12:00"),
    ("b", "2020-01-31 23:00"), ("b", "2020-02-01 01:00"),  # the next day, the next month
    ("c", "2020-01-15 10:00"),
    ("d", "2020-02-10 10:00"), ("d", "2020-02-12 10:00"), ("d", "2020-02-20 10:00"),
    ("d", "2020-04-01 10:00"),
    ("e", "2020-02-28 10:00"), ("e", "2020-03-05 10:00"), ("e", "2020-03-06 10:00"),
    ("f", "2020-03-01 10:00"), ("f", "2020-04-15 10:00"),
    ("g", "2020-03-31 10:00"), ("g", "2020-05-02 10:00"),  # after as_of: ignored
    ("h", "2020-04-10 10:00"),
    ("i", "2020-05-01 10:00"),  # only after as_of: not a customer
    ("j", "2019-12-20 10:00"), ("j", "2020-01-02 10:00"), ("j", "2020-03-03 10:00"),
    ("k", "2020-01-20 23:59"), ("k", "2020-01-21 00:00"), ("k", "2020-04-30 23:00"),
]
AS_OF = "2020-04-30"  # April is complete


@pytest.fixture(scope="module")
def hand():
    df = pd.DataFrame(HAND, columns=["customer_id", "timestamp"])
    return df.assign(timestamp=pd.to_datetime(df["timestamp"]),
                     amount=np.arange(len(df), dtype=float))


def _row(t: ReturnTable, what: str, cohort: str) -> list:
    return [None if np.isnan(x) else int(x) for x in getattr(t, what).loc[cohort]]


def test_hand_calendar_first(hand):
    t = return_retention(hand, as_of=AS_OF)
    assert t.sizes.to_dict() == {"2019-12": 1, "2020-01": 4, "2020-02": 2, "2020-03": 2,
                                 "2020-04": 1}
    assert t.sizes.name == "new customers"
    # January (a, b, c, k): Feb a, b; Mar a; Apr k
    assert _row(t, "counts", "2020-01") == [4, 2, 1, 1, None]
    assert _row(t, "counts", "2020-03") == [2, 1, None, None, None]  # f in April
    assert list(t.windows["label"]) == ["k=0", "k=1", "k=2", "k=3", "k=4"]
    assert t.rates.loc["2020-01", 1] == 0.5
    assert_matches_oracle(t, hand, "month", AS_OF)


def test_hand_equals_the_bounded_matrix(hand):
    for period in ("week", "month", "quarter"):
        t = return_retention(hand, period, as_of=AS_OF)
        b = retention_tables(hand, period, as_of=AS_OF)
        pd.testing.assert_frame_equal(t.counts, b.bounded_counts, check_exact=True)
        pd.testing.assert_series_equal(t.sizes, b.sizes, check_names=False)


def test_hand_min_purchases_and_recurring(hand):
    t = return_retention(hand, as_of=AS_OF, min_purchases=2)
    # January k=0: a (5th, 10th) and k (20th, 21st); b and c one day each
    assert _row(t, "counts", "2020-01")[0] == 2
    assert _row(t, "base_counts", "2020-01")[0] == 4
    assert_matches_oracle(t, hand, "month", AS_OF, min_purchases=2)
    r = return_retention(hand, as_of=AS_OF, start="recurring")
    # January starts: a, b, c, k and j (back on 2 January); Feb: a, b; Mar: a, j
    assert r.sizes["2020-01"] == 5 and r.sizes.name == "active customers"
    assert _row(r, "counts", "2020-01")[:3] == [5, 2, 2]
    assert_matches_oracle(r, hand, "month", AS_OF, start="recurring")


def test_hand_previous_base(hand):
    t = return_retention(hand, as_of=AS_OF, base="previous")
    # January: of 4, 2 in Feb; of those 2, 1 (a) in Mar; of that 1 (a), 0 in April
    assert _row(t, "counts", "2020-01")[:4] == [4, 2, 1, 0]
    assert _row(t, "base_counts", "2020-01")[:4] == [4, 4, 2, 1]
    assert_matches_oracle(t, hand, "month", AS_OF, base="previous")


def test_hand_rolling_windows(hand):
    t = return_retention(hand, as_of=AS_OF, windows=30)
    # December's last day + 119 <= 30 April: four windows; January sees three (to day 89)
    assert list(t.windows["label"]) == ["days 0\u201329", "days 30\u201359", "days 60\u201389",
                                        "days 90\u2013119"]
    # a: days 0, 5, 29, 75; b: 0, 1; c: 0; k: 0, 1, 101
    assert _row(t, "counts", "2020-01") == [4, 0, 1, None]
    assert _row(t, "counts", "2020-04") == [None] * 4  # day 29 after 30 April: not yet
    assert_matches_oracle(t, hand, "month", AS_OF, windows=30)
    m = return_retention(hand, as_of=AS_OF, windows=30, min_purchases=2)
    assert _row(m, "counts", "2020-01")[0] == 3  # a, b, k
    assert_matches_oracle(m, hand, "month", AS_OF, windows=30, min_purchases=2)


def test_hand_brackets(hand):
    w = ["1-7", "8-30", "31-90"]
    t = return_retention(hand, as_of=AS_OF, windows=w)
    assert _row(t, "counts", "2019-12") == [0, 1, 1]  # j: days 13 and 74
    assert _row(t, "counts", "2020-01") == [3, 1, 1]  # a: 5, 29, 75; b: 1; k: 1
    # February (d: 2, 10, 51; e: 1 leap day.., 6, 7): days 31-90 end after 30 April
    assert _row(t, "counts", "2020-02") == [2, 1, None]
    assert t.rule_text.endswith("in days 1\u20137, 8\u201330 and 31\u201390 after "
                                "their first purchase, each range on its own")
    m = return_retention(hand, as_of=AS_OF, windows=[(1, 7), (8, 30), (31, 90)],
                         min_purchases=2)
    assert _row(m, "counts", "2020-02") == [1, 0, None]  # e: days 6 and 7
    r = return_retention(hand, as_of=AS_OF, windows="1-7,8-30,31-90", start="recurring")
    # January starts a (5th), b, c, k, j (2nd; back on day 61)
    assert _row(r, "counts", "2020-01") == [3, 1, 2]
    for kw in (dict(windows=w), dict(windows=w, min_purchases=2),
               dict(windows=w, start="recurring"), dict(windows=w, base="previous")):
        assert_matches_oracle(return_retention(hand, as_of=AS_OF, **kw), hand, "month",
                              AS_OF, **kw)


def test_hand_window_end_is_inclusive(hand):
    # January's days 31-90 end on 31 January + 90 = 30 April: reported then, not a day before
    w = ["31-90"]
    assert _row(return_retention(hand, as_of=AS_OF, windows=w), "counts", "2020-01") == [1]
    assert _row(return_retention(hand, as_of="2020-04-29", windows=w),
                "counts", "2020-01") == [None]


def test_rule_text():
    t = return_retention(pd.DataFrame(HAND, columns=["customer_id", "timestamp"]).assign(
        timestamp=lambda d: pd.to_datetime(d["timestamp"])), as_of=AS_OF,
        windows=["8-30"], min_purchases=2)
    assert t.describe() == ("Share of customers (first purchase in the month) with at least "
                            "2 purchase days in days 8\u201330 after their first purchase")
    assert t.rule["windows"] == ["8-30"] and t.rule["min_purchases"] == 2


# ---------------------------------------------------------------------------------------
# A seeded random log, cell by cell against the loop
# ---------------------------------------------------------------------------------------
def random_log(seed: int = 7, n_customers: int = 300, end="2021-12-31") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    t0 = pd.Timestamp("2020-01-01")
    for i in range(n_customers):
        t = t0 + pd.Timedelta(minutes=int(rng.integers(0, 730 * 1440)))
        gap = rng.choice([3.0, 15.0, 45.0])  # frequent, monthly, rare buyers
        for _ in range(int(rng.geometric(0.25))):
            rows.append((f"c{i:03d}", t))
            if rng.random() < 0.15:  # a second purchase the same day
                rows.append((f"c{i:03d}", t.normalize() + pd.Timedelta(hours=23, minutes=59)))
            t = t + pd.Timedelta(minutes=int(rng.exponential(gap) * 1440))
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp"])
    df = df.loc[df["timestamp"] <= pd.Timestamp(end) + pd.Timedelta(days=1)]
    return df.assign(amount=1.0).sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module")
def rand():
    return random_log()


RAND_AS_OF = "2021-10-20"
GRID = list(itertools.product(("first", "recurring"), ("calendar", 30, ["1-7", "8-30", "31-90"]),
                              (1, 2), ("cohort", "previous")))


@pytest.mark.parametrize("start,windows,min_purchases,base", GRID,
                         ids=[f"{s}-{w if not isinstance(w, list) else 'brackets'}-{m}-{b}"
                              for s, w, m, b in GRID])
def test_random_log_matches_the_loop(rand, start, windows, min_purchases, base):
    kw = dict(start=start, windows=windows, min_purchases=min_purchases, base=base)
    assert_matches_oracle(return_retention(rand, "month", as_of=RAND_AS_OF, **kw), rand,
                          "month", RAND_AS_OF, **kw)


@pytest.mark.parametrize("period,kw", [
    ("week", dict(windows=7, start="recurring", min_purchases=2)),
    ("week", dict(windows=["1-3", "4-14"], base="previous")),
    ("quarter", dict(start="recurring", base="previous")),
    ("quarter", dict(windows=90)),
    ("year", dict(windows=["1-30", "31-365"], start="recurring")),
])
def test_random_log_other_periods(rand, period, kw):
    assert_matches_oracle(return_retention(rand, period, as_of=RAND_AS_OF, **kw), rand,
                          period, RAND_AS_OF, **kw)


@pytest.mark.parametrize("period", ["week", "month", "quarter"])
def test_random_log_equals_the_bounded_matrix(rand, period):
    t = return_retention(rand, period, as_of=RAND_AS_OF)
    b = retention_tables(rand, period, as_of=RAND_AS_OF)
    pd.testing.assert_frame_equal(t.counts, b.bounded_counts, check_exact=True)
    pd.testing.assert_series_equal(t.sizes, b.sizes, check_names=False)


# ---------------------------------------------------------------------------------------
# Observability: what is reported about the past does not change with later data
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(), dict(start="recurring", min_purchases=2),
                                dict(windows=30, base="previous"),
                                dict(windows=["1-7", "8-30", "31-90"], start="recurring"),
                                dict(windows=14, min_purchases=2)])
def test_reported_cells_do_not_change_with_later_data(rand, kw):
    early = "2021-03-15"
    known = rand.loc[rand["timestamp"] < pd.Timestamp(early) + pd.Timedelta(days=1)]
    a = return_retention(known, as_of=early, **kw)
    b = return_retention(rand, as_of=early, **kw)  # later rows present, as_of the same
    c = return_retention(rand, as_of="2021-12-31", **kw)  # later data and a later as_of
    pd.testing.assert_frame_equal(a.counts, b.counts)
    for x, y in ((a.counts, c.counts), (a.base_counts, c.base_counts)):
        y = y.reindex(index=x.index, columns=x.columns)
        seen = x.notna().to_numpy()
        assert seen.any()
        np.testing.assert_array_equal(x.to_numpy()[seen], y.to_numpy()[seen])
    pd.testing.assert_series_equal(a.sizes, c.sizes.reindex(a.sizes.index))
    # and later, more cells are reported, never fewer
    assert c.counts.notna().sum().sum() > a.counts.notna().sum().sum()


def test_cells_are_nan_exactly_when_incomplete(rand):
    t = return_retention(rand, as_of=RAND_AS_OF, windows=["1-7", "8-30", "31-90"])
    as_of = pd.Timestamp(RAND_AS_OF)
    for cohort in t.counts.index:
        end = pd.Period(cohort, "M").end_time.normalize()
        for k, last_day in t.windows["last_day"].items():
            complete = end + pd.Timedelta(days=int(last_day)) <= as_of
            assert np.isnan(t.counts.loc[cohort, k]) != complete, (cohort, k)
            if complete:
                assert t.counts.loc[cohort, k] >= 0
    # October 2021 is not complete by the 20th: no such cohort
    assert t.counts.index[-1] == "2021-09"


# ---------------------------------------------------------------------------------------
# Averages, comparison, parameters
# ---------------------------------------------------------------------------------------
def test_average_pools_the_observable_cells(rand):
    t = return_retention(rand, as_of=RAND_AS_OF, base="previous")
    avg = average_returns(t)
    for k in (1, 3):
        ok = t.counts[k].notna() & (t.base_counts[k] > 0)
        assert avg.loc[k, "returned"] == t.counts.loc[ok, k].sum()
        assert avg.loc[k, "base"] == t.base_counts.loc[ok, k].sum()
        assert avg.loc[k, "retention"] == pytest.approx(avg.loc[k, "returned"]
                                                        / avg.loc[k, "base"])
        assert avg.loc[k, "lower"] < avg.loc[k, "retention"] < avg.loc[k, "upper"]
        assert avg.loc[k, "cohorts"] == ok.sum()
    assert avg.loc[0, "retention"] == 1.0 and avg.loc[0, "upper"] == 1.0
    pd.testing.assert_frame_equal(t.average(), avg)


def test_average_wilson_by_hand(hand):
    t = return_retention(hand, as_of=AS_OF)
    avg = t.average(level=0.95)
    # k = 1: Dec 1/1 (j in January), Jan 2/4 (a, b), Feb 1/2 (e), Mar 1/2 (f) -> 5 of 9
    assert (avg.loc[1, "returned"], avg.loc[1, "base"], avg.loc[1, "cohorts"]) == (5, 9, 4)
    z, n, p = 1.959963984540054, 9.0, 5.0 / 9.0
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert avg.loc[1, "lower"] == pytest.approx(centre - half)
    assert avg.loc[1, "upper"] == pytest.approx(centre + half)


def test_comparison_variants(hand):
    cmp = return_comparison(hand, as_of=AS_OF)
    assert set(cmp) == {"first", "recurring", "previous", "min_purchases_2"}
    for name, kw in (("first", {}), ("recurring", dict(start="recurring")),
                     ("previous", dict(base="previous")),
                     ("min_purchases_2", dict(min_purchases=2))):
        pd.testing.assert_frame_equal(cmp[name].counts,
                                      return_retention(hand, as_of=AS_OF, **kw).counts)


@pytest.mark.parametrize("kw,name", [
    (dict(start="last"), "start"), (dict(start=None), "start"),
    (dict(windows=0), "windows"), (dict(windows=-7), "windows"), (dict(windows=True), "windows"),
    (dict(windows="weekly"), "windows"), (dict(windows=[]), "windows"),
    (dict(windows=["7-1"]), "windows"), (dict(windows=["1-7", "5-10"]), "windows"),
    (dict(windows=["8-30", "1-7"]), "windows"), (dict(windows=["0-7"]), "windows"),
    (dict(windows=["1 to 7"]), "windows"), (dict(windows=[(1, 7.5)]), "windows"),
    (dict(windows=[(1, 7, 9)]), "windows"),
    (dict(min_purchases=0), "min_purchases"), (dict(min_purchases=1.5), "min_purchases"),
    (dict(min_purchases=True), "min_purchases"), (dict(min_purchases="2"), "min_purchases"),
    (dict(base="first"), "base"), (dict(cohort_period="day"), "cohort_period"),
    (dict(engine="sqlite"), "engine"),
])
def test_bad_parameters(hand, kw, name):
    with pytest.raises(ParameterError, match=name):
        return_retention(hand, as_of=AS_OF, **kw)


def test_subscriptions_are_refused():
    subs = pd.DataFrame({"customer_id": ["a"], "start": pd.to_datetime(["2020-01-01"]),
                         "end": [pd.NaT]})
    snap = pd.DataFrame({"customer_id": ["a"], "tenure": [3], "churned": [False]})
    for data in (subs, snap):
        with pytest.raises(ParameterError, match="apply to transactions"):
            return_retention(data, as_of=AS_OF)
        with pytest.raises(ParameterError, match="apply to transactions"):
            return_comparison(data, as_of=AS_OF)


def test_input_forms_and_as_of_from_data(hand, tmp_path):
    from clm_lib.reduce import get_engine

    want = return_retention(hand, as_of=AS_OF, windows=30).counts
    duck = get_engine("duckdb")
    got = return_retention(duck.from_pandas(hand), as_of=AS_OF, windows=30, engine=duck)
    pd.testing.assert_frame_equal(got.counts, want)
    path = tmp_path / "tx.csv"
    hand.to_csv(path, index=False)
    got = return_retention(str(path), as_of=AS_OF, windows=30)
    pd.testing.assert_frame_equal(got.counts, want)
    no_amount = return_retention(hand.drop(columns="amount"), as_of=AS_OF, windows=30)
    pd.testing.assert_frame_equal(no_amount.counts, want)
    t = return_retention(hand, as_of=None)
    assert t.rule["as_of"] == "2020-05-02" and t.rule["as_of_source"] == "data"


@pytest.mark.spark
def test_returns_spark_parity(spark, rand):
    from clm_lib.reduce import get_engine

    duck = get_engine("duckdb")
    for kw in (dict(start="recurring", windows=["1-7", "8-30", "31-90"], min_purchases=2,
                    base="previous"),
               dict(windows=30), dict(start="recurring", base="previous")):
        a, b = (return_retention(rand, "month", as_of=RAND_AS_OF, engine=e, **kw)
                for e in (duck, spark))
        pd.testing.assert_frame_equal(a.counts, b.counts, check_exact=True)
        pd.testing.assert_frame_equal(a.base_counts, b.base_counts, check_exact=True)
        pd.testing.assert_series_equal(a.sizes, b.sizes, check_exact=True)


# ---------------------------------------------------------------------------------------
# Views for the report
# ---------------------------------------------------------------------------------------
def test_matrix_view(hand):
    from clm_lib.reporting import table_html
    from clm_lib.studies.cohort_retention import report_returns as rv

    t = return_retention(hand, as_of=AS_OF, windows=["1-7", "8-30", "31-90"],
                         min_purchases=2)
    v = rv.return_matrix_table(t)
    assert list(v.frame.columns) == ["new customers", "days 1\u20137", "days 8\u201330",
                                     "days 31\u201390"]
    pd.testing.assert_series_equal(v.frame["new customers"], t.sizes)
    np.testing.assert_array_equal(v.frame.iloc[:, 1:].to_numpy(), t.rates.to_numpy())
    assert v.caption.startswith(t.rule_text) and "2020-04-30" in v.caption
    assert set(v.formats) == set(v.frame.columns)
    html = table_html(v.frame, v.caption, formats=v.formats, rename=v.rename)
    assert "cohort (month)" in html and "cohort&#x27;s" in html and "<script" not in html
    cal = rv.return_matrix_table(return_retention(hand, as_of=AS_OF, base="previous"))
    assert [cal.rename[c] for c in cal.frame.columns[1:3]] == ["month 0", "month 1"]


def test_comparison_views(rand, hand):
    from clm_lib.studies.cohort_retention import report_returns as rv

    cmp = return_comparison(rand, as_of=RAND_AS_OF)
    v = rv.comparison_table(cmp)
    assert list(v.frame.columns) == ["first", "recurring", "previous", "min_purchases_2",
                                     "cohorts"]
    for name in ("first", "recurring", "previous", "min_purchases_2"):
        want = cmp[name].average()["retention"]
        pd.testing.assert_series_equal(v.frame[name], want.loc[v.frame.index], check_names=False)
    assert v.frame.loc[1, "cohorts"] == cmp["first"].counts[1].notna().sum()
    text = rv.comparison_sentence(cmp)
    assert fmt_pct(v.frame.loc[1, "first"]) in text and fmt_pct(v.frame.loc[2, "previous"]) in text
    assert text.count(".") >= 1 and text.endswith(".")
    # one complete month only: no k = 1 yet
    jan = hand.loc[hand["timestamp"].between("2020-01-01", "2020-02-01", inclusive="left")]
    early = return_comparison(jan, as_of="2020-01-31")
    assert "cannot be measured yet" in rv.comparison_sentence(early)


def fmt_pct(x):
    from clm_lib import format as fmt

    return fmt.percent(x)


def test_no_complete_cohort_and_bad_level(hand):
    from clm_lib.exceptions import InsufficientDataError

    with pytest.raises(InsufficientDataError):
        return_retention(hand, as_of="2019-12-25")  # December 2019 is not over
    with pytest.raises(ParameterError, match="level"):
        return_retention(hand, as_of=AS_OF).average(level=95)
    # "pandas" is the DuckDB engine's other name
    pd.testing.assert_frame_equal(return_retention(hand, as_of=AS_OF, engine="pandas").counts,
                                  return_retention(hand, as_of=AS_OF).counts)
