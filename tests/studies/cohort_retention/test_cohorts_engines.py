"""The cohort-retention study on the shared engines: pandas, DuckDB and Spark (local[2]).

The DuckDB and Spark runs reduce the transaction log in the engine (Ibis reductions); the
tables, churn counts, segment curves and sBG fits must be those of the pandas run. One
SparkSession for the module; Spark tests are skipped only when Java is absent.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clm_lib.studies.cohort_retention import compute as cohorts
from clm_lib.config import NOTEBOOKS_DIR
from clm_lib.reduce.engine import get_engine

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

AS_OF = "1998-06-30"
COLUMNS = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}
NAN = np.nan


@pytest.fixture(scope="module")
def cdnow(cdnow_basket):
    return cdnow_basket  # (CSV, Parquet)


def _study(source, engine):
    eng = get_engine(engine)
    data, dq = eng.load_transactions(source, COLUMNS, as_of=AS_OF)
    study = cohorts.cohort_study(data, "month", as_of=AS_OF, segment="basket", engine=eng)
    return study, dq


@pytest.fixture(scope="module")
def reference(cdnow):
    return _study(cdnow[0], "pandas")


def assert_same_study(got: cohorts.CohortStudy, ref: cohorts.CohortStudy) -> None:
    for name in ("bounded_counts", "unbounded_counts"):
        pd.testing.assert_frame_equal(getattr(got.tables, name), getattr(ref.tables, name),
                                      check_exact=True)
    pd.testing.assert_frame_equal(got.tables.revenue, ref.tables.revenue, rtol=1e-9)
    pd.testing.assert_series_equal(got.tables.sizes, ref.tables.sizes, check_exact=True)
    pd.testing.assert_series_equal(got.tables.last_k, ref.tables.last_k, check_exact=True)
    pd.testing.assert_frame_equal(got.churn, ref.churn, check_exact=True)
    pd.testing.assert_frame_equal(got.segments, ref.segments, check_exact=True)
    pd.testing.assert_frame_equal(got.average_bounded, ref.average_bounded, check_exact=True)
    pd.testing.assert_series_equal(got.model.params_, ref.model.params_, check_exact=True)
    pd.testing.assert_series_equal(got.holdout_model.params_, ref.holdout_model.params_,
                                   check_exact=True)
    assert got.holdout_error == ref.holdout_error
    assert json.dumps(cohorts.cohort_metrics(got)) == json.dumps(cohorts.cohort_metrics(ref))


def test_reference_is_the_cdnow_study(reference):
    study, dq = reference
    assert study.tables.sizes.loc["1997-01"] == 7846 and dq.rows_in == 69659
    seg = set(study.segments["segment"])
    # customers whose purchases all lack a value form "(missing)"
    assert {"1 CD", "2-3 CDs", "4+ CDs", "(missing)"} == seg
    assert study.segments.groupby("segment")["customers"].first().sum() == 23570


@pytest.mark.parametrize("which", ["csv", "parquet"])
def test_duckdb_study_identical(cdnow, reference, which):
    source = cdnow[0] if which == "csv" else cdnow[1]
    got, dq = _study(source, "duckdb")
    assert_same_study(got, reference[0])
    ref_dq = reference[1]
    assert (dq.rows_in, dq.rows_used, dq.dropped) == (ref_dq.rows_in, ref_dq.rows_used,
                                                      ref_dq.dropped)


def test_duckdb_never_loads_the_log_into_pandas(cdnow, monkeypatch):
    """The DuckDB study reduces the lazy table: nothing calls the pandas fallback."""
    data, _ = get_engine("duckdb").load_transactions(cdnow[1], COLUMNS, as_of=AS_OF)

    def refuse(_):
        raise AssertionError("transactions brought into pandas")

    monkeypatch.setattr(cohorts, "_in_pandas", refuse)
    study = cohorts.cohort_study(data, "month", as_of=AS_OF, segment="basket", engine="duckdb")
    assert study.tables.sizes.sum() == 23570


# ------------------------------------------------------------------ rules by hand, all engines
def tiny_log():
    rows = [("a", "2020-01-05", 10.0, "web"), ("a", "2020-03-01", 5.0, "web"),
            ("b", "2020-01-09", 7.0, "shop"),
            ("c", "2020-02-10", 3.0, "web"), ("c", "2020-02-20", 2.0, "web"),
            ("c", "2020-04-02", 4.0, "shop"),
            ("d", "2020-04-30", 1.0, "shop"),
            ("e", "2020-05-02", 9.0, "web")]  # after as_of: ignored
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "channel"])
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df["customer_id"] = df["customer_id"].astype("string")
    return df


def test_churn_rule_by_hand_on_duckdb():
    for n, want in [(2, {"2020-02": [2, 1, 0.5], "2020-03": [2, 0, 0]}),
                    (1, {"2020-02": [2, 2, 1], "2020-03": [1, 1, 1], "2020-04": [1, 1, 1]})]:
        got = cohorts.churn_rate(tiny_log(), "month", as_of="2020-04-30",
                                 inactivity_periods=n, engine="duckdb")
        assert {k: v.tolist() for k, v in got.iterrows()} == want
        pd.testing.assert_frame_equal(got, cohorts.churn_rate(tiny_log(), "month",
                                                              as_of="2020-04-30",
                                                              inactivity_periods=n))


def test_segment_at_acquisition_rule_by_hand():
    """Ties at the first purchase -> smallest value; no value on the first purchase ->
    the first purchase that has one; no value at all -> "(missing)"; integers stay
    integers ("1", not "1.0") on every engine."""
    tx = pd.DataFrame({
        "customer_id": pd.array(["x", "x", "y", "y", "z", "w"], dtype="string"),
        "timestamp": pd.to_datetime(["2020-01-03", "2020-01-03", "2020-01-04", "2020-02-01",
                                     "2020-01-05", "2020-01-06"]),
        "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "channel": ["web", "shop", None, "web", None, "web"],
        "tier": pd.array([2, 1, None, 3, None, 2], dtype="Int64"),
    })
    for engine in ("pandas", "duckdb"):
        cp = cohorts.customer_periods(tx, "month", as_of="2020-02-29", segment="channel",
                                      engine=engine)
        first = cp.drop_duplicates("customer_id").set_index("customer_id")["segment"]
        assert first.dtype == "string", engine
        assert first.fillna("-").to_dict() == {"w": "web", "x": "shop", "y": "web", "z": "-"}
        seg = cohorts.retention_by_segment(tx, "tier", "month", as_of="2020-02-29",
                                           engine=engine)
        assert seg.loc[seg["k"] == 0].set_index("segment")["customers"].to_dict() == {
            "(missing)": 1, "1": 1, "2": 1, "3": 1}, engine
    a = cohorts.retention_by_segment(tx, "channel", "month", as_of="2020-02-29")
    b = cohorts.retention_by_segment(tx, "channel", "month", as_of="2020-02-29", engine="duckdb")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_subscriptions_on_other_engines_are_reduced_in_pandas():
    subs = pd.DataFrame({"customer_id": ["x", "y", "z"],
                         "start": pd.to_datetime(["2020-01-15", "2020-01-20", "2020-02-01"]),
                         "end": pd.to_datetime(["2020-03-01", "2020-01-25", None]),
                         "plan": ["a", "b", "a"]})
    ref = cohorts.cohort_study(subs, "month", as_of="2020-04-30", segment="plan",
                               holdout_periods=0)
    got = cohorts.cohort_study(subs, "month", as_of="2020-04-30", segment="plan",
                               holdout_periods=0, engine="duckdb")
    pd.testing.assert_frame_equal(got.tables.bounded_counts, ref.tables.bounded_counts)
    pd.testing.assert_frame_equal(got.churn, ref.churn)
    pd.testing.assert_frame_equal(got.segments, ref.segments)
    snap = pd.DataFrame({"customer_id": list("pqrst"), "tenure": [0, 1, 2, 2, 3],
                         "churned": [False, True, True, False, False]})
    t = cohorts.retention_tables(snap, "month", as_of="2020-01-31", engine="duckdb")
    np.testing.assert_allclose(t.bounded_counts.iloc[0], [5, 3.75, 2.5, 2.5])


def test_engine_parameter_is_checked():
    from clm_lib.exceptions import ParameterError

    with pytest.raises(ParameterError, match="engine must be one of"):
        cohorts.retention_tables(tiny_log(), "month", as_of="2020-04-30", engine="polars")


# ------------------------------------------------------------------ Spark (local[2])
@pytest.mark.spark
def test_spark_study_identical(spark, cdnow, reference):
    got, dq = _study(cdnow[1], spark)
    assert_same_study(got, reference[0])
    ref_dq = reference[1]
    assert (dq.rows_in, dq.rows_used, dq.dropped) == (ref_dq.rows_in, ref_dq.rows_used,
                                                      ref_dq.dropped)


@pytest.mark.spark
def test_spark_rules_by_hand(spark):
    got = cohorts.churn_rate(tiny_log(), "month", as_of="2020-04-30", inactivity_periods=2,
                             engine=spark)
    pd.testing.assert_frame_equal(got, cohorts.churn_rate(tiny_log(), "month",
                                                          as_of="2020-04-30",
                                                          inactivity_periods=2))
    for period in ("week", "quarter"):
        a = cohorts.retention_tables(tiny_log(), period, as_of="2020-04-30")
        b = cohorts.retention_tables(tiny_log(), period, as_of="2020-04-30", engine=spark)
        pd.testing.assert_frame_equal(a.bounded_counts, b.bounded_counts)
        pd.testing.assert_frame_equal(a.unbounded_counts, b.unbounded_counts)
    a = cohorts.customer_periods(tiny_log(), "week", as_of="2020-04-30", segment="channel")
    b = cohorts.customer_periods(tiny_log(), "week", as_of="2020-04-30", segment="channel",
                                 engine=spark)
    pd.testing.assert_frame_equal(a.astype({"customer_id": object}),
                                  b.astype({"customer_id": object}), check_dtype=False)


# ------------------------------------------------------------------ the notebook on DuckDB
@pytest.mark.slow
def test_cohort_notebook_on_duckdb_matches_pandas(tmp_path):
    """engine=duckdb: same metrics.json as the pandas run, same data-quality record."""
    papermill = pytest.importorskip("papermill")
    metrics = {}
    for engine in ("pandas", "duckdb"):
        out = tmp_path / engine
        papermill.execute_notebook(str(NOTEBOOKS_DIR / "10_cohort_retention.ipynb"),
                                   str(tmp_path / f"{engine}.ipynb"),
                                   parameters={"output_dir": str(out), "engine": engine},
                                   cwd=str(NOTEBOOKS_DIR), kernel_name="python3",
                                   progress_bar=False)
        metrics[engine] = json.loads((out / "metrics.json").read_text())
    p, d = metrics["pandas"], metrics["duckdb"]
    assert p["cohort_sizes"]["1997-01"] == 7846
    for key in ("rows_in", "rows_used", "dropped"):
        assert d["data_quality"][key] == p["data_quality"][key]
    d.pop("data_quality"), p.pop("data_quality")
    assert d == p
