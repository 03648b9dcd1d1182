"""The CLV study on DuckDB and Spark gives the pandas study's numbers (CDNOW master).

The transactions are loaded and reduced in the engine; only per-customer summaries, the
repeat purchases per day and the segment per customer come back. Estimates, holdout
figures, tracking, values and segment tables must equal the pandas study's.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_lib.studies.clv import compute as clv
from clm_lib.config import CDNOW_MASTER
from clm_lib.reduce.engine import get_engine

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

COLUMNS = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}
KW = dict(calibration_end="1997-09-30", as_of="1998-06-30", time_unit="week", horizon=52,
          n_draws=20, seed=3, segment="quantity")


@pytest.fixture(scope="module")
def reference():
    tx, dq = get_engine("pandas").load_transactions(str(CDNOW_MASTER), COLUMNS, as_of=KW["as_of"])
    return clv.clv_study(tx, **KW), dq


def test_clv_study_identical_on_engines(reference, engine):
    ref, ref_dq = reference
    tx, dq = engine.load_transactions(str(CDNOW_MASTER), COLUMNS, as_of=KW["as_of"])
    assert (dq.rows_in, dq.rows_used, dq.dropped) == (ref_dq.rows_in, ref_dq.rows_used, ref_dq.dropped)
    got = clv.clv_study(tx, engine=engine, **KW)
    for name, m in ref.models.items():
        np.testing.assert_allclose(np.asarray(got.models[name].params_),
                                   np.asarray(m.params_), rtol=1e-6)
    pd.testing.assert_frame_equal(got.comparison, ref.comparison, rtol=1e-6)
    pd.testing.assert_frame_equal(got.tracking, ref.tracking, rtol=1e-9)
    assert got.tracking["actual"].sum() == ref.tracking["actual"].sum() > 0
    cols = ["frequency", "recency", "T", "p_alive", "clv", "clv_lower", "clv_upper"]
    pd.testing.assert_frame_equal(got.values[cols], ref.values[cols], rtol=1e-6,
                                  check_index_type=False)
    pd.testing.assert_frame_equal(got.segments, ref.segments, rtol=1e-9, check_index_type=False)
    assert got.dropped == ref.dropped
    assert got.forecast["clv_total"] == pytest.approx(ref.forecast["clv_total"], rel=1e-9)


def test_tracking_from_per_day_counts_equals_from_transactions(reference):
    """The reduced input (repeat purchases per day) gives the same tracking table."""
    ref, _ = reference
    tx, _ = get_engine("pandas").load_transactions(str(CDNOW_MASTER), COLUMNS, as_of=KW["as_of"])
    kw = dict(calibration_end=KW["calibration_end"], as_of=KW["as_of"], time_unit="week")
    from_tx = clv.tracking_data(tx, ref.calibration, ref.models["bgnbd"], **kw)
    pd.testing.assert_frame_equal(from_tx, ref.tracking)
    # every repeat purchase day of the calibration customers, calibration and holdout
    cal = ref.calibration
    assert from_tx["actual"].sum() == (cal["frequency"] + cal["frequency_holdout"]).sum()
