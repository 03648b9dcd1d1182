"""Loading into pandas: a file or DataFrame -> canonical frame + data-quality record.

The data contracts (:mod:`clm_lib.io.transactions`, :mod:`clm_lib.io.subscriptions`,
:mod:`clm_lib.io.leads`) run on the process's in-process DuckDB; the clean table comes
back through :func:`clm_lib.io.sources.to_pandas`, sorted, with the row order of the
input among equal keys. To keep a large table in the engine instead, use
``clm_lib.reduce.get_engine().load_transactions``.

Reading
-------
CSV files (``.csv``, ``.csv.gz``, ``.csv.bz2``, ``.csv.zip``, ``.csv.xz``, ``.tsv``,
``.txt``) are read with every column as text, so identifiers keep their form (``"00123"``
stays ``"00123"``); ``.txt`` takes the first of , tab ; | in its header line, else runs of
whitespace; ``delimiter`` sets it. Files are UTF-8 unless ``encoding`` names another codec
(``"latin-1"``, ``"cp1252"``, ...). A file read with the wrong ones fails with a
:class:`~clm_lib.exceptions.FileFormatError` that says what to set: bytes that are not in
the encoding (with the line and a likely encoding), or a header that reads as one column
holding ``;``, tab or ``|``. ``clm init FILE`` guesses all of these from the file's head
(:mod:`clm_lib.io.sniff`). Parquet files (``.parquet``, ``.pq``) keep their stored types. Empty fields and
the tokens ``NA``, ``N/A``, ``NaN``, ``null``, ``None``, ``NaT`` (any case, surrounding
spaces ignored) count as missing.

Dates and time zones
--------------------
Dates are parsed with ``date_format`` (a ``strptime`` format) when given, otherwise as
ISO 8601 (see :mod:`clm_lib.io.parse`); ``31/01/1997`` is never guessed. The output is
tz-naive ``datetime64[ns]``, wall-clock time in the analysis time zone ``tz``:
time-zone-aware input is converted to ``tz`` (UTC when None); naive input is taken to be
wall-clock time in ``tz`` already and kept; a column mixing both is an error. ``as_of``
(the end of observation) is read the same way; without a time of day the whole of that
day is observed.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from clm_lib.exceptions import MissingColumnsError, ParameterError
from clm_lib.io.contract import DEFAULT_EARLIEST_DATE, DEFAULT_MAX_AMOUNT, scratch
from clm_lib.io.quality import DataQuality
from clm_lib.io.sources import (
    ROW,
    default_connection,
    file_kind,
    raw_table,
    read_errors,
    source_name,
    to_pandas,
)

__all__ = ["read_table", "load_transactions", "load_subscriptions", "load_leads",
           "validate_file"]


def read_table(path: str | Path, columns_needed: list[str] | None = None, *,
               encoding: str | None = None, delimiter: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file, keeping identifiers as text.

    Parameters
    ----------
    path : str or Path
        A CSV (``.csv``, ``.csv.gz`` and other compressed ``.csv.*``, ``.tsv``, ``.txt``)
        or Parquet (``.parquet``, ``.pq``) file.
    columns_needed : list of str, optional
        Read only these columns; raises :class:`MissingColumnsError` first if any is absent.
    encoding : str, optional
        CSV: the file's encoding, a codec name Python knows (``"latin-1"``, ``"cp1252"``,
        ``"utf-16"``, ...); None: UTF-8. Unknown names are a :class:`ParameterError`.
    delimiter : str, optional
        CSV: one character (``";"``, ``"|"``, ``"\\t"``); None: ``,``, tab for ``.tsv``,
        sniffed for ``.txt``.

    Returns
    -------
    pandas.DataFrame
        CSV: every column as text (``string`` dtype), empty fields missing.
        Parquet: the stored types.

    Raises
    ------
    FileFormatError
        The file is not in ``encoding`` (the message names the line and a likely
        encoding), or its header reads as one column holding ``;``, tab or ``|`` when no
        ``delimiter`` is given (the message names the likely one).

    Examples
    --------
    >>> df = read_table(CDNOW_MASTER)           # doctest: +SKIP
    >>> df["customer_id"].iloc[0]               # doctest: +SKIP
    '00001'
    """
    t = raw_table(default_connection(), path, Path(path).name, strict=True, encoding=encoding,
                  delimiter=delimiter)
    if columns_needed is not None:
        missing = [c for c in columns_needed if c not in t.columns]
        if missing:
            raise MissingColumnsError(missing, list(t.columns), what=Path(path).name)
        t = t.select(*columns_needed)
    with read_errors(path, encoding):
        return to_pandas(t)


def _raw(source: Any, what: str, rows: bool = True, encoding: str | None = None,
         delimiter: str | None = None):
    if not isinstance(source, (str, Path, pd.DataFrame)):
        raise ParameterError(f"source must be a file path or a pandas DataFrame, "
                             f"not {type(source).__name__}")
    if isinstance(source, (str, Path)):
        file_kind(source)
    return raw_table(default_connection(), source, what, strict=True, rows=rows,
                     encoding=encoding, delimiter=delimiter)


def _back(clean, order: list[str]) -> pd.DataFrame:
    """The clean table sorted by ``order``, ties in input order, without row numbers."""
    return to_pandas(clean.order_by([*order, ROW])).drop(columns=ROW)


def load_transactions(
    source: str | Path | pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    *,
    as_of: Any = None,
    date_format: str | None = None,
    tz: str | None = None,
    negative_amounts: str = "drop",
    encoding: str | None = None,
    delimiter: str | None = None,
    cancellation_prefix: str | None = None,
    max_amount: float = DEFAULT_MAX_AMOUNT,
    earliest_date: Any = DEFAULT_EARLIEST_DATE,
    id_numbers: str = "warn",
) -> tuple[pd.DataFrame, DataQuality]:
    """Load purchases into the canonical transactions frame.

    Parameters
    ----------
    source : str, Path or DataFrame
        CSV/Parquet file (see :func:`read_table`) or a DataFrame (not modified).
        Needs columns ``customer_id``, ``timestamp``, ``amount`` (after ``columns``), or
        ``unit_price`` and ``quantity`` instead of ``amount`` (then each line's amount is
        quantity times unit price); optional ``order_id``, ``quantity``, ``product``;
        other columns are kept. Rows sharing an ``order_id`` are the lines of one order.
    columns : dict, optional
        Source name -> canonical name, e.g. CDNOW master
        ``{"date": "timestamp", "dollars": "amount", "cds": "quantity"}``.
    as_of : str, date or Timestamp, optional
        End of observation; later rows are dropped (a date without time keeps that day).
    date_format : str, optional
        ``strptime`` format of ``timestamp``; ISO 8601 when None.
    tz : str, optional
        Analysis time zone (IANA name); see the module notes for the rule.
    negative_amounts : {"drop", "net", "error"}
        Returns/cancellations: drop and count; keep as negative rows (spend nets against
        purchases); or raise :class:`DataContractError`.
    encoding, delimiter : str, optional
        Reading a CSV file, as in :func:`read_table` (None: UTF-8; by the file name).
    cancellation_prefix : str, optional
        Lines whose ``order_id`` starts with this text (Online Retail: ``"C"``) are
        cancellations or returns and follow ``negative_amounts`` whatever their sign
        ("drop": dropped and counted; "net": kept with a negative amount; "error":
        refused). Needs an ``order_id`` column. None (default): no such rule.
    max_amount : float, default 1e9
        Plausible range of a line's amount (currency of the data): a line with
        ``|amount| > max_amount`` is dropped and counted; a positive number, at most 1e300,
        so that no sum of lines can overflow.
    earliest_date : date-like or None, default "1900-01-01"
        Rows timestamped before it are dropped and counted; None: no limit.
    id_numbers : {"warn", "merge", "error"}, default "warn"
        Customer ids that spell the same number (``1``, ``1.0``, ``01``; ``007`` and
        ``7``): kept apart with a warning, merged into the most frequent spelling of the
        number (ties: the first in sort order), or refused. Ids that are not numbers, and
        numbers spelled one way only (``00001``), are never changed.

    Returns
    -------
    frame : DataFrame
        ``customer_id`` (string), ``timestamp`` (datetime64[ns], naive), ``amount``
        (float64, currency of the data), optional ``order_id`` (string), ``quantity``
        (float64), other columns; sorted by customer_id then timestamp (ties in input
        order), index 0..n-1. With ``order_id``: one row per order (amount and quantity
        summed over its lines, the earliest line's timestamp, ``lines`` the number of
        lines (int64); no ``product`` or ``unit_price``; other columns from the first
        line); ``quality.orders`` is their number, ``quality.rows_used`` the lines.
    quality : DataQuality
        Rows in, used, dropped by reason, warnings, notes (see
        :mod:`clm_lib.io.transactions` for the rules).

    Raises
    ------
    MissingColumnsError, DataContractError, InsufficientDataError, ParameterError,
    FileFormatError (see :func:`read_table`)

    Examples
    --------
    >>> tx, dq = load_transactions(CDNOW_MASTER,
    ...     {"date": "timestamp", "dollars": "amount", "cds": "quantity"})  # doctest: +SKIP
    >>> dq.rows_in, tx["customer_id"].nunique()                            # doctest: +SKIP
    (69659, 23570)
    """
    from clm_lib.io.schemas import TransactionsSchema
    from clm_lib.io.transactions import check_transactions

    raw = _raw(source, "transactions", encoding=encoding, delimiter=delimiter)
    with read_errors(source, encoding), scratch(default_connection()) as keep:
        clean, dq = check_transactions(raw, backend="duckdb", name=source_name(source),
                                       columns=columns, as_of=as_of, date_format=date_format,
                                       tz=tz, negative_amounts=negative_amounts,
                                       cancellation_prefix=cancellation_prefix,
                                       max_amount=max_amount, earliest_date=earliest_date,
                                       id_numbers=id_numbers, keep=keep)
        out = _back(clean, ["customer_id", "timestamp"])
    TransactionsSchema.validate(out)
    return out, dq


def load_subscriptions(
    source: str | Path | pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    *,
    as_of: Any = None,
    date_format: str | None = None,
    tz: str | None = None,
    churn_values: Mapping[Any, bool] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    earliest_date: Any = DEFAULT_EARLIEST_DATE,
    max_tenure: float | None = None,
    id_numbers: str = "warn",
) -> tuple[pd.DataFrame, DataQuality]:
    """Load subscriptions (contractual customers) in interval or snapshot form.

    Parameters
    ----------
    source : str, Path or DataFrame
        File (see :func:`read_table`) or DataFrame (not modified). After ``columns``, either
        the interval form ``customer_id``, ``start``, ``end`` (empty end = still active) or
        the snapshot form ``customer_id``, ``tenure`` (periods, e.g. months), ``churned``.
        Other columns are kept as covariates.
    columns : dict, optional
        Source name -> canonical name; Telco: ``{"customerID": "customer_id", "Churn": "churned"}``.
    as_of : str, date or Timestamp, optional
        Interval form: end of observation; starts after it are dropped, ends after it are
        treated as active (censored). Not used by the snapshot form.
    date_format, tz
        As in :func:`load_transactions` (interval form only).
    churn_values : dict, optional
        Snapshot form: source value -> bool, replacing the default reading (yes/no,
        true/false, y/n, t/f, 1/0, any case), e.g. ``{"Churned": True, "Stayed": False}``.
    encoding, delimiter : str, optional
        Reading a CSV file, as in :func:`read_table`.
    earliest_date : date-like or None, default "1900-01-01"
        Interval form: subscriptions starting before it are dropped and counted; None: no
        limit.
    max_tenure : float, optional
        Snapshot form: a tenure above it (in the periods of the data) is dropped and
        counted; None (default): no limit.
    id_numbers : {"warn", "merge", "error"}, default "warn"
        As in :func:`load_transactions`, for ``customer_id``.

    Returns
    -------
    frame : DataFrame
        Interval: ``customer_id`` (string), ``start``, ``end`` (datetime64[ns], NaT = active),
        covariates; sorted by customer_id, start.
        Snapshot: ``customer_id`` (string, unique), ``tenure`` (float64, in the periods of the
        data), ``churned`` (bool), covariates; sorted by customer_id.
    quality : DataQuality
        See :mod:`clm_lib.io.subscriptions` for the rules.

    Examples
    --------
    >>> subs, dq = load_subscriptions(TELCO_CHURN,
    ...     {"customerID": "customer_id", "Churn": "churned"})   # doctest: +SKIP
    >>> dq.warnings["blank values in numeric column 'TotalCharges' (kept, value NaN)"]  # doctest: +SKIP
    11
    """
    from clm_lib.io import schemas
    from clm_lib.io.subscriptions import check_subscriptions

    raw = _raw(source, "subscriptions", encoding=encoding, delimiter=delimiter)
    with read_errors(source, encoding), scratch(default_connection()) as keep:
        clean, dq = check_subscriptions(raw, backend="duckdb", name=source_name(source),
                                        columns=columns, as_of=as_of, date_format=date_format,
                                        tz=tz, churn_values=churn_values,
                                        earliest_date=earliest_date, max_tenure=max_tenure,
                                        id_numbers=id_numbers, keep=keep)
        interval = "start" in clean.columns
        out = _back(clean, ["customer_id", "start"] if interval else ["customer_id"])
    if interval:
        schemas.SubscriptionIntervalsSchema.validate(out)
    else:
        schemas.SubscriptionSnapshotSchema.validate(out)
    return out, dq


def load_leads(
    source: str | Path | pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    *,
    as_of: Any = None,
    date_format: str | None = None,
    tz: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    earliest_date: Any = DEFAULT_EARLIEST_DATE,
    id_numbers: str = "warn",
) -> tuple[pd.DataFrame, DataQuality]:
    """Load a leads table (before the first purchase: reach and conversion).

    Parameters
    ----------
    source : str, Path or DataFrame
        Needs ``lead_id``, ``created`` (date the lead was created), ``source`` (channel or
        campaign; empty becomes ``"(unknown)"``) and ``converted`` (date of conversion,
        empty when not converted); optional ``customer_id``; other columns are kept.
    columns : dict, optional
        Source name -> canonical name.
    as_of : date-like, optional
        End of observation: leads created later are dropped and counted; conversions
        later than ``as_of`` are treated as not converted yet (counted as a warning).
    date_format, tz
        As in :func:`load_transactions`; ``date_format`` applies to both date columns.
    encoding, delimiter : str, optional
        Reading a CSV file, as in :func:`read_table`.
    earliest_date : date-like or None, default "1900-01-01"
        Leads created before it are dropped and counted; None: no limit.
    id_numbers : {"warn", "merge", "error"}, default "warn"
        As in :func:`load_transactions`, for ``customer_id`` when present (``lead_id``
        is not changed).

    Returns
    -------
    frame : DataFrame
        ``lead_id`` (string), ``created``, ``converted`` (datetime64[ns], NaT = not
        converted by ``as_of``), ``source`` (string), optional ``customer_id``; sorted by
        ``created`` then ``lead_id``.
    quality : DataQuality
        See :mod:`clm_lib.io.leads` for the rules.
    """
    from clm_lib.io.leads import check_leads

    raw = _raw(source, "leads", encoding=encoding, delimiter=delimiter)
    with read_errors(source, encoding), scratch(default_connection()) as keep:
        clean, dq = check_leads(raw, backend="duckdb", name=source_name(source),
                                columns=columns, as_of=as_of, date_format=date_format, tz=tz,
                                earliest_date=earliest_date, id_numbers=id_numbers, keep=keep)
        return _back(clean, ["created", "lead_id"]), dq


def validate_file(path: str | Path, kind: str = "transactions",
                  columns: Mapping[str, str] | None = None, *, encoding: str | None = None,
                  delimiter: str | None = None, **kwargs: Any) -> DataQuality:
    """Load a file with the contract of ``kind`` and return its data-quality record.

    Parameters
    ----------
    path : str or Path
        CSV or Parquet file.
    kind : {"transactions", "subscriptions", "leads"}
    columns : dict, optional
        Source name -> canonical name.
    encoding, delimiter : str, optional
        Reading a CSV file, as in :func:`read_table`.
    **kwargs
        Passed to the loader (``as_of``, ``date_format``, ``tz``, ``negative_amounts``,
        ``cancellation_prefix``, ``max_amount``, ``earliest_date``, ``id_numbers``,
        ``churn_values``, ``max_tenure``).

    Returns
    -------
    DataQuality
        ``.to_dict()`` gives ``rows_in``, ``rows_used``, ``dropped`` by reason, ``warnings``
        and ``notes``. Contract violations raise as in the loaders.
    """
    checks = _checks()
    if kind not in checks:
        raise ParameterError(f"kind must be one of {tuple(checks)}, not {kind!r}")
    # The record is complete once the contract has counted; the clean rows stay unread,
    # so the input needs no row numbers (an error that names rows numbers them itself),
    # and transactions without order ids need one pass only: nothing is kept.
    raw = _raw(path, kind, rows=False, encoding=encoding, delimiter=delimiter)
    names = {(columns or {}).get(c, c) for c in raw.columns}
    one_pass = kind == "transactions" and "order_id" not in names
    with read_errors(path, encoding), scratch(default_connection()) as keep:
        _, dq = checks[kind](raw, backend="duckdb", name=source_name(path), columns=columns,
                             keep=None if one_pass else keep, **kwargs)
    return dq


def _checks() -> dict:
    from importlib import import_module

    class Lazy(dict):
        def __getitem__(self, kind):
            return getattr(import_module(f"clm_lib.io.{kind}"), f"check_{kind}")

    return Lazy.fromkeys(("transactions", "subscriptions", "leads"))
