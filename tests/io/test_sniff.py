"""Guessing the mapping, delimiter, encoding and date format of a file from its head."""
from __future__ import annotations

from pathlib import Path

import pytest

from clm_lib.exceptions import ParameterError
from clm_lib.io.sniff import (
    detect_kind,
    guess_date_format,
    guess_delimiter,
    guess_encoding,
    guess_mapping,
    normalize_delimiter,
    normalize_encoding,
    sniff_file,
    suggest_columns,
)

DATA = Path(__file__).parents[2] / "data"
RETAIL_HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                 "UnitPrice", "CustomerID", "Country"]
RETAIL_ROWS = [
    ["536365", "85123A", "WHITE HANGING HEART", "6", "12/1/2010 8:26", "2.55", "17850",
     "United Kingdom"],
    ["536366", "22633", "HAND WARMER CAFÉ", "6", "12/13/2010 8:28", "1.85", "17850",
     "United Kingdom"],
    ["C536379", "D", "Discount", "-1", "12/1/2010 9:41", "27.5", "14527", "United Kingdom"],
    ["536380", "22961", "JAM MAKING SET", "2", "12/1/2010 9:45", "1.45", "", "France"],
]
RETAIL_MAPPING = {"InvoiceNo": "order_id", "StockCode": "product", "Quantity": "quantity",
                  "InvoiceDate": "timestamp", "UnitPrice": "unit_price",
                  "CustomerID": "customer_id"}


def retail_file(path: Path) -> Path:
    lines = [",".join(RETAIL_HEADER)] + [",".join(r) for r in RETAIL_ROWS]
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path


def test_online_retail_mapping():
    assert guess_mapping(RETAIL_HEADER, RETAIL_ROWS) == RETAIL_MAPPING
    assert detect_kind(RETAIL_HEADER, RETAIL_ROWS) == "transactions"


def test_names_are_compared_without_case_spaces_or_punctuation():
    assert guess_mapping(["Customer ID", "ORDER_DATE", "Total-Amount"]) == {
        "Customer ID": "customer_id", "ORDER_DATE": "timestamp", "Total-Amount": "amount"}


def test_cdnow_and_telco_files():
    cdnow = sniff_file(DATA / "cdnow_master.csv")
    assert cdnow.kind == "transactions"
    assert cdnow.mapping == {"customer_id": "customer_id", "date": "timestamp",
                             "cds": "quantity", "dollars": "amount"}
    assert (cdnow.encoding, cdnow.delimiter, cdnow.date_format) == ("utf-8", ",", None)
    telco = sniff_file(DATA / "telco_churn.csv")
    assert telco.kind == "subscriptions"
    assert telco.mapping == {"customerID": "customer_id", "tenure": "tenure",
                             "Churn": "churned"}
    assert "Contract" in telco.unmapped and "MonthlyCharges" in telco.unmapped


def test_values_must_fit_the_name():
    header = ["customer", "date", "amount"]
    # "date" holds no dates and "amount" no numbers: neither is mapped by its name
    sample = [["a", "north", "x"], ["b", "south", "y"]]
    assert guess_mapping(header, sample, "transactions") == {"customer": "customer_id"}


def test_a_date_column_found_by_its_values():
    header = ["id", "when_bought", "amount"]
    sample = [["a", "2024-01-05", "3"], ["a", "2024-02-01", "4"]]
    assert guess_mapping(header, sample, "transactions") == {"when_bought": "timestamp",
                                                              "amount": "amount"}


def test_leads_kind():
    header = ["lead_id", "created_at", "converted_at", "channel"]
    sample = [["l1", "2024-01-01", "", "ads"], ["l2", "2024-01-02", "2024-02-01", "mail"]]
    assert detect_kind(header, sample) == "leads"
    assert guess_mapping(header, sample) == {"lead_id": "lead_id", "created_at": "created",
                                             "converted_at": "converted", "channel": "source"}


@pytest.mark.parametrize("values, expected", [
    (["12/1/2010 8:26", "12/13/2010 9:01"], ("%m/%d/%Y %H:%M", None)),
    (["13/01/2010", "01/02/2010"], ("%d/%m/%Y", None)),
    (["1997-01-01", "1997-01-12 10:00:00"], (None, None)),
])
def test_date_formats(values, expected):
    assert guess_date_format(values) == expected


def test_ambiguous_day_month_is_a_note_not_a_guess():
    fmt, note = guess_date_format(["01/02/2010", "03/04/2010"])
    assert fmt is None
    assert "ambiguous" in note and "%m/%d/%Y" in note and "%d/%m/%Y" in note


def test_encodings():
    assert guess_encoding("Müller".encode()) == "utf-8"
    assert guess_encoding("Müller".encode("latin-1")) == "latin-1"
    assert guess_encoding("Caf\u20ac".encode("cp1252")) == "cp1252"
    assert guess_encoding("Müller".encode("utf-16")) == "utf-16"
    # a UTF-8 character cut by the end of the sample is not an error
    assert guess_encoding("aé".encode()[:-1]) == "utf-8"


def test_delimiters():
    assert guess_delimiter(["a;b;c\n", "1;2;3\n"]) == ";"
    assert guess_delimiter(["a\tb\n", "1\t2\n"]) == "\t"
    assert guess_delimiter(['a,b\n', '"x;y",2\n']) == ","
    assert guess_delimiter(["single\n", "1\n"]) == ","


def test_normalizing_options():
    assert normalize_encoding(None) == "utf-8"
    assert normalize_encoding("latin-1") == "iso8859-1"
    assert normalize_encoding("UTF-8-SIG") == "utf-8"
    assert normalize_delimiter("\\t") == "\t"
    with pytest.raises(ParameterError, match="encoding"):
        normalize_encoding("no-such-codec")
    with pytest.raises(ParameterError, match="delimiter"):
        normalize_delimiter("ab")


def test_suggest_columns_uses_names_only_and_skips_canonical_names():
    assert suggest_columns(["timestamp"], ["customer_id", "date", "amount"]) == {
        "date": "timestamp"}
    # a column already named canonically is not proposed for another role
    assert suggest_columns(["amount"], ["customer_id", "quantity"]) == {}
    assert suggest_columns(["frequency"], ["x"]) == {}


def test_sniff_file_reads_a_sample_only(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w") as fh:
        fh.write("customer_id;timestamp;amount\n")
        for i in range(20_000):
            fh.write(f"c{i % 97};2024-01-{1 + i % 28:02d};{i % 50}.5\n")
    s = sniff_file(path, n_rows=1000)
    assert s.rows_sampled == 1000
    assert s.delimiter == ";" and s.default_delimiter == ","
    assert s.mapping == {"customer_id": "customer_id", "timestamp": "timestamp",
                         "amount": "amount"}


def test_retail_file_encoding_date_format_and_cancellations(tmp_path):
    s = sniff_file(retail_file(tmp_path / "retail.csv"))
    assert s.encoding == "iso8859-1"
    assert s.date_format == "%m/%d/%Y %H:%M"
    assert s.contract == {"cancellation_prefix": "C"}
    assert s.mapping == RETAIL_MAPPING
    assert s.unmapped == ["Description", "Country"]
