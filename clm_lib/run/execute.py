"""The batch runner: execute study notebooks with papermill and publish HTML reports.

Output layout of one run (``DIR`` is ``out_dir``, or ``reports/<YYYYmmdd-HHMMSS>/`` with
``reports/latest`` pointing at the newest finished run)::

    DIR/run.json                 per study: status (ok/failed/timeout; cancelled after
                                 Ctrl-C), start, duration, error summary; parameters
    DIR/index.html               links every study with its status and headline numbers
    DIR/<study>/notebook.ipynb   the executed notebook (kept when it fails)
    DIR/<study>/report.html      self-contained stakeholder report (only for successful runs)
    DIR/<study>/metrics.json     key results, written by the notebook (``save_metrics``)
    DIR/<study>/exports/         per-customer tables, written by the notebook (``save_export``)
    DIR/<study>/forecasts.parquet  the study's forecasts for the ledger (``save_forecasts``)

Every run is recorded in the run-history store (:mod:`clm_lib.history`; which store:
:func:`clm_lib.run.history_run.history_url`) once all its studies have ended, in one
transaction: the run, and per successful study its figures, metrics and forecasts. Studies
that declare a ``history`` parameter get the store's URL, to score earlier forecasts; each
report and the index show the change of the headline figures since the last run of the
same study on the same data, and the alerts of the run's ``alerts:`` rules.

Notebooks run in-process through :func:`papermill.execute_notebook` (no command-line
start-up), each in its own kernel ``python3`` with the notebooks folder as working
directory; the runner injects ``output_dir`` = the absolute path of ``DIR/<study>``.
Studies run in parallel threads, one kernel each.

Parameters are resolved by :mod:`clm_lib.run.parameters` and checked against the rules of
:mod:`clm_lib.run.checks`, and the output folder is tried for writing, all before any
kernel starts: a problem is one :class:`~clm_lib.exceptions.ParameterError`.
"""
from __future__ import annotations

import datetime as _dt
import errno
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from clm_lib.exports import EXPORT_IDS_ENV, KEY_ENV
from clm_lib.history import HistoryError, open_store, study_record
from clm_lib.run import history_run
from clm_lib.run import html as report_html
from clm_lib.run.index_page import index_html
from clm_lib.config import REPORTS_DIR, available_cores
from clm_lib.exceptions import ClmError, ParameterError, StudyNotFoundError
from clm_lib.run.discovery import Study, get_study, list_studies
from clm_lib.run.parameters import RawValue, config_studies, load_configs, resolve_parameters

__all__ = ["RunResult", "StudyResult", "plan_run", "run_studies"]

KERNEL_NAME = "python3"

# papermill/nbclient log cell time-outs and kernel messages as errors; the runner reports
# them itself (progress line, run.json), so keep them off the terminal unless the
# application configured logging.
for _name in ("papermill",):
    if not logging.getLogger(_name).handlers:
        logging.getLogger(_name).addHandler(logging.NullHandler())


_KERNELS: "weakref.WeakSet" = weakref.WeakSet()


_IPC_DIR: list = []


def _ipc_address() -> str | None:
    """A fresh Unix-socket address prefix for one kernel, or None where there are none.

    Kernels talk over Unix sockets where the platform has them: over TCP the manager picks
    five free ports and the kernel binds them a moment later, and a kernel started by
    another process in between (a second run, a parallel test worker) can take one of them
    ("Address already in use"; the kernel dies before it answers). A socket file in a folder
    of this process cannot be taken. The folder is short-named (socket paths are limited to
    about 100 characters) and removed when the process ends."""
    if os.name != "posix":
        return None
    if not _IPC_DIR:
        import atexit

        folder = tempfile.mkdtemp(prefix="clm-kernels-")
        atexit.register(shutil.rmtree, folder, True)
        _IPC_DIR.append(folder)
    address = os.path.join(_IPC_DIR[0], secrets.token_hex(6))
    return address if len(address) + 3 <= 100 else None


def _tracked_kernel_manager_class(env: Mapping[str, str] | None = None):
    """nbclient's default kernel manager, remembering its kernels so that Ctrl-C on a
    run can end them at once (kernels run in their own session and do not get the
    terminal's SIGINT), starting them with ``env`` added to their environment, and
    connecting to them over Unix sockets where there are some (:func:`_ipc_address`)."""
    from jupyter_client.manager import AsyncKernelManager, KernelManager

    extra = dict(env or {})

    class TrackedKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            address = _ipc_address()
            if address is not None and not self._connection_file_written:
                self.transport, self.ip, self.cache_ports = "ipc", address, False
            if extra:
                kw["env"] = {**(kw.get("env") or os.environ), **extra}
            await KernelManager._async_start_kernel(self, **kw)
            _KERNELS.add(self)

    return TrackedKernelManager


def _kill_running_kernels() -> None:
    for km in list(_KERNELS):
        process = getattr(getattr(km, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            try:
                process.kill()
            except OSError:
                pass


@dataclass
class StudyResult:
    """Outcome of one study in a run."""

    name: str
    title: str
    status: str = "pending"  # "ok", "failed", "timeout" (or "cancelled" on Ctrl-C)
    duration_s: float | None = None
    error: dict | None = None
    parameters: dict = field(default_factory=dict)
    output_dir: Path | None = None
    started: str | None = None
    #: the change of the figures since the last run (history_run.study_changes), or None
    changes: dict | None = None
    alerts: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def report(self) -> Path | None:
        return self.output_dir / "report.html" if self.ok and self.output_dir else None

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "status": self.status,
            "started": self.started,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "error": self.error,
            "parameters": _jsonable(self.parameters),
            "notebook": f"{self.name}/notebook.ipynb",
            "report": f"{self.name}/report.html" if self.ok else None,
            "changes": _jsonable(self.changes),
            "alerts": _jsonable(self.alerts),
        }


@dataclass
class RunResult:
    """Outcome of a run: where it was written and one :class:`StudyResult` per study."""

    out_dir: Path
    started: str
    finished: str | None
    studies: dict[str, StudyResult]
    parameters: dict = field(default_factory=dict)
    run_id: str = ""
    #: the history store (its name, a password hidden), None when switched off
    history: str | None = None
    #: why the run could not be recorded in the history store, None when it was
    history_error: str | None = None

    @property
    def ok(self) -> bool:
        """True when every study succeeded and the run was recorded."""
        return all(r.ok for r in self.studies.values()) and self.history_error is None

    @property
    def alerts(self) -> list[dict]:
        """Every alert of the run's studies."""
        return [a for r in self.studies.values() for a in r.alerts]

    def exit_code(self, fail_on_alert: bool = False) -> int:
        """0 success; 1 a study failed or the run was not recorded; with
        ``fail_on_alert``, 3 (:data:`history_run.ALERT_EXIT_CODE`) when an alert fired."""
        if not self.ok:
            return 1
        if fail_on_alert and self.alerts:
            return history_run.ALERT_EXIT_CODE
        return 0

    @property
    def failed(self) -> list[str]:
        return [n for n, r in self.studies.items() if not r.ok]

    @property
    def index(self) -> Path:
        return self.out_dir / "index.html"

    @property
    def run_json(self) -> Path:
        return self.out_dir / "run.json"

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "started": self.started,
            "finished": self.finished,
            "ok": self.ok,
            "history": self.history,
            "history_error": self.history_error,
            "alerts": _jsonable(self.alerts),
            "parameters": _jsonable(self.parameters),
            "studies": {n: r.to_dict() for n, r in self.studies.items()},
        }


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def _now() -> str:
    # Milliseconds: run.json must show which studies ran at the same time.
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0][:500] if lines else ""


def _unwritable(folder: Path, exc: OSError) -> ParameterError:
    reason = {errno.ENOTDIR: "a part of the path is a file, not a folder",
              errno.EEXIST: "it is a file, not a folder",
              errno.EACCES: "permission denied",
              errno.EPERM: "permission denied",
              errno.EROFS: "the file system is read-only",
              errno.ENOSPC: "no space left on the device"}.get(
        exc.errno, exc.strerror or type(exc).__name__)
    return ParameterError(f"cannot write the output folder {folder}: {reason}")


def _writable_dir(folder: Path) -> Path:
    """``folder``, created if needed, after writing and removing a probe file in it (so
    that a read-only mount or a folder without permission fails here, before any kernel
    starts, and not when the first study writes its notebook).

    Raises
    ------
    ParameterError
        Naming the folder and the reason (a path under a file, permission denied, a
        read-only file system).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not folder.is_dir():  # an existing file: mkdir(exist_ok) may not say so
            raise FileExistsError(errno.EEXIST, "File exists", str(folder))
        fd, probe = tempfile.mkstemp(prefix=".clm-write-check-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _unwritable(folder, exc) from None
    return folder


def _default_out_dir(reports_dir: Path) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    _writable_dir(reports_dir)
    for i in range(1, 1000):
        candidate = reports_dir / (stamp if i == 1 else f"{stamp}-{i}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
        except OSError as exc:
            raise _unwritable(candidate, exc) from None
    raise ClmError(f"cannot create a run folder in {reports_dir}")


def _point_latest(reports_dir: Path, target: Path) -> None:
    """Make ``reports_dir/latest`` a relative symlink to ``target``, replaced atomically."""
    link = reports_dir / "latest"
    tmp = reports_dir / f".latest.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    os.symlink(os.path.relpath(target, reports_dir), tmp, target_is_directory=True)
    os.replace(tmp, link)


def _clear_previous(study_dir: Path) -> None:
    """Remove a previous run's artefacts so that nothing stale is published."""
    for name in ("report.html", "metrics.json", "notebook.ipynb"):
        try:
            (study_dir / name).unlink()
        except FileNotFoundError:
            pass
    shutil.rmtree(study_dir / "exports", ignore_errors=True)


def _source_cell_index(executed_path: Path, match) -> int | None:
    """0-based index, in the study notebook, of the executed cell selected by ``match``
    (papermill's injected-parameters and error-marker cells are not counted)."""
    import nbformat

    try:
        nb = nbformat.read(executed_path, as_version=4)
    except Exception:  # noqa: BLE001 - the notebook may be unreadable after a crash
        return None
    idx = 0
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if "injected-parameters" in tags or any(t.startswith("papermill-error") for t in tags):
            continue
        if match(cell):
            return idx
        idx += 1
    return None


def _has_error(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", [])) or bool(
        cell.get("metadata", {}).get("papermill", {}).get("exception"))


def _run_settings(configs: Sequence = ()) -> dict:
    """The run settings of the config files (``RUN_KEYS``), later files overriding."""
    settings: dict = {}
    for cfg in configs:
        settings.update(getattr(cfg, "run", {}) or {})
    return settings


def _run_environment(configs: Sequence = ()) -> dict[str, str]:
    """What every kernel of one run gets in its environment: the key of the pseudonyms in
    the reports (a config's ``pseudonym_key``, else ``$CLM_PSEUDONYM_KEY``, else drawn for
    this run, so the reports of a run agree with each other and no two runs share a key),
    and which ids the exports carry (a config's ``export_ids``, default the real ids)."""
    settings = _run_settings(configs)
    key = settings.get("pseudonym_key") or os.environ.get(KEY_ENV) or secrets.token_hex(32)
    ids = settings.get("export_ids") or os.environ.get(EXPORT_IDS_ENV) or "real"
    return {KEY_ENV: key, EXPORT_IDS_ENV: ids}


@dataclass(frozen=True)
class _History:
    """What a study needs of the run's history: the store's URL and the alert rules."""

    url: str | None = None
    alerts: Mapping = field(default_factory=dict)


def _since_last_run(result: StudyResult, study: Study, values: dict, metrics: Mapping,
                    history: _History) -> str:
    """Fill ``result.changes`` and ``result.alerts``; the HTML block that shows them."""
    result.changes = history_run.study_changes(history.url, study.name,
                                               {**study.defaults(), **values}, metrics)
    result.alerts = history_run.evaluate_alerts(history.alerts, study.name, metrics,
                                                result.changes)
    currency = metrics.get("currency") if isinstance(metrics.get("currency"), str) else None
    return (history_run.alerts_block(result.alerts)
            + history_run.changes_block(result.changes, currency))


def _execute(study: Study, values: dict, study_dir: Path, timeout: float,
             run_started: str, env: Mapping[str, str] | None = None,
             history: _History | None = None) -> StudyResult:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    result = StudyResult(name=study.name, title=study.title, parameters=dict(values),
                         output_dir=study_dir, started=_now())
    study_dir.mkdir(parents=True, exist_ok=True)
    _clear_previous(study_dir)
    nb_path = study_dir / "notebook.ipynb"
    params = dict(values, output_dir=str(study_dir.resolve()))
    history = history or _History()
    if "history" in study.parameters:
        params["history"] = history.url
    t0 = time.monotonic()
    deadline = t0 + timeout
    current: list = []

    def timeout_func(cell) -> int:
        # nbclient asks for each cell's limit when it starts it: what is left of the study's
        # total time, so a stuck cell is stopped when the study's time is up.
        current[:] = [cell]
        return max(1, int(deadline - time.monotonic() + 0.999))

    nb = None
    try:
        nb = papermill.execute_notebook(
            str(study.path), str(nb_path), parameters=params, kernel_name=KERNEL_NAME,
            progress_bar=False, log_output=False, request_save_on_cell_execute=True,
            start_timeout=max(5, min(60, int(timeout))),
            # nbclient options (papermill forwards unknown keywords to NotebookClient):
            timeout_func=timeout_func,
            # kernel working directory = notebooks folder, without papermill's process-wide
            # os.chdir (cwd=...), which is not safe with several studies in threads
            resources={"metadata": {"path": str(study.path.parent)}},
            # the kernel is killed at the end, not asked to stop: a stuck kernel does not
            # answer a shutdown request, and a finished one has nothing left to flush
            shutdown_kernel="immediate",
            # the kernel's own start-up warnings (e.g. about TCP transport) are noise here
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
            kernel_manager_class=_tracked_kernel_manager_class(env),
        )
        result.status = "ok"
    except PapermillExecutionError as exc:
        result.status = "failed"
        result.error = {
            "cell": _source_cell_index(nb_path, _has_error),
            "execution_count": exc.exec_count,
            "ename": exc.ename,
            "evalue": _first_line(exc.evalue),
        }
    except Exception as exc:  # noqa: BLE001 - any failure is reported, the run goes on
        timed_out = time.monotonic() >= deadline - 1.0 or type(exc).__name__ == "CellTimeoutError"
        result.status = "timeout" if timed_out else "failed"
        cell = current[0] if current else None
        index = None
        if cell is not None and nb_path.exists():
            cid = cell.get("id")
            index = _source_cell_index(
                nb_path, lambda c: (cid is not None and c.get("id") == cid)
                or (cid is None and c.get("source") == cell.get("source")))
        if timed_out:
            result.error = {"cell": index, "ename": "Timeout",
                            "evalue": f"time limit of {timeout:g} s reached; kernel stopped"}
        else:
            result.error = {"cell": index, "ename": type(exc).__name__,
                            "evalue": _first_line(exc)}

    if result.ok:
        try:
            metrics = _read_metrics(study_dir) or {}
            decision = metrics.get("decision") or {}
            since = _since_last_run(result, study, values, metrics, history)
            page = report_html.report_page(
                nb, title=study.title, study=study.name, run_date=run_started,
                parameters={**study.defaults(), **values},
                parameter_help={p.name: p.help for p in study.parameters.values()},
                exports=report_html.export_files(study_dir / "exports"),
                source=decision.get("source"), as_of=decision.get("as_of"), since=since)
            report_html.atomic_write_text(study_dir / "report.html", page)
        except Exception as exc:  # noqa: BLE001
            result.status = "failed"
            result.error = {"cell": None, "ename": f"report: {type(exc).__name__}",
                            "evalue": _first_line(exc)}
    result.duration_s = time.monotonic() - t0
    _cancel_pending_tasks()
    return result


def _cancel_pending_tasks() -> None:
    """Cancel what nbclient left pending on this thread's event loop (after a time-out its
    output poller is still waiting), so that asyncio does not complain at exit."""
    import asyncio

    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return
    if loop.is_running() or loop.is_closed():
        return
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _quiet_warm_up() -> None:
    try:
        report_html.warm_up()
    except Exception:  # noqa: BLE001 - a real problem shows up again in the report step
        pass


def _read_metrics(study_dir: Path) -> dict | None:
    try:
        with open(study_dir / "metrics.json", encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _record(store, run: RunResult, values: Mapping[str, dict],
            defaults: Mapping[str, dict]) -> None:
    """Put the run into the history store, in one transaction (nothing of it on failure:
    ``run.history_error`` says why)."""
    try:
        records = [study_record(n, run.out_dir / n, {**defaults[n], **values[n]})
                   for n, r in run.studies.items() if r.ok]
        store.record_run({"run_id": run.run_id, "started": run.started,
                          "finished": run.finished, "out_dir": str(run.out_dir),
                          "ok": run.ok, "alerts": run.alerts}, records)
    except HistoryError as exc:
        run.history_error = str(exc)


def default_jobs(n_studies: int) -> int:
    """Parallel studies by default: one per core available to this process."""
    return max(1, min(n_studies, available_cores()))


def plan_run(names: Sequence[str] | None = None, *, parameters=None, config=None,
             timeout: float = 600, notebooks_dir: str | os.PathLike | None = None):
    """What :func:`run_studies` would run, checked and resolved, without running it.

    Returns ``(configs, selected, values)``: the loaded config files, the studies chosen
    and each study's parameter values. Raises the errors :func:`run_studies` raises before
    any kernel starts (an unknown study, a bad parameter or config value), so a caller
    that runs several times (a backtest) can check every run first.
    """
    if isinstance(names, str):
        names = [names]
    all_studies = list_studies(notebooks_dir)
    run_all = not names
    if not all_studies and run_all:
        where = notebooks_dir if notebooks_dir is not None else "notebooks/"
        raise StudyNotFoundError(f"no study notebooks (NN_name.ipynb) found in {where}")
    configs = load_configs(config, all_studies)
    if run_all:
        chosen = config_studies(configs, all_studies)
        selected = [s for s in all_studies if chosen is None or s.name in chosen]
        if not selected:
            raise ParameterError("the config files are for no study ('studies: []')")
    else:
        selected = [get_study(n, notebooks_dir) for n in dict.fromkeys(names)]
    if timeout is None or timeout <= 0:
        raise ParameterError("timeout must be a positive number of seconds")
    values = resolve_parameters(selected, all_studies=all_studies, run_all=run_all,
                                parameters=parameters, config=configs)
    return configs, selected, values


def run_studies(names: Sequence[str] | None = None, out_dir: str | os.PathLike | None = None,
                parameters=None, config=None, jobs: int | None = None,
                timeout: float = 600, notebooks_dir: str | os.PathLike | None = None,
                progress: bool = True, reports_dir: str | os.PathLike | None = None,
                history: str | None = None) -> RunResult:
    """Run study notebooks and write their reports (see the module docstring).

    Parameters
    ----------
    names : sequence of str, optional
        Studies to run; None or empty runs all, in study order.
    out_dir : path, optional
        Output folder; default ``reports_dir/<YYYYmmdd-HHMMSS>`` and ``reports_dir/latest``
        pointing at it once the run is finished.
    parameters : mapping or sequence of (name, value), optional
        Values for the studies (``study.name`` keys for one study only). Use
        :class:`RawValue` for text that should be converted by the notebook's default type.
    config : path or mapping, or a sequence of them; optional
        YAML config files (shared values and per-study sections; later files override
        earlier ones). A config with a top-level ``studies`` key is for those studies
        only; with no ``names``, the run selects the union of the configs' ``studies``
        (see :mod:`clm_lib.run.parameters`).
    jobs : int, optional
        Studies run at the same time; default one per available core.
    timeout : float
        Time limit per study in seconds (kernel start included); the kernel is stopped
        and the study marked ``"timeout"`` when it is reached.
    notebooks_dir : path, optional
        Where the study notebooks are (default ``notebooks/``).
    progress : bool
        Print one line per finished study on stderr.
    reports_dir : path, optional
        Base folder of timestamped runs (default ``reports/``).
    history : str, optional
        The run-history store (a DuckDB file or a ``postgresql://`` URL; ``"none"``: no
        history); default a config's ``history``, else ``$CLM_HISTORY``, else
        ``history.duckdb`` beside the run folders.

    Returns
    -------
    RunResult
        ``.ok`` is False when any study failed or timed out.

    Raises
    ------
    StudyNotFoundError, ParameterError
        Before any kernel starts: an unknown study or parameter, a value that breaks a
        rule of :mod:`clm_lib.run.checks` (every problem in one error), an output folder
        that cannot be written.
    """
    configs, selected, values = plan_run(names, parameters=parameters, config=config,
                                         timeout=timeout, notebooks_dir=notebooks_dir)

    base = Path(reports_dir) if reports_dir is not None else REPORTS_DIR
    if out_dir is None:
        run_dir = _default_out_dir(base)
    else:
        run_dir = _writable_dir(Path(out_dir))
    run_dir = run_dir.resolve()
    settings = _run_settings(configs)
    url = history_run.history_url(history, settings, base if out_dir is None else run_dir.parent)
    store = open_store(url)

    given = {}
    if parameters is not None:
        items = parameters.items() if isinstance(parameters, Mapping) else parameters
        given = {str(k): str(v) if isinstance(v, RawValue) else v for k, v in items}
    paths = [c.path for c in configs if c.path is not None]
    if paths:  # one file: its path, as before; several: the list, in order
        given["--config"] = paths[0] if len(paths) == 1 else paths
    run = RunResult(out_dir=run_dir, started=_now(), finished=None,
                    studies={s.name: StudyResult(name=s.name, title=s.title,
                                                 parameters=values[s.name],
                                                 output_dir=run_dir / s.name)
                             for s in selected},
                    parameters=given, run_id=f"{run_dir.name}-{secrets.token_hex(4)}",
                    history=None if store is None else store.label)
    n_jobs = max(1, min(len(selected), jobs or default_jobs(len(selected))))
    lock = threading.Lock()
    done = 0

    def write_state() -> None:
        report_html.atomic_write_text(run.run_json, json.dumps(run.to_dict(), indent=2) + "\n")

    if progress:
        print(f"Running {len(selected)} stud{'y' if len(selected) == 1 else 'ies'} "
              f"({n_jobs} at a time) into {run_dir}", file=sys.stderr, flush=True)
    write_state()
    # HTML conversion is set up while the first kernels start rather than after them.
    threading.Thread(target=_quiet_warm_up, name="clm-warm-up", daemon=True).start()
    pool = ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="clm-study")
    env = _run_environment(configs)
    study_history = _History(url=url, alerts=settings.get("alerts") or {})
    futures = {pool.submit(_execute, s, values[s.name], run_dir / s.name, timeout,
                           run.started, env, study_history): s for s in selected}
    try:
        for fut in as_completed(futures):
            study = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - bug guard: keep the run going
                res = StudyResult(name=study.name, title=study.title, status="failed",
                                  error={"cell": None, "ename": type(exc).__name__,
                                         "evalue": _first_line(exc)},
                                  parameters=values[study.name],
                                  output_dir=run_dir / study.name)
            with lock:
                run.studies[study.name] = res
                done += 1
                write_state()
                if progress:
                    extra = ""
                    if res.error:
                        cell = res.error.get("cell")
                        extra = (f" ({'cell ' + str(cell) + ': ' if cell is not None else ''}"
                                 f"{res.error.get('ename')}: {res.error.get('evalue')})")
                    print(f"[{done}/{len(selected)}] {study.name} {res.status} "
                          f"{res.duration_s or 0:.1f} s{extra}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        # Queued studies are dropped; running ones lose their kernel and end as failed
        # (DeadKernelError). run.json says what happened.
        pool.shutdown(wait=False, cancel_futures=True)
        _kill_running_kernels()
        with lock:
            for res in run.studies.values():
                if res.status == "pending":
                    res.status = "cancelled"
            run.finished = _now()
            write_state()
        raise
    pool.shutdown(wait=True)

    run.finished = _now()
    if store is not None:
        _record(store, run, values, {s.name: s.defaults() for s in selected})
        if progress and run.history_error:
            print(f"not recorded in the run history: {run.history_error}", file=sys.stderr,
                  flush=True)
    write_state()
    metrics = {n: _read_metrics(run_dir / n) for n, r in run.studies.items() if r.ok}
    titles = {n: r.title for n, r in run.studies.items()}
    exports = {n: report_html.export_files(run_dir / n / "exports") for n, r in run.studies.items() if r.ok}
    report_html.atomic_write_text(run.index, index_html(run.to_dict(), metrics, titles, exports))
    if out_dir is None:
        _point_latest(base, run_dir)
    return run
