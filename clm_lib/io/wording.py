"""The words of the data-quality record: drop reasons, warnings and notes.

Every loader writes its record with these texts, so that the same input gives the same
record on every engine (DuckDB in-process or Spark) and the reports quote one wording.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

#: Transactions drop reasons, in the order they are applied.
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


def order_duplicates_note(key: list[str]) -> str:
    return ("Duplicates: rows repeating an earlier row with the same "
            f"{' and '.join(key)} were dropped as double-recorded; "
            "a repeated order id with different values would have been an error.")


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
