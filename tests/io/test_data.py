"""The data contract through the clm_lib.io loaders: reading, drop reasons, errors, time
zones, durations, the bundled data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_lib.config import CDNOW_MASTER, CDNOW_SAMPLE, TELCO_CHURN
from clm_lib.io.schemas import DurationsSchema, TransactionsSchema
from clm_lib.io import (
    load_subscriptions,
    load_transactions,
    read_table,
    validate_file,
)
from clm_lib.reduce import get_engine


def subscription_durations(subs, **kwargs):
    return get_engine().subscription_durations(subs, **kwargs)
from clm_lib.exceptions import (
    DataContractError,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
)

CDNOW_COLUMNS = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}
TELCO_COLUMNS = {"customerID": "customer_id", "Churn": "churned"}
MONTH_DAYS = 365.25 / 12


def tx(**cols) -> pd.DataFrame:
    return pd.DataFrame(cols)


def assert_invariant(dq):
    assert dq.rows_in == dq.rows_used + sum(dq.dropped.values())
    dq.check()


# --------------------------------------------------------------------------- reading / ids
def test_ids_stay_strings_from_csv(tmp_path, tiny_transactions):
    path = tmp_path / "t.csv"
    tiny_transactions.to_csv(path, index=False)
    raw = read_table(path)
    assert raw["customer_id"].tolist()[0] == "00123"
    out, dq = load_transactions(path)
    assert out["customer_id"].dtype == "string"
    assert set(out["customer_id"]) == {"00123", "007", "42"}
    assert dq.source == "t.csv"
    assert_invariant(dq)


def test_read_table_columns_needed(tmp_path, tiny_transactions):
    path = tmp_path / "t.csv"
    tiny_transactions.to_csv(path, index=False)
    assert list(read_table(path, ["amount"]).columns) == ["amount"]
    with pytest.raises(MissingColumnsError) as exc:
        read_table(path, ["amount", "dollars"])
    assert exc.value.missing == ["dollars"]
    assert "customer_id" in exc.value.found


def test_read_table_compressed_and_whitespace_txt(tmp_path, tiny_transactions):
    gz = tmp_path / "t.csv.gz"
    tiny_transactions.to_csv(gz, index=False)
    assert read_table(gz)["customer_id"].iloc[0] == "00123"
    txt = tmp_path / "raw.txt"
    txt.write_text("customer_id   date  dollars\n00001  1997-01-01  11.77\n00002  1997-01-12  12.00\n")
    raw = read_table(txt)
    assert raw.columns.tolist() == ["customer_id", "date", "dollars"]
    assert raw["customer_id"].tolist() == ["00001", "00002"]


def test_unsupported_extension(tmp_path):
    path = tmp_path / "t.xlsx"
    path.write_text("x")
    with pytest.raises(ParameterError, match="unsupported file type"):
        read_table(path)


def test_numeric_and_float_ids_from_dataframe():
    out, _ = load_transactions(tx(customer_id=[3, 1], timestamp=["2020-01-01"] * 2, amount=[1.0, 2.0]))
    assert out["customer_id"].tolist() == ["1", "3"]
    out, dq = load_transactions(tx(customer_id=[3.0, np.nan], timestamp=["2020-01-01"] * 2,
                                   amount=[1.0, 2.0]))
    assert out["customer_id"].tolist() == ["3"]
    assert dq.dropped == {"missing customer_id": 1}


def test_parquet_round_trip(tmp_path, tiny_transactions):
    canon, _ = load_transactions(tiny_transactions)
    path = tmp_path / "t.parquet"
    canon.to_parquet(path, index=False)
    back, dq = load_transactions(path)
    pd.testing.assert_frame_equal(back, canon)
    assert "00123" in set(back["customer_id"])
    assert dq.source == "t.parquet"
    # integer ids stored as numbers in Parquet become text without ".0"
    ints = pd.DataFrame({"customer_id": [5, 6], "timestamp": pd.to_datetime(["2020-01-01"] * 2),
                         "amount": [1.0, 2.0]})
    ints.to_parquet(tmp_path / "i.pq", index=False)
    back, _ = load_transactions(tmp_path / "i.pq")
    assert back["customer_id"].tolist() == ["5", "6"]


def test_input_frame_not_mutated(tiny_transactions):
    before = tiny_transactions.copy()
    load_transactions(tiny_transactions)
    pd.testing.assert_frame_equal(tiny_transactions, before)


def test_output_contract_sorted_and_typed(tiny_transactions):
    out, dq = load_transactions(tiny_transactions)
    assert list(out.columns[:3]) == ["customer_id", "timestamp", "amount"]
    assert out["timestamp"].dtype == "datetime64[ns]"
    assert out["amount"].dtype == "float64"
    assert out["customer_id"].tolist() == ["00123", "00123", "00123", "007", "42"]
    assert out["timestamp"].iloc[:3].tolist() == list(pd.to_datetime(
        ["2020-01-01", "2020-01-05", "2020-03-01"]))
    assert out.index.tolist() == list(range(5))
    TransactionsSchema.validate(out)
    assert dq.warnings == {"zero amount (kept as purchase, not a spend observation)": 1}
    assert dq.rows_used == 5


def test_sort_is_stable_for_equal_keys():
    df = tx(customer_id=["b", "a", "a", "a"], timestamp=["2020-01-01"] * 4,
            amount=["1", "2", "3", "4"])
    out, _ = load_transactions(df)
    assert out["amount"].tolist() == [2.0, 3.0, 4.0, 1.0]


# --------------------------------------------------------------------------- mapping / columns
def test_mapping_naming_absent_column():
    df = tx(cust=["1"], date=["2020-01-01"], dollars=["1"])
    with pytest.raises(MissingColumnsError) as exc:
        load_transactions(df, {"cust": "customer_id", "day": "timestamp", "dollars": "amount"})
    assert exc.value.missing == ["day"]
    assert "day" in str(exc.value) and "date" in str(exc.value)


def test_missing_required_column_names_missing_and_found():
    with pytest.raises(MissingColumnsError) as exc:
        load_transactions(tx(customer_id=["1"], date=["2020-01-01"], amount=["1"]))
    assert exc.value.missing == ["timestamp"]
    assert exc.value.found == ["customer_id", "date", "amount"]


def test_mapping_collision_is_an_error():
    df = tx(customer_id=["1"], timestamp=["2020-01-01"], amount=["1"], dollars=["2"])
    with pytest.raises(DataContractError, match="amount"):
        load_transactions(df, {"dollars": "amount"})


# --------------------------------------------------------------------------- drop reasons
@pytest.mark.parametrize("column, value, reason", [
    ("customer_id", "", "missing customer_id"),
    ("customer_id", "  ", "missing customer_id"),
    ("timestamp", None, "missing timestamp"),
    ("timestamp", "2020-13-45", "unparseable timestamp"),
    ("amount", None, "missing amount"),
    ("amount", "NA", "missing amount"),
    ("amount", "ten", "non-numeric amount"),
    ("amount", "inf", "non-numeric amount"),
    ("amount", "-3", "negative amount (return/cancellation)"),
])
def test_each_drop_reason(column, value, reason):
    df = tx(customer_id=["1", "2", "3"], timestamp=["2020-01-01", "2020-01-02", "2020-01-03"],
            amount=["1", "2", "3"])
    df.loc[1, column] = value
    out, dq = load_transactions(df)
    assert dq.dropped == {reason: 1}
    assert dq.rows_in == 3 and dq.rows_used == 2
    assert "2" not in set(out["customer_id"])
    assert_invariant(dq)


def test_one_reason_per_row_first_applies():
    df = tx(customer_id=["", "2", "3"], timestamp=["bad", "2020-01-02", "2020-01-03"],
            amount=["x", "2", "3"])
    _, dq = load_transactions(df)
    assert dq.dropped == {"missing customer_id": 1}
    assert_invariant(dq)


def test_after_as_of_date_keeps_whole_day():
    df = tx(customer_id=["1", "1", "1"],
            timestamp=["2020-06-30", "2020-06-30 23:59", "2020-07-01 00:00"], amount=["1"] * 3)
    out, dq = load_transactions(df, as_of="2020-06-30")
    assert dq.dropped == {"timestamp after as_of": 1}
    assert any("2020-06-30 (that whole day included)" in n for n in dq.notes)
    assert len(out) == 2
    out, dq = load_transactions(df, as_of="2020-06-30 12:00")
    assert dq.dropped == {"timestamp after as_of": 2}
    assert_invariant(dq)


def test_negative_amount_policies():
    df = tx(customer_id=["1", "1", "2"], timestamp=["2020-01-01", "2020-01-02", "2020-01-03"],
            amount=["10", "-4", "5"])
    out, dq = load_transactions(df, negative_amounts="drop")
    assert dq.dropped == {"negative amount (return/cancellation)": 1}
    assert out["amount"].sum() == 15
    out, dq = load_transactions(df, negative_amounts="net")
    assert dq.dropped == {} and dq.rows_used == 3
    assert out.groupby("customer_id")["amount"].sum().to_dict() == {"1": 6.0, "2": 5.0}
    assert any("net" in n for n in dq.notes)
    assert dq.warnings["negative amount kept (return/cancellation, nets against spend)"] == 1
    with pytest.raises(DataContractError) as exc:
        load_transactions(df, negative_amounts="error")
    assert exc.value.column == "amount" and exc.value.n_rows == 1 and exc.value.rows == [1]
    assert "-4" not in str(exc.value)
    with pytest.raises(ParameterError):
        load_transactions(df, negative_amounts="ignore")


def test_zero_amount_kept_with_warning():
    df = tx(customer_id=["1", "1"], timestamp=["2020-01-01", "2020-01-02"], amount=["0", "0.00"])
    out, dq = load_transactions(df)
    assert len(out) == 2 and dq.dropped == {}
    assert dq.warnings == {"zero amount (kept as purchase, not a spend observation)": 2}
    assert any("Zero amounts" in n for n in dq.notes)


def test_identical_rows_without_order_id_are_kept():
    df = tx(customer_id=["1", "1", "1", "2"], timestamp=["2020-01-01"] * 4,
            amount=["5", "5", "5", "5"])
    out, dq = load_transactions(df)
    assert len(out) == 4 and dq.dropped == {}
    assert dq.warnings["identical rows kept (no order_id to tell duplicates)"] == 2
    assert any("Duplicates" in n for n in dq.notes)


def test_duplicate_order_id_dropped():
    df = tx(customer_id=["1", "1", "2"], timestamp=["2020-01-01"] * 3, amount=["5", "5", "5"],
            order_id=["A1", "A1", "B7"])
    out, dq = load_transactions(df)
    assert dq.dropped == {"duplicate order_id": 1}
    assert out["order_id"].tolist() == ["A1", "B7"]
    assert_invariant(dq)


def test_order_lines_with_products_form_one_order():
    df = tx(customer_id=["1", "1"], timestamp=["2020-01-01"] * 2, amount=["5", "5"],
            order_id=["A1", "A1"], product=["cd", "dvd"])
    out, dq = load_transactions(df)
    assert dq.dropped == {} and (dq.rows_used, dq.orders) == (2, 1)
    assert out[["order_id", "amount", "lines"]].values.tolist() == [["A1", 10.0, 2]]
    assert "product" not in out.columns


def test_order_lines_with_different_values_are_one_order():
    """Once an error ("the same order id appears with different values"): ordinary lines."""
    df = tx(customer_id=["1", "2", "1"], timestamp=["2020-01-01"] * 3,
            amount=["5", "5", "99.99"], order_id=["A1", "B7", "A1"])
    out, dq = load_transactions(df)
    assert out.set_index("order_id")["amount"].to_dict() == {"A1": 104.99, "B7": 5.0}
    assert dq.orders == 2 and dq.rows_used == 3


def test_order_lines_of_two_customers_are_an_error():
    df = tx(customer_id=["1", "2", "1"], timestamp=["2020-01-01"] * 3,
            amount=["5", "5", "99.99"], order_id=["A1", "A1", "B7"])
    with pytest.raises(DataContractError, match="lines of one order have different customer") \
            as exc:
        load_transactions(df)
    assert exc.value.column == "order_id" and exc.value.n_rows == 2 and exc.value.rows == [0, 1]
    assert "A1" not in str(exc.value) and "99.99" not in str(exc.value)


def test_quantity_and_other_columns():
    df = tx(customer_id=["1", "2", "3"], timestamp=["2020-01-01"] * 3, amount=["5", "5", "5"],
            quantity=["2", "two", ""], store_id=["01", "02", "03"], zip=["01234", "10001", "99"],
            weight=["1.5", "", "2"], amount_paid=["1", "2", "3"], userId=["1", "2", "3"])
    out, dq = load_transactions(df)
    assert out["quantity"].tolist()[:1] == [2.0] and out["quantity"].isna().sum() == 2
    assert dq.warnings["non-numeric quantity (kept, value NaN)"] == 1
    assert dq.warnings["missing quantity (kept, value NaN)"] == 1
    assert out["store_id"].tolist() == ["01", "02", "03"]  # *_id stays text
    assert out["zip"].tolist() == ["01234", "10001", "99"]  # leading zeros stay text
    assert out["weight"].dtype == "float64"
    assert out["amount_paid"].dtype == "int64"
    assert out["userId"].tolist() == ["1", "2", "3"]
    assert dq.warnings["blank values in numeric column 'weight' (kept, value NaN)"] == 1
    assert dq.rows_used == 3


# --------------------------------------------------------------------------- errors
def test_entirely_unparseable_dates_is_an_error():
    df = tx(customer_id=["1", "2"], timestamp=["31/01/2020", "15/02/2020"], amount=["1", "2"])
    with pytest.raises(DataContractError) as exc:
        load_transactions(df)
    assert exc.value.column == "timestamp" and exc.value.n_rows == 2
    assert "date_format" in str(exc.value)
    assert "31/01/2020" not in str(exc.value)


def test_explicit_date_format():
    df = tx(customer_id=["1", "2", "3"], timestamp=["01/02/2020", "13/02/2020", "2020-02-01"],
            amount=["1", "2", "3"])
    out, dq = load_transactions(df, date_format="%d/%m/%Y")
    assert out["timestamp"].tolist() == list(pd.to_datetime(["2020-02-01", "2020-02-13"]))
    assert dq.dropped == {"unparseable timestamp": 1}
    assert any("%d/%m/%Y" in n for n in dq.notes)


def test_non_numeric_amount_column_is_an_error():
    df = tx(customer_id=["1", "2"], timestamp=["2020-01-01"] * 2, amount=["$1,000.00", "$12.50"])
    with pytest.raises(DataContractError) as exc:
        load_transactions(df)
    assert exc.value.column == "amount" and exc.value.n_rows == 2
    assert "$" not in str(exc.value) and "1,000" not in str(exc.value)


@pytest.mark.parametrize("column", ["customer_id", "timestamp", "amount"])
def test_entirely_missing_column_is_an_error(column):
    df = tx(customer_id=["1", "2"], timestamp=["2020-01-01"] * 2, amount=["1", "2"])
    df[column] = ["", None]
    with pytest.raises(DataContractError) as exc:
        load_transactions(df)
    assert exc.value.column == column and exc.value.n_rows == 2


def test_error_rows_capped_at_five_and_values_hidden():
    df = tx(customer_id=[f"secret{i}" for i in range(8)], timestamp=["2020-01-01"] * 8,
            amount=[f"-{i + 1}.37" for i in range(8)])
    with pytest.raises(DataContractError) as exc:
        load_transactions(df, negative_amounts="error")
    msg = str(exc.value)
    assert exc.value.n_rows == 8 and exc.value.rows == [0, 1, 2, 3, 4]
    assert "secret" not in msg and ".37" not in msg


def test_empty_input(tmp_path):
    with pytest.raises(InsufficientDataError):
        load_transactions(tx(customer_id=[], timestamp=[], amount=[]))
    path = tmp_path / "empty.csv"
    path.write_text("customer_id,timestamp,amount\n")
    with pytest.raises(InsufficientDataError):
        load_transactions(path)
    path.write_text("")
    with pytest.raises(InsufficientDataError):
        load_transactions(path)


def test_nothing_left_after_cleaning():
    df = tx(customer_id=["1", "2"], timestamp=["2020-01-01"] * 2, amount=["-1", "-2"])
    with pytest.raises(InsufficientDataError, match="negative amount"):
        load_transactions(df)


def test_bad_source_and_parameters():
    with pytest.raises(ParameterError):
        load_transactions(42)
    with pytest.raises(ParameterError, match="time zone"):
        load_transactions(tx(customer_id=["1"], timestamp=["2020-01-01"], amount=["1"]),
                          tz="Mars/Olympus")


# --------------------------------------------------------------------------- time zones
def test_aware_text_converted_to_utc_then_naive():
    df = tx(customer_id=["1", "2"], timestamp=["2020-01-01T23:30:00+01:00", "2020-01-01 10:00Z"],
            amount=["1", "2"])
    out, dq = load_transactions(df)
    assert out["timestamp"].tolist() == [pd.Timestamp("2020-01-01 22:30"),
                                         pd.Timestamp("2020-01-01 10:00")]
    assert out["timestamp"].dt.tz is None
    assert any("UTC" in n for n in dq.notes)


def test_aware_text_converted_to_given_tz():
    df = tx(customer_id=["1"], timestamp=["2020-07-01T02:00:00+00:00"], amount=["1"])
    out, _ = load_transactions(df, tz="America/New_York")
    assert out["timestamp"].iloc[0] == pd.Timestamp("2020-06-30 22:00")  # EDT = UTC-4


def test_naive_text_kept_as_wall_clock_in_tz():
    df = tx(customer_id=["1"], timestamp=["2020-07-01 02:00"], amount=["1"])
    out, dq = load_transactions(df, tz="America/New_York")
    assert out["timestamp"].iloc[0] == pd.Timestamp("2020-07-01 02:00")
    assert any("America/New_York" in n for n in dq.notes)


def test_aware_datetime_column_and_aware_as_of():
    ts = pd.to_datetime(["2020-01-01 00:30", "2020-01-02 00:30"]).tz_localize("Europe/Paris")
    df = pd.DataFrame({"customer_id": ["1", "2"], "timestamp": ts, "amount": [1.0, 2.0]})
    out, dq = load_transactions(df, as_of=pd.Timestamp("2020-01-01 12:00", tz="UTC"))
    assert out["timestamp"].tolist() == [pd.Timestamp("2019-12-31 23:30")]
    assert dq.dropped == {"timestamp after as_of": 1}


def test_mixed_aware_and_naive_is_an_error():
    df = tx(customer_id=["1", "2"], timestamp=["2020-01-01T10:00+01:00", "2020-01-01T10:00"],
            amount=["1", "2"])
    with pytest.raises(DataContractError) as exc:
        load_transactions(df)
    assert exc.value.rows == [1]


# --------------------------------------------------------------------------- subscriptions: intervals
def test_interval_form(tiny_intervals):
    subs, dq = load_subscriptions(tiny_intervals)
    assert subs["end"].isna().tolist() == [False, True, False]
    assert subs["start"].dtype == "datetime64[ns]" and subs["customer_id"].dtype == "string"
    assert dq.warnings == {}
    assert any("1 active" in n for n in dq.notes)
    assert_invariant(dq)


def test_interval_drop_reasons_and_censoring():
    df = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "f", "", "h", "h"],
        "start": ["2020-01-01", "", "nope", "2020-01-01", "2021-01-01", "2020-02-01",
                  "2020-01-01", "2020-01-01", "2020-01-01"],
        "end": ["2020-12-31", "", "", "soon", "", "2020-01-01", "", "2020-02-01", "2020-02-01"],
    })
    subs, dq = load_subscriptions(df, as_of="2020-06-30")
    assert dq.dropped == {"missing customer_id": 1, "missing start": 1, "unparseable start": 1,
                          "unparseable end": 1, "start after as_of": 1, "end before start": 1,
                          "duplicate subscription row": 1}
    assert subs["customer_id"].tolist() == ["a", "h"]
    assert pd.isna(subs["end"].iloc[0])  # ended after as_of -> active at as_of
    assert dq.warnings["end after as_of (treated as active at as_of, censored)"] == 1
    assert_invariant(dq)


def test_durations_interval_by_hand(tiny_intervals):
    subs, _ = load_subscriptions(tiny_intervals)
    with pytest.raises(ParameterError, match="as_of"):
        subscription_durations(subs)
    d = subscription_durations(subs, as_of="2020-03-31", time_unit="day")
    DurationsSchema.validate(d)
    assert d["duration"].tolist() == [30.0, 90.0, 7.0]
    assert d["event"].tolist() == [True, False, True]
    d = subscription_durations(subs, as_of="2020-03-31", time_unit="month")
    np.testing.assert_allclose(d["duration"], [30 / MONTH_DAYS, 90 / MONTH_DAYS, 7 / MONTH_DAYS])
    d = subscription_durations(subs, as_of="2020-03-31", time_unit="week")
    assert d["duration"].iloc[2] == 1.0
    d = subscription_durations(subs, as_of="2020-03-31", time_unit="year")
    assert d["duration"].iloc[1] == pytest.approx(90 / 365.25)
    # an as_of before c's end censors c at as_of
    d = subscription_durations(subs, as_of="2020-03-05", time_unit="day")
    assert d["duration"].iloc[2] == 4.0 and not d["event"].iloc[2]
    with pytest.raises(ParameterError):
        subscription_durations(subs, as_of="2020-03-31", time_unit="fortnight")


def test_durations_keep_covariates(tiny_intervals):
    df = tiny_intervals.assign(plan=["basic", "pro", "basic"], price=["10", "20", "10"])
    subs, _ = load_subscriptions(df)
    d = subscription_durations(subs, as_of="2020-03-31")
    assert list(d.columns) == ["customer_id", "duration", "event", "plan", "price"]
    assert d["price"].dtype == "int64"


def test_durations_missing_columns():
    with pytest.raises(MissingColumnsError):
        subscription_durations(pd.DataFrame({"customer_id": ["a"], "start": ["2020-01-01"]}))


# --------------------------------------------------------------------------- subscriptions: snapshot
def test_snapshot_form(tiny_snapshot):
    subs, dq = load_subscriptions(tiny_snapshot)
    assert subs["churned"].tolist() == [True, False, False, True]
    assert subs["tenure"].tolist() == [1.0, 12.0, 0.0, 30.0]
    assert subs["customer_id"].tolist() == ["0001", "0002", "0003", "0004"]
    assert dq.warnings == {"zero tenure (kept; no time at risk yet)": 1}
    d = subscription_durations(subs, time_unit="day")  # unit of the data, passed through
    assert d["duration"].tolist() == [1.0, 12.0, 0.0, 30.0]
    assert d["event"].tolist() == [True, False, False, True]


@pytest.mark.parametrize("values, expected", [
    (["Yes", "No"], [True, False]),
    (["TRUE", "false"], [True, False]),
    (["1", "0"], [True, False]),
    ([1, 0], [True, False]),
    ([1.0, 0.0], [True, False]),
    ([True, False], [True, False]),
    (["yes ", " NO"], [True, False]),
])
def test_churn_flag_forms(values, expected):
    df = pd.DataFrame({"customer_id": ["a", "b"], "tenure": [1, 2], "churned": values})
    subs, _ = load_subscriptions(df)
    assert subs["churned"].tolist() == expected


def test_custom_churn_values():
    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "tenure": [1, 2, 3],
                       "churned": ["Churned", "Stayed", "Yes"]})
    subs, dq = load_subscriptions(df, churn_values={"Churned": True, "Stayed": False})
    assert subs["churned"].tolist() == [True, False]
    assert dq.dropped == {"unrecognised churn flag": 1}
    with pytest.raises(DataContractError, match="churn_values"):
        load_subscriptions(df.iloc[:2])
    with pytest.raises(ParameterError):
        load_subscriptions(df, churn_values={"Churned": "yes"})


def test_snapshot_drop_reasons():
    df = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "f", "", "h", "h"],
        "tenure": ["1", "", "abc", "-2", "3", "4", "5", "6", "6"],
        "churned": ["No", "No", "No", "No", "", "maybe", "No", "Yes", "Yes"],
    })
    subs, dq = load_subscriptions(df)
    assert dq.dropped == {"missing customer_id": 1, "missing tenure": 1, "non-numeric tenure": 1,
                          "negative tenure": 1, "missing churn flag": 1,
                          "unrecognised churn flag": 1, "duplicate customer row": 1}
    assert subs["customer_id"].tolist() == ["a", "h"]
    assert_invariant(dq)


def test_snapshot_conflicting_duplicate_is_an_error():
    df = pd.DataFrame({"customer_id": ["a", "b", "a"], "tenure": [1, 2, 7],
                       "churned": ["No", "No", "Yes"]})
    with pytest.raises(DataContractError) as exc:
        load_subscriptions(df)
    assert exc.value.column == "customer_id" and exc.value.rows == [0, 2]


def test_subscriptions_missing_columns():
    with pytest.raises(MissingColumnsError) as exc:
        load_subscriptions(pd.DataFrame({"customer_id": ["a"], "tenure": [1]}))
    assert exc.value.missing == ["churned"]
    with pytest.raises(MissingColumnsError) as exc:
        load_subscriptions(pd.DataFrame({"customer_id": ["a"], "start": ["2020-01-01"]}))
    assert exc.value.missing == ["end"]


def test_numeric_covariate_blanks_are_warnings_not_crashes():
    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "tenure": ["0", "5", "9"],
                       "churned": ["No", "No", "Yes"], "TotalCharges": [" ", "50.5", "90"]})
    subs, dq = load_subscriptions(df)
    assert subs["TotalCharges"].dtype == "float64"
    assert subs["TotalCharges"].isna().sum() == 1
    assert dq.warnings["blank values in numeric column 'TotalCharges' (kept, value NaN)"] == 1
    assert dq.rows_used == 3


# --------------------------------------------------------------------------- validate_file
def test_validate_file(tmp_path, tiny_transactions, tiny_snapshot):
    path = tmp_path / "t.csv"
    tiny_transactions.assign(amount=["1", "x", "3", "4", "5"]).rename(
        columns={"amount": "dollars"}).to_csv(path, index=False)
    dq = validate_file(path, columns={"dollars": "amount"})
    assert dq.to_dict()["dropped"] == {"non-numeric amount": 1}
    assert (dq.rows_in, dq.rows_used) == (5, 4)
    spath = tmp_path / "s.parquet"
    tiny_snapshot.to_parquet(spath, index=False)
    assert validate_file(spath, kind="subscriptions").rows_used == 4
    with pytest.raises(ParameterError):
        validate_file(path, kind="orders")


# --------------------------------------------------------------------------- real data
def test_cdnow_master():
    out, dq = load_transactions(CDNOW_MASTER, CDNOW_COLUMNS)
    assert (dq.rows_in, dq.rows_used, dq.dropped) == (69_659, 69_659, {})
    assert out["customer_id"].nunique() == 23_570
    assert out["customer_id"].iloc[0] == "00001"
    raw = pd.read_csv(CDNOW_MASTER, dtype=str)
    n_zero = int((raw["dollars"].astype(float) == 0).sum())
    assert n_zero == 80
    assert dq.warnings["zero amount (kept as purchase, not a spend observation)"] == n_zero
    assert dq.warnings["identical rows kept (no order_id to tell duplicates)"] == int(
        raw.duplicated().sum())
    assert out["timestamp"].min() == pd.Timestamp("1997-01-01")
    assert out["timestamp"].max() == pd.Timestamp("1998-06-30")
    assert out["amount"].sum() == pytest.approx(raw["dollars"].astype(float).sum())


def test_cdnow_sample():
    out, dq = load_transactions(CDNOW_SAMPLE, CDNOW_COLUMNS)
    assert (dq.rows_in, dq.rows_used) == (6_919, 6_919)
    assert out["customer_id"].nunique() == 2_357
    assert out["master_id"].str.len().eq(5).all()  # zero-padded master ids stay text


def test_telco():
    subs, dq = load_subscriptions(TELCO_CHURN, TELCO_COLUMNS)
    assert (dq.rows_in, dq.rows_used, dq.dropped) == (7_043, 7_043, {})
    assert dq.warnings["blank values in numeric column 'TotalCharges' (kept, value NaN)"] == 11
    assert int(subs["churned"].sum()) == 1_869  # IBM sample: 26.5% churned
    assert subs["TotalCharges"].dtype == "float64"
    assert subs.loc[subs["TotalCharges"].isna(), "tenure"].eq(0).all()
    d = subscription_durations(subs)
    assert len(d) == 7_043 and d["duration"].max() == 72.0
