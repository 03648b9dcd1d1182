"""One-engine benchmark (issue 13): the default path of this tree against the tree before it.

Both trees run the same steps on the same seeded synthetic log (``clm_lib.synthetic``,
one Parquet file; 1M customers give ~10.6M rows), each step in a fresh process, in one run:

* ``load+reduce``: the data contract and the per-customer summary (frequency, recency,
  T in weeks, monetary value) on the *default* engine of each tree, brought back to
  pandas; peak resident memory of the process;
* ``overview``, ``cohort_retention``, ``lifecycle_segments``, ``clv``: the whole study
  with its report (``clm run STUDY`` with the log as ``transactions``), default engine.

The tree "before" is a checkout of the commit before the change (on main: the parent of
the first issue-13 commit), e.g. ``git worktree add /tmp/before b4edbee``; its own
``clm_lib`` is put first on ``PYTHONPATH`` and its notebooks are run. Ratio = before / now.

Usage::

    python benchmarks/bench_one_engine.py --before /tmp/before --customers 1000000
    python benchmarks/bench_one_engine.py --before /tmp/before --quick
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOW = HERE.parent
DATA = HERE / "data"
AS_OF = "2023-12-31"
CALIBRATION_END = "2023-06-30"
STUDIES = ("overview", "cohort_retention", "lifecycle_segments", "clv")

# Runs inside the tree being measured: whatever that tree's default engine is.
LOAD_REDUCE = r"""
import json, sys, threading, time
import psutil
import clm_lib, pathlib
# The tree before has clm_lib.engines (default engine "pandas"). Test for the folder: with
# the package installed in editable mode from this tree, `import clm_lib.reduce` would
# silently fall back to this tree's module.
if (pathlib.Path(clm_lib.__file__).parent / "engines").is_dir():
    from clm_lib.engines import get_engine
else:
    from clm_lib.reduce import get_engine
peak = [0]
stop = threading.Event()
def sample():
    p = psutil.Process()
    while not stop.is_set():
        peak[0] = max(peak[0], p.memory_info().rss)
        time.sleep(0.05)
t = threading.Thread(target=sample, daemon=True); t.start()
t0 = time.perf_counter()
eng = get_engine()
tx, dq = eng.load_transactions(sys.argv[1], as_of=sys.argv[2])
summ = eng.summary_data(tx, as_of=sys.argv[2], time_unit="week")
seconds = time.perf_counter() - t0
stop.set(); t.join()
peak[0] = max(peak[0], psutil.Process().memory_info().rss)
print(json.dumps({"seconds": seconds, "peak_gb": peak[0] / 1e9, "engine": eng.name,
                  "customers": int(len(summ)), "rows_in": int(dq.rows_in)}))
"""


def dataset(n_customers: int, seed: int) -> tuple[Path, int]:
    """The log as one Parquet file (both trees read a single file)."""
    sys.path.insert(0, str(NOW))
    from clm_lib.synthetic import write_parquet

    target = DATA / f"one_engine_c{n_customers}_s{seed}"
    meta = target.with_suffix(".json")
    if not meta.exists():
        info = write_parquet(target, n_customers, seed=seed, chunk_customers=n_customers)
        meta.write_text(json.dumps({"rows": info["rows"], "files": [str(f) for f in info["files"]]}))
    info = json.loads(meta.read_text())
    (path,) = info["files"]
    return Path(path), info["rows"]


def _env(tree: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    return env


def load_reduce(tree: Path, log: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", LOAD_REDUCE, str(log), AS_OF],
                         env=_env(tree), cwd=tempfile.gettempdir(), capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def study(tree: Path, name: str, log: Path, out: Path) -> dict:
    params = ["-p", f"transactions={log}", "-p", "columns={}", "-p", f"as_of={AS_OF}"]
    if name == "clv":
        params += ["-p", f"calibration_end={CALIBRATION_END}"]
    cmd = [sys.executable, "-m", "clm_lib", "run", name, "--notebooks-dir",
           str(tree / "notebooks"), "--out", str(out), "-q", "--timeout", "1800", *params]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=_env(tree), cwd=tempfile.gettempdir(), capture_output=True,
                          text=True)
    seconds = time.perf_counter() - t0
    status = json.loads((out / "run.json").read_text())["studies"][name]["status"] \
        if (out / "run.json").exists() else f"exit {proc.returncode}"
    return {"seconds": seconds, "status": status}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="checkout of the tree before")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="20k customers")
    ap.add_argument("--studies", default=",".join(STUDIES))
    ap.add_argument("--skip-load", action="store_true")
    args = ap.parse_args(argv)
    n = 20_000 if args.quick else args.customers
    log, rows = dataset(n, args.seed)
    print(f"log: {rows:,} rows, {n:,} customers ({log.name})")
    trees = {"before": args.before.resolve(), "now": NOW}
    results: dict = {}
    if not args.skip_load:
        for label, tree in trees.items():
            results[("load+reduce", label)] = r = load_reduce(tree, log)
            print(f"load+reduce  {label:6s} {r['seconds']:8.2f} s  peak {r['peak_gb']:.2f} GB  "
                  f"(engine {r['engine']}, {r['customers']:,} customers)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in [s for s in args.studies.split(",") if s]:
            for label, tree in trees.items():
                results[(name, label)] = r = study(tree, name, log, Path(tmp) / label / name)
                print(f"{name:18s} {label:6s} {r['seconds']:8.2f} s  {r['status']}", flush=True)
    print("\nstep                 before      now   before/now")
    for step in dict.fromkeys(k for k, _ in results):
        b, a = results[(step, "before")]["seconds"], results[(step, "now")]["seconds"]
        print(f"{step:18s} {b:8.2f} s {a:8.2f} s   {b / a:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
