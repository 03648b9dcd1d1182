"""Compare two report folders: every metrics.json and every export, floats to 1e-9 relative.

Used to show that a refactor changed no study output::

    python scripts/compare_reports.py reports/before reports/after

Prints one line per difference and exits with 1 when there is any. Keys and columns that
hold the run's own facts (timings, paths, versions) are not compared.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd

REL = 1e-9
ABS = 1e-12
#: metrics keys that describe the run, not the data
IGNORED_KEYS = {"elapsed_seconds", "generated_at", "versions", "output_dir"}


def _close(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= max(REL * max(abs(a), abs(b)), ABS)


def compare_json(a, b, where: str = "") -> list[str]:
    """Differences between two JSON values (floats to :data:`REL` relative)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key in IGNORED_KEYS:
                continue
            if key not in a or key not in b:
                out.append(f"{where}/{key}: only in {'second' if key not in a else 'first'}")
                continue
            out += compare_json(a[key], b[key], f"{where}/{key}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items against {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in compare_json(x, y, f"{where}[{i}]")]
    numbers = (int, float)
    if (isinstance(a, numbers) and isinstance(b, numbers)
            and not isinstance(a, bool) and not isinstance(b, bool)):
        return [] if _close(float(a), float(b)) else [f"{where}: {a!r} against {b!r}"]
    return [] if a == b else [f"{where}: {a!r} against {b!r}"]


def compare_csv(path_a: Path, path_b: Path, where: str) -> list[str]:
    """Differences between two CSV exports: same columns and rows, numbers to 1e-9."""
    a = pd.read_csv(path_a, dtype=str, keep_default_na=False)
    b = pd.read_csv(path_b, dtype=str, keep_default_na=False)
    if list(a.columns) != list(b.columns):
        return [f"{where}: columns {list(a.columns)} against {list(b.columns)}"]
    if len(a) != len(b):
        return [f"{where}: {len(a)} rows against {len(b)}"]
    out = []
    for col in a.columns:
        x, y = a[col], b[col]
        same = x == y
        if same.all():
            continue
        nx, ny = pd.to_numeric(x, errors="coerce"), pd.to_numeric(y, errors="coerce")
        for i in (~same).to_numpy().nonzero()[0]:
            if not (pd.notna(nx.iat[i]) and pd.notna(ny.iat[i]) and _close(nx.iat[i], ny.iat[i])):
                out.append(f"{where}: row {i} column {col}: {x.iat[i]!r} against {y.iat[i]!r}")
                if len(out) > 20:
                    return out + [f"{where}: (more differences not shown)"]
    return out


def compare_study(a: Path, b: Path, name: str) -> list[str]:
    """Differences between one study's outputs in two report folders."""
    out = compare_json(json.loads((a / "metrics.json").read_text()),
                       json.loads((b / "metrics.json").read_text()), f"{name}/metrics.json")
    exports_a = sorted(p.name for p in (a / "exports").glob("*.csv"))
    exports_b = sorted(p.name for p in (b / "exports").glob("*.csv"))
    if exports_a != exports_b:
        out.append(f"{name}/exports: {exports_a} against {exports_b}")
    for file in sorted(set(exports_a) & set(exports_b)):
        out += compare_csv(a / "exports" / file, b / "exports" / file, f"{name}/exports/{file}")
    return out


def compare_runs(a: Path, b: Path) -> list[str]:
    """Differences between every study present in both report folders."""
    studies = sorted({p.parent.name for p in a.glob("*/metrics.json")}
                     | {p.parent.name for p in b.glob("*/metrics.json")})
    out = []
    for name in studies:
        if not (a / name / "metrics.json").exists() or not (b / name / "metrics.json").exists():
            out.append(f"{name}: only in one folder")
            continue
        out += compare_study(a / name, b / name, name)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    diffs = compare_runs(Path(argv[0]), Path(argv[1]))
    for line in diffs:
        print(line)
    print(f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
