"""The lifecycle notebook runs end to end on CDNOW master (and with a leads table)."""
import json

import pandas as pd
import pytest

from clm_lib.config import NOTEBOOKS_DIR
from clm_lib.studies.lifecycle_segments import report
from tests.studies.lifecycle_segments.test_report import assert_figures_match

NB = NOTEBOOKS_DIR / "40_lifecycle_segments.ipynb"


def assert_bundled_funnel(m, out):
    """The funnel of the bundled (synthetic) leads: rows in = used + dropped by reason, the
    three first stages on the index, the leads said to be synthetic in the report."""
    import nbformat

    q = m["leads_data_quality"]
    assert q["source"] == "leads_synthetic.csv"
    assert q["dropped"] == {"unparseable created": 3, "created after as_of": 157,
                            "converted before created": 2}
    assert q["rows_in"] == 5617 == q["rows_used"] + sum(q["dropped"].values())
    f = m["leads_funnel"]
    assert f["window_days"] == 30 and f["period"] == "month" and f["interval_level"] == 0.95
    every = {r["source"]: r for r in f["by_source"]}["All"]
    assert every["leads"] == q["rows_used"] == 5455
    periods = f["by_period"]
    assert [p["period"] for p in periods][:2] == ["1997-01", "1997-02"] and len(periods) == 18
    assert [p["complete"] for p in periods] == [True] * 17 + [False]    # 1998-06 is not over
    assert periods[-1]["window_rate"] is None and f["complete_through"] == "1998-05-31"
    assert sum(p["leads"] for p in periods) == every["leads"]
    assert sum(p["window_converted"] for p in periods if p["complete"]) == every["window_converted"]
    assert [x["stage"] for x in m["lifecycle"]] == ["loyalty", "retention", "reach",
                                                     "acquisition", "conversion"]
    stages = {x["stage"]: x for x in m["lifecycle"]}
    assert stages["reach"]["value"] == "5,455" and "synthetic" in stages["reach"]["detail"]
    assert stages["conversion"]["value"] == f"{100 * every['window_rate']:.1f} %"
    assert "synthetic" in m["decision"]["findings"][0]
    text = "\n".join(str(o.get("data", {}).get("text/html", "")) for c in
                     nbformat.read(out.parent / "run.ipynb", as_version=4).cells
                     if c.cell_type == "code" for o in c.get("outputs", []))
    assert "About these leads: synthetic, not CDNOW data." in text
    assert "Reach → conversion by creation month" in text
    assert "unparseable created" in text and "converted before created" in text


@pytest.mark.slow
def test_lifecycle_notebook_runs_on_cdnow(run_notebook):
    out = run_notebook(NB.name)
    m = json.loads((out / "metrics.json").read_text())
    assert sum(m["stage_counts"].values()) == 23570
    assert set(m["rfm_segments"]) == {"champions", "loyal", "potential loyalists", "new", "at risk",
                                      "can't lose", "hibernating", "lost"}
    assert sum(v["customers"] for v in m["rfm_segments"].values()) == 23570
    assert set(m["what_if"]) == {"1", "5", "10"}
    assert 0 < m["what_if"]["1"] < m["what_if"]["5"] < m["what_if"]["10"]
    # both readings of "1 point less churn", the shown one named, each with its interval
    assert m["what_if_assumption"] == "absolute" and m["what_if_intervals"] is True
    one = {a: m["what_if_by_assumption"][a]["1"] for a in ("absolute", "proportional")}
    for v in one.values():
        assert v["pct_lower"] < v["value_change_pct"] < v["pct_upper"]
    assert one["absolute"]["value_change_pct"] > 3 * one["proportional"]["value_change_pct"]
    assert m["ladder"][0] == pytest.approx(11516 / 23570)   # CDNOW: 11,516 repeat buyers
    assert 2 <= len(m["headline"]) <= 4 and m["data_quality"]["rows_used"] > 0
    assert_figures_match(m)
    assert m["decision"]["source"] == "cdnow_master.csv + leads_synthetic.csv"
    assert m["decision"]["as_of"] == "1998-06-30 (as given)"
    assert 3 <= len(m["decision"]["findings"]) <= 4 and len(m["decision"]["actions"]) >= 3
    assert_bundled_funnel(m, out)
    ex = pd.read_csv(out / "exports" / "customer_lifecycle.csv", dtype={"customer_id": str})
    # the CRM gets the real ids (CDNOW's are zero-padded numbers), in customer_id
    assert len(ex) == 23570 and ex["customer_id"].nunique() == 23570
    assert ex["customer_id"].str.fullmatch(r"\d+").all()
    dictionary = pd.read_csv(out / "exports" / "data_dictionary.csv")
    assert set(dictionary["export"]) == {"customer_lifecycle.csv", "transitions.csv",
                                         "rfm_segments.csv", "actions.csv"}
    assert ex["recommended_action"].notna().all()
    # one story per customer on the bundled data: P(alive) below 1 for lapsed one-time
    # buyers (MBG/NBD), no lapsed or at-risk champion, every F score used, no call for
    # customers worth less than the action value
    assert m["purchase_model"] == "MBG/NBD"
    assert (ex.loc[ex["segment"].isin(["lost", "hibernating"]), "p_alive"] < 0.9).all()
    assert not ex.loc[ex["segment"] == "champions", "stage"].isin(["lapsed", "at risk"]).any()
    assert set(ex["F"]) == set(ex["R"]) == set(ex["M"]) == {1, 2, 3, 4, 5}
    relaxed = ex["action"].isin(["reward", "keep close", "build the habit", "onboard"])
    assert (ex.loc[relaxed, "p_alive"] >= 0.5).all()
    calls = ex.loc[ex["action"] == "personal outreach", "clv"]
    assert len(calls) and calls.min() >= m["action_value"] > 1
    actions = pd.read_csv(out / "exports" / "actions.csv")
    assert actions["customers"].sum() == 23570
    seg = pd.read_csv(out / "exports" / "rfm_segments.csv")
    assert seg["action"].tolist() == [report.PLAYBOOK[s] for s in seg["segment"]]
    assert list(pd.read_csv(out / "exports" / "transitions.csv")["from"])[0] == "not yet a customer"


@pytest.mark.slow
def test_lifecycle_notebook_with_leads(tmp_path, run_notebook):
    leads = tmp_path / "leads.csv"
    pd.DataFrame({"lead_id": range(6), "created": ["1997-01-01"] * 6,
                  "source": ["ads", "ads", "ads", "=mail", "=mail", "=mail"],
                  "converted": ["1997-01-05", "1997-02-01", None, "1997-01-02", None, None]}).to_csv(leads, index=False)
    out = run_notebook(NB.name, sample=False, leads=str(leads),
                       transactions="../data/cdnow_sample.csv",
                       columns={"date": "timestamp", "dollars": "amount"}, as_of="1998-06-30",
                       new_days=60, lapsed_days=180, what_if_points=[2])
    m = json.loads((out / "metrics.json").read_text())
    # within the default 30 days: ads converted after 4 and 31 days, =mail after 1
    rates = {r["source"]: r["window_rate"] for r in m["leads_funnel"]["by_source"]}
    assert rates["ads"] == pytest.approx(1 / 3) and rates["=mail"] == pytest.approx(1 / 3)
    assert m["thresholds"]["new_days"] == 60 and m["thresholds"]["lapsed_days"] == 180
    assert set(m["what_if"]) == {"2"}
    assert m["leads_data_quality"]["rows_in"] == 6 and m["data_quality"]["rows_in"] > 0
    stages = {f["stage"]: f["value"] for f in m["lifecycle"]}
    assert stages["reach"] == "6" and stages["conversion"] == "33.3 %" and stages["acquisition"] == "3"
    assert m["decision"]["source"] == "cdnow_sample.csv + leads.csv"
