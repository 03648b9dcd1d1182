"""Write the SYNTHETIC leads sample ``data/leads_synthetic.csv`` (seeded, reproducible).

No small real public leads table with creation and conversion dates ships in a package we
may redistribute, so the bundled leads are simulated, with known parameters, over the
CDNOW period. They are not CDNOW data and are not linked to CDNOW customers: they exist so
that the funnel section of the lifecycle report runs on bundled data, and so that the
funnel's estimates can be checked against the truth that generated them.

The model (every parameter is in :data:`SOURCES` and the constants below):

* leads of each source are created on each day from :data:`FIRST_DAY` to
  :data:`EXTRACT_DAY` as a Poisson number with the source's ``leads_per_day``;
* each lead converts eventually with the source's probability ``p_convert``; a converting
  lead's time to convert in days is ``floor(X)`` with ``X`` log-normal, median
  ``median_days`` and log-scale standard deviation :data:`SIGMA` (so the share converted
  within ``w`` days is ``p_convert * P(floor(X) <= w)``, :func:`converted_within`);
* a conversion after :data:`EXTRACT_DAY` (the day the table was "extracted") is not
  known: the row's ``converted`` is empty;
* a few flawed rows are added on purpose, so that the data-quality notes have something to
  count: :data:`N_BAD_CREATED` rows whose ``created`` is not a date and
  :data:`N_CONVERTED_BEFORE` rows converted before they were created. The rows created
  after the bundled ``as_of`` (1998-06-30) and up to the extract day are dropped and counted
  by the leads contract too.

Usage::

    python scripts/make_leads_sample.py            # write data/leads_synthetic.csv
    python scripts/make_leads_sample.py --check    # only check the file's SHA-256
"""
from __future__ import annotations

import argparse
import hashlib
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
OUTPUT = "leads_synthetic.csv"
SEED = 19                                   # issue 19
FIRST_DAY = "1997-01-01"                    # the first day of the CDNOW data
EXTRACT_DAY = "1998-07-15"                  # two weeks after the CDNOW as_of (1998-06-30)
SIGMA = 0.9                                 # log-scale sd of the days to convert
#: source -> (leads per day, probability of converting eventually, median days to convert)
SOURCES = {
    "email": (2.0, 0.25, 8.0),
    "paid search": (4.0, 0.12, 12.0),
    "referral": (1.0, 0.35, 5.0),
    "social": (3.0, 0.06, 20.0),
}
N_BAD_CREATED = 3
N_CONVERTED_BEFORE = 2
#: SHA-256 of the file this script writes (also in data/README.md).
EXPECTED_SHA256 = "136e5980ece3ee271cd7eafef8d417e6f1b2effe4687fe0e2636567624caee20"


def converted_within(source: str, days: float) -> float:
    """The true share of the source's leads converted within ``days`` days of creation."""
    _, p, median = SOURCES[source]
    # floor(X) <= d  <=>  X < d + 1
    z = (math.log(math.floor(days) + 1) - math.log(median)) / SIGMA
    return p * 0.5 * (1 + math.erf(z / math.sqrt(2)))


def simulate(seed: int = SEED) -> pd.DataFrame:
    """The leads table: ``lead_id``, ``created``, ``source``, ``converted`` (ISO dates,
    empty when not converted by the extract day), flawed rows included."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(FIRST_DAY, EXTRACT_DAY, freq="D")
    end = pd.Timestamp(EXTRACT_DAY)
    parts = []
    for source, (rate, p, median) in SOURCES.items():
        n_per_day = rng.poisson(rate, size=len(days))
        created = days.repeat(n_per_day)
        n = len(created)
        converts = rng.random(n) < p
        wait = np.floor(rng.lognormal(math.log(median), SIGMA, size=n)).astype(int)
        converted = created + pd.to_timedelta(wait, unit="D")
        known = converts & (converted <= end)
        parts.append(pd.DataFrame({
            "created": created.strftime("%Y-%m-%d"), "source": source,
            "converted": np.where(known, converted.strftime("%Y-%m-%d"), "")}))
    leads = pd.concat(parts, ignore_index=True)
    # flawed rows on purpose (see the module docstring), at seeded positions
    bad = rng.choice(len(leads), size=N_BAD_CREATED + N_CONVERTED_BEFORE, replace=False)
    for i in bad[:N_BAD_CREATED]:
        leads.loc[i, "created"] = "not recorded"
    for i in bad[N_BAD_CREATED:]:
        c = pd.Timestamp(leads.loc[i, "created"])
        leads.loc[i, "converted"] = (c - pd.Timedelta(days=3)).strftime("%Y-%m-%d")
    # one table in creation order, as a CRM extract would be; ids in that order
    order = np.argsort(pd.to_datetime(leads["created"], errors="coerce").fillna(end).to_numpy(),
                       kind="stable")
    leads = leads.iloc[order].reset_index(drop=True)
    leads.insert(0, "lead_id", [f"L{i + 1:05d}" for i in range(len(leads))])
    return leads


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(path: Path, seed: int = SEED) -> str:
    """Write the sample to ``path``; its SHA-256."""
    simulate(seed).to_csv(path, index=False, lineterminator="\n")
    return sha256(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check the file's SHA-256")
    args = ap.parse_args(argv)
    path = DATA_DIR / OUTPUT
    digest = sha256(path) if args.check else write(path)
    ok = digest == EXPECTED_SHA256
    print(f"{path.name}: {digest} {'ok' if ok else 'DIFFERS from ' + EXPECTED_SHA256}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
