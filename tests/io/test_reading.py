"""Reading CSV files in any encoding and with any delimiter (``encoding``, ``delimiter``),
and the errors that say what to set when a file is read with the wrong ones; on DuckDB
and on Spark (the ``engine`` fixture)."""
from __future__ import annotations

import gzip

import pytest

from clm_lib.exceptions import (
    ClmError,
    FileFormatError,
    MissingColumnsError,
    ParameterError,
)
from clm_lib.io import load_subscriptions, load_transactions, read_table, validate_file

HEADER = "customer_id,timestamp,amount\n"
LATIN = HEADER + "Müller,2024-01-05,10.5\nJosé,2024-01-06,2.25\n"


def _write(path, text: str, encoding: str) -> str:
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.fixture
def latin1(tmp_path) -> str:
    return _write(tmp_path / "latin.csv", LATIN, "latin-1")


def _ids(engine, source, **kwargs) -> list[str]:
    t, dq = engine.load_transactions(source, **kwargs)
    assert dq.rows_in == dq.rows_used + sum(dq.dropped.values())
    return sorted(engine.to_pandas(t)["customer_id"])


def test_latin1_without_the_option_names_file_line_and_fix(engine, latin1):
    with pytest.raises(FileFormatError) as err:
        engine.load_transactions(latin1)
    msg = str(err.value)
    assert "'latin.csv' is not UTF-8 text (line 2)" in msg
    assert "encoding='latin-1'" in msg
    assert err.value.option == "encoding" and err.value.value == "latin-1"


def test_latin1_with_the_option_reads_the_values(engine, latin1):
    assert _ids(engine, latin1, encoding="latin-1") == ["José", "Müller"]
    # any spelling Python knows for the codec
    assert _ids(engine, latin1, encoding="ISO-8859-1") == ["José", "Müller"]


def test_pandas_loaders_take_encoding(latin1):
    tx, dq = load_transactions(latin1, encoding="latin-1")
    assert list(tx["customer_id"]) == ["José", "Müller"]
    assert list(tx["amount"]) == [2.25, 10.5]
    assert read_table(latin1, encoding="latin-1")["customer_id"].tolist() == ["Müller", "José"]
    assert validate_file(latin1, encoding="latin-1").rows_used == 2


def test_bad_byte_past_the_first_mib_is_named_with_its_line(tmp_path):
    # the engine meets it while counting, not while sniffing: the error still says the fix
    rows = "".join(f"c{i},2024-01-01,1.0\n" for i in range(80_000))
    path = _write(tmp_path / "late.csv", HEADER + rows + "Müller,2024-01-02,2.0\n", "latin-1")
    for call in (lambda: validate_file(path), lambda: load_transactions(path)):
        with pytest.raises(FileFormatError, match=r"\(line 80002\).*encoding='latin-1'"):
            call()
    assert validate_file(path, encoding="latin-1").rows_used == 80_001


def test_cp1252_is_transcoded_on_duckdb(tmp_path):
    text = HEADER + "Caf\u20ac \u201cA\u201d,2024-01-05,10.5\n"
    path = _write(tmp_path / "cp.csv", text, "cp1252")
    with pytest.raises(FileFormatError, match="encoding='cp1252'"):
        load_transactions(path)
    tx, _ = load_transactions(path, encoding="cp1252")
    assert tx["customer_id"].tolist() == ["Caf\u20ac \u201cA\u201d"]
    gz = tmp_path / "cp.csv.gz"
    gz.write_bytes(gzip.compress(text.encode("cp1252")))
    assert load_transactions(str(gz), encoding="windows-1252")[0]["customer_id"].tolist() == \
        ["Caf\u20ac \u201cA\u201d"]


@pytest.mark.spark
@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_spark_refuses_an_encoding_its_reader_lacks(spark, tmp_path, encoding):
    path = _write(tmp_path / "cp.csv", HEADER + "Caf\u20ac,2024-01-05,1\n", encoding)
    with pytest.raises(ParameterError, match=f"encoding '{encoding}' is not read by the spark"):
        spark.load_transactions(path, encoding=encoding)


def test_utf16_file(tmp_path):
    path = _write(tmp_path / "u16.csv", LATIN, "utf-16")
    with pytest.raises(FileFormatError, match="encoding='utf-16'"):
        load_transactions(path)
    assert load_transactions(path, encoding="utf-16")[0]["customer_id"].tolist() == \
        ["José", "Müller"]


@pytest.mark.parametrize("bad", ["bogus-codec", "base64", "", 5])
def test_unknown_encoding_is_a_parameter_error(latin1, bad):
    with pytest.raises(ParameterError, match="encoding"):
        load_transactions(latin1, encoding=bad)


def test_semicolon_header_hints_the_delimiter(engine, tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("customer_id;timestamp;amount\na;2024-01-05;1.5\nb;2024-01-06;2\n")
    with pytest.raises(FileFormatError) as err:
        engine.load_transactions(str(path))
    assert "reads as one column" in str(err.value)
    assert "set delimiter=';'" in str(err.value)
    assert err.value.value == ";"
    assert _ids(engine, str(path), delimiter=";") == ["a", "b"]


@pytest.mark.parametrize("sep, given", [("\t", "\\t"), ("\t", "tab"), ("|", "|")])
def test_other_delimiters(tmp_path, sep, given):
    path = tmp_path / "x.csv"
    path.write_text(sep.join(["customer_id", "timestamp", "amount"]) + "\n"
                    + sep.join(["a", "2024-01-05", "1.5"]) + "\n")
    with pytest.raises(FileFormatError, match="delimiter"):
        load_transactions(str(path))
    tx, _ = load_transactions(str(path), delimiter=given)
    assert tx["amount"].tolist() == [1.5]


def test_delimiter_on_subscriptions_with_latin1(tmp_path):
    text = "customerID;tenure;Churn\nMüller;3;Yes\nJosé;5;No\n"
    path = _write(tmp_path / "subs.csv", text, "latin-1")
    subs, dq = load_subscriptions(path, {"customerID": "customer_id", "Churn": "churned"},
                                  encoding="latin-1", delimiter=";")
    assert subs["customer_id"].tolist() == ["José", "Müller"]
    assert subs["churned"].tolist() == [False, True]


@pytest.mark.parametrize("bad", [";;", "", '"', "\n", 1])
def test_bad_delimiter_is_a_parameter_error(latin1, bad):
    with pytest.raises(ParameterError, match="delimiter"):
        load_transactions(latin1, encoding="latin-1", delimiter=bad)


def test_format_errors_are_clm_errors():
    assert issubclass(FileFormatError, ClmError)


def test_missing_columns_suggest_the_mapping(tmp_path):
    path = tmp_path / "retail.csv"
    path.write_text("CustomerID,InvoiceDate,Revenue\n1,2024-01-05,3\n")
    with pytest.raises(MissingColumnsError) as err:
        load_transactions(str(path))
    assert err.value.suggestion == {"CustomerID": "customer_id", "InvoiceDate": "timestamp",
                                    "Revenue": "amount"}
    assert "did you mean columns {CustomerID: customer_id, InvoiceDate: timestamp, " \
           "Revenue: amount}?" in str(err.value)
    # once mapped, only what is still missing is suggested
    with pytest.raises(MissingColumnsError) as err:
        load_transactions(str(path), {"CustomerID": "customer_id", "Revenue": "amount"})
    assert err.value.suggestion == {"InvoiceDate": "timestamp"}
