"""No script from data: hostile text in the file name, the column names and the segment
values of a transaction log reaches the CLV report only escaped."""
import json

import numpy as np
import pandas as pd
import pytest

IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(2)>'
LINK = "[click](javascript:alert(3))"
#: what must never appear in the rendered page: live markup or a javascript: link
LIVE = ("<img src=x", "<svg onload", 'href="javascript:', "href='javascript:")


@pytest.mark.slow
def test_hostile_values_never_become_markup(run_notebook, tmp_path):
    import nbformat

    from clm_lib.config import DATA_DIR
    from clm_lib.run.html import report_page

    raw = pd.read_csv(DATA_DIR / "cdnow_master.csv", dtype={"customer_id": str})
    # a tenth of the customers keeps the run short; every model still fits
    raw = raw[raw["customer_id"].astype(int) % 10 == 0]
    log = pd.DataFrame({IMG: raw["date"], SVG: raw["dollars"], "customer_id": raw["customer_id"],
                        LINK: np.where(raw["cds"] > 2, IMG, np.where(raw["cds"] > 1, SVG, LINK))})
    src = tmp_path / f"{IMG}{LINK}.csv"
    log.to_csv(src, index=False)
    params = {"transactions": str(src), "columns": {IMG: "timestamp", SVG: "amount"},
              "segment": LINK, "calibration_end": "1997-09-30", "as_of": "1998-06-30",
              "n_draws": 10, "currency": "$"}
    out = run_notebook("30_clv.ipynb", sample=False, **params)
    nb = nbformat.read(out.parent / "run.ipynb", as_version=4)
    page = report_page(nb, title="CLV", study="clv", run_date="2026-01-01T00:00:00Z",
                       parameters=params)
    for bad in LIVE:
        assert bad not in page, bad
    # the hostile text is there, escaped: the segment table and the decision's source
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["decision"]["source"] == f"{IMG}{LINK}.csv"
    seg = [o for c in nb.cells for o in c.get("outputs", [])
           if "Value by segment" in str(o.get("data", {}).get("text/html", ""))]
    assert seg, "the segment table is shown"
