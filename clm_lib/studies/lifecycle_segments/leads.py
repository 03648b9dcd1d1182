"""Leads: reach → acquisition → conversion.

:func:`lead_funnel` is the funnel of a leads table: leads and conversions by source and
by calendar period of creation, the share converted within a fixed window of days after
creation with its Wilson score interval, and the time to convert by Kaplan-Meier (open
leads censored at ``as_of``) with Greenwood intervals. :func:`leads_conversion` is the
older by-source table (conversions by ``as_of``), kept for its callers.

Why a window: "converted by ``as_of``" falls for recent leads, which have had less time,
and changes for every creation period when later data arrive. "Converted within ``W``
days of creation" does not, once every lead of the period has had its ``W`` days: a
period's rate is reported only then, and marked not complete before (never a falling
rate). Days are calendar days between the dates (a conversion on the creation day is 0
days).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from clm_lib.checks import require_columns as _need
from clm_lib.checks import unit_days
from clm_lib.exceptions import DataContractError, ParameterError
from clm_lib.reduce.periods import check_period, period_codes, period_labels, period_start
from clm_lib.studies.lifecycle_segments.stages import TIME_UNITS
from clm_lib.studies.survival_churn.compute import kaplan_meier

__all__ = ["LeadFunnel", "lead_funnel", "leads_conversion", "wilson_interval",
           "DEFAULT_WINDOW_DAYS", "DEFAULT_MILESTONES", "DEFAULT_LEVEL", "LEAD_COLUMNS"]

#: Columns a leads table needs (:func:`clm_lib.io.load_leads` gives them).
LEAD_COLUMNS = ("lead_id", "created", "source", "converted")
#: Days after creation within which a conversion counts for the per-period rate: a month
#: covers most conversions of a consumer lead while a period settles a month after it ends.
DEFAULT_WINDOW_DAYS = 30
#: Days after creation at which the Kaplan-Meier share converted is reported.
DEFAULT_MILESTONES = (7, 30, 90)
#: Level of the Wilson and Greenwood intervals.
DEFAULT_LEVEL = 0.95


def wilson_interval(converted, leads, level: float = DEFAULT_LEVEL):
    """Wilson score interval of ``converted / leads`` (arrays or scalars; NaN where
    ``leads`` is 0), by statsmodels' ``proportion_confint(method="wilson")``."""
    k = np.asarray(converted, dtype=float)
    n = np.asarray(leads, dtype=float)
    safe = np.where(n > 0, n, 1.0)
    lo, hi = proportion_confint(k, safe, alpha=1 - level, method="wilson")
    return np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)


def _durations(leads: pd.DataFrame, as_of) -> tuple[pd.DataFrame, int]:
    """Leads created up to ``as_of``: ``created`` (day), ``source``, ``event`` (converted
    by ``as_of``), ``duration`` (calendar days to the conversion, or to ``as_of`` when
    open); and the number of leads created after ``as_of`` (left out)."""
    _need(leads, list(LEAD_COLUMNS), "leads")
    d = pd.Timestamp(as_of).normalize()
    created = pd.to_datetime(leads["created"], errors="coerce")
    conv = pd.to_datetime(leads["converted"], errors="coerce")
    bad = created.isna()
    if bad.any():
        raise DataContractError("created", "no valid created date (load leads with "
                                "clm_lib.io.load_leads to drop and count such rows)",
                                int(bad.sum()), np.flatnonzero(bad.to_numpy())[:5])
    created, conv = created.dt.normalize(), conv.dt.normalize()
    keep = created <= d
    early = conv.notna() & (conv < created)
    if (early & keep).any():
        m = (early & keep).to_numpy()
        raise DataContractError("converted", "converted before the lead was created",
                                int(m.sum()), np.flatnonzero(m)[:5])
    conv = conv.where(conv <= d)
    df = pd.DataFrame({"created": created,
                       "source": leads["source"].astype("string").fillna("(unknown)"),
                       "event": conv.notna(),
                       "duration": (conv.fillna(d) - created).dt.days.astype(float)})
    return df[keep.to_numpy()].reset_index(drop=True), int((~keep).sum())


def leads_conversion(leads: pd.DataFrame, *, as_of, time_unit: str = "day"):
    """Conversion by ``as_of`` by source and Kaplan-Meier time to conversion.

    Parameters
    ----------
    leads : DataFrame
        ``lead_id``, ``created`` (date), ``source``, ``converted`` (date, NaT/empty when not
        converted).
    as_of : date-like
        Leads created after it are dropped (counted in ``attrs["dropped"]``); unconverted
        leads, and conversions after ``as_of``, are censored at ``as_of``.
    time_unit : {"day", "week", "month"}

    Returns
    -------
    (table by source: ``leads``, ``converted``, ``conversion_rate`` (converted by
    ``as_of``: it falls for recent leads, see :func:`lead_funnel`),
    ``median_time_to_conversion`` (time units, KM; NaN if fewer than half convert),
    durations frame (``duration``, ``event``, ``source``), dict of KaplanMeierFitter by
    source plus ``"All"``)
    """
    df, late = _durations(leads, as_of)
    df = df.assign(duration=df["duration"] / unit_days(time_unit, TIME_UNITS))
    df = df[["source", "event", "duration"]]
    kms = kaplan_meier(df, segment="source")
    t = df.groupby("source", observed=True).agg(leads=("event", "size"), converted=("event", "sum"))
    t.loc["All"] = [len(df), int(df["event"].sum())]
    t["conversion_rate"] = t["converted"] / t["leads"]
    t["median_time_to_conversion"] = [_median(kms.get(str(s))) for s in t.index]
    t.attrs["dropped"] = {"leads created after as_of": late}
    return t, df, kms


def _median(kmf) -> float:
    m = float(kmf.median_survival_time_) if kmf is not None else np.nan
    return np.nan if np.isinf(m) else m


@dataclass(frozen=True)
class LeadFunnel:
    """The funnel of a leads table (see :func:`lead_funnel`); days are calendar days.

    Attributes
    ----------
    as_of : str
    period : str
        Calendar period of creation: week, month, quarter or year.
    window_days : int
        A lead counts as converted for the rates when it converted within this many days.
    level : float
        Level of every interval (Wilson for rates, Greenwood for Kaplan-Meier shares).
    milestones : tuple of int
        Days at which ``milestones_table`` gives the Kaplan-Meier share converted.
    complete_through : str or None
        Last day of the last complete period (ISO), None when no period is complete; the
        window rates of ``by_source`` cover the leads created up to it.
    by_source : DataFrame
        Index ``source`` (sorted) plus ``"All"``: ``leads`` and ``converted`` (created and
        converted by ``as_of``), ``window_leads`` (leads of the complete periods),
        ``window_converted`` (of them, converted within ``window_days``),
        ``window_rate`` with ``window_rate_lower`` / ``_upper``, ``median_days`` (KM median
        days to convert, NaN when fewer than half have converted), ``median_days_converted``
        (median days of the ``window_converted`` leads: how fast those who convert do).
    by_period : DataFrame
        Index ``period`` (ISO label, oldest first, every period from the first lead to
        ``as_of``): ``period_start``, ``window_end`` (day by which every lead of the period
        has had its window), ``complete``, ``leads``, ``window_converted``, ``window_rate``
        with ``_lower`` / ``_upper`` (NaN when not complete).
    milestones_table : DataFrame
        Index ``source`` plus ``"All"``: ``share_<d>d``, ``share_<d>d_lower`` / ``_upper``
        per milestone ``d`` (NaN beyond the group's longest follow-up).
    durations : DataFrame
        One row per lead: ``created``, ``period``, ``source``, ``event``, ``duration``.
    km : dict
        ``KaplanMeierFitter`` (days) by source plus ``"All"``.
    dropped : dict
        Reason -> leads left out here (created after ``as_of``).
    """

    as_of: str
    period: str
    window_days: int
    level: float
    milestones: tuple
    complete_through: str | None
    by_source: pd.DataFrame
    by_period: pd.DataFrame
    milestones_table: pd.DataFrame
    durations: pd.DataFrame
    km: dict
    dropped: dict = field(default_factory=dict)


def _window_counts(g: pd.DataFrame, window_days: int) -> pd.Series:
    won = g["event"] & (g["duration"] <= window_days)
    return pd.Series({"leads": len(g), "window_converted": int(won.sum())})


def lead_funnel(leads: pd.DataFrame, *, as_of, period: str = "month",
                window_days: int = DEFAULT_WINDOW_DAYS, level: float = DEFAULT_LEVEL,
                milestones=DEFAULT_MILESTONES) -> LeadFunnel:
    """Reach (leads), acquisition (conversions) and conversion rates by source and period.

    Parameters
    ----------
    leads : DataFrame
        ``lead_id``, ``created`` (date), ``source``, ``converted`` (date, NaT when not
        converted), best as loaded by :func:`clm_lib.io.load_leads` (which drops and counts
        bad rows); a created date that cannot be read, or a conversion before creation, is a
        :class:`~clm_lib.exceptions.DataContractError` here.
    as_of : date-like
        End of observation (inclusive). Leads created later are left out (counted in
        ``dropped``); conversions later are not known yet: such leads are open.
    period : {"week", "month", "quarter", "year"}
        Calendar period of the ``created`` date (ISO labels: ``1997-W02``, ``1997-01``,
        ``1997-Q1``, ``1997``).
    window_days : int
        The rates count conversions within this many days of creation. A period is complete
        when its last day plus ``window_days`` is on or before ``as_of``: it can get no more
        leads and each of its leads has had the whole window, so its rate is final.
    level : float
        Level of the Wilson intervals of the rates and the Greenwood (log-log) intervals of
        the Kaplan-Meier shares.
    milestones : sequence of int
        Days at which the Kaplan-Meier share converted is given.

    Returns
    -------
    LeadFunnel

    Examples
    --------
    >>> f = lead_funnel(leads, as_of="1998-06-30", window_days=30)   # doctest: +SKIP
    >>> f.by_period.loc["1998-05", "complete"]                       # doctest: +SKIP
    False
    """
    check_period(period)
    if not (isinstance(window_days, (int, np.integer)) and window_days >= 0):
        raise ParameterError(f"window_days must be a whole number of days >= 0, got {window_days!r}")
    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1), got {level!r}")
    marks = tuple(int(m) for m in milestones)
    if any(m < 0 for m in marks):
        raise ParameterError(f"milestones must be days >= 0, got {list(milestones)!r}")
    d = pd.Timestamp(as_of).normalize()
    df, late = _durations(leads, d)
    if df.empty:
        raise DataContractError("created", f"no lead created on or before {d.date()}", 0, [])
    codes = period_codes(df["created"], period)
    df["period"] = period_labels(codes, period)
    df["code"] = codes
    window = pd.Timedelta(days=int(window_days))

    # every period from the first lead to as_of, so that an empty one shows as 0 leads
    all_codes = np.arange(codes.min(), int(period_codes([d], period)[0]) + 1)
    starts = period_start(all_codes, period)
    ends = period_start(all_codes + 1, period) - pd.Timedelta(days=1)
    per = (df.groupby("code")[["event", "duration"]].apply(_window_counts, window_days=window_days)
           .reindex(all_codes, fill_value=0))
    by_period = pd.DataFrame({"period_start": starts, "window_end": ends + window,
                              "leads": per["leads"].to_numpy(int),
                              "window_converted": per["window_converted"].to_numpy(int)},
                             index=pd.Index(period_labels(all_codes, period), name="period"))
    by_period["complete"] = by_period["window_end"] <= d
    by_period = by_period[["period_start", "window_end", "complete", "leads", "window_converted"]]
    _rates(by_period, "leads", level, by_period["complete"].to_numpy())
    done = by_period.loc[by_period["complete"]]
    complete_through = (str((done["window_end"].iloc[-1] - window).date()) if len(done) else None)

    # by source: all leads to as_of, and the leads of the complete periods for the rate
    in_window = df["created"] <= pd.Timestamp(complete_through) if complete_through else \
        pd.Series(False, index=df.index)
    kms = kaplan_meier(df[["duration", "event", "source"]], segment="source",
                       alpha=1 - level)
    groups = {str(s): g.index for s, g in df.groupby("source", sort=True, observed=True)}
    groups["All"] = df.index
    rows = {}
    for name, idx in groups.items():
        g, w = df.loc[idx], df.loc[idx][in_window.loc[idx]]
        won = w["event"] & (w["duration"] <= window_days)
        rows[name] = {"leads": len(g), "converted": int(g["event"].sum()),
                      "window_leads": len(w), "window_converted": int(won.sum()),
                      "median_days": _median(kms.get(name)),
                      "median_days_converted": (float(w.loc[won, "duration"].median())
                                                if won.any() else np.nan)}
    by_source = pd.DataFrame.from_dict(rows, orient="index")
    by_source.index.name = "source"
    _rates(by_source, "window_leads", level, by_source["window_leads"].to_numpy() > 0)
    by_source = by_source[["leads", "converted", "window_leads", "window_converted",
                           "window_rate", "window_rate_lower", "window_rate_upper",
                           "median_days", "median_days_converted"]]

    ms = {}
    for name, kmf in kms.items():
        longest = float(kmf.durations.max())
        row = {}
        for m in marks:
            share, lo, hi = _km_share(kmf, m) if m <= longest else (np.nan,) * 3
            row.update({f"share_{m}d": share, f"share_{m}d_lower": lo, f"share_{m}d_upper": hi})
        ms[name] = row
    milestones_table = pd.DataFrame.from_dict(ms, orient="index").reindex(by_source.index)
    return LeadFunnel(as_of=str(d.date()), period=period, window_days=int(window_days),
                      level=float(level), milestones=marks, complete_through=complete_through,
                      by_source=by_source, by_period=by_period, milestones_table=milestones_table,
                      durations=df.drop(columns="code"), km=kms,
                      dropped={"leads created after as_of": late})


def _rates(t: pd.DataFrame, base: str, level: float, shown: np.ndarray) -> None:
    """``window_rate`` and its Wilson interval of ``window_converted / t[base]``, NaN where
    not ``shown``."""
    n = t[base].to_numpy(float)
    k = t["window_converted"].to_numpy(float)
    lo, hi = wilson_interval(k, n, level)
    ok = shown & (n > 0)
    t["window_rate"] = np.where(ok, k / np.where(n > 0, n, 1), np.nan)
    t["window_rate_lower"] = np.where(ok, lo, np.nan)
    t["window_rate_upper"] = np.where(ok, hi, np.nan)


def _km_share(kmf, days: float) -> tuple[float, float, float]:
    """Share converted within ``days`` (1 - KM) and its Greenwood interval (lifelines'
    exponential Greenwood bounds of the survival, flipped)."""
    s = float(kmf.survival_function_at_times([days]).iloc[0])
    ci = kmf.confidence_interval_
    at = ci.loc[ci.index <= days]
    lo_s, hi_s = (at.iloc[-1, 0], at.iloc[-1, 1]) if len(at) else (1.0, 1.0)
    return 1 - s, 1 - float(hi_s), 1 - float(lo_s)
