"""The transactions data contract in the engines: same drops, counts and clean rows as pandas.

Each engine (DuckDB, Spark local[2]) loads the same messy CSV and Parquet files as
:func:`clm_lib.io.pandas_contract.load_transactions`; the data-quality records (rows in, used, dropped
by reason, warnings) and the clean rows must be identical.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_lib.io.pandas_contract import load_transactions
from clm_lib.reduce.engine import get_engine
from clm_lib.io.parse import java_pattern
from clm_lib.exceptions import ClmError, DataContractError, InsufficientDataError, MissingColumnsError, ParameterError

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

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
COLUMNS = {"id": "customer_id", "date": "timestamp", "dollars": "amount",
           "order": "order_id", "qty": "quantity"}


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    d = tmp_path_factory.mktemp("messy")
    df = pd.DataFrame(MESSY, columns=["id", "date", "dollars", "order", "qty"])
    df.to_csv(d / "messy.csv", index=False)
    return df, d / "messy.csv"


def _clean(df) -> pd.DataFrame:
    cols = ["customer_id", "timestamp", "amount", "order_id", "quantity"]
    out = df[[c for c in cols if c in df.columns]].copy()
    out["customer_id"] = out["customer_id"].astype(str)
    out["timestamp"] = pd.to_datetime(out["timestamp"]).astype("datetime64[ns]")
    if "order_id" in out:
        out["order_id"] = out["order_id"].astype(object).where(out["order_id"].notna(), None)
    return out.sort_values(["customer_id", "timestamp", "amount", "quantity"],
                           ignore_index=True, na_position="first")


def test_messy_csv_same_record_and_rows_as_pandas(messy, engine):
    _, path = messy
    ref, ref_dq = load_transactions(path, COLUMNS, as_of=AS_OF)
    table, dq = engine.load_transactions(str(path), COLUMNS, as_of=AS_OF)
    assert dq.rows_in == ref_dq.rows_in == len(MESSY)
    assert dq.dropped == ref_dq.dropped == EXPECTED_DROPS
    assert dq.rows_used == ref_dq.rows_used == len(MESSY) - sum(EXPECTED_DROPS.values())
    dq.check()
    # every warning as the pandas record, the identical rows kept without an order id included
    assert "identical rows kept (no order_id to tell duplicates)" in ref_dq.warnings
    assert dq.warnings == ref_dq.warnings
    got = engine.to_pandas(table)
    pd.testing.assert_frame_equal(_clean(got), _clean(ref), check_dtype=False)


def test_parquet_and_dataframe_sources(messy, engine, tmp_path):
    """Typed sources: numeric ids lose no zeros they never had; NaN amounts are missing."""
    df = pd.DataFrame({"customer_id": [1, 2, 2, 3, None],
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-05-01",
                                                    None, "2024-01-03"]),
                       "amount": [1.0, np.nan, 2.0, 3.0, 4.0]})
    df.to_parquet(tmp_path / "typed.parquet", coerce_timestamps="us")
    ref, ref_dq = load_transactions(tmp_path / "typed.parquet", as_of=AS_OF)
    for source in (str(tmp_path / "typed.parquet"), df):
        table, dq = engine.load_transactions(source, as_of=AS_OF)
        assert dq.dropped == ref_dq.dropped == {"missing customer_id": 1, "missing timestamp": 1,
                                                "missing amount": 1, "timestamp after as_of": 1}
        got = engine.to_pandas(table)
        assert got["customer_id"].tolist() == ref["customer_id"].tolist() == ["1"]


def test_nanosecond_parquet_on_spark_is_a_clear_error(engine, tmp_path):
    """pandas writes nanoseconds by default, which Spark refuses: say what to do."""
    df = pd.DataFrame({"customer_id": ["a"], "timestamp": pd.to_datetime(["2024-01-01"]),
                       "amount": [1.0]})
    df.to_parquet(tmp_path / "ns.parquet")
    if engine.name == "duckdb":
        assert engine.load_transactions(str(tmp_path / "ns.parquet"))[1].rows_used == 1
    else:
        with pytest.raises(ClmError, match="coerce_timestamps='us'"):
            engine.load_transactions(str(tmp_path / "ns.parquet"))


def test_aware_timestamps_converted_to_utc(engine, tmp_path):
    df = pd.DataFrame({"customer_id": ["a", "a", "b"],
                       "timestamp": ["2024-01-01T00:30:00+01:00", "2024-01-02T10:00:00Z",
                                     "2024-03-31T23:30:00-02:00"],
                       "amount": ["1", "2", "3"]})
    df.to_csv(tmp_path / "aware.csv", index=False)
    ref, ref_dq = load_transactions(tmp_path / "aware.csv", as_of=AS_OF)
    table, dq = engine.load_transactions(str(tmp_path / "aware.csv"), as_of=AS_OF)
    got = engine.to_pandas(table).sort_values(["customer_id", "timestamp"], ignore_index=True)
    assert dq.dropped == ref_dq.dropped == {"timestamp after as_of": 1}  # 2024-04-01 01:30 UTC
    assert got["timestamp"].astype("datetime64[ns]").tolist() == ref["timestamp"].tolist() == [
        pd.Timestamp("2023-12-31 23:30"), pd.Timestamp("2024-01-02 10:00")]


@pytest.mark.parametrize("fmt,texts", [("%d/%m/%Y", ["05/01/2024", "1/2/2024", "31/13/2024"]),
                                       ("%Y%m%d", ["20240105", "20240201", "2024-01-05"])])
def test_date_format(engine, tmp_path, fmt, texts):
    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "timestamp": texts, "amount": ["1", "2", "3"]})
    df.to_csv(tmp_path / "fmt.csv", index=False)
    ref, ref_dq = load_transactions(tmp_path / "fmt.csv", date_format=fmt)
    table, dq = engine.load_transactions(str(tmp_path / "fmt.csv"), date_format=fmt)
    assert dq.dropped == ref_dq.dropped == {"unparseable timestamp": 1}
    got = engine.to_pandas(table).sort_values("customer_id", ignore_index=True)
    assert got["timestamp"].astype("datetime64[ns]").tolist() == ref["timestamp"].tolist()


def test_java_pattern():
    assert java_pattern("%Y%m%d") == "yyyyMMdd"
    assert java_pattern("%d/%m/%Y %H:%M") == "d/M/yyyy H:m"
    assert java_pattern("%Y-%m-%dT%H:%M:%S") == "yyyy-M-d'T'H:m:s"
    with pytest.raises(ParameterError, match="%U"):
        java_pattern("%Y week %U")


def test_errors_name_column_reason_and_rows(engine, tmp_path):
    def write(rows, name):
        pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]).to_csv(
            tmp_path / name, index=False)
        return str(tmp_path / name)

    path = write([("", "2024-01-01", "1"), ("NA", "2024-01-02", "2")], "noid.csv")
    with pytest.raises(DataContractError, match="every customer_id is missing") as e:
        engine.load_transactions(path)
    assert e.value.column == "customer_id" and e.value.n_rows == 2
    path = write([("a", "2024-01-01", "$1"), ("b", "2024-01-02", "$2")], "dollars.csv")
    with pytest.raises(DataContractError, match="no amount is a number") as e:
        engine.load_transactions(path)
    assert e.value.column == "amount" and e.value.n_rows == 2
    path = write([("a", "01/02/2024", "1")], "dates.csv")
    with pytest.raises(DataContractError, match="pass date_format") as e:
        engine.load_transactions(path)
    assert e.value.column == "timestamp"
    path = write([("a", "2024-01-01", "1"), ("a", "2024-01-02", "-1")], "neg.csv")
    with pytest.raises(DataContractError, match="negative_amounts='error'") as e:
        engine.load_transactions(path, negative_amounts="error")
    assert e.value.n_rows == 1
    table, dq = engine.load_transactions(path, negative_amounts="net")
    assert dq.rows_used == 2 and dq.warnings[
        "negative amount kept (return/cancellation, nets against spend)"] == 1
    path = write([("a", "2024-05-01", "1")], "late.csv")
    with pytest.raises(InsufficientDataError, match="timestamp after as_of: 1"):
        engine.load_transactions(path, as_of=AS_OF)
    with pytest.raises(MissingColumnsError, match="dollars"):
        engine.load_transactions(path, {"dollars": "amount"})
    with pytest.raises(ParameterError, match="negative_amounts"):
        engine.load_transactions(path, negative_amounts="keep")


def test_conflicting_order_ids(engine, tmp_path):
    pd.DataFrame({"customer_id": ["a", "a", "b"], "timestamp": ["2024-01-01"] * 3,
                  "amount": ["1", "2", "3"], "order_id": ["o1", "o1", "o2"]}).to_csv(
        tmp_path / "orders.csv", index=False)
    with pytest.raises(DataContractError, match="same order id") as e:
        engine.load_transactions(str(tmp_path / "orders.csv"))
    assert e.value.column == "order_id" and e.value.n_rows == 2


def test_summary_of_a_path_reports_the_contract(messy, engine):
    """A path given to summary_data is loaded with the contract; the record rides along."""
    _, path = messy
    got = engine.summary_data(str(path), as_of=AS_OF, columns=COLUMNS, time_unit="day")
    ref = get_engine("pandas").summary_data(str(path), as_of=AS_OF, columns=COLUMNS,
                                            time_unit="day")
    # the reduction, not the loader, leaves out the purchase after as_of here
    loader_drops = {k: v for k, v in EXPECTED_DROPS.items() if k != "timestamp after as_of"}
    assert got.attrs["data_quality"]["dropped"] == ref.attrs["data_quality"]["dropped"] == loader_drops
    assert got.attrs["dropped"] == ref.attrs["dropped"] == {"purchase days after as_of": 1}
    pd.testing.assert_frame_equal(got.drop(columns="first_purchase"),
                                  ref.drop(columns="first_purchase"), check_index_type=False)
