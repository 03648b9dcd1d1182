"""DuckDB-vs-Spark parity: each study's important results, and the data contract and
reductions, computed on Spark equal those on the default in-process DuckDB engine.

One section per owner, between ``# --- <name> ---`` markers. Every test uses the
``spark`` fixture (so it carries the ``spark`` marker) and names Spark in its id.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# --- io_reduce ---
_GOLDEN = Path(__file__).resolve().parent / "golden"


def _golden_build():
    spec = importlib.util.spec_from_file_location("golden_build", _GOLDEN / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_BUILD = _golden_build()
_CASES = {c.name: c for c in _BUILD.CASES}
_RECORDS = sorted((_GOLDEN / "validate").glob("*.json"))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """A clean table in an order that does not depend on the engine."""
    return df.sort_values(list(df.columns), kind="stable", na_position="last",
                          ignore_index=True)


def _spark_load(spark, case):
    loader = {"transactions": spark.load_transactions,
              "subscriptions": spark.load_subscriptions,
              "leads": spark.load_leads}[case.kind]
    return loader(str(case.file), case.columns, **case.kwargs)


@pytest.mark.parametrize("path", _RECORDS, ids=lambda p: f"spark-{p.stem}")
def test_io_golden_records_on_spark(spark, path):
    """The data-quality record of every golden case on Spark is the pandas record of
    before (and an error is the same error, rows named alike); the clean rows equal
    those of the default engine."""
    from clm_lib.io.sources import to_pandas

    golden = json.loads(path.read_text())
    case = _CASES[golden["case"]]
    if "error" in golden:
        with pytest.raises(Exception) as exc:
            _spark_load(spark, case)
        assert {"type": type(exc.value).__name__, "message": str(exc.value)} == golden["error"]
        return
    clean, dq = _spark_load(spark, case)
    assert dq.to_dict() == golden["record"]
    duck, _ = _BUILD._loader(case.kind)(case.file, case.columns, **case.kwargs)
    got = to_pandas(clean)
    pd.testing.assert_frame_equal(_sorted(got[list(duck.columns)]), _sorted(duck))
_AS_OF, _CAL = "2023-12-31", "2023-06-30"


@pytest.fixture(scope="module")
def io_log(tmp_path_factory):
    """A seeded synthetic log with a segment and order lines, as a DataFrame and as a
    Parquet file with microsecond timestamps (Spark reads those)."""
    from clm_lib.synthetic import simulate_transactions

    df = simulate_transactions(300, seed=11, chunk_customers=150, start="2022-07-01")
    df["channel"] = np.where(np.arange(len(df)) % 3 == 0, "web", "ads")
    df.loc[df.index % 11 == 0, "channel"] = None
    # orders of two lines (the key is order_id and product), one row in 7 without an id
    line = df.groupby("customer_id").cumcount()
    df["order_id"] = df["customer_id"] + "-" + (line // 2).astype(str)
    df["product"] = (line % 2).astype(str)
    df.loc[df.index % 7 == 0, "order_id"] = None
    d = tmp_path_factory.mktemp("io_log")
    df.to_parquet(d / "tx.parquet", coerce_timestamps="us", allow_truncated_timestamps=True)
    return df, str(d / "tx.parquet")


def _frames_equal(a, b):
    if isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-9)
    else:
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-9)


def test_io_reduce_reductions_spark_parity(spark, io_log):
    """Every reduction on Spark equals the same on DuckDB (counts exactly, floats to 1e-9)."""
    from clm_lib.reduce import get_engine

    duck = get_engine()
    _, path = io_log
    results = {}
    for name, eng in (("duck", duck), ("spark", spark)):
        t, dq = eng.load_transactions(path, as_of=_AS_OF)
        if name == "spark":
            t = eng.materialize(t).table   # one parse for the queries below
        r = results[name] = {"record": dq.to_dict()}
        r["summary"] = eng.summary_data(t, as_of=_AS_OF, calibration_end=_CAL)
        r["compress"] = eng.compress(eng.summary_table(t, as_of=_AS_OF, calibration_end=_CAL))
        r["activity"] = eng.cohort_activity(t, cohort_period="month", as_of=_AS_OF,
                                            segment="channel")
        r["periods"] = eng.customer_periods(t, cohort_period="quarter", as_of=_AS_OF)
        r["churn"] = eng.churn_counts(t, cohort_period="month", as_of=_AS_OF)
        r.update({f"overview_{k}": v for k, v in eng.overview_tables(
            t, period="week", segment="channel").items()})
        r["overview_segments"] = r["overview_segments"].sort_values(
            "segment", na_position="last", ignore_index=True)
        r["spans"] = eng.purchase_spans(t, as_of=_AS_OF)
        r["gaps"] = eng.purchase_day_gaps(t, as_of=_AS_OF)
        r["histories"] = eng.customer_histories(t, date=_CAL, lapsed_days=60)
        r["first"] = eng.first_values(t, "channel")
        r["repeat"] = eng.repeat_purchases_by_day(t, calibration_end=_CAL, as_of=_AS_OF)
    duck_r, spark_r = results["duck"], results["spark"]
    assert spark_r.pop("record") == duck_r.pop("record")
    for key in duck_r:
        _frames_equal(spark_r[key], duck_r[key])
        assert spark_r[key].attrs == duck_r[key].attrs, key


def test_io_reduce_durations_spark_parity(spark):
    from clm_lib.config import TELCO_CHURN
    from clm_lib.exceptions import DataContractError
    from clm_lib.reduce import get_engine

    subs = pd.DataFrame({
        "customer_id": pd.array(["a", "b", "c", "d"], dtype="string"),
        "start": pd.to_datetime(["2020-01-01", "2020-01-15 12:00", "2020-03-01", "2020-02-01"],
                                format="ISO8601"),
        "end": pd.to_datetime(["2020-02-01", None, "2020-12-01", "2020-03-31 18:00"],
                              format="ISO8601"),
        "plan": ["basic", "pro", "basic", "pro"],
    })
    duck = get_engine()
    _frames_equal(spark.subscription_durations(subs, as_of="2020-03-31", time_unit="week"),
                  duck.subscription_durations(subs, as_of="2020-03-31", time_unit="week"))
    with pytest.raises(DataContractError):
        spark.subscription_durations(subs, as_of="2020-02-15")
    cols = {"customerID": "customer_id", "Churn": "churned"}
    a = spark.subscription_durations(str(TELCO_CHURN), columns=cols)
    b = duck.subscription_durations(str(TELCO_CHURN), columns=cols)
    assert a.attrs == b.attrs
    _frames_equal(a, b)


def test_io_reduce_nanosecond_parquet_is_a_clear_error_on_spark(spark, tmp_path):
    """pandas writes nanoseconds by default, which Spark refuses: say what to do."""
    from clm_lib.exceptions import ClmError

    pd.DataFrame({"customer_id": ["a"], "timestamp": pd.to_datetime(["2024-01-01"]),
                  "amount": [1.0]}).to_parquet(tmp_path / "ns.parquet")
    with pytest.raises(ClmError, match="coerce_timestamps='us'"):
        spark.load_transactions(str(tmp_path / "ns.parquet"))


def test_io_reduce_spark_job_reduce_then_score(spark, io_log, tmp_path):
    import importlib

    from clm_lib.reduce import get_engine, spark_job

    bgnbd = importlib.import_module("clm_lib.clv.bgnbd")
    df, path = io_log
    out = str(tmp_path / "run")
    info = spark_job.reduce(spark.con._session, source=path, as_of=_AS_OF, output=out,
                            calibration_end=_CAL)
    ref = get_engine().summary_data(path, as_of=_AS_OF, calibration_end=_CAL)
    assert info["customers"] == len(ref)
    quality = json.loads((tmp_path / "run" / "quality.json").read_text())
    assert quality == get_engine().load_transactions(path, as_of=_AS_OF)[1].to_dict()
    triples = pd.read_parquet(f"{out}/triples.parquet")
    pd.testing.assert_frame_equal(triples.sort_values(["frequency", "recency", "T"])
                                  .reset_index(drop=True), get_engine().compress(ref),
                                  check_dtype=False)
    bg = bgnbd.BetaGeoModel().fit(triples, weights="weights")
    pred = triples[["frequency", "recency", "T"]].assign(p_alive=bg.p_alive(triples))
    pred.to_parquet(tmp_path / "pred.parquet")
    spark_job.score(spark.con._session, output=out, predictions=str(tmp_path / "pred.parquet"))
    scores = pd.read_parquet(f"{out}/scores").set_index("customer_id").sort_index()
    assert len(scores) == len(ref) and scores["p_alive"].notna().all()
    np.testing.assert_allclose(scores["p_alive"].to_numpy(), bg.p_alive(ref), rtol=1e-12)
    # the stored summary is readable by DuckDB too (a directory of Parquet files)
    back = get_engine().compress(get_engine().table(f"{out}/summary", required=("frequency",)))
    assert back["weights"].sum() == len(ref)
# --- end io_reduce ---
