"""The rules of the lifecycle report (re-exported by :mod:`.report`): the stage thresholds
and where they come from, the stage and segment rules and the score cut-offs, in words."""
from __future__ import annotations

import pandas as pd

from clm_lib import format as fmt

from clm_lib.studies.lifecycle_segments.report_actions import ACTION_TEXT
from clm_lib.studies.lifecycle_segments.rfm import SEGMENT_ACTIONS, recency_cuts
from clm_lib.studies.lifecycle_segments.stages import Thresholds

__all__ = ["SEGMENT_RULES", "STAGE_RULES", "threshold_sources", "thresholds_dict",
           "thresholds_table", "rule_table", "score_rules_note"]

#: (segment, rule in words), in the order :func:`~.rfm.assign_segments` evaluates them.
SEGMENT_RULES = (
    ("new", "first purchase within the new threshold (the stage 'new')"),
    ("champions", "R ≥ 4 and F ≥ 4"),
    ("loyal", "R ≥ 4 and F = 3"),
    ("potential loyalists", "R ≥ 4 and F ≤ 2"),
    ("can't lose", "R = 2–3 and F ≥ 4 and M ≥ 4"),
    ("at risk", "R = 3"),
    ("hibernating", "R = 2"),
    ("lost", "R = 1"),
)

#: The stage rules in words (first match wins).
STAGE_RULES = (
    "Stage rules, first match wins: **lapsed** no purchase for more than the lapsed threshold; "
    "**new** first purchase within the new threshold; **reactivated** bought again after a gap "
    "longer than the lapsed threshold, within the new threshold; **at risk** no purchase for "
    "more than the at-risk threshold; **loyal/VIP** 2+ purchase days with purchase days and "
    "spend both in the top 20 % of repeat customers; **active repeat** 2+ purchase days; "
    "**one-time buyer** the rest.")

NO_LEADS = ("needs the `leads` parameter: a leads table (lead_id, created, source, converted); "
            "reach and conversion cannot be measured from a transaction log")


# ---- thresholds and rules ----------------------------------------------------------------
def threshold_sources(th: Thresholds) -> dict:
    """Where each threshold comes from, in words ("parameter" or the gap quantile)."""
    out = {}
    for name in ("new_days", "at_risk_days", "lapsed_days"):
        q = th.quantiles.get(name)
        out[name] = ("parameter" if q is None
                     else f"{fmt.percent(q, 0)} quantile of {fmt.count(th.n_gaps)} inter-purchase gaps")
    if th.capped:
        out["at_risk_days"] += f", capped at lapsed_days ({th.lapsed_days})"
    return out


def thresholds_dict(th: Thresholds) -> dict:
    """The thresholds for ``metrics.json``."""
    return {"new_days": th.new_days, "at_risk_days": th.at_risk_days,
            "lapsed_days": th.lapsed_days, "vip_quantile": th.vip_quantile,
            "source": threshold_sources(th)}


def thresholds_table(th: Thresholds) -> pd.DataFrame:
    """Display table: threshold, days, origin."""
    src = threshold_sources(th)
    rows = [("new: first purchase within", f"{th.new_days} days", src["new_days"]),
            ("at risk: no purchase for more than", f"{th.at_risk_days} days", src["at_risk_days"]),
            ("lapsed: no purchase for more than", f"{th.lapsed_days} days", src["lapsed_days"]),
            ("reactivated: bought again after lapsing, within", f"{th.new_days} days",
             "same as new"),
            ("loyal/VIP: purchase days and spend both in the top", fmt.percent(1 - th.vip_quantile, 0),
             "of repeat customers (parameter)")]
    return pd.DataFrame(rows, columns=["rule", "threshold", "origin"]).set_index("rule")


def rule_table() -> pd.DataFrame:
    """The segment rules and playbook as a display table: the action at or above the
    action value and the one below it."""
    rows = [(s, r, ACTION_TEXT[SEGMENT_ACTIONS[s][0]],
             ACTION_TEXT[SEGMENT_ACTIONS[s][1]] if SEGMENT_ACTIONS[s][1] != SEGMENT_ACTIONS[s][0]
             else "(same)") for s, r in SEGMENT_RULES]
    return pd.DataFrame(rows, columns=["segment", "rule (scores 1–5)",
                                       "action, expected value ≥ action value",
                                       "action, below it"]).set_index("segment")


def score_rules_note(th: Thresholds) -> str:
    """How the R, F and M scores are given, with the recency cut-offs in days."""
    c5, c4, c3, c2 = recency_cuts(th)
    return (f"**Scores.** R (recency) on the stage thresholds, in days since the last purchase: "
            f"5 = within {c5} days, 4 = within {c4} (active), 3 = within {c3} (at risk), "
            f"2 = within {c2} (lapsed), 1 = longer ago (lapsed more than twice the lapsed "
            "threshold). So R means the same number of days whatever the rest of the base does, "
            "and a lapsed customer can never be a champion. F (purchase days) and M (spend to "
            "date) are quantile groups of the distinct values: score k ends at the first value "
            "where the cumulative share of customers reaches k/5, tied customers share a score and "
            "every score is used when there are five distinct values (the table below gives the "
            "values behind each score).")
