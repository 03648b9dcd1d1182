"""Models of the survival study (Kaplan-Meier, RMST, log-rank, Cox, AFT, Brier score,
conditional risk and value): hand-computed answers and seeded simulations with known hazards."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter, WeibullAFTFitter

from clm_lib.exceptions import (
    DataContractError,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
)
from clm_lib.studies.survival_churn import durations as du
from clm_lib.studies.survival_churn import km, models, validation
from clm_lib.studies.survival_churn import risk as rk


def _ids(values):
    return pd.array(values, dtype="string")


def _exp_sample(rng, n, rate, censor_max):
    """Exponential lifetimes with uniform censoring on [0, censor_max]."""
    t = rng.exponential(1 / rate, n)
    c = rng.uniform(0, censor_max, n)
    return np.minimum(t, c), t <= c


# ---------------------------------------------------------------------------------------
# Kaplan-Meier, RMST, log-rank: recovery of known hazards
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_segments():
    rng = np.random.default_rng(7)
    parts = []
    for seg, rate in (("fast", 0.2), ("slow", 0.05)):
        d, e = _exp_sample(rng, 3000, rate, 60)
        parts.append(pd.DataFrame({"duration": d, "event": e, "seg": seg}))
    return pd.concat(parts, ignore_index=True)


def test_km_medians_recovered(two_segments):
    kms = km.kaplan_meier(two_segments, segment="seg")
    assert set(kms) == {"All", "fast", "slow"}
    assert all(isinstance(k, KaplanMeierFitter) for k in kms.values())
    tab = km.km_summary(kms, horizon=12)
    for seg, rate in (("fast", 0.2), ("slow", 0.05)):
        true = np.log(2) / rate
        assert tab.loc[seg, "median"] == pytest.approx(true, rel=0.08)
        assert tab.loc[seg, "median_ci_low"] <= true <= tab.loc[seg, "median_ci_high"] * 1.02
        # RMST of an exponential: (1 - exp(-rate * tau)) / rate
        rm = (1 - np.exp(-rate * 12)) / rate
        assert tab.loc[seg, "rmst"] == pytest.approx(rm, rel=0.03)
        assert tab.loc[seg, "rmst_ci_low"] < rm < tab.loc[seg, "rmst_ci_high"] + 0.05
    assert tab.loc["fast", "customers"] == 3000


def test_km_median_null_when_curve_stays_above_half():
    df = pd.DataFrame({"duration": [1.0, 2, 3, 4, 5], "event": [True, False, False, False, False]})
    tab = km.km_summary(km.kaplan_meier(df), horizon=5)
    assert np.isnan(tab.loc["All", "median"])
    assert tab.loc["All", "follow_up"] == 5.0  # the median is more than that


def test_rmst_by_hand():
    # KM: S = 1 on [0,1), 3/4 on [1,2), 1/2 on [2,4) (censoring at 3), 0 from 4
    kmf = KaplanMeierFitter().fit([1, 2, 3, 4], [1, 1, 0, 1])
    rm, se = km.rmst_km(kmf, 3.5)
    assert rm == pytest.approx(1 + 0.75 + 1.5 * 0.5)
    # A(1) = 0.75 + 0.75, A(2) = 0.75; var = A1^2/(4*3) + A2^2/(3*2)
    assert se == pytest.approx(np.sqrt(1.5 ** 2 / 12 + 0.75 ** 2 / 6))


def test_logrank(two_segments):
    multi, pair = km.logrank_tests(two_segments, "seg")
    assert multi.p_value < 1e-10
    assert pair.summary.shape[0] == 1
    with pytest.raises(InsufficientDataError):
        km.logrank_tests(two_segments[two_segments.seg == "fast"], "seg")


# ---------------------------------------------------------------------------------------
# Cox and AFT
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cox_data():
    """Hazard = 0.05 * exp(ln 2 * [plan == 'basic'] - 0.5 * price): HRs 2 and exp(-0.5)."""
    rng = np.random.default_rng(11)
    n = 6000
    plan = rng.choice(["premium", "basic"], n, p=[0.6, 0.4])
    price = rng.normal(0, 1, n)
    rate = 0.05 * np.exp(np.log(2) * (plan == "basic") - 0.5 * price)
    t = rng.exponential(1 / rate)
    c = rng.uniform(0, 60, n)
    return pd.DataFrame({"customer_id": _ids([f"c{i}" for i in range(n)]),
                         "duration": np.minimum(t, c), "event": t <= c,
                         "plan": plan, "price": price})


def test_cox_hazard_ratios_recovered(cox_data):
    X, base = du.encode_covariates(cox_data, ["plan", "price"], baselines={"plan": "premium"})
    cph = models.fit_cox(X)
    assert isinstance(cph, CoxPHFitter)
    hr = models.hazard_ratio_table(cph)
    assert list(hr.columns) == ["hr", "ci_low", "ci_high", "p"]
    assert hr.loc["plan: basic", "hr"] == pytest.approx(2.0, rel=0.08)
    assert hr.loc["price", "hr"] == pytest.approx(np.exp(-0.5), rel=0.06)
    assert hr.loc["plan: basic", "ci_low"] < 2.0 < hr.loc["plan: basic", "ci_high"]
    ph = models.check_proportional_hazards(cph, X)
    assert not ph["violated"].any()  # data are proportional by construction
    assert set(ph["covariate"]) == {"plan", "price"}


def test_cox_batch_choice_gives_same_fit(cox_data):
    X, _ = du.encode_covariates(cox_data, ["plan", "price"])
    a = models.fit_cox(X, batch_mode=True).params_
    b = models.fit_cox(X, batch_mode=False).params_
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-5)


def test_ph_violation_detected():
    rng = np.random.default_rng(3)
    n = 4000
    g = rng.integers(0, 2, n)
    # group 1: Weibull shape 3 (increasing hazard), group 0: exponential -> crossing hazards
    t = np.where(g == 1, 10 * rng.weibull(3.0, n), rng.exponential(10, n))
    df = pd.DataFrame({"duration": t, "event": np.ones(n, bool),
                       "grp": np.where(g == 1, "late", "early")})
    X, _ = du.encode_covariates(df, ["grp"])
    ph = models.check_proportional_hazards(models.fit_cox(X), X)
    assert ph["violated"].all()
    strat = models.fit_cox(du.encode_covariates(df, ["grp"], strata=["grp"])[0], strata=["grp"])
    assert list(np.atleast_1d(strat.strata)) == ["grp"]


def test_aft_models_and_comparison(cox_data):
    X, _ = du.encode_covariates(cox_data, ["plan", "price"])
    tr, te = du.split_holdout(X, 0.3, seed=42)
    aft = models.fit_aft_models(tr)
    assert set(aft) == {"Weibull AFT", "Log-normal AFT", "Log-logistic AFT"}
    # exponential data: the Weibull shape rho should be ~1 and the Weibull the best AFT by AIC
    assert np.exp(aft["Weibull AFT"].params_.loc[("rho_", "Intercept")]) == pytest.approx(1, abs=0.05)
    tab = validation.compare_models({"Cox": models.fit_cox(tr), **aft}, tr, te)
    assert tab.loc["Cox", "AIC_kind"] == "partial"
    assert tab.drop("Cox")["AIC"].idxmin() == "Weibull AFT"
    assert (tab["concordance_holdout"] > 0.6).all()
    assert (tab["integrated_brier_score"] < 0.25).all()
    cal = validation.calibration_table(aft["Weibull AFT"], te, [3, 6], n_bins=4)
    assert len(cal) == 8 and cal["customers"].sum() == 2 * len(te)
    assert ((cal["observed_ci_low"] <= cal["observed"])
            & (cal["observed"] <= cal["observed_ci_high"])).all()
    assert validation.calibration_summary(cal)["poor"] is False  # a well-specified model
    assert (cal["predicted"] - cal["observed"]).abs().max() < 0.06
    with pytest.raises(DataContractError):
        models.fit_aft_models(X.assign(duration=0.0))


# ---------------------------------------------------------------------------------------
# Brier score (Graf et al. 1999), by hand
# ---------------------------------------------------------------------------------------

def test_brier_score_by_hand():
    T, E = [1.0, 2.0, 3.0], [True, False, True]
    S = pd.DataFrame([[0.4, 0.8, 0.9], [0.2, 0.6, 0.7], [0.1, 0.5, 0.6]],
                     index=[1.5, 2.5, 3.5])
    # censoring KM G: 1 before 2, 0.5 from 2 on (subject 2 censored at 2)
    bs = validation.brier_score(S, T, E)
    # t=1.5: 0.4^2/G(1-) + 0.2^2/G(1.5) + 0.1^2/G(1.5) = 0.16 + 0.04 + 0.01
    assert bs.loc[1.5] == pytest.approx(0.21 / 3)
    # t=2.5: 0.2^2/G(1-) + 0 (censored before t) + 0.3^2/G(2.5)=0.09/0.5
    assert bs.loc[2.5] == pytest.approx((0.04 + 0.18) / 3)
    # t=3.5: 0.1^2/1 + 0 + 0.6^2/G(3-) = 0.36/0.5 (left limit at the event time)
    assert bs.loc[3.5] == pytest.approx((0.01 + 0.72) / 3)
    ibs = validation.integrated_brier_score(S, T, E)
    expected = ((0.07 + 0.22 / 3) / 2 + (0.22 / 3 + 0.73 / 3) / 2) / 2.0
    assert ibs == pytest.approx(expected)


def test_brier_score_perfect_and_censoring_sample():
    T, E = [1.0, 2.0], [True, True]
    S = pd.DataFrame([[0.0, 1.0]], index=[1.5])  # subject 1 dead, subject 2 alive: perfect
    assert validation.brier_score(S, T, E).iloc[0] == 0.0
    # G from another sample: censored at 0.5 out of 2 -> G = 0.5 from 0.5 on
    bs = validation.brier_score(pd.DataFrame([[0.5, 0.5]], index=[1.5]), T, E,
                        censoring_durations=[0.5, 3.0], censoring_events=[False, True])
    assert bs.iloc[0] == pytest.approx((0.25 / 0.5 + 0.25 / 0.5) / 2)
    with pytest.raises(ParameterError):
        validation.brier_score(pd.DataFrame([[0.5]], index=[1.0]), T, E)


def test_censoring_weights_two_conventions_by_hand():
    """Churns at 1, 2, 4; censorings at 2 (tied with a churn) and 3; predict 50 % for all."""
    T, E = [1.0, 2.0, 2.0, 3.0, 4.0], [True, False, True, False, True]
    # Graf / lifelines: 4 at risk of censoring at 2 -> G(2) = 3/4; 2 at risk at 3 -> 3/8
    g = validation.censoring_survival(T, E)
    assert g([0.5, 1, 2, 2.5, 3, 4]).tolist() == [1, 1, 0.75, 0.75, 0.375, 0.375]
    assert g(2.0, left=True) == 1.0
    # scikit-survival: the churn at 2 leaves first -> 3 at risk, G(2) = 2/3; then 1/3
    h = validation.censoring_survival(T, E, ties="sksurv")
    assert h([1, 2, 3, 4]) == pytest.approx([1, 2 / 3, 1 / 3, 1 / 3])
    S = pd.DataFrame([[0.5] * 5], index=[2.5])
    # Graf: churns at 1 and 2 weighted by G(1-) = G(2-) = 1, the two alive by G(2.5) = 3/4
    graf = validation.brier_score(S, T, E)
    assert graf.iloc[0] == pytest.approx((0.25 + 0.25 + 2 * 0.25 / 0.75) / 5)  # 0.2333
    # scikit-survival: the churn at 2 by G(2) = 2/3, the two alive by G(2.5) = 2/3
    sk = validation.brier_score(S, T, E, convention="sksurv")
    assert sk.iloc[0] == pytest.approx((0.25 + 0.25 / (2 / 3) + 2 * 0.25 / (2 / 3)) / 5)  # 0.275
    with pytest.raises(ParameterError):
        validation.brier_score(S, T, E, convention="other")


def test_uno_concordance_by_hand():
    """Churns at 1, 3, 4, censorings at 2 and 5. Risk (higher = sooner) 5, 1, 2, 3, 0.
    Censoring G (churns first at ties): 1 up to 2, then 3/4, 0 at 5. Weights 1/G(T_i)^2:
    1 for the churn at 1, 16/9 for those at 3 and 4.
    Pairs: churn at 1 vs the 4 later, all concordant (weight 1); churn at 3 (risk 2) vs
    risk 3 (discordant) and 0 (concordant); churn at 4 (risk 3) vs 0 (concordant)."""
    from lifelines.utils import concordance_index

    T = [1.0, 2.0, 3.0, 4.0, 5.0]
    E = [True, False, True, True, False]
    risk = [5.0, 1.0, 2.0, 3.0, 0.0]
    uno = validation.uno_concordance(T, risk, E)
    assert uno == pytest.approx((4 + 16 / 9 + 16 / 9) / (4 + 2 * 16 / 9 + 16 / 9))  # 68/84
    # Harrell's counts each pair once: 6 of 7
    assert concordance_index(T, -np.asarray(risk), E) == pytest.approx(6 / 7)
    # ties in risk count one half; tau drops the churns at or after it
    assert validation.uno_concordance([1.0, 2.0], [1.0, 1.0], [True, False]) == 0.5
    assert validation.uno_concordance(T, risk, E, tau=2.0) == 1.0
    # the censoring sample can be another one (here: nobody censored, weights 1 = Harrell)
    assert validation.uno_concordance(T, risk, E, censoring_durations=T,
                                      censoring_events=[True] * 5) == pytest.approx(6 / 7)


# ---------------------------------------------------------------------------------------
# Conditional survival, risk table and value
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def weibull_fit():
    rng = np.random.default_rng(5)
    n = 3000
    t = 20 * rng.weibull(1.5, n)
    c = rng.uniform(0, 40, n)
    df = pd.DataFrame({"duration": np.minimum(t, c), "event": t <= c})
    return WeibullAFTFitter().fit(df, "duration", "event"), df


def test_conditional_survival_closed_form(weibull_fit):
    model, df = weibull_fit
    lam = np.exp(model.params_.loc[("lambda_", "Intercept")])
    rho = np.exp(model.params_.loc[("rho_", "Intercept")])
    assert lam == pytest.approx(20, rel=0.05) and rho == pytest.approx(1.5, rel=0.05)

    def S(t):
        return np.exp(-(np.asarray(t, float) / lam) ** rho)

    active = pd.DataFrame({"customer_id": _ids(["x", "y", "z"]), "duration": [0.0, 5.0, 30.0]},
                          index=[10, 11, 12])
    risk = rk.customer_risk_table(model, active, horizons=[1, 3, 6], margin=10.0,
                                  discount_rate=0.01, max_horizon=24,
                                  tier_thresholds=(0.2, 0.4))
    assert list(risk.index) == [10, 11, 12]
    t0 = active["duration"].to_numpy()
    for h in (1, 3, 6):
        np.testing.assert_allclose(risk[f"p_churn_{h}"], 1 - S(t0 + h) / S(t0), rtol=1e-6)
    k = np.arange(1, 25)
    disc = np.array([(S(t + k) / S(t) / 1.01 ** k).sum() for t in t0])
    np.testing.assert_allclose(risk["value"], 10 * disc, rtol=1e-6)
    u = np.arange(0, 25)
    rem = np.array([np.trapezoid(S(t + u) / S(t), u) for t in t0])
    np.testing.assert_allclose(risk["expected_remaining"], rem, rtol=1e-6)
    # rising hazard (rho > 1): older customers are riskier
    assert risk["p_churn_6"].is_monotonic_increasing
    p6 = risk["p_churn_6"].to_numpy()
    tiers = np.where(p6 >= 0.4, "high", np.where(p6 >= 0.2, "medium", "low"))
    assert risk["risk_tier"].astype(str).tolist() == tiers.tolist()
    assert risk["customer_id"].tolist() == ["x", "y", "z"]


def test_exponential_is_memoryless_and_rmst_closed_form():
    # an AFT fit on exponential data (rho ~ 1): conditional risk does not depend on tenure
    rng = np.random.default_rng(9)
    t = rng.exponential(10, 5000)
    df = pd.DataFrame({"duration": t, "event": np.ones(5000, bool)})
    m = WeibullAFTFitter().fit(df, "duration", "event")
    risk = rk.customer_risk_table(m, pd.DataFrame({"duration": [0.0, 20.0]}), horizons=[3],
                                  max_horizon=12)
    assert risk["p_churn_3"].iloc[0] == pytest.approx(risk["p_churn_3"].iloc[1], rel=0.05)
    assert risk["p_churn_3"].iloc[0] == pytest.approx(1 - np.exp(-0.3), rel=0.05)
    # expected remaining over 12 periods = RMST(12) = (1 - e^{-12/10}) * 10 (trapezoid grid 1)
    assert risk["expected_remaining"].iloc[0] == pytest.approx(10 * (1 - np.exp(-1.2)), rel=0.03)
    kmf = KaplanMeierFitter().fit(df["duration"], df["event"])
    assert km.rmst_km(kmf, 12)[0] == pytest.approx(10 * (1 - np.exp(-1.2)), rel=0.03)
    # a horizon that is not whole: the restricted mean runs to it, value counts whole periods
    r = rk.customer_risk_table(m, pd.DataFrame({"duration": [0.0]}), horizons=[3],
                               max_horizon=12.5, margin=1.0, discount_rate=0.0)
    assert r["expected_remaining"].iloc[0] == pytest.approx(10 * (1 - np.exp(-1.25)), rel=0.03)
    S = np.exp(-np.arange(1, 13) / 10.0)  # periods 1..12 survived, not 12.5
    assert r["value"].iloc[0] == pytest.approx(S.sum(), rel=0.03)
    assert r["expected_remaining"].iloc[0] <= 12.5
    with pytest.raises(ParameterError):
        rk.customer_risk_table(m, pd.DataFrame({"duration": [0.0]}), max_horizon=0)


def test_risk_table_errors_and_segment_value(weibull_fit):
    model, _ = weibull_fit
    active = pd.DataFrame({"duration": [1.0, 2.0, 3.0], "m": [1.0, 2.0, 3.0]})
    with pytest.raises(ParameterError):
        rk.customer_risk_table(model, active, tier_thresholds=(0.5, 0.2))
    with pytest.raises(MissingColumnsError):
        rk.customer_risk_table(model, active, margin="nope")
    risk = rk.customer_risk_table(model, active, margin="m", max_horizon=12)
    val = rk.segment_value(risk, pd.Series(["a", "a", "b"]))
    assert val.loc["a", "customers"] == 2
    assert val.loc["a", "total_value"] == pytest.approx(risk["value"].iloc[:2].sum())
    assert (risk["value"] == risk["discounted_lifetime"] * active["m"]).all()


def test_min_duration_floor_on_churn_time(weibull_fit):
    """Under churn by inactivity the rule cannot fire before last purchase + window."""
    model, _ = weibull_fit
    lam = np.exp(model.params_.loc[("lambda_", "Intercept")])
    rho = np.exp(model.params_.loc[("rho_", "Intercept")])

    def S(t):
        return np.exp(-(np.asarray(t, float) / lam) ** rho)

    # tenure 10; customer y cannot churn before 12.5; customer z has no floor beyond tenure
    active = pd.DataFrame({"duration": [10.0, 10.0], "min_duration": [12.5, 4.0]})
    risk = rk.customer_risk_table(model, active, horizons=[1, 2, 3, 6], margin=1.0,
                                  discount_rate=0.0, max_horizon=24)
    y, z = risk.iloc[0], risk.iloc[1]
    assert y["p_churn_1"] == 0.0 and y["p_churn_2"] == 0.0
    assert y["p_churn_3"] == pytest.approx(1 - S(13) / S(12.5), rel=1e-3)
    assert y["p_churn_6"] == pytest.approx(1 - S(16) / S(12.5), rel=1e-3)
    assert z["p_churn_6"] == pytest.approx(1 - S(16) / S(10), rel=1e-6)
    k = np.arange(1, 25)
    sy = np.where(10 + k <= 12.5, 1.0, S(10 + k) / S(12.5))
    assert y["discounted_lifetime"] == pytest.approx(sy.sum(), rel=1e-3)


def test_ph_strata_and_model_choice():
    ph = pd.DataFrame({"violated": [True, True, False], "covariate": ["plan", "price", "x"]},
                      index=["plan: b", "price", "x"])
    df = pd.DataFrame({"plan": ["a", "b"], "price": [1.0, 2.0], "x": [0.0, 1.0]})
    assert models.ph_strata(ph, df) == ["plan"]
    comparison = pd.DataFrame({"AIC": [10.0, 30.0, 20.0], "AIC_kind": ["partial", "full", "full"]},
                              index=["Cox", "Weibull AFT", "Log-normal AFT"])
    assert models.select_model(comparison) == "Log-normal AFT"  # Cox's AIC is not comparable
    # with holdout columns: the best calibrated of those that rank and score about as well
    holdout = comparison.assign(
        concordance_holdout=[0.80, 0.795, 0.80], integrated_brier_score=[0.1, 0.102, 0.1],
        calibration_error=[0.001, 0.01, 0.03])
    assert models.select_model(holdout) == "Weibull AFT"  # Cox is not a candidate
    # ... but not one that ranks clearly worse
    worse = holdout.assign(concordance_holdout=[0.8, 0.70, 0.80])
    assert models.select_model(worse) == "Log-normal AFT"
    with pytest.raises(InsufficientDataError):
        models.select_model(comparison.loc[["Cox"]])


def test_segment_hazard_ratios_slowest_is_baseline(two_segments):
    hr = models.segment_hazard_ratios(two_segments, "seg")
    assert list(hr.index) == ["fast", "slow"]
    assert hr.loc["slow", "hr"] == 1.0 and np.isnan(hr.loc["slow", "p"])
    assert hr.loc["fast", "hr"] == pytest.approx(4.0, rel=0.1)  # 0.2 / 0.05


def test_adjusted_and_banded_segment_hazard_ratios_recovered():
    """Segment 'b' is confounded with x (x is higher in b); the true adjusted hazard ratio
    of b is 2 up to tenure 10 and 1 after, x has HR exp(0.8). The adjusted ratio removes
    the confounding; the bands recover the time-varying ratio."""
    rng = np.random.default_rng(11)
    n = 6000
    seg = rng.choice(["a", "b"], n)
    x = rng.normal(size=n) + (seg == "b")
    base = 0.05 * np.exp(0.8 * x)
    # piecewise exponential: rate base*2 (b) before 10, base after
    r1 = base * np.where(seg == "b", 2.0, 1.0)
    t = rng.exponential(1 / r1)
    late = t > 10
    t[late] = 10 + rng.exponential(1 / base[late])
    c = rng.uniform(0, 40, n)
    df = pd.DataFrame({"duration": np.minimum(t, c), "event": t <= c, "seg": seg, "x": x})
    un = models.segment_hazard_ratios(df, "seg")
    adj, ph, p = models.adjusted_segment_hazard_ratios(df, "seg", ["x"], reference="a")
    assert list(adj.index) == ["b", "a"] and adj.loc["a", "hr"] == 1.0
    assert un.loc["b", "hr"] > adj.loc["b", "hr"] * 1.5  # confounding inflates the crude HR
    assert p < 0.01  # the segment's effect changes with tenure
    bands = models.banded_segment_hazard_ratios(df, "seg", ["x"], reference="a", cuts=[10])
    assert bands[["band_start", "band_end"]].values.tolist() == [[0, 10], [10, np.inf]]
    early, later = bands["hr"].to_numpy()
    assert early == pytest.approx(2.0, rel=0.12) and later == pytest.approx(1.0, rel=0.12)
    assert (bands["ci_low"] < bands["hr"]).all() and (bands["hr"] < bands["ci_high"]).all()
    # no churn of the reference in a band: no estimate there, the counts say why
    none = df[~((df["seg"] == "a") & df["event"] & (df["duration"] <= 10))]
    b2 = models.banded_segment_hazard_ratios(none, "seg", ["x"], reference="a", cuts=[10])
    assert np.isnan(b2["hr"].iloc[0]) and b2["reference_churned"].iloc[0] == 0
    assert b2["churned"].iloc[0] > 0 and np.isfinite(b2["hr"].iloc[1])
    # default bands: tertiles of the churn times, whole periods
    cuts = models.default_hazard_bands(df)
    q = np.ceil(np.quantile(df.loc[df["event"], "duration"], [1 / 3, 2 / 3]))
    assert cuts == q.tolist()


def test_calibration_summary_by_hand():
    cal = pd.DataFrame({"horizon": [1.0, 1.0, 3.0, 3.0], "bin": [1, 2, 1, 2],
                        "customers": [10, 30, 10, 30],
                        "predicted": [0.01, 0.065, 0.02, 0.25],
                        "observed": [0.0, 0.184, 0.03, 0.20]})
    c = validation.calibration_summary(cal)
    # |gaps| 0.01, 0.119, 0.01, 0.05 weighted by 10, 30, 10, 30 over 80 customers
    assert c["error"] == pytest.approx((0.1 + 3.57 + 0.1 + 1.5) / 80)
    assert c["worst_gap"] == pytest.approx(0.119) and c["worst_bin"] == 2
    assert (c["worst_horizon"], c["worst_predicted"], c["worst_observed"]) == (1.0, 0.065, 0.184)
    assert c["poor"] is True
    assert validation.calibration_summary(cal.assign(observed=cal["predicted"] + 0.04))["poor"] \
        is False
    # a large gap within the sampling noise of the observed churn is not poor calibration
    noisy = cal.assign(observed_ci_low=cal["observed"] - 0.13, observed_ci_high=cal["observed"]
                       + 0.13)
    assert validation.calibration_summary(noisy)["poor"] is False
    tight = noisy.assign(observed_ci_low=cal["observed"] - 0.02,
                         observed_ci_high=cal["observed"] + 0.02)
    assert validation.calibration_summary(tight)["poor"] is True
