"""Static (time-invariant) covariates in the BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma.

Fader, P. S. & Hardie, B. G. S. (2007), note 019, "Incorporating Time-Invariant Covariates
into the Pareto/NBD and BG/NBD Models"; Bachmann, Meierer & Näf (2021), *Marketing
Science* 40(4), 783-809, and CLVTools' static-covariate models for the parameterisation.
Each customer ``i`` has her own scale parameter of a mixing distribution, the population
one times an exponential of her covariates ``z_i`` (already numeric: dummies for text
attributes are made by the study), one process at a time:

* **purchase** (all three repeat-purchase models): ``alpha_i = alpha exp(-g_p'z_i)``. The
  purchase rate is Gamma(r, rate alpha_i), so its mean ``r / alpha_i`` is multiplied by
  ``exp(g_p)`` per unit of a covariate;
* **dropout**, Pareto/NBD: ``beta_i = beta exp(-g_d'z_i)``: the mean dropout rate
  ``s / beta_i`` is multiplied by ``exp(g_d)`` (CLVTools' ``pnbd`` with static covariates);
* **dropout**, BG/NBD and MBG/NBD: ``a_i = a exp(g_d'z_i)``, ``b`` common: the dropout
  probability after a purchase is Beta(a_i, b), so the odds of its mean,
  ``E[p] / (1 - E[p]) = a_i / b``, are multiplied by ``exp(g_d)``. (CLVTools scales ``a``
  and ``b`` by the same factor, which leaves the mean dropout probability unchanged and
  moves only its spread across customers; we keep ``b`` common so that the coefficient has
  the plain meaning above.)
* **spend**, Gamma-Gamma: ``v_i = v exp(g_s'z_i)``: the mean spend per purchase,
  ``p v_i / (q - 1)``, is multiplied by ``exp(g_s)``.

With ``z_i = 0`` a customer has the model's own parameters, so a model without covariates
is the special case ``g = 0`` and the likelihood-ratio test against it has as many degrees
of freedom as coefficients. The likelihood of a customer depends on her (x, t_x, T) and
``z_i`` only, so identical rows of these columns may be fitted once with a weight: the
compressed fit equals the uncompressed one.

:class:`CovariateModel` wraps one of the four models; it fits on the
:class:`~clm_lib.clv.base.MLEModel` base (coefficients unconstrained, the model's
parameters on the log scale) and offers the base model's predictions per customer, from
the covariate columns of the data they are given.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from clm_lib.clv.base import FutureState, MLEModel
from clm_lib.exceptions import (
    ConvergenceError,
    DataContractError,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
)

__all__ = ["CovariateModel", "LINKS", "PROCESSES", "individual_params"]

#: The processes a covariate can act on.
PROCESSES = ("purchase", "dropout", "spend")

#: Per base model (its ``name``) and process: the parameter that carries the covariates
#: and the sign of the exponent (``theta_i = theta exp(sign g'z_i)``), chosen so that
#: ``exp(g)`` multiplies the mean purchase rate, the dropout (rate or odds) and the mean
#: spend.
LINKS = {
    "bgnbd": {"purchase": ("alpha", -1.0), "dropout": ("a", 1.0)},
    "mbgnbd": {"purchase": ("alpha", -1.0), "dropout": ("a", 1.0)},
    "pareto_nbd": {"purchase": ("alpha", -1.0), "dropout": ("beta", -1.0)},
    "gamma_gamma": {"spend": ("v", 1.0)},
}

#: What ``exp(g)`` multiplies, per base model and process, in words.
_MEANING = {
    "purchase": "the mean purchase rate",
    ("pareto_nbd", "dropout"): "the mean dropout rate",
    "dropout": "the odds of dropping out after a purchase",
    "spend": "the mean spend per purchase",
}


def _meaning(model: str, process: str) -> str:
    return _MEANING.get((model, process), _MEANING[process])


def individual_params(base: MLEModel, params: Sequence[float], z: Mapping[str, np.ndarray],
                      covariates: Mapping[str, Sequence[str]], n: int) -> np.ndarray:
    """Each customer's parameters of ``base``: a ``(k, n)`` array, row ``j`` the base
    parameter ``j`` of every customer (:data:`LINKS`).

    ``params`` holds the base parameters then the coefficients, process by process in
    :data:`PROCESSES` order and column by column as in ``covariates``; ``z`` the
    covariate columns (arrays of length ``n``).
    """
    params = np.asarray(params, dtype=float)
    k0 = len(base.param_names)
    out = np.repeat(params[:k0, None], n, axis=1)
    at = k0
    for process in PROCESSES:
        cols = covariates.get(process, ())
        if not cols:
            continue
        name, sign = LINKS[base.name][process]
        eta = np.zeros(n)
        for c in cols:
            eta += params[at] * z[c]
            at += 1
        out[base.param_names.index(name)] *= np.exp(sign * eta)
    return out


class CovariateModel(MLEModel):
    """One of BG/NBD, MBG/NBD, Pareto/NBD (``purchase``, ``dropout``) or Gamma-Gamma
    (``spend``) with static covariates; see the module notes for the links.

    Parameters
    ----------
    base : class or instance of BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel or
        GammaGammaModel
    purchase, dropout, spend : sequence of str
        Numeric columns of the data (encoded already) that act on each process; a column
        may act on several.

    Attributes (after :meth:`fit`)
    ------------------------------
    params_ : Series
        The base model's parameters (its own names), then one coefficient per process and
        column named ``"<process>:<column>"``.
    se_, summary, log_likelihood_ (= ``loglik_``), AIC_, BIC_, n_obs_
        As for every model; ``summary`` adds the Wald ``z`` and ``p`` of the coefficients.
    reduced_ : MLEModel
        The base model fitted on the same data without covariates (the start of the fit).

    Examples
    --------
    >>> m = CovariateModel(BetaGeoModel, purchase=["referral"]).fit(data)  # doctest: +SKIP
    >>> m.effects()                                                        # doctest: +SKIP
    """

    def __init__(self, base, *, purchase: Sequence[str] = (), dropout: Sequence[str] = (),
                 spend: Sequence[str] = ()):
        self.base = base() if isinstance(base, type) else base
        if self.base.name not in LINKS:
            raise ParameterError(f"covariates are available for BG/NBD, MBG/NBD, Pareto/NBD "
                                 f"and Gamma-Gamma, not {self.base.label}")
        given = {"purchase": purchase, "dropout": dropout, "spend": spend}
        self.covariates = {}
        for process, cols in given.items():
            cols = (cols,) if isinstance(cols, str) else tuple(cols or ())
            if cols and process not in LINKS[self.base.name]:
                raise ParameterError(f"{self.base.label} has no {process} process: "
                                     f"covariates on {process} ({', '.join(cols)}) do not apply")
            if len(set(cols)) < len(cols):
                raise ParameterError(f"a covariate is given twice on {process}: {list(cols)}")
            self.covariates[process] = cols
        self.coefficient_names = tuple(f"{p}:{c}" for p in PROCESSES for c in self.covariates[p])
        self.columns = tuple(dict.fromkeys(c for p in PROCESSES for c in self.covariates[p]))
        self.param_names = tuple(self.base.param_names) + self.coefficient_names
        self.required_columns = tuple(self.base.required_columns) + tuple(
            c for c in self.columns if c not in self.base.required_columns)
        self.name = self.base.name
        self.label = f"{self.base.label} with covariates" if self.columns else self.base.label

    # ---- the likelihood ----------------------------------------------------------------
    def _positive_mask(self) -> np.ndarray:
        return np.array([True] * len(self.base.param_names) + [False] * len(self.coefficient_names))

    def _working_scale(self, data) -> np.ndarray:
        # a coefficient times its covariate's spread: one step of the optimiser means
        # about the same change of the linear predictor for every covariate
        w = data["_w"]
        sds = [np.sqrt(np.cov(data[c], aweights=w)) if np.sum(w > 0) > 1 else 1.0
               for p in PROCESSES for c in self.covariates[p]]
        return np.array([1.0] * len(self.base.param_names)
                        + [s if np.isfinite(s) and s > 0 else 1.0 for s in sds])

    def _individual(self, params, data) -> np.ndarray:
        n = len(np.asarray(data[self.base.required_columns[0]]))
        z = {c: np.asarray(data[c], dtype=float) for c in self.columns}
        return individual_params(self.base, params, z, self.covariates, n)

    def _loglik(self, params, data) -> np.ndarray:
        return self.base._loglik(self._individual(params, data), data)

    @property
    def _loglik_grad(self):
        """Chain rule from the base model's per-customer gradient, when it has one."""
        base_grad = getattr(self.base, "_loglik_grad", None)
        if base_grad is None:
            return None

        def grad(params, data):
            theta = self._individual(params, data)            # (k0, n)
            g = np.asarray(base_grad(theta, data), dtype=float)  # (n, k0), per customer
            k0 = len(self.base.param_names)
            out = np.empty((g.shape[0], len(self.param_names)))
            scaled = np.asarray(params[:k0], dtype=float)
            for j in range(k0):
                # theta_ij = theta_j m_ij: d/d theta_j = g_ij m_ij = g_ij theta_ij / theta_j
                out[:, j] = g[:, j] * theta[j] / scaled[j]
            at = k0
            for process in PROCESSES:
                if not self.covariates[process]:
                    continue
                name, sign = LINKS[self.base.name][process]
                j = self.base.param_names.index(name)
                for c in self.covariates[process]:
                    out[:, at] = g[:, j] * theta[j] * sign * np.asarray(data[c], dtype=float)
                    at += 1
            return out

        return grad

    # ---- data checks -------------------------------------------------------------------
    def _prepare(self, data, weights=None):
        cols = list(data.columns) if isinstance(data, pd.DataFrame) else list(data)
        missing = [c for c in self.columns if c not in cols]
        if missing:
            raise MissingColumnsError(missing, cols, what="covariate data")
        for c in self.columns:
            values = data[c]
            if isinstance(values, pd.Series) and not (pd.api.types.is_numeric_dtype(values)
                                                      and not pd.api.types.is_bool_dtype(values)):
                raise DataContractError(c, "a covariate must be numeric (encode text as 0/1 "
                                        "indicators of its levels first)", len(values))
        arrays, w = super()._prepare(data, weights)
        arrays["_w"] = w
        return arrays, w

    def _check_values(self, arrays) -> None:
        self.base._check_values(arrays)
        for c in self.columns:
            bad = ~np.isfinite(arrays[c])
            if bad.any():
                rows = np.flatnonzero(bad)
                raise DataContractError(c, "a covariate must be a finite number (missing or "
                                        "infinite values: drop or fill those customers "
                                        "first)", len(rows), rows)

    def _check_identified(self, data, weights) -> None:
        self.base._check_identified(data, weights)
        used = weights > 0
        n = float(weights.sum())
        for process in PROCESSES:
            cols = self.covariates[process]
            if not cols:
                continue
            Z = np.column_stack([data[c][used] for c in cols])
            for j, c in enumerate(cols):
                if np.ptp(Z[:, j]) == 0:
                    raise InsufficientDataError(
                        model=self.label, reason=f"covariate {c} takes one value for all "
                        f"{n:,.0f} customers, so its effect on {process} cannot be estimated")
            centred = Z - np.average(Z, axis=0, weights=weights[used])
            sv, vecs = np.linalg.svd(centred / np.maximum(np.abs(centred).max(axis=0), 1e-300),
                                     full_matrices=False)[1:]
            if sv[-1] <= 1e-9 * sv[0]:
                load = np.abs(vecs[-1])
                names = [c for c, v in zip(cols, load) if v >= 0.1 * load.max()]
                raise InsufficientDataError(
                    model=self.label, reason=f"the covariates {', '.join(names)} on {process} "
                    f"are collinear over the {n:,.0f} customers (one is a combination of the "
                    "others, e.g. every level of a text column given as an indicator), so "
                    "their effects cannot be told apart")

    # ---- fitting -----------------------------------------------------------------------
    def fit(self, data, *, weights=None, initial_params=None, tol: float = 1e-10,
            maxiter: int = 2000) -> "CovariateModel":
        """Fit by maximum likelihood, from the base model fitted without covariates on the
        same data (``reduced_``) and all coefficients 0; returns ``self``.

        Parameters and errors as :meth:`clm_lib.clv.base.MLEModel.fit`; in addition a
        :class:`~clm_lib.exceptions.DataContractError` for a covariate column that is not
        numeric or not finite (naming the column and the rows), and an
        :class:`~clm_lib.exceptions.InsufficientDataError` for a covariate with one value
        only or covariates that are collinear.
        """
        if initial_params is None:
            w = data[weights] if isinstance(weights, str) else weights
            base_cols = list(self.base.required_columns)
            reduced = type(self.base)()
            try:
                reduced.fit(data[base_cols] if isinstance(data, pd.DataFrame)
                            else {c: data[c] for c in base_cols}, weights=w)
                start = reduced.params_.to_numpy()
                self.reduced_ = reduced
            except ConvergenceError:
                # the model without covariates may fail where the covariates help
                start = self.base._initial_params(
                    {c: np.asarray(data[c], dtype=float) for c in base_cols})
            initial_params = np.concatenate([start, np.zeros(len(self.coefficient_names))])
        super().fit(data, weights=weights, initial_params=initial_params, tol=tol,
                    maxiter=maxiter)
        self._data_.pop("_w", None)
        return self

    @property
    def log_likelihood_(self) -> float:
        """The maximised log-likelihood (``loglik_``)."""
        self._check_fitted()
        return self.loglik_

    @property
    def summary(self) -> pd.DataFrame:
        """As :attr:`MLEModel.summary`, with the Wald ``z`` and two-sided ``p`` of each
        coefficient (NaN for the base model's parameters, which are not tested against 0)."""
        out = super().summary
        coef = ~self._positive_mask()
        with np.errstate(divide="ignore", invalid="ignore"):
            zval = np.where(coef, out["estimate"] / out["se"], np.nan)
        out["z"] = zval
        out["p"] = np.where(coef, 2 * stats.norm.sf(np.abs(zval)), np.nan)
        return out

    def effects(self, level: float = 0.95) -> pd.DataFrame:
        """The effect of each covariate as a multiplier, with its Wald interval.

        Returns
        -------
        DataFrame
            One row per coefficient: ``process``, ``covariate``, ``coef`` and ``se`` (log
            scale), ``multiplier`` = exp(coef) (what one unit more of the covariate
            multiplies: ``meaning``), ``lower`` and ``upper`` (the interval at ``level``,
            exp of the interval on the log scale), ``p_value`` (two-sided Wald test of no
            effect) and ``meaning``.
        """
        self._check_fitted()
        if not 0 < level < 1:
            raise ParameterError(f"level must be between 0 and 1, got {level!r}")
        q = stats.norm.ppf(0.5 + level / 2)
        rows = []
        for name in self.coefficient_names:
            process, col = name.split(":", 1)
            b, se = float(self.params_[name]), float(self.se_[name])
            rows.append({"process": process, "covariate": col, "coef": b, "se": se,
                         "multiplier": np.exp(b), "lower": np.exp(b - q * se),
                         "upper": np.exp(b + q * se),
                         "p_value": float(2 * stats.norm.sf(abs(b / se))) if se > 0 else np.nan,
                         "meaning": f"{_meaning(self.name, process)} per unit of {col}"})
        return pd.DataFrame(rows, columns=["process", "covariate", "coef", "se", "multiplier",
                                           "lower", "upper", "p_value", "meaning"])

    def likelihood_ratio_test(self, reduced: MLEModel | None = None) -> dict:
        """Likelihood-ratio test against the same model without (some of) the covariates,
        fitted on the same customers (default ``reduced_``).

        Returns ``{"statistic", "df", "p_value"}``: ``2 (ln L - ln L_reduced)`` against a
        chi-square with as many degrees of freedom as the coefficients ``reduced`` lacks.

        Raises
        ------
        ParameterError
            ``reduced`` is another model, not nested, or fitted on other customers.
        ConvergenceError
            ``reduced`` fits clearly better (the larger model did not reach its optimum).
        """
        self._check_fitted()
        reduced = getattr(self, "reduced_", None) if reduced is None else reduced
        if reduced is None or not hasattr(reduced, "params_"):
            raise ParameterError("likelihood_ratio_test needs a fitted reduced model")
        if reduced.name != self.name:
            raise ParameterError(f"the reduced model is {reduced.label}, not {self.base.label}")
        missing = set(reduced.param_names) - set(self.param_names)
        if missing:
            raise ParameterError(f"the reduced model is not nested: it has {sorted(missing)}")
        if not np.isclose(reduced.n_obs_, self.n_obs_, rtol=1e-12):
            raise ParameterError(f"the reduced model was fitted on {reduced.n_obs_:,.0f} "
                                 f"customers, this one on {self.n_obs_:,.0f}: the test needs "
                                 "the same customers")
        stat = 2 * (self.loglik_ - reduced.loglik_)
        tol = 1e-6 * max(1.0, abs(self.loglik_))
        if stat < -tol:
            raise ConvergenceError(model=self.label, reason="the model without covariates fits "
                                   f"better (by {-stat / 2:.3g} in log-likelihood): this fit "
                                   "did not reach its optimum")
        stat = max(stat, 0.0)
        df = len(self.param_names) - len(reduced.param_names)
        return {"statistic": float(stat), "df": int(df),
                "p_value": float(stats.chi2.sf(stat, df)) if df > 0 else float("nan")}

    # ---- predictions, per customer ------------------------------------------------------
    def individual_params(self, data, params=None) -> pd.DataFrame:
        """Each customer's parameters of the base model (one column per base parameter)."""
        theta = self._individual(self._p(params), data)
        return pd.DataFrame(theta.T, columns=list(self.base.param_names),
                            index=data.index if isinstance(data, pd.DataFrame) else None)

    def _base_call(self, method: str, *args, data, params=None):
        return getattr(self.base, method)(*args, data, self._individual(self._p(params), data))

    def p_alive(self, data, params=None):
        """P(alive at T | x, t_x, T, z) per customer."""
        return self._base_call("p_alive", data=data, params=params)

    def p_alive_by_params(self, data):
        """``params -> p_alive(data, params)`` for many parameter draws."""
        return lambda params: self.p_alive(data, params)

    def conditional_expected_purchases(self, t, data, params=None):
        """E[Y(t) | x, t_x, T, z]: expected purchases in (T, T + t] per customer."""
        return self._base_call("conditional_expected_purchases", t, data=data, params=params)

    def conditional_expected_purchases_if_alive(self, t, data, params=None):
        """E[Y(t) | alive at T, x, T, z] per customer."""
        return self._base_call("conditional_expected_purchases_if_alive", t, data=data,
                               params=params)

    def conditional_expected_purchases_if_alive_table(self, t, data, params=None):
        """:meth:`conditional_expected_purchases_if_alive` for every row of ``data`` and
        every time of ``t``: an (n, len(t)) array."""
        t = np.asarray(t, dtype=float).ravel()
        theta = self._individual(self._p(params), data)
        x, T = (np.asarray(data[c], dtype=float) for c in ("frequency", "T"))
        grid = {"frequency": np.repeat(x, len(t)), "T": np.repeat(T, len(t))}
        return self.base.conditional_expected_purchases_if_alive(
            np.tile(t, len(x)), grid, np.repeat(theta, len(t), axis=1)).reshape(len(x), len(t))

    def expected_purchases(self, t, data=None, params=None):
        """E[X(t)] of a customer just acquired, with the covariates of each row of
        ``data`` (the baseline customer, all covariates 0, without ``data``)."""
        if data is None:
            return self.base.expected_purchases(t, self._p(params)[:len(self.base.param_names)])
        return self._base_call("expected_purchases", t, data=data, params=params)

    def sample_future_state(self, data, rng, params=None, p_alive=None) -> FutureState:
        """One posterior draw of each customer's state at T (see the base model's
        ``sample_future_state``), with her own parameters."""
        theta = self._individual(self._p(params), data)
        p = self.base.p_alive(data, theta) if p_alive is None else np.asarray(p_alive, float)
        alive = rng.random(len(p)) < p
        sub = {c: np.asarray(data[c], dtype=float)[alive] for c in ("frequency", "recency", "T")}
        state = self.base.sample_future_state(sub, rng, theta[:, alive],
                                              p_alive=np.ones(int(alive.sum())))
        return FutureState.for_alive(alive, state.rate, state.dropout, state.lifetime)

    def conditional_expected_spend(self, data, params=None):
        """Gamma-Gamma: E[spend per purchase | x, mean spend, z] per customer."""
        return self._base_call("conditional_expected_spend", data=data, params=params)

    def population_mean_spend(self, data=None, params=None):
        """Gamma-Gamma: the mean spend per purchase of a new customer with the covariates
        of each row of ``data`` (the baseline customer without ``data``)."""
        k0 = len(self.base.param_names)
        if data is None:
            return self.base.population_mean_spend(self._p(params)[:k0])
        p, q, v = self._individual(self._p(params), data)
        return np.where(q > 1, p * v / np.where(q > 1, q - 1, 1.0), np.inf)
