"""The CLV study on anyone's data: the observation and calibration ends come from the
data when not given, and value is revenue when no margin is given."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clm_lib.config import CDNOW_MASTER
from clm_lib.exceptions import ParameterError
from clm_lib.reduce import get_engine
from clm_lib.reduce.customers import observation_window
from clm_lib.studies.clv import report
from clm_lib.studies.clv.compute import clv_study

CDNOW = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}


@pytest.fixture(scope="module")
def cdnow():
    return get_engine().load_transactions(str(CDNOW_MASTER), CDNOW)[0]


def test_window_from_the_data(cdnow):
    """CDNOW master runs from 1997-01-01 to 1998-06-30 (545 days): the last third is the
    holdout, so calibration ends floor(545 * 2 / 3) = 363 days after the first day."""
    st = clv_study(cdnow, n_draws=0)
    assert (st.as_of, st.as_of_source) == ("1998-06-30", "data")
    assert (st.calibration_end, st.calibration_end_source) == ("1997-12-30", "data")
    assert report.decision(st).as_of == "1998-06-30 (the last date in the data)"
    m = report.clv_metrics(st)
    assert m["as_of_source"] == "data" and m["calibration_end_source"] == "data"
    given = clv_study(cdnow, as_of="1998-06-30", calibration_end="1997-12-30", n_draws=0)
    assert given.as_of_source == given.calibration_end_source == "parameter"
    assert given.forecast["clv_total"] == st.forecast["clv_total"]


def test_observation_window_rule():
    tx = pd.DataFrame({"customer_id": ["a", "b"],
                       "timestamp": pd.to_datetime(["2024-01-01 08:00", "2024-01-31 23:00"]),
                       "amount": [1.0, 2.0]})
    w = observation_window(get_engine(), tx)
    assert w["as_of"] == pd.Timestamp("2024-01-31") and w["first_day"] == pd.Timestamp("2024-01-01")
    assert w["calibration_end"] == pd.Timestamp("2024-01-21")  # 30 days * 2/3 = 20
    w = observation_window(get_engine(), tx, as_of="2024-03-01", holdout_share=0.5)
    assert w["calibration_end"] == pd.Timestamp("2024-01-31")  # 60 days / 2 = 30
    assert (w["as_of_source"], w["calibration_end_source"]) == ("parameter", "data")


def test_no_margin_means_revenue(cdnow):
    rev = clv_study(cdnow, n_draws=0)
    marg = clv_study(cdnow, margin=0.3, n_draws=0)
    assert (rev.value_basis, rev.margin, marg.value_basis) == ("revenue", 1.0, "margin")
    np.testing.assert_allclose(marg.values["clv"], 0.3 * rev.values["clv"], rtol=1e-12)
    text = " ".join(report.decision(rev).findings)
    assert "discounted revenue" in text and "no margin was given" in text
    assert "discounted margin at a 30 % margin" in " ".join(report.decision(marg).findings)


@pytest.mark.parametrize("kw, match", [
    ({"calibration_end": "1998-06-30", "as_of": "1998-06-30"}, "must be before as_of"),
    ({"margin": 1.5}, "margin must be a fraction"),
    ({"margin": 0}, "margin must be a fraction"),
])
def test_bad_window_or_margin(cdnow, kw, match):
    with pytest.raises(ParameterError, match=match):
        clv_study(cdnow, n_draws=0, **kw)
