"""Fixed cost of one report: our in-process runner vs the papermill + nbconvert commands.

The notebook is trivial (a title, a parameters cell, ``1 + 1``), so what is measured is
the overhead every report pays: kernel start-up, parameter injection, execution
bookkeeping, HTML conversion and writing the files.

* ours, in-process: ``clm_lib.run.execute.run_studies`` called in this process (papermill's
  Python API, one reused nbconvert exporter); the first call also builds the exporter,
  the following ones are what each further study of a batch costs. Target: < 1.5 s.
* ours, ``clm run`` command: one fresh process running the one study (Python start-up and
  imports included), for a like-for-like comparison with the command lines.
* baseline: ``papermill in.ipynb out.ipynb -p output_dir ...`` followed by
  ``jupyter nbconvert --to html --no-input out.ipynb``, as subprocesses.

Usage: ``python benchmarks/bench_report_overhead.py [--quick] [--repeat N]``.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

BIN = Path(sys.executable).parent


def make_notebook(folder: Path) -> Path:
    params = new_code_cell("output_dir = None")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell("# Trivial report"), params,
                             new_code_cell("1 + 1"), new_markdown_cell("The end.")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = folder / "00_trivial.ipynb"
    nbformat.write(nb, path)
    return path


def time_in_process(nb_dir: Path, out: Path, repeat: int) -> list[float]:
    from clm_lib.run.execute import run_studies

    times = []
    for i in range(repeat):
        t0 = time.perf_counter()
        res = run_studies(["trivial"], out_dir=out / f"ours-{i}", notebooks_dir=nb_dir,
                          progress=False, jobs=1)
        times.append(time.perf_counter() - t0)
        assert res.ok, res.to_dict()
    return times


def time_clm_command(nb_dir: Path, out: Path, repeat: int) -> list[float]:
    times = []
    for i in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([str(BIN / "clm"), "run", "trivial", "-q", "--notebooks-dir",
                        str(nb_dir), "--out", str(out / f"cmd-{i}")],
                       check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def time_baseline(nb: Path, out: Path, repeat: int) -> list[float]:
    times = []
    for i in range(repeat):
        target = out / f"base-{i}"
        target.mkdir(parents=True)
        executed = target / "notebook.ipynb"
        t0 = time.perf_counter()
        subprocess.run([str(BIN / "papermill"), str(nb), str(executed), "-p", "output_dir",
                        str(target), "--cwd", str(nb.parent), "-k", "python3",
                        "--no-progress-bar"], check=True, capture_output=True)
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input",
                        str(executed)], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
        assert (target / "notebook.html").is_file()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repetition of each")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions (default 3)")
    args = ap.parse_args()
    repeat = 1 if args.quick else max(1, args.repeat)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        nb_dir = tmp / "notebooks"
        nb_dir.mkdir()
        nb = make_notebook(nb_dir)
        # in-process: one extra first call (exporter built, modules warm), then `repeat`
        first = time_in_process(nb_dir, tmp / "first", 1)[0]
        ours = time_in_process(nb_dir, tmp / "warm", repeat)
        cmd = time_clm_command(nb_dir, tmp, repeat)
        base = time_baseline(nb, tmp, repeat)

    med = statistics.median
    print(f"fixed cost of one report (median of {repeat}; trivial notebook):")
    print(f"  ours, in-process, first report of a run : {first:6.2f} s")
    print(f"  ours, in-process, each further report   : {med(ours):6.2f} s  "
          f"(target < 1.5 s: {'met' if med(ours) < 1.5 else 'NOT met'})")
    print(f"  ours, `clm run` in a fresh process      : {med(cmd):6.2f} s")
    print(f"  papermill + nbconvert command lines     : {med(base):6.2f} s")
    print(f"  ratio command lines / ours in-process   : {med(base) / med(ours):6.1f} x")
    print(f"  ratio command lines / `clm run` command : {med(base) / med(cmd):6.1f} x")


if __name__ == "__main__":
    main()
