"""The subscriptions contract, in interval or snapshot form (a ``start`` column means the
interval form).

Interval form (``customer_id``, ``start``, ``end``; an empty end means "active"): drops
``missing customer_id``, ``missing start``, ``unparseable start``, ``start before
<earliest_date>`` (default 1900-01-01), ``unparseable end``,
``start after as_of``, ``end before start``, ``duplicate subscription row``. An end after
``as_of`` is treated as active at ``as_of`` (censored) with a warning. A customer may hold
several intervals (re-subscriptions); each is kept as its own spell, with a warning.

Snapshot form (``customer_id``, ``tenure``, ``churned``): drops ``missing customer_id``,
``missing tenure``, ``non-numeric tenure``, ``tenure beyond the plausible range (tenure >
<max_tenure>)`` (no limit by default), ``negative tenure``, ``missing churn flag``,
``unrecognised churn flag``, ``duplicate customer row``; the same customer twice with
different values is a :class:`~clm_lib.exceptions.DataContractError`.

Customer ids that spell the same number (``1``, ``1.0``, ``01``) follow ``id_numbers``
(see :func:`clm_lib.io.contract.id_spellings`). Other columns are kept as covariates; a
text column whose values all read as numbers becomes numbers (blanks counted as a
warning, e.g. Telco ``TotalCharges``) unless its name ends in ``id`` or a value has a
leading zero.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from clm_lib.io import parse, wording
from clm_lib.io.contract import (
    DEFAULT_EARLIEST_DATE,
    ID_NUMBER_POLICIES,
    ROW,
    check_bound,
    check_choice,
    check_tz,
    counts,
    fail,
    finish,
    first_code,
    first_of_repeats,
    id_spellings,
    infer_numeric,
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

INTERVAL_REQUIRED = ("customer_id", "start", "end")
SNAPSHOT_REQUIRED = ("customer_id", "tenure", "churned")


def check_subscriptions(t, *, backend: str, name: str, columns: Mapping[str, str] | None = None,
                        as_of: Any = None, date_format: str | None = None,
                        tz: str | None = None, churn_values: Mapping[Any, bool] | None = None,
                        earliest_date: Any = DEFAULT_EARLIEST_DATE,
                        max_tenure: float | None = None, id_numbers: str = "warn",
                        keep: Callable | None = None) -> tuple[Any, DataQuality]:
    """Apply the subscriptions contract to the Ibis table ``t`` of the raw source.

    Parameters are those of :func:`clm_lib.io.load_subscriptions` (``backend``: "duckdb"
    or "spark"; ``name``: the source name for the record; ``keep``: see
    :func:`clm_lib.io.transactions.check_transactions`).

    Returns
    -------
    table : Ibis table
        Clean rows, lazy and unordered: ``customer_id`` (text), then ``start``/``end``
        (naive timestamps, null end = active) or ``tenure`` (float64) / ``churned``
        (boolean), other columns, in the order of the source.
    quality : DataQuality
    """
    check_choice("id_numbers", id_numbers, ID_NUMBER_POLICIES)
    options = dict(earliest=parse_earliest(earliest_date),
                   max_tenure=check_bound("max_tenure", max_tenure, none=True),
                   id_numbers=id_numbers)
    check_tz(tz)
    return with_positions(_check, t, backend=backend, name=name, columns=columns, as_of=as_of,
                          date_format=date_format, tz=tz, churn_values=churn_values,
                          options=options, keep=keep)


def _form(t, what: str) -> str:
    if "start" in t.columns:
        require(t, INTERVAL_REQUIRED, what + " (interval form)")
        return "interval"
    require(t, SNAPSHOT_REQUIRED, what + " (snapshot form needs customer_id, tenure, churned; "
                                         "interval form needs customer_id, start, end)")
    return "snapshot"


def _check(t, *, backend, name, columns, as_of, date_format, tz, churn_values, options, keep,
           rare=False):
    ibis = _ibis()
    source = t
    as_of_ts, cutoff = parse_as_of(as_of, tz)
    what = f"subscriptions '{name}'"
    t = rename(t, columns, what)
    form = _form(t, what)
    earliest, max_tenure = options["earliest"], options["max_tenure"]
    reasons = list(wording.SUBSCRIPTION_REASONS[form])
    if form == "interval" and earliest is not None:
        reasons.insert(reasons.index("unparseable start") + 1, wording.date_before("start",
                                                                                  earliest))
    if form == "snapshot" and max_tenure is not None:
        reasons.insert(reasons.index("non-numeric tenure") + 1,
                       wording.tenure_beyond(max_tenure))
    s = t
    if form == "interval":
        s, start = parse.dates(s, "start", backend, date_format, tz, rare=rare)
        s, end = parse.dates(s, "end", backend, date_format, tz, rare=rare)
        start = start.on(s)
    cid, cid_missing = parse.id_column(s.customer_id, "customer_id",
                                       whole=whole_floats(t, "customer_id"))
    if form == "interval":
        cut = ibis.timestamp(cutoff.to_pydatetime()) if cutoff is not None else None
        after = (start.value >= cut) if cut is not None else ibis.literal(False)
        conditions = [cid_missing, start.missing, start.bad, end.bad, after,
                      end.value < start.value]
        if earliest is not None:
            conditions.insert(3, start.value < ibis.timestamp(earliest.to_pydatetime()))
        late = parse.flag(end.value >= cut) if cut is not None else ibis.literal(False)
        values = {"start": start.value, "end": ibis.ifelse(late, ibis.null("timestamp"),
                                                           end.value)}
        flags = {"s_missing": start.missing, "s_bad": start.bad, "s_aware": start.aware,
                 "s_rare": start.rare, "e_missing": end.missing, "e_bad": end.bad,
                 "e_aware": end.aware, "e_rare": end.rare, "late": late}
    else:
        tenure, t_missing, t_bad = parse.number_column(t.tenure, "tenure")
        churned, c_missing, c_unknown = parse.churn_column(t.churned, churn_values)
        conditions = [cid_missing, t_missing, t_bad, tenure < 0, c_missing, c_unknown]
        if max_tenure is not None:
            conditions.insert(3, tenure > max_tenure)
        values = {"tenure": tenure, "churned": churned}
        flags = {"t_missing": t_missing, "t_bad": t_bad, "c_missing": c_missing,
                 "c_unknown": c_unknown}
    canon = {"customer_id": cid, **values}
    typed = s.select(*[canon.get(c, s[c]).name(c) for c in t.columns],
                     __clm_cid_missing=cid_missing,
                     **{f"__clm_{k}": parse.flag(v) for k, v in flags.items()},
                     __clm_reason=first_code(conditions)).view()
    if keep is not None:
        typed = keep(typed)
    kept = typed.__clm_reason == 0
    c = counts(typed.aggregate(
        rows_in=typed.count(), cid_missing=total(typed.__clm_cid_missing),
        **{k: total(typed[f"__clm_{k}"]) for k in flags if k != "late"},
        **({"late": total(kept & typed.__clm_late)} if "late" in flags else {}),
        **{f"r{i + 1}": total(typed.__clm_reason == i + 1) for i in range(len(conditions))}))
    if form == "interval" and not rare and (c["s_rare"] or c["e_rare"]):
        return _check(source, backend=backend, name=name, columns=columns, as_of=as_of,
                      date_format=date_format, tz=tz, churn_values=churn_values,
                      options=options, keep=keep, rare=True)

    n = c["rows_in"]
    if n == 0:
        raise no_rows(what)
    if c["cid_missing"] == n:
        raise fail(typed, "customer_id", "every customer_id is missing; wrong column mapped?",
                   n, typed.__clm_cid_missing)
    if form == "interval":
        _date_errors(typed, c, "start", "s", date_format)
        if c["s_missing"] == n:
            raise fail(typed, "start", "every start date is missing; wrong column mapped?", n,
                       typed.__clm_s_missing)
        _date_errors(typed, c, "end", "e", date_format)
    else:
        if c["t_missing"] == n:
            raise fail(typed, "tenure", "every tenure is missing; wrong column mapped?", n,
                       typed.__clm_t_missing)
        if c["t_bad"] == n - c["t_missing"]:
            raise fail(typed, "tenure", "no tenure is a number", c["t_bad"], typed.__clm_t_bad)
        if c["c_missing"] < n and c["c_unknown"] == n - c["c_missing"]:
            raise fail(typed, "churned", "no churn flag is recognised; pass churn_values, e.g. "
                                         "{'Churned': True, 'Active': False}", c["c_unknown"],
                       typed.__clm_c_unknown)

    dq = DataQuality(source=name, rows_in=n)
    for i, r in enumerate(reasons[:-1]):
        dq.drop(r, c[f"r{i + 1}"])
    if form == "interval" and cutoff is not None:
        dq.warn(wording.END_AFTER_AS_OF, c["late"])
        dq.notes.append(wording.interval_as_of_note(as_of_ts))
    clean = id_spellings(typed.filter(kept).select(*t.columns), "customer_id",
                         options["id_numbers"], dq)
    out_cols = [x for x in t.columns if x != ROW]
    # An exact repeat of a kept row (once ids, dates and numbers are read) is double-recorded.
    unique = first_of_repeats(clean, out_cols).select(*t.columns)
    per = unique.group_by("customer_id").aggregate(
        n=unique.count(),
        **({"active": unique.end.isnull().cast("int64").sum()} if form == "interval"
           else {"zero": total(unique.tenure == 0)}))
    stats = counts(per.aggregate(rows=per.n.sum(), repeated=per.n.sum(where=per.n > 1),
                                 **{k: per[k].sum() for k in ("active", "zero") if k in per.columns}))
    dq.drop(reasons[-1], n - dq.n_dropped - stats["rows"])
    if form == "interval":
        dq.warn(wording.SEVERAL_SUBSCRIPTIONS, stats["repeated"])
        unique = infer_numeric(unique, set(INTERVAL_REQUIRED), dq)
        dq.notes += wording.interval_notes(stats["active"])
        dq.notes.append(wording.date_note(date_format))
        dq.notes.append(wording.tz_note(tz))
    else:
        if stats["repeated"]:
            raise fail(repeated_keys(unique, ["customer_id"]), "customer_id",
                       "the same customer appears more than once with different values "
                       "(a snapshot has one row per customer)", stats["repeated"],
                       ibis.literal(True))
        dq.warn(wording.ZERO_TENURE, stats["zero"])
        unique = infer_numeric(unique, set(SNAPSHOT_REQUIRED), dq)
        dq.notes += wording.snapshot_notes(churn_values, as_of is not None)
    dq.notes.append(wording.ONE_REASON_NOTE)
    return unique, finish(dq, what)


def _date_errors(typed, c: dict, column: str, k: str, date_format: str | None) -> None:
    """The errors of a date column where no value reads, or aware and naive text mix."""
    n = c["rows_in"]
    present = n - c[f"{k}_missing"]
    if not date_format and 0 < c[f"{k}_aware"] < present:
        raise mixed_zones(typed, column, present - c[f"{k}_aware"],
                          ~typed[f"__clm_{k}_missing"] & ~typed[f"__clm_{k}_aware"])
    if present and c[f"{k}_bad"] == present:
        raise unreadable_dates(typed, column, present, typed[f"__clm_{k}_bad"], date_format)

