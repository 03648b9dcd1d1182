"""Return retention: the cohort matrix under a chosen start event, window, return rule and
base (issue 19, "return rules and windows").

The options (definitions in :mod:`clm_lib.reduce.returns`):

* ``start``: ``"first"`` (cohort = period of the first purchase, one start per customer)
  or ``"recurring"`` (every active period of a customer is a start; Amplitude's and
  PostHog's "first time" vs "recurring" retention).
* ``windows``: ``"calendar"`` (k = calendar periods since the cohort's), ``N`` (rolling
  windows of N days from the start day; window 0 holds it) or day brackets such as
  ``["1-7", "8-30", "31-90"]`` (inclusive days since the start day).
* ``min_purchases``: purchase days (customer-days with a purchase) a start needs in a
  window to count as returned there; in window 0 the start day is one of them.
* ``base``: ``"cohort"`` (share of the cohort's starts) or ``"previous"`` (of the starts
  returned in window k - 1, the share also returned in k; window 0: of the cohort).

With ``"calendar"``, ``"first"``, ``min_purchases=1`` and ``base="cohort"`` the counts are
the cohort study's bounded retention counts.

Observability (what is known about the past does not change when later data arrive):
only cohorts whose period is complete by ``as_of``; a cell (cohort, window) is reported
only when the window is complete for every start of the cohort: calendar, ``cohort + k <=``
the last complete period; day windows, the cohort period's last day plus the window's last
day ``<= as_of``. Other cells are NaN, never 0.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from clm_lib.exceptions import InsufficientDataError, ParameterError
from clm_lib.reduce import returns as rr
from clm_lib.reduce.periods import check_period, period_labels, period_start
from clm_lib.studies.cohort_retention.compute import _input, _Input, data_form

__all__ = ["COMPARISON", "ReturnTable", "average_returns", "return_comparison",
           "return_retention", "rule_text"]

#: The variants of :func:`return_comparison`: name -> options (calendar windows).
COMPARISON = {
    "first": dict(start="first", min_purchases=1, base="cohort"),
    "recurring": dict(start="recurring", min_purchases=1, base="cohort"),
    "previous": dict(start="first", min_purchases=1, base="previous"),
    "min_purchases_2": dict(start="first", min_purchases=2, base="cohort"),
}

#: Name of the starts-per-cohort Series, by start rule.
SIZE_NAMES = {"first": "new customers", "recurring": "active customers"}


@dataclass(frozen=True)
class ReturnTable:
    """Return retention of one rule (:func:`return_retention`).

    Every matrix has cohorts (ISO period labels, index ``cohort``) as rows and windows
    (index ``k`` = 0, 1, ...) as columns, float, NaN where the cell is not observable by
    ``as_of``.

    Attributes
    ----------
    cohort_period : str
    as_of : pd.Timestamp
        Last observed day (inclusive).
    rule : dict
        ``start``, ``windows`` (the parameter value, checked), ``window_kind``
        (``"calendar"``, ``"rolling"``, ``"brackets"``), ``min_purchases`` (purchase
        days), ``base``, ``cohort_period``, ``as_of``, ``as_of_source``.
    windows : DataFrame
        Index ``k``: ``label`` ("k=1", "days 0–29", "days 8–30"), ``first_day`` and
        ``last_day`` (days since the start day, inclusive; NaN for calendar windows).
    sizes : Series
        Starts per cohort (customers; with ``start="recurring"`` customers active in the
        period), int64, named "new customers" or "active customers".
    counts : DataFrame
        Starts returned in window k (``base="previous"``: returned in k and in k - 1).
    base_counts : DataFrame
        The denominator of each cell: the cohort's starts, or (``base="previous"``, k >= 1)
        the starts returned in k - 1.
    """

    cohort_period: str
    as_of: pd.Timestamp
    rule: dict
    windows: pd.DataFrame
    sizes: pd.Series
    counts: pd.DataFrame
    base_counts: pd.DataFrame = field(repr=False)

    @property
    def rates(self) -> pd.DataFrame:
        """``counts / base_counts`` (a fraction); NaN where not observable, or where the
        base is 0 (nobody returned in the window before, ``base="previous"``)."""
        return self.counts / self.base_counts.where(self.base_counts > 0)

    @property
    def observable(self) -> pd.DataFrame:
        """True where the cell is reported."""
        return self.base_counts.notna()

    @property
    def rule_text(self) -> str:
        """The rule in plain words (:func:`rule_text`)."""
        return rule_text(self.rule)

    def describe(self) -> str:
        """:attr:`rule_text`."""
        return self.rule_text

    def average(self, level: float = 0.95) -> pd.DataFrame:
        """:func:`average_returns` of this table."""
        return average_returns(self, level=level)


def average_returns(table: ReturnTable, *, level: float = 0.95) -> pd.DataFrame:
    """Pooled average over cohorts per window: the sum of the counts over the sum of the
    bases, over the cells observable at k (with a base > 0), with a Wilson interval.

    The interval treats the pooled starts as independent trials: it covers the sampling
    noise of the share, not cohort-to-cohort variation (and with ``start="recurring"`` one
    customer contributes several starts, so it is narrower than it should be).

    Returns
    -------
    DataFrame indexed by ``k``: ``label``, ``retention`` (fraction), ``lower``,
    ``upper`` (the ``level`` Wilson interval), ``returned`` and ``base`` (summed counts
    and bases) and ``cohorts`` (cohorts pooled).
    """
    if not 0 < float(level) < 1:
        raise ParameterError(f"level must be between 0 and 1, got {level!r}")
    n = table.counts.to_numpy(dtype=float)
    b = table.base_counts.to_numpy(dtype=float)
    ok = ~np.isnan(n) & ~np.isnan(b) & (b > 0)
    returned = np.where(ok, n, 0.0).sum(axis=0)
    base = np.where(ok, b, 0.0).sum(axis=0)
    cohorts = ok.sum(axis=0)
    rate = np.full(len(base), np.nan)
    lo, hi = rate.copy(), rate.copy()
    has = base > 0
    if has.any():
        rate[has] = returned[has] / base[has]
        lo[has], hi[has] = proportion_confint(returned[has], base[has], alpha=1 - float(level),
                                              method="wilson")
        # the interval's float noise at 0 and 1 (e.g. 1e-18 for a share of 0)
        lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
        lo[has & (returned == 0)] = 0.0
        hi[has & (returned == base)] = 1.0
    return pd.DataFrame({"label": table.windows["label"].to_numpy(), "retention": rate,
                         "lower": lo, "upper": hi, "returned": returned, "base": base,
                         "cohorts": cohorts.astype(np.int64)},
                        index=table.counts.columns.copy())


def _window_frame(w: rr.Windows, n_windows: int) -> pd.DataFrame:
    k = pd.RangeIndex(n_windows, name="k")
    if w.kind == rr.CALENDAR:
        return pd.DataFrame({"label": [f"k={i}" for i in k], "first_day": np.nan,
                             "last_day": np.nan}, index=k)
    if w.kind == rr.ROLLING:
        first = np.asarray(k) * w.days
        last = first + w.days - 1
    else:
        first = np.array([a for a, _ in w.brackets])
        last = np.array([b for _, b in w.brackets])
    return pd.DataFrame({"label": [f"days {a}\u2013{b}" for a, b in zip(first, last)],
                         "first_day": first.astype(float), "last_day": last.astype(float)},
                        index=k)


def _return_table(inp: _Input, *, start: str, windows: rr.Windows, min_purchases: int,
                  base: str) -> ReturnTable:
    previous = base == "previous"
    raw = inp.eng.to_pandas(rr.return_counts(
        inp.table, cohort_period=inp.cohort_period, as_of=inp.as_of, last_period=inp.last,
        start=start, windows=windows, min_purchases=min_purchases, previous=previous))
    starts = raw.loc[raw["what"] == "starts"].set_index("cohort_index")["n"].sort_index()
    if starts.empty:
        raise InsufficientDataError("no customer bought in a period complete by as_of")
    cohorts = starts.index.to_numpy(dtype=np.int64)
    labels = pd.Index(period_labels(cohorts, inp.cohort_period), name="cohort")
    as_of = pd.Timestamp(inp.as_of)
    if windows.kind == rr.CALENDAR:
        n_windows = int(inp.last - cohorts.min()) + 1
        k = np.arange(n_windows)
        observable = cohorts[:, None] + k[None, :] <= inp.last
    else:
        # days from the last day of each cohort period to as_of
        ends = period_start(cohorts + 1, inp.cohort_period) - pd.Timedelta(days=1)
        lag = np.asarray((as_of - ends).days, dtype=np.int64)
        if windows.kind == rr.ROLLING:
            n_windows = max(1, int((lag.max() + 1) // windows.days))
        else:
            n_windows = len(windows.brackets)
        last_day = _window_frame(windows, n_windows)["last_day"].to_numpy()
        observable = lag[:, None] >= last_day[None, :]
    wf = _window_frame(windows, n_windows)
    ks = wf.index

    def matrix(what):
        part = raw.loc[raw["what"] == what]
        m = (part.pivot(index="cohort_index", columns="window", values="n")
             .reindex(index=cohorts, columns=ks).fillna(0).to_numpy(dtype=float))
        return m

    size = starts.to_numpy(dtype=float)[:, None]
    returned = matrix("returned")
    if previous:
        counts = matrix("both")
        counts[:, 0] = returned[:, 0]
        bases = np.concatenate([size, returned[:, :-1]], axis=1)
    else:
        counts = returned
        bases = np.repeat(size, n_windows, axis=1)

    def frame(m):
        return pd.DataFrame(np.where(observable, m, np.nan), index=labels.copy(),
                            columns=ks.copy())

    rule = {"start": start, "windows": windows.spec(), "window_kind": windows.kind,
            "min_purchases": int(min_purchases), "base": base,
            "cohort_period": inp.cohort_period, "as_of": str(inp.as_of),
            "as_of_source": inp.as_of_source}
    sizes = pd.Series(starts.to_numpy(dtype=np.int64), index=labels.copy(),
                      name=SIZE_NAMES[start])
    return ReturnTable(inp.cohort_period, as_of, rule, wf, sizes, frame(counts), frame(bases))


def _checked(data, cohort_period, as_of, engine):
    check_period(cohort_period)
    form = data_form(data)
    if form != "transactions":
        raise ParameterError(
            f"start, windows, min_purchases and base apply to transactions (a purchase log "
            f"with customer_id and timestamp); this input is {form} subscriptions, whose "
            f"retention is the cohort study's survival (retention_tables)")
    return _input(data, cohort_period, as_of, engine)


def return_retention(data, cohort_period: str = "month", *, as_of, start: str = "first",
                     windows="calendar", min_purchases: int = 1, base: str = "cohort",
                     engine="duckdb") -> ReturnTable:
    """Return retention of transactions by cohort and window, under one rule.

    Parameters
    ----------
    data : DataFrame, path or engine table
        Transactions: ``customer_id``, ``timestamp`` (``amount`` is not needed). A path is
        read with the transactions data contract.
    cohort_period : {"week", "month", "quarter", "year"}
        The calendar period of a cohort (and of a calendar window).
    as_of : date-like or None
        Last observed day (inclusive); None: the last day in the data.
    start : {"first", "recurring"}
        ``"first"``: a customer's first purchase day is their one start; ``"recurring"``:
        each calendar period with a purchase is a start, dated on its first purchase day.
    windows : "calendar", int or list of day ranges
        ``"calendar"``: window k is the k-th calendar period after the cohort's; an int
        ``N`` (days): window k covers days ``k*N .. k*N + N - 1`` since the start day;
        a list like ``["1-7", "8-30", "31-90"]`` or ``[(1, 7), (8, 30)]`` (also the text
        ``"1-7,8-30,31-90"``): inclusive days since the start day, from day 1,
        increasing, not overlapping.
    min_purchases : int, default 1
        Purchase days (customer-days with a purchase) needed in a window to count as
        returned there; window 0 counts the start day.
    base : {"cohort", "previous"}
        ``"cohort"``: share of the cohort's starts; ``"previous"``: of the starts
        returned in window k - 1, the share returned in k (window 0: of the cohort).
    engine : {"duckdb", "spark", "pandas"} or Engine

    Returns
    -------
    ReturnTable

    Raises
    ------
    ParameterError
        An option out of range (the message names it), or subscription data.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...                    "timestamp": pd.to_datetime(["2020-01-05", "2020-01-09",
    ...                                                 "2020-02-01", "2020-01-20"])})
    >>> t = return_retention(tx, as_of="2020-03-31", windows=["1-7", "8-30"])
    >>> t.counts.loc["2020-01"].tolist(), t.sizes.tolist()  # a returned on days 4 and 27
    ([1.0, 1.0], [2])
    """
    kw = dict(start=rr.check_start(start), windows=rr.check_windows(windows),
              min_purchases=rr.check_min_purchases(min_purchases), base=rr.check_base(base))
    return _return_table(_checked(data, cohort_period, as_of, engine), **kw)


def return_comparison(data, cohort_period: str = "month", *, as_of,
                      engine="duckdb") -> dict[str, ReturnTable]:
    """The :data:`COMPARISON` variants with calendar windows, on one loaded input:
    ``"first"``, ``"recurring"``, ``"previous"`` (relative to the previous period) and
    ``"min_purchases_2"``."""
    inp = _checked(data, cohort_period, as_of, engine)
    return {name: _return_table(inp, windows=rr.Windows(rr.CALENDAR), **kw)
            for name, kw in COMPARISON.items()}


# ---------------------------------------------------------------------------------------
# The rule in words
# ---------------------------------------------------------------------------------------
def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def rule_text(rule: dict) -> str:
    """One sentence saying what a cell of the matrix is, from a :attr:`ReturnTable.rule`.

    >>> print(rule_text({"start": "first", "windows": ["8-30"], "window_kind": "brackets",
    ...                  "min_purchases": 2, "base": "cohort", "cohort_period": "month"}))
    Share of customers (first purchase in the month) with at least 2 purchase days in
    days 8–30 after their first purchase
    """
    u = rule["cohort_period"]
    m = int(rule["min_purchases"])
    if rule["start"] == "first":
        who = f"Share of customers (first purchase in the {u})"
        since = "their first purchase"
        since_period = f"the {u} of their first purchase"
    else:
        who = (f"Share of customers active in the {u} (each {u} with a purchase is a start, "
               f"from its first purchase day)")
        since = f"the first purchase of that {u}"
        since_period = f"that {u}"
    what = "at least one purchase day" if m == 1 else f"at least {m} purchase days"
    kind = rule["window_kind"]
    if kind == rr.CALENDAR:
        where = f"in the k-th {u} after {since_period} (k=0: that {u} itself)"
    elif kind == rr.ROLLING:
        n = int(rule["windows"])
        where = (f"in the k-th {n}-day window after {since} (window k: days "
                 f"{n}k to {n}k+{n - 1}; day 0 is the purchase day itself)")
    else:
        ranges = [w.replace("-", "\u2013") for w in rule["windows"]]
        where = (f"in days {ranges[0]} after {since}" if len(ranges) == 1 else
                 f"in days {_join(ranges)} after {since}, each range on its own")
    text = f"{who} with {what} {where}"
    if m > 1 and kind != rr.BRACKETS:
        text += " (the start day counts as one)"
    if rule["base"] == "previous":
        first = "k=0" if kind == rr.CALENDAR else "the first window"
        text += (f", among those who returned in the window before ({first}: among all "
                 f"of them)")
    return text
