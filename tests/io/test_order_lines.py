"""Order lines are orders: an Online-Retail-shaped log (invoices, stock codes, quantity,
unit price, a "C" cancellation, an exact repeat, a quarter of the rows without a customer)
through the contract on each engine. Every count here is written by hand from ``LOG``."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import DataContractError, MissingColumnsError, ParameterError
from clm_lib.io import load_transactions, validate_file

# invoice, stock code, quantity, date, unit price, customer         line amount, fate
LOG = [
    ("536365", "85123A", "6", "2010-12-01 08:26", "2.55", "17850"),   # 15.30
    ("536365", "71053", "6", "2010-12-01 08:26", "3.39", "17850"),    # 20.34
    ("536365", "85123A", "2", "2010-12-01 08:26", "2.55", "17850"),   # 5.10, same product
    ("536365", "71053", "6", "2010-12-01 08:26", "3.39", "17850"),    # exact repeat: dropped
    ("536366", "22633", "6", "2010-12-01 08:28", "1.85", "17850"),    # 11.10
    ("536366", "22632", "6", "2010-12-02 08:30", "1.85", "17850"),    # 11.10, a day later
    ("536367", "84879", "32", "2010-12-01 08:34", "1.69", "13047"),   # 54.08
    ("536368", "22960", "6", "2010-12-01 08:34", "4.25", "13047"),    # 25.50
    ("C536379", "D", "-1", "2010-12-01 09:41", "27.50", "14527"),     # cancellation, -27.50
    ("536370", "22728", "24", "2010-12-02 08:45", "3.75", "12583"),   # 90.00
    ("536371", "22727", "12", "2010-12-03 09:00", "2.95", "12583"),   # 35.40
    ("536372", "22726", "4", "2010-12-05 09:00", "3.75", "12583"),    # 15.00
    ("536380", "22961", "24", "2010-12-01 09:41", "1.45", ""),        # no customer id
    ("536381", "22139", "1", "2010-12-01 09:45", "4.95", ""),         # no customer id
    ("536382", "22139", "2", "2010-12-01 09:45", "4.95", ""),         # no customer id
    ("536383", "22139", "3", "2010-12-01 09:45", "4.95", ""),         # no customer id
]
HEADER = ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
MAPPING = {"InvoiceNo": "order_id", "StockCode": "product", "Quantity": "quantity",
           "InvoiceDate": "timestamp", "UnitPrice": "unit_price", "CustomerID": "customer_id"}
# the orders, by hand: amount (sum of quantity x unit price), quantity, lines, timestamp
ORDERS = {
    "536365": (40.74, 14.0, 3, "2010-12-01 08:26", "17850"),
    "536366": (22.20, 12.0, 2, "2010-12-01 08:28", "17850"),
    "536367": (54.08, 32.0, 1, "2010-12-01 08:34", "13047"),
    "536368": (25.50, 6.0, 1, "2010-12-01 08:34", "13047"),
    "536370": (90.00, 24.0, 1, "2010-12-02 08:45", "12583"),
    "536371": (35.40, 12.0, 1, "2010-12-03 09:00", "12583"),
    "536372": (15.00, 4.0, 1, "2010-12-05 09:00", "12583"),
}
ORDER_TIMES = "lines of one order with different timestamps (order dated at its earliest line)"
CANCELLATION = "cancellation (order id starts with 'C')"


@pytest.fixture(scope="module")
def retail(tmp_path_factory):
    path = tmp_path_factory.mktemp("retail") / "online_retail.csv"
    pd.DataFrame(LOG, columns=HEADER).to_csv(path, index=False)
    return str(path)


def _orders(engine, table) -> pd.DataFrame:
    return engine.to_pandas(table).sort_values("order_id", ignore_index=True)


def test_order_lines_are_orders(engine, retail):
    table, dq = engine.load_transactions(retail, MAPPING, cancellation_prefix="C")
    assert dq.rows_in == 16
    assert dq.dropped == {"missing customer_id": 4, CANCELLATION: 1, "duplicate order_id": 1}
    assert dq.rows_used == 10 == dq.rows_in - dq.n_dropped   # lines
    assert dq.orders == 7 and dq.to_dict()["orders"] == 7
    assert dq.warnings == {ORDER_TIMES: 2}
    assert "10 lines form 7 orders." in dq.notes
    got = _orders(engine, table)
    assert "product" not in got.columns and "unit_price" not in got.columns
    assert got["order_id"].tolist() == list(ORDERS)
    expected = pd.DataFrame(list(ORDERS.values()),
                            columns=["amount", "quantity", "lines", "timestamp", "customer_id"])
    np.testing.assert_allclose(got["amount"], expected["amount"], rtol=1e-12)
    assert got["quantity"].tolist() == expected["quantity"].tolist()
    assert got["lines"].tolist() == expected["lines"].tolist()
    assert got["timestamp"].tolist() == pd.to_datetime(expected["timestamp"]).tolist()
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()


def test_frequency_counts_orders_not_lines(engine, retail):
    """17850's second order has a line a day later: as lines, 17850 would have bought on
    two days (frequency 1); as orders, both orders are on 2010-12-01 (frequency 0)."""
    table, _ = engine.load_transactions(retail, MAPPING, cancellation_prefix="C")
    got = engine.summary_data(table, as_of="2010-12-05", time_unit="day")
    assert got.loc["17850", "frequency"] == 0
    assert got.loc["13047", "frequency"] == 0
    assert got.loc["12583", ["frequency", "recency"]].tolist() == [2, 3.0]
    assert got.loc["12583", "monetary_value"] == pytest.approx((35.40 + 15.00) / 2)
    assert sorted(got.index) == ["12583", "13047", "17850"]


def test_cancellations_follow_the_negative_policy(engine, retail):
    table, dq = engine.load_transactions(retail, MAPPING, cancellation_prefix="C",
                                         negative_amounts="net")
    assert dq.dropped == {"missing customer_id": 4, "duplicate order_id": 1}
    assert dq.orders == 8 and dq.rows_used == 11
    got = _orders(engine, table).set_index("order_id")
    assert got.loc["C536379", "amount"] == -27.50
    with pytest.raises(DataContractError, match="cancellations .* not allowed") as e:
        engine.load_transactions(retail, MAPPING, cancellation_prefix="C",
                                 negative_amounts="error")
    assert (e.value.column, e.value.n_rows, e.value.rows) == ("order_id", 1, [8])
    # without the rule the cancellation is a negative line, as before
    _, dq = engine.load_transactions(retail, MAPPING)
    assert dq.dropped["negative amount (return/cancellation)"] == 1


def test_validate_counts_the_same(retail):
    dq = validate_file(retail, columns=MAPPING, cancellation_prefix="C")
    assert (dq.rows_in, dq.rows_used, dq.orders) == (16, 10, 7)


def test_cancellation_whatever_its_sign():
    """A "C" line with a positive amount: dropped under "drop", negative under "net"."""
    df = pd.DataFrame({"customer_id": ["a", "a", "b"], "order_id": ["1", "C2", "3"],
                       "timestamp": ["2024-01-01", "2024-01-02", "2024-01-03"],
                       "amount": ["10", "4", "-2"]})
    out, dq = load_transactions(df, cancellation_prefix="C")
    assert dq.dropped == {CANCELLATION: 1, "negative amount (return/cancellation)": 1}
    assert out["order_id"].tolist() == ["1"]
    out, dq = load_transactions(df, cancellation_prefix="C", negative_amounts="net")
    assert out.set_index("order_id")["amount"].to_dict() == {"1": 10.0, "C2": -4.0, "3": -2.0}
    assert dq.warnings["negative amount kept (return/cancellation, nets against spend)"] == 2


def test_cancellation_prefix_needs_order_ids():
    df = pd.DataFrame({"customer_id": ["a"], "timestamp": ["2024-01-01"], "amount": ["1"]})
    with pytest.raises(ParameterError, match="cancellation_prefix"):
        load_transactions(df, cancellation_prefix="C")
    for bad in ("", 3):
        with pytest.raises(ParameterError, match="cancellation_prefix"):
            load_transactions(df, cancellation_prefix=bad)


def test_unit_price_times_quantity_is_the_amount():
    df = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c"],
                       "timestamp": ["2024-01-01"] * 5,
                       "quantity": ["2", "x", "3", "", "1"],
                       "unit_price": ["1.5", "2", "abc", "4", ""]})
    out, dq = load_transactions(df)
    assert dq.dropped == {"non-numeric quantity": 1, "non-numeric unit_price": 1,
                          "missing quantity": 1, "missing unit_price": 1}
    assert out[["customer_id", "amount", "quantity"]].values.tolist() == [["a", 3.0, 2.0]]
    with pytest.raises(MissingColumnsError, match="unit_price with quantity") as e:
        load_transactions(df.drop(columns="quantity"))
    assert e.value.missing == ["quantity"]
    with pytest.raises(MissingColumnsError) as e:
        load_transactions(df.drop(columns="unit_price"))
    assert e.value.missing == ["amount"]


def test_same_product_twice_in_an_order_is_ordinary():
    """The issue's 9,543 rows: one product twice in one invoice with other quantities."""
    df = pd.DataFrame({"customer_id": ["a", "a"], "order_id": ["o", "o"],
                       "product": ["p", "p"], "timestamp": ["2024-01-01"] * 2,
                       "quantity": ["1", "3"], "unit_price": ["2", "2"]})
    out, dq = load_transactions(df)
    assert out[["amount", "quantity", "lines"]].values.tolist() == [[8.0, 4.0, 2]]
    assert dq.dropped == {} and dq.orders == 1
