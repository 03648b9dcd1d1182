"""The data-quality record every loader returns and every report shows.

Invariant: ``rows_in == rows_used + sum(dropped.values())``; :meth:`DataQuality.check`
asserts it and every loader calls it before returning.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class DataQuality:
    """What happened to the rows of one input table.

    Attributes
    ----------
    source : str
        A short description of the input (file name, not a full path).
    rows_in : int
        Rows read.
    rows_used : int
        Rows kept for analysis.
    dropped : dict[str, int]
        Rows dropped, by reason (e.g. ``"missing customer_id"``).
    warnings : dict[str, int]
        Conditions that were kept but deserve attention, with the number of rows concerned.
    notes : list[str]
        Policies applied (e.g. how negative amounts were treated), in plain language.
    orders : int or None
        Transactions with an ``order_id``: the number of orders (rows of the clean table)
        that the ``rows_used`` lines form; None when the data have no ``order_id`` (each
        row is then a purchase). ``rows_in``, ``rows_used`` and ``dropped`` count lines.
    """

    source: str = ""
    rows_in: int = 0
    rows_used: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    orders: int | None = None

    def drop(self, reason: str, n: int) -> None:
        """Record ``n`` rows dropped for ``reason`` (no-op for ``n == 0``)."""
        if n:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(n)

    def warn(self, reason: str, n: int) -> None:
        """Record ``n`` rows kept despite ``reason`` (no-op for ``n == 0``)."""
        if n:
            self.warnings[reason] = self.warnings.get(reason, 0) + int(n)

    @property
    def n_dropped(self) -> int:
        return int(sum(self.dropped.values()))

    def check(self) -> "DataQuality":
        """Assert that no row was lost without a count; returns ``self``."""
        if self.rows_in != self.rows_used + self.n_dropped:
            raise AssertionError(
                f"data-quality invariant broken for {self.source!r}: rows_in={self.rows_in} "
                f"!= rows_used={self.rows_used} + dropped={self.n_dropped}"
            )
        return self

    def to_dict(self) -> dict:
        """JSON-ready form: ``{"source", "rows_in", "rows_used", "dropped", "warnings",
        "notes"}``, and ``"orders"`` when the data have order ids (a record without them
        reads as before)."""
        out = {
            "source": self.source,
            "rows_in": int(self.rows_in),
            "rows_used": int(self.rows_used),
            "dropped": {k: int(v) for k, v in self.dropped.items()},
            "warnings": {k: int(v) for k, v in self.warnings.items()},
            "notes": list(self.notes),
        }
        if self.orders is not None:
            out["orders"] = int(self.orders)
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per line of the record: kind, reason, rows."""
        rows = [("read", "rows in the input", self.rows_in),
                ("used", "rows used in the analysis", self.rows_used)]
        rows += [("dropped", r, n) for r, n in self.dropped.items()]
        rows += [("kept, with a warning", r, n) for r, n in self.warnings.items()]
        return pd.DataFrame(rows, columns=["kind", "reason", "rows"])

    def _repr_html_(self) -> str:
        # the reports' own table and escaping helper (imported here: io is below reporting)
        from clm_lib.reporting import escape, source_label, table_html

        title = f"<p><strong>Data quality: {escape(source_label(self.source))}</strong></p>"
        table = table_html(self.to_frame(), index=False, formats={"rows": "count"},
                           rename={"kind": "What", "reason": "Reason", "rows": "Rows"},
                           sortable=False)
        notes = "".join(f"<li>{escape(n)}</li>" for n in self.notes)
        return title + table + (f"<ul>{notes}</ul>" if notes else "")
