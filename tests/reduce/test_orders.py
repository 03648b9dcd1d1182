"""Orders and the overview tables on a hand-built log whose answers are written here."""
from __future__ import annotations

import pandas as pd
import pytest

from clm_lib.exceptions import MissingColumnsError, ParameterError
from clm_lib.reduce import get_engine

JAN = 2020 * 12


@pytest.fixture(scope="module")
def tx():
    # a: order o1 in two lines (09:00 and 10:00) and a free row without an order id;
    # b: a row without an order id and order o2 on the same day; c: one row, no channel
    df = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "c"],
        "timestamp": pd.to_datetime(["2020-01-05 10:00", "2020-01-05 09:00", "2020-01-20",
                                     "2020-02-03", "2020-02-03 12:00", "2020-03-10"],
                                    format="ISO8601"),
        "amount": [10.0, 5.0, 0.0, 7.0, 3.0, 4.0],
        "order_id": ["o1", "o1", None, None, "o2", None],
        "channel": ["x", "x", "y", "y", "y", None],
    })
    df["customer_id"] = df["customer_id"].astype("string")
    return df


def test_overview_tables_by_hand(tx):
    out = get_engine().overview_tables(tx, period="month", segment="channel")
    cust = out["customers"]
    assert cust.index.tolist() == ["a", "b", "c"]
    assert cust["orders"].tolist() == [2, 2, 1]
    assert cust["paid_orders"].tolist() == [1, 2, 1]
    assert cust["zero_orders"].tolist() == [1, 0, 0]
    assert cust["revenue"].tolist() == [15.0, 10.0, 4.0]
    assert cust["first_order"].tolist() == [pd.Timestamp("2020-01-05 09:00"),
                                            pd.Timestamp("2020-02-03"),
                                            pd.Timestamp("2020-03-10")]
    assert cust["last_order"].tolist() == [pd.Timestamp("2020-01-20"),
                                           pd.Timestamp("2020-02-03 12:00"),
                                           pd.Timestamp("2020-03-10")]
    assert out["periods"].to_dict("list") == {
        "period": [JAN, JAN + 1, JAN + 2], "active_customers": [1, 1, 1],
        "new_customers": [1, 1, 1], "orders": [2, 2, 1], "revenue": [15.0, 10.0, 4.0],
        "revenue_new": [15.0, 10.0, 4.0]}
    assert out["gaps"].to_dict("list") == {"days": [15], "gaps": [1]}
    seg = out["segments"].sort_values("segment", na_position="last", ignore_index=True)
    assert seg["segment"].tolist()[:2] == ["x", "y"] and pd.isna(seg["segment"].iloc[2])
    assert seg["customers"].tolist() == [1, 2, 1]
    assert seg["orders"].tolist() == [2, 3, 1]      # rows, as the overview counts them
    assert seg["revenue"].tolist() == [15.0, 10.0, 4.0]
    assert seg["paid_orders"].tolist() == [2, 2, 1]


def test_without_order_ids_every_row_is_an_order(tx):
    out = get_engine().overview_tables(tx.drop(columns="order_id"), period="quarter")
    assert out["customers"]["orders"].tolist() == [3, 2, 1]
    assert out["periods"]["period"].tolist() == [2020 * 4]
    assert out["periods"]["orders"].tolist() == [6]
    assert "segments" not in out


def test_overview_errors(tx):
    with pytest.raises(ParameterError, match="period"):
        get_engine().overview_tables(tx, period="year")
    with pytest.raises(MissingColumnsError, match="region"):
        get_engine().overview_tables(tx, segment="region")
