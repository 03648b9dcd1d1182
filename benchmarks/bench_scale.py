"""Scale benchmark (issue 7): reduction + BG/NBD + Gamma-Gamma fits + scoring per engine.

On a seeded synthetic log (``clm_lib.synthetic``; ~10.6 transactions per
customer over two years, BG/NBD purchasing, Gamma-Gamma spend) written as Parquet under
``benchmarks/data/`` (git-ignored), each engine runs the whole path in a fresh process:

0. load: the transactions data contract (``Engine.load_transactions``: one counting
   pass in the engine);
1. reduce transactions to the per-customer summary (weekly units, calibration =
   whole observation; kept in the engine: a DuckDB temp table or a persisted Spark view);
2. compress (frequency, recency, T) triples and fit BG/NBD on the weighted table;
3. compress (spend_frequency, monetary_value) of repeat spenders and fit Gamma-Gamma;
4. score every customer: P(alive), expected purchases in the next 52 weeks, expected
   spend and a 52-week CLV (``clm_lib.studies.clv.compute.discounted_expected_purchases``: weekly
   steps, 10 % a year discount, as the CLV study) computed once per distinct triple /
   spend pair and joined back in the engine; customer_id and the scores are written
   to Parquet.

The total is the sum of steps 0-4; the engine start (a DuckDB connection, about 0.6 s,
or a Spark session, several seconds) is printed apart, as a fixed cost that does not
grow with the data. Peak memory is the maximum resident set of the process and its
children (the Spark JVM), sampled every 50 ms. The in-process DuckDB (the default engine)
is the reference: ratio = DuckDB time / engine time, in the same run. (The pandas path of
the tree before issue 13 is measured by ``bench_one_engine.py``.)

Usage::

    python benchmarks/bench_scale.py --quick                 # 20k customers, all engines
    python benchmarks/bench_scale.py --customers 1000000     # 10M rows, duckdb
    python benchmarks/bench_scale.py --customers 10000000 --engines duckdb
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
AS_OF = "2023-12-31"
HORIZON_WEEKS = 52.0
ANNUAL_DISCOUNT = 0.10
#: Columns of the scores file (besides customer_id).
SCORES = ("p_alive", "expected_purchases", "expected_spend", "clv")
#: The timed stages; "total" is their sum (the engine start is reported apart).
STAGES = ("load", "reduce", "fit_bgnbd", "fit_gamma_gamma", "score")


class PeakRSS:
    """Sample RSS of this process and its descendants in a background thread."""

    def __init__(self, interval: float = 0.05):
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self.interval = interval
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil

        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            time.sleep(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._sample())


def dataset(n_customers: int, seed: int) -> tuple[Path, dict]:
    from clm_lib.synthetic import write_parquet

    d = DATA / f"scale_c{n_customers}_s{seed}"
    meta = DATA / f"scale_c{n_customers}_s{seed}.json"
    if meta.exists():
        return d, json.loads(meta.read_text())
    t0 = time.perf_counter()
    info = write_parquet(d, n_customers, seed=seed, chunk_customers=min(n_customers, 1_000_000))
    info = {"rows": info["rows"], "customers": n_customers, "files": len(info["files"]),
            "seconds_to_generate": round(time.perf_counter() - t0, 1)}
    meta.write_text(json.dumps(info))
    return d, info


def _predictors(bg, gg):
    """Per-distinct-row predictions with the library's CLV functions (as the CLV study)."""
    import pandas as pd

    from clm_lib.studies.clv.compute import discounted_expected_purchases, per_unit_discount_rate

    weekly = per_unit_discount_rate(ANNUAL_DISCOUNT, "week")

    def purchases(u):
        disc, total = discounted_expected_purchases(bg, u, horizon=int(HORIZON_WEEKS),
                                                    discount_rate=weekly, return_total=True)
        return pd.DataFrame({"p_alive": bg.p_alive(u), "expected_purchases": total,
                             "discounted_purchases": disc})

    def spend(u):
        return pd.DataFrame({"expected_spend": gg.conditional_expected_spend(
            u.rename(columns={"spend_frequency": "frequency"}))})

    return purchases, spend


def run_one(engine_name: str, src: Path, out: Path, memory_limit: str | None = None) -> dict:
    from clm_lib.clv.bgnbd import BetaGeoModel
    from clm_lib.clv.gamma_gamma import GammaGammaModel
    from clm_lib.reduce.engine import get_engine

    times = {}
    with PeakRSS() as mem:
        # engine start (DuckDB connection, Spark session): a fixed cost, timed apart
        t0 = time.perf_counter()
        if engine_name == "spark":
            from clm_lib.reduce.engine import local_spark_session

            session = local_spark_session("local[2]", shuffle_partitions=int(
                os.environ.get("CLM_BENCH_SPARK_PARTITIONS", "8")))
            session.sparkContext.setLogLevel("ERROR")
            eng = get_engine("spark", spark=session)
        elif engine_name == "duckdb" and memory_limit:
            eng = get_engine("duckdb", memory_limit=memory_limit)
        else:
            eng = get_engine(engine_name)
        times["start"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # the data contract, as a study applies it
        tx, quality = eng.load_transactions(str(src / "*.parquet"), as_of=AS_OF)
        times["load"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        mat = eng.materialize(eng.summary_table(tx, as_of=AS_OF, time_unit="week"))
        base = mat.table
        times["reduce"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        triples = eng.compress(base)
        bg = BetaGeoModel().fit(triples, weights="weights")
        times["fit_bgnbd"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        pairs = eng.compress(base, ["spend_frequency", "monetary_value"],
                             where=lambda t: t.spend_frequency > 0)
        gg = GammaGammaModel().fit(pairs.rename(columns={"spend_frequency": "frequency"}),
                                   weights="weights")
        times["fit_gamma_gamma"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        purchases, spend = _predictors(bg, gg)
        scored = eng.score(base, purchases)
        scored = eng.score(scored, spend, ["spend_frequency", "monetary_value"],
                           distinct_from=base)
        out.mkdir(parents=True, exist_ok=True)
        target = out / f"scores_{engine_name}.parquet"
        # the scores file: one row per customer, its id and the predictions (as a CRM takes it)
        scored = scored.mutate(clv=scored.discounted_purchases * scored.expected_spend)
        scored = scored.select("customer_id", *SCORES)
        if engine_name == "duckdb":
            scored.to_parquet(target)
        else:
            eng.con._session.sql(str(__import__("ibis").to_sql(scored, dialect="pyspark"))) \
                .write.mode("overwrite").parquet(str(target))
        times["score"] = time.perf_counter() - t0
        import pyarrow.dataset as pads  # rows written, counted outside the timing

        n_scored = pads.dataset(str(target), format="parquet").count_rows()
        mat.drop()
    times["total"] = sum(times[k] for k in STAGES)
    return {
        "engine": engine_name, "seconds": {k: round(v, 2) for k, v in times.items()},
        "peak_gb": round(mem.peak / 1e9, 2), "customers_scored": n_scored,
        "rows_in": quality.rows_in, "rows_used": quality.rows_used, "dropped": quality.dropped,
        "unique_triples": len(triples), "spend_pairs": len(pairs),
        "bgnbd": {k: float(v) for k, v in bg.params_.items()}, "bgnbd_loglik": bg.loglik_,
        "gamma_gamma": {k: float(v) for k, v in gg.params_.items()},
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="20k customers (~0.2M rows)")
    ap.add_argument("--engines", default="duckdb", help="comma list of duckdb,spark")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--duckdb-memory-limit", default="4GB",
                    help="DuckDB memory_limit (it spills to disk beyond it); default 4GB")
    ap.add_argument("--run-one", help=argparse.SUPPRESS)
    ap.add_argument("--src", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.run_one:
        res = run_one(args.run_one, Path(args.src), DATA / "out" / Path(args.src).name,
                      memory_limit=args.duckdb_memory_limit)
        print("RESULT " + json.dumps(res))
        return
    n = 20_000 if args.quick else args.customers
    src, info = dataset(n, args.seed)
    print(f"data: {info['rows']:,} transactions, {n:,} customers, {info['files']} Parquet file(s) "
          f"in {src.relative_to(HERE.parent)} (generated in {info['seconds_to_generate']} s)")
    results = {}
    for name in args.engines.split(","):
        proc = subprocess.run([sys.executable, __file__, "--run-one", name, "--src", str(src),
                               "--duckdb-memory-limit", args.duckdb_memory_limit],
                              capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not line:
            print(f"{name}: FAILED\n{proc.stderr[-3000:]}")
            continue
        results[name] = json.loads(line[0][7:])
    ref = results.get("duckdb")
    print(f"{'engine':8} {'start':>6} {'load':>7} {'reduce':>7} {'BG/NBD':>7} {'GG':>7} "
          f"{'score':>7} {'total':>7} {'peak GB':>8} {'vs duckdb':>9}")
    for name, r in results.items():
        s = r["seconds"]
        ratio = f"{ref['seconds']['total'] / s['total']:.2f}x" if ref else "n/a"
        print(f"{name:8} {s['start']:6.2f} {s['load']:7.2f} {s['reduce']:7.2f} "
              f"{s['fit_bgnbd']:7.2f} {s['fit_gamma_gamma']:7.2f} {s['score']:7.2f} "
              f"{s['total']:7.2f} {r['peak_gb']:8.2f} {ratio:>9}")
    print("total = load + reduce + BG/NBD + Gamma-Gamma + score, seconds; start (engine "
          "connection or Spark session) is not in it")
    for name, r in results.items():
        print(f"{name}: {r['rows_in']:,} rows in, {r['rows_used']:,} used {r['dropped']}; "
              f"{r['customers_scored']:,} customers scored; {r['unique_triples']:,} distinct "
              f"triples, {r['spend_pairs']:,} spend pairs; BG/NBD "
              + ", ".join(f"{k}={v:.4f}" for k, v in r["bgnbd"].items())
              + f", loglik={r['bgnbd_loglik']:.3f}; Gamma-Gamma "
              + ", ".join(f"{k}={v:.4f}" for k, v in r["gamma_gamma"].items()))
    if len(results) > 1:
        lls = [r["bgnbd_loglik"] for r in results.values()]
        print(f"max relative difference of BG/NBD log-likelihoods across engines: "
              f"{(max(lls) - min(lls)) / abs(min(lls)):.2e}")


if __name__ == "__main__":
    main()
