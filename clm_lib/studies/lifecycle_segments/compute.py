"""The customer lifecycle and segments study: stages, flows between two dates, RFM
segments, the repeat ladder, reactivation, leads conversion and the value of retention.

:func:`lifecycle_study` reduces the log where it lives (purchase-day gaps, per-customer
histories at both dates, the purchase-model summary, segments at acquisition: one row per customer
or per gap length comes back) and returns a :class:`LifecycleStudy`. The pieces are in
:mod:`.stages` (thresholds, stages, ladder), :mod:`.flows`, :mod:`.rfm`, :mod:`.repeat`
(second purchase, reactivation), :mod:`.leads` and :mod:`.whatif`; the wording, display
tables, metrics and exports in :mod:`.report`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd

from clm_lib.checks import require_columns as _need
from clm_lib.clv.bgnbd import BetaGeoModel
from clm_lib.clv.mbgnbd import ModifiedBetaGeoModel
from clm_lib.clv.valuation import customer_value, fit_or_reason, fit_purchase_model, fit_spend_model
from clm_lib.exceptions import ParameterError
from clm_lib.io import load_leads
from clm_lib.reduce import get_engine
from clm_lib.reduce.customers import as_of_from_data
from clm_lib.clv.valuation import per_unit_discount_rate
from clm_lib.studies.lifecycle_segments import rfm as rfm_mod
from clm_lib.studies.lifecycle_segments.flows import default_flow_start, flow_counts, transition_matrix
from clm_lib.studies.lifecycle_segments.leads import (DEFAULT_LEVEL, DEFAULT_MILESTONES,
                                                      DEFAULT_WINDOW_DAYS, lead_funnel)
from clm_lib.studies.lifecycle_segments.repeat import reactivation_comparison, time_to_second_purchase
from clm_lib.studies.lifecycle_segments.stages import (
    TRANSACTION_COLUMNS,
    Thresholds,
    customer_stages,
    derive_thresholds,
    repeat_ladder,
    stage_table,
    stages_by_segment,
)
from clm_lib.studies.lifecycle_segments.whatif import retention_what_if

__all__ = ["LifecycleStudy", "lifecycle_study"]


@dataclass(frozen=True)
class LifecycleStudy:
    """Everything the lifecycle report shows (see :func:`lifecycle_study`).

    When the data cannot support the purchase model or the Gamma-Gamma model, ``model_errors``
    holds the reason (``"not fitted (...): ..."``) and everything that needs them is None
    (``values``, ``what_if``, ``model``, ``spend_model``) or absent (the value columns of
    the stage and segment tables); stages, RFM, flows and the ladder do not need them.

    Attributes
    ----------
    as_of, flow_start : str
        ISO dates of the analysis and of the first flow date.
    time_unit : str
        Unit of the models, of the horizon and of the time to a second purchase.
    horizon : int
        Value horizon (time units).
    segment : str or None
        The transactions column whose value at acquisition is ``segment_value``.
    thresholds : Thresholds
    stages, stages_start : DataFrame
        Stage per customer at ``as_of`` and at ``flow_start``.
    stage_summary : DataFrame
        Customers, revenue (and value) per stage at ``as_of``.
    stage_segments : DataFrame or None
        Share of each segment's customers per stage (with ``segment``).
    transitions : DataFrame
        Customers by stage at ``flow_start`` (rows) and ``as_of`` (columns).
    flows : dict
        Headline flows (customers).
    rfm, segments : DataFrame
        RFM scores, segment and recommended ``action`` per customer; customers, revenue
        (and value, mean P(alive)) per segment.
    actions : DataFrame
        Customers and expected value at stake per recommended action.
    action_value : float or None
        Expected value (currency) from which the costly actions are recommended (None
        without customer values: then only the low-cost actions are).
    action_value_source : str
        ``"parameter"``, ``"quantile"`` (of ``action_value_quantile``) or ``"no value"``.
    action_value_quantile : float
    ladder : DataFrame
        P(k+1 purchase days | k).
    second_purchase, second_purchase_km
        Durations to the second purchase day and their Kaplan-Meier fitter.
    reactivation : DataFrame
        Reactivated vs new customers after their start.
    values : DataFrame or None
        Per-customer CLV and P(alive) under the purchase model ``model``.
    what_if : DataFrame or None
        Customer-base value by churn reduction under both assumptions, with intervals.
    model, spend_model
        Fitted purchase model and Gamma-Gamma (None when not fitted). The purchase model
        is the MBG/NBD (Batislam, Denizel & Filiztekin 2007), in which a customer may drop
        out right after her first purchase, so that a one-time buyer silent for a long time
        is not certainly alive as she is under the BG/NBD; the BG/NBD only when the
        MBG/NBD cannot be fitted.
    model_errors : dict
        Model key -> why it was not fitted.
    model_fallback : str or None
        Why the MBG/NBD was not fitted when the BG/NBD stands in for it (None otherwise).
    model_dropped : dict
        Reason -> count of what the model summary left out.
    leads_funnel : LeadFunnel or None
        Reach → acquisition → conversion of the leads by source and creation period
        (:func:`~clm_lib.studies.lifecycle_segments.leads.lead_funnel`; None without leads).
    leads_table, leads_durations, leads_km
        Its table by source, durations (days) and Kaplan-Meier fitters (None without leads).
    leads_note : str or None
        What the leads are, said wherever the report shows them (e.g. that they are
        synthetic).
    data_quality, leads_quality : DataQuality or None
        The loading records of the transactions and the leads when the study loaded them
        from a path itself.
    as_of_source : str
        "parameter" (``as_of`` given) or "data" (the last date in the data).
    margin, value_basis : float, str
        The margin applied to spend and what value is: "margin", or "revenue" (margin 1)
        when none was given.
    """

    as_of: str
    flow_start: str
    time_unit: str
    horizon: int
    segment: str | None
    thresholds: Thresholds
    stages: pd.DataFrame
    stages_start: pd.DataFrame
    stage_summary: pd.DataFrame
    stage_segments: pd.DataFrame | None
    transitions: pd.DataFrame
    flows: dict
    rfm: pd.DataFrame
    segments: pd.DataFrame
    actions: pd.DataFrame
    action_value: float | None
    action_value_source: str
    action_value_quantile: float
    ladder: pd.DataFrame
    second_purchase: pd.DataFrame
    second_purchase_km: object
    reactivation: pd.DataFrame
    values: pd.DataFrame | None
    what_if: pd.DataFrame | None
    model: object | None
    spend_model: object | None
    model_errors: dict = field(default_factory=dict)
    model_fallback: str | None = None
    model_dropped: dict = field(default_factory=dict)
    leads_table: pd.DataFrame | None = None
    leads_durations: pd.DataFrame | None = None
    leads_km: dict | None = None
    leads_funnel: object | None = None
    leads_note: str | None = None
    data_quality: object | None = None
    leads_quality: object | None = None
    #: where ``as_of`` came from: "parameter" or "data" (the last date in the data)
    as_of_source: str = "parameter"
    margin: float = 1.0  #: fraction of spend that is value (1.0: no margin given)
    value_basis: str = "revenue"  #: "margin" (a margin was given) or "revenue"


def _value_models(full, *, as_of, horizon, discount_rate, margin, what_if_points, time_unit,
                  what_if_assumption, what_if_intervals):
    """MBG/NBD (BG/NBD if the MBG/NBD cannot be fitted, the reason in ``model_fallback``)
    + Gamma-Gamma on the summary ``full`` of all data to ``as_of`` (compressed fit, as in
    the CLV study), customer value and the what-if; a model the data cannot support is
    reported in ``errors`` and what needs it is None."""
    errors: dict = {}
    period = f"all data to {as_of.date()}"
    # MBG/NBD: a customer may drop out right after her first purchase, so one-time buyers
    # silent for a long time are not certainly alive (under the BG/NBD they are); the
    # BG/NBD only if the MBG/NBD cannot be fitted, with the reason kept
    first_choice: dict = {}
    model = fit_or_reason(lambda: fit_purchase_model(ModifiedBetaGeoModel, full), first_choice,
                          "mbgnbd", period)
    fallback = None
    if model is None:
        fallback = first_choice["mbgnbd"]
        model = fit_or_reason(lambda: fit_purchase_model(BetaGeoModel, full), errors, "bgnbd",
                              period)
        if model is None:
            errors = {**first_choice, **errors}
    spend_model = fit_or_reason(lambda: fit_spend_model(full), errors, "gamma_gamma", period)
    d_unit = per_unit_discount_rate(discount_rate, time_unit)
    values = what_if = None
    if model is not None and spend_model is not None:
        values = customer_value(model, spend_model, full, horizon=horizon, discount_rate=d_unit,
                                margin=margin, n_draws=0)
        what_if = retention_what_if(model, spend_model, full, points=what_if_points,
                                    horizon=horizon, discount_rate=d_unit, margin=margin,
                                    shown=what_if_assumption, intervals=what_if_intervals)
    return dict(values=values, what_if=what_if, model=model, spend_model=spend_model,
                model_errors=errors, model_fallback=fallback, model_dropped=dict(full.attrs.get("dropped", {})))


def lifecycle_study(transactions, *, as_of=None, flow_start=None, leads=None,
                    new_days=None, at_risk_days=None, lapsed_days=None, time_unit="week",
                    what_if_points=(1, 5, 10), what_if_assumption="absolute",
                    what_if_intervals=True, horizon=52, discount_rate=0.15, margin=None,
                    segment=None, action_value=None, action_value_quantile=0.9,
                    leads_options=None, leads_period="month",
                    conversion_window_days=DEFAULT_WINDOW_DAYS, conversion_level=DEFAULT_LEVEL,
                    conversion_milestones=DEFAULT_MILESTONES, leads_note=None,
                    engine="duckdb") -> LifecycleStudy:
    """The lifecycle and segments study: stages, flows, RFM, ladder, reactivation, what-if.

    Parameters
    ----------
    transactions : Ibis table, DataFrame or path
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``; ``segment`` if
        given), best the table returned by ``Engine.load_transactions``; a DataFrame is
        handed to the engine as loaded, a path is loaded here with the data contract (its
        record in ``data_quality``).
    as_of : date-like, optional
        Analysis date (inclusive); None: the last day in the data.
    flow_start : date-like, optional
        First date of the flows; default
        :func:`~clm_lib.studies.lifecycle_segments.flows.default_flow_start` (6 months
        earlier).
    leads : DataFrame or path, optional
        Leads table for :func:`~clm_lib.studies.lifecycle_segments.leads.leads_conversion`;
        a path is loaded with :func:`clm_lib.io.load_leads` (its record in
        ``leads_quality``).
    new_days, at_risk_days, lapsed_days : int, optional
        Stage thresholds in days (None: derived,
        :func:`~clm_lib.studies.lifecycle_segments.stages.derive_thresholds`).
    time_unit : {"day", "week", "month"}
        Unit of the purchase model and of the horizon.
    what_if_points : sequence of float
        Churn reductions in percentage points.
    what_if_assumption : {"absolute", "proportional"}
        The reading of "x points less churn" the report leads with: every alive customer's
        dropout probability cut by x points, or the mean dropout lowered by x points with
        the Beta's concentration fixed (both are computed:
        :func:`~clm_lib.studies.lifecycle_segments.whatif.retention_what_if`).
    what_if_intervals : bool
        Parameter-uncertainty intervals of the what-if (delta method).
    horizon : int
        Value horizon in time units. discount_rate : annual. margin : fraction of spend in
        (0, 1], or None: no margin known, value is revenue.
    segment : str, optional
        Column of ``transactions``; the value at each customer's first purchase is kept
        as ``segment_value`` in the stage and RFM tables (the smallest when several rows
        share that time).
    action_value : float, optional
        Expected value over the horizon (currency) from which a customer is worth a costly
        action (a personal call, an offer that gives away margin: see
        :data:`~clm_lib.studies.lifecycle_segments.rfm.SEGMENT_ACTIONS`), e.g. the cost of
        the action; None: the ``action_value_quantile`` of the customers' expected values.
    action_value_quantile : float
        Quantile of expected value used when ``action_value`` is None (0.9: the top 10 %).
    leads_options : mapping, optional
        Keyword arguments of :func:`clm_lib.io.load_leads` when ``leads`` is a path: the
        reading and contract options (:func:`clm_lib.io.options.load_options`).
    leads_period : {"week", "month", "quarter", "year"}
        Calendar period of a lead's ``created`` date for the funnel by period.
    conversion_window_days : int
        A lead counts as converted in the rates when it converted within this many days of
        creation; a period's rate is shown once every lead of it has had the whole window.
    conversion_level : float
        Level of the Wilson intervals of the rates and the Greenwood intervals of the
        Kaplan-Meier shares.
    conversion_milestones : sequence of int
        Days after creation at which the Kaplan-Meier share converted is given.
    leads_note : str, optional
        What the leads are (e.g. "synthetic"), shown with them in the report.
    engine : {"duckdb", "spark"} or Engine
        Where the transactions are reduced (gaps, per-customer histories at both dates,
        the purchase-model summary, segments): only one row per customer or per gap length comes
        back; results are identical on every engine.
    """
    eng = get_engine(engine)
    dq = leads_dq = None
    if isinstance(transactions, (str, os.PathLike)):
        transactions, dq = eng.load_transactions(transactions, as_of=as_of)
    _need(transactions, list(TRANSACTION_COLUMNS) + ([segment] if segment else []), "transactions")
    if margin is not None and not 0 < margin <= 1:
        raise ParameterError(f"margin must be a fraction of spend in (0, 1], got {margin!r}")
    basis, margin = ("margin", float(margin)) if margin is not None else ("revenue", 1.0)
    as_of_ts, as_of_source = as_of_from_data(as_of, eng, transactions)
    if leads is not None and not isinstance(leads, pd.DataFrame):
        leads, leads_dq = load_leads(leads, as_of=as_of_ts, **(leads_options or {}))
    fs = pd.Timestamp(flow_start if flow_start is not None else default_flow_start(as_of_ts)).normalize()
    if fs >= as_of_ts:
        raise ParameterError(f"flow_start {fs.date()} must be before as_of {as_of_ts.date()}")
    # the log collapsed to purchase days once; gaps, both histories and the summary of the
    # value models are read from it
    with eng.kept_purchase_days(transactions, gaps=True) as days:
        th = derive_thresholds(eng.purchase_day_gaps(days, as_of=as_of_ts), as_of=as_of_ts,
                               new_days=new_days, at_risk_days=at_risk_days,
                               lapsed_days=lapsed_days)
        history, history_start = (eng.customer_histories(days, date=d, lapsed_days=th.lapsed_days)
                                  for d in (as_of_ts, fs))
        full = eng.summary_data(days, as_of=as_of_ts, time_unit=time_unit)
    value = _value_models(full, as_of=as_of_ts, time_unit=time_unit, horizon=horizon,
                          discount_rate=discount_rate, margin=margin,
                          what_if_points=what_if_points, what_if_assumption=what_if_assumption,
                          what_if_intervals=what_if_intervals)
    stages = customer_stages(history, date=as_of_ts, thresholds=th)
    start = customer_stages(history_start, date=fs, thresholds=th)
    trans = transition_matrix(start, stages)

    clv = value["values"]["clv"] if value["values"] is not None else None
    p_alive = value["values"]["p_alive"] if value["values"] is not None else None

    rfm = rfm_mod.rfm_table(history, as_of=as_of_ts, thresholds=th)
    rfm["segment"] = rfm_mod.assign_segments(rfm)
    action_value, action_source = rfm_mod.action_value_threshold(
        clv, value=action_value, quantile=action_value_quantile)
    rfm["action"] = rfm_mod.assign_actions(rfm["segment"], clv, action_value, p_alive)
    by_segment = None
    if segment:
        first_seg = eng.first_values(transactions, segment)
        stages["segment_value"] = first_seg.reindex(stages.index)
        rfm["segment_value"] = first_seg.reindex(rfm.index)
        by_segment = stages_by_segment(stages)
    sp_df, sp_km = time_to_second_purchase(history, as_of=as_of_ts, time_unit=time_unit)
    leads_parts = {}
    if leads is not None:
        funnel = lead_funnel(leads, as_of=as_of_ts, period=leads_period,
                             window_days=conversion_window_days, level=conversion_level,
                             milestones=conversion_milestones)
        leads_parts = dict(leads_funnel=funnel, leads_table=funnel.by_source,
                           leads_durations=funnel.durations, leads_km=funnel.km,
                           leads_note=leads_note or None)
    return LifecycleStudy(
        as_of=str(as_of_ts.date()), flow_start=str(fs.date()), time_unit=time_unit,
        horizon=int(horizon), segment=segment or None, thresholds=th, stages=stages,
        stages_start=start, stage_summary=stage_table(stages, clv), stage_segments=by_segment,
        transitions=trans, flows=flow_counts(trans), rfm=rfm,
        segments=rfm_mod.segment_table(rfm, rfm["segment"], clv, p_alive),
        actions=rfm_mod.action_table(rfm["action"], clv), action_value=action_value,
        action_value_source=action_source, action_value_quantile=float(action_value_quantile), ladder=repeat_ladder(stages),
        second_purchase=sp_df, second_purchase_km=sp_km,
        reactivation=reactivation_comparison(history, as_of=as_of_ts, thresholds=th),
        data_quality=dq, leads_quality=leads_dq, as_of_source=as_of_source, margin=margin,
        value_basis=basis, **value, **leads_parts)
