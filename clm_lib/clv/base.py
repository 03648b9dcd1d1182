"""Maximum-likelihood base class shared by every customer-base model in ``clm_lib.clv``.

In the spirit of statsmodels' ``GenericLikelihoodModel`` and lifelines' fitters, a model
declares only

* ``param_names``: the papers' parameter names, strictly positive unless
  ``_positive_mask`` says otherwise (regression coefficients, e.g. the covariate models
  of :mod:`clm_lib.clv.covariates`);
* ``required_columns``: the columns of the (reduced) data its likelihood needs;
* ``_loglik(params, data)``: a *pure, vectorised* per-observation log-likelihood, where
  ``params`` is a 1-d array in the order of ``param_names`` and ``data`` a dict of
  1-d float arrays keyed by column name;
* optionally ``_initial_params(data)``: start values;
* optionally ``_check_identified(data, weights)``: what the data must show for the
  parameters to be estimable at all (e.g. some repeat purchases), checked *before* the
  fit and raising :class:`~clm_lib.exceptions.InsufficientDataError` in words; an
  optimiser must never be the judge of whether data are degenerate, since a new release
  of it may "converge" on the same data;
* optionally ``_loglik_grad(params, data)``: the per-observation gradient of ``_loglik``
  in the natural parameters, shape ``(n, k)``; when given, the optimiser, the Newton
  polish and the information matrix use it (far fewer likelihood evaluations on large
  data);
* optionally ``_check_values(arrays)``: a :class:`~clm_lib.exceptions.DataContractError`
  for values the likelihood cannot take (checked when the data are prepared);
* optionally ``_tables(*columns, w)`` and ``_weighted_totals(params, tables)``: the
  weighted total log-likelihood and its gradient (length k) in one pass, equal to
  ``weights @ _loglik`` and ``weights @ _loglik_grad``, on parameter-free tables built
  once per fit from the ``required_columns`` and the weights; a model whose terms depend
  on one column at a time can sum them per distinct value there (BG/NBD, MBG/NBD,
  Gamma-Gamma), which makes each evaluation several times cheaper on large data.

The base class fits on log-parameters with a gradient-based optimiser (L-BFGS-B, with
finite-difference gradients of the summed log-likelihood), computes standard errors
from the observed information (numerical Hessian in the natural parameters), and
provides ``summary``, ``AIC_``, ``BIC_`` and parameter draws for intervals. ``fit``
returns ``self``; fitted attributes end in ``_``.

Weights (``weights=`` a column name or array) let identical rows be fitted once with a
count — the compressed fit equals the uncompressed one exactly, since the log-likelihood
is a sum over customers.

Parameters that may take any sign (``_positive_mask`` False) are fitted as they are,
divided by ``_working_scale`` (e.g. a coefficient per unit of a covariate, times the
covariate's spread), so that the optimiser sees parameters of similar size; their
intervals are symmetric on the natural scale. With every parameter positive (all the
models without covariates) the arithmetic is exactly the log-parameter fit above.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.tools.numdiff import approx_fprime, approx_hess3

from clm_lib.exceptions import (
    ConvergenceError,
    InsufficientDataError,
    MissingColumnsError,
)

#: Parameters beyond these bounds mean the fit ran off to a degenerate boundary (e.g.
#: a -> 0 in the BG/NBD). Rates are per time unit, so a legitimate estimate outside the
#: range means the data are in an unsuitable unit: the error message says so.
_BOUNDS = 1e-4, 1e6
_LOG_BOUND = np.log(_BOUNDS[0]), np.log(_BOUNDS[1])

#: The fewest customers (weighted rows) any model is fitted on. The models estimate how a
#: rate or a probability varies *across* customers (a mixing distribution with two
#: parameters per process): a handful of customers cannot show that spread, and a fit on
#: them lands on a boundary or on a flat ridge. A floor, not a guarantee: the checks after
#: the fit still apply.
MIN_CUSTOMERS = 10


def _n(count: float) -> str:
    """A weighted count for a message: ``"2,357"``."""
    return f"{count:,.0f}"


def require_customers(model: str, weights: np.ndarray, qualifier: str = "",
                      minimum: int = MIN_CUSTOMERS) -> None:
    """Raise :class:`InsufficientDataError` when fewer than ``minimum`` customers
    (weighted rows); ``qualifier`` says which customers (e.g. " with repeat spend").

    >>> require_customers("BG/NBD", np.ones(3))
    Traceback (most recent call last):
    ...
    clm_lib.exceptions.InsufficientDataError: BG/NBD cannot be fitted: 3 customers, at least 10
    are needed to estimate how customers differ
    """
    n = float(np.sum(weights))
    if n < minimum:
        raise InsufficientDataError(
            model=model, reason=f"{_n(n)} customer{'' if n == 1 else 's'}{qualifier}, at least "
            f"{minimum} are needed to estimate how customers differ")


def check_purchase_data(model: str, x: np.ndarray, T: np.ndarray, w: np.ndarray, *,
                        time_label: str = "T") -> None:
    """What every repeat-purchase model (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB) needs.

    * at least :data:`MIN_CUSTOMERS` customers;
    * some observed time: not every customer may have ``T = 0`` (all first purchases at
      the end of the period);
    * at least one customer with a repeat purchase: without one, the purchase rate and
      the dropout cannot be told apart (the likelihood is maximised anywhere the
      expected number of repeat purchases is 0).

    Raises
    ------
    InsufficientDataError
        Saying what is missing and how many customers qualify.
    """
    require_customers(model, w)
    n = float(w.sum())
    observed = float(w[T > 0].sum())
    if observed == 0:
        raise InsufficientDataError(
            model=model, reason="no customer was observed for any time after the first "
            f"purchase ({_n(n)} customers, all with {time_label} = 0, e.g. all purchases on the "
            "last day of the period)")
    repeat = float(w[x > 0].sum())
    if repeat == 0:
        raise InsufficientDataError(
            model=model, reason=f"no customer has a repeat purchase ({_n(n)} customers, all "
            "with frequency 0), so how often customers buy cannot be told apart from how "
            "soon they stop")


def distinct_pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of the columns (a, b), sorted, and each row's index among them.

    The codes of the two columns are combined into one integer: much faster than
    ``np.unique(np.column_stack([a, b]), axis=0)`` on a million rows, with the same rows
    in the same order.
    """
    ua, ia = np.unique(np.asarray(a, float), return_inverse=True)
    ub, ib = np.unique(np.asarray(b, float), return_inverse=True)
    up, inverse = np.unique(ia.ravel().astype(np.int64) * len(ub) + ib.ravel(),
                            return_inverse=True)
    return np.column_stack([ua[up // len(ub)], ub[up % len(ub)]]), inverse.ravel()


class MLEModel:
    """Base class: subclasses set ``param_names``, ``required_columns`` and ``_loglik``."""

    param_names: tuple[str, ...] = ()
    required_columns: tuple[str, ...] = ()
    #: Short name used in metrics (e.g. "bgnbd").
    name: str = "model"
    #: The model's name in messages and reports (e.g. "BG/NBD").
    label: str = "model"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "label" not in cls.__dict__:
            cls.label = cls.__name__

    # ---- to be provided by subclasses ------------------------------------------------
    @staticmethod
    def _loglik(params: np.ndarray, data: Mapping[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _initial_params(self, data: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.ones(len(self.param_names))

    def _check_identified(self, data: Mapping[str, np.ndarray], weights: np.ndarray) -> None:
        """Raise :class:`InsufficientDataError` when the data cannot identify the
        parameters; the default asks for :data:`MIN_CUSTOMERS` observations."""
        require_customers(self.label, weights)

    def _positive_mask(self) -> np.ndarray:
        """Which parameters are strictly positive (fitted on the log scale); the others
        (coefficients) are fitted as they are. Default: all positive."""
        return np.ones(len(self.param_names), dtype=bool)

    def _working_scale(self, data: Mapping[str, np.ndarray]) -> np.ndarray:
        """The optimiser's parameter is the log-parameter (or the coefficient) times
        this; default 1 for all."""
        return np.ones(len(self.param_names))

    def _natural(self, ls: np.ndarray) -> np.ndarray:
        """Natural parameters from the log scale of the positive ones (the others as
        they are); rows of a 2-d array are parameter vectors."""
        pos = self._positive_mask()
        if pos.all():
            return np.exp(ls)
        with np.errstate(over="ignore"):
            return np.where(pos, np.exp(np.where(pos, ls, 0.0)), ls)

    def _log_scale(self, theta: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`_natural`."""
        pos = self._positive_mask()
        if pos.all():
            return np.log(theta)
        return np.where(pos, np.log(np.where(pos, theta, 1.0)), theta)

    # ---- data handling ---------------------------------------------------------------
    def _prepare(self, data: pd.DataFrame | Mapping, weights=None):
        cols = list(data.columns) if isinstance(data, pd.DataFrame) else list(data)
        missing = [c for c in self.required_columns if c not in cols]
        if missing:
            raise MissingColumnsError(missing, cols, what=f"{type(self).__name__} data")
        arrays = {c: np.asarray(data[c], dtype=float) for c in self.required_columns}
        n = len(next(iter(arrays.values()))) if arrays else 0
        if isinstance(weights, str):
            w = np.asarray(data[weights], dtype=float)
        elif weights is None:
            w = np.ones(n)
        else:
            w = np.asarray(weights, dtype=float)
        self._check_values(arrays)
        if self._tables is not None:
            arrays["_tables"] = self._tables(*(arrays[c] for c in self.required_columns), w)
        return arrays, w

    def _check_values(self, arrays) -> None:
        """Raise a DataContractError for values the likelihood cannot take (none here)."""

    #: See the module notes: a model with weighted totals sets both.
    _tables = None
    _weighted_totals = None

    @property
    def _weighted_value_and_grad(self):
        """``(params, data, weights) -> (value, gradient)`` on the tables of ``data``, or
        None for a model without weighted totals."""
        if self._weighted_totals is None:
            return None
        return lambda params, data, weights: self._weighted_totals(params, data["_tables"])

    # ---- fitting ---------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, *, weights=None, initial_params=None,
            tol: float = 1e-10, maxiter: int = 2000) -> "MLEModel":
        """Fit by maximum likelihood; returns ``self``.

        Parameters
        ----------
        data : DataFrame
            Must contain ``required_columns`` (see the subclass).
        weights : str or array-like, optional
            Column name or array of counts per row (compressed data).
        initial_params : array-like, optional
            Start values in the natural scale, in the order of ``param_names``.

        Raises
        ------
        InsufficientDataError
            The data cannot identify the parameters (too few customers, no repeat
            purchase, ...: see the model's ``_check_identified``); checked before fitting.
        ConvergenceError
            The optimiser failed, the log-likelihood is not finite, a parameter ran off
            to a degenerate boundary (below 1e-4 or above 1e6), or the information matrix
            is singular at the optimum (its smallest eigenvalue at most ``SINGULAR_RTOL``
            of its largest); the message names the parameters.
        """
        arrays, w = self._prepare(data, weights)
        self._check_identified(arrays, w)
        if not w.sum() > 0:  # a subclass's checks may not ask for customers
            raise InsufficientDataError(model=self.label, reason="no observations")
        x0 = np.asarray(
            initial_params if initial_params is not None else self._initial_params(arrays),
            dtype=float,
        )

        n_total = float(w.sum())
        pos = self._positive_mask()
        scale = self._working_scale(arrays)
        total_vg = self._total_value_and_grad(arrays, w)
        if getattr(self, "_weighted_value_and_grad", None) is not None:
            def total_ll(theta):  # the weighted total is the cheaper way to the value too
                return total_vg(theta)[0]
        else:
            def total_ll(theta):
                return float(np.dot(w, self._loglik(theta, arrays)))

        def natural(u: np.ndarray) -> np.ndarray:
            # u: the optimiser's parameters (log-parameters, coefficients times their scale)
            return self._natural(u / scale)

        def negll(logp: np.ndarray) -> float:
            total = total_ll(natural(logp))
            return -total if np.isfinite(total) else 1e300

        def mean_negll(logp: np.ndarray) -> float:
            # Optimise the mean, not the sum: gradients and tolerances then do not scale
            # with the number of customers, so 1k and 1M customers converge alike.
            return negll(logp) / n_total

        fun_and_grad = mean_negll_grad = None
        if total_vg is not None:
            # Analytic gradient, chain rule to the log-parameters; value and gradient in
            # one pass.
            def fun_and_grad(logp: np.ndarray):
                theta = natural(logp)
                total, g = total_vg(theta)
                g = np.asarray(g, dtype=float) * np.where(pos, theta, 1.0) / scale
                if not (np.isfinite(total) and np.all(np.isfinite(g))):
                    return 1e300 / n_total, np.zeros_like(g)
                return -total / n_total, -g / n_total

            def mean_negll_grad(logp: np.ndarray) -> np.ndarray:
                return fun_and_grad(logp)[1]

        if fun_and_grad is None:
            res = optimize.minimize(mean_negll, self._log_scale(x0) * scale, method="L-BFGS-B",
                                    options={"maxiter": maxiter, "ftol": tol, "gtol": 1e-9})
            # Newton polish with central-difference derivatives: quasi-Newton stops with
            # finite-difference gradients leave ~1e-5 relative error in the estimates; two
            # or three Newton steps reach the optimum to ~1e-9, so that e.g. a fit on
            # compressed data equals the uncompressed fit.
            polish: dict = {}
            res.x = self._newton_polish(mean_negll, res.x, info=polish)
        else:
            res = optimize.minimize(fun_and_grad, self._log_scale(x0) * scale, method="L-BFGS-B",
                                    jac=True,
                                    options={"maxiter": maxiter, "ftol": tol, "gtol": 1e-10})
            # Newton polish on the finite-differenced analytic gradient, always: a small
            # gradient is not enough, since on an ill-conditioned likelihood (Gamma-Gamma's
            # q and v) a mean gradient of 1e-9 can leave the estimates 1e-6 off, and two
            # fits of the same data summed in another order (DuckDB, Spark) would differ
            # visibly. One or two steps reach the optimum to machine precision.
            res.x = self._newton_polish(mean_negll, res.x, grad=mean_negll_grad)
        logp = res.x
        res.fun = negll(logp)
        if not np.isfinite(res.fun) or res.fun >= 1e299:
            raise ConvergenceError(model=self.label, reason="log-likelihood not finite at the optimum")
        ls = logp / scale
        off = pos & ((ls < _LOG_BOUND[0]) | (ls > _LOG_BOUND[1]))
        if off.any():
            bad = [f"{n} → {'0' if v < _LOG_BOUND[0] else '∞'} ({np.exp(v):.3g})"
                   for n, v, o in zip(self.param_names, ls, off) if o]
            raise ConvergenceError(
                model=self.label, reason=f"{', '.join(bad)} ran off to a degenerate boundary "
                f"(outside {_BOUNDS[0]:g}..{_BOUNDS[1]:g}); the model does not fit these data, "
                "or their time unit is unsuitable")
        grad = (optimize.approx_fprime(logp, mean_negll, 1e-7) if mean_negll_grad is None
                else mean_negll_grad(logp))
        if not res.success and np.max(np.abs(grad)) > 1e-4:
            raise ConvergenceError(model=self.label,
                                   reason=f"optimiser did not converge ({res.message})")

        self._data_ = arrays
        self._weights_ = w
        self.n_obs_ = float(w.sum())
        self.params_ = pd.Series(natural(logp), index=list(self.param_names), name="estimate")
        self.loglik_ = -float(res.fun)
        self.AIC_ = 2 * len(self.param_names) - 2 * self.loglik_
        self.BIC_ = len(self.param_names) * np.log(self.n_obs_) - 2 * self.loglik_
        self.converged_ = True
        hess = None
        if fun_and_grad is None and "hess" in polish and np.max(np.abs(logp - polish["at"])) < 1e-4:
            # the polish Hessian was taken within 1e-4 (log scale) of the optimum: reuse it
            hess = polish["hess"] * n_total
        self._compute_covariance(negll, logp, grad=mean_negll_grad, scale=n_total, hess=hess,
                                 working_scale=scale)
        return self

    def _total_value_and_grad(self, arrays, w):
        """``theta -> (weighted total log-likelihood, its gradient)``, or None when the
        model has no analytic gradient (then finite differences are used).

        The optimiser, the Newton polish and the checks after them ask for the same
        point several times; the result for the last point is kept.
        """
        weighted = getattr(self, "_weighted_value_and_grad", None)
        grad = getattr(self, "_loglik_grad", None)
        if weighted is None and grad is None:
            return None
        last: dict = {}

        def total(theta):
            theta = np.asarray(theta, dtype=float)
            key = theta.tobytes()
            if key not in last:
                if weighted is not None:
                    value, g = weighted(theta, arrays, w)
                else:
                    value, g = float(np.dot(w, self._loglik(theta, arrays))), w @ grad(theta, arrays)
                last.clear()
                last[key] = float(value), np.asarray(g, dtype=float)
            value, g = last[key]
            return value, g.copy()
        return total

    @staticmethod
    def _newton_polish(f, x: np.ndarray, max_steps: int = 4, grad=None,
                       info: dict | None = None) -> np.ndarray:
        # Chord-Newton: the Hessian is computed at the first point and reused while steps
        # keep decreasing f (near the optimum it hardly changes), so later steps cost one
        # gradient each; it is recomputed only after a step that needed shrinking.
        fx = f(x)
        hess = None
        for _ in range(max_steps):
            g = approx_fprime(x, f, centered=True) if grad is None else grad(x)
            if hess is None:
                # forward differences of the gradient suffice for the steps (k gradient
                # calls); the standard errors use central ones
                hess = approx_hess3(x, f) if grad is None else MLEModel._jacobian_of_grad(grad, x, g0=g)
                if info is not None:
                    info["hess"], info["at"] = hess, x.copy()
            try:
                step = np.linalg.solve(hess, g)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)):
                break
            # Near the optimum a Newton step changes f by less than its rounding noise (a
            # sum over up to millions of customers): a step is accepted when f does not
            # rise beyond that noise, otherwise an ill-conditioned fit stops short.
            noise = 1e-13 * max(1.0, abs(fx))
            for shrink in (1.0, 0.5, 0.25):
                x_new = x - shrink * step
                f_new = f(x_new)
                if np.isfinite(f_new) and f_new <= fx + noise:
                    break
            else:
                break
            if shrink < 1.0:
                hess = None
            x, fx = x_new, f_new
            if np.max(np.abs(shrink * step)) < 1e-10:
                break
        return x

    @staticmethod
    def _jacobian_of_grad(grad, x: np.ndarray, h: float = 1e-5, g0=None) -> np.ndarray:
        # Central differences of an analytic gradient (2k gradient calls), or forward
        # differences from the gradient g0 at x (k calls); symmetrised.
        k = len(x)
        hess = np.empty((k, k))
        for i in range(k):
            e = np.zeros(k)
            e[i] = h
            if g0 is None:
                hess[:, i] = (grad(x + e) - grad(x - e)) / (2 * h)
            else:
                hess[:, i] = (grad(x + e) - g0) / h
        return (hess + hess.T) / 2

    def _compute_covariance(self, negll, logp: np.ndarray, grad=None, scale: float = 1.0,
                            hess: np.ndarray | None = None, working_scale=None) -> None:
        # Observed information in the optimiser's parameters u, then back to the log
        # scale (u = ls * working_scale) and the delta method to the natural scale:
        # cov(theta) = J cov(log theta) J with J = diag(theta) for the positive
        # parameters (1 for coefficients).
        if hess is not None:
            pass
        elif grad is None:
            hess = approx_hess3(logp, negll)
        else:
            hess = self._jacobian_of_grad(grad, logp) * scale
        # one rule covers a matrix that does not invert, one whose inverse has a
        # non-positive variance and one that is singular up to rounding
        if self._numerically_singular(hess):
            raise ConvergenceError(
                model=self.label, reason="the information matrix is singular at the optimum "
                f"along {', '.join(self._flat_directions(hess))} (a flat likelihood: the data do "
                "not pin these parameters down); the model does not fit these data")
        cov_log = np.linalg.inv(hess)
        if working_scale is not None:
            cov_log = cov_log / np.outer(working_scale, working_scale)
            logp = logp / working_scale
        theta = self._natural(logp)
        self.cov_log_params_ = pd.DataFrame(cov_log, index=self.param_names, columns=self.param_names)
        jac = np.where(self._positive_mask(), theta, 1.0)
        cov = cov_log * np.outer(jac, jac)
        self.variance_matrix_ = pd.DataFrame(cov, index=self.param_names, columns=self.param_names)
        self.se_ = pd.Series(np.sqrt(np.diag(cov)), index=list(self.param_names), name="se")

    #: An information matrix whose smallest eigenvalue is below this fraction of its
    #: largest is singular for our purposes: finite-difference Hessians are accurate to
    #: about the square root of the machine epsilon (~1.5e-8) relative, so a smaller
    #: eigenvalue is rounding noise whose sign and size depend on the CPU's arithmetic.
    SINGULAR_RTOL = 1e-8

    @classmethod
    def _numerically_singular(cls, hess: np.ndarray) -> bool:
        """Not finite, or not positive definite with a margin: the smallest eigenvalue
        is at most ``SINGULAR_RTOL`` times the largest (which also holds for a matrix
        that does not invert or whose inverse has a non-positive diagonal)."""
        if not np.all(np.isfinite(hess)):
            return True
        vals = np.linalg.eigvalsh((hess + hess.T) / 2)
        return bool(vals[0] <= cls.SINGULAR_RTOL * abs(vals[-1]))

    def _flat_directions(self, hess: np.ndarray) -> list[str]:
        """The parameters that load on the flattest direction of the log-likelihood (the
        eigenvector of the smallest eigenvalue of the information), largest first."""
        if not np.all(np.isfinite(hess)):
            bad = ~np.all(np.isfinite(hess), axis=0)
            return [n for n, b in zip(self.param_names, bad) if b]
        vals, vecs = np.linalg.eigh((hess + hess.T) / 2)
        v = np.abs(vecs[:, np.argmin(vals)])
        order = np.argsort(-v)
        return [self.param_names[i] for i in order if v[i] >= 0.3 * v.max()]

    # ---- results -----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise AttributeError(f"{type(self).__name__} is not fitted yet: call fit() first")

    def _p(self, params=None) -> tuple[float, ...]:
        """Parameters as a tuple: ``params`` when given (natural scale, in the order of
        ``param_names``), else the fitted ones. Predictions take ``params=`` so that
        intervals can be computed from :meth:`sample_params` draws."""
        if params is None:
            self._check_fitted()
            return tuple(self.params_.to_numpy())
        return tuple(np.asarray(params, dtype=float))

    @property
    def summary(self) -> pd.DataFrame:
        """Estimates, standard errors and 95 % intervals (computed on the log scale for
        the positive parameters, so that they stay positive; symmetric for coefficients)."""
        self._check_fitted()
        z = stats.norm.ppf(0.975)
        se_log = np.sqrt(np.diag(self.cov_log_params_.to_numpy()))
        est = self.params_.to_numpy()
        pos = self._positive_mask()
        return pd.DataFrame(
            {
                "estimate": est,
                "se": self.se_.to_numpy(),
                "lower 95%": np.where(pos, est * np.exp(-z * se_log), est - z * se_log),
                "upper 95%": np.where(pos, est * np.exp(z * se_log), est + z * se_log),
            },
            index=pd.Index(self.param_names, name="parameter"),
        )

    def sample_params(self, n: int, seed: int | None = 0) -> np.ndarray:
        """Draw ``n`` parameter vectors from the asymptotic normal of the log-parameters.

        Returns an ``(n, k)`` array in the natural scale; used for intervals of
        forecasts and per-customer values. (Coefficients, ``_positive_mask`` False, are
        drawn from the normal of their estimate.)
        """
        self._check_fitted()
        rng = np.random.default_rng(seed)
        mean = self._log_scale(self.params_.to_numpy())
        cov = self.cov_log_params_.to_numpy()
        if not np.all(np.isfinite(cov)):
            raise ConvergenceError(model=self.label, reason="no covariance to sample from")
        with np.errstate(over="ignore"):
            draws = self._natural(rng.multivariate_normal(mean, cov, size=n, method="cholesky"))
        if not np.all(np.isfinite(draws) & ((draws > 0) | ~self._positive_mask())):
            # a log-parameter so uncertain that its draws overflow (or underflow to 0):
            # no interval can be drawn from such a fit
            raise ConvergenceError(model=self.label, reason="the parameters are too uncertain "
                                   "to draw intervals from (their draws overflow)")
        return draws

    def to_metrics(self) -> dict:
        """JSON-ready ``{"params", "se", "loglik", "aic", "bic", "n"}``."""
        self._check_fitted()
        return {
            "params": {k: float(v) for k, v in self.params_.items()},
            "se": {k: (None if not np.isfinite(v) else float(v)) for k, v in self.se_.items()},
            "loglik": self.loglik_,
            "aic": self.AIC_,
            "bic": self.BIC_,
            "n": self.n_obs_,
        }

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            return f"<{type(self).__name__}: {ps}, loglik={self.loglik_:.2f}>"
        return f"<{type(self).__name__}: not fitted>"


class FutureState(NamedTuple):
    """One posterior draw of each customer's state at the end of her history (arrays of
    equal length), as :meth:`RepeatPurchaseModel.sample_future_state` returns it:
    ``alive`` (bool), ``rate`` (purchases per time unit while alive), ``dropout`` (the
    probability of dropping out after each purchase: BG/NBD, MBG/NBD; 0 for Pareto/NBD)
    and ``lifetime`` (time units left to live: Pareto/NBD; infinite for the others)."""

    alive: np.ndarray
    rate: np.ndarray
    dropout: np.ndarray
    lifetime: np.ndarray

    @classmethod
    def for_alive(cls, alive: np.ndarray, rate, dropout=None, lifetime=None) -> "FutureState":
        """The state of all customers from the draws of the alive ones (``rate``,
        ``dropout``, ``lifetime`` in the order of ``np.flatnonzero(alive)``): the dead get
        rate 0, and missing draws mean no dropout at purchases or an infinite lifetime."""
        n, idx = len(alive), np.flatnonzero(alive)
        full = [np.zeros(n), np.zeros(n), np.full(n, np.inf)]
        for arr, draws in zip(full, (rate, dropout, lifetime)):
            if draws is not None:
                arr[idx] = draws
        return cls(alive, *full)


class RepeatPurchaseModel(MLEModel):
    """Base of the models of (frequency, recency, T) data: BG/NBD, MBG/NBD, Pareto/NBD.

    Adds the data checks of :func:`check_purchase_data` before every fit."""

    required_columns = ("frequency", "recency", "T")

    def _check_identified(self, data, weights):
        check_purchase_data(self.label, data["frequency"], data["T"], weights)

    def p_alive_by_params(self, data):
        """``params -> self.p_alive(data, params)``, for many parameter draws on one
        ``data`` (a model may prepare ``data`` once)."""
        return lambda params: self.p_alive(data, params)

    def conditional_expected_purchases_if_alive_table(self, t, data, params=None):
        """``conditional_expected_purchases_if_alive`` for every row i of ``data``
        (``frequency``, ``T``) and every time t_j of ``t``: an (n, len(t)) array."""
        t = np.asarray(t, dtype=float).ravel()
        x, T = (np.asarray(data[c], dtype=float) for c in ("frequency", "T"))
        grid = {"frequency": np.repeat(x, len(t)), "T": np.repeat(T, len(t))}
        return self.conditional_expected_purchases_if_alive(np.tile(t, len(x)), grid,
                                                            params).reshape(len(x), len(t))

    def sample_future_state(self, data, rng: np.random.Generator, params=None,
                            p_alive=None) -> FutureState:
        """One draw of each customer's state at T from the posterior given her history
        (``frequency``, ``recency``, ``T``) and ``params``: what
        :func:`clm_lib.clv.predictive.simulate_purchases` needs to simulate her future.
        ``p_alive``: the rows' P(alive) under ``params`` when already computed."""
        raise NotImplementedError
