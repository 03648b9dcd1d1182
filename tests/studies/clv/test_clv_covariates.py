"""Covariates in the CLV study: first-purchase attributes (against an independent pandas
computation), the customer-table join and its counts, the encoding, the parameter errors,
the plumbing of the fits (on a stand-in model), the report's wording, and the study end to
end on CDNOW master with the real covariate models."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import MissingColumnsError, ParameterError
from clm_lib.reduce import get_engine
from clm_lib.run.checks import check_values
from clm_lib.studies.clv import report_covariates as rc
from clm_lib.studies.clv.covariates import (CovariateFits, covariate_fits, covariate_spec,
                                            customer_attributes, encode_covariates)


@pytest.fixture(scope="module")
def eng():
    return get_engine("duckdb")


@pytest.fixture()
def log():
    """Four customers; ties on the first day (a: two rows that day at different times,
    b: two rows at the same instant), a missing quantity on a first day (c), a customer
    whose only first-day quantity is missing (d), and a purchase after as_of (e)."""
    return pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "b", "c", "c", "d", "d", "e"],
        "timestamp": pd.to_datetime([
            "2020-01-02 10:00", "2020-01-02 18:00", "2020-01-09 00:00",
            "2020-01-03 00:00", "2020-01-03 00:00", "2020-01-20 00:00",
            "2020-01-04 00:00", "2020-01-04 09:00", "2020-01-05 00:00", "2020-01-06 00:00",
            "2020-03-01 00:00"]),
        "amount": [10.0, 5.0, 3.0, 4.0, 4.0, 1.0, 2.0, 2.0, 7.0, 1.0, 9.0],
        "quantity": [1, 2, 5, 3, 1, 2, None, 4, None, 6, 1],
        "channel": ["web", "shop", "web", "shop", "web", "web", "web", "web", None, "shop", "web"],
    })


def _independent_first_day(log, as_of):
    """The same rule computed directly in pandas: the first calendar day of each customer
    up to as_of; quantity summed over that day (NaN when every value is missing), channel
    the smallest value of that day."""
    d = log.loc[log["timestamp"].dt.normalize() <= pd.Timestamp(as_of)].copy()
    d["day"] = d["timestamp"].dt.normalize()
    first = d.groupby("customer_id")["day"].transform("min")
    f = d.loc[d["day"] == first]
    q = f.groupby("customer_id")["quantity"].sum(min_count=1)
    c = f.groupby("customer_id")["channel"].min()
    return pd.DataFrame({"quantity": q, "channel": c})


def test_first_purchase_values_match_pandas(eng, log):
    got = eng.first_purchase_values(log, ["quantity", "channel"], as_of="2020-02-01")
    want = _independent_first_day(log, "2020-02-01")
    got.index = got.index.astype(str)
    pd.testing.assert_series_equal(got["quantity"].astype(float), want["quantity"].astype(float),
                                   check_names=False, check_index_type=False)
    assert got["channel"].astype(object).where(got["channel"].notna(), None).tolist() == \
        want["channel"].where(want["channel"].notna(), None).tolist()
    # by hand: a's first day has 1 + 2 CDs, b's two rows at one instant 3 + 1; c's missing
    # value adds nothing; d's first day has no value; e bought after as_of
    assert got["quantity"].tolist()[:3] == [3.0, 4.0, 4.0]
    assert np.isnan(got.loc["d", "quantity"]) and "e" not in got.index
    assert got.loc["a", "channel"] == "shop" and pd.isna(got.loc["d", "channel"])


def test_first_purchase_values_unknown_column(eng, log):
    with pytest.raises(MissingColumnsError, match="size"):
        eng.first_purchase_values(log, ["size"], as_of="2020-02-01")


def test_customer_table_join_counts(eng, log):
    table = pd.DataFrame({"customer_id": ["a", "b", "b", "c", "x"],
                          "region": ["north", "south", "north", None, "east"]})
    ids = ["a", "b", "c", "d"]
    raw, rec = customer_attributes(eng, log, ("region", "quantity"), as_of="2020-02-01",
                                   customer_ids=ids, customers=table)
    assert rec["customers_in"] == 4
    assert rec["dropped"] == {"not in the customer table": 1,  # d
                              "customer_id more than once in the customer table": 1,  # b
                              "no value of region": 1}  # c
    assert rec["customers_used"] + sum(rec["dropped"].values()) == rec["customers_in"]
    assert raw.index.tolist() == ["a"] and raw.loc["a", "region"] == "north"
    assert raw.loc["a", "quantity"] == 3.0
    assert rec["sources"] == {"region": "customer table", "quantity": "transactions"}


def test_missing_covariate_values_counted(eng, log):
    raw, rec = customer_attributes(eng, log, ("quantity",), as_of="2020-02-01",
                                   customer_ids=["a", "b", "c", "d"])
    assert rec["dropped"] == {"no value of quantity": 1}
    assert raw.index.tolist() == ["a", "b", "c"]


def test_unknown_covariate_names_columns_present(eng, log):
    t = eng.from_pandas(log)
    with pytest.raises(ParameterError, match=r"covariate size .*columns present: .*quantity"):
        customer_attributes(eng, t, ("size",), as_of="2020-02-01", customer_ids=["a"])


def test_encoding_against_most_frequent_level():
    raw = pd.DataFrame({"cds": [1.0, 3.0, 2.0, 1.0, 5.0],
                        "channel": ["web", "shop", "web", "ref", "web"]},
                       index=pd.Index(list("abcde"), name="customer_id"))
    x, terms = encode_covariates(raw)
    assert list(x.columns) == ["cds", "channel=ref", "channel=shop"]
    assert x["cds"].tolist() == [1.0, 3.0, 2.0, 1.0, 5.0]
    assert x["channel=shop"].tolist() == [0, 1, 0, 0, 0]
    assert x["channel=ref"].tolist() == [0, 0, 0, 1, 0]
    assert {t["baseline"] for t in terms if t["kind"] == "level"} == {"web"}


def test_encoding_errors():
    many = pd.DataFrame({"zip": [f"z{i}" for i in range(30)]})
    with pytest.raises(ParameterError, match=r"zip has 30 levels .* at most 5"):
        encode_covariates(many, max_levels=5)
    with pytest.raises(ParameterError, match="single value"):
        encode_covariates(pd.DataFrame({"cds": [2.0, 2.0, 2.0]}))


def test_spec_and_parameter_checks():
    assert covariate_spec(["q", "c"], dropout=["c"], spend=[]) == {
        "purchase": ("q", "c"), "dropout": ("c",), "spend": ()}
    assert covariate_spec(None) == {"purchase": (), "dropout": (), "spend": ()}
    with pytest.raises(ParameterError, match="covariates_spend"):
        covariate_spec(["q"], spend=[3])
    problems = check_values("clv", {"covariates_purchase": "quantity",
                                    "customers": "/nonexistent/customers.csv"}, {})
    assert any("covariates_purchase must be a list of column names" in p for p in problems)
    assert any("customers file /nonexistent/customers.csv does not exist" in p for p in problems)


# ---- the fits' plumbing, on a stand-in of the covariate models --------------------------
class _StandIn:
    """The covariate models' interface: it fits the base model on the data it is given
    (ignoring the covariates) and records what it was given."""

    calls = []

    def __init__(self, base, *, purchase=(), dropout=(), spend=()):
        self.base, self.z = base(), {"purchase": tuple(purchase), "dropout": tuple(dropout),
                                     "spend": tuple(spend)}

    def fit(self, data, weights=None):
        _StandIn.calls.append((self.z, data.copy(), weights))
        cols = ["frequency", "monetary_value"] if self.z["spend"] else None
        self.base.fit(data[cols] if cols else data, **({"weights": weights} if weights else {}))
        k = sum(map(len, self.z.values()))
        self.params_ = pd.concat([self.base.params_, pd.Series(np.zeros(k))])
        self.log_likelihood_ = self.base.loglik_ + 2.0 * k
        self.AIC_ = -2 * self.log_likelihood_ + 2 * len(self.params_)
        return self

    def __getattr__(self, name):
        return getattr(self.base, name)

    def effects(self, level=0.95):
        rows = [{"process": p, "covariate": c, "multiplier": 1.5, "lower": 1.2, "upper": 1.9,
                 "p_value": 0.001, "meaning": ""} for p, cs in self.z.items() for c in cs]
        return pd.DataFrame(rows)

    def likelihood_ratio_test(self, reduced):
        return {"statistic": 2 * (self.log_likelihood_ - reduced.loglik_),
                "df": len(self.params_) - len(reduced.params_), "p_value": 0.01}


@pytest.fixture()
def stand_in(monkeypatch):
    # the study's fits with a recorder in place of the covariate models (the models
    # themselves are tested in tests/clv/test_clv_covariates.py, and end to end on CDNOW below)
    monkeypatch.setattr("clm_lib.studies.clv.covariates.CovariateModel", _StandIn)
    _StandIn.calls = []
    return _StandIn


def test_covariate_fits_plumbing(eng, stand_in):
    from clm_lib.clv.bgnbd import simulate_bgnbd
    from clm_lib.clv.pareto_nbd import ParetoNBDModel

    rng = np.random.default_rng(3)
    n = 600
    sim = simulate_bgnbd((0.5, 5.0, 1.3, 3.0), rng.integers(20, 40, n), seed=4)
    sim.index = pd.Index([f"c{i}" for i in range(n)], name="customer_id")
    sim["monetary_value"] = np.where(sim["frequency"] > 0, rng.gamma(5, 4, n), 0.0)
    sim["spend_frequency"] = sim["frequency"]
    cal = sim.assign(frequency_holdout=rng.poisson(1, n), duration_holdout=10.0)
    tx = pd.DataFrame({"customer_id": sim.index, "timestamp": pd.Timestamp("2020-01-01"),
                       "amount": 1.0, "cds": rng.integers(1, 4, n).astype(float)})
    tx.loc[:4, "cds"] = np.nan  # five customers without a value
    fits = covariate_fits(eng, eng.from_pandas(tx), cal, sim, model_key="pareto_nbd",
                          model_cls=ParetoNBDModel, spec=covariate_spec(["cds"], dropout=[]),
                          as_of="2020-12-31")
    assert isinstance(fits, CovariateFits)
    assert fits.record["customers_used"] == n - 5
    assert fits.record["dropped"] == {"no value of cds": 5}
    # every purchase fit sees the same customers (exactly compressed: weights add up)
    purchase_calls = [c for c in stand_in.calls if not c[0]["spend"]]
    assert all(c[1]["weights"].sum() == n - 5 for c in purchase_calls)
    assert purchase_calls[0][0] == {"purchase": ("cds",), "dropout": (), "spend": ()}
    assert "cds" in purchase_calls[0][1].columns
    assert set(fits.purchase) == {"with", "without"} and set(fits.spend) == {"with", "without"}
    assert fits.lrt["purchase"]["df"] == 1 and fits.lrt["purchase"]["statistic"] == pytest.approx(4.0, abs=0.05)
    assert set(fits.holdout) == {"with", "without"} and "mae" in fits.holdout["with"]
    assert fits.effects["process"].tolist() == ["purchase", "spend"]


# ---- wording ------------------------------------------------------------------------------
def _study(effects, lrt, model="pareto_nbd", terms=None, sources=None):
    terms = terms or [{"name": "quantity", "column": "quantity", "kind": "numeric",
                       "level": None, "baseline": None}]
    fits = CovariateFits(
        spec={"purchase": ("quantity",), "dropout": ("quantity",), "spend": ("quantity",)},
        design={}, terms=terms,
        record={"customers_in": 100, "customers_used": 100, "dropped": {},
                "sources": sources or {"quantity": "transactions"}},
        model=model, purchase={}, spend={}, lrt=lrt, aic={}, holdout={},
        effects=pd.DataFrame(effects), level=0.95, errors={})
    return SimpleNamespace(covariates=fits, time_unit="week", holdout_duration=39.0)


def test_wording_significant_and_null_effects():
    s = _study([{"process": "purchase", "covariate": "quantity", "multiplier": 1.1234,
                 "lower": 1.09, "upper": 1.151, "p_value": 1e-6},
                {"process": "dropout", "covariate": "quantity", "multiplier": 0.97,
                 "lower": 0.90, "upper": 1.05, "p_value": 0.4},
                {"process": "spend", "covariate": "quantity", "multiplier": 1.04,
                 "lower": 1.02, "upper": 1.06, "p_value": 0.001}],
               {"purchase": {"statistic": 41.27, "df": 2, "p_value": 1e-9},
                "spend": {"statistic": 1.2, "df": 1, "p_value": 0.27}})
    (sentence,) = rc.effect_sentences(s)
    assert sentence.startswith("Customers whose first purchase day had one more item (quantity) "
                               "buy 1.12× as often (1.09–1.15, 95 % CI) and spend 1.04× as much")
    assert ("Its effect on when they stop buying (0.97×, 0.90–1.05) is not distinguishable "
            "from no effect") in sentence
    lrt = rc.lrt_sentence(s)
    assert "In the Pareto/NBD, the covariates improve the fit: χ² = 41.3 on 2 df, p < 0.001." in lrt
    assert "In the Gamma-Gamma, the covariates do not improve the fit significantly: χ² = 1.2 " \
           "on 1 df, p = 0.270." in lrt


def test_wording_levels_and_only_null():
    terms = [{"name": "channel=ref", "column": "channel", "kind": "level", "level": "ref",
              "baseline": "web"}]
    s = _study([{"process": "purchase", "covariate": "channel=ref", "multiplier": 1.0,
                 "lower": 0.8, "upper": 1.25, "p_value": 0.9}], {}, model="mbgnbd",
               terms=terms, sources={"channel": "customer table"})
    (sentence,) = rc.effect_sentences(s)
    assert sentence == ("Customers whose channel is ref (against web, the most frequent): the "
                        "effect on how often they buy (1.00×, 0.80–1.25) is not distinguishable "
                        "from no effect (the 95 % interval includes 1).")
    assert rc.covariate_metrics(SimpleNamespace(covariates=None)) == {"covariates": None}


# ---- end to end on CDNOW master -------------------------------------------------------------
def test_cdnow_end_to_end():
    import json

    from clm_lib.config import DATA_DIR
    from clm_lib.reporting import table_html
    from clm_lib.studies.clv import report
    from clm_lib.studies.clv.compute import clv_study

    eng = get_engine("duckdb")
    data, dq = eng.load_transactions(str(DATA_DIR / "cdnow_master.csv"),
                                     {"date": "timestamp", "dollars": "amount", "cds": "quantity"})
    study = clv_study(data, calibration_end="1997-09-30", as_of="1998-06-30", margin=0.3,
                      n_draws=0, covariates=["quantity"], engine=eng)
    c = study.covariates
    assert c.record["customers_in"] == 23570 and c.record["customers_used"] == 23570
    assert set(c.effects["process"]) == {"purchase", "dropout", "spend"}
    assert (c.effects["lower"] <= c.effects["multiplier"]).all()
    assert c.lrt["purchase"]["df"] == 2 and c.lrt["purchase"]["statistic"] > 0
    assert c.lrt["spend"]["df"] == 1
    assert c.purchase["with"].log_likelihood_ >= c.purchase["without"].loglik_ - 1e-6
    assert set(c.holdout) == {"with", "without"}
    assert any("quantity" in s for s in rc.effect_sentences(study))
    assert "χ²" in rc.lrt_sentence(study)
    table_html(**rc.effects_table(study))
    table_html(**rc.fit_table(study))
    m = rc.covariate_metrics(study)
    json.dumps(m, default=float)
    assert len(m["covariates"]["effects"]) == 3
    exports = report.exports(study)
    assert len(exports["customer_value"]) == 23570


def test_covariate_values_equal_customer_value_without_effects():
    """With covariates that change nothing (a model that ignores them), the per-history
    valuation equals the study's own customer_value."""
    from clm_lib.clv.bgnbd import simulate_bgnbd
    from clm_lib.clv.gamma_gamma import GammaGammaModel
    from clm_lib.clv.pareto_nbd import ParetoNBDModel
    from clm_lib.clv.valuation import customer_value
    from clm_lib.studies.clv.covariates import covariate_values

    rng = np.random.default_rng(5)
    sim = simulate_bgnbd((0.5, 5.0, 1.3, 3.0), rng.integers(20, 40, 800), seed=6)
    sim["monetary_value"] = np.where(sim["frequency"] > 0, rng.gamma(5, 4, len(sim)), 0.0)
    sim["spend_frequency"] = sim["frequency"]
    sim["z"] = rng.integers(0, 3, len(sim)).astype(float)
    pn = ParetoNBDModel().fit(sim[["frequency", "recency", "T"]])
    gg = GammaGammaModel().fit(sim.loc[sim.frequency > 0, ["frequency", "monetary_value"]])
    got = covariate_values(pn, gg, sim, {"purchase": ("z",), "dropout": (), "spend": ()},
                           horizon=12, discount_rate=0.01, margin=0.3)
    want = customer_value(pn, gg, sim, horizon=12, discount_rate=0.01, margin=0.3, n_draws=0)
    for col in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-8, err_msg=col)


def test_read_customers_csv_with_mapping(tmp_path):
    from clm_lib.studies.clv.covariates import read_customers

    p = tmp_path / "customers.csv"
    p.write_text("id,src\n007,referral\n42,web\n")
    df = read_customers(str(p), {"id": "customer_id", "src": "channel"})
    assert df["customer_id"].tolist() == ["007", "42"]  # ids stay text: zeros kept
    assert df["channel"].tolist() == ["referral", "web"]
    with pytest.raises(MissingColumnsError, match="customer_id"):
        read_customers(str(p))
    with pytest.raises(ParameterError, match="no such file"):
        read_customers(str(tmp_path / "nope.csv"))
