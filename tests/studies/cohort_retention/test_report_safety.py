"""The cohort report on hostile data: markup in values, column names and the file name
reaches the page only escaped (no script from data)."""
import json

import numpy as np
import pandas as pd
import pytest

#: What an attacker would put into a data value, a column name or a file name.
HOSTILE = ["<img src=x onerror=alert(1)>", '"><svg onload=alert(2)>', "[click](javascript:alert(3))"]
#: What must not appear in the page (escaped forms such as ``&lt;img`` are fine).
LIVE = ["<img src=x", "<svg onload", 'href="javascript:', "href='javascript:"]


def _hostile_transactions(folder):
    """The first 600 CDNOW customers' purchases (to 1997-12-31) with markup in the ids,
    the segment values, the column names and the file name."""
    from clm_lib.config import DATA_DIR

    raw = pd.read_csv(DATA_DIR / "cdnow_master.csv", dtype={"customer_id": str})
    raw = raw.loc[raw["customer_id"].isin(raw["customer_id"].unique()[:600])
                  & (raw["date"] <= "1997-12-31")]
    codes = pd.factorize(raw["customer_id"])[0]
    df = pd.DataFrame({HOSTILE[1] + "id": [HOSTILE[c % 3] + str(c) for c in codes],
                       HOSTILE[0] + "when": raw["date"].to_numpy(),
                       "amt": raw["dollars"].to_numpy(),
                       HOSTILE[2]: [HOSTILE[c % 3] for c in codes]})
    path = folder / f"{HOSTILE[0]}.csv"
    df.to_csv(path, index=False)
    return {"transactions": str(path),
            "columns": {HOSTILE[1] + "id": "customer_id", HOSTILE[0] + "when": "timestamp",
                        "amt": "amount"},
            "segment": HOSTILE[2], "as_of": "1997-12-31", "currency": HOSTILE[0]}


def _hostile_snapshot(folder):
    """Snapshot subscriptions (tenure, churn flag) with a hostile segment column."""
    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame({"sub": [f"s{i}" for i in range(n)],
                       "tenure": rng.integers(0, 24, n),
                       "left": np.where(rng.random(n) < 0.3, "Yes", "No"),
                       HOSTILE[0]: [HOSTILE[i % 3] for i in range(n)]})
    path = folder / f"{HOSTILE[1]}.csv"
    df.to_csv(path, index=False)
    return {"subscriptions": str(path), "columns": {"sub": "customer_id", "left": "churned"},
            "segment": HOSTILE[0]}


@pytest.mark.slow
@pytest.mark.parametrize("make", [_hostile_transactions, _hostile_snapshot],
                         ids=["transactions", "snapshot"])
def test_no_script_from_data(run_notebook, tmp_path_factory, make):
    import nbformat

    from clm_lib.run.html import report_page

    params = make(tmp_path_factory.mktemp("hostile"))
    out = run_notebook("10_cohort_retention.ipynb", sample=False, **params)
    nb = nbformat.read(out.parent / "run.ipynb", as_version=4)
    page = report_page(nb, title="Cohort retention", study="cohort_retention",
                       run_date="2026-01-01T00:00:00Z", parameters=params)
    for bad in LIVE:
        assert bad not in page, bad
    # the hostile values did reach the page, escaped: the test tests something
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    # the decision box names the file, escaped
    decision = json.loads((out / "metrics.json").read_text())["decision"]
    assert decision["source"] == params.get("transactions", params.get("subscriptions")
                                            ).rsplit("/", 1)[-1]
    # no data-derived Markdown output anywhere in the executed notebook
    assert not any("text/markdown" in o.get("data", {}) for c in nb.cells
                   for o in c.get("outputs", []))
