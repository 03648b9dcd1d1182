"""The data contract on the engine (``Engine.load_transactions``): the clean table stays
lazy in DuckDB, the record is that of :func:`clm_lib.io.load_transactions`; every answer
here is written by hand. The same cases on Spark are in ``tests/test_spark_parity.py``."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import (
    ClmError,
    DataContractError,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
)
from clm_lib.io import load_transactions
from clm_lib.io.parse import java_pattern
from clm_lib.reduce import get_engine

AS_OF = "2024-03-31"

# One row per rule, in the order the loader applies them (first reason wins).
MESSY = [
    # id, date, dollars, order, qty             expected fate
    ("007", "2024-01-05", "10.5", "o1", "1"),    # used
    ("007", "2024-01-05", "10.5", "o1", "1"),    # duplicate order_id (exact repeat)
    ("007", "2024-02-01 14:30", "0", "", "2"),   # used, zero amount warning
    (" 42 ", "2024-01-10", "7.25", "", "x"),     # used (id stripped), non-numeric quantity
    ("42", "2024-01-10", "7.25", "", "x"),       # used: identical to the row above once stripped
    ("", "2024-01-11", "3", "", "1"),            # missing customer_id
    ("NA", "", "3", "", "1"),                    # missing customer_id (first reason only)
    ("9", "", "3", "", "1"),                     # missing timestamp
    ("9", "31/01/2024", "3", "", "1"),           # unparseable timestamp
    ("9", "2024-01-12", "", "", "1"),            # missing amount
    ("9", "2024-01-12", "abc", "", "1"),         # non-numeric amount
    ("9", "2024-01-12", "inf", "", "1"),         # non-numeric amount (infinite)
    ("9", "2024-04-01", "3", "", "1"),           # timestamp after as_of
    ("9", "2024-03-31 23:59", "3", "", ""),      # used (as_of is a whole day), missing quantity
    ("9", "2024-01-13", "-4", "", "1"),          # negative amount
    ("00100", "2024-02-29", "12", "o2", "1"),    # used
    ("\xa0501\u3000", "2024-03-01\xa0", "\xa08", "", "1"),  # used: Unicode spaces stripped
    ("\tn/a\xa0", "2024-03-01", "8", "", "1"),  # missing customer_id (no-break space too)
]
EXPECTED_DROPS = {
    "missing customer_id": 3, "missing timestamp": 1, "unparseable timestamp": 1,
    "missing amount": 1, "non-numeric amount": 2, "timestamp after as_of": 1,
    "negative amount (return/cancellation)": 1, "duplicate order_id": 1,
}
EXPECTED_WARNINGS = {
    "identical rows kept (no order_id to tell duplicates)": 1,
    "missing quantity (kept, value NaN)": 1,
    "non-numeric quantity (kept, value NaN)": 2,
    "zero amount (kept as purchase, not a spend observation)": 1,
}
COLUMNS = {"id": "customer_id", "date": "timestamp", "dollars": "amount",
           "order": "order_id", "qty": "quantity"}
# the clean rows, sorted by customer (as text) and time
CLEAN = pd.DataFrame({
    "customer_id": ["00100", "007", "007", "42", "42", "501", "9"],
    "timestamp": pd.to_datetime(["2024-02-29 00:00", "2024-01-05 00:00", "2024-02-01 14:30",
                                 "2024-01-10 00:00", "2024-01-10 00:00", "2024-03-01 00:00",
                                 "2024-03-31 23:59"]),
    "amount": [12.0, 10.5, 0.0, 7.25, 7.25, 8.0, 3.0],
    "order_id": ["o2", "o1", None, None, None, None, None],
    "quantity": [1.0, 1.0, 2.0, np.nan, np.nan, 1.0, np.nan],
})


@pytest.fixture(scope="module")
def duck():
    return get_engine()


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    d = tmp_path_factory.mktemp("messy")
    df = pd.DataFrame(MESSY, columns=["id", "date", "dollars", "order", "qty"])
    df.to_csv(d / "messy.csv", index=False)
    return df, d / "messy.csv"


def _sorted(df) -> pd.DataFrame:
    out = df[list(CLEAN.columns)].sort_values(["customer_id", "timestamp"], kind="stable",
                                              ignore_index=True)
    out["order_id"] = out["order_id"].astype(object).where(out["order_id"].notna(), None)
    return out


def test_messy_csv_record_and_rows(messy, duck):
    _, path = messy
    table, dq = duck.load_transactions(str(path), COLUMNS, as_of=AS_OF)
    assert dq.rows_in == len(MESSY)
    assert dq.dropped == EXPECTED_DROPS
    assert dq.warnings == EXPECTED_WARNINGS
    assert dq.rows_used == len(CLEAN)
    assert dq.notes[0].startswith("Order lines: rows sharing an order_id are the lines of one "
                                  "order")
    assert dq.orders == len(CLEAN)  # o1 and o2 have one line each (o1's repeat dropped)
    pd.testing.assert_frame_equal(_sorted(duck.to_pandas(table)), CLEAN, check_dtype=False)
    # the loader into pandas gives the same record and rows, sorted with ties in file order
    frame, dq2 = load_transactions(path, COLUMNS, as_of=AS_OF)
    assert dq2.to_dict() == dq.to_dict()
    pd.testing.assert_frame_equal(_sorted(frame), CLEAN, check_dtype=False)


def test_parquet_and_dataframe_sources(duck, tmp_path):
    """Typed sources: numeric ids lose no zeros they never had; NaN amounts are missing."""
    df = pd.DataFrame({"customer_id": [1, 2, 2, 3, None],
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-05-01",
                                                    None, "2024-01-03"]),
                       "amount": [1.0, np.nan, 2.0, 3.0, 4.0]})
    df.to_parquet(tmp_path / "typed.parquet", coerce_timestamps="us")
    for source in (str(tmp_path / "typed.parquet"), df):
        table, dq = duck.load_transactions(source, as_of=AS_OF)
        assert dq.dropped == {"missing customer_id": 1, "missing timestamp": 1,
                              "missing amount": 1, "timestamp after as_of": 1}
        assert duck.to_pandas(table)["customer_id"].tolist() == ["1"]


def test_nanosecond_parquet_is_read(duck, tmp_path):
    """pandas writes nanoseconds by default; DuckDB reads them (Spark refuses, with a
    message saying what to do: see the Spark parity tests)."""
    df = pd.DataFrame({"customer_id": ["a"], "timestamp": pd.to_datetime(["2024-01-01"]),
                       "amount": [1.0]})
    df.to_parquet(tmp_path / "ns.parquet")
    assert duck.load_transactions(str(tmp_path / "ns.parquet"))[1].rows_used == 1


def test_aware_timestamps_converted_to_utc_or_tz(duck, tmp_path):
    df = pd.DataFrame({"customer_id": ["a", "a", "b"],
                       "timestamp": ["2024-01-01T00:30:00+01:00", "2024-01-02T10:00:00Z",
                                     "2024-03-31T23:30:00-02:00"],
                       "amount": ["1", "2", "3"]})
    df.to_csv(tmp_path / "aware.csv", index=False)
    table, dq = duck.load_transactions(str(tmp_path / "aware.csv"), as_of=AS_OF)
    got = duck.to_pandas(table).sort_values(["customer_id", "timestamp"], ignore_index=True)
    assert dq.dropped == {"timestamp after as_of": 1}  # 2024-04-01 01:30 UTC
    assert got["timestamp"].tolist() == [pd.Timestamp("2023-12-31 23:30"),
                                         pd.Timestamp("2024-01-02 10:00")]
    table, dq = duck.load_transactions(str(tmp_path / "aware.csv"), as_of=AS_OF,
                                       tz="America/Sao_Paulo")
    got = duck.to_pandas(table).sort_values(["customer_id", "timestamp"], ignore_index=True)
    assert dq.rows_used == 3  # 2024-03-31 22:30 in Sao Paulo (UTC-3)
    assert got["timestamp"].tolist() == [pd.Timestamp("2023-12-31 20:30"),
                                         pd.Timestamp("2024-01-02 07:00"),
                                         pd.Timestamp("2024-03-31 22:30")]


@pytest.mark.parametrize("fmt,texts,days", [
    ("%d/%m/%Y", ["05/01/2024", "1/2/2024", "31/13/2024"], ["2024-01-05", "2024-02-01"]),
    ("%Y%m%d", ["20240105", "20240201", "2024-01-05"], ["2024-01-05", "2024-02-01"])])
def test_date_format(duck, tmp_path, fmt, texts, days):
    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "timestamp": texts, "amount": ["1", "2", "3"]})
    df.to_csv(tmp_path / "fmt.csv", index=False)
    table, dq = duck.load_transactions(str(tmp_path / "fmt.csv"), date_format=fmt)
    assert dq.dropped == {"unparseable timestamp": 1}
    assert dq.notes[2] == f"Dates were read with the format {fmt!r}."
    got = duck.to_pandas(table).sort_values("customer_id", ignore_index=True)
    assert got["timestamp"].tolist() == [pd.Timestamp(d) for d in days]


def test_java_pattern():
    assert java_pattern("%Y%m%d") == "yyyyMMdd"
    assert java_pattern("%d/%m/%Y %H:%M") == "d/M/yyyy H:m"
    assert java_pattern("%Y-%m-%dT%H:%M:%S") == "yyyy-M-d'T'H:m:s"
    with pytest.raises(ParameterError, match="%U"):
        java_pattern("%Y week %U")


def test_errors_name_column_reason_and_rows(duck, tmp_path):
    def write(rows, name):
        pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]).to_csv(
            tmp_path / name, index=False)
        return str(tmp_path / name)

    path = write([("", "2024-01-01", "1"), ("NA", "2024-01-02", "2")], "noid.csv")
    with pytest.raises(DataContractError, match="every customer_id is missing") as e:
        duck.load_transactions(path)
    assert (e.value.column, e.value.n_rows, e.value.rows) == ("customer_id", 2, [0, 1])
    path = write([("a", "2024-01-01", "$1"), ("b", "2024-01-02", "$2")], "dollars.csv")
    with pytest.raises(DataContractError, match="no amount is a number") as e:
        duck.load_transactions(path)
    assert (e.value.column, e.value.n_rows) == ("amount", 2)
    path = write([("a", "01/02/2024", "1")], "dates.csv")
    with pytest.raises(DataContractError, match="pass date_format") as e:
        duck.load_transactions(path)
    assert e.value.column == "timestamp"
    path = write([("a", "2024-01-01", "1"), ("a", "2024-01-02", "-1")], "neg.csv")
    with pytest.raises(DataContractError, match="negative_amounts='error'") as e:
        duck.load_transactions(path, negative_amounts="error")
    assert (e.value.n_rows, e.value.rows) == (1, [1])
    table, dq = duck.load_transactions(path, negative_amounts="net")
    assert dq.rows_used == 2 and dq.warnings[
        "negative amount kept (return/cancellation, nets against spend)"] == 1
    path = write([("a", "2024-05-01", "1")], "late.csv")
    with pytest.raises(InsufficientDataError, match="timestamp after as_of: 1"):
        duck.load_transactions(path, as_of=AS_OF)
    with pytest.raises(MissingColumnsError, match="dollars"):
        duck.load_transactions(path, {"dollars": "amount"})
    with pytest.raises(ParameterError, match="negative_amounts"):
        duck.load_transactions(path, negative_amounts="keep")
    with pytest.raises(ParameterError, match="unknown time zone"):
        duck.load_transactions(path, tz="Mars/Olympus")


def test_mixed_aware_and_naive_is_refused(duck, tmp_path):
    pd.DataFrame({"customer_id": ["a", "a", "b"],
                  "timestamp": ["2024-01-01 10:00+01:00", "2024-01-02 10:00", "2024-01-03Z"],
                  "amount": ["1", "2", "3"]}).to_csv(tmp_path / "mixed.csv", index=False)
    with pytest.raises(DataContractError, match="mix of time-zone-aware and naive") as e:
        duck.load_transactions(str(tmp_path / "mixed.csv"))
    # "2024-01-03Z" has no time of day: naive text, as pandas reads it
    assert (e.value.column, e.value.n_rows, e.value.rows) == ("timestamp", 2, [1, 2])


def test_order_lines_of_two_customers(duck, tmp_path):
    pd.DataFrame({"customer_id": ["a", "b", "b"], "timestamp": ["2024-01-01"] * 3,
                  "amount": ["1", "2", "3"], "order_id": ["o1", "o1", "o2"]}).to_csv(
        tmp_path / "orders.csv", index=False)
    with pytest.raises(DataContractError, match="lines of one order have different") as e:
        duck.load_transactions(str(tmp_path / "orders.csv"))
    assert (e.value.column, e.value.n_rows, e.value.rows) == ("order_id", 2, [0, 1])


def test_summary_of_a_path_reports_the_contract(messy, duck):
    """A path given to summary_data is loaded with the contract; the record rides along."""
    _, path = messy
    got = duck.summary_data(str(path), as_of=AS_OF, columns=COLUMNS, time_unit="day")
    # the reduction, not the loader, leaves out the purchase after as_of here
    loader_drops = {k: v for k, v in EXPECTED_DROPS.items() if k != "timestamp after as_of"}
    assert got.attrs["data_quality"]["dropped"] == loader_drops
    assert got.attrs["dropped"] == {"purchase days after as_of": 1}
    assert got.index.tolist() == ["00100", "007", "42", "501", "9"]
    assert got.loc["007", ["frequency", "recency", "monetary_value"]].tolist() == [1, 27.0, 0.0]
    assert got.loc["9", "T"] == 0.0


def test_engine_errors_carry_rows_too(duck):
    """The engine runs without row numbers and numbers the rows only to name them."""
    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "timestamp": ["x", "y", "z"],
                       "amount": [1.0, 2.0, 3.0]})
    with pytest.raises(DataContractError, match="no value could be read") as e:
        duck.load_transactions(df)
    assert e.value.rows == [0, 1, 2]


def test_clm_error_for_unreadable_source(duck, tmp_path):
    with pytest.raises(FileNotFoundError):
        duck.load_transactions(str(tmp_path / "nothing.csv"))
    with pytest.raises(ParameterError, match="source must be"):
        duck.load_transactions(42)
    assert issubclass(DataContractError, ClmError)
