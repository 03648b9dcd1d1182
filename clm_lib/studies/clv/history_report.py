"""The words, tables and metrics of the CLV report's run-history sections: the track record
of earlier runs' forecasts (:func:`clm_lib.studies.clv.track.track_record`), the
customer-equity bridge (:func:`clm_lib.studies.clv.bridge.equity_bridge`) and the numeric
headline figures (``metrics["figures"]``).

Each ``*_table`` returns the keyword arguments of :func:`clm_lib.reporting.show_table`
or None when there is nothing to show.
"""
from __future__ import annotations

import pandas as pd

from clm_lib import format as fmt
from clm_lib.history import figure, summary
from clm_lib.studies.clv.bridge import PARTS, EquityBridge
from clm_lib.studies.clv.compute import ClvStudy
from clm_lib.studies.clv.track import TrackRecord

__all__ = ["track_table", "track_sentence", "track_metrics", "bridge_table",
           "bridge_sentence", "bridge_metrics", "figures", "history_metrics"]

_FORECASTS = {"purchases": "Repeat purchases", "value": "Value (spend x margin, undiscounted)"}


def _amount(name: str, x, currency) -> str:
    return fmt.money(x, currency) if name == "value" else fmt.count(x)


def track_table(tr: TrackRecord, currency: str | None = "$") -> dict | None:
    """One row per earlier run and forecast: as-of date, window, predicted with its
    predictive interval, actual, relative error, inside, and for purchases the
    per-customer mean absolute error (None when nothing was scored)."""
    if not tr.entries:
        return None
    rows = []
    for e in tr.entries:
        n = e["name"]
        interval = (fmt.MISSING if e.get("lower") is None else
                    f"{_amount(n, e['lower'], currency)} – {_amount(n, e['upper'], currency)}")
        inside = {True: "yes", False: "no", None: fmt.MISSING}[e.get("inside")]
        cust = e.get("customers") or {}
        rows.append({
            "as_of": e["as_of"], "forecast": _FORECASTS.get(n, n),
            "window": f"{e['step']:g} {e['unit']}s to {e['window'][1]}",
            "predicted": _amount(n, e["predicted"], currency), "interval": interval,
            "actual": _amount(n, e["actual"], currency),
            "error": fmt.percent(e.get("error"), 1, signed=True), "inside": inside,
            "mae": fmt.MISSING if not cust else fmt.number(cust["mae"], 2),
        })
    level = next((e["level"] for e in tr.entries if e.get("level") is not None), None)
    lv = fmt.percent(level, 0) if level is not None else ""
    df = pd.DataFrame(rows).set_index("as_of")
    return {"df": df, "index": True,
            "caption": "Earlier forecasts of this study on the same data, scored on the current data",
            "rename": {"as_of": "Forecast made as of", "forecast": "Forecast",
                       "window": "Window", "predicted": "Predicted",
                       "interval": f"{lv} interval".strip(), "actual": "Actual",
                       "error": "Error", "inside": "Inside",
                       "mae": "Error per customer (purchases)"}}


def track_sentence(tr: TrackRecord, study: ClvStudy) -> str:
    """The track record in one or two plain sentences ("" when nothing was scored)."""
    pur = [e for e in tr.entries if e["name"] == "purchases"]
    if not pur:
        return ""
    last = pur[-1]
    way = "over-predicted" if (last.get("error") or 0) > 0 else "under-predicted"
    text = (f"The repeat purchases forecast of the run as of {last['as_of']} {way} the "
            f"{last['step']:g} {last['unit']}s to {last['window'][1]} by "
            f"{fmt.percent(abs(last['error']), 1) if last.get('error') is not None else fmt.MISSING} "
            f"({fmt.count(last['predicted'])} expected, {fmt.count(last['actual'])} happened)")
    cust = last.get("customers")
    if cust:
        text += (f"; per customer it was off by {fmt.number(cust['mae'], 2)} purchases on "
                 "average")
    text += "."
    if len(pur) > 1:
        errors = [abs(e["error"]) for e in pur if e.get("error") is not None]
        text += (f" Over the {len(pur)} earlier runs scored, purchase forecasts were off by "
                 f"{fmt.percent(sum(errors) / len(errors), 1)} on average." if errors else "")
    intervals = [e for e in tr.entries if e.get("inside") is not None]
    if intervals:
        inside = sum(bool(e["inside"]) for e in intervals)
        level = fmt.percent(intervals[0]["level"], 0)
        text += (f" {inside} of {len(intervals)} actual totals (purchases and value) fell "
                 f"inside their {level} predictive intervals"
                 + (": outside means the model misjudged, not bad luck." if inside < len(intervals)
                    else "."))
    return text


def track_metrics(tr: TrackRecord, study: ClvStudy) -> dict:
    """``metrics["track_record"]``: :func:`clm_lib.history.summary` of the entries, with
    the sentence, or the reason when nothing was scored."""
    if not tr.entries:
        return summary([], tr.reason)
    return summary(tr.entries, track_sentence(tr, study))


_PART_LABELS = {
    "new": "New customers (their value now)",
    "lost": "Customers lost (likely active then, not now: value now − before)",
    "behaviour": "Existing customers' own purchases and spend since (previous parameters)",
    "parameters": "Re-estimated model parameters (same customers, current data)",
    "gone": "Customers no longer in the data",
}


def bridge_table(b: EquityBridge, currency: str | None = "$") -> dict | None:
    """Total value before, the parts, the total now (money), with the customers in each."""
    if b.parts is None:
        return None
    p = b.parts
    rows = [{"part": f"Total value as of {b.as_of} (previous run)", "value": p["total_before"],
             "customers": None}]
    rows += [{"part": _PART_LABELS[k], "value": p[k], "customers": p["customers"][k]}
             for k in PARTS]
    rows.append({"part": "Total value now", "value": p["total_now"], "customers": None})
    df = pd.DataFrame(rows).set_index("part")
    return {"df": df, "caption": "What changed the total customer value since the previous run",
            "formats": {"value": lambda v: fmt.money(v, currency, 0), "customers": "count"},
            "rename": {"part": "", "value": "Value (discounted, as the CLV above)",
                       "customers": "Customers"},
            # the rows are a bridge from the total before to the total now: their order is
            # the meaning, so the table does not sort
            "sortable": False}


def bridge_sentence(b: EquityBridge, currency: str | None = "$") -> str:
    """The bridge in one sentence: the change and its largest part."""
    if b.parts is None:
        return ""
    p = b.parts
    big = max(PARTS, key=lambda k: abs(p[k]))
    sign = "+" if p["change"] >= 0 else "−"
    return (f"Since the run as of {b.as_of}, the total customer value changed by {sign}"
            f"{fmt.money(abs(p['change']), currency)} (from {fmt.money(p['total_before'], currency)} "
            f"to {fmt.money(p['total_now'], currency)}); the largest part: "
            f"{_PART_LABELS[big].split(' (')[0].lower()} ({fmt.money(p[big], currency)}). A customer "
            f"counts as lost when her P(alive) was at least {fmt.number(p['threshold'], 2)} then "
            "and is below it now.")


def bridge_metrics(b: EquityBridge) -> dict:
    """``metrics["equity_bridge"]``: the parts (or None) with the previous run and the
    reason when not computed."""
    return {"previous_run": b.run_id, "previous_as_of": b.as_of, "parts": b.parts,
            "reason": b.reason}


def figures(study: ClvStudy) -> dict:
    """``metrics["figures"]``: the headline as numbers (value over the horizon, expected
    purchases, customers likely active, top-decile share, holdout error)."""
    out = {}
    u = f"{study.horizon} {study.time_unit}s"
    if study.values is not None:
        f = study.forecast
        out["clv_total"] = figure(f"Customer value, next {u} ({study.value_basis}, discounted)",
                                  f["clv_total"], "money", good="up")
        out["expected_purchases"] = figure(f"Expected repeat purchases, next {u}",
                                           f["expected_purchases"], "count", good="up")
        out["likely_active"] = figure("Customers likely active (P(alive) ≥ 0.5)",
                                      int((study.values["p_alive"] >= 0.5).sum()), "count",
                                      good="up")
        out["top_decile_share"] = figure("Share of value held by the top 10 % of customers",
                                         study.top_decile_share, "percent")
    h = study.holdout.get(study.value_model)
    if h is not None:
        out["holdout_error"] = figure(
            f"Holdout error of repeat purchases ({study.holdout_duration:.0f} {study.time_unit}s, "
            "predicted / actual − 1)", h["aggregate_error"], "percent")
    return out


def history_metrics(study: ClvStudy, tr: TrackRecord, b: EquityBridge) -> dict:
    """The run-history entries of ``metrics.json``: ``figures`` (:func:`figures`),
    ``track_record`` (:func:`track_metrics`) and ``equity_bridge`` (:func:`bridge_metrics`)."""
    return {"figures": figures(study), "track_record": track_metrics(tr, study),
            "equity_bridge": bridge_metrics(b)}
