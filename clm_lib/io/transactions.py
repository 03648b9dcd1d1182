"""The transactions contract: raw purchases -> canonical clean table + data-quality record.

Drop reasons, in order (a row gets the first that applies): ``missing customer_id``,
``missing timestamp``, ``unparseable timestamp``, ``timestamp before <earliest_date>``
(default 1900-01-01), ``missing amount``, ``non-numeric amount`` (text, or infinite; with
``unit_price`` instead of ``amount``: ``missing quantity``, ``non-numeric quantity``,
``missing unit_price``, ``non-numeric unit_price``), ``amount beyond the plausible range
(|amount| > <max_amount>)`` (default 1e9), ``timestamp after as_of``, ``cancellation
(order id starts with <cancellation_prefix>)`` (policy ``"drop"``, whatever the sign),
``negative amount (return/cancellation)`` (policy ``"drop"``), ``duplicate order_id`` (an
exact repeat of an earlier line with the same order id). Kept with a warning: zero
amounts (a purchase for counting and retention, not a spend observation), negative
amounts under ``"net"``, identical rows without an ``order_id`` (two identical purchases
on the same day are plausible, so they are kept), non-numeric or missing ``quantity`` (set
to NaN), blanks in other text columns that read as numbers (those become numbers), lines
of one order with different timestamps, customer ids that spell the same number as
another (``id_numbers="warn"``) or were merged (``"merge"``).

Order lines: with an ``order_id``, the rows sharing one are the lines of one order and
the clean table has one row per order (amount and quantity summed, the earliest line's
timestamp, ``lines``; no ``product`` or ``unit_price``; other columns from the first
line). The record counts lines (``rows_in == rows_used + dropped``) and ``orders``.

Errors (:class:`~clm_lib.exceptions.DataContractError`): no customer id at all; a date
column mixing time-zone-aware and naive text; no date, or no amount, that can be read;
negative amounts or cancellations under ``negative_amounts="error"``; lines of one order
with different customer ids; ids that spell one number two ways under
``id_numbers="error"``.

Passes: without an ``order_id``, one pass counts everything (a second only for dates in
rarer ISO forms, or when two ids spell one number); with one, the parsed rows are kept
and the order lines are read from them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from clm_lib.exceptions import MissingColumnsError, ParameterError
from clm_lib.io import parse, wording
from clm_lib.io.contract import (
    DEFAULT_EARLIEST_DATE,
    DEFAULT_MAX_AMOUNT,
    ID_NUMBER_POLICIES,
    NEGATIVE_AMOUNT_POLICIES,
    ROW,
    candidate_aggs,
    check_bound,
    check_choice,
    check_tz,
    counts,
    distinct_count,
    fail,
    finish,
    first_code,
    first_of_repeats,
    hash_count,
    id_spellings,
    identical_rows,
    infer_numeric,
    mixed_zones,
    no_rows,
    parse_as_of,
    parse_earliest,
    rename,
    spelling_aggs,
    total,
    unreadable_dates,
    whole_floats,
    with_positions,
)
from clm_lib.io.quality import DataQuality
from clm_lib.io.sniff import suggest_columns
from clm_lib.io.sources import _ibis

TX_REQUIRED = ("customer_id", "timestamp", "amount")
_FIRST = ("customer_id", "timestamp", "amount", "order_id", "lines", "quantity", "product",
          "unit_price")


def check_transactions(t, *, backend: str, name: str, columns: Mapping[str, str] | None = None,
                       as_of: Any = None, date_format: str | None = None, tz: str | None = None,
                       negative_amounts: str = "drop", cancellation_prefix: str | None = None,
                       max_amount: float = DEFAULT_MAX_AMOUNT,
                       earliest_date: Any = DEFAULT_EARLIEST_DATE, id_numbers: str = "warn",
                       keep: Callable | None = None) -> tuple[Any, DataQuality]:
    """Apply the transactions contract to the Ibis table ``t`` of the raw source.

    Parameters
    ----------
    t : Ibis table
        Raw source (CSV read as text, or typed Parquet/DataFrame columns); with a
        ``__clm_row`` column of input positions, the clean table keeps it.
    backend : {"duckdb", "spark"}
    name : str
        Source name for the record and messages.
    columns, as_of, date_format, tz, negative_amounts, cancellation_prefix, max_amount, \
earliest_date, id_numbers
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
        ``product``, then the other columns in source order. With ``order_id``: one row
        per order, with ``lines`` (int64), and without ``product`` and ``unit_price``.
    quality : DataQuality
    """
    check_choice("negative_amounts", negative_amounts, NEGATIVE_AMOUNT_POLICIES)
    check_choice("id_numbers", id_numbers, ID_NUMBER_POLICIES)
    if cancellation_prefix is not None and (not isinstance(cancellation_prefix, str)
                                            or not cancellation_prefix.strip()):
        raise ParameterError(f"cancellation_prefix must be a non-empty text (e.g. 'C') or "
                             f"None, not {cancellation_prefix!r}")
    options = dict(negative_amounts=negative_amounts, cancellation_prefix=cancellation_prefix,
                   max_amount=check_bound("max_amount", max_amount),
                   earliest=parse_earliest(earliest_date), id_numbers=id_numbers)
    check_tz(tz)
    return with_positions(_check, t, backend=backend, name=name, columns=columns, as_of=as_of,
                          date_format=date_format, tz=tz, options=options, keep=keep)


def _amount_form(t, what: str) -> bool:
    """Whether the amount is quantity times unit price (no ``amount`` column, both of
    those present); a :class:`MissingColumnsError` naming what is missing otherwise."""
    found = [c for c in t.columns if c != ROW]
    missing = [c for c in ("customer_id", "timestamp") if c not in t.columns]
    unit_price = "amount" not in t.columns and "unit_price" in t.columns
    if unit_price and "quantity" not in t.columns:
        missing.append("quantity")
    elif "amount" not in t.columns and not unit_price:
        missing.append("amount")
    if missing:
        # the hint only where one of the two columns of the other form is there
        hint = "amount" not in t.columns and ("unit_price" in t.columns
                                              or "quantity" in t.columns)
        raise MissingColumnsError(missing, found, what=what + (
            " (needs amount, or unit_price with quantity)" if hint else ""),
            suggestion=suggest_columns(missing, found))
    return unit_price


def _check(t, *, backend, name, columns, as_of, date_format, tz, options, keep, rare=False):
    ibis = _ibis()
    source = t
    as_of_ts, cutoff = parse_as_of(as_of, tz)
    what = f"transactions '{name}'"
    t = rename(t, columns, what)
    unit_price = _amount_form(t, what)
    has_order = "order_id" in t.columns
    policy, prefix = options["negative_amounts"], options["cancellation_prefix"]
    earliest, max_amount = options["earliest"], options["max_amount"]
    if prefix is not None and not has_order:
        raise ParameterError(f"cancellation_prefix needs an order_id column; {what} has none")
    reasons = wording.tx_reasons(unit_price=unit_price, earliest=earliest,
                                 max_amount=max_amount, cancellation_prefix=prefix)

    # Three stages, each a projection of its own: whitespace flags of the text columns;
    # canonical values and per-column flags; the drop reason. Each costly expression
    # (text checks, date parsing) is then evaluated once per row.
    s = parse.with_padding(t, ("customer_id", "timestamp", "amount", "order_id")
                           + (("quantity", "unit_price") if unit_price else ()))
    s, ts = parse.dates(s, "timestamp", backend, date_format, tz, parse.pad(s, "timestamp"),
                        rare=rare)
    cid, cid_missing = parse.id_column(s.customer_id, "customer_id", parse.pad(s, "customer_id"),
                                       whole=whole_floats(t, "customer_id"))
    if unit_price:
        qty, q_missing, q_bad = parse.number_column(s.quantity, "quantity",
                                                    parse.pad(s, "quantity"))
        price, p_missing, p_bad = parse.number_column(s.unit_price, "unit_price",
                                                      parse.pad(s, "unit_price"))
        amount = qty * price
        amount_flags = {"q_missing": q_missing, "q_bad": q_bad, "p_missing": p_missing,
                        "p_bad": p_bad}
        # the columns whose values the amount needs, with their flags (for the errors)
        amount_columns = (("quantity", "q_missing", "q_bad"), ("unit_price", "p_missing", "p_bad"))
    else:
        amount, amt_missing, amt_bad = parse.number_column(s.amount, "amount",
                                                           parse.pad(s, "amount"))
        amount_flags = {"amt_missing": amt_missing, "amt_bad": amt_bad}
        amount_columns = (("amount", "amt_missing", "amt_bad"),)
    values = {"customer_id": cid, "timestamp": ts.value, "amount": amount}
    cancel = ibis.literal(False)
    if has_order:
        values["order_id"] = parse.id_column(s.order_id, "order_id", parse.pad(s, "order_id"),
                                             whole=whole_floats(t, "order_id"))[0]
        if prefix is not None:
            cancel = parse.flag(values["order_id"].startswith(prefix))
            if policy == "net":
                # a cancellation takes back what was bought: its amount counts negative
                values["amount"] = ibis.ifelse(cancel & (amount > 0), -amount, amount)
    rest = [c for c in t.columns if c not in values]
    out_cols = [c for c in (*values, *rest) if c != ROW]
    cid_text = t.customer_id.type().is_string()

    def after(stamp):
        return (stamp >= ibis.timestamp(cutoff.to_pydatetime())) if cutoff is not None \
            else ibis.literal(False)

    def conditions(flag, stamp, value):
        """The drop conditions in the order of ``reasons``; ``flag(key)`` gives a flag."""
        out = [flag("cid_missing"), flag("ts_missing"), flag("ts_bad")]
        if earliest is not None:
            out.append(stamp < ibis.timestamp(earliest.to_pydatetime()))
        out += [flag(k) for k in amount_flags]
        out.append(value.abs() > max_amount)
        out.append(after(stamp))
        if prefix is not None:
            out.append(flag("cancel") if policy == "drop" else ibis.literal(False))
        out.append((value < 0) if policy == "drop" else ibis.literal(False))
        return out

    base = {"cid_missing": cid_missing, "ts_missing": ts.missing, "ts_bad": ts.bad,
            "ts_aware": ts.aware, "ts_rare": ts.rare, **amount_flags, "cancel": cancel}
    typed = s.select(**values, **{c: s[c] for c in rest},
                     __clm_cid_padded=parse.pad(s, "customer_id") if cid_text
                     else ibis.literal(False),
                     **{f"__clm_{k}": v for k, v in base.items()}).view()
    flags = conditions(lambda k: typed[f"__clm_{k}"], typed.timestamp, typed.amount)
    coded = typed.mutate(__clm_reason=first_code(flags)).view()
    if keep is not None:
        coded = keep(coded)
    kept = coded.__clm_reason == 0
    aggs = dict(rows_in=coded.count(),
                **{k: total(coded[f"__clm_{k}"]) for k in ("cid_padded", *base)},
                **spelling_aggs(coded.customer_id, kept),
                neg_alive=total(kept & (coded.amount < 0)),
                cancel_alive=total(kept & coded.__clm_cancel),
                **{f"r{i + 1}": total(coded.__clm_reason == i + 1) for i in range(len(flags))})
    if not has_order:
        # no exact repeat is dropped: the clean rows are the kept rows, counted in this pass
        aggs.update(_final_counts(coded, kept), hashes=hash_count(coded, out_cols, where=kept))
    c = counts(coded.aggregate(**aggs))
    if c["ts_rare"] and not rare:
        # dates in rarer ISO 8601 forms: read them too (a second pass, only for such data)
        return _check(source, backend=backend, name=name, columns=columns, as_of=as_of,
                      date_format=date_format, tz=tz, options=options, keep=keep, rare=True)

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
    for column, k_missing, k_bad in amount_columns:
        if c[k_missing] == n:
            raise fail(coded, column, f"every {column} is missing; wrong column mapped?", n,
                       coded[f"__clm_{k_missing}"])
        if c[k_bad] == n - c[k_missing]:
            raise fail(coded, column, f"no {column} is a number (currency symbols or "
                                      "thousands separators must be removed before loading)",
                       c[k_bad], coded[f"__clm_{k_bad}"])
    if policy == "error" and c["cancel_alive"]:
        raise fail(coded, "order_id", f"cancellations (order id starts with {prefix!r}) are not "
                                      "allowed with negative_amounts='error'; use 'drop' or "
                                      "'net'", c["cancel_alive"], kept & coded.__clm_cancel)
    if policy == "error" and c["neg_alive"]:
        raise fail(coded, "amount", "negative amounts (returns/cancellations) are not "
                                    "allowed with negative_amounts='error'; use 'drop' or "
                                    "'net'", c["neg_alive"], kept & (coded.amount < 0))

    dq = DataQuality(source=name, rows_in=n)
    for i, r in enumerate(reasons):
        dq.drop(r, c[f"r{i + 1}"])
    # The clean table is re-evaluated by every query on it, so it does only what these
    # data need: a row is kept when no condition that dropped rows holds (conditions that
    # dropped nothing are left out), and ids that need no stripping are used as read.
    if keep is not None:
        clean = coded.filter(kept).select(*values, *rest)
    else:
        if cid_text and c["cid_padded"] == 0:
            values["customer_id"] = s.customer_id
        active = [parse.flag(x) for i, x in enumerate(
            conditions(base.get, ts.value, values["amount"])) if c[f"r{i + 1}"]]
        clean = s.select(**values, **{x: s[x] for x in rest},
                         **{f"__clm_drop{i}": x for i, x in enumerate(active)})
        if active:
            clean = clean.filter(~ibis.or_(*[clean[f"__clm_drop{i}"]
                                             for i in range(len(active))]))
        clean = clean.drop(*[f"__clm_drop{i}" for i in range(len(active))])

    if has_order:
        with_id = clean.order_id.notnull()
        d = counts(clean.aggregate(
            n_id=total(with_id), u_id=distinct_count(clean, out_cols, where=with_id),
            n_no=total(~with_id), u_no=distinct_count(clean, out_cols, where=~with_id)))
        # an exact repeat of a line with the same order id is double-recorded: keep one
        unique = first_of_repeats(clean.filter(with_id), out_cols).select(*clean.columns)
        dq.drop(wording.DUPLICATE_ORDER, d["n_id"] - d["u_id"])
        clean = unique.union(clean.filter(~with_id), distinct=False)
        if keep is not None:
            clean = keep(clean)
        dq.notes.append(wording.ORDER_LINES_NOTE)
        dq.warn(wording.IDENTICAL_ROWS, d["n_no"] - d["u_no"])
        c.update(counts(clean.aggregate(**_final_counts(clean, ibis.literal(True)))))
    else:
        # every kept row hashes apart: none is identical to another (the usual case);
        # otherwise the rows that share a hash are compared
        kept_n = n - dq.n_dropped
        dq.warn(wording.IDENTICAL_ROWS, 0 if c["hashes"] == kept_n
                else identical_rows(coded.filter(kept), out_cols))
        dq.notes.append(wording.NO_ORDER_ID_NOTE)

    if c["idn_ids"] != c["idn_keys"]:
        clean = id_spellings(clean, "customer_id", options["id_numbers"], dq)
    if "quantity" in t.columns:
        q = parse.number_column(clean.quantity, "quantity")[0]
        clean = clean.mutate(quantity=q)
        dq.warn(wording.MISSING_QUANTITY, c["q_missing"])
        dq.warn(wording.BAD_QUANTITY, c["q_bad"])
    if unit_price:
        clean = clean.mutate(unit_price=parse.number_column(clean.unit_price, "unit_price")[0])
    # the candidates are the same columns, in the same order, as those counted above
    clean = infer_numeric(clean, set(), dq, cands=parse.numeric_candidates(clean, _SKIP),
                          found=c)
    if has_order:
        clean = _to_orders(clean, dq, n - dq.n_dropped)
    dq.warn(wording.ZERO_AMOUNT, c["zero"])
    if policy == "net":
        dq.warn(wording.NEGATIVE_KEPT, c["negative"])
    dq.notes += wording.amount_notes(policy, c["zero"])
    if prefix is not None:
        dq.notes.append(wording.cancellation_note(prefix, policy))
    dq.notes.append(wording.date_note(date_format))
    dq.notes.append(wording.tz_note(tz))
    if as_of_ts is not None:
        dq.notes.append(wording.tx_as_of_note(as_of_ts))
    dq.notes.append(wording.ONE_REASON_NOTE)
    first = [x for x in _FIRST if x in clean.columns]
    clean = clean.select(*first, *[x for x in clean.columns if x not in first])
    return clean, finish(dq, what)


def _to_orders(lines, dq: DataQuality, n_lines: int):
    """One row per order from the clean ``lines`` (rows without an order id are one order
    each): the first line's customer and other columns, the earliest timestamp, summed
    amount and quantity, the number of lines in ``lines``; ``product`` and ``unit_price``
    describe a line, not an order, and are left out. Lines of one order with different
    customer ids are a :class:`DataContractError`; with different timestamps, a warning
    (the lines concerned). Sets ``dq.orders``."""
    ibis = _ibis()
    o = lines.filter(lines.order_id.notnull())
    per = o.group_by("order_id").aggregate(
        __clm_l=o.count(), __clm_c=o.customer_id.nunique(), __clm_t=o.timestamp.nunique())
    st = counts(per.aggregate(orders=per.count(), lines=per.__clm_l.sum(),
                              bad_c=per.__clm_l.sum(where=per.__clm_c > 1),
                              bad_t=per.__clm_l.sum(where=per.__clm_t > 1)))
    if st["bad_c"]:
        raise fail(o.semi_join(per.filter(per.__clm_c > 1), "order_id"), "order_id",
                   wording.ORDER_CUSTOMERS, st["bad_c"], ibis.literal(True))
    dq.warn(wording.ORDER_TIMES, st["bad_t"])
    dq.orders = st["orders"] + n_lines - st["lines"]
    dq.notes.append(wording.orders_note(n_lines, dq.orders))

    summed = [c for c in ("timestamp", "amount", "quantity") if c in lines.columns]
    line_only = [c for c in ("product", "unit_price") if c in lines.columns]
    # the first line: in input order when the rows are numbered, else the earliest
    first_by = [ROW] if ROW in lines.columns else ["timestamp", *[
        c for c in lines.columns if c not in ("timestamp", *line_only)]]
    ranked = o.mutate(__clm_first=ibis.row_number().over(group_by="order_id",
                                                          order_by=first_by)).view()
    firsts = ranked.filter(ranked.__clm_first == 0).drop("__clm_first", *summed, *line_only)
    sums = o.group_by("order_id").aggregate(
        timestamp=o.timestamp.min(), amount=o.amount.sum(),
        **({"quantity": o.quantity.sum()} if "quantity" in summed else {}),
        lines=o.count().cast("int64"))
    cols = [c for c in lines.columns if c not in line_only] + ["lines"]
    j = firsts.inner_join(sums, "order_id")
    grouped = j.select(*[j[c] for c in cols])
    single = lines.filter(lines.order_id.isnull())
    single = single.select(*[single[c] for c in cols if c != "lines"],
                           lines=ibis.literal(1, "int64"))
    return grouped.union(single, distinct=False)


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
