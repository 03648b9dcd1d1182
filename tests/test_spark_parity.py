"""Each study's result on DuckDB (the default engine) and on Spark (local[2]): the same
tables and numbers, floats to 1e-9 relative. Every test id names Spark (see conftest)."""
from __future__ import annotations

import pandas as pd
import pytest

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

RTOL, ATOL = 1e-9, 1e-12


# --- lifecycle_segments ---
def test_lifecycle_segments_spark_parity(spark, cdnow_basket):
    """CDNOW master with a segment (Parquet): thresholds, stages at both dates, flows, RFM,
    ladder, reactivation, value and what-if as on DuckDB."""
    import numpy as np

    from clm_lib.reduce import get_engine
    from clm_lib.studies.lifecycle_segments.compute import lifecycle_study

    as_of, columns = "1998-06-30", {"date": "timestamp", "dollars": "amount", "cds": "quantity"}
    kw = dict(as_of=as_of, segment="basket", horizon=26)
    results = {}
    for eng in (get_engine("duckdb"), spark):
        data, dq = eng.load_transactions(cdnow_basket[1], columns, as_of=as_of)
        results[eng.name] = lifecycle_study(data, engine=eng, **kw), dq
    (duck, duck_dq), (sprk, sprk_dq) = results["duckdb"], results["spark"]
    assert duck_dq.to_dict() == sprk_dq.to_dict()
    assert duck.thresholds == sprk.thresholds and duck.flows == sprk.flows
    assert duck.model_errors == sprk.model_errors == {}
    for name in ("stages", "stages_start", "rfm"):
        a, b = getattr(duck, name), getattr(sprk, name)
        if name != "stages_start":  # each engine returns the segment in its own text type
            a = a.assign(segment_value=a["segment_value"].astype("string"))
            b = b.assign(segment_value=b["segment_value"].astype("string"))
        pd.testing.assert_frame_equal(a, b, rtol=RTOL, atol=ATOL, check_index_type=False)
    pd.testing.assert_frame_equal(duck.transitions, sprk.transitions)
    for name in ("stage_summary", "stage_segments", "segments", "ladder", "second_purchase",
                 "reactivation", "values", "what_if"):
        pd.testing.assert_frame_equal(getattr(duck, name), getattr(sprk, name), rtol=RTOL,
                                      atol=ATOL, check_index_type=False)
    np.testing.assert_allclose(duck.model.params_, sprk.model.params_, rtol=RTOL)
    np.testing.assert_allclose(duck.spend_model.params_, sprk.spend_model.params_, rtol=RTOL)
# --- lifecycle_segments ---
