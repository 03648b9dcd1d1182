"""DuckDB against Spark (local[2], the ``spark`` fixture): each study's result must be the
same on both engines (counts exactly, floats to 1e-9). One section per study."""
from __future__ import annotations

import importlib.util
import json
import numpy as np
import pandas as pd
import pytest
import sys
from pathlib import Path

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

#: Floats on the two engines agree to this (relative, absolute).
RTOL, ATOL = 1e-9, 1e-12


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
    assert report.decision(a) == report.decision(b)


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


# --- cohort_retention ---
def _cohort_inputs():
    """Interval subscriptions (overlaps, zero length, ends at and after midnight on a
    period's first day, active) and snapshot subscriptions, seeded."""
    rng = np.random.default_rng(13)
    n = 400
    start = pd.Series(pd.Timestamp("2021-01-01")
                      + pd.to_timedelta(rng.integers(0, 500, n), unit="D"))
    start = start.where(rng.random(n) > 0.1, start.dt.to_period("M").dt.to_timestamp())
    end = start + pd.to_timedelta(rng.geometric(0.01, n), unit="D")
    end = end.where(rng.random(n) > 0.1, start)  # zero length
    first_day = end.dt.to_period("M").dt.to_timestamp()
    end = end.where((rng.random(n) > 0.1) | (first_day < start), first_day)  # at midnight
    end = end.where(rng.random(n) > 0.1, end + pd.Timedelta(hours=10))
    end = end.where(end <= pd.Timestamp("2022-06-30"))  # still active
    intervals = pd.DataFrame({"customer_id": [f"c{int(i)}" for i in rng.integers(0, 320, n)],
                              "start": start, "end": end,
                              "plan": rng.choice(["basic", "pro", None], n)})
    snapshot = pd.DataFrame({"customer_id": [f"s{i}" for i in range(500)],
                             "tenure": rng.integers(0, 30, 500),
                             "churned": rng.random(500) < 0.3,
                             "plan": rng.choice(["a", "b", None], 500)})
    return intervals, snapshot


def _assert_same_cohort_study(a, b) -> None:
    from clm_lib.studies.cohort_retention import report

    ta, tb = a.tables, b.tables
    for name in ("bounded_counts", "unbounded_counts"):
        pd.testing.assert_frame_equal(getattr(ta, name), getattr(tb, name), check_exact=True)
    if ta.revenue is None:
        assert tb.revenue is None
    else:
        pd.testing.assert_frame_equal(ta.revenue, tb.revenue, rtol=1e-9)
    pd.testing.assert_series_equal(ta.sizes, tb.sizes, check_exact=True)
    pd.testing.assert_series_equal(ta.last_k, tb.last_k, check_exact=True)
    pd.testing.assert_frame_equal(a.churn, b.churn, check_exact=True)
    pd.testing.assert_frame_equal(a.segments, b.segments, rtol=1e-9)
    pd.testing.assert_frame_equal(a.average_bounded, b.average_bounded, rtol=1e-9)
    assert (a.model is None) == (b.model is None)
    if a.model is not None:
        pd.testing.assert_series_equal(a.model.params_, b.model.params_, rtol=1e-9)
        pd.testing.assert_frame_equal(a.projection, b.projection, rtol=1e-9)
    if a.holdout_model is not None:
        pd.testing.assert_series_equal(a.holdout_model.params_, b.holdout_model.params_,
                                       rtol=1e-9)
        assert a.holdout_error == pytest.approx(b.holdout_error, rel=1e-9)
    _assert_close(report.cohort_metrics(a), report.cohort_metrics(b))


def _assert_close(x, y, where: str = "") -> None:
    """Nested metrics equal, floats to 1e-9 relative."""
    if isinstance(x, dict):
        assert isinstance(y, dict) and set(x) == set(y), where
        for k in x:
            _assert_close(x[k], y[k], f"{where}/{k}")
    elif isinstance(x, list):
        assert isinstance(y, list) and len(x) == len(y), where
        for i, (u, v) in enumerate(zip(x, y)):
            _assert_close(u, v, f"{where}[{i}]")
    elif isinstance(x, float) and not isinstance(x, bool):
        assert y == pytest.approx(x, rel=1e-9, nan_ok=True), where
    else:
        assert x == y, where


@pytest.mark.spark
def test_cohort_retention_spark_parity(spark, cdnow_basket):
    from clm_lib.reduce import get_engine
    from clm_lib.studies.cohort_retention.compute import cohort_study, retention_tables

    duck = get_engine("duckdb")
    cols = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}
    as_of = "1998-06-30"
    studies = {}
    for eng in (duck, spark):
        data, dq = eng.load_transactions(cdnow_basket[1], cols, as_of=as_of)
        studies[eng.name] = (cohort_study(data, "month", as_of=as_of, segment="basket",
                                          engine=eng), dq)
    (a, dqa), (b, dqb) = studies["duckdb"], studies["spark"]
    assert a.tables.sizes.sum() == 23570
    _assert_same_cohort_study(a, b)
    assert (dqa.rows_in, dqa.rows_used, dqa.dropped) == (dqb.rows_in, dqb.rows_used, dqb.dropped)

    intervals, snapshot = _cohort_inputs()
    for period in ("week", "month"):
        got = [cohort_study(intervals, period, as_of="2022-06-30", segment="plan",
                            holdout_periods=2, engine=e) for e in (duck, spark)]
        _assert_same_cohort_study(*got)
    got = [cohort_study(snapshot, "month", as_of="2022-06-30", segment="plan", engine=e)
           for e in (duck, spark)]
    _assert_same_cohort_study(*got)
    tx = {e.name: e.load_transactions(cdnow_basket[1], cols)[0] for e in (duck, spark)}
    for period in ("week", "quarter"):
        x, y = (retention_tables(tx[e.name], period, as_of="1997-12-31", engine=e)
                for e in (duck, spark))
        pd.testing.assert_frame_equal(x.bounded_counts, y.bounded_counts, check_exact=True)
        pd.testing.assert_frame_equal(x.unbounded_counts, y.unbounded_counts, check_exact=True)
        pd.testing.assert_frame_equal(x.revenue, y.revenue, rtol=1e-9)
# --- cohort_retention ---


# --- lifecycle_segments ---
def test_lifecycle_segments_spark_parity(spark, cdnow_basket):
    """CDNOW master with a segment (Parquet): thresholds, stages at both dates, flows, RFM,
    ladder, reactivation, value and what-if as on DuckDB."""
    import numpy as np

    from clm_lib.reduce import get_engine
    from clm_lib.studies.lifecycle_segments.compute import lifecycle_study

    as_of, columns = "1998-06-30", {"date": "timestamp", "dollars": "amount", "cds": "quantity"}
    kw = dict(as_of=as_of, segment="basket", horizon=26)
    results = {}
    for eng in (get_engine("duckdb"), spark):
        data, dq = eng.load_transactions(cdnow_basket[1], columns, as_of=as_of)
        results[eng.name] = lifecycle_study(data, engine=eng, **kw), dq
    (duck, duck_dq), (sprk, sprk_dq) = results["duckdb"], results["spark"]
    assert duck_dq.to_dict() == sprk_dq.to_dict()
    assert duck.thresholds == sprk.thresholds and duck.flows == sprk.flows
    assert duck.model_errors == sprk.model_errors == {}
    for name in ("stages", "stages_start", "rfm"):
        a, b = getattr(duck, name), getattr(sprk, name)
        if name != "stages_start":  # each engine returns the segment in its own text type
            a = a.assign(segment_value=a["segment_value"].astype("string"))
            b = b.assign(segment_value=b["segment_value"].astype("string"))
        pd.testing.assert_frame_equal(a, b, rtol=RTOL, atol=ATOL, check_index_type=False)
    pd.testing.assert_frame_equal(duck.transitions, sprk.transitions)
    for name in ("stage_summary", "stage_segments", "segments", "ladder", "second_purchase",
                 "reactivation", "values", "what_if"):
        pd.testing.assert_frame_equal(getattr(duck, name), getattr(sprk, name), rtol=RTOL,
                                      atol=ATOL, check_index_type=False)
    np.testing.assert_allclose(duck.model.params_, sprk.model.params_, rtol=RTOL)
    np.testing.assert_allclose(duck.spend_model.params_, sprk.spend_model.params_, rtol=RTOL)
# --- lifecycle_segments ---


# --- survival_churn ---
SURVIVAL_CASES = {
    "telco-subscriptions": dict(
        subscriptions="TELCO", columns={"customerID": "customer_id", "Churn": "churned"}),
    "cdnow-inactivity": dict(
        transactions="CDNOW", columns={"date": "timestamp", "dollars": "amount", "cds": "quantity"},
        as_of="1998-06-30"),
}


@pytest.mark.parametrize("case", list(SURVIVAL_CASES), ids=lambda c: f"{c}-spark")
def test_survival_churn_spark_parity(spark, case):
    """What the survival study takes from the engine, the durations table and the
    data-quality records, is the same on both engines; the models, curves and risk
    tables are computed in pandas from that table alone (``survival_study`` passes its
    engine to :func:`load_churn_durations` and to nothing else)."""
    from clm_lib.config import CDNOW_MASTER, TELCO_CHURN
    from clm_lib.studies.survival_churn.durations import load_churn_durations

    files = {"TELCO": str(TELCO_CHURN), "CDNOW": str(CDNOW_MASTER)}
    kwargs = {k: files.get(v, v) if isinstance(v, str) else v
              for k, v in SURVIVAL_CASES[case].items()}
    duck = load_churn_durations(**kwargs, engine="duckdb")
    sprk = load_churn_durations(**kwargs, engine=spark)
    assert duck.kind == sprk.kind
    pd.testing.assert_frame_equal(duck.frame, sprk.frame, rtol=RTOL, atol=ATOL)
    for q, r in zip(duck.qualities, sprk.qualities, strict=True):
        assert q.to_dict() == r.to_dict()


# --- survival_churn ---


# --- clv ---
def test_clv_spark_parity(spark, cdnow_basket):
    """The CLV study on CDNOW master with a segment (every 17th row without one), loaded
    and reduced in each engine: reduced tables, estimates, holdout, tracking, values,
    intervals and segments agree."""
    from clm_lib.reduce import get_engine
    from clm_lib.studies.clv import report
    from clm_lib.studies.clv.compute import clv_study

    _, parquet = cdnow_basket
    columns = {"date": "timestamp", "dollars": "amount"}
    kw = dict(calibration_end="1997-09-30", as_of="1998-06-30", time_unit="week", horizon=52,
              n_draws=20, seed=3, segment="basket")
    runs = {}
    for eng in (get_engine("duckdb"), spark):
        tx, dq = eng.load_transactions(parquet, columns, as_of=kw["as_of"])
        runs[eng.name] = clv_study(tx, engine=eng, **kw), dq
    (d, d_dq), (s, s_dq) = runs["duckdb"], runs["spark"]
    assert (s_dq.rows_in, s_dq.rows_used, s_dq.dropped) == (d_dq.rows_in, d_dq.rows_used, d_dq.dropped)
    for part in ("calibration", "full"):
        pd.testing.assert_frame_equal(getattr(s, part), getattr(d, part), rtol=1e-9,
                                      check_index_type=False)
    assert s.model_errors == d.model_errors == {}
    assert list(s.models) == list(d.models) == ["bgnbd", "pareto_nbd", "mbgnbd", "gamma_gamma"]
    for name, m in d.models.items():
        np.testing.assert_allclose(s.models[name].params_.to_numpy(), m.params_.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(s.final_model.params_.to_numpy(), d.final_model.params_.to_numpy(),
                               rtol=1e-9)
    pd.testing.assert_frame_equal(report.model_comparison(s), report.model_comparison(d), rtol=1e-9)
    pd.testing.assert_frame_equal(s.tracking, d.tracking, rtol=1e-9)
    assert s.tracking["actual"].sum() == d.tracking["actual"].sum() > 0
    pd.testing.assert_frame_equal(s.cond_holdout, d.cond_holdout, rtol=1e-9)
    cols = ["frequency", "recency", "T", "p_alive", "expected_purchases", "clv",
            "purchases_lower", "purchases_upper"]
    pd.testing.assert_frame_equal(s.values[cols], d.values[cols], rtol=1e-9, check_index_type=False)
    # the value bounds carry the Gamma-Gamma standard errors
    pd.testing.assert_frame_equal(s.values[["clv_lower", "clv_upper"]],
                                  d.values[["clv_lower", "clv_upper"]], rtol=1e-6,
                                  check_index_type=False)
    pd.testing.assert_frame_equal(s.segments, d.segments, rtol=1e-9, check_index_type=False)
    assert s.segments["customers"].sum() == len(d.full)
    for key in ("expected_purchases", "clv_total"):
        assert s.forecast[key] == pytest.approx(d.forecast[key], rel=1e-9), key
    assert s.value_model == d.value_model
    for name, h in d.holdout.items():
        np.testing.assert_allclose(s.holdout[name]["interval"], h["interval"], rtol=1e-9)
    assert s.dropped == d.dropped
# --- clv ---


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
#: The golden cases also run on Spark: one of each path of the contract (a CSV log, order
#: lines with a time zone, aware timestamps with an offset as-of, net negative amounts,
#: the mixed-zone error that names rows, order lines of one order with different values
#: (now one order), interval and snapshot subscriptions, leads). Every case runs
#: on DuckDB in tests/io/test_golden.py; the Telco file (21 columns) runs on Spark in the
#: survival section.
_SPARK_CASES = ("cdnow_sample", "tx_orders_tz", "tx_aware_as_of_offset", "tx_orders_net",
                "tx_mixed_tz", "tx_order_conflict", "subs_intervals_as_of_time",
                "subs_snapshot_churn_values", "leads_as_of")
_RECORDS = [_GOLDEN / "validate" / f"{c}.json" for c in _SPARK_CASES]


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


def test_io_reduce_durations_spark_parity(spark, typed_intervals):
    from clm_lib.config import TELCO_CHURN
    from clm_lib.exceptions import DataContractError
    from clm_lib.reduce import get_engine

    subs = typed_intervals
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
