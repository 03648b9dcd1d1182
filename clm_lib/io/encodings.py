"""Reading CSV files in any encoding: which encodings each engine decodes itself, a
streamed UTF-8 copy for the others (DuckDB), and the error that names a file's line and
the ``encoding`` to set when its bytes are not in the one given.

:func:`clm_lib.io.sources.raw_table` uses these; :func:`read_errors` wraps the places
where an engine scans a whole file (the contracts' counting passes), since a bad byte
past the first MiB is met there, not when the file is opened.
"""
from __future__ import annotations

import codecs
import os
import re
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from clm_lib.exceptions import ClmError, FileFormatError, ParameterError
from clm_lib.io.sniff import (
    HEAD_BYTES,
    first_invalid,
    guess_encoding,
    head_bytes,
    normalize_encoding,
    open_bytes,
    show_encoding,
)

__all__ = ["DUCKDB_ENCODINGS", "SPARK_ENCODINGS", "spark_charset", "transcoded",
           "encoding_error", "check_head", "read_errors"]

_TRANSCODE_LOCK = threading.Lock()


#: Python codec name -> the name DuckDB's CSV reader decodes itself; other encodings are
#: transcoded to a temporary UTF-8 file first (DuckDB 2.0 reads only these three without
#: its ``encodings`` extension, which it would download).
DUCKDB_ENCODINGS = {"utf-8": "utf-8", "iso8859-1": "latin-1", "utf-16": "utf-16"}
_TRANSCODED: dict[tuple, str] = {}
_TMPDIR: list[str] = []


#: Python codec name -> the charset Spark 4's CSV reader takes (it refuses others unless
#: ``spark.sql.legacy.javaCharsets`` is set). UTF-16 and UTF-32 are left out: Spark
#: splits lines on the byte 0x0A, which cuts their characters (the values come out wrong).
SPARK_ENCODINGS = {"utf-8": "UTF-8", "iso8859-1": "ISO-8859-1", "ascii": "US-ASCII"}


def spark_charset(con, name: str) -> str:
    """The Spark charset of a Python codec name; others are a :class:`ParameterError`
    (a local copy in UTF-8 would not reach a cluster's executors)."""
    if name in SPARK_ENCODINGS:
        return SPARK_ENCODINGS[name]
    try:
        legacy = con._session.conf.get("spark.sql.legacy.javaCharsets", "false") == "true"
    except Exception:  # noqa: BLE001 - a session without the setting: the default
        legacy = False
    if legacy and (m := re.fullmatch(r"cp(125\d)", name)):
        return f"windows-{m.group(1)}"
    raise ParameterError(f"encoding {show_encoding(name)!r} is not read by the spark engine; "
                         f"it reads {', '.join(sorted(map(show_encoding, SPARK_ENCODINGS)))} "
                         f"(convert the file to UTF-8, or use the duckdb engine)")


def transcoded(path: str, encoding: str) -> str:
    """A UTF-8 copy of ``path`` (decompressed), written once per process in a temporary
    folder removed at exit; streamed in blocks of 1 MiB (memory does not grow with the
    file). Bytes that do not decode are a :class:`FileFormatError`."""
    import atexit
    import tempfile

    st = os.stat(path)
    key = (os.path.abspath(path), st.st_mtime_ns, st.st_size, encoding)
    with _TRANSCODE_LOCK:
        if key in _TRANSCODED and os.path.exists(_TRANSCODED[key]):
            return _TRANSCODED[key]
        if not _TMPDIR:
            _TMPDIR.append(tempfile.mkdtemp(prefix="clm_utf8_"))
            atexit.register(shutil.rmtree, _TMPDIR[0], True)
        out = os.path.join(_TMPDIR[0], f"{len(_TRANSCODED)}_{Path(path).name.split('.')[0]}.csv")
        dec = codecs.getincrementaldecoder(encoding)()
        try:
            with open_bytes(path) as src, open(out, "w", encoding="utf-8", newline="") as dst:
                while block := src.read(1 << 20):
                    dst.write(dec.decode(block))
                dst.write(dec.decode(b"", final=True))
        except UnicodeDecodeError:
            raise encoding_error(path, encoding) from None
        _TRANSCODED[key] = out
        return out


def encoding_error(path: str, encoding: str = "utf-8") -> FileFormatError:
    """The error of a file whose bytes are not in ``encoding``: names the file, the line
    of the first such byte (a streamed scan) and the option to set, with a guess."""
    dec = codecs.getincrementaldecoder(encoding)()
    lines, line, head = 0, None, b""
    with open_bytes(path) as fh:
        while block := fh.read(1 << 20):
            head = head or block
            try:
                dec.decode(block)
            except UnicodeDecodeError as exc:
                bad = first_invalid(block, encoding) or (1, exc.start)
                line = lines + bad[0]
                head = block[max(0, bad[1] - 4096):bad[1] + 4096]
                break
            lines += block.count(b"\n")
    guess = guess_encoding(head) if line is not None else None
    guess = None if guess in (None, show_encoding(encoding)) else guess
    where = f" (line {line})" if line is not None else ""
    fix = (f"; it looks like {guess}: set encoding='{guess}' (clm: -p encoding={guess}, "
           f"clm validate --encoding {guess})" if guess else "; set the file's encoding "
           "with encoding=...")
    return FileFormatError(f"'{Path(path).name}' is not {show_encoding(encoding).upper()} text"
                           f"{where}{fix}", option="encoding", value=guess)


def check_head(path: str, encoding: str) -> None:
    """Raise :func:`encoding_error` when the first MiB of a local file does not decode:
    at once, with the line, before an engine reads it (Spark would replace the bytes)."""
    if "*" in path or "://" in path or not os.path.isfile(path):
        return
    data = head_bytes(path)
    if first_invalid(data, encoding, final=len(data) < HEAD_BYTES) is not None:
        raise encoding_error(path, encoding)


@contextmanager
def read_errors(source: Any, encoding: str | None = None):
    """Turn an engine's decoding error while it reads ``source`` (a byte past the first
    MiB that is not in ``encoding``) into :func:`encoding_error`."""
    try:
        yield
    except ClmError:
        raise
    except Exception as exc:
        text = str(exc)
        if isinstance(source, (str, Path)) and os.path.isfile(str(source)) and (
                "Invalid unicode" in text or "not utf-8 encoded" in text):
            raise encoding_error(str(source), normalize_encoding(encoding)) from None
        raise
