"""Guessing how to read a file: its encoding, delimiter, column mapping and date format.

Everything here reads at most the head of a file (a few MiB of bytes, a few thousand
rows), streamed, with Python's own ``csv`` and ``codecs``: a file of any size is sniffed
in milliseconds and no engine is started. :func:`guess_mapping` is a pure function of a
header and a sample of rows; :func:`sniff_file` puts the pieces together for
``clm init`` and for the hints of ``clm validate``; :func:`suggest_columns` is the
name-only guess that a :class:`~clm_lib.exceptions.MissingColumnsError` quotes.

The guesses are suggestions to be checked (``clm validate``), never applied silently:
the loaders read exactly what their options say.
"""
from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import re
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from clm_lib.exceptions import ParameterError

__all__ = ["CANONICAL", "SYNONYMS", "DATE_FORMATS", "normalize_encoding", "normalize_delimiter",
           "guess_encoding", "guess_delimiter", "guess_date_format", "guess_mapping",
           "suggest_columns", "detect_kind", "sniff_file", "Sniffed"]

#: Canonical column names by kind of input; the first ones are required (``amount`` may
#: be replaced by ``quantity`` with ``unit_price``; a snapshot subscription needs
#: ``tenure`` and ``churned`` instead of ``start``).
CANONICAL: Mapping[str, tuple[str, ...]] = {
    "transactions": ("customer_id", "timestamp", "amount", "order_id", "quantity",
                     "unit_price", "product"),
    "subscriptions": ("customer_id", "start", "end", "tenure", "churned"),
    "leads": ("lead_id", "created", "converted", "source", "customer_id"),
}

#: Usual source names of each canonical column, normalised (lower case, letters and
#: digits only), best first. The canonical name itself always matches first.
SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "customer_id": ("customerid", "custid", "customerno", "customernumber", "customer",
                    "clientid", "client", "clientno", "userid", "user", "memberid",
                    "accountid", "account", "buyerid", "shopperid", "cid"),
    "timestamp": ("invoicedate", "orderdate", "purchasedate", "transactiondate",
                  "transactiontime", "datetime", "date", "time", "ts", "saledate",
                  "eventtime", "eventdate", "orderdatetime", "paymentdate"),
    "amount": ("dollars", "revenue", "sales", "salesamount", "totalamount", "total",
               "totalprice", "ordervalue", "ordertotal", "value", "spend", "payment",
               "paymentvalue", "net", "netamount", "grossamount", "monetary", "sale"),
    "order_id": ("invoiceno", "invoice", "invoicenumber", "invoiceid", "orderid", "orderno",
                 "ordernumber", "transactionid", "txid", "txnid", "receiptid", "receipt",
                 "basketid"),
    "quantity": ("qty", "units", "cds", "items", "nitems", "numitems", "count", "pieces"),
    "unit_price": ("unitprice", "price", "itemprice", "priceeach", "unitcost"),
    "product": ("productid", "stockcode", "sku", "item", "itemid", "article",
                "productcode", "productno", "articleid"),
    "start": ("startdate", "start", "signupdate", "signup", "subscriptionstart", "joindate",
              "joined", "begin", "begindate", "activationdate", "since"),
    "end": ("enddate", "end", "canceldate", "cancellationdate", "churndate",
            "terminationdate", "stopdate", "stop", "expirydate"),
    "tenure": ("tenure", "tenuremonths", "lifetime", "monthsactive", "duration"),
    "churned": ("churn", "churned", "ischurned", "exited", "cancelled", "canceled",
                "attrition", "left", "event"),
    "lead_id": ("leadid", "lead", "prospectid", "prospect", "contactid"),
    "created": ("created", "createdat", "createddate", "createdon", "leaddate",
                "leadcreated"),
    "converted": ("converted", "convertedat", "converteddate", "conversiondate",
                  "convertedon", "wondate"),
    "source": ("source", "leadsource", "channel", "campaign", "utmsource", "medium"),
}

#: Canonical columns whose values must read as dates, numbers or yes/no flags.
_DATES = {"timestamp", "start", "end", "created", "converted"}
_NUMBERS = {"amount", "quantity", "unit_price", "tenure"}
_FLAGS = {"churned"}
_FLAG_VALUES = {"yes", "no", "true", "false", "y", "n", "t", "f", "1", "0"}

#: ``strptime`` formats tried on date columns that are not ISO 8601, the US order first
#: within each pair (the guess is kept only when one of a pair fits).
DATE_FORMATS = ("%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S",
                "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d/%m/%y", "%m-%d-%Y", "%d-%m-%Y",
                "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y%m%d", "%d %b %Y", "%b %d %Y")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?"
                  r"(Z|[+-]\d{2}:?\d{2})?$|^\d{4}/\d{2}/\d{2}$")

#: Bytes of a file's head that encoding checks and guesses read (1 MiB: milliseconds).
HEAD_BYTES = 1 << 20
#: Rows of the sample ``clm init`` reads.
SAMPLE_ROWS = 5000
_DELIMITERS = (",", ";", "\t", "|")


# --------------------------------------------------------------------------- options
def normalize_encoding(encoding: str | None) -> str:
    """The Python codec name of ``encoding`` (None: ``"utf-8"``).

    Raises
    ------
    ParameterError
        Naming ``encoding`` when Python knows no text codec of that name.

    Examples
    --------
    >>> normalize_encoding("latin-1"), normalize_encoding("Windows-1252")
    ('iso8859-1', 'cp1252')
    """
    if encoding is None:
        return "utf-8"
    if not isinstance(encoding, str) or not encoding.strip():
        raise ParameterError(f"encoding must be a codec name such as 'utf-8' or 'latin-1', "
                             f"got {encoding!r}")
    try:
        info = codecs.lookup(encoding.strip())
    except LookupError:
        raise ParameterError(f"encoding {encoding!r} is unknown; use a codec name Python "
                             f"knows, e.g. 'utf-8', 'latin-1', 'cp1252', 'utf-16'") from None
    if not getattr(info, "_is_text_encoding", True):
        raise ParameterError(f"encoding {encoding!r} is not a text encoding")
    return "utf-8" if info.name == "utf-8-sig" else info.name


def normalize_delimiter(delimiter: str | None) -> str | None:
    """One delimiter character (``"\\t"``, ``"tab"`` and a literal backslash-t mean tab);
    None stays None (the reader's rule by file name).

    Raises
    ------
    ParameterError
        Naming ``delimiter`` when it is not one character (or the quote ``"``, or a
        line break).
    """
    if delimiter is None:
        return None
    if isinstance(delimiter, str) and delimiter.lower() in ("\\t", "tab"):
        return "\t"
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        raise ParameterError(f"delimiter must be one character such as ',', ';', '|' or "
                             f"'\\t' (tab), got {delimiter!r}")
    return delimiter


def show_encoding(name: str) -> str:
    """The usual spelling of a Python codec name, for messages and configs."""
    return {"iso8859-1": "latin-1", "utf-8": "utf-8"}.get(name, name)


# --------------------------------------------------------------------------- bytes
def open_bytes(path: str | Path):
    """A binary stream of a file's content, decompressed by its suffix (.gz, .bz2, .xz,
    .zip: its first member)."""
    name = str(path).lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".xz"):
        return lzma.open(path, "rb")
    if name.endswith(".zip"):
        zf = zipfile.ZipFile(path)
        return zf.open(zf.namelist()[0])
    return open(path, "rb")


def head_bytes(path: str | Path, n: int = HEAD_BYTES) -> bytes:
    """The first ``n`` bytes of a file's (decompressed) content."""
    with open_bytes(path) as fh:
        return fh.read(n)


def first_invalid(data: bytes, encoding: str = "utf-8", final: bool = False
                  ) -> tuple[int, int] | None:
    """(1-based line, byte offset) of the first byte that does not decode with
    ``encoding``, or None; a character cut at the end of ``data`` counts only when
    ``final``."""
    dec = codecs.getincrementaldecoder(encoding)()
    try:
        dec.decode(data, final=final)
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1, exc.start
    return None


def guess_encoding(data: bytes) -> str:
    """The likely encoding of the bytes of a text file: ``"utf-16"`` with its byte-order
    mark, ``"utf-8"`` when they decode (an ASCII file is UTF-8), else ``"cp1252"`` when
    there are bytes 0x80-0x9F that Windows-1252 reads as letters or punctuation (they are
    control codes in latin-1), else ``"latin-1"``."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if first_invalid(data, "utf-8") is None:
        return "utf-8"
    if re.search(rb"[\x80-\x9f]", data):
        try:
            data.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    return "latin-1"


def guess_delimiter(lines: Sequence[str], default: str = ",") -> str:
    """The delimiter among , ; tab | that splits the header into the most columns and
    every sample line into as many (quotes respected); ``default`` when none splits."""
    best, best_n = default, 1
    for sep in _DELIMITERS:
        rows = list(csv.reader(lines, delimiter=sep, quotechar='"'))
        if not rows:
            continue
        n = len(rows[0])
        if n > best_n and all(len(r) == n for r in rows[1:] if r):
            best, best_n = sep, n
    return best


# --------------------------------------------------------------------------- values
def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def _values(sample: Sequence[Sequence], i: int) -> list[str]:
    return [str(r[i]).strip() for r in sample if i < len(r) and r[i] is not None
            and str(r[i]).strip() not in ("", "NA", "N/A", "NaN", "nan", "null", "None")]


def _mostly(values: Sequence[str], ok, share: float = 0.9) -> bool:
    """Whether ``ok`` holds for at least ``share`` of ``values``: each distinct value is
    tested once, and the test stops as soon as too many fail (a text column of 5,000
    rows is rejected as dates after a few values, not 75,000 parse attempts)."""
    allowed, bad = len(values) * (1 - share), 0
    for v, n in Counter(values).items():
        if not ok(v):
            bad += n
            if bad > allowed:
                return False
    return True


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def _parses(v: str, fmt: str) -> bool:
    try:
        datetime.strptime(v, fmt)
        return True
    except ValueError:
        return False


def _is_date(v: str) -> bool:
    if len(v) > 40 or not any(ch.isdigit() for ch in v):
        return False
    return bool(_ISO.match(v)) or any(_parses(v, f) for f in DATE_FORMATS)


def guess_date_format(values: Sequence[str]) -> tuple[str | None, str | None]:
    """(``strptime`` format, note) for the text of a date column.

    ISO 8601 needs no format: ``(None, None)``. A format is returned when it alone of its
    day-first/month-first pair reads every value; when both read every value (no day
    above 12 in the sample) the format is None and the note says the order is ambiguous.
    Values no format reads: ``(None, note)``.

    Examples
    --------
    >>> guess_date_format(["12/1/2010 8:26", "12/13/2010 9:01"])
    ('%m/%d/%Y %H:%M', None)
    >>> guess_date_format(["1997-01-01", "1997-01-12"])
    (None, None)
    """
    values = [v for v in values if v]
    if not values or all(_ISO.match(v) for v in values):
        return None, None
    distinct = set(values)
    fits = [f for f in DATE_FORMATS if all(_parses(v, f) for v in distinct)]
    if not fits:
        return None, "the dates are neither ISO 8601 nor in a format tried; set date_format"
    first = fits[0]
    swapped = first.replace("%m", "%M_").replace("%d", "%m").replace("%M_", "%d")
    if swapped != first and swapped in fits:
        return None, (f"day and month are ambiguous in the sample (no day above 12): "
                      f"set date_format to '{first}' (month first) or '{swapped}' "
                      f"(day first)")
    return first, None


def _fits(canon: str, values: Sequence[str]) -> bool:
    """Whether a column's sample values can be the canonical column ``canon``."""
    if canon in _DATES:
        return _mostly(values, _is_date)
    if canon in _NUMBERS:
        return _mostly(values, _is_number)
    if canon in _FLAGS:
        return _mostly(values, lambda v: v.lower() in _FLAG_VALUES)
    return True


def _candidates(canon: str) -> tuple[str, ...]:
    return (_norm(canon),) + SYNONYMS.get(canon, ())


def _match_names(header: Sequence[str], targets: Sequence[str],
                 ok=lambda canon, i: True) -> dict[str, str]:
    """{source: canonical} by names: for each target, the header column whose name ranks
    best among its synonyms (and passes ``ok``); a column is used once."""
    normed = [_norm(h) for h in header]
    out: dict[str, str] = {}
    used: set[int] = set()
    for canon in targets:
        for cand in _candidates(canon):
            hits = [i for i, n in enumerate(normed) if n == cand and i not in used]
            hits = [i for i in hits if ok(canon, i)]
            if hits:
                used.add(hits[0])
                out[str(header[hits[0]])] = canon
                break
    return out


def guess_mapping(header: Sequence[str], sample: Sequence[Sequence] = (),
                  kind: str | None = None) -> dict[str, str]:
    """Guess the ``columns`` mapping {source name: canonical name} of a file.

    Parameters
    ----------
    header : sequence of str
        The column names, in file order.
    sample : sequence of rows, optional
        Rows of values (text or numbers), aligned with ``header``. A name match is kept
        only when its values fit: dates parse, amounts and quantities are numbers,
        ``churned`` reads as yes/no. Without a sample, names alone decide.
    kind : {"transactions", "subscriptions", "leads"}, optional
        The kind of input; None: the kind whose required columns the mapping finds
        (:func:`detect_kind`).

    Returns
    -------
    dict
        Source name -> canonical name, identities included (``tenure: tenure``), in
        header order. Names are compared without case, spaces or punctuation.

    Examples
    --------
    >>> guess_mapping(["date", "cds", "dollars", "customer_id"])
    {'date': 'timestamp', 'cds': 'quantity', 'dollars': 'amount', 'customer_id': 'customer_id'}
    """
    header = [str(h) for h in header]
    if kind is None:
        kind = detect_kind(header, sample)
    if kind not in CANONICAL:
        raise ParameterError(f"kind must be one of {tuple(CANONICAL)}, not {kind!r}")
    cols = {i: _values(sample, i) for i in range(len(header))} if sample else {}

    def ok(canon: str, i: int) -> bool:
        return not sample or _fits(canon, cols[i])

    found = _match_names(header, CANONICAL[kind], ok)
    if sample and kind == "transactions" and "timestamp" not in found.values():
        # no date column by name: the one column whose values are all dates
        dated = [header[i] for i in range(len(header)) if header[i] not in found
                 and cols[i] and not _mostly(cols[i], _is_number, 1.0)
                 and _mostly(cols[i], _is_date, 1.0)]
        if len(dated) == 1:
            found[dated[0]] = "timestamp"
    return {h: found[h] for h in header if h in found}


def _complete(kind: str, names: set[str]) -> int:
    """How many of the required columns of ``kind`` ``names`` has (2 or 3 = complete)."""
    if kind == "transactions":
        money = "amount" in names or {"quantity", "unit_price"} <= names
        return ("customer_id" in names) + ("timestamp" in names) + money
    if kind == "subscriptions":
        form = "start" in names or {"tenure", "churned"} <= names
        return ("customer_id" in names) + 2 * form
    return ("lead_id" in names) + ("created" in names) + ("source" in names)


def detect_kind(header: Sequence[str], sample: Sequence[Sequence] = ()) -> str:
    """The kind of input whose required columns a guessed mapping finds best
    (transactions on a tie)."""
    scores = {k: _complete(k, set(guess_mapping(header, sample, k).values()))
              for k in CANONICAL}
    return max(CANONICAL, key=lambda k: (scores[k], -list(CANONICAL).index(k)))


def suggest_columns(missing: Sequence[str], found: Sequence[str]) -> dict[str, str]:
    """{source: canonical} for the ``missing`` canonical columns, from the ``found``
    names alone (:data:`SYNONYMS`); columns that already carry a canonical name are not
    proposed. Used in the message of a missing-columns error.

    Examples
    --------
    >>> suggest_columns(["timestamp"], ["CustomerID", "InvoiceDate", "amount"])
    {'InvoiceDate': 'timestamp'}
    """
    canon_names = {c for names in CANONICAL.values() for c in names}
    free = [f for f in found if f not in canon_names]
    targets = [m for m in missing if m in SYNONYMS or m in canon_names]
    return _match_names(free, targets) if targets else {}


# --------------------------------------------------------------------------- files
@dataclass
class Sniffed:
    """What :func:`sniff_file` found (see there)."""

    path: str
    kind: str
    header: list[str]
    mapping: dict[str, str]
    encoding: str = "utf-8"
    delimiter: str = ","
    default_delimiter: str = ","
    date_format: str | None = None
    contract: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rows_sampled: int = 0

    @property
    def unmapped(self) -> list[str]:
        return [h for h in self.header if h not in self.mapping]


def _read_sample(path: str, encoding: str, delimiter: str | None, n_rows: int
                 ) -> tuple[list[str], list[list[str]], str]:
    """(header, rows, delimiter) of a CSV file's first ``n_rows`` rows."""
    from clm_lib.io.sources import separator

    with open_bytes(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        lines = []
        for line in text:
            lines.append(line)
            if len(lines) > n_rows:
                break
    if not lines:
        return [], [], delimiter or ","
    if delimiter is None:
        by_name = separator(path, encoding=encoding) if "*" not in path else ","
        delimiter = guess_delimiter(lines[:50], default=by_name if len(by_name) == 1 else ",")
    rows = list(csv.reader(lines, delimiter=delimiter, quotechar='"'))
    return [h.strip() for h in rows[0]], rows[1:], delimiter


def _parquet_sample(path: str, n_rows: int) -> tuple[list[str], list[list]]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    header = list(pf.schema_arrow.names)
    batch = next(pf.iter_batches(batch_size=n_rows), None)
    if batch is None:
        return header, []
    cols = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
    return header, [list(r) for r in zip(*cols)]


def _contract_hints(kind: str, mapping: Mapping[str, str], header: Sequence[str],
                    sample: Sequence[Sequence]) -> dict:
    """Contract options the sample suggests: ``cancellation_prefix`` when some order ids
    (not all) are a letter and digits and such orders have negative quantities or amounts
    (Online Retail's "C536379")."""
    inv = {v: k for k, v in mapping.items()}
    if kind != "transactions" or "order_id" not in inv or not sample:
        return {}
    sign = inv.get("quantity") or inv.get("amount")
    if sign is None:
        return {}
    i_id, i_sign = header.index(inv["order_id"]), header.index(sign)
    rows = [(str(r[i_id]).strip(), str(r[i_sign]).strip()) for r in sample
            if max(i_id, i_sign) < len(r)]
    prefixed = [(o, q) for o, q in rows if re.match(r"^[A-Za-z]\d", o)]
    negative = [o for o, q in prefixed if q.startswith("-")]
    if negative and len(prefixed) < len(rows):
        return {"cancellation_prefix": negative[0][0]}
    return {}


def sniff_file(path: str | Path, *, kind: str | None = None, encoding: str | None = None,
               delimiter: str | None = None, n_rows: int = SAMPLE_ROWS) -> Sniffed:
    """Read the head of a file and guess how to load it.

    Parameters
    ----------
    path : str or Path
        A CSV (also compressed) or Parquet file.
    kind : {"transactions", "subscriptions", "leads"}, optional
        None: detected from the guessed mapping.
    encoding, delimiter : str, optional
        Known reading options (None: guessed from the first MiB and the first 50 lines).
    n_rows : int
        Rows read for the value checks (default 5,000; never the whole file).

    Returns
    -------
    Sniffed
        ``kind``, ``header``, ``mapping`` (:func:`guess_mapping`), ``encoding`` (Python
        codec name), ``delimiter`` and the one the reader would use by the file name
        (``default_delimiter``), ``date_format``, suggested ``contract`` options, and
        ``notes`` on what could not be decided.
    """
    from clm_lib.io.sources import file_kind, separator

    path = str(path)
    notes: list[str] = []
    if file_kind(path) == "parquet":
        header, sample = _parquet_sample(path, n_rows)
        enc, sep, default_sep = "utf-8", ",", ","
    else:
        if encoding is None:
            data = head_bytes(path)
            enc = normalize_encoding(guess_encoding(data))
            if enc != "utf-8":
                line = (first_invalid(data) or (1, 0))[0]
                notes.append(f"not UTF-8 (first at line {line}): read as {show_encoding(enc)}")
        else:
            enc = normalize_encoding(encoding)
        sep = normalize_delimiter(delimiter)
        header, sample, sep = _read_sample(path, enc, sep, n_rows)
        default_sep = separator(path, encoding=enc)
    if kind is None:
        kind = detect_kind(header, sample)
    mapping = guess_mapping(header, sample, kind)
    date_format = None
    idx = {h: i for i, h in enumerate(header)}
    for src, canon in mapping.items():
        if canon in _DATES and sample and isinstance(sample[0][idx[src]], str):
            fmt, note = guess_date_format(_values(sample, idx[src]))
            if note:
                notes.append(f"{src}: {note}")
            date_format = date_format or fmt
    contract = _contract_hints(kind, mapping, header, sample)
    return Sniffed(path=path, kind=kind, header=header, mapping=mapping, encoding=enc,
                   delimiter=sep, default_delimiter=default_sep, date_format=date_format,
                   contract=contract, notes=notes, rows_sampled=len(sample))
