"""Every study parameter checked before any kernel starts (clm_lib.run.checks).

The CLI tests run on notebooks written here with the parameters the studies take after
issue 15 (:data:`PLANNED`), so that they do not depend on the study notebooks' current
defaults; no kernel is started (the executor is replaced by one that records calls).
"""
from __future__ import annotations

import json

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import clm_lib.run.execute as execute
from clm_lib.cli import cli
from clm_lib.exceptions import ParameterError
from clm_lib.run.checks import FILE_PARAMETERS, RULES, STUDY_RULES, check_values, rule_for
from clm_lib.run.discovery import list_studies
from clm_lib.run.parameters import RawValue, coerce_value, resolve_parameters

_READING = {"columns": None, "date_format": None, "encoding": None, "delimiter": None,
            "contract": {}, "segment": None, "engine": "duckdb", "as_of": None,
            "output_dir": None}

#: The parameters (name: default) of each study after issue 15.
PLANNED: dict[str, dict] = {
    "overview": {"transactions": None, "currency": None, **_READING},
    "cohort_retention": {
        "transactions": None, "subscriptions": None, "cohort_period": "month",
        "churn_inactivity_periods": 3, "holdout_periods": 3, "horizon_periods": 12,
        "discount_rate": 0.01, "currency": None, **_READING},
    "survival_churn": {
        "subscriptions": None, "transactions": None, "inactivity_days": 180,
        "time_unit": "month", "covariates": None, "baselines": {}, "horizons": [1, 3, 6],
        "rmst_horizon": 24, "margin": None, "revenue": None, "currency": None,
        "remaining_horizon": None, "extrapolate": False, "discount_rate": 0.01,
        "risk_thresholds": [0.1, 0.3], "holdout_fraction": 0.3, "seed": 42,
        "max_model_customers": 100000, "hazard_bands": None, "reason": None, **_READING},
    "clv": {
        "transactions": None, "calibration_end": None, "time_unit": "week", "horizon": 52,
        "discount_rate": 0.15, "margin": None, "n_draws": 200, "seed": 42, **_READING},
    "lifecycle_segments": {
        "transactions": None, "leads": None, "flow_start": None, "new_days": None,
        "at_risk_days": None, "lapsed_days": None, "time_unit": "week",
        "what_if_points": [1, 5, 10], "what_if_assumption": "absolute",
        "what_if_intervals": True, "horizon": 52, "discount_rate": 0.15, "margin": None,
        "action_value": None, "action_value_quantile": 0.9, **_READING},
}
_NUMBERS = {"overview": "00", "cohort_retention": "10", "survival_churn": "20", "clv": "30",
            "lifecycle_segments": "40"}


# --------------------------------------------------------------------------- the table

def test_every_parameter_of_every_study_notebook_has_a_rule():
    studies = list_studies()
    assert studies
    missing = [f"{s.name}.{n}" for s in studies for n in s.parameters
               if rule_for(s.name, n) is None]
    assert missing == []


def test_every_planned_parameter_has_a_rule():
    missing = [f"{s}.{n}" for s, params in PLANNED.items() for n in params
               if rule_for(s, n) is None]
    assert missing == []


def test_study_overrides_only_name_known_studies_and_parameters():
    assert set(STUDY_RULES) <= set(PLANNED)
    for study, rules in STUDY_RULES.items():
        assert set(rules) <= set(PLANNED[study])


@pytest.mark.parametrize("source", ["notebooks", "planned"])
def test_the_defaults_follow_the_rules(source):
    """A notebook default is never refused (files: their existence depends on the data)."""
    studies = ({s.name: s.defaults() for s in list_studies()} if source == "notebooks"
               else PLANNED)
    bad = {}
    for study, defaults in studies.items():
        for name, value in defaults.items():
            rule = rule_for(study, name)
            if rule is not None and name not in FILE_PARAMETERS and rule(name, value):
                bad[f"{study}.{name}"] = rule(name, value)
    assert bad == {}


# --------------------------------------------------------------------------- the rules

_URL = "s3://bucket/input.parquet"  # an input that needs no file here


def _problems(study, *, with_input=True, **given):
    """check_values with an input file given (unless ``with_input`` is False or the test
    gives one), so that the required inputs are not what is reported."""
    if with_input and not set(given) & {"transactions", "subscriptions"}:
        key = "subscriptions" if study in ("survival_churn", "cohort_retention") else "transactions"
        given = {key: _URL, **given}
    return check_values(study, given, PLANNED[study])


@pytest.mark.parametrize("study, name, value, words", [
    ("clv", "horizon", "abc", "positive whole number of time units"),
    ("clv", "horizon", 0, "positive whole number"),
    ("clv", "horizon", 2.5, "whole number"),
    ("clv", "horizon", True, "whole number"),            # a bool is not a number
    ("clv", "discount_rate", "abc", "[0, 1) (annual"),
    ("clv", "discount_rate", 1.0, "[0, 1)"),
    ("cohort_retention", "discount_rate", -0.1, "[0, 1) (per period)"),
    ("clv", "margin", "abc", "fraction of spend in (0, 1]"),
    ("clv", "margin", 1.5, "(0, 1]"),
    ("lifecycle_segments", "margin", 0, "(0, 1]"),
    ("survival_churn", "margin", [1], "a number per period or a column name"),
    ("clv", "time_unit", "year", "one of day, week, month"),
    ("survival_churn", "time_unit", "fortnight", "one of day, week, month, year"),
    ("cohort_retention", "cohort_period", "decade", "one of week, month, quarter, year"),
    ("clv", "n_draws", -1, ">= 0"),
    ("clv", "calibration_end", "1997-13-45", "ISO date"),
    ("clv", "as_of", "yesterday", "ISO date"),
    ("clv", "engine", "polars", "one of pandas, duckdb, spark"),
    ("clv", "encoding", "no-such-codec", "text encoding Python knows"),
    ("clv", "delimiter", ";;", "one character"),
    ("clv", "date_format", "dd/mm/yyyy", "strptime format"),
    ("clv", "columns", {"a": 1}, "mapping of source column name to canonical name"),
    ("clv", "columns", ["a"], "mapping"),
    ("clv", "contract", "drop", "mapping of contract options"),
    ("clv", "segment", 3, "column name"),
    ("cohort_retention", "churn_inactivity_periods", 0, ">= 1"),
    ("cohort_retention", "holdout_periods", -1, ">= 0"),
    ("cohort_retention", "horizon_periods", 0, ">= 1"),
    ("survival_churn", "inactivity_days", 0, "positive number of days"),
    ("survival_churn", "covariates", "Contract", "list of column names"),
    ("survival_churn", "baselines", ["x"], "mapping of covariate"),
    ("survival_churn", "horizons", [], "non-empty list of positive numbers"),
    ("survival_churn", "horizons", [1, -3], "positive numbers"),
    ("survival_churn", "rmst_horizon", 0, "positive number of periods"),
    ("survival_churn", "remaining_horizon", -1, "positive number"),
    ("survival_churn", "extrapolate", "yes", "true or false"),
    ("survival_churn", "risk_thresholds", [0.3, 0.1], "two increasing numbers in (0, 1)"),
    ("survival_churn", "risk_thresholds", [0.1, 0.3, 0.5], "two increasing"),
    ("survival_churn", "risk_thresholds", [0, 0.3], "(0, 1)"),
    ("survival_churn", "holdout_fraction", 1.0, "[0, 1)"),
    ("survival_churn", "seed", "x", "whole number"),
    ("survival_churn", "max_model_customers", 0, ">= 1"),
    ("survival_churn", "hazard_bands", [6, 3], "increasing positive numbers"),
    ("survival_churn", "revenue", "", "a number per period or a column name"),
    ("lifecycle_segments", "what_if_points", [5, 100], "numbers in (0, 100)"),
    ("lifecycle_segments", "what_if_assumption", "relative", "absolute, proportional"),
    ("lifecycle_segments", "what_if_intervals", 1, "true or false"),
    ("lifecycle_segments", "new_days", -5, "positive number of days"),
    ("lifecycle_segments", "action_value", -1, ">= 0"),
    ("lifecycle_segments", "action_value_quantile", 1, "(0, 1)"),
    ("lifecycle_segments", "flow_start", "soon", "ISO date"),
])
def test_a_bad_value_names_the_study_the_parameter_and_what_is_expected(
        study, name, value, words):
    problems = _problems(study, **{name: value})
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{study}: {name} must be ")
    assert words in problems[0]
    assert problems[0].endswith(f"got {value!r}")


@pytest.mark.parametrize("study, given", [
    ("clv", {"horizon": 1, "discount_rate": 0, "margin": 1, "time_unit": "day",
             "calibration_end": "1997-09-30", "as_of": "1998-06-30", "n_draws": 0,
             "encoding": "latin-1", "delimiter": ";", "date_format": "%d/%m/%Y",
             "columns": {"dollars": "amount"}, "engine": "spark", "segment": "region",
             "contract": {"negative_amounts": "net", "cancellation_prefix": "C",
                          "max_amount": 1e6, "earliest_date": "1990-01-01",
                          "id_numbers": "merge"}}),
    ("survival_churn", {"margin": "MonthlyCharges", "revenue": 20.5, "covariates": [],
                        "baselines": {"Contract": "Two year"}, "horizons": [0.5, 12],
                        "risk_thresholds": [0.2, 0.25], "holdout_fraction": 0,
                        "max_model_customers": None, "hazard_bands": [3, 12.5],
                        "contract": {"max_tenure": 1200}, "time_unit": "year"}),
    ("lifecycle_segments", {"new_days": 30, "at_risk_days": 90.5, "lapsed_days": 365,
                            "flow_start": "1998-01-01", "as_of": "1998-06-30",
                            "what_if_points": [0.5, 99], "action_value": 0,
                            "what_if_assumption": "proportional"}),
    ("cohort_retention", {"cohort_period": "week", "holdout_periods": 0,
                          "churn_inactivity_periods": 1, "as_of": "1998-06-30T12:00:00"}),
])
def test_valid_values_pass(study, given, tmp_path):
    given = {**given, ("subscriptions" if study in ("survival_churn", "cohort_retention")
                       else "transactions"): str(tmp_path)}
    assert _problems(study, **given) == []


def test_every_problem_is_reported_at_once():
    problems = _problems("clv", horizon="abc", discount_rate="abc", margin="abc",
                         transactions="/no/such/tx.csv")
    assert [p.split(" ")[1] for p in problems] == ["horizon", "discount_rate", "margin",
                                                    "transactions"]


@pytest.mark.parametrize("study, given, expected", [
    ("clv", {"calibration_end": "1998-07-01", "as_of": "1998-06-30"},
     "clv: calibration_end (1998-07-01) must be before as_of (1998-06-30)"),
    ("clv", {"calibration_end": "1998-06-30", "as_of": "1998-06-30"},
     "clv: calibration_end (1998-06-30) must be before as_of (1998-06-30)"),
    ("lifecycle_segments", {"flow_start": "1998-06-30", "as_of": "1998-06-30"},
     "lifecycle_segments: flow_start (1998-06-30) must be before as_of (1998-06-30)"),
    ("lifecycle_segments", {"new_days": 90, "at_risk_days": 60},
     "lifecycle_segments: new_days (90) must be less than at_risk_days (60)"),
    ("lifecycle_segments", {"new_days": 30, "lapsed_days": 30},
     "lifecycle_segments: new_days (30) must be less than lapsed_days (30)"),
    ("lifecycle_segments", {"at_risk_days": 400, "lapsed_days": 365},
     "lifecycle_segments: at_risk_days (400) must be less than lapsed_days (365)"),
])
def test_relations_between_parameters(study, given, expected, tmp_path):
    given = {"transactions": str(tmp_path), **given}
    assert _problems(study, **given) == [expected]


@pytest.mark.parametrize("study", ["survival_churn", "cohort_retention"])
def test_exactly_one_of_transactions_and_subscriptions(study, tmp_path):
    assert _problems(study, with_input=False) == [
        f"{study}: transactions or subscriptions is required (a path to the input file)"]
    both = _problems(study, transactions=str(tmp_path), subscriptions=str(tmp_path))
    assert both == [f"{study}: give transactions or subscriptions, not both"]
    assert _problems(study, subscriptions=str(tmp_path)) == []


@pytest.mark.parametrize("study", ["overview", "clv", "lifecycle_segments"])
def test_transactions_are_required(study):
    assert _problems(study, with_input=False) == [
        f"{study}: transactions is required (a path to the transaction log)"]


def test_a_bad_value_is_not_reported_again_by_a_relation():
    assert _problems("clv", transactions="/no/such.csv", calibration_end="x",
                     as_of="1998-06-30") == [
        "clv: transactions file /no/such.csv does not exist",
        "clv: calibration_end must be an ISO date (YYYY-MM-DD; None: derived from the "
        "data), got 'x'"]


def test_input_files_globs_parquet_folders_and_urls(tmp_path):
    (tmp_path / "a.csv").write_text("x\n")
    (tmp_path / "pq").mkdir()
    ok = [str(tmp_path / "a.csv"), str(tmp_path / "*.csv"), str(tmp_path / "pq"),
          "s3://bucket/tx/*.parquet"]
    for value in ok:
        assert _problems("overview", transactions=value) == []
    assert _problems("overview", transactions=str(tmp_path / "b.csv")) == [
        f"overview: transactions file {tmp_path / 'b.csv'} does not exist"]
    assert _problems("overview", transactions=str(tmp_path / "*.parquet")) == [
        f"overview: transactions: no file matches {tmp_path / '*.parquet'}"]
    assert _problems("lifecycle_segments", transactions=str(tmp_path),
                     leads="/no/leads.csv") == [
        "lifecycle_segments: leads file /no/leads.csv does not exist"]
    assert "must be a path" in _problems("overview", transactions=5)[0]
    # an input switched off is not a missing file; the one that is given is used
    assert _problems("lifecycle_segments", transactions=_URL, leads=None) == []
    assert _problems("survival_churn", transactions=_URL, subscriptions=None) == []


def test_contract_options_are_checked_by_name_and_value():
    problems = _problems("overview", transactions="s3://x", contract={
        "negative_amount": "drop", "negative_amounts": "keep", "max_amount": 0,
        "earliest_date": "1900", "id_numbers": "merge"})
    assert problems[0].startswith("overview: contract: unknown option 'negative_amount' "
                                  "(the options are cancellation_prefix, earliest_date")
    assert problems[1:] == [
        "overview: contract.negative_amounts must be one of drop, net, error, got 'keep'",
        "overview: contract.max_amount must be a positive number (currency), got 0",
        "overview: contract.earliest_date must be an ISO date (YYYY-MM-DD), got '1900'"]


def test_command_line_text_is_typed_before_it_is_checked(tmp_path):
    """-p values arrive as text: the rule sees what coerce_value makes of it."""
    folder = _write_planned(tmp_path)
    studies = list_studies(folder)
    clv = next(s for s in studies if s.name == "clv")
    assert coerce_value(clv, "horizon", RawValue("52")) == 52
    out = resolve_parameters([clv], all_studies=studies, run_all=False, parameters=[
        ("horizon", RawValue("26")), ("margin", RawValue("0.25")),
        ("calibration_end", RawValue("1997-09-30")), ("encoding", RawValue("cp1252")),
        ("delimiter", RawValue(";")), ("transactions", RawValue(str(tmp_path))),
        ("contract", RawValue("{negative_amounts: net, earliest_date: 1990-01-01}"))])
    assert out["clv"]["horizon"] == 26 and out["clv"]["margin"] == 0.25
    assert out["clv"]["calibration_end"] == "1997-09-30"
    assert out["clv"]["contract"] == {"negative_amounts": "net", "earliest_date": "1990-01-01"}
    with pytest.raises(ParameterError, match="clv: horizon must be .*got 'abc'"):
        resolve_parameters([clv], all_studies=studies, run_all=False,
                           parameters=[("horizon", RawValue("abc")),
                                       ("transactions", RawValue(str(tmp_path)))])


# --------------------------------------------------------------------------- the CLI

def _write_planned(folder):
    """Study notebooks with the PLANNED parameters (and a body that must never run)."""
    folder = folder / "notebooks"
    folder.mkdir(exist_ok=True)
    for study, params in PLANNED.items():
        cell = new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items()))
        cell.metadata["tags"] = ["parameters"]
        nb = new_notebook(cells=[new_markdown_cell(f"# {study}"), cell,
                                 new_code_cell("raise RuntimeError('a kernel ran')")],
                          metadata={"kernelspec": {"name": "python3", "language": "python",
                                                   "display_name": "Python 3"}})
        nbformat.write(nb, folder / f"{_NUMBERS[study]}_{study}.ipynb")
    return folder


@pytest.fixture
def planned(tmp_path, monkeypatch):
    """(notebooks folder, the studies the executor was asked to run)."""
    started = []

    def no_kernel(study, values, study_dir, timeout, run_started, env=None, history=None):
        started.append(study.name)
        return execute.StudyResult(name=study.name, title=study.title, status="ok",
                                   parameters=dict(values), output_dir=study_dir)

    monkeypatch.setattr(execute, "_execute", no_kernel)
    tx = tmp_path / "tx.csv"
    tx.write_text("customer_id,timestamp,amount\n")
    return _write_planned(tmp_path), started, tx


def _run(folder, *args, out):
    return CliRunner().invoke(cli, ["run", *args, "--out", str(out), "--notebooks-dir",
                                    str(folder), "-q"])


@pytest.mark.parametrize("args, expected", [
    (["clv", "-p", "horizon=abc"],
     "clv: horizon must be a positive whole number of time units (time_unit), got 'abc'"),
    (["clv", "-p", "discount_rate=abc"], "clv: discount_rate must be a number in [0, 1)"),
    (["clv", "-p", "margin=abc"], "clv: margin must be a fraction of spend in (0, 1]"),
    (["clv", "-p", "calibration_end=1998-07-01", "-p", "as_of=1998-06-30"],
     "clv: calibration_end (1998-07-01) must be before as_of (1998-06-30)"),
    (["clv", "-p", "contract={bogus: 1}"], "clv: contract: unknown option 'bogus'"),
    (["overview", "-p", "encoding=latin-9000"],
     "overview: encoding must be a text encoding Python knows"),
    (["survival_churn", "-p", "risk_thresholds=[0.3, 0.1]"],
     "survival_churn: risk_thresholds must be two increasing numbers in (0, 1)"),
])
def test_cli_bad_value_is_one_line_exit_2_and_no_kernel(planned, tmp_path, args, expected):
    folder, started, tx = planned
    out = tmp_path / "out"
    result = _run(folder, *args, "-p", f"transactions={tx}", out=out)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ParameterError: ")
    assert expected in lines[0]
    assert "Traceback" not in result.output
    assert started == [] and not out.exists()


def test_cli_missing_input_file(planned, tmp_path):
    folder, started, _ = planned
    result = _run(folder, "clv", "-p", "transactions=/x/y.csv", out=tmp_path / "out")
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: ParameterError: clv: transactions file "
                                     "/x/y.csv does not exist")
    assert started == [] and not (tmp_path / "out").exists()


def test_cli_a_bad_value_in_a_config_file_names_the_study(planned, tmp_path):
    folder, started, tx = planned
    cfg = tmp_path / "c.yml"
    cfg.write_text(f"transactions: {tx}\nhorizon: abc\nclv:\n  margin: 2\n")
    result = _run(folder, "--config", str(cfg), out=tmp_path / "out")
    assert result.exit_code == 2
    msg = result.output
    assert "clv: horizon must be" in msg and "lifecycle_segments: horizon must be" in msg
    assert ("clv: margin must be a fraction of spend in (0, 1] (None: value reads as "
            "revenue), got 2") in msg
    assert started == []


def test_cli_valid_values_start_the_studies(planned, tmp_path):
    folder, started, tx = planned
    out = tmp_path / "out"
    result = _run(folder, "clv", "lifecycle_segments", "-p", f"transactions={tx}",
                  "-p", "horizon=26", "-p", "clv.calibration_end=1997-09-30",
                  "-p", "as_of=1998-06-30", "-p", "contract={negative_amounts: net}", out=out)
    assert result.exit_code == 0, result.output
    assert sorted(started) == ["clv", "lifecycle_segments"]
    run = json.loads((out / "run.json").read_text())
    assert run["studies"]["clv"]["parameters"]["horizon"] == 26
    assert run["studies"]["clv"]["parameters"]["contract"] == {"negative_amounts": "net"}
