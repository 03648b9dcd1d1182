"""Exports for the CRM and the ids in reports.

Every study writes its tables with :func:`save_export`: the customer id column is called
``customer_id`` (:data:`ID_COLUMN`) and holds the real ids, each column is described in
``exports/data_dictionary.csv`` (:class:`Column`), floats are rounded, and no text cell
can start a spreadsheet formula. Ids shown in reports are :func:`pseudonymise` d with a
keyed hash. :mod:`clm_lib.reporting` re-exports these names for the notebooks.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: Characters that make a spreadsheet treat a cell as a formula (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_RUN_KEY = secrets.token_bytes(32)

#: Environment variable holding the secret key of the pseudonyms shown in reports.
KEY_ENV = "CLM_PSEUDONYM_KEY"
#: Environment variable choosing the ids in exports: "real" (default) or "pseudonymised".
EXPORT_IDS_ENV = "CLM_EXPORT_IDS"
#: The one name of the customer id column in every export.
ID_COLUMN = "customer_id"


def pseudonym_key() -> bytes:
    """The key of this process's pseudonyms: ``$CLM_PSEUDONYM_KEY`` if set (the runner sets
    it from the config's ``pseudonym_key`` or draws one per run), else a random key drawn
    when the process started. Never a constant: a constant salt is reversed in a second by
    hashing the raw ids."""
    key = os.environ.get(KEY_ENV)
    return key.encode("utf-8") if key else _RUN_KEY


def pseudonymise(ids: pd.Series | Iterable, key: bytes | str | None = None,
                 length: int = 12) -> pd.Series:
    """Pseudonyms for report text: ``C-`` and a keyed hash (HMAC-SHA256) of the id.

    The same id gets the same pseudonym under the same key (so within a run, across its
    reports); without the key the pseudonyms cannot be linked back to the ids.
    """
    k = pseudonym_key() if key is None else (key.encode("utf-8") if isinstance(key, str) else key)
    s = pd.Series(ids, dtype="string")
    return s.map(lambda v: "C-" + hmac.new(k, str(v).encode("utf-8"), hashlib.sha256)
                 .hexdigest()[:length])


# Published files get the usual permissions (mkstemp creates them 0600); read the umask
# once, since reading it means setting it, which is process-wide (the runner has threads).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename,
    so that a reader never sees a half-written file at the published path (and a failed
    write leaves no temporary file)."""
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


@dataclass(frozen=True)
class Column:
    """One column of an export, as its data dictionary describes it.

    ``unit`` is e.g. "USD", "months", "purchases", "probability (0-1)", "" for none;
    ``digits`` the decimals a float column is rounded to (default 4; 2 suits money).
    """

    meaning: str
    unit: str = ""
    digits: int | None = None


#: The data dictionary written next to the exports (one row per export column).
DICTIONARY = "data_dictionary.csv"


def _column_type(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_integer_dtype(s):
        return "integer"
    if pd.api.types.is_float_dtype(s):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "date"
    return "text"


def export_frame(df: pd.DataFrame, columns: Mapping[str, Column]) -> pd.DataFrame:
    """The export as written: floats rounded (whole-number columns as integers), the
    customer id pseudonymised only when ``$CLM_EXPORT_IDS`` is "pseudonymised"."""
    missing = [c for c in df.columns if c not in columns]
    if missing:
        raise KeyError(f"save_export: no data-dictionary entry for column(s) {missing}")
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_float_dtype(s):
            values = s.to_numpy(dtype=float, na_value=np.nan)
            finite = values[np.isfinite(values)]
            if columns[c].digits is None and len(finite) == len(values) and len(values) \
                    and np.all(finite == np.round(finite)) and np.abs(finite).max() < 2 ** 53:
                out[c] = values.astype(np.int64)
            else:
                out[c] = np.round(values, 4 if columns[c].digits is None else columns[c].digits)
    if ID_COLUMN in out.columns and os.environ.get(EXPORT_IDS_ENV, "real") == "pseudonymised":
        out[ID_COLUMN] = pseudonymise(out[ID_COLUMN]).to_numpy()
    return out


def _write_dictionary(folder: Path, name: str, frame: pd.DataFrame,
                      columns: Mapping[str, Column]) -> None:
    path = folder / DICTIONARY
    rows = [{"export": f"{name}.csv", "column": c, "meaning": columns[c].meaning,
             "unit": columns[c].unit, "type": _column_type(frame[c])} for c in frame.columns]
    new = pd.DataFrame(rows, columns=["export", "column", "meaning", "unit", "type"])
    if path.exists():
        old = pd.read_csv(path, dtype=str, keep_default_na=False)
        new = pd.concat([old[old["export"] != f"{name}.csv"], new], ignore_index=True)
    atomic_write(path, safe_for_spreadsheet(new).to_csv(index=False))


def save_export(df: pd.DataFrame, name: str, output_dir: str | os.PathLike | None,
                columns: Mapping[str, Column]) -> Path | None:
    """Write ``exports/<name>.csv`` (formula-safe, rounded) and its rows of
    ``exports/data_dictionary.csv`` into ``output_dir``; no-op when it is None.

    ``columns`` documents every column (:class:`Column`); an undocumented column is an
    error, so the dictionary is never behind the export. The customer id column is called
    ``customer_id`` in every export and holds the real ids, for the CRM.
    """
    if output_dir is None:
        return None
    frame = export_frame(df, columns)
    folder = Path(output_dir) / "exports"
    path = folder / f"{name}.csv"
    safe = safe_for_spreadsheet(frame)
    text = _fast_csv(safe)
    atomic_write(path, text if text is not None else safe.to_csv(index=False))
    _write_dictionary(folder, name, frame, columns)
    return path
