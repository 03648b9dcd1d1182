"""The leads contract: who was reached, from which source, and who converted.

Drop reasons, in order: ``missing lead_id``, ``missing created``, ``unparseable created``,
``created before <earliest_date>`` (default 1900-01-01),
``unparseable converted`` (a conversion that cannot be dated cannot be placed in time),
``created after as_of``, ``converted before created``, ``duplicate lead row`` (an exact
repeat). A ``lead_id`` repeated with different values is a
:class:`~clm_lib.exceptions.DataContractError`. Conversions after ``as_of`` are treated
as not converted yet (a warning); an empty ``source`` becomes ``"(unknown)"``; customer ids
that spell the same number follow ``id_numbers`` (lead ids are left as read).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from clm_lib.io import parse, wording
from clm_lib.io.contract import (
    DEFAULT_EARLIEST_DATE,
    ID_NUMBER_POLICIES,
    ROW,
    check_choice,
    check_tz,
    counts,
    fail,
    finish,
    first_code,
    first_of_repeats,
    id_spellings,
    mixed_zones,
    no_rows,
    parse_as_of,
    parse_earliest,
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

LEADS_REQUIRED = ("lead_id", "created", "source", "converted")


def check_leads(t, *, backend: str, name: str, columns: Mapping[str, str] | None = None,
                as_of: Any = None, date_format: str | None = None,
                tz: str | None = None, earliest_date: Any = DEFAULT_EARLIEST_DATE,
                id_numbers: str = "warn", keep: Callable | None = None
                ) -> tuple[Any, DataQuality]:
    """Apply the leads contract to the Ibis table ``t`` of the raw source.

    Parameters are those of :func:`clm_lib.io.load_leads` (``backend``: "duckdb" or
    "spark"; ``name``: the source name for the record; ``keep``: see
    :func:`clm_lib.io.transactions.check_transactions`).

    Returns
    -------
    table : Ibis table
        Clean rows, lazy and unordered: ``lead_id`` (text), ``created``, ``converted``
        (naive timestamps, null = not converted by ``as_of``), ``source`` (text), optional
        ``customer_id`` (text), other columns in the order of the source.
    quality : DataQuality
    """
    check_choice("id_numbers", id_numbers, ID_NUMBER_POLICIES)
    options = dict(earliest=parse_earliest(earliest_date), id_numbers=id_numbers)
    check_tz(tz)
    return with_positions(_check, t, backend=backend, name=name, columns=columns, as_of=as_of,
                          date_format=date_format, tz=tz, options=options, keep=keep)


def _check(t, *, backend, name, columns, as_of, date_format, tz, options, keep, rare=False):
    ibis = _ibis()
    source_table = t
    as_of_ts, cutoff = parse_as_of(as_of, tz)
    what = f"leads '{name}'"
    t = rename(t, columns, what)
    require(t, LEADS_REQUIRED, what)
    s, created = parse.dates(t, "created", backend, date_format, tz, rare=rare)
    s, converted = parse.dates(s, "converted", backend, date_format, tz, rare=rare)
    created = created.on(s)
    lead, lead_missing = parse.id_column(s.lead_id, "lead_id", whole=whole_floats(t, "lead_id"))
    cut = ibis.timestamp(cutoff.to_pydatetime()) if cutoff is not None else None
    conditions = [lead_missing, created.missing, created.bad, converted.bad,
                  (created.value >= cut) if cut is not None else ibis.literal(False),
                  converted.value < created.value]
    earliest = options["earliest"]
    if earliest is not None:
        conditions.insert(3, created.value < ibis.timestamp(earliest.to_pydatetime()))
    src = s.source if s.source.type().is_string() else s.source.cast("string")
    canon = {"lead_id": lead, "created": created.value, "converted": converted.value,
             "source": ibis.ifelse(parse.text_missing(src), "(unknown)", parse.strip(src))}
    if "customer_id" in t.columns:
        canon["customer_id"] = parse.id_column(s.customer_id, "customer_id",
                                               whole=whole_floats(t, "customer_id"))[0]
    flags = {"l_missing": lead_missing, "c_missing": created.missing, "c_bad": created.bad,
             "c_aware": created.aware, "c_rare": created.rare, "v_missing": converted.missing,
             "v_bad": converted.bad, "v_aware": converted.aware, "v_rare": converted.rare}
    typed = s.select(*[canon.get(c, s[c]).name(c) for c in t.columns],
                     **{f"__clm_{k}": parse.flag(v) for k, v in flags.items()},
                     __clm_reason=first_code(conditions)).view()
    if keep is not None:
        typed = keep(typed)
    c = counts(typed.aggregate(
        rows_in=typed.count(), **{k: total(typed[f"__clm_{k}"]) for k in flags},
        **{f"r{i + 1}": total(typed.__clm_reason == i + 1) for i in range(len(conditions))}))
    if not rare and (c["c_rare"] or c["v_rare"]):
        return _check(source_table, backend=backend, name=name, columns=columns, as_of=as_of,
                      date_format=date_format, tz=tz, options=options, keep=keep, rare=True)

    n = c["rows_in"]
    if n == 0:
        raise no_rows(what)
    if c["l_missing"] == n:
        raise fail(typed, "lead_id", "every lead_id is missing; wrong column mapped?", n,
                   typed.__clm_l_missing)
    for column, k in (("created", "c"), ("converted", "v")):
        present = n - c[f"{k}_missing"]
        if not date_format and 0 < c[f"{k}_aware"] < present:
            raise mixed_zones(typed, column, present - c[f"{k}_aware"],
                              ~typed[f"__clm_{k}_missing"] & ~typed[f"__clm_{k}_aware"])
        if present and c[f"{k}_bad"] == present:
            raise unreadable_dates(typed, column, present, typed[f"__clm_{k}_bad"],
                                   date_format)
        if column == "created" and c["c_missing"] == n:
            raise fail(typed, "created", "every created date is missing; wrong column mapped?",
                       n, typed.__clm_c_missing)

    dq = DataQuality(source=name, rows_in=n)
    reasons = list(wording.LEAD_REASONS)
    if earliest is not None:
        reasons.insert(3, wording.date_before("created", earliest))
    for i, r in enumerate(reasons[:-1]):
        dq.drop(r, c[f"r{i + 1}"])
    clean = typed.filter(typed.__clm_reason == 0).select(*t.columns)
    if "customer_id" in t.columns:
        # lead ids stay as read: a lead is a record of this table, not a number to match
        clean = id_spellings(clean, "customer_id", options["id_numbers"], dq)
    unique = first_of_repeats(clean, [x for x in t.columns if x != ROW]).select(*t.columns)
    conflict = repeated_keys(unique, ["lead_id"])
    late = parse.flag(unique.converted >= cut) if cut is not None else None
    u = counts(unique.aggregate(rows=unique.count(),
                                **({"late": total(late)} if late is not None else {})))
    dq.drop(reasons[-1], n - dq.n_dropped - u["rows"])
    n_conflict = counts(conflict.aggregate(n=conflict.count()))["n"]
    if n_conflict:
        raise fail(conflict, "lead_id", "the same lead id appears with different values",
                   n_conflict, ibis.literal(True))
    if cut is not None:
        dq.warn(wording.CONVERTED_AFTER_AS_OF, u["late"])
        unique = unique.mutate(converted=ibis.ifelse(late, ibis.null("timestamp"),
                                                     unique.converted))
        dq.notes.append(wording.leads_as_of_note(as_of_ts))
    dq.notes.append(wording.LEADS_CENSORED_NOTE)
    dq.notes.append(wording.date_note(date_format))
    dq.notes.append(wording.tz_note(tz))
    return unique, finish(dq, what)
