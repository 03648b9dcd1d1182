# Without Airflow, the same run from cron (Mondays 06:00; exit 3 = an alert fired):
#   0 6 * * 1  cd /opt/clm && .venv/bin/clm run --config examples/cdnow.yml --history reports/history.duckdb --fail-on-alert >> reports/cron.log 2>&1 || echo "clm run: exit $?" | mail -s "CLM run" team@example.com
"""The CLM studies on a schedule, as an Airflow DAG (Airflow 2.x and 3.x).

Two tasks:

``run_studies``
    ``clm run --config CONFIG --history HISTORY --fail-on-alert`` in the workbench's folder.
    Its exit code: 0 all studies ran and no alert fired; 3 an alert fired (the studies ran
    and their reports are written: the task succeeds and leaves the alerts to the next
    task); 1 a study failed, 2 bad usage (the task fails, and so the DAG run).
``check_alerts``
    reads ``REPORTS/latest/run.json`` of that run, logs each alert and fails (without
    retries) when there is one, so that Airflow's failure notice (e-mail, a callback) tells
    the team.

Settings, each an Airflow Variable, else an environment variable, else the default:

=============  ================  ==========================  ===============================
Variable       environment       default                     what
=============  ================  ==========================  ===============================
clm_home       CLM_HOME          /opt/clm                    the workbench's folder (cwd)
clm_bin        CLM_BIN           .venv/bin/clm               the ``clm`` command
clm_config     CLM_CONFIG        examples/cdnow.yml          the run's config file
clm_history    CLM_HISTORY       reports/history.duckdb      the run-history store (a DuckDB
                                                             file or a postgresql:// URL)
clm_reports    CLM_REPORTS       reports                     where ``latest/`` is
=============  ================  ==========================  ===============================

Relative paths are taken from ``clm_home``. Copy this file to the DAG folder.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

try:  # Airflow 3 (and Airflow 2 with the standard provider)
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator
    from airflow.operators.python import PythonOperator
try:  # Airflow 3: the task SDK
    from airflow.sdk import DAG, Variable
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.models import Variable
from airflow.exceptions import AirflowFailException

DAG_ID = "clm_studies"

#: Each setting: (Airflow Variable, environment variable, default).
SETTINGS = {
    "home": ("clm_home", "CLM_HOME", "/opt/clm"),
    "bin": ("clm_bin", "CLM_BIN", ".venv/bin/clm"),
    "config": ("clm_config", "CLM_CONFIG", "examples/cdnow.yml"),
    "history": ("clm_history", "CLM_HISTORY", "reports/history.duckdb"),
    "reports": ("clm_reports", "CLM_REPORTS", "reports"),
}

#: The exit code of ``clm run --fail-on-alert`` when the studies ran and an alert fired.
ALERT_EXIT = 3

log = logging.getLogger(__name__)


def _template(name: str) -> str:
    """A setting as a Jinja expression, read when the task runs (not each time the
    scheduler parses this file): the Variable, else the environment's value or the default
    as it was when the file was parsed."""
    variable, env, default = SETTINGS[name]
    return "{{ var.value.get(%r, %r) }}" % (variable, os.environ.get(env, default))


def _setting(name: str) -> str:
    variable, env, default = SETTINGS[name]
    # positional: the default's keyword is default_var in Airflow 2, default in 3
    return Variable.get(variable, None) or os.environ.get(env, default)


RUN_COMMAND = f"""
cd "{_template('home')}" || exit 2
"{_template('bin')}" run --config "{_template('config')}" --history "{_template('history')}" --fail-on-alert
rc=$?
if [ "$rc" -eq {ALERT_EXIT} ]; then
  echo "clm run: an alert fired (the check_alerts task reports it)"
  exit 0
fi
exit "$rc"
"""


def alert_lines(run: dict) -> list[str]:
    """The alerts of a run (``run.json`` as a dict) in words, one line each."""
    lines = []
    for alert in run.get("alerts") or []:
        if isinstance(alert, dict):
            text = alert.get("message") or alert.get("text") or json.dumps(alert, sort_keys=True)
            where = alert.get("study")
            lines.append(f"{where}: {text}" if where else str(text))
        else:
            lines.append(str(alert))
    return lines


def check_alerts() -> None:
    """Log the alerts of the latest run and fail when there is one."""
    reports = Path(_setting("reports"))
    if not reports.is_absolute():
        reports = Path(_setting("home")) / reports
    path = reports / "latest" / "run.json"
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AirflowFailException(f"cannot read {path}: {exc}") from None
    lines = alert_lines(run)
    for line in lines:
        log.warning("CLM alert: %s", line)
    if lines:
        raise AirflowFailException(f"{len(lines)} CLM alert(s) in {path}: " + "; ".join(lines))
    log.info("CLM run %s: no alerts", run.get("started"))


with DAG(
    dag_id=DAG_ID,
    description="CLM studies with their track record; fails when an alert fires",
    schedule="0 6 * * 1",  # Mondays 06:00 (the studies' data are weekly)
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,  # one run at a time: they share the history store
    tags=["clm"],
) as dag:
    run_studies = BashOperator(task_id="run_studies", bash_command=RUN_COMMAND)
    alerts = PythonOperator(task_id="check_alerts", python_callable=check_alerts)
    run_studies >> alerts
