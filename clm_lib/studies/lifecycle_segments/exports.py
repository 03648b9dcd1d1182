"""The CRM exports of the lifecycle study (re-exported by :mod:`.report`): one row per
customer with the real id in ``customer_id``, the transition matrix, the segment table and
the actions table, each with its data dictionary (:class:`~clm_lib.reporting.Column`)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib.reporting import ID_COLUMN, Column
from clm_lib.studies.lifecycle_segments.report_actions import ACTION_TEXT, PLAYBOOK
from clm_lib.studies.lifecycle_segments.stages import STAGES

__all__ = ["customer_export", "transitions_export", "segments_export", "actions_export",
           "export_columns"]

#: Money is rounded to cents, probabilities and shares to four decimals.
MONEY, SHARE = 2, 4


def customer_export(study) -> pd.DataFrame:
    """CRM export: the customer's real id (``customer_id``), stage, R/F/M scores, segment,
    CLV, P(alive), action (key) and recommended action in words, which depends on the
    segment and on the customer's expected value; highest expected value first."""
    r = study.rfm
    v = (study.values.reindex(r.index) if study.values is not None
         else pd.DataFrame({"clv": np.nan, "p_alive": np.nan}, index=r.index))
    ids = pd.Series(r.index, dtype="string").to_numpy(dtype=str)
    out = pd.DataFrame({
        ID_COLUMN: ids.astype(object),
        "stage": study.stages["stage"].reindex(r.index).astype(str).to_numpy(),
        "recency_days": r["recency_days"].to_numpy(), "frequency": r["frequency"].to_numpy(),
        "monetary": r["monetary"].to_numpy(), "R": r["R"].to_numpy(), "F": r["F"].to_numpy(),
        "M": r["M"].to_numpy(), "segment": r["segment"].astype(str).to_numpy(),
        "clv": v["clv"].to_numpy(), "p_alive": v["p_alive"].to_numpy(),
        "action": r["action"].astype(str).to_numpy(),
        "recommended_action": r["action"].astype(str).map(ACTION_TEXT).astype(object).to_numpy(),
    })
    if "segment_value" in r:
        out["customer_segment"] = r["segment_value"].astype("string").to_numpy()
    # highest value first, ties by id; NaN last (np.lexsort on fixed-width text is several
    # times faster than a DataFrame sort on an object column of a million ids)
    order = np.lexsort((ids, -out["clv"].to_numpy(dtype=float)))
    return out.take(order).reset_index(drop=True)


def transitions_export(study) -> pd.DataFrame:
    """The transition matrix with its ``from`` column."""
    return study.transitions.reset_index()


def actions_export(study) -> pd.DataFrame:
    """Customers and expected value at stake per action, with the action in words and the
    action value used."""
    t = study.actions.assign(recommended_action=[ACTION_TEXT[a] for a in study.actions.index],
                             action_value=study.action_value)
    t.index = t.index.astype(str)
    return t.reset_index()


def segments_export(study) -> pd.DataFrame:
    """The segment table with the recommended action(s) of each segment and the action
    value (currency) that splits them."""
    t = study.segments.assign(action=[PLAYBOOK[s] for s in study.segments.index],
                              action_value=study.action_value)
    return t.reset_index()


def export_columns(df: pd.DataFrame, study, currency: str | None = None) -> dict[str, Column]:
    """The data dictionary of one of the exports above: a :class:`Column` (meaning, unit,
    digits) for each column of ``df``; ``KeyError`` for a column it does not know."""
    money = currency or "currency of the amounts"
    value = (f"expected {study.value_basis} over the next {study.horizon} {study.time_unit}s, "
             f"discounted at the annual discount rate")
    cols = {
        ID_COLUMN: Column("customer id as in the transactions"),
        "stage": Column(f"lifecycle stage at {study.as_of} (first matching stage rule)"),
        "recency_days": Column(f"days from the last purchase day to {study.as_of}", "days"),
        "frequency": Column(f"purchase days up to {study.as_of}", "purchase days"),
        "monetary": Column(f"spend up to {study.as_of}", money, MONEY),
        "R": Column("recency score (5 = most recent), on the stage thresholds", "score 1-5"),
        "F": Column("frequency score (5 = most purchase days), quantile groups", "score 1-5"),
        "M": Column("monetary score (5 = highest spend), quantile groups", "score 1-5"),
        "segment": Column("RFM segment (first matching segment rule)"),
        "clv": Column(f"customer lifetime value: {value}", money, MONEY),
        "p_alive": Column(f"probability the customer is still active at {study.as_of} "
                          "(purchase model)", "probability (0-1)", SHARE),
        "action": Column("recommended action (key)"),
        "recommended_action": Column("recommended action in words"),
        "customer_segment": Column(f"value of the column '{study.segment}' at the customer's "
                                   "first purchase"),
        "from": Column(f"stage at {study.flow_start} (rows of the transition matrix)"),
        "customers": Column("customers", "customers"),
        "customer_share": Column("share of all customers", "fraction (0-1)", SHARE),
        "revenue": Column(f"spend to date of the segment's customers, up to {study.as_of}", money, MONEY),
        "revenue_share": Column("share of all spend to date", "fraction (0-1)", SHARE),
        "clv_share": Column("share of the customers' total expected value", "fraction (0-1)", SHARE),
        "mean_recency_days": Column(f"mean days from the last purchase day to {study.as_of}", "days", 1),
        "mean_frequency": Column("mean purchase days per customer", "purchase days", 2),
        "mean_p_alive": Column("mean P(alive) of the customers", "probability (0-1)", SHARE),
        "mean_clv": Column(f"mean per customer of the {value}", money, MONEY),
        "min_clv": Column(f"lowest customer {value}", money, MONEY),
        "max_clv": Column(f"highest customer {value}", money, MONEY),
        "action_value": Column("expected value per customer from which a call or an offer is "
                               "recommended (empty: no customer values)", money, MONEY),
    }
    if "from" in df.columns:
        for st in STAGES:
            cols[st] = Column(f"customers in stage '{st}' at {study.as_of}", "customers")
    if "segment" in df.columns and "customers" in df.columns:
        cols["clv"] = Column(f"the segment's total {value}", money, MONEY)
        cols["action"] = Column("recommended action(s) of the segment in words")
    if "action" in df.columns and "customers" in df.columns and "segment" not in df.columns:
        cols["clv"] = Column(f"the action's customers' total {value}", money, MONEY)
    return {c: cols[c] for c in df.columns}
