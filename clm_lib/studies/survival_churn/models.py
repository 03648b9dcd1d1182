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
    "PH_ALPHA",
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
    "adjusted_segment_hazard_ratios",
    "banded_segment_hazard_ratios",
    "default_hazard_bands",
]

#: Significance level of the proportional-hazards check.
PH_ALPHA = 0.01

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
                               alpha: float = PH_ALPHA) -> pd.DataFrame:
    """Schoenfeld-residual test of proportional hazards (time transform: KM rank).

    Returns
    -------
    DataFrame indexed by design column: ``statistic``, ``p``, ``violated`` (p < alpha),
    ``covariate`` (the source column: ``"Contract"`` for ``"Contract: Two year"``); empty
    for a model without covariates (nothing to test; lifelines' test would fail).
    """
    if cph.params_.empty:
        empty = pd.DataFrame({"statistic": pd.Series(dtype=float), "p": pd.Series(dtype=float),
                              "violated": pd.Series(dtype=bool),
                              "covariate": pd.Series(dtype=object)})
        empty.index.name = "term"
        return empty
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


def select_model(comparison: pd.DataFrame, *, concordance_margin: float = 0.01,
                 brier_margin: float = 0.005) -> str:
    """The AFT model used for the risk scores.

    With holdout columns (``concordance_holdout``, ``integrated_brier_score``,
    ``calibration_error``): among the AFT models whose holdout concordance is within
    ``concordance_margin`` of the best AFT's and whose integrated Brier score is within
    ``brier_margin`` of the best, the one with the smallest calibration error (ties: lowest
    AIC); so a model that ranks as well but predicts the churn probabilities better wins.
    Without them: the lowest AIC (AIC is comparable among the AFT models, not with Cox).

    AFT models are the candidates (not Cox) because the risk scores evaluate each active
    customer's survival beyond their tenure, past the longest observed duration for the
    longest-tenured; Cox's baseline hazard ends there.
    """
    aft = comparison[comparison["AIC_kind"] == "full"]
    if aft.empty:
        raise InsufficientDataError("no AFT model converged")
    need = {"concordance_holdout", "integrated_brier_score", "calibration_error"}
    if not need <= set(aft.columns):
        return str(aft["AIC"].idxmin())
    ok = aft[(aft["concordance_holdout"] >= aft["concordance_holdout"].max()
              - concordance_margin)
             & (aft["integrated_brier_score"] <= aft["integrated_brier_score"].min()
                + brier_margin)]
    ok = ok if len(ok) else aft
    return str(ok.sort_values(["calibration_error", "AIC"]).index[0])


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


def default_hazard_bands(df: pd.DataFrame) -> list[float]:
    """Cut points (periods) of the tenure bands of :func:`banded_segment_hazard_ratios`:
    the tertiles of the churned customers' durations, rounded up to whole periods (so that
    each band holds about a third of the churns)."""
    _require(df, ["duration", "event"], "durations frame")
    t = df.loc[df["event"].astype(bool), "duration"].to_numpy(float)
    if len(t) < 3:
        return []
    top = float(df["duration"].max())
    cuts = np.unique(np.ceil(np.quantile(t, [1 / 3, 2 / 3])))
    return [float(c) for c in cuts if 0 < c < top]


def adjusted_segment_hazard_ratios(df: pd.DataFrame, segment: str, covariates: Sequence[str],
                                   *, reference: str, alpha: float = PH_ALPHA
                                   ) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Hazard ratio of each value of ``segment`` against ``reference``, adjusted for the
    other ``covariates`` (one Cox model), with the proportional-hazards test of the segment.

    Returns
    -------
    hr : DataFrame
        :func:`hazard_ratio_table` rows of the segment, indexed by segment value (the
        reference has HR 1), sorted fastest first.
    ph : DataFrame
        :func:`check_proportional_hazards` of the model.
    p : float
        Smallest p-value of the segment's terms in that test (below ``alpha``: the
        segment's hazard ratio is not constant over tenure).
    """
    cols = list(dict.fromkeys([segment, *covariates]))
    _require(df, ["duration", "event", *cols], "durations frame")
    X, _ = encode_covariates(df, cols, baselines={segment: reference})
    cph = fit_cox(X)
    hr = hazard_ratio_table(cph)
    ph = check_proportional_hazards(cph, X, alpha=alpha)
    mine = [i for i in hr.index if i.startswith(f"{segment}: ")]
    out = hr.loc[mine].copy()
    out.index = [i.split(": ", 1)[1] for i in mine]
    out.loc[reference] = {"hr": 1.0, "ci_low": 1.0, "ci_high": 1.0, "p": np.nan}
    out.index.name = segment
    p = float(ph.loc[ph["covariate"] == segment, "p"].min())
    return out.sort_values("hr", ascending=False), ph, p


def banded_segment_hazard_ratios(df: pd.DataFrame, segment: str, covariates: Sequence[str],
                                 *, reference: str, cuts: Sequence[float],
                                 strata: Sequence[str] = ()) -> pd.DataFrame:
    """Adjusted hazard ratios of ``segment`` within bands of tenure: a time-varying effect,
    for a segment that fails proportional hazards.

    For each band ``[a, b)`` (``cuts`` in periods, then the end of follow-up), a Cox model
    is fitted on the customers still active at ``a`` (left-truncated at ``a``: lifelines'
    ``entry_col``), followed to ``b``; the other ``covariates`` adjust it, the categorical
    ones in ``strata`` as strata. This is the piecewise-constant hazard-ratio model
    (Therneau & Grambsch 2000, ch. 6). A segment value, or the reference, without a churn
    in a band has no estimate there (``hr`` NaN).

    Returns
    -------
    DataFrame: ``band_start``, ``band_end`` (periods; inf = end of follow-up), ``value``,
    ``hr``, ``ci_low``, ``ci_high``, ``p``, ``churned`` (churns of that value in the band),
    ``reference_churned``; reference rows left out.
    """
    cols = list(dict.fromkeys([segment, *covariates]))
    _require(df, ["duration", "event", *cols], "durations frame")
    strata = [s for s in strata if s != segment and s in cols]
    X, _ = encode_covariates(df, cols, baselines={segment: reference}, strata=strata)
    seg = df[segment].astype("string")
    edges = [0.0, *sorted(float(c) for c in cuts), np.inf]
    rows = []
    for a, b in zip(edges[:-1], edges[1:]):
        at = (X["duration"] > a) if a > 0 else pd.Series(True, index=X.index)
        part = X[at].copy()
        part["entry"] = a
        part["event"] = part["event"] & (part["duration"] <= b)
        part["duration"] = np.minimum(part["duration"], b)
        churned = part["event"].groupby(seg[at]).sum()
        ref = int(churned.get(reference, 0))
        fit = None
        if ref > 0 and int(part["event"].sum()) > 0:
            keep = [c for c in part.columns if part[c].nunique() > 1 or c in strata
                    or c in ("duration", "event", "entry")]
            cph = CoxPHFitter(strata=list(strata) or None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cph.fit(part[keep], "duration", "event", entry_col="entry")
            fit = hazard_ratio_table(cph)
        for value in sorted(set(seg.dropna()) - {reference}):
            n = int(churned.get(value, 0))
            term = f"{segment}: {value}"
            ok = fit is not None and n > 0 and term in fit.index
            r = fit.loc[term] if ok else None
            rows.append({"band_start": a, "band_end": b, "value": value,
                         "hr": float(r["hr"]) if ok else np.nan,
                         "ci_low": float(r["ci_low"]) if ok else np.nan,
                         "ci_high": float(r["ci_high"]) if ok else np.nan,
                         "p": float(r["p"]) if ok else np.nan,
                         "churned": n, "reference_churned": ref})
    return pd.DataFrame(rows)
