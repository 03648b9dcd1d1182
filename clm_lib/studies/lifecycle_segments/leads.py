"""Leads: conversion rate by source and Kaplan-Meier time from lead to conversion."""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib.checks import require_columns as _need
from clm_lib.checks import unit_days
from clm_lib.exceptions import DataContractError
from clm_lib.studies.lifecycle_segments.stages import TIME_UNITS
from clm_lib.studies.survival_churn.compute import kaplan_meier

__all__ = ["leads_conversion"]


def leads_conversion(leads: pd.DataFrame, *, as_of, time_unit: str = "day"):
    """Conversion rate by source and Kaplan-Meier time to conversion.

    Parameters
    ----------
    leads : DataFrame
        ``lead_id``, ``created`` (date), ``source``, ``converted`` (date, NaT/empty when not
        converted); optional ``customer_id``.
    as_of : date-like
        Leads created after it are dropped (counted in ``attrs["dropped"]``); unconverted
        leads, and conversions after ``as_of``, are censored at ``as_of``.
    time_unit : {"day", "week", "month"}

    Returns
    -------
    (table by source: ``leads``, ``converted``, ``conversion_rate``,
    ``median_time_to_conversion`` (time units, KM; NaN if fewer than half convert),
    durations frame (``duration``, ``event``, ``source``), dict of KaplanMeierFitter by
    source plus ``"All"``)
    """
    _need(leads, ["lead_id", "created", "source", "converted"], "leads")
    d = pd.Timestamp(as_of).normalize()
    created = pd.to_datetime(leads["created"], errors="coerce")
    conv = pd.to_datetime(leads["converted"], errors="coerce")
    bad = created.isna()
    if bad.any():
        raise DataContractError("created", "no valid created date (load leads with "
                                "clm_lib.io.load_leads to drop and count such rows)",
                                int(bad.sum()), np.flatnonzero(bad.to_numpy())[:5])
    keep = created <= d
    early = conv.notna() & (conv < created)
    if (early & keep).any():
        m = (early & keep).to_numpy()
        raise DataContractError("converted", "converted before the lead was created",
                                int(m.sum()), np.flatnonzero(m)[:5])
    conv = conv.where(conv <= d)
    df = pd.DataFrame({"source": leads["source"].astype("string").fillna("(unknown)"),
                       "event": conv.notna(),
                       "duration": ((conv.fillna(d) - created).dt.days) / unit_days(time_unit, TIME_UNITS)})[keep]
    kms = kaplan_meier(df, segment="source")
    t = df.groupby("source", observed=True).agg(leads=("event", "size"), converted=("event", "sum"))
    t.loc["All"] = [len(df), int(df["event"].sum())]
    t["conversion_rate"] = t["converted"] / t["leads"]
    t["median_time_to_conversion"] = [float(kms[str(s)].median_survival_time_) if str(s) in kms else np.nan
                                      for s in t.index]
    t["median_time_to_conversion"] = t["median_time_to_conversion"].replace(np.inf, np.nan)
    t.attrs["dropped"] = {"leads created after as_of": int((~keep).sum())}
    return t, df, kms
