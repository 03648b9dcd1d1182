"""The history store under kills and concurrent writers, on both databases (the
``history_url`` fixture): a writer process (``writer_child.py``) is SIGKILLed at seeded
random moments, two writers write at once, readers read while a writer writes. After
each, the store opens, :meth:`~clm_lib.history.store.HistoryStore.check` finds nothing,
and every run is there with all its study and ledger rows, or not at all."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from clm_lib.history import earlier_runs, open_store

CHILD = Path(__file__).with_name("writer_child.py")
ROOT = Path(__file__).resolve().parents[2]
#: Ledger rows of one run (three quarters clv, one quarter cohort_retention): big enough
#: that a write takes a good part of a second, so kills land inside it. PostgreSQL takes
#: several times longer for the same rows (each row goes through psycopg's COPY): fewer.
ROWS = 200_000
PG_ROWS = 60_000
#: Ledger rows of a run of the concurrency tests (many reads and writes: smaller).
SMALL = 40_000


def _studies(rows: int) -> dict[str, int]:
    """Ledger rows per study of a run of ``rows`` (as ``writer_child.py`` splits them)."""
    return {"clv": rows - rows // 4, "cohort_retention": rows // 4}


def _rows(url: str) -> int:
    return PG_ROWS if url.startswith("postgresql://") else ROWS




def _start(url: str, prefix: str, rows: int = ROWS, count: int | None = None, go=True):
    """A writer process (``writer_child.py``); it writes once told to (``go``, or
    :func:`_go` later)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen([sys.executable, str(CHILD), url, prefix, str(rows),
                             *([str(count)] if count is not None else [])],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    if go:
        _go(proc)
    return proc


def _go(proc) -> None:
    proc.stdin.write("go\n")
    proc.stdin.flush()


def _wait_for(proc, word: str) -> str:
    """The child's next stdout line starting with ``word`` (fails if it ends first)."""
    while True:
        line = proc.stdout.readline()
        if not line:
            proc.wait()
            pytest.fail(f"the writer ended (exit {proc.returncode}) before '{word}': "
                        f"{proc.stderr.read()[-2000:]}")
        if line.startswith(word):
            return line.split(maxsplit=1)[-1].strip()


def _kill(proc) -> list[str]:
    """SIGKILL the child; the run ids it had said were done."""
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    return [line.split()[1] for line in out.splitlines() if line.startswith("done ")]


def _assert_whole(url: str, done=(), begun=None, rows: int = ROWS) -> set[str]:
    """The store opens and is consistent; each run has both studies and all their ledger
    rows; runs said done are there, and no run that was never begun. Its run ids."""
    store = open_store(url, lock_timeout=30)
    assert store.check() == []
    runs = set(store.runs()["run_id"]) if len(store.runs()) else set()
    assert set(done) <= runs
    if begun is not None:
        assert runs <= set(begun)
    studies = store.studies()
    for run_id in runs:
        # check() compared each study's ledger rows with its n_forecasts
        mine = studies[studies["run_id"] == run_id] if len(studies) else studies
        assert dict(zip(mine["study"], mine["n_forecasts"])) == _studies(rows), run_id
    return runs


def _fresh(url: str, tmp_path: Path, name: str) -> str:
    """Another empty store beside ``url``: a new DuckDB file, or a new database on the
    same PostgreSQL server."""
    if not url.startswith("postgresql://"):
        return str(tmp_path / f"{name}.duckdb")
    import psycopg

    db = f"clm_{uuid.uuid4().hex[:12]}"
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{db}"')
    return f"{server}/{db}"


def test_a_writer_killed_at_random_moments_leaves_whole_runs(history_url):
    rng = random.Random(17)
    # one write untouched, to time it; the kills then land before, inside and at the end
    # of the next writes (the commit is the last part of a write)
    rows = _rows(history_url)
    proc = _start(history_url, "w0", rows=rows, count=1)
    _wait_for(proc, "ready")
    _wait_for(proc, "begin")
    t = time.monotonic()
    _wait_for(proc, "done")
    took = time.monotonic() - t
    proc.wait(timeout=30)
    done, begun = {"w0-0"}, {"w0-0"}
    fractions = [0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 1.0, 1.3]
    rng.shuffle(fractions)
    nxt = _start(history_url, "w1", rows=rows, go=False)
    for k, frac in enumerate([*fractions, None], start=1):
        proc = nxt
        _wait_for(proc, "ready")
        _go(proc)
        begun.add(_wait_for(proc, "begin"))
        if frac is not None:  # the next writer imports while this one writes
            nxt = _start(history_url, f"w{k + 1}", rows=rows, go=False)
            time.sleep(took * frac * rng.uniform(0.9, 1.1))
        else:  # the last one just after a commit, as the next write begins
            _wait_for(proc, "done")
            _wait_for(proc, "begin")
        landed = set(_kill(proc))
        if frac is not None and frac >= 1 and not landed:
            took *= 1.5  # writes take longer than the first did (a loaded machine)
        done |= landed
        begun |= {f"w{k}-{i}" for i in range(len(done) + 2)}  # at most one more begun
        _assert_whole(history_url, done, begun, rows)
    runs = _assert_whole(history_url, done, rows=rows)
    for study, n in _studies(rows).items():  # and counted them the same way as this
        assert len(open_store(history_url).forecasts(sorted(runs)[-1:], study)) == n
    assert f"w{len(fractions) + 1}-0" in runs
    assert len(runs) < 2 + len(fractions)  # some kills came before the commit
    # the store takes the next run as if nothing had happened
    proc = _start(history_url, "after", rows=rows, count=1)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert "after-0" in _assert_whole(history_url, rows=rows)


def test_a_writer_killed_while_creating_the_schema(history_url, tmp_path):
    rng = random.Random(3)
    urls = [_fresh(history_url, tmp_path, f"new{k}") for k in range(4)]
    procs = [_start(url, "s", rows=1000, count=1, go=False) for url in urls]
    for url, proc in zip(urls, procs):
        _wait_for(proc, "ready")
        _go(proc)
        time.sleep(rng.uniform(0.0, 0.03))
        _kill(proc)
        store = open_store(url, lock_timeout=30)
        assert store.check() == []
        assert len(store.runs()) in (0, 1)
        # the store can be written afterwards (the schema completed or created anew)
        store.record_run({"run_id": "next", "ok": True}, [])
        assert "next" in set(store.runs()["run_id"])


def test_a_store_without_its_tables_reads_as_empty(history_url):
    """What a writer killed after creating the file but before committing the tables
    leaves (and what a new PostgreSQL database is): reads find nothing, writes work."""
    if history_url.startswith("postgresql://"):
        import psycopg

        psycopg.connect(history_url).close()
    else:
        import duckdb

        duckdb.connect(history_url).close()
    store = open_store(history_url)
    assert store.check() == [] and len(store.runs()) == 0 and len(store.studies()) == 0
    assert earlier_runs(history_url, "clv", "clv|/data/tx.csv", "2000-01-01") == []
    store.record_run({"run_id": "r1", "ok": True}, [])
    assert list(open_store(history_url).runs()["run_id"]) == ["r1"]


def test_two_writers_at_once_both_land(history_url):
    a, b = (_start(history_url, name, rows=SMALL, count=3, go=False) for name in "ab")
    for proc in (a, b):  # both ready, then both told at once
        _wait_for(proc, "ready")
    for proc in (a, b):
        _go(proc)
    for proc in (a, b):
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    assert _assert_whole(history_url, rows=SMALL) == {"a-0", "a-1", "a-2", "b-0", "b-1", "b-2"}


def test_two_first_writers_create_the_schema_at_once(history_url, tmp_path):
    urls = [_fresh(history_url, tmp_path, f"first{k}") for k in range(2)]
    started = [[_start(url, name, rows=1000, count=1, go=False) for name in ("x", "y")]
               for url in urls]
    for url, procs in zip(urls, started):
        for proc in procs:
            _wait_for(proc, "ready")
        for proc in procs:
            _go(proc)
        for proc in procs:
            assert proc.wait(timeout=120) == 0, proc.stderr.read()
        store = open_store(url)
        assert store.check() == [] and set(store.runs()["run_id"]) == {"x-0", "y-0"}


def test_readers_see_whole_runs_while_a_writer_writes(history_url):
    proc = _start(history_url, "r", rows=SMALL, count=6)
    _wait_for(proc, "ready")
    seen = set()
    while proc.poll() is None:
        for run in earlier_runs(history_url, "clv", "clv|/data/tx.csv", "2000-01-01"):
            assert len(run.forecasts) == _studies(SMALL)["clv"], run.run_id
            seen.add(run.run_id)
        time.sleep(0.05)
    assert proc.returncode == 0, proc.stderr.read()
    # the writer alternates two as-of dates: the latest run of each is scored
    last = earlier_runs(history_url, "clv", "clv|/data/tx.csv", "2000-01-01")
    assert [r.run_id for r in last] == ["r-4", "r-5"]
    assert seen  # some reads came while the writer was still at it
