"""sBG model: the published estimates (Fader & Hardie 2007), simulation recovery, DERL."""
import numpy as np
import pandas as pd
import pytest
from scipy import special

from clm_lib.clv.sbg import ShiftedBetaGeometric, sbg_data_from_counts
from clm_lib.studies.cohort_retention.compute import fit_sbg, retention_tables
from clm_lib.exceptions import DataContractError, MissingColumnsError, ParameterError

HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.fixture(scope="module")
def paper_fit():
    data = sbg_data_from_counts(HIGH_END)
    return ShiftedBetaGeometric().fit(data, weights="weights")


def high_end_subscriptions():
    start = pd.Timestamp("2000-01-01")
    lost = -np.diff(HIGH_END)
    ends = []
    for t, n in enumerate(lost, start=1):
        ends += [start + pd.DateOffset(years=t)] * int(n)
    ends += [pd.NaT] * HIGH_END[-1]
    return pd.DataFrame({"customer_id": [f"c{i:04d}" for i in range(1000)],
                         "start": start, "end": pd.to_datetime(ends)})


def test_data_from_counts():
    d = sbg_data_from_counts(HIGH_END)
    churn = d[d.churned == 1].set_index("t")["weights"]
    assert churn.to_dict() == {1: 131, 2: 126, 3: 90, 4: 60, 5: 42, 6: 34, 7: 26}
    cens = d[d.churned == 0]
    assert cens["t"].tolist() == [7] and cens["weights"].tolist() == [491]


def test_reproduces_paper_direct(paper_fit):
    assert paper_fit.params_["alpha"] == pytest.approx(0.668, abs=1e-3)
    assert paper_fit.params_["beta"] == pytest.approx(3.806, abs=1e-3)
    assert paper_fit.loglik_ == pytest.approx(-1611.16, abs=0.01)
    assert np.all(paper_fit.se_ > 0)


def test_reproduces_paper_through_subscription_table():
    subs = high_end_subscriptions()
    t = retention_tables(subs, "year", as_of="2007-12-31")
    assert t.bounded_counts.loc["2000"].tolist() == [float(x) for x in HIGH_END]
    m = fit_sbg(t)
    assert m.params_["alpha"] == pytest.approx(0.668, abs=1e-3)
    assert m.params_["beta"] == pytest.approx(3.806, abs=1e-3)
    assert m.loglik_ == pytest.approx(-1611.16, abs=0.01)


def test_loglik_by_hand():
    a, b = 0.5, 2.0
    data = {"t": np.array([1.0, 3.0, 3.0]), "churned": np.array([1.0, 1.0, 0.0])}
    ll = ShiftedBetaGeometric._loglik(np.array([a, b]), data)
    p1 = a / (a + b)
    s = lambda t: np.prod([(b + j - 1) / (a + b + j - 1) for j in range(1, t + 1)])
    p3 = s(2) * a / (a + b + 2)
    np.testing.assert_allclose(ll, np.log([p1, p3, s(3)]))


@pytest.mark.parametrize("alpha,beta", [(0.7, 3.0), (2.0, 8.0)])
def test_recovers_simulated_parameters(alpha, beta):
    counts = ShiftedBetaGeometric.simulate(alpha, beta, 20000, 10, seed=42)
    m = ShiftedBetaGeometric().fit(sbg_data_from_counts(counts), weights="weights")
    for name, true in (("alpha", alpha), ("beta", beta)):
        assert abs(m.params_[name] - true) < 3 * m.se_[name], (name, m.params_[name])


def test_survival_retention_and_projection(paper_fit):
    s = paper_fit.survival(np.arange(5))
    assert s[0] == 1.0 and np.all(np.diff(s) < 0)
    r = paper_fit.retention_rate(np.arange(1, 5))
    np.testing.assert_allclose(r, s[1:] / s[:-1])
    pr = paper_fit.projection(12)
    assert list(pr.index) == list(range(13))
    assert np.all(pr["survival_lower"] <= pr["survival"] + 1e-12)
    assert np.all(pr["survival_upper"] >= pr["survival"] - 1e-12)
    # 1 - S(t) = sum of P(T=j)
    np.testing.assert_allclose(1 - paper_fit.survival(6),
                               paper_fit.churn_probability(np.arange(1, 7)).sum())


def test_derl_matches_brute_force(paper_fit):
    a, b = paper_fit.params_
    d = 0.1
    t = np.arange(0, 5000)
    S = np.exp(special.betaln(a, b + t) - special.betaln(a, b))
    assert paper_fit.del_(d) == pytest.approx(np.sum(S / (1 + d) ** t), rel=1e-8)
    n = 4  # three renewals made
    cond = S[n:] / S[n - 1]
    brute = np.sum(cond / (1 + d) ** np.arange(len(cond)))
    assert paper_fit.derl(d, renewals=3) == pytest.approx(brute, rel=1e-8)
    assert paper_fit.derl(d, renewals=3, horizon=4000) == pytest.approx(brute, rel=1e-8)
    # undiscounted, 3 periods, just acquired: S(1) + S(2) + S(3) (conditional on S(0) = 1)
    assert paper_fit.derl(0.0, renewals=0, horizon=3) == pytest.approx(S[1] + S[2] + S[3])
    with pytest.raises(ParameterError):
        paper_fit.derl(0.0)


def test_expected_lifetime():
    m = ShiftedBetaGeometric()
    a, b = 3.0, 5.0
    assert m.expected_lifetime(params=(a, b)) == pytest.approx((a + b - 1) / (a - 1))
    assert m.expected_lifetime(horizon=20000, params=(a, b)) == pytest.approx(
        (a + b - 1) / (a - 1), rel=1e-3)
    assert m.expected_lifetime(params=(0.5, 2.0)) == float("inf")
    assert m.expected_lifetime(horizon=1, params=(0.5, 2.0)) == 1.0


def test_contracts():
    with pytest.raises(DataContractError):
        sbg_data_from_counts([100, 90, 95])
    with pytest.raises(MissingColumnsError):
        ShiftedBetaGeometric().fit(pd.DataFrame({"t": [1]}))
    with pytest.raises(DataContractError):
        ShiftedBetaGeometric().fit(pd.DataFrame({"t": [0, 2], "churned": [1, 0]}))


def test_summary_and_metrics(paper_fit):
    s = paper_fit.summary
    assert list(s.index) == ["alpha", "beta"]
    met = paper_fit.to_metrics()
    assert set(met["params"]) == {"alpha", "beta"} and met["loglik"] < 0


def test_derl_table(paper_fit):
    tab = paper_fit.derl_table(0.1, max_renewals=4)
    assert list(tab.index) == [0, 1, 2, 3, 4]
    assert tab.loc[3, "derl"] == pytest.approx(paper_fit.derl(0.1, renewals=3))
    assert np.all(np.diff(tab["derl"]) > 0)  # survivors are the loyal ones
    np.testing.assert_allclose(tab["next_retention_rate"], paper_fit.retention_rate(np.arange(1, 6)))
