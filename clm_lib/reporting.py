"""Notebook-side helpers shared by every study: summary text, tables, metrics and exports.

Notebooks call these instead of printing, so that every report looks alike and user text
is always escaped. Writing is skipped when ``output_dir`` is ``None`` (interactive use).
"""
from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import math
import os
import re
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
    import pyarrow as pa
    import pyarrow.compute as pc

    out = df.copy()
    for col in out.columns:
        s = out[col]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s)):
            continue
        text = pa.array(s.astype("string"), pa.string())   # the cells as text, nulls kept
        starts = pc.match_substring_regex(text, "^(" + "|".join(map(re.escape, _FORMULA_PREFIXES)) + ")")
        mask = pc.fill_null(starts, False).to_numpy(zero_copy_only=False)
        if mask.any():
            out[col] = s.astype(object)
            out.loc[mask, col] = "'" + s[mask].astype(str)
    return out


def _quoting_characters() -> tuple[str, ...]:
    """The characters that make the csv module quote a field with pandas' ``to_csv``
    defaults (a carriage return does in some Python versions, not in others)."""
    def quotes(ch):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([f"a{ch}b", "c"])
        return buf.getvalue().startswith('"')
    return tuple(ch for ch in (",", '"', "\n", "\r") if quotes(ch))


_CSV_SPECIAL = _quoting_characters()


def _float_texts(values: np.ndarray):
    """``values.astype(str)`` (what ``to_csv`` writes for float64), NaN as "", as an Arrow
    array: Arrow's shortest round-trip digits, with Python's ``repr`` form (a ".0" on
    integral values; numpy's own text outside [1e-4, 1e16) and wherever Arrow writes an
    exponent, as the two switch to exponents at other magnitudes)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(pa.array(values), pa.string())
    text = pc.if_else(pc.match_substring(text, "."), text,
                      pc.binary_join_element_wise(text, ".0", ""))
    mag = np.abs(values)
    odd = (~((mag >= 1e-4) & (mag < 1e16))
           | pc.match_substring(text, "e").to_numpy(zero_copy_only=False))
    if odd.any():
        v = values[odd]
        fix = np.where(np.isnan(v), "", v.astype(str))
        text = pc.replace_with_mask(text, pa.array(odd), pa.array(fix.tolist(), pa.string()))
    return text


def _quoted(text):
    """Text cells as the csv module writes them (minimal quoting): a cell holding a comma,
    a double quote or a line break is put in double quotes, its double quotes doubled."""
    import pyarrow.compute as pc

    special = pc.match_substring_regex(text, "[" + "".join(map(re.escape, _CSV_SPECIAL)) + "]")
    if not pc.any(special).as_py():
        return text
    inner = pc.replace_substring(text, '"', '""')
    return pc.if_else(special, pc.binary_join_element_wise('"', inner, '"', ""), text)


def _fast_csv(df: pd.DataFrame) -> str | None:
    """``df.to_csv(index=False)``, byte for byte, for frames of plain columns (float64,
    int64, bool, text), several times faster on a million rows
    (float formatting dominates ``to_csv``); None for anything else."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = [str(c) for c in df.columns]
    if (df.shape[1] < 2 or len(df) == 0 or len(set(names)) < len(names)
            or any(not isinstance(c, str) or not c or any(ch in c for ch in _CSV_SPECIAL)
                   for c in df.columns)):
        return None
    cols = []
    for c in df.columns:
        s = df[c]
        kind = s.dtype.kind if isinstance(s.dtype, np.dtype) else None
        if kind == "f" and s.dtype.itemsize == 8:
            cols.append(_float_texts(s.to_numpy()))
        elif kind in ("i", "u"):
            cols.append(pc.cast(pa.array(s.to_numpy()), pa.string()))
        elif kind == "b":
            cols.append(pa.array(s.to_numpy().astype(str).tolist(), pa.string()))
        elif s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            if pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
                return None
            text = pa.array(s.astype(object).where(s.notna(), "").tolist(), pa.string())
            cols.append(_quoted(text))
        else:
            return None
    rows = pc.binary_join_element_wise(*[pc.cast(c, pa.large_string()) for c in cols],
                                       pa.scalar(",", pa.large_string()))
    empty = pa.scalar("", pa.large_string())
    rows = pc.binary_join_element_wise(rows, pa.scalar("\n", pa.large_string()), empty)  # row + newline
    # a string array without nulls keeps its values back to back in one buffer
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[rows.offset:rows.offset + len(rows) + 1]
    body = rows.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]
    return ",".join(names) + "\n" + body.decode("utf-8")


def save_export(df: pd.DataFrame, name: str, output_dir: str | os.PathLike | None) -> Path | None:
    """Write ``exports/<name>.csv`` (formula-safe) into ``output_dir``; no-op when None."""
    if output_dir is None:
        return None
    path = Path(output_dir) / "exports" / f"{name}.csv"
    safe = safe_for_spreadsheet(df)
    text = _fast_csv(safe)
    _atomic_write(path, text if text is not None else safe.to_csv(index=False))
    return path
