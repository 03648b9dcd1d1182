"""No script from data: hostile values in the segment column, the column names, the lead
sources, the leads note and the file names reach the lifecycle report only escaped."""
import json

import nbformat
import pandas as pd
import pytest

from clm_lib.config import CDNOW_SAMPLE, NOTEBOOKS_DIR

NB = NOTEBOOKS_DIR / "40_lifecycle_segments.ipynb"
HOSTILE = ["<img src=x onerror=alert(1)>", '"><svg onload=alert(2)>', "[click](javascript:alert(3))"]
LIVE = ("<img src=x", "<svg onload", 'href="javascript:', "href='javascript:")


@pytest.mark.slow
def test_hostile_values_are_escaped_in_the_report(tmp_path, run_notebook):
    from clm_lib.run.html import report_page

    raw = pd.read_csv(CDNOW_SAMPLE, dtype=str)
    amount = '"><svg onload=alert(5)> dollars'      # a column name given through `columns`
    raw = raw.rename(columns={"dollars": amount})
    raw[HOSTILE[2]] = [HOSTILE[i % 3] for i in range(len(raw))]   # the segment column
    tx = tmp_path / "<img src=x onerror=alert(4)>.csv"
    raw.to_csv(tx, index=False)
    leads = tmp_path / "<svg onload=alert(6)>.csv"
    pd.DataFrame({"lead_id": range(3), "created": ["1997-01-01"] * 3, "source": HOSTILE,
                  "converted": ["1997-01-05", None, "1997-02-01"]}).to_csv(leads, index=False)
    parameters = dict(transactions=str(tx), columns={"date": "timestamp", amount: "amount"},
                      as_of="1998-06-30", segment=HOSTILE[2], leads=str(leads),
                      leads_note='<svg onload=alert(7)>', what_if_points=[1],
                      what_if_intervals=False)
    out = run_notebook(NB.name, sample=False, **parameters)
    m = json.loads((out / "metrics.json").read_text())
    assert {r["source"] for r in m["leads_funnel"]["by_source"]} >= set(HOSTILE)  # they did arrive
    assert m["leads_funnel"]["note"] == '<svg onload=alert(7)>'
    nb = nbformat.read(out.parent / "run.ipynb", as_version=4)
    page = report_page(nb, title="Lifecycle", study="lifecycle_segments",
                       run_date="2026-01-01T00:00:00Z", parameters=parameters)
    assert "&lt;img src=x" in page                 # shown, as text
    for live in LIVE:
        assert live not in page, live
    ex = pd.read_csv(out / "exports" / "customer_lifecycle.csv", dtype=str)
    assert set(ex["customer_segment"]) <= {*HOSTILE, *(f"'{h}" for h in HOSTILE)}
