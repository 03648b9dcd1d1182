"""Time-dependent AUC, its integrated mean, Uno's C and the calibration slope of the
survival study, against scikit-survival on the same inputs and on seeded simulations with
known churn probabilities."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from sksurv.metrics import concordance_index_ipcw
from sksurv.metrics import cumulative_dynamic_auc as sk_cumulative_dynamic_auc
from sksurv.util import Surv

from clm_lib.exceptions import ParameterError
from clm_lib.studies.survival_churn import metrics as mt
from clm_lib.studies.survival_churn import validation
from clm_lib.studies.survival_churn.models import fit_aft_models, fit_cox


def _proportional_hazards(n, seed, *, whole_periods):
    """Exponential lifetimes (months) with hazard 0.05 * exp(0.8 x), uniform censoring on
    [0, 40]; ``whole_periods``: durations rounded up to whole months as in Telco (ties)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.exponential(1 / (0.05 * np.exp(0.8 * x)))
    c = rng.uniform(0, 40, n)
    T = np.minimum(t, c)
    if whole_periods:
        T = np.floor(T) + 1
    return x, T, t <= c


@pytest.mark.parametrize("whole_periods", [False, True])
@pytest.mark.parametrize("rounding", [None, 1])
def test_auc_mean_and_uno_match_scikit_survival(whole_periods, rounding):
    """Training customers give the censoring weights, the holdout is evaluated; ties in
    time (whole months) and in risk (rounded scores) are where conventions could differ."""
    x, T, E = _proportional_hazards(900, 1, whole_periods=whole_periods)
    risk = x if rounding is None else np.round(x, rounding)
    tr = np.arange(len(T)) < 550
    te = ~tr
    y_tr, y_te = Surv.from_arrays(E[tr], T[tr]), Surv.from_arrays(E[te], T[te])
    times = [3.0, 6.0, 12.0]
    kw = {"censoring_durations": T[tr], "censoring_events": E[tr]}
    sk, sk_mean = sk_cumulative_dynamic_auc(y_tr, y_te, risk[te], times)
    ours = mt.cumulative_dynamic_auc(T[te], risk[te], E[te], times, **kw)
    np.testing.assert_allclose(ours, sk, atol=1e-6)
    assert mt.mean_auc(ours, T[te], E[te], times) == pytest.approx(sk_mean, abs=1e-6)
    # a risk per time (as P(churn by t) of an AFT model), noisier at later times
    rng = np.random.default_rng(2)
    R = np.column_stack([risk[te] + 0.3 * k * rng.normal(size=te.sum()) for k in range(3)])
    sk, sk_mean = sk_cumulative_dynamic_auc(y_tr, y_te, R, times)
    ours = mt.cumulative_dynamic_auc(T[te], R, E[te], times, **kw)
    np.testing.assert_allclose(ours, sk, atol=1e-6)
    assert mt.mean_auc(ours, T[te], E[te], times) == pytest.approx(sk_mean, abs=1e-6)
    # Uno's C, same tau
    sk_uno = concordance_index_ipcw(y_tr, y_te, risk[te], tau=20.0)[0]
    assert validation.uno_concordance(T[te], risk[te], E[te], tau=20.0, **kw) == \
        pytest.approx(sk_uno, abs=1e-6)
    # the true ordering is well above chance and a random score is not
    assert ours[0] > 0.65
    noise = mt.cumulative_dynamic_auc(T[te], rng.normal(size=te.sum()), E[te], times, **kw)
    assert np.all(np.abs(noise - 0.5) < 0.1)


def test_auc_by_hand_and_edge_cases():
    """Churns at 1 and 3, censorings at 2 and 5, one churn at 4. At t = 3.5: cases are the
    churns at 1 (G = 1) and 3 (G(3) = 3/4 after the censoring at 2, 4 at risk: weight 4/3);
    controls are the customers at 4 and 5. Risks 5, 1, 2, 3, 0: the churn at 1 outranks
    both controls, the one at 3 (risk 2) only the customer at 5 (risk 0)."""
    T = [1.0, 2.0, 3.0, 4.0, 5.0]
    E = [True, False, True, True, False]
    risk = [5.0, 1.0, 2.0, 3.0, 0.0]
    auc = mt.cumulative_dynamic_auc(T, risk, E, [3.5])
    assert auc[0] == pytest.approx((1 * 1 + 4 / 3 * 0.5) / (1 + 4 / 3))  # 5/7
    # a time without a control (every customer gone by then) has no AUC
    assert np.isnan(mt.cumulative_dynamic_auc(T, risk, E, [5.0])[0])
    assert mt.mean_auc([0.7], T, E, [3.5]) == 0.7  # one time: the AUC itself
    with pytest.raises(ParameterError, match="columns for 2 times"):
        mt.cumulative_dynamic_auc(T, np.ones((5, 3)), E, [1.0, 2.0])
    with pytest.raises(ParameterError, match="same length"):
        mt.cumulative_dynamic_auc(T, risk, E[:4], [1.0])


def _known_probabilities(n, seed, horizon):
    """Exponential churn (months) with a customer-specific rate (log-rate normal, sd 0.8),
    uniform censoring on [0, 30]: the true P(churn by horizon) is 1 - exp(-rate * h)."""
    rng = np.random.default_rng(seed)
    rate = 0.08 * np.exp(0.8 * rng.normal(size=n))
    t = rng.exponential(1 / rate)
    c = rng.uniform(0, 30, n)
    return 1 - np.exp(-rate * horizon), np.minimum(t, c), t <= c


def test_calibration_slope_is_one_on_the_truth_and_below_one_when_over_confident():
    h = 6.0
    p, T, E = _known_probabilities(6000, 4, h)
    true = mt.calibration_slope(p, T, E, h)
    assert true["slope_ci_low"] < 1 < true["slope_ci_high"]
    assert true["slope"] == pytest.approx(1.0, abs=0.08)
    assert true["intercept"] == pytest.approx(0.0, abs=0.1)
    # twice the logit: predictions too extreme, the slope halves (and its interval says so)
    extreme = mt.calibration_slope(expit(2 * logit(p)), T, E, h)
    assert extreme["slope"] == pytest.approx(0.5, abs=0.05)
    assert extreme["slope_ci_high"] < 1
    # half the logit: too timid, slope about 2
    timid = mt.calibration_slope(expit(0.5 * logit(p)), T, E, h)
    assert timid["slope"] == pytest.approx(2.0, abs=0.16)
    assert timid["slope_ci_low"] > 1
    # customers censored before h have no known status and leave the fit
    assert true["customers"] < len(T) and true["churned"] == int((E & (T <= h)).sum())


def test_calibration_slope_without_both_outcomes_and_bad_input():
    T, E = [1.0, 2.0, 3.0], [True, True, True]
    out = mt.calibration_slope([0.2, 0.5, 0.7], T, E, 5.0)
    assert np.isnan(out["slope"]) and out["churned"] == 3
    # one prediction for everyone (no covariates): no slope
    out = mt.calibration_slope([0.4] * 4, [1.0, 2.0, 6.0, 7.0], [True] * 4, 5.0)
    assert np.isnan(out["slope"]) and out["customers"] == 4
    with pytest.raises(ParameterError, match="probabilities"):
        mt.calibration_slope([0.2, 1.5, 0.7], T, E, 5.0)


def test_horizon_metrics_of_fitted_models():
    """Cox and AFT models on a simulated design: one row per model and horizon, the AUC
    equal to scikit-survival's for the model's P(churn by h), the Cox slope near 1 (the
    data follow its proportional hazards)."""
    x, T, E = _proportional_hazards(3000, 6, whole_periods=False)
    df = pd.DataFrame({"duration": T, "event": E, "x": x})
    train, test = df.iloc[:2000], df.iloc[2000:]
    models = {"Cox": fit_cox(train), **fit_aft_models(train)}
    table, mean = mt.horizon_metrics(models, train, test, [3.0, 6.0, 12.0])
    assert set(table["model"]) == set(models) and len(table) == 3 * len(models)
    y_tr = Surv.from_arrays(train["event"], train["duration"])
    y_te = Surv.from_arrays(test["event"], test["duration"])
    cox = table[table["model"] == "Cox"]
    risk = models["Cox"].predict_log_partial_hazard(test).to_numpy()  # same order as 1 - S(h)
    sk, sk_mean = sk_cumulative_dynamic_auc(y_tr, y_te, risk, [3.0, 6.0, 12.0])
    np.testing.assert_allclose(cox["auc"], sk, atol=1e-6)
    assert mean["Cox"] == pytest.approx(sk_mean, abs=1e-6)
    assert cox["slope"].between(0.85, 1.15).all()
    assert (cox["cases"] + cox["controls"] <= len(test)).all()


# ---------------------------------------------------------------------------------------
# In the study: result, wording and metrics.json
# ---------------------------------------------------------------------------------------

def _snapshot(n=1500, seed=3):
    """Monthly tenure (whole months, as Telco); 'basic' churns at twice the rate of 'pro'."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["pro", "basic"], n)
    t = rng.exponential(1 / (0.04 * np.where(plan == "basic", 2.0, 1.0)))
    c = rng.uniform(0, 48, n)
    return pd.DataFrame({"customer_id": [f"{i:05d}" for i in range(n)],
                         "tenure": np.floor(np.minimum(t, c)).astype(int),
                         "churned": np.where(t <= c, "Yes", "No"), "plan": plan})


@pytest.fixture(scope="module")
def study():
    from clm_lib.studies.survival_churn.compute import survival_study

    return survival_study(_snapshot(), covariates=["plan"], horizons=[1, 3, 6])


def test_study_metrics_match_scikit_survival_and_read_in_words(study):
    from clm_lib.studies.survival_churn import report as rp
    from clm_lib.studies.survival_churn import report_metrics as rm

    t = study.horizon_metrics
    assert len(t) == 3 * len(study.fits)
    sel = t[t["model"] == study.selected].sort_values("horizon")
    # the AUC of the selected model's P(churn by h), recomputed by scikit-survival
    tr, te = study.train, study.test
    p = 1 - np.column_stack([study.fits[study.selected].predict_survival_function(
        te, times=[h]).to_numpy().ravel() for h in (1.0, 3.0, 6.0)])
    sk, sk_mean = sk_cumulative_dynamic_auc(Surv.from_arrays(tr["event"], tr["duration"]),
                                            Surv.from_arrays(te["event"], te["duration"]),
                                            p, [1.0, 3.0, 6.0])
    np.testing.assert_allclose(sel["auc"], sk, atol=1e-6)
    assert study.comparison.loc[study.selected, "mean_auc"] == pytest.approx(sk_mean, abs=1e-6)
    lines = rm.horizon_lines(study)
    six = sel.iloc[-1]
    assert (f"ranks a customer who churned by a horizon above one still active after it "
            f"{round(100 * sel.iloc[0]['auc'])} % of the time at 1 month") in lines[0]
    assert f"and {round(100 * six['auc'])} % of the time at 6 months" in lines[0]
    assert f"{round(100 * sk_mean)} %" in lines[0]
    assert "Harrell's" in lines[1] and "Uno's" in lines[1]
    assert f"6 months: {six['slope']:.2f} (95 % interval" in lines[2]
    # the one binary covariate gives two predictions: the slope is estimated, near 1
    assert 0.6 < six["slope"] < 1.4
    m = rp.survival_metrics(study)
    assert m["time_dependent_auc"][study.selected]["6"] == pytest.approx(sk[-1])
    assert m["time_dependent_auc"][study.selected]["mean"] == pytest.approx(sk_mean)
    assert m["uno_c"][study.selected] == m["concordance_uno_holdout"]
    assert m["calibration_slope"][study.selected]["6"]["slope"] == pytest.approx(six["slope"])
    assert m["calibration_slope"]["method"].startswith("IPCW")
    table = rm.horizon_table(study)
    assert list(table["df"].columns)[:3] == ["model", "horizon", "auc"]


def test_without_covariates_the_slope_is_said_not_estimable():
    from clm_lib.studies.survival_churn import report_metrics as rm
    from clm_lib.studies.survival_churn.compute import survival_study

    s = survival_study(_snapshot(600, 9), covariates=[], horizons=[3, 6])
    assert s.horizon_metrics["slope"].isna().all()
    assert np.allclose(s.horizon_metrics["auc"], 0.5)
    text = rm.slope_sentence(s)
    assert "3 months: not estimable" in text and "no slope to estimate" in text
