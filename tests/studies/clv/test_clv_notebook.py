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
    lo, hi = m["forecast"]["clv_total_predictive_interval"]
    assert lo < m["forecast"]["clv_total"] < hi
    lo, hi = m["forecast"]["expected_purchases_predictive_interval"]
    assert lo < m["forecast"]["expected_purchases"] < hi
    for name in ("bgnbd", "pareto_nbd", "mbgnbd"):
        h = m["holdout"][name]
        assert len(h["interval"]) == 2 and h["actual_inside"] == (
            h["interval"][0] <= h["actual_total"] <= h["interval"][1])
    assert m["forecast"]["model"] in ("pareto_nbd", "mbgnbd")
    assert f'{m["forecast"]["model"]}_all_data' in m["models"]
    assert set(m["frequency_fit"]) == {"actual", "bgnbd", "pareto_nbd", "mbgnbd"}
    assert 2 <= len(m["headline"]) <= 4
    assert m["data_quality"]["rows_in"] == m["data_quality"]["rows_used"] == 69659
    export = (out / "exports" / "customer_value.csv").read_text().splitlines()
    # the real ids under the one id column name, for the CRM
    assert export[0].startswith("customer_id,") and not export[1].startswith("C-")
    assert m["decision"]["source"] == "cdnow_master.csv" and len(m["decision"]["findings"]) >= 3
    assert m["decision"]["as_of"] == "1998-06-30 (as given)"
    assert [x["stage"] for x in m["lifecycle"]] == ["loyalty", "loyalty", "retention"]
    assert len(export) == 23570 + 1
    assert {p.name for p in (out / "exports").glob("*.csv")} == {
        "customer_value.csv", "model_comparison.csv", "tracking.csv", "frequency_fit.csv",
        "data_dictionary.csv"}
    head = export[0].split(",")
    assert {"p_alive", "purchases_lower", "purchases_upper", "clv_lower", "clv_upper"} <= set(head)
