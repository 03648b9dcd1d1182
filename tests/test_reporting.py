import json

import numpy as np
import pandas as pd
import pytest

from clm_lib import reporting


def test_summary_html_escapes_user_text():
    html = reporting.summary_html(["Segment <script>alert(1)</script> & co"])
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "&amp; co" in html


def test_pseudonymise_is_stable_and_hides_ids():
    ids = pd.Series(["00001", "00002", "00001"])
    out = reporting.pseudonymise(ids)
    assert out.iloc[0] == out.iloc[2] != out.iloc[1]
    assert not out.str.contains("00001").any()
    assert reporting.pseudonymise(ids, salt="other").iloc[0] != out.iloc[0]


def test_save_metrics_writes_nan_as_null_and_numpy_types(tmp_path):
    path = reporting.save_metrics(
        {"a": np.float64("nan"), "b": np.int64(3), "c": [np.float32(1.5)], "d": pd.Timestamp("1997-01-01")},
        tmp_path,
    )
    data = json.loads(path.read_text())
    assert data == {"a": None, "b": 3, "c": [1.5], "d": "1997-01-01T00:00:00"}


def test_save_metrics_without_output_dir_writes_nothing(tmp_path):
    assert reporting.save_metrics({"a": 1}, None) is None
    assert reporting.save_export(pd.DataFrame({"a": [1]}), "x", None) is None


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@"])
def test_exports_cannot_start_a_spreadsheet_formula(tmp_path, prefix):
    df = pd.DataFrame({"segment": [f"{prefix}SUM(A1)", "ok"], "value": [-1.0, 2.0]})
    path = reporting.save_export(df, "customers", tmp_path)
    back = pd.read_csv(path)
    assert back["segment"].tolist() == [f"'{prefix}SUM(A1)", "ok"]
    # numbers stay numbers, negative values included
    assert back["value"].tolist() == [-1.0, 2.0]
    assert not list((tmp_path / "exports").glob(".*.tmp"))  # atomic write left no temp file
