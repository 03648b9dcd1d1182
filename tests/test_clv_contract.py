"""One contract suite over every customer-base model: parameters, summary, AIC, finite
predictions, fit() returning self, degenerate fits raising ConvergenceError."""
import numpy as np
import pandas as pd
import pytest

from clm_lib.clv.bgbb import BetaGeoBetaBinomModel, simulate_bgbb
from clm_lib.clv.bgnbd import BetaGeoModel, simulate_bgnbd
from clm_lib.clv.gamma_gamma import GammaGammaModel, simulate_gamma_gamma
from clm_lib.clv.mbgnbd import ModifiedBetaGeoModel, simulate_mbgnbd
from clm_lib.clv.pareto_nbd import ParetoNBDModel, simulate_pareto_nbd
from clm_lib.exceptions import ConvergenceError, MissingColumnsError

T = np.random.default_rng(0).uniform(10, 40, 3000)
CASES = {
    "bgnbd": (BetaGeoModel, lambda: simulate_bgnbd((0.5, 5.0, 1.2, 3.0), T, seed=1)),
    "mbgnbd": (ModifiedBetaGeoModel, lambda: simulate_mbgnbd((0.5, 5.0, 1.2, 3.0), T, seed=1)),
    "pareto_nbd": (ParetoNBDModel, lambda: simulate_pareto_nbd((0.5, 5.0, 0.8, 10.0), T, seed=1)),
    "gamma_gamma": (GammaGammaModel, lambda: simulate_gamma_gamma((5.0, 4.0, 12.0), np.arange(3000) % 7 + 1, seed=1)),
    "bgbb": (BetaGeoBetaBinomModel, lambda: simulate_bgbb((1.2, 0.8, 0.7, 2.8), 3000, 6, seed=1)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_model_contract(name):
    cls, make = CASES[name]
    data = make()
    m = cls()
    assert m.fit(data) is m and m.name == name
    k = len(cls.param_names)
    assert list(m.params_.index) == list(cls.param_names)
    s = m.summary
    assert list(s.columns) == ["estimate", "se", "lower 95%", "upper 95%"] and len(s) == k
    assert m.AIC_ == pytest.approx(2 * k - 2 * m.loglik_)
    assert np.all(np.isfinite(m.se_)) and m.sample_params(5).shape == (5, k)
    met = m.to_metrics()
    assert set(met["params"]) == set(cls.param_names)
    if name == "gamma_gamma":
        assert np.all(np.isfinite(m.conditional_expected_spend(data)))
    else:
        horizon = 5 if name == "bgbb" else 10.0
        assert np.all(np.isfinite(m.conditional_expected_purchases(horizon, data)))
        pa = m.p_alive(data)
        assert np.all((pa >= 0) & (pa <= 1))
        assert np.isfinite(m.expected_purchases(horizon))
        pmf = m.probability_of_purchases(np.arange(3), horizon)
        assert np.all((pmf >= 0) & (pmf <= 1))
    with pytest.raises(MissingColumnsError):
        cls().fit(data.drop(columns=cls.required_columns[0]))


@pytest.mark.parametrize("cls", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel])
def test_no_repeat_purchases_is_degenerate(cls):
    d = pd.DataFrame({"frequency": np.zeros(400), "recency": 0.0, "T": np.linspace(5, 40, 400)})
    with pytest.raises(ConvergenceError):
        cls().fit(d)
