"""Tests of clm_lib.studies.survival_churn.compute: hand-computed answers and seeded simulations with known hazards."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter, WeibullAFTFitter

from clm_lib.studies.survival_churn import compute as sv
from clm_lib.exceptions import (
    DataContractError,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
)


def _ids(values):
    return pd.array(values, dtype="string")


def _exp_sample(rng, n, rate, censor_max):
    """Exponential lifetimes with uniform censoring on [0, censor_max]."""
    t = rng.exponential(1 / rate, n)
    c = rng.uniform(0, censor_max, n)
    return np.minimum(t, c), t <= c


# ---------------------------------------------------------------------------------------
# Churn by inactivity
# ---------------------------------------------------------------------------------------

@pytest.fixture
def tiny_log():
    rows = [
        ("a", "2020-01-01", 5.0), ("a", "2020-01-11", 7.0),   # churned: 01-11 + 30 d <= as_of
        ("b", "2020-01-01", 1.0), ("b", "2020-02-15", 1.0),   # censored: window runs to 03-16
        ("c", "2020-01-31", 3.0),                              # churned exactly at as_of
        ("d", "2020-03-05", 2.0),                              # only purchase after as_of
        ("e", "2020-02-20", 4.0), ("e", "2020-03-10", 4.0),   # censored, 2nd purchase ignored
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    df["customer_id"] = df["customer_id"].astype("string")
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    return df


def test_inactivity_rule_by_hand(tiny_log):
    d, dq = sv.inactivity_durations(tiny_log, as_of="2020-03-01", inactivity_days=30,
                                    time_unit="day")
    d = d.set_index("customer_id")
    assert list(d.index) == ["a", "b", "c", "e"]
    # a: 2020-01-01 -> churn fires 2020-02-10: 40 days, observed
    assert d.loc["a", "duration"] == pytest.approx(40.0)
    assert bool(d.loc["a", "event"]) is True
    assert d.loc["a", "churn_date"] == pd.Timestamp("2020-02-10")
    # b: window not elapsed -> censored at as_of - first = 60 days (leap-year February)
    assert d.loc["b", "duration"] == pytest.approx(60.0)
    assert bool(d.loc["b", "event"]) is False
    assert pd.isna(d.loc["b", "churn_date"])
    # c: one purchase, window ends exactly on as_of -> churned, 30 days
    assert d.loc["c", "duration"] == pytest.approx(30.0)
    assert bool(d.loc["c", "event"]) is True
    # e: purchase after as_of ignored; censored 10 days after first purchase
    assert d.loc["e", "duration"] == pytest.approx(10.0)
    assert bool(d.loc["e", "event"]) is False
    assert d.loc["e", "n_purchases"] == 1
    assert d.loc["a", "first_amount"] == 5.0 and d.loc["a", "total_amount"] == 12.0
    assert d.loc["a", "spend_per_period"] == pytest.approx(12.0 / 40.0)
    assert dq.rows_in == 8 and dq.rows_used == 6
    assert dq.dropped == {"purchase after as_of": 2}
    assert d["event"].dtype == bool


def test_inactivity_time_unit_months(tiny_log):
    d, _ = sv.inactivity_durations(tiny_log, as_of="2020-03-01", inactivity_days=30,
                                   time_unit="month")
    a = d.set_index("customer_id").loc["a", "duration"]
    assert a == pytest.approx(40.0 / (365.25 / 12))


def test_inactivity_errors(tiny_log):
    with pytest.raises(MissingColumnsError, match="amount"):
        sv.inactivity_durations(tiny_log.drop(columns="amount"), as_of="2020-03-01",
                                inactivity_days=30)
    with pytest.raises(ParameterError):
        sv.inactivity_durations(tiny_log, as_of=None, inactivity_days=30)
    with pytest.raises(ParameterError):
        sv.inactivity_durations(tiny_log, as_of="2020-03-01", inactivity_days=0)
    with pytest.raises(ParameterError, match="time_unit"):
        sv.inactivity_durations(tiny_log, as_of="2020-03-01", inactivity_days=30,
                                time_unit="fortnight")
    with pytest.raises(InsufficientDataError):
        sv.inactivity_durations(tiny_log, as_of="2019-01-01", inactivity_days=30)


# ---------------------------------------------------------------------------------------
# Preparing frames
# ---------------------------------------------------------------------------------------

def test_prepare_durations_counts_and_shifts():
    df = pd.DataFrame({"duration": [0.0, 0.0, 3.0, 5.0, np.nan],
                       "event": [False, True, True, False, True],
                       "plan": ["a", "b", None, "a", "b"]})
    out, dq = sv.prepare_durations(df, covariates=["plan"])
    assert dq.rows_in == 5 and dq.rows_used == 3
    assert dq.dropped == {"missing duration": 1, "missing plan": 1}
    assert dq.warnings == {"duration 0 set to 0.5 period": 2}
    assert out["duration"].tolist() == [0.5, 0.5, 5.0]
    with pytest.raises(DataContractError, match="negative"):
        sv.prepare_durations(pd.DataFrame({"duration": [-1.0], "event": [True]}))
    with pytest.raises(MissingColumnsError, match="plan"):
        sv.prepare_durations(pd.DataFrame({"duration": [1.0], "event": [True]}),
                             covariates=["plan"])


def test_encode_covariates_baseline():
    df = pd.DataFrame({"duration": [1.0, 2, 3, 4], "event": [True, False, True, True],
                       "plan": ["x", "y", "y", "z"], "flag": [True, False, True, False],
                       "price": [1, 2, 3, 4]})
    X, base = sv.encode_covariates(df, ["plan", "flag", "price"])
    assert base == {"plan": "y"}  # most frequent level
    assert list(X.columns) == ["duration", "event", "plan: x", "plan: z", "flag", "price"]
    assert X["plan: x"].tolist() == [1.0, 0, 0, 0]
    X2, base2 = sv.encode_covariates(df, ["plan"], baselines={"plan": "x"})
    assert base2 == {"plan": "x"} and "plan: y" in X2 and "plan: x" not in X2
    with pytest.raises(ParameterError):
        sv.encode_covariates(df, ["plan"], baselines={"plan": "nope"})
    X3, _ = sv.encode_covariates(df, ["plan", "price"], strata=["plan"])
    assert "plan" in X3 and "plan: x" not in X3


def test_split_holdout_seeded_and_stratified():
    df = pd.DataFrame({"event": [True] * 40 + [False] * 60, "x": range(100)})
    tr, te = sv.split_holdout(df, 0.3, seed=1)
    tr2, te2 = sv.split_holdout(df, 0.3, seed=1)
    assert te.index.equals(te2.index)
    assert len(te) == 30 and te["event"].sum() == 12
    assert set(tr.index).isdisjoint(te.index) and len(tr) + len(te) == 100
    with pytest.raises(ParameterError):
        sv.split_holdout(df, 1.0)


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
    kms = sv.kaplan_meier(two_segments, segment="seg")
    assert set(kms) == {"All", "fast", "slow"}
    assert all(isinstance(k, KaplanMeierFitter) for k in kms.values())
    tab = sv.km_summary(kms, horizon=12)
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
    tab = sv.km_summary(sv.kaplan_meier(df), horizon=5)
    assert np.isnan(tab.loc["All", "median"])


def test_rmst_by_hand():
    # KM: S = 1 on [0,1), 3/4 on [1,2), 1/2 on [2,4) (censoring at 3), 0 from 4
    kmf = KaplanMeierFitter().fit([1, 2, 3, 4], [1, 1, 0, 1])
    rm, se = sv.rmst_km(kmf, 3.5)
    assert rm == pytest.approx(1 + 0.75 + 1.5 * 0.5)
    # A(1) = 0.75 + 0.75, A(2) = 0.75; var = A1^2/(4*3) + A2^2/(3*2)
    assert se == pytest.approx(np.sqrt(1.5 ** 2 / 12 + 0.75 ** 2 / 6))


def test_logrank(two_segments):
    multi, pair = sv.logrank_tests(two_segments, "seg")
    assert multi.p_value < 1e-10
    assert pair.summary.shape[0] == 1
    with pytest.raises(InsufficientDataError):
        sv.logrank_tests(two_segments[two_segments.seg == "fast"], "seg")


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
    X, base = sv.encode_covariates(cox_data, ["plan", "price"], baselines={"plan": "premium"})
    cph = sv.fit_cox(X)
    assert isinstance(cph, CoxPHFitter)
    hr = sv.hazard_ratio_table(cph)
    assert list(hr.columns) == ["hr", "ci_low", "ci_high", "p"]
    assert hr.loc["plan: basic", "hr"] == pytest.approx(2.0, rel=0.08)
    assert hr.loc["price", "hr"] == pytest.approx(np.exp(-0.5), rel=0.06)
    assert hr.loc["plan: basic", "ci_low"] < 2.0 < hr.loc["plan: basic", "ci_high"]
    ph = sv.check_proportional_hazards(cph, X)
    assert not ph["violated"].any()  # data are proportional by construction
    assert set(ph["covariate"]) == {"plan", "price"}


def test_cox_batch_choice_gives_same_fit(cox_data):
    X, _ = sv.encode_covariates(cox_data, ["plan", "price"])
    a = sv.fit_cox(X, batch_mode=True).params_
    b = sv.fit_cox(X, batch_mode=False).params_
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-5)


def test_ph_violation_detected():
    rng = np.random.default_rng(3)
    n = 4000
    g = rng.integers(0, 2, n)
    # group 1: Weibull shape 3 (increasing hazard), group 0: exponential -> crossing hazards
    t = np.where(g == 1, 10 * rng.weibull(3.0, n), rng.exponential(10, n))
    df = pd.DataFrame({"duration": t, "event": np.ones(n, bool),
                       "grp": np.where(g == 1, "late", "early")})
    X, _ = sv.encode_covariates(df, ["grp"])
    ph = sv.check_proportional_hazards(sv.fit_cox(X), X)
    assert ph["violated"].all()
    strat = sv.fit_cox(sv.encode_covariates(df, ["grp"], strata=["grp"])[0], strata=["grp"])
    assert list(np.atleast_1d(strat.strata)) == ["grp"]


def test_aft_models_and_comparison(cox_data):
    X, _ = sv.encode_covariates(cox_data, ["plan", "price"])
    tr, te = sv.split_holdout(X, 0.3, seed=42)
    aft = sv.fit_aft_models(tr)
    assert set(aft) == {"Weibull AFT", "Log-normal AFT", "Log-logistic AFT"}
    # exponential data: the Weibull shape rho should be ~1 and the Weibull the best AFT by AIC
    assert np.exp(aft["Weibull AFT"].params_.loc[("rho_", "Intercept")]) == pytest.approx(1, abs=0.05)
    tab = sv.compare_models({"Cox": sv.fit_cox(tr), **aft}, tr, te)
    assert tab.loc["Cox", "AIC_kind"] == "partial"
    assert tab.drop("Cox")["AIC"].idxmin() == "Weibull AFT"
    assert (tab["concordance_holdout"] > 0.6).all()
    assert (tab["integrated_brier_score"] < 0.25).all()
    cal = sv.calibration_table(aft["Weibull AFT"], te, [3, 6], n_bins=4)
    assert len(cal) == 8 and cal["customers"].sum() == 2 * len(te)
    assert (cal["predicted"] - cal["observed"]).abs().max() < 0.06
    with pytest.raises(DataContractError):
        sv.fit_aft_models(X.assign(duration=0.0))


# ---------------------------------------------------------------------------------------
# Brier score (Graf et al. 1999), by hand
# ---------------------------------------------------------------------------------------

def test_brier_score_by_hand():
    T, E = [1.0, 2.0, 3.0], [True, False, True]
    S = pd.DataFrame([[0.4, 0.8, 0.9], [0.2, 0.6, 0.7], [0.1, 0.5, 0.6]],
                     index=[1.5, 2.5, 3.5])
    # censoring KM G: 1 before 2, 0.5 from 2 on (subject 2 censored at 2)
    bs = sv.brier_score(S, T, E)
    # t=1.5: 0.4^2/G(1-) + 0.2^2/G(1.5) + 0.1^2/G(1.5) = 0.16 + 0.04 + 0.01
    assert bs.loc[1.5] == pytest.approx(0.21 / 3)
    # t=2.5: 0.2^2/G(1-) + 0 (censored before t) + 0.3^2/G(2.5)=0.09/0.5
    assert bs.loc[2.5] == pytest.approx((0.04 + 0.18) / 3)
    # t=3.5: 0.1^2/1 + 0 + 0.6^2/G(3-) = 0.36/0.5 (left limit at the event time)
    assert bs.loc[3.5] == pytest.approx((0.01 + 0.72) / 3)
    ibs = sv.integrated_brier_score(S, T, E)
    expected = ((0.07 + 0.22 / 3) / 2 + (0.22 / 3 + 0.73 / 3) / 2) / 2.0
    assert ibs == pytest.approx(expected)


def test_brier_score_perfect_and_censoring_sample():
    T, E = [1.0, 2.0], [True, True]
    S = pd.DataFrame([[0.0, 1.0]], index=[1.5])  # subject 1 dead, subject 2 alive: perfect
    assert sv.brier_score(S, T, E).iloc[0] == 0.0
    # G from another sample: censored at 0.5 out of 2 -> G = 0.5 from 0.5 on
    bs = sv.brier_score(pd.DataFrame([[0.5, 0.5]], index=[1.5]), T, E,
                        censoring_durations=[0.5, 3.0], censoring_events=[False, True])
    assert bs.iloc[0] == pytest.approx((0.25 / 0.5 + 0.25 / 0.5) / 2)
    with pytest.raises(ParameterError):
        sv.brier_score(pd.DataFrame([[0.5]], index=[1.0]), T, E)


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
    risk = sv.customer_risk_table(model, active, horizons=[1, 3, 6], margin=10.0,
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
    risk = sv.customer_risk_table(m, pd.DataFrame({"duration": [0.0, 20.0]}), horizons=[3],
                                  max_horizon=12)
    assert risk["p_churn_3"].iloc[0] == pytest.approx(risk["p_churn_3"].iloc[1], rel=0.05)
    assert risk["p_churn_3"].iloc[0] == pytest.approx(1 - np.exp(-0.3), rel=0.05)
    # expected remaining over 12 periods = RMST(12) = (1 - e^{-12/10}) * 10 (trapezoid grid 1)
    assert risk["expected_remaining"].iloc[0] == pytest.approx(10 * (1 - np.exp(-1.2)), rel=0.03)
    kmf = KaplanMeierFitter().fit(df["duration"], df["event"])
    assert sv.rmst_km(kmf, 12)[0] == pytest.approx(10 * (1 - np.exp(-1.2)), rel=0.03)


def test_risk_table_errors_and_segment_value(weibull_fit):
    model, _ = weibull_fit
    active = pd.DataFrame({"duration": [1.0, 2.0, 3.0], "m": [1.0, 2.0, 3.0]})
    with pytest.raises(ParameterError):
        sv.customer_risk_table(model, active, tier_thresholds=(0.5, 0.2))
    with pytest.raises(MissingColumnsError):
        sv.customer_risk_table(model, active, margin="nope")
    risk = sv.customer_risk_table(model, active, margin="m", max_horizon=12)
    val = sv.segment_value(risk, pd.Series(["a", "a", "b"]))
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
    risk = sv.customer_risk_table(model, active, horizons=[1, 2, 3, 6], margin=1.0,
                                  discount_rate=0.0, max_horizon=24)
    y, z = risk.iloc[0], risk.iloc[1]
    assert y["p_churn_1"] == 0.0 and y["p_churn_2"] == 0.0
    assert y["p_churn_3"] == pytest.approx(1 - S(13) / S(12.5), rel=1e-3)
    assert y["p_churn_6"] == pytest.approx(1 - S(16) / S(12.5), rel=1e-3)
    assert z["p_churn_6"] == pytest.approx(1 - S(16) / S(10), rel=1e-6)
    k = np.arange(1, 25)
    sy = np.where(10 + k <= 12.5, 1.0, S(10 + k) / S(12.5))
    assert y["discounted_lifetime"] == pytest.approx(sy.sum(), rel=1e-3)


def test_inactivity_min_duration(tiny_log):
    d, _ = sv.inactivity_durations(tiny_log, as_of="2020-03-01", inactivity_days=30,
                                   time_unit="day")
    d = d.set_index("customer_id")
    # b: last purchase 02-15 + 30 days = 03-16, 75 days after the first purchase
    assert d.loc["b", "min_duration"] == pytest.approx(75.0)
    assert d.loc["a", "min_duration"] == pytest.approx(d.loc["a", "duration"])


# ---------------------------------------------------------------------------------------
# The study notebook, end to end (Telco subscriptions and CDNOW transactions)
# ---------------------------------------------------------------------------------------

def _run_notebook(tmp_path, **parameters):
    import json

    papermill = pytest.importorskip("papermill")
    from clm_lib.config import NOTEBOOKS_DIR

    out_dir = tmp_path / "report"
    papermill.execute_notebook(
        str(NOTEBOOKS_DIR / "20_survival_churn.ipynb"), str(tmp_path / "out.ipynb"),
        parameters={**parameters, "output_dir": str(out_dir)}, cwd=str(NOTEBOOKS_DIR),
        kernel_name="python3", progress_bar=False)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    export = pd.read_csv(out_dir / "exports" / "customer_risk.csv", dtype={"customer_id": str})
    return metrics, export


_REQUIRED_KEYS = {"km_median_by_segment", "rmst_by_segment", "logrank_p", "cox",
                  "concordance_holdout", "integrated_brier_score", "risk_tiers", "headline",
                  "data_quality"}


@pytest.mark.slow
def test_notebook_telco(tmp_path):
    metrics, export = _run_notebook(tmp_path)
    assert _REQUIRED_KEYS <= set(metrics)
    assert set(metrics["km_median_by_segment"]) == {"Month-to-month", "One year", "Two year"}
    assert metrics["km_median_by_segment"]["Two year"] is None  # never falls to 50 %
    assert metrics["logrank_p"] < 1e-10
    hr = metrics["cox"]["Contract: Two year"]
    assert hr["hr"] < 1 and hr["ci_low"] < hr["hr"] < hr["ci_high"]
    assert 0.75 < metrics["concordance_holdout"] < 0.95
    assert 0 < metrics["integrated_brier_score"] < 0.25
    from clm_lib.config import TELCO_CHURN

    raw = pd.read_csv(TELCO_CHURN, usecols=["customerID", "Churn"])
    assert sum(metrics["risk_tiers"].values()) == (raw["Churn"] == "No").sum() == len(export)
    assert export["customer_id"].str.startswith("C-").all()
    assert not export["customer_id"].isin(raw["customerID"]).any()
    assert metrics["data_quality_steps"][-1]["warnings"] == {"duration 0 set to 0.5 period": 11}


@pytest.mark.slow
def test_notebook_cdnow_inactivity(tmp_path):
    metrics, export = _run_notebook(
        tmp_path, transactions="../data/cdnow_master.csv",
        columns={"date": "timestamp", "dollars": "amount", "cds": "quantity"},
        as_of="1998-06-30", segment=None, covariates=["first_amount", "first_quantity"],
        margin="spend_per_period")
    assert _REQUIRED_KEYS <= set(metrics)
    assert metrics["logrank_p"] is None
    # half the customers churn when the window first elapses: median = 180 days
    assert metrics["km_median_by_segment"]["All"] == pytest.approx(180 / (365.25 / 12))
    assert sum(metrics["risk_tiers"].values()) == len(export) > 1000
    assert export["customer_id"].str.startswith("C-").all()
    assert metrics["data_quality"]["rows_in"] == 69659


def test_ph_note_and_strata():
    ph = pd.DataFrame({"violated": [True, True, False], "covariate": ["plan", "price", "x"]},
                      index=["plan: b", "price", "x"])
    df = pd.DataFrame({"plan": ["a", "b"], "price": [1.0, 2.0], "x": [0.0, 1.0]})
    assert sv.ph_strata(ph, df) == ["plan"]
    note = sv.ph_note(ph, ["plan"])
    assert "plan, price" in note and "strata" in note and "time-averaged" in note
    assert "No covariate" in sv.ph_note(ph.assign(violated=False), [])


def test_format_p():
    assert sv.format_p(0.0) == "< 1e-300"
    assert sv.format_p(0.01234) == "= 0.0123"
    assert sv.format_p(float("nan")) == "n/a"
