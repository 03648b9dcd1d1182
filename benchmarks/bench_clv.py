"""CLV models vs lifetimes 0.11.3 (the baseline a user would pick), same data, same run.

Measures
1. BG/NBD fit on N customers (default 1,000,000): ``BetaGeoModel`` (full data, and on the
   exact compressed table incl. the compression time) vs ``lifetimes.BetaGeoFitter``; both
   log-likelihoods are evaluated with the same function and must agree within 1e-6 relative.
2. Pareto/NBD fit on M customers (default 100,000) vs ``lifetimes.ParetoNBDFitter``.
3. Scoring N customers: P(alive), expected purchases over 52 weeks, CLV (BG/NBD +
   Gamma-Gamma, point estimates) — target under 5 s.
4. ``--study``: the whole CLV study with its report (metrics, export, summary) on a seeded
   synthetic Parquet log (``clm_lib.synthetic``, ~10.6 rows per customer) on the default
   engine, for this tree and, with ``--before DIR``, a checkout of the tree before, each in
   a fresh process, same log, same run; and, same log, same run, what a user would run
   for the bare numbers with lifetimes: ``summary_data_from_transaction_data`` +
   ``BetaGeoFitter`` + ``GammaGammaFitter`` + ``customer_lifetime_value`` (the file read
   with pandas included), with the ratio study / lifetimes (issue 13: at most 1 on 300k
   customers).

Data are simulated with a fixed seed on a day grid (recency and T in whole days / 7, as in
real transaction data), so compression is exact and realistic.

lifetimes runs in its own virtualenv (it is not a project dependency); see
``benchmarks/README.md``. Set ``LIFETIMES_PYTHON`` to its interpreter (default
``/tmp/lifetimes-venv/bin/python``).

Usage::

    .venv/bin/python benchmarks/bench_clv.py            # 1M / 100k / 1M
    .venv/bin/python benchmarks/bench_clv.py --quick    # 100k / 10k / 100k
    .venv/bin/python benchmarks/bench_clv.py --study --customers 300000 --before /tmp/before
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

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clm_lib.clv.bgnbd import BetaGeoModel, bgnbd_loglik, simulate_bgnbd  # noqa: E402
from clm_lib.clv.gamma_gamma import GammaGammaModel, simulate_gamma_gamma  # noqa: E402
from clm_lib.clv.pareto_nbd import ParetoNBDModel, pareto_nbd_loglik, simulate_pareto_nbd  # noqa: E402
from clm_lib.clv.valuation import customer_value, per_unit_discount_rate  # noqa: E402
from clm_lib.reduce import get_engine  # noqa: E402

compress = get_engine("duckdb").compress

LIFETIMES_PYTHON = os.environ.get("LIFETIMES_PYTHON", "/tmp/lifetimes-venv/bin/python")

_LIFETIMES_CODE = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
warnings.filterwarnings("ignore")
from lifetimes import BetaGeoFitter, ParetoNBDFitter
kind, path = sys.argv[1], sys.argv[2]
d = np.load(path)
cls = BetaGeoFitter if kind == "bgnbd" else ParetoNBDFitter
cls(penalizer_coef=0.0).fit(pd.Series(d["frequency"][:2000]), pd.Series(d["recency"][:2000]), pd.Series(d["T"][:2000]))  # warm-up, untimed
t0 = time.perf_counter()
m = cls(penalizer_coef=0.0).fit(pd.Series(d["frequency"]), pd.Series(d["recency"]), pd.Series(d["T"]))
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "params": {k: float(v) for k, v in m.params_.items()}}))
"""


def _day_grid(sim: pd.DataFrame) -> pd.DataFrame:
    out = sim.copy()
    out["recency"] = np.floor(out["recency"] * 7) / 7
    return out


def _simulate(kind: str, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 39 * 7 + 1, n) / 7          # acquired during 39 weeks, in days / 7
    if kind == "bgnbd":
        sim = simulate_bgnbd((0.243, 4.414, 0.793, 2.426), T, seed=seed + 1)
    else:
        sim = simulate_pareto_nbd((0.553, 10.578, 0.606, 11.669), T, seed=seed + 1)
    return _day_grid(sim)


def _run_lifetimes(kind: str, data: pd.DataFrame) -> dict | None:
    if not Path(LIFETIMES_PYTHON).exists():
        print(f"  lifetimes venv not found at {LIFETIMES_PYTHON}: see benchmarks/README.md")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.npz"
        np.savez(path, **{c: data[c].to_numpy(float) for c in ["frequency", "recency", "T"]})
        res = subprocess.run([LIFETIMES_PYTHON, "-c", _LIFETIMES_CODE, kind, str(path)],
                             capture_output=True, text=True)
    if res.returncode != 0:
        print("  lifetimes failed:", res.stderr.strip().splitlines()[-1:])
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def _ll(fn, params, data) -> float:
    arr = {c: data[c].to_numpy(float) for c in ["frequency", "recency", "T"]}
    return float(np.sum(fn(np.asarray(params, float), arr)))


def bench_fit(kind: str, n: int, seed: int = 2024) -> None:
    cls, fn, names = ((BetaGeoModel, bgnbd_loglik, ["r", "alpha", "a", "b"]) if kind == "bgnbd"
                      else (ParetoNBDModel, pareto_nbd_loglik, ["r", "alpha", "s", "beta"]))
    data = _simulate(kind, n, seed)
    print(f"\n{kind}: {n:,} simulated customers (seed {seed})")
    cls().fit(compress(data.iloc[:2000]), weights="weights")   # warm-up (imports), untimed
    t0 = time.perf_counter()
    comp = compress(data)
    ours_c = cls().fit(comp, weights="weights")
    t_comp = time.perf_counter() - t0
    print(f"  clm compressed ({len(comp):,} distinct rows): {t_comp:7.2f} s  loglik {ours_c.loglik_:.6f}")
    t0 = time.perf_counter()
    ours = cls().fit(data)
    t_full = time.perf_counter() - t0
    print(f"  clm full data:                    {t_full:7.2f} s  loglik {ours.loglik_:.6f}")
    lt = _run_lifetimes(kind, data)
    if lt is None:
        return
    ll_lt = _ll(fn, [lt["params"][k] for k in names], data)
    print(f"  lifetimes {('BetaGeoFitter' if kind == 'bgnbd' else 'ParetoNBDFitter')}:"
          f"        {lt['seconds']:7.2f} s  loglik {ll_lt:.6f} (same likelihood function)")
    rel = abs(ours_c.loglik_ - ll_lt) / abs(ll_lt)
    print(f"  params clm      : {dict(ours_c.params_.round(5))}")
    print(f"  params lifetimes: { {k: round(v, 5) for k, v in lt['params'].items()} }")
    print(f"  loglik relative difference (clm - lifetimes): {(ours_c.loglik_ - ll_lt) / abs(ll_lt):+.2e}"
          f" -> {'OK' if rel <= 1e-6 or ours_c.loglik_ > ll_lt else 'FAIL'} (<= 1e-6, or clm higher)")
    print(f"  speed-up vs lifetimes: compressed {lt['seconds'] / t_comp:6.1f}x, "
          f"full data {lt['seconds'] / t_full:6.1f}x")


def bench_score(n: int, seed: int = 7) -> None:
    data = _simulate("bgnbd", n, seed)
    spend = simulate_gamma_gamma((6.25, 3.74, 15.44), np.maximum(data["frequency"], 1), seed=seed)
    data["monetary_value"] = np.where(data["frequency"] > 0, spend["monetary_value"], 0.0)
    bg = BetaGeoModel().fit(compress(data), weights="weights")
    gg = GammaGammaModel().fit(data.loc[data["frequency"] > 0, ["frequency", "monetary_value"]])
    t0 = time.perf_counter()
    v = customer_value(bg, gg, data, horizon=52, discount_rate=per_unit_discount_rate(0.15, "week"),
                       margin=0.3, n_draws=0)
    dt = time.perf_counter() - t0
    print(f"\nscoring {n:,} customers (P(alive), expected purchases over 52 weeks, CLV): "
          f"{dt:.2f} s -> {'OK' if dt < 5 else 'SLOW'} (< 5 s); total CLV {v['clv'].sum():,.0f}")


_STUDY_CODE = r"""
import json, sys, time
t0 = time.perf_counter()
from clm_lib.reduce import get_engine
from clm_lib.studies.clv import compute
try:
    from clm_lib.studies.clv import report
except ImportError:  # the tree before the split: the report functions were in compute
    report = compute
eng = get_engine("duckdb")
tx, dq = eng.load_transactions(sys.argv[1], as_of="2023-12-31")
t1 = time.perf_counter()
st = compute.clv_study(tx, calibration_end="2023-06-30", as_of="2023-12-31", time_unit="week",
                       margin=0.3, n_draws=int(sys.argv[2]), seed=42, engine=eng)
t2 = time.perf_counter()
m = report.clv_metrics(st)
try:  # the notebook's path: every export through reporting.save_export
    from clm_lib.reporting import save_export
    for name, frame in report.exports(st).items():
        save_export(frame, name, sys.argv[3] + ".d")
    report.top_customers(st, 15)
    import shutil
    shutil.copy(sys.argv[3] + ".d/exports/customer_value.csv", sys.argv[3])
except (ImportError, AttributeError):  # the tree before
    report.customer_export(st).to_csv(sys.argv[3], index=False)
report.summary_lines(st)
t3 = time.perf_counter()
print(json.dumps({"load": t1 - t0, "study": t2 - t1, "report": t3 - t2, "total": t3 - t0,
                  "customers": m["customers"], "clv_total": m["forecast"]["clv_total"],
                  "clv_total_interval": m["forecast"].get("clv_total_predictive_interval",
                                                          m["forecast"].get("clv_total_interval"))}))
"""


# What a user would otherwise run for the bare numbers on the same log: lifetimes' summary,
# BG/NBD, Gamma-Gamma and 12-month CLV (no holdout, no intervals, no report); the file read
# with pandas counts, as the study's load does.
_LIFETIMES_PIPELINE = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
t0 = time.perf_counter()
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data
tx = pd.read_parquet(sys.argv[1], columns=["customer_id", "timestamp", "amount"])
t1 = time.perf_counter()
s = summary_data_from_transaction_data(tx, "customer_id", "timestamp", monetary_value_col="amount",
                                       observation_period_end="2023-12-31", freq="W")
t2 = time.perf_counter()
bgf = BetaGeoFitter(penalizer_coef=0.0).fit(s["frequency"], s["recency"], s["T"])
rep = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
ggf = GammaGammaFitter(penalizer_coef=0.0).fit(rep["frequency"], rep["monetary_value"])
t3 = time.perf_counter()
clv = ggf.customer_lifetime_value(bgf, s["frequency"], s["recency"], s["T"], s["monetary_value"],
                                  time=12, discount_rate=0.01, freq="W")
t4 = time.perf_counter()
print(json.dumps({"load": t1 - t0, "summary": t2 - t1, "fit": t3 - t2, "clv": t4 - t3,
                  "total": t4 - t0, "customers": int(len(s)), "clv_total": float(clv.sum())}))
"""


def _lifetimes_pipeline(log: Path) -> dict | None:
    if not Path(LIFETIMES_PYTHON).exists():
        print(f"  lifetimes venv not found at {LIFETIMES_PYTHON}: see benchmarks/README.md")
        return None
    res = subprocess.run([LIFETIMES_PYTHON, "-c", _LIFETIMES_PIPELINE, str(log)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        print("  lifetimes failed:", res.stderr.strip().splitlines()[-1:])
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench_study(n_customers: int, n_draws: int, before: Path | None, seed: int = 1) -> None:
    """The CLV study with its report on a synthetic log, this tree and the tree before."""
    from clm_lib.synthetic import write_parquet

    folder = Path(__file__).resolve().parent / "data" / f"clv_c{n_customers}_s{seed}"
    if not folder.exists():
        info = write_parquet(folder, n_customers, seed=seed)
        print(f"wrote {info['rows']:,} rows to {folder}")
    trees = {"now": Path(__file__).resolve().parents[1]}
    if before is not None:
        trees = {"before": before.resolve(), **trees}
    print(f"\nCLV study + report, {n_customers:,} customers, {n_draws} draws (seconds)")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, tree in trees.items():
            env = {**os.environ, "PYTHONPATH": str(tree)}
            res = subprocess.run([sys.executable, "-c", _STUDY_CODE, str(folder), str(n_draws),
                                  str(Path(tmp) / f"{label}.csv")], env=env, cwd=tmp,
                                 capture_output=True, text=True)
            if res.returncode != 0:
                print(f"  {label}: failed:", res.stderr.strip().splitlines()[-1:])
                continue
            r = results[label] = json.loads(res.stdout.strip().splitlines()[-1])
            print(f"  {label:6s} load {r['load']:6.2f}  study {r['study']:7.2f}  report "
                  f"{r['report']:5.2f}  total {r['total']:7.2f}  (CLV total {r['clv_total']:,.2f})")
        lt = _lifetimes_pipeline(folder / "part-00000.parquet")
        if lt is not None:
            print(f"  lifetimes load {lt['load']:6.2f}  summary {lt['summary']:6.2f}  fits "
                  f"{lt['fit']:6.2f}  CLV {lt['clv']:5.2f}  total {lt['total']:7.2f}  "
                  f"({lt['customers']:,} customers; 12-month CLV total {lt['clv_total']:,.2f})")
            if "now" in results:
                print(f"  now / lifetimes: {results['now']['total'] / lt['total']:.2f} "
                      "(target <= 1)")
        if len(results) == 2:
            b, a = results["before"], results["now"]
            eb, ea = (pd.read_csv(Path(tmp) / f"{k}.csv") for k in ("before", "now"))
            num = eb.select_dtypes("number").columns
            same = (eb.columns.equals(ea.columns) and eb["customer"].equals(ea["customer"])
                    and np.allclose(ea[num], eb[num], rtol=1e-9, atol=0))
            print(f"  before/now: {b['total'] / a['total']:.2f}x; CLV totals relative difference "
                  f"{a['clv_total'] / b['clv_total'] - 1:+.1e}; exports equal to 1e-9: {same}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (100k / 10k / 100k)")
    ap.add_argument("--only", choices=["bgnbd", "pareto_nbd", "score"], default=None)
    ap.add_argument("--study", action="store_true", help="the CLV study with its report only")
    ap.add_argument("--customers", type=int, default=300_000, help="customers of --study's log")
    ap.add_argument("--draws", type=int, default=200, help="parameter draws of --study")
    ap.add_argument("--before", type=Path, default=None, help="checkout of the tree before (--study)")
    args = ap.parse_args()
    if args.study:
        bench_study(args.customers, args.draws, args.before)
        return
    n_bg, n_pn, n_sc = (100_000, 10_000, 100_000) if args.quick else (1_000_000, 100_000, 1_000_000)
    if args.only in (None, "bgnbd"):
        bench_fit("bgnbd", n_bg)
    if args.only in (None, "pareto_nbd"):
        bench_fit("pareto_nbd", n_pn)
    if args.only in (None, "score"):
        bench_score(n_sc)


if __name__ == "__main__":
    main()
