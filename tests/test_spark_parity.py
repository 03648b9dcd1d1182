"""DuckDB against Spark (local[2], the ``spark`` fixture): each study's result must be the
same on both engines (counts exactly, floats to 1e-9). One section per study."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]


# --- clv ---
def test_clv_spark_parity(spark, cdnow_basket):
    """The CLV study on CDNOW master with a segment (every 17th row without one), loaded
    and reduced in each engine: reduced tables, estimates, holdout, tracking, values,
    intervals and segments agree."""
    from clm_lib.reduce import get_engine
    from clm_lib.studies.clv import report
    from clm_lib.studies.clv.compute import clv_study

    _, parquet = cdnow_basket
    columns = {"date": "timestamp", "dollars": "amount"}
    kw = dict(calibration_end="1997-09-30", as_of="1998-06-30", time_unit="week", horizon=52,
              n_draws=20, seed=3, segment="basket")
    runs = {}
    for eng in (get_engine("duckdb"), spark):
        tx, dq = eng.load_transactions(parquet, columns, as_of=kw["as_of"])
        runs[eng.name] = clv_study(tx, engine=eng, **kw), dq
    (d, d_dq), (s, s_dq) = runs["duckdb"], runs["spark"]
    assert (s_dq.rows_in, s_dq.rows_used, s_dq.dropped) == (d_dq.rows_in, d_dq.rows_used, d_dq.dropped)
    for part in ("calibration", "full"):
        pd.testing.assert_frame_equal(getattr(s, part), getattr(d, part), rtol=1e-9,
                                      check_index_type=False)
    assert s.model_errors == d.model_errors == {}
    assert list(s.models) == list(d.models) == ["bgnbd", "pareto_nbd", "mbgnbd", "gamma_gamma"]
    for name, m in d.models.items():
        np.testing.assert_allclose(s.models[name].params_.to_numpy(), m.params_.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(s.final_model.params_.to_numpy(), d.final_model.params_.to_numpy(),
                               rtol=1e-9)
    pd.testing.assert_frame_equal(report.model_comparison(s), report.model_comparison(d), rtol=1e-9)
    pd.testing.assert_frame_equal(s.tracking, d.tracking, rtol=1e-9)
    assert s.tracking["actual"].sum() == d.tracking["actual"].sum() > 0
    pd.testing.assert_frame_equal(s.cond_holdout, d.cond_holdout, rtol=1e-9)
    cols = ["frequency", "recency", "T", "p_alive", "expected_purchases", "clv",
            "expected_purchases_lower", "expected_purchases_upper"]
    pd.testing.assert_frame_equal(s.values[cols], d.values[cols], rtol=1e-9, check_index_type=False)
    # the interval bounds and the spend carry the Gamma-Gamma standard errors
    pd.testing.assert_frame_equal(s.values[["clv_lower", "clv_upper"]],
                                  d.values[["clv_lower", "clv_upper"]], rtol=1e-6,
                                  check_index_type=False)
    pd.testing.assert_frame_equal(s.segments, d.segments, rtol=1e-9, check_index_type=False)
    assert s.segments["customers"].sum() == len(d.full)
    for key in ("expected_purchases", "clv_total", "holdout_predicted", "holdout_actual"):
        assert s.forecast[key] == pytest.approx(d.forecast[key], rel=1e-9), key
    assert s.dropped == d.dropped
# --- clv ---
