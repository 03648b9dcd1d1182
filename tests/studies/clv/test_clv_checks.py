"""Model checks of the CLV study (clm_lib.studies.clv.checks) and their words
(clm_lib.studies.clv.report_checks): chi-square against scipy on the same pooled cells,
the holdout log score against a hand computation, predictive bands by simulation, the
export's new columns in the data dictionary, and the sentences for both outcomes.
Times in weeks."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clm_lib.clv.bgnbd import BetaGeoModel
from clm_lib.config import CDNOW_SAMPLE
from clm_lib.studies.clv import checks, report, report_checks
from clm_lib.studies.clv.compute import clv_study, frequency_distribution


@pytest.fixture(scope="module")
def study():
    d = pd.read_csv(CDNOW_SAMPLE, dtype={"customer_id": str})
    tx = pd.DataFrame({"customer_id": d["customer_id"].astype("string"),
                       "timestamp": pd.to_datetime(d["date"]), "amount": d["dollars"]})
    return clv_study(tx, calibration_end="1997-09-30", as_of="1998-06-30", n_draws=20, seed=1)


def test_pool_cells_by_hand():
    labels, o, e = checks.pool_cells(["0", "1", "2", "3", "4+"], [10, 6, 2, 1, 1],
                                     [9.0, 6.0, 2.5, 1.5, 1.0])
    assert labels == ["0", "1", "2+"]
    assert o.tolist() == [10, 6, 4] and e.tolist() == [9.0, 6.0, 5.0]
    labels, o, e = checks.pool_cells(["0", "1", "2"], [1, 1, 1], [1.0, 1.0, 1.0])
    assert labels == ["0-2"] and e.tolist() == [3.0]


def test_chi_square_equals_scipy_on_the_pooled_cells(study):
    for name, m in study.checks["models"].items():
        chi = m["chi_square"]
        o, e = np.array(chi["observed"]), np.array(chi["expected"])
        assert o.sum() == pytest.approx(e.sum())
        assert min(e) >= checks.MIN_EXPECTED
        ref = stats.chisquare(o, e, ddof=len(study.models[name].param_names))
        assert chi["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
        assert chi["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
        assert chi["df"] == len(o) - 1 - 4


def test_published_bgnbd_fits_the_cdnow_sample_histogram(study):
    """Fader, Hardie & Lee (2005), fig. 3: the BG/NBD reproduces the calibration histogram
    of the CDNOW 1/10 sample (r 0.243, alpha 4.414, a 0.793, b 2.426)."""
    m = BetaGeoModel()
    m.params_ = pd.Series((0.243, 4.414, 0.793, 2.426), index=m.param_names)
    table = frequency_distribution({"bgnbd": m}, study.calibration)
    chi = checks.chi_square_fit(table, "bgnbd", 4)
    assert chi["p_value"] > 0.05, chi
    assert "fits;" in report_checks.chi_square_sentence("BG/NBD", chi)
    assert study.checks["models"]["bgnbd"]["chi_square"]["p_value"] > 0.05


def test_chi_square_rejects_a_wrong_model(study):
    m = BetaGeoModel()
    m.params_ = pd.Series((0.5, 4.414, 0.793, 2.426), index=m.param_names)  # twice the rate shape
    chi = checks.chi_square_fit(frequency_distribution({"bgnbd": m}, study.calibration), "bgnbd", 4)
    assert chi["p_value"] < 0.001
    text = report_checks.chi_square_sentence("BG/NBD", chi)
    assert "does not fit" in text and "p < 0.001" in text


def test_log_score_by_hand():
    r, alpha, a, b = 0.24, 4.4, 0.8, 2.4
    m = BetaGeoModel()
    m.params_ = pd.Series((r, alpha, a, b), index=m.param_names)
    data = pd.DataFrame({"frequency": [0.0, 1.0], "recency": [0.0, 10.0], "T": [30.0, 30.0],
                         "frequency_holdout": [0, 0], "duration_holdout": [39.0, 39.0]})
    t, T, tx = 39.0, 30.0, 10.0
    # x = 0: alive for sure, no purchase: the NBD zero term at (r, alpha + T)
    p1 = ((alpha + T) / (alpha + T + t)) ** r
    # x = 1: dead, or alive (Gamma(r+1, alpha+T), Beta(a, b+1)) and no purchase
    pa = 1 / (1 + a / b * ((alpha + T) / (alpha + tx)) ** (r + 1))
    p2 = (1 - pa) + pa * ((alpha + T) / (alpha + T + t)) ** (r + 1)
    s = checks.log_scores({"bgnbd": m}, data)["bgnbd"]
    assert s["total"] == pytest.approx(np.log(p1) + np.log(p2), rel=1e-12)
    assert s["per_customer"] == pytest.approx(s["total"] / 2)


def bgnbd_split(params, T, t, seed):
    """BG/NBD customers simulated purchase by purchase: the calibration summary at age T
    and the purchases in (T, T + t]."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = params
    n = len(T)
    lam, p = rng.gamma(r, 1.0 / alpha, n), rng.beta(a, b, n)
    x, tx, y, now = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.ones(n, bool)
    while alive.any():
        i = np.flatnonzero(alive)
        now[i] += rng.exponential(1.0, i.size) / lam[i]
        over = now[i] > T[i] + t
        alive[i[over]] = False
        k = i[~over]
        cal = now[k] <= T[k]
        x[k[cal]] += 1
        tx[k[cal]] = now[k[cal]]
        y[k[~cal]] += 1
        alive[k[rng.random(k.size) < p[k]]] = False     # dropout after a purchase
    return pd.DataFrame({"frequency": x, "recency": tx, "T": T}), y


def test_holdout_bands_cover_simulated_truth():
    params = (0.8, 6.0, 0.8, 2.4)
    T = np.random.default_rng(3).uniform(20, 40, 4000)
    data, y = bgnbd_split(params, T, 26.0, seed=5)
    m = BetaGeoModel().fit(data)
    data = data.assign(frequency_holdout=y, duration_holdout=26.0)
    bands = checks.holdout_bands(m, data, n_draws=200, seed=2, level=0.9)
    assert bands["customers"].sum() == len(data)
    assert np.all((bands["lower"] <= bands["expected"]) & (bands["expected"] <= bands["upper"]))
    assert bands["inside"].sum() >= len(bands) - 2
    assert bands.attrs["parameter_draws"] is True


def test_log_score_and_bands_in_the_study(study):
    c = study.checks
    scores = {k: m["log_score"]["total"] for k, m in c["models"].items()}
    assert c["preferred_by_score"] == max(scores, key=scores.get)
    assert c["preferred_by_mae"] == min(study.holdout, key=lambda k: study.holdout[k]["mae"])
    for m in c["models"].values():
        assert np.isfinite(m["log_score"]["total"]) and m["log_score"]["zero_probability"] == 0
    metrics = report.clv_metrics(study)["model_checks"]
    assert metrics["preferred_by_log_score"] == c["preferred_by_score"]
    assert metrics["models"]["bgnbd"]["chi_square"]["fits"] is True
    assert set(metrics["models"]["bgnbd"]["holdout_bands"]["groups"]) == set(
        c["models"]["bgnbd"]["holdout_bands"].index)


def test_log_score_sentence_says_whether_the_measures_agree(study):
    c = dict(study.checks)
    agree = replace(study, checks={**c, "preferred_by_score": "mbgnbd", "preferred_by_mae": "mbgnbd",
                                   "agree": True})
    differ = replace(study, checks={**c, "preferred_by_score": "mbgnbd", "preferred_by_mae": "pareto_nbd",
                                    "agree": False})
    assert "prefers the same model" in report_checks.log_score_sentence(agree)
    text = report_checks.log_score_sentence(differ)
    assert "It prefers MBG/NBD" in text and "prefers Pareto/NBD" in text and "disagree" in text


def test_export_columns_are_in_the_dictionary_and_sum_to_one(study):
    out = report.customer_export(study)
    cols = report_checks.distribution_column_names(study)
    assert cols[0] == f"p_no_purchase_{study.horizon}"
    assert set(cols) <= set(out.columns)
    dictionary = report.export_columns(study)["customer_value"]
    assert set(out.columns) <= set(dictionary)
    assert "weeks" in dictionary[cols[0]].meaning
    p = out[cols[1:]].to_numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(out[cols[0]], out["p_purchases_0"])
    assert out[cols[0]].between(0, 1).all()


def test_new_customer_in_forecast_and_sentence(study):
    nc = study.forecast["new_customer"]
    final = study.final_model
    assert nc["purchases"] == pytest.approx(float(final.expected_purchases(float(study.horizon))))
    assert nc["value"] == pytest.approx(nc["discounted_purchases"] * nc["mean_spend"] * study.margin)
    assert nc["mean_spend"] == pytest.approx(study.final_spend_model.population_mean_spend())
    text = report_checks.new_customer_sentence(study, "$")
    assert f"{nc['purchases']:.2f}" in text and f"${nc['value']:.2f}" in text


def test_no_draws_no_bands_and_no_band_sentence(study):
    models = {k: study.models[k] for k in ("bgnbd", "pareto_nbd", "mbgnbd")}
    c = checks.model_checks(models, study.calibration, study.frequency_fit, study.holdout,
                            n_draws=0, seed=1, level=0.9)
    assert all(m["holdout_bands"] is None for m in c["models"].values())
    no_bands = replace(study, checks=c)
    assert report_checks.bands_sentences(no_bands) == []
    assert report_checks.bands_table(no_bands, "bgnbd") is None
    assert report_checks.checks_metrics(no_bands)["models"]["bgnbd"]["holdout_bands"] is None
    assert c["preferred_by_score"] == study.checks["preferred_by_score"]
