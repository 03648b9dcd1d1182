"""The CLV study's forecast ledger, track record and customer-equity bridge."""
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from clm_lib.clv.bgnbd import BetaGeoModel, simulate_bgnbd
from clm_lib.clv.gamma_gamma import GammaGammaModel, simulate_gamma_gamma
from clm_lib.history import StudyRecord, ledger_frame, open_store, study_record
from clm_lib.studies.clv.bridge import PARTS, bridge_parts, equity_bridge
from clm_lib.studies.clv.compute import forecast_steps, window_forecasts
from clm_lib.studies.clv.history_report import track_metrics, track_sentence, track_table
from clm_lib.studies.clv.track import track_record, window_actuals
from tests.conftest import example_parameters

SOURCE = "clv|transactions=/data/log.csv"


@pytest.fixture(scope="module")
def fitted():
    sim = simulate_bgnbd((0.5, 5.0, 1.3, 3.0), np.random.default_rng(0).integers(10, 40, 3000), seed=1)
    sim["spend_frequency"] = sim["frequency"]
    spend = simulate_gamma_gamma((6.0, 4.0, 15.0), np.maximum(sim["frequency"], 1), seed=2)
    sim["monetary_value"] = np.where(sim["frequency"] > 0, spend["monetary_value"], 0.0)
    bg = BetaGeoModel().fit(sim)
    gg = GammaGammaModel().fit(sim.loc[sim.frequency > 0, ["frequency", "monetary_value"]])
    return sim, bg, gg


def test_forecast_steps():
    assert forecast_steps("week", 52) == (13, 26, 39, 52)
    assert forecast_steps("week", 20) == (13, 20)
    assert forecast_steps("month", 12) == (3, 6, 9, 12)
    assert forecast_steps("day", 365) == (91, 182, 273, 365)


def test_window_forecasts_sum_the_customers(fitted):
    sim, bg, gg = fitted
    w = window_forecasts(bg, gg, sim, horizon=20, margin=0.3, n_draws=30, seed=1)
    assert list(w.index) == list(range(1, 21))
    spend = gg.conditional_expected_spend(sim[["frequency", "monetary_value"]])
    for k in (1, 7, 13, 20):
        per = bg.conditional_expected_purchases(float(k), sim)
        assert w.loc[k, "purchases"] == pytest.approx(per.sum(), rel=1e-9)
        assert w.loc[k, "value"] == pytest.approx(0.3 * (spend * per).sum(), rel=1e-9)
    assert w["purchases"].is_monotonic_increasing
    with_interval = w.dropna().index.tolist()
    assert with_interval == [13, 20]
    for k in with_interval:
        assert w.loc[k, "purchases_lower"] < w.loc[k, "purchases"] < w.loc[k, "purchases_upper"]
        assert w.loc[k, "value_lower"] < w.loc[k, "value"] < w.loc[k, "value_upper"]


def _log():
    """Customers a, b (known on 2020-01-10) and c (first seen after it)."""
    rows = [("a", "2020-01-01", 10.0), ("a", "2020-01-12", 5.0), ("a", "2020-01-12", 7.0),
            ("a", "2020-01-20", 0.0), ("a", "2020-02-01", 9.0),
            ("b", "2020-01-03", 4.0), ("b", "2020-01-10", 3.0), ("b", "2020-01-24", 8.0),
            ("c", "2020-01-15", 50.0), ("c", "2020-01-16", 50.0)]
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]).assign(
        timestamp=lambda d: pd.to_datetime(d["timestamp"]))


def test_window_actuals_by_hand():
    a = window_actuals(_log(), "2020-01-10", "2020-01-24")
    # a: 01-12 (two rows, one purchase day), 01-20 (zero amount: a purchase, no spend);
    # b: 01-24 (the window's last day counts, 01-10 is the as-of day and does not); c: new
    assert sorted(a.index) == ["a", "b"]
    assert a.loc["a", "purchases"] == 2 and a.loc["a", "spend"] == 12.0
    assert a.loc["b", "purchases"] == 1 and a.loc["b", "spend"] == 8.0


def _record(run_id, as_of, frames, margin=0.5):
    return StudyRecord(study="clv", source_key=SOURCE, as_of=as_of, fingerprint={},
                       parameters={}, figures={}, metrics={"as_of": as_of, "margin": margin},
                       forecasts=pd.concat(frames, ignore_index=True))


def _forecast(pred_total, lower, upper, steps, customers):
    return [ledger_frame("purchases", pred_total, step=steps, unit="day", lower=lower,
                         upper=upper, level=0.9),
            ledger_frame("value", [10.0 * p for p in pred_total], step=steps, unit="day",
                         lower=[5.0] * len(steps), upper=[30.0] * len(steps), level=0.9),
            ledger_frame("purchases", list(customers.values()), step=steps[-1], unit="day",
                         scope="customer", key=list(customers))]


def test_track_record_scores_a_hand_filled_store(tmp_path):
    url = str(tmp_path / "h.duckdb")
    store = open_store(url)
    # r1 at 01-10: steps 7, 14 and 21 days; the data to 01-24 cover 14 (partly covered)
    store.record_run({"run_id": "r1", "ok": True},
                     [_record("r1", "2020-01-10", _forecast([1.0, 2.5, 4.0], [0.0, 1.0, 2.0],
                                                            [2.0, 2.8, 6.0], [7, 14, 21],
                                                            {"a": 1.5, "b": 0.5}))])
    # r2 at 01-20: its first window ends 01-27, after the data: nothing to score
    store.record_run({"run_id": "r2", "ok": True},
                     [_record("r2", "2020-01-20", _forecast([1.0], [0.0], [2.0], [7],
                                                            {"a": 1.0}))])
    data = _log()[lambda d: d["timestamp"] <= "2020-01-24"]
    tr = track_record(SimpleNamespace(as_of="2020-01-24"), data, url, SOURCE)
    assert tr.runs == 2 and tr.reason is None
    pur, val = tr.entries
    # independently: known by 01-10 are a and b; in (01-10, 01-24]: a on 01-12 and 01-20,
    # b on 01-24 -> 3 purchase days, spend 12 + 8 = 20
    assert (pur["name"], pur["run_id"], pur["step"]) == ("purchases", "r1", 14.0)
    assert pur["window"] == ["2020-01-10", "2020-01-24"]
    assert pur["actual"] == 3 and pur["predicted"] == 2.5
    assert pur["error"] == pytest.approx(2.5 / 3 - 1)
    assert pur["inside"] is False and pur["full_horizon"] is False
    assert val["actual"] == pytest.approx(0.5 * 20) and val["inside"] is True
    # per customer at step 21: not covered; no customer score
    assert "customers" not in pur
    m = track_metrics(tr, None)
    assert m["scored"] == 2 and m["coverage"] == 0.5
    text = track_sentence(tr, None)
    assert text.startswith("The repeat purchases forecast of the run as of 2020-01-10 "
                           "under-predicted the 14 days to 2020-01-24 by 16.7")
    assert "1 of 2 actual totals (purchases and value) fell inside their 90" in text
    assert m["text"] == text
    table = track_table(tr)["df"]
    assert len(table) == 2 and list(table["inside"]) == ["no", "yes"]


def test_track_record_per_customer_and_nothing_to_score(tmp_path):
    url = str(tmp_path / "h.duckdb")
    store = open_store(url)
    store.record_run({"run_id": "r1", "ok": True},
                     [_record("r1", "2020-01-10", _forecast([2.5], [1.0], [4.0], [14],
                                                            {"a": 1.5, "b": 0.5, "z": 1.0}))])
    data = _log()[lambda d: d["timestamp"] <= "2020-01-24"]
    tr = track_record(SimpleNamespace(as_of="2020-01-24"), data, url, SOURCE)
    cust = tr.entries[0]["customers"]
    # a: 1.5 vs 2, b: 0.5 vs 1, z (no purchase): 1 vs 0
    assert cust["n"] == 3 and cust["mae"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert cust["bias"] == pytest.approx((-0.5 - 0.5 + 1.0) / 3)
    # data only to 01-20: the 14-day window is not covered yet
    early = track_record(SimpleNamespace(as_of="2020-01-20"),
                         data[data["timestamp"] <= "2020-01-20"], url, SOURCE)
    assert early.entries == []
    assert early.reason == ("the earlier runs' windows are not covered yet by the data "
                            "(next: after 2020-01-24)")
    assert track_metrics(early, None)["scored"] == 0
    assert track_record(SimpleNamespace(as_of="2020-01-24"), data, None, SOURCE).reason == \
        "no run history was given (history)"
    assert track_record(SimpleNamespace(as_of="2020-01-24"), data, url, "clv|other").reason == \
        "no earlier run on this data"


def test_bridge_parts_by_hand():
    before = pd.DataFrame({"clv": [10.0, 5.0, 3.0, 2.0], "p_alive": [0.8, 0.9, 0.2, 0.6]},
                          index=["a", "b", "c", "g"])
    now = pd.DataFrame({"clv": [12.0, 1.0, 4.0, 6.0], "p_alive": [0.7, 0.3, 0.25, 0.9],
                        "clv_previous_parameters": [11.0, 1.5, 3.5, 5.0]},
                       index=["a", "b", "c", "n"])
    p = bridge_parts(before, now, threshold=0.5)
    assert p["new"] == 6.0                      # n
    assert p["lost"] == 1.0 - 5.0               # b: 0.9 -> 0.3
    assert p["behaviour"] == (11 - 10) + (3.5 - 3)
    assert p["parameters"] == (12 - 11) + (4 - 3.5)
    assert p["gone"] == -2.0                    # g
    assert p["total_before"] == 20.0 and p["total_now"] == 23.0
    assert sum(p[k] for k in PARTS) == pytest.approx(p["change"]) and p["change"] == 3.0
    assert p["customers"] == {"new": 1, "lost": 1, "behaviour": 2, "parameters": 2, "gone": 1}


def test_bridge_not_computed_across_valuation_settings(tmp_path):
    url = str(tmp_path / "h.duckdb")
    metrics = {"as_of": "2020-01-10", "forecast": {"model": "mbgnbd"}, "time_unit": "week",
               "horizon": 52, "margin": 0.3, "annual_discount_rate": 0.15}
    open_store(url).record_run({"run_id": "r1", "ok": True}, [StudyRecord(
        study="clv", source_key=SOURCE, as_of="2020-01-10", fingerprint={}, parameters={},
        figures={}, metrics=metrics, forecasts=None)])
    study = SimpleNamespace(values=pd.DataFrame({"clv": [1.0]}), value_model="pareto_nbd",
                            time_unit="week", horizon=26, margin=0.3, annual_discount_rate=0.15)
    b = equity_bridge(study, url, SOURCE)
    assert b.parts is None and b.run_id == "r1"
    assert b.reason == ("the previous run valued customers differently (value model mbgnbd "
                        "then, pareto_nbd now; horizon 52 then, 26 now), so its values are "
                        "not compared")
    assert equity_bridge(study, url, "clv|other").reason == "no earlier run on this data"
    assert equity_bridge(study, None, SOURCE).reason == "no run history was given (history)"


def _cdnow_actuals(path, start, end):
    """Repeat purchase days and dollars in (start, end] of customers first seen by start,
    by pandas."""
    d = pd.read_csv(path, dtype={"customer_id": str}, parse_dates=["date"])
    known = d.groupby("customer_id")["date"].min() <= start
    w = d[(d["date"] > start) & (d["date"] <= end)
          & d["customer_id"].map(known)]
    days = w.groupby(["customer_id", "date"])["dollars"].sum()
    return days.groupby(level=0).size(), float(days.sum())


def test_second_run_scores_the_first(run_notebook, postgres_database):
    """CDNOW: a run as of 1998-03-31 is recorded; a run as of 1998-06-30 scores its 13-week
    forecast against the repeat purchases that happened (counted here with pandas). On a
    PostgreSQL store: tests/run/test_history_cdnow.py runs the same case on a DuckDB file
    through the runner."""
    history_url = postgres_database
    params = example_parameters("30_clv.ipynb")
    out1 = run_notebook("30_clv.ipynb", as_of="1998-03-31", history=None)
    m1 = json.loads((out1 / "metrics.json").read_text())
    assert m1["track_record"]["scored"] == 0
    assert m1["track_record"]["text"] == "no run history was given (history)"
    assert set(m1["figures"]) >= {"clv_total", "likely_active", "top_decile_share", "holdout_error"}
    open_store(history_url).record_run(
        {"run_id": "r1", "ok": True},
        [study_record("clv", out1, {**params, "as_of": "1998-03-31"})])
    out2 = run_notebook("30_clv.ipynb", as_of="1998-06-30", history=history_url)
    m2 = json.loads((out2 / "metrics.json").read_text())
    tr = m2["track_record"]
    assert tr["scored"] == 2
    pur = next(e for e in tr["entries"] if e["name"] == "purchases")
    assert pur["run_id"] == "r1" and pur["step"] == 13.0
    assert pur["window"] == ["1998-03-31", "1998-06-30"]
    per_customer, dollars = _cdnow_actuals(params["transactions"], pd.Timestamp("1998-03-31"),
                                           pd.Timestamp("1998-06-30"))
    assert pur["actual"] == per_customer.sum()
    f1 = pd.read_parquet(out1 / "forecasts.parquet")
    total13 = f1[(f1["name"] == "purchases") & (f1["scope"] == "total") & (f1["step"] == 13)]
    assert pur["predicted"] == pytest.approx(float(total13["value"].iloc[0]))
    assert pur["inside"] == bool(total13["lower"].iloc[0] <= pur["actual"] <= total13["upper"].iloc[0])
    cust = f1[(f1["name"] == "purchases") & (f1["scope"] == "customer") & (f1["step"] == 13)]
    pred = cust.set_index("key")["value"]
    err = pred - per_customer.reindex(pred.index).fillna(0)
    assert pur["customers"]["mae"] == pytest.approx(float(err.abs().mean()))
    val = next(e for e in tr["entries"] if e["name"] == "value")
    assert val["actual"] == pytest.approx(0.3 * dollars)
    # the equity bridge against r1 adds up to the change of the total value
    b = m2["equity_bridge"]["parts"]
    assert b["total_before"] == pytest.approx(m1["forecast"]["clv_total"], rel=1e-9)
    assert b["total_now"] == pytest.approx(m2["forecast"]["clv_total"], rel=1e-9)
    assert sum(b[k] for k in PARTS) == pytest.approx(b["change"], abs=1e-6)
