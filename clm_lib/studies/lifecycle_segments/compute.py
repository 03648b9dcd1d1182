"""Customer lifecycle: stages, flows between two dates, the repeat ladder, reactivation,
leads conversion and the value of retention.

Everything is computed from purchase *days* (all purchases of one customer on one calendar
day count once, amounts summed, as in :func:`clm_lib.reduce.pandas_reductions.daily_transactions`).

Stages at a date ``d`` (first matching rule wins, so every customer has exactly one stage;
only purchases on or before ``d`` are seen):

=================  =============================================================================
stage              rule
=================  =============================================================================
lapsed             no purchase for more than ``lapsed_days`` days
new                first purchase within the last ``new_days`` days
reactivated        a purchase after a gap of more than ``lapsed_days`` days, within the last
                   ``new_days`` days
at risk            no purchase for more than ``at_risk_days`` days (but not lapsed)
loyal/VIP          two or more purchase days and both purchase days and spend to date at or
                   above the ``vip_quantile`` of repeat customers at ``d``
active repeat      two or more purchase days
one-time buyer     one purchase day, older than ``new_days``, not yet at risk
=================  =============================================================================

Default thresholds come from the gaps between consecutive purchase days of all customers
up to ``as_of`` (:func:`derive_thresholds`): ``new_days`` the median gap, ``at_risk_days``
the 75th and ``lapsed_days`` the 90th percentile, so "lapsed" means a silence longer than
90 % of the gaps after which customers did come back.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clm_lib.exceptions import (DataContractError, InsufficientDataError, ParameterError)
from clm_lib.reduce.pandas_reductions import (customer_histories, is_customer_histories, purchase_day_gaps,
                                unit_days)
from clm_lib.checks import require_columns as _need

__all__ = [
    "STAGES", "Thresholds", "derive_thresholds", "customer_stages", "stage_table",
    "default_flow_start", "transition_matrix", "flow_counts", "repeat_ladder",
    "time_to_second_purchase", "reactivation_comparison", "leads_conversion",
    "retention_what_if", "what_if_note", "LifecycleStudy", "lifecycle_study",
    "summary_lines", "customer_export", "lifecycle_metrics", "percent_columns",
    "stages_by_segment",
]

#: Stage names in display order (the order of the rules differs, see the module docstring).
STAGES = ("new", "one-time buyer", "active repeat", "loyal/VIP", "reactivated",
          "at risk", "lapsed")
NOT_YET = "not yet a customer"


#: Columns of :func:`clm_lib.reduce.pandas_reductions.customer_histories` the stages need.
HISTORY_COLUMNS = ("purchase_days", "spend", "first_purchase", "last_purchase",
                   "last_reactivation")


def _histories(data, *, date, lapsed_days: int, window_days: int | None = None) -> pd.DataFrame:
    """``data`` as per-customer histories at ``date``: a histories frame (from
    :func:`clm_lib.reduce.pandas_reductions.customer_histories` or an engine's) is checked and used as
    it is; transactions are reduced here."""
    d = pd.Timestamp(date).normalize()
    if not is_customer_histories(data):
        _need(data, ["customer_id", "timestamp", "amount"], "transactions")
        return customer_histories(data, date=d, lapsed_days=lapsed_days, window_days=window_days)
    _need(data, HISTORY_COLUMNS, "customer histories")
    want = {"date": str(d.date()), "lapsed_days": int(lapsed_days)}
    if window_days is not None:
        want["window_days"] = int(window_days)
    got = {k: data.attrs.get(k) for k in want}
    if any(v is not None and v != want[k] for k, v in got.items()):
        raise ParameterError(f"the customer histories were reduced with {got}, not {want}")
    return data


@dataclass(frozen=True)
class Thresholds:
    """Stage thresholds in days, and where each came from (``"parameter"`` or a quantile)."""

    new_days: int
    at_risk_days: int
    lapsed_days: int
    vip_quantile: float = 0.8
    source: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Display table: threshold, days, origin."""
        rows = [("new: first purchase within", f"{self.new_days} days", self.source.get("new_days", "")),
                ("at risk: no purchase for more than", f"{self.at_risk_days} days",
                 self.source.get("at_risk_days", "")),
                ("lapsed: no purchase for more than", f"{self.lapsed_days} days",
                 self.source.get("lapsed_days", "")),
                ("reactivated: bought again after lapsing, within", f"{self.new_days} days",
                 "same as new"),
                ("loyal/VIP: purchase days and spend both in the top", f"{1 - self.vip_quantile:.0%}",
                 "of repeat customers (parameter)")]
        return pd.DataFrame(rows, columns=["rule", "threshold", "origin"]).set_index("rule")

    def to_dict(self) -> dict:
        return {"new_days": self.new_days, "at_risk_days": self.at_risk_days,
                "lapsed_days": self.lapsed_days, "vip_quantile": self.vip_quantile,
                "source": dict(self.source)}


def _gap_quantile(gaps: pd.Series, q: float) -> float:
    """``np.quantile`` (linear interpolation) of the gaps given as counts per length: the
    same arithmetic on the two gaps around the quantile's position, so the result is
    identical to that of the expanded gaps."""
    counts = gaps.to_numpy(dtype=np.int64)
    values = gaps.index.to_numpy(dtype=float)
    n = int(counts.sum())
    h = (n - 1) * q
    lo = int(np.floor(h))
    cum = np.cumsum(counts)
    x_lo = values[np.searchsorted(cum, lo, side="right")]
    x_hi = values[np.searchsorted(cum, min(lo + 1, n - 1), side="right")]
    return float(np.quantile(np.array([x_lo, x_hi]), h - lo))


def derive_thresholds(transactions, *, as_of, new_days: int | None = None,
                      at_risk_days: int | None = None, lapsed_days: int | None = None,
                      vip_quantile: float = 0.8) -> Thresholds:
    """Stage thresholds: the given values, or quantiles of the inter-purchase gaps.

    Parameters
    ----------
    transactions : DataFrame or Series
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``), or the gaps
        already counted per length (:func:`clm_lib.reduce.pandas_reductions.purchase_day_gaps`, or
        :meth:`clm_lib.reduce.engine.Engine.purchase_day_gaps` on any engine).
    as_of : date-like
        Only purchase days up to this day (inclusive) are used.
    new_days, at_risk_days, lapsed_days : int, optional
        Thresholds in days; ``None`` = the 50th, 75th, 90th percentile of the gaps (days)
        between consecutive purchase days of the same customer, rounded up.
    vip_quantile : float
        Loyal/VIP customers have purchase days and spend at or above this quantile.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a"] * 3, "amount": [1.0] * 3,
    ...                    "timestamp": pd.to_datetime(["2020-01-01", "2020-01-11", "2020-01-31"])})
    >>> derive_thresholds(tx, as_of="2020-02-01").lapsed_days   # gaps 10, 20: 90 % quantile 19
    19
    """
    if not 0 < vip_quantile < 1:
        raise ParameterError("vip_quantile must be in (0, 1)")
    if isinstance(transactions, pd.Series):
        gaps = transactions
    else:
        _need(transactions, ["customer_id", "timestamp", "amount"], "transactions")
        gaps = purchase_day_gaps(transactions, as_of=as_of)
    n_gaps = int(gaps.sum())
    source, vals = {}, {}
    for name, given, q in (("new_days", new_days, 0.5), ("at_risk_days", at_risk_days, 0.75),
                           ("lapsed_days", lapsed_days, 0.9)):
        if given is not None:
            if given <= 0:
                raise ParameterError(f"{name} must be a positive number of days")
            vals[name], source[name] = int(given), "parameter"
        else:
            if n_gaps == 0:
                raise InsufficientDataError(
                    f"{name}: no repeat purchases to derive it from; pass it explicitly")
            vals[name] = int(np.ceil(_gap_quantile(gaps, q)))
            source[name] = f"{q:.0%} quantile of {n_gaps:,} inter-purchase gaps"
    if (source["at_risk_days"] != "parameter" and source["lapsed_days"] == "parameter"
            and vals["at_risk_days"] > vals["lapsed_days"]):
        # a short lapsed_days given by the user caps the derived at-risk threshold
        vals["at_risk_days"] = vals["lapsed_days"]
        source["at_risk_days"] += f", capped at lapsed_days ({vals['lapsed_days']})"
    if not vals["at_risk_days"] <= vals["lapsed_days"]:
        raise ParameterError(f"at_risk_days ({vals['at_risk_days']}) must not exceed "
                             f"lapsed_days ({vals['lapsed_days']})")
    return Thresholds(vals["new_days"], vals["at_risk_days"], vals["lapsed_days"],
                      float(vip_quantile), source)


def customer_stages(transactions, *, date, thresholds: Thresholds) -> pd.DataFrame:
    """Lifecycle stage of every customer with a purchase on or before ``date``.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``), or their
        per-customer histories at ``date`` reduced with ``thresholds.lapsed_days``
        (:func:`clm_lib.reduce.pandas_reductions.customer_histories`, or
        :meth:`clm_lib.reduce.engine.Engine.customer_histories` on any engine).
    date : date-like
        Day at which stages are assessed (inclusive).
    thresholds : Thresholds
        From :func:`derive_thresholds`.

    Returns
    -------
    DataFrame indexed by ``customer_id``: ``stage`` (categorical, :data:`STAGES`),
    ``purchase_days``, ``spend`` (to date), ``first_purchase``, ``last_purchase``,
    ``last_reactivation`` (NaT if never), ``days_since_last``, ``days_since_first``.
    """
    d = pd.Timestamp(date).normalize()
    th = thresholds
    per = _histories(transactions, date=d, lapsed_days=th.lapsed_days)
    per = per[list(HISTORY_COLUMNS)].copy()
    since_last = (d - per["last_purchase"]).dt.days
    since_first = (d - per["first_purchase"]).dt.days
    since_react = (d - per["last_reactivation"]).dt.days
    repeat = per["purchase_days"] >= 2
    if repeat.any():
        f_cut = per.loc[repeat, "purchase_days"].quantile(th.vip_quantile)
        s_cut = per.loc[repeat, "spend"].quantile(th.vip_quantile)
        vip = repeat & (per["purchase_days"] >= f_cut) & (per["spend"] >= s_cut)
    else:
        vip = repeat
    conditions = [since_last > th.lapsed_days, since_first <= th.new_days,
                  since_react.le(th.new_days).fillna(False).astype(bool),
                  since_last > th.at_risk_days, vip, repeat]
    choices = ["lapsed", "new", "reactivated", "at risk", "loyal/VIP", "active repeat"]
    stage = np.select([np.asarray(c, bool) for c in conditions], choices, default="one-time buyer")
    per.insert(0, "stage", pd.Categorical(stage, categories=list(STAGES)))
    per["days_since_last"] = since_last
    per["days_since_first"] = since_first
    per.attrs = {"date": str(d.date())}
    return per


def stage_table(stages: pd.DataFrame, values: pd.Series | None = None) -> pd.DataFrame:
    """Customers, share, revenue to date and its share per stage (plus value share if
    ``values``, e.g. CLV, indexed by customer, is given)."""
    _need(stages, ["stage", "spend"], "stages")
    t = stages.groupby("stage", observed=False).agg(customers=("spend", "size"), revenue=("spend", "sum"))
    t["customer_share"] = t["customers"] / t["customers"].sum()
    t["revenue_share"] = t["revenue"] / t["revenue"].sum()
    if values is not None:
        v = values.reindex(stages.index).fillna(0.0).groupby(stages["stage"], observed=False).sum()
        t["clv"] = v
        t["clv_share"] = v / v.sum() if v.sum() > 0 else np.nan
    return t


def stages_by_segment(stages: pd.DataFrame, column: str = "segment_value") -> pd.DataFrame:
    """Share of each segment's customers in each stage (rows: segment values, columns:
    stages, plus ``customers``); ``column`` holds each customer's segment."""
    _need(stages, ["stage", column], "stages")
    seg = stages[column].astype("string").fillna("(missing)")
    t = pd.crosstab(seg, stages["stage"], normalize="index", dropna=False)
    t = t.reindex(columns=list(STAGES), fill_value=0.0)
    t.insert(0, "customers", seg.value_counts().reindex(t.index).astype(int))
    t.index.name = "segment"
    return t


def default_flow_start(as_of, months: int = 6) -> str:
    """``as_of`` minus ``months`` calendar months (ISO date)."""
    return str((pd.Timestamp(as_of) - pd.DateOffset(months=months)).date())


def transition_matrix(start: pd.DataFrame, end: pd.DataFrame) -> pd.DataFrame:
    """Customers by stage at the first date (rows) and at the second (columns).

    Customers acquired between the dates form the row ``"not yet a customer"``; each other
    row sums to the stage's count at the first date.
    """
    _need(start, ["stage"], "stages at the first date")
    _need(end, ["stage"], "stages at the second date")
    s = start["stage"].astype(object).reindex(end.index).fillna(NOT_YET)
    missing = start.index.difference(end.index)
    if len(missing):
        raise ParameterError(f"{len(missing)} customers at the first date are missing at the second; "
                             "the second date must not precede the first")
    rows = [NOT_YET] + list(STAGES)
    m = pd.crosstab(pd.Categorical(s, categories=rows), end["stage"], dropna=False)
    m = m.reindex(index=rows, columns=list(STAGES), fill_value=0).astype(int)
    m.index.name, m.columns.name = "from", "to"
    m.attrs.update({"start": start.attrs.get("date"), "end": end.attrs.get("date")})
    return m


def flow_counts(matrix: pd.DataFrame) -> dict:
    """Headline flows from a :func:`transition_matrix`."""
    def cell(a, b):
        return int(matrix.loc[a, b]) if a in matrix.index and b in matrix.columns else 0
    active = ["active repeat", "loyal/VIP", "reactivated"]
    return {
        "new became repeat": sum(cell("new", b) for b in ("active repeat", "loyal/VIP")),
        "new became one-time buyers": cell("new", "one-time buyer"),
        "active became at risk or lapsed": sum(cell(a, b) for a in active for b in ("at risk", "lapsed")),
        "at risk became lapsed": cell("at risk", "lapsed"),
        # any move out of "lapsed" needs a purchase after a gap longer than lapsed_days
        "lapsed were reactivated": sum(cell("lapsed", b) for b in STAGES if b != "lapsed"),
        "newly acquired": int(matrix.loc[NOT_YET].sum()) if NOT_YET in matrix.index else 0,
    }


def repeat_ladder(stages: pd.DataFrame, max_k: int = 10, min_customers: int = 20) -> pd.DataFrame:
    """P(k+1 purchase days | k purchase days) for k = 1, 2, ... .

    Parameters
    ----------
    stages : DataFrame
        ``purchase_days`` per customer (from :func:`customer_stages`).
    max_k : int
        Last rung.
    min_customers : int
        Rungs with fewer customers reaching k are not shown.

    Returns
    -------
    DataFrame indexed by ``k``: ``reached_k``, ``reached_k_plus_1``, ``p_next``. Customers
    still early in their history may yet climb, so the ratios are lower bounds of the
    eventual rates.
    """
    _need(stages, ["purchase_days"], "stages")
    n = stages["purchase_days"].to_numpy()
    rows = []
    for k in range(1, int(max_k) + 1):
        reached = int((n >= k).sum())
        if reached < min_customers:
            break
        nxt = int((n >= k + 1).sum())
        rows.append({"k": k, "reached_k": reached, "reached_k_plus_1": nxt, "p_next": nxt / reached})
    return pd.DataFrame(rows, columns=["k", "reached_k", "reached_k_plus_1", "p_next"]).set_index("k")


def time_to_second_purchase(transactions, *, as_of, time_unit: str = "week"):
    """Kaplan-Meier of the time from first to second purchase day (no second purchase by
    ``as_of``: censored at ``as_of``).

    ``transactions`` are canonical transactions or their per-customer histories at
    ``as_of`` (:func:`clm_lib.reduce.pandas_reductions.customer_histories`, any engine).

    Returns
    -------
    (durations DataFrame with ``duration`` (time units) and ``event``, fitted
    :class:`lifelines.KaplanMeierFitter`)
    """
    from lifelines import KaplanMeierFitter

    d = pd.Timestamp(as_of).normalize()
    if is_customer_histories(transactions):
        _need(transactions, ["first_purchase", "second_purchase"], "customer histories")
        hist = transactions
    else:  # the reactivation threshold plays no part here
        hist = _histories(transactions, date=d, lapsed_days=0)
    first, second = hist["first_purchase"], hist["second_purchase"]
    end = second.fillna(d)
    df = pd.DataFrame({"duration": (end - first).dt.days / unit_days(time_unit),
                       "event": second.notna()})
    kmf = KaplanMeierFitter().fit(df["duration"], df["event"], label="time to 2nd purchase")
    return df, kmf


def reactivation_comparison(transactions, *, as_of, thresholds: Thresholds,
                            window_days: int | None = None) -> pd.DataFrame:
    """Later behaviour of reactivated customers vs newly acquired ones.

    For new customers the start is the first purchase day; for reactivated customers the
    first purchase day after a gap of more than ``lapsed_days``. Only starts at least
    ``window_days`` (default ``lapsed_days``) before ``as_of`` are compared, so every
    customer is followed for the full window.

    ``transactions`` are canonical transactions or their per-customer histories at
    ``as_of`` reduced with ``lapsed_days`` and ``window_days``
    (:func:`clm_lib.reduce.pandas_reductions.customer_histories`, any engine).

    Returns
    -------
    DataFrame indexed by group (``new``, ``reactivated``): ``customers``,
    ``repurchase_rate`` (share with another purchase day in the window),
    ``purchase_days_per_customer`` and ``spend_per_customer`` (in the window, after the
    start day), ``start_spend`` (mean spend on the start day), ``window_days``.
    """
    d = pd.Timestamp(as_of).normalize()
    w = int(window_days if window_days is not None else thresholds.lapsed_days)
    hist = _histories(transactions, date=d, lapsed_days=thresholds.lapsed_days, window_days=w)
    last_start = d - pd.Timedelta(days=w)
    rows = {}
    for name, start, prefix, spend in (
            ("new", "first_purchase", "new", "first_day_spend"),
            ("reactivated", "first_reactivation", "react", "reactivation_day_spend")):
        h = hist.loc[hist[start].notna() & (hist[start] <= last_start)]
        n = len(h)
        if n == 0:
            rows[name] = {"customers": 0}
            continue
        days = h[f"{prefix}_window_days"]
        rows[name] = {"customers": n, "repurchase_rate": float((days > 0).sum() / n),
                      "purchase_days_per_customer": float(days.sum() / n),
                      "spend_per_customer": float(h[f"{prefix}_window_spend"].sum() / n),
                      "start_spend": float(h[spend].mean())}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out["window_days"] = w
    out.index.name = "group"
    return out


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
    from clm_lib.studies.survival_churn.compute import kaplan_meier

    _need(leads, ["lead_id", "created", "source", "converted"], "leads")
    d = pd.Timestamp(as_of).normalize()
    created = pd.to_datetime(leads["created"], errors="coerce")
    conv = pd.to_datetime(leads["converted"], errors="coerce")
    bad = created.isna()
    if bad.any():
        raise DataContractError("created", "no valid created date (load leads with "
                                "clm_lib.io.pandas_contract.load_leads to drop and count such rows)",
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
                       "duration": ((conv.fillna(d) - created).dt.days) / unit_days(time_unit)})[keep]
    kms = kaplan_meier(df, segment="source")
    t = df.groupby("source", observed=True).agg(leads=("event", "size"), converted=("event", "sum"))
    t.loc["All"] = [len(df), int(df["event"].sum())]
    t["conversion_rate"] = t["converted"] / t["leads"]
    t["median_time_to_conversion"] = [float(kms[str(s)].median_survival_time_) if str(s) in kms else np.nan
                                      for s in t.index]
    t["median_time_to_conversion"] = t["median_time_to_conversion"].replace(np.inf, np.nan)
    t.attrs["dropped"] = {"leads created after as_of": int((~keep).sum())}
    return t, df, kms


def retention_what_if(model, spend_model, data: pd.DataFrame, *, points=(1, 5, 10),
                      horizon: int, discount_rate: float, margin: float) -> pd.DataFrame:
    """Value of lowering churn: change in expected customer-base value over ``horizon``.

    Churn is the BG/NBD's dropout probability after each repeat purchase, ``p ~ Beta(a, b)``
    with mean ``a / (a + b)``. Lowering churn by ``x`` points sets the mean to
    ``a/(a+b) - x/100`` with the concentration ``a + b`` unchanged. Who is alive today is
    what the data say (P(alive) under the fitted parameters); only the future changes: the
    expected purchases of an alive customer are recomputed with the new ``(a, b)``. Value =
    ``margin`` x Gamma-Gamma expected spend x discounted expected purchases, summed over
    customers. Points at or above the mean dropout give NaN.

    Parameters
    ----------
    model : fitted :class:`~clm_lib.clv.bgnbd.BetaGeoModel`
    spend_model : fitted :class:`~clm_lib.clv.gamma_gamma.GammaGammaModel`
    data : DataFrame
        ``frequency``, ``recency``, ``T``, ``monetary_value`` (and ``spend_frequency``).
    points : sequence of float
        Reductions of the mean dropout probability, in percentage points.
    horizon : int
        Time units ahead. discount_rate : per time unit. margin : fraction of spend.

    Returns
    -------
    DataFrame indexed by ``points`` (0 = baseline): ``mean_dropout``, ``value``,
    ``value_change``, ``value_change_pct``.
    """
    from clm_lib.studies.clv.compute import _spend_frame, discounted_expected_purchases

    _need(data, ["frequency", "recency", "T", "monetary_value"], "CLV data")
    r, alpha, a, b = (float(v) for v in model.params_.to_numpy())
    s = a + b
    p0 = a / s
    spend = spend_model.conditional_expected_spend(_spend_frame(data))
    alive = model.p_alive(data)
    rows = []
    for x in [0.0] + [float(v) for v in points]:
        pm = p0 - x / 100.0
        if pm <= 0:
            rows.append({"points": x, "mean_dropout": pm, "value": np.nan})
            continue
        params = np.array([r, alpha, pm * s, (1 - pm) * s])
        det_alive = discounted_expected_purchases(model, data, horizon=horizon,
                                                  discount_rate=discount_rate, params=params)
        det = det_alive / model.p_alive(data, params) * alive
        rows.append({"points": x, "mean_dropout": pm, "value": float(np.sum(margin * spend * det))})
    out = pd.DataFrame(rows).set_index("points")
    base = out.loc[0.0, "value"]
    out["value_change"] = out["value"] - base
    out["value_change_pct"] = out["value_change"] / base
    out.attrs.update({"horizon": int(horizon), "a": a, "b": b, "baseline_mean_dropout": p0})
    return out


def what_if_note(table: pd.DataFrame, time_unit: str) -> str:
    """Plain-language statement of the what-if assumptions."""
    p0 = table.attrs.get("baseline_mean_dropout", float("nan"))
    return (f"Churn = the BG/NBD probability that a customer stops after a repeat purchase "
            f"(fitted mean {p0:.1%}). 'x points less churn' lowers that mean by x percentage "
            f"points, keeping its spread (a + b) and everything else fixed: purchase rates, "
            f"spend per purchase, which customers are alive today. Value is discounted margin "
            f"over the next {table.attrs.get('horizon')} {time_unit}s from today's customers "
            f"only (no new customers); the gain would be lower if the retention effort has a cost.")


# ---- the study -------------------------------------------------------------------------
@dataclass
class LifecycleStudy:
    """Everything the lifecycle notebook shows (see :func:`lifecycle_study`).

    When the data cannot support the BG/NBD or the Gamma-Gamma model, ``model_errors``
    holds the reason (``"not fitted (...): ..."``) and everything that needs them is None
    (``values``, ``what_if``, ``model``, ``spend_model``) or absent (the value columns of
    the stage and segment tables); stages, RFM, flows and the ladder do not need them.
    """

    as_of: str
    flow_start: str
    time_unit: str
    horizon: int
    thresholds: Thresholds
    stages: pd.DataFrame
    stages_start: pd.DataFrame
    stage_summary: pd.DataFrame
    transitions: pd.DataFrame
    flows: dict
    rfm: pd.DataFrame
    segments: pd.DataFrame
    ladder: pd.DataFrame
    second_purchase: pd.DataFrame
    second_purchase_km: object
    reactivation: pd.DataFrame
    values: pd.DataFrame | None
    what_if: pd.DataFrame | None
    model: object | None
    spend_model: object | None
    model_errors: dict = field(default_factory=dict)
    leads_table: pd.DataFrame | None = None
    leads_durations: pd.DataFrame | None = None
    leads_km: dict | None = None
    notes: list = field(default_factory=list)


def lifecycle_study(transactions, *, as_of, flow_start=None, leads=None,
                    new_days=None, at_risk_days=None, lapsed_days=None, time_unit="week",
                    what_if_points=(1, 5, 10), horizon=52, discount_rate=0.15, margin=0.3,
                    segment=None, engine="pandas") -> LifecycleStudy:
    """The lifecycle and segments study: stages, flows, RFM, ladder, reactivation, what-if.

    Parameters
    ----------
    transactions : DataFrame, or (duckdb/spark) a path, glob, table name or Ibis table
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``; ``segment`` if
        given), as loaded by ``Engine.load_transactions``.
    as_of : date-like
        Analysis date (inclusive).
    flow_start : date-like, optional
        First date of the flows; default :func:`default_flow_start` (6 months earlier).
    leads : DataFrame, optional
        Leads table for :func:`leads_conversion`.
    new_days, at_risk_days, lapsed_days : int, optional
        Stage thresholds in days (None: derived, :func:`derive_thresholds`).
    time_unit : {"day", "week", "month"}
        Unit of the BG/NBD and of the horizon.
    what_if_points : sequence of float
        Churn reductions in percentage points.
    horizon : int
        Value horizon in time units. discount_rate : annual. margin : fraction of spend.
    segment : str, optional
        Column of ``transactions``; the value at each customer's first purchase is kept
        as ``segment`` in the stage and RFM tables (the smallest when several rows share
        that time, see :func:`clm_lib.reduce.pandas_reductions.first_values`).
    engine : {"pandas", "duckdb", "spark"} or Engine
        Where the transactions are reduced (gaps, per-customer histories at both dates,
        the BG/NBD summary, segments): only one row per customer or per gap length comes
        back; results are identical on every engine.
    """
    from clm_lib.studies.lifecycle_segments import rfm as rfm_mod
    from clm_lib.clv.bgnbd import BetaGeoModel
    from clm_lib.studies.clv.compute import (customer_value, fit_or_reason, fit_purchase_model,
                                   fit_spend_model, per_unit_discount_rate)

    from clm_lib.reduce.engine import get_engine

    eng = get_engine(engine)
    _need(transactions, ["customer_id", "timestamp", "amount"] + ([segment] if segment else []),
          "transactions")
    as_of_ts = pd.Timestamp(as_of).normalize()
    fs = pd.Timestamp(flow_start if flow_start is not None else default_flow_start(as_of_ts)).normalize()
    if fs >= as_of_ts:
        raise ParameterError(f"flow_start {fs.date()} must be before as_of {as_of_ts.date()}")
    th = derive_thresholds(eng.purchase_day_gaps(transactions, as_of=as_of_ts),
                           as_of=as_of_ts, new_days=new_days, at_risk_days=at_risk_days,
                           lapsed_days=lapsed_days)
    # per-customer histories at both dates, reduced where the data live
    history = eng.customer_histories(transactions, date=as_of_ts, lapsed_days=th.lapsed_days)
    history_start = eng.customer_histories(transactions, date=fs, lapsed_days=th.lapsed_days)
    stages = customer_stages(history, date=as_of_ts, thresholds=th)
    start = customer_stages(history_start, date=fs, thresholds=th)
    trans = transition_matrix(start, stages)

    # customer-base models on all data to as_of (compressed fit, as in the CLV study)
    # (a model the data cannot support is reported as not fitted; the rest goes on)
    full = eng.summary_data(transactions, as_of=as_of_ts, time_unit=time_unit)
    errors: dict = {}
    period = f"all data to {as_of_ts.date()}"
    model = fit_or_reason(lambda: fit_purchase_model(BetaGeoModel, full), errors, "bgnbd",
                          period)
    spend_model = fit_or_reason(lambda: fit_spend_model(full), errors, "gamma_gamma", period)
    d_unit = per_unit_discount_rate(discount_rate, time_unit)
    values = what_if = None
    if model is not None and spend_model is not None:
        values = customer_value(model, spend_model, full, horizon=horizon, discount_rate=d_unit,
                                margin=margin, n_draws=0)
        what_if = retention_what_if(model, spend_model, full, points=what_if_points,
                                    horizon=horizon, discount_rate=d_unit, margin=margin)
    clv = values["clv"] if values is not None else None

    rfm = rfm_mod.rfm_table(history, as_of=as_of_ts)
    rfm["segment"] = rfm_mod.assign_segments(rfm)
    if segment:
        first_seg = eng.first_values(transactions, segment)
        stages["segment_value"] = first_seg.reindex(stages.index)
        rfm["segment_value"] = first_seg.reindex(rfm.index)
    seg_table = rfm_mod.segment_table(rfm, rfm["segment"], clv)
    summ = stage_table(stages, clv)
    sp_df, sp_km = time_to_second_purchase(history, as_of=as_of_ts, time_unit=time_unit)
    react = reactivation_comparison(history, as_of=as_of_ts, thresholds=th)

    study = LifecycleStudy(
        as_of=str(as_of_ts.date()), flow_start=str(fs.date()), time_unit=time_unit,
        horizon=int(horizon), thresholds=th, stages=stages, stages_start=start,
        stage_summary=summ, transitions=trans, flows=flow_counts(trans), rfm=rfm,
        segments=seg_table, ladder=repeat_ladder(stages), second_purchase=sp_df,
        second_purchase_km=sp_km, reactivation=react, values=values, what_if=what_if,
        model=model, spend_model=spend_model, model_errors=errors)
    if leads is not None:
        t, ldf, kms = leads_conversion(leads, as_of=as_of_ts, time_unit="day")
        study.leads_table, study.leads_durations, study.leads_km = t, ldf, kms
        for reason, n in t.attrs.get("dropped", {}).items():
            if n:
                study.notes.append(f"Leads: {n:,} excluded ({reason}).")
    for reason, n in full.attrs.get("dropped", {}).items():
        study.notes.append(f"Models: {n:,} excluded ({reason}).")
    return study


def percent_columns(df: pd.DataFrame, columns, digits: int = 1) -> pd.DataFrame:
    """Display copy of ``df`` with ``columns`` (fractions) written as percentages and integer
    columns with thousands separators."""
    out = df.copy()
    for c in columns:
        if c in out:
            out[c] = [("–" if pd.isna(v) else f"{v * 100:.{digits}f}%") for v in out[c]]
    for c in out.columns:
        if c not in columns and pd.api.types.is_integer_dtype(out[c]):
            out[c] = [f"{v:,}" for v in out[c]]
    return out


def summary_lines(study: LifecycleStudy, currency: str = "$") -> list[str]:
    """Plain-language summary computed from the study."""
    s = study.stage_summary
    n = int(s["customers"].sum())
    th = study.thresholds
    top_stage = s["customers"].idxmax()
    active = s.loc[["new", "one-time buyer", "active repeat", "loyal/VIP", "reactivated"]]
    seg = study.segments
    champs = seg.loc["champions"]
    lad = study.ladder["p_next"]
    f = study.flows
    valued = "clv_share" in s
    lines = [
        f"{n:,} customers at {study.as_of}: {s.loc['lapsed', 'customer_share']:.0%} lapsed "
        f"(no purchase for more than {th.lapsed_days} days), {s.loc['at risk', 'customer_share']:.0%} at risk, "
        f"{active['customers'].sum() / n:.0%} active; the largest stage is '{top_stage}'.",
    ]
    if valued:
        risk_share = seg.loc[["at risk", "can't lose"], "clv_share"].sum()
        lines += [
            f"Loyal/VIP customers are {s.loc['loyal/VIP', 'customer_share']:.1%} of customers, brought "
            f"{s.loc['loyal/VIP', 'revenue_share']:.0%} of revenue to date and hold "
            f"{s.loc['loyal/VIP', 'clv_share']:.0%} of the expected value of the next {study.horizon} {study.time_unit}s.",
            f"RFM champions: {int(champs['customers']):,} customers ({champs['customer_share']:.1%}) with "
            f"{champs['revenue_share']:.0%} of revenue and {champs['clv_share']:.0%} of expected value; "
            f"'at risk' and 'can't lose' together hold {risk_share:.1%} of expected value.",
        ]
    else:
        lines += [
            f"Loyal/VIP customers are {s.loc['loyal/VIP', 'customer_share']:.1%} of customers and brought "
            f"{s.loc['loyal/VIP', 'revenue_share']:.0%} of revenue to date; RFM champions are "
            f"{int(champs['customers']):,} customers ({champs['customer_share']:.1%}) with "
            f"{champs['revenue_share']:.0%} of revenue.",
            "Expected value and the churn what-if are not available: " + model_note(study),
        ]
    if len(lad):
        lines.append(f"Only {lad.iloc[0]:.0%} of customers made a second purchase day"
                     + (f"; after two, {lad.iloc[1]:.0%} made a third" if len(lad) > 1 else "")
                     + ": the first repeat is the biggest drop-off.")
    acquired = (f"{f['newly acquired']:,} customers acquired, {f['new became repeat']:,} new customers "
                "became repeat buyers" if f["newly acquired"] or f["new became repeat"]
                else "no customers were acquired")
    lines.append(f"Between {study.flow_start} and {study.as_of}: {acquired}, "
                 f"{f['active became at risk or lapsed']:,} active ones became at risk or lapsed, "
                 f"{f['lapsed were reactivated']:,} lapsed ones were reactivated.")
    w = study.what_if.dropna(subset=["value"]) if study.what_if is not None else pd.DataFrame()
    w = w.loc[w.index > 0]
    if len(w):
        x = w.index[0]
        lines.append(f"Lowering churn by {x:g} point{'s' if x != 1 else ''} (mean dropout after a purchase "
                     f"{study.what_if.attrs['baseline_mean_dropout']:.1%} → {w.loc[x, 'mean_dropout']:.1%}) "
                     f"would add {currency}{w.loc[x, 'value_change']:,.0f} ({w.loc[x, 'value_change_pct']:+.1%}) "
                     f"of discounted margin over {study.horizon} {study.time_unit}s"
                     + (f"; {w.index[-1]:g} points would add {currency}{w.iloc[-1]['value_change']:,.0f} "
                        f"({w.iloc[-1]['value_change_pct']:+.1%})." if len(w) > 1 else "."))
    if study.leads_table is not None:
        a = study.leads_table.loc["All"]
        lines.append(f"Leads: {int(a['leads']):,}, of which {a['conversion_rate']:.0%} converted by {study.as_of}.")
    return lines


def model_note(study: LifecycleStudy) -> str:
    """Which value models were not fitted and why ("" when both were fitted)."""
    from clm_lib.studies.clv.compute import not_fitted_note

    return not_fitted_note(study.model_errors)


def customer_export(study: LifecycleStudy) -> pd.DataFrame:
    """CRM export: pseudonymised customer, stage, R/F/M scores, segment, CLV, P(alive),
    recommended action (raw ids never leave)."""
    from clm_lib.reporting import pseudonymise
    from clm_lib.studies.lifecycle_segments.rfm import PLAYBOOK

    r = study.rfm
    v = (study.values.reindex(r.index) if study.values is not None
         else pd.DataFrame({"clv": np.nan, "p_alive": np.nan}, index=r.index))
    out = pd.DataFrame({
        "customer": pseudonymise(pd.Series(r.index, dtype="string")).to_numpy(),
        "stage": study.stages["stage"].reindex(r.index).astype(str).to_numpy(),
        "recency_days": r["recency_days"].to_numpy(), "frequency": r["frequency"].to_numpy(),
        "monetary": r["monetary"].to_numpy(), "R": r["R"].to_numpy(), "F": r["F"].to_numpy(),
        "M": r["M"].to_numpy(), "segment": r["segment"].astype(str).to_numpy(),
        "clv": v["clv"].to_numpy(), "p_alive": v["p_alive"].to_numpy(),
        "recommended_action": r["segment"].astype(str).map(PLAYBOOK).to_numpy(),
    })
    if "segment_value" in r:
        out["customer_segment"] = r["segment_value"].astype("string").to_numpy()
    return out.sort_values(["clv", "customer"], ascending=[False, True]).reset_index(drop=True)


def lifecycle_metrics(study: LifecycleStudy, currency: str = "$") -> dict:
    """metrics.json content (without ``data_quality``)."""
    s = study.stage_summary
    seg = study.segments
    w = study.what_if if study.what_if is not None else pd.DataFrame(
        {"value": [], "value_change": [], "value_change_pct": []})
    trans = {str(a): {str(b): int(v) for b, v in row.items()} for a, row in study.transitions.iterrows()}
    wi = {f"{p:g}": (None if pd.isna(w.loc[p, "value_change"]) else float(w.loc[p, "value_change"]))
          for p in w.index if p > 0}
    head = {
        "Customers lapsed / active": f"{s.loc['lapsed', 'customer_share']:.0%} / "
                                     f"{s.loc[['new', 'one-time buyer', 'active repeat', 'loyal/VIP', 'reactivated'], 'customer_share'].sum():.0%}",
    }
    if "clv_share" in seg:
        head["Champions: customers / value share"] = \
            f"{seg.loc['champions', 'customer_share']:.1%} / {seg.loc['champions', 'clv_share']:.0%}"
    else:
        head["Customer value"] = "not fitted"
    if len(study.ladder):
        head["P(2nd purchase | 1st)"] = f"{study.ladder['p_next'].iloc[0]:.0%}"
    valid = w.loc[w.index > 0].dropna(subset=["value"])
    if len(valid):
        x = valid.index[0]
        head[f"Value of {x:g} pt less churn ({study.horizon} {study.time_unit}s)"] = \
            f"{currency}{valid.loc[x, 'value_change']:,.0f} ({valid.loc[x, 'value_change_pct']:+.1%})"
    out = {
        "as_of": study.as_of, "flow_start": study.flow_start, "time_unit": study.time_unit,
        "horizon": study.horizon, "thresholds": study.thresholds.to_dict(),
        "stage_counts": {str(k): int(v) for k, v in s["customers"].items()},
        "stage_revenue_share": {str(k): float(v) for k, v in s["revenue_share"].items()},
        "transitions": trans, "flows": study.flows,
        "rfm_segments": {str(k): {"customers": int(r["customers"]), "revenue_share": float(r["revenue_share"]),
                                  "clv_share": float(r["clv_share"]) if "clv_share" in r else None}
                         for k, r in seg.iterrows()},
        "ladder": [float(v) for v in study.ladder["p_next"]],
        "time_to_second_purchase_median": float(study.second_purchase_km.median_survival_time_),
        "reactivation": study.reactivation.reset_index().to_dict(orient="records"),
        "what_if": wi,
        "what_if_baseline_value": float(w.loc[0.0, "value"]) if 0.0 in w.index else None,
        "what_if_baseline_mean_dropout": (float(w.attrs["baseline_mean_dropout"])
                                          if "baseline_mean_dropout" in w.attrs else None),
        "bgnbd_params": ({k: float(v) for k, v in study.model.params_.items()}
                         if study.model is not None else None),
        "model_errors": study.model_errors,
        "headline": head,
    }
    if study.leads_table is not None:
        out["leads"] = study.leads_table.reset_index().to_dict(orient="records")
    return out
