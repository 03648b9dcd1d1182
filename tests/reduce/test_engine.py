"""The engine: names, sources, the one dtype map, compression and scoring; answers by hand."""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import MissingColumnsError, ParameterError
from clm_lib.io.sources import to_pandas
from clm_lib.reduce import ENGINES, Engine, get_engine
from clm_lib.reduce.engine import compress, summary_data
from clm_lib.synthetic import simulate_transactions, write_parquet

AS_OF, CAL = "2023-12-31", "2023-06-30"


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    """A seeded synthetic log (~5k rows) as a DataFrame and as a glob of Parquet files."""
    d = tmp_path_factory.mktemp("tx")
    info = write_parquet(d, 600, seed=7, chunk_customers=250, start="2022-07-01")
    df = simulate_transactions(600, seed=7, chunk_customers=250, start="2022-07-01")
    assert info["rows"] == len(df) and len(info["files"]) == 3
    return df, str(d / "part-*.parquet")


@pytest.fixture(scope="module")
def eng():
    return get_engine()


def test_names_alias_and_cache():
    e = get_engine()
    assert e.name == "duckdb" and get_engine("duckdb") is e and get_engine(e) is e
    assert get_engine("pandas") is e            # "pandas" names the default engine
    assert Engine("pandas").name == "duckdb"
    assert set(ENGINES) == {"pandas", "duckdb", "spark"}
    assert get_engine(threads=1) is not e and get_engine(threads=1).name == "duckdb"
    with pytest.raises(ParameterError, match="engine"):
        get_engine("polars")


def test_every_source_gives_the_same_summary(log, eng, tmp_path):
    df, glob = log
    want = eng.summary_data(glob, as_of=AS_OF)
    raw = df.rename(columns={"customer_id": "cust", "timestamp": "date", "amount": "dollars"})
    cols = {"cust": "customer_id", "date": "timestamp", "dollars": "amount"}
    csv = tmp_path / "tx.csv"
    raw.to_csv(csv, index=False)
    eng.con.raw_sql(f"CREATE OR REPLACE VIEW tx_view AS SELECT * FROM read_parquet('{glob}')")
    for got in (eng.summary_data(raw, as_of=AS_OF, columns=cols),
                eng.summary_data(str(csv), as_of=AS_OF, columns=cols),
                eng.summary_data("tx_view", as_of=AS_OF),
                eng.summary_data(eng.load_transactions(glob)[0], as_of=AS_OF),
                summary_data(df, as_of=AS_OF, engine="pandas")):
        pd.testing.assert_frame_equal(got, want)
    assert want.attrs["data_quality"]["rows_used"] == len(df)  # the files went through it


def test_summary_errors(log, eng):
    df, _ = log
    with pytest.raises(MissingColumnsError):
        eng.summary_data(df.drop(columns="amount"), as_of=AS_OF)
    with pytest.raises(FileNotFoundError):
        eng.summary_data("/nonexistent/*.parquet", as_of=AS_OF)
    with pytest.raises(ParameterError, match="as_of"):
        eng.summary_data(df, as_of="not a date")


def test_one_dtype_map_for_every_result(eng):
    t = eng.from_pandas(pd.DataFrame({
        "s": ["a", None], "i": [1, 2], "b": [True, False],
        "t": pd.to_datetime(["2020-01-01 10:00", None]), "f": [1.5, np.nan]}))
    got = to_pandas(t.mutate(inull=t.i.nullif(2), bnull=t.b.nullif(False),
                             d=t.t.cast("date"), tz=t.t.cast("timestamp('UTC')")))
    assert got.dtypes.astype(str).to_dict() == {
        "s": "string", "i": "int64", "b": "bool", "t": "datetime64[ns]", "f": "float64",
        "inull": "Int64", "bnull": "boolean", "d": "datetime64[ns]", "tz": "datetime64[ns]"}
    assert got["d"].tolist()[0] == pd.Timestamp("2020-01-01")
    assert got["tz"].tolist()[0] == pd.Timestamp("2020-01-01 10:00")


def test_frames_with_mixed_object_columns_are_read_as_text(eng):
    df = pd.DataFrame({"customer_id": [1, "b", None], "x": [pd.Timestamp("2020-01-01"), 3, "y"]})
    got = eng.to_pandas(eng.from_pandas(df))
    assert got["customer_id"].tolist()[:2] == ["1", "b"] and pd.isna(got["customer_id"][2])
    assert got["x"].tolist() == ["2020-01-01 00:00:00", "3", "y"]


def test_compress_by_hand(eng):
    s = pd.DataFrame({"frequency": [0, 0, 1, 1, 1], "recency": [0.0, 0.0, 2.0, 2.0, 3.0],
                      "T": [5.0, 5.0, 5.0, 5.0, 5.0], "monetary_value": [0, 0, 9, 9, 4.0]})
    c = compress(s)
    assert c.to_dict("list") == {"frequency": [0, 1, 1], "recency": [0.0, 2.0, 3.0],
                                 "T": [5.0, 5.0, 5.0], "weights": [2, 2, 1]}
    spend = eng.compress(s, ["frequency", "monetary_value"], where=lambda t: t.frequency > 0)
    assert spend.to_dict("list") == {"frequency": [1, 1], "monetary_value": [4.0, 9.0],
                                     "weights": [1, 2]}
    with pytest.raises(MissingColumnsError, match="T"):
        eng.compress(s.drop(columns="T"))


@pytest.fixture(scope="module")
def weekly(log, eng):
    df, _ = log
    return eng.summary_data(df, as_of=AS_OF, calibration_end=CAL, time_unit="week")


def test_compressed_fits_equal_full_fits(weekly, eng, log):
    """The likelihoods are sums over customers: a fit on the weighted distinct rows is the
    fit on every customer."""
    bgnbd = importlib.import_module("clm_lib.clv.bgnbd")
    gg_mod = importlib.import_module("clm_lib.clv.gamma_gamma")
    _, glob = log
    lazy = eng.summary_table(glob, as_of=AS_OF, calibration_end=CAL)
    triples = eng.compress(lazy)
    assert triples["weights"].sum() == len(weekly) and len(triples) < len(weekly)
    full = bgnbd.BetaGeoModel().fit(weekly)
    comp = bgnbd.BetaGeoModel().fit(triples, weights="weights")
    np.testing.assert_allclose(comp.params_.to_numpy(), full.params_.to_numpy(), rtol=1e-6)
    assert comp.loglik_ == pytest.approx(full.loglik_, rel=1e-9)
    spenders = weekly.loc[weekly["spend_frequency"] > 0]
    full = gg_mod.GammaGammaModel().fit(
        spenders.rename(columns={"frequency": "repeat", "spend_frequency": "frequency"}))
    pairs = eng.compress(lazy, ["spend_frequency", "monetary_value"],
                         where=lambda t: t.spend_frequency > 0)
    assert pairs["weights"].sum() == len(spenders)
    comp = gg_mod.GammaGammaModel().fit(pairs.rename(columns={"spend_frequency": "frequency"}),
                                        weights="weights")
    np.testing.assert_allclose(comp.params_.to_numpy(), full.params_.to_numpy(), rtol=1e-6)


def test_score_joins_back_every_customer(weekly, eng, log):
    bgnbd = importlib.import_module("clm_lib.clv.bgnbd")
    _, glob = log
    model = bgnbd.BetaGeoModel().fit(weekly)

    def predict(u):
        return pd.DataFrame({"p_alive": model.p_alive(u),
                             "expected_26": model.conditional_expected_purchases(26, u)})

    direct = predict(weekly)
    frame = eng.score(weekly, predict)                   # a frame: a frame comes back
    np.testing.assert_array_equal(frame["p_alive"].to_numpy(), direct["p_alive"].to_numpy())
    mat = eng.materialize(eng.summary_table(glob, as_of=AS_OF, calibration_end=CAL))
    try:
        got = eng.to_pandas(eng.score(mat.table, predict)).set_index("customer_id").sort_index()
    finally:
        mat.drop()
    assert len(got) == len(weekly) and got["p_alive"].notna().all()
    pd.testing.assert_frame_equal(got[["p_alive", "expected_26"]],
                                  frame[["p_alive", "expected_26"]], rtol=1e-12)
    with pytest.raises(ParameterError, match="rows"):
        eng.score(weekly, lambda u: pd.DataFrame({"x": [1.0]}))
    with pytest.raises(ParameterError, match="already exist"):
        eng.score(weekly, lambda u: pd.DataFrame({"T": u["T"]}))
