"""DuckDB-vs-Spark parity: each study's important results, and the data contract and
reductions, computed on Spark equal those on the default in-process DuckDB engine.

One section per owner, between ``# --- <name> ---`` markers. Every test uses the
``spark`` fixture (so it carries the ``spark`` marker) and names Spark in its id.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# --- io_reduce ---
_GOLDEN = Path(__file__).resolve().parent / "golden"


def _golden_build():
    spec = importlib.util.spec_from_file_location("golden_build", _GOLDEN / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_BUILD = _golden_build()
_CASES = {c.name: c for c in _BUILD.CASES}
_RECORDS = sorted((_GOLDEN / "validate").glob("*.json"))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """A clean table in an order that does not depend on the engine."""
    return df.sort_values(list(df.columns), kind="stable", na_position="last",
                          ignore_index=True)


def _spark_load(spark, case):
    loader = {"transactions": spark.load_transactions,
              "subscriptions": spark.load_subscriptions,
              "leads": spark.load_leads}[case.kind]
    return loader(str(case.file), case.columns, **case.kwargs)


@pytest.mark.parametrize("path", _RECORDS, ids=lambda p: f"spark-{p.stem}")
def test_io_golden_records_on_spark(spark, path):
    """The data-quality record of every golden case on Spark is the pandas record of
    before (and an error is the same error, rows named alike); the clean rows equal
    those of the default engine."""
    from clm_lib.io.sources import to_pandas

    golden = json.loads(path.read_text())
    case = _CASES[golden["case"]]
    if "error" in golden:
        with pytest.raises(Exception) as exc:
            _spark_load(spark, case)
        assert {"type": type(exc.value).__name__, "message": str(exc.value)} == golden["error"]
        return
    clean, dq = _spark_load(spark, case)
    assert dq.to_dict() == golden["record"]
    duck, _ = _BUILD._loader(case.kind)(case.file, case.columns, **case.kwargs)
    got = to_pandas(clean)
    pd.testing.assert_frame_equal(_sorted(got[list(duck.columns)]), _sorted(duck))
# --- end io_reduce ---
