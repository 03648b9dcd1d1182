"""No script from data (issue 16): the survival report on a Telco copy whose segment
values, covariate name, covariate levels and file name hold markup. Every data-derived
text must reach the page escaped: it once ran through ``display(Markdown(...))``."""
from __future__ import annotations

import re

import nbformat
import pandas as pd
import pytest

IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(2)>'
LINK = "[click](javascript:alert(3))"
#: What must never be in the page: live markup, or a link that runs script.
LIVE = ("<img src=x", "<svg onload", 'href="javascript:', "href='javascript:")


@pytest.fixture(scope="module")
def hostile_telco(tmp_path_factory):
    from clm_lib.config import TELCO_CHURN

    raw = pd.read_csv(TELCO_CHURN, dtype=str).head(2500)
    raw["Contract"] = raw["Contract"].replace({"Month-to-month": IMG, "Two year": LINK})
    raw["InternetService"] = raw["InternetService"].replace({"DSL": SVG})
    raw["PaymentMethod"] = raw["PaymentMethod"].replace({"Electronic check": LINK})
    path = tmp_path_factory.mktemp("hostile") / f"telco {IMG}.csv"
    raw.to_csv(path, index=False)
    return str(path)


@pytest.mark.slow
def test_hostile_values_stay_text_in_the_report(run_notebook, hostile_telco):
    from clm_lib.run.html import report_page

    name = "<svg onload=alert(4)>"  # a covariate column renamed through `columns`
    out = run_notebook(
        "20_survival_churn.ipynb", subscriptions=hostile_telco,
        columns={"customerID": "customer_id", "Churn": "churned", "PaymentMethod": name},
        segment="Contract", covariates=["Contract", "InternetService", name, "MonthlyCharges"],
        revenue="MonthlyCharges", max_model_customers=None)
    nb = nbformat.read(out.parent / "run.ipynb", as_version=4)
    page = report_page(nb, title="survival", study="survival_churn",
                       run_date="2026-01-01T00:00:00Z", parameters={})
    # the hostile values reached the report (as text), so the test tests something
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;svg onload=alert(4)&gt;" in page
    assert LINK in page or LINK.replace("(", "&#40;") in page
    for bad in LIVE:
        assert bad not in page, bad
    assert not re.search(r"<a\b[^>]*javascript:", page, re.I)
    # and no notebook output went through Markdown (which keeps raw HTML)
    kinds = {k for cell in nb.cells for o in cell.get("outputs", [])
             for k in o.get("data", {})}
    assert "text/markdown" not in kinds
