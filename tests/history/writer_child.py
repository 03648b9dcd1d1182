"""A writer process for the store robustness tests (run as a script, not collected):
``python writer_child.py URL PREFIX ROWS [COUNT]`` says ``ready`` on stdout once it has
imported and built its records, waits for a line on stdin (so that a parent can start the
next writer while it tests the last), then records runs ``PREFIX-0``, ``PREFIX-1``, ...
(COUNT of them, or until killed), each with two studies and ``ROWS`` ledger rows in all,
saying (flushed) ``begin <run id>`` before and ``done <run id>`` after each write, so that
the parent can time its kills."""
import sys

import numpy as np
import pandas as pd

from clm_lib.history import StudyRecord, figure, ledger_frame, open_store


def records(rows: int, i: int) -> list:
    out = []
    for study, n in (("clv", rows - rows // 4), ("cohort_retention", rows // 4)):
        fc = ledger_frame("purchases", np.arange(n, dtype=float), step=2, unit="week",
                          scope="customer", key=[f"{k:07d}" for k in range(n)])
        out.append(StudyRecord(study, f"{study}|/data/tx.csv", f"1998-{1 + i % 12:02d}-28",
                               {"rows": n}, {"i": i}, {"n": figure("Rows", n, "count")},
                               {"as_of": i}, fc))
    return out


def main(argv: list[str]) -> None:
    url, prefix, rows = argv[1], argv[2], int(argv[3])
    count = int(argv[4]) if len(argv) > 4 else None
    store = open_store(url, lock_timeout=60)
    # the records are built before the first write, so a kill lands in the store's code
    recs = [records(rows, i) for i in range(2)]
    print("ready", flush=True)
    sys.stdin.readline()
    i = 0
    while count is None or i < count:
        run_id = f"{prefix}-{i}"
        print(f"begin {run_id}", flush=True)
        store.record_run({"run_id": run_id, "ok": True}, recs[i % 2])
        print(f"done {run_id}", flush=True)
        i += 1


if __name__ == "__main__":
    main(sys.argv)
