"""Gamma-Gamma model of average spend per transaction.

Fader, P. S. & Hardie, B. G. S. (2013), note 025, "The Gamma-Gamma Model of Monetary
Value"; after Colombo & Jiang (1999). A customer's spend per transaction is
Gamma(p, rate nu); across customers ``nu ~ Gamma(q, rate gamma)``. The mean ``z`` of
``x`` transactions then has density

``f(z | p, q, gamma, x) = G(px + q) / (G(px) G(q)) * gamma^q z^(px-1) x^(px) / (gamma + x z)^(px+q)``

and the conditional expected average spend is
``(gamma + x z) p / (px + q - 1)``, a weighted mean of the population mean
``gamma p / (q - 1)`` and the customer's own mean ``z``.

The model assumes spend is independent of the purchase frequency: check
:func:`frequency_spend_correlation` and report it.

Data: ``frequency`` (number of spend observations averaged, x > 0) and ``monetary_value``
(their mean, > 0, currency units). With :meth:`clm_lib.reduce.Engine.summary_data` use the
customers with ``spend_frequency > 0`` and pass ``spend_frequency`` as ``frequency``.
The parameter called ``v`` in some software is ``gamma`` here (the note's name).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from clm_lib.clv.base import MLEModel, require_customers
from clm_lib.exceptions import DataContractError, InsufficientDataError, MissingColumnsError

__all__ = ["GammaGammaModel", "gamma_gamma_loglik", "simulate_gamma_gamma",
           "frequency_spend_correlation"]


def gamma_gamma_loglik(params, data) -> np.ndarray:
    """Per-customer log density of the mean spend (note 025, eq. 3)."""
    p, q, g = params
    x = np.asarray(data["frequency"], dtype=float)
    z = np.asarray(data["monetary_value"], dtype=float)
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q)
            + q * np.log(g) + (px - 1) * np.log(z) + px * np.log(x)
            - (px + q) * np.log(g + x * z))


def gamma_gamma_loglik_grad(params, data) -> np.ndarray:
    """Gradient of :func:`gamma_gamma_loglik` in (p, q, gamma); shape (n, 3)."""
    p, q, g = params
    x = np.asarray(data["frequency"], dtype=float)
    z = np.asarray(data["monetary_value"], dtype=float)
    px = p * x
    dg = special.digamma
    lgz = np.log(g + x * z)
    out = np.empty((len(x), 3))
    out[:, 0] = x * (dg(px + q) - dg(px) + np.log(z) + np.log(x) - lgz)
    out[:, 1] = dg(px + q) - dg(q) + np.log(g) - lgz
    out[:, 2] = q / g - (px + q) / (g + x * z)
    return out


def _tables(x, z, w) -> dict:
    """Parameter-free tables for :func:`gamma_gamma_weighted_value_and_grad`: the terms
    in x alone are summed per distinct x (few: whole numbers of purchases); only
    ``ln(gamma + x z)`` is left per customer."""
    ux, ix = np.unique(x, return_inverse=True)
    ix = ix.ravel()
    return {"ux": ux, "ix": ix, "w": w, "xz": x * z,
            "w_x": np.bincount(ix, w, len(ux)),                    # total weight per x
            "wlz_x": np.bincount(ix, w * np.log(z), len(ux))}      # sum of w ln z per x


def gamma_gamma_weighted_value_and_grad(params, tables):
    """Weighted total of :func:`gamma_gamma_loglik` and its gradient in (p, q, gamma),
    on the tables of :func:`_tables`; equal to ``w @ gamma_gamma_loglik(params, data)``
    and ``w @ gamma_gamma_loglik_grad(params, data)``."""
    p, q, g = params
    gl, dg = special.gammaln, special.digamma
    ux, ix, w, xz = tables["ux"], tables["ix"], tables["w"], tables["xz"]
    w_x, wlz_x = tables["w_x"], tables["wlz_x"]
    pu = p * ux
    # per customer: only ln(gamma + x z) and its derivative
    inv = 1.0 / (g + xz)
    wl_x = np.bincount(ix, w * np.log(g + xz), len(ux))      # sum of w ln(g + x z) per x
    winv_x = np.bincount(ix, w * inv, len(ux))               # sum of w / (g + x z) per x
    w_total = w_x.sum()
    total = (w_x @ (gl(pu + q) - gl(pu) + pu * np.log(ux)) + w_total * (q * np.log(g) - gl(q))
             + (pu - 1) @ wlz_x - (pu + q) @ wl_x)
    grad = np.array([
        ux @ (w_x * (dg(pu + q) - dg(pu) + np.log(ux)) + wlz_x - wl_x),
        w_x @ dg(pu + q) + w_total * (np.log(g) - dg(q)) - wl_x.sum(),
        w_total * q / g - (pu + q) @ winv_x,
    ])
    return float(total), grad


def simulate_gamma_gamma(params, frequency, *, seed=None) -> pd.DataFrame:
    """Simulate mean spend of customers with ``frequency`` spend observations each."""
    p, q, g = params
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / g, size=len(x))
    # the sum of x Gamma(p, nu) spends is Gamma(p x, nu)
    total = rng.gamma(p * x, 1.0 / nu)
    return pd.DataFrame({"frequency": x, "monetary_value": total / x})


def frequency_spend_correlation(data: pd.DataFrame) -> float:
    """Pearson correlation of ``frequency`` and ``monetary_value`` among repeat customers.

    The Gamma-Gamma model assumes it is close to zero (note 025 finds 0.11 on CDNOW)."""
    missing = [c for c in ("frequency", "monetary_value") if c not in data.columns]
    if missing:
        raise MissingColumnsError(missing, list(data.columns), what="spend data")
    d = data.loc[(data["frequency"] > 0) & (data["monetary_value"] > 0)]
    return float(stats.pearsonr(d["frequency"], d["monetary_value"])[0]) if len(d) > 2 else float("nan")


class GammaGammaModel(MLEModel):
    """Gamma-Gamma spend model; parameters ``p, q, v``.

    ``v`` is the scale of the gamma mixing distribution, as in Colombo & Jiang (1999) and
    the workbench's metrics; note 025 calls the same parameter gamma."""

    name = "gamma_gamma"
    label = "Gamma-Gamma"
    param_names = ("p", "q", "v")
    required_columns = ("frequency", "monetary_value")
    _loglik = staticmethod(gamma_gamma_loglik)
    _loglik_grad = staticmethod(gamma_gamma_loglik_grad)

    _tables = staticmethod(_tables)
    _weighted_totals = staticmethod(gamma_gamma_weighted_value_and_grad)

    def _check_values(self, arrays):
        bad = (arrays["frequency"] <= 0) | ~(arrays["monetary_value"] > 0)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise DataContractError(
                "monetary_value", "Gamma-Gamma needs frequency > 0 and monetary_value > 0; "
                "select customers with spend observations first", len(rows), rows)

    def _check_identified(self, data, weights):
        require_customers(self.label, weights, qualifier=" with repeat spend")
        z = data["monetary_value"]
        if np.ptp(z) == 0:
            raise InsufficientDataError(
                model=self.label, reason=f"all {float(weights.sum()):,.0f} customers with "
                "repeat spend have the same mean spend, so how spend varies across customers "
                "cannot be estimated")

    def _initial_params(self, data):
        z = data["monetary_value"]
        m, v = np.mean(z), np.var(z)
        return np.array([max(m * m / max(v, 1e-9), 0.5), 4.0, max(3.0 * m / max(m * m / max(v, 1e-9), 0.5), 1e-3)])

    def population_mean_spend(self, params=None) -> float:
        """E[Z] = p gamma / (q - 1) (infinite if q <= 1)."""
        p, q, g = self._p(params)
        return p * g / (q - 1) if q > 1 else np.inf

    def conditional_expected_spend(self, data, params=None) -> np.ndarray:
        """E[Z | z_bar, x] (note 025, eq. 5); customers with x = 0 get the population mean.

        ``data`` needs ``frequency`` (spend observations) and ``monetary_value``."""
        p, q, g = self._p(params)
        x = np.asarray(data["frequency"], dtype=float)
        z = np.asarray(data["monetary_value"], dtype=float)
        z = np.where(x > 0, z, 0.0)
        return p * (g + x * z) / (p * x + q - 1)
