"""Retention of transaction cohorts from the BG/NBD model: the closed forms against direct
integration and simulation, the cohort averages by hand, and the study on CDNOW (the
fit's input does not move when data arrive; the chart, the summary and the headline quote
one fit; the holdout error is said)."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from clm_lib.clv.bgnbd import BetaGeoModel
from clm_lib.reduce import get_engine
from clm_lib.studies.cohort_retention import report
from clm_lib.studies.cohort_retention.compute import cohort_study, retention_tables
from clm_lib.studies.cohort_retention.purchase import (
    PurchaseFit,
    cohort_expectations,
    share_alive,
    share_buying,
)

PARAMS = (0.6, 20.0, 0.8, 2.5)  # r, alpha (days), a, b
CDNOW = Path(__file__).resolve().parents[3] / "data" / "cdnow_master.csv"
COLUMNS = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}


def _by_integration(t, tau):
    """Over p ~ Beta(a, b) numerically, after the gamma's Laplace transform
    E[exp(-s lambda)] = (alpha / (alpha + s))**r (the full story: the simulation below)."""
    r, alpha, a, b = PARAMS
    beta = stats.beta(a, b)

    def lap(s):
        return (alpha / (alpha + s)) ** r

    alive = integrate.quad(lambda p: lap(p * t) * beta.pdf(p), 0, 1)[0]
    buying = integrate.quad(lambda p: (lap(p * t) - lap(p * t + tau)) * beta.pdf(p), 0, 1)[0]
    return alive, buying


@pytest.mark.parametrize("t, tau", [(1.0, 30.0), (45.0, 31.0), (400.0, 28.0)])
def test_closed_forms_match_direct_integration(t, tau):
    alive, buying = _by_integration(t, tau)
    assert share_alive(PARAMS, t) == pytest.approx(alive, rel=1e-5)
    assert share_buying(PARAMS, t, tau) == pytest.approx(buying, rel=1e-5)


def test_share_buying_matches_a_simulation():
    """Customers simulated from the BG/NBD story: Poisson purchases while alive, a drop-out
    chance p after each repeat purchase; the share buying in [t, t + tau)."""
    r, alpha, a, b = PARAMS
    rng = np.random.default_rng(3)
    n, t, tau = 200_000, 60.0, 30.0
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    now = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    bought = np.zeros(n, dtype=bool)
    while alive.any():
        now = np.where(alive, now + rng.exponential(1 / lam), now)
        alive &= now < t + tau
        bought |= alive & (now >= t)
        alive &= rng.random(n) >= p  # drop out after this purchase
    se = np.sqrt(bought.mean() * (1 - bought.mean()) / n)
    assert abs(bought.mean() - share_buying(PARAMS, t, tau)) < 4 * se


def test_cohort_expectations_average_over_acquisition_days():
    model = BetaGeoModel()
    model.params_ = pd.Series(PARAMS, index=list(model.param_names))
    code = 12 * 2020 + 0  # January 2020
    acq = pd.DataFrame({"cohort_index": [code, code],
                        "first_day": pd.to_datetime(["2020-01-05", "2020-01-25"]),
                        "customers": [3, 1]})
    fit = PurchaseFit(model, pd.Timestamp("2020-06-30").date(), acq)
    exp = cohort_expectations(fit, [0, 1, 2], "month")
    # k = 2 is March 2020: 31 days from day 56 (Jan 5 -> Mar 1) or 36 (Jan 25 -> Mar 1)
    by_hand = (3 * share_buying(PARAMS, 56, 31) + share_buying(PARAMS, 36, 31)) / 4
    assert exp["buying"].loc[code, 2] == pytest.approx(by_hand, rel=1e-12)
    assert exp["buying"].loc[code, 0] == 1.0
    # alive at the end of March: 56 + 31 = 87 and 67 days after the first purchase
    assert exp["alive"].loc[code, 2] == pytest.approx(
        (3 * share_alive(PARAMS, 87) + share_alive(PARAMS, 67)) / 4, rel=1e-12)
    assert exp["customers"].loc[code] == 4


# ----------------------------------------------------------------- CDNOW
@pytest.fixture(scope="module")
def cdnow():
    eng = get_engine("duckdb")
    data, _ = eng.load_transactions(str(CDNOW), COLUMNS, as_of="1998-06-30")
    return eng, data


@pytest.fixture(scope="module")
def study(cdnow):
    eng, data = cdnow
    return cohort_study(data, "month", as_of="1998-06-30", engine=eng)


def test_transactions_are_projected_by_the_purchase_model(study):
    assert study.retention_model == "bgnbd" and isinstance(study.model, BetaGeoModel)
    assert study.derl is None and study.valuation == {}
    assert isinstance(study.holdout_model, BetaGeoModel)


def test_what_the_fit_is_compared_with_does_not_move_when_data_arrive(cdnow, study):
    """The sBG was fed "bought in k or later" counts, which grow with data (Jan-1997 at
    k = 1: 0.381, 0.424, 0.466 with data to 1997-09, 1997-12, 1998-06); the purchase model
    is checked against the share buying in exactly period k, which does not move."""
    eng, data = cdnow
    early = cohort_study(data, "month", as_of="1997-12-31", engine=eng, holdout_periods=0)
    b_early, b_late = early.tables.bounded_rates, study.tables.bounded_rates
    seen = b_early.notna()
    assert seen.to_numpy().sum() == 12 + 11 + 10
    pd.testing.assert_frame_equal(b_early.where(seen),
                                  b_late.reindex_like(b_early).where(seen), check_exact=True)
    # pooled over the same cohorts (every cohort observable up to k = 9): the same
    ks = range(1, 10)
    pd.testing.assert_series_equal(early.fit_table.loc[ks, "actual"],
                                   study.fit_table.loc[ks, "actual"], check_exact=True)
    late = retention_tables(data, "month", as_of="1998-06-30", engine=eng)
    assert early.tables.unbounded_rates.loc["1997-01", 1] != late.unbounded_rates.loc["1997-01", 1]


def test_chart_summary_and_headline_quote_the_same_fit(study):
    H = int(study.projection.index.max())
    assert H == 17 + 12
    fit = study.fit_table
    beyond = ~fit["in_fit"]
    assert list(fit.index[beyond]) == list(range(18, 30))
    np.testing.assert_array_equal(fit.loc[beyond, "fitted"].to_numpy(),
                                  study.projection.loc[18:, "buying"].to_numpy())
    # at k = 17 only the January cohort is observed: the model for that cohort, like the actual
    assert fit.loc[17, "actual"] == study.tables.bounded_rates.loc["1997-01", 17]
    assert fit.loc[17, "fitted"] != study.projection.loc[17, "buying"]
    assert fit.loc[1, "fitted"] == pytest.approx(study.projection.loc[1, "buying"], rel=1e-12)
    value = f"{100 * study.projection.loc[H, 'buying']:.1f} %"
    assert any(value in line and "k = 29" in line for line in report.summary_lines(study))
    m = report.cohort_metrics(study)
    assert m["headline"][f"Expected buying in month k = {H} (BG/NBD)"] == value
    assert m["bgnbd"]["params"] == pytest.approx(dict(study.model.params_))


def test_holdout_error_on_the_held_out_cells(study):
    """The last 3 calendar months (Apr-Jun 1998) of each cohort, refit on data to
    1998-03-31: actual = customers buying in those cells, counted by hand."""
    e = study.holdout_error
    t = study.tables
    cells = [("1997-01", k) for k in (15, 16, 17)] + [("1997-02", k) for k in (14, 15, 16)] \
        + [("1997-03", k) for k in (13, 14, 15)]
    assert e["cells"] == 9 and study.parameters["holdout_calibration_end"] == "1998-03-31"
    assert study.holdout_model.params_["r"] != study.model.params_["r"]
    assert e["actual"] == sum(t.bounded_counts.loc[c, k] for c, k in cells)
    assert study.holdout["expected"].sum() == pytest.approx(e["expected"])
    # the sBG on "bought in k or later" counts over-predicted by 24 %
    assert abs(e["relative_error"]) < 0.15
    assert any(f"({100 * e['relative_error']:+.1f} %)" in line
               for line in report.summary_lines(study))


def test_holdout_and_projection_tables_say_what_they_hold(study):
    h = report.holdout_table(study)
    assert "refitted on data to 1998-03-31" in h.caption
    assert [h.rename[c] for c in h.frame.columns] == [
        "customers buying (observed)", "customers buying (expected by the model)", "cohorts",
        "error (% of observed)"]
    assert h.frame["actual"].sum() == study.holdout_error["actual"]
    p = report.projection_table(study)
    assert p.frame.index[-1] == 29 and "parameter uncertainty" in p.caption
    assert p.frame.iloc[-1, 0] == study.projection.loc[29, "buying"]
    assert p.formats["buying"] == "percent"


# ----------------------------------------------------------------- predictive coverage
def _simulated_cohort(rng, n, first, cal_end, target):
    """One cohort from the BG/NBD story (PARAMS, days): the per-customer summary at
    ``cal_end`` and whether each customer buys between the days ``target = (start, end)``."""
    r, alpha, a, b = PARAMS
    lam, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    horizon = (target[1] - first).astype(float)
    cal = (cal_end - first).astype(float)
    now, alive = np.zeros(n), np.ones(n, dtype=bool)
    x, last = np.zeros(n), np.zeros(n)
    bought = np.zeros(n, dtype=bool)
    while alive.any():
        now = np.where(alive, now + rng.exponential(1 / lam), now)
        alive &= now < horizon + 1
        day = np.floor(now)
        new_day = alive & (day <= cal) & (day > last)  # purchase days, as the summary
        x += new_day
        last = np.where(new_day, day, last)
        bought |= alive & (day >= (target[0] - first).astype(float)) & (day <= horizon)
        alive &= rng.random(n) >= p
    summary = pd.DataFrame({"frequency": x, "recency": last, "T": cal})
    return summary, bought


@pytest.mark.slow
def test_band_and_predictive_interval_cover_what_they_claim():
    """Coverage by simulation: fit on a January-2020 cohort's purchases to 2020-06-30 and
    look at k = 8 (September 2020). The parameter band covers the true expected share (the
    model's value at the true parameters) about 95 % of the time; the predictive interval
    covers the share that actually buys in a new cohort acquired on the same days about
    95 % of the time, where the band alone falls short."""
    from clm_lib.studies.cohort_retention.compute import purchase_projection
    from clm_lib.studies.cohort_retention.tables import CohortTables

    rng = np.random.default_rng(11)
    code, lab = 12 * 2020, pd.Index(["2020-01"], name="cohort")
    cal_end = np.datetime64("2020-06-30")
    target = (np.datetime64("2020-09-01"), np.datetime64("2020-09-30"))
    tables = CohortTables("month", pd.Timestamp(cal_end), "transactions",
                          pd.Series([0], index=lab), pd.Series([5], index=lab),
                          pd.DataFrame(index=lab), pd.DataFrame(index=lab))
    band = pred = band_new = 0
    reps, n = 60, 1500
    for _ in range(reps):
        first = np.datetime64("2020-01-01") + rng.integers(0, 31, n).astype("timedelta64[D]")
        summary, _ = _simulated_cohort(rng, n, first, cal_end, target)
        _, bought_new = _simulated_cohort(rng, n, first, cal_end, target)
        days, counts = np.unique(first, return_counts=True)
        acq = pd.DataFrame({"cohort_index": code, "first_day": days.astype("datetime64[ns]"),
                            "customers": counts})
        fit = PurchaseFit(BetaGeoModel().fit(summary), pd.Timestamp(cal_end).date(), acq)
        proj = purchase_projection(fit, tables, horizon_periods=3,
                                   seed=int(rng.integers(1 << 30))).loc[8]
        truth = cohort_expectations(fit, [8], "month", params=PARAMS)["buying"].iloc[0, 0]
        band += proj["buying_lower"] <= truth <= proj["buying_upper"]
        pred += proj["buying_pred_lower"] <= bought_new.mean() <= proj["buying_pred_upper"]
        band_new += proj["buying_lower"] <= bought_new.mean() <= proj["buying_upper"]
    # 60 replications: 95 % +- 2 sd is 89 % .. 100 %
    assert 0.87 <= band / reps and 0.87 <= pred / reps
    assert band_new / reps < 0.87


def test_predictive_interval_is_wider_than_the_band_and_said(study):
    p = study.projection.loc[29]
    assert p["buying_pred_lower"] < p["buying_lower"] < p["buying"] < p["buying_upper"] \
        < p["buying_pred_upper"]
    line = next(x for x in report.summary_lines(study) if x.startswith("Projection"))
    assert (f"a new cohort of the same size would show {100 * p['buying_pred_lower']:.1f} % to "
            f"{100 * p['buying_pred_upper']:.1f} %, 95 % predictive interval") in line
