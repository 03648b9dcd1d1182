"""Declarative (pandera) schemas of the canonical frames produced by the loaders of :mod:`clm_lib.io`.

The loaders clean and count first (every dropped row gets a reason in the
:class:`~clm_lib.io.quality.DataQuality` record), then validate the result against these
schemas as a final assertion: a failure here means a bug in the loader, not bad input.
Other modules may use them to check frames they receive, e.g.
``TransactionsSchema.validate(df)``.

Columns beyond the canonical ones are allowed (``strict=False``): covariates and
extra transaction attributes travel with the frame.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

__all__ = [
    "TransactionsSchema",
    "SubscriptionIntervalsSchema",
    "SubscriptionSnapshotSchema",
    "DurationsSchema",
]


def _finite(s):
    return pd.Series(np.isfinite(s.to_numpy(dtype="float64", na_value=np.nan)), index=s.index)


def _non_empty(s):
    return (s.str.len() > 0).fillna(False).astype(bool)


_ID = pa.Column("string", nullable=False,
                checks=pa.Check(_non_empty, error="empty customer_id"))

#: Canonical transactions: one row per purchase (or return, under ``negative_amounts="net"``);
#: with order ids, one row per order and ``lines``, the number of its lines.
TransactionsSchema = pa.DataFrameSchema(
    {
        "customer_id": _ID,
        "timestamp": pa.Column("datetime64[ns]", nullable=False),
        "amount": pa.Column("float64", nullable=False,
                            checks=pa.Check(_finite, error="non-finite amount")),
        "quantity": pa.Column("float64", nullable=True, required=False),
        "lines": pa.Column("int64", nullable=False, required=False,
                           checks=pa.Check.ge(1)),
    },
    strict=False,
    name="transactions",
)

#: Subscriptions, interval form: ``end`` is NaT while the subscription is active.
SubscriptionIntervalsSchema = pa.DataFrameSchema(
    {
        "customer_id": _ID,
        "start": pa.Column("datetime64[ns]", nullable=False),
        "end": pa.Column("datetime64[ns]", nullable=True),
    },
    checks=pa.Check(lambda df: df["end"].isna() | (df["end"] >= df["start"]),
                    error="end before start"),
    strict=False,
    name="subscriptions (interval form)",
)

#: Subscriptions, snapshot form: one row per customer, tenure in periods of the data.
SubscriptionSnapshotSchema = pa.DataFrameSchema(
    {
        "customer_id": pa.Column("string", nullable=False, unique=True),
        "tenure": pa.Column("float64", nullable=False, checks=pa.Check.ge(0)),
        "churned": pa.Column("bool", nullable=False),
    },
    strict=False,
    name="subscriptions (snapshot form)",
)

#: Output of :meth:`clm_lib.reduce.engine.Engine.subscription_durations`.
DurationsSchema = pa.DataFrameSchema(
    {
        "customer_id": pa.Column("string", nullable=False),
        "duration": pa.Column("float64", nullable=False, checks=pa.Check.ge(0)),
        "event": pa.Column("bool", nullable=False),
    },
    strict=False,
    name="durations",
)
