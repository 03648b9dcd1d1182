"""CLV computations: discounting, horizon sums, intervals, holdout and tracking tables."""
import numpy as np
import pandas as pd
import pytest

from clm_lib.clv.bgnbd import BetaGeoModel, simulate_bgnbd
from clm_lib.clv.gamma_gamma import GammaGammaModel, simulate_gamma_gamma
from clm_lib.clv.pareto_nbd import ParetoNBDModel
from clm_lib.clv.valuation import (customer_value, discounted_expected_purchases,
                                   per_unit_discount_rate)
from clm_lib.exceptions import ParameterError
from clm_lib.reduce import get_engine
from clm_lib.studies.clv.compute import (conditional_vs_holdout, frequency_distribution,
                                         holdout_errors, holdout_interval, p_alive_matrix,
                                         select_value_model, top_share, tracking_data)


@pytest.fixture(scope="module")
def fitted():
    sim = simulate_bgnbd((0.5, 5.0, 1.3, 3.0), np.random.default_rng(0).integers(10, 40, 5000), seed=1)
    sim["spend_frequency"] = sim["frequency"]
    spend = simulate_gamma_gamma((6.0, 4.0, 15.0), np.maximum(sim["frequency"], 1), seed=2)
    sim["monetary_value"] = np.where(sim["frequency"] > 0, spend["monetary_value"], 0.0)
    bg = BetaGeoModel().fit(sim)
    gg = GammaGammaModel().fit(sim.loc[sim.frequency > 0, ["frequency", "monetary_value"]])
    return sim, bg, gg


def test_per_unit_discount_rate():
    assert per_unit_discount_rate(0.15, "week") == pytest.approx(1.15 ** (7 / 365.25) - 1)
    assert per_unit_discount_rate(0.0, "month") == 0.0
    assert (1 + per_unit_discount_rate(0.1, "day")) ** 365.25 == pytest.approx(1.1)
    with pytest.raises(ParameterError):
        per_unit_discount_rate(-2, "week")


def test_discounted_purchases_by_hand(fitted):
    sim, bg, _ = fitted
    d = sim.iloc[:50]
    # no discounting: the horizon sum is the conditional expectation over the horizon
    det0 = discounted_expected_purchases(bg, d, horizon=10, discount_rate=0.0)
    np.testing.assert_allclose(det0, bg.conditional_expected_purchases(10, d), rtol=1e-10)
    # two units by hand: Y(1)/(1+d) + (Y(2)-Y(1))/(1+d)^2
    y1, y2 = bg.conditional_expected_purchases(1, d), bg.conditional_expected_purchases(2, d)
    np.testing.assert_allclose(discounted_expected_purchases(bg, d, horizon=2, discount_rate=0.1),
                               y1 / 1.1 + (y2 - y1) / 1.1 ** 2, rtol=1e-10)
    # works for the Pareto/NBD too (same interface)
    pn = ParetoNBDModel()
    out = discounted_expected_purchases(pn, d, horizon=3, discount_rate=0.0, params=(0.5, 5.0, 0.6, 10.0))
    np.testing.assert_allclose(out, pn.conditional_expected_purchases(3, d, params=(0.5, 5.0, 0.6, 10.0)))


def test_customer_value_and_intervals(fitted):
    sim, bg, gg = fitted
    v = customer_value(bg, gg, sim, horizon=52, discount_rate=0.003, margin=0.3, n_draws=50, seed=3)
    det = discounted_expected_purchases(bg, sim, horizon=52, discount_rate=0.003)
    spend = gg.conditional_expected_spend(sim[["frequency", "monetary_value"]])
    np.testing.assert_allclose(v["clv"], 0.3 * spend * det)
    assert (v["clv_lower"] <= v["clv"] * (1 + 1e-9)).mean() > 0.95
    assert (v["clv_upper"] >= v["clv"] * (1 - 1e-9)).mean() > 0.95
    assert len(v.attrs["draws_total_clv"]) == 50
    with pytest.raises(ParameterError):
        customer_value(bg, gg, sim, horizon=52, discount_rate=0.0, margin=0.0, n_draws=0)


def test_interval_draws_per_distinct_history_equal_the_draws_per_customer(fitted):
    """Draws are computed once per distinct history and joined back: the bounds and the
    totals are those of drawing for every customer (computed here customer by customer)."""
    sim, bg, gg = fitted
    d = pd.concat([sim.iloc[:200], sim.iloc[:100], sim.iloc[:50]], ignore_index=True)
    assert d[["frequency", "recency", "T", "monetary_value"]].duplicated().sum() >= 150
    v = customer_value(bg, gg, d, horizon=8, discount_rate=0.01, margin=0.5, n_draws=30, seed=5)
    tp, sp = bg.sample_params(30, seed=5), gg.sample_params(30, seed=6)
    spend = pd.DataFrame({"frequency": d["spend_frequency"], "monetary_value": d["monetary_value"]})
    clv_d = np.array([0.5 * gg.conditional_expected_spend(spend, params=s)
                      * discounted_expected_purchases(bg, d, horizon=8, discount_rate=0.01, params=t)
                      for t, s in zip(tp, sp)])
    pur_d = np.array([bg.conditional_expected_purchases(8, d, params=t) for t in tp])
    for name, draws in [("clv", clv_d), ("expected_purchases", pur_d)]:
        lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
        np.testing.assert_allclose(v[f"{name}_lower"], lo, rtol=1e-12)
        np.testing.assert_allclose(v[f"{name}_upper"], hi, rtol=1e-12)
    np.testing.assert_allclose(v.attrs["draws_total_clv"], clv_d.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(v.attrs["draws_total_purchases"], pur_d.sum(axis=1), rtol=1e-12)


def test_interval_draws_the_same_in_any_number_of_threads_and_blocks(fitted, monkeypatch):
    """The draws are shared out over threads in blocks of histories: every bound and
    total is bit for bit that of one thread; the bounds also do not depend on the
    blocks (the totals are added block by block: equal to rounding)."""
    import clm_lib.clv.valuation as valuation

    sim, bg, gg = fitted
    kw = dict(horizon=12, discount_rate=0.003, margin=0.3, n_draws=20, seed=7)

    def run(cores, chunk):
        monkeypatch.setattr(valuation, "available_cores", lambda: cores)
        monkeypatch.setattr(valuation, "_CHUNK", chunk)
        return customer_value(bg, gg, sim, **kw)

    whole = run(1, 10**9)
    one, many = run(1, 700), run(3, 700)     # several blocks, the last one short
    pd.testing.assert_frame_equal(many, one, check_exact=True)
    for key in ("draws_total_clv", "draws_total_purchases"):
        assert many.attrs[key] == one.attrs[key]
        np.testing.assert_allclose(many.attrs[key], whole.attrs[key], rtol=1e-12)
    pd.testing.assert_frame_equal(many, whole, check_exact=True, check_flags=False)


@pytest.mark.parametrize("n", [1, 2, 7, 200, 201])
@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_row_quantiles_equal_numpy_quantile(n):
    """The interval bounds come from sorted rows: bit for bit np.quantile's, with ties,
    NaN (the row's bound is NaN) and infinite draws."""
    from clm_lib.clv.valuation import _row_quantiles

    rng = np.random.default_rng(n)
    for level in (0.5, 0.8, 0.9, 0.99):
        q = [(1 - level) / 2, (1 + level) / 2]
        for case in ("plain", "ties", "nan", "inf"):
            a = rng.lognormal(size=(300, n)) * 10
            if case == "ties":
                a = np.round(a)
            elif case in ("nan", "inf"):
                a[rng.random(a.shape) < 0.02] = np.nan if case == "nan" else np.inf
            for got, want in zip(_row_quantiles(a, q), np.quantile(a, q, axis=1)):
                np.testing.assert_array_equal(got, want)


def test_horizon_tables_do_not_keep_the_full_table_alive(fitted):
    """Each draw keeps two vectors, not a view into its (pairs x horizon) table."""
    from clm_lib.clv.valuation import _det_groups, _xT_groups

    sim, bg, _ = fitted
    ux, uT, _ = _xT_groups(sim)
    det, total = _det_groups(bg, ux, uT, 52, 0.003)
    assert det.shape == total.shape == ux.shape
    assert det.base is None and total.base is None


def test_holdout_interval_is_predictive(fitted):
    """The interval of the holdout total contains the expected total and is wider than
    the spread of the expected totals over the parameter draws alone (it adds the
    randomness of purchases); customers' own intervals hold their purchases."""
    sim, bg, _ = fitted
    d = sim.assign(duration_holdout=10.0)
    rng = np.random.default_rng(5)
    d["frequency_holdout"] = rng.poisson(bg.conditional_expected_purchases(10.0, d))
    h = holdout_interval(bg, d, n_draws=100, seed=1, level=0.9)
    lo, hi = h["interval"]
    expected = bg.conditional_expected_purchases(10.0, d).sum()
    assert lo < expected < hi and h["level"] == 0.9
    params = bg.sample_params(100, seed=1)
    param_only = np.quantile([bg.conditional_expected_purchases(10.0, d, params=p).sum()
                              for p in params], [0.05, 0.95])
    assert hi - lo > 1.2 * (param_only[1] - param_only[0])
    assert h["actual_inside"] == bool(lo <= d["frequency_holdout"].sum() <= hi)
    assert 0.85 < h["customer_coverage"] <= 1.0


def test_select_value_model_never_picks_the_bgnbd_when_another_was_fitted():
    hold = {"bgnbd": {"mae": 0.1}, "pareto_nbd": {"mae": 0.3}, "mbgnbd": {"mae": 0.2}}
    assert select_value_model(hold) == "mbgnbd"
    assert select_value_model({"bgnbd": {"mae": 0.1}, "pareto_nbd": {"mae": 0.3}}) == "pareto_nbd"
    assert select_value_model({"bgnbd": {"mae": 0.1}}) is None
    # a tie goes to the first candidate
    assert select_value_model({"mbgnbd": {"mae": 0.2}, "pareto_nbd": {"mae": 0.2}}) == "pareto_nbd"


def test_frequency_distribution_is_the_mean_probability(fitted):
    """Shares per frequency = mean of P(X(T_i) = x) (by hand for two ages), pooled tail,
    and actual counts; the shares of each model add up to 1."""
    sim, bg, _ = fitted
    d = sim.iloc[:200]
    t = frequency_distribution({"bgnbd": bg}, d, max_frequency=3)
    assert list(t.index) == ["0", "1", "2", "3+"]
    assert t["customers"].sum() == 200
    assert t.loc["3+", "customers"] == (d["frequency"] >= 3).sum()
    want = np.mean([bg.probability_of_purchases(1, T) for T in d["T"]])
    assert t.loc["1", "bgnbd"] == pytest.approx(want, rel=1e-12)
    assert t["bgnbd"].sum() == pytest.approx(1.0) and t["actual"].sum() == pytest.approx(1.0)


def test_distinct_rows_by_hand():
    from clm_lib.clv.valuation import distinct_rows

    codes, first = distinct_rows(np.array([3.0, 1.0, 3.0, np.nan, np.nan, 1.0]),
                                 np.array([0.0, 0.0, 0.0, 2.0, 2.0, 5.0]))
    assert codes.tolist() == [0, 1, 0, 2, 2, 3] and first.tolist() == [0, 1, 3, 5]
    assert np.bincount(codes).tolist() == [2, 1, 2, 1]


def test_top_share():
    assert top_share([1, 1, 1, 1, 1, 1, 1, 1, 1, 91], 0.1) == pytest.approx(0.91)


def test_holdout_and_grid(fitted):
    sim, bg, _ = fitted
    d = sim.assign(frequency_holdout=1.0, duration_holdout=10.0)
    e = holdout_errors(bg, d)
    assert e["actual_total"] == len(d)
    tab = conditional_vs_holdout(bg, d)
    assert tab["customers"].sum() == len(d) and tab.index[-1] == "7+"
    g = p_alive_matrix(bg, T=30.0, max_frequency=5, n_recency=6)
    assert g.shape == (6, 7) and np.isnan(g.iloc[0, 1]) and g.iloc[0, 0] == 1.0
    assert g.iloc[3, -1] > g.iloc[3, 1]     # more recent -> more likely alive


def test_tracking_matches_expected_totals(fitted):
    _, bg, _ = fitted
    tx = pd.DataFrame({"customer_id": pd.array(["a", "a", "a", "b", "b"], dtype="string"),
                       "timestamp": pd.to_datetime(["2020-01-01", "2020-01-09", "2020-01-20",
                                                    "2020-01-03", "2020-01-03"]),
                       "amount": 1.0})
    eng = get_engine("duckdb")
    s = eng.summary_data(tx, as_of="2020-01-28", calibration_end="2020-01-14", time_unit="week")
    per_day = eng.repeat_purchases_by_day(tx, calibration_end="2020-01-14", as_of="2020-01-28")
    assert per_day.to_dict() == {pd.Timestamp("2020-01-09"): 1, pd.Timestamp("2020-01-20"): 1}
    tr = tracking_data(per_day, s, bg, calibration_end="2020-01-14", as_of="2020-01-28",
                       time_unit="week")
    assert tr["actual"].tolist() == [0, 1, 1, 0]   # repeat days: Jan 9 (week 1), Jan 20 (week 2)
    assert tr["holdout"].tolist() == [False, False, True, True]
    # cumulative prediction at the end of the calibration (day 13) = sum of E[X(T_i)]
    exp_cal = bg.expected_purchases(s["T"].to_numpy()).sum()
    assert tr["predicted_cumulative"].iloc[1] == pytest.approx(exp_cal)


def test_clv_study_on_cdnow_sample_with_segment():
    from clm_lib.studies.clv.compute import clv_study
    from clm_lib.studies.clv.report import clv_metrics, customer_export, decision, top_customers
    from clm_lib.config import CDNOW_SAMPLE
    d = pd.read_csv(CDNOW_SAMPLE, dtype={"customer_id": str})
    tx = pd.DataFrame({"customer_id": d["customer_id"].astype("string"),
                       "timestamp": pd.to_datetime(d["date"]), "amount": d["dollars"],
                       "tier": np.where(d["cds"] > 2, "many CDs", "few CDs")})
    st = clv_study(tx, calibration_end="1997-09-30", as_of="1998-06-30", time_unit="week",
                   horizon=52, discount_rate=0.15, margin=0.3, n_draws=20, seed=1, segment="tier")
    # the calibration fit is the published BG/NBD
    assert st.models["bgnbd"].params_["r"] == pytest.approx(0.2426, abs=1e-3)
    assert st.segments["customers"].sum() == 2357
    assert st.segments["share_of_clv"].sum() == pytest.approx(1.0)
    # values come from the model the holdout selects, never the BG/NBD when another fits
    assert st.value_model == select_value_model(st.holdout) in ("pareto_nbd", "mbgnbd")
    assert type(st.final_model) is type(st.models[st.value_model])
    confidence = decision(st).confidence
    assert confidence.startswith("Customers are valued with the")
    assert "Track record:" in confidence and "1,882 happened" in confidence  # actual holdout purchases
    # one-time buyers are not taken to be certainly alive
    assert (st.values.loc[st.values["frequency"] == 0, "p_alive"] < 1).all()
    m = clv_metrics(st)
    for name in ("bgnbd", "pareto_nbd", "mbgnbd"):
        lo, hi = m["holdout"][name]["interval"]
        assert lo < m["holdout"][name]["predicted_total"] < hi
    f = m["forecast"]
    lo, hi = f["expected_purchases_predictive_interval"]
    plo, phi = f["expected_purchases_parameter_interval"]
    assert lo < plo < f["expected_purchases"] < phi < hi
    assert f["track_record"]["model"] == st.value_model
    assert set(m["models"]["bgnbd"]["params"]) == {"r", "alpha", "a", "b"}
    assert m["holdout"]["bgnbd"]["actual_total"] == 1882
    ex = customer_export(st)
    # the export holds the real ids (for the CRM); the report's table pseudonyms only
    assert set(ex["customer_id"]) == set(tx["customer_id"]) and len(ex) == 2357
    shown = top_customers(st, 5)["df"]
    assert len(shown) == 5 and not set(shown.index) & set(tx["customer_id"])
    # tracking counts every repeat purchase day of the calibration customers, calibration
    # and holdout
    cal = st.calibration
    assert st.tracking["actual"].sum() == (cal["frequency"] + cal["frequency_holdout"]).sum() > 0
