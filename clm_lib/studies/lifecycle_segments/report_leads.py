"""The funnel section of the lifecycle report: reach → acquisition → conversion of the
leads (re-exported by :mod:`.report`): sentences, table views, alt texts and metrics of a
:class:`~clm_lib.studies.lifecycle_segments.leads.LeadFunnel`. Every string here is plain
text; the notebook shows it through the escaping helpers of :mod:`clm_lib.reporting`.
"""
from __future__ import annotations

import pandas as pd

from clm_lib import format as fmt

__all__ = ["funnel_finding", "funnel_reading", "funnel_definitions", "leads_note_text",
           "leads_view", "funnel_period_view", "funnel_milestones_view", "funnel_period_alt",
           "conversion_figure", "conversion_alt", "funnel_metrics", "leads_quality_notes", "interval_text"]


def interval_text(lo, hi, level: float) -> str:
    """``95 % interval 12.4 % to 14.2 %`` (or ``no interval``)."""
    if fmt.is_missing(lo) or fmt.is_missing(hi):
        return "no interval"
    return f"{fmt.percent(level, 0)} interval {fmt.percent(lo)} to {fmt.percent(hi)}"


def _what(study) -> str:
    """``leads`` or ``synthetic leads (…)`` as the sentences name them."""
    return "leads" + (f" ({study.leads_note})" if study.leads_note else "")


def leads_note_text(study) -> str | None:
    """What the leads are, when the run says so (None otherwise)."""
    return f"About these leads: {study.leads_note}." if study.leads_note else None


def funnel_definitions(study) -> str:
    """The definitions behind every number of the section, in words."""
    f = study.leads_funnel
    return (f"Definitions: a lead is converted within {f.window_days} days when its conversion "
            f"date is at most {f.window_days} calendar days after its created date. A creation "
            f"{f.period} is complete when its last day plus {f.window_days} days is on or before "
            f"{f.as_of}: it can get no more leads and every lead of it has had the whole window, "
            "so its rate can no longer change; the rates of periods that are not complete are not "
            "shown (they would only rise). The rates by source count the leads of the complete "
            f"periods ({_through(f)}). Intervals: {fmt.percent(f.level, 0)} Wilson score "
            "intervals for rates; the Kaplan-Meier shares converted (leads still open censored "
            f"at {f.as_of}) with {fmt.percent(f.level, 0)} Greenwood (log-log) intervals. "
            "Days are calendar days.")


def _through(f) -> str:
    if f.complete_through is None:
        return "none is complete yet"
    return f"created {fmt.date(f.durations['created'].min())} to {f.complete_through}"


def funnel_finding(study) -> str | None:
    """The funnel in one line for the decision box (None without leads)."""
    f = study.leads_funnel
    if f is None:
        return None
    a = f.by_source.loc["All"]
    line = (f"{fmt.count(a['leads'])} {_what(study)} to {f.as_of}, "
            f"{fmt.count(a['converted'])} converted")
    if fmt.is_missing(a["window_rate"]):
        return line + f"; no creation {f.period} has had its {f.window_days}-day window yet."
    best = _best_source(f)
    line += (f"; {fmt.percent(a['window_rate'])} converted within {f.window_days} days "
             f"({interval_text(a['window_rate_lower'], a['window_rate_upper'], f.level)}, "
             f"leads {_through(f)})")
    if best is not None:
        line += (f"; best source '{best}' at {fmt.percent(f.by_source.loc[best, 'window_rate'])}")
    return line + "."


def _best_source(f) -> str | None:
    t = f.by_source.drop(index="All")["window_rate"].dropna()
    return str(t.idxmax()) if len(t) > 1 else None


def funnel_reading(study) -> str:
    """How to read the section's numbers, computed from them."""
    f = study.leads_funnel
    a = f.by_source.loc["All"]
    t = f.by_source.drop(index="All")
    rates = t["window_rate"].dropna()
    parts = [f"Reach → conversion: {fmt.count(a['leads'])} leads created to {f.as_of} "
             f"from {fmt.count(len(t))} source(s); {fmt.count(a['converted'])} converted by then."]
    if len(rates):
        hi, lo = rates.idxmax(), rates.idxmin()
        parts.append(f"Of the leads {_through(f)}, {fmt.percent(a['window_rate'])} converted within "
                     f"{f.window_days} days ({interval_text(a['window_rate_lower'], a['window_rate_upper'], f.level)}).")
        if hi != lo:
            overlap = t.loc[hi, "window_rate_lower"] <= t.loc[lo, "window_rate_upper"]
            parts.append(f"'{hi}' converts best ({fmt.percent(rates[hi])}), '{lo}' worst "
                         f"({fmt.percent(rates[lo])}); their intervals "
                         + ("overlap, so the data do not tell them apart." if overlap
                            else "do not overlap."))
    med = a["median_days_converted"]
    if not fmt.is_missing(med):
        parts.append(f"Leads who converted within the window took a median of "
                     f"{fmt.number(med, 0)} days.")
    open_periods = int((~f.by_period["complete"]).sum())
    if open_periods:
        last = (f"The last {f.period} is" if open_periods == 1
                else f"The last {fmt.count(open_periods)} {f.period}s are")
        parts.append(f"{last} not complete: not every lead of it has had {f.window_days} days, "
                     "so no rate is shown for it yet.")
    return " ".join(parts)


def _interval_cells(lo, hi) -> list[str]:
    # no-break spaces: an interval is read as one item, never split over two lines
    return [fmt.MISSING if fmt.is_missing(a) else
            f"{fmt.percent(a)} to {fmt.percent(b)}".replace(" ", "\u00a0")
            for a, b in zip(lo, hi)]


def _days(v) -> str:
    return fmt.MISSING if fmt.is_missing(v) else fmt.number(v, 0)


def leads_view(study):
    """The funnel by source (None without leads: the section is left out)."""
    f = study.leads_funnel
    if f is None:
        return None
    t = f.by_source
    w = f.window_days
    out = pd.DataFrame({
        "leads": t["leads"], "converted": t["converted"], "window_leads": t["window_leads"],
        "window_converted": t["window_converted"], "window_rate": t["window_rate"],
        "interval": _interval_cells(t["window_rate_lower"], t["window_rate_upper"]),
        "median_days_converted": [_days(v) for v in t["median_days_converted"]],
        "median_days": ["not reached" if fmt.is_missing(v) else fmt.number(v, 0)
                        for v in t["median_days"]]}, index=t.index)
    km = (f"median days to convert of the leads converted within {w} days, and of all leads "
          "by Kaplan-Meier")
    if t["median_days"].isna().all():
        # a column of "not reached" only widens the table: said once in the caption instead
        out = out.drop(columns="median_days")
        km = (f"median days to convert of the leads converted within {w} days (the Kaplan-Meier "
              "median is not reached: fewer than half of any source's leads have converted)")
    return {"df": out,
            "formats": {"leads": "count", "converted": "count", "window_leads": "count",
                        "window_converted": "count", "window_rate": "percent"},
            "rename": {"source": "Lead source", "leads": "Leads",
                       "converted": "Converted",
                       "window_leads": "Leads, complete periods",
                       "window_converted": f"Within {w} days",
                       "window_rate": f"Rate within {w} days",
                       "interval": f"{fmt.percent(f.level, 0)} interval",
                       "median_days_converted": "Median days (converters)",
                       "median_days": "Median days (Kaplan-Meier)"},
            "caption": f"Reach → conversion by lead source, {_what(study)}: leads created and "
                       f"converted to {f.as_of}; rate within {w} days over the leads {_through(f)} "
                       f"(Wilson interval); {km}"}


def funnel_period_view(study) -> dict | None:
    """The funnel by creation period, incomplete periods marked."""
    f = study.leads_funnel
    if f is None:
        return None
    t = f.by_period
    w = f.window_days
    out = pd.DataFrame({
        "leads": t["leads"], "window_converted": t["window_converted"],
        "window_rate": t["window_rate"],
        "interval": _interval_cells(t["window_rate_lower"], t["window_rate_upper"]),
        "status": ["complete" if c else f"not complete: window ends {fmt.date(e)}, "
                   f"{fmt.count(k)} converted so far"
                   for c, e, k in zip(t["complete"], t["window_end"], t["window_converted"])]},
        index=t.index)
    out.loc[~t["complete"].to_numpy(), "window_converted"] = None
    return {"df": out, "formats": {"leads": "count", "window_converted": "count",
                                   "window_rate": "percent"},
            "rename": {"period": f"Created ({f.period})", "leads": "Leads",
                       "window_converted": f"Within {w} days",
                       "window_rate": f"Rate within {w} days",
                       "interval": f"{fmt.percent(f.level, 0)} interval",
                       "status": "Status"},
            "caption": f"Reach → conversion by creation {f.period}: a rate is shown once every "
                       f"lead of the {f.period} has had {w} days"}


def funnel_milestones_view(study) -> dict | None:
    """Kaplan-Meier share converted at the milestones, by source."""
    f = study.leads_funnel
    if f is None:
        return None
    t = f.milestones_table
    cols = {}
    for m in f.milestones:
        cols[f"within {m} days"] = [
            "not observed" if fmt.is_missing(s) else
            f"{fmt.percent(s)} ({fmt.percent(lo)} to {fmt.percent(hi)})"
            for s, lo, hi in zip(t[f"share_{m}d"], t[f"share_{m}d_lower"], t[f"share_{m}d_upper"])]
    out = pd.DataFrame(cols, index=t.index)
    return {"df": out, "rename": {"source": "Lead source"},
            "caption": f"Share of leads converted within {', '.join(map(str, f.milestones))} "
                       f"days of creation (Kaplan-Meier, leads open at {f.as_of} censored; "
                       f"{fmt.percent(f.level, 0)} Greenwood interval)"}


def funnel_period_alt(study) -> str:
    """Alt text of the rate-by-period chart."""
    f = study.leads_funnel
    done = f.by_period.loc[f.by_period["complete"] & f.by_period["window_rate"].notna()]
    text = (f"Points with {fmt.percent(f.level, 0)} Wilson intervals: the share of leads converted "
            f"within {f.window_days} days, by creation {f.period}")
    if len(done):
        r = done["window_rate"]
        text += (f"; complete {f.period}s range from {fmt.percent(r.min())} ({r.idxmin()}) to "
                 f"{fmt.percent(r.max())} ({r.idxmax()})")
    n_open = int((~f.by_period["complete"]).sum())
    if n_open:
        text += f"; the last {n_open} {f.period}(s), not complete, are shaded and have no rate"
    return text + "."


def conversion_figure(study) -> dict:
    """Keyword arguments of the conversion curves: days, the axis to 1.5 times the last
    milestone (where the curves are still moving), never past the longest follow-up."""
    f = study.leads_funnel
    longest = float(f.durations["duration"].max())
    end = min(1.5 * max(f.milestones), longest) if f.milestones else longest
    return {"time_unit": "day", "max_time": max(end, 1.0)}


def conversion_alt(study) -> str:
    """Alt text of the conversion curves."""
    f = study.leads_funnel
    a = f.by_source.loc["All"]
    m = f.milestones[-1] if f.milestones else None
    share = (f"; by Kaplan-Meier {fmt.percent(f.milestones_table.loc['All', f'share_{m}d'])} of "
             f"leads convert within {m} days" if m is not None
             and not fmt.is_missing(f.milestones_table.loc["All", f"share_{m}d"]) else "")
    return (f"Share of leads converted by days since the lead was created (Kaplan-Meier, open "
            f"leads censored at {f.as_of}), one line per lead source and one for all; "
            f"{fmt.count(a['converted'])} of {fmt.count(a['leads'])} leads converted by "
            f"{f.as_of}{share}.")


def leads_quality_notes(study) -> list[str]:
    """Leads the funnel itself left out (the loading record counts the others)."""
    f = study.leads_funnel
    if f is None:
        return []
    return [f"Leads: {n:,} excluded ({reason})." for reason, n in f.dropped.items() if n]


def _num(v):
    return None if fmt.is_missing(v) else float(v)


def funnel_metrics(study) -> dict | None:
    """The funnel for ``metrics.json`` (None without leads): definitions, by source, by
    period, Kaplan-Meier milestones; rates are fractions, days calendar days."""
    f = study.leads_funnel
    if f is None:
        return None
    src = [{"source": str(s), **{k: (int(v) if k in ("leads", "converted", "window_leads",
                                                     "window_converted") else _num(v))
                                 for k, v in r.items()}}
           for s, r in f.by_source.iterrows()]
    per = [{"period": str(p), "period_start": str(r["period_start"].date()),
            "window_end": str(r["window_end"].date()), "complete": bool(r["complete"]),
            "leads": int(r["leads"]), "window_converted": int(r["window_converted"]),
            "window_rate": _num(r["window_rate"]), "window_rate_lower": _num(r["window_rate_lower"]),
            "window_rate_upper": _num(r["window_rate_upper"])}
           for p, r in f.by_period.iterrows()]
    ms = {str(s): {k: _num(v) for k, v in r.items()} for s, r in f.milestones_table.iterrows()}
    return {"as_of": f.as_of, "period": f.period, "window_days": f.window_days,
            "interval_level": f.level, "interval_rates": "Wilson score",
            "interval_km": "Greenwood (log-log)", "time_unit": "day",
            "milestone_days": list(f.milestones), "complete_through": f.complete_through,
            "note": study.leads_note, "by_source": src, "by_period": per, "km_milestones": ms}
