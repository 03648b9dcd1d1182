"""Stakeholder HTML: one self-contained report per executed study.

A report is built in-process with nbconvert's ``basic`` template (cell bodies only) inside
the shared page frame (:mod:`clm_lib.run.page`: style, inlined scripts, CSP), so the file
loads nothing from the network and every image is a ``data:`` URI. Its order is the
reader's, not the notebook's:

1. a link back to the run's index, the title, the data source and as-of date;
2. the decision box (what matters, what to do, how sure we are), which the notebook shows
   with :func:`clm_lib.reporting.show_decision` and this module moves to the top;
3. a table of contents of the sections;
4. the sections; a section whose notebook cell called
   :func:`clm_lib.reporting.omit_section` is left out entirely;
5. an appendix: the exports with their data dictionary, the sections left out and why,
   and the parameters used in readable form (collapsed).

Code cells, the injected-parameters cell, cells tagged ``remove``, error outputs
(tracebacks), stderr streams and echoed path objects are left out; everything a
stakeholder reads is a markdown cell or a displayed output. Every value that comes from
parameters, metrics or errors is escaped here; data-derived text in outputs is escaped by
the notebook-side helpers (:mod:`clm_lib.reporting`), and the page's policy stops any
script that slipped through.
"""
from __future__ import annotations

import copy
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from clm_lib.exports import atomic_write as atomic_write_text  # noqa: F401  (the runner's writer)
from clm_lib.reporting import ROLE_KEY
from clm_lib.run.page import esc, page
from clm_lib.run.parameters import PATH_PARAMETERS

__all__ = ["atomic_write_text", "notebook_to_html", "report_page", "export_files"]

#: Cells with these tags are not shown in reports.
REMOVE_TAGS = frozenset({"remove", "remove_cell", "injected-parameters"})
#: Parameters never shown (where the run writes; secrets).
HIDDEN_PARAMETERS = frozenset({"output_dir", "history"})


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


def display_value(name: str, value: object) -> str:
    """A parameter value as readers see it: paths reduced to their file name, None as
    "not set", empty collections as "none", mappings as ``a → b`` pairs."""
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (str, os.PathLike)) and (
        name in PATH_PARAMETERS or (isinstance(value, str) and os.path.isabs(value))
    ):
        return os.path.basename(os.fspath(value).rstrip("/\\")) or os.fspath(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return ", ".join(f"{k} → {display_value(str(k), v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple, set)):
        return ", ".join(display_value(name, v) for v in value) or "none"
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
    """The body HTML (cells only) of a cleaned notebook, in notebook order."""
    clean = clean_notebook(nb)
    with _lock:  # one exporter shared by the runner's threads
        body, _ = _get_exporter().from_notebook_node(clean)
    return body


def _role(output) -> dict:
    meta = output.get("metadata", {}) or {}
    info = meta.get(ROLE_KEY)
    return info if isinstance(info, Mapping) else {}


def _heading(cell, level: int) -> str | None:
    mark = "#" * level + " "
    for line in cell.source.splitlines():
        if line.startswith(mark):
            return line[len(mark):].strip()
    return None


def arrange(nb):
    """Split a cleaned notebook into what the page places itself.

    Returns ``(nb, decision_html, omitted)``: the notebook without the decision output,
    without the title line and without the sections marked by ``omit_section``;
    the decision box's HTML ("" when the study shows none); and ``[(section, reason)]``.
    """
    nb = copy.deepcopy(nb)
    decision = ""
    sections: list[list] = [[]]
    for cell in nb.cells:
        if cell.cell_type == "markdown" and _heading(cell, 2) is not None:
            sections.append([])
        if cell.cell_type == "code":
            kept = []
            for out in cell.outputs:
                if _role(out).get("role") == "decision" and not decision:
                    decision = str(out.get("data", {}).get("text/html", ""))
                    continue
                kept.append(out)
            cell.outputs = kept
            if not kept:
                continue
        sections[-1].append(cell)
    cells, omitted = [], []
    for section in sections:
        reasons = [str(_role(o).get("reason", "")) for c in section if c.cell_type == "code"
                   for o in c.outputs if _role(o).get("role") == "omit"]
        head = next((c for c in section if c.cell_type == "markdown"), None)
        title = _heading(head, 2) if head is not None else None
        if reasons and title is not None:
            omitted.append((title, "; ".join(dict.fromkeys(_help(r) for r in reasons if r))))
            continue
        cells.extend(section)
    for cell in cells:  # the title is the page's <h1>
        if cell.cell_type == "markdown" and _heading(cell, 1) is not None:
            cell.source = "\n".join(line for line in cell.source.splitlines()
                                    if not line.startswith("# ")).strip()
            break
    nb.cells = [c for c in cells if not (c.cell_type == "markdown" and not c.source.strip())]
    return nb, decision, omitted


_H2 = re.compile(r"<h2 id=\"([^\"]+)\">(.*?)</h2>", re.S)
_TAGS = re.compile(r"<[^>]+>")


def _toc(body: str, extra: Sequence[tuple[str, str]] = ()) -> str:
    """A table of contents of the body's ``<h2>`` sections (ids made by nbconvert)."""
    import html as _html

    items = []
    for anchor, inner in _H2.findall(body):
        text = _html.unescape(_TAGS.sub("", inner)).replace("¶", "").strip()
        items.append(f"<li><a href='#{esc(_html.unescape(anchor))}'>{esc(text)}</a></li>")
    items += [f"<li><a href='#{esc(a)}'>{esc(t)}</a></li>" for a, t in extra]
    if not items:
        return ""
    return f"<nav class='clm-toc' aria-label='Contents'><strong>Contents</strong><ol>{''.join(items)}</ol></nav>"


def export_files(folder: str | os.PathLike) -> list[tuple[str, int]]:
    """The CSV exports in ``folder`` (data dictionary first) with their number of data rows."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    import csv

    out = []
    for path in sorted(folder.glob("*.csv"), key=lambda p: (p.name != "data_dictionary.csv", p.name)):
        with open(path, newline="", encoding="utf-8") as fh:   # records, not lines
            rows = sum(1 for _ in csv.reader(fh))
        out.append((path.name, max(rows - 1, 0)))
    return out


def _exports_block(exports: Sequence[tuple[str, int]], href: str = "exports/") -> str:
    if not exports:
        return ""
    items = []
    for name, rows in exports:
        what = ("what every column of the exports means, its unit and type"
                if name == "data_dictionary.csv" else f"{rows:,} rows")
        items.append(f"<li><a href='{esc(href + name)}'>{esc(name)}</a> · {esc(what)}</li>")
    return ("<h3>Exports</h3><p>Files for the CRM and further analysis, next to this report "
            "(customer ids as in the input data):</p>" f"<ul>{''.join(items)}</ul>")


def _params_block(parameters: Mapping[str, object], help_text: Mapping[str, str]) -> str:
    rows = "".join(
        f"<tr><th scope='row'>{esc(k)}</th><td>{esc(display_value(k, v))}</td>"
        f"<td>{esc(_help(help_text.get(k, '')))}</td></tr>"
        for k, v in parameters.items() if k not in HIDDEN_PARAMETERS)
    if not rows:
        return ""
    return ("<details class='clm-appendix-block'><summary>Parameters used</summary>"
            "<div class='clm-table-wrap'><table class='clm-params'><thead><tr><th>Setting</th>"
            f"<th>Value</th><th>Meaning</th></tr></thead><tbody>{rows}</tbody></table></div></details>")


def _help(text: str) -> str:
    """A parameter's notebook comment as a sentence (without the code-style markup)."""
    return text.replace("`", "").strip()


def report_page(nb, *, title: str, study: str, run_date: str,
                parameters: Mapping[str, object], parameter_help: Mapping[str, str] | None = None,
                exports: Sequence[tuple[str, int]] = (), index_href: str | None = "../index.html",
                source: str | None = None, as_of: str | None = None, since: str = "") -> str:
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
    parameter_help : mapping, optional
        What each parameter means (the notebook's comments), shown beside its value.
    exports : sequence of (file name, rows)
        The study's exports (:func:`export_files`), linked from the appendix.
    index_href : str or None
        Link back to the run's index page; None for a page on its own.
    source, as_of : str, optional
        Data source and end of observation for the header (from the study's metrics).
    since : str
        HTML of the run's alerts and of the change since the last run
        (:mod:`clm_lib.run.history_run`), shown right after the decision box; built by the
        runner from escaped values.
    """
    clean, decision, omitted = arrange(clean_notebook(nb))
    with _lock:  # one exporter shared by the runner's threads
        body, _ = _get_exporter().from_notebook_node(clean)
    appendix = [_exports_block(exports)]
    if omitted:
        appendix.append("<h3>Sections left out</h3><ul>" + "".join(
            f"<li><strong>{esc(t)}</strong>: {esc(r or 'not applicable to these data')}</li>"
            for t, r in omitted) + "</ul>")
    appendix.append(_params_block(parameters, parameter_help or {}))
    appendix_html = "".join(a for a in appendix if a)
    meta = [f"Study {esc(study)}", f"run {esc(_human_date(run_date))}"]
    if not decision:  # the decision box names the data itself
        meta = ([f"Data {esc(source)}"] if source else []) + (
            [f"observed to {esc(as_of)}"] if as_of else []) + meta
    nav = (f"<nav class='clm-nav'><a href='{esc(index_href)}'>← All reports of this run</a></nav>"
           if index_href else "")
    header = (f"<header class='clm-header'>{nav}<h1>{esc(title)}</h1>"
              f"<div class='clm-meta'>{' · '.join(meta)}</div></header>")
    extra = [("appendix", "Appendix: exports and parameters")] if appendix_html else []
    content = (header + decision + since + _toc(body, extra) + body
               + (f"<section id='appendix'><h2>Appendix: exports and parameters</h2>{appendix_html}</section>"
                  if appendix_html else ""))
    return page(title, content)


def _human_date(iso: str) -> str:
    """``2026-01-31T09:05:00[.123]Z`` -> ``2026-01-31 09:05 UTC`` (other text unchanged)."""
    if len(iso) in (20, 24) and iso.endswith("Z") and iso[10] == "T":
        return f"{iso[:10]} {iso[11:16]} UTC"
    return iso
