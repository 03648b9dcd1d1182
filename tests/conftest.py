"""Shared fixtures: tiny hand-made frames (answers computable by hand), the CDNOW log
with a segment, and the DuckDB/Spark engines."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

# The runner's fixture notebooks (one fails on purpose) are run by tests/test_runner.py,
# not by nbval.
collect_ignore_glob = ["fixtures/*"]


def pytest_itemcollected(item):
    """Markers from what a test is, set as each test is collected:

    * a notebook collected by nbval (only when asked for by path: the notebooks run in
      the suite through papermill, see :func:`run_notebook`) is marked ``slow`` like the
      other end-to-end runs, so that ``-m "not slow"`` stays quick;
    * a test that asks for a Spark session is a Spark test, marker or not, so that
      ``-m "not spark"`` never starts one (the engine fixture marks its Spark case);
      its id must name Spark, since that is what sends it to the Spark worker (see
      :func:`pytest_xdist_make_scheduler`).
    """
    if item.path.suffix == ".ipynb":
        item.add_marker(pytest.mark.slow)
    if "spark" in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.spark)
    if item.get_closest_marker("spark") and not _runs_on_spark_worker(item.nodeid):
        raise pytest.UsageError(f"{item.nodeid} uses Spark: put 'spark' in its name or id")


def _runs_on_spark_worker(nodeid: str) -> bool:
    return "spark" in nodeid.lower()


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: no error when run without it
def pytest_xdist_make_scheduler(config, log):
    """``make test`` (``-n 2 --dist loadfile``): each worker takes whole files, except that
    every Spark test goes to one worker. One Spark session and one JVM warm-up for the
    whole run instead of one per worker, and no two JVMs competing for the two cores.
    (``--dist loadgroup`` would say this with markers, but pytest-xdist 3.8 cannot group
    under pytest 9.2: it sets a node id attribute that pytest no longer reads.)"""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SparkOnOneWorker(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "spark" if _runs_on_spark_worker(nodeid) else super()._split_scope(nodeid)

    return SparkOnOneWorker(config, log)


@pytest.fixture
def tiny_transactions() -> pd.DataFrame:
    """Five clean purchases by three customers; ids are zero-padded text."""
    return pd.DataFrame({
        "customer_id": ["00123", "00123", "007", "00123", "42"],
        "timestamp": ["2020-01-05", "2020-01-01", "2020-02-01", "2020-03-01", "2020-01-10"],
        "amount": ["10.0", "5.5", "20", "0", "7.25"],
    })


@pytest.fixture
def tiny_intervals() -> pd.DataFrame:
    """Three subscriptions in interval form; one still active (empty end)."""
    return pd.DataFrame({
        "customer_id": ["a", "b", "c"],
        "start": ["2020-01-01", "2020-01-01", "2020-03-01"],
        "end": ["2020-01-31", "", "2020-03-08"],
    })


@pytest.fixture
def typed_intervals() -> pd.DataFrame:
    """Four typed subscriptions (one still active, times of day on two); a plan column."""
    return pd.DataFrame({
        "customer_id": pd.array(["a", "b", "c", "d"], dtype="string"),
        "start": pd.to_datetime(["2020-01-01", "2020-01-15 12:00", "2020-03-01", "2020-02-01"],
                                format="ISO8601"),
        "end": pd.to_datetime(["2020-02-01", None, "2020-12-01", "2020-03-31 18:00"],
                              format="ISO8601"),
        "plan": ["basic", "pro", "basic", "pro"],
    })


@pytest.fixture
def tiny_snapshot() -> pd.DataFrame:
    """Four subscribers in snapshot form (tenure in months, churn flag as text)."""
    return pd.DataFrame({
        "customer_id": ["0001", "0002", "0003", "0004"],
        "tenure": ["1", "12", "0", "30"],
        "churned": ["Yes", "no", "No", "YES"],
    })


@pytest.fixture(scope="session")
def spark():
    """The Spark engine on one local[2] session per test process (started on first use;
    a session takes seconds to start). Skipped when Java is absent; pyspark and Ibis are
    declared dependencies, so their absence fails."""
    from clm_lib.reduce.engine import get_engine, java_available, local_spark_session

    if not java_available():
        pytest.skip("Spark needs Java")
    session = local_spark_session("local[2]", app_name="clm-tests", shuffle_partitions=2)
    session.sparkContext.setLogLevel("ERROR")
    yield get_engine("spark", spark=session)
    session.stop()


@pytest.fixture(scope="module", params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request):
    """Each Ibis engine in turn: DuckDB, then Spark (see :func:`spark`). The Spark case
    carries the ``spark`` marker, so ``-m "not spark"`` never starts a Spark session."""
    from clm_lib.reduce.engine import get_engine

    if request.param == "duckdb":
        return get_engine("duckdb")
    return request.getfixturevalue("spark")


@pytest.fixture(scope="session")
def cdnow_basket(tmp_path_factory) -> tuple[str, str]:
    """CDNOW master with a derived segment ``basket`` (CDs in the purchase; every 17th
    row without a value), as CSV and as Parquet with microsecond timestamps (readable by
    Spark): ``(csv path, parquet path)``."""
    from clm_lib.config import DATA_DIR

    raw = pd.read_csv(DATA_DIR / "cdnow_master.csv", dtype={"customer_id": str})
    seg = pd.cut(raw["cds"], [0, 1, 3, np.inf], labels=["1 CD", "2-3 CDs", "4+ CDs"])
    raw["basket"] = seg.astype("string").mask(np.arange(len(raw)) % 17 == 0)
    d = tmp_path_factory.mktemp("cdnow")
    csv, parquet = d / "cdnow.csv", d / "cdnow.parquet"
    raw.to_csv(csv, index=False)
    raw.assign(date=pd.to_datetime(raw["date"])).to_parquet(
        parquet, coerce_timestamps="us", allow_truncated_timestamps=True)
    return str(csv), str(parquet)


#: Seconds a test waits for a notebook kernel to start: papermill's 60 s default was seen
#: to run out on a loaded machine before any of the notebook's code ran.
KERNEL_START_TIMEOUT = 300


def example_parameters(notebook: str) -> dict:
    """The parameters ``make reports`` gives the study of ``notebook`` (e.g.
    ``"30_clv.ipynb"``): those of the configs in ``examples/`` that are for the study,
    resolved by the runner (shared values, then the study's section; paths absolute)."""
    from clm_lib.config import EXAMPLES_DIR, NOTEBOOKS_DIR
    from clm_lib.run.discovery import list_studies
    from clm_lib.run.parameters import resolve_parameters

    studies = list_studies(NOTEBOOKS_DIR)
    study = next(s for s in studies if s.path.name == notebook)
    return resolve_parameters([study], all_studies=studies, run_all=False,
                              config=sorted(EXAMPLES_DIR.glob("*.yml")))[study.name]


@pytest.fixture(scope="session")
def run_notebook(tmp_path_factory):
    """``run_notebook(name, **parameters) -> output folder`` (``metrics.json``,
    ``exports/``; the executed notebook is ``run.ipynb`` beside it): the study notebook
    executed by papermill into a fresh folder, on the bundled sample of its example
    config (:func:`example_parameters`; ``sample=False``: the notebook's own defaults
    only), ``parameters`` overriding it, once per
    test process for the same parameters, so that tests of the same run (its metrics,
    its exports, its parity with another engine) share one execution. Read-only."""
    papermill = pytest.importorskip("papermill")
    from clm_lib.config import NOTEBOOKS_DIR
    # the runner's kernel manager: Unix sockets, so that the kernels of the two test
    # workers cannot take each other's TCP ports
    from clm_lib.run.execute import _tracked_kernel_manager_class

    runs: dict = {}

    def run(name: str, *, sample: bool = True, **parameters):
        key = (name, sample, tuple(sorted((k, repr(v)) for k, v in parameters.items())))
        if key not in runs:
            folder = tmp_path_factory.mktemp(name.split(".")[0])
            base = example_parameters(name) if sample else {}
            papermill.execute_notebook(
                str(NOTEBOOKS_DIR / name), str(folder / "run.ipynb"),
                parameters={**base, **parameters, "output_dir": str(folder / "out")},
                cwd=str(NOTEBOOKS_DIR), kernel_name="python3", progress_bar=False,
                start_timeout=KERNEL_START_TIMEOUT,
                kernel_manager_class=_tracked_kernel_manager_class())
            runs[key] = folder / "out"
        return runs[key]

    return run


# -- a PostgreSQL server for the history-store tests -----------------------------------
def _postgres_bin() -> "Path | None":
    import glob
    import shutil
    from pathlib import Path

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A PostgreSQL server of Debian's package (``make test`` installs it), started for the
    session in a temporary data directory on a free local port, and stopped at the end.
    PostgreSQL refuses to run as root: as root, the directory belongs to the ``postgres``
    user and the server runs as that user. Skipped, saying why, where there is no server."""
    import os
    import pwd
    import shutil
    import subprocess

    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server here (Debian's postgresql package; `make test` "
                    "installs it as root): the PostgreSQL store tests need one")
    as_root = os.geteuid() == 0
    if as_root:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
    base = tmp_path_factory.mktemp("pg")
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if as_root:
        for path in (base, sock):
            os.chown(path, user.pw_uid, user.pw_gid)
        # the server must reach its directory through the pytest temp folders
        p = base
        while p != p.parent:
            p = p.parent
            mode = os.stat(p).st_mode
            if not mode & 0o001:
                os.chmod(p, mode | 0o001)

    def run(args, **kw):
        cmd = [str(a) for a in args]
        if as_root:
            cmd = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(_quote(c) for c in cmd)]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)

    port = _free_port()
    try:
        run([bindir / "initdb", "-D", data, "-U", "clm", "--auth=trust", "-E", "UTF8",
             "--no-sync"])
        run([bindir / "pg_ctl", "-D", data, "-w", "-t", "60", "-l", base / "server.log",
             "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
    except subprocess.CalledProcessError as exc:
        log = (base / "server.log").read_text() if (base / "server.log").exists() else ""
        pytest.fail(f"could not start PostgreSQL: {exc.stderr or exc.stdout}\n{log[-2000:]}")
    url = f"postgresql://clm@127.0.0.1:{port}/postgres"
    try:
        yield url
    finally:
        try:
            run([bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"])
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(base, ignore_errors=True)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


@pytest.fixture
def postgres_database(postgres_url):
    """A new, empty database on the session's PostgreSQL server; its URL."""
    import uuid

    import psycopg

    name = f"clm_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["duckdb", "postgresql"])
def history_url(request, tmp_path):
    """The URL of an empty history store: a DuckDB file, then a PostgreSQL database (the
    PostgreSQL case is skipped where there is no server)."""
    if request.param == "duckdb":
        return str(tmp_path / "history.duckdb")
    return request.getfixturevalue("postgres_database")
