"""The lifecycle report: display tables (renames, percentages, captions), sentences,
metrics and exports, read from one study on the CDNOW sample."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clm_lib.studies.lifecycle_segments import report
from clm_lib.studies.lifecycle_segments.compute import lifecycle_study
from clm_lib.studies.lifecycle_segments.stages import STAGES, Thresholds

AS_OF = "1998-06-30"


@pytest.fixture(scope="module")
def study():
    from clm_lib.config import CDNOW_SAMPLE
    from clm_lib.io import load_transactions

    tx, _ = load_transactions(CDNOW_SAMPLE, {"date": "timestamp", "dollars": "amount", "cds": "quantity"})
    tx["channel"] = np.where(np.arange(len(tx)) % 3 == 0, "web", "shop")
    leads = pd.DataFrame({"lead_id": [1, 2, 3, 4], "created": ["1997-01-01"] * 3 + ["1999-01-01"],
                          "source": ["a", "a", "b", "b"],
                          "converted": ["1997-01-11", None, "1997-01-03", None]})
    return lifecycle_study(tx, as_of=AS_OF, segment="channel", horizon=26, leads=leads,
                           what_if_points=[1, 5])


def test_percent_columns():
    df = pd.DataFrame({"share": [0.1234, np.nan], "n": [1234, 5], "x": [1.5, 2.0]})
    out = report.percent_columns(df, ["share"])
    assert out["share"].tolist() == ["12.3%", "–"] and out["n"].tolist() == ["1,234", "5"]
    assert out["x"].tolist() == [1.5, 2.0]
    assert df["share"].iloc[0] == 0.1234      # the input is not changed


def test_threshold_words():
    th = Thresholds(10, 20, 30, quantiles={"new_days": 0.5}, n_gaps=1234)
    assert report.threshold_sources(th) == {"new_days": "50% quantile of 1,234 inter-purchase gaps",
                                            "at_risk_days": "parameter", "lapsed_days": "parameter"}
    t = report.thresholds_table(th)
    assert t.loc["loyal/VIP: purchase days and spend both in the top", "threshold"] == "20%"
    assert report.thresholds_dict(th)["source"]["at_risk_days"] == "parameter"


def test_table_views_rename_and_caption(study):
    v = report.stage_view(study)
    assert v["caption"] == f"Customers, revenue and expected value by stage at {AS_OF}"
    assert {"share of customers", "revenue to date ($)", "expected value, next 26 weeks ($)"} <= set(v["df"])
    assert v["df"]["share of customers"].str.endswith("%").all()
    seg = report.segments_view(study, currency="€")["df"]
    assert "revenue to date (€)" in seg and "mean purchase days" in seg and "action" not in seg
    s = report.stage_segments_view(study)
    assert list(s["df"].index) == ["shop", "web"] and s["caption"].startswith("Stages by channel")
    assert list(report.ladder_view(study)["df"].columns) == [
        "customers with ≥ k purchase days", "with ≥ k+1", "P(k+1 | k)"]
    assert "bought again in window" in report.reactivation_view(study)["df"]
    table, note = report.what_if_parts(study)
    assert list(table["df"].index) == ["0", "1", "5"]
    top = list(dict.fromkeys(c[0] for c in table["df"].columns))
    assert top == ["absolute cut (shown)", "proportional cut"]
    assert ("absolute cut (shown)", "90% interval (%)") in table["df"].columns
    assert note.startswith("**Assumptions:** Churn = the MBG/NBD probability")
    assert "**absolute** (shown first and in the summary)" in note
    assert "parameter uncertainty only" in note
    assert report.flows_figure(study)["title"] == f"Customer flows between stages, {study.flow_start} to {AS_OF}"
    assert report.leads_view(study)["caption"] == "Leads by source"
    assert report.stage_value_note(study) is None


def test_sentences(study):
    lines = report.summary_lines(study)
    assert lines[0].startswith(f"{len(study.stages):,} customers at {AS_OF}: ")
    what_if = [line for line in lines if line.startswith("What-if: lowering each active customer's "
                                                          "dropout probability by 1 point (absolute cut")]
    assert len(what_if) == 1 and "90% parameter interval" in what_if[0]
    assert "read as a proportional cut" in what_if[0]
    assert lines[-1].startswith("Leads: 3, of which 67% converted")
    assert report.second_purchase_note(study).startswith("Median time to a second purchase: ")
    assert report.method_values_note(study).startswith(
        f"Thresholds used: new {study.thresholds.new_days} days")
    assert "MBG/NBD parameters (weeks): r = " in report.method_values_note(study)
    assert report.quality_notes(study) == ["Leads: 1 excluded (leads created after as_of)."]


def test_metrics_and_exports(study):
    m = report.lifecycle_metrics(study)
    json.dumps(m)
    assert "data_quality" not in m and set(m["what_if"]) == {"1", "5"}
    assert m["what_if_assumption"] == "absolute" and m["what_if_intervals"] is True
    by = m["what_if_by_assumption"]
    assert by["absolute"]["1"]["value_change"] == m["what_if"]["1"]
    assert by["absolute"]["1"]["pct_lower"] < by["absolute"]["1"]["value_change_pct"] < \
        by["absolute"]["1"]["pct_upper"]
    assert by["proportional"]["1"]["value_change_pct"] < by["absolute"]["1"]["value_change_pct"]
    assert any(k.startswith("Value of 1 pt less churn (26 weeks, absolute cut)") for k in m["headline"])
    assert m["thresholds"]["source"] == report.threshold_sources(study.thresholds)
    assert sum(m["stage_counts"].values()) == len(study.stages)
    assert [r["source"] for r in m["leads"]] == ["a", "b", "All"]
    seg = report.segments_export(study)
    assert seg.columns[0] == "segment" and list(seg.columns[-2:]) == ["action", "action_value"]
    assert (seg["action_value"] == study.action_value).all()
    assert seg["action"].tolist() == [report.PLAYBOOK[s] for s in seg["segment"]]
    tr = report.transitions_export(study)
    assert tr.columns[0] == "from" and list(tr.columns[1:]) == list(STAGES)
    ex = report.customer_export(study)
    assert ex["clv"].is_monotonic_decreasing and set(ex["customer_segment"]) == {"web", "shop"}


def test_show_skips_none_and_displays_in_order(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    monkeypatch.setattr(report, "show_table", lambda **kw: shown.append(kw["caption"]))
    _, ax = plt.subplots()
    report.show("text", None, {"df": pd.DataFrame(), "caption": "c"}, [ax, None], 42)
    assert [type(x).__name__ for x in shown] == ["Markdown", "str", "Figure", "int"]
    assert shown[1] == "c" and not plt.get_fignums()       # the figure was closed


def test_p_alive_of_long_silent_one_time_buyers_is_below_one(study):
    # the BG/NBD gives every customer without a repeat purchase P(alive) = 1; the MBG/NBD
    # lets her drop out after her first purchase, the longer the silence the likelier
    assert study.model.name == "mbgnbd" and study.model_fallback is None
    ex = report.customer_export(study)
    once = ex.loc[(ex["frequency"] == 1) & (ex["stage"] == "lapsed")]
    assert len(once) > 100
    assert (once["p_alive"] < 0.5).all()
    assert np.corrcoef(once["recency_days"], once["p_alive"])[0, 1] < 0
    m = report.lifecycle_metrics(study)
    assert m["purchase_model"] == "MBG/NBD" and m["bgnbd_params"] is None
    assert set(m["purchase_model_params"]) == {"r", "alpha", "a", "b"}
    assert "MBG/NBD" in report.method_values_note(study)
    assert "first" in report.purchase_model_note(study)


def test_bgnbd_stands_in_with_its_reason_when_mbgnbd_cannot_be_fitted(monkeypatch):
    from clm_lib.clv.mbgnbd import ModifiedBetaGeoModel
    from clm_lib.config import CDNOW_SAMPLE
    from clm_lib.exceptions import ConvergenceError
    from clm_lib.io import load_transactions
    from clm_lib.studies.lifecycle_segments import compute

    class Failing(ModifiedBetaGeoModel):
        def fit(self, *args, **kwargs):
            raise ConvergenceError(model="MBG/NBD", reason="made to fail")

    monkeypatch.setattr(compute, "ModifiedBetaGeoModel", Failing)
    tx, _ = load_transactions(CDNOW_SAMPLE, {"date": "timestamp", "dollars": "amount", "cds": "quantity"})
    st = compute.lifecycle_study(tx, as_of=AS_OF, horizon=26, what_if_points=[1])
    assert st.model.name == "bgnbd" and st.model_errors == {}
    assert "made to fail" in st.model_fallback and st.values is not None
    assert "because the MBG/NBD" in report.purchase_model_note(st)
    assert "made to fail" in report.method_values_note(st)
    assert report.lifecycle_metrics(st)["bgnbd_params"] is not None


def test_segments_agree_with_stages_and_p_alive(study):
    seg, st = study.rfm["segment"].astype(str), study.stages["stage"].astype(str)
    champions = st[seg == "champions"]
    assert len(champions) > 0 and not champions.isin(["lapsed", "at risk"]).any()
    assert (study.rfm.loc[seg == "champions", "recency_days"] <= study.thresholds.at_risk_days).all()
    p = study.segments["mean_p_alive"]
    assert p["champions"] > p["hibernating"] > p["lost"]
    shown = report.segments_view(study)["df"]
    assert shown["mean P(alive)"].str.endswith("%").all() or shown["mean P(alive)"].isin(["–"]).any()
    assert list(report.score_ranges_view(study)["df"].index) == [1, 2, 3, 4, 5]
    assert report.score_rules_note(study.thresholds).startswith("**Scores.** R (recency) on the stage")
    assert f"within {study.thresholds.lapsed_days} (at risk)" in report.score_rules_note(study.thresholds)
    # CDNOW acquired all its customers in early 1997: the segment 'new' is empty, and says why
    assert int(study.segments.loc["new", "customers"]) == 0
    assert report.new_segment_note(study).startswith(
        f"No customer is 'new': nobody made a first purchase in the {study.thresholds.new_days} days")


def test_costly_actions_only_for_customers_worth_them(study):
    ex = report.customer_export(study)
    thr = study.action_value
    assert study.action_value_source == "quantile"
    assert thr == pytest.approx(np.quantile(study.values["clv"], 0.9))
    costly = ex["action"].isin(["personal outreach", "win-back offer"])
    assert costly.any() and (ex.loc[costly, "clv"] >= thr).all()
    cheap_cl = ex.loc[(ex["segment"] == "can't lose") & ~costly]
    assert (cheap_cl["clv"] < thr).all() and (cheap_cl["action"] == "automated reminder").all()
    assert (ex["recommended_action"] == ex["action"].map(report.ACTION_TEXT)).all()
    # expected value at stake per action: the same totals as the customers'
    t = study.actions
    assert t["customers"].sum() == len(ex)
    by_action = ex.groupby("action")["clv"].sum()
    for a, v in by_action.items():
        assert t.loc[a, "clv"] == pytest.approx(v)
    view = report.actions_view(study)["df"]
    assert "share of expected value" in view and view["action"].iloc[0].startswith("Personal outreach")
    assert f"at least ${thr:,.2f}" in report.action_value_note(study)
    assert "90% quantile" in report.action_value_note(study)
    assert any(line.startswith(f"Costly actions only from ${thr:,.2f}") for line in report.summary_lines(study))
    m = report.lifecycle_metrics(study)
    assert m["action_value"] == thr and m["actions"]["personal outreach"]["customers"] == \
        int(t.loc["personal outreach", "customers"])
    exp = report.actions_export(study)
    assert exp.columns[0] == "action" and (exp["action_value"] == thr).all()
    rules = report.rule_table()
    assert rules.loc["can't lose", "action, below it"].startswith("Automated reminder")


def test_action_value_parameter_and_reactivation_wording():
    from clm_lib.config import CDNOW_SAMPLE
    from clm_lib.io import load_transactions

    tx, _ = load_transactions(CDNOW_SAMPLE, {"date": "timestamp", "dollars": "amount", "cds": "quantity"})
    st = lifecycle_study(tx, as_of=AS_OF, horizon=26, what_if_points=[1], action_value=1e9)
    assert st.action_value == 1e9 and st.action_value_source == "parameter"
    assert int(st.actions.loc[["personal outreach", "win-back offer"], "customers"].sum()) == 0
    assert "the parameter `action_value`" in report.action_value_note(st)
    note = report.reactivation_note(st)
    assert "selected" in note and "proven repeat buyers" in note and "not evidence" in note


def test_what_if_note_explains_the_gap_only_when_there_is_one(study):
    w = study.what_if
    assert "Here the absolute cut gains more" in report.what_if_note(w, "week")
    flipped = w.copy()
    flipped["value_change_absolute"] = -flipped["value_change_absolute"]
    assert "Here the absolute cut gains more" not in report.what_if_note(flipped, "week")


def test_no_active_customer_held_lost_is_told_to_relax(study):
    ex = report.customer_export(study)
    relaxed = ex["action"].isin(["reward", "keep close", "build the habit", "onboard"])
    assert (ex.loc[relaxed, "p_alive"] >= 0.5).all()
    quiet = ex["segment"].isin(["champions", "loyal", "potential loyalists"]) & (ex["p_alive"] < 0.5)
    assert ex.loc[quiet, "action"].isin(["win-back offer", "automated reminder"]).all()
    note = report.quiet_customers_note(study)
    assert note == "" if not quiet.any() else note.startswith(f" {int(quiet.sum()):,} customer")


def test_action_value_note_without_customer_values():
    from types import SimpleNamespace

    st = SimpleNamespace(action_value=None, model_errors={"gamma_gamma": "not fitted (all data): no spend"})
    note = report.action_value_note(st)
    assert "without customer values (Gamma-Gamma not fitted (all data): no spend)" in note
    assert note.endswith("every customer gets the low-cost action.")
