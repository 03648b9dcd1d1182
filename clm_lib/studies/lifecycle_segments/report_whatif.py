"""The what-if sentences of the lifecycle report (re-exported by :mod:`.report`): the two
readings of "x points less churn", which one is shown, and what the intervals cover."""
from __future__ import annotations

import pandas as pd

__all__ = ["WHAT_IF_ASSUMPTIONS", "what_if_note", "what_if_line"]


#: The two readings of "x points less churn", in words.
WHAT_IF_ASSUMPTIONS = {
    "absolute": "every active customer's own dropout probability cut by x points",
    "proportional": "the mean dropout cut by x points with a + b fixed, which cuts every "
                    "customer's dropout by about the same relative amount",
}


def _why_different(table: pd.DataFrame) -> str:
    """Why the absolute cut gains more than the proportional one (when it does, at the
    smallest point both can compute)."""
    if not {"value_change_absolute", "value_change_proportional"} <= set(table.columns):
        return ""
    both = table.loc[table.index > 0, ["value_change_absolute", "value_change_proportional"]].dropna()
    if not len(both) or both.iloc[0, 0] <= both.iloc[0, 1]:
        return ""
    return (" Here the absolute cut gains more: the customers who hold most of the value have "
            "low dropout probabilities, which a proportional cut barely moves.")


def what_if_note(table: pd.DataFrame, time_unit: str, value_basis: str = "margin") -> str:
    """Plain-language statement of the what-if assumptions, which one is shown, and what
    the intervals cover."""
    at = table.attrs
    p0 = at.get("baseline_mean_dropout", float("nan"))
    shown = at.get("shown", "absolute")
    other = "proportional" if shown == "absolute" else "absolute"
    rel = 1 / (100 * p0) if p0 > 0 else float("nan")
    interval = (f"Intervals: {at.get('level', 0.9):.0%} intervals for the uncertainty of the "
                "estimated parameters of both models (delta method on their estimated covariance); "
                "they cover parameter uncertainty only, not the chance in future purchases, and not "
                "whether the assumption itself holds."
                if at.get("intervals") else
                "No intervals: " + (at.get("interval_error") or "not asked for") + ".")
    return (f"Churn = the {at.get('model', 'purchase model')} probability that a customer stops "
            f"after a purchase (fitted mean {p0:.1%}). 'x points less churn' can be read two ways, "
            f"and the two give very different values: **{shown}** (shown first and in the decision box): "
            f"{WHAT_IF_ASSUMPTIONS[shown]}; **{other}**: {WHAT_IF_ASSUMPTIONS[other]}"
            f" ({rel:.1%} per point at this mean).{_why_different(table)} Everything else is kept "
            "fixed: purchase rates, spend "
            f"per purchase, which customers are alive today. Value is discounted {value_basis} over the next "
            f"{at.get('horizon')} {time_unit}s from today's customers only (no new customers); the "
            f"gain would be lower if the retention effort has a cost. {interval}")


def _interval(w, x, col, fmt) -> str:
    lo, hi = w.get(f"{col}_lower"), w.get(f"{col}_upper")
    if lo is None or pd.isna(lo.loc[x]):
        return ""
    return f", {w.attrs.get('level', 0.9):.0%} parameter interval {fmt(lo.loc[x])} to {fmt(hi.loc[x])}"


def what_if_line(study, currency: str = "$") -> str:
    """The smallest churn reduction under the shown assumption, with its interval, and the
    same under the other assumption."""
    w = study.what_if
    x = w.loc[(w.index > 0) & w["value"].notna()].index[0]
    shown = w.attrs["shown"]
    other = "proportional" if shown == "absolute" else "absolute"
    pts = f"{x:g} point{'s' if x != 1 else ''}"
    how = ("each active customer's dropout probability" if shown == "absolute"
           else "the mean dropout probability (every customer's by the same relative amount)")
    pct = lambda v: f"{v:+.2%}"   # noqa: E731
    line = (f"What-if: lowering {how} by {pts} ({shown} cut; mean dropout after a purchase "
            f"{w.attrs['baseline_mean_dropout']:.1%} → {w.loc[x, 'mean_dropout']:.1%}) would add "
            f"{currency or ''}{w.loc[x, 'value_change']:,.0f} ({pct(w.loc[x, 'value_change_pct'])}"
            f"{_interval(w, x, 'value_change_pct', pct)}) of discounted {study.value_basis} over "
            f"{study.horizon} {study.time_unit}s")
    o = w.loc[x, f"value_change_pct_{other}"]
    if pd.notna(o):
        line += (f"; read as a {other} cut ({WHAT_IF_ASSUMPTIONS[other]}) the same {pts} would add "
                 f"{pct(o)}{_interval(w, x, f'value_change_pct_{other}', pct)}")
    return line + "."
