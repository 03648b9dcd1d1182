"""Plausibility and identity checks of the contract: amounts and tenures beyond a stated
range, dates before a stated earliest day, ids that differ only as numbers. Counts by hand."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from clm_lib.config import CDNOW_MASTER
from clm_lib.exceptions import DataContractError, ParameterError
from clm_lib.io import load_leads, load_subscriptions, load_transactions

BEYOND = "amount beyond the plausible range (|amount| > 1e9)"
WARN_IDS = "customer_id spelled as the same number as another id (e.g. 1 and 1.0; kept apart)"
MERGED_IDS = "customer_id merged into the most frequent spelling of the same number"


def tx(ids, amounts=None, dates=None, **more) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame({"customer_id": ids,
                         "timestamp": dates or [f"2024-01-{i + 1:02d}" for i in range(n)],
                         "amount": amounts or ["1"] * n, **more})


# --------------------------------------------------------------------------- amounts
def test_huge_amount_dropped_by_default_and_counted(engine):
    df = tx(["a", "a", "b", "b"], ["10", "1e308", "-2e9", "1e9"])
    table, dq = engine.load_transactions(df, negative_amounts="net")
    assert dq.dropped == {BEYOND: 2}
    got = engine.to_pandas(table)
    assert got["amount"].sum() == 10 + 1e9 and math.isfinite(got["amount"].sum())
    # the range comes before the sign: -7 is beyond, -3 negative
    _, dq = engine.load_transactions(tx(["a", "a", "b", "b"], ["1", "10", "-7", "-3"]),
                                     max_amount=5)
    assert dq.dropped == {"amount beyond the plausible range (|amount| > 5)": 2,
                          "negative amount (return/cancellation)": 1}


def test_order_sums_stay_finite():
    """A line beyond the range is dropped before the lines are summed, so no order sum
    can reach inf; a product of unit price and quantity that overflows is beyond too."""
    df = tx(["a", "a", "a"], ["5", "1e308", "1e308"], dates=["2024-01-01"] * 3,
            order_id=["o", "o", "o"])
    out, dq = load_transactions(df)
    assert out["amount"].tolist() == [5.0] and dq.dropped == {BEYOND: 2}
    df = pd.DataFrame({"customer_id": ["a", "a"], "timestamp": ["2024-01-01"] * 2,
                       "quantity": ["1e200", "2"], "unit_price": ["1e200", "3"]})
    out, dq = load_transactions(df)
    assert out["amount"].tolist() == [6.0] and dq.dropped == {BEYOND: 1}


@pytest.mark.parametrize("bad", ["abc", -1, 0, float("inf"), float("nan"), 1e301, True, None])
def test_max_amount_must_be_a_bound(bad):
    with pytest.raises(ParameterError, match="max_amount"):
        load_transactions(tx(["a"]), max_amount=bad)


# --------------------------------------------------------------------------- dates
def test_year_1850_dropped_by_default(engine):
    df = tx(["a", "b", "c"], dates=["1850-03-01", "1899-12-31 23:59", "1900-01-01"])
    table, dq = engine.load_transactions(df)
    assert dq.dropped == {"timestamp before 1900-01-01 (earliest_date)": 2}
    assert engine.to_pandas(table)["customer_id"].tolist() == ["c"]
    _, dq = engine.load_transactions(df, earliest_date=None)
    assert dq.dropped == {} and dq.rows_used == 3
    _, dq = engine.load_transactions(df, earliest_date="1875-01-01")
    assert dq.dropped == {"timestamp before 1875-01-01 (earliest_date)": 1}
    with pytest.raises(ParameterError, match="earliest_date"):
        engine.load_transactions(df, earliest_date="not a date")


def test_earliest_date_of_subscriptions_and_leads():
    subs = pd.DataFrame({"customer_id": ["a", "b"], "start": ["1850-01-01", "2020-01-01"],
                         "end": ["2020-01-01", ""]})
    out, dq = load_subscriptions(subs)
    assert dq.dropped == {"start before 1900-01-01 (earliest_date)": 1}
    assert out["customer_id"].tolist() == ["b"]
    leads = pd.DataFrame({"lead_id": ["1", "2"], "created": ["1850-01-01", "2020-01-01"],
                          "source": ["web", "web"], "converted": ["", ""]})
    out, dq = load_leads(leads)
    assert dq.dropped == {"created before 1900-01-01 (earliest_date)": 1}
    assert out["lead_id"].tolist() == ["2"]


# --------------------------------------------------------------------------- tenure
def test_huge_tenure_dropped_with_max_tenure(engine):
    snap = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                         "tenure": ["12", "1e300", "-1", "1200"],
                         "churned": ["yes", "no", "no", "no"]})
    table, dq = engine.load_subscriptions(snap, max_tenure=1200)
    assert dq.dropped == {"tenure beyond the plausible range (tenure > 1200)": 1,
                          "negative tenure": 1}
    assert sorted(engine.to_pandas(table)["customer_id"]) == ["a", "d"]
    # no limit by default (the periods of the data are not known here)
    _, dq = engine.load_subscriptions(snap)
    assert dq.dropped == {"negative tenure": 1}
    with pytest.raises(ParameterError, match="max_tenure"):
        engine.load_subscriptions(snap, max_tenure=-5)


# --------------------------------------------------------------------------- id spellings
def test_ids_one_and_one_point_zero_warn_by_default(engine):
    df = tx(["41", "41.0", "41", "2", "0093", "93", "x1", "X1"])
    table, dq = engine.load_transactions(df)
    assert dq.warnings == {WARN_IDS: 5}   # 41, 41.0, 41, 0093, 93: kept apart
    note = next(n for n in dq.notes if n.startswith("Ids that differ only as numbers"))
    assert "4 values of customer_id" in note
    # how they differ is said, the ids themselves never (the record reaches the reports)
    assert "a decimal part" in note and "leading zeros" in note
    assert not any(i in note for i in ("41", "0093", "93"))
    assert engine.to_pandas(table)["customer_id"].nunique() == 7


def test_ids_merge_into_the_most_frequent_spelling(engine):
    df = tx(["1", "1.0", "1", "2", "007", "7", "7", "+3", "03", "x1", "X1"])
    table, dq = engine.load_transactions(df, id_numbers="merge")
    # 1.0 -> 1 (1 is more frequent), 007 -> 7, 03 -> +3 (a tie: '+3' sorts first)
    assert dq.warnings == {MERGED_IDS: 3}
    got = engine.to_pandas(table)["customer_id"].value_counts().to_dict()
    assert got == {"1": 3, "7": 3, "+3": 2, "2": 1, "x1": 1, "X1": 1}


def test_ids_error(engine):
    with pytest.raises(DataContractError, match="differ only as numbers") as e:
        engine.load_transactions(tx(["41", "41.0", "2"]), id_numbers="error")
    assert e.value.column == "customer_id" and e.value.n_rows == 2 and e.value.rows == [0, 1]
    assert "a decimal part" in str(e.value) and "41" not in str(e.value)
    with pytest.raises(ParameterError, match="id_numbers"):
        engine.load_transactions(tx(["1"]), id_numbers="join")


def test_padded_ids_that_collide_with_nothing_are_left_alone():
    """``1e3`` reads as the number 1000 but is not a plain decimal id: not merged."""
    out, dq = load_transactions(tx(["00001", "00002", "00002", "abc", "1e3", "1000"]),
                                id_numbers="merge")
    assert dq.warnings == {}
    assert sorted(out["customer_id"].unique()) == ["00001", "00002", "1000", "1e3", "abc"]


def test_cdnow_ids_unchanged():
    out, dq = load_transactions(CDNOW_MASTER, {"date": "timestamp", "dollars": "amount",
                                               "cds": "quantity"})
    assert out["customer_id"].iloc[0] == "00001" and out["customer_id"].nunique() == 23570
    assert not any("number" in w for w in dq.warnings)


def test_id_spellings_in_subscriptions_and_leads():
    subs = pd.DataFrame({"customer_id": ["1", "01", "2"], "start": ["2020-01-01"] * 3,
                         "end": ["2020-02-01", "2020-03-01", ""]})
    out, dq = load_subscriptions(subs, id_numbers="merge")
    assert out["customer_id"].tolist() == ["01", "01", "2"]   # a tie: '01' sorts first
    assert dq.warnings[MERGED_IDS] == 1
    assert dq.warnings["customer with more than one subscription (each kept as its own spell)"] == 2
    _, dq = load_subscriptions(subs)
    assert dq.warnings[WARN_IDS] == 2
    leads = pd.DataFrame({"lead_id": ["1", "1.0"], "created": ["2020-01-01"] * 2,
                          "source": ["web"] * 2, "converted": ["", ""],
                          "customer_id": ["5", "05"]})
    out, dq = load_leads(leads)
    assert dq.warnings == {WARN_IDS: 2}            # lead ids are not compared
    assert out["lead_id"].tolist() == ["1", "1.0"]
