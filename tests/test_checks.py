import pandas as pd
import pytest

from clm_lib.checks import require_columns, unit_days
from clm_lib.exceptions import MissingColumnsError, ParameterError


def test_require_columns_names_missing_and_found():
    with pytest.raises(MissingColumnsError, match=r"lacks required column\(s\) \['T'\]; found \['x'\]"):
        require_columns(pd.DataFrame({"x": [1]}), ["x", "T"], "data")
    require_columns({"x": [1], "T": [2]}, ["x", "T"])  # mappings (model data) too
    with pytest.raises(ParameterError, match="DataFrame"):
        require_columns([1, 2], ["x"])


def test_unit_days_and_allowed_subset():
    assert unit_days("month") == pytest.approx(30.4375)
    assert unit_days("year") == 365.25
    with pytest.raises(ParameterError, match="'year'"):
        unit_days("year", allowed=("day", "week", "month"))
