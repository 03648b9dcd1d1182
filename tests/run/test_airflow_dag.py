"""The Airflow example (examples/airflow/clm_dag.py): it compiles; with Airflow installed,
DagBag loads it without import errors into the expected tasks; without Airflow, it is
loaded against a stand-in of the few Airflow names it uses (its Airflow 2 fall-backs),
and its alert check is run on hand-made run.json files."""
from __future__ import annotations

import importlib.util
import json
import runpy
import sys
import types
from pathlib import Path

import pytest

from clm_lib.config import EXAMPLES_DIR

DAG_FILE = EXAMPLES_DIR / "airflow" / "clm_dag.py"
TASKS = {"run_studies", "check_alerts"}


def test_the_dag_file_compiles_and_says_how_to_run_from_cron():
    source = DAG_FILE.read_text(encoding="utf-8")
    compile(source, str(DAG_FILE), "exec")
    head = source.splitlines()[:3]
    cron = [line for line in head if line.startswith("#") and "clm run" in line]
    assert cron and "--history" in cron[0] and "--fail-on-alert" in cron[0]
    assert cron[0].split()[1:6] == ["0", "6", "*", "*", "1"]  # a cron schedule, five fields


@pytest.mark.skipif(importlib.util.find_spec("airflow") is None,
                    reason="Airflow is not installed (it is not a dependency of the "
                           "workbench): the DagBag check needs it")
def test_dagbag_loads_the_dag():
    from airflow.models import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE), include_examples=False)
    assert bag.import_errors == {}
    dag = bag.get_dag("clm_studies")
    assert {t.task_id for t in dag.tasks} == TASKS
    assert dag.get_task("check_alerts").upstream_task_ids == {"run_studies"}
    assert dag.catchup is False
    assert "--fail-on-alert" in dag.get_task("run_studies").bash_command


# -- without Airflow: a stand-in for the names the file imports ------------------------
class _Task:
    def __init__(self, task_id, **kwargs):
        self.task_id, self.kwargs, self.upstream = task_id, kwargs, set()
        _Dag.current.tasks.append(self)

    def __rshift__(self, other):
        other.upstream.add(self.task_id)
        return other


class _Dag:
    current = None

    def __init__(self, **kwargs):
        self.kwargs, self.tasks = kwargs, []

    def __enter__(self):
        _Dag.current = self
        return self

    def __exit__(self, *exc):
        _Dag.current = None


class _FailException(Exception):
    pass


class _Variable:
    values: dict = {}

    @classmethod
    def get(cls, key, default):  # the file passes the default by position (2.x and 3.x)
        return cls.values.get(key, default)


@pytest.fixture
def stand_in(monkeypatch):
    """Airflow 2's module layout (no providers.standard, no sdk) with stand-ins."""
    mods = {
        "airflow": {"DAG": _Dag},
        "airflow.operators": {},
        "airflow.operators.bash": {"BashOperator": _Task},
        "airflow.operators.python": {"PythonOperator": _Task},
        "airflow.models": {"Variable": _Variable},
        "airflow.exceptions": {"AirflowFailException": _FailException},
    }
    for name, attrs in mods.items():
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attrs, __path__=[]))
    # the Airflow 3 modules are absent: importing them fails
    for name in ("airflow.providers", "airflow.providers.standard",
                 "airflow.providers.standard.operators",
                 "airflow.providers.standard.operators.bash", "airflow.sdk"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(_Variable, "values", {})
    return runpy.run_path(str(DAG_FILE))


@pytest.mark.skipif(importlib.util.find_spec("airflow") is not None,
                    reason="Airflow is installed: test_dagbag_loads_the_dag checks the real one")
def test_the_dag_wires_the_run_and_the_alert_check(stand_in):
    dag = stand_in["dag"]
    tasks = {t.task_id: t for t in dag.tasks}
    assert set(tasks) == TASKS
    assert tasks["check_alerts"].upstream == {"run_studies"}
    assert dag.kwargs["catchup"] is False and dag.kwargs["schedule"]
    command = tasks["run_studies"].kwargs["bash_command"]
    assert " run --config " in command and "--fail-on-alert" in command
    assert "{{ var.value.get('clm_history', " in command  # settings read at run time
    # exit 3 (an alert) lets the check run; 1 and 2 fail the task
    assert '"$rc" -eq 3' in command and 'exit "$rc"' in command
    assert tasks["check_alerts"].kwargs["python_callable"] is stand_in["check_alerts"]


@pytest.mark.skipif(importlib.util.find_spec("airflow") is not None,
                    reason="Airflow is installed: test_dagbag_loads_the_dag checks the real one")
def test_the_alert_check_fails_only_on_alerts(stand_in, tmp_path, monkeypatch):
    latest = tmp_path / "reports" / "latest"
    latest.mkdir(parents=True)
    monkeypatch.setattr(_Variable, "values", {"clm_home": str(tmp_path)})
    check = stand_in["check_alerts"]
    (latest / "run.json").write_text(json.dumps({"started": "x", "ok": True, "alerts": []}))
    check()  # no alert: passes
    alerts = [{"study": "clv", "message": "churn up 3.1 points"}, "a plain alert"]
    (latest / "run.json").write_text(json.dumps({"ok": True, "alerts": alerts}))
    with pytest.raises(_FailException, match=r"2 CLM alert\(s\).*clv: churn up 3\.1 points; "
                                             r"a plain alert"):
        check()
    (latest / "run.json").unlink()
    with pytest.raises(_FailException, match="cannot read"):
        check()
