"""The ``clm`` command line: list, validate, clean errors and exit codes.

End-to-end ``clm run`` (exit code 1 on a failed study, index path printed) is covered in
tests/test_runner.py with the fixture notebooks.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from clm_lib.cli import cli
from clm_lib.run.parameters import RESERVED_PARAMETERS
from clm_lib.run.discovery import list_studies

FIXTURES = Path(__file__).parents[1] / "fixtures" / "notebooks"


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_list_real_notebooks():
    result = invoke("list")
    assert result.exit_code == 0, result.output
    studies = list_studies()
    for study in studies:
        assert f"{study.name}  —  {study.title}" in result.output
        for name, p in study.parameters.items():
            if name not in RESERVED_PARAMETERS:
                assert f"{name}" in result.output and p.default_text in result.output
    # set by the runner, not by users: not listed
    assert "output_dir" not in result.output and "history =" not in result.output
    if not studies:
        assert "No study notebooks" in result.output


def test_list_shows_parameters_with_defaults_and_help():
    result = invoke("list", "--notebooks-dir", str(FIXTURES))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "ok  —  OK study & <friends>"
    assert any(line.split() == ["code", "=", '"abc"', "#", "a", "text", "parameter"]
               for line in lines)
    assert any(line.split() == ["seconds", "=", "60"] for line in lines)


@pytest.mark.parametrize("args, expected", [
    (["run", "nosuch"], "StudyNotFoundError: unknown study 'nosuch'; valid studies: ok, failing, slow"),
    (["run", "ok", "-p", "bogus=1"], "ParameterError: unknown parameter 'bogus' for study ok"),
    (["run", "ok", "-p", "novalue"], "ParameterError: expected name=value"),
])
def test_clm_errors_are_one_line_exit_2(tmp_path, args, expected):
    result = invoke(*args, "--out", str(tmp_path / "o"), "--notebooks-dir", str(FIXTURES))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"Error: {result.output.strip()[7:]}"]
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_config_file_is_checked_before_running(tmp_path):
    cfg = tmp_path / "run.yml"
    cfg.write_text("n: 3\nok:\n  seconds: 5\n")
    result = invoke("run", "ok", "--config", str(cfg), "--out", str(tmp_path / "o"),
                    "--notebooks-dir", str(FIXTURES))
    assert result.exit_code == 2
    assert "unknown parameter 'seconds' for study ok" in result.output
    assert not (tmp_path / "o").exists()


def test_broken_notebook_is_a_clean_error(tmp_path):
    (tmp_path / "10_broken.ipynb").write_text("{not json")
    result = invoke("list", "--notebooks-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "cannot read study notebook 10_broken.ipynb" in result.output
    assert "Traceback" not in result.output


def _write_transactions(path: Path) -> Path:
    path.write_text(
        "cust,day,value\n"
        "00123,1997-01-01,10.0\n"
        "00123,1997-02-01,5.0\n"
        ",1997-02-03,7.0\n"            # missing id: dropped
        "00124,not a date,3.0\n"       # unparseable date: dropped
        "00124,1997-03-01,4.5\n"
    )
    return path


def test_validate_json_prints_exactly_the_record(tmp_path):
    path = _write_transactions(tmp_path / "tx.csv")
    result = invoke("validate", "--transactions", str(path), "--json",
                    "-c", "cust=customer_id", "-c", "day=timestamp", "-c", "value=amount")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert set(record) == {"rows_in", "rows_used", "dropped"}
    assert record["rows_in"] == 5 and record["rows_used"] == 3
    assert sum(record["dropped"].values()) == 2
    assert record["rows_in"] == record["rows_used"] + sum(record["dropped"].values())


def test_validate_table_and_contract_error(tmp_path):
    path = _write_transactions(tmp_path / "tx.csv")
    result = invoke("validate", "--transactions", str(path),
                    "-c", "cust=customer_id", "-c", "day=timestamp", "-c", "value=amount")
    assert result.exit_code == 0, result.output
    assert "tx.csv (transactions)" in result.output
    assert "rows in the input" in result.output and "dropped:" in result.output
    # without the mapping the contract is broken: one clean line, exit 2
    result = invoke("validate", "--transactions", str(path))
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "Error:" in result.output and "Traceback" not in result.output
    result = invoke("validate")
    assert result.exit_code == 2


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "clm_lib", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0
    assert "run" in out.stdout and "list" in out.stdout and "validate" in out.stdout


@pytest.mark.parametrize("where", ["under", "is"])
def test_out_that_cannot_be_written_is_one_line_exit_2(tmp_path, where):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    out = a_file / "run" if where == "under" else a_file
    result = invoke("run", "failing", "--out", str(out), "--notebooks-dir", str(FIXTURES))
    assert result.exit_code == 2
    reason = ("a part of the path is a file, not a folder" if where == "under"
              else "it is a file, not a folder")
    assert result.output.strip().splitlines() == [
        f"Error: ParameterError: cannot write the output folder {out}: {reason}"]


def test_out_without_permission_is_one_line_exit_2(tmp_path, monkeypatch):
    import clm_lib.run.execute as execute

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(execute.tempfile, "mkstemp", refuse)
    out = tmp_path / "locked"
    result = invoke("run", "failing", "--out", str(out), "--notebooks-dir", str(FIXTURES))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: ParameterError: cannot write the output folder {out}: permission denied"]
    assert not (out / "run.json").exists()
# --------------------------------------------------------------------------- clm init
DATA = Path(__file__).parents[2] / "data"


def _retail(path: Path) -> Path:
    """An Online-Retail-shaped order-line log: latin-1 bytes, US dates, a 'C' invoice."""
    lines = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
             "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom",
             "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom",
             "536366,22633,HAND WARMER CAFÉ,6,12/13/2010 8:28,1.85,17850,United Kingdom",
             "C536379,D,Discount,-1,12/1/2010 9:41,27.5,14527,United Kingdom",
             "536380,22961,JAM MAKING SET,2,12/1/2010 9:45,1.45,,France",
             "536381,22139,RETROSPOT TEA SET MÜLLER,1,12/2/2010 10:03,4.95,15311,Germany"]
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path


def _init(tmp_path, source: Path, name: str = "c.yml", *extra):
    import yaml

    out = tmp_path / name
    result = invoke("init", str(source), "-o", str(out), *extra)
    assert result.exit_code == 0, result.output
    return out, yaml.safe_load(out.read_text(encoding="utf-8"))


def _validate_config(config: Path) -> dict:
    result = invoke("validate", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_init_online_retail_shape(tmp_path):
    source = _retail(tmp_path / "retail.csv")
    config, data = _init(tmp_path, source)
    assert data["transactions"] == "retail.csv"  # relative to the config's folder
    assert data["columns"] == {"InvoiceNo": "order_id", "StockCode": "product",
                               "Quantity": "quantity", "InvoiceDate": "timestamp",
                               "UnitPrice": "unit_price", "CustomerID": "customer_id"}
    assert data["date_format"] == "%m/%d/%Y %H:%M"
    assert data["encoding"] == "latin-1"
    assert "delimiter" not in data and "contract" not in data
    assert data["studies"] == ["overview", "cohort_retention", "clv", "lifecycle_segments",
                               "survival_churn"]
    text = config.read_text(encoding="utf-8")
    assert '#   cancellation_prefix: "C"' in text
    assert "not mapped" in text and "Description, Country" in text
    assert f"clm run --config {config}" in text
    result = invoke("validate", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output


def test_init_cdnow_master_then_validate(tmp_path):
    config, data = _init(tmp_path, DATA / "cdnow_master.csv")
    assert data["columns"] == {"customer_id": "customer_id", "date": "timestamp",
                               "cds": "quantity", "dollars": "amount"}
    assert {"date_format", "encoding", "delimiter", "contract"}.isdisjoint(data)
    assert (tmp_path / data["transactions"]).resolve() == (DATA / "cdnow_master.csv").resolve()
    record = _validate_config(config)
    assert record["rows_in"] == 69659 == record["rows_used"]


def test_init_telco_then_validate(tmp_path):
    config, data = _init(tmp_path, DATA / "telco_churn.csv")
    assert "subscriptions" in data and "transactions" not in data
    assert data["columns"] == {"customerID": "customer_id", "tenure": "tenure",
                               "Churn": "churned"}
    assert data["studies"] == ["survival_churn", "cohort_retention"]
    assert _validate_config(config)["rows_used"] == 7043


def test_init_semicolon_latin1_then_validate(tmp_path):
    source = tmp_path / "orders.csv"
    source.write_bytes("customer;date;revenue\nMüller;13/01/2024;3.5\nMüller;01/02/2024;4\n"
                       .encode("latin-1"))
    config, data = _init(tmp_path, source)
    assert data["delimiter"] == ";" and data["encoding"] == "latin-1"
    assert data["date_format"] == "%d/%m/%Y"
    assert data["columns"] == {"customer": "customer_id", "date": "timestamp",
                               "revenue": "amount"}
    record = _validate_config(config)
    assert record["rows_used"] == 2


def test_init_ambiguous_dates_leave_a_comment(tmp_path):
    source = tmp_path / "tx.csv"
    source.write_text("customer_id,date,amount\na,01/02/2024,1\nb,03/04/2024,2\n")
    config, data = _init(tmp_path, source)
    assert "date_format" not in data
    assert "ambiguous" in config.read_text()


def test_init_prints_without_output_and_refuses_to_overwrite(tmp_path):
    import yaml

    result = invoke("init", str(DATA / "telco_churn.csv"))
    assert result.exit_code == 0
    assert yaml.safe_load(result.output)["columns"]["Churn"] == "churned"
    config, _ = _init(tmp_path, DATA / "telco_churn.csv")
    result = invoke("init", str(DATA / "cdnow_master.csv"), "-o", str(config))
    assert result.exit_code == 2 and "--force" in result.output
    assert "subscriptions" in config.read_text()
    _, data = _init(tmp_path, DATA / "cdnow_master.csv", "c.yml", "--force")
    assert "transactions" in data


def test_init_parquet(tmp_path):
    import pandas as pd

    source = tmp_path / "tx.parquet"
    pd.DataFrame({"CustomerID": ["a", "b"], "OrderDate": pd.to_datetime(["2024-01-05",
                                                                        "2024-02-01"]),
                  "Sales": [1.5, 2.0]}).to_parquet(source)
    config, data = _init(tmp_path, source)
    assert data["columns"] == {"CustomerID": "customer_id", "OrderDate": "timestamp",
                               "Sales": "amount"}
    assert "delimiter" not in config.read_text()
    assert _validate_config(config)["rows_used"] == 2


def test_init_kind_option(tmp_path):
    _, data = _init(tmp_path, DATA / "telco_churn.csv", "c.yml", "--kind", "transactions")
    assert "transactions" in data and data["columns"] == {"customerID": "customer_id"}


# --------------------------------------------------------------------------- validate
def test_validate_suggests_the_mapping(tmp_path):
    source = _retail(tmp_path / "retail.csv")
    result = invoke("validate", "--transactions", str(source), "--encoding", "latin-1",
                    "-c", "CustomerID=customer_id")
    assert result.exit_code == 2
    line = result.output.strip()
    assert len(line.splitlines()) == 1
    assert "lacks required column(s) ['timestamp', 'amount']" in line
    assert "did you mean -c InvoiceDate=timestamp?" in line


def test_validate_encoding_and_delimiter_options(tmp_path):
    source = tmp_path / "x.csv"
    source.write_bytes("customer_id;timestamp;amount\nMüller;2024-01-05;1\n".encode("latin-1"))
    result = invoke("validate", "--transactions", str(source))
    assert result.exit_code == 2 and "FileFormatError" in result.output
    assert "encoding='latin-1'" in result.output
    result = invoke("validate", "--transactions", str(source), "--encoding", "latin-1")
    assert result.exit_code == 2 and "set delimiter=';'" in result.output
    result = invoke("validate", "--transactions", str(source), "--encoding", "latin-1",
                    "--delimiter", ";", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows_used"] == 1
    result = invoke("validate", "--transactions", str(source), "--encoding", "nope")
    assert result.exit_code == 2 and "encoding 'nope' is unknown" in result.output


def test_validate_config_contract_and_command_line_override(tmp_path):
    source = tmp_path / "tx.csv"
    source.write_text("cust,day,value\na,2024-01-05,1\na,2024-01-06,-2\n")
    config = tmp_path / "c.yml"
    config.write_text('transactions: tx.csv\ncolumns: {cust: customer_id, day: timestamp, '
                      'value: amount}\ncontract:\n  negative_amounts: net\n')
    assert _validate_config(config)["rows_used"] == 2  # net: the return is kept
    config.write_text(config.read_text().replace("net", "drop"))
    assert _validate_config(config)["rows_used"] == 1
    config.write_text(config.read_text() + "  bogus_option: 1\n")
    result = invoke("validate", "--config", str(config))
    assert result.exit_code == 2 and "bogus_option" in result.output
    assert "Traceback" not in result.output
