"""Spark engine (local[2]): the same reductions as pandas, compression and scoring.

One SparkSession for the module; skipped only when Java is absent (pyspark and Ibis are
declared dependencies, so their absence fails).
"""
from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest


from clm_lib.reduce import pandas_reductions as reductions  # noqa: E402
from clm_lib.reduce.engine import get_engine, java_available  # noqa: E402
from clm_lib.synthetic import simulate_transactions, write_parquet  # noqa: E402
from clm_lib.exceptions import DataContractError  # noqa: E402

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(not java_available(), reason="Spark needs Java"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

AS_OF, CAL = "2023-12-31", "2023-06-30"


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    d = tmp_path_factory.mktemp("tx")
    write_parquet(d, 300, seed=11, chunk_customers=150, start="2022-07-01")
    df = simulate_transactions(300, seed=11, chunk_customers=150, start="2022-07-01")
    return df, str(d / "part-*.parquet")


@pytest.mark.parametrize("time_unit,calibration_end", [("week", CAL), ("day", None), ("month", CAL)])
def test_summary_identical_to_pandas(spark, log, time_unit, calibration_end):
    df, glob = log
    ref = reductions.summary_data(df, as_of=AS_OF, calibration_end=calibration_end,
                                  time_unit=time_unit)
    got = spark.summary_data(glob, as_of=AS_OF, calibration_end=calibration_end,
                             time_unit=time_unit)
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-9, atol=1e-9,
                                  check_index_type=False)
    np.testing.assert_array_equal(got["frequency"].to_numpy(), ref["frequency"].to_numpy())
    quality = got.attrs.pop("data_quality")  # the Parquet files went through the contract
    assert quality["rows_in"] == quality["rows_used"] == len(df)
    assert got.attrs == ref.attrs
    duck = get_engine("duckdb").summary_data(glob, as_of=AS_OF, calibration_end=calibration_end,
                                             time_unit=time_unit)
    pd.testing.assert_frame_equal(got, duck, check_exact=False, rtol=1e-9, atol=1e-9)


def test_from_pandas_source(spark, log):
    df, glob = log
    a = spark.summary_data(df, as_of=AS_OF, calibration_end=CAL)
    b = reductions.summary_data(df, as_of=AS_OF, calibration_end=CAL)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, check_index_type=False)


def test_compress_fit_and_score(spark, log):
    bgnbd = importlib.import_module("clm_lib.clv.bgnbd")
    df, glob = log
    ref = reductions.summary_data(df, as_of=AS_OF, calibration_end=CAL)
    mat = spark.materialize(spark.summary_table(glob, as_of=AS_OF, calibration_end=CAL))
    try:
        triples = spark.compress(mat.table)
        pd.testing.assert_frame_equal(triples, reductions.compress(ref), check_dtype=False)
        full = bgnbd.BetaGeoModel().fit(ref)
        comp = bgnbd.BetaGeoModel().fit(triples, weights="weights")
        np.testing.assert_allclose(comp.params_.to_numpy(), full.params_.to_numpy(), rtol=1e-6)

        def predict(u):
            return pd.DataFrame({"p_alive": comp.p_alive(u)})

        got = spark.score(mat.table, predict).to_pandas().set_index("customer_id").sort_index()
    finally:
        mat.drop()
    assert len(got) == len(ref)
    np.testing.assert_allclose(got["p_alive"].to_numpy(), predict(ref)["p_alive"].to_numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("period", ["week", "month", "quarter"])
def test_cohort_activity_identical(spark, log, period):
    df, glob = log
    ref = get_engine("pandas").cohort_activity(df, cohort_period=period, as_of=AS_OF)
    got = spark.cohort_activity(glob, cohort_period=period, as_of=AS_OF)
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-9)


def test_subscription_durations_identical(spark):
    from clm_lib.io.pandas_contract import subscription_durations as ref_fn

    subs = pd.DataFrame({
        "customer_id": pd.array(["a", "b", "c", "d"], dtype="string"),
        "start": pd.to_datetime(["2020-01-01", "2020-01-15 12:00", "2020-03-01", "2020-02-01"],
                                format="ISO8601"),
        "end": pd.to_datetime(["2020-02-01", None, "2020-12-01", "2020-03-31 18:00"],
                              format="ISO8601"),
        "plan": ["basic", "pro", "basic", "pro"],
    })
    ref = ref_fn(subs, as_of="2020-03-31", time_unit="week")
    got = spark.subscription_durations(subs, as_of="2020-03-31", time_unit="week")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), ref.reset_index(drop=True),
                                  check_exact=False, rtol=1e-12, check_dtype=False)
    with pytest.raises(DataContractError):
        spark.subscription_durations(subs, as_of="2020-02-15")


def test_spark_job_reduce_then_score(spark, log, tmp_path):
    bgnbd = importlib.import_module("clm_lib.clv.bgnbd")
    from clm_lib.reduce import spark_job

    df, glob = log
    out = str(tmp_path / "run")
    info = spark_job.reduce(spark.con._session, source=glob, as_of=AS_OF, output=out,
                            calibration_end=CAL)
    ref = reductions.summary_data(df, as_of=AS_OF, calibration_end=CAL)
    assert info["customers"] == len(ref)
    quality = json.loads((tmp_path / "run" / "quality.json").read_text())
    assert quality["rows_in"] == info["rows_in"] == len(df)
    assert quality["rows_used"] + sum(quality["dropped"].values()) == len(df)
    assert set(quality["dropped"]) <= {"timestamp after as_of"}
    triples = pd.read_parquet(f"{out}/triples.parquet")
    pd.testing.assert_frame_equal(triples.sort_values(["frequency", "recency", "T"])
                                  .reset_index(drop=True), reductions.compress(ref),
                                  check_dtype=False)
    bg = bgnbd.BetaGeoModel().fit(triples, weights="weights")
    pred = triples[["frequency", "recency", "T"]].assign(p_alive=bg.p_alive(triples))
    pred.to_parquet(tmp_path / "pred.parquet")
    spark_job.score(spark.con._session, output=out, predictions=str(tmp_path / "pred.parquet"))
    scores = pd.read_parquet(f"{out}/scores").set_index("customer_id").sort_index()
    assert len(scores) == len(ref) and scores["p_alive"].notna().all()
    np.testing.assert_allclose(scores["p_alive"].to_numpy(), bg.p_alive(ref), rtol=1e-12)
    # the stored summary is readable by DuckDB too (a directory of Parquet files)
    back = get_engine("duckdb").compress(get_engine("duckdb").table(f"{out}/summary",
                                                                     required=("frequency",)))
    assert back["weights"].sum() == len(ref)


def test_cdnow_csv_identical_to_pandas_loader(spark):
    from clm_lib.config import CDNOW_MASTER

    cols = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}
    kw = dict(as_of="1998-06-30", calibration_end="1997-09-30", time_unit="week", columns=cols)
    ref = get_engine("pandas").summary_data(str(CDNOW_MASTER), **kw)
    got = spark.summary_data(str(CDNOW_MASTER), **kw)
    assert str(got.index[0]).startswith("0")
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-9, atol=1e-9,
                                  check_index_type=False)
