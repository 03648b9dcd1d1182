"""BG/BB on the donations data.

Published figures: Fader, Hardie & Shang (2010), "Customer-Base Analysis in a Discrete-Time
Noncontractual Setting", Marketing Science 29(6), section 4: on the 11,104 donors of the 1995
cohort with 6 annual opportunities (data/donations.csv, the (x, t_x) patterns with counts),
alpha = 1.204, beta = 0.750, gamma = 0.657, delta = 2.783, LL = -33,225.6.
"""
import numpy as np
import pandas as pd
import pytest

from clm_lib.clv.bgbb import BetaGeoBetaBinomModel, simulate_bgbb
from clm_lib.config import DONATIONS
from clm_lib.exceptions import DataContractError


def test_reproduces_fader_hardie_shang_2010():
    d = pd.read_csv(DONATIONS)
    assert d["weights"].sum() == 11_104
    m = BetaGeoBetaBinomModel().fit(d, weights="weights")
    for k, v in {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}.items():
        assert m.params_[k] == pytest.approx(v, rel=1e-3, abs=5e-4), k
    assert m.loglik_ == pytest.approx(-33225.6, abs=0.05)
    # P(X(6) = x) sums to one; its mean is E[X(6)]
    pmf = m.probability_of_purchases(np.arange(7), 6)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    assert (np.arange(7) * pmf).sum() == pytest.approx(m.expected_purchases(6), rel=1e-10)
    # and matches the observed frequency distribution closely (FHS Figure 3)
    obs = d.groupby("frequency")["weights"].sum().reindex(range(7)).to_numpy() / 11_104
    assert np.max(np.abs(pmf - obs)) < 0.01


@pytest.mark.parametrize("truth", [(1.2, 0.75, 0.66, 2.8), (2.0, 3.0, 1.5, 6.0)])
def test_recovers_parameters_and_conditional_expectations(truth):
    full = simulate_bgbb(truth, 60_000, 11, seed=7)
    rng = np.random.default_rng(7)
    # re-simulate the same customers path-wise to split into 6 calibration + 5 holdout
    p = rng.beta(truth[0], truth[1], 60_000)
    th = rng.beta(truth[2], truth[3], 60_000)
    alive = np.ones(60_000, bool)
    x = np.zeros(60_000)
    tx = np.zeros(60_000)
    hold = np.zeros(60_000)
    for t in range(1, 12):
        alive &= rng.random(60_000) >= th
        buy = alive & (rng.random(60_000) < p)
        if t <= 6:
            x[buy] += 1
            tx[buy] = t
        else:
            hold[buy] += 1
    cal = pd.DataFrame({"frequency": x, "recency": tx, "periods": 6.0})
    m = BetaGeoBetaBinomModel().fit(cal.groupby(["frequency", "recency", "periods"]).size()
                                    .rename("weights").reset_index(), weights="weights")
    for k, v in zip(m.param_names, truth):
        assert abs(m.params_[k] - v) < 4 * m.se_[k], (k, m.params_[k])
    pred = m.conditional_expected_purchases(5, cal, params=truth)
    for lo, hi in [(0, 0), (1, 3), (4, 6)]:
        g = (x >= lo) & (x <= hi)
        assert pred[g].mean() == pytest.approx(hold[g].mean(), rel=0.05)
    assert full["frequency"].mean() == pytest.approx(m.expected_purchases(11, params=truth), rel=0.02)


def test_rejects_impossible_histories():
    with pytest.raises(DataContractError):
        BetaGeoBetaBinomModel().fit(pd.DataFrame({"frequency": [3, 1], "recency": [2, 1], "periods": [6, 6]}))
