"""RFM scores (order independent, ties shared), segment rules and the segment table."""
import itertools

import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import MissingColumnsError, ParameterError
from clm_lib.studies.lifecycle_segments import report, rfm, stages


def test_score_hand_computed_and_ties():
    # distinct values 10 < 20 < 30 < 40 (cumulative shares .2 .6 .8 1): group k ends at the
    # first value reaching k/5, one distinct value at least per score -> fewer values than
    # scores: spread 1, 2.33, 3.67, 5 -> 1, 2, 4, 5
    assert rfm.score([10, 20, 20, 30, 40]).tolist() == [1, 2, 2, 4, 5]
    assert rfm.score([10, 20, 20, 30, 40], higher_is_better=False).tolist() == [5, 4, 4, 2, 1]
    # 6 of 10 tied at the bottom (one-time buyers) score 1; 2, 3, 4, 5 take the other scores
    # (the minimum rank gave [1] * 6 + [4, 4, 5, 5]: score 2 never used)
    assert rfm.score([1] * 6 + [2, 3, 4, 5]).tolist() == [1] * 6 + [2, 3, 4, 5]
    s = rfm.score(np.arange(1000))
    assert np.bincount(s)[1:].tolist() == [200] * 5
    assert rfm.score([7, 7, 7]).tolist() == [1, 1, 1] and rfm.score([]).tolist() == []


def test_frequency_scores_use_every_score_when_most_buy_once():
    # CDNOW-like: half one-time buyers, a long tail of repeat purchase days
    rng = np.random.default_rng(0)
    freq = np.where(rng.random(20_000) < 0.5, 1, 1 + rng.geometric(0.3, 20_000))
    f = rfm.score(freq)
    assert set(f) == {1, 2, 3, 4, 5}
    assert (f[freq == 1] == 1).all() and (f[freq == freq.max()] == 5).all()
    # monotone: a higher value never gets a lower score
    order = np.argsort(freq, kind="stable")
    assert (np.diff(f[order]) >= 0).all()
    for v in np.unique(freq):
        assert len(set(f[freq == v])) == 1     # ties share a score


def test_recency_score_on_the_stage_thresholds():
    th = stages.Thresholds(new_days=30, at_risk_days=60, lapsed_days=120)
    days = [0, 30, 31, 60, 61, 120, 121, 240, 241, 1000]
    assert rfm.recency_score(days, th).tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    # absolute: the same recency gets the same score whatever the rest of the base does
    assert rfm.recency_score([45], th)[0] == 4
    # a given new threshold above the at-risk one cannot make an at-risk customer R = 5
    wide = stages.Thresholds(new_days=90, at_risk_days=60, lapsed_days=120)
    assert rfm.recency_score([61, 60], wide).tolist() == [3, 5]


@pytest.fixture
def tx():
    rng = np.random.default_rng(11)
    n = 2000
    return pd.DataFrame({
        "customer_id": pd.array(rng.integers(0, 300, n).astype(str), dtype="string"),
        "timestamp": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
        "amount": np.round(rng.gamma(2, 15, n), 2),
    })


def test_rfm_independent_of_row_order(tx):
    a = rfm.rfm_table(tx, as_of="2020-12-31")
    for seed in range(3):
        shuffled = tx.sample(frac=1, random_state=seed).reset_index(drop=True)
        b = rfm.rfm_table(shuffled, as_of="2020-12-31")
        pd.testing.assert_frame_equal(a, b)
        assert a.attrs["thresholds"] == b.attrs["thresholds"]
    pd.testing.assert_series_equal(rfm.assign_segments(a), rfm.assign_segments(
        rfm.rfm_table(tx.iloc[::-1], as_of="2020-12-31")))


def test_rfm_table_hand_computed():
    tx = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "c"],
                       "timestamp": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-03-01",
                                                    "2020-02-01", "2020-04-01"]),
                       "amount": [10.0, 5.0, 20.0, 7.0, 1.0]})
    th = stages.Thresholds(new_days=10, at_risk_days=30, lapsed_days=60)
    t = rfm.rfm_table(tx, as_of="2020-04-10", thresholds=th)
    assert t.loc["a", ["recency_days", "frequency", "monetary", "days_since_first"]].tolist() == \
        [40, 2, 35.0, 100]
    assert t.loc["c", "recency_days"] == 9
    # frequency 1, 1, 2: two distinct values -> 1 and 5
    assert t.loc["a", "F"] == 5 and t.loc["b", "F"] == 1 and t.loc["c", "F"] == 1
    # recency 40 (within 60: at risk), 69 (within 120: lapsed), 9 (within 10)
    assert t.loc["c", "R"] == 5 and t.loc["a", "R"] == 3 and t.loc["b", "R"] == 2
    assert t.loc["a", "rfm"] == "355"      # M: 1, 7, 35 -> 1, 3, 5
    assert t.attrs["thresholds"] == th
    seg = rfm.assign_segments(t)
    assert seg.astype(str).to_dict() == {"a": "can't lose", "b": "hibernating", "c": "new"}
    with pytest.raises(MissingColumnsError):
        rfm.rfm_table(tx.drop(columns="amount"), as_of="2020-04-10", thresholds=th)
    with pytest.raises(ParameterError):
        rfm.rfm_table(stages.histories(tx, date="2020-04-10", lapsed_days=0), as_of="2020-04-10")


def test_every_score_combination_gets_one_segment():
    grid = pd.DataFrame(list(itertools.product(range(1, 6), repeat=3)), columns=["R", "F", "M"])
    grid["days_since_first"] = 100
    seg = rfm.assign_segments(grid, new_days=30)
    assert seg.notna().all() and len(seg) == 125
    look = dict(zip(map(tuple, grid[["R", "F", "M"]].to_numpy()), seg.astype(str)))
    assert look[(5, 5, 5)] == "champions" and look[(4, 4, 1)] == "champions"
    assert look[(4, 3, 1)] == "loyal"
    assert look[(5, 1, 5)] == "potential loyalists" and look[(4, 2, 1)] == "potential loyalists"
    assert look[(3, 5, 5)] == "can't lose" and look[(2, 4, 4)] == "can't lose"
    assert look[(1, 5, 5)] == "lost"            # lapsed more than twice the threshold
    assert look[(3, 5, 1)] == "at risk" and look[(3, 1, 1)] == "at risk"
    assert look[(2, 3, 5)] == "hibernating" and look[(2, 5, 1)] == "hibernating"
    assert look[(1, 1, 5)] == "lost"
    # no lapsed (R <= 2) or at-risk (R = 3) score combination is a champion, loyal or new
    for (r, f, m), s in look.items():
        if r <= 3:
            assert s in {"can't lose", "at risk", "hibernating", "lost"}, (r, f, m, s)
    assert set(seg.astype(str)) == set(rfm.SEGMENTS) - {"new"}
    grid["days_since_first"] = 30
    assert (rfm.assign_segments(grid, new_days=30) == "new").all()
    assert set(report.PLAYBOOK) == set(rfm.SEGMENTS)
    assert [s for s, _ in report.SEGMENT_RULES] == list(rfm.RULE_ORDER)
    assert list(report.rule_table().index) == list(rfm.RULE_ORDER)
    with pytest.raises(ParameterError):
        rfm.assign_segments(grid)               # no thresholds in attrs, no new_days


def test_segment_and_stage_tell_one_story():
    # a random base with customers acquired all year: every customer's RFM segment agrees
    # with her lifecycle stage at the same date and thresholds
    rng = np.random.default_rng(4)
    n = 6000
    tx = pd.DataFrame({
        "customer_id": rng.integers(0, 1500, n).astype(str),
        "timestamp": pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 730, n), "D"),
        "amount": np.round(rng.gamma(2, 15, n), 2)})
    th = stages.derive_thresholds(tx, as_of="2020-12-31")
    st = stages.customer_stages(tx, date="2020-12-31", thresholds=th)["stage"].astype(str)
    t = rfm.rfm_table(tx, as_of="2020-12-31", thresholds=th)
    seg = rfm.assign_segments(t).astype(str).reindex(st.index)
    assert ((seg == "new") == (st == "new")).all() and (seg == "new").sum() > 10
    active = st.isin(["one-time buyer", "active repeat", "loyal/VIP", "reactivated"])
    assert seg[active].isin(["champions", "loyal", "potential loyalists"]).all()
    assert seg[st == "at risk"].isin(["at risk", "can't lose"]).all()
    assert seg[st == "lapsed"].isin(["can't lose", "hibernating", "lost"]).all()
    assert not st[seg == "champions"].isin(["lapsed", "at risk"]).any()
    assert set(t["F"]) == set(t["M"]) == {1, 2, 3, 4, 5}


def test_score_ranges_table():
    t = pd.DataFrame({"recency_days": [1, 50, 300], "frequency": [1, 1, 4], "monetary": [5.0, 9.0, 80.0],
                      "R": [5, 4, 1], "F": [1, 1, 5], "M": [1, 3, 5]})
    r = rfm.score_ranges(t)
    assert list(r.index) == [1, 2, 3, 4, 5]
    assert r.loc[1, ("F", "customers")] == 2 and r.loc[5, ("F", "max")] == 4
    assert np.isnan(r.loc[2, ("F", "customers")]) and r.loc[3, ("M", "min")] == 9.0


def test_segment_table_shares(tx):
    t = rfm.rfm_table(tx, as_of="2020-12-31")
    seg = rfm.assign_segments(t)
    clv = pd.Series(np.linspace(0, 1, len(t)), index=t.index)
    table = rfm.segment_table(t, seg, clv)
    assert table["customers"].sum() == len(t)
    assert table["revenue_share"].sum() == pytest.approx(1)
    assert table["clv_share"].sum() == pytest.approx(1)
    assert table["revenue"].sum() == pytest.approx(tx["amount"].sum())
    assert list(table.index) == list(rfm.SEGMENTS)


def test_actions_weigh_expected_value():
    seg = pd.Series(["can't lose", "can't lose", "at risk", "lost", "lost", "champions"],
                    index=list("abcdef"), dtype="category")
    clv = pd.Series([0.49, 80.0, 10.0, 50.0, np.nan, 0.01], index=list("abcdef"))
    act = rfm.assign_actions(seg, clv, threshold=10.0).astype(str)
    # worth cents: no call; worth more than the threshold: a call; at the threshold: an offer
    assert act.to_dict() == {"a": "automated reminder", "b": "personal outreach",
                             "c": "win-back offer", "d": "win-back offer", "e": "suppress",
                             "f": "reward"}
    # without values nobody gets a costly action
    assert set(rfm.assign_actions(seg, None, None).astype(str)) == {
        "automated reminder", "suppress", "reward"}
    t = rfm.action_table(act.astype("category"), clv)
    assert list(t.index) == list(rfm.ACTIONS)
    assert t.loc["personal outreach", "customers"] == 1 and t.loc["personal outreach", "clv"] == 80.0
    assert t.loc["automated reminder", "max_clv"] == 0.49 and t["customers"].sum() == 6
    assert t.loc["win-back offer", "clv"] == 60.0 and t.loc["onboard", "customers"] == 0
    assert t["clv_share"].sum() == pytest.approx(1)
    assert set(rfm.SEGMENT_ACTIONS) == set(rfm.SEGMENTS)
    assert {a for pair in rfm.SEGMENT_ACTIONS.values() for a in pair} == set(rfm.ACTIONS)
    assert set(report.ACTION_TEXT) == set(rfm.ACTIONS)


def test_action_value_threshold():
    clv = pd.Series(np.arange(101, dtype=float))
    assert rfm.action_value_threshold(clv) == (90.0, "quantile")
    assert rfm.action_value_threshold(clv, quantile=0.5) == (50.0, "quantile")
    assert rfm.action_value_threshold(clv, value=25) == (25.0, "parameter")
    assert rfm.action_value_threshold(None) == (None, "no value")
    with pytest.raises(ParameterError):
        rfm.action_value_threshold(clv, value=-1)
    with pytest.raises(ParameterError):
        rfm.action_value_threshold(clv, quantile=1.0)


def test_active_customers_the_model_holds_lost_get_the_at_risk_actions():
    seg = pd.Series(["champions", "champions", "loyal", "lost", "new"], index=list("abcde"))
    clv = pd.Series([50.0, 50.0, 1.0, 50.0, 1.0], index=list("abcde"))
    p_alive = pd.Series([0.9, 0.04, 0.3, 0.01, 0.49], index=list("abcde"))
    act = rfm.assign_actions(seg, clv, 10.0, p_alive).astype(str)
    # a champion the model holds 96 % gone is not told "no discounts needed"
    assert act.to_dict() == {"a": "reward", "b": "win-back offer", "c": "automated reminder",
                             "d": "win-back offer", "e": "automated reminder"}
    assert rfm.assign_actions(seg, clv, 10.0).astype(str).tolist() == [
        "reward", "reward", "keep close", "win-back offer", "onboard"]
