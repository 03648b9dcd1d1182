"""Survival-based churn: one call from the input to every number of the study.

:func:`survival_study` loads subscriptions (churn = end of the subscription) or
transactions (churn = ``inactivity_days`` without a purchase) and reduces them to one
duration per customer in the engine (:mod:`.durations`), then fits Kaplan-Meier curves
and log-rank tests (:mod:`.km`), Cox and AFT models (:mod:`.models`), validates them on a
holdout (:mod:`.validation`) and scores the active customers (:mod:`.risk`). The result
is a frozen :class:`SurvivalStudy`; its wording, tables, metrics and exports are in
:mod:`.report`, its figures in :mod:`clm_lib.plotting.survival`.

Models are real lifelines fitters (``KaplanMeierFitter``, ``CoxPHFitter``,
``WeibullAFTFitter``, ``LogNormalAFTFitter``, ``LogLogisticAFTFitter``).

References
----------
Kaplan & Meier (1958); Cox (1972); Harrell et al. (1982) for the concordance index;
Graf, Schmoor, Sauerbrei & Schumacher (1999), Statistics in Medicine 18, 2529-2545.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import StatisticalResult

from clm_lib.exceptions import ParameterError
from clm_lib.io.quality import DataQuality
from clm_lib.studies.survival_churn.competing import (
    cause_specific_cox,
    cumulative_incidence,
    encode_reasons,
)
from clm_lib.studies.survival_churn.covariates import choose_covariates
from clm_lib.studies.survival_churn.durations import (
    default_rmst_horizon,
    encode_covariates,
    load_churn_durations,
    prepare_durations,
    split_holdout,
    stratified_sample,
)
from clm_lib.studies.survival_churn.km import kaplan_meier, km_summary, logrank_tests
from clm_lib.studies.survival_churn.metrics import horizon_metrics
from clm_lib.studies.survival_churn.models import (
    PH_ALPHA,
    adjusted_segment_hazard_ratios,
    banded_segment_hazard_ratios,
    check_proportional_hazards,
    default_hazard_bands,
    fit_aft,
    fit_aft_models,
    fit_cox,
    hazard_ratio_table,
    ph_strata,
    segment_hazard_ratios,
    select_model,
)
from clm_lib.studies.survival_churn.params import check_columns, check_values
from clm_lib.studies.survival_churn.risk import (
    active_customers,
    customer_risk_table,
    segment_value,
)
from clm_lib.studies.survival_churn.validation import (
    calibration_summary,
    calibration_table,
    compare_models,
)

__all__ = ["SurvivalStudy", "survival_study", "kaplan_meier"]

#: Source description of the record of the customers the models use.
MODEL_SOURCE = "customers used by the models"

#: Default cap on the customers the regression models are fitted on (see survival_study).
MAX_MODEL_CUSTOMERS = 100_000


@dataclass(frozen=True)
class SurvivalStudy:
    """Everything the survival study computed (no text; see :mod:`.report`).

    Durations are in periods of ``time_unit``; ``durations``, ``design`` and ``risk``
    share one index (one row per customer or subscription used by the models).
    """

    # what was asked
    kind: str  #: "subscriptions" or "transactions" (churn by inactivity)
    time_unit: str
    as_of: pd.Timestamp | None  #: end of observation (midnight of the day); None: snapshot
    as_of_source: str | None  #: "parameter", "data" (the last day in the data) or None
    inactivity_days: float
    segment: str | None
    covariates: tuple[str, ...]  #: used by the models (may be empty)
    covariates_source: str  #: "parameter" (given) or "data" (chosen from the columns)
    #: columns not chosen as covariates and why (when chosen from the data)
    covariates_left_out: Mapping[str, str]
    horizons: tuple[float, ...]
    risk_thresholds: tuple[float, float]
    # durations
    durations: pd.DataFrame  #: model-ready: ``customer_id``, ``duration``, ``event``, covariates
    qualities: tuple[DataQuality, ...]  #: loading step(s), then the customers the models use
    # curves
    rmst_horizon: float
    km_fits: Mapping[str, KaplanMeierFitter]  #: "All" and one per segment value
    km: pd.DataFrame  #: :func:`.km.km_summary`
    logrank: StatisticalResult | None  #: all segment values together
    pairwise: StatisticalResult | None  #: each pair of segment values
    segment_hr: pd.DataFrame | None  #: unadjusted, fastest first (:func:`.models.segment_hazard_ratios`)
    #: adjusted for the covariates, same reference (:func:`.models.adjusted_segment_hazard_ratios`)
    segment_hr_adjusted: pd.DataFrame | None
    #: proportional-hazards test of the segment (smallest p of its terms)
    segment_ph_p: float | None
    hazard_bands: tuple[float, ...]  #: cut points (periods) of the tenure bands
    #: adjusted hazard ratios by tenure band (:func:`.models.banded_segment_hazard_ratios`),
    #: when the segment fails proportional hazards
    segment_hr_bands: pd.DataFrame | None
    # Cox on every customer (on the sample, see ``model_sample``)
    design: pd.DataFrame  #: :func:`.durations.encode_covariates`, every customer
    model_sample: int | None  #: customers the models are fitted on when sampled; None: all
    baselines: Mapping[str, Any]  #: reference level per categorical covariate
    #: without covariates, lifelines' baseline-only fit (its survival is the Breslow
    #: estimate, no hazard ratio)
    cox: CoxPHFitter
    hazard_ratios: pd.DataFrame  #: :func:`.models.hazard_ratio_table` of ``cox`` (empty: none)
    ph: pd.DataFrame  #: :func:`.models.check_proportional_hazards` (empty: no covariate)
    strata: tuple[str, ...]  #: categorical covariates that violate proportional hazards
    cox_stratified: CoxPHFitter | None
    hazard_ratios_stratified: pd.DataFrame | None
    # models on the training part, validated on the holdout
    train: pd.DataFrame
    test: pd.DataFrame
    fits: Mapping[str, Any]  #: "Cox" and the AFT models that converged
    comparison: pd.DataFrame  #: :func:`.validation.compare_models`, plus ``mean_auc``
    #: time-dependent AUC and calibration slope per model and horizon on the holdout
    #: (:func:`.metrics.horizon_metrics`)
    horizon_metrics: pd.DataFrame
    selected: str  #: the AFT model chosen by holdout calibration (:func:`.models.select_model`)
    calibration: pd.DataFrame  #: :func:`.validation.calibration_table` of the selected model
    calibration_check: Mapping[str, Any]  #: :func:`.validation.calibration_summary` of it
    # the selected model refitted on every customer, applied to the active ones
    model: Any
    remaining_horizon: float  #: periods ahead of remaining lifetime and value (restricted mean)
    follow_up: float  #: longest observed duration, periods
    value_basis: str | None  #: "margin", "revenue" or None (no value)
    currency: str | None
    risk: pd.DataFrame  #: :func:`.risk.customer_risk_table`
    value: pd.DataFrame | None  #: :func:`.risk.segment_value` (with a segment)
    #: with a churn reason: ``column``, ``reasons``, ``incidence``
    #: (:func:`.competing.cumulative_incidence` at the horizons, every customer) and
    #: ``hazard_ratios`` (:func:`.competing.cause_specific_cox`, the model customers); None
    #: without one
    competing: Mapping[str, Any] | None = None

    @property
    def tier_horizon(self) -> float:
        """Horizon of the risk tiers (the longest risk horizon), periods."""
        return max(self.horizons)

    @property
    def has_covariates(self) -> bool:
        """Whether the Cox and AFT models have covariates (else: intercept only)."""
        return bool(self.covariates)


def _segment_effects(data: pd.DataFrame, segment: str, covariates: Sequence[str],
                     ph: pd.DataFrame, strata: Sequence[str],
                     bands: Sequence[float] | None) -> dict:
    """The segment's hazard ratios: unadjusted, adjusted for the covariates, and adjusted
    by tenure band when the segment fails proportional hazards (1 % level)."""
    unadjusted = segment_hazard_ratios(data, segment)
    reference = str(unadjusted.index[-1])
    adjusted, own_ph, p = adjusted_segment_hazard_ratios(data, segment, covariates,
                                                         reference=reference)
    if segment in set(ph["covariate"]):  # the test shown in the report, on the main model
        p = float(ph.loc[ph["covariate"] == segment, "p"].min())
    cuts = tuple(default_hazard_bands(data) if bands is None else (float(b) for b in bands))
    banded = None
    if p < PH_ALPHA and cuts:
        banded = banded_segment_hazard_ratios(data, segment, covariates, reference=reference,
                                              cuts=cuts, strata=strata)
    return {"segment_hr": unadjusted, "segment_hr_adjusted": adjusted, "segment_ph_p": p,
            "hazard_bands": cuts, "segment_hr_bands": banded}


def survival_study(subscriptions=None, transactions=None, columns=None, *,
                   date_format: str | None = None, encoding: str | None = None,
                   delimiter: str | None = None, contract: Mapping | None = None, as_of=None,
                   inactivity_days: float = 180, time_unit: str = "month",
                   segment: str | None = None, covariates: Sequence[str] | None = None,
                   baselines: Mapping[str, Any] | None = None,
                   horizons: Sequence[float] = (1, 3, 6), rmst_horizon: float | None = 24,
                   margin: str | float | None = None, revenue: str | float | None = None,
                   currency: str | None = None, discount_rate: float = 0.01,
                   remaining_horizon: float | None = None, extrapolate: bool = False,
                   risk_thresholds: Sequence[float] = (0.1, 0.3),
                   holdout_fraction: float = 0.3, seed: int = 42,
                   max_model_customers: int | None = MAX_MODEL_CUSTOMERS,
                   hazard_bands: Sequence[float] | None = None,
                   reason: str | None = None, engine="duckdb") -> SurvivalStudy:
    """The survival churn study (the parameters are those of the study notebook).

    Parameters
    ----------
    subscriptions, transactions : path, glob, table name, DataFrame or Ibis table
        The input, exactly one of them (``transactions``: churn by inactivity). See
        :func:`.durations.load_churn_durations`.
    columns : dict, optional
        Source name -> canonical name.
    date_format, encoding, delimiter : str, optional
        Reading options of the loader (None: its default).
    contract : mapping, optional
        Contract options of the loader (:func:`clm_lib.io.options.load_options`).
    as_of : str or Timestamp, optional
        End of observation; default: the last day in the data after the contract (the last
        purchase day, or the last start or end day of interval subscriptions; snapshots
        need none). ``as_of_source`` of the result says which.
    inactivity_days : float
        Transactions: days without a purchase that define churn.
    time_unit : {"day", "week", "month", "year"}
        Period of durations, horizons and margin.
    segment : str, optional
        Column whose values get their own curves, log-rank tests and hazard ratios.
    covariates : sequence of str, optional
        Columns of the Cox and AFT models; ``[]``: none (Kaplan-Meier, log-rank tests and
        intercept-only models); None: chosen from the columns of the durations
        (:func:`.covariates.choose_covariates`; the columns left out and why are in
        ``covariates_left_out``).
    baselines : mapping, optional
        Reference level per categorical covariate (default: the most frequent).
    horizons : sequence of float
        Risk horizons, periods; the longest defines the risk tiers.
    rmst_horizon : float, optional
        Horizon of the restricted mean lifetime, capped at the shortest follow-up.
    margin : str, float or None
        Margin per period: a column of the durations, one number, or None.
    revenue : str, float or None
        Revenue per period (column or number), the value basis when no ``margin`` is given;
        the report then says "revenue", never margin. Neither: no value.
    currency : str, optional
        Currency of ``margin`` / ``revenue`` (e.g. "USD"); None: the report says "in the
        currency of the data".
    remaining_horizon : float, optional
        Periods ahead over which remaining lifetime and value are summed (a restricted
        mean); default ``rmst_horizon`` (within the follow-up). Beyond the longest observed
        duration only with ``extrapolate``.
    extrapolate : bool
        Allow ``remaining_horizon`` past the longest observed duration (the figures are
        then labelled as extrapolated by the selected model).
    discount_rate : float
        Per period.
    risk_thresholds : (low, high)
        P(churn within the longest horizon) from which a customer is medium / high risk.
    holdout_fraction, seed : float, int
        Share of customers held out to validate the models, and the seed of that split.
    max_model_customers : int or None
        With more customers than this, the regression models (segment hazard ratios, Cox
        and its proportional-hazards check, the holdout comparison, the selected AFT
        model) are fitted on a seeded random sample of this many, stratified by churn;
        Kaplan-Meier curves, log-rank tests and the risk scores of the active customers
        use every customer. None: always every customer. The rows are not compressed
        instead: identical (duration, event, covariates) rows are rare with durations
        measured to the second, and lifelines' Efron likelihood treats a weighted death
        as one death, so merging tied deaths would change the Cox fit.
    hazard_bands : sequence of float, optional
        Cut points (periods) of the tenure bands in which the segment's hazard ratios are
        estimated when it fails proportional hazards; default: the tertiles of the churn
        times (:func:`.models.default_hazard_bands`).
    reason : str, optional
        Column of the churn reason (text, e.g. voluntary / involuntary; empty for the
        customers still active): cumulative incidence per reason and cause-specific Cox
        models (:mod:`.competing`); never a covariate. None: no competing risks.
    engine : str or Engine
        Where the input is checked and reduced to durations.

    Returns
    -------
    SurvivalStudy

    Raises
    ------
    ParameterError
        A parameter of the wrong type or out of range, named (:func:`.params.check_values`);
        neither or both of ``subscriptions`` and ``transactions``.
    MissingColumnsError
        A covariate, segment, margin or revenue column the durations lack, named with the
        columns found.
    """
    ok = check_values(time_unit=time_unit, horizons=horizons, risk_thresholds=risk_thresholds,
                      rmst_horizon=rmst_horizon, remaining_horizon=remaining_horizon,
                      discount_rate=discount_rate, holdout_fraction=holdout_fraction,
                      seed=seed, max_model_customers=max_model_customers,
                      hazard_bands=hazard_bands, covariates=covariates, baselines=baselines,
                      margin=margin, revenue=revenue)
    horizons, risk_thresholds = ok["horizons"], ok["risk_thresholds"]
    hazard_bands = ok["hazard_bands"]
    loaded = load_churn_durations(subscriptions, transactions, columns, as_of=as_of,
                                  inactivity_days=inactivity_days, time_unit=time_unit,
                                  date_format=date_format, encoding=encoding,
                                  delimiter=delimiter, contract=contract, engine=engine)
    left_out: dict[str, str] = {}
    covariates_given = covariates is not None
    if not covariates_given:
        covariates, left_out = choose_covariates(
            loaded.frame, value_columns=[v for v in (margin, revenue) if isinstance(v, str)])
    covariates = list(covariates)
    if reason and reason in covariates:
        if covariates_given:
            raise ParameterError(f"the churn reason column {reason!r} cannot be a covariate")
        covariates.remove(reason)
        left_out[reason] = "the churn reason (competing risks), known only after churn"
    # the columns given exist (those chosen do), and baselines name covariates
    check_columns(loaded.frame, covariates=covariates, segment=segment, margin=margin,
                  revenue=revenue, baselines=baselines, reason=reason)
    data, prep = prepare_durations(loaded.frame, covariates=covariates, segment=segment,
                                   source=MODEL_SOURCE)
    horizon = default_rmst_horizon(data, segment, rmst_horizon)
    kmfs = kaplan_meier(data, segment=segment)
    logrank, pairwise = logrank_tests(data, segment) if segment else (None, None)

    design, baselines_used = encode_covariates(data, covariates, baselines=baselines)
    fit_design = design if max_model_customers is None else stratified_sample(
        design, max_model_customers, seed=seed)
    fit_data = data.loc[fit_design.index]
    cox = fit_cox(fit_design)
    ph = check_proportional_hazards(cox, fit_design)
    strata = ph_strata(ph, data)
    cox_stratified = None
    if strata:
        stratified_design = encode_covariates(data, covariates, baselines=baselines,
                                              strata=strata)[0]
        cox_stratified = fit_cox(stratified_design.loc[fit_design.index], strata=strata)

    seg = _segment_effects(fit_data, segment, covariates, ph, strata, hazard_bands) \
        if segment else {"segment_hr": None, "segment_hr_adjusted": None,
                         "segment_ph_p": None, "hazard_bands": (), "segment_hr_bands": None}

    train, test = split_holdout(fit_design, holdout_fraction, seed=seed)
    fits = {"Cox": fit_cox(train), **fit_aft_models(train)}
    comparison = compare_models(fits, train, test, calibration_horizons=horizons)
    by_horizon, mean_auc = horizon_metrics(fits, train, test, horizons)
    comparison["mean_auc"] = pd.Series(mean_auc, dtype=float)
    selected = select_model(comparison)

    calibration = calibration_table(fits[selected], test, horizons)
    model = fit_aft(fit_design, selected)
    basis, per_period = (("margin", margin) if margin is not None else
                         ("revenue", revenue) if revenue is not None else (None, None))
    follow_up = float(data["duration"].max())
    ahead = horizon if remaining_horizon is None else float(remaining_horizon)
    if ahead > follow_up and not extrapolate:
        ahead = follow_up  # extrapolation only on request
    active = active_customers(design, data, margin=per_period)
    risk = customer_risk_table(model, active, horizons=horizons,
                               margin="margin" if isinstance(per_period, str) else per_period,
                               discount_rate=discount_rate, max_horizon=ahead,
                               tier_thresholds=tuple(risk_thresholds))
    competing = None
    if reason:
        named = data.rename(columns={reason: "reason"})
        codes, levels = encode_reasons(named.loc[fit_design.index])
        competing = {"column": reason, "reasons": levels,
                     "incidence": cumulative_incidence(named, horizons),
                     "hazard_ratios": cause_specific_cox(fit_design, codes, levels)}
    return SurvivalStudy(
        kind=loaded.kind, time_unit=time_unit,
        as_of=loaded.as_of, as_of_source=loaded.as_of_source,
        inactivity_days=float(inactivity_days), segment=segment,
        covariates=tuple(covariates), covariates_source="parameter" if covariates_given
        else "data", covariates_left_out=dict(left_out),
        horizons=tuple(float(h) for h in horizons),
        risk_thresholds=tuple(risk_thresholds),
        durations=data, qualities=(*loaded.qualities, prep),
        rmst_horizon=horizon, km_fits=kmfs, km=km_summary(kmfs, horizon=horizon),
        logrank=logrank, pairwise=pairwise,
        **seg,
        design=design, model_sample=len(fit_design) if len(fit_design) < len(design) else None,
        baselines=baselines_used, cox=cox,
        hazard_ratios=hazard_ratio_table(cox), ph=ph, strata=tuple(strata),
        cox_stratified=cox_stratified,
        hazard_ratios_stratified=(None if cox_stratified is None
                                  else hazard_ratio_table(cox_stratified)),
        train=train, test=test, fits=fits, comparison=comparison,
        horizon_metrics=by_horizon, selected=selected,
        calibration=calibration, calibration_check=calibration_summary(calibration),
        model=model, remaining_horizon=float(ahead), follow_up=follow_up,
        value_basis=basis, currency=currency, risk=risk,
        value=segment_value(risk, data[segment]) if segment else None,
        competing=competing,
    )
