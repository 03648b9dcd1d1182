"""The transactions contract: raw purchases -> canonical clean table + data-quality record.

Drop reasons, in order (a row gets the first that applies): ``missing customer_id``,
``missing timestamp``, ``unparseable timestamp``, ``missing amount``, ``non-numeric
amount`` (text, or infinite), ``timestamp after as_of``, ``negative amount
(return/cancellation)`` (policy ``"drop"``), ``duplicate order_id`` (an exact repeat of
an earlier row with the same order id). Kept with a warning: zero amounts (a purchase for
counting and retention, not a spend observation), negative amounts under ``"net"``,
identical rows without an ``order_id`` (two identical purchases on the same day are
plausible, so they are kept), non-numeric or missing ``quantity`` (set to NaN), blanks
in other text columns that read as numbers (those become numbers).

Errors (:class:`~clm_lib.exceptions.DataContractError`): no customer id at all; a date
column mixing time-zone-aware and naive text; no date, or no amount, that can be read;
negative amounts under ``negative_amounts="error"``; an ``order_id`` (with ``product``,
when that column exists: one order may have many lines) repeated with different values.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from clm_lib.exceptions import ParameterError
from clm_lib.io import parse, wording
from clm_lib.io.contract import (
    NEGATIVE_AMOUNT_POLICIES,
    ROW,
    candidate_aggs,
    check_tz,
    counts,
    distinct_count,
    fail,
    finish,
    first_code,
    first_of_repeats,
    hash_count,
    identical_rows,
    infer_numeric,
    mixed_zones,
    no_rows,
    parse_as_of,
    rename,
    repeated_keys,
    require,
    total,
    unreadable_dates,
    whole_floats,
    with_positions,
)
from clm_lib.io.quality import DataQuality
from clm_lib.io.sources import _ibis

TX_REQUIRED = ("customer_id", "timestamp", "amount")
_FIRST = ("customer_id", "timestamp", "amount", "order_id", "quantity", "product")


def check_transactions(t, *, backend: str, name: str, columns: Mapping[str, str] | None = None,
                       as_of: Any = None, date_format: str | None = None, tz: str | None = None,
                       negative_amounts: str = "drop", keep: Callable | None = None
                       ) -> tuple[Any, DataQuality]:
    """Apply the transactions contract to the Ibis table ``t`` of the raw source.

    Parameters
    ----------
    t : Ibis table
        Raw source (CSV read as text, or typed Parquet/DataFrame columns); with a
        ``__clm_row`` column of input positions, the clean table keeps it.
    backend : {"duckdb", "spark"}
    name : str
        Source name for the record and messages.
    columns, as_of, date_format, tz, negative_amounts
        As in :func:`clm_lib.io.load_transactions`.
    keep : callable, optional
        ``keep(expr) -> table``: computes the parsed rows once and keeps them in the
        engine (see :func:`clm_lib.io.contract.scratch`), so that the later queries of the
        contract and the clean table read them instead of parsing again; for tables
        that are read once. Without it the clean table stays a lazy expression.

    Returns
    -------
    table : Ibis table
        Clean rows, lazy and unordered: ``customer_id`` (text), ``timestamp`` (naive),
        ``amount`` (float64), optional ``order_id`` (text), ``quantity`` (float64),
        ``product``, then the other columns in source order.
    quality : DataQuality
    """
    if negative_amounts not in NEGATIVE_AMOUNT_POLICIES:
        raise ParameterError(f"negative_amounts must be one of {NEGATIVE_AMOUNT_POLICIES}, "
                             f"not {negative_amounts!r}")
    check_tz(tz)
    return with_positions(_check, t, backend=backend, name=name, columns=columns, as_of=as_of,
                          date_format=date_format, tz=tz, negative_amounts=negative_amounts,
                          keep=keep)


def _check(t, *, backend, name, columns, as_of, date_format, tz, negative_amounts, keep,
           rare=False):
    ibis = _ibis()
    source = t
    as_of_ts, cutoff = parse_as_of(as_of, tz)
    what = f"transactions '{name}'"
    t = rename(t, columns, what)
    require(t, TX_REQUIRED, what)
    has_order = "order_id" in t.columns

    # Three stages, each a projection of its own: whitespace flags of the text columns;
    # canonical values and per-column flags; the drop reason. Each costly expression
    # (text checks, date parsing) is then evaluated once per row.
    s = parse.with_padding(t, ("customer_id", "timestamp", "amount", "order_id"))
    s, ts = parse.dates(s, "timestamp", backend, date_format, tz, parse.pad(s, "timestamp"),
                        rare=rare)
    cid, cid_missing = parse.id_column(s.customer_id, "customer_id", parse.pad(s, "customer_id"),
                                       whole=whole_floats(t, "customer_id"))
    amount, amt_missing, amt_bad = parse.number_column(s.amount, "amount", parse.pad(s, "amount"))
    values = {"customer_id": cid, "timestamp": ts.value, "amount": amount}
    if has_order:
        values["order_id"] = parse.id_column(s.order_id, "order_id", parse.pad(s, "order_id"),
                                             whole=whole_floats(t, "order_id"))[0]
    rest = [c for c in t.columns if c not in values]
    out_cols = [c for c in (*values, *rest) if c != ROW]
    cid_text = t.customer_id.type().is_string()

    def after(stamp):
        return (stamp >= ibis.timestamp(cutoff.to_pydatetime())) if cutoff is not None \
            else ibis.literal(False)

    def negative(value):
        return (value < 0) if negative_amounts == "drop" else ibis.literal(False)

    typed = s.select(**values, **{c: s[c] for c in rest},
                     __clm_cid_padded=parse.pad(s, "customer_id") if cid_text
                     else ibis.literal(False),
                     __clm_cid_missing=cid_missing, __clm_ts_missing=ts.missing,
                     __clm_ts_bad=ts.bad, __clm_ts_aware=ts.aware, __clm_ts_rare=ts.rare,
                     __clm_amt_missing=amt_missing, __clm_amt_bad=amt_bad).view()
    flags = [typed.__clm_cid_missing, typed.__clm_ts_missing, typed.__clm_ts_bad,
             typed.__clm_amt_missing, typed.__clm_amt_bad, after(typed.timestamp),
             negative(typed.amount)]
    coded = typed.mutate(__clm_reason=first_code(flags)).view()
    if keep is not None:
        coded = keep(coded)
    kept = coded.__clm_reason == 0
    aggs = dict(rows_in=coded.count(),
                **{k: total(coded[f"__clm_{k}"]) for k in (
                    "cid_padded", "cid_missing", "ts_missing", "ts_bad", "ts_aware", "ts_rare",
                    "amt_missing", "amt_bad")},
                neg_alive=total(kept & (coded.amount < 0)),
                **{f"r{i + 1}": total(coded.__clm_reason == i + 1) for i in range(len(flags))})
    if not has_order:
        # no exact repeat is dropped: the clean rows are the kept rows, counted in this pass
        aggs.update(_final_counts(coded, kept), hashes=hash_count(coded, out_cols, where=kept))
    c = counts(coded.aggregate(**aggs))
    if c["ts_rare"] and not rare:
        # dates in rarer ISO 8601 forms: read them too (a second pass, only for such data)
        return _check(source, backend=backend, name=name, columns=columns, as_of=as_of,
                      date_format=date_format, tz=tz, negative_amounts=negative_amounts,
                      keep=keep, rare=True)

    n = c["rows_in"]
    if n == 0:
        raise no_rows(what)
    if c["cid_missing"] == n:
        raise fail(coded, "customer_id", "every customer_id is missing; wrong column mapped?",
                   n, coded.__clm_cid_missing)
    present = n - c["ts_missing"]
    if not date_format and 0 < c["ts_aware"] < present:
        raise mixed_zones(coded, "timestamp", present - c["ts_aware"],
                          ~coded.__clm_ts_missing & ~coded.__clm_ts_aware)
    if present and c["ts_bad"] == present:
        raise unreadable_dates(coded, "timestamp", present, coded.__clm_ts_bad, date_format)
    if c["ts_missing"] == n:
        raise fail(coded, "timestamp", "every timestamp is missing; wrong column mapped?", n,
                   coded.__clm_ts_missing)
    if c["amt_missing"] == n:
        raise fail(coded, "amount", "every amount is missing; wrong column mapped?", n,
                   coded.__clm_amt_missing)
    if c["amt_bad"] == n - c["amt_missing"]:
        raise fail(coded, "amount", "no amount is a number (currency symbols or thousands "
                                    "separators must be removed before loading)",
                   c["amt_bad"], coded.__clm_amt_bad)
    if negative_amounts == "error" and c["neg_alive"]:
        raise fail(coded, "amount", "negative amounts (returns/cancellations) are not "
                                    "allowed with negative_amounts='error'; use 'drop' or "
                                    "'net'", c["neg_alive"], kept & (coded.amount < 0))

    dq = DataQuality(source=name, rows_in=n)
    for i, r in enumerate(wording.TX_REASONS):
        dq.drop(r, c[f"r{i + 1}"])
    # The clean table is re-evaluated by every query on it, so it does only what these
    # data need: a row is kept when no condition that dropped rows holds (conditions that
    # dropped nothing are left out), and ids that need no stripping are used as read.
    if keep is not None:
        clean = coded.filter(kept).select(*values, *rest)
    else:
        if cid_text and c["cid_padded"] == 0:
            values["customer_id"] = s.customer_id
        conditions = [cid_missing, ts.missing, ts.bad, amt_missing, amt_bad, after(ts.value),
                      negative(amount)]
        active = [parse.flag(x) for i, x in enumerate(conditions) if c[f"r{i + 1}"]]
        clean = s.select(**values, **{x: s[x] for x in rest},
                         **{f"__clm_drop{i}": x for i, x in enumerate(active)})
        if active:
            clean = clean.filter(~ibis.or_(*[clean[f"__clm_drop{i}"]
                                             for i in range(len(active))]))
        clean = clean.drop(*[f"__clm_drop{i}" for i in range(len(active))])

    if has_order:
        key = ["order_id"] + (["product"] if "product" in t.columns else [])
        with_id = clean.order_id.notnull()
        d = counts(clean.aggregate(
            n_id=total(with_id), u_id=distinct_count(clean, out_cols, where=with_id),
            n_no=total(~with_id), u_no=distinct_count(clean, out_cols, where=~with_id)))
        # an exact repeat of a row with the same order id is double-recorded: keep one
        unique = first_of_repeats(clean.filter(with_id), out_cols).select(*clean.columns)
        conflict = repeated_keys(unique, key)
        n_conflict = counts(conflict.aggregate(n=conflict.count()))["n"]
        if n_conflict:
            raise fail(conflict, "order_id", "the same order id appears with different "
                                             f"values (key: {', '.join(key)})", n_conflict,
                       ibis.literal(True))
        dq.drop(wording.DUPLICATE_ORDER, d["n_id"] - d["u_id"])
        clean = unique.union(clean.filter(~with_id), distinct=False)
        dq.notes.append(wording.order_duplicates_note(key))
        dq.warn(wording.IDENTICAL_ROWS, d["n_no"] - d["u_no"])
        c.update(counts(clean.aggregate(**_final_counts(clean, ibis.literal(True)))))
    else:
        # every kept row hashes apart: none is identical to another (the usual case);
        # otherwise the rows that share a hash are compared
        kept_n = n - dq.n_dropped
        dq.warn(wording.IDENTICAL_ROWS, 0 if c["hashes"] == kept_n
                else identical_rows(coded.filter(kept), out_cols))
        dq.notes.append(wording.NO_ORDER_ID_NOTE)

    if "quantity" in t.columns:
        q = parse.number_column(clean.quantity, "quantity")[0]
        clean = clean.mutate(quantity=q)
        dq.warn(wording.MISSING_QUANTITY, c["q_missing"])
        dq.warn(wording.BAD_QUANTITY, c["q_bad"])
    # the candidates are the same columns, in the same order, as those counted above
    clean = infer_numeric(clean, set(), dq, cands=parse.numeric_candidates(clean, _SKIP),
                          found=c)
    dq.warn(wording.ZERO_AMOUNT, c["zero"])
    if negative_amounts == "net":
        dq.warn(wording.NEGATIVE_KEPT, c["negative"])
    dq.notes += wording.amount_notes(negative_amounts, c["zero"])
    dq.notes.append(wording.date_note(date_format))
    dq.notes.append(wording.tz_note(tz))
    if as_of_ts is not None:
        dq.notes.append(wording.tx_as_of_note(as_of_ts))
    dq.notes.append(wording.ONE_REASON_NOTE)
    first = [x for x in _FIRST if x in clean.columns]
    clean = clean.select(*first, *[x for x in clean.columns if x not in first])
    return clean, finish(dq, what)


#: Columns never read as numbers by :func:`clm_lib.io.contract.infer_numeric`.
_SKIP = {*_FIRST, ROW}


def _final_counts(t, where):
    """The counts taken on the clean rows (``where`` holds): zero and negative amounts,
    missing and unreadable quantities, and the numeric reading of other text columns."""
    aggs = dict(zero=total(where & (t.amount == 0)), negative=total(where & (t.amount < 0)))
    if "quantity" in t.columns:
        _, q_missing, q_bad = parse.number_column(t.quantity, "quantity")
        aggs.update(q_missing=total(where & q_missing), q_bad=total(where & q_bad))
    aggs.update(candidate_aggs(parse.numeric_candidates(t, _SKIP, where=where)))
    return aggs
