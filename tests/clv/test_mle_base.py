"""The shared maximum-likelihood base class, on a toy negative-binomial (gamma-Poisson)
model whose estimates can be checked by simulation."""
import numpy as np
import pandas as pd
import pytest
from scipy.special import gammaln

from clm_lib.clv.base import MLEModel
from clm_lib.exceptions import ConvergenceError, InsufficientDataError, MissingColumnsError


class _NBD(MLEModel):
    param_names = ("r", "alpha")
    required_columns = ("x", "t")

    @staticmethod
    def _loglik(p, d):
        r, a = p
        x, t = d["x"], d["t"]
        return (gammaln(r + x) - gammaln(r) - gammaln(x + 1)
                + r * np.log(a / (a + t)) + x * np.log(t / (a + t)))


@pytest.fixture(scope="module")
def nbd_data():
    rng = np.random.default_rng(7)
    lam = rng.gamma(shape=0.5, scale=1 / 2.0, size=40_000)
    return pd.DataFrame({"x": rng.poisson(lam * 4.0), "t": 4.0})


def test_recovers_simulated_parameters_with_honest_intervals(nbd_data):
    m = _NBD().fit(nbd_data)
    assert m.params_["r"] == pytest.approx(0.5, rel=0.05)
    assert m.params_["alpha"] == pytest.approx(2.0, rel=0.07)
    s = m.summary
    assert (s["lower 95%"] < [0.5, 2.0]).all() and (s["upper 95%"] > [0.5, 2.0]).all()
    assert m.AIC_ == pytest.approx(4 - 2 * m.loglik_)


def test_compressed_fit_equals_uncompressed(nbd_data):
    full = _NBD().fit(nbd_data)
    compressed = nbd_data.groupby(["x", "t"]).size().rename("n").reset_index()
    comp = _NBD().fit(compressed, weights="n")
    assert len(compressed) < len(nbd_data) / 100
    np.testing.assert_allclose(comp.params_, full.params_, rtol=1e-6)
    assert comp.loglik_ == pytest.approx(full.loglik_, rel=1e-10)
    np.testing.assert_allclose(comp.se_, full.se_, rtol=1e-3)


def test_parameter_draws_centre_on_the_estimate(nbd_data):
    m = _NBD().fit(nbd_data)
    draws = m.sample_params(4000, seed=1)
    assert draws.shape == (4000, 2)
    np.testing.assert_allclose(np.median(draws, axis=0), m.params_, rtol=0.01)


class _Peaked(MLEModel):
    """log L = -(log p - log p0)^2 - (log q - log q0)^2 per row: the optimum is known,
    (p0, q0) from the data, so a fit on the boundary is made on purpose, not hoped for."""
    param_names = ("p", "q")
    required_columns = ("p0", "q0")

    @staticmethod
    def _loglik(params, d):
        p, q = params
        return -(np.log(p) - np.log(d["p0"])) ** 2 - (np.log(q) - np.log(d["q0"])) ** 2


class _Ridge(MLEModel):
    """log L depends on p * q only: a flat ridge, so the information matrix is singular."""
    param_names = ("p", "q")
    required_columns = ("y",)

    @staticmethod
    def _loglik(params, d):
        p, q = params
        return -(np.log(p * q) - np.log(d["y"])) ** 2


def test_estimate_on_a_boundary_raises_naming_the_parameter():
    ok = _Peaked().fit(pd.DataFrame({"p0": np.full(20, 2.0), "q0": 3.0}))
    assert ok.params_.to_numpy() == pytest.approx([2.0, 3.0], rel=1e-6)
    with pytest.raises(ConvergenceError, match=r"q → ∞") as info:
        _Peaked().fit(pd.DataFrame({"p0": np.full(20, 2.0), "q0": 1e9}))
    assert "p →" not in str(info.value)
    with pytest.raises(ConvergenceError, match=r"p → 0"):
        _Peaked().fit(pd.DataFrame({"p0": np.full(20, 1e-7), "q0": 3.0}))


def test_singular_information_raises_naming_the_flat_direction():
    with pytest.raises(ConvergenceError, match=r"singular .* along (p, q|q, p)"):
        _Ridge().fit(pd.DataFrame({"y": np.full(20, 6.0)}))


def test_singular_means_below_the_accuracy_of_a_numerical_hessian():
    # a ridge whose finite-difference information has a tiny positive eigenvalue (the
    # rounding of one CPU) is as singular as one where it comes out zero or negative
    ridge = np.array([[40.0, 40.0], [40.0, 40.0 + 1e-9]])
    assert np.all(np.isfinite(np.linalg.inv(ridge)))
    assert MLEModel._numerically_singular(ridge)
    assert MLEModel._numerically_singular(np.array([[1.0, np.nan], [np.nan, 1.0]]))
    # the information of real fits is far from it (CDNOW: smallest/largest ~1e-3)
    assert not MLEModel._numerically_singular(np.array([[2.0, 0.01], [0.01, 2e-3]]))


def test_too_few_customers_are_refused_before_fitting():
    with pytest.raises(InsufficientDataError, match="3 customers, at least 10"):
        _NBD().fit(pd.DataFrame({"x": [0, 1, 2], "t": 4.0}))
    # weights count customers: 3 rows standing for 30 customers are enough
    m = _NBD().fit(pd.DataFrame({"x": [0, 1, 2], "t": 4.0, "w": [12, 10, 8]}), weights="w")
    assert m.n_obs_ == 30


def test_missing_columns_and_empty_data_are_named():
    with pytest.raises(MissingColumnsError, match="'t'"):
        _NBD().fit(pd.DataFrame({"x": [1, 2]}))
    with pytest.raises(InsufficientDataError):
        _NBD().fit(pd.DataFrame({"x": [], "t": []}))


def test_results_before_fit_say_so():
    with pytest.raises(AttributeError, match="not fitted"):
        _NBD().summary


def test_distinct_pairs_equal_numpy_unique_of_the_rows():
    from clm_lib.clv.base import distinct_pairs

    rng = np.random.default_rng(3)
    a = rng.integers(0, 30, 5000).astype(float)
    b = np.round(rng.uniform(0, 50, 5000) * 7) / 7
    pairs, idx = distinct_pairs(a, b)
    want, want_idx = np.unique(np.column_stack([a, b]), axis=0, return_inverse=True)
    np.testing.assert_array_equal(pairs, want)
    np.testing.assert_array_equal(idx, want_idx.ravel())
    np.testing.assert_array_equal(pairs[idx], np.column_stack([a, b]))
