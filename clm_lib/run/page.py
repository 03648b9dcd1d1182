"""The frame every HTML page of a run shares: style, inlined scripts and the
Content-Security-Policy.

A page is one self-contained file that works offline: its style and the libraries it uses
(DataTables for sortable tables, Vega for interactive charts; vendored in ``assets/`` by
``scripts/vendor_assets.py``) are inlined, and only where the page needs them. The page's
Content-Security-Policy allows exactly the scripts this module adds, by their SHA-256
hash: an event handler, a ``javascript:`` URL or a ``<script>`` element that came from data
cannot run, even where escaping were missed.
"""
from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from importlib import resources

from clm_lib.reporting import escape as esc  # the one escaping helper

__all__ = ["CSS", "page", "csp", "esc"]

CSS = """
:root { --fg: #1d2430; --muted: #5b6472; --line: #d9dde3; --accent: #0b5cad; --soft: #f3f7fc; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--fg); line-height: 1.5; margin: 0; background: #fff; overflow-wrap: break-word; }
main { max-width: 64rem; margin: 0 auto; padding: 1rem 1.25rem 4rem; }
h1 { font-size: 1.75rem; line-height: 1.25; margin: .2rem 0 .5rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.1rem; }
a { color: var(--accent); }
img, svg { max-width: 100%; height: auto; }
figure { margin: 1rem 0; }
figcaption, caption { color: var(--muted); font-size: .9rem; text-align: left; caption-side: top;
                      padding-bottom: .3rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .92rem;
        font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .6rem; text-align: left;
         vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
.clm-table td:first-child, .clm-table th:first-child { white-space: nowrap; }
thead th { border-bottom: 2px solid var(--fg); }
pre { white-space: pre-wrap; font-size: .88rem; background: #f6f7f9; padding: .5rem; overflow-x: auto; }
.clm-table-wrap, .output_subarea, .jp-RenderedHTMLCommon, .jp-OutputArea-output { max-width: 100%; overflow-x: auto; }
.clm-nav { font-size: .9rem; margin-bottom: .4rem; }
.clm-meta { color: var(--muted); font-size: .9rem; }
.clm-header { margin-bottom: 1rem; }
.clm-decision { background: var(--soft); border-left: 5px solid var(--accent); padding: .8rem 1rem;
                margin: .8rem 0 1.2rem; font-size: .95rem; }
.clm-decision-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr));
                     gap: .4rem 1.4rem; }
.clm-decision ul { margin: .2rem 0 .4rem; padding-left: 1.2rem; }
.clm-decision li { margin-bottom: .25rem; }
.clm-decision p { margin: .2rem 0; }
.clm-kicker { font-weight: 700; text-transform: uppercase; letter-spacing: .04em; font-size: .8rem;
              color: var(--accent); }
.clm-source { color: var(--muted); font-size: .88rem; margin-top: .5rem !important; }
.clm-toc { font-size: .92rem; border: 1px solid var(--line); padding: .5rem 1rem; margin: 1rem 0; }
.clm-toc ol { margin: .3rem 0; padding-left: 1.4rem; columns: 2 18rem; }
.clm-summary { background: var(--soft); border-left: 4px solid var(--accent);
               padding: .6rem 1rem .6rem 2rem; }
.clm-omitted { color: var(--muted); font-style: italic; }
.clm-chart .clm-vega { width: 100%; min-height: 2rem; }
.clm-chart-ready .clm-chart-alt { display: none; }
.clm-chart-alt { color: var(--muted); font-size: .9rem; }
details.clm-appendix-block { margin: .6rem 0; }
details.clm-appendix-block > summary { cursor: pointer; font-weight: 600; }
.status-ok { color: #1a7f37; font-weight: 600; }
.status-failed, .status-timeout, .status-cancelled { color: #b42318; font-weight: 600; }
.clm-stages { display: grid; grid-template-columns: repeat(auto-fit, minmax(11.5rem, 1fr)); gap: .8rem;
              margin: 1rem 0 1.5rem; padding: 0; list-style: none; }
.clm-stage { border: 1px solid var(--line); border-top: 4px solid var(--accent); padding: .6rem .8rem; }
.clm-stage h3 { margin: 0 0 .3rem; font-size: 1rem; }
.clm-stage .clm-figure-value { font-size: 1.3rem; font-weight: 700; line-height: 1.2; }
.clm-stage p { margin: .1rem 0; }
.clm-stage-figure { margin-bottom: .7rem; }
.clm-figure-label { font-weight: 600; line-height: 1.3; }
.clm-figure-detail { color: var(--muted); font-size: .8rem; line-height: 1.35; }
.clm-stage details > summary { cursor: pointer; color: var(--accent); font-size: .85rem; margin-bottom: .4rem; }
.clm-stage-empty { border-top-color: var(--line); color: var(--muted); }
.clm-error { color: #b42318; }
.clm-alerts { border-left: 5px solid #b42318; background: #fdf0ee; padding: .6rem 1rem; margin: 1rem 0; }
.clm-alerts-title { font-weight: 600; margin: 0 0 .3rem; }
.clm-alerts ul { margin: 0; padding-left: 1.2rem; }
.clm-changes { margin: 1rem 0; }
.clm-changes p { margin: .2rem 0 .4rem; }
td.clm-good { color: #1a7f37; }
td.clm-bad { color: #b42318; }
dl.headline { display: grid; grid-template-columns: minmax(8rem, auto) 1fr; gap: .1rem .8rem; margin: 0; }
dl.headline dt { color: var(--muted); } dl.headline dd { margin: 0; font-weight: 600; }
.output_area .prompt, .jp-OutputPrompt, .jp-InputPrompt, a.anchor-link { display: none; }
div.dt-container { max-width: 100%; }
div.dt-container table.dataTable.clm-table { width: auto; margin: .2rem 0 .6rem; }
div.dt-container div.dt-layout-full > table.clm-table:only-child { margin-left: 0; margin-right: 0; }
div.dt-container .dt-search input { max-width: 12rem; }
@media (max-width: 40rem) {
  main { padding: .7rem .8rem 3rem; }
  table.clm-index, .clm-index tbody, .clm-index tr, .clm-index td { display: block; }
  .clm-index thead { display: none; }
  .clm-index tr { border-bottom: 2px solid var(--line); padding: .4rem 0; }
  .clm-index td { border: 0; padding: .1rem 0; text-align: left; }
  .clm-index td:empty { display: none; }
  .clm-index td::before { content: attr(data-label) ": "; color: var(--muted); font-size: .85rem; }
  h1 { font-size: 1.4rem; }
  table { font-size: .85rem; }
  th, td { padding: .25rem .4rem; }
}
@media print { .clm-nav, .clm-toc, div.dt-container .dt-search { display: none; } }
"""

#: Draws the interactive charts and makes the tables sortable; the only script of our own.
INIT = """(function () {
  "use strict";
  if (typeof vegaEmbed === "function") {
    document.querySelectorAll("figure.clm-chart").forEach(function (fig) {
      var target = fig.querySelector(".clm-vega"), spec = fig.querySelector("script.clm-vega-spec");
      if (!target || !spec) { return; }
      vegaEmbed(target, JSON.parse(spec.textContent),
                {actions: false, ast: true, renderer: "svg", tooltip: {theme: "light"}})
        .then(function () { fig.classList.add("clm-chart-ready"); })
        .catch(function (err) { console.error("chart:", err && err.message); });
    });
  }
  if (typeof DataTable === "function") {
    document.querySelectorAll("table[data-clm-sort]").forEach(function (table) {
      var long = table.hasAttribute("data-clm-search");
      new DataTable(table, {
        order: [], autoWidth: false, lengthChange: false, searching: long, info: long,
        paging: long && table.tBodies[0].rows.length > 25, pageLength: 25,
        language: {search: "Search:"}
      });
    });
  }
})();"""

_TABLES = ("jquery.min.js", "dataTables.min.js")
_CHARTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "vega-interpreter.min.js")


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return resources.files("clm_lib.run").joinpath("assets", name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def scripts_for(content: str) -> list[str]:
    """The inline scripts a page with this content needs, in load order."""
    names: list[str] = []
    if "data-clm-sort" in content:
        names += _TABLES
    if "clm-vega-spec" in content:
        names += _CHARTS
    return [_asset(n) for n in names] + ([INIT] if names else [])


def csp(scripts: list[str]) -> str:
    """The page's Content-Security-Policy: nothing from the network, images only as
    ``data:`` URIs, scripts only these (by hash; none when the list is empty)."""
    script_src = " ".join(_sha256(s) for s in scripts) or "'none'"
    return ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
            f"script-src {script_src}; base-uri 'none'; form-action 'none'")


def page(title: str, content: str) -> str:
    """A complete page: head with the policy and style, ``content`` in ``<main>``, then the
    scripts that content needs."""
    scripts = scripts_for(content)
    # the library's style first and ours after it, so that ours wins where both apply
    css = (_asset("dataTables.dataTables.min.css") if "data-clm-sort" in content else "") + CSS
    tags = "".join(f"<script>{s}</script>" for s in scripts)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{esc(csp(scripts))}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{css}</style></head>"
        f"<body><main>{content}</main>{tags}</body></html>\n"
    )
