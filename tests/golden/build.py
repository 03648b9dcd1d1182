"""Build the golden data-quality records ``tests/golden/validate/<case>.json``.

Each case is a file, the loader kind, the column mapping and the loader's keyword
arguments; ``cli`` says whether ``clm validate`` can express it (it offers ``--as-of``,
``--date-format`` and ``--tz`` only). A record holds the case, the output of
``clm validate --json`` (or its error line), the full data-quality record of
``validate_file`` (or the error), and a digest of the clean table (rows, dtypes, per-column
nulls, sums, extremes, and a SHA-256 of the table written as CSV).

The committed records were made by the pandas data contract of main at 8019c87, before
the contract was written once in Ibis; ``tests/io/test_golden.py`` checks that every
engine gives them back unchanged. The records of the order-line log (``tx_orders*``,
``tx_order_conflict``) were rebuilt when the lines of one order became one order (issue
15: amounts summed, ``lines`` counted, ``product`` left out; ``tx_order_conflict`` is no
longer an error). Run ``PYTHONPATH=. python tests/golden/build.py``
only to add a case, and say why in the commit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
INPUTS = GOLDEN / "inputs"
RECORDS = GOLDEN / "validate"

CDNOW = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}
TELCO = {"customerID": "customer_id", "Churn": "churned"}
ORDERS = {"cust": "customer_id", "order": "order_id", "when": "timestamp", "value": "amount",
          "qty": "quantity"}


@dataclass(frozen=True)
class Case:
    name: str
    path: str                     # relative to the repository root
    kind: str                     # transactions, subscriptions or leads
    columns: dict | None = None
    kwargs: dict = field(default_factory=dict)
    cli: bool = True

    @property
    def file(self) -> Path:
        return ROOT / self.path

    def cli_args(self) -> list[str]:
        args = [f"--{self.kind}", str(self.file)]
        for src, canon in (self.columns or {}).items():
            args += ["-c", f"{src}={canon}"]
        for key, value in self.kwargs.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        return args + ["--json"]


def _inp(name: str) -> str:
    return f"tests/golden/inputs/{name}"


CASES = [
    Case("cdnow_master", "data/cdnow_master.csv", "transactions", CDNOW),
    Case("cdnow_master_as_of", "data/cdnow_master.csv", "transactions", CDNOW,
         {"as_of": "1998-06-30"}),
    Case("cdnow_sample", "data/cdnow_sample.csv", "transactions", CDNOW),
    Case("telco_churn", "data/telco_churn.csv", "subscriptions", TELCO),
    Case("donations_as_transactions", "data/donations.csv", "transactions"),
    Case("donations_as_subscriptions", "data/donations.csv", "subscriptions"),
    Case("tx_orders", _inp("tx_orders.csv"), "transactions", ORDERS),
    Case("tx_orders_as_of", _inp("tx_orders.csv"), "transactions", ORDERS,
         {"as_of": "1997-12-31"}),
    Case("tx_orders_as_of_time", _inp("tx_orders.csv"), "transactions", ORDERS,
         {"as_of": "1997-12-31 12:00"}),
    Case("tx_orders_tz", _inp("tx_orders.csv"), "transactions", ORDERS,
         {"as_of": "1997-12-31", "tz": "Europe/Paris"}),
    Case("tx_orders_net", _inp("tx_orders.csv"), "transactions", ORDERS,
         {"as_of": "1997-12-31", "negative_amounts": "net"}, cli=False),
    Case("tx_orders_negative_error", _inp("tx_orders.csv"), "transactions", ORDERS,
         {"negative_amounts": "error"}, cli=False),
    Case("tx_aware", _inp("tx_aware.csv"), "transactions"),
    Case("tx_aware_as_of", _inp("tx_aware.csv"), "transactions", None,
         {"as_of": "1997-12-31"}),
    Case("tx_aware_tz", _inp("tx_aware.csv"), "transactions", None,
         {"as_of": "1997-12-31", "tz": "America/New_York"}),
    Case("tx_aware_as_of_offset", _inp("tx_aware.csv"), "transactions", None,
         {"as_of": "1998-01-01T00:00:00+01:00", "tz": "Asia/Tokyo"}),
    Case("tx_mixed_tz", _inp("tx_mixed_tz.csv"), "transactions"),
    Case("tx_order_conflict", _inp("tx_order_conflict.csv"), "transactions"),
    Case("tx_date_format", _inp("tx_date_format.csv"), "transactions", None,
         {"date_format": "%d/%m/%Y", "as_of": "1997-03-31"}),
    Case("subs_intervals", _inp("subs_intervals.csv"), "subscriptions", {"cust": "customer_id"}),
    Case("subs_intervals_as_of", _inp("subs_intervals.csv"), "subscriptions",
         {"cust": "customer_id"}, {"as_of": "2021-06-30"}),
    Case("subs_intervals_as_of_time", _inp("subs_intervals.csv"), "subscriptions",
         {"cust": "customer_id"}, {"as_of": "2021-06-30 20:00"}),
    Case("subs_snapshot", _inp("subs_snapshot.csv"), "subscriptions",
         {"id": "customer_id", "churn": "churned"}),
    Case("subs_snapshot_as_of", _inp("subs_snapshot.csv"), "subscriptions",
         {"id": "customer_id", "churn": "churned"}, {"as_of": "2021-06-30"}),
    Case("subs_snapshot_churn_values", _inp("subs_snapshot.csv"), "subscriptions",
         {"id": "customer_id", "churn": "churned"},
         {"churn_values": {"Yes": True, "No": False, "maybe": True}}, cli=False),
    Case("leads", _inp("leads.csv"), "leads", {"lead": "lead_id", "channel": "source"},
         cli=False),
    Case("leads_as_of", _inp("leads.csv"), "leads", {"lead": "lead_id", "channel": "source"},
         {"as_of": "2021-06-30"}, cli=False),
]


# --------------------------------------------------------------------------- records
def digest(frame) -> dict:
    """What the golden record keeps of a clean table: enough to see any change in it."""
    import hashlib
    import math

    import pandas as pd

    cols = {}
    for name in frame.columns:
        s = frame[name]
        info = {"dtype": str(s.dtype), "nulls": int(s.isna().sum())}
        present = s.dropna()
        if pd.api.types.is_bool_dtype(s.dtype):
            info["true"] = int(present.astype(bool).sum())
        elif pd.api.types.is_numeric_dtype(s.dtype):
            values = present.astype(float).tolist()
            info["sum"] = repr(math.fsum(values))
            info["min"] = repr(min(values)) if values else None
            info["max"] = repr(max(values)) if values else None
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            info["min"] = str(present.min()) if len(present) else None
            info["max"] = str(present.max()) if len(present) else None
        else:
            text = present.astype(str)
            info["distinct"] = int(text.nunique())
            info["min"] = min(text) if len(text) else None
            info["max"] = max(text) if len(text) else None
        cols[str(name)] = info
    csv = frame.to_csv(index=False, lineterminator="\n")
    return {"rows": int(len(frame)), "columns": cols,
            "sha256": hashlib.sha256(csv.encode()).hexdigest()}


def _loader(kind: str):
    import clm_lib.io as io

    return {"transactions": io.load_transactions, "subscriptions": io.load_subscriptions,
            "leads": io.load_leads}[kind]


def run_loader(case: Case) -> dict:
    """``{"record": DataQuality dict, "clean": digest}`` or ``{"error": {type, message}}``."""
    try:
        frame, dq = _loader(case.kind)(case.file, case.columns, **case.kwargs)
    except Exception as exc:  # noqa: BLE001 - the error is the record
        return {"error": {"type": type(exc).__name__, "message": str(exc)}}
    return {"record": dq.to_dict(), "clean": digest(frame)}


def run_cli(case: Case) -> dict:
    """``clm validate --json`` on the case: exit code and output (JSON when it succeeds)."""
    import json

    from click.testing import CliRunner

    from clm_lib.cli import cli

    result = CliRunner().invoke(cli, ["validate", *case.cli_args()])
    out = result.output.strip()
    if result.exit_code == 0:
        return {"exit_code": 0, "json": json.loads(out)}
    return {"exit_code": result.exit_code, "output": out}


def build(case: Case) -> dict:
    rec = {"case": case.name, "path": case.path, "kind": case.kind, "columns": case.columns,
           "kwargs": case.kwargs, "cli": run_cli(case) if case.cli else None}
    rec.update(run_loader(case))
    return rec


def main() -> None:
    import json

    RECORDS.mkdir(exist_ok=True)
    for case in CASES:
        rec = build(case)
        (RECORDS / f"{case.name}.json").write_text(json.dumps(rec, indent=1, ensure_ascii=False)
                                                   + "\n")
        print(case.name, "error" if "error" in rec else rec["record"]["rows_used"])


if __name__ == "__main__":
    main()
