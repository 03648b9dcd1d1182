"""Headline figures as numbers, and what changed since the last run.

A study's ``metrics.json`` carries ``figures``: its headline figures as numbers, built
with :func:`figure` (the ``headline`` entry holds the same figures as formatted text for
the index). The runner stores them with the run, and compares them with the last run of
the same study on the same source (:func:`changes`): percentages change by points, other
figures by their difference and their relative change.
"""
from __future__ import annotations

from collections.abc import Mapping

from clm_lib import format as fmt

__all__ = ["FIGURE_KINDS", "figure", "changes", "change_text", "value_text"]

#: How a figure is shown: a fraction shown in percent, an amount of money, a count, a plain
#: number, a multiplicative ratio.
FIGURE_KINDS = ("percent", "money", "count", "number", "ratio")


def figure(label: str, value, kind: str, *, good: str | None = None,
           churn: bool = False, basis: str | None = None) -> dict:
    """One headline figure for ``metrics["figures"]``.

    Parameters
    ----------
    label : str
        What the figure is, in words with its unit ("Churn rate, month 1 after acquisition").
    value : float
        The number (a fraction for a percentage, e.g. 0.332).
    kind : {"percent", "money", "count", "number", "ratio"}
    good : {"up", "down"}, optional
        Which direction of change is good news (None: neither).
    churn : bool
        The figure is a churn rate (a share of customers lost): the ``churn_up_points``
        alert watches it.
    basis : str, optional
        What the figure is measured on when that can differ between runs (``"k = 29"`` for
        a projection to the cohorts' last period): figures of different bases are shown
        side by side but not compared.
    """
    if kind not in FIGURE_KINDS:
        raise ValueError(f"figure kind must be one of {FIGURE_KINDS}, got {kind!r}")
    if good not in (None, "up", "down"):
        raise ValueError(f"good must be 'up', 'down' or None, got {good!r}")
    v = None if fmt.is_missing(value) else float(value)
    return {"label": str(label), "value": v, "kind": kind, "good": good, "churn": bool(churn),
            "basis": basis}


def value_text(fig: Mapping, currency: str | None = None) -> str:
    kind, v = fig.get("kind"), fig.get("value")
    if kind == "percent":
        return fmt.percent(v)
    if kind == "money":
        return fmt.money(v, currency)
    if kind == "count":
        return fmt.count(v)
    if kind == "ratio":
        return fmt.ratio(v)
    return fmt.number(v)


def changes(current: Mapping[str, Mapping], previous: Mapping[str, Mapping] | None) -> list[dict]:
    """The change of each current figure against the same figure of the previous run.

    Returns one dict per figure of ``current``: ``key``, ``label``, ``kind``, ``current``,
    ``previous`` (None when the previous run had no such figure), ``change`` (points for a
    percentage, as a fraction: 0.012 = 1.2 points; the difference otherwise), ``relative``
    (change / previous, None for percentages and zero previous values), ``direction``
    ("up", "down", "same") and ``news`` ("good", "bad" or None, from the figure's ``good``).
    """
    out = []
    previous = previous or {}
    for key, fig in current.items():
        prev = previous.get(key) or {}
        now, before = fig.get("value"), prev.get("value")
        entry = {"key": key, "label": fig.get("label", key), "kind": fig.get("kind"),
                 "current": now, "previous": before, "change": None, "relative": None,
                 "direction": None, "news": None, "churn": bool(fig.get("churn")),
                 "basis": fig.get("basis"), "previous_basis": prev.get("basis")}
        if prev and fig.get("basis") != prev.get("basis"):
            out.append(entry)  # measured on another basis then: not comparable
            continue
        if now is not None and before is not None:
            change = float(now) - float(before)
            entry["change"] = change
            if fig.get("kind") != "percent" and before:
                entry["relative"] = change / abs(float(before))
            entry["direction"] = "same" if abs(change) < 1e-12 else ("up" if change > 0 else "down")
            good = fig.get("good")
            if good and entry["direction"] != "same":
                entry["news"] = "good" if entry["direction"] == good else "bad"
        out.append(entry)
    return out


def change_text(entry: Mapping, currency: str | None = None) -> str:
    """The change in words: ``+1.2 pts``, ``−$3,120 (−1.3 %)``, ``no change``, ``new``."""
    if entry.get("previous") is None:
        return "new figure"
    if entry.get("change") is None:
        if entry.get("basis") != entry.get("previous_basis") and entry.get("previous_basis"):
            return f"not comparable (then {entry['previous_basis']}, now {entry.get('basis')})"
        return "not comparable"
    if entry.get("direction") == "same":
        return "no change"
    change = entry["change"]
    if entry.get("kind") == "percent":
        return fmt.points(change)
    sign = "+" if change > 0 else "−"
    body = value_text({"kind": entry.get("kind"), "value": abs(change)}, currency)
    rel = entry.get("relative")
    return f"{sign}{body}" + (f" ({fmt.percent(rel, signed=True)})" if rel is not None else "")
