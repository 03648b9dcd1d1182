"""Growth accounting per calendar period (the lifecycle view): who was new, returning,
resurrecting or went dormant, and the revenue bridge from one period to the next.

Definitions (transactions; a customer is *active* in a period when she has a purchase
row in it, whatever its amount; data up to and including ``as_of``):

* **new** in period ``t``: the customer's first active period is ``t``;
* **returning**: active in ``t`` and in ``t - 1``;
* **resurrecting**: active in ``t``, not in ``t - 1``, and in some period before ``t - 1``;
* **dormant**: active in ``t - 1``, not in ``t`` (dormant customers are not active);
* **revenue** of a period: the summed ``amount`` of its purchases (data currency);
  **new revenue** that of the new customers, **resurrected revenue** that of the
  resurrecting; **expansion** the sum over returning customers of their increase over
  their ``t - 1`` revenue, **contraction** the sum of their decreases, as a positive
  amount; **churned revenue** the ``t - 1`` revenue of the customers dormant in ``t``;
* **quick ratio** ``(new + resurrecting) / dormant`` and **revenue quick ratio**
  ``(new + expansion + resurrected) / (contraction + churned)``: above 1 the base grows,
  below 1 it shrinks; NaN (not infinity) when the denominator is 0.

Identities that hold in every period (tested): ``active(t) = new + returning +
resurrecting``; ``dormant(t) = active(t - 1) - returning(t)``; ``revenue(t) = revenue(t - 1)
+ new + expansion - contraction - churned + resurrected``.

Periods reported: every calendar period from the one of the first purchase up to the
last one complete by ``as_of`` (inclusive date), periods without purchases included
(zeros). **The first period** has no observed ``t - 1``: it is reported with
``active(t - 1) = 0`` and ``revenue(t - 1) = 0``, so every active customer is new, nobody
is dormant and both quick ratios are NaN; its "new" means first seen in the data.

Every status looks back one period, so a past period's figures never change when later
purchases arrive. Subscription data are refused (:class:`ParameterError`): their
activity is a span, not purchases; use the cohort study's retention and churn.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from clm_lib.exceptions import ParameterError
from clm_lib.reduce.growth import GROWTH_COLUMNS, growth_counts
from clm_lib.reduce.periods import period_labels
from clm_lib.studies.cohort_retention.compute import _input, _Input

__all__ = ["COUNT_COLUMNS", "REVENUE_COLUMNS", "growth_accounting", "quick_ratios"]

#: Customer counts of :func:`growth_accounting` (customers).
COUNT_COLUMNS = ("active", "previous_active", "new", "returning", "resurrecting", "dormant")
#: Revenue columns of :func:`growth_accounting` (data currency).
REVENUE_COLUMNS = ("revenue", "previous_revenue", "new_revenue", "expansion",
                   "contraction", "churned_revenue", "resurrected_revenue")

RULES = {
    "active": "customers with a purchase in the period",
    "new": "first purchase in the period",
    "returning": "active in the period and in the previous one",
    "resurrecting": "active in the period, not in the previous one, active before it",
    "dormant": "active in the previous period, not in this one",
    "expansion": "returning customers' increase over their previous-period revenue",
    "contraction": "returning customers' decrease from their previous-period revenue "
                   "(a positive amount)",
    "churned_revenue": "previous-period revenue of the customers dormant in the period",
    "quick_ratio": "(new + resurrecting) / dormant; NaN when no customer went dormant",
    "revenue_quick_ratio": "(new + expansion + resurrected) / (contraction + churned); "
                           "NaN when the denominator is 0",
    "first_period": "no previous period observed: counted with 0 active and 0 revenue "
                    "before it, so everyone active is new, nobody dormant, ratios NaN",
}


def _transactions(data, cohort_period: str, as_of, engine) -> _Input:
    inp = _input(data, cohort_period, as_of, engine)
    if inp.form != "transactions":
        raise ParameterError(f"data: growth accounting needs transactions (customer_id, "
                             f"timestamp, amount), got {inp.form} subscriptions; their "
                             "activity is a span, not purchases (use the cohort study's "
                             "retention and churn)")
    return inp


def _ratio(num, den) -> np.ndarray:
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def quick_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """``quick_ratio`` and ``revenue_quick_ratio`` of a growth table (NaN, not inf, when
    the denominator is 0)."""
    return pd.DataFrame({
        "quick_ratio": _ratio(frame["new"] + frame["resurrecting"], frame["dormant"]),
        "revenue_quick_ratio": _ratio(
            frame["new_revenue"] + frame["expansion"] + frame["resurrected_revenue"],
            frame["contraction"] + frame["churned_revenue"]),
    }, index=frame.index)


def growth_accounting(data, cohort_period: str = "month", *, as_of,
                      engine="duckdb") -> pd.DataFrame:
    """Growth accounting per complete calendar period (see the module notes).

    Parameters
    ----------
    data : DataFrame, path or engine table
        Transactions: ``customer_id``, ``timestamp``, optional ``amount`` (missing:
        revenue 0). A path is read with the transactions data contract.
    cohort_period : {"week", "month", "quarter", "year"}
        The calendar period (ISO weeks start on Monday).
    as_of : date-like or None
        Last observed day (inclusive); None: the last day in the data. Only periods
        complete by it are reported.
    engine : {"duckdb", "spark", "pandas"} or Engine
        Where the log is reduced; one row per period comes back.

    Returns
    -------
    DataFrame indexed by ``period`` (ISO label, e.g. ``"1998-06"``), one row per period
    from the first purchase's to the last complete one: :data:`COUNT_COLUMNS` (int,
    customers), :data:`REVENUE_COLUMNS` (float, data currency; ``contraction`` positive),
    ``quick_ratio`` and ``revenue_quick_ratio`` (float, NaN when the denominator is 0).
    ``attrs``: ``cohort_period``, ``as_of`` (ISO date), ``has_revenue``, ``rules``.
    Empty (no rows) when no purchase falls in a complete period.

    Raises
    ------
    ParameterError
        ``cohort_period`` or ``engine`` unknown, or subscription data.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...                    "timestamp": pd.to_datetime(["2020-01-05", "2020-03-01",
    ...                                                 "2020-02-09"]),
    ...                    "amount": [10.0, 5.0, 7.0]})
    >>> g = growth_accounting(tx, "month", as_of="2020-03-31")
    >>> g[["active", "new", "returning", "resurrecting", "dormant"]].values.tolist()
    [[1, 1, 0, 0, 0], [1, 1, 0, 0, 1], [1, 0, 0, 1, 1]]
    """
    inp = _transactions(data, cohort_period, as_of, engine)
    raw = inp.eng.to_pandas(growth_counts(inp.table, cohort_period=cohort_period,
                                          as_of=inp.as_of, last_period=inp.last))
    return _table(raw, inp)


def _table(raw: pd.DataFrame, inp: _Input) -> pd.DataFrame:
    raw = raw.set_index("period").sort_index()
    first = int(raw.index.min()) if len(raw) else inp.last + 1
    codes = np.arange(first, inp.last + 1, dtype=np.int64)
    g = raw.reindex(codes).fillna(0)
    counts = [c for c in GROWTH_COLUMNS if c in COUNT_COLUMNS]
    g[counts] = g[counts].astype("int64")
    money = [c for c in GROWTH_COLUMNS if c in REVENUE_COLUMNS]
    g[money] = g[money].astype("float64")
    g["previous_active"] = g["active"].shift(1, fill_value=0).astype("int64")
    g["previous_revenue"] = g["revenue"].shift(1, fill_value=0.0).astype("float64")
    g = g[list(COUNT_COLUMNS) + list(REVENUE_COLUMNS)]
    g = pd.concat([g, quick_ratios(g)], axis=1)
    g.index = pd.Index(period_labels(codes, inp.cohort_period), name="period")
    g.attrs.update(cohort_period=inp.cohort_period, as_of=inp.as_of.isoformat(),
                   has_revenue=inp.has_revenue, rules=dict(RULES))
    return g

