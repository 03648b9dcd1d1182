"""The survival study end to end: survival_study on a simulated snapshot (the result and
its report), and the notebook on the bundled Telco subscriptions and CDNOW transactions."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import ParameterError
from clm_lib.studies.survival_churn import report as rp
from clm_lib.studies.survival_churn.compute import SurvivalStudy, kaplan_meier, survival_study

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]


def _snapshot(n=1500, seed=3):
    """Monthly tenure; 'basic' churns at twice the rate of 'pro'; whole months as Telco."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["pro", "basic"], n, p=[0.5, 0.5])
    price = rng.uniform(10, 50, n).round(2)
    t = rng.exponential(1 / (0.04 * np.where(plan == "basic", 2.0, 1.0)))
    c = rng.uniform(0, 48, n)
    return pd.DataFrame({"customer_id": [f"{i:05d}" for i in range(n)],
                         "tenure": np.floor(np.minimum(t, c)).astype(int),
                         "churned": np.where(t <= c, "Yes", "No"), "plan": plan, "price": price})


@pytest.fixture(scope="module")
def study():
    return survival_study(_snapshot(), segment="plan", covariates=["plan", "price"],
                          margin="price", horizons=[1, 3, 6], risk_thresholds=[0.1, 0.3])


def test_result_is_frozen_and_consistent(study):
    raw = _snapshot()
    assert isinstance(study, SurvivalStudy)
    with pytest.raises(dataclasses.FrozenInstanceError):
        study.selected = "Cox"
    assert study.kind == "subscriptions" and study.tier_horizon == 6.0
    assert len(study.durations) == len(raw) == study.km.loc["All", "customers"]
    assert study.km.loc["All", "churned"] == (raw["churned"] == "Yes").sum()
    assert list(study.km.index) == ["All", "basic", "pro"]
    assert study.qualities[-1].warnings == {
        "duration 0 set to 0.5 period": int((raw["tenure"] == 0).sum())}
    # basic churns faster: first in the unadjusted table, HR near 2
    assert list(study.segment_hr.index) == ["basic", "pro"]
    assert study.segment_hr.loc["basic", "hr"] == pytest.approx(2.0, rel=0.2)
    base = raw["plan"].value_counts().index[0]  # the most frequent level
    other = ({"basic", "pro"} - {base}).pop()
    assert study.baselines == {"plan": base}
    assert set(study.hazard_ratios.index) == {"price", f"plan: {other}"}
    assert len(study.train) + len(study.test) == len(study.design)
    assert set(study.fits) == {"Cox", "Weibull AFT", "Log-normal AFT", "Log-logistic AFT"}
    assert study.selected in study.comparison.index and study.selected != "Cox"
    # every active (censored) customer gets a risk row, with the margin as value basis
    active = raw["churned"] == "No"
    assert len(study.risk) == active.sum()
    assert study.risk["customer_id"].tolist() == raw.loc[active, "customer_id"].tolist()
    assert study.value["customers"].sum() == active.sum()


def test_report_of_the_study(study):
    lines = rp.summary_lines(study)
    n, churned = len(study.durations), int(study.durations["event"].sum())
    assert lines[0].startswith(f"{n:,} customers, {churned:,} of whom churned")
    assert lines[1].startswith("basic customers churn")
    assert "(adjusted Cox hazard ratio, 95 % interval" in lines[1]
    assert lines[-1] == rp.definition(study)
    assert rp.definition(study).startswith("A customer churns when the subscription ends")
    head = rp.headline(study)
    assert set(head) == {"Median lifetime", "basic vs pro", "Holdout concordance",
                         "High-risk active customers"}
    # proportional hazards holds for plan (exponential lifetimes): the adjusted Cox ratio
    assert study.segment_ph_p >= 0.01 and study.segment_hr_bands is None
    adj = study.segment_hr_adjusted.loc["basic", "hr"]
    assert adj == pytest.approx(2.0, rel=0.2)
    assert head["basic vs pro"] == f"{adj:.1f}x churn hazard (adjusted Cox)"
    assert "proportional hazards holds for plan" in lines[1]
    m = rp.survival_metrics(study)
    assert list(m) == ["time_unit", "as_of", "as_of_source", "covariates_chosen",
                       "covariates_source", "covariates_left_out",
                       "km_median_by_segment", "rmst_horizon", "rmst_by_segment",
                       "logrank_p", "cox", "model_comparison", "selected_model",
                       "concordance_holdout", "integrated_brier_score",
                       "integrated_brier_score_sksurv", "integrated_brier_score_convention",
                       "concordance_uno_holdout", "km_survival_at", "time_dependent_auc",
                       "uno_c", "harrell_c", "calibration_slope", "competing_risks",
                       "calibration",
                       "remaining_horizon", "follow_up", "value_basis", "currency",
                       "risk_tiers", "headline", "figures", "decision", "lifecycle",
                       "data_quality", "data_quality_steps"]
    # the headline's numbers: the ratio of the headline, the high-risk count
    assert m["figures"]["segment_hr"]["value"] == pytest.approx(adj)
    assert m["figures"]["high_risk"]["value"] == m["risk_tiers"]["high"]
    # a snapshot has no end of observation; the covariates were given
    assert (m["as_of"], m["as_of_source"]) == (None, None)
    assert (m["covariates_chosen"], m["covariates_source"], m["covariates_left_out"]) == (
        ["plan", "price"], "parameter", {})
    # the overall Kaplan-Meier survival at each horizon, read off the curve by hand
    sf = study.km_fits["All"].survival_function_.iloc[:, 0]
    assert m["km_survival_at"] == {f"{h:g}": float(sf[sf.index <= h].iloc[-1])
                                   for h in (1, 3, 6)}
    assert 1 > m["km_survival_at"]["1"] > m["km_survival_at"]["3"] > m["km_survival_at"]["6"]
    assert set(m["km_median_by_segment"]) == {"basic", "pro"}
    assert sum(m["risk_tiers"].values()) == len(study.risk)
    assert json.loads(json.dumps(m)) == m  # JSON-ready as it is
    assert rp.risk_tier_label(study).startswith(
        "P(churn within 6 months): medium from 10%, high from 30%")
    assert rp.km_table(study)["caption"] == (
        "Lifetime by segment (median and RMST in months; RMST = mean months stayed within "
        f"the first {study.rmst_horizon:.0f} months; 95 % intervals)")
    assert list(rp.km_table(study)["df"].columns) == [
        "customers", "churned", "median", "median 95 % interval", "RMST", "RMST 95 % interval"]
    assert rp.pairwise_table(study)["df"].shape == (1, 3)
    export = rp.risk_export(study)
    assert list(export.columns[:2]) == ["customer_id", "segment"]
    # the real ids, for the CRM (was: pseudonyms from a constant salt)
    assert export["customer_id"].tolist() == study.risk["customer_id"].tolist()
    assert export["risk_tier"].isin(["low", "medium", "high"]).all()
    # tenure floored to whole months (as Telco's): more churn within the first month than
    # any smooth model predicts, a gap beyond sampling noise: the warning is everywhere
    c = study.calibration_check
    assert c["poor"] is True and c["worst_gap"] > 0.05 and c["worst_horizon"] == 1.0
    warning = rp.calibration_warning(study)
    assert warning.startswith("poorly calibrated: under-predicts churn (")
    assert (~export["probabilities_calibrated"]).all()
    assert warning in rp.risk_export_columns(study)["probabilities_calibrated"].meaning
    assert rp.risk_tier_label(study).endswith("[model poorly calibrated: a ranking]")
    assert any(line.startswith("Warning: calibration is poor. The model under-predicts churn")
               for line in lines)
    assert m["calibration"]["warning"] == warning and len(m["calibration"]["table"]) == 15
    # the wording, and no warning for a well-calibrated model
    poor = dataclasses.replace(study, calibration_check={
        "error": 0.027, "worst_gap": 0.1197, "worst_horizon": 1.0, "worst_bin": 5,
        "worst_predicted": 0.0647, "worst_observed": 0.1844, "poor": True})
    assert rp.calibration_warning(poor) == (
        "poorly calibrated: under-predicts churn (riskiest fifth of the holdout: 6.5% "
        "predicted, 18.4% observed within 1 month); use as a ranking")
    assert any(line.startswith("Warning: calibration is poor. The model under-predicts churn: "
                               "it predicts 6.5% churn within 1 month for the riskiest fifth")
               for line in rp.summary_lines(poor))
    good = dataclasses.replace(poor, calibration_check={**poor.calibration_check,
                                                        "worst_gap": 0.03, "poor": False})
    assert rp.calibration_warning(good) == "" and rp.survival_metrics(good)["calibration"][
        "warning"] is None
    assert rp.risk_export(good)["probabilities_calibrated"].all()
    assert not rp.risk_tier_label(good).endswith("a ranking]")
    assert any("more than 5 percentage points off beyond sampling noise" in line
               for line in rp.summary_lines(good))


def test_report_without_segment_names_inactivity():
    """Churn by inactivity, no segment: the definition speaks of purchases."""
    rng = np.random.default_rng(0)
    n = 400
    first = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    gaps = pd.to_timedelta(rng.integers(0, 200, n), unit="D")
    tx = pd.DataFrame({"customer_id": np.repeat([f"c{i}" for i in range(n)], 2),
                       "timestamp": np.ravel(np.column_stack([first, first + gaps])),
                       "amount": rng.uniform(5, 50, 2 * n).round(2)})
    study = survival_study(transactions=tx, as_of="2020-12-31", inactivity_days=60,
                           covariates=["first_amount"], revenue="spend_per_period")
    assert study.kind == "transactions" and study.segment is None
    assert study.logrank is None and study.segment_hr is None and study.value is None
    assert [q.source for q in study.qualities][1:] == ["transactions -> inactivity durations",
                                                        "customers used by the models"]
    assert rp.definition(study).startswith("A customer churns the first time 60 days pass "
                                           "without a purchase")
    back = int(study.durations["reactivated"].sum())
    assert back > 0 and (f"here {back:,} of the {int(study.durations['event'].sum()):,} "
                         "churned customers came back") in rp.definition(study)
    assert "2020-12-31" in rp.definition(study)
    assert rp.survival_metrics(study)["logrank_p"] is None
    assert "segment" not in rp.risk_export(study).columns
    # churned durations are at least the window (60 days = 1.97 months)
    d = study.durations
    assert (d.loc[d["event"], "duration"] >= 60 / (365.25 / 12) - 1e-12).all()


def test_remaining_lifetime_within_follow_up_and_value_basis(study):
    """Remaining lifetime and value over a stated horizon within the follow-up; beyond it
    only on request, labelled; revenue is called revenue."""
    assert study.remaining_horizon == study.rmst_horizon <= study.follow_up
    assert study.value_basis == "margin" and study.currency is None
    assert (study.risk["expected_remaining"] <= study.remaining_horizon + 1e-9).all()
    raw = _snapshot()
    kw = dict(segment="plan", covariates=["plan", "price"], horizons=[1, 3, 6])
    capped = survival_study(raw, revenue="price", currency="EUR", remaining_horizon=500, **kw)
    assert capped.remaining_horizon == capped.follow_up == float(raw["tenure"].max())
    assert capped.value_basis == "revenue" and capped.currency == "EUR"
    lines = rp.summary_lines(capped)
    text = " ".join(lines)
    assert "expected discounted revenue over the next" in text and "(EUR)" in text
    assert rp.REVENUE_NOT_MARGIN in lines and "margin units" not in text
    assert rp.REVENUE_NOT_MARGIN in rp.risk_lines(capped)
    # the total and the high-risk share are the decision box's, not repeated in the section
    assert not any("totals" in line or "are high risk" in line for line in rp.risk_lines(capped))
    assert "Extrapolated" not in text
    export = rp.risk_export(capped)
    h = f"{capped.remaining_horizon:g}"
    assert {f"expected_months_active_of_next_{h}", f"discounted_revenue_next_{h}_months",
            "currency"} <= set(export.columns)
    assert (export["currency"] == "EUR").all() and "value" not in export.columns
    assert "revenue" in rp.value_table(capped)["caption"]
    far = survival_study(raw, revenue="price", remaining_horizon=120, extrapolate=True, **kw)
    assert far.remaining_horizon == 120
    assert "Extrapolated (on request): 120 months is longer than anything observed" in \
        rp.remaining_sentence(far)
    assert (far.risk["expected_remaining"] > capped.risk["expected_remaining"]).all()
    m = rp.survival_metrics(far)
    assert (m["remaining_horizon"], m["value_basis"], m["follow_up"]) == (
        120.0, "revenue", far.follow_up)
    with pytest.raises(ParameterError):
        survival_study(raw, remaining_horizon=0, **kw)
    # no margin and no revenue: no value columns, no value sentence
    none = survival_study(raw, **kw)
    assert none.value_basis is None and "value" not in none.risk
    assert not any("discounted" in line for line in rp.summary_lines(none))


def test_kaplan_meier_stays_importable_from_compute():
    """The lifecycle study imports kaplan_meier from compute."""
    df = pd.DataFrame({"duration": [1.0, 2.0, 3.0], "event": [True, False, True],
                       "source": ["a", "b", "a"]})
    fits = kaplan_meier(df, segment="source")
    assert set(fits) == {"All", "a", "b"}


def test_ph_note_and_format_p():
    ph = pd.DataFrame({"violated": [True, True, False], "covariate": ["plan", "price", "x"]},
                      index=["plan: b", "price", "x"])
    note = rp.ph_note(ph, ["plan"])
    assert "plan, price" in note and "strata" in note and "time-averaged" in note
    assert "No covariate" in rp.ph_note(ph.assign(violated=False), [])
    assert rp.format_p(0.0) == rp.format_p(4.94e-161) == "< 0.001"
    assert rp.format_p(0.01234) == "= 0.012"
    assert rp.format_p(float("nan")) == "n/a"


def test_medians_not_reached_read_in_words():
    inf, nan = float("inf"), float("nan")
    assert rp.median_text(nan, 72.0, "month") == "not reached (> 72 months)"
    assert rp.median_text(35.0, 72.0, "month") == "35 months"
    assert rp.interval_text(32.0, 38.0, "month") == "32 to 38 months"
    assert rp.interval_text(72.0, inf, "month") == "72 months to not reached"
    assert rp.interval_text(inf, inf, "month") == "not reached"
    # a curve that stays above 50 %: the table, summary and headline say so, no "inf"
    rng = np.random.default_rng(1)
    n = 400
    raw = pd.DataFrame({"customer_id": [f"{i}" for i in range(n)],
                        "tenure": rng.integers(1, 25, n),
                        "churned": rng.choice(["Yes", "No"], n, p=[0.1, 0.9]),
                        "plan": rng.choice(["a", "b"], n)})
    st = survival_study(raw, covariates=["plan"])
    tab = rp.km_table(st)["df"]
    assert tab.loc["All", "median"] == "not reached (> 24 months)"
    assert tab.loc["All", "median 95 % interval"] == "not reached"
    assert "inf" not in tab.to_string()
    assert "not reached (more than half are still active after 24 months" in \
        rp.summary_lines(st)[0]
    assert rp.headline(st)["Median lifetime"] == "not reached (> 24 months)"


# ---------------------------------------------------------------------------------------
# The study notebook, end to end (Telco subscriptions and CDNOW transactions)
# ---------------------------------------------------------------------------------------

_REQUIRED_KEYS = {"km_median_by_segment", "rmst_by_segment", "logrank_p", "cox",
                  "concordance_holdout", "integrated_brier_score", "risk_tiers", "headline",
                  "data_quality"}


def _outputs(folder):
    metrics = json.loads((folder / "metrics.json").read_text())
    export = pd.read_csv(folder / "exports" / "customer_risk.csv", dtype={"customer_id": str})
    return metrics, export


@pytest.mark.slow
def test_notebook_telco(run_notebook):
    metrics, export = _outputs(run_notebook("20_survival_churn.ipynb"))
    assert _REQUIRED_KEYS <= set(metrics)
    assert set(metrics["km_median_by_segment"]) == {"Month-to-month", "One year", "Two year"}
    assert metrics["km_median_by_segment"]["Two year"] is None  # never falls to 50 %
    assert metrics["logrank_p"] < 1e-10
    hr = metrics["cox"]["Contract: Two year"]
    assert hr["hr"] < 1 and hr["ci_low"] < hr["hr"] < hr["ci_high"]
    assert 0.75 < metrics["concordance_holdout"] < 0.95
    assert 0 < metrics["integrated_brier_score"] < 0.25
    # Contract fails proportional hazards: the headline is the adjusted ratio of a tenure
    # band, not the unadjusted 68.4x nor the time-averaged adjusted 32.9x
    head = metrics["headline"]["Month-to-month vs Two year"]
    assert head == ("19.8x churn hazard from month 20 on (adjusted, by tenure band: "
                    "proportional hazards fails)")
    # the riskiest fifth of the holdout: 6.5 % predicted vs 18.4 % observed within a month
    cal = metrics["calibration"]
    assert cal["poor"] and cal["worst_bin"] == 5 and cal["worst_horizon"] == 1.0
    assert (round(cal["worst_predicted"], 3), round(cal["worst_observed"], 3)) == (0.065, 0.184)
    assert export["probabilities_calibrated"].eq(False).all()   # the how is in the data dictionary
    # remaining lifetime within the 24-month horizon (was 222 months for two-year customers,
    # extrapolated to 240), value called revenue (MonthlyCharges), not margin
    assert (metrics["remaining_horizon"], metrics["value_basis"]) == (24.0, "revenue")
    months = export["expected_months_active_of_next_24"]
    assert months.max() <= 24 and months[export["segment"] == "Two year"].mean() > 23
    assert "discounted_revenue_next_24_months" in export.columns
    # the two conventions of the censoring weights (issue 14: 0.0918 vs 0.0934 for Cox)
    cox = metrics["model_comparison"]["Cox"]
    assert cox["integrated_brier_score"] == pytest.approx(0.0918, abs=5e-5)
    assert cox["integrated_brier_score_sksurv"] == pytest.approx(0.0934, abs=5e-5)
    assert metrics["integrated_brier_score_convention"].startswith("Graf et al. (1999)")
    assert 0.75 < metrics["concordance_uno_holdout"] < 0.95
    # medians not reached read in words in the report, never "inf"
    page = (run_notebook("20_survival_churn.ipynb").parent / "run.ipynb").read_text()
    assert "not reached (&gt; 72 months)" in page and ">inf<" not in page
    assert "so no single hazard ratio describes it" in page
    assert "Averaged over tenure the adjusted ratio is 32.9 and the unadjusted 68.4" in page
    assert "margin units" not in page and "The value figures are revenue, not margin" in page
    from clm_lib.config import TELCO_CHURN

    raw = pd.read_csv(TELCO_CHURN, usecols=["customerID", "Churn"])
    assert sum(metrics["risk_tiers"].values()) == (raw["Churn"] == "No").sum() == len(export)
    active = raw.loc[raw["Churn"] == "No", "customerID"]
    assert sorted(export["customer_id"]) == sorted(active)  # real ids, the CRM's key
    assert metrics["data_quality_steps"][-1]["warnings"] == {"duration 0 set to 0.5 period": 11}
    # issue 16: the decision box is the first output after the introduction, and is
    # stored with the index's retention figures
    import nbformat

    nb = nbformat.read(run_notebook("20_survival_churn.ipynb").parent / "run.ipynb", 4)
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if o.get("output_type") == "display_data"]
    assert shown[0]["metadata"]["clm"]["role"] == "decision"
    assert metrics["decision"]["findings"][0].startswith(
        f"{metrics['lifecycle'][0]['value']} of customers are still active after 12 months")
    assert metrics["decision"]["source"] == "telco_churn.csv"
    assert [f["stage"] for f in metrics["lifecycle"]] == ["retention", "retention"]
    assert metrics["lifecycle"][1]["value"] == "not reached (> 72 months)"
    # one interactive chart (the curves); every figure with alt text from the results
    roles = [o["metadata"]["clm"]["role"] for o in shown if "clm" in o.get("metadata", {})]
    assert roles.count("chart") == 1 and roles.count("figure") >= 3
    assert "alt='Bar chart of active customers by risk" in page
    dd = pd.read_csv(run_notebook("20_survival_churn.ipynb") / "exports" / "data_dictionary.csv")
    assert dd.loc[dd["export"] == "customer_risk.csv", "column"].tolist() == list(export.columns)


@pytest.mark.slow
def test_notebook_cdnow_inactivity(run_notebook):
    metrics, export = _outputs(run_notebook(
        "20_survival_churn.ipynb", sample=False, transactions="../data/cdnow_master.csv",
        columns={"date": "timestamp", "dollars": "amount", "cds": "quantity"},
        as_of="1998-06-30", segment=None, covariates=["first_amount", "first_quantity"],
        revenue="spend_per_period"))
    assert _REQUIRED_KEYS <= set(metrics)
    assert metrics["logrank_p"] is None
    # half the customers churn when the window first elapses: median = 180 days
    assert metrics["km_median_by_segment"]["All"] == pytest.approx(180 / (365.25 / 12))
    assert sum(metrics["risk_tiers"].values()) == len(export) > 1000
    assert set(metrics["km_survival_at"]) == {"1", "3", "6"}
    # nobody churns before the 180-day window has passed: S = 1 at 1 and 3 months
    assert metrics["km_survival_at"]["1"] == metrics["km_survival_at"]["3"] == 1.0
    assert metrics["km_survival_at"]["6"] == pytest.approx(0.3678, abs=1e-4)
    page = (run_notebook("20_survival_churn.ipynb", sample=False,
                         transactions="../data/cdnow_master.csv",
                         columns={"date": "timestamp", "dollars": "amount", "cds": "quantity"},
                         as_of="1998-06-30", segment=None,
                         covariates=["first_amount", "first_quantity"],
                         revenue="spend_per_period").parent / "run.ipynb").read_text()
    assert "4,968 of the 21,788 churned customers came back" in page
    assert "For every active customer (" in page and "already longer than 0 months" not in page
    assert not export["customer_id"].str.startswith("C-").any()
    from clm_lib.config import CDNOW_MASTER

    raw = pd.read_csv(CDNOW_MASTER, usecols=["customer_id"], dtype=str)
    assert export["customer_id"].isin(raw["customer_id"]).all()
    assert metrics["data_quality"]["rows_in"] == 69659


def test_models_on_a_sample_curves_and_risk_on_everyone(study):
    """Above max_model_customers the models see a stratified sample; the curves, the
    log-rank test and the risk scores still cover every customer."""
    raw = _snapshot()
    small = survival_study(raw, segment="plan", covariates=["plan", "price"], margin="price",
                           max_model_customers=600)
    assert small.model_sample == 600 and study.model_sample is None
    assert len(small.train) + len(small.test) == 600
    assert small.km.equals(study.km) and small.logrank.p_value == study.logrank.p_value
    assert len(small.risk) == len(study.risk) == (raw["churned"] == "No").sum()
    n_events = int(small.durations["event"].sum())
    assert int(small.train["event"].sum() + small.test["event"].sum()) == \
        round(600 * n_events / len(raw))
    assert rp.survival_metrics(small)["model_sample"] == 600
    assert "model_sample" not in rp.survival_metrics(study)
    assert any(line.startswith("The regression models were fitted on a random sample of 600 "
                               f"of the {len(raw):,} customers") for line in rp.summary_lines(small))
    # the sample's standard errors against a fit on everyone: sqrt(N / n)
    ratio = f"about {(len(small.durations) / 600) ** 0.5:.1f} times"
    assert any(ratio in line for line in rp.summary_lines(small))
    assert "fitted on 420 customers, validated on 180" in rp.comparison_table(small)["caption"]


# ---------------------------------------------------------------------------------------
# What a stakeholder reads first (issue 16): the decision box, the index figures, tables
# ---------------------------------------------------------------------------------------
def test_decision_box_from_the_results(study):
    from clm_lib import format as fmt
    from clm_lib.reporting import Decision, source_label

    d = rp.decision(study)
    assert isinstance(d, Decision) and 3 <= len(d.findings) <= 4
    s12 = float(study.km_fits["All"].survival_function_at_times(12.0).iloc[0])
    assert d.findings[0].startswith(f"{fmt.percent(s12)} of customers are still active after "
                                    "12 months (Kaplan-Meier")
    # the segment that churns fastest, with the adjusted ratio against the slowest
    adj = study.segment_hr_adjusted
    assert d.findings[1].startswith(f"{adj.index[0]} customers (plan) churn fastest: "
                                    f"{adj['hr'].iloc[0]:.1f}× the churn hazard of "
                                    f"{adj.index[-1]}")
    # the actions carry the customers and the value at stake, from the risk table
    risk = study.risk
    high = risk[risk["risk_tier"] == "high"]
    assert d.actions[0] == (f"Contact the {fmt.count(len(high))} high-risk active customers "
                            f"first, worth {fmt.money(high['value'].sum())} (currency of the "
                            "data) of discounted margin over the next "
                            f"{study.remaining_horizon:g} months (export customer_risk, "
                            "column risk_tier).")
    from clm_lib.studies.survival_churn.decision import worst_segment_gain

    gain = worst_segment_gain(study)
    worst = risk[study.durations.loc[risk.index, "plan"] == adj.index[0]]
    assert gain["customers"] == len(worst) and gain["value"] > 0
    assert any(a.startswith(f"Keep {adj.index[0]} customers (plan) longer") and
               fmt.money(gain["value"]) in a for a in d.actions)
    # how sure: the holdout record of the selected model and its calibration
    c = study.comparison.loc[study.selected, "concordance_holdout"]
    assert f"correctly {fmt.percent(c, 0)} of the time" in d.confidence
    assert "poorly calibrated" in d.confidence  # whole-month tenures: see above
    assert d.as_of.startswith("the date of the extract")
    assert d.source == source_label(study.qualities[0]) == study.qualities[0].source
    assert rp.survival_metrics(study)["decision"] == d.to_dict()


def test_lifecycle_figures_for_the_index(study):
    from clm_lib import format as fmt

    figs = rp.lifecycle(study)
    assert [f["stage"] for f in figs] == ["retention", "retention"]
    s12 = float(study.km_fits["All"].survival_function_at_times(12.0).iloc[0])
    assert figs[0]["label"] == "Still active after 12 months"
    assert figs[0]["value"] == fmt.percent(s12)
    assert "Kaplan-Meier" in figs[0]["detail"] and "(every plan)" in figs[0]["detail"]
    overall = study.km.loc["All"]
    assert figs[1]["value"] == rp.median_text(overall["median"], overall["follow_up"], "month")
    assert rp.survival_metrics(study)["lifecycle"] == figs


def test_tables_read_as_a_reader_expects(study):
    """Counts as integers, p-values "< 0.001", ratios with intervals, no raw names."""
    from clm_lib.reporting import table_html

    pages = {name: table_html(**getattr(rp, name)(study)) for name in (
        "km_table", "segment_hr_table", "adjusted_hr_table", "pairwise_table", "ph_table",
        "comparison_table", "value_table", "calibration_display_table")}
    every = " ".join(pages.values())
    for raw in ("median_ci_low", "test_statistic", "p_churn_", "concordance_holdout",
                "mean_value", ">inf<", ">nan<"):
        assert raw not in every, raw
    import re

    assert not re.search(r"\de-\d", re.sub(r"<[^>]*>", " ", every))  # no 4.94e-161
    churned = int(study.km.loc["All", "churned"])
    assert f">{churned:,}<" in pages["km_table"] and f"{churned:,}.00" not in pages["km_table"]
    p = study.segment_hr.loc["basic", "p"]
    assert p < 0.001 and "&lt; 0.001" in pages["segment_hr_table"]
    lo, hi = study.segment_hr.loc["basic", ["ci_low", "ci_high"]]
    assert f"{lo:.2f}× to {hi:.2f}×" in pages["segment_hr_table"]
    assert ">reference<" in pages["segment_hr_table"]
    assert "Mean P(churn within 6 months)" in pages["value_table"]
    assert "se 0.00" not in every


def test_figure_alt_texts_say_the_message(study):
    from clm_lib import format as fmt

    s = {k: float(f.survival_function_at_times(12.0).iloc[0])
         for k, f in study.km_fits.items() if k != "All"}
    hi = max(s, key=s.get)
    assert f"After 12 months {fmt.percent(s[hi])} of {hi} customers" in rp.km_alt(study)
    counts = study.risk["risk_tier"].astype(str).value_counts()
    assert f"high {fmt.count(counts.get('high', 0))}." in rp.risk_tier_alt(study)
    top = study.hazard_ratios["hr"].idxmax()
    assert f"Largest ratio: {top}" in rp.hazard_ratio_alt(study)
    assert study.selected in rp.calibration_alt(study)
    assert "highest" in rp.value_alt(study)


def test_export_documents_every_column(study, tmp_path):
    frame = rp.risk_export(study)
    cols = rp.risk_export_columns(study)
    assert set(frame.columns) <= set(cols)
    rp.export_risk(study, tmp_path)
    out = pd.read_csv(tmp_path / "exports" / "customer_risk.csv", dtype={"customer_id": str})
    assert out["customer_id"].tolist() == study.risk["customer_id"].tolist()
    # probabilities to 4 decimals, periods and money to 2: no float noise
    assert (out["p_churn_6"].round(4) == out["p_churn_6"]).all()
    value = [c for c in out.columns if c.startswith("discounted_margin")][0]
    assert (out[value].round(2) == out[value]).all()
    dd = pd.read_csv(tmp_path / "exports" / "data_dictionary.csv")
    assert dd["column"].tolist() == list(frame.columns)
    assert dd.set_index("column").loc["p_churn_6", "unit"] == "probability (0-1)"
