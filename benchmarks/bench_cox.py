"""Benchmark: Cox model on many rows, our fit_cox vs lifelines' fastest option, same data.

Simulates ``n`` customers (default 1,000,000) with 5 normal covariates, exponential
lifetimes with hazard ``0.05 * exp(x @ beta)`` and uniform censoring, so nearly every
duration is distinct (the case where lifelines' automatic algorithm choice is slow). Times
:func:`clm_lib.studies.survival_churn.models.fit_cox` against ``CoxPHFitter().fit(..., batch_mode=True)`` (and,
with ``--with-auto``, lifelines' automatic choice), checks the coefficients agree, and prints
the ratio. Target: ours within 2x of lifelines' fastest.

Usage::

    python benchmarks/bench_cox.py            # 1,000,000 rows
    python benchmarks/bench_cox.py --quick    # 100,000 rows
    python benchmarks/bench_cox.py --n 300000 --with-auto
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from clm_lib.studies.survival_churn import models as sv

BETA = np.array([0.5, -0.3, 0.2, 0.0, -0.1])


def simulate(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(BETA)))
    t = rng.exponential(1.0 / (0.05 * np.exp(X @ BETA)))
    c = rng.uniform(0, 60, n)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(len(BETA))])
    df["duration"] = np.minimum(t, c)
    df["event"] = t <= c
    return df


def timed(fn):
    """Result, wall-clock seconds and CPU seconds of this process (robust on a shared machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="100,000 rows")
    ap.add_argument("--with-auto", action="store_true",
                    help="also time lifelines' automatic choice (slow at large n)")
    args = ap.parse_args()
    n = 100_000 if args.quick else args.n
    df = simulate(n)
    print(f"rows: {n:,}; covariates: {len(BETA)}; distinct durations: "
          f"{df['duration'].nunique():,}; events: {int(df['event'].sum()):,}")

    # warm-up on a small sample so neither timing pays first-call costs (imports, caches)
    small = simulate(5_000, seed=1)
    sv.fit_cox(small)
    CoxPHFitter().fit(small, "duration", "event", batch_mode=True)

    ours, t_ours, c_ours = timed(lambda: sv.fit_cox(df))
    base, t_base, c_base = timed(
        lambda: CoxPHFitter().fit(df, "duration", "event", batch_mode=True))
    diff = float(np.max(np.abs(ours.params_.to_numpy() - base.params_.to_numpy())))
    print("                                         wall (s)   CPU (s)")
    print(f"clm_lib fit_cox (batch_mode='auto'):     {t_ours:8.2f}  {c_ours:8.2f}")
    print(f"lifelines batch_mode=True (its fastest): {t_base:8.2f}  {c_base:8.2f}")
    print(f"ratio ours / lifelines fastest:          {t_ours / t_base:8.2f}  {c_ours / c_base:8.2f}"
          "  (target <= 2)")
    print(f"max |coef difference|:                   {diff:.2e}")
    print(f"coefficients (true {BETA.tolist()}): {np.round(ours.params_.to_numpy(), 3).tolist()}")
    if args.with_auto:
        auto, t_auto, c_auto = timed(lambda: CoxPHFitter().fit(df, "duration", "event"))
        print(f"lifelines automatic choice:              {t_auto:8.2f}  {c_auto:8.2f}"
              f"  ({c_auto / c_base:.1f}x its fastest, CPU)")


if __name__ == "__main__":
    main()
