"""Independent pure-Python computations of the growth accounting and of stickiness (loops
over customers, periods and days; period codes written out here, not the package's),
and the logs they are tested on."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import pandas as pd

MONDAY = dt.date(1970, 1, 5)


def code(day: dt.date, period: str) -> int:
    if period == "month":
        return day.year * 12 + day.month - 1
    if period == "quarter":
        return day.year * 4 + (day.month - 1) // 3
    if period == "year":
        return day.year
    return (day - MONDAY).days // 7


def next_day(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=1)


def growth_oracle(tx: pd.DataFrame, period: str, as_of: str) -> list[dict]:
    """One dict per complete period, from the first purchase's on."""
    end = dt.date.fromisoformat(as_of)
    last = code(next_day(end), period) - 1
    rev: dict[tuple, float] = defaultdict(float)
    for cid, ts, amt in zip(tx["customer_id"], tx["timestamp"], tx["amount"]):
        day = ts.date()
        if day <= end and code(day, period) <= last:
            rev[(cid, code(day, period))] += float(amt)
    customers = sorted({c for c, _ in rev})
    first = min(p for _, p in rev)
    out = []
    for t in range(first, last + 1):
        row = dict(period=t, active=0, new=0, returning=0, resurrecting=0, dormant=0,
                   revenue=0.0, new_revenue=0.0, expansion=0.0, contraction=0.0,
                   churned_revenue=0.0, resurrected_revenue=0.0, previous_active=0,
                   previous_revenue=0.0)
        for c in customers:
            now, before = (c, t) in rev, (c, t - 1) in rev
            earlier = any((c, q) in rev for q in range(first, t - 1))
            if before:
                row["previous_active"] += 1
                row["previous_revenue"] += rev[(c, t - 1)]
            if now:
                row["active"] += 1
                row["revenue"] += rev[(c, t)]
                if before:
                    row["returning"] += 1
                    d = rev[(c, t)] - rev[(c, t - 1)]
                    row["expansion"] += max(d, 0.0)
                    row["contraction"] += max(-d, 0.0)
                elif earlier:
                    row["resurrecting"] += 1
                    row["resurrected_revenue"] += rev[(c, t)]
                else:
                    row["new"] += 1
                    row["new_revenue"] += rev[(c, t)]
            elif before:
                row["dormant"] += 1
                row["churned_revenue"] += rev[(c, t - 1)]
        den = row["dormant"]
        row["quick_ratio"] = (row["new"] + row["resurrecting"]) / den if den else np.nan
        den = row["contraction"] + row["churned_revenue"]
        row["revenue_quick_ratio"] = ((row["new_revenue"] + row["expansion"]
                                       + row["resurrected_revenue"]) / den if den else np.nan)
        out.append(row)
    return out


def stickiness_oracle(tx: pd.DataFrame, as_of: str) -> dict:
    """Per complete month (code): days and weeks distributions (dict n -> customers),
    mau, mean_dau, mean_wau."""
    end = dt.date.fromisoformat(as_of)
    last = code(next_day(end), "month") - 1
    days = defaultdict(set)  # customer -> purchase days up to as_of
    for cid, ts in zip(tx["customer_id"], tx["timestamp"]):
        if ts.date() <= end:
            days[cid].add(ts.date())
    first = min(code(d, "month") for s in days.values() for d in s)
    out = {}
    for m in range(first, last + 1):
        y, mo = divmod(m, 12)
        start = dt.date(y, mo + 1, 1)
        month_days = []
        d = start
        while d.month == start.month:
            month_days.append(d)
            d = next_day(d)
        dist_d, dist_w = defaultdict(int), defaultdict(int)
        mau = 0
        for s in days.values():
            inside = [x for x in s if x.year == start.year and x.month == start.month]
            if inside:
                mau += 1
                dist_d[len(inside)] += 1
                dist_w[len({x.isocalendar()[:2] for x in inside})] += 1
        dau = [sum(x in s for s in days.values()) for x in month_days]
        sundays = [x for x in month_days if x.isoweekday() == 7]
        wau = [sum(any(x - dt.timedelta(days=k) in s for k in range(7)) for s in days.values())
               for x in sundays]
        out[m] = dict(days=dict(dist_d), weeks=dict(dist_w), mau=mau,
                      mean_dau=float(np.mean(dau)), mean_wau=float(np.mean(wau)))
    return out


def random_log(seed: int = 19, n: int = 300) -> pd.DataFrame:
    """~300 customers over 2019-2020: a first purchase at a random time, then bursts of
    purchases with random gaps (some the same day), amounts with some zeros."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2019-01-01")
    rows = []
    for i in range(n):
        t = start + pd.Timedelta(minutes=int(rng.integers(0, 700 * 24 * 60)))
        for _ in range(int(rng.geometric(0.2))):
            if t > pd.Timestamp("2020-12-31 23:59"):
                break
            amount = 0.0 if rng.random() < 0.08 else round(float(rng.gamma(2.0, 15.0)), 2)
            rows.append((f"c{i:03d}", t, amount))
            gap = 0 if rng.random() < 0.1 else float(rng.exponential(40.0))
            t = t + pd.Timedelta(hours=gap * 24 + float(rng.uniform(0, 5)))
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
