"""The distribution of future purchases (clm_lib.clv.distribution), against simulation.

The Monte Carlo checks simulate each model's generative story event by event (purchase
times, dropout coins, lifetimes) over a calibration age T and a window t that follows,
independently of the posterior argument the module rests on. For customers i with the
simulated histories, E[1{Y_i = k} | history_i] = P(Y_i = k | history_i), so the number of
customers with k purchases in the window has mean sum_i p_ik and variance
sum_i p_ik (1 - p_ik) given the histories: the tolerance is 4 such standard deviations.
Times in weeks; parameters near the CDNOW estimates (Fader, Hardie & Lee 2005, Table 1).
"""
import numpy as np
import pandas as pd
import pytest

from clm_lib.clv import distribution as D
from clm_lib.clv.bgnbd import BetaGeoModel
from clm_lib.clv.mbgnbd import ModifiedBetaGeoModel
from clm_lib.clv.pareto_nbd import ParetoNBDModel
from clm_lib.exceptions import ParameterError

PARAMS = {"bgnbd": (BetaGeoModel, (0.8, 6.0, 0.8, 2.4)),
          "mbgnbd": (ModifiedBetaGeoModel, (0.8, 6.0, 0.9, 1.6)),
          "pareto_nbd": (ParetoNBDModel, (0.8, 6.0, 0.6, 11.7))}
WINDOW = 26.0  # weeks


def simulate_split(kind, params, T, t, seed):
    """Calibration summary at age T and the purchases in (T, T + t], event by event."""
    rng = np.random.default_rng(seed)
    n = len(T)
    r, alpha, c, d = params
    lam = rng.gamma(r, 1.0 / alpha, n)
    if kind == "pareto_nbd":
        death = rng.exponential(1.0, n) / rng.gamma(c, 1.0 / d, n)
        p = np.zeros(n)
    else:
        death = np.full(n, np.inf)
        p = rng.beta(c, d, n)
    x, tx, y = np.zeros(n), np.zeros(n), np.zeros(n)
    now = np.zeros(n)
    alive = np.ones(n, bool) if kind != "mbgnbd" else rng.random(n) >= p
    end = T + t
    while alive.any():
        i = np.flatnonzero(alive)
        now[i] += rng.exponential(1.0, i.size) / lam[i]
        stop = (now[i] > end[i]) | (now[i] > death[i])
        alive[i[stop]] = False
        b = i[~stop]
        cal = now[b] <= T[b]
        x[b[cal]] += 1
        tx[b[cal]] = now[b[cal]]
        y[b[~cal]] += 1
        alive[b[rng.random(b.size) < p[b]]] = False
    return pd.DataFrame({"frequency": x, "recency": tx, "T": T}), y


@pytest.fixture(scope="module", params=list(PARAMS))
def simulated(request):
    cls, params = PARAMS[request.param]
    T = np.random.default_rng(1).uniform(10, 40, 20_000)
    data, y = simulate_split(request.param, params, T, WINDOW, seed=7)
    model = cls()
    model.params_ = pd.Series(params, index=cls.param_names)  # the truth, not a fit
    return request.param, model, data, y


def _within(counts, p, z=4.0):
    mean, sd = p.sum(axis=0), np.sqrt((p * (1 - p)).sum(axis=0))
    assert np.all(np.abs(counts - mean) <= z * sd), (counts, mean, sd)


def test_conditional_pmf_agrees_with_simulation(simulated):
    kind, model, data, y = simulated
    p = D.conditional_pmf(model, data, [0, 1, 2], WINDOW)
    p = np.column_stack([p, 1 - p.sum(axis=1)])            # 0, 1, 2, 3+
    counts = np.array([(y == 0).sum(), (y == 1).sum(), (y == 2).sum(), (y >= 3).sum()])
    _within(counts, p)
    for mask in (data["frequency"] == 0, data["frequency"] >= 3):   # within history groups
        m = mask.to_numpy()
        _within(counts_of(y[m]), p[m])


def counts_of(y):
    return np.array([(y == 0).sum(), (y == 1).sum(), (y == 2).sum(), (y >= 3).sum()])


def test_p_no_purchase_is_one_minus_p_some(simulated):
    kind, model, data, y = simulated
    sub = data.iloc[:300]
    full = D.conditional_pmf(model, sub, np.arange(400), WINDOW)
    p0 = D.p_no_purchase(model, sub, WINDOW)
    np.testing.assert_allclose(full.sum(axis=1), 1.0, atol=1e-8)
    np.testing.assert_allclose(p0, 1.0 - full[:, 1:].sum(axis=1), atol=1e-8)
    # its mean is the model's conditional expectation
    np.testing.assert_allclose(full @ np.arange(400),
                               model.conditional_expected_purchases(WINDOW, sub), rtol=1e-7)
    # and P(no purchase) is at least 1 - P(alive): a dead customer never buys
    assert np.all(p0 >= 1 - model.p_alive(sub) - 1e-12)


def test_new_customer_pmf_agrees_with_simulation(simulated):
    kind, model, data, y = simulated
    T = np.zeros(20_000)
    _, y_new = simulate_split(kind, model.params_.to_numpy(), T, WINDOW, seed=11)
    p = D.new_customer_pmf(model, [0, 1, 2], WINDOW)
    p = np.r_[p, 1 - p.sum()]
    counts = counts_of(y_new)
    sd = np.sqrt(len(T) * p * (1 - p))
    assert np.all(np.abs(counts - len(T) * p) <= 4 * sd), (counts, len(T) * p)
    full = D.new_customer_pmf(model, np.arange(600), WINDOW)
    assert full.sum() == pytest.approx(1.0, abs=1e-8)
    assert full @ np.arange(600) == pytest.approx(float(model.expected_purchases(WINDOW)), rel=1e-7)


def test_log_score_of_own_count_matches_the_table(simulated):
    kind, model, data, y = simulated
    sub, ys = data.iloc[:200], y[:200].astype(int)
    table = D.conditional_pmf(model, sub, np.arange(ys.max() + 1), WINDOW)
    np.testing.assert_allclose(D.conditional_pmf_at(model, sub, ys, WINDOW),
                               table[np.arange(len(ys)), ys], rtol=1e-12)


def test_pareto_quadrature_equals_the_closed_form_and_survives_frequent_buyers():
    m = ParetoNBDModel()
    for p in [(0.55, 10.58, 0.61, 11.67), (3.2, 40.0, 1.5, 60.0), (25.0, 80.0, 0.6, 90.0)]:
        q = D.pareto_nbd_pmf_rows(np.arange(12), 39.0, *[np.array([v]) for v in p])[0]
        np.testing.assert_allclose(q, m.probability_of_purchases(np.arange(12), 39.0, params=p),
                                   rtol=1e-9, atol=1e-14)
    # r = 170.6 (a customer with 170 repeat purchases): the closed form overflows
    big = (170.55, 81.4, 0.61, 82.5)
    q = D.pareto_nbd_pmf_rows(np.arange(1000), 52.0, *[np.array([v]) for v in big])[0]
    assert np.all(np.isfinite(q)) and q.sum() == pytest.approx(1.0, abs=1e-8)
    mean = ParetoNBDModel().expected_purchases(52.0, params=big)
    assert q @ np.arange(1000) == pytest.approx(float(mean), rel=1e-7)


def test_new_customer_expected_discounts_each_unit():
    m = BetaGeoModel()
    m.params_ = pd.Series((0.24, 4.41, 0.79, 2.43), index=m.param_names)
    e = D.new_customer_expected(m, 52, 0.0)
    assert e["purchases"] == pytest.approx(float(m.expected_purchases(52.0)))
    assert e["discounted_purchases"] == pytest.approx(e["purchases"])
    d = 0.01
    steps = np.arange(53.0)
    by_unit = np.diff(m.expected_purchases(steps))
    assert D.new_customer_expected(m, 52, d)["discounted_purchases"] == pytest.approx(
        float(np.sum(by_unit / (1 + d) ** steps[1:])))
    assert D.new_customer_expected(m, 52, d)["discounted_purchases"] < e["purchases"]


def test_bad_arguments_name_the_parameter():
    m = BetaGeoModel()
    m.params_ = pd.Series((0.24, 4.41, 0.79, 2.43), index=m.param_names)
    data = pd.DataFrame({"frequency": [1.0], "recency": [2.0], "T": [5.0]})
    with pytest.raises(ParameterError, match="k:"):
        D.conditional_pmf(m, data, [-1], 4.0)
    with pytest.raises(ParameterError, match="t:"):
        D.conditional_pmf(m, data, [0], 0.0)
    with pytest.raises(ParameterError, match="counts:"):
        D.conditional_pmf_at(m, data, [0, 1], 4.0)
    with pytest.raises(ParameterError, match="no purchase distribution"):
        D.new_customer_pmf(object(), [0], 4.0)


def note_028_pmf(n, t, x, tx, T, params):
    """Fader & Hardie, note 028 ("The Pareto/NBD conditional PMF"), eq. 16, evaluated
    term by term as written (the form lifetimes implements), for moderate x."""
    from scipy import special
    from clm_lib.clv.pareto_nbd import pareto_nbd_loglik
    r, alpha, s, beta = params
    gl = special.gammaln
    big = max(alpha, beta)
    p = s + 1 if alpha >= beta else r + x + n
    diff = abs(alpha - beta)
    log_L = float(pareto_nbd_loglik(params, {"frequency": np.array([x]), "recency": np.array([tx]),
                                             "T": np.array([T])})[0])
    head = r * np.log(alpha) + s * np.log(beta) - gl(r)
    p_alive = np.exp(head + gl(r + x) - (r + x) * np.log(alpha + T) - s * np.log(beta + T) - log_L)
    one = np.exp(head + gl(r + x + n) + n * np.log(t) - gl(n + 1) - (r + x + n) * np.log(alpha + T + t)
                 - s * np.log(beta + T + t) - log_L)
    c = head - gl(s) + special.betaln(r + x + n, s + 1) - log_L
    two = np.exp(c + gl(r + s + x) - (r + s + x) * np.log(big + T)) * special.hyp2f1(
        r + s + x, p, r + s + x + n + 1, diff / (big + T))
    three = sum(np.exp(c + gl(r + s + x + i) + i * np.log(t) - gl(i + 1) - (r + s + x + i) * np.log(big + T + t))
                * special.hyp2f1(r + s + x + i, p, r + s + x + n + 1, diff / (big + T + t)) for i in range(n + 1))
    return (n == 0) * (1 - p_alive) + one + two - three


@pytest.mark.parametrize("params", [(0.55, 10.58, 0.61, 11.67), (0.55, 14.0, 0.61, 9.0)])
def test_pareto_conditional_pmf_equals_note_028(params):
    """Both branches of the hypergeometric term (alpha < beta and alpha >= beta); CDNOW
    estimates of Fader, Hardie & Lee (2005) and a variant with alpha > beta; weeks."""
    m = ParetoNBDModel()
    m.params_ = pd.Series(params, index=m.param_names)
    data = pd.DataFrame({"frequency": [0.0, 1.0, 3.0, 7.0, 2.0], "recency": [0.0, 5.0, 30.0, 36.0, 10.0],
                         "T": [39.0, 39.0, 38.0, 39.0, 31.0]})
    ours = D.conditional_pmf(m, data, np.arange(6), 39.0)
    ref = np.array([[note_028_pmf(n, 39.0, *row, params) for n in range(6)]
                    for row in data[["frequency", "recency", "T"]].to_numpy()])
    np.testing.assert_allclose(ours, ref, rtol=1e-7, atol=1e-12)
