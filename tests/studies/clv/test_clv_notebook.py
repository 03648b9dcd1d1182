"""The CLV notebook runs end to end on CDNOW master and writes its metrics and exports."""
import json

import pytest

#: one run (default engine) serves the metrics and export tests
RUN = {"n_draws": 20}


@pytest.mark.slow
def test_clv_notebook_runs(run_notebook):
    out = run_notebook("30_clv.ipynb", **RUN)
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["models"]) >= {"bgnbd", "pareto_nbd", "mbgnbd", "gamma_gamma"}
    assert set(m["models"]["pareto_nbd"]["params"]) == {"r", "alpha", "s", "beta"}
    assert set(m["models"]["gamma_gamma"]["params"]) == {"p", "q", "v"}
    assert m["customers"] == 23570
    assert 0 < m["top_decile_share"] < 1
    lo, hi = m["forecast"]["clv_total_interval"]
    assert lo < m["forecast"]["clv_total"] < hi
    assert 2 <= len(m["headline"]) <= 4
    assert m["data_quality"]["rows_in"] == m["data_quality"]["rows_used"] == 69659
    export = (out / "exports" / "customer_value.csv").read_text().splitlines()
    assert export[0].startswith("customer,") and export[1].startswith("C-")
    assert len(export) == 23570 + 1
    assert {p.name for p in (out / "exports").glob("*.csv")} == {
        "customer_value.csv", "model_comparison.csv", "tracking.csv"}
