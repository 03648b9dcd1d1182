"""DuckDB against Spark (local[2], the ``spark`` fixture): each study's result must be the
same on both engines (counts exactly, floats to 1e-9). One section per study."""
from __future__ import annotations

import pandas as pd
import pytest

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]


# --- overview ---
def _overview_hand_log() -> pd.DataFrame:
    """Orders over several rows (order_id), rows without an order id, a free item, two
    orders on one day, a leap day at 23:59, a week boundary, a missing segment value."""
    rows = [  # customer, timestamp, amount, order_id, channel
        ("a", "2020-01-01 09:00", 10.0, "o1", "web"),
        ("a", "2020-01-01 09:05", 5.0, "o1", "web"),
        ("a", "2020-01-11 10:00", 0.0, "o2", "shop"),
        ("a", "2020-03-02 10:00", 20.0, None, "web"),
        ("b", "2020-01-20 12:00", 7.5, None, None),
        ("b", "2020-01-20 18:00", 7.5, None, None),
        ("c", "2020-02-29 23:59", 30.0, "o9", "shop"),
        ("c", "2020-04-05 23:59", 12.0, "o10", "web"),
        ("c", "2020-04-06 00:00", 3.0, "o11", "web"),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "order_id", "channel"])
    return df.astype({"customer_id": "string", "order_id": "string", "channel": "string"}).assign(
        timestamp=lambda d: pd.to_datetime(d["timestamp"]))


def _assert_same_overview(a, b) -> None:
    """Two :class:`~clm_lib.studies.overview.compute.OverviewResult` are the same."""
    from clm_lib.studies.overview import report

    assert a.summary.keys() == b.summary.keys()
    for k, v in a.summary.items():
        if isinstance(v, float):
            assert b.summary[k] == pytest.approx(v, rel=1e-9, nan_ok=True), k
        else:
            assert b.summary[k] == v, k
    pd.testing.assert_frame_equal(a.data.customers, b.data.customers, rtol=1e-9)
    pd.testing.assert_frame_equal(a.monthly, b.monthly, rtol=1e-9)
    pd.testing.assert_frame_equal(a.orders_per_customer, b.orders_per_customer, rtol=1e-9)
    pd.testing.assert_series_equal(a.gaps, b.gaps, check_exact=True)
    assert a.gap_median == pytest.approx(b.gap_median, nan_ok=True)
    pd.testing.assert_frame_equal(a.concentration.curve, b.concentration.curve, rtol=1e-9)
    assert a.concentration.gini == pytest.approx(b.concentration.gini, rel=1e-9)
    assert a.concentration.top10_share == pytest.approx(b.concentration.top10_share, rel=1e-9)
    if a.segments is None:
        assert b.segments is None
    else:
        pd.testing.assert_frame_equal(a.segments, b.segments, rtol=1e-9)
    assert report.summary_lines(a) == report.summary_lines(b)


@pytest.mark.spark
def test_overview_spark_parity(spark, cdnow_basket):
    from clm_lib.reduce import get_engine
    from clm_lib.studies.overview.compute import overview_study

    duck = get_engine("duckdb")
    cols = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}
    a, b = (overview_study(cdnow_basket[1], columns=cols, as_of="1998-06-30",
                           segment="basket", engine=e) for e in (duck, spark))
    assert a.summary["customers"] == 23570 and a.summary["orders"] == 69659
    _assert_same_overview(a, b)
    assert (a.quality.rows_in, a.quality.rows_used, a.quality.dropped) == \
        (b.quality.rows_in, b.quality.rows_used, b.quality.dropped)
    for period in ("month", "quarter", "week"):
        a, b = (overview_study(_overview_hand_log(), segment="channel", period=period,
                               engine=e) for e in (duck, spark))
        _assert_same_overview(a, b)
# --- overview ---
