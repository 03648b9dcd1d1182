"""The data-quality records of ``clm validate`` on the bundled files and on messy logs are
those of the pandas data contract before the contract was written once in Ibis
(``tests/golden/validate/*.json``, made by ``tests/golden/build.py`` at 8019c87).

Each record holds the ``clm validate --json`` output, the full record (rows in and used,
drops by reason, warnings, notes) or the error, and a digest of the clean table. The
same records on Spark are checked in ``tests/test_spark_parity.py``.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
RECORDS = sorted((GOLDEN / "validate").glob("*.json"))


def _build():
    spec = importlib.util.spec_from_file_location("golden_build", GOLDEN / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


build = _build()
CASES = {c.name: c for c in build.CASES}


def _golden(path: Path) -> dict:
    return json.loads(path.read_text())


def _text_as_string(digest: dict) -> dict:
    """The clean-table digest with text columns of pandas ``object`` dtype written as
    ``string``: the one intended change. The pandas contract returned the ids as
    ``string`` but other text columns as ``object``; every column of text now comes back
    as ``string`` (one mapping of Ibis types to pandas dtypes). Values, nulls and the
    table written as CSV are unchanged."""
    cols = {name: {**info, "dtype": "string" if info["dtype"] == "object" else info["dtype"]}
            for name, info in digest["columns"].items()}
    return {**digest, "columns": cols}


def test_every_case_has_a_record():
    assert {p.stem for p in RECORDS} == set(CASES)


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_record_equals_golden(path):
    golden = _golden(path)
    case = CASES[golden["case"]]
    got = build.run_loader(case)
    if "error" in golden:
        assert got == {"error": golden["error"]}
    else:
        assert got["record"] == golden["record"]
        assert got["clean"] == _text_as_string(golden["clean"])


@pytest.mark.parametrize("path", [p for p in RECORDS if _golden(p)["cli"] is not None],
                         ids=lambda p: p.stem)
def test_clm_validate_json_equals_golden(path):
    golden = _golden(path)
    assert build.run_cli(CASES[golden["case"]]) == golden["cli"]
