"""Backtests: replay a log at several past as-of dates, as if the runs had been scheduled.

``clm backtest clv --origins 1997-09-30,1997-12-31,1998-03-31,1998-06-30 --config
examples/cdnow.yml`` runs the studies once per origin, oldest first, with ``as_of`` set to
the origin, each run into its own folder and all into one history store. Each run records
its forecasts in the ledger and scores those of the earlier origins that its data cover,
so the last run's reports hold the whole track record (a rolling-origin evaluation:
Tashman 2000). The backtest's own page (``index.html`` in its folder) lists the origins
and every scored forecast with its error, its interval and whether the actual fell inside,
and the coverage of the intervals.

Layout of a backtest (``DIR`` is ``--out``, or ``reports/backtest-<YYYYmmdd-HHMMSS>/``)::

    DIR/index.html           the origins and the track record of every study
    DIR/backtest.json        the same as data
    DIR/history.duckdb       the store the runs filled (unless --history names another)
    DIR/<origin>/            one run per origin (index.html, run.json, <study>/...)
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from clm_lib import format as fmt
from clm_lib.config import REPORTS_DIR
from clm_lib.exceptions import ParameterError
from clm_lib.reporting import escape, table_html
from clm_lib.run.execute import RunResult, _writable_dir, plan_run, run_studies
from clm_lib.run.html import atomic_write_text
from clm_lib.run.index_page import short_name
from clm_lib.run.page import page

__all__ = ["BacktestResult", "origins_every", "parse_origins", "run_backtest"]

#: Steps of ``--every``, as calendar months.
EVERY = {"month": 1, "quarter": 3, "half-year": 6, "year": 12}


def parse_origins(text: str | Sequence[str]) -> list[str]:
    """``"1997-09-30,1997-12-31"`` (or a list) -> sorted ISO dates, each checked."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        try:
            out.append(_dt.date.fromisoformat(item).isoformat())
        except ValueError:
            raise ParameterError(f"--origins: {item!r} is not an ISO date (YYYY-MM-DD)") from None
    if not out:
        raise ParameterError("--origins: give at least one date")
    if len(set(out)) != len(out):
        raise ParameterError("--origins: a date is given twice")
    return sorted(out)


def origins_every(every: str, first: str, last: str) -> list[str]:
    """Month ends from ``first`` to ``last`` every ``every`` (month, quarter, half-year,
    year): ``origins_every("quarter", "1997-09-30", "1998-06-30")`` -> the four quarter
    ends."""
    if every not in EVERY:
        raise ParameterError(f"--every must be one of {', '.join(EVERY)}, got {every!r}")
    start, end = pd.Timestamp(first), pd.Timestamp(last)
    if end < start:
        raise ParameterError("--last is before --first")
    dates = pd.date_range(start + pd.offsets.MonthEnd(0), end, freq=f"{EVERY[every]}ME")
    return [d.date().isoformat() for d in dates]


@dataclass
class BacktestResult:
    """The runs of a backtest, one per origin, and where its page is."""

    out_dir: Path
    history: str
    runs: dict[str, RunResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs.values())

    @property
    def index(self) -> Path:
        return self.out_dir / "index.html"

    @property
    def alerts(self) -> list[dict]:
        return [a for r in self.runs.values() for a in r.alerts]

    def exit_code(self, fail_on_alert: bool = False) -> int:
        codes = [r.exit_code(fail_on_alert) for r in self.runs.values()]
        return 1 if 1 in codes else max(codes, default=0)


def _track_records(result: BacktestResult) -> dict[str, dict]:
    """Per study, the track record of its last successful run (it scores all origins)."""
    out: dict[str, dict] = {}
    for origin, run in result.runs.items():
        for name, study in run.studies.items():
            if not study.ok:
                continue
            try:
                metrics = json.loads((run.out_dir / name / "metrics.json").read_text("utf-8"))
            except (OSError, ValueError):
                continue
            record = metrics.get("track_record") if isinstance(metrics, Mapping) else None
            if isinstance(record, Mapping):
                out[name] = {"origin": origin, "currency": metrics.get("currency"), **record}
    return out


def _entries_table(entries: Sequence[Mapping], currency) -> str:
    rows = []
    for e in entries:
        value_kind = "money" if e.get("kind") == "money" or e.get("name") == "value" else "number"
        show = (lambda v: fmt.money(v, currency)) if value_kind == "money" else (lambda v: fmt.number(v, 0))
        window = e.get("window") or ["", ""]
        interval = ("" if e.get("lower") is None or e.get("upper") is None
                    else f"{show(e['lower'])} – {show(e['upper'])}")
        rows.append({
            "Forecast made as of": e.get("as_of", ""),
            "What": e.get("label") or e.get("name", ""),
            "Window": f"{window[0]} to {window[1]}",
            "Forecast": show(e.get("predicted")), "Actual": show(e.get("actual")),
            "Error": fmt.percent(e.get("error"), signed=True),
            "Predictive interval": interval + (f" ({fmt.percent(e['level'], 0)})"
                                               if interval and e.get("level") else ""),
            "Actual inside": {True: "yes", False: "no", None: "no interval"}[e.get("inside")],
        })
    return table_html(pd.DataFrame(rows), index=False) if rows else ""


def backtest_html(result: BacktestResult, origins: Sequence[str]) -> str:
    """The backtest's page: the origins with links, then each study's track record."""
    records = _track_records(result)
    runs = "".join(
        f"<li><a href='{escape(o)}/index.html'>Data to {escape(o)}</a>"
        f"{'' if r.ok else ' (a study failed)'}</li>" for o, r in result.runs.items())
    parts = [f"<header class='clm-header'><h1>Backtest: forecasts against what happened</h1>"
             f"<div class='clm-meta'>{len(origins)} origins, {escape(origins[0])} to "
             f"{escape(origins[-1])} · one run per origin, as if scheduled</div></header>"]
    if not records:
        parts.append("<p>No study of this backtest keeps a track record (the CLV, cohort "
                     "and survival studies do).</p>")
    for name, rec in records.items():
        n, cov = rec.get("scored", 0), rec.get("coverage")
        mae = rec.get("mean_abs_error")
        summary = (f"{n} forecast{'s' if n != 1 else ''} scored; mean absolute error "
                   f"{fmt.percent(mae)}" if n and mae is not None else f"{n} forecasts scored")
        if cov is not None:
            summary += (f"; {fmt.percent(cov, 0)} of the actuals fell inside their predictive "
                        f"intervals ({rec.get('intervals')} with an interval)")
        parts.append(f"<h2>{escape(short_name(name))}</h2><p>{escape(summary)}.</p>")
        if rec.get("text"):
            parts.append(f"<p>{escape(rec['text'])}</p>")
        parts.append(_entries_table(rec.get("entries") or [], rec.get("currency")))
        parts.append(f"<p><a href='{escape(rec['origin'])}/{escape(name)}/report.html'>"
                     f"The report of the last origin ({escape(rec['origin'])})</a> shows the "
                     "track record in full.</p>")
    parts.append(f"<h2>Runs</h2><ol>{runs}</ol>")
    return page("Backtest", "".join(parts))


def run_backtest(names: Sequence[str] | None, origins: Sequence[str], *,
                 out_dir: str | os.PathLike | None = None, parameters=None, config=None,
                 history: str | None = None, jobs: int | None = None, timeout: float = 600,
                 notebooks_dir: str | os.PathLike | None = None, progress: bool = True,
                 reports_dir: str | os.PathLike | None = None) -> BacktestResult:
    """Run ``names`` once per origin (``as_of`` = the origin), oldest first, into one store
    (see the module docstring). ``parameters``, ``config`` and the rest are those of
    :func:`clm_lib.run.execute.run_studies`; ``as_of`` cannot be among the parameters.
    Every origin's run is checked (:func:`~clm_lib.run.execute.plan_run`) before the
    first one starts.
    """
    origins = parse_origins(origins)
    items = list(parameters.items() if isinstance(parameters, Mapping) else parameters or [])
    if any(str(k).split(".")[-1] == "as_of" for k, _ in items):
        raise ParameterError("a backtest sets as_of itself (one run per origin): leave "
                             "-p as_of out")
    # every origin's run checked before the first starts: a bad value found at the k-th
    # origin would otherwise come after k - 1 finished runs
    for origin in origins:
        plan_run(names, parameters=[*items, ("as_of", origin)], config=config,
                 timeout=timeout, notebooks_dir=notebooks_dir)
    if out_dir is None:
        base = Path(reports_dir) if reports_dir is not None else REPORTS_DIR
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = base / f"backtest-{stamp}"
    folder = _writable_dir(Path(out_dir)).resolve()
    url = history if history is not None else str(folder / "history.duckdb")
    if str(url).strip().lower() in ("", "none", "off", "false"):
        raise ParameterError("a backtest needs a history store to fill (--history)")
    result = BacktestResult(out_dir=folder, history=url)
    for origin in origins:
        run = run_studies(names, out_dir=folder / origin, parameters=[*items, ("as_of", origin)],
                          config=config, jobs=jobs, timeout=timeout, notebooks_dir=notebooks_dir,
                          progress=progress, history=url)
        result.runs[origin] = run
    records = _track_records(result)
    atomic_write_text(folder / "backtest.json", json.dumps(
        {"origins": origins, "history": url,
         "runs": {o: {"ok": r.ok, "run_id": r.run_id, "folder": o} for o, r in result.runs.items()},
         "track_record": records}, indent=2, default=str) + "\n")
    atomic_write_text(result.index, backtest_html(result, origins))
    return result
