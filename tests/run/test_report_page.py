"""The report page: decision box first, contents, omitted sections, appendix, policy.

Built from hand-made executed notebooks whose outputs come from the notebook-side
helpers (clm_lib.reporting), so each assertion can be checked by reading the page.
"""
from __future__ import annotations

import base64
import hashlib
import re

import pandas as pd
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from clm_lib import reporting as rp
from clm_lib.run import html as report_html
from clm_lib.run import page as page_frame
from clm_lib.run.index_page import index_html

HOSTILE = "<img src=x onerror=alert(1)>"


def _html_output(text: str, role: str | None = None, **meta):
    metadata = {rp.ROLE_KEY: {"role": role, **meta}} if role else {}
    return new_output("display_data", data={"text/html": text, "text/plain": "x"},
                      metadata=metadata)


def _notebook():
    decision = rp.Decision(findings=[f"Segment {HOSTILE} churns most"],
                           actions=["Call the 120 at-risk customers worth $4,000"],
                           confidence="Holdout error 3 % over 13 weeks", source="tx.csv",
                           as_of="1998-06-30 (the last date in the data)")
    table = rp.table_html(pd.DataFrame({"segment": [HOSTILE, "b"], "customers": [1200.0, 3.0]}),
                          index=False, formats={"customers": "count"}, rename={"customers": "Customers"})
    chart = {"mark": "bar", "data": {"values": [{"s": "</script><script>alert(2)</script>", "v": 1}]},
             "encoding": {"x": {"field": "s", "type": "nominal"}, "y": {"field": "v", "type": "quantitative"}}}
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell("# The title\n\nWhat this study answers."),
        new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        new_code_cell("show_decision(...)", outputs=[_html_output(rp.decision_html(decision), "decision")]),
        new_markdown_cell("## First section\n\nQuestion one."),
        new_code_cell("show_table(...)", outputs=[_html_output(table)]),
        new_markdown_cell("## Needs a segment\n\nCompares segments."),
        new_code_cell("omit_section(...)", outputs=[
            _html_output("<p>left out</p>", "omit", reason="needs the `segment` parameter")]),
        new_code_cell("more", outputs=[_html_output("<p>segment output that must go</p>")]),
        new_markdown_cell("## Chart section"),
        new_code_cell("show_chart(...)", outputs=[_html_output(rp.chart_html(chart, "A bar chart"), "chart")]),
    ]
    return nb


def _page(**kw):
    args = dict(title="The title", study="s", run_date="2026-01-31T09:05:00Z",
                parameters={"segment": None, "columns": {"date": "timestamp"}, "horizons": [1, 3],
                            "output_dir": "/out/dir"},
                parameter_help={"segment": "column to compare customers by"},
                exports=[("data_dictionary.csv", 12), ("customer_risk.csv", 7043)],
                source="tx.csv", as_of="1998-06-30")
    args.update(kw)
    return report_html.report_page(_notebook(), **args)


def test_decision_box_comes_first_then_contents_then_sections():
    page = _page()
    body = page[page.index("<main>"):]
    decision, toc = body.index("clm-decision"), body.index("clm-toc")
    first = body.index('id="First-section"')
    assert body.index("<h1>The title</h1>") < decision < toc < body.index("What this study answers") < first
    assert page.count("What matters") == 1           # moved, not copied
    assert "href='../index.html'" in page and "Data: tx.csv" in page and "observed to 1998-06-30" in page


def test_omitted_section_is_dropped_and_listed_once_in_the_appendix():
    page = _page()
    assert "segment output that must go" not in page and "Compares segments" not in page
    appendix = page[page.index("id='appendix'"):]
    assert "Needs a segment" in appendix and "needs the segment parameter" in appendix
    start = page.index("<nav class='clm-toc'")
    toc = page[start:page.index("</nav>", start)]
    assert "First section" in toc and "Chart section" in toc and "Needs a segment" not in toc


def test_appendix_lists_exports_and_readable_collapsed_parameters():
    page = _page()
    appendix = page[page.index("id='appendix'"):]
    assert "href='exports/customer_risk.csv'" in appendix and "7,043 rows" in appendix
    assert "href='exports/data_dictionary.csv'" in appendix
    params = appendix[appendix.index("<details"):appendix.index("</details>")]
    assert "<details class='clm-appendix-block'>" in params          # collapsed: no 'open'
    assert "not set" in params and "date → timestamp" in params and "1, 3" in params
    assert "column to compare customers by" in params
    assert "/out/dir" not in page and "None" not in params and "{}" not in params


def test_data_derived_text_is_escaped_and_no_script_escapes_json():
    page = _page()
    assert HOSTILE not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "</script><script>alert(2)" not in page
    spec = re.search(r"<script[^>]*clm-vega-spec[^>]*>(.*?)</script>", page).group(1)
    assert "\\u003c/script\\u003e" in spec


def _csp_hashes(page: str) -> set[str]:
    meta = re.search(r"http-equiv='Content-Security-Policy' content=\"([^\"]+)\"", page).group(1)
    return set(re.findall(r"sha256-([A-Za-z0-9+/=]+)", meta))


def test_policy_allows_exactly_the_page_scripts_by_hash():
    page = _page()
    inline = re.findall(r"<script>(.*?)</script>", page, flags=re.S)   # the page's own: no attributes
    assert inline, "a page with a sortable table and a chart inlines its libraries"
    digests = {base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in inline}
    assert _csp_hashes(page) == digests
    meta = re.search(r"Content-Security-Policy' content=\"([^\"]+)\"", page).group(1)
    assert "unsafe-inline" not in meta.split("script-src")[1].split(";")[0]
    assert "default-src &#x27;none&#x27;" in meta


def test_page_without_tables_or_charts_has_no_script_at_all():
    text = page_frame.page("t", "<p>plain</p>")
    assert "<script" not in text and "script-src &#x27;none&#x27;" in text


def test_index_is_the_lifecycle_page():
    run = {"started": "2026-01-31T09:05:00Z", "finished": "2026-01-31T09:06:00Z", "parameters": {},
           "studies": {"clv": {"status": "ok", "duration_s": 9.0},
                       "survival_churn": {"status": "failed", "duration_s": 2.0,
                                          "error": {"cell": 3, "ename": "ValueError", "evalue": "no churn column"}}}}
    metrics = {"clv": {"headline": {"CLV": "$1"},
                       "decision": {"source": "CDNOW_master.txt", "as_of": "1998-06-30"},
                       "lifecycle": [rp.stage_figure("loyalty", "Top 10 % share of value", "62 %",
                                                     "expected value over 52 weeks"),
                                     rp.stage_figure("loyalty", "Expected value", "$9",
                                                     "over 52 weeks")]}}
    page = index_html(run, metrics, {"clv": "CLV", "survival_churn": "Survival"},
                      {"clv": [("data_dictionary.csv", 10), ("customer_value.csv", 5)]})
    stages = page[page.index("clm-stages"):page.index("</ol>")]
    for label in rp.STAGES.values():
        assert label in stages
    assert stages.index("Retention") < stages.index("Loyalty and advocacy") < stages.index("62\u00a0%")
    assert "href='clv/report.html'" in stages and "Not measured in this run" in stages
    assert "CDNOW_master.txt" in stages                          # which data each figure is from
    # a study's first figure of a stage leads, its others are folded away
    assert stages.index("62\u00a0%") < stages.index("<details><summary>1 more</summary>") < stages.index("$9")
    assert "CDNOW_master.txt" in page and "1998-06-30" in page
    assert "href='clv/exports/data_dictionary.csv'" in page
    assert "href='clv/exports/customer_value.csv'" in page and "(5 rows)" in page
    assert "no churn column" in page and "survival_churn/report.html" not in page


def test_vendored_scripts_are_the_pinned_files_and_match_altair():
    """The inlined libraries are byte for byte what scripts/vendor_assets.py fetched, and
    Vega-Lite is the version Altair writes its specs for."""
    import json
    from importlib import resources

    import altair as alt

    assets = resources.files("clm_lib.run").joinpath("assets")
    manifest = json.loads(assets.joinpath("manifest.json").read_text())
    for name, info in manifest.items():
        data = assets.joinpath(name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"], name
        assert assets.joinpath(f"{name}.LICENSE.txt").read_bytes().strip(), name
    assert manifest["vega-lite.min.js"]["version"] == alt.VEGALITE_VERSION
    assert manifest["vega.min.js"]["version"].split(".")[0] == alt.VEGA_VERSION.lstrip("v").split(".")[0]
