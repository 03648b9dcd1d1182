"""Competing churn reasons: the cumulative incidence of each reason (Aalen-Johansen) and
cause-specific Cox models (each reason with the others censored).

:func:`.compute.survival_study` calls these with its ``reason`` parameter (the column of
the churn reason, renamed ``reason`` here; empty / NaN for the customers still active).

References
----------
Aalen & Johansen (1978), Scandinavian Journal of Statistics 5, 141-150; Putter, Fiocco &
Geskus (2007), Statistics in Medicine 26, 2389-2430 (why 1 - Kaplan-Meier overstates the
incidence of one cause when others compete, and cause-specific hazards).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from sksurv.nonparametric import cumulative_incidence_competing_risks

from clm_lib.checks import require_columns
from clm_lib.exceptions import DataContractError

__all__ = ["encode_reasons", "cumulative_incidence", "cause_specific_cox"]


def encode_reasons(durations: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer cause codes: 0 = still active (censored), 1.. = the reasons in sorted order.

    Parameters
    ----------
    durations : DataFrame
        ``duration`` (periods), ``event`` (churned), ``reason`` (text; empty or missing for
        the customers still active).

    Raises
    ------
    DataContractError
        Churned customers without a reason, or active ones with one: counted and named.
    """
    require_columns(durations, ["duration", "event", "reason"], "durations")
    reason = durations["reason"].astype("string").str.strip()
    has = reason.notna() & (reason != "")
    churned = durations["event"].astype(bool).to_numpy()
    bad_churn = churned & ~has.to_numpy()
    bad_active = ~churned & has.to_numpy()
    if bad_churn.any() or bad_active.any():
        bad = np.flatnonzero(bad_churn | bad_active)
        raise DataContractError(
            "reason", f"{int(bad_churn.sum())} churned rows have no reason and "
            f"{int(bad_active.sum())} active rows have one (a reason is given exactly for "
            "the churned customers)", len(bad), bad)
    levels = tuple(sorted(reason[has].unique()))
    codes = np.zeros(len(durations), dtype=int)
    lookup = {r: k + 1 for k, r in enumerate(levels)}
    codes[has.to_numpy()] = [lookup[r] for r in reason[has]]
    return codes, levels


def cumulative_incidence(durations: pd.DataFrame, times: Sequence[float]) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of each reason at ``times`` (periods), and
    1 - Kaplan-Meier of the same reason with the others censored (what overstates it).

    scikit-survival's ``cumulative_incidence_competing_risks`` (exact at tied times).

    Returns
    -------
    DataFrame: ``reason``, ``time``, ``incidence`` (Aalen-Johansen), ``one_minus_km``.
    """
    codes, levels = encode_reasons(durations)
    T = durations["duration"].to_numpy(float)
    grid, cif = cumulative_incidence_competing_risks(codes, T)
    rows = []
    for k, name in enumerate(levels, start=1):
        km = KaplanMeierFitter().fit(T, codes == k).survival_function_at_times(
            [float(t) for t in times]).to_numpy()
        for t, s in zip(times, km):
            i = np.searchsorted(grid, t, side="right") - 1
            rows.append({"reason": name, "time": float(t),
                         "incidence": float(cif[k, i]) if i >= 0 else 0.0,
                         "one_minus_km": float(1 - s)})
    return pd.DataFrame(rows)


def cause_specific_cox(design: pd.DataFrame, codes: np.ndarray,
                       levels: Sequence[str]) -> pd.DataFrame:
    """One Cox model per reason, the customers who churned for another reason censored at
    their churn (lifelines ``CoxPHFitter``).

    Parameters
    ----------
    design : DataFrame
        ``duration``, ``event`` and numeric covariates (:func:`.durations.encode_covariates`).
    codes, levels : from :func:`encode_reasons`

    Returns
    -------
    DataFrame: ``reason``, ``covariate``, ``coef``, ``se``, ``hr``, ``ci_low``, ``ci_high``
    (95 %), ``p``, ``events``.
    """
    require_columns(design, ["duration", "event"], "design frame")
    rows = []
    if len(design.columns) <= 2:  # no covariate: nothing to estimate
        return pd.DataFrame(rows, columns=["reason", "covariate", "coef", "se", "hr",
                                           "ci_low", "ci_high", "p", "events"])
    for k, name in enumerate(levels, start=1):
        d = design.assign(event=(np.asarray(codes) == k))
        cph = CoxPHFitter().fit(d, "duration", "event")
        s = cph.summary
        for cov, r in s.iterrows():
            rows.append({"reason": name, "covariate": str(cov), "coef": float(r["coef"]),
                         "se": float(r["se(coef)"]), "hr": float(r["exp(coef)"]),
                         "ci_low": float(r["exp(coef) lower 95%"]),
                         "ci_high": float(r["exp(coef) upper 95%"]), "p": float(r["p"]),
                         "events": int(d["event"].sum())})
    return pd.DataFrame(rows)
