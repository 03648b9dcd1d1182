"""The survival study on anyone's data with its defaults (issue 15): the end of observation
from the data, covariates chosen from the columns present (or none), no value unless
asked, exactly one input, and every bad parameter named."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clm_lib.config import CDNOW_MASTER, TELCO_CHURN
from clm_lib.exceptions import MissingColumnsError, ParameterError
from clm_lib.studies.survival_churn.durations import load_churn_durations
from clm_lib.studies.survival_churn import durations as du
from clm_lib.studies.survival_churn import report as rp
from clm_lib.studies.survival_churn.compute import survival_study
from clm_lib.studies.survival_churn.covariates import (
    MAX_DURATION_SPEARMAN,
    MAX_LEVELS,
    MAX_MISSING_SHARE,
    choose_covariates,
)

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

TELCO_COLUMNS = {"customerID": "customer_id", "Churn": "churned"}


def _snapshot(n=600, seed=5):
    """Monthly tenure, 'basic' churning twice as fast as 'pro' (exponential lifetimes)."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["pro", "basic"], n)
    t = rng.exponential(1 / (0.04 * np.where(plan == "basic", 2.0, 1.0)))
    c = rng.uniform(0, 48, n)
    return pd.DataFrame({"customer_id": [f"{i:05d}" for i in range(n)],
                         "tenure": np.floor(np.minimum(t, c)).astype(int) + 1,
                         "churned": np.where(t <= c, "Yes", "No"), "plan": plan,
                         "price": rng.uniform(10, 50, n).round(2)})


@pytest.fixture(scope="module")
def cdnow_canonical(tmp_path_factory):
    """CDNOW master with the canonical column names only: customer_id, timestamp, amount."""
    raw = pd.read_csv(CDNOW_MASTER, dtype={"customer_id": str})
    path = tmp_path_factory.mktemp("canonical") / "orders.csv"
    raw.rename(columns={"date": "timestamp", "dollars": "amount"})[
        ["customer_id", "timestamp", "amount"]].to_csv(path, index=False)
    return str(path)


# ------------------------------------------------------------------ covariates chosen
def test_choose_covariates_keeps_and_leaves_out_by_rule():
    """Each rule on a hand-built frame: the kept columns, and each left out for its reason."""
    n = 100
    rng = np.random.default_rng(0)
    duration = np.arange(1.0, n + 1)
    d = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)], "duration": duration,
        "event": rng.random(n) < 0.5,
        "plan": np.tile(["a", "b", "c", "d"], n // 4),  # 4 levels: kept
        "age": rng.uniform(20, 70, n),  # numeric, unrelated to the duration: kept
        "senior": rng.integers(0, 2, n),  # 0/1: kept (numeric)
        "account": [f"acc{i:03d}" for i in range(n)],  # text id
        "store_no": np.arange(1000, 1000 + n),  # whole-number id
        "region": ["north"] * n,  # constant
        "notes": ["x" if i % 4 else None for i in range(n)],  # 25 % missing
        "city": [f"city{i % 30}" for i in range(n)],  # 30 levels
        "total": duration * 20 + rng.normal(0, 1, n),  # restates the duration
        "signup": pd.date_range("2020-01-01", periods=n),  # a date
        "fee": rng.uniform(1, 9, n),  # the value basis
        "plan_copy": np.tile(["a", "b", "c", "d"], n // 4),  # collinear with plan
        "spend_per_period": rng.uniform(1, 9, n),  # computed by the study
    })
    c = choose_covariates(d, value_columns=["fee"])
    assert c.chosen == ("plan", "age", "senior")
    reasons = c.left_out
    assert set(reasons) == {"account", "store_no", "region", "notes", "city", "total",
                            "signup", "fee", "plan_copy"}
    assert reasons["account"].startswith("near-unique (100 distinct values in 100 rows")
    assert reasons["store_no"].startswith("near-unique")
    assert reasons["region"] == "constant (one value)"
    assert reasons["notes"].startswith(f"mostly missing (25% of the rows; at most "
                                       f"{MAX_MISSING_SHARE:.0%}")
    assert reasons["city"] == f"too many levels (30; at most {MAX_LEVELS} allowed)"
    assert reasons["total"].startswith("restates the duration (Spearman correlation +1.00")
    assert reasons["signup"] == "a date"
    assert reasons["fee"].startswith("the value basis")
    assert reasons["plan_copy"].startswith("collinear with the covariates chosen before it")
    # a numeric column just under the Spearman limit is kept
    ranks = pd.Series(duration).rank().to_numpy()
    mixed = np.where(np.arange(n) % 10 < 8, ranks, ranks[::-1])
    rho = pd.Series(mixed).corr(pd.Series(duration), method="spearman")
    assert abs(rho) < MAX_DURATION_SPEARMAN
    assert "mixed" in choose_covariates(d.assign(mixed=mixed)).chosen


def test_telco_covariates_from_the_columns_leave_total_charges_out():
    """Telco's columns: a documented set; TotalCharges restates the tenure (Spearman
    0.89), MonthlyCharges is the value basis, and the service add-ons whose level 'No
    internet service' is InternetService = No are collinear."""
    frame = du.load_churn_durations(str(TELCO_CHURN), None, TELCO_COLUMNS).frame
    c = choose_covariates(frame, value_columns=["MonthlyCharges"])
    assert c.chosen == ("gender", "SeniorCitizen", "Partner", "Dependents", "PhoneService",
                        "InternetService", "Contract", "PaperlessBilling", "PaymentMethod")
    rho = frame["TotalCharges"].corr(frame["duration"], method="spearman")
    assert rho > MAX_DURATION_SPEARMAN
    assert c.left_out["TotalCharges"] == (
        f"restates the duration (Spearman correlation {rho:+.2f} with it; more than 0.8 in "
        "absolute value would leak the outcome)")
    assert c.left_out["MonthlyCharges"].startswith("the value basis")
    assert set(c.left_out) == {"TotalCharges", "MonthlyCharges", "MultipleLines",
                               "OnlineSecurity", "OnlineBackup", "DeviceProtection",
                               "TechSupport", "StreamingTV", "StreamingMovies"}
    # without the value basis, MonthlyCharges is a covariate like any other
    assert "MonthlyCharges" in choose_covariates(frame).chosen


@pytest.mark.slow
def test_telco_study_with_covariates_from_the_data():
    """covariates=None on Telco: the models run on the chosen set (the old default, (),
    failed in lifelines' proportional-hazards test); the report and metrics.json say which
    columns were chosen and why the others were left out."""
    st = survival_study(str(TELCO_CHURN), columns=TELCO_COLUMNS, segment="Contract",
                        revenue="MonthlyCharges", max_model_customers=3000)
    assert st.covariates_source == "data" and "Contract" in st.covariates
    assert "TotalCharges" not in st.covariates and "TotalCharges" in st.covariates_left_out
    assert any(t.startswith("Contract: ") for t in st.hazard_ratios.index)
    m = rp.survival_metrics(st)
    assert m["covariates_chosen"] == list(st.covariates)
    assert m["covariates_source"] == "data"
    assert m["covariates_left_out"]["TotalCharges"].startswith("restates the duration")
    note = rp.covariates_note(st)
    assert note.startswith("Covariates (chosen from the columns of the data")
    assert "'TotalCharges': restates the duration" in note
    assert json.loads(json.dumps(m)) == m


# ------------------------------------------------------------------ no covariates
def test_no_covariates_runs_every_section():
    """covariates=[] (was: ValueError 'no types given' in the proportional-hazards test):
    Kaplan-Meier, log-rank, the segment's own hazard ratios, intercept-only AFT models,
    the baseline-only Cox model, risk tiers and every report section."""
    raw = _snapshot()
    st = survival_study(raw, segment="plan", covariates=[])
    assert st.covariates == () and not st.has_covariates
    assert st.cox.params_.empty and st.hazard_ratios.empty and st.ph.empty
    assert st.strata == () and st.cox_stratified is None
    assert set(st.fits) == {"Cox", "Weibull AFT", "Log-normal AFT", "Log-logistic AFT"}
    # one curve for everyone: no ranking on the holdout
    assert (st.comparison["concordance_holdout"] == 0.5).all()
    # the conditional churn risk of an active customer still depends on the tenure so far
    assert st.risk["p_churn_6"].nunique() > 1 and len(st.risk) == (raw["churned"] == "No").sum()
    # the segment's own ratio, not called adjusted
    assert st.segment_hr.loc["basic", "hr"] == pytest.approx(2.0, rel=0.25)
    lines = rp.summary_lines(st)
    assert "(no other covariate to adjust for)" in lines[1] and "adjusted" not in lines[1]
    assert rp.no_covariates_sentence(st).startswith("No covariates (covariates = [] was given): "
                                                    "every")
    assert rp.no_covariates_sentence(st) in lines
    # the summary is shown as plain text: no Markdown markup that would show as it is
    assert not [line for line in lines if "`" in line or "*" in line]
    assert rp.headline(st)["basic vs pro"].endswith("x churn hazard (Cox)")
    assert "no covariates: one curve for everyone" in rp.comparison_table(st)["caption"]
    assert rp.covariates_note(st) == "Covariates (as given in the parameter covariates): none."
    m = rp.survival_metrics(st)
    assert m["cox"] == {} and m["covariates_chosen"] == []
    assert json.loads(json.dumps(m)) == m
    assert len(rp.risk_export(st)) == len(st.risk)
    # no value basis: the table by segment holds risk and lifetime, and says no more
    caption = rp.value_table(st)["caption"]
    assert caption.endswith("(restricted mean)") and "value" not in caption
    # the sections render; the hazard-ratio figure is not drawn (nothing to draw)
    rp.show_segment_tests(st)
    rp.show_drivers(st, lambda result: pytest.fail("no hazard ratio to draw"))
    rp.show_calibration(st)
    rp.show_segment_value(st)
    from clm_lib.plotting import survival as plots

    plots.km_figure(st), plots.calibration_figure(st), plots.risk_tier_figure(st)
    assert plots.value_figures(st) == []


def test_no_value_basis_is_said_once():
    st = survival_study(_snapshot(), covariates=["plan"])
    assert st.value_basis is None and "value" not in st.risk
    lines = rp.summary_lines(st)
    assert lines.count(rp.NO_VALUE) == 1
    assert not any("discounted" in line for line in lines)


# ------------------------------------------------------------------ as_of from the data
def test_canonical_cdnow_by_inactivity_with_no_other_parameter(cdnow_canonical):
    """A plain transaction log with canonical names: transactions=FILE alone. as_of is the
    last purchase day (1998-06-30), no covariates to choose; the curve is the one with
    as_of given."""
    st = survival_study(transactions=cdnow_canonical)
    assert st.kind == "transactions"
    assert (st.as_of, st.as_of_source) == (pd.Timestamp("1998-06-30"), "data")
    assert st.covariates == () and st.covariates_source == "data"
    m = rp.survival_metrics(st)
    assert (m["as_of"], m["as_of_source"]) == ("1998-06-30", "data")
    assert m["km_survival_at"]["6"] == pytest.approx(0.3678, abs=1e-4)
    assert m["data_quality"]["rows_in"] == 69659
    assert "Observed to 1998-06-30, the last date in the data." in rp.summary_lines(st)
    assert rp.no_covariates_sentence(st).startswith(
        "No covariates (none of the columns qualified; see the method notes): every")
    assert not [line for line in rp.summary_lines(st) if "`" in line or "*" in line]
    assert "first_amount (and first_quantity), known at the first purchase, can be named" \
        in rp.covariates_note(st)
    given = du.load_churn_durations(None, cdnow_canonical, as_of="1998-06-30")
    derived = du.load_churn_durations(None, cdnow_canonical)
    assert given.as_of_source == "parameter" and derived.as_of_source == "data"
    pd.testing.assert_frame_equal(given.frame, derived.frame)
    assert "observed to 1998-06-30, the as_of given" == rp.observed_to(
        survival_study(transactions=cdnow_canonical, as_of="1998-06-30", covariates=[],
                       max_model_customers=2000))


def _intervals():
    return pd.DataFrame({
        "customer_id": ["a", "b", "c", "d"],
        "start": pd.to_datetime(["2021-01-01", "2021-02-01", "2021-03-01", "2021-05-01"]),
        "end": pd.to_datetime(["2021-04-11", None, "2021-06-20", None]),
        "plan": ["x", "y", "x", "y"]})


@pytest.mark.parametrize("as_file", [False, True], ids=["frame", "file"])
def test_interval_subscriptions_without_as_of_end_on_the_last_date(tmp_path, as_file):
    """Interval subscriptions, some active, no as_of (was: 'as_of is required'): observed
    to the last start or end day (2021-06-20); the active ones censored there."""
    subs = _intervals()
    if as_file:
        path = tmp_path / "subs.csv"
        subs.to_csv(path, index=False)
        subs = str(path)
    d = du.load_churn_durations(subs, time_unit="day")
    assert (d.as_of, d.as_of_source) == (pd.Timestamp("2021-06-20"), "data")
    got = d.frame.set_index("customer_id")
    # by hand, in days
    assert got["duration"].to_dict() == {"a": 100.0, "b": 139.0, "c": 111.0, "d": 50.0}
    assert got["event"].to_dict() == {"a": True, "b": False, "c": True, "d": False}
    given = du.load_churn_durations(subs, as_of="2021-06-30", time_unit="day")
    assert given.as_of_source == "parameter"
    assert given.frame.set_index("customer_id")["duration"]["d"] == 60.0


def test_snapshot_needs_no_as_of():
    d = du.load_churn_durations(_snapshot(20))
    assert (d.as_of, d.as_of_source) == (None, None)


def test_reading_options_reach_the_loader(tmp_path):
    """date_format is passed to the loader: day-first dates read as such."""
    path = tmp_path / "log.csv"
    pd.DataFrame({"customer_id": ["a", "a", "b"],
                  "timestamp": ["01/02/2020", "03/02/2020", "05/02/2020"],
                  "amount": [1.0, 2.0, 3.0]}).to_csv(path, index=False)
    d = du.load_churn_durations(None, str(path), inactivity_days=30, time_unit="day",
                                date_format="%d/%m/%Y")
    assert d.as_of == pd.Timestamp("2020-02-05")
    assert d.frame.set_index("customer_id")["duration"].to_dict() == {"a": 4.0, "b": 0.0}


# ------------------------------------------------------------------ plausibility limit
def test_default_max_tenure_is_a_hundred_years():
    assert du._default_max_tenure("month") == 1200
    assert du._default_max_tenure("year") == 100
    assert du._default_max_tenure("day") == pytest.approx(36525)
    # added only when the loader takes it, and never over the user's own limit
    assert du._subscription_options("month", {}) == {"max_tenure": 1200.0}
    assert du._subscription_options("month", {"max_tenure": 5}) == {"max_tenure": 5}


def test_a_tenure_of_1e300_is_dropped():
    raw = _snapshot(50).astype({"tenure": float})
    raw.loc[0, "tenure"] = 1e300
    d = du.load_churn_durations(raw)
    assert len(d.frame) == 49 and 1e300 not in set(d.frame["duration"])
    assert sum(d.qualities[0].dropped.values()) == 1


# ------------------------------------------------------------------ bad values named
@pytest.mark.parametrize("kwargs, match", [
    (dict(risk_thresholds=[0.3, 0.1]), r"risk_thresholds must be increasing"),
    (dict(risk_thresholds=[0.1, 1.5]), r"risk_thresholds\[1\] must be < 1"),
    (dict(risk_thresholds=0.2), r"risk_thresholds must be two probabilities"),
    (dict(horizons=[]), r"horizons must be a non-empty list"),
    (dict(horizons="abc"), r"horizons must be a non-empty list"),
    (dict(horizons=[1, -3]), r"horizons\[1\] must be > 0"),
    (dict(discount_rate="abc"), r"discount_rate must be a number; got 'abc'"),
    (dict(margin=[1]), r"margin must be a number"),
    (dict(holdout_fraction=1.0), r"holdout_fraction must be < 1"),
    (dict(remaining_horizon=0), r"remaining_horizon must be > 0"),
    (dict(seed=1.5), r"seed must be a whole number"),
    (dict(covariates="plan"), r"covariates must be a list of column names"),
    (dict(time_unit="fortnight"), r"time_unit must be one of"),
    (dict(inactivity_days="abc", transactions="x.csv", subscriptions=None),
     r"inactivity_days must be a number of days > 0"),
    (dict(transactions="x.csv"), r"exactly one of subscriptions and transactions.*both"),
])
def test_bad_values_are_named_before_anything_is_read(kwargs, match):
    """The file does not exist: the parameter error comes before any read."""
    kw = {"subscriptions": "does-not-exist.csv", **kwargs}
    with pytest.raises(ParameterError, match=match):
        survival_study(**kw)


@pytest.mark.parametrize("kwargs, name, missing", [
    (dict(covariates=["plan", "colour"]), "covariates", ["colour"]),
    (dict(segment="region"), "segment", ["region"]),
    (dict(margin="profit", covariates=[]), "margin", ["profit"]),
    (dict(revenue="sales", covariates=[]), "revenue", ["sales"]),
])
def test_a_named_column_that_is_absent_is_named_with_the_columns_found(kwargs, name, missing):
    with pytest.raises(MissingColumnsError, match=rf"parameter {name}\) lacks") as err:
        survival_study(_snapshot(50), **kwargs)
    assert err.value.missing == missing
    assert {"customer_id", "duration", "event", "plan", "price"} <= set(err.value.found)


def test_baseline_of_a_column_that_is_not_a_covariate():
    with pytest.raises(ParameterError, match=r"baselines names \['price'\]"):
        survival_study(_snapshot(50), covariates=["plan"], baselines={"price": 10})


# ------------------------------------------------------------------ the notebook
@pytest.mark.slow
def test_notebook_bare_defaults_fail_with_a_clear_message(run_notebook):
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError,
                       match="give exactly one of subscriptions and transactions"):
        run_notebook("20_survival_churn.ipynb", sample=False)


@pytest.mark.slow
def test_notebook_on_a_canonical_log_with_one_parameter(run_notebook, cdnow_canonical):
    out = run_notebook("20_survival_churn.ipynb", sample=False, transactions=cdnow_canonical)
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["as_of"], metrics["as_of_source"]) == ("1998-06-30", "data")
    assert metrics["covariates_chosen"] == [] and metrics["cox"] == {}
    assert metrics["value_basis"] is None
    page = (out.parent / "run.ipynb").read_text()
    assert "Observed to 1998-06-30, the last date in the data." in page
    assert "No value basis: neither" in page
    assert "the Cox model has no hazard ratio to estimate" in page


def test_an_as_of_with_a_time_of_day_is_kept():
    """A given as_of is used as given (only a derived one is a whole day)."""
    tx = pd.DataFrame({"customer_id": ["a", "a"], "amount": [1.0, 2.0],
                       "timestamp": pd.to_datetime(["2020-01-01", "2020-01-11"])})
    d = du.load_churn_durations(None, tx, as_of="2020-02-01 12:00", inactivity_days=60,
                                time_unit="day")
    assert (d.as_of, d.as_of_source) == (pd.Timestamp("2020-02-01 12:00"), "parameter")
    assert d.frame["duration"].iloc[0] == 31.5 and not d.frame["event"].iloc[0]
    derived = du.load_churn_durations(None, tx, inactivity_days=60, time_unit="day")
    assert (derived.as_of, derived.frame["duration"].iloc[0]) == (pd.Timestamp("2020-01-11"),
                                                                  10.0)


def test_derived_as_of_keeps_the_last_days_purchases():
    """A timestamped log observed to its own end: the purchases later on the last day are
    inside the observation (a midnight end would drop them as after as_of)."""
    tx = pd.DataFrame({"customer_id": ["a", "a", "b", "c"],
                       "timestamp": ["2024-01-01 10:00", "2024-03-01 15:30", "2024-03-01 18:00",
                                     "2024-02-01 09:00"],
                       "amount": [1.0, 2.0, 3.0, 4.0]})
    d = load_churn_durations(transactions=tx, inactivity_days=30)
    assert (d.as_of, d.as_of_source) == (pd.Timestamp("2024-03-01 18:00"), "data")
    assert not d.qualities[1].dropped.get("purchase after as_of")
    assert d.qualities[1].rows_used == 4 and sorted(d.frame["customer_id"]) == ["a", "b", "c"]


def test_derived_as_of_of_intervals_notes_ends_after_the_last_start():
    subs = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                         "start": pd.to_datetime(["2024-01-05", "2024-02-10", "2024-03-01",
                                                  "2024-03-20"]),
                         "end": pd.to_datetime(["2024-02-01", None, "2024-06-30", "2024-12-31"])})
    d = load_churn_durations(subscriptions=subs)
    assert (d.as_of, d.as_of_source) == (pd.Timestamp("2024-12-31"), "data")
    assert any("2 subscriptions end after the last start" in n for n in d.qualities[0].notes)
    given = load_churn_durations(subscriptions=subs, as_of="2024-12-31")
    assert not any("scheduled ends" in n for n in given.qualities[0].notes)
