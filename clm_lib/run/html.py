"""Stakeholder HTML: one self-contained report per executed study, and the run's index.

Reports are built in-process with nbconvert's ``basic`` template (cell bodies only) inside
our own small page, so the file loads nothing from the network: no require.js, MathJax,
Mermaid or web fonts, and every image is embedded as a ``data:`` URI. Code cells, the
injected-parameters cell, cells tagged ``remove``, error outputs (tracebacks), stderr
streams and echoed path objects (a cell ending in ``save_export(...)``) are left out; everything a stakeholder reads is a markdown cell or a displayed
output. Markdown maths is shown as TeX source (no MathJax).

Every value that comes from parameters, metrics or errors is HTML-escaped here.
"""
from __future__ import annotations

import copy
import html
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from clm_lib.run.parameters import PATH_PARAMETERS

__all__ = ["atomic_write_text", "index_html", "notebook_to_html", "report_page"]

#: Cells with these tags are not shown in reports.
REMOVE_TAGS = frozenset({"remove", "remove_cell", "injected-parameters"})
CSS = """
:root { --fg: #1d2430; --muted: #5b6472; --line: #d9dde3; --accent: #1f5fa8; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--fg); line-height: 1.5; margin: 0; background: #fff; }
main { max-width: 62rem; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1 { font-size: 1.8rem; margin: .2rem 0 .6rem; }
h2 { font-size: 1.35rem; margin-top: 2rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.1rem; }
a { color: var(--accent); }
img { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .92rem;
        font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .7rem; text-align: right;
         vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid var(--fg); }
pre { white-space: pre-wrap; font-size: .88rem; background: #f6f7f9; padding: .5rem; }
.clm-header { border-bottom: 2px solid var(--fg); margin-bottom: 1.2rem; padding-bottom: .6rem; }
.clm-meta { color: var(--muted); font-size: .9rem; }
.clm-meta table { font-size: .85rem; margin: .3rem 0; }
.clm-meta td, .clm-meta th { text-align: left; padding: .15rem .6rem; }
.clm-summary { background: #f3f7fc; border-left: 4px solid var(--accent);
               padding: .6rem 1rem .6rem 2rem; }
.status-ok { color: #1a7f37; font-weight: 600; }
.status-failed, .status-timeout { color: #b42318; font-weight: 600; }
dl.headline { display: grid; grid-template-columns: auto 1fr; gap: .1rem .8rem; margin: 0; }
dl.headline dt { color: var(--muted); } dl.headline dd { margin: 0; font-weight: 600; }
.output_area .prompt, .jp-OutputPrompt, .jp-InputPrompt, a.anchor-link { display: none; }
"""

# Published files get the usual permissions (mkstemp creates them 0600); read the umask
# once, since reading it means setting it, which is process-wide.
_UMASK = os.umask(0o022)
os.umask(_UMASK)

_lock = threading.Lock()
_exporter = None


def _get_exporter():
    """One nbconvert exporter per process (building it costs ~0.2 s: templates, filters)."""
    global _exporter
    if _exporter is None:
        from nbconvert import HTMLExporter

        _exporter = HTMLExporter(
            template_name="basic",
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            embed_images=True,
        )
    return _exporter


def warm_up() -> None:
    """Build the exporter and compile its templates now (about 0.7 s), e.g. in a thread
    while the first kernels start, so that the first report does not wait for it."""
    import nbformat

    notebook_to_html(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# x")]))


def esc(value: object) -> str:
    """HTML-escape any value (quotes included)."""
    return html.escape(str(value), quote=True)


def display_value(name: str, value: object) -> str:
    """A parameter value as shown in reports: paths reduced to their file name."""
    if value is None:
        return "None"
    if isinstance(value, (str, os.PathLike)) and (
        name in PATH_PARAMETERS or (isinstance(value, str) and os.path.isabs(value))
    ):
        return os.path.basename(os.fspath(value).rstrip("/\\")) or os.fspath(value)
    if isinstance(value, str):
        return value
    return repr(value)


# The echo of a cell ending in e.g. ``save_export(...)``: a path object's repr, which
# would put a full local path into a report.
_PATH_REPR = re.compile(r"^(?:Posix|Windows|Pure\w*)?Path\(.*\)$", re.S)


def _keep_output(output) -> bool:
    if output.get("output_type") == "error":
        return False
    if output.get("output_type") == "execute_result":
        data = output.get("data", {})
        if set(data) == {"text/plain"} and _PATH_REPR.match(str(data["text/plain"]).strip()):
            return False
    if output.get("output_type") == "stream" and output.get("name") == "stderr":
        return False
    return True


def clean_notebook(nb):
    """Copy of ``nb`` with only what a stakeholder should see (see the module docstring)."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & REMOVE_TAGS:
            continue
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if _keep_output(o)]
            if not cell.outputs:
                continue
        elif cell.cell_type == "raw":
            continue
        cells.append(cell)
    nb.cells = cells
    return nb


def notebook_to_html(nb) -> str:
    """The body HTML (cells only) of a cleaned notebook."""
    clean = clean_notebook(nb)
    with _lock:  # one exporter shared by the runner's threads
        body, _ = _get_exporter().from_notebook_node(clean)
    return body


def _params_table(parameters: Mapping[str, object]) -> str:
    rows = "".join(
        f"<tr><th scope='row'>{esc(k)}</th><td>{esc(display_value(k, v))}</td></tr>"
        for k, v in parameters.items()
    )
    return f"<table class='clm-params'><tbody>{rows}</tbody></table>" if rows else ""


def report_page(nb, *, title: str, study: str, run_date: str,
                parameters: Mapping[str, object]) -> str:
    """A complete, self-contained HTML page for one executed study notebook.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook.
    title : str
        Report title (the notebook's first heading); escaped.
    study : str
        Study name; escaped.
    run_date : str
        When the run started (ISO 8601, UTC).
    parameters : mapping
        Parameters used (notebook defaults merged with the run's values); ``output_dir``
        is not shown, paths are reduced to file names.
    """
    body = notebook_to_html(nb)
    shown = {k: v for k, v in parameters.items() if k != "output_dir"}
    header = (
        "<header class='clm-header'>"
        f"<div class='clm-meta'>Study <strong>{esc(study)}</strong> · run {esc(_human_date(run_date))}"
        "</div>"
        f"<details class='clm-meta' open><summary>Parameters used</summary>{_params_table(shown)}"
        "</details></header>"
    )
    return _page(title, header + body)


def _human_date(iso: str) -> str:
    """``2026-01-31T09:05:00[.123]Z`` -> ``2026-01-31 09:05 UTC`` (other text unchanged)."""
    if len(iso) in (20, 24) and iso.endswith("Z") and iso[10] == "T":
        return f"{iso[:10]} {iso[11:16]} UTC"
    return iso


def _page(title: str, content: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{content}</main></body></html>\n"
    )


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


def index_html(run: Mapping, metrics: Mapping[str, Mapping | None],
               titles: Mapping[str, str]) -> str:
    """The run's index page: one row per study with status, duration and headline numbers.

    ``run`` is the content of run.json; ``metrics`` maps study name to its metrics.json
    content (or None); links are relative so the folder can be moved or served as is.
    """
    rows = []
    for name, info in run.get("studies", {}).items():
        status = info.get("status", "?")
        if status == "ok":
            link = f"<a href='{esc(name)}/report.html'>{esc(titles.get(name) or name)}</a>"
        else:
            link = (f"{esc(titles.get(name) or name)} "
                    f"(<a href='{esc(name)}/notebook.ipynb'>executed notebook</a>)")
        dur = info.get("duration_s")
        dur_text = f"{dur:.1f} s" if isinstance(dur, (int, float)) else ""
        detail = _headline(metrics.get(name)) if status == "ok" else _error_text(info.get("error"))
        rows.append(
            f"<tr><td>{link}<br><span class='clm-meta'>{esc(name)}</span></td>"
            f"<td class='status-{esc(status)}'>{esc(status)}</td><td>{esc(dur_text)}</td>"
            f"<td style='text-align:left'>{detail}</td></tr>"
        )
    n_ok = sum(1 for i in run.get("studies", {}).values() if i.get("status") == "ok")
    n = len(run.get("studies", {}))
    params = run.get("parameters") or {}
    shared = {k: v for k, v in params.items() if not isinstance(v, Mapping)}
    per_study = {k: v for k, v in params.items() if isinstance(v, Mapping)}
    ptable = _params_table(shared)
    for study, values in per_study.items():
        ptable += f"<p>{esc(study)}</p>" + _params_table(values)
    content = (
        "<header class='clm-header'><h1>Customer-lifecycle reports</h1>"
        f"<div class='clm-meta'>Run started {esc(_human_date(run.get('started') or ''))}, "
        f"finished {esc(_human_date(run.get('finished') or ''))} · {n_ok} of {n} studies succeeded</div>"
        + (f"<details class='clm-meta'><summary>Parameters given</summary>{ptable}</details>"
           if ptable else "")
        + "</header>"
        "<table class='clm-index'><thead><tr><th>Study</th><th>Status</th><th>Time</th>"
        "<th style='text-align:left'>Headline</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table>"
    )
    return _page("Customer-lifecycle reports", content)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename,
    so that a reader never sees a half-written file at the published path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
