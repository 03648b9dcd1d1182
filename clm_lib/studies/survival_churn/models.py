"""Regression models of the survival study: Cox proportional hazards and the Weibull,
log-normal and log-logistic AFT models (real lifelines fitters), the proportional-hazards
check, unadjusted segment hazard ratios and the choice of the model used for risk.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines import (
    CoxPHFitter,
    LogLogisticAFTFitter,
    LogNormalAFTFitter,
    WeibullAFTFitter,
)
from lifelines.statistics import proportional_hazard_test

from clm_lib.checks import require_columns as _require
from clm_lib.exceptions import (
    ConvergenceWarning,
    DataContractError,
    InsufficientDataError,
    ParameterError,
)
from clm_lib.studies.survival_churn.durations import encode_covariates

__all__ = [
    "COX_BATCH_THRESHOLD",
    "AFT_MODELS",
    "fit_cox",
    "hazard_ratio_table",
    "check_proportional_hazards",
    "ph_strata",
    "fit_aft_models",
    "fit_aft",
    "predict_survival",
    "select_model",
    "segment_hazard_ratios",
]

#: Row count above which :func:`fit_cox` asks lifelines for its batch algorithm.
COX_BATCH_THRESHOLD = 50_000


def fit_cox(design: pd.DataFrame, *, strata: Sequence[str] | None = None,
            penalizer: float = 0.0, batch_mode: bool | None | str = "auto",
            alpha: float = 0.05) -> CoxPHFitter:
    """Cox proportional-hazards model (Breslow/Efron as in lifelines) on a design frame.

    ``batch_mode="auto"`` uses lifelines' batch algorithm from
    :data:`COX_BATCH_THRESHOLD` rows on, and lifelines' own choice below: its heuristic
    picks the per-row algorithm for large frames with mostly distinct durations, which is
    an order of magnitude slower there (see ``benchmarks/bench_cox.py``).

    Parameters
    ----------
    design : DataFrame
        Output of :func:`encode_covariates`: ``duration``, ``event``, numeric covariates,
        and the ``strata`` columns.
    strata : sequence of str, optional
        Columns to stratify on (separate baseline hazards, no coefficient).
    """
    _require(design, ["duration", "event", *(strata or [])], "design frame")
    if batch_mode == "auto":
        batch_mode = True if len(design) >= COX_BATCH_THRESHOLD else None
    cph = CoxPHFitter(penalizer=penalizer, alpha=alpha, strata=list(strata) if strata else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        cph.fit(design, duration_col="duration", event_col="event", batch_mode=batch_mode)
    return cph


def hazard_ratio_table(cph: CoxPHFitter) -> pd.DataFrame:
    """Hazard ratios of a fitted Cox model: ``hr``, ``ci_low``, ``ci_high``, ``p`` per covariate."""
    s = cph.summary
    lo = [c for c in s.columns if c.startswith("exp(coef) lower")][0]
    hi = [c for c in s.columns if c.startswith("exp(coef) upper")][0]
    out = pd.DataFrame({"hr": s["exp(coef)"], "ci_low": s[lo], "ci_high": s[hi], "p": s["p"]})
    out.index = [str(i) for i in out.index]
    out.index.name = "covariate"
    return out


def check_proportional_hazards(cph: CoxPHFitter, design: pd.DataFrame, *,
                               alpha: float = 0.01) -> pd.DataFrame:
    """Schoenfeld-residual test of proportional hazards (time transform: KM rank).

    Returns
    -------
    DataFrame indexed by design column: ``statistic``, ``p``, ``violated`` (p < alpha),
    ``covariate`` (the source column: ``"Contract"`` for ``"Contract: Two year"``).
    """
    res = proportional_hazard_test(cph, design, time_transform="rank")
    s = res.summary
    out = pd.DataFrame({"statistic": s["test_statistic"].to_numpy(),
                        "p": s["p"].to_numpy()}, index=[str(i) for i in s.index])
    out["violated"] = out["p"] < alpha
    out["covariate"] = [i.split(": ", 1)[0] for i in out.index]
    out.index.name = "term"
    return out


AFT_MODELS = {
    "Weibull AFT": WeibullAFTFitter,
    "Log-normal AFT": LogNormalAFTFitter,
    "Log-logistic AFT": LogLogisticAFTFitter,
}


def fit_aft_models(design: pd.DataFrame, *, penalizer: float = 0.0
                   ) -> dict[str, WeibullAFTFitter | LogNormalAFTFitter | LogLogisticAFTFitter]:
    """Weibull, log-normal and log-logistic AFT models on a design frame (durations > 0).

    Models that fail to converge are left out with a warning naming them.
    """
    _require(design, ["duration", "event"], "design frame")
    if (design["duration"] <= 0).any():
        raise DataContractError("duration", "AFT models need durations > 0 "
                                "(see prepare_durations)", int((design["duration"] <= 0).sum()))
    out = {}
    for name in AFT_MODELS:
        try:
            out[name] = fit_aft(design, name, penalizer=penalizer)
        except Exception as exc:  # lifelines raises ConvergenceError of its own
            warnings.warn(f"{name} did not converge ({type(exc).__name__}); left out",
                          ConvergenceWarning, stacklevel=2)
    return out


def fit_aft(design: pd.DataFrame, name: str, *, penalizer: float = 0.0):
    """One AFT model by name (a key of :data:`AFT_MODELS`) on the numeric design columns."""
    if name not in AFT_MODELS:
        raise ParameterError(f"unknown AFT model {name!r}; choose from {list(AFT_MODELS)}")
    _require(design, ["duration", "event"], "design frame")
    num = design.select_dtypes(include=[np.number, bool])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return AFT_MODELS[name](penalizer=penalizer).fit(num, "duration", "event")


def predict_survival(model, design: pd.DataFrame, times: Sequence[float]) -> pd.DataFrame:
    """Survival probabilities, index = ``times`` (periods), one column per row of ``design``."""
    times = np.asarray(times, dtype=float)
    sf = model.predict_survival_function(design, times=times)
    sf.columns = design.index
    return sf


def ph_strata(ph: pd.DataFrame, df: pd.DataFrame) -> list[str]:
    """Categorical covariates with a proportional-hazards violation: candidates for strata.

    Numeric covariates are not stratified (that would need binning); their violations are
    reported only.
    """
    bad = ph.loc[ph["violated"], "covariate"].unique()
    return [c for c in bad if c in df.columns and not pd.api.types.is_numeric_dtype(df[c])
            and not pd.api.types.is_bool_dtype(df[c])]


def select_model(comparison: pd.DataFrame) -> str:
    """The AFT model with the lowest AIC (AIC is comparable among them, not with Cox).

    AFT models are preferred over Cox for per-customer value because they extrapolate the
    survival curve beyond the longest observed duration.
    """
    aft = comparison[comparison["AIC_kind"] == "full"]
    if aft.empty:
        raise InsufficientDataError("no AFT model converged")
    return str(aft["AIC"].idxmin())


def segment_hazard_ratios(df: pd.DataFrame, segment: str) -> pd.DataFrame:
    """Unadjusted hazard ratio of each segment against the slowest-churning one.

    A Cox model with the segment as the only covariate, refitted with the
    lowest-hazard segment as baseline. Returns :func:`hazard_ratio_table` indexed by
    segment value (the baseline row has HR 1), sorted from fastest to slowest.
    """
    _require(df, ["duration", "event", segment], "durations frame")
    X, base = encode_covariates(df, [segment])
    hr = hazard_ratio_table(fit_cox(X))
    slowest = base[segment]
    if (hr["hr"] < 1).any():
        slowest = hr["hr"].idxmin().split(": ", 1)[1]
        X, base = encode_covariates(df, [segment], baselines={segment: slowest})
        hr = hazard_ratio_table(fit_cox(X))
    hr.index = [i.split(": ", 1)[1] for i in hr.index]
    hr.loc[slowest] = {"hr": 1.0, "ci_low": 1.0, "ci_high": 1.0, "p": np.nan}
    hr.index.name = segment
    return hr.sort_values("hr", ascending=False)
