"""Competing churn reasons on a documented simulation: two cause-specific exponential
hazards with known rates (months), 'voluntary' 0.03 * exp(0.7 x) and 'involuntary'
0.02 * exp(-0.5 x) with x = 0/1 (half the customers each), censoring uniform on [0, 40].
The true cumulative incidence of cause k is the mean over x of
lambda_k(x) / Lambda(x) * (1 - exp(-Lambda(x) t)), Lambda = the sum of the two."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter

from clm_lib.exceptions import DataContractError
from clm_lib.studies.survival_churn import competing as cr

RATES = {"voluntary": (0.03, 0.7), "involuntary": (0.02, -0.5)}


def _simulate(n=6000, seed=11):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    t = {k: rng.exponential(1 / (a * np.exp(b * x))) for k, (a, b) in RATES.items()}
    first = np.minimum(t["voluntary"], t["involuntary"])
    c = rng.uniform(0, 40, n)
    event = first <= c
    reason = np.where(~event, None, np.where(t["voluntary"] <= t["involuntary"],
                                             "voluntary", "involuntary"))
    return pd.DataFrame({"duration": np.minimum(first, c), "event": event,
                         "reason": reason, "x": x.astype(float)})


def _true_cif(k, t):
    out = 0.0
    for x in (0, 1):
        lam = {j: a * np.exp(b * x) for j, (a, b) in RATES.items()}
        total = sum(lam.values())
        out += 0.5 * lam[k] / total * (1 - np.exp(-total * t))
    return out


def test_incidence_recovers_the_truth_and_matches_lifelines():
    df = _simulate()
    times = [3.0, 6.0, 12.0, 24.0]
    inc = cr.cumulative_incidence(df, times)
    codes, levels = cr.encode_reasons(df)
    assert levels == ("involuntary", "voluntary")
    for k, name in enumerate(levels, start=1):
        got = inc[inc["reason"] == name]
        truth = [_true_cif(name, t) for t in times]
        np.testing.assert_allclose(got["incidence"], truth, atol=0.015)
        # lifelines' Aalen-Johansen on the same data (continuous times: no ties to jitter)
        aj = AalenJohansenFitter(calculate_variance=False).fit(
            df["duration"], codes, event_of_interest=k)
        ref = aj.cumulative_density_.iloc[:, 0]
        lif = [float(ref[ref.index <= t].iloc[-1]) for t in times]
        np.testing.assert_allclose(got["incidence"], lif, atol=1e-6)
        # 1 - KM with the other reason censored overstates it, more so with time
        gap = (got["one_minus_km"] - got["incidence"]).to_numpy()
        assert (gap > 0).all() and gap[-1] > gap[0]


def test_cause_specific_cox_recovers_the_simulated_coefficients():
    df = _simulate()
    codes, levels = cr.encode_reasons(df)
    hr = cr.cause_specific_cox(df[["duration", "event", "x"]], codes, levels).set_index("reason")
    for name, (_, b) in RATES.items():
        r = hr.loc[name]
        assert abs(r["coef"] - b) < 3 * r["se"]
        assert r["ci_low"] < np.exp(b) < r["ci_high"]
        assert r["events"] == int((df["reason"] == name).sum())


def test_bad_reasons_are_counted_and_named():
    df = _simulate(50)
    df.loc[df.index[df["event"]][:3], "reason"] = ""
    df.loc[df.index[~df["event"]][:2], "reason"] = "voluntary"
    with pytest.raises(DataContractError, match=r"'reason': 3 churned rows .* 2 active"):
        cr.encode_reasons(df)


def _snapshot(n=3000, seed=5):
    """The simulation as a subscriptions snapshot: whole months (ties, as Telco), x as a
    plan ('pro' = 1), the reason empty for the customers still active."""
    df = _simulate(n, seed)
    return pd.DataFrame({"customer_id": [f"{i:05d}" for i in range(n)],
                         "tenure": np.floor(df["duration"]).astype(int) + 1,
                         "churned": np.where(df["event"], "Yes", "No"),
                         "plan": np.where(df["x"] == 1, "pro", "basic"),
                         "why_left": df["reason"].fillna("")})


def test_study_with_a_reason_column_reports_each_reason():
    from sksurv.nonparametric import cumulative_incidence_competing_risks

    from clm_lib.studies.survival_churn import report as rp
    from clm_lib.studies.survival_churn import report_competing as rc
    from clm_lib.studies.survival_churn.compute import survival_study

    raw = _snapshot()
    s = survival_study(raw, reason="why_left", horizons=[3, 6, 12], baselines={"plan": "basic"})
    assert "why_left" not in s.covariates and s.covariates == ("plan",)
    assert s.covariates_left_out["why_left"].startswith("the churn reason")
    c = s.competing
    assert c["reasons"] == ("involuntary", "voluntary")
    inc = c["incidence"].set_index(["reason", "time"])["incidence"]
    # scikit-survival on the raw tenure, by hand (no zero tenure here: every duration >= 1)
    codes = np.select([raw["why_left"] == "involuntary", raw["why_left"] == "voluntary"],
                      [1, 2], 0)
    grid, cif = cumulative_incidence_competing_risks(codes, raw["tenure"].to_numpy(float))
    for k, name in enumerate(c["reasons"], start=1):
        for t in (3.0, 6.0, 12.0):
            assert inc[(name, t)] == pytest.approx(cif[k, np.searchsorted(grid, t, "right") - 1])
            # whole months shift the truth by up to one month: a loose check against it
            assert inc[(name, t)] == pytest.approx(_true_cif(name, t), abs=0.03)
    hr = c["hazard_ratios"].set_index("reason")
    assert set(hr["covariate"]) == {"plan: pro"}
    for name, (_, b) in RATES.items():
        assert abs(hr.loc[name, "coef"] - b) < 3 * hr.loc[name, "se"]
    lines = rc.competing_lines(s)
    vol = inc[("voluntary", 12.0)]
    assert lines[1].startswith("Churned for reason voluntary: ")
    assert f"{100 * vol:.1f} % by 12 months" in lines[1]
    assert "overstates the incidence of one reason when others compete" in lines[2]
    m = rp.survival_metrics(s)["competing_risks"]
    assert m["estimated"] and m["reasons"] == ["involuntary", "voluntary"]


def test_without_a_reason_the_report_says_so():
    from clm_lib.studies.survival_churn import report as rp
    from clm_lib.studies.survival_churn.compute import survival_study

    s = survival_study(_snapshot(600, 2).drop(columns="why_left"), horizons=[3, 6])
    assert s.competing is None
    m = rp.survival_metrics(s)["competing_risks"]
    assert m == {"estimated": False, "why": (
        "no churn reason in the data: competing risks not estimated (map a reason column to "
        "get them: the `reason` parameter)")}
