"""The lifecycle report: display tables (renames, percentages, captions), sentences,
metrics and exports, read from one study on the CDNOW sample."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from clm_lib.format import money
from clm_lib.reporting import table_html
from clm_lib.studies.lifecycle_segments import report
from clm_lib.studies.lifecycle_segments.compute import lifecycle_study
from clm_lib.studies.lifecycle_segments.stages import ACTIVE_STAGES, STAGES, Thresholds

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


def test_threshold_words():
    th = Thresholds(10, 20, 30, quantiles={"new_days": 0.5}, n_gaps=1234)
    assert report.threshold_sources(th) == {"new_days": "50 % quantile of 1,234 inter-purchase gaps",
                                            "at_risk_days": "parameter", "lapsed_days": "parameter"}
    t = report.thresholds_table(th)
    assert t.loc["loyal/VIP: purchase days and spend both in the top", "threshold"] == "20 %"
    assert report.thresholds_dict(th)["source"]["at_risk_days"] == "parameter"


def _cells(view) -> tuple[list[str], list[list[str]]]:
    """The header and body texts of a table view as the report shows it (no-break spaces
    read as spaces: the typography is tested in tests/test_reporting.py)."""
    import html
    import re

    page = table_html(**view)
    head = re.findall(r"<th scope='col'>(.*?)</th>", page)
    rows = [[html.unescape(c).replace("\xa0", " ") for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)]
            for r in re.findall(r"<tr>(.*?)</tr>", page.split("<tbody>")[1])]
    return [html.unescape(h).replace("\xa0", " ") for h in head], rows


def test_table_views_rename_and_caption(study):
    v = report.stage_view(study)
    assert v["caption"] == f"Customers, revenue and expected value by stage at {AS_OF}"
    head, rows = _cells(v)
    assert {"Share of customers", "Revenue to date ($)", "Expected value, next 26 weeks ($)"} <= set(head)
    share = head.index("Share of customers")
    assert all(r[share].endswith(" %") for r in rows)
    lapsed = next(r for r in rows if r[0] == "lapsed")
    assert lapsed[head.index("Customers")] == f"{int(study.stage_summary.loc['lapsed', 'customers']):,}"
    assert lapsed[head.index("Revenue to date ($)")].startswith("$")
    head, rows = _cells(report.segments_view(study, currency="€"))
    assert "Revenue to date (€)" in head and "Mean purchase days" in head and "Action" not in head
    assert not any("_" in h for h in head)       # no raw column names such as clv_share
    s = report.stage_segments_view(study)
    assert list(s["df"].index) == ["shop", "web"] and s["caption"].startswith("Stages by channel")
    head, rows = _cells(report.ladder_view(study))
    assert head == ["k (purchase days)", "Customers with ≥ k purchase days", "With ≥ k+1", "P(k+1 | k)"]
    assert rows[0][3] == f"{100 * study.ladder['p_next'].iloc[0]:.1f} %"
    assert "Bought again in window" in _cells(report.reactivation_view(study))[0]
    table, note = report.what_if_parts(study)
    assert list(table["df"].index) == ["0", "1", "5"]
    assert list(table["df"].columns[:4]) == [
        "absolute cut (shown): mean dropout", "absolute cut (shown): value change ($)",
        "absolute cut (shown): change (%)", "absolute cut (shown): 90 % interval (%)"]
    assert note.startswith("Assumptions: Churn = the MBG/NBD probability")
    assert "**absolute** (shown first and in the decision box)" in note
    assert "parameter uncertainty only" in note
    assert report.flows_figure(study)["title"] == f"Customer flows between stages, {study.flow_start} to {AS_OF}"
    head, rows = _cells(report.leads_view(study))
    assert report.leads_view(study)["caption"].startswith("Reach → conversion by lead source, leads:")
    assert head[:6] == ["Lead source", "Leads", "Converted", "Leads, complete periods",
                        "Within 30 days", "Rate within 30 days"]
    assert rows[-1][:6] == ["All", "3", "2", "3", "2", "66.7 %"]
    assert report.stage_value_note(study) is None


def test_decision_box(study):
    d = report.decision(study)
    s = study.stage_summary
    assert 3 <= len(d.findings) <= 4
    # with leads the funnel leads the box (reach and conversion are the first stages)
    assert d.findings[0].startswith(f"3 leads to {AS_OF}, 2 converted; 66.7 % converted within 30 days")
    assert d.findings[1].startswith(f"{len(study.stages):,} customers at {AS_OF}: ")
    assert f"{100 * s.loc['lapsed', 'customer_share']:.1f} % lapsed" in d.findings[1]
    assert f"top 20 % of repeat customers" in d.findings[2]
    # each costly action with its customers and the value at stake, as in the actions table
    a = study.actions
    call = next(x for x in d.actions if x.startswith("Call or make a tailored offer"))
    assert f"the {int(a.loc['personal outreach', 'customers']):,} customers in 'can't lose'" in call
    assert f": {money(a.loc['personal outreach', 'clv'], '$')} (" in call
    assert f"at least ${study.action_value:,.2f} each" in call
    assert any(x.startswith("Reward and involve") for x in d.actions)
    assert len(d.actions) <= 4              # a box read in thirty seconds
    what_if = [x for x in d.actions if x.startswith("Spend at most $")]
    assert len(what_if) == 1 and "90 % parameter interval" in what_if[0]
    assert "no holdout" in d.confidence and "parameter uncertainty only" in d.confidence
    assert d.as_of == f"{AS_OF} (as given)" and d.source == "the data given"
    m = report.lifecycle_metrics(study)
    assert m["decision"] == d.to_dict()
    figures = {f["stage"]: f for f in m["lifecycle"]}
    assert list(figures) == ["loyalty", "retention", "reach", "acquisition", "conversion"]
    assert figures["reach"]["value"] == "3" and figures["conversion"]["value"] == "66.7 %"
    assert figures["acquisition"]["value"] == "2"
    assert figures["retention"]["value"].startswith(f"{int(s.loc['at risk', 'customers']):,} (")


def test_decision_without_leads_has_no_lead_stages(study):
    from dataclasses import replace

    plain = replace(study, leads_table=None, leads_km=None, leads_quality=None, leads_funnel=None)
    assert [f["stage"] for f in report.lifecycle_figures(plain)] == ["loyalty", "retention"]
    # without the funnel line the box keeps the slipping segments
    d = report.decision(plain)
    assert len(d.findings) == 4 and d.findings[0].startswith(f"{len(study.stages):,} customers")
    assert any("'can't lose' and 'at risk'" in x for x in d.findings)
    assert "lead_conversion" not in report.lifecycle_metrics(plain)["figures"]
    assert "leads_funnel" not in report.lifecycle_metrics(plain)


def test_quiet_active_customers_are_named_in_the_decision(study):
    g = report.action_groups(study)
    r = study.rfm
    quiet = r["segment"].isin(["champions", "loyal", "potential loyalists", "new"]) & \
        (r["action"] == "win-back offer")
    if quiet.any():
        assert "(P(alive) below 50 %)" in g.loc["win-back offer", "segments"]
    assert g.loc["reward", "segments"] == "'champions'"
    p = study.values["p_alive"].groupby(r["action"].astype(str)).mean()
    assert g.loc["reward", "mean_p_alive"] == pytest.approx(p["reward"])


def test_sentences(study):
    assert report.second_purchase_note(study).startswith("Median time to a second purchase: ")
    assert report.method_values_note(study).startswith(
        f"Thresholds used: new {study.thresholds.new_days} days")
    assert "MBG/NBD parameters (weeks): r = " in report.method_values_note(study)
    assert report.quality_notes(study) == ["Leads: 1 excluded (leads created after as_of)."]
    assert report.flows_note(study).startswith(f"Between {study.flow_start} and {AS_OF}: ")
    assert report.champions_note(study).startswith(
        f"RFM champions: {int(study.segments.loc['champions', 'customers']):,} customers")


def test_alt_texts_say_what_and_the_main_message(study):
    s = study.stage_summary
    alt = report.stage_chart_alt(study)
    assert f"Most customers are {s['customer_share'].idxmax()}" in alt
    assert f"largest share of expected value is in {s['clv_share'].idxmax()}" in alt
    m = study.transitions.copy()
    for st in m.index:
        if st in m.columns:
            m.loc[st, st] = 0
    (a, b), n = m.stack().idxmax(), int(m.stack().max())
    assert f"The largest move: {n:,} customers from {a} to {b}." in report.flows_alt(study)
    assert f"{100 * study.ladder['p_next'].iloc[0]:.0f} %" in report.ladder_alt(study)
    assert "5 points less churn (absolute cut)" in report.what_if_alt(study)
    assert "2 of 3 leads converted by 1998-06-30" in report.conversion_alt(study)


def assert_figures_match(m):
    """The figures are the headline's numbers: each equals the metrics value it comes
    from, with the kinds and good directions the run's alerts and comparisons read."""
    figs, counts = m["figures"], m["stage_counts"]
    n = sum(counts.values())
    active = sum(counts[s] for s in ACTIVE_STAGES)
    champions = m["rfm_segments"]["champions"]
    expect = {"lapsed_share": counts["lapsed"] / n, "active_share": active / n,
              "champions_share": champions["customers"] / n,
              "champions_value_share": champions["clv_share"],
              "second_purchase": m["ladder"][0], "value_of_less_churn": m["what_if"]["1"]}
    kinds = {"lead_conversion": ("percent", "up")} if "leads_funnel" in m else {}
    if kinds:
        every = next(r for r in m["leads_funnel"]["by_source"] if r["source"] == "All")
        expect["lead_conversion"] = every["window_rate"]
        assert figs["lead_conversion"]["basis"] == f"leads created to {m['leads_funnel']['complete_through']}"
    assert set(figs) == set(expect)
    for key, value in expect.items():
        assert figs[key]["value"] == pytest.approx(value), key
    assert {k: (f["kind"], f["good"]) for k, f in figs.items()} == {
        "lapsed_share": ("percent", "down"), "active_share": ("percent", "up"),
        "champions_share": ("percent", None), "champions_value_share": ("percent", None),
        "second_purchase": ("percent", "up"), "value_of_less_churn": ("money", None), **kinds}
    assert not any(f["churn"] for f in figs.values())
    assert m["headline"]["Customers lapsed / active"] == \
        f"{figs['lapsed_share']['value']:.0%} / {figs['active_share']['value']:.0%}"
    assert m["headline"]["P(2nd purchase | 1st)"] == f"{figs['second_purchase']['value']:.0%}"
    assert figs["value_of_less_churn"]["label"].startswith("Value of 1 pt less churn (")


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
    assert_figures_match(m)
    assert m["thresholds"]["source"] == report.threshold_sources(study.thresholds)
    assert sum(m["stage_counts"].values()) == len(study.stages)
    assert [r["source"] for r in m["leads_funnel"]["by_source"]] == ["a", "b", "All"]
    seg = report.segments_export(study)
    assert seg.columns[0] == "segment" and list(seg.columns[-2:]) == ["action", "action_value"]
    assert (seg["action_value"] == study.action_value).all()
    assert seg["action"].tolist() == [report.PLAYBOOK[s] for s in seg["segment"]]
    tr = report.transitions_export(study)
    assert tr.columns[0] == "from" and list(tr.columns[1:]) == list(STAGES)
    ex = report.customer_export(study)
    assert ex["clv"].is_monotonic_decreasing and set(ex["customer_segment"]) == {"web", "shop"}
    assert ex.columns[0] == "customer_id" and set(ex["customer_id"]) == set(study.rfm.index.astype(str))


def test_exports_documented_rounded_with_real_ids(study, tmp_path):
    from clm_lib.reporting import save_export

    for name, df in (("customer_lifecycle", report.customer_export(study)),
                     ("transitions", report.transitions_export(study)),
                     ("rfm_segments", report.segments_export(study)),
                     ("actions", report.actions_export(study))):
        cols = report.export_columns(df, study, "$")
        assert list(cols) == list(df.columns)
        save_export(df, name, tmp_path, columns=cols)
    d = pd.read_csv(tmp_path / "exports" / "data_dictionary.csv")
    assert set(d["export"]) == {"customer_lifecycle.csv", "transitions.csv", "rfm_segments.csv",
                                "actions.csv"}
    assert d["meaning"].notna().all()
    unit = d.set_index(["export", "column"])["unit"]
    assert unit["actions.csv", "clv"] == "$" and unit["customer_lifecycle.csv", "p_alive"] == "probability (0-1)"
    ex = pd.read_csv(tmp_path / "exports" / "customer_lifecycle.csv", dtype={"customer_id": str})
    assert set(ex["customer_id"]) == set(study.rfm.index.astype(str))
    # money in cents, probabilities to four decimals: no float noise
    assert (ex["clv"].dropna() == ex["clv"].dropna().round(2)).all()
    assert (ex["p_alive"] == ex["p_alive"].round(4)).all()
    act = pd.read_csv(tmp_path / "exports" / "actions.csv")
    text = (tmp_path / "exports" / "actions.csv").read_text()
    assert all(len(x.split(".")[1]) <= 4 for x in re.findall(r"\d+\.\d+", text))
    assert act["clv"].round(2).equals(act["clv"])
    with pytest.raises(KeyError):
        report.export_columns(pd.DataFrame({"unknown": [1]}), study)


def test_show_escapes_text_and_needs_alt_text(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(report, "show_note", lambda text: shown.append(("note", text)))
    monkeypatch.setattr(report, "show_table", lambda **kw: shown.append(("table", kw["caption"])))
    monkeypatch.setattr(report, "show_figure", lambda fig, alt: shown.append(("figure", alt)))
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(("other", obj)))
    _, ax = plt.subplots()
    report.show("**Bold.** `x`", None, {"df": pd.DataFrame(), "caption": "c"},
                [report.figure_view(ax, "alt"), None], report.figure_view(None, ""), 42)
    assert shown == [("note", "Bold. x"), ("table", "c"), ("figure", "alt"), ("other", 42)]
    with pytest.raises(TypeError, match="alt text"):
        report.show(ax)
    plt.close("all")


def test_no_markdown_display_in_the_report_modules():
    """Sentences hold data (segment values, file names): none may reach Markdown."""
    import inspect

    from clm_lib.studies.lifecycle_segments import decision, exports

    for mod in (report, decision, exports):
        assert not re.search(r"import[^\n]*\bMarkdown\b|\bMarkdown\(", inspect.getsource(mod))


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
    head, rows = _cells(report.segments_view(study))
    col = head.index("Mean P(alive)")
    assert all(r[col].endswith(" %") or r[col] == "–" for r in rows)
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
    head, rows = _cells(report.actions_view(study))
    assert "Share of expected value" in head and rows[0][1].startswith("Personal outreach")
    assert f"at least ${thr:,.2f}" in report.action_value_note(study)
    assert "90% quantile" in report.action_value_note(study)
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


def test_decision_without_customer_values_says_why(monkeypatch):
    from clm_lib.config import CDNOW_SAMPLE
    from clm_lib.exceptions import ConvergenceError
    from clm_lib.io import load_transactions
    from clm_lib.studies.lifecycle_segments import compute

    def failing(full):
        raise ConvergenceError(model="Gamma-Gamma", reason="made to fail")

    monkeypatch.setattr(compute, "fit_spend_model", failing)
    tx, _ = load_transactions(CDNOW_SAMPLE, {"date": "timestamp", "dollars": "amount", "cds": "quantity"})
    st = compute.lifecycle_study(tx, as_of=AS_OF, horizon=26, what_if_points=[1])
    assert st.values is None
    d = report.decision(st)
    assert "Expected values were not estimated" in d.confidence and "made to fail" in d.confidence
    assert all("expected discounted" not in f for f in d.findings)
    assert not any(a.startswith("Spend at most") for a in d.actions)
    reward = next(a for a in d.actions if a.startswith("Reward and involve"))
    assert reward.endswith("(their value is not estimated).")
    figures = {f["stage"]: f for f in report.lifecycle_figures(st)}
    assert "of revenue to date" in figures["retention"]["detail"]
