"""The growth and stickiness views: tables, readings and figures on the hand-built logs
(their numbers are written out in test_growth.py and test_stickiness.py)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from clm_lib.format import format_frame  # noqa: E402
from clm_lib.studies.cohort_retention import report_growth as rg  # noqa: E402
from clm_lib.studies.cohort_retention import report_stickiness as rs  # noqa: E402
from clm_lib.studies.cohort_retention.growth import growth_accounting  # noqa: E402
from clm_lib.studies.cohort_retention.stickiness import stickiness  # noqa: E402
from tests.studies.cohort_retention import test_growth, test_stickiness  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def g():
    return growth_accounting(test_growth.hand_log(), "month", as_of=test_growth.AS_OF)


@pytest.fixture(scope="module")
def s():
    return stickiness(test_stickiness.hand_log(), as_of=test_stickiness.AS_OF)


def test_lifecycle_lines(g):
    assert rg.lifecycle_line(g, "2020-04") == (
        "In 2020-04, 2 customers were active: 0 new, 1 returning, 1 resurrecting; 2 went "
        "dormant; quick ratio 0.50 — the base shrank by 1.")
    assert rg.lifecycle_line(g, "2020-01").endswith(
        "0 went dormant — the first month of the data: there is no previous month to "
        "compare with.")
    # June: nobody dormant, the ratio is undefined and not quoted
    assert rg.lifecycle_line(g) == (
        "In 2020-06, 3 customers were active: 1 new, 1 returning, 1 resurrecting; 0 went "
        "dormant — no customer went dormant, the base did not lose anyone.")
    assert "the base held steady" in rg.lifecycle_line(g, "2020-02")


def test_revenue_and_quick_ratio_lines(g):
    assert rg.revenue_line(g, "2020-03", currency="$") == (
        "In 2020-03, revenue went from $30.00 to $53.00: +$40.00 from new customers, "
        "+$0.00 expansion, −$10.00 contraction, −$7.00 churned, +$0.00 resurrected; revenue "
        "quick ratio 2.35 (more revenue gained than lost).")
    assert rg.quick_ratio_line(g) == (
        "The customer quick ratio was above 1 (more customers gained than lost) in 0 of the "
        "4 months where it is defined; in 2020-06 it is undefined (nobody went dormant).")


def test_growth_tables(g):
    t = rg.lifecycle_table(g)
    assert list(t.frame.columns) == ["active", "new", "returning", "resurrecting", "dormant",
                                     "quick_ratio"]
    assert "first month" in t.caption and set(t.formats) == set(t.frame.columns)
    out = format_frame(t.frame, t.formats, rename=t.rename)
    assert out.loc["2020-06", "quick ratio ((new + resurrecting) / dormant)"] == "–"
    b = rg.revenue_bridge_table(g, "$")
    assert b.frame.loc["2020-04", "churned_revenue"] == 45.0 and "positive" in b.caption
    q = rg.quick_ratio_table(g, "$")
    assert q.frame.loc["2020-04", ["gained", "dormant"]].tolist() == [1, 2]
    assert q.frame.loc["2020-04", "revenue_lost"] == 53.0
    assert len(rg.growth_notes(g)) == 4
    assert rg.lifecycle_figure(g).get_title() and rg.quick_ratio_figure(g).get_title()
    assert rg.lifecycle_chart(g).to_dict()["mark"]["type"] == "bar"


def test_stickiness_views(s):
    t = rs.stickiness_table(s, "days", top=3)
    assert list(t.frame.columns) == ["customers", "1", "2", "3+"]
    assert t.frame.loc["2021-02"].tolist() == [2, 0.5, 0.0, 0.5]
    assert t.rename["1"] == "1 day" and t.rename["3+"] == "3+ days"
    w = rs.stickiness_table(s, "weeks")
    assert w.frame.loc["2021-02", ["customers", "1", "2"]].tolist() == [2, 0.5, 0.5]
    assert rs.stickiness_line(s, "2021-02") == (
        "In 2021-02, 2 customers bought: 50.0 % on one day only, 0.0 % on two days, 50.0 % "
        "on three or more; 50.0 % in one ISO week only.")
    assert rs.ratios_line(s, "2021-02") == (
        "In 2021-02, on an average day 0.1 customers bought, 7.1 % of the month's 2 "
        "(DAU/MAU); in an average week 0.8, 37.5 % (WAU/MAU).")
    r = rs.ratios_table(s)
    assert r.frame.loc["2021-03", "wau_mau"] == pytest.approx(1 / 8)
    ax = rs.stickiness_figure(s, "weeks")
    assert ax.get_title() == "Active ISO weeks per customer active in 2021-03"
    assert rs.ratios_figure(s).get_title() == "Active-customer ratios per month"
    with pytest.raises(ValueError, match="kind"):
        rs.distribution(s, "hours")
    assert isinstance(rs.distribution(s), pd.DataFrame) and len(rs.stickiness_notes(s)) == 3
