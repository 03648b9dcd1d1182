"""Fetch the JavaScript and CSS the HTML reports inline, at pinned versions, from npm.

The reports are single files that work offline, so the libraries they use are inlined
into every page from ``clm_lib/run/assets/`` (committed, so that installing the workbench
needs no network beyond PyPI). This script re-creates that folder: each package's tarball
is downloaded from the npm registry, checked against its published sha512 integrity, and
the one built file the reports need is copied with the package's licence.

    python scripts/vendor_assets.py      # then review and commit clm_lib/run/assets/

To upgrade, change a version here, delete its integrity (the script prints the registry's)
and check the reports in a browser (tests/report/test_browser.py).
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "clm_lib" / "run" / "assets"
REGISTRY = "https://registry.npmjs.org"

# package, version, file inside the tarball, name in assets/, sha512 integrity of the tarball
PACKAGES = [
    ("vega", "5.33.1", "build/vega.min.js", "vega.min.js",
     "sha512-1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw=="),
    ("vega-lite", "5.20.1", "build/vega-lite.min.js", "vega-lite.min.js",
     "sha512-rpw6aT3NXR4bIdctPpK/V+FZAt1VNHMEnfF/TxaZDc4PDOzfYXiYOFf0zOMURUq/EyzFCkhBvtkf1MzmqlAz9g=="),
    ("vega-embed", "6.29.0", "build/vega-embed.min.js", "vega-embed.min.js",
     "sha512-PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q=="),
    ("vega-interpreter", "1.2.1", "build/vega-interpreter.min.js", "vega-interpreter.min.js",
     "sha512-EMHLGxJ+SWfh1K/fHDRlHEZtLA/2ZNAXItYb5e8CxuAIm/Ha/3DHX/8VlvbTGIciUpuwmcKx4tVhJWlKreQ/Yw=="),
    ("jquery", "3.8.0", "dist/jquery.min.js", "jquery.min.js",
     "sha512-AOYt0viqPysMUTq45O8gF9DuOnBT3Il/8WtM/TT8z/2QeGsZ70ImwSJtNFxznn2R71v8yIgaEunOGo82OY/f0g=="),
    ("datatables.net", "2.3.8", "js/dataTables.min.js", "dataTables.min.js",
     "sha512-uhViowhlDlheAuo5a8TrkQqADsjrtGeOyvrigvr4t0+K3MyAWqClORXWAYIcN9VLX6iIX0C8O9gwJNd01hITRg=="),
    ("datatables.net-dt", "2.3.8", "css/dataTables.dataTables.min.css", "dataTables.dataTables.min.css",
     "sha512-GD4on0YvNlUS/l+mrXeA1OC2JDzF2/GGbehVv4AacwtiFaoTwqxZseiR0cED6w59u/lgpVrZRC2RwuubUX996Q=="),
]


def fetch(package: str, version: str) -> bytes:
    name = package.split("/")[-1]
    url = f"{REGISTRY}/{package}/-/{name}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=60) as resp:
        return resp.read()


def main() -> int:
    ASSETS.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for package, version, member, target, integrity in PACKAGES:
        tarball = fetch(package, version)
        got = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
        if got != integrity:
            print(f"{package}@{version}: integrity {got} does not match {integrity}", file=sys.stderr)
            return 1
        with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
            data = tar.extractfile(f"package/{member}").read()
            licence = next((tar.extractfile(m).read() for m in tar.getmembers()
                            if m.name.lower().startswith("package/licen")), b"")
            if not licence:  # some packages state their licence only in package.json
                meta = json.loads(tar.extractfile("package/package.json").read())
                repo = meta.get("repository")
                repo = repo.get("url", "") if isinstance(repo, dict) else (repo or "")
                licence = f"{package} {version}: {meta.get('license')} licence, {repo}\n".encode()
        (ASSETS / target).write_bytes(data)
        (ASSETS / f"{target}.LICENSE.txt").write_bytes(licence)
        manifest[target] = {"package": package, "version": version, "file": member,
                            "sha256": hashlib.sha256(data).hexdigest()}
        print(f"{package}@{version} -> {target} ({len(data):,} bytes)")
    (ASSETS / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
