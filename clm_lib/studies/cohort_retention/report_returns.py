"""Views of return retention (:mod:`.returns`) for the cohort-retention report: the matrix
of one rule, the comparison of the rules' average curves, and a sentence reading it.

Like :mod:`.report`, every function returns values (a :class:`~.report.DisplayTable` or a
plain string); the notebook shows them with the escaping helpers of
:mod:`clm_lib.reporting` (``view.show()``), never as HTML or Markdown.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib import format as fmt
from clm_lib.reduce.returns import CALENDAR
from clm_lib.studies.cohort_retention.report import DisplayTable
from clm_lib.studies.cohort_retention.returns import COMPARISON, ReturnTable

__all__ = ["COMPARISON_NAMES", "comparison_sentence", "comparison_table", "return_matrix_table",
           "window_headings"]

#: Readers' names of the :data:`~.returns.COMPARISON` variants (``{unit}``: the period).
COMPARISON_NAMES = {
    "first": "after the first purchase",
    "recurring": "after any active {unit} (recurring)",
    "previous": "of those back the {unit} before",
    "min_purchases_2": "with at least 2 purchase days",
}


def _pct(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else fmt.percent(x)


def window_headings(table: ReturnTable) -> list[str]:
    """Column headings with their unit: ``"month 1"`` (calendar windows: the ``k``-th
    period after the cohort's), ``"days 8–30"`` (days since the start day)."""
    if table.rule["window_kind"] == CALENDAR:
        return [f"{table.cohort_period} {k}" for k in table.windows.index]
    return list(table.windows["label"])


def return_matrix_table(table: ReturnTable) -> DisplayTable:
    """The rates of one rule as % (cohorts as rows, windows as columns), the starts per
    cohort as the first column; the caption says the rule in words and what a blank
    cell means."""
    labels = list(table.windows["label"])
    rates = table.rates.set_axis(labels, axis=1)
    size = str(table.sizes.name)
    frame = pd.concat([table.sizes.rename(size), rates], axis=1)
    frame.index.name = "cohort"
    # the rule text of base "previous" says already what the share is of
    base = " (% of the cohort's starts)" if table.rule["base"] == "cohort" else " (%)"
    caption = (f"{table.rule_text}{base}. Blank: the window is not complete for every "
               f"customer of the cohort by {table.as_of.date().isoformat()}.")
    formats = {size: "count", **{c: "percent" for c in labels}}
    rename = {"cohort": f"cohort ({table.cohort_period})", size: size,
              **dict(zip(labels, window_headings(table)))}
    return DisplayTable(frame, caption, formats, rename)


def _averages(comparison: dict[str, ReturnTable]) -> pd.DataFrame:
    return pd.DataFrame({name: comparison[name].average()["retention"]
                         for name in COMPARISON if name in comparison})


def comparison_table(comparison: dict[str, ReturnTable]) -> DisplayTable:
    """Average retention by k (pooled over the cohorts observable at k) under the rules
    of :func:`~.returns.return_comparison`: one row per k, one column per rule, and the
    number of cohorts pooled."""
    first = comparison["first"]
    u = first.cohort_period
    avg = _averages(comparison)
    pooled = first.average()["cohorts"]
    frame = avg.assign(cohorts=pooled).loc[pooled > 0]
    frame.index.name = "k"
    rename = {"k": f"k ({u}s after the start)",
              **{n: COMPARISON_NAMES[n].format(unit=u) for n in avg.columns},
              "cohorts": "cohorts pooled"}
    caption = (f"Average retention by {u} under four return rules (customers who bought in "
               f"the k-th {u} after the start, pooled over the cohorts observable at k): the "
               f"start is the first purchase, or any {u} with a purchase; relative to the "
               f"cohort, or to those back the {u} before; at least one purchase day, or two.")
    return DisplayTable(frame, caption, {**{n: "percent" for n in avg.columns},
                                         "cohorts": "count"}, rename)


def comparison_sentence(comparison: dict[str, ReturnTable]) -> str:
    """One plain-language sentence reading :func:`comparison_table` at ``k = 1`` (and the
    relative-to-previous rate at ``k = 2``)."""
    first = comparison["first"]
    u = first.cohort_period
    avg = _averages(comparison)

    def at(name, k):
        return float(avg[name].get(k, np.nan)) if name in avg else np.nan

    if not np.isfinite(at("first", 1)):
        return (f"No cohort has a complete {u} after its first {u} by "
                f"{first.as_of.date().isoformat()}, so returns cannot be measured yet.")
    text = (f"In the {u} after their first purchase, {_pct(at('first', 1))} of new customers "
            f"bought again ({_pct(at('min_purchases_2', 1))} on at least 2 days)")
    if np.isfinite(at("recurring", 1)):
        text += (f"; of customers active in any {u}, {_pct(at('recurring', 1))} bought again "
                 f"the next {u}")
    if np.isfinite(at("previous", 2)):
        text += (f"; of new customers back in the {u} after the first, "
                 f"{_pct(at('previous', 2))} came back the {u} after that too")
    return text + "."
