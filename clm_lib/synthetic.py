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

__all__ = ["simulate_transactions", "simulate_order_lines", "iter_transaction_chunks",
           "write_parquet"]

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


#: A few products of the order-line log: stock code, description (with the accented
#: letters that make such exports latin-1), unit price.
_CATALOG = (("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 2.55),
            ("71053", "WHITE METAL LANTERN", 3.39),
            ("84406B", "CREAM CUPID HEARTS COAT HANGER", 2.75),
            ("22752", "SET 7 BABUSHKA NESTING BOXES", 7.65),
            ("21730", "GLASS STAR FROSTED T-LIGHT HOLDER", 4.25),
            ("22633", "HAND WARMER UNION JACK", 1.85),
            ("84879", "ASSORTED COLOUR BIRD ORNAMENT", 1.69),
            ("22960", "JAM MAKING SET WITH JARS", 4.25),
            ("21871", "CRÈME BRÛLÉE DISH SET", 1.25),
            ("POST", "POSTAGE", 18.00))


def simulate_order_lines(n_customers: int, *, seed: int = 0, guest_share: float = 0.25,
                         cancel_share: float = 0.03, start: str = "2010-12-01",
                         **kwargs) -> tuple[pd.DataFrame, dict]:
    """An order-line export shaped like the public Online Retail log (Chen, Sain & Guo
    2012): one row per invoice line, with the traits that make such files hard to load.

    Purchases follow :func:`simulate_transactions` (one invoice each); each invoice has
    1-6 lines of a small catalogue, sometimes the same product twice with different
    quantities. On top: invoices without a customer (``guest_share`` of the lines, as guest
    checkouts are), cancellations (invoice ``C`` + the original number, negative
    quantities), one line recorded twice, and one line a minute later than the rest of
    its invoice.

    Returns
    -------
    lines : DataFrame
        Text columns as in the export: ``InvoiceNo``, ``StockCode``, ``Description``,
        ``Quantity``, ``InvoiceDate`` (``%m/%d/%Y %H:%M``), ``UnitPrice``, ``CustomerID``
        (empty for guests), ``Country``.
    truth : dict
        The answer key: ``lines`` (rows in), ``guest_lines``, ``cancelled_lines``,
        ``repeated_lines`` (exact repeats of a known customer's purchase line: the one
        recorded twice and those the draws made identical), ``late_lines``, ``orders`` (invoices of
        known customers that are not cancellations), ``customers``, ``revenue`` (sum of
        their lines' quantity x unit price, each line once).
    """
    rng = np.random.default_rng(seed)
    tx = simulate_transactions(n_customers, seed=seed, start=start, acquisition_days=180,
                               horizon_days=365, **kwargs)
    tx = tx.assign(timestamp=tx["timestamp"].dt.floor("min"))
    n_inv = len(tx)
    n_lines = rng.integers(1, 7, n_inv)
    inv = np.repeat(np.arange(n_inv), n_lines)
    prod = rng.integers(0, len(_CATALOG), inv.size)
    qty = rng.integers(1, 13, inv.size)
    codes = np.array([c[0] for c in _CATALOG], dtype=object)
    names = np.array([c[1] for c in _CATALOG], dtype=object)
    prices = np.array([c[2] for c in _CATALOG])
    lines = pd.DataFrame({"inv": inv, "StockCode": codes[prod], "Description": names[prod],
                          "Quantity": qty, "UnitPrice": prices[prod],
                          "customer": tx["customer_id"].to_numpy()[inv],
                          "time": tx["timestamp"].to_numpy()[inv]})
    # guests: whole invoices without a customer, about guest_share of the lines
    guest_inv = rng.random(n_inv) < guest_share
    lines.loc[guest_inv[inv], "customer"] = None
    lines["InvoiceNo"] = (536365 + lines["inv"]).astype(str)
    # cancellations: a copy of some customers' invoices, negative, a day later
    known = lines.loc[lines["customer"].notna()]
    cancelled_inv = rng.choice(known["inv"].unique(),
                               size=max(1, int(cancel_share * known["inv"].nunique())),
                               replace=False)
    cancel = lines.loc[lines["inv"].isin(cancelled_inv)].copy()
    cancel["InvoiceNo"] = "C" + cancel["InvoiceNo"]
    cancel["Quantity"] = -cancel["Quantity"]
    cancel["time"] = cancel["time"] + np.timedelta64(1, "D")
    # one line of a known customer's multi-line invoice recorded twice, another a minute late
    multi = known.groupby("inv").filter(lambda g: len(g) > 2)
    repeat_row, late_row = multi.index[0], multi.index[-1]
    lines.loc[late_row, "time"] = lines.loc[late_row, "time"] + np.timedelta64(1, "m")
    out = pd.concat([lines, lines.loc[[repeat_row]], cancel], ignore_index=True)
    out = out.sort_values(["time", "InvoiceNo"], kind="stable").reset_index(drop=True)
    # exact repeats: the one recorded twice, and lines that the draws made identical (the
    # same product and quantity twice in one invoice), which a contract cannot tell apart
    exact = out.drop(columns="inv").duplicated()
    known_paid = out["customer"].notna() & ~out["InvoiceNo"].str.startswith("C")
    paid = out.loc[known_paid & ~exact]
    truth = {"lines": int(len(out)), "guest_lines": int(out["customer"].isna().sum()),
             "cancelled_lines": int(len(cancel)),
             "repeated_lines": int((exact & known_paid).sum()), "late_lines": 1,
             "orders": int(paid["inv"].nunique()), "customers": int(paid["customer"].nunique()),
             "revenue": float((paid["Quantity"] * paid["UnitPrice"]).sum())}
    return pd.DataFrame({
        "InvoiceNo": out["InvoiceNo"], "StockCode": out["StockCode"],
        "Description": out["Description"], "Quantity": out["Quantity"].astype(str),
        "InvoiceDate": pd.to_datetime(out["time"]).dt.strftime("%-m/%-d/%Y %-H:%M"),
        "UnitPrice": out["UnitPrice"].map(lambda v: f"{v:.2f}"),
        "CustomerID": out["customer"].map(lambda c: "" if c is None or pd.isna(c)
                                          else str(12346 + int(str(c).lstrip("C")))),
        "Country": "United Kingdom"}), truth
