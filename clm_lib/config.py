"""All paths of the workbench, derived in one place (cookiecutter-data-science style), and
the number of cores the workbench may use."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
DATA_DIR = REPO_ROOT / "data"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
REPORTS_DIR = REPO_ROOT / "reports"
BENCHMARKS_DIR = REPO_ROOT / "benchmarks"
#: Config files that run the studies on the bundled samples (`make reports`).
EXAMPLES_DIR = REPO_ROOT / "examples"

#: Bundled sample data (see data/README.md for origin, citation and hashes).
CDNOW_MASTER = DATA_DIR / "cdnow_master.csv"
CDNOW_SAMPLE = DATA_DIR / "cdnow_sample.csv"
TELCO_CHURN = DATA_DIR / "telco_churn.csv"
DONATIONS = DATA_DIR / "donations.csv"
#: SYNTHETIC leads (scripts/make_leads_sample.py): not real data, not linked to CDNOW.
LEADS_SYNTHETIC = DATA_DIR / "leads_synthetic.csv"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity on Linux, else the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
