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
            if name != "output_dir":
                assert f"{name}" in result.output and p.default_text in result.output
    assert "output_dir" not in result.output
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
