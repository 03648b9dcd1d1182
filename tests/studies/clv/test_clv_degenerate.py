"""Logs too small or too flat for the customer-base models: the CLV and lifecycle studies
say which model was not fitted and why, and go on with the rest (issue: degenerate data
refused by the data, not by the optimiser)."""
import json

import numpy as np
import pandas as pd
import pytest

from clm_lib.io import load_transactions
from clm_lib.studies.clv import report
from clm_lib.studies.clv.compute import clv_study
from clm_lib.studies.lifecycle_segments import compute as lc
from clm_lib.studies.lifecycle_segments import report as lcr

AS_OF, CAL_END = "2020-06-30", "2020-03-31"


def _log(ids, days, amounts=None):
    ids = [str(i) for i in ids]
    return pd.DataFrame({"customer_id": ids, "timestamp": days,
                         "amount": amounts if amounts is not None else np.arange(len(ids)) + 1.0})


#: the four shapes a new user's file takes that no model can be fitted on, and what the
#: purchase models (BG/NBD) and the spend model (Gamma-Gamma) must say about each
CASES = {
    "one customer": (
        _log(["a"] * 4, ["2020-01-01", "2020-02-01", "2020-03-01", "2020-05-01"], [10, 20, 30, 40]),
        "1 customer, at least 10 are needed", "1 customer with repeat spend"),
    "one transaction": (
        _log(["a"], ["2020-01-01"]), "1 customer, at least 10 are needed",
        "0 customers with repeat spend"),
    "all purchases on one day": (
        _log(list(range(50)) * 2, ["2020-03-01"] * 100),
        "no customer has a repeat purchase (50 customers, all with frequency 0)",
        "0 customers with repeat spend"),
    "one repeat spender": (
        _log(["r"] * 3 + list(range(40)), ["2020-01-01", "2020-01-20", "2020-03-05"]
             + [f"2020-01-{i % 28 + 1:02d}" for i in range(40)]),
        None, "1 customer with repeat spend"),
}


@pytest.fixture(params=list(CASES))
def case(request):
    log, bg_says, gg_says = CASES[request.param]
    data, _ = load_transactions(log)
    return data, bg_says, gg_says


def test_clv_study_reports_what_was_not_fitted_and_why(case):
    data, bg_says, gg_says = case
    study = clv_study(data, calibration_end=CAL_END, as_of=AS_OF, n_draws=20)
    errors = study.model_errors
    assert errors["gamma_gamma_all_data"].startswith(f"not fitted (all data to {AS_OF}): ")
    assert gg_says in errors["gamma_gamma_all_data"] and gg_says in errors["gamma_gamma"]
    if bg_says is not None:
        # nothing fitted on the calibration: the first candidate is tried on all data
        assert study.value_model == "pareto_nbd" and not study.value_model_selected
        for key in ("bgnbd", "pareto_nbd", "mbgnbd", "pareto_nbd_all_data"):
            assert bg_says in errors[key], key
        assert errors["bgnbd"].startswith(f"not fitted (calibration to {CAL_END}): ")
        assert study.tracking is None and study.p_alive_grid is None
    # no value without a spend model; what can be shown is still shown
    assert study.values is None and study.final_spend_model is None
    d = report.decision(study)
    assert f"Gamma-Gamma on all data not fitted (all data to {AS_OF}): " in d.findings[0]
    assert gg_says in d.findings[0]
    assert "No customer value could be computed" in d.findings[-1]
    assert d.actions and report.lifecycle(study) == []
    metrics = report.clv_metrics(study)
    assert metrics["model_errors"] == errors and metrics["headline"]["Customer value"] == "not fitted"
    json.dumps(metrics)  # JSON-ready
    export = report.customer_export(study)
    assert len(export) == len(study.full) and "clv" not in export
    cols = report.export_columns(study)["customer_value"]
    assert set(export.columns) <= set(cols)
    note = report.not_fitted_note(errors, "gamma_gamma_all_data")
    assert note.startswith("Gamma-Gamma on all data not fitted (all data to ") and gg_says in note
    assert "cannot be fitted" not in note  # the model is not named twice
    assert report.section_note(study, "value") == report.not_fitted_note(
        errors, f"{study.value_model}_all_data", "gamma_gamma_all_data")


def test_lifecycle_study_goes_on_without_value_models(case):
    data, bg_says, gg_says = case
    study = lc.lifecycle_study(data, as_of=AS_OF, flow_start="2020-03-01", new_days=30,
                               at_risk_days=60, lapsed_days=90)
    assert study.values is None and study.what_if is None and study.model is None
    assert gg_says in study.model_errors["gamma_gamma"]
    if bg_says is not None:
        assert bg_says in study.model_errors["bgnbd"]
    assert "clv_share" not in study.stage_summary and "clv" not in study.segments
    assert int(study.stage_summary["customers"].sum()) == data["customer_id"].nunique()
    confidence = lcr.decision(study).confidence
    assert "Expected values were not estimated: " in confidence and "not fitted" in confidence
    assert [f["stage"] for f in lcr.lifecycle_figures(study)] == ["loyalty", "retention"]
    metrics = lcr.lifecycle_metrics(study)
    assert metrics["model_errors"] == study.model_errors and metrics["what_if"] == {}
    assert metrics["bgnbd_params"] is None
    json.dumps(metrics)
    export = lcr.customer_export(study)
    assert len(export) == data["customer_id"].nunique() and export["clv"].isna().all()


# ---- the reports -------------------------------------------------------------------------
def _run(run_notebook, notebook, tmp_path, **parameters):
    import nbformat

    src = tmp_path / "one_day.csv"
    log, _, _ = CASES["all purchases on one day"]
    log.to_csv(src, index=False)
    out = run_notebook(notebook, transactions=str(src), columns=None, as_of=AS_OF, **parameters)
    run = nbformat.read(out.parent / "run.ipynb", as_version=4)
    shown = "\n".join(str(o.get("data", {}).get("text/markdown", "")) + str(o.get("data", {}).get("text/html", ""))
                      for c in run["cells"] for o in c.get("outputs", []))
    return json.loads((out / "metrics.json").read_text()), shown


@pytest.mark.slow
def test_clv_report_says_not_fitted(run_notebook, tmp_path):
    # the example config asks for the quantity covariate, which this log has not
    metrics, shown = _run(run_notebook, "30_clv.ipynb", tmp_path, calibration_end=CAL_END, n_draws=20,
                          covariates=[])
    assert "no customer has a repeat purchase" in metrics["model_errors"]["bgnbd"]
    assert "BG/NBD not fitted (calibration to 2020-03-31): no customer has a repeat purchase" in shown
    assert "No customer value could be computed" in shown


@pytest.mark.slow
def test_lifecycle_report_says_not_fitted(run_notebook, tmp_path):
    metrics, shown = _run(run_notebook, "40_lifecycle_segments.ipynb", tmp_path, flow_start="2020-03-01",
                          new_days=30, at_risk_days=60, lapsed_days=90)
    assert "no customer has a repeat purchase" in metrics["model_errors"]["bgnbd"]
    assert "BG/NBD not fitted (all data to 2020-06-30): no customer has a repeat purchase" in shown


def test_a_fit_too_uncertain_to_draw_from_keeps_its_expectations(monkeypatch):
    """When no parameter draws can be made (ConvergenceError from sample_params), the
    holdout keeps its errors, the value forecast and the window forecasts keep their
    expectations, and the report says why there is no interval."""
    from clm_lib.clv.base import MLEModel
    from clm_lib.exceptions import ConvergenceError

    def refuse(self, n, seed=0):
        raise ConvergenceError(model=self.label, reason="the parameters are too uncertain "
                               "to draw from")

    from clm_lib.config import CDNOW_SAMPLE
    d = pd.read_csv(CDNOW_SAMPLE, dtype={"customer_id": str})
    data = pd.DataFrame({"customer_id": d["customer_id"].astype("string"),
                         "timestamp": pd.to_datetime(d["date"]), "amount": d["dollars"]})
    monkeypatch.setattr(MLEModel, "sample_params", refuse)
    study = clv_study(data, calibration_end="1997-09-30", as_of="1998-06-30", n_draws=20)
    assert study.values is not None and study.forecast["clv_total"] > 0
    assert "too uncertain to draw from" in study.forecast["interval_error"]
    assert "clv_total_predictive_interval" not in study.forecast
    assert "clv_lower" not in study.values
    assert "too uncertain" in study.windows.attrs["interval_error"]
    assert study.windows["purchases"].gt(0).all() and study.windows["value_lower"].isna().all()
    assert all("interval_error" in h for h in study.holdout.values())
    confidence = report.decision(study).confidence
    assert "No predictive intervals: " in confidence and "too uncertain" in confidence
    json.dumps(report.clv_metrics(study), default=str)
