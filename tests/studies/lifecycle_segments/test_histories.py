"""The per-customer histories and purchase-day gaps the stages are computed from, on a
hand-built log reduced by the default engine (answers written by hand)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import ParameterError
from clm_lib.studies.lifecycle_segments import stages
from clm_lib.studies.lifecycle_segments.compute import lifecycle_study


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


def test_histories_by_hand():
    h = stages.histories(_hand_log(), date="2020-03-31", lapsed_days=30, window_days=10)
    assert h.attrs == {"date": "2020-03-31", "lapsed_days": 30, "window_days": 10}
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


def test_histories_see_only_purchases_up_to_the_date():
    h = stages.histories(_hand_log(), date="2020-01-31", lapsed_days=30, window_days=10)
    assert list(h.index) == ["a", "c"]                     # b buys on 02-01
    assert (h.loc["a", "purchase_days"], h.loc["a", "spend"]) == (2, 17.0)
    assert pd.isna(h.loc["a", "first_reactivation"]) and h.loc["c", "purchase_days"] == 1


def test_purchase_day_gaps_by_hand():
    # a: 01-01 -> 01-05 -> 03-01 -> 03-03 (4, 56, 2 days); c: 01-10 -> 03-20 (70 days)
    gaps = stages.purchase_day_gaps(_hand_log(), as_of="2020-03-31")
    assert gaps.to_dict() == {2: 1, 4: 1, 56: 1, 70: 1}
    assert stages.purchase_day_gaps(_hand_log(), as_of="2020-03-02").to_dict() == {4: 1, 56: 1}


def test_thresholds_from_counted_gaps_equal_numpy_quantiles():
    rng = np.random.default_rng(5)
    gaps = rng.integers(1, 400, 1001)
    counts = pd.Series(gaps).value_counts().sort_index()
    th = stages.derive_thresholds(counts, as_of="2020-01-01")
    want = [int(np.ceil(np.quantile(gaps, q))) for q in (0.5, 0.75, 0.9)]
    assert [th.new_days, th.at_risk_days, th.lapsed_days] == want
    assert th.n_gaps == 1001 and th.quantiles == {"new_days": 0.5, "at_risk_days": 0.75,
                                                  "lapsed_days": 0.9}


def test_histories_reduced_for_another_date_are_refused():
    th = stages.derive_thresholds(_hand_log(), as_of="2020-03-31")
    h = stages.histories(_hand_log(), date="2020-03-31", lapsed_days=th.lapsed_days)
    with pytest.raises(ParameterError, match="reduced with"):
        stages.customer_stages(h, date="2020-02-29", thresholds=th)


def test_study_takes_a_frame_a_table_or_a_path(tmp_path):
    from clm_lib.reduce import get_engine

    log = _hand_log()
    kw = dict(as_of="2020-03-31", flow_start="2020-02-15", new_days=10, at_risk_days=20,
              lapsed_days=30)
    ref = lifecycle_study(log, **kw)
    # at 03-31: a silent 28 days (> 20); b 59 days (> 30); c repeat, bought 11 days ago
    # (its return on 03-20 after 70 days is 11 days old: > new_days, no longer reactivated)
    assert ref.stages["stage"].astype(str).to_dict() == {
        "a": "at risk", "b": "lapsed", "c": "active repeat"}
    # at 02-15: a and c silent 41 and 36 days (> 30), b bought once 14 days ago (> 10)
    assert ref.stages_start["stage"].astype(str).to_dict() == {
        "a": "lapsed", "b": "one-time buyer", "c": "lapsed"}
    assert ref.transitions.loc["lapsed", "at risk"] == ref.transitions.loc["lapsed", "active repeat"] == 1
    assert ref.flows["lapsed were reactivated"] == 2
    table = get_engine("duckdb").from_pandas(log)
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    for source in (table, str(path)):
        got = lifecycle_study(source, **kw)
        pd.testing.assert_frame_equal(got.stages, ref.stages)
        pd.testing.assert_frame_equal(got.transitions, ref.transitions)
    assert ref.data_quality is None and got.data_quality.rows_in == len(log)
