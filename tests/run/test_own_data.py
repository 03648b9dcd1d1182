"""A user's own data on the first try, end to end through the command line: a file with
the canonical column names runs every study with one parameter, and an order-line export
shaped like the public Online Retail log goes from `clm init` through `clm validate` to
the reports with every row accounted for."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from clm_lib.cli import cli
from clm_lib.config import CDNOW_MASTER
from clm_lib.synthetic import simulate_order_lines

pytestmark = pytest.mark.slow


def _run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _statuses(out) -> dict:
    run = json.loads((out / "run.json").read_text())
    return {name: (s["status"], s["error"]) for name, s in run["studies"].items()}


def test_canonical_columns_run_every_study_with_one_parameter(tmp_path):
    """CDNOW master with the canonical names (customer_id, timestamp, amount, quantity):
    `clm run -p transactions=FILE` runs the four transaction studies and survival by
    inactivity, each observing the data to their last day (1998-06-30), which it says."""
    raw = pd.read_csv(CDNOW_MASTER, dtype=str)
    log = tmp_path / "orders.csv"
    raw.rename(columns={"date": "timestamp", "dollars": "amount", "cds": "quantity"}).to_csv(
        log, index=False)
    out = tmp_path / "run"
    code, text = _run("run", "-p", f"transactions={log}", "--out", str(out), "-q")
    assert code == 0, text
    statuses = _statuses(out)
    assert set(statuses) == {"overview", "cohort_retention", "survival_churn", "clv",
                             "lifecycle_segments"}
    assert all(s == ("ok", None) for s in statuses.values()), statuses
    for name in statuses:
        m = json.loads((out / name / "metrics.json").read_text())
        assert (m["as_of"], m["as_of_source"]) == ("1998-06-30", "data"), name
    clv = json.loads((out / "clv" / "metrics.json").read_text())
    assert clv["calibration_end_source"] == "data" and clv["value_basis"] == "revenue"
    surv = json.loads((out / "survival_churn" / "metrics.json").read_text())
    assert surv["covariates_chosen"] == []


@pytest.fixture(scope="module")
def retail(tmp_path_factory):
    """An Online-Retail-shaped export (latin-1, US dates with times, invoices of order
    lines, guests without a customer id, C-prefixed cancellations), its config from
    `clm init` with the cancellation rule switched on, and the answer key."""
    d = tmp_path_factory.mktemp("retail")
    lines, truth = simulate_order_lines(400, seed=7)
    path = d / "online_retail.csv"
    lines.to_csv(path, index=False, encoding="latin-1")
    config = d / "retail.yml"
    code, text = _run("init", str(path), "-o", str(config))
    assert code == 0, text
    cfg = yaml.safe_load(config.read_text())
    cfg["contract"] = {"cancellation_prefix": "C"}
    config.write_text(yaml.safe_dump(cfg))
    return path, config, cfg, truth


def test_init_guesses_the_order_line_shape(retail):
    _, _, cfg, _ = retail
    assert cfg["columns"] == {"InvoiceNo": "order_id", "StockCode": "product",
                              "Quantity": "quantity", "InvoiceDate": "timestamp",
                              "UnitPrice": "unit_price", "CustomerID": "customer_id"}
    assert cfg["encoding"] == "latin-1" and cfg["date_format"] == "%m/%d/%Y %H:%M"
    assert {"overview", "clv", "lifecycle_segments"} <= set(cfg["studies"])


def test_every_order_line_is_accounted_for(retail):
    _, config, _, truth = retail
    code, text = _run("validate", "--config", str(config), "--json")
    assert code == 0, text
    dq = json.loads(text)
    assert dq["rows_in"] == truth["lines"]
    assert dq["rows_in"] == dq["rows_used"] + sum(dq["dropped"].values())
    assert dq["dropped"]["missing customer_id"] == truth["guest_lines"]
    cancelled = [n for r, n in dq["dropped"].items() if "cancellation" in r]
    assert cancelled == [truth["cancelled_lines"]]
    assert sum(n for r, n in dq["dropped"].items() if "duplicate" in r) == truth["repeated_lines"]


def test_order_lines_run_through_overview_clv_and_lifecycle(retail, tmp_path):
    _, config, _, truth = retail
    out = tmp_path / "run"
    code, text = _run("run", "overview", "clv", "lifecycle_segments", "--config", str(config),
                      "--out", str(out), "-q")
    assert code == 0, text
    assert all(s == ("ok", None) for s in _statuses(out).values()), _statuses(out)
    m = json.loads((out / "overview" / "metrics.json").read_text())
    assert m["customers"] == truth["customers"] and m["orders"] == truth["orders"]
    assert m["revenue"] == pytest.approx(truth["revenue"], rel=1e-9)
    dq = m["data_quality"]
    assert dq["rows_in"] == dq["rows_used"] + sum(dq["dropped"].values()) == truth["lines"]


def test_canonical_subscriptions_run_survival_and_cohorts_with_one_parameter(tmp_path):
    """The Telco snapshot with the canonical names (customer_id, tenure, churned):
    `-p subscriptions=FILE` alone runs survival (covariates chosen from the columns, no
    value basis) and cohort retention (the snapshot's synthetic cohort)."""
    from clm_lib.config import TELCO_CHURN

    raw = pd.read_csv(TELCO_CHURN, dtype=str)
    subs = tmp_path / "subs.csv"
    raw.rename(columns={"customerID": "customer_id", "Churn": "churned"}).to_csv(subs, index=False)
    out = tmp_path / "run"
    code, text = _run("run", "survival_churn", "cohort_retention", "-p", f"subscriptions={subs}",
                      "--out", str(out), "-q")
    assert code == 0, text
    assert all(s == ("ok", None) for s in _statuses(out).values()), _statuses(out)
    surv = json.loads((out / "survival_churn" / "metrics.json").read_text())
    assert surv["covariates_source"] == "data" and "TotalCharges" in surv["covariates_left_out"]
    cohort = json.loads((out / "cohort_retention" / "metrics.json").read_text())
    assert cohort["form"] == "snapshot" and cohort["as_of"] is None
