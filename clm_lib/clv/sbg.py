"""Shifted-beta-geometric (sBG) model of contractual retention.

Fader, P. S. & Hardie, B. G. S. (2007), "How to project customer retention",
*Journal of Interactive Marketing* 21(1); and (2010) "Customer-base valuation in a
contractual setting: the perils of ignoring heterogeneity", *Marketing Science* 29(1).

Each customer has a constant per-period churn probability ``theta`` that varies across
customers as Beta(alpha, beta). With ``T`` the period in which a customer churns
(``T = 1`` means lost at the first renewal),

* ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``, ``t = 1, 2, ...``
* ``S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)``, ``S(0) = 1``.

Data rows are ``t`` (periods) and ``churned`` (1: lost in period ``t``; 0: still active
after ``t`` periods, censored), usually compressed with a ``weights`` column of counts;
:func:`sbg_data_from_counts` builds them from cohort survivor counts.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special

from clm_lib.clv.base import MLEModel, require_customers
from clm_lib.exceptions import DataContractError, InsufficientDataError, ParameterError


def _log_beta(a, b):
    return special.betaln(a, b)


def sbg_data_from_counts(counts: Sequence[float] | pd.DataFrame, *,
                         censor_last: int = 0) -> pd.DataFrame:
    """Turn survivor counts into sBG data rows ``t``, ``churned``, ``weights``.

    Parameters
    ----------
    counts : sequence or DataFrame
        Either one cohort's survivors ``n_0, n_1, ..., n_K`` (``n_0`` = cohort size,
        ``n_k`` = still active in period ``k`` after acquisition), or a matrix with one
        row per cohort and columns ``k = 0, 1, ...`` where not-yet-observable cells are NaN.
    censor_last : int, default 0
        Drop the last ``censor_last`` observed periods of every cohort (their status is
        not settled yet, e.g. under an N-period inactivity rule for transactions).

    Returns
    -------
    DataFrame with columns ``t`` (periods), ``churned`` (1/0) and ``weights`` (customers).

    Raises
    ------
    DataContractError
        If counts increase with ``k`` (survivors must be non-increasing).
    """
    if isinstance(counts, pd.DataFrame):
        mat = counts.to_numpy(dtype=float)
    else:
        mat = np.asarray(counts, dtype=float)[None, :]
    rows = []
    for i, row in enumerate(mat):
        obs = row[~np.isnan(row)]
        if censor_last:
            obs = obs[: max(len(obs) - int(censor_last), 0)]
        if len(obs) < 2:
            continue
        lost = -np.diff(obs)
        if np.any(lost < -1e-9):
            raise DataContractError("counts", "survivor counts increase with k (cohort "
                                    f"row {i}); sBG needs non-increasing survivors",
                                    int(np.sum(lost < -1e-9)))
        K = len(obs) - 1
        for t in range(1, K + 1):
            if lost[t - 1] > 0:
                rows.append((t, 1, lost[t - 1]))
        if obs[-1] > 0:
            rows.append((K, 0, obs[-1]))
    df = pd.DataFrame(rows, columns=["t", "churned", "weights"])
    return df.groupby(["t", "churned"], as_index=False)["weights"].sum()


class ShiftedBetaGeometric(MLEModel):
    """sBG model; ``fit(data, weights="weights")`` with columns ``t`` and ``churned``.

    Examples
    --------
    >>> data = sbg_data_from_counts([1000, 869, 743, 653, 593, 551, 517, 491])
    >>> m = ShiftedBetaGeometric().fit(data, weights="weights")
    >>> round(float(m.params_["alpha"]), 3), round(float(m.params_["beta"]), 3)
    (0.668, 3.806)
    """

    param_names = ("alpha", "beta")
    required_columns = ("t", "churned")
    name = "sbg"
    label = "sBG"

    @staticmethod
    def _loglik(params: np.ndarray, data: Mapping[str, np.ndarray]) -> np.ndarray:
        a, b = params
        t = data["t"]
        c = data["churned"]
        base = _log_beta(a, b)
        ll_churn = _log_beta(a + 1, b + np.maximum(t, 1) - 1) - base
        ll_surv = _log_beta(a, b + t) - base
        return np.where(c > 0, ll_churn, ll_surv)

    def _initial_params(self, data):
        return np.array([1.0, 1.0])

    def _check_identified(self, data, weights):
        require_customers(self.label, weights)
        t, churned = data["t"], data["churned"] > 0
        if weights[churned].sum() == 0:
            raise InsufficientDataError(
                model=self.label, reason="no customer churned in the periods observed "
                f"({weights.sum():,.0f} customers), so the churn probability cannot be estimated")
        # P(churn in period 1) = alpha / (alpha + beta) is all that one period shows: the
        # spread of churn probabilities needs customers followed into a second period
        if weights[t >= 2].sum() == 0:
            raise InsufficientDataError(
                model=self.label, reason="no customer was followed beyond the first period; "
                "at least two periods are needed to tell how churn varies across customers")

    def fit(self, data: pd.DataFrame, *, weights=None, **kwargs) -> "ShiftedBetaGeometric":
        """Fit by maximum likelihood (see :meth:`MLEModel.fit`); returns ``self``.

        Raises
        ------
        DataContractError
            If a churn row has ``t < 1`` or any ``t`` is negative.
        """
        cols = list(data.columns) if isinstance(data, pd.DataFrame) else list(data)
        if "t" in cols and "churned" in cols:
            t = np.asarray(data["t"], dtype=float)
            c = np.asarray(data["churned"], dtype=float)
            bad = (t < 0) | ((c > 0) & (t < 1)) | ~np.isfinite(t)
            if bad.any():
                raise DataContractError("t", "churn period must be >= 1 and censoring "
                                        "period >= 0", int(bad.sum()), np.flatnonzero(bad))
        return super().fit(data, weights=weights, **kwargs)

    # ---- predictions (pure functions of the fitted parameters) -------------------------
    def _ab(self, params=None):
        if params is not None:
            return float(params[0]), float(params[1])
        self._check_fitted()
        return float(self.params_["alpha"]), float(self.params_["beta"])

    def survival(self, t, params=None) -> np.ndarray:
        """``S(t)``: share of a new cohort still active after ``t`` periods (``S(0) = 1``)."""
        a, b = self._ab(params)
        t = np.asarray(t, dtype=float)
        return np.exp(_log_beta(a, b + t) - _log_beta(a, b))

    def churn_probability(self, t, params=None) -> np.ndarray:
        """``P(T = t)``: share of a new cohort lost in period ``t`` (``t >= 1``)."""
        a, b = self._ab(params)
        t = np.asarray(t, dtype=float)
        return np.exp(_log_beta(a + 1, b + t - 1) - _log_beta(a, b))

    def retention_rate(self, t, params=None) -> np.ndarray:
        """Period-to-period retention ``r(t) = S(t)/S(t-1) = (beta + t - 1)/(alpha + beta + t - 1)``."""
        a, b = self._ab(params)
        t = np.asarray(t, dtype=float)
        return (b + t - 1) / (a + b + t - 1)

    def expected_lifetime(self, horizon: int | None = None, params=None) -> float:
        """Expected number of periods a new customer stays (counting the first period).

        ``E[T] = (alpha + beta - 1)/(alpha - 1)`` when ``alpha > 1``; infinite otherwise.
        With ``horizon`` (periods), the expected periods active within the first
        ``horizon`` periods, ``sum_{t=0}^{horizon-1} S(t)``.
        """
        a, b = self._ab(params)
        if horizon is not None:
            return float(np.sum(self.survival(np.arange(int(horizon)), params=(a, b))))
        return float((a + b - 1) / (a - 1)) if a > 1 else float("inf")

    def derl(self, discount_rate: float, renewals: int = 0, horizon: int | None = None,
             params=None) -> float:
        """Discounted expected residual lifetime (Fader & Hardie 2010, eq. 6).

        For a customer who has made ``renewals`` renewals and is about to pay for
        period ``n = renewals + 1`` (payment at the start of each period, the first one
        undiscounted): ``DERL = B(alpha, beta+n)/B(alpha, beta+n-1) *
        2F1(1, beta+n; alpha+beta+n; 1/(1+d))``. ``renewals = 0`` with the ratio replaced by
        1 gives the discounted expected lifetime of a new customer (DEL); see
        :meth:`del_`. With ``horizon`` (periods), the sum is truncated to ``horizon`` terms.

        Parameters
        ----------
        discount_rate : float
            Discount rate per period (e.g. 0.01 per month), ``> 0`` unless ``horizon``.
        """
        a, b = self._ab(params)
        d = float(discount_rate)
        if d < 0 or (d == 0 and horizon is None):
            raise ParameterError("discount_rate must be > 0 (or >= 0 with a horizon)")
        n = int(renewals) + 1
        if horizon is not None:
            t = np.arange(n, n + int(horizon), dtype=float)
            s = np.exp(_log_beta(a, b + t) - _log_beta(a, b + n - 1))
            return float(np.sum(s / (1 + d) ** (t - n)))
        ratio = np.exp(_log_beta(a, b + n) - _log_beta(a, b + n - 1))
        return float(ratio * special.hyp2f1(1.0, b + n, a + b + n, 1.0 / (1.0 + d)))

    def del_(self, discount_rate: float, params=None) -> float:
        """Discounted expected lifetime of a just-acquired customer:
        ``sum_{t>=0} S(t)/(1+d)^t = 2F1(1, beta; alpha+beta; 1/(1+d))``."""
        a, b = self._ab(params)
        if discount_rate <= 0:
            raise ParameterError("discount_rate must be > 0")
        return float(special.hyp2f1(1.0, b, a + b, 1.0 / (1.0 + discount_rate)))

    def derl_table(self, discount_rate: float, max_renewals: int = 5,
                   horizon: int | None = None) -> pd.DataFrame:
        """DERL (periods, discounted) for customers who have made ``0..max_renewals``
        renewals, with the retention rate they face at their next renewal.

        Returns a DataFrame indexed by ``renewals`` with ``next_retention_rate`` and
        ``derl``; DERL rises with tenure because the customers who remain are the ones
        with a low churn probability.
        """
        n = np.arange(int(max_renewals) + 1)
        return pd.DataFrame(
            {"next_retention_rate": self.retention_rate(n + 1),
             "derl": [self.derl(discount_rate, renewals=int(r), horizon=horizon) for r in n]},
            index=pd.Index(n, name="renewals"))

    def projection(self, horizon: int, *, n_draws: int = 500, level: float = 0.95,
                   seed: int = 0) -> pd.DataFrame:
        """Projected survival ``S(k)`` and retention ``r(k)`` for ``k = 0..horizon``,
        with a ``level`` interval from parameter draws (asymptotic normal, log scale).

        Returns a DataFrame indexed by ``k`` (periods since acquisition) with columns
        ``survival``, ``survival_lower``, ``survival_upper``, ``retention_rate``.
        """
        k = np.arange(int(horizon) + 1)
        out = pd.DataFrame({"survival": self.survival(k)}, index=pd.Index(k, name="k"))
        rr = np.full(len(k), np.nan)
        rr[1:] = self.retention_rate(k[1:])
        out["retention_rate"] = rr
        try:
            draws = self.sample_params(n_draws, seed=seed)
            sims = np.exp(_log_beta(draws[:, [0]], draws[:, [1]] + k[None, :])
                          - _log_beta(draws[:, [0]], draws[:, [1]]))
            q = (1 - level) / 2
            out["survival_lower"] = np.quantile(sims, q, axis=0)
            out["survival_upper"] = np.quantile(sims, 1 - q, axis=0)
        except Exception:  # no covariance: no band, said by NaN
            out["survival_lower"] = np.nan
            out["survival_upper"] = np.nan
        return out

    @staticmethod
    def simulate(alpha: float, beta: float, n_customers: int, n_periods: int,
                 seed: int = 0) -> np.ndarray:
        """Survivor counts ``n_0..n_{n_periods}`` of one simulated cohort (seeded)."""
        rng = np.random.default_rng(seed)
        theta = rng.beta(alpha, beta, size=n_customers)
        T = rng.geometric(theta)  # period of churn, >= 1
        k = np.arange(n_periods + 1)
        return (T[None, :] > k[:, None]).sum(axis=1)
