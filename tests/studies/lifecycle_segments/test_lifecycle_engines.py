"""The lifecycle study on the shared engines: pandas, DuckDB and Spark (local[2]).

The DuckDB and Spark runs reduce the log in the engine (purchase-day gaps, per-customer
histories at both dates, the BG/NBD summary, segments at acquisition); thresholds,
stages, flows, RFM segments, ladder, reactivation and what-if must be the pandas run's.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_lib.studies.lifecycle_segments import compute as lc
from clm_lib.reduce import pandas_reductions as reductions
from clm_lib.reduce.engine import get_engine
from clm_lib.exceptions import ParameterError

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

AS_OF = "1998-06-30"
COLUMNS = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}


def _hand_log() -> pd.DataFrame:
    rows = [  # customer, timestamp, amount
        ("a", "2020-01-01 09:00", 10.0), ("a", "2020-01-01 18:00", 5.0),  # one day: 15
        ("a", "2020-01-05 10:00", 2.0),
        ("a", "2020-03-01 10:00", 3.0),   # 56 days later: a reactivation (lapsed 30)
        ("a", "2020-03-03 10:00", 4.0),   # in the window after it
        ("b", "2020-02-01 12:00", 5.0),
        ("c", "2020-01-10 12:00", 0.0), ("c", "2020-03-20 12:00", 8.0),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    return df.astype({"customer_id": "string"}).assign(
        timestamp=lambda d: pd.to_datetime(d["timestamp"]))


@pytest.fixture(scope="module")
def cdnow(cdnow_basket):
    return cdnow_basket[1]  # Parquet


def test_histories_by_hand():
    h = reductions.customer_histories(_hand_log(), date="2020-03-31", lapsed_days=30,
                                      window_days=10)
    a, b, c = h.loc["a"], h.loc["b"], h.loc["c"]
    assert (a["purchase_days"], a["spend"], a["first_day_spend"]) == (4, 24.0, 15.0)
    assert a["second_purchase"] == pd.Timestamp("2020-01-05")
    assert a["first_reactivation"] == a["last_reactivation"] == pd.Timestamp("2020-03-01")
    assert a["reactivation_day_spend"] == 3.0
    assert (a["new_window_days"], a["new_window_spend"]) == (1, 2.0)   # 01-05 only
    assert (a["react_window_days"], a["react_window_spend"]) == (1, 4.0)  # 03-03
    assert pd.isna(b["second_purchase"]) and pd.isna(b["first_reactivation"])
    assert np.isnan(b["reactivation_day_spend"]) and b["react_window_days"] == 0
    assert c["first_reactivation"] == pd.Timestamp("2020-03-20")  # 70 days after 01-10
    gaps = reductions.purchase_day_gaps(_hand_log(), as_of="2020-03-31")
    assert gaps.to_dict() == {2: 1, 4: 1, 56: 1, 70: 1}


@pytest.mark.parametrize("date", ["2020-01-31", "2020-03-31"])
def test_hand_log_identical_on_engines(engine, date):
    ref = reductions.customer_histories(_hand_log(), date=date, lapsed_days=30, window_days=10)
    got = engine.customer_histories(_hand_log(), date=date, lapsed_days=30, window_days=10)
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-12)
    assert got.attrs == ref.attrs
    pd.testing.assert_series_equal(engine.purchase_day_gaps(_hand_log(), as_of=date),
                                   reductions.purchase_day_gaps(_hand_log(), as_of=date))


def test_thresholds_from_counted_gaps_equal_numpy_quantiles():
    rng = np.random.default_rng(5)
    gaps = rng.integers(1, 400, 1001)
    counts = pd.Series(gaps).value_counts().sort_index()
    th = lc.derive_thresholds(counts, as_of="2020-01-01")
    want = [int(np.ceil(np.quantile(gaps, q))) for q in (0.5, 0.75, 0.9)]
    assert [th.new_days, th.at_risk_days, th.lapsed_days] == want


def test_histories_reduced_for_another_date_are_refused():
    th = lc.derive_thresholds(_hand_log(), as_of="2020-03-31")
    h = reductions.customer_histories(_hand_log(), date="2020-03-31", lapsed_days=th.lapsed_days)
    with pytest.raises(ParameterError, match="reduced with"):
        lc.customer_stages(h, date="2020-02-29", thresholds=th)


def test_cdnow_study_identical_on_engines(engine, cdnow):
    kw = dict(as_of=AS_OF, segment="basket", horizon=26)
    tx, _ = get_engine("pandas").load_transactions(cdnow, COLUMNS, as_of=AS_OF)
    ref = lc.lifecycle_study(tx, **kw)
    data, _ = engine.load_transactions(cdnow, COLUMNS, as_of=AS_OF)
    got = lc.lifecycle_study(data, engine=engine, **kw)
    assert got.thresholds == ref.thresholds
    for name in ("stages", "stages_start", "rfm"):
        a, b = getattr(got, name), getattr(ref, name)
        if "segment_value" in b:  # the engines return the column's own type
            a = a.assign(segment_value=a["segment_value"].astype("string"))
            b = b.assign(segment_value=b["segment_value"].astype("string"))
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, check_index_type=False)
    pd.testing.assert_frame_equal(got.transitions, ref.transitions)
    for name in ("stage_summary", "segments", "ladder", "second_purchase", "reactivation",
                 "what_if"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(ref, name),
                                      check_exact=False, rtol=1e-9, check_index_type=False)
    np.testing.assert_allclose(got.model.params_, ref.model.params_, rtol=1e-9)
    assert got.flows == ref.flows
