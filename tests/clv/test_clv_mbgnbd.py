"""MBG/NBD (Batislam, Denizel & Filiztekin 2007, IJRM 24(3); erratum Wagner & Hoppe 2008).

Batislam et al. fit a Turkish grocery panel that is not public. On the CDNOW 1/10 sample
with the 39-week calibration of the BG/NBD papers, two independent implementations agree:
lifetimes (``ModifiedBetaGeoFitter``) and BTYDplus (``mbgnbd.EstimateParameters``) give
r = 0.525, alpha = 6.183, a = 0.891, b = 1.614; that is the regression test here. The
closed-form likelihood is also checked against an independent computation (quadrature of
the individual-level likelihood over the Beta and Gamma mixing distributions), and
parameters against seeded simulations. No published standard errors were found.
"""
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

from clm_lib.clv.mbgnbd import (ModifiedBetaGeoModel, mbgnbd_loglik, mbgnbd_loglik_grad,
                                simulate_mbgnbd)


def test_reproduces_lifetimes_and_btydplus_on_cdnow(cdnow_sample_summary):
    m = ModifiedBetaGeoModel().fit(cdnow_sample_summary)
    for k, v in {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}.items():
        # three decimals: agree to the rounding
        assert m.params_[k] == pytest.approx(v, abs=5e-4), k
    assert np.all(np.isfinite(m.se_))


def test_loglik_equals_quadrature():
    """Individual level: alive throughout, (1-p)^(x+1) lambda^x e^{-lambda T}, or dead right
    after the x-th purchase, p (1-p)^x lambda^x e^{-lambda t_x}."""
    r, alpha, a, b = 0.6, 4.0, 1.4, 2.5
    u, wu = special.roots_genlaguerre(200, r - 1)
    lam, wl = u / alpha, wu / wu.sum()
    y, wy = special.roots_jacobi(200, b - 1, a - 1)
    p, wp = (1 + y) / 2, wy / wy.sum()
    L, P = np.meshgrid(lam, p, indexing="ij")
    W = np.outer(wl, wp)
    for x, tx, T in [(0, 0.0, 10.0), (2, 4.0, 12.0), (6, 11.0, 12.0)]:
        indiv = ((1 - P) ** (x + 1) * L ** x * np.exp(-L * T)
                 + P * (1 - P) ** x * L ** x * np.exp(-L * tx))
        ll = mbgnbd_loglik(np.array([r, alpha, a, b]), {"frequency": np.array([x]),
                                                        "recency": np.array([tx]), "T": np.array([T])})
        assert ll[0] == pytest.approx(np.log((W * indiv).sum()), abs=1e-6)


def test_gradient_matches_finite_differences():
    d = simulate_mbgnbd((0.5, 6.0, 1.2, 3.0), np.full(2000, 30.0), seed=3)
    arr = {k: d[k].to_numpy() for k in d}
    p = np.array([0.4, 5.0, 1.0, 2.0])
    num = optimize.approx_fprime(p, lambda q: mbgnbd_loglik(q, arr).sum(), 1e-6)
    np.testing.assert_allclose(mbgnbd_loglik_grad(p, arr).sum(0), num, rtol=1e-4)


def test_recovers_parameters_and_predictions():
    truth = (0.5, 6.0, 1.2, 3.0)
    T = np.random.default_rng(2).uniform(20, 52, 30_000)
    sim = simulate_mbgnbd(truth, T, seed=4)
    m = ModifiedBetaGeoModel().fit(sim)
    for k, v in zip(m.param_names, truth):
        assert abs(m.params_[k] - v) < 4 * m.se_[k], (k, m.params_[k])
    x = np.arange(400)
    pmf = m.probability_of_purchases(x, 30.0)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    assert (x * pmf).sum() == pytest.approx(float(m.expected_purchases(30.0)), rel=1e-7)
    big = simulate_mbgnbd(truth, np.full(200_000, 30.0), seed=5)
    assert big["frequency"].mean() == pytest.approx(
        float(m.expected_purchases(30.0, params=truth)), rel=0.02)
    # unlike the BG/NBD, a customer without repeat purchases is not certainly alive
    d = pd.DataFrame({"frequency": [0.0], "recency": [0.0], "T": [30.0]})
    assert 0 < m.p_alive(d)[0] < 1


@pytest.mark.parametrize("p", [(0.8, 3.0, 1.2, 6.0), (0.3, 10.0, 0.5, 0.7), (2.0, 0.5, 3.0, 20.0)])
def test_weighted_totals_equal_the_per_customer_functions(p):
    """The fit's weighted totals (terms summed per distinct x and T, customers without
    repeat purchases per T) equal the weighted sum of the per-customer log-likelihood and
    gradient; a row with x = 0 and t_x > 0 stays per customer."""
    rng = np.random.default_rng(0)
    d = simulate_mbgnbd((0.8, 3.0, 1.2, 6.0), rng.integers(5, 60, 5000).astype(float), seed=3)
    d[["recency", "T"]] = np.round(d[["recency", "T"]] * 7) / 7     # a day grid: ties
    d.loc[0, ["frequency", "recency"]] = [0.0, 2.0]
    w = rng.integers(1, 5, len(d)).astype(float)
    model = ModifiedBetaGeoModel()
    arrays, w = model._prepare(d, w)
    assert 0 < len(arrays["_tables"]["x"]) < len(d)
    total, grad = model._weighted_value_and_grad(np.array(p), arrays, w)
    plain = {k: d[k].to_numpy(float) for k in ["frequency", "recency", "T"]}
    assert total == pytest.approx(w @ mbgnbd_loglik(np.array(p), plain), rel=1e-12)
    np.testing.assert_allclose(grad, w @ mbgnbd_loglik_grad(np.array(p), plain),
                               rtol=1e-9, atol=1e-9)
