"""Size and load time of every page of a run in headless Chromium, against an earlier run.

    python benchmarks/bench_report_pages.py reports/latest [--before OTHER_RUN_DIR]

Each page is loaded ``--repeat`` times (default 5) in a fresh tab; the load time is the
median of the navigation's ``loadEventEnd`` (all inlined scripts run, charts drawn),
from the Navigation Timing API. The issue 16 targets: under 2 MB and under 1 s per page.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
from pathlib import Path

from playwright.sync_api import sync_playwright

DRAWN = ("() => [...document.querySelectorAll('figure.clm-chart')]"
         ".every(f => f.classList.contains('clm-chart-ready'))")


def pages(run: Path) -> dict[str, Path]:
    found = {"index": run / "index.html"}
    found.update({p.parent.name: p for p in sorted(run.glob("*/report.html"))})
    return {k: v for k, v in found.items() if v.exists()}


def load_ms(browser, path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_function(DRAWN, timeout=10_000)
        t = page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0];"
                          " return Math.max(n.loadEventEnd, performance.now()) - n.startTime; }")
        times.append(t)
        page.close()
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--before", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    now, before = pages(args.run.resolve()), pages(args.before.resolve()) if args.before else {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        print(f"{'page':<20}{'KB before':>10}{'KB now':>9}{'ms before':>11}{'ms now':>9}")
        for name, path in now.items():
            b = before.get(name)
            kb_b = f"{b.stat().st_size / 1024:,.0f}" if b else "–"
            ms_b = f"{load_ms(browser, b, args.repeat):,.0f}" if b else "–"
            print(f"{name:<20}{kb_b:>10}{path.stat().st_size / 1024:>9,.0f}{ms_b:>11}"
                  f"{load_ms(browser, path, args.repeat):>9,.0f}")
        browser.close()


if __name__ == "__main__":
    main()
