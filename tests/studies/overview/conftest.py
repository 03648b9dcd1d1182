"""Hand-built transaction logs for the overview tests (answers computed by hand)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _make_tx(rows, **extra) -> pd.DataFrame:
    """Canonical transactions from ``(customer_id, timestamp, amount)`` rows; ``extra``
    columns are added as given."""
    cid, ts, amt = zip(*rows)
    df = pd.DataFrame({"customer_id": pd.array(cid, dtype="string"),
                       "timestamp": pd.to_datetime(list(ts)),
                       "amount": np.asarray(amt, dtype=float)})
    for k, v in extra.items():
        df[k] = v
    return df


@pytest.fixture
def make_tx():
    return _make_tx


@pytest.fixture
def tx() -> pd.DataFrame:
    # a: two orders on 1 Jan (same-day repeat), a free item on 11 Jan, 20 on 10 Feb
    # b: one order; c: two orders in Feb; d: one order in March.
    return _make_tx([
        ("a", "2020-01-01", 10.0),
        ("a", "2020-01-01", 5.0),
        ("a", "2020-01-11", 0.0),
        ("a", "2020-02-10", 20.0),
        ("b", "2020-01-05", 30.0),
        ("c", "2020-02-03", 40.0),
        ("c", "2020-02-13", 10.0),
        ("d", "2020-03-01", 35.0),
    ], channel=["web", "web", "web", "shop", "shop", "web", "web", None])
