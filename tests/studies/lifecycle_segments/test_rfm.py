"""RFM scores (order independent, ties shared), segment rules and the segment table."""
import itertools

import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import MissingColumnsError
from clm_lib.studies.lifecycle_segments import report, rfm


def test_score_hand_computed_and_ties():
    # ranks (min): 1, 2, 2, 4, 5 of n = 5 -> floor(5 * (rank - 1) / 5) + 1
    assert rfm.score([10, 20, 20, 30, 40]).tolist() == [1, 2, 2, 4, 5]
    assert rfm.score([10, 20, 20, 30, 40], higher_is_better=False).tolist() == [5, 3, 3, 2, 1]
    # 6 of 10 tied at the bottom all score 1; the next value starts at its position
    assert rfm.score([1] * 6 + [2, 3, 4, 5]).tolist() == [1] * 6 + [4, 4, 5, 5]
    s = rfm.score(np.arange(1000))
    assert np.bincount(s)[1:].tolist() == [200] * 5


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
    pd.testing.assert_series_equal(rfm.assign_segments(a), rfm.assign_segments(
        rfm.rfm_table(tx.iloc[::-1], as_of="2020-12-31")))


def test_rfm_table_hand_computed():
    tx = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "c"],
                       "timestamp": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-03-01",
                                                    "2020-02-01", "2020-04-01"]),
                       "amount": [10.0, 5.0, 20.0, 7.0, 1.0]})
    t = rfm.rfm_table(tx, as_of="2020-04-10")
    assert t.loc["a", ["recency_days", "frequency", "monetary"]].tolist() == [40, 2, 35.0]
    assert t.loc["c", "recency_days"] == 9
    assert t.loc["a", "F"] == 4 and t.loc["b", "F"] == 1 and t.loc["c", "F"] == 1
    assert t.loc["c", "R"] == 4 and t.loc["a", "R"] == 2 and t.loc["b", "R"] == 1
    assert t.loc["a", "rfm"] == "244"      # M: rank 3 of 3 -> floor(5 * 2 / 3) + 1 = 4
    with pytest.raises(MissingColumnsError):
        rfm.rfm_table(tx.drop(columns="amount"), as_of="2020-04-10")


def test_every_score_combination_gets_one_segment():
    grid = pd.DataFrame(list(itertools.product(range(1, 6), repeat=3)), columns=["R", "F", "M"])
    seg = rfm.assign_segments(grid)
    assert seg.notna().all() and len(seg) == 125
    look = dict(zip(map(tuple, grid.to_numpy()), seg.astype(str)))
    assert look[(5, 5, 5)] == "champions"
    assert look[(3, 4, 1)] == "loyal"
    assert look[(1, 5, 5)] == "can't lose"
    assert look[(1, 5, 1)] == "at risk"
    assert look[(2, 3, 5)] == "at risk"
    assert look[(5, 1, 5)] == "new"
    assert look[(4, 2, 1)] == "potential loyalists"
    assert look[(3, 1, 1)] == "hibernating"
    assert look[(2, 2, 2)] == "hibernating"
    assert look[(1, 1, 5)] == "lost"
    assert set(seg.astype(str)) == set(rfm.SEGMENTS)
    assert set(report.PLAYBOOK) == set(rfm.SEGMENTS)
    assert [s for s, _ in report.SEGMENT_RULES] == list(rfm.RULE_ORDER)
    assert list(report.rule_table().index) == list(rfm.RULE_ORDER)


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
