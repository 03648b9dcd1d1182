"""Notebook-side helpers shared by every study: the decision box, notes, figures, charts,
tables, metrics, and (from :mod:`clm_lib.exports`) the exports and pseudonyms.

Notebooks call these instead of printing, so that every report looks alike and user text
is always escaped. Writing is skipped when ``output_dir`` is ``None`` (interactive use).
"""
from __future__ import annotations

import html
import io
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.exports import (  # noqa: F401  (the notebooks' one import for exports and ids)
    DICTIONARY,
    EXPORT_IDS_ENV,
    ID_COLUMN,
    KEY_ENV,
    Column,
    _fast_csv,
    atomic_write,
    export_frame,
    pseudonym_key,
    pseudonymise,
    safe_for_spreadsheet,
    save_export,
)


def escape(text: object) -> str:
    """HTML-escape any value for inclusion in report text (quotes included).

    The one escaping helper: every data-derived string that reaches a report goes through
    it (directly or through the display helpers below). Never pass data-derived text to
    ``IPython.display.Markdown``: Markdown keeps raw HTML, so a value such as
    ``<img src=x onerror=...>`` would become live markup.

    The space between a number and its "%" becomes a no-break space, so that a narrow
    screen never puts the unit at the start of a line.
    """
    return _NUMBER_UNIT.sub("\u00a0", html.escape(str(text), quote=True))


#: The space in "33.2 %" (clm_lib.format's percentages).
_NUMBER_UNIT = re.compile(r"(?<=\d) (?=%)")


# --------------------------------------------------------------------------- blocks
#: Output metadata key under which the report builder (``clm_lib.run.html``) finds the
#: blocks it places itself: the decision box (moved to the top of the page), charts, and
#: sections left out (listed once in the appendix).
ROLE_KEY = "clm"


def _display_html(text: str, role: str | None = None, **meta) -> None:
    from IPython.display import HTML, display

    metadata = {ROLE_KEY: {"role": role, **meta}} if role else None
    display(HTML(text), metadata=metadata)


def summary_html(lines: Iterable[str], title: str = "Summary") -> str:
    """A plain-language summary block; each line is escaped and becomes a bullet."""
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f"<h2>{escape(title)}</h2><ul class='clm-summary'>{items}</ul>"


def show_summary(lines: Iterable[str], title: str = "Summary") -> None:
    """Display :func:`summary_html` in the notebook."""
    _display_html(summary_html(lines, title))


def show_note(*paragraphs: str) -> None:
    """Display data-derived sentences as plain, escaped paragraphs (never as Markdown)."""
    body = "".join(f"<p class='clm-note'>{escape(p)}</p>" for p in paragraphs if p)
    if body:
        _display_html(body)


def show_notes(lines: Iterable[str], title: str | None = None) -> None:
    """Display data-derived sentences as an escaped bullet list, with an optional title."""
    items = "".join(f"<li>{escape(line)}</li>" for line in lines if line)
    if items:
        head = f"<p class='clm-note'><strong>{escape(title)}</strong></p>" if title else ""
        _display_html(f"{head}<ul class='clm-notes'>{items}</ul>")


def omit_section(reason: str) -> None:
    """Mark the current section (from its ``##`` heading to the next) as left out.

    In a report the whole section disappears and ``reason`` (e.g. "needs the `segment`
    parameter: give a column to compare customers by") is listed once in the appendix; in
    JupyterLab the reason is shown in place.
    """
    _display_html(f"<p class='clm-omitted'>This section is left out: {escape(reason)}</p>",
                  role="omit", reason=str(reason))


#: The customer-lifecycle stages of the index page, in order, with their reader's names.
STAGES = {
    "reach": "Reach",
    "acquisition": "Acquisition",
    "conversion": "Conversion",
    "retention": "Retention",
    "loyalty": "Loyalty and advocacy",
}


def stage_figure(stage: str, label: str, value: str, detail: str = "") -> dict:
    """One key figure of a lifecycle stage for the index page (``metrics["lifecycle"]``).

    ``value`` is already formatted (``clm_lib.format``); ``detail`` says what it counts
    and over which period, e.g. "customers with a first purchase 1997-01 to 1997-03".
    """
    if stage not in STAGES:
        raise ValueError(f"stage_figure: unknown stage {stage!r}; one of {list(STAGES)}")
    return {"stage": stage, "label": str(label), "value": str(value), "detail": str(detail)}


def source_label(*sources) -> str:
    """The data source(s) as readers see them: file names only (never a full path),
    joined by " + "; accepts paths, text or :class:`~clm_lib.io.quality.DataQuality`.

    >>> source_label("/data/in/CDNOW_master.txt", "leads.csv")
    'CDNOW_master.txt + leads.csv'
    """
    names = []
    for src in sources:
        text = getattr(src, "source", src)
        if text is None or text == "":
            continue
        name = os.path.basename(os.fspath(text).rstrip("/\\")) or os.fspath(text)
        if name not in names:
            names.append(name)
    return " + ".join(names) if names else "the data given"


def as_of_label(as_of, source: str | None, note: str | None = None) -> str:
    """The end of observation as the decision box states it, with how it was set:
    ``1998-06-30 (the last date in the data)`` when ``source`` is "data", else
    ``1998-06-30 (as given)``; ``note`` is added inside the brackets.

    >>> as_of_label("1998-06-30", "data"), as_of_label("1998-06-30", "parameter", "a note")
    ('1998-06-30 (the last date in the data)', '1998-06-30 (as given; a note)')
    """
    how = "the last date in the data" if source == "data" else "as given"
    return f"{fmt.date(as_of)} ({how}{'; ' + note if note else ''})"


@dataclass
class Decision:
    """What a stakeholder reads first: the report's decision box.

    Parameters
    ----------
    findings : list of str
        What matters: three or four findings computed from the results, plain words.
    actions : list of str
        What to do: the recommended actions, each with the value at stake.
    confidence : str
        How sure we are: the holdout or track record in words (error, interval coverage),
        or why there is none.
    source : str
        The data source, by file name (never a full path).
    as_of : str
        The end of observation, ISO date, with how it was set ("the last date in the data").
    """

    findings: list[str]
    actions: list[str]
    confidence: str
    source: str
    as_of: str

    def to_dict(self) -> dict:
        """The decision as stored in ``metrics.json`` under ``decision``."""
        return asdict(self)


def decision_html(decision: Decision) -> str:
    """The decision box as HTML; every string escaped."""
    def items(lines):
        return "".join(f"<li>{escape(x)}</li>" for x in lines if x)

    return (
        "<section class='clm-decision' aria-label='Summary and recommended actions'>"
        "<div class='clm-decision-grid'>"
        f"<div><p class='clm-kicker'>What matters</p><ul>{items(decision.findings)}</ul></div>"
        f"<div><p class='clm-kicker'>What to do</p><ul>{items(decision.actions)}</ul></div>"
        f"<div><p class='clm-kicker'>How sure we are</p><p>{escape(decision.confidence)}</p></div>"
        "</div>"
        f"<p class='clm-source'>Data: {escape(decision.source)} · observed to {escape(decision.as_of)}</p>"
        "</section>"
    )


def show_decision(decision: Decision) -> None:
    """Display the decision box; in a report it is moved to the top of the page."""
    _display_html(decision_html(decision), role="decision")


# --------------------------------------------------------------------------- figures
def _figure_of(fig):
    return fig.figure if hasattr(fig, "figure") and not hasattr(fig, "savefig") else fig


def figure_html(fig, alt: str, caption: str | None = None, *, raster: bool = False) -> str:
    """A matplotlib figure as an ``<img>`` with alt text: SVG (vector) by default, or a PNG
    at twice the figure's resolution (``raster=True``, for dense images such as heatmaps
    with thousands of cells). Shown at the figure's size, never wider than the page."""
    import base64

    import matplotlib

    fig = _figure_of(fig)
    buf = io.BytesIO()
    if raster:
        fig.savefig(buf, format="png", dpi=2 * fig.dpi, bbox_inches="tight")
        mime = "image/png"
    else:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "clm"}):
            fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
        mime = "image/svg+xml"
    data = buf.getvalue()
    w, h = _image_size(data, raster, fig.dpi)
    src = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (f"<figure class='clm-figure'><img src='{src}' alt='{escape(alt)}' "
            f"width='{w}' height='{h}' loading='eager'>{cap}</figure>")


def _image_size(data: bytes, raster: bool, dpi: float) -> tuple[int, int]:
    """CSS pixel size of the saved figure, as it would show at 100 dpi."""
    if raster:
        import struct

        w, h = struct.unpack(">II", data[16:24])
        return round(w / 2 * 100 / dpi), round(h / 2 * 100 / dpi)
    head = data[:2000].decode("utf-8", "replace")
    m = re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', head)
    if not m:
        return 800, 500
    return round(float(m.group(1)) * 100 / 72), round(float(m.group(2)) * 100 / 72)


def show_figure(fig, alt: str, caption: str | None = None, *, raster: bool = False,
                close: bool = True) -> None:
    """Display a figure (or the figure of an Axes) with meaningful alt text, then close it.

    ``alt`` says what the chart shows and its main message, e.g. "Share of customers still
    active by month since first purchase; the One year plan keeps 90 % after 12 months".
    """
    import matplotlib.pyplot as plt

    f = _figure_of(fig)
    _display_html(figure_html(f, alt, caption, raster=raster), role="figure")
    if close:
        plt.close(f)


def _script_json(obj) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>``, ``&``."""
    text = json.dumps(_clean(obj), allow_nan=False, separators=(",", ":"), default=_json_default)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


#: The colours of every chart, static or interactive: Okabe & Ito (2008) without black
#: (blue, orange, bluish green, vermillion, reddish purple, sky blue, yellow, grey),
#: distinguishable under the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#7F7F7F")
#: The look of interactive charts, as for the matplotlib figures (clm_lib.plotting.style).
CHART_CONFIG = {
    "range": {"category": list(PALETTE)},
    "axis": {"labelFontSize": 12, "titleFontSize": 12},
    "legend": {"labelFontSize": 12, "titleFontSize": 12, "orient": "bottom"},
    "title": {"fontSize": 14, "anchor": "start"},
    "font": "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif",
}


def chart_spec(chart) -> dict:
    """The Vega-Lite spec of an Altair chart (or a spec dict), with the workbench's look
    where the chart does not set its own."""
    spec = chart.to_dict() if hasattr(chart, "to_dict") else dict(chart)
    config = dict(spec.get("config") or {})
    for key, value in CHART_CONFIG.items():
        if isinstance(value, dict):
            config[key] = {**value, **(config.get(key) or {})}
        else:
            config.setdefault(key, value)
    return {**spec, "config": config}


def chart_html(chart, alt: str, caption: str | None = None) -> str:
    """An interactive Vega-Lite chart (an Altair chart or its spec dict) as HTML: the spec
    as inert JSON, drawn by the report page's own Vega script (values on hover)."""
    spec = chart_spec(chart)
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (f"<figure class='clm-chart'><div class='clm-vega' role='img' aria-label='{escape(alt)}'>"
            f"<p class='clm-chart-alt'>{escape(alt)}</p></div>"
            f"<script type='application/json' class='clm-vega-spec'>{_script_json(spec)}</script>"
            f"{cap}</figure>")


def show_chart(chart, alt: str, caption: str | None = None) -> None:
    """Display an interactive chart. JupyterLab draws it with its own Vega-Lite renderer;
    the HTML report draws it with the Vega scripts inlined into the page."""
    from IPython.display import display

    spec = chart_spec(chart)
    bundle = {"application/vnd.vegalite.v5+json": json.loads(_script_json(spec)),
              "text/html": chart_html(spec, alt, caption), "text/plain": str(alt)}
    display(bundle, raw=True, metadata={ROLE_KEY: {"role": "chart"}})


# --------------------------------------------------------------------------- tables
#: Tables with more rows than this get a search box in reports.
SEARCH_ROWS = 15


def _cell_text(v, float_format: str) -> str:
    if fmt.is_missing(v):
        return fmt.MISSING
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return fmt.number(v)
        return float_format.format(v).replace("-", "−")
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return f"{int(v):,}"
    if isinstance(v, pd.Timestamp):
        return fmt.date(v)
    return str(v)


def _column_texts(s: pd.Series, float_format: str) -> list[str]:
    if pd.api.types.is_float_dtype(s) and len(s):
        finite = s[np.isfinite(s.to_numpy(dtype=float, na_value=np.nan))]
        if len(finite) and np.all(finite == np.round(finite)) and finite.abs().max() >= 1:
            return [fmt.count(v) for v in s]       # counts stored as floats: 7,846 not 7,846.00
    return [_cell_text(v, float_format) for v in s.to_numpy(dtype=object)]


def table_html(df: pd.DataFrame, caption: str | None = None, index: bool = True,
               float_format: str = "{:,.2f}", *, formats: Mapping[str, object] | None = None,
               rename: Mapping[str, str] | None = None, sortable: bool | None = None,
               search: bool | None = None) -> str:
    """A table as escaped HTML in its own scrolling box.

    Columns named in ``formats`` are formatted by :func:`clm_lib.format.format_frame`;
    other float columns holding whole numbers read as counts, the rest by
    ``float_format``. ``rename`` gives the friendly column names. In a report the table
    is sortable (numeric columns by their values) and, above ``SEARCH_ROWS`` rows,
    searchable; ``sortable``/``search`` override that.
    """
    raw = df.reset_index() if index else df.reset_index(drop=True)
    n_index = df.index.nlevels if index else 0
    if index and n_index == 1 and df.index.name is None and "index" in raw.columns:
        raw = raw.rename(columns={"index": ""})
    shown = fmt.format_frame(raw, formats) if formats else raw
    names = [str(rename.get(c, c)) if rename else str(c) for c in raw.columns]
    texts = {c: (list(map(str, shown[c])) if formats and c in formats
                 else _column_texts(raw[c], float_format)) for c in raw.columns}
    numeric = {c: pd.api.types.is_numeric_dtype(raw[c]) and not pd.api.types.is_bool_dtype(raw[c])
               for c in raw.columns}
    if sortable is None:
        sortable = len(raw) > 1 and not isinstance(df.columns, pd.MultiIndex)
    if search is None:
        search = len(raw) > SEARCH_ROWS
    head = "".join(f"<th scope='col'>{escape(n)}</th>" for n in names)
    rows = []
    for i in range(len(raw)):
        cells = []
        for j, c in enumerate(raw.columns):
            text = escape(texts[c][i])
            order = ""
            if numeric[c]:
                v = raw[c].iloc[i]
                if not fmt.is_missing(v):
                    v = float(v)
                    order = f" data-order='{v if math.isfinite(v) else (1e308 if v > 0 else -1e308)!r}'"
            cls = " class='num'" if numeric[c] else ""
            tag = "th scope='row'" if j < n_index else "td"
            cells.append(f"<{tag}{cls}{order}>{text}</{tag.split()[0]}>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    attrs = (" data-clm-sort='1'" if sortable else "") + (" data-clm-search='1'" if search else "")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (f"<div class='clm-table-wrap'><table class='clm-table'{attrs}>{cap}"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def show_table(df: pd.DataFrame, caption: str | None = None, index: bool = True,
               float_format: str = "{:,.2f}", **kwargs) -> None:
    """Display :func:`table_html` (every value escaped; keyword arguments as there)."""
    _display_html(table_html(df, caption, index, float_format, **kwargs))


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (pd.Timestamp,)):
        return obj.isoformat()
    if isinstance(obj, (np.ndarray, pd.Series)):
        return obj.tolist()
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean(obj):
    """Replace NaN/inf by None recursively (JSON has no NaN)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def to_json(metrics: Mapping) -> str:
    """Serialise metrics: numpy/pandas scalars converted, NaN written as null."""
    return json.dumps(_clean(json.loads(json.dumps(metrics, default=_json_default))),
                      indent=2, allow_nan=False)


def save_metrics(metrics: Mapping, output_dir: str | os.PathLike | None) -> Path | None:
    """Write ``metrics.json`` into ``output_dir`` (atomically); no-op when it is None.

    Conventional keys read by the runner: ``headline`` ({label: formatted value}, shown
    on index.html) and ``data_quality`` (a :class:`~clm_lib.io.quality.DataQuality` dict).
    """
    if output_dir is None:
        return None
    path = Path(output_dir) / "metrics.json"
    atomic_write(path, to_json(metrics))
    return path


