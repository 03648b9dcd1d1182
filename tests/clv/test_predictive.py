"""Predictive draws: their mean is each model's conditional expectation, and their
intervals cover what they claim when the model is true (simulation, fixed seeds)."""
import numpy as np
import pandas as pd
import pytest

from clm_lib.clv.bgnbd import BetaGeoModel, simulate_bgnbd
from clm_lib.clv.gamma_gamma import GammaGammaModel
from clm_lib.clv.mbgnbd import ModifiedBetaGeoModel, simulate_mbgnbd
from clm_lib.clv.pareto_nbd import ParetoNBDModel, simulate_pareto_nbd
from clm_lib.clv.predictive import predictive_draws, simulate_purchases
from clm_lib.clv.base import FutureState
from clm_lib.clv.valuation import customer_value
from clm_lib.exceptions import ParameterError

CASES = {
    "bgnbd": (BetaGeoModel, simulate_bgnbd, (0.4, 4.0, 0.8, 2.4)),
    "mbgnbd": (ModifiedBetaGeoModel, simulate_mbgnbd, (0.5, 5.0, 0.9, 1.6)),
    "pareto_nbd": (ParetoNBDModel, simulate_pareto_nbd, (0.5, 6.0, 0.6, 9.0)),
}


@pytest.fixture(scope="module", params=list(CASES))
def fitted(request):
    cls, simulate, params = CASES[request.param]
    data = simulate(params, np.random.default_rng(0).uniform(20, 40, 3000), seed=1)
    return cls().fit(data), data


def test_mean_of_draws_is_the_conditional_expectation(fitted):
    """400 simulated futures at the fitted parameters: the mean total and the mean per
    calibration-frequency group agree with E[Y(t) | history] within Monte Carlo error
    (a wrong posterior -- e.g. Beta(a, b + x) for the MBG/NBD -- is off by several sd)."""
    model, data = fitted
    draws = 400
    pd_ = predictive_draws(model, data, 26.0, params=np.tile(model.params_.to_numpy(), (draws, 1)),
                           seed=3)
    expected = model.conditional_expected_purchases(26.0, data)
    se = pd_.total_purchases.std(ddof=1) / np.sqrt(draws)
    assert abs(pd_.total_purchases.mean() - expected.sum()) < 4 * se
    assert pd_.bounds["purchases_lower"].dtype.kind in "if"
    assert (pd_.bounds["purchases_lower"] <= pd_.bounds["purchases_upper"]).all()
    assert np.array_equal(pd_.bounds["purchases_upper"], np.round(pd_.bounds["purchases_upper"]))


def test_state_of_customers_who_were_never_seen_to_die():
    """The posterior alive draw follows P(alive): a long-silent frequent buyer is drawn
    alive about as often as the model says, a just-seen one nearly always."""
    m = BetaGeoModel()
    m.params_ = pd.Series([0.5, 5.0, 0.8, 2.4], index=list(m.param_names))
    data = pd.DataFrame({"frequency": [10.0, 10.0], "recency": [5.0, 39.9], "T": [40.0, 40.0]})
    rng = np.random.default_rng(0)
    alive = np.mean([m.sample_future_state(data, rng).alive for _ in range(4000)], axis=0)
    np.testing.assert_allclose(alive, m.p_alive(data), atol=0.025)


@pytest.mark.parametrize("name", ["bgnbd", "pareto_nbd"])
def test_value_draws_average_to_the_clv(name):
    """With spend: the mean simulated discounted margin is the CLV of customer_value, for
    a model that stops at a purchase (BG/NBD) and one that stops at a lifetime."""
    cls, simulate, params = CASES[name]
    sim = simulate(params, np.random.default_rng(0).integers(10, 40, 2000), seed=1)
    rng = np.random.default_rng(2)
    sim["monetary_value"] = np.where(sim["frequency"] > 0, rng.gamma(6.0, 5.0, len(sim)), 0.0)
    bg = cls().fit(sim)
    gg = GammaGammaModel().fit(sim.loc[sim.frequency > 0])
    v = customer_value(bg, gg, sim, horizon=20, discount_rate=0.01, margin=0.3, n_draws=0)
    draws = 400
    pdr = predictive_draws(bg, sim, 20.0, params=np.tile(bg.params_.to_numpy(), (draws, 1)),
                           seed=4, spend_model=gg,
                           spend_params=np.tile(gg.params_.to_numpy(), (draws, 1)),
                           spend_data=sim, discount_rate=0.01, margin=0.3)
    se = pdr.total_value.std(ddof=1) / np.sqrt(draws)
    assert abs(pdr.total_value.mean() - v["clv"].sum()) < 4 * se
    se_p = pdr.total_purchases.std(ddof=1) / np.sqrt(draws)
    assert abs(pdr.total_purchases.mean() - v["expected_purchases"].sum()) < 4 * se_p


def test_simulated_paths_by_hand():
    """Dead customers buy nothing; a customer who drops out after her first purchase buys
    exactly once whenever her first purchase falls in the window; the discount is that of
    the unit of the purchase."""
    n = 20000
    state = FutureState(alive=np.r_[np.zeros(n, bool), np.ones(n, bool)],
                        rate=np.full(2 * n, 1.0), dropout=np.full(2 * n, 1.0),
                        lifetime=np.full(2 * n, np.inf))
    rng = np.random.default_rng(0)
    count, _ = simulate_purchases(state, 2.0, rng)
    assert count[:n].sum() == 0 and count[n:].max() == 1
    assert count[n:].mean() == pytest.approx(1 - np.exp(-2.0), abs=0.01)
    count, value = simulate_purchases(state, 2.0, rng, discount_rate=0.5,
                                      spend_rate=np.full(2 * n, 1e9), spend_shape=1e9)
    # spend is 1 (shape = rate); P(purchase in unit 1) = 1 - e^-1, in unit 2 = e^-1 - e^-2
    want = (1 - np.exp(-1)) / 1.5 + (np.exp(-1) - np.exp(-2)) / 1.5 ** 2
    assert value[n:].mean() == pytest.approx(want, abs=0.01)


def test_parameters_are_checked():
    m = BetaGeoModel()
    m.params_ = pd.Series([0.5, 5.0, 0.8, 2.4], index=list(m.param_names))
    data = pd.DataFrame({"frequency": [1.0], "recency": [1.0], "T": [5.0]})
    with pytest.raises(ParameterError, match="level"):
        predictive_draws(m, data, 1.0, params=m.params_.to_numpy(), level=1.5)
    with pytest.raises(ParameterError, match="spend_params"):
        predictive_draws(m, data, 1.0, params=m.params_.to_numpy(), spend_model=GammaGammaModel())


# ---- coverage by simulation --------------------------------------------------------------
def _simulate_split(params, n, cal_weeks, hold_weeks, rng):
    """BG/NBD customers acquired uniformly over the first 12 weeks, followed purchase by
    purchase to the end of the holdout (independently of the package's own samplers):
    calibration summary and holdout purchases."""
    r, alpha, a, b = params
    start = rng.uniform(0, 12, n)
    T = cal_weeks - start
    end = T + hold_weeks
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    x, tx, y = np.zeros(n), np.zeros(n), np.zeros(n)
    t = np.zeros(n)
    idx = np.arange(n)
    while idx.size:
        t[idx] += rng.exponential(1 / lam[idx])
        idx = idx[t[idx] <= end[idx]]
        cal = t[idx] <= T[idx]
        x[idx[cal]] += 1
        tx[idx[cal]] = t[idx[cal]]
        y[idx[~cal]] += 1
        idx = idx[rng.random(idx.size) >= p[idx]]
    return pd.DataFrame({"frequency": x, "recency": tx, "T": T}), y


def test_predictive_intervals_cover_what_they_claim():
    """BG/NBD is the true model (2,000 customers, 39 + 39 weeks, 200 runs): the nominal
    90 % predictive interval of the holdout total holds the realised total in 85-95 % of
    the runs, and a customer's own interval holds her purchases at least 88 % of the time
    (whole purchases: at least the nominal level, up to the discreteness). The intervals
    of parameter uncertainty alone, the report's intervals before, cover far less."""
    rng = np.random.default_rng(20261203)
    truth = (0.25, 4.4, 0.8, 2.4)
    runs, draws = 200, 200
    hit_pred = hit_param = 0
    customer_cover = []
    for run in range(runs):
        cal, y = _simulate_split(truth, 2000, 39.0, 39.0, rng)
        model = BetaGeoModel().fit(cal)
        params = model.sample_params(draws, seed=run)
        pdr = predictive_draws(model, cal, 39.0, params=params, seed=run)
        lo, hi = pdr.interval()
        hit_pred += lo <= y.sum() <= hi
        totals = [model.conditional_expected_purchases(39.0, cal, params=p).sum() for p in params[:50]]
        plo, phi = np.quantile(totals, [0.05, 0.95])
        hit_param += plo <= y.sum() <= phi
        b = pdr.bounds
        customer_cover.append(np.mean((y >= b["purchases_lower"]) & (y <= b["purchases_upper"])))
    assert 0.85 <= hit_pred / runs <= 0.95
    assert hit_param / runs < 0.8
    assert 0.88 <= np.mean(customer_cover) <= 0.995


def test_blocks_threads_and_expected_totals(fitted, monkeypatch):
    """Many blocks on one thread or three give the same draws, bit for bit; the
    parameter-only totals are the expected totals under each parameter draw."""
    import clm_lib.clv.predictive as predictive
    import clm_lib.clv.valuation as valuation

    model, data = fitted
    params = model.sample_params(5, seed=1)
    monkeypatch.setattr(predictive, "_CELLS", 2000)   # 400 customers per block
    runs = []
    for cores in (1, 3):
        monkeypatch.setattr(valuation, "available_cores", lambda: cores)
        runs.append(predictive_draws(model, data, 10.0, params=params, seed=7))
    one, three = runs
    assert np.array_equal(one.total_purchases, three.total_purchases)
    for k in one.bounds:
        assert np.array_equal(one.bounds[k], three.bounds[k])
    want = [model.conditional_expected_purchases(10.0, data, params=p).sum() for p in params]
    np.testing.assert_allclose(one.total_expected, want, rtol=1e-10)
    lo, hi = one.interval("expected purchases")
    assert min(want) <= lo <= hi <= max(want)
