"""Period codes and labels, by hand."""
import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import ParameterError
from clm_lib.reduce.periods import (
    last_complete_period,
    period_code,
    period_codes,
    period_labels,
    period_start,
)


def test_labels_by_hand():
    assert period_labels([1997 * 12], "month") == ["1997-01"]
    assert period_labels([1997 * 4 + 2], "quarter") == ["1997-Q3"]
    assert period_labels([1997], "year") == ["1997"]
    # 1997-01-06 is the Monday of ISO week 2 of 1997: epoch day 9867
    assert period_labels([(9867 - 4) // 7], "week") == ["1997-W02"]


@pytest.mark.parametrize("period", ["week", "month", "quarter", "year"])
def test_codes_round_trip_and_ibis_agrees(period):
    days = pd.date_range("1996-12-25", "1998-01-10", freq="D")
    codes = period_codes(days, period)
    # consecutive periods differ by 1 and each starts on its own first day
    assert set(np.diff(np.unique(codes))) == {1}
    assert (period_codes(period_start(codes, period), period) == codes).all()
    t = ibis.memtable(pd.DataFrame({"day": days.date}))
    out = t.select(c=period_code(t.day.cast("date"), period)).to_pandas()["c"].to_numpy()
    np.testing.assert_array_equal(out, codes)


def test_last_complete_period():
    assert last_complete_period("1998-06-30", "month") == 1998 * 12 + 5
    assert last_complete_period("1998-06-29", "month") == 1998 * 12 + 4
    assert last_complete_period(dt.date(1998, 12, 31), "year") == 1998


def test_unknown_period():
    with pytest.raises(ParameterError, match="cohort_period"):
        period_codes(pd.to_datetime(["2020-01-01"]), "fortnight")
