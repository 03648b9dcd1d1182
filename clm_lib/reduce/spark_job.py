"""Reductions on a Spark cluster, models on a laptop: the two ends of a ``spark-submit`` job.

Step 1, on the cluster (the transactions never leave it)::

    zip -r clm_lib.zip clm_lib           # the package, shipped to the executors
    spark-submit --master yarn --deploy-mode client \\
        --py-files clm_lib.zip clm_lib/reduce/spark_job.py reduce \\
        --source 's3://lake/transactions/*.parquet' --as-of 2024-12-31 \\
        --calibration-end 2024-06-30 --time-unit week --output s3://lake/clm/run1

applies the transactions data contract in Spark (rows dropped by reason, as the pandas
loader would) and writes ``summary/`` (one row per customer, Parquet, stays in the lake),
the small compressed tables ``triples.parquet`` (frequency, recency, T, weights) and
``spend.parquet`` (spend_frequency, monetary_value, weights), and ``quality.json`` (the
data-quality record: rows in, used, dropped by reason) to ``--output``.

Step 2, locally: fit the models on the compressed tables and compute predictions for the
distinct triples, written as a small Parquet file, e.g.::

    triples = pd.read_parquet("run1/triples.parquet")
    bg = BetaGeoModel().fit(triples, weights="weights")
    pred = triples[["frequency", "recency", "T"]].assign(
        p_alive=bg.p_alive(triples),
        expected_52=bg.conditional_expected_purchases(52, triples))
    pred.to_parquet("run1/predictions.parquet")

Step 3, on the cluster: ``spark-submit ... clm_lib/reduce/spark_job.py score --output s3://lake/clm/run1
--predictions s3://lake/clm/run1/predictions.parquet`` joins them back to every customer
and writes ``scores/``.

Paths are anything Spark reads (local, HDFS, S3, ABFS); ``triples.parquet`` and
``spend.parquet`` are written as single small files through pandas when ``--output`` is
a local path, and as Spark Parquet directories otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from clm_lib.reduce.engine import get_engine

TRIPLE = ["frequency", "recency", "T"]
SPEND = ["spend_frequency", "monetary_value"]


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _write_small(eng, df: pd.DataFrame, path: str) -> None:
    if _is_local(path):
        Path(path.removeprefix("file://")).parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(path.removeprefix("file://"), index=False)
    else:
        eng.con._session.createDataFrame(df).coalesce(1).write.mode("overwrite").parquet(path)


def _write_text(eng, text: str, path: str) -> None:
    if _is_local(path):
        Path(path.removeprefix("file://")).parent.mkdir(parents=True, exist_ok=True)
        Path(path.removeprefix("file://")).write_text(text, encoding="utf-8")
    else:
        eng.con._session.createDataFrame([(text,)], ["value"]).coalesce(1) \
            .write.mode("overwrite").text(path)


def reduce(session, *, source: str, as_of: str, output: str, calibration_end: str | None = None,
           time_unit: str = "week", columns: dict | None = None, encoding: str | None = None,
           delimiter: str | None = None) -> dict:
    """Step 1: data contract, summary per customer (kept in ``output/summary``),
    compressed tables and the data-quality record; ``encoding`` and ``delimiter`` of CSV
    sources as in :func:`clm_lib.io.read_table`."""
    eng = get_engine("spark", spark=session)
    import ibis

    tx, quality = eng.load_transactions(source, columns, as_of=as_of, encoding=encoding,
                                        delimiter=delimiter)
    _write_text(eng, json.dumps(quality.to_dict(), indent=1), f"{output}/quality.json")
    summ = eng.summary_table(tx, as_of=as_of, calibration_end=calibration_end,
                             time_unit=time_unit)
    sdf = session.sql(str(ibis.to_sql(summ, dialect="pyspark")))
    sdf.write.mode("overwrite").parquet(f"{output}/summary")
    stored = eng.table(f"{output}/summary", required=TRIPLE + SPEND, what="summary")
    triples = eng.compress(stored, TRIPLE)
    spend = eng.compress(stored, SPEND, where=lambda t: t.spend_frequency > 0)
    _write_small(eng, triples, f"{output}/triples.parquet")
    _write_small(eng, spend, f"{output}/spend.parquet")
    return {"customers": int(triples["weights"].sum()), "triples": len(triples),
            "spend_pairs": len(spend), "rows_in": quality.rows_in,
            "rows_used": quality.rows_used, "dropped": quality.dropped}


def score(session, *, output: str, predictions: str, columns=tuple(TRIPLE)) -> int:
    """Step 3: join per-triple predictions back to every customer; writes ``output/scores``."""
    eng = get_engine("spark", spark=session)
    import ibis

    stored = eng.table(f"{output}/summary", required=list(columns), what="summary")
    pred = (pd.read_parquet(predictions.removeprefix("file://")) if _is_local(predictions)
            else session.read.parquet(predictions).toPandas())
    extra = [c for c in pred.columns if c not in columns]
    right = eng.from_pandas(pred[list(columns) + extra])
    joined = stored.left_join(right, list(columns)).select(
        *[stored[c] for c in stored.columns], *[right[c] for c in extra])
    session.sql(str(ibis.to_sql(joined, dialect="pyspark"))) \
        .write.mode("overwrite").parquet(f"{output}/scores")
    return len(extra)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m clm_lib.reduce.spark_job",
                                 description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="step", required=True)
    r = sub.add_parser("reduce")
    r.add_argument("--source", required=True)
    r.add_argument("--as-of", required=True)
    r.add_argument("--calibration-end")
    r.add_argument("--time-unit", default="week", choices=["day", "week", "month"])
    r.add_argument("--output", required=True)
    r.add_argument("--encoding", help="CSV sources: the files' encoding (default UTF-8)")
    r.add_argument("--delimiter", help="CSV sources: one character (default: by the name)")
    s = sub.add_parser("score")
    s.add_argument("--output", required=True)
    s.add_argument("--predictions", required=True)
    args = ap.parse_args(argv)
    from pyspark.sql import SparkSession

    session = SparkSession.builder.appName("clm-" + args.step).getOrCreate()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    if args.step == "reduce":
        info = reduce(session, source=args.source, as_of=args.as_of, output=args.output,
                      calibration_end=args.calibration_end, time_unit=args.time_unit,
                      encoding=args.encoding, delimiter=args.delimiter)
        print(f"{info['rows_in']} rows read, {info['rows_used']} used (dropped: "
              f"{info['dropped'] or 'none'}); {info['customers']} customers -> "
              f"{info['triples']} distinct triples, {info['spend_pairs']} spend pairs written "
              f"to {args.output}")
    else:
        n = score(session, output=args.output, predictions=args.predictions)
        print(f"{n} prediction column(s) joined; scores written to {args.output}/scores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
