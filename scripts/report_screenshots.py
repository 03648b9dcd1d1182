"""The first screen (1400 x 900) of every page of a run, as PNG files, for the README.

    python scripts/report_screenshots.py reports/latest docs

Writes ``docs/screenshot_<page>.png`` for the index and each study's report, in headless
Chromium (Debian's ``chromium`` package, driven through Playwright).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

WIDTH, HEIGHT = 1400, 900


def main(run_dir: str, out_dir: str) -> int:
    run, out = Path(run_dir).resolve(), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pages = [("index", run / "index.html")] + [
        (p.parent.name, p) for p in sorted(run.glob("*/report.html"))]
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        print("chromium not found: install Debian's chromium package", file=sys.stderr)
        return 1
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        for name, path in pages:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_timeout(300)
            target = out / f"screenshot_{name}.png"
            page.screenshot(path=str(target))
            page.close()
            print(target)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*(sys.argv[1:] or ["reports/latest", "docs"])))
