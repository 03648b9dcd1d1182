"""The runner and the run history: every run recorded in one transaction, the change of the
figures since the last run in the reports and the index, alerts and their exit code, a run
killed at any point, two runs at once. Uses the fixture notebook
tests/fixtures/history_notebooks/10_ledger.ipynb (figures, a ledger, a data-quality record,
and the earlier runs it sees through its ``history`` parameter); each test runs on a DuckDB
file and on PostgreSQL (``history_url``)."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from clm_lib.cli import cli
from clm_lib.exceptions import ParameterError
from clm_lib.history import open_store
from clm_lib.run.execute import run_studies
from clm_lib.run.history_run import ALERT_EXIT_CODE

pytestmark = pytest.mark.slow
NOTEBOOKS = Path(__file__).parents[1] / "fixtures" / "history_notebooks"


@pytest.fixture
def tx(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,timestamp,amount\n")
    return path


def _run(out, url, tx, **params):
    return run_studies(["ledger"], out_dir=out, notebooks_dir=NOTEBOOKS, progress=False,
                       parameters={"transactions": str(tx), **params}, history=url)


def test_a_run_is_recorded_and_the_next_one_sees_it(tmp_path, history_url, tx):
    first = _run(tmp_path / "a", history_url, tx, as_of="2020-01-31")
    assert first.ok and first.history_error is None
    store = open_store(history_url)
    assert store.check() == []
    row = store.studies("ledger").iloc[0]
    assert row["run_id"] == first.run_id and row["as_of"] == "2020-01-31"
    assert row["n_forecasts"] == 2 + 2000
    assert row["fingerprint"]["files"] == {"transactions": "tx.csv"}
    assert row["fingerprint"]["data_quality"]["data_quality"]["rows_in"] == 100
    # the next run (later as-of) gets the store and scores what it finds there
    second = _run(tmp_path / "b", history_url, tx, as_of="2020-02-29")
    metrics = json.loads((tmp_path / "b" / "ledger" / "metrics.json").read_text())
    assert metrics["seen"] == [first.run_id]
    # another source is not comparable
    other = tmp_path / "other.csv"
    other.write_text("x\n")
    _run(tmp_path / "c", history_url, other, as_of="2020-03-31")
    metrics = json.loads((tmp_path / "c" / "ledger" / "metrics.json").read_text())
    assert metrics["seen"] == []
    assert len(store.runs()) == 3 and store.check() == []
    assert second.to_dict()["run_id"] == second.run_id


def test_changes_since_the_last_run_and_alerts(tmp_path, history_url, tx):
    config = tmp_path / "run.yml"
    config.write_text(yaml.safe_dump({"history": history_url, "transactions": str(tx),
                                      "alerts": {"churn_up_points": 2,
                                                 "data_quality_drop_pct": 5}}))
    runner = CliRunner()
    args = ["run", "ledger", "--notebooks-dir", str(NOTEBOOKS), "--config", str(config), "-q"]
    res = runner.invoke(cli, [*args, "--out", str(tmp_path / "a"), "--fail-on-alert"])
    assert res.exit_code == 0, res.output  # nothing to compare with yet
    # churn up 5 points, 10 % of the rows dropped: two alerts
    res = runner.invoke(cli, [*args, "--out", str(tmp_path / "b"), "-p", "churn=0.15",
                              "-p", "dropped=10", "-p", "value=1100"])
    assert res.exit_code == 0, res.output  # without --fail-on-alert an alert is no failure
    run = json.loads((tmp_path / "b" / "run.json").read_text())
    assert [a["name"] for a in run["alerts"]] == ["churn_up", "data_quality_drop"]
    assert run["alerts"][0]["value"] == pytest.approx(5.0)
    change = {c["key"]: c for c in run["studies"]["ledger"]["changes"]["changes"]}
    assert change["churn"]["change"] == pytest.approx(0.05) and change["churn"]["news"] == "bad"
    assert change["value"]["relative"] == pytest.approx(0.1) and change["value"]["news"] == "good"
    index = (tmp_path / "b" / "index.html").read_text()
    report = (tmp_path / "b" / "ledger" / "report.html").read_text()
    for page in (index, report):
        text = page.replace("\u00a0", " ")  # numbers and their units do not part
        assert "Since the last run" in text and "+5.0 pts" in text and "+$100.00 (+10.0 %)" in text
        assert "Value &lt;b&gt;next year&lt;/b&gt;" in page and "<b>next year" not in page
        assert "Churn rising" in page and "Rows dropped" in page
    # the report shows the change after the decision box, before the sections
    assert report.index("Since the last run") < report.index("<h2")
    res = runner.invoke(cli, [*args, "--out", str(tmp_path / "c"), "-p", "churn=0.2",
                              "--fail-on-alert"])
    assert res.exit_code == ALERT_EXIT_CODE, res.output
    assert "alert churn_up (ledger): Churn rate per month rose by +5.0 pts" in res.output


def test_unknown_alert_rules_and_bad_history_settings_stop_before_any_kernel(tmp_path, tx):
    config = tmp_path / "run.yml"
    config.write_text(yaml.safe_dump({"alerts": {"churn_up": 2, "data_quality_drop_pct": -1}}))
    with pytest.raises(ParameterError, match=r"unknown alert rule 'churn_up'.*"
                                             r"data_quality_drop_pct must be a number ≥ 0"):
        run_studies(["ledger"], out_dir=tmp_path / "a", notebooks_dir=NOTEBOOKS,
                    config=[config], progress=False)
    assert not (tmp_path / "a" / "run.json").exists()


def test_history_none_writes_no_store_and_the_default_sits_beside_the_runs(tmp_path, tx):
    run = _run(tmp_path / "runs" / "a", "none", tx)
    assert run.ok and run.history is None and not list(tmp_path.rglob("*.duckdb"))
    run = _run(tmp_path / "runs" / "b", None, tx)
    assert run.history == str(tmp_path / "runs" / "history.duckdb")
    assert len(open_store(run.history).runs()) == 1


def test_a_store_that_cannot_be_written_fails_the_run_and_says_why(tmp_path, tx):
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = CliRunner().invoke(cli, ["run", "ledger", "--notebooks-dir", str(NOTEBOOKS), "-q",
                                   "--out", str(tmp_path / "a"), "-p", f"transactions={tx}",
                                   "--history", str(blocker / "history.duckdb")])
    assert res.exit_code == 1
    assert "not recorded in the run history" in res.output
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["ok"] is False and "cannot create its folder" in run["history_error"]
    assert "not recorded in the run history" in (tmp_path / "a" / "index.html").read_text()
    assert (tmp_path / "a" / "ledger" / "report.html").exists()  # the reports are there


def _clm(args, **kw):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.Popen([sys.executable, "-m", "clm_lib.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, **kw)


def test_a_run_killed_at_any_point_leaves_the_store_consistent(tmp_path, history_url, tx):
    """SIGKILL to the whole run (runner and kernel) at delays spread over a run, the
    commit of its 200,000 ledger rows included; each time the store has every earlier
    run complete and nothing of the killed one, or all of it."""
    args = ["run", "ledger", "--notebooks-dir", str(NOTEBOOKS), "-q", "--history",
            history_url, "-p", f"transactions={tx}", "-p", "n_customers=200000"]
    t0 = time.monotonic()
    full = _clm([*args, "--out", str(tmp_path / "full")])
    assert full.wait(120) == 0
    length = time.monotonic() - t0
    rng = random.Random(17)
    store = open_store(history_url)
    landed = 1
    for i in range(6):
        # the last tenths of a run are the commit: aim half the kills there
        delay = length * (rng.uniform(0.1, 0.8) if i % 2 else rng.uniform(0.8, 1.05))
        proc = _clm([*args, "--out", str(tmp_path / f"k{i}")])
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert store.check() == [], f"kill {i} after {delay:.2f} s"
        runs = store.runs()
        studies = store.studies()
        assert set(runs["run_id"]) == set(studies["run_id"])
        assert (studies["n_forecasts"] == 200002).all()
        landed = len(runs)
    assert landed >= 1


def test_two_runs_at_once_both_land(tmp_path, history_url, tx):
    args = ["run", "ledger", "--notebooks-dir", str(NOTEBOOKS), "-q", "--history",
            history_url, "-p", f"transactions={tx}", "-p", "n_customers=100000"]
    procs = [_clm([*args, "--out", str(tmp_path / name)]) for name in ("a", "b")]
    assert [p.wait(180) for p in procs] == [0, 0]
    store = open_store(history_url)
    assert len(store.runs()) == 2 and store.check() == []
    assert sorted(json.loads((tmp_path / n / "run.json").read_text())["run_id"]
                  for n in ("a", "b")) == sorted(store.runs()["run_id"])


def test_a_backtest_replays_the_origins_into_one_store_and_reports_the_track_record(tmp_path, tx):
    res = CliRunner().invoke(cli, [
        "backtest", "ledger", "--notebooks-dir", str(NOTEBOOKS), "-q", "--out",
        str(tmp_path / "bt"), "-p", f"transactions={tx}", "-p", "actual=11",
        "--every", "month", "--first", "2020-01-31", "--last", "2020-03-31"])
    assert res.exit_code == 0, res.output
    folder = tmp_path / "bt"
    data = json.loads((folder / "backtest.json").read_text())
    assert data["origins"] == ["2020-01-31", "2020-02-29", "2020-03-31"]
    store = open_store(folder / "history.duckdb")
    assert sorted(store.studies("ledger")["as_of"]) == data["origins"] and store.check() == []
    # the last origin scores both earlier ones: step 2 (14 days) is covered for each;
    # forecast 20, interval 15-25, actual 11 a week -> 22, inside, error -9.1 %
    record = data["track_record"]["ledger"]
    assert record["origin"] == "2020-03-31" and record["scored"] == 2
    assert [e["as_of"] for e in record["entries"]] == ["2020-01-31", "2020-02-29"]
    assert all(e["step"] == 2 and e["actual"] == pytest.approx(22) for e in record["entries"])
    assert record["coverage"] == 1.0
    assert record["mean_abs_error"] == pytest.approx(2 / 22)
    page = (folder / "index.html").read_text().replace("\u00a0", " ")
    assert "2 forecasts scored; mean absolute error 9.1 %" in page
    assert "100 % of the actuals fell inside their predictive intervals" in page
    assert "2020-01-31 to 2020-02-14" in page and "−9.1 %" in page
    for origin in data["origins"]:
        assert (folder / origin / "ledger" / "report.html").exists()
    # as_of is the backtest's own
    res = CliRunner().invoke(cli, ["backtest", "ledger", "--notebooks-dir", str(NOTEBOOKS),
                                   "--origins", "2020-01-31", "-p", "as_of=2020-01-01"])
    assert res.exit_code == 2 and "sets as_of itself" in res.output
    # every origin's run is checked before any starts: nothing is written
    res = CliRunner().invoke(cli, ["backtest", "ledger", "--notebooks-dir", str(NOTEBOOKS),
                                   "--out", str(tmp_path / "bad"), "--origins",
                                   "2020-01-31,2020-02-29", "-p", "no_such_parameter=1"])
    assert res.exit_code == 2 and "no_such_parameter" in res.output
    assert not (tmp_path / "bad").exists()
