"""Static covariates in BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma (clm_lib.clv.covariates).

References: recovery of known coefficients on seeded simulations (the simulators take
per-customer parameters), the model without covariates (the special case g = 0) against
the models' own fits, the compressed fit against the full one, and the standard errors and
the likelihood-ratio test against their sampling distribution over repeated simulations.
"""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clm_lib.clv.bgbb import BetaGeoBetaBinomModel
from clm_lib.clv.bgnbd import BetaGeoModel, simulate_bgnbd
from clm_lib.clv.covariates import CovariateModel, individual_params
from clm_lib.clv.gamma_gamma import GammaGammaModel, simulate_gamma_gamma
from clm_lib.clv.mbgnbd import ModifiedBetaGeoModel, simulate_mbgnbd
from clm_lib.clv.pareto_nbd import ParetoNBDModel, simulate_pareto_nbd
from clm_lib.exceptions import DataContractError, InsufficientDataError, ParameterError

G_PURCHASE, G_DROPOUT, G_SPEND = 0.4, -0.5, 0.3
BASE = {BetaGeoModel: (0.8, 4.0, 0.8, 2.5), ModifiedBetaGeoModel: (0.8, 4.0, 0.8, 2.5),
        ParetoNBDModel: (0.8, 4.0, 0.6, 10.0)}
SIMULATE = {BetaGeoModel: simulate_bgnbd, ModifiedBetaGeoModel: simulate_mbgnbd,
            ParetoNBDModel: simulate_pareto_nbd}


def covariates(n, seed):
    """A 0/1 attribute (e.g. acquired through referral) and a standardised number."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 2, n).astype(float), rng.normal(size=n),
            rng.uniform(20, 52, n))


def simulate(cls, n, seed, g_purchase=G_PURCHASE, g_dropout=G_DROPOUT, T=None):
    """Weeks of history under ``cls`` with purchase covariate z1 and dropout covariate z2
    acting through the links of the module (alpha_i, and a_i or beta_i)."""
    z1, z2, T_ = covariates(n, seed)
    T = T_ if T is None else T
    r, alpha, c, d = BASE[cls]
    alpha_i = alpha * np.exp(-g_purchase * z1)
    if cls is ParetoNBDModel:
        params = (r, alpha_i, c, d * np.exp(-g_dropout * z2))
    else:
        params = (r, alpha_i, c * np.exp(g_dropout * z2), d)
    df = SIMULATE[cls](params, T, seed=seed + 1)
    df["z1"], df["z2"] = z1, z2
    return df


@pytest.mark.parametrize("cls", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel])
def test_recovers_known_coefficients(cls):
    df = simulate(cls, 6000, seed=3)
    m = CovariateModel(cls, purchase=["z1"], dropout=["z2"]).fit(df)
    truth = pd.Series(BASE[cls] + (G_PURCHASE, G_DROPOUT), index=m.param_names)
    zscore = (m.params_ - truth) / m.se_
    assert (zscore.abs() < 3.5).all(), zscore
    assert m.se_["purchase:z1"] < 0.06 and m.se_["dropout:z2"] < 0.06
    eff = m.effects().set_index("covariate")
    assert eff.loc["z1", "multiplier"] == pytest.approx(np.exp(m.params_["purchase:z1"]))
    assert eff.loc["z1", "lower"] < np.exp(G_PURCHASE) < eff.loc["z1", "upper"]
    assert m.likelihood_ratio_test()["p_value"] < 1e-10


def test_gamma_gamma_recovers_the_spend_coefficient():
    z1, _, _ = covariates(5000, seed=4)
    x = np.random.default_rng(5).integers(1, 8, 5000).astype(float)
    df = simulate_gamma_gamma((6.0, 4.0, 15.0 * np.exp(G_SPEND * z1)), x, seed=6)
    df["z1"] = z1
    m = CovariateModel(GammaGammaModel, spend=["z1"]).fit(df)
    truth = pd.Series((6.0, 4.0, 15.0, G_SPEND), index=m.param_names)
    assert ((m.params_ - truth) / m.se_).abs().max() < 3.5
    # a new customer's mean spend: p v exp(g z) / (q - 1)
    p, q, v, g = m.params_
    np.testing.assert_allclose(m.population_mean_spend(df.iloc[:3]),
                               p * v * np.exp(g * z1[:3]) / (q - 1), rtol=1e-12)
    assert m.population_mean_spend() == pytest.approx(p * v / (q - 1))


@pytest.mark.parametrize("cls", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel,
                                 GammaGammaModel])
def test_without_covariates_equals_the_model_itself(cls):
    if cls is GammaGammaModel:
        x = np.random.default_rng(1).integers(1, 6, 1500).astype(float)
        df = simulate_gamma_gamma((6.0, 4.0, 15.0), x, seed=2)
    else:
        df = simulate(cls, 1500, seed=7)
    base = cls().fit(df)
    m = CovariateModel(cls).fit(df)
    np.testing.assert_allclose(m.params_.to_numpy(), base.params_.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(m.se_.to_numpy(), base.se_.to_numpy(), rtol=1e-4)
    assert m.loglik_ == pytest.approx(base.loglik_, rel=1e-10)
    assert m.label == base.label


@pytest.mark.parametrize("cls", [BetaGeoModel, ParetoNBDModel])
def test_compressed_fit_equals_the_full_fit(cls):
    # whole weeks and two binary covariates: many customers share (x, t_x, T, z)
    T = np.where(np.arange(3000) % 2 == 0, 20.0, 30.0)
    df = simulate(cls, 3000, seed=8, T=T)
    df["recency"] = np.floor(df["recency"])
    df["z2"] = (df["z2"] > 0).astype(float)
    full = CovariateModel(cls, purchase=["z1"], dropout=["z2"]).fit(df)
    keys = ["frequency", "recency", "T", "z1", "z2"]
    comp = df.groupby(keys).size().rename("weights").reset_index()
    assert len(comp) < len(df) / 2
    small = CovariateModel(cls, purchase=["z1"], dropout=["z2"]).fit(comp, weights="weights")
    np.testing.assert_allclose(small.params_.to_numpy(), full.params_.to_numpy(), rtol=1e-6,
                               atol=1e-8)
    # Pareto/NBD has no analytic gradient: its information matrix is a finite difference
    np.testing.assert_allclose(small.se_.to_numpy(), full.se_.to_numpy(), rtol=1e-3)
    assert small.n_obs_ == full.n_obs_ == 3000


def test_predictions_of_a_customer_with_covariates_zero_are_the_base_models():
    df = simulate(BetaGeoModel, 3000, seed=9)
    m = CovariateModel(BetaGeoModel, purchase=["z1"], dropout=["z2"]).fit(df)
    base = BetaGeoModel()
    theta = tuple(m.params_.iloc[:4])
    zero = df.assign(z1=0.0, z2=0.0)
    np.testing.assert_allclose(m.p_alive(zero), base.p_alive(zero, theta), rtol=1e-12)
    np.testing.assert_allclose(m.conditional_expected_purchases(10, zero),
                               base.conditional_expected_purchases(10, zero, theta), rtol=1e-12)
    assert m.expected_purchases(10) == pytest.approx(base.expected_purchases(10, theta))
    # and a customer with covariates is the base model at her own parameters
    i = 5
    own = tuple(m.individual_params(df).iloc[i])
    row = df.iloc[[i]]
    assert m.p_alive(df)[i] == pytest.approx(base.p_alive(row, own)[0], rel=1e-12)
    np.testing.assert_allclose(m.conditional_expected_purchases_if_alive_table([5, 10], df)[i],
                               [base.conditional_expected_purchases_if_alive(t, row, own)[0]
                                for t in (5, 10)], rtol=1e-10)


def test_links_multiply_what_the_coefficients_say():
    bg = BetaGeoModel()
    z = {"z1": np.array([0.0, 1.0])}
    theta = individual_params(bg, (0.8, 4.0, 0.8, 2.5, np.log(1.5), np.log(2.0)),
                              z, {"purchase": ("z1",), "dropout": ("z1",)}, 2)
    r, alpha, a, b = theta
    # mean purchase rate r / alpha times 1.5, dropout odds a / b times 2
    assert (r / alpha)[1] / (r / alpha)[0] == pytest.approx(1.5)
    assert (a / b)[1] / (a / b)[0] == pytest.approx(2.0)
    pn = individual_params(ParetoNBDModel(), (0.8, 4.0, 0.6, 10.0, 0.0, np.log(2.0)),
                           z, {"purchase": ("z1",), "dropout": ("z1",)}, 2)
    s, beta = pn[2], pn[3]
    assert (s / beta)[1] / (s / beta)[0] == pytest.approx(2.0)


@pytest.mark.parametrize("cls", [BetaGeoModel, GammaGammaModel])
def test_analytic_gradient_equals_finite_differences(cls):
    if cls is GammaGammaModel:
        z1, _, _ = covariates(50, seed=10)
        df = simulate_gamma_gamma((6.0, 4.0, 15.0), np.arange(1, 51) % 5 + 1.0, seed=1)
        df["z1"] = z1
        m, params = CovariateModel(cls, spend=["z1"]), np.array([6.0, 4.0, 15.0, 0.2])
    else:
        df = simulate(cls, 50, seed=10)
        m = CovariateModel(cls, purchase=["z1", "z2"], dropout=["z2"])
        params = np.array([0.8, 4.0, 0.8, 2.5, 0.3, -0.2, 0.5])
    data = {c: df[c].to_numpy(float) for c in df.columns}
    g = m._loglik_grad(params, data)
    num = np.empty_like(g)
    for j in range(len(params)):
        h = 1e-6 * max(1.0, abs(params[j]))
        up, dn = params.copy(), params.copy()
        up[j] += h
        dn[j] -= h
        num[:, j] = (m._loglik(up, data) - m._loglik(dn, data)) / (2 * h)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


def test_standard_errors_and_the_test_match_repeated_simulations():
    """Over 40 seeded data sets: the coefficients' z-scores have mean about 0 and sd about
    1 (the standard errors are right), and with covariates that do nothing the
    likelihood-ratio statistic is chi-square with 2 df (the p-values uniform)."""
    zs, null_p = [], []
    for s in range(40):
        df = simulate(BetaGeoModel, 2000, seed=100 + s)
        m = CovariateModel(BetaGeoModel, purchase=["z1"], dropout=["z2"]).fit(df)
        zs.append(((m.params_ - (BASE[BetaGeoModel] + (G_PURCHASE, G_DROPOUT))) / m.se_)
                  .iloc[4:].to_numpy())
        null = simulate(BetaGeoModel, 2000, seed=500 + s, g_purchase=0.0, g_dropout=0.0)
        lrt = CovariateModel(BetaGeoModel, purchase=["z1"], dropout=["z2"]).fit(null) \
            .likelihood_ratio_test()
        assert lrt["df"] == 2 and lrt["statistic"] >= 0
        null_p.append(lrt["p_value"])
    zs = np.array(zs)
    assert np.all(np.abs(zs.mean(axis=0)) < 0.5), zs.mean(axis=0)
    assert np.all((zs.std(axis=0) > 0.7) & (zs.std(axis=0) < 1.4)), zs.std(axis=0)
    assert stats.kstest(null_p, "uniform").pvalue > 0.01


def test_likelihood_ratio_test_against_a_given_reduced_model():
    df = simulate(BetaGeoModel, 3000, seed=11, g_dropout=0.0)
    full = CovariateModel(BetaGeoModel, purchase=["z1"], dropout=["z2"]).fit(df)
    only_purchase = CovariateModel(BetaGeoModel, purchase=["z1"]).fit(df)
    lrt = full.likelihood_ratio_test(only_purchase)
    assert lrt["df"] == 1
    assert lrt["statistic"] == pytest.approx(2 * (full.loglik_ - only_purchase.loglik_))
    assert only_purchase.likelihood_ratio_test()["p_value"] < 1e-10
    with pytest.raises(ParameterError, match="same customers"):
        full.likelihood_ratio_test(BetaGeoModel().fit(df.iloc[:2000]))
    with pytest.raises(ParameterError, match="not BG/NBD"):
        full.likelihood_ratio_test(ParetoNBDModel().fit(df))


def test_bad_covariates_are_named():
    df = simulate(BetaGeoModel, 500, seed=12)
    with pytest.raises(DataContractError, match="channel.*numeric") as err:
        CovariateModel(BetaGeoModel, purchase=["channel"]).fit(df.assign(channel="web"))
    assert err.value.n_rows == 500
    with pytest.raises(DataContractError, match="z1.*finite") as err:
        CovariateModel(BetaGeoModel, purchase=["z1"]).fit(df.assign(z1=df["z1"].where(
            df.index % 100 != 0)))
    assert err.value.n_rows == 5
    with pytest.raises(InsufficientDataError, match="one value for all 500"):
        CovariateModel(BetaGeoModel, dropout=["k"]).fit(df.assign(k=1.0))
    with pytest.raises(InsufficientDataError, match="z1, not_z1 on purchase are collinear"):
        # both levels of one attribute given as indicators
        CovariateModel(BetaGeoModel, purchase=["z1", "not_z1"]).fit(
            df.assign(not_z1=1.0 - df["z1"]))
    with pytest.raises(InsufficientDataError, match="collinear"):
        CovariateModel(BetaGeoModel, purchase=["z1", "z2", "both"]).fit(
            df.assign(both=2 * df["z1"] - df["z2"]))
    with pytest.raises(Exception, match="missing_col"):
        CovariateModel(BetaGeoModel, purchase=["missing_col"]).fit(df)


def test_parameter_errors():
    with pytest.raises(ParameterError, match="no purchase process"):
        CovariateModel(GammaGammaModel, purchase=["z1"])
    with pytest.raises(ParameterError, match="no spend process"):
        CovariateModel(BetaGeoModel, spend=["z1"])
    with pytest.raises(ParameterError, match="given twice"):
        CovariateModel(BetaGeoModel, purchase=["z1", "z1"])
    with pytest.raises(ParameterError, match="not BG/BB"):
        CovariateModel(BetaGeoBetaBinomModel, purchase=["z1"])
    df = simulate(BetaGeoModel, 800, seed=13)
    m = CovariateModel(BetaGeoModel, purchase=["z1"]).fit(df)
    with pytest.raises(ParameterError, match="level"):
        m.effects(level=95)
