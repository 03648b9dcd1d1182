"""Engines (pandas / DuckDB): identical reductions, compression and scoring.

Spark runs the same comparisons in tests/test_engines_spark.py.
"""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest


from clm_lib.reduce import pandas_reductions as reductions  # noqa: E402
from clm_lib.reduce.engine import (  # noqa: E402
    Engine,
    cohort_activity,
    compress,
    get_engine,
    subscription_durations,
    summary_data,
)
from clm_lib.synthetic import simulate_transactions, write_parquet  # noqa: E402
from clm_lib.exceptions import (  # noqa: E402
    DataContractError,
    MissingColumnsError,
    ParameterError,
)

# Ibis 12 calls duckdb 2.0's deprecated fetch_arrow_table(); harmless.
pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

AS_OF, CAL = "2023-12-31", "2023-06-30"


def _tx(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    df["customer_id"] = df["customer_id"].astype("string")
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    return df


@pytest.fixture(scope="module")
def tiny():
    # a: two purchases on 01-01 (count once), 01-08 (5.0), 01-20 (free), holdout 02-10 (4.0)
    # b: first purchase after the calibration end -> excluded
    # c: one purchase, plus one after as_of -> ignored
    return _tx([
        ("a", "2020-01-01 09:00", 1.0), ("a", "2020-01-01 18:30", 2.0),
        ("a", "2020-01-08 12:00", 5.0), ("a", "2020-01-20 08:00", 0.0),
        ("a", "2020-02-10 10:00", 4.0),
        ("b", "2020-02-05 10:00", 3.0),
        ("c", "2020-01-15 23:59", 7.0), ("c", "2020-03-05 10:00", 9.0),
    ])


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    """A seeded synthetic log (~5k rows) as a DataFrame and as a glob of Parquet files."""
    d = tmp_path_factory.mktemp("tx")
    info = write_parquet(d, 600, seed=7, chunk_customers=250, start="2022-07-01")
    df = simulate_transactions(600, seed=7, chunk_customers=250, start="2022-07-01")
    assert info["rows"] == len(df) and len(info["files"]) == 3
    return df, str(d / "part-*.parquet")


@pytest.fixture(scope="module")
def duck():
    return get_engine("duckdb")


def test_tiny_summary_by_hand(tiny, duck):
    kw = dict(as_of="2020-02-29", calibration_end="2020-01-31", time_unit="week")
    for eng in ("pandas", duck):
        s = summary_data(tiny, engine=eng, **kw)
        assert list(s.index) == ["a", "c"]
        a, c = s.loc["a"], s.loc["c"]
        assert a["frequency"] == 2 and a["spend_frequency"] == 1
        assert a["recency"] == pytest.approx(19 / 7, abs=1e-12)
        assert a["T"] == pytest.approx(30 / 7, abs=1e-12)
        assert a["monetary_value"] == 5.0
        assert a["frequency_holdout"] == 1 and a["monetary_value_holdout"] == 4.0
        assert a["duration_holdout"] == pytest.approx(29 / 7, abs=1e-12)
        assert c["frequency"] == 0 and c["recency"] == 0 and c["monetary_value"] == 0
        assert c["T"] == pytest.approx(16 / 7, abs=1e-12) and c["frequency_holdout"] == 0
        assert s.attrs["dropped"] == {
            "purchase days after as_of": 1,
            "customers whose first purchase is after calibration_end": 1}


@pytest.mark.parametrize("time_unit", ["day", "week", "month"])
@pytest.mark.parametrize("calibration_end", [None, CAL])
def test_summary_identical_to_pandas(log, duck, time_unit, calibration_end):
    df, glob = log
    ref = reductions.summary_data(df, as_of=AS_OF, calibration_end=calibration_end,
                                  time_unit=time_unit)
    got = duck.summary_data(glob, as_of=AS_OF, calibration_end=calibration_end,
                            time_unit=time_unit)
    assert len(ref) > 500
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-9, atol=1e-9,
                                  check_index_type=False)
    ints = ["frequency", "spend_frequency"] + (["frequency_holdout"] if calibration_end else [])
    for col in ints:  # integer counts exactly
        np.testing.assert_array_equal(got[col].to_numpy(), ref[col].to_numpy())
    quality = got.attrs.pop("data_quality")  # the Parquet files went through the contract
    assert quality["rows_in"] == quality["rows_used"] == len(df)
    assert got.attrs == ref.attrs


def test_sources_and_column_mapping(log, duck, tmp_path):
    df, glob = log
    raw = df.rename(columns={"customer_id": "cust", "timestamp": "date", "amount": "dollars"})
    cols = {"cust": "customer_id", "date": "timestamp", "dollars": "amount"}
    a = duck.summary_data(raw, as_of=AS_OF, columns=cols)
    csv = tmp_path / "tx.csv"
    raw.to_csv(csv, index=False)
    b = duck.summary_data(str(csv), as_of=AS_OF, columns=cols)
    c = duck.summary_data(glob, as_of=AS_OF)
    pd.testing.assert_frame_equal(a, c, rtol=1e-12)
    pd.testing.assert_frame_equal(b, c, rtol=1e-12)
    duck.con.raw_sql(f"CREATE OR REPLACE VIEW tx_view AS SELECT * FROM read_parquet('{glob}')")
    pd.testing.assert_frame_equal(duck.summary_data("tx_view", as_of=AS_OF), c, rtol=1e-12)
    # the pandas engine loads paths and globs with clm_lib.io.pandas_contract.load_transactions
    p = get_engine("pandas").summary_data(glob, as_of=AS_OF)
    pd.testing.assert_frame_equal(p, c, check_exact=False, rtol=1e-9, check_index_type=False)


def test_errors(log, duck):
    df, _ = log
    with pytest.raises(ParameterError, match="engine"):
        get_engine("polars")
    with pytest.raises(MissingColumnsError):
        duck.summary_data(df.drop(columns="amount"), as_of=AS_OF)
    with pytest.raises(ParameterError, match="time_unit"):
        duck.summary_data(df, as_of=AS_OF, time_unit="fortnight")
    with pytest.raises(ParameterError, match="after as_of"):
        duck.summary_data(df, as_of=CAL, calibration_end=AS_OF)
    with pytest.raises(FileNotFoundError):
        duck.summary_data("/nonexistent/*.parquet", as_of=AS_OF)
    with pytest.raises(ParameterError, match="engine must be one of"):
        get_engine("polars")


def test_compress_in_engine_equals_pandas(log, duck):
    df, glob = log
    ref = reductions.summary_data(df, as_of=AS_OF, calibration_end=CAL)
    lazy = duck.summary_table(glob, as_of=AS_OF, calibration_end=CAL)
    got = duck.compress(lazy)
    want = reductions.compress(ref)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert got["weights"].sum() == len(ref) and len(got) < len(ref)
    pd.testing.assert_frame_equal(compress(ref), want, check_dtype=False)
    spend = duck.compress(lazy, ["frequency", "monetary_value"], where=lambda t: t.frequency > 0)
    assert spend["weights"].sum() == int((ref["frequency"] > 0).sum())


@pytest.fixture(scope="module")
def weekly(log):
    df, _ = log
    return reductions.summary_data(df, as_of=AS_OF, calibration_end=CAL, time_unit="week")


def test_compressed_fit_equals_full_fit(weekly, duck, log):
    bgnbd = importlib.import_module("clm_lib.clv.bgnbd")
    _, glob = log
    triples = duck.compress(duck.summary_table(glob, as_of=AS_OF, calibration_end=CAL))
    full = bgnbd.BetaGeoModel().fit(weekly)
    comp = bgnbd.BetaGeoModel().fit(triples, weights="weights")
    np.testing.assert_allclose(comp.params_.to_numpy(), full.params_.to_numpy(), rtol=1e-6)
    assert comp.loglik_ == pytest.approx(full.loglik_, rel=1e-9)
    assert comp.n_obs_ == len(weekly)


def test_score_joins_back_every_customer(weekly, duck, log):
    bgnbd = importlib.import_module("clm_lib.clv.bgnbd")
    _, glob = log
    model = bgnbd.BetaGeoModel().fit(weekly)

    def predict(u):
        return pd.DataFrame({"p_alive": model.p_alive(u),
                             "expected_26": model.conditional_expected_purchases(26, u)})

    direct = predict(weekly)
    ref = get_engine("pandas").score(weekly, predict)
    np.testing.assert_allclose(ref["p_alive"].to_numpy(), direct["p_alive"].to_numpy(), rtol=1e-12)
    mat = duck.materialize(duck.summary_table(glob, as_of=AS_OF, calibration_end=CAL))
    try:
        got = duck.score(mat.table, predict).to_pandas().set_index("customer_id").sort_index()
    finally:
        mat.drop()
    assert len(got) == len(weekly) and got["p_alive"].notna().all()
    pd.testing.assert_frame_equal(got[["p_alive", "expected_26"]],
                                  ref[["p_alive", "expected_26"]].sort_index(),
                                  check_index_type=False, rtol=1e-12)
    with pytest.raises(ParameterError, match="rows"):
        duck.score(weekly, lambda u: pd.DataFrame({"x": [1.0]}))


def test_cohort_activity_by_hand(duck):
    tx = _tx([("a", "2020-01-05", 10.0), ("a", "2020-03-01", 5.0), ("b", "2020-01-09", 7.0),
              ("c", "2020-02-10", 1.0), ("c", "2020-02-11", 2.0), ("d", "2020-04-02", 1.0)])
    for eng in ("pandas", duck):
        got = cohort_activity(tx, cohort_period="month", as_of="2020-03-31", engine=eng)
        assert got["cohort"].tolist() == ["2020-01", "2020-01", "2020-02"]
        assert got["period"].tolist() == [0, 2, 0]
        assert got["customers"].tolist() == [2, 1, 1]
        assert got["revenue"].tolist() == [17.0, 5.0, 3.0]
        assert got["last_active"].tolist() == [1, 1, 1]
        assert got["cohort_size"].tolist() == [2, 2, 1]


@pytest.mark.parametrize("period", ["week", "month", "quarter", "year"])
def test_cohort_activity_matches_cohort_tables(log, duck, period):
    cohorts = importlib.import_module("clm_lib.studies.cohort_retention.compute")
    df, glob = log
    got = duck.cohort_activity(glob, cohort_period=period, as_of=AS_OF)
    pd.testing.assert_frame_equal(
        got, get_engine("pandas").cohort_activity(df, cohort_period=period, as_of=AS_OF),
        check_exact=False, rtol=1e-9)
    tables = cohorts.retention_tables(df, period, as_of=AS_OF)
    bounded = got.pivot(index="cohort", columns="period", values="customers")
    ref = tables.bounded_counts
    bounded = bounded.reindex(index=ref.index, columns=ref.columns).fillna(0)
    np.testing.assert_array_equal(bounded.to_numpy()[ref.notna().to_numpy()],
                                  ref.to_numpy()[ref.notna().to_numpy()])
    last = got.pivot(index="cohort", columns="period", values="last_active")
    last = last.reindex(index=ref.index, columns=ref.columns).fillna(0)
    unb = last.iloc[:, ::-1].cumsum(axis=1).iloc[:, ::-1]
    mask = tables.unbounded_counts.notna().to_numpy()
    np.testing.assert_array_equal(unb.to_numpy()[mask], tables.unbounded_counts.to_numpy()[mask])
    if tables.revenue is not None:
        rev = got.pivot(index="cohort", columns="period", values="revenue")
        rev = rev.reindex(index=ref.index, columns=ref.columns).fillna(0)
        m = tables.revenue.notna().to_numpy()
        np.testing.assert_allclose(rev.to_numpy()[m], tables.revenue.to_numpy()[m], rtol=1e-9)


@pytest.fixture(scope="module")
def intervals():
    subs = pd.DataFrame({
        "customer_id": pd.array(["a", "b", "c", "d"], dtype="string"),
        "start": pd.to_datetime(["2020-01-01", "2020-01-15 12:00", "2020-03-01", "2020-02-01"],
                                format="ISO8601"),
        "end": pd.to_datetime(["2020-02-01", None, "2020-12-01", "2020-03-31 18:00"],
                              format="ISO8601"),
        "plan": ["basic", "pro", "basic", "pro"],
    })
    return subs


@pytest.mark.parametrize("time_unit", ["day", "week", "month", "year"])
def test_subscription_durations_identical(intervals, duck, time_unit):
    from clm_lib.io.pandas_contract import subscription_durations as ref_fn

    ref = ref_fn(intervals, as_of="2020-03-31", time_unit=time_unit)
    got = subscription_durations(intervals, as_of="2020-03-31", time_unit=time_unit, engine=duck)
    pd.testing.assert_frame_equal(got.reset_index(drop=True),
                                  ref.sort_values("customer_id").reset_index(drop=True),
                                  check_exact=False, rtol=1e-12, check_dtype=False)
    assert got["event"].tolist() == [True, False, False, True]


def test_subscription_durations_by_hand_and_errors(intervals, duck):
    got = duck.subscription_durations(intervals, as_of="2020-03-31", time_unit="day")
    # c ends after as_of -> censored at 2020-03-31 00:00; b active; d ended within as_of day
    assert got["duration"].tolist() == pytest.approx([31.0, 75.5, 30.0, 59.75])
    snap = pd.DataFrame({"customer_id": ["x", "y"], "tenure": [3.0, 10.0],
                         "churned": [True, False], "contract": ["m", "y"]})
    s = duck.subscription_durations(snap)
    assert s["duration"].tolist() == [3.0, 10.0] and s["event"].tolist() == [True, False]
    assert "contract" in s.columns
    bad = intervals.assign(end=intervals["start"] - pd.Timedelta(days=1))
    with pytest.raises(DataContractError, match="end before start"):
        duck.subscription_durations(bad, as_of="2020-03-31")
    with pytest.raises(ParameterError, match="as_of is required"):
        duck.subscription_durations(intervals)
    with pytest.raises(DataContractError, match="after as_of"):
        duck.subscription_durations(intervals, as_of="2020-02-15")


def test_get_engine_caches_and_passes_engines():
    e = get_engine("duckdb")
    assert get_engine("duckdb") is e and get_engine(e) is e
    # "pandas" (older configs) is the in-process default, the same cached DuckDB engine
    assert get_engine() is e and get_engine("pandas") is e and e.name == "duckdb"
    assert Engine("pandas").name == "duckdb"


def test_compressed_gamma_gamma_equals_full_fit(weekly, duck, log):
    gg_mod = importlib.import_module("clm_lib.clv.gamma_gamma")
    _, glob = log
    spenders = weekly.loc[weekly["spend_frequency"] > 0]
    full = gg_mod.GammaGammaModel().fit(
        spenders.rename(columns={"frequency": "repeat", "spend_frequency": "frequency"}))
    pairs = duck.compress(duck.summary_table(glob, as_of=AS_OF, calibration_end=CAL),
                          ["spend_frequency", "monetary_value"],
                          where=lambda t: t.spend_frequency > 0)
    assert pairs["weights"].sum() == len(spenders)
    comp = gg_mod.GammaGammaModel().fit(pairs.rename(columns={"spend_frequency": "frequency"}),
                                        weights="weights")
    np.testing.assert_allclose(comp.params_.to_numpy(), full.params_.to_numpy(), rtol=1e-6)
    assert comp.loglik_ == pytest.approx(full.loglik_, rel=1e-9)


@pytest.mark.parametrize("period", ["month", "quarter"])
def test_retention_matrices_equal_cohort_tables(log, duck, period):
    cohorts = importlib.import_module("clm_lib.studies.cohort_retention.compute")
    from clm_lib.reduce.engine import retention_matrices

    df, glob = log
    mats = retention_matrices(duck.cohort_activity(glob, cohort_period=period, as_of=AS_OF))
    ref = cohorts.retention_tables(df, period, as_of=AS_OF)
    for got, want in [(mats["bounded"], ref.bounded_counts),
                      (mats["unbounded"], ref.unbounded_counts)]:
        pd.testing.assert_frame_equal(got, want, check_names=False, check_index_type=False,
                                      check_column_type=False)
    if ref.revenue is not None:
        pd.testing.assert_frame_equal(mats["revenue"], ref.revenue, check_names=False,
                                      check_index_type=False, check_column_type=False,
                                      rtol=1e-9)
    assert mats["sizes"].tolist() == ref.sizes.tolist()


def test_cdnow_csv_identical_to_pandas_loader(duck):
    """Real data from a CSV path: zero-padded ids stay text; CDNOW weekly summary."""
    from clm_lib.config import CDNOW_MASTER

    cols = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}
    kw = dict(as_of="1998-06-30", calibration_end="1997-09-30", time_unit="week", columns=cols)
    ref = get_engine("pandas").summary_data(str(CDNOW_MASTER), **kw)
    got = duck.summary_data(str(CDNOW_MASTER), **kw)
    assert got.index[0] == ref.index[0] and str(got.index[0]).startswith("0")
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-9, atol=1e-9,
                                  check_index_type=False)
    assert len(got) == 23570


def test_telco_snapshot_csv_identical(duck):
    from clm_lib.config import TELCO_CHURN

    cols = {"customerID": "customer_id", "Churn": "churned"}
    ref = get_engine("pandas").subscription_durations(str(TELCO_CHURN), columns=cols)
    got = duck.subscription_durations(str(TELCO_CHURN), columns=cols)
    ref = ref.sort_values("customer_id").reset_index(drop=True)
    assert len(got) == len(ref) == 7043
    pd.testing.assert_frame_equal(got[["customer_id", "duration", "event"]],
                                  ref[["customer_id", "duration", "event"]], check_dtype=False)
    assert int(got["event"].sum()) == 1869  # churners in the IBM sample
