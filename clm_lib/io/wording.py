"""The words of the data-quality record: drop reasons, warnings and notes.

Every loader writes its record with these texts, so that the same input gives the same
record on every engine (DuckDB in-process or Spark) and the reports quote one wording.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

#: Transactions drop reasons, in the order they are applied (see :func:`tx_reasons` for
#: the reasons of the plausibility checks, the cancellations and the unit-price form).
TX_REASONS = (
    "missing customer_id",
    "missing timestamp",
    "unparseable timestamp",
    "missing amount",
    "non-numeric amount",
    "timestamp after as_of",
    "negative amount (return/cancellation)",
)
DUPLICATE_ORDER = "duplicate order_id"
#: Subscription drop reasons per form, in order; the last is an exact repeat of a kept row.
SUBSCRIPTION_REASONS = {
    "interval": ("missing customer_id", "missing start", "unparseable start",
                 "unparseable end", "start after as_of", "end before start",
                 "duplicate subscription row"),
    "snapshot": ("missing customer_id", "missing tenure", "non-numeric tenure",
                 "negative tenure", "missing churn flag", "unrecognised churn flag",
                 "duplicate customer row"),
}
#: Leads drop reasons, in order; the last is an exact repeat of a kept row.
LEAD_REASONS = ("missing lead_id", "missing created", "unparseable created",
                "unparseable converted", "created after as_of", "converted before created",
                "duplicate lead row")

# warnings: kept rows that deserve attention
IDENTICAL_ROWS = "identical rows kept (no order_id to tell duplicates)"
MISSING_QUANTITY = "missing quantity (kept, value NaN)"
BAD_QUANTITY = "non-numeric quantity (kept, value NaN)"
ZERO_AMOUNT = "zero amount (kept as purchase, not a spend observation)"
NEGATIVE_KEPT = "negative amount kept (return/cancellation, nets against spend)"
END_AFTER_AS_OF = "end after as_of (treated as active at as_of, censored)"
SEVERAL_SUBSCRIPTIONS = "customer with more than one subscription (each kept as its own spell)"
ZERO_TENURE = "zero tenure (kept; no time at risk yet)"
CONVERTED_AFTER_AS_OF = "converted after as_of (treated as not converted yet)"


ORDER_TIMES = "lines of one order with different timestamps (order dated at its earliest line)"
ORDER_CUSTOMERS = "lines of one order have different customer ids"


def blank_numeric(column: str) -> str:
    return f"blank values in numeric column '{column}' (kept, value NaN)"


# notes: the policies applied
ONE_REASON_NOTE = "Each row was dropped for at most one reason (the first that applied)."
NO_ORDER_ID_NOTE = ("Duplicates: without an order id, identical rows cannot be told apart "
                    "from two identical purchases, so they were kept (counted under warnings).")
LEADS_CENSORED_NOTE = "Leads without a conversion date are not converted (censored at as_of)."


def when(as_of_ts: pd.Timestamp) -> str:
    """``as_of`` as the notes write it."""
    if as_of_ts == as_of_ts.normalize():
        return f"{as_of_ts:%Y-%m-%d} (that whole day included)"
    return f"{as_of_ts:%Y-%m-%d %H:%M:%S}"


def tz_note(tz: str | None) -> str:
    if tz:
        return (f"Time zone: time-zone-aware timestamps were converted to {tz}; naive "
                f"timestamps were taken as {tz} wall-clock time; times are shown without zone.")
    return ("Time zone: time-zone-aware timestamps were converted to UTC; naive timestamps "
            "were kept as they are; times are shown without zone.")


def date_note(date_format: str | None) -> str:
    if date_format:
        return f"Dates were read with the format {date_format!r}."
    return "Dates were read as ISO 8601 (year-month-day)."


def tx_reasons(*, unit_price: bool, earliest: pd.Timestamp | None, max_amount: float,
               cancellation_prefix: str | None) -> tuple[str, ...]:
    """The transactions drop reasons, in the order they are applied: those of
    :data:`TX_REASONS`, a timestamp before ``earliest`` after the unparseable ones, an
    amount beyond ``max_amount`` after the non-numeric ones, cancellations before the
    negative amounts; with ``unit_price`` (the amount is quantity times unit price), the
    two amount reasons are named for the two columns."""
    r = list(TX_REASONS)
    if unit_price:
        r[3:5] = ["missing quantity", "non-numeric quantity", "missing unit_price",
                  "non-numeric unit_price"]
    at = r.index("non-numeric amount" if not unit_price else "non-numeric unit_price") + 1
    r.insert(at, amount_beyond(max_amount))
    if earliest is not None:
        r.insert(r.index("unparseable timestamp") + 1, date_before("timestamp", earliest))
    if cancellation_prefix is not None:
        r.insert(r.index("negative amount (return/cancellation)"),
                 cancellation(cancellation_prefix))
    return tuple(r)


def date_before(column: str, earliest: pd.Timestamp) -> str:
    return f"{column} before {earliest:%Y-%m-%d} (earliest_date)"


def limit(x: float) -> str:
    """A limit as the reasons write it: ``1e9``, ``1200``, ``2.5e10``."""
    return f"{x:g}".replace("e+0", "e").replace("e+", "e")


def amount_beyond(max_amount: float) -> str:
    return f"amount beyond the plausible range (|amount| > {limit(max_amount)})"


def tenure_beyond(max_tenure: float) -> str:
    return f"tenure beyond the plausible range (tenure > {limit(max_tenure)})"


def cancellation(prefix: str) -> str:
    return f"cancellation (order id starts with {prefix!r})"


def cancellation_note(prefix: str, negative_amounts: str) -> str:
    return (f"Cancellations: lines whose order id starts with {prefix!r} are cancellations "
            "or returns; " + {"drop": "dropped and counted, whatever their sign.",
                              "net": "kept, with their amount negative (they net against "
                                     "spend).",
                              }.get(negative_amounts, "not allowed (none found)."))


ORDER_LINES_NOTE = (
    "Order lines: rows sharing an order_id are the lines of one order, one row of the clean "
    "table: amounts (and quantities) summed, the number of lines in 'lines', the order "
    "dated at its earliest line; product and unit_price are not kept at order level, other "
    "columns are the first line's. Rows without an order id are one order each. A line "
    "repeating an earlier line exactly was dropped as double-recorded (duplicate order_id); "
    "lines of one order with different customer ids would have been an error.")


def orders_note(lines: int, orders: int) -> str:
    return f"{lines:,} lines form {orders:,} orders."


def id_numbers_warning(column: str, policy: str) -> str:
    if policy == "merge":
        return f"{column} merged into the most frequent spelling of the same number"
    return f"{column} spelled as the same number as another id (e.g. 1 and 1.0; kept apart)"


def spelling_kinds(pairs: list[tuple[str, str]]) -> str:
    """How pairs of spellings of one number differ, in words, without quoting them (raw
    ids never reach a record or a report): "a decimal part (1 and 1.0)", "leading zeros
    (007 and 7)", "a sign (+5 and 5)"."""
    kinds = []
    for a, b in pairs:
        if "." in a or "." in b:
            kinds.append("a decimal part (as in 1 and 1.0)")
        if any(x.lstrip("+-").startswith("0") and len(x.lstrip("+-")) > 1 for x in (a, b)):
            kinds.append("leading zeros (as in 007 and 7)")
        if any(x[:1] in "+-" for x in (a, b)):
            kinds.append("a sign (as in +5 and 5)")
    return " or ".join(dict.fromkeys(kinds)) or "their spelling"


def id_numbers_note(column: str, policy: str, n_ids: int, examples: list[tuple[str, str]]
                    ) -> str:
    """``examples``: pairs of spellings of one number (``"merge"``: from, to); only how
    they differ is said (:func:`spelling_kinds`), never the ids themselves."""
    many = "s" if n_ids != 1 else ""
    how = spelling_kinds(examples)
    if policy == "merge":
        return (f"Ids that differ only as numbers: {n_ids:,} spelling{many} of {column} "
                f"merged into the most frequent spelling of the same number, ties to the "
                f"first in sort order (they differed by {how}).")
    return (f"Ids that differ only as numbers: {n_ids:,} value{many} of {column} spell the "
            f"same number as another, differing by {how}; kept apart (id_numbers='warn'); "
            "pass id_numbers='merge' to merge them or 'error' to refuse them.")


def amount_notes(negative_amounts: str, n_zero: int) -> list[str]:
    """What happened to zero and negative amounts (``negative_amounts`` policy)."""
    notes = []
    if n_zero:
        notes.append("Zero amounts: kept as purchases (they count for frequency and "
                     "retention) but are not spend observations.")
    notes.append({
        "drop": "Negative amounts (returns/cancellations): dropped and counted.",
        "net": "Negative amounts (returns/cancellations): kept as negative rows; spend "
               "totals net them against purchases.",
    }.get(negative_amounts, "Negative amounts: not allowed (none found)."))
    return notes


def tx_as_of_note(as_of_ts: pd.Timestamp) -> str:
    return f"Observation end (as_of): {when(as_of_ts)}; later rows dropped."


def interval_notes(n_active: int) -> list[str]:
    return [f"Form: intervals (start, end); an empty end means active "
            f"({n_active} active, censored at as_of in durations).",
            "Identical rows were dropped as double-recorded; a customer may hold "
            "several subscriptions, each kept as its own spell."]


def interval_as_of_note(as_of_ts: pd.Timestamp) -> str:
    return (f"Observation end (as_of): {when(as_of_ts)}; subscriptions starting later were "
            "dropped, ends after it count as still active.")


def snapshot_notes(churn_values: Mapping[Any, bool] | None, as_of_given: bool) -> list[str]:
    notes = ["Form: snapshot (tenure, churned); tenure is in the periods of the data "
             "(e.g. months for Telco).",
             "Churn flags read as " + ("given by churn_values." if churn_values is not None
                                       else "yes/no, true/false, y/n, t/f or 1/0 (any case)."),
             "Identical repeated rows were dropped as double-recorded; a customer repeated "
             "with different values would have been an error."]
    if as_of_given:
        notes.append("as_of is not used by the snapshot form (tenure is already measured).")
    return notes


def leads_as_of_note(as_of_ts: pd.Timestamp) -> str:
    return (f"Observation end (as_of): {when(as_of_ts)}; leads created later "
            "dropped, later conversions treated as not converted yet.")


def ends_after_last_start_note(n: int, as_of) -> str:
    """The note of a study whose ``as_of`` came from interval subscriptions with ``n``
    ends after the last start (:func:`clm_lib.reduce.customers.ends_after_last_start`)."""
    return (f"Observation end {pd.Timestamp(as_of):%Y-%m-%d} is the last start or end date in "
            f"the data, and {n:,} subscription{'s end' if n != 1 else ' ends'} after the last "
            "start: if those are scheduled ends rather than ends that happened, they are "
            "counted as churn here; set as_of to the date the data were extracted.")
