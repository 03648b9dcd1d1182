"""Seeded synthetic transaction logs for engine tests and the scale benchmarks.

Customers follow the BG/NBD story (Fader, Hardie & Lee 2005) with Gamma-Gamma spend:
each is acquired on a uniformly drawn day of the acquisition window, then buys as a
Poisson process with rate ``lambda ~ Gamma(r, rate alpha)`` (per day) and drops out after
each repeat purchase with probability ``p ~ Beta(a, b)``; each purchase's amount is
``Gamma(p_spend, rate nu)`` with ``nu ~ Gamma(q, rate gamma)``. Timestamps carry a
random time of day, so several purchases can fall on one day (they count once in the
reductions). Generated in chunks of customers, so 10^8 rows never sit in memory at once.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["simulate_transactions", "iter_transaction_chunks", "write_parquet"]

#: Defaults giving ~10 transactions per customer over two years (daily rates).
DEFAULTS = dict(r=0.6, alpha=12.0, a=0.8, b=6.0, p_spend=6.0, q=4.0, gamma=15.0)


def _chunk(rng: np.random.Generator, first_id: int, n: int, start: np.datetime64,
           acquisition_days: int, horizon_days: int, params: dict) -> pd.DataFrame:
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    nu = rng.gamma(params["q"], 1.0 / params["gamma"], n)
    acq = rng.integers(0, acquisition_days, n)  # acquisition day offset
    window = (horizon_days - acq).astype(float)
    k = rng.poisson(lam * window)  # arrivals if the customer never dropped out
    g = rng.geometric(np.clip(p, 1e-12, 1.0))  # repeat purchases until dropout (>= 1)
    m = np.minimum(k, g)
    # Arrival times: the first m order statistics of k uniforms on the window; drawn as
    # sorted uniforms of the kept ones scaled by a Beta draw would be exact but slower;
    # we draw all k, sort per customer and keep ranks < m.
    owner = np.repeat(np.arange(n), k)
    u = rng.random(owner.size) * window[owner]
    order = np.lexsort((u, owner))
    owner, u = owner[order], u[order]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(k) - k, k)
    keep = rank < m[owner]
    owner, u = owner[keep], u[keep]
    # first purchases (at a random time of the acquisition day) then repeats
    cust = np.concatenate([np.arange(n), owner])
    offs = np.concatenate([acq + rng.random(n), acq[owner] + u])
    secs = np.floor(offs * 86400.0).astype("int64")
    ts = start + secs.astype("timedelta64[s]")
    amount = np.round(rng.gamma(params["p_spend"], 1.0 / nu[cust]), 2)
    df = pd.DataFrame({"customer_id": np.char.add("C", (cust + first_id).astype(str)),
                       "timestamp": ts.astype("datetime64[us]"),
                       "amount": amount})
    return df


def iter_transaction_chunks(n_customers: int, *, seed: int = 0, start: str = "2022-01-01",
                            acquisition_days: int = 365, horizon_days: int = 730,
                            chunk_customers: int = 1_000_000, **params) -> Iterator[pd.DataFrame]:
    """Yield transaction frames for consecutive blocks of ``chunk_customers`` customers."""
    par = {**DEFAULTS, **params}
    ss = np.random.SeedSequence(seed)
    n_chunks = -(-n_customers // chunk_customers)
    for i, child in enumerate(ss.spawn(n_chunks)):
        n = min(chunk_customers, n_customers - i * chunk_customers)
        yield _chunk(np.random.default_rng(child), i * chunk_customers, n,
                     np.datetime64(start, "s"), acquisition_days, horizon_days, par)


def simulate_transactions(n_customers: int, *, seed: int = 0, **kwargs) -> pd.DataFrame:
    """A canonical transaction log (``customer_id``, ``timestamp``, ``amount``) in memory.

    Parameters
    ----------
    n_customers : int
    seed : int
        Seed of the generator: the same seed gives the same log.
    start : str, default "2022-01-01"
        First day of the acquisition window.
    acquisition_days, horizon_days : int
        Customers are acquired during the first ``acquisition_days`` days; purchases run
        to ``horizon_days`` after ``start``.
    **kwargs
        BG/NBD (``r, alpha, a, b``; rates per day) and spend (``p_spend, q, gamma``)
        parameters overriding :data:`DEFAULTS`.
    """
    parts = list(iter_transaction_chunks(n_customers, seed=seed, **kwargs))
    df = pd.concat(parts, ignore_index=True)
    df["customer_id"] = df["customer_id"].astype("string")
    return df.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)


def write_parquet(directory: str | Path, n_customers: int, *, seed: int = 0,
                  chunk_customers: int = 1_000_000, **kwargs) -> dict:
    """Write the log as ``part-00000.parquet``, ... under ``directory`` (one per chunk).

    Timestamps are stored in microseconds (Spark cannot read nanosecond Parquet
    timestamps). Returns ``{"files": [...], "rows": n, "customers": n_customers}``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files, rows = [], 0
    for i, df in enumerate(iter_transaction_chunks(n_customers, seed=seed,
                                                   chunk_customers=chunk_customers, **kwargs)):
        path = directory / f"part-{i:05d}.parquet"
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path,
                       coerce_timestamps="us", row_group_size=1_000_000)
        files.append(str(path))
        rows += len(df)
    return {"files": files, "rows": rows, "customers": n_customers}
