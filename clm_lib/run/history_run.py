"""The runner's side of the run history: which store a run writes to, what changed since
the last run of each study, the alerts for schedulers, and the blocks that show them.

* **Store** (:func:`history_url`): ``--history URL`` on the command line, else a config
  file's ``history:`` key, else ``$CLM_HISTORY``, else ``history.duckdb`` beside the run
  folders (``reports/history.duckdb`` for ``make reports``). ``none`` switches it off.
* **Changes** (:func:`study_changes`): each study's numeric headline figures
  (``metrics["figures"]``) against those of the last run of the same study on the same
  source (its input files) in the store.
* **Alerts** (:func:`evaluate_alerts`): thresholds from a config file's ``alerts:`` key
  (:data:`ALERT_RULES`), each giving a named alert in the report, the index and
  ``run.json``; ``clm run --fail-on-alert`` then exits with :data:`ALERT_EXIT_CODE`.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from clm_lib import format as fmt
from clm_lib.exceptions import ParameterError
from clm_lib.history import change_text, changes, previous_run, study_key, value_text
from clm_lib.history.store import HistoryError
from clm_lib.reporting import escape

__all__ = ["ALERT_EXIT_CODE", "ALERT_RULES", "HISTORY_ENV", "alerts_block", "changes_block",
           "check_alert_rules", "evaluate_alerts", "history_url", "study_changes"]

#: Environment variable naming the history store when neither --history nor a config does.
HISTORY_ENV = "CLM_HISTORY"
#: Exit code of ``clm run --fail-on-alert`` when an alert fired (and every study succeeded).
ALERT_EXIT_CODE = 3

#: The alert rules a config's ``alerts:`` mapping may set, with what each watches.
ALERT_RULES = {
    "churn_up_points": "a churn rate (a figure marked churn) rose by more than this many "
                       "percentage points since the last run",
    "track_record_error_pct": "a forecast scored in this run missed what happened by more "
                              "than this many percent",
    "coverage_below_pct": "fewer than this percent of the scored forecasts' actuals fell "
                          "inside their predictive intervals",
    "data_quality_drop_pct": "more than this percent of an input's rows were dropped by the "
                             "data contract",
    "figure_change_pct": "a headline figure (not a percentage) changed by more than this "
                         "many percent since the last run",
}


#: How each alert is titled in the reports (``run.json`` keeps the names).
ALERT_TITLES = {
    "churn_up": "Churn rising",
    "figure_change": "Large change",
    "track_record_error": "Forecast missed",
    "coverage_below": "Intervals too narrow",
    "data_quality_drop": "Rows dropped",
}


def check_alert_rules(rules: object, label: str = "config") -> dict:
    """The ``alerts:`` mapping of a config, checked: known rule names, positive numbers."""
    if rules is None:
        return {}
    if not isinstance(rules, Mapping):
        raise ParameterError(f"{label}: 'alerts' must be a mapping of rule: threshold, e.g. "
                             "{churn_up_points: 2}")
    problems, out = [], {}
    for name, value in rules.items():
        if name not in ALERT_RULES:
            problems.append(f"{label}: unknown alert rule {name!r} (known: "
                            f"{', '.join(ALERT_RULES)})")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.append(f"{label}: alert {name} must be a number ≥ 0, got {value!r}")
            continue
        out[name] = float(value)
    if problems:
        raise ParameterError("; ".join(problems))
    return out


def history_url(cli_value: str | None, settings: Mapping, runs_folder: Path) -> str | None:
    """The store of this run (see the module docstring); None when switched off."""
    for value in (cli_value, settings.get("history"), os.environ.get(HISTORY_ENV)):
        if value is not None and str(value).strip() != "":
            return None if str(value).strip().lower() in ("none", "off", "false") else str(value)
    return str(Path(runs_folder) / "history.duckdb")


def study_changes(url: str | None, study: str, parameters: Mapping, metrics: Mapping
                  ) -> dict | None:
    """The change of ``study``'s figures against its last run on the same source:
    ``{"previous": {run_id, as_of, committed}, "changes": [...]}``, or None when the store
    has no such run (or the study reports no figures)."""
    figures = metrics.get("figures") if isinstance(metrics, Mapping) else None
    if not url or not isinstance(figures, Mapping) or not figures:
        return None
    key = study_key(study, parameters)
    try:
        prev = previous_run(url, study, key)
    except HistoryError:
        return None  # the commit at the end of the run names the problem with the store
    if prev is None:
        return None
    return {"previous": {"run_id": prev["run_id"], "as_of": prev.get("as_of"),
                         "committed": prev.get("committed")},
            "changes": changes(figures, prev.get("figures") or {})}


def _alert(name: str, study: str, message: str, value: float, threshold: float) -> dict:
    return {"name": name, "study": study, "message": message, "value": value,
            "threshold": threshold}


def evaluate_alerts(rules: Mapping[str, float], study: str, metrics: Mapping,
                    change: Mapping | None) -> list[dict]:
    """The alerts ``study`` raises under ``rules`` (:data:`ALERT_RULES`), each a dict
    with ``name``, ``study``, ``message`` (plain words), ``value`` and ``threshold``."""
    out: list[dict] = []
    if not rules:
        return out
    entries = (change or {}).get("changes") or []
    if "churn_up_points" in rules:
        limit = rules["churn_up_points"]
        for e in entries:
            if e.get("churn") and e.get("change") is not None and 100 * e["change"] > limit:
                out.append(_alert("churn_up", study,
                                  f"{e['label']} rose by {fmt.points(e['change'])} since the "
                                  f"last run (to {fmt.percent(e['current'])}; limit "
                                  f"{limit:g} points)", 100 * e["change"], limit))
    if "figure_change_pct" in rules:
        limit = rules["figure_change_pct"]
        for e in entries:
            if e.get("relative") is not None and 100 * abs(e["relative"]) > limit:
                out.append(_alert("figure_change", study,
                                  f"{e['label']} changed by {fmt.percent(e['relative'], signed=True)} "
                                  f"since the last run (limit {limit:g} %)",
                                  100 * e["relative"], limit))
    record = metrics.get("track_record") if isinstance(metrics, Mapping) else None
    scored = [e for e in (record or {}).get("entries") or [] if isinstance(e, Mapping)]
    if "track_record_error_pct" in rules and scored:
        limit = rules["track_record_error_pct"]
        latest = max(str(e.get("as_of", "")) for e in scored)
        for e in scored:
            err = e.get("error")
            if str(e.get("as_of", "")) == latest and err is not None and 100 * abs(err) > limit:
                what = e.get("label") or e.get("name") or "forecast"
                out.append(_alert("track_record_error", study,
                                  f"the {what} forecast made as of {latest} missed what "
                                  f"happened by {fmt.percent(err, signed=True)} (limit {limit:g} %)",
                                  100 * err, limit))
    if "coverage_below_pct" in rules and (record or {}).get("coverage") is not None:
        limit, cov = rules["coverage_below_pct"], record["coverage"]
        if 100 * cov < limit:
            out.append(_alert("coverage_below", study,
                              f"only {fmt.percent(cov)} of the scored forecasts fell inside "
                              f"their predictive intervals (limit {limit:g} %)", 100 * cov, limit))
    if "data_quality_drop_pct" in rules:
        limit = rules["data_quality_drop_pct"]
        for key, dq in (metrics or {}).items():
            if not (key == "data_quality" or key.endswith("_data_quality")) or not isinstance(dq, Mapping):
                continue
            rows_in, used = dq.get("rows_in"), dq.get("rows_used")
            if not rows_in or used is None:
                continue
            share = (rows_in - used) / rows_in
            if 100 * share > limit:
                out.append(_alert("data_quality_drop", study,
                                  f"{fmt.percent(share)} of the {fmt.count(rows_in)} rows of "
                                  f"{dq.get('source') or 'the input'} were dropped (limit {limit:g} %)",
                                  100 * share, limit))
    return out


def alerts_block(alerts: Sequence[Mapping]) -> str:
    """The alerts of a page, as a warning box (empty without alerts)."""
    if not alerts:
        return ""
    items = "".join(f"<li><strong>{escape(ALERT_TITLES.get(a['name'], a['name']))}</strong> "
                    f"({escape(a['study'])}): {escape(a['message'])}</li>"
                    for a in alerts)
    n = len(alerts)
    return (f"<aside class='clm-alerts' role='alert'><p class='clm-alerts-title'>"
            f"{n} alert{'s' if n != 1 else ''} for this run</p><ul>{items}</ul></aside>")


def changes_block(change: Mapping | None, currency: str | None = None,
                  heading: str = "h3") -> str:
    """The change of the headline figures since the last run, as a small table."""
    if not change or not change.get("changes"):
        return ""
    prev = change.get("previous") or {}
    rows = []
    for e in change["changes"]:
        cls = f" class='clm-{e['news']}'" if e.get("news") else ""
        before = "—" if e.get("previous") is None else value_text(
            {"kind": e["kind"], "value": e["previous"]}, currency)
        now = value_text({"kind": e["kind"], "value": e["current"]}, currency)
        rows.append(f"<tr><th scope='row'>{escape(e['label'])}</th><td>{escape(before)}</td>"
                    f"<td>{escape(now)}</td><td{cls}>{escape(change_text(e, currency))}</td></tr>")
    as_of = prev.get("as_of")
    when = (f"the last run on the same data (data to {as_of}, recorded "
            f"{str(prev.get('committed') or '')[:10]})" if as_of else
            f"the last run on the same data (recorded {str(prev.get('committed') or '')[:10]})")
    return (f"<section class='clm-changes'><{heading}>Since the last run</{heading}>"
            f"<p>Compared with {escape(when)}.</p>"
            "<div class='clm-table-wrap'><table class='clm-table'><thead><tr><th>Figure</th>"
            "<th>Last run</th><th>This run</th><th>Change</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></div></section>")
