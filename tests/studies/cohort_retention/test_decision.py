"""The cohort decision box, the index's retention figures, the alt texts and the exports'
data dictionary, by hand."""
import numpy as np
import pandas as pd
import pytest

from clm_lib import format as fmt
from clm_lib.reporting import Decision, decision_html
from clm_lib.studies.cohort_retention import alt_text, report
from clm_lib.studies.cohort_retention import decision as decide
from clm_lib.studies.cohort_retention.compute import cohort_study
from tests.studies.cohort_retention.test_cohorts import AS_OF, tiny_log
from tests.studies.cohort_retention.test_report import _many_cohorts, subscription_study  # noqa: F401


def test_subscription_decision_by_hand(subscription_study):  # noqa: F811
    st = subscription_study
    d = decide.decision(st, "/data/in/subs.csv")
    assert isinstance(d, Decision) and 3 <= len(d.findings) <= 4
    # k = 1: (430 + 350) / 900; k = 3: (345 + 285) / 900, both cohorts observed
    assert d.findings[0] == (
        "900 customers were acquired in 2 yearly cohorts from 2000 to 2001. 86.7 % of a "
        "cohort (size-weighted average) were still subscribed in the year after their "
        "acquisition year (k = 1) and 70.0 % 3 years after it (k = 3).")
    cs = st.churn_summary
    assert d.findings[1].startswith(f"{fmt.percent(cs['rate'])} of subscribers are lost per "
                                    "year (pooled over the 4 settled years 2001 to 2004")
    # dated subscriptions: the customers the pooled rate loses from the last period's base
    n = st.churn["active_start"].iloc[-1]
    assert d.actions == [
        f"Cut churn: at {fmt.percent(cs['rate'])} per year, about {fmt.count(n * cs['rate'])} "
        f"of the {fmt.count(n)} customers active at the start of 2004 are lost each year; a "
        f"tenth less churn keeps about {fmt.count(n * cs['rate'] / 10)} more per year."]
    assert "Checked on the last year held out of a refit" not in d.confidence
    assert "checked on the last year held out of a refit, the model expected" in d.confidence
    assert d.source == "subs.csv" and d.as_of == "2004-12-31 (as given)"
    assert d.to_dict()["findings"] == d.findings


def test_transactions_decision_values_the_actions():
    """Every purchase is 1.00, so an active customer-month is worth 1.00 and the money at
    stake equals the customers."""
    st = cohort_study(_many_cohorts(), "month", as_of="2020-12-31", holdout_periods=2)
    assert decide.revenue_per_active(st) == pytest.approx(1.0)
    d = decide.decision(st, "log.csv", currency="$")
    prov = st.churn.loc[st.churn["provisional"].astype(bool)]
    n = prov["lost"].sum()
    assert list(prov.index) == ["2020-11", "2020-12"]
    assert d.actions[0] == (
        f"Win back the {fmt.count(n)} customers lapsing now (provisionally lost in November "
        "2020 to December 2020: bought in the month before and not since): at $1.00 per "
        f"active customer-month, every month they buy is worth {fmt.money(n, '$')}.")
    r1 = st.tables.bounded_rates[1].dropna()
    gain = ((r1.max() - r1) * st.tables.sizes[r1.index]).sum()
    assert d.actions[1].startswith("Lift repeat buying in the second month: had every cohort "
                                   "matched ")
    assert f"{fmt.count(gain)} more customers would have come back, about " \
           f"{fmt.money(gain, '$')} at $1.00 per active customer-month." in d.actions[1]
    assert d.confidence.startswith("Retention and churn figures are exact counts from the "
                                   "data; settled months are final, November 2020 to December "
                                   "2020 provisional")
    assert d.as_of == "2020-12-31 (as given)"
    html = decision_html(d)
    assert "What to do" in html and "$1.00" in html


def test_decision_without_a_model_says_why():
    st = cohort_study(tiny_log(), "month", as_of=AS_OF)
    d = decide.decision(st)
    assert d.confidence.endswith(f"No projection: {report.sbg_error_text(st)}.")
    assert d.source == "the data given" and d.actions


def test_snapshot_decision_protects_early_tenure():
    rng = np.random.default_rng(3)
    T = rng.geometric(rng.beta(1.0, 4.0, 3000))
    snap = pd.DataFrame({"customer_id": np.arange(3000).astype(str),
                         "tenure": np.minimum(T, 36), "churned": T <= 36})
    st = cohort_study(snap, "month", holdout_periods=0)
    d = decide.decision(st, "snap.csv")
    assert d.as_of == "the snapshot's end (no calendar dates: tenure only)"
    c = st.churn
    early, late = c.iloc[:12], c.iloc[12:]
    r_e = early["lost"].sum() / early["active_start"].sum()
    r_l = late["lost"].sum() / late["active_start"].sum()
    n = int(((snap["tenure"] < 12) & ~snap["churned"]).sum())
    assert d.actions[0] == (
        f"Protect subscribers in their first 12 months: they cancel at {fmt.percent(r_e)} per "
        f"month, against {fmt.percent(r_l)} afterwards; at that rate about "
        f"{fmt.count(n * r_e)} of the {fmt.count(n)} current subscribers with under 12 months "
        "of tenure leave in the coming month.")
    assert d.confidence.startswith("Retention and churn by tenure are exact counts from one "
                                   "snapshot")


def test_lifecycle_figures(subscription_study):  # noqa: F811
    figs = decide.lifecycle(subscription_study)
    assert [f["stage"] for f in figs] == ["retention"] * 3
    assert [f["value"] for f in figs] == [
        "86.7 %", "70.0 %", fmt.percent(subscription_study.churn_summary["rate"])]
    assert figs[0]["label"] == "Active 1 year after acquisition"
    assert "2 yearly cohorts 2000 to 2001 (900 customers)" in figs[0]["detail"]
    assert figs[2]["detail"].endswith("pooled over the 4 settled years 2001 to 2004")


def test_alt_texts_carry_the_main_message(subscription_study):  # noqa: F811
    st = subscription_study
    heat = alt_text.heatmap_alt(st)
    # highest share from k = 1 on: 2001 at k = 1 (350 of 400)
    assert "The highest share is 87.5 % (2001, k = 1)" in heat and "k = 0" in heat
    curves = alt_text.curves_alt(st)
    assert "the average falls from 86.7 % at k = 1" in curves
    assert "pooled over the settled years" in alt_text.churn_alt(st)


def test_export_dictionary_documents_every_column(subscription_study, tmp_path):  # noqa: F811
    from clm_lib.reporting import save_export

    frames, columns = report.export_frames(subscription_study), report.export_columns(
        subscription_study)
    for name, frame in frames.items():
        save_export(frame, name, tmp_path, columns=columns[name])
    dic = pd.read_csv(tmp_path / "exports" / "data_dictionary.csv")
    assert set(dic["export"]) == {"retention_bounded.csv", "retention_unbounded.csv",
                                  "churn_rate.csv"}
    assert (dic["meaning"].str.len() > 10).all()
    bounded = pd.read_csv(tmp_path / "exports" / "retention_bounded.csv")
    assert bounded["year_1"].tolist() == [0.86, 0.875]
    assert bounded["customers_acquired"].tolist() == [500, 400]
    churn = pd.read_csv(tmp_path / "exports" / "churn_rate.csv")
    # no float noise: rates rounded to 4 decimals, counts as integers
    assert churn["churn_rate"].tolist() == [round(x, 4) for x in
                                            subscription_study.churn["churn_rate"]]
    assert churn["lost"].dtype == np.int64 and set(churn["status"]) == {"settled"}
