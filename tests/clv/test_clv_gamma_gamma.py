"""Gamma-Gamma spend model.

Published figures: Fader & Hardie (2013), note 025 "The Gamma-Gamma Model of Monetary
Value", on the 946 CDNOW-sample customers with repeat purchases in the 39-week
calibration period (mean spend of their repeat purchases): p = 6.25, q = 3.74,
gamma = 15.44, and a correlation of 0.11 between frequency and average spend.
"""
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from clm_lib.clv.gamma_gamma import (GammaGammaModel, frequency_spend_correlation,
                                     gamma_gamma_loglik, gamma_gamma_loglik_grad,
                                     simulate_gamma_gamma)
from clm_lib.exceptions import DataContractError
from clm_lib.reduce import get_engine


@pytest.fixture(scope="module")
def repeaters(cdnow_sample_summary):
    s = cdnow_sample_summary
    r = s.loc[s["spend_frequency"] > 0]
    return pd.DataFrame({"frequency": r["spend_frequency"], "monetary_value": r["monetary_value"]})


def test_reproduces_note_025(repeaters):
    assert len(repeaters) == 946
    m = GammaGammaModel().fit(repeaters)
    for k, v in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert m.params_[k] == pytest.approx(v, rel=1e-3, abs=5e-3), k
    assert frequency_spend_correlation(repeaters) == pytest.approx(0.11, abs=0.005)
    # conditional expectation is a weighted mean of population and own mean
    e = m.conditional_expected_spend(repeaters)
    lo = np.minimum(repeaters["monetary_value"], m.population_mean_spend())
    hi = np.maximum(repeaters["monetary_value"], m.population_mean_spend())
    assert np.all((e >= lo - 1e-9) & (e <= hi + 1e-9))


def test_density_integrates_to_one():
    p = np.array([3.0, 4.0, 20.0])
    for x in (1, 4):
        val, _ = integrate.quad(
            lambda z: np.exp(gamma_gamma_loglik(p, {"frequency": np.array([x]),
                                                    "monetary_value": np.array([z])}))[0],
            0, np.inf)
        assert val == pytest.approx(1.0, abs=1e-7)


def test_recovers_parameters_from_simulation():
    truth = (6.0, 3.5, 15.0)
    rng = np.random.default_rng(3)
    sim = simulate_gamma_gamma(truth, rng.integers(1, 10, 20_000), seed=9)
    m = GammaGammaModel().fit(sim)
    for k, v in zip(m.param_names, truth):
        assert abs(m.params_[k] - v) < 4 * m.se_[k], k
    # the population mean spend p gamma / (q - 1) is recovered tightly
    assert m.population_mean_spend() == pytest.approx(6.0 * 15.0 / 2.5, rel=0.03)


def test_rejects_non_positive_spend():
    with pytest.raises(DataContractError, match="monetary_value"):
        GammaGammaModel().fit(pd.DataFrame({"frequency": [1, 2, 0], "monetary_value": [3.0, 0.0, 1.0]}))


@pytest.mark.parametrize("p", [(6.25, 3.74, 15.44), (1.0, 0.5, 2.0)])
def test_weighted_totals_equal_the_per_customer_functions(repeaters, p):
    """The fit's weighted totals (terms in x summed per distinct x) equal the weighted sum
    of the per-customer log density and its gradient."""
    p = np.array(p)
    w = np.random.default_rng(3).integers(1, 5, len(repeaters)).astype(float)
    model = GammaGammaModel()
    arrays, _ = model._prepare(repeaters, w)
    total, grad = model._weighted_value_and_grad(p, arrays, w)
    assert total == pytest.approx(w @ gamma_gamma_loglik(p, arrays), rel=1e-12)
    np.testing.assert_allclose(grad, w @ gamma_gamma_loglik_grad(p, arrays), rtol=1e-9, atol=1e-9)


def test_fit_reaches_the_optimum_whatever_the_row_order():
    """Gamma-Gamma is ill-conditioned (q and v move together): on the CDNOW master's
    repeat spenders a small gradient alone left the estimates up to 5e-7 apart for the
    same customers in another order (as DuckDB or Spark return them); the Newton polish
    must reach the same optimum."""
    from clm_lib.config import CDNOW_MASTER

    eng = get_engine("duckdb")
    tx, _ = eng.load_transactions(CDNOW_MASTER, {"date": "timestamp", "dollars": "amount"},
                                  as_of="1998-06-30")
    s = eng.summary_data(tx, as_of="1998-06-30", time_unit="week")
    s = s.loc[s["spend_frequency"] > 0]
    spend = pd.DataFrame({"frequency": s["spend_frequency"], "monetary_value": s["monetary_value"]})
    fits = [GammaGammaModel().fit(spend.sample(frac=1.0, random_state=seed)) for seed in range(4)]
    for m in fits[1:]:
        np.testing.assert_allclose(m.params_.to_numpy(), fits[0].params_.to_numpy(), rtol=1e-10)
