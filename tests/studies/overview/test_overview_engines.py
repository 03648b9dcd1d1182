"""The customer-base overview on the shared engines: pandas, DuckDB and Spark (local[2]).

The DuckDB and Spark runs reduce the transactions in the engine (one row per customer,
per period and per gap length comes back); every table and figure must be those of the
pandas run.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from clm_lib.studies.overview import compute as ov
from clm_lib.config import NOTEBOOKS_DIR
from clm_lib.reduce.engine import get_engine
from clm_lib.exceptions import MissingColumnsError, ParameterError

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

AS_OF = "1998-06-30"
COLUMNS = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}


@pytest.fixture(scope="module")
def cdnow(cdnow_basket):
    return cdnow_basket[1]  # Parquet


def _hand_log() -> pd.DataFrame:
    """Orders spread over several rows (order_id), rows without an order id, a free item,
    a customer with one purchase day, a segment with a missing value."""
    rows = [  # customer, timestamp, amount, order_id, channel
        ("a", "2020-01-01 09:00", 10.0, "o1", "web"),
        ("a", "2020-01-01 09:05", 5.0, "o1", "web"),      # same order: 15.0
        ("a", "2020-01-11 10:00", 0.0, "o2", "shop"),     # free item, a purchase day
        ("a", "2020-03-02 10:00", 20.0, None, "web"),
        ("b", "2020-01-20 12:00", 7.5, None, None),
        ("b", "2020-01-20 18:00", 7.5, None, None),       # two orders on one day, no gap
        ("c", "2020-02-29 23:59", 30.0, "o9", "shop"),
        ("c", "2020-04-06 00:00", 12.0, "o10", "web"),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "order_id", "channel"])
    return df.astype({"customer_id": "string", "order_id": "string", "channel": "string"}).assign(
        timestamp=lambda d: pd.to_datetime(d["timestamp"]))


def assert_same(got: ov.OverviewData, ref: ov.OverviewData) -> None:
    pd.testing.assert_frame_equal(got.customers, ref.customers, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(got.periods, ref.periods, check_exact=False, rtol=1e-9)
    pd.testing.assert_series_equal(got.gaps, ref.gaps, check_index_type=False)
    if ref.segments is not None:
        pd.testing.assert_frame_equal(got.segments, ref.segments, check_exact=False, rtol=1e-9)


def test_hand_log_by_hand():
    d = ov.overview_data(_hand_log(), segment="channel")
    c = d.customers
    assert c["orders"].to_dict() == {"a": 3, "b": 2, "c": 2}
    assert c["paid_orders"].to_dict() == {"a": 2, "b": 2, "c": 2}
    assert c["zero_orders"].to_dict() == {"a": 1, "b": 0, "c": 0}
    assert c["revenue"].to_dict() == {"a": 35.0, "b": 15.0, "c": 42.0}
    assert d.gaps.to_dict() == {10: 1, 51: 1, 37: 1}  # a: 10 and 51 days, c: 37 days
    p = d.periods.set_index(d.periods["period"].astype(str))
    assert p.loc["2020-01", ["active_customers", "new_customers", "orders"]].tolist() == [2, 2, 4]
    assert p.loc["2020-03", "revenue_new"] == 0 and p.loc["2020-02", "revenue_new"] == 30.0
    s = d.segments.set_index("segment")
    assert s.loc["(missing)", "customers"] == 1 and s.loc["web", "customers"] == 2
    assert s.loc["web", "orders"] == 4  # rows, not orders, per segment


@pytest.mark.parametrize("freq", ["M", "Q", "W"])
def test_hand_log_identical_on_engines(engine, freq):
    ref = ov.overview_data(_hand_log(), freq=freq, segment="channel")
    got = ov.overview_data(_hand_log(), freq=freq, segment="channel", engine=engine)
    assert_same(got, ref)
    assert list(ov.monthly_activity(got)["period"]) == list(ov.monthly_activity(ref)["period"])


def test_cdnow_identical_on_engines(engine, cdnow):
    ref_tx, ref_dq = get_engine("pandas").load_transactions(cdnow, COLUMNS, as_of=AS_OF)
    ref = ov.overview_data(ref_tx, segment="basket")
    tx, dq = engine.load_transactions(cdnow, COLUMNS, as_of=AS_OF)
    assert (dq.rows_in, dq.rows_used, dq.dropped) == (ref_dq.rows_in, ref_dq.rows_used,
                                                      ref_dq.dropped)
    got = ov.overview_data(tx, segment="basket", engine=engine)
    assert_same(got, ref)
    a, b = ov.customer_base_summary(got), ov.customer_base_summary(ref)
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-12) if isinstance(b[k], float) else a[k] == b[k], k
    pd.testing.assert_frame_equal(ov.monthly_activity(got), ov.monthly_activity(ref), rtol=1e-9)
    pd.testing.assert_frame_equal(ov.orders_per_customer(got), ov.orders_per_customer(ref))
    pd.testing.assert_frame_equal(ov.segment_summary(got), ov.segment_summary(ref), rtol=1e-9)
    ca, cb = ov.revenue_concentration(got), ov.revenue_concentration(ref)
    assert ca.gini == pytest.approx(cb.gini, rel=1e-12)
    pd.testing.assert_frame_equal(ca.curve, cb.curve, rtol=1e-9)


def test_reduced_tables_give_the_transactions_answers():
    """Every function gives the same answer from the transactions and from their
    reduced tables."""
    tx = _hand_log()
    data = ov.overview_data(tx, segment="channel")
    assert ov.customer_base_summary(data) == ov.customer_base_summary(tx)
    pd.testing.assert_frame_equal(ov.monthly_activity(data), ov.monthly_activity(tx))
    pd.testing.assert_series_equal(ov.interpurchase_times(data), ov.interpurchase_times(tx))
    pd.testing.assert_frame_equal(ov.segment_summary(data), ov.segment_summary(tx, "channel"))


def test_errors():
    tx = _hand_log()
    with pytest.raises(ParameterError, match="freq"):
        ov.overview_data(tx, freq="D")
    with pytest.raises(ParameterError, match="without segment"):
        ov.segment_summary(ov.overview_data(tx), "channel")
    with pytest.raises(MissingColumnsError):
        ov.overview_data(tx, segment="country", engine="duckdb")
    with pytest.raises(ParameterError, match="DataFrame"):
        ov.overview_data("orders.csv")


@pytest.mark.slow
def test_notebook_on_duckdb_gives_the_pandas_metrics(tmp_path):
    import papermill as pm

    metrics = {}
    for name in ("pandas", "duckdb"):
        out = tmp_path / name
        pm.execute_notebook(str(NOTEBOOKS_DIR / "00_overview.ipynb"), str(tmp_path / f"{name}.ipynb"),
                            parameters={"engine": name, "output_dir": str(out)},
                            cwd=str(NOTEBOOKS_DIR), progress_bar=False, kernel_name="python3")
        metrics[name] = json.loads((out / "metrics.json").read_text())
    a, b = metrics["duckdb"], metrics["pandas"]
    assert a.keys() == b.keys()
    assert a["customers"] == b["customers"] == 23570 and a["orders"] == b["orders"]
    assert a["revenue"] == pytest.approx(b["revenue"], rel=1e-12)
    assert a["monthly"] == b["monthly"] and a["headline"] == b["headline"]
    assert a["data_quality"]["rows_used"] == b["data_quality"]["rows_used"]
