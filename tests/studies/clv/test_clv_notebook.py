"""The CLV notebook runs end to end on CDNOW master and writes its metrics and exports."""
import json

import pytest

#: one pandas run serves the metrics, export and engine-parity tests
PANDAS = {"n_draws": 20, "engine": "pandas"}


@pytest.mark.slow
def test_clv_notebook_runs(run_notebook):
    out = run_notebook("30_clv.ipynb", **PANDAS)
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["models"]) >= {"bgnbd", "pareto_nbd", "mbgnbd", "gamma_gamma"}
    assert set(m["models"]["pareto_nbd"]["params"]) == {"r", "alpha", "s", "beta"}
    assert set(m["models"]["gamma_gamma"]["params"]) == {"p", "q", "v"}
    assert m["customers"] == 23570
    assert 0 < m["top_decile_share"] < 1
    lo, hi = m["forecast"]["clv_total_interval"]
    assert lo < m["forecast"]["clv_total"] < hi
    assert 2 <= len(m["headline"]) <= 4
    export = (out / "exports" / "customer_value.csv").read_text().splitlines()
    assert export[0].startswith("customer,") and export[1].startswith("C-")
    assert len(export) == 23570 + 1


@pytest.mark.slow
def test_clv_notebook_on_duckdb_matches_pandas(run_notebook):
    """engine=duckdb: same metrics as the pandas run, same data-quality record."""
    metrics = {engine: json.loads((run_notebook("30_clv.ipynb", **{**PANDAS, "engine": engine})
                                   / "metrics.json").read_text())
               for engine in ("pandas", "duckdb")}
    p, d = metrics["pandas"], metrics["duckdb"]
    assert d["customers"] == p["customers"] == 23570
    for name in ("bgnbd", "gamma_gamma", "bgnbd_all_data"):
        assert d["models"][name]["params"] == pytest.approx(p["models"][name]["params"], rel=1e-6)
    assert d["forecast"]["clv_total"] == pytest.approx(p["forecast"]["clv_total"], rel=1e-9)
    for key in ("rows_in", "rows_used", "dropped"):
        assert d["data_quality"][key] == p["data_quality"][key]
