"""The CDNOW 1/10 sample reduced as in the published papers (39-week calibration to
1997-09-30, holdout to 1998-06-30, weeks), through the default engine."""
import pandas as pd
import pytest

from clm_lib.config import CDNOW_SAMPLE
from clm_lib.reduce import get_engine


@pytest.fixture(scope="session")
def cdnow_sample_summary() -> pd.DataFrame:
    """Per-customer frequency / recency / T / monetary value of the CDNOW sample."""
    d = pd.read_csv(CDNOW_SAMPLE, dtype={"customer_id": str})
    tx = pd.DataFrame({"customer_id": d["customer_id"].astype("string"),
                       "timestamp": pd.to_datetime(d["date"]), "amount": d["dollars"]})
    return get_engine("duckdb").summary_data(tx, as_of="1998-06-30", calibration_end="1997-09-30",
                                             time_unit="week")

