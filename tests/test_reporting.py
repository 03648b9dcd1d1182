import json

import numpy as np
import pandas as pd
import pytest

from clm_lib import reporting


def test_summary_html_escapes_user_text():
    html = reporting.summary_html(["Segment <script>alert(1)</script> & co"])
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "&amp; co" in html


def test_pseudonymise_is_stable_keyed_and_not_the_old_constant_salt(monkeypatch):
    import hashlib

    ids = pd.Series(["00001", "00002", "00001"])
    monkeypatch.setenv(reporting.KEY_ENV, "team secret")
    out = reporting.pseudonymise(ids)
    assert out.iloc[0] == out.iloc[2] != out.iloc[1]
    assert not out.str.contains("00001").any()
    assert reporting.pseudonymise(ids, key="other").iloc[0] != out.iloc[0]
    # the reversible pseudonym of before: sha256 with a constant salt
    assert out.iloc[0] != "C-" + hashlib.sha256(b"clm:00001").hexdigest()[:12]
    monkeypatch.delenv(reporting.KEY_ENV)
    assert reporting.pseudonymise(ids).iloc[0] != out.iloc[0]  # the process's random key


def test_the_runner_gives_each_run_its_own_key_unless_one_is_set(monkeypatch):
    from clm_lib.run.execute import _run_environment

    from clm_lib.run.parameters import Config

    monkeypatch.delenv(reporting.KEY_ENV, raising=False)
    monkeypatch.delenv(reporting.EXPORT_IDS_ENV, raising=False)
    a, b = _run_environment()[reporting.KEY_ENV], _run_environment()[reporting.KEY_ENV]
    assert a != b and len(a) >= 32
    assert _run_environment()[reporting.EXPORT_IDS_ENV] == "real"
    monkeypatch.setenv(reporting.KEY_ENV, "team secret")
    assert _run_environment()[reporting.KEY_ENV] == "team secret"
    cfg = Config("c.yml", run={"pseudonym_key": "from the config file", "export_ids": "pseudonymised"})
    assert _run_environment([cfg]) == {reporting.KEY_ENV: "from the config file",
                                       reporting.EXPORT_IDS_ENV: "pseudonymised"}


def test_config_run_settings_are_checked(tmp_path):
    from clm_lib.exceptions import ParameterError
    from clm_lib.run.discovery import list_studies
    from clm_lib.run.parameters import load_configs

    good = tmp_path / "good.yml"
    good.write_text("pseudonym_key: a-long-enough-secret\nexport_ids: real\n")
    cfg, = load_configs(good, list_studies())
    assert cfg.run == {"pseudonym_key": "a-long-enough-secret", "export_ids": "real"}
    assert "pseudonym_key" not in cfg.shared                  # never a study parameter
    bad = tmp_path / "bad.yml"
    bad.write_text("pseudonym_key: short\nexport_ids: hashed\n")
    with pytest.raises(ParameterError, match="at least 16 characters.*'export_ids' must be one of"):
        load_configs(bad, list_studies())


DOCS = {"customer_id": reporting.Column("the customer's id in the input data"),
        "clv": reporting.Column("expected value", "USD", digits=2),
        "p_alive": reporting.Column("probability still active", "probability (0-1)"),
        "purchases": reporting.Column("purchases in the period", "purchases")}


def test_export_rounds_keeps_real_ids_and_writes_the_data_dictionary(tmp_path, monkeypatch):
    monkeypatch.delenv(reporting.EXPORT_IDS_ENV, raising=False)
    df = pd.DataFrame({"customer_id": ["00001", "00002"], "clv": [12.345678, 0.1 + 0.2],
                       "p_alive": [0.123456789, 1 / 3], "purchases": [3.0, 0.0]})
    path = reporting.save_export(df, "customer_value", tmp_path, columns=DOCS)
    text = path.read_text()
    assert text.splitlines()[1] == "00001,12.35,0.1235,3"     # no float noise, counts as integers
    assert "0.30000000000000004" not in text
    reporting.save_export(df[["customer_id", "purchases"]], "other", tmp_path, columns=DOCS)
    dd = pd.read_csv(tmp_path / "exports" / reporting.DICTIONARY, keep_default_na=False)
    assert list(dd.columns) == ["export", "column", "meaning", "unit", "type"]
    assert dd[dd["export"] == "customer_value.csv"]["column"].tolist() == list(df.columns)
    assert dd.set_index(["export", "column"]).loc[("customer_value.csv", "clv"), "unit"] == "USD"
    assert dd.set_index(["export", "column"]).loc[("other.csv", "purchases"), "type"] == "integer"
    reporting.save_export(df, "customer_value", tmp_path, columns=DOCS)   # rewritten, not appended
    assert len(pd.read_csv(tmp_path / "exports" / reporting.DICTIONARY)) == 6


def test_an_undocumented_export_column_is_an_error(tmp_path):
    with pytest.raises(KeyError, match="no data-dictionary entry for column.*'extra'"):
        reporting.save_export(pd.DataFrame({"customer_id": ["1"], "extra": [1]}), "x", tmp_path,
                              columns=DOCS)


def test_exports_can_carry_pseudonyms_instead_of_ids(tmp_path, monkeypatch):
    monkeypatch.setenv(reporting.EXPORT_IDS_ENV, "pseudonymised")
    monkeypatch.setenv(reporting.KEY_ENV, "k")
    df = pd.DataFrame({"customer_id": ["00001"], "purchases": [1.0]})
    back = pd.read_csv(reporting.save_export(df, "x", tmp_path, columns=DOCS), dtype=str)
    assert back["customer_id"].iloc[0] == reporting.pseudonymise(["00001"]).iloc[0]


def test_table_html_reads_like_a_report():
    df = pd.DataFrame({"segment": ["<b>a</b>", "b"], "customers": [7846.0, 3.0],
                       "p": [4.94e-161, 0.2], "median": [float("inf"), 13.25]})
    html = reporting.table_html(df, index=False, formats={"p": "p_value", "median": ("duration", "months")},
                                rename={"customers": "Customers", "p": "p-value"})
    assert "7,846" in html and "7,846.00" not in html
    assert "&lt; 0.001<" in html and ">4.94e-161" not in html
    assert "not reached" in html and "inf" not in html.replace("info", "")
    assert "<b>a</b>" not in html and "&lt;b&gt;a&lt;/b&gt;" in html
    assert "<th scope='col'>Customers</th>" in html and "data-order='7846.0'" in html
    assert "clm-table-wrap" in html and "data-clm-sort" in html and "data-clm-search" not in html
    long = reporting.table_html(pd.DataFrame({"x": range(reporting.SEARCH_ROWS + 1)}))
    assert "data-clm-search" in long


def test_save_metrics_writes_nan_as_null_and_numpy_types(tmp_path):
    path = reporting.save_metrics(
        {"a": np.float64("nan"), "b": np.int64(3), "c": [np.float32(1.5)], "d": pd.Timestamp("1997-01-01")},
        tmp_path,
    )
    data = json.loads(path.read_text())
    assert data == {"a": None, "b": 3, "c": [1.5], "d": "1997-01-01T00:00:00"}


def test_save_metrics_without_output_dir_writes_nothing(tmp_path):
    assert reporting.save_metrics({"a": 1}, None) is None
    assert reporting.save_export(pd.DataFrame({"a": [1]}), "x", None, columns={}) is None


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@"])
def test_exports_cannot_start_a_spreadsheet_formula(tmp_path, prefix):
    df = pd.DataFrame({"segment": [f"{prefix}SUM(A1)", "ok"], "value": [-1.0, 2.0]})
    path = reporting.save_export(df, "customers", tmp_path,
                                 columns={"segment": reporting.Column("a label"),
                                          "value": reporting.Column("a value", digits=2)})
    back = pd.read_csv(path)
    assert back["segment"].tolist() == [f"'{prefix}SUM(A1)", "ok"]
    # numbers stay numbers, negative values included
    assert back["value"].tolist() == [-1.0, 2.0]
    assert not list((tmp_path / "exports").glob(".*.tmp"))  # atomic write left no temp file


def test_no_study_sends_text_through_markdown_or_raw_html():
    """Data-derived text reaches a report only through the escaping helpers: no notebook
    code cell and no library module displays Markdown (which keeps raw HTML) or builds
    an IPython HTML object itself (reporting._display_html is the one place)."""
    import re
    from pathlib import Path

    import nbformat

    root = Path(__file__).parents[1]
    offending = []
    for nb_path in sorted((root / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(nb_path, as_version=4).cells:
            if cell.cell_type == "code" and re.search(r"\b(Markdown|HTML)\(", cell.source):
                offending.append(f"{nb_path.name}: {cell.source[:60]!r}")
    for py in sorted((root / "clm_lib").rglob("*.py")):
        text = py.read_text()
        for m in re.finditer(r"\b(Markdown|HTML)\(", text):
            line = text[:m.start()].count("\n") + 1
            if py.name == "reporting.py" and "display(HTML(text)" in text.splitlines()[line - 1]:
                continue
            offending.append(f"{py.relative_to(root)}:{line}")
    assert not offending, offending


def test_a_percent_sign_never_starts_a_line():
    assert reporting.escape("10.0 % of <b>") == "10.0\u00a0% of &lt;b&gt;"
    assert "14.9\u00a0%" in reporting.decision_html(reporting.Decision(["14.9 %"], [], "", "", ""))
