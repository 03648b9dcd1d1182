"""The cohort report: summary lines, metrics, display tables and exports, by hand."""
import json

import numpy as np
import pandas as pd
import pytest

from clm_lib.reporting import to_json
from clm_lib.studies.cohort_retention import report
from clm_lib.studies.cohort_retention.compute import cohort_study
from tests.studies.cohort_retention.test_cohorts import AS_OF, tiny_log


@pytest.fixture(scope="module")
def subscription_study():
    """Two yearly cohorts of subscriptions with known survivors: sBG fits, holdout works."""
    rows = []
    for year, surv in ((2000, [500, 430, 380, 345, 320]), (2001, [400, 350, 310, 285])):
        start = pd.Timestamp(f"{year}-01-01")  # anniversaries on period boundaries
        lost = -np.diff(surv)
        i = 0
        for t, n in enumerate(lost, start=1):
            rows += [(f"{year}-{i + j}", start, start + pd.DateOffset(years=t)) for j in range(n)]
            i += n
        rows += [(f"{year}-{i + j}", start, pd.NaT) for j in range(surv[-1])]
    subs = pd.DataFrame(rows, columns=["customer_id", "start", "end"])
    return cohort_study(subs, "year", as_of="2004-12-31", holdout_periods=1, horizon_periods=5)


def test_cohort_study_metrics_and_summary(subscription_study):
    st = subscription_study
    assert st.tables.bounded_counts.loc["2000"].tolist() == [500, 430, 380, 345, 320]
    assert st.model is not None and st.holdout_error["cells"] == 2
    # held out: k=4 of 2000 and k=3 of 2001
    assert st.holdout_error["actual"] == 320 + 285
    m = report.cohort_metrics(st)
    assert m["cohort_sizes"] == {"2000": 500, "2001": 400}
    assert m["retention_bounded"]["2001"][-1] is None
    assert m["churn_rate"]["2001"] == pytest.approx(70 / 500)
    assert len(m["sbg"]["projection"]) == 4 + 5 + 1 and m["retention_model"] == "sbg"
    assert set(m["sbg"]["se"]) == {"alpha", "beta"} and 2 <= len(m["headline"]) <= 4
    assert m["sbg"]["error"] is None and m["sbg"]["del"] == st.valuation["del"]
    assert m["churn_rule"].startswith("a customer is lost in the year in which their "
                                      "subscription ends")
    json.loads(to_json(m))
    lines = report.summary_lines(st)
    assert lines[0].startswith("900 customers were acquired in 2 yearly cohorts from 2000 to 2001")
    assert "86.0 % were still subscribed in their second year" in lines[1]
    assert any(line.startswith("Checked on the last year held out of a refit, the model expected ")
               for line in lines)


def test_display_tables(subscription_study):
    st = subscription_study
    sizes = report.cohort_sizes_table(st)
    assert sizes.caption == "Cohort sizes (customers acquired per year)"
    assert sizes.frame["customers"].tolist() == [500, 400]
    assert _shown(sizes)[0] == ["cohort (year)", "customers acquired"]
    churn = report.churn_table(st)
    head, rows = _shown(churn)
    assert head == ["year", "customers active at the start of the year",
                    "customers lost in the year", "churn rate (% of active, per year)", "status"]
    assert rows[0] == ["2001", "500", "70", "14.0 %", "settled"]  # 70 of 500
    assert churn.caption == "Churn per year"
    proj = report.projection_table(st)
    assert len(proj.frame) == 5 + 1 and proj.frame.index[-1] == 9
    head, rows = _shown(proj)
    assert head == ["years since acquisition (k)", "projected % still active", "lower 95 %",
                    "upper 95 %"]
    assert rows[0][1] == f"{100 * st.projection['survival'].iloc[4]:.1f} %"
    derl = report.derl_table(st)
    assert _shown(derl)[0][1:] == ["chance of staying one more year",
                                   "DERL (years, discounted at 1.0 % per year)"]
    assert len(derl.frame) == 6
    params = report.sbg_parameters_table(st)
    assert params.caption.startswith("sBG parameters (all data; log-likelihood −")
    head, rows = _shown(params)
    assert head[2] == "standard error"
    # standard errors with four decimals, never "0.00"
    assert rows[0][2] == f"{st.model.summary['se'].iloc[0]:.4f}" and rows[0][2] != "0.00"
    frames = report.export_frames(st)
    assert list(frames) == ["retention_bounded", "retention_unbounded", "churn_rate"]
    assert list(frames["retention_bounded"].columns[:3]) == ["cohort", "customers_acquired",
                                                             "year_0"]
    assert frames["retention_bounded"]["customers_acquired"].tolist() == [500, 400]
    assert list(frames["churn_rate"].columns) == ["period", "active_start", "lost", "churn_rate",
                                                  "status"]
    columns = report.export_columns(st)
    assert all(set(columns[n]) == set(f.columns) for n, f in frames.items())


def _shown(table):
    """The header and body cells of a display table as the report renders them (no-break
    spaces read as spaces: the typography is tested in tests/test_reporting.py)."""
    import re

    from clm_lib.reporting import table_html

    html = table_html(table.frame, table.caption, formats=table.formats,
                      rename=table.rename).replace("\xa0", " ")
    cell = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>")
    head = cell.findall(html.split("<tbody>")[0].split("<thead>")[1])
    rows = [cell.findall(r) for r in html.split("<tbody>")[1].split("</tr>") if "<t" in r]
    return head, rows


def test_sbg_fit_table_drawn_without_holdout():
    st = cohort_study(_many_cohorts(),
                      "month", as_of="2020-12-31", holdout_periods=0)
    assert st.holdout is None and st.model is not None and st.retention_model == "bgnbd"
    fit = st.fit_table
    assert set(fit.columns) >= {"actual", "fitted", "lower", "upper", "in_fit", "alive"}
    assert fit.index[0] == 1 and fit["in_fit"].sum() == st.tables.last_k.max()
    # transactions: compared with the bounded retention (which does not move as data
    # arrive), never with the unbounded counts
    np.testing.assert_allclose(fit["actual"].dropna(),
                               st.average_bounded["retention"].drop(index=0).dropna())
    # like for like where observed (the cohorts observed at k), every cohort beyond
    obs, proj = fit["in_fit"], st.projection.drop(index=0)
    np.testing.assert_allclose(fit.loc[obs, "fitted"], proj.loc[obs, "buying_observed"])
    np.testing.assert_allclose(fit.loc[~obs, "fitted"], proj.loc[~obs, "buying"])
    assert proj.loc[~obs, "buying_observed"].isna().all()


def _many_cohorts():
    rng = np.random.default_rng(5)
    rows = []
    for i in range(600):
        first = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 200)))
        life = int(rng.geometric(rng.beta(1.0, 3.0)))  # heterogeneous: sBG fits
        rows += [(f"c{i}", first + pd.DateOffset(months=m), 1.0) for m in range(life)]
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])


def test_failed_model_is_said_in_words():
    st = cohort_study(tiny_log(), "month", as_of=AS_OF)
    assert st.model is None and st.model_failure is not None
    text = report.sbg_error_text(st)
    assert text.startswith(type(st.model_failure).__name__ + ": ")
    m = report.cohort_metrics(st)
    assert m["bgnbd"] == {"error": text}
    assert report.summary_lines(st)[-1] == f"The retention projection could not be fitted ({text})."
    assert "Projected survival" not in " ".join(m["headline"])


def test_churn_rule_wording():
    assert report.churn_rule_text("transactions", 1, "month").startswith(
        "a customer is lost in a month when they bought in the previous month and then not "
        "at all for 1 month (")
    assert "final 2 weeks later" in report.churn_rule_text("transactions", 3, "week")
    assert "provisional" in report.churn_rule_text("transactions", 3, "week")
    assert report.churn_rule_text("snapshot", 3, "month").startswith("per month of tenure")


def test_churn_headline_says_what_it_pools():
    st = cohort_study(_many_cohorts(), "month", as_of="2020-12-31", holdout_periods=2)
    cs = st.churn_summary
    assert cs["basis"] == "after acquisition" and cs["periods"] == ["2020-09", "2020-10"]
    line = next(x for x in report.summary_lines(st) if x.startswith("Churn rate: "))
    assert line.startswith(f"Churn rate: {100 * cs['rate']:.1f} % per month, pooled over the 2 "
                           "settled months September 2020 to October 2020")
    assert "(February 2020 to August 2020)" in line and "November 2020 to December 2020" in line
    m = report.cohort_metrics(st)
    assert m["headline"]["Churn rate per month (pooled, settled, after acquisition)"] == \
        f"{100 * cs['rate']:.1f} %"
    assert m["churn_provisional"] == ["2020-11", "2020-12"]
    # acquired every month up to the end: nothing after acquisition, all settled months pooled
    late = cohort_study(_many_cohorts(), "month", as_of="2020-08-31", holdout_periods=0)
    assert late.churn_summary["basis"] == "all settled"
    assert "Customers were acquired in every one of these months" in " ".join(
        report.summary_lines(late))


def test_cohort_trend_is_said_only_beyond_sampling_noise(subscription_study):
    rows = [(f"j{i}", "2020-01-10") for i in range(200)] \
        + [(f"j{i}", "2020-02-10") for i in range(40)] \
        + [(f"f{i}", "2020-02-12") for i in range(200)] \
        + [(f"f{i}", "2020-03-12") for i in range(120)]
    tx = pd.DataFrame(rows, columns=["customer_id", "timestamp"])
    tx["timestamp"] = pd.to_datetime(tx["timestamp"])
    st = cohort_study(tx, "month", as_of="2020-03-31", holdout_periods=0)
    line = next(x for x in report.summary_lines(st) if "newest" in x)
    # 60 % vs 20 %: Newcombe interval of the difference well above 0
    assert line.startswith("The newest cohort retained better than the oldest in its second "
                           "month: 60.0 % of the February 2020 cohort")
    assert "(difference +40.0 points, 95 % interval" in line
    # 87.5 % (350 of 400) vs 86.0 % (430 of 500): not distinguishable
    line = next(x for x in report.summary_lines(subscription_study) if "newest" in x)
    assert line.startswith("In their second year the newest and the oldest cohort do not differ "
                           "beyond sampling noise: 87.5 % of the 2001 cohort")
