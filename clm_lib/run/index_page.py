"""The run's index page: the customer lifecycle at a glance, then every study of the run.

The page opens with the five lifecycle stages (reach, acquisition, conversion, retention,
loyalty and advocacy), each with the key figures the studies that ran report for it
(``metrics["lifecycle"]``, see :func:`clm_lib.reporting.stage_figure`) and a link to the
report behind each figure. Below, one row per study: its data source and as-of date (from
its decision box), its headline figures, its exports, or the reason it failed.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from clm_lib.reporting import STAGES
from clm_lib.run.history_run import alerts_block, changes_block
from clm_lib.run.html import display_value, _human_date
from clm_lib.run.page import esc, page

__all__ = ["index_html"]

#: What to run or give when no study of the run measures a stage.
STAGE_HINTS = {
    "reach": "give the lifecycle study a leads table (leads=FILE) to count the leads reached",
    "acquisition": "run the overview study on a purchase log",
    "conversion": "run the overview study, or give the lifecycle study a leads table",
    "retention": "run the cohort retention or survival study",
    "loyalty": "run the CLV or lifecycle study on a purchase log",
}


def _decision(metrics: Mapping | None) -> Mapping:
    d = (metrics or {}).get("decision") if isinstance(metrics, Mapping) else None
    return d if isinstance(d, Mapping) else {}


def _headline(metrics: Mapping | None) -> str:
    head = (metrics or {}).get("headline") if isinstance(metrics, Mapping) else None
    if not isinstance(head, Mapping) or not head:
        return ""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in head.items())
    return f"<dl class='headline'>{items}</dl>"


def _error_text(error: Mapping | None) -> str:
    if not error:
        return ""
    parts = []
    if error.get("cell") is not None:
        parts.append(f"cell {error['cell']}")
    if error.get("ename"):
        parts.append(str(error["ename"]))
    text = " · ".join(parts)
    if error.get("evalue"):
        text += f": {error['evalue']}"
    return f"<div class='clm-error'>{esc(text)}</div>"


def short_name(study: str) -> str:
    """A study's name as a link text: ``clv`` -> ``CLV``, ``cohort_retention`` ->
    ``Cohort retention``."""
    words = study.split("_")
    return " ".join(w.upper() if len(w) <= 3 else (w.capitalize() if i == 0 else w)
                    for i, w in enumerate(words))


def _figure_html(fig: Mapping, name: str, title: str, source: str) -> str:
    link = (f"<a href='{esc(name)}/report.html' title='{esc(title)}'>"
            f"{esc(short_name(name))} report</a>")
    detail = f"{esc(fig['detail'])} · " if fig.get("detail") else ""
    data = f"{esc(source)} · " if source else ""
    return (f"<div class='clm-stage-figure'><p class='clm-figure-value'>{esc(fig.get('value', ''))}</p>"
            f"<p class='clm-figure-label'>{esc(fig.get('label', ''))}</p>"
            f"<p class='clm-figure-detail'>{detail}{data}{link}</p></div>")


def _stage_cards(studies: Mapping, metrics: Mapping, titles: Mapping) -> str:
    """One card per stage: each study's key figure for it (the first it lists), then its
    other figures for the stage folded away, so a card stays short."""
    lead: dict[str, list[str]] = {s: [] for s in STAGES}
    more: dict[str, list[str]] = {s: [] for s in STAGES}
    for name, info in studies.items():
        if info.get("status") != "ok":
            continue
        source = _decision(metrics.get(name)).get("source", "")
        seen = set()
        for fig in (metrics.get(name) or {}).get("lifecycle") or []:
            if not isinstance(fig, Mapping) or fig.get("stage") not in lead:
                continue
            stage = fig["stage"]
            html = _figure_html(fig, name, titles.get(name) or name, source)
            (more if stage in seen else lead)[stage].append(html)
            seen.add(stage)
    cards = []
    for stage, label in STAGES.items():
        if lead[stage]:
            extra = (f"<details><summary>{len(more[stage])} more</summary>{''.join(more[stage])}</details>"
                     if more[stage] else "")
            cards.append(f"<li class='clm-stage'><h3>{esc(label)}</h3>{''.join(lead[stage])}{extra}</li>")
        else:
            cards.append(f"<li class='clm-stage clm-stage-empty'><h3>{esc(label)}</h3>"
                         f"<p>Not measured in this run: {esc(STAGE_HINTS[stage])}.</p></li>")
    return f"<ol class='clm-stages' aria-label='Customer-lifecycle stages'>{''.join(cards)}</ol>"


def index_html(run: Mapping, metrics: Mapping[str, Mapping | None], titles: Mapping[str, str],
               exports: Mapping[str, Sequence[tuple[str, int]]] | None = None) -> str:
    """The index page of a run (see the module docstring).

    ``run`` is the content of run.json; ``metrics`` maps study name to its metrics.json
    content (or None); ``exports`` maps study name to its export files
    (:func:`clm_lib.run.html.export_files`). Links are relative, so the folder can be
    moved or served as is.
    """
    studies = run.get("studies", {})
    metrics = {k: v for k, v in (metrics or {}).items() if isinstance(v, Mapping)}
    exports = exports or {}
    rows = []
    for name, info in studies.items():
        status = info.get("status", "?")
        title = esc(titles.get(name) or name)
        d = _decision(metrics.get(name))
        if status == "ok":
            link = f"<a href='{esc(name)}/report.html'>{title}</a>"
            detail = _headline(metrics.get(name))
        else:
            link = f"{title} (<a href='{esc(name)}/notebook.ipynb'>executed notebook</a>)"
            detail = _error_text(info.get("error"))
        files = exports.get(name) or []
        export_link = "<br>".join(
            f"<a href='{esc(name)}/exports/{esc(f)}'>{esc(f)}</a>"
            + ("" if f == "data_dictionary.csv" else f" <span class='clm-meta'>({rows:,} rows)</span>")
            for f, rows in files)
        dur = info.get("duration_s")
        dur_text = f"{dur:.0f} s" if isinstance(dur, (int, float)) else ""
        rows.append(
            f"<tr><td data-label='Study'>{link}</td>"
            f"<td data-label='Status' class='status-{esc(status)}'>{esc(status)}</td>"
            f"<td data-label='Data'>{esc(d.get('source', ''))}</td>"
            f"<td data-label='Observed to'>{esc(d.get('as_of', ''))}</td>"
            f"<td data-label='Key figures'>{detail}</td><td data-label='Exports'>{export_link}</td>"
            f"<td data-label='Time' class='num'>{esc(dur_text)}</td></tr>")
    n_ok = sum(1 for i in studies.values() if i.get("status") == "ok")
    params = run.get("parameters") or {}
    shared = {k: v for k, v in params.items() if not isinstance(v, Mapping)}
    per_study = {k: v for k, v in params.items() if isinstance(v, Mapping)}
    prow = "".join(f"<tr><th scope='row'>{esc(k)}</th><td>{esc(display_value(k, v))}</td></tr>"
                   for k, v in shared.items())
    for study, values in per_study.items():
        prow += "".join(f"<tr><th scope='row'>{esc(study)}.{esc(k)}</th>"
                        f"<td>{esc(display_value(k, v))}</td></tr>" for k, v in values.items())
    params_block = (f"<details class='clm-appendix-block'><summary>Parameters given</summary>"
                    f"<div class='clm-table-wrap'><table><tbody>{prow}</tbody></table></div></details>"
                    if prow else "")
    since = []
    for name, info in studies.items():
        m = metrics.get(name) or {}
        block = changes_block(info.get("changes"), m.get("currency") if isinstance(
            m.get("currency"), str) else None, heading="h3")
        if block:
            title = esc(titles.get(name) or name)
            since.append(block.replace("<h3>Since the last run</h3>", f"<h3>{title}</h3>", 1))
    since_html = ("<h2 id='since'>Since the last run</h2><div class='clm-since'>" + "".join(since)
                  + "</div>") if since else ""
    if run.get("history_error"):
        recorded = f" · <span class='clm-error'>not recorded in the run history: {esc(run['history_error'])}</span>"
    elif run.get("history"):
        recorded = " · recorded in the run history"
    else:
        recorded = ""
    content = (
        "<header class='clm-header'><h1>Customer lifecycle</h1>"
        f"<div class='clm-meta'>Run started {esc(_human_date(run.get('started') or ''))}, "
        f"finished {esc(_human_date(run.get('finished') or ''))} · "
        f"{n_ok} of {len(studies)} studies succeeded{recorded}</div></header>"
        + alerts_block(run.get("alerts") or []) +
        "<p>The key figure of each stage of the customer lifecycle, from the studies of this run; "
        "each links to the report that explains it. Studies may use different data: the table "
        "below gives each one's source and as-of date.</p>"
        + _stage_cards(studies, metrics, titles) + since_html
        + "<h2>Studies of this run</h2><div class='clm-table-wrap'><table class='clm-index'>"
        "<thead><tr><th>Study</th><th>Status</th><th>Data</th><th>Observed to</th>"
        "<th>Key figures</th><th>Exports</th><th class='num'>Time</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table></div>" + params_block
    )
    return page("Customer lifecycle: reports of this run", content)
