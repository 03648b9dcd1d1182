"""Each study's result on DuckDB (the default engine) and on Spark (local[2]): the same
tables and numbers, floats to 1e-9 relative. Every test id names Spark (see conftest)."""
from __future__ import annotations

import pandas as pd
import pytest

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

RTOL, ATOL = 1e-9, 1e-12


# --- survival_churn ---
SURVIVAL_CASES = {
    "telco-subscriptions": dict(
        subscriptions="TELCO", columns={"customerID": "customer_id", "Churn": "churned"},
        segment="Contract", margin="MonthlyCharges",
        covariates=["Contract", "InternetService", "PaymentMethod", "PaperlessBilling",
                    "SeniorCitizen", "MonthlyCharges"]),
    "cdnow-inactivity": dict(
        transactions="CDNOW", columns={"date": "timestamp", "dollars": "amount", "cds": "quantity"},
        as_of="1998-06-30", covariates=["first_amount", "first_quantity"],
        margin="spend_per_period"),
}


@pytest.mark.parametrize("case", list(SURVIVAL_CASES), ids=lambda c: f"{c}-spark")
def test_survival_churn_spark_parity(spark, case):
    from clm_lib.config import CDNOW_MASTER, TELCO_CHURN
    from clm_lib.studies.survival_churn.compute import survival_study

    files = {"TELCO": str(TELCO_CHURN), "CDNOW": str(CDNOW_MASTER)}
    kwargs = {k: files.get(v, v) if isinstance(v, str) else v
              for k, v in SURVIVAL_CASES[case].items()}
    duck = survival_study(**kwargs, engine="duckdb")
    sprk = survival_study(**kwargs, engine=spark)

    def same(a, b):
        if a is None or b is None:
            assert a is None and b is None
            return
        pd.testing.assert_frame_equal(a, b, rtol=RTOL, atol=ATOL)

    for name in ("durations", "km", "segment_hr", "hazard_ratios", "ph", "comparison",
                 "calibration", "risk", "value"):
        same(getattr(duck, name), getattr(sprk, name))
    assert (duck.selected, duck.strata, duck.baselines) == \
        (sprk.selected, sprk.strata, sprk.baselines)
    assert duck.rmst_horizon == pytest.approx(sprk.rmst_horizon, rel=RTOL)
    if duck.logrank is not None:
        assert duck.logrank.p_value == pytest.approx(sprk.logrank.p_value, rel=RTOL)
    for q, r in zip(duck.qualities, sprk.qualities, strict=True):
        assert q.to_dict() == r.to_dict()
# --- survival_churn ---
