"""Pareto/NBD: published CDNOW estimates, parameter recovery, predictions.

Published figures: Fader, Hardie & Lee (2005), "'Counting Your Customers' the Easy Way",
Marketing Science 24(2), Table 1 (Pareto/NBD on the same CDNOW sample and 39-week
calibration as the BG/NBD): r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67, LL = -9595.0.
Likelihood, P(alive) and conditional expectation from Fader & Hardie (2005) note 008.
"""
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

from clm_lib.clv.pareto_nbd import ParetoNBDModel, pareto_nbd_loglik, simulate_pareto_nbd
from clm_lib.reduce import get_engine

compress = get_engine("duckdb").compress


@pytest.fixture(scope="module")
def cdnow(cdnow_sample_summary):
    return cdnow_sample_summary


def test_reproduces_fader_hardie_lee_2005(cdnow):
    m = ParetoNBDModel().fit(compress(cdnow), weights="weights")
    for k, v in {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}.items():
        assert m.params_[k] == pytest.approx(v, abs=0.005 + 1e-3 * v), k
    assert m.loglik_ == pytest.approx(-9595.0, abs=0.05)


def test_standard_errors_match_clvtools(cdnow):
    """Standard errors against an independent implementation: CLVTools' correctness test
    of the Pareto/NBD on the same CDNOW sample and calibration
    (tests/testthat/test_correctness_pnbd.R, ``params.nocov.se``): r 0.0476264,
    alpha 0.8427222, s 0.1872594, beta 6.2105448 (their estimates agree with ours to 2e-4)."""
    m = ParetoNBDModel().fit(compress(cdnow), weights="weights")
    published = {"r": 0.0476264, "alpha": 0.8427222, "s": 0.1872594, "beta": 6.2105448}
    for k, v in published.items():
        assert m.se_[k] == pytest.approx(v, rel=3e-4), k


@pytest.mark.parametrize("params", [(0.7, 3.0, 1.3, 8.0), (0.7, 8.0, 1.3, 3.0)])
def test_both_branches_equal_direct_integration(params):
    """Independent check of both hypergeometric branches (alpha >= beta, alpha < beta):
    L = E_lambda,mu[ lambda^x e^{-(lambda+mu) T} + int_{t_x}^T lambda^x e^{-lambda tau} mu e^{-mu tau} dtau ],
    integrated over the gammas with lambda and mu analytically and tau by quadrature."""
    r, alpha, s, beta = params
    for x, tx, T in [(0, 0.0, 10.0), (4, 6.0, 12.0)]:
        # E_lambda[lambda^x e^{-lambda y}] = G(r+x)/G(r) alpha^r / (alpha+y)^(r+x)
        def el(y):
            return np.exp(special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
                          - (r + x) * np.log(alpha + y))
        alive = el(T) * (beta / (beta + T)) ** s
        dead, _ = integrate.quad(lambda tau: el(tau) * s / beta * (beta / (beta + tau)) ** (s + 1),
                                 tx, T, epsabs=0, epsrel=1e-12)
        ll = pareto_nbd_loglik(np.array(params), {"frequency": np.array([x]),
                                                  "recency": np.array([tx]), "T": np.array([T])})
        assert ll[0] == pytest.approx(np.log(alive + dead), abs=1e-8)


def test_recovers_parameters_from_simulation():
    truth = (0.55, 10.58, 0.61, 11.67)
    T = np.random.default_rng(1).integers(20 * 7, 52 * 7, 10_000) / 7
    sim = simulate_pareto_nbd(truth, T, seed=2)
    m = ParetoNBDModel().fit(sim)
    for k, v in zip(m.param_names, truth):
        assert abs(m.params_[k] - v) < 4 * m.se_[k], (k, m.params_[k])


def test_predictions_against_simulation():
    truth = (0.8, 6.0, 0.9, 12.0)
    m = ParetoNBDModel()
    x = np.arange(300)
    pmf = m.probability_of_purchases(x, 30.0, params=truth)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    assert (x * pmf).sum() == pytest.approx(m.expected_purchases(30.0, params=truth), rel=1e-7)
    rng = np.random.default_rng(5)
    n = 300_000
    lam = rng.gamma(truth[0], 1 / truth[1], n)
    mu = rng.gamma(truth[2], 1 / truth[3], n)
    tau = rng.exponential(1.0, n) / mu
    cal_life = np.minimum(tau, 25.0)
    x_cal = rng.poisson(lam * cal_life)
    tx = np.where(x_cal > 0, cal_life * rng.random(n) ** (1 / np.maximum(x_cal, 1)), 0.0)
    x_hold = rng.poisson(lam * np.clip(np.minimum(tau, 40.0) - 25.0, 0, None))
    d = pd.DataFrame({"frequency": x_cal, "recency": tx, "T": 25.0})
    assert x_cal.mean() == pytest.approx(m.expected_purchases(25.0, params=truth), rel=0.02)
    pred = m.conditional_expected_purchases(15.0, d, params=truth)
    pa = m.p_alive(d, params=truth)
    for lo, hi in [(0, 0), (1, 2), (3, 8)]:
        g = (x_cal >= lo) & (x_cal <= hi)
        assert pred[g].mean() == pytest.approx(x_hold[g].mean(), rel=0.03)
        assert pa[g].mean() == pytest.approx((tau[g] > 25.0).mean(), abs=0.01)


def test_lookup_tables_give_the_same_likelihood(cdnow):
    c = cdnow
    arrays, _ = ParetoNBDModel()._prepare(c)
    assert "_xtx_u" in arrays
    plain = {k: c[k].to_numpy(float) for k in ["frequency", "recency", "T"]}
    for p in [(0.55, 10.58, 0.61, 11.67), (0.55, 10.58, 0.61, 5.0)]:
        np.testing.assert_allclose(pareto_nbd_loglik(np.array(p), arrays),
                                   pareto_nbd_loglik(np.array(p), plain), rtol=1e-12)


def test_p_alive_by_params_is_p_alive(cdnow):
    """The pair tables give the same P(alive) as the direct formula, on both branches."""
    m = ParetoNBDModel()
    by = m.p_alive_by_params(cdnow)
    for p in [(0.55, 10.58, 0.61, 11.67), (0.55, 12.0, 0.61, 3.0)]:   # alpha < beta, alpha >= beta
        np.testing.assert_allclose(by(p), m.p_alive(cdnow, params=p), rtol=1e-12)
