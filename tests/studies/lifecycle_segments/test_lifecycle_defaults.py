"""The lifecycle study on anyone's data: as_of from the data, value as revenue without a
margin, and no currency symbol unless one is given."""
from __future__ import annotations

import numpy as np
import pytest

from clm_lib.config import CDNOW_MASTER
from clm_lib.exceptions import ParameterError
from clm_lib.reduce import get_engine
from clm_lib.studies.lifecycle_segments import report
from clm_lib.studies.lifecycle_segments.compute import lifecycle_study

CDNOW = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}


@pytest.fixture(scope="module")
def cdnow():
    return get_engine().load_transactions(str(CDNOW_MASTER), CDNOW)[0]


@pytest.fixture(scope="module")
def derived(cdnow):
    return lifecycle_study(cdnow, what_if_points=[1], what_if_intervals=False)


def test_as_of_and_value_basis_from_the_data(cdnow, derived):
    assert (derived.as_of, derived.as_of_source) == ("1998-06-30", "data")
    assert (derived.value_basis, derived.margin) == ("revenue", 1.0)
    given = lifecycle_study(cdnow, as_of="1998-06-30", margin=0.3, what_if_points=[1],
                            what_if_intervals=False)
    assert given.as_of_source == "parameter" and given.value_basis == "margin"
    np.testing.assert_allclose(given.values["clv"], 0.3 * derived.values["clv"], rtol=1e-12)
    assert (given.stages["stage"] == derived.stages["stage"]).all()
    m = report.lifecycle_metrics(derived, currency=None)
    assert (m["as_of_source"], m["value_basis"], m["currency"]) == ("data", "revenue", None)


def test_no_currency_no_symbol(derived):
    """Without a currency, amounts carry no unit and labels no empty brackets."""
    d = report.decision(derived, currency=None)
    figures = report.lifecycle_figures(derived, currency=None)
    text = " ".join(d.findings + d.actions + [f["value"] + f["detail"] for f in figures])
    assert "None" not in text and "$" not in text and "()" not in text
    assert "discounted revenue" in text
    assert d.as_of == "1998-06-30 (the last date in the data)"
    labels = " ".join(report.stage_view(derived, currency=None)["rename"].values())
    assert "()" not in labels and "None" not in labels


def test_margin_out_of_range(cdnow):
    with pytest.raises(ParameterError, match="margin must be a fraction"):
        lifecycle_study(cdnow, margin=30)
