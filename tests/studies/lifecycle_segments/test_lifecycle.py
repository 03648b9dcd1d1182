"""Lifecycle stages, flows, ladder, reactivation, leads and retention what-if (hand-made
data, reduced by the default engine)."""
import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import DataContractError, MissingColumnsError, ParameterError
from clm_lib.studies.lifecycle_segments import flows, report, stages
from clm_lib.studies.lifecycle_segments.compute import lifecycle_study
from clm_lib.studies.lifecycle_segments.leads import leads_conversion
from clm_lib.studies.lifecycle_segments.repeat import reactivation_comparison, time_to_second_purchase
from clm_lib.studies.lifecycle_segments.whatif import retention_what_if

AS_OF = "2020-12-31"
TH = stages.Thresholds(new_days=30, at_risk_days=60, lapsed_days=120)


def _tx(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    return df


@pytest.fixture
def histories():
    """One customer per stage rule (thresholds new 30, at risk 60, lapsed 120 days)."""
    rows = [
        ("new", "2020-12-20", 10.0),                                   # first purchase 11 days ago
        ("new2", "2020-12-05", 10.0), ("new2", "2020-12-20", 10.0),    # repeat, but first 26 days ago
        ("onetime", "2020-11-20", 10.0),                               # 41 days, one purchase
        ("active", "2020-10-01", 10.0), ("active", "2020-12-01", 10.0),
        ("react", "2020-01-10", 5.0), ("react", "2020-02-10", 5.0),
        ("react", "2020-12-25", 10.0),                                 # after a 319-day gap
        ("atrisk", "2020-08-01", 10.0), ("atrisk", "2020-10-01", 10.0),  # 91 days silent
        ("lapsed", "2020-01-01", 10.0), ("lapsed", "2020-03-01", 10.0),  # 305 days silent
        ("late", "2021-01-05", 99.0),                                  # after as_of: ignored
    ]
    vip = ["2020-06-01", "2020-07-15", "2020-08-20", "2020-09-25", "2020-11-01", "2020-12-15"]
    rows += [("vip", d, 100.0) for d in vip]
    return _tx(rows)


def test_one_stage_per_rule(histories):
    st = stages.customer_stages(histories, date=AS_OF, thresholds=TH)
    expected = {"new": "new", "new2": "new", "onetime": "one-time buyer", "active": "active repeat",
                "react": "reactivated", "atrisk": "at risk", "lapsed": "lapsed", "vip": "loyal/VIP"}
    assert st["stage"].astype(str).to_dict() == expected
    assert "late" not in st.index
    assert st.loc["react", "last_reactivation"] == pd.Timestamp("2020-12-25")
    assert st.loc["atrisk", "days_since_last"] == 91
    assert st.loc["vip", "purchase_days"] == 6 and st.loc["vip", "spend"] == 600


def test_reactivation_expires_and_stages_change_with_date(histories):
    # 40 days after the return the reactivated customer is an ordinary repeat buyer
    st = stages.customer_stages(histories, date="2021-02-03", thresholds=TH)
    # (here loyal/VIP: 3 purchase days and $20 reach the 80 % quantiles of repeat buyers)
    assert st.loc["react", "stage"] == "loyal/VIP"
    # before the return, she was lapsed
    st0 = stages.customer_stages(histories, date="2020-12-24", thresholds=TH)
    assert st0.loc["react", "stage"] == "lapsed"


def test_every_customer_exactly_one_stage_random():
    rng = np.random.default_rng(1)
    n = 3000
    tx = _tx({"customer_id": rng.integers(0, 400, n).astype(str),
              "timestamp": pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 730, n), "D"),
              "amount": rng.gamma(2, 20, n)})
    th = stages.derive_thresholds(tx, as_of=AS_OF)
    st = stages.customer_stages(tx, date=AS_OF, thresholds=th)
    assert st.index.is_unique and st["stage"].notna().all()
    assert len(st) == tx["customer_id"].nunique()
    assert stages.stage_table(st)["customers"].sum() == len(st)


def test_derive_thresholds_quantiles():
    tx = _tx([("a", "2020-01-01", 1), ("a", "2020-01-11", 1), ("a", "2020-01-31", 1),
              ("b", "2020-01-01", 1), ("b", "2020-01-31", 1), ("b", "2020-03-11", 1)])
    # gaps 10, 20, 30, 40: quantiles 25, 32.5, 37 (numpy linear)
    th = stages.derive_thresholds(tx, as_of="2020-12-31")
    assert (th.new_days, th.at_risk_days, th.lapsed_days) == (25, 33, 37)
    th2 = stages.derive_thresholds(tx, as_of="2020-12-31", lapsed_days=90)
    assert report.threshold_sources(th)["new_days"] == "50 % quantile of 4 inter-purchase gaps"
    assert th2.lapsed_days == 90 and report.threshold_sources(th2)["lapsed_days"] == "parameter"
    assert "threshold" in report.thresholds_table(th).columns
    with pytest.raises(ParameterError):
        stages.derive_thresholds(tx, as_of="2020-12-31", at_risk_days=50, lapsed_days=40)
    capped = stages.derive_thresholds(tx, as_of="2020-12-31", lapsed_days=30)   # derived at risk 33
    assert capped.at_risk_days == 30 and capped.capped
    assert report.threshold_sources(capped)["at_risk_days"] == \
        "75 % quantile of 4 inter-purchase gaps, capped at lapsed_days (30)"


def test_missing_columns_named():
    with pytest.raises(MissingColumnsError) as e:
        stages.customer_stages(pd.DataFrame({"customer_id": ["a"]}), date=AS_OF, thresholds=TH)
    assert "timestamp" in str(e.value)


def test_transition_rows_sum_to_first_date_counts(histories):
    start = stages.customer_stages(histories, date="2020-10-15", thresholds=TH)
    end = stages.customer_stages(histories, date=AS_OF, thresholds=TH)
    m = flows.transition_matrix(start, end)
    counts = start["stage"].value_counts()
    for stage in stages.STAGES:
        assert m.loc[stage].sum() == counts.get(stage, 0)
    assert m.loc[stages.NOT_YET].sum() == len(end) - len(start)
    assert m.to_numpy().sum() == len(end)
    assert m.loc["lapsed", "reactivated"] == 1          # "react" came back
    assert flows.flow_counts(m)["lapsed were reactivated"] == 1
    with pytest.raises(ParameterError):
        flows.transition_matrix(end, start)


def test_transition_rows_random():
    rng = np.random.default_rng(7)
    n = 4000
    tx = _tx({"customer_id": rng.integers(0, 600, n).astype(str),
              "timestamp": pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 730, n), "D"),
              "amount": rng.gamma(2, 20, n)})
    th = stages.derive_thresholds(tx, as_of=AS_OF)
    start = stages.customer_stages(tx, date=flows.default_flow_start(AS_OF), thresholds=th)
    end = stages.customer_stages(tx, date=AS_OF, thresholds=th)
    m = flows.transition_matrix(start, end)
    assert (m.loc[list(stages.STAGES)].sum(axis=1) == start["stage"].value_counts().reindex(list(stages.STAGES))).all()
    assert flows.default_flow_start(AS_OF) == "2020-06-30"


def test_repeat_ladder_hand_computed():
    st = pd.DataFrame({"purchase_days": [1, 1, 2, 3]})
    lad = stages.repeat_ladder(st, min_customers=1)
    assert lad["p_next"].tolist() == [0.5, 0.5, 0.0]
    assert lad["reached_k"].tolist() == [4, 2, 1]


def test_time_to_second_purchase_km():
    tx = _tx([("a", "2020-01-01", 1), ("a", "2020-01-15", 1), ("b", "2020-01-24", 1)])
    df, kmf = time_to_second_purchase(tx, as_of="2020-01-31", time_unit="week")
    assert df.loc["a", "duration"] == 2.0 and bool(df.loc["a", "event"])
    assert df.loc["b", "duration"] == 1.0 and not bool(df.loc["b", "event"])
    assert kmf.survival_function_at_times(2.0).iloc[0] == 0.0


def test_reactivation_comparison_hand_computed():
    tx = _tx([("n1", "2020-01-01", 10), ("n1", "2020-01-20", 4),      # new, buys again in window
              ("n2", "2020-01-01", 20),                                # new, never again
              ("r", "2019-01-01", 5), ("r", "2020-01-01", 30), ("r", "2020-01-10", 6),
              ("r", "2020-01-12", 6)])                                  # reactivated 2020-01-01
    out = reactivation_comparison(tx, as_of="2020-12-31", thresholds=TH, window_days=30)
    assert out.loc["new", "customers"] == 3            # r's first purchase is a new start too
    assert out.loc["reactivated", "customers"] == 1
    assert out.loc["reactivated", "repurchase_rate"] == 1.0
    assert out.loc["reactivated", "purchase_days_per_customer"] == 2
    assert out.loc["reactivated", "spend_per_customer"] == 12
    assert out.loc["reactivated", "start_spend"] == 30
    assert out.loc["new", "repurchase_rate"] == pytest.approx(1 / 3)


def test_leads_conversion_km_tiny():
    leads = pd.DataFrame({
        "lead_id": [1, 2, 3, 4, 5],
        "created": ["2020-01-01", "2020-01-01", "2020-01-05", "2020-02-10", "2020-01-01"],
        "source": ["A", "A", "B", "B", "B"],
        "converted": ["2020-01-11", None, "2020-01-10", None, "2020-03-01"],  # last: after as_of
    })
    t, df, kms = leads_conversion(leads, as_of="2020-01-31")
    assert t.loc["A", "leads"] == 2 and t.loc["A", "conversion_rate"] == 0.5
    assert t.loc["B", "leads"] == 2 and t.loc["B", "conversion_rate"] == 0.5   # lead 4 dropped
    assert t.loc["All", "converted"] == 2
    assert t.attrs["dropped"]["leads created after as_of"] == 1
    # All: events at 5 and 10 days, censored at 30 and 30: S(5) = 3/4, S(10) = 3/4 * 2/3
    s = kms["All"].survival_function_at_times([5, 10]).to_numpy()
    assert s == pytest.approx([0.75, 0.5])
    assert t.loc["All", "median_time_to_conversion"] == 10
    bad = leads.assign(converted=["2019-12-01", None, None, None, None])
    with pytest.raises(DataContractError, match="converted.*1 row"):
        leads_conversion(bad, as_of="2020-01-31")
    with pytest.raises(MissingColumnsError):
        leads_conversion(leads.drop(columns="source"), as_of="2020-01-31")


@pytest.fixture(scope="module")
def fitted():
    from clm_lib.clv.bgnbd import BetaGeoModel, simulate_bgnbd
    from clm_lib.clv.gamma_gamma import GammaGammaModel
    from clm_lib.reduce import get_engine

    data = simulate_bgnbd([0.25, 4.0, 0.8, 2.5], np.full(2000, 40.0), seed=3)
    rng = np.random.default_rng(3)
    data["monetary_value"] = np.where(data["frequency"] > 0, rng.gamma(5, 8, len(data)), 0.0)
    m = BetaGeoModel().fit(get_engine("duckdb").compress(data), weights="weights")
    g = GammaGammaModel().fit(data.loc[data["frequency"] > 0, ["frequency", "monetary_value"]])
    return m, g, data


def test_what_if_baseline_equals_clv_and_increases(fitted):
    from clm_lib.clv.valuation import customer_value

    m, g, data = fitted
    w = retention_what_if(m, g, data, points=[1, 5, 10, 99], horizon=52,
                          discount_rate=0.0027, margin=0.3, shown="proportional", intervals=False)
    clv = customer_value(m, g, data, horizon=52, discount_rate=0.0027, margin=0.3, n_draws=0)["clv"].sum()
    assert w.loc[0.0, "value"] == pytest.approx(clv, rel=1e-10)
    assert w.loc[0.0, "value_absolute"] == w.loc[0.0, "value_proportional"]
    for a in ("proportional", "absolute"):
        v = w.loc[[0.0, 1.0, 5.0, 10.0], f"value_{a}"].to_numpy()
        assert np.all(np.diff(v) > 0), a
    assert np.isnan(w.loc[99.0, "value_proportional"])   # mean below zero: not computable
    assert np.isfinite(w.loc[99.0, "value_absolute"])    # every dropout cut to zero
    pd.testing.assert_series_equal(w["value"], w["value_proportional"], check_names=False)
    a, b = m.params_["a"], m.params_["b"]
    assert w.loc[5.0, "mean_dropout_proportional"] == pytest.approx(a / (a + b) - 0.05)
    assert a / (a + b) - 0.05 < w.loc[5.0, "mean_dropout_absolute"] < a / (a + b)
    assert "lower" not in "".join(w.columns) and w.attrs["intervals"] is False
    note = report.what_if_note(w, "week")
    assert "**proportional** (shown first" in note and "**absolute**" in note
    assert "No intervals" in note


@pytest.mark.parametrize("model_name", ["bgnbd", "mbgnbd"])
def test_cut_quadrature_matches_closed_form_and_simulation(model_name):
    from clm_lib.clv.bgnbd import BetaGeoModel
    from clm_lib.clv.mbgnbd import ModifiedBetaGeoModel
    from clm_lib.clv.valuation import _det_groups
    from clm_lib.studies.lifecycle_segments.whatif import discounted_purchases_if_alive_cut

    cls = {"bgnbd": BetaGeoModel, "mbgnbd": ModifiedBetaGeoModel}[model_name]
    m = cls()
    m.params_ = pd.Series([0.7, 9.9, 0.49, 0.86], index=list(m.param_names))
    extra = 1 if model_name == "mbgnbd" else 0
    ux = np.array([0.0, 0.0, 1.0, 3.0, 12.0, 40.0])
    uT = np.array([70.0, 76.0, 70.0, 75.0, 74.0, 77.0])
    kw = dict(extra=extra, horizon=52, discount_rate=0.0027)
    # no cut: the model's own closed form (hypergeometric) to the quadrature's accuracy
    exact = _det_groups(m, ux, uT, 52, 0.0027)[0]
    q0 = discounted_purchases_if_alive_cut(m.params_.to_numpy(), ux, uT, cut=0.0, **kw)
    np.testing.assert_allclose(q0, exact, rtol=1e-5)
    # a 5-point cut against a simulation of the posterior of an alive customer:
    # lambda ~ Gamma(r + x, alpha + T), p ~ Beta(a, b + x + extra), p -> max(p - 0.05, 0)
    rng = np.random.default_rng(1)
    n = 400_000
    r, alpha, a, b = m.params_.to_numpy()
    k = np.arange(1, 53)
    d = 1.0027 ** -k
    wd = d - np.r_[d[1:], 0]
    q5 = discounted_purchases_if_alive_cut(m.params_.to_numpy(), ux, uT, cut=0.05, **kw)
    for i in (0, 3, 5):
        lam = rng.gamma(r + ux[i], 1 / (alpha + uT[i]), n)
        p = np.maximum(rng.beta(a, b + ux[i] + extra, n) - 0.05, 1e-12)
        sim = ((-np.expm1(-lam[:, None] * p[:, None] * k[None, :]) / p[:, None]) @ wd).mean()
        assert q5[i] == pytest.approx(sim, rel=0.02), i
    assert (q5 > q0).all()


def test_what_if_both_readings_with_intervals(fitted):
    m, g, data = fitted
    w = retention_what_if(m, g, data, points=[1, 5], horizon=52, discount_rate=0.0027,
                          margin=0.3)
    assert w.attrs["shown"] == "absolute" and w.attrs["intervals"] is True
    pd.testing.assert_series_equal(w["value_change_pct"], w["value_change_pct_absolute"],
                                   check_names=False)
    for a in ("absolute", "proportional"):
        lo, hi = w[f"value_change_pct_{a}_lower"], w[f"value_change_pct_{a}_upper"]
        est = w[f"value_change_pct_{a}"]
        assert (lo.loc[[1.0, 5.0]] < est.loc[[1.0, 5.0]]).all()
        assert (est.loc[[1.0, 5.0]] < hi.loc[[1.0, 5.0]]).all()
        assert lo.loc[0.0] == hi.loc[0.0] == 0
    # a base with heterogeneous dropout: the valuable low-dropout customers gain far more
    # from an absolute cut than from a proportional one
    assert w.loc[1.0, "value_change_absolute"] > 2 * w.loc[1.0, "value_change_proportional"]
    again = retention_what_if(m, g, data, points=[1, 5], horizon=52, discount_rate=0.0027,
                              margin=0.3)
    pd.testing.assert_frame_equal(w, again)
    note = report.what_if_note(w, "week")
    assert "90% intervals for the uncertainty of the estimated parameters" in note
    with pytest.raises(ParameterError):
        retention_what_if(m, g, data, points=[1], horizon=52, discount_rate=0.0027, margin=0.3,
                          shown="relative")
    with pytest.raises(ParameterError):
        retention_what_if(m, g, data, points=[0], horizon=52, discount_rate=0.0027, margin=0.3)


def test_study_export_is_formula_safe(tmp_path):
    from clm_lib.config import CDNOW_SAMPLE
    from clm_lib.io import load_transactions
    from clm_lib.reporting import save_export

    tx, _ = load_transactions(CDNOW_SAMPLE, {"date": "timestamp", "dollars": "amount", "cds": "quantity"})
    rng = np.random.default_rng(5)
    tx["channel"] = np.where(rng.random(len(tx)) < 0.5, "=HYPERLINK(\"x\")", "@web")
    study = lifecycle_study(tx, as_of="1998-06-30", segment="channel", horizon=26)
    ex = report.customer_export(study)
    assert len(ex) == tx["customer_id"].nunique()
    # the CRM gets the real ids, in the one id column of every export
    assert set(ex["customer_id"]) == set(tx["customer_id"].astype(str))
    assert set(ex["stage"]) <= set(stages.STAGES)
    assert {"R", "F", "M", "segment", "clv", "p_alive", "recommended_action"} <= set(ex.columns)
    path = save_export(ex, "customer_lifecycle", tmp_path, columns=report.export_columns(ex, study))
    back = pd.read_csv(path, dtype=str)
    assert not back["customer_segment"].str.match(r"^[=+\-@]").any()
    assert back["customer_segment"].str.startswith("'").all()
    met = report.lifecycle_metrics(study)
    assert sum(met["stage_counts"].values()) == len(ex)
    assert set(met) >= {"stage_counts", "transitions", "rfm_segments", "ladder", "what_if", "headline"}
    for row, to in met["transitions"].items():
        if row != stages.NOT_YET:
            assert sum(to.values()) == int((study.stages_start["stage"] == row).sum())
    assert 2 <= len(met["headline"]) <= 4
    assert len(report.decision(study).findings) >= 3


def test_stages_by_segment(histories):
    st = stages.customer_stages(histories, date=AS_OF, thresholds=TH)
    st["segment_value"] = ["x" if i < 4 else "y" for i in range(len(st))]
    t = stages.stages_by_segment(st)
    assert t["customers"].tolist() == [4, 4]
    assert t[list(stages.STAGES)].sum(axis=1).tolist() == pytest.approx([1.0, 1.0])


def test_what_if_delta_intervals_agree_with_parameter_draws(fitted):
    # the delta-method interval against the spread of the changes recomputed under 300
    # draws of both models' parameters from the asymptotic normal of their estimates
    from clm_lib.clv.valuation import _xT_groups, spend_frame
    from clm_lib.studies.lifecycle_segments import whatif

    m, g, data = fitted
    w = retention_what_if(m, g, data, points=[1, 5], horizon=52, discount_rate=0.0027,
                          margin=0.3, level=0.9)
    groups, spend = _xT_groups(data), spend_frame(data)
    kw = dict(horizon=52, discount_rate=0.0027, extra=0)
    tp, sp = m.sample_params(300, seed=7), g.sample_params(300, seed=8)
    draws = np.array([whatif._changes(whatif._tables(m, groups, [1.0, 5.0], tp[i], **kw),
                                      whatif._weights(m, g, data, spend, groups, tp[i], sp[i], 0.3))
                      for i in range(300)])
    for i, a in enumerate(whatif.ASSUMPTIONS):
        for j, col in enumerate((f"value_change_{a}", f"value_change_pct_{a}")):
            half = (w[f"{col}_upper"] - w[f"{col}_lower"]).to_numpy()[1:] / 2
            sd_draws = draws[:, i, j, 1:].std(axis=0)
            np.testing.assert_allclose(half / 1.6449, sd_draws, rtol=0.2)
            np.testing.assert_allclose(w[col].to_numpy()[1:], draws[:, i, j, 1:].mean(axis=0),
                                       rtol=0.05)
