"""Notebook-side helpers shared by every study: summary text, tables, metrics and exports.

Notebooks call these instead of printing, so that every report looks alike and user text
is always escaped. Writing is skipped when ``output_dir`` is ``None`` (interactive use).
"""
from __future__ import annotations

import hashlib
import html
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

#: Characters that make a spreadsheet treat a cell as a formula (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape(text: object) -> str:
    """HTML-escape any value for inclusion in report text."""
    return html.escape(str(text), quote=True)


def summary_html(lines: Iterable[str], title: str = "Summary") -> str:
    """A plain-language summary block; each line is escaped and becomes a bullet."""
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f"<h2>{escape(title)}</h2><ul class='clm-summary'>{items}</ul>"


def show_summary(lines: Iterable[str], title: str = "Summary") -> None:
    """Display :func:`summary_html` in the notebook."""
    from IPython.display import HTML, display

    display(HTML(summary_html(lines, title)))


def show_table(df: pd.DataFrame, caption: str | None = None, index: bool = True,
               float_format: str = "{:,.2f}") -> None:
    """Display a table with every value HTML-escaped."""
    from IPython.display import HTML, display

    body = df.to_html(index=index, escape=True, na_rep="–",
                      float_format=float_format.format, border=0)
    cap = f"<p><em>{escape(caption)}</em></p>" if caption else ""
    display(HTML(cap + body))


def pseudonymise(ids: pd.Series | Iterable, salt: str = "clm", length: int = 10) -> pd.Series:
    """Stable pseudonyms (salted SHA-256 prefixes) so reports never show raw customer ids."""
    s = pd.Series(ids, dtype="string")
    return s.map(lambda v: "C-" + hashlib.sha256(f"{salt}:{v}".encode()).hexdigest()[:length])


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


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    # mkstemp creates 0600 files; published results must be readable like any other file.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


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
    _atomic_write(path, to_json(metrics))
    return path


def safe_for_spreadsheet(df: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``df`` whose text cells cannot start a spreadsheet formula.

    A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
    leading apostrophe (the OWASP recommendation for CSV injection).
    """
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            s = out[col]
            mask = s.notna() & s.astype("string").str.startswith(_FORMULA_PREFIXES).fillna(False)
            if mask.any():
                out[col] = s.astype(object)
                out.loc[mask, col] = "'" + s[mask].astype(str)
    return out


def save_export(df: pd.DataFrame, name: str, output_dir: str | os.PathLike | None) -> Path | None:
    """Write ``exports/<name>.csv`` (formula-safe) into ``output_dir``; no-op when None."""
    if output_dir is None:
        return None
    path = Path(output_dir) / "exports" / f"{name}.csv"
    _atomic_write(path, safe_for_spreadsheet(df).to_csv(index=False))
    return path
