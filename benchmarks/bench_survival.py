"""Benchmark (issue 13): the survival study by inactivity on a large synthetic log.

On the seeded synthetic log of ``clm_lib.synthetic`` (1M customers give ~10.6M rows, two
years; the file of ``bench_one_engine.py`` is reused when present) the study runs as the
notebook runs it: :func:`clm_lib.studies.survival_churn.compute.survival_study` with churn
after 180 days without a purchase, ``first_amount`` as covariate, ``spend_per_period`` as
margin, then its report (``metrics.json`` and the risk export written to a temporary
folder). Printed: the time of each stage (the study's functions wrapped with timers), the
total, and the peak resident memory. Target: <= 180 s for 1M customers.

``--compare-full`` also fits the Cox model and the selected AFT model on *every*
customer and prints how far the sample's estimates are from those, in units of the
full fit's standard errors (the effect of fitting on the sample).

Usage::

    python benchmarks/bench_survival.py --quick                  # 20k customers
    python benchmarks/bench_survival.py --customers 1000000
    python benchmarks/bench_survival.py --log path/to/log.parquet --compare-full
"""
from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
AS_OF = "2023-12-31"
STAGES = {  # module -> functions timed as stages
    "durations": ["load_churn_durations", "prepare_durations", "encode_covariates"],
    "km": ["kaplan_meier", "km_summary", "logrank_tests"],
    "models": ["fit_cox", "check_proportional_hazards", "fit_aft_models", "fit_aft",
               "segment_hazard_ratios"],
    "validation": ["compare_models", "calibration_table"],
    "risk": ["customer_risk_table", "segment_value"],
}


def dataset(n_customers: int, seed: int = 1) -> Path:
    """The synthetic log as one Parquet file (shared with bench_one_engine.py)."""
    sys.path.insert(0, str(HERE.parent))
    from clm_lib.synthetic import write_parquet

    target = DATA / f"one_engine_c{n_customers}_s{seed}"
    meta = target.with_suffix(".json")
    if not meta.exists():
        info = write_parquet(target, n_customers, seed=seed, chunk_customers=n_customers)
        meta.write_text(json.dumps({"rows": info["rows"],
                                    "files": [str(f) for f in info["files"]]}))
    (path,) = json.loads(meta.read_text())["files"]
    return Path(path)


class PeakRSS:
    """Peak resident memory of this process, sampled every 50 ms in a thread."""

    def __init__(self):
        import psutil

        self.proc, self.peak, self._stop = psutil.Process(), 0, threading.Event()

    def __enter__(self):
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.05)

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def _timed_stages(times: dict, cpu: dict) -> None:
    """Wrap the study's stage functions (where compute.py looks them up) with timers."""
    from clm_lib.studies.survival_churn import compute

    def wrap(name, fn):
        @functools.wraps(fn)
        def inner(*a, **k):
            t, c = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                times[name] += time.perf_counter() - t
                cpu[name] += time.process_time() - c
        return inner

    for names in STAGES.values():
        for name in names:
            if hasattr(compute, name):
                setattr(compute, name, wrap(name, getattr(compute, name)))


def compare_full(result) -> None:
    """Cox and the selected AFT model on every customer against the study's sample fits."""
    from clm_lib.studies.survival_churn.models import fit_aft, fit_cox

    t = time.perf_counter()
    cox = fit_cox(result.design)
    aft = fit_aft(result.design, result.selected)
    print(f"\nfull fits on {len(result.design):,} customers: {time.perf_counter() - t:.1f} s")
    for name, full, sample in (("Cox", cox, result.cox), (result.selected, aft, result.model)):
        z = (sample.params_ - full.params_) / full.standard_errors_
        print(f"{name}: parameter, full fit, sample fit, (sample - full) / SE(full), "
              "SE(sample) / SE(full)")
        for key in full.params_.index:
            print(f"  {key!s:40} {full.params_[key]: .6f} {sample.params_[key]: .6f} "
                  f"{z[key]: .2f} {sample.standard_errors_[key] / full.standard_errors_[key]:.2f}")
        print(f"  concordance on every customer: full {full.concordance_index_:.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="20,000 customers")
    ap.add_argument("--log", help="a transactions Parquet file instead of the synthetic log")
    ap.add_argument("--max-model-customers", type=int, default=None,
                    help="the study's sample cap (default: the study's default)")
    ap.add_argument("--compare-full", action="store_true",
                    help="also fit Cox and the selected AFT model on every customer")
    args = ap.parse_args()
    path = Path(args.log) if args.log else dataset(20_000 if args.quick else args.customers)
    warnings.filterwarnings("ignore")

    from clm_lib.reporting import save_export, save_metrics
    from clm_lib.studies.survival_churn import compute
    from clm_lib.studies.survival_churn import report as rp

    times, cpu = collections.defaultdict(float), collections.defaultdict(float)
    _timed_stages(times, cpu)
    kwargs = dict(transactions=str(path), as_of=AS_OF, inactivity_days=180,
                  covariates=["first_amount"], margin="spend_per_period")
    if args.max_model_customers is not None:
        kwargs["max_model_customers"] = args.max_model_customers
    with PeakRSS() as mem, tempfile.TemporaryDirectory() as out:
        t0, c0 = time.perf_counter(), time.process_time()
        result = compute.survival_study(**kwargs)
        t1 = time.perf_counter()
        save_metrics(rp.survival_metrics(result), out)
        save_export(rp.risk_export(result), "customer_risk", out)
        rp.summary_lines(result)
        t2, c2 = time.perf_counter(), time.process_time()
    print(f"log: {path} ({result.qualities[0].rows_in:,} rows); customers "
          f"{len(result.durations):,}, active {len(result.risk):,}; models on "
          f"{result.model_sample or len(result.durations):,}")
    print("stage                              wall (s)  CPU (s)")
    for name, sec in sorted(times.items(), key=lambda kv: -kv[1]):
        print(f"  {name:32} {sec:8.1f} {cpu[name]:8.1f}")
    print(f"survival_study                     {t1 - t0:8.1f}")
    print(f"report (metrics, export, summary)  {t2 - t1:8.1f}")
    print(f"load average at the end            {os.getloadavg()[0]:8.1f}   (on {os.cpu_count()} cores)")
    print(f"total                              {t2 - t0:8.1f}   (target <= 180 s at 1M)")
    print(f"CPU of this process                {c2 - c0:8.1f}   (threads add up; DuckDB's too)")
    print(f"peak memory                        {mem.peak / 1e9:8.2f} GB")
    print(f"selected model: {result.selected}; holdout concordance "
          f"{result.comparison.loc[result.selected, 'concordance_holdout']:.4f}")
    if args.compare_full:
        compare_full(result)


if __name__ == "__main__":
    main()
