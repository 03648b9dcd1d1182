"""Growth and stickiness figures return Axes with titles and labels carrying units."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from clm_lib.exceptions import MissingColumnsError  # noqa: E402
from clm_lib.plotting.growth import (  # noqa: E402
    plot_active_ratios,
    plot_lifecycle,
    plot_quick_ratio,
    plot_stickiness,
)
from clm_lib.studies.cohort_retention.growth import growth_accounting  # noqa: E402
from clm_lib.studies.cohort_retention.stickiness import stickiness  # noqa: E402
from tests.studies.cohort_retention import test_growth, test_stickiness  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def growth():
    return growth_accounting(test_growth.hand_log(), "month", as_of=test_growth.AS_OF)


def test_lifecycle_bars(growth):
    ax = plot_lifecycle(growth, period_name="month")
    assert ax.get_title() == "Customers per month by lifecycle status"
    assert ax.get_xlabel() == "Calendar month" and "dormant below 0" in ax.get_ylabel()
    # 6 periods x 4 groups; dormant drawn downwards
    bars = ax.patches
    assert len(bars) == 24
    heights = np.array([b.get_height() for b in bars]).reshape(4, 6)
    assert heights[3].tolist() == [0, -2, -1, -2, -2, 0]
    assert (heights[:3] >= 0).all()
    low, high = ax.get_ylim()
    assert low < -2 and high > 3   # the tallest stack (3) is not at the edge
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "new (first purchase)"


def test_quick_ratio_lines(growth):
    ax = plot_quick_ratio(growth)
    assert "Quick ratio" in ax.get_title() and ax.get_ylabel() == "Quick ratio (gained / lost)"
    assert len(ax.get_lines()) == 3   # two ratios and the line of 1
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), growth["quick_ratio"])


def test_lifecycle_needs_its_columns(growth):
    with pytest.raises(MissingColumnsError):
        plot_lifecycle(growth.drop(columns="dormant"))


def test_stickiness_bars_and_ratio_lines():
    s = stickiness(test_stickiness.hand_log(), as_of=test_stickiness.AS_OF)
    shares = s.days.loc["2021-02"] / s.days.loc["2021-02"].sum()
    ax = plot_stickiness(shares, kind="days", month="2021-02")
    assert ax.get_title() == "Active days per customer active in 2021-02"
    assert ax.get_xlabel() == "Active days in the month (count)"
    assert [t.get_text() for t in ax.texts] == ["50 %", "0.0 %", "50 %"] and len(ax.patches) == 3
    ax = plot_active_ratios(s.ratios)
    assert ax.get_ylabel() == "Share of the month's active customers (%)"
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), s.ratios["dau_mau"] * 100)
    assert isinstance(s.ratios, pd.DataFrame)


def test_lifecycle_chart_spec(growth):
    from clm_lib.plotting.growth import LIFECYCLE_GROUPS, chart_lifecycle

    spec = chart_lifecycle(growth).to_dict()
    assert spec["mark"]["type"] == "bar" and spec["width"] == "container"
    enc = spec["encoding"]
    assert enc["x"]["sort"] == growth.index.tolist() and enc["y"]["stack"] == "zero"
    assert enc["color"]["scale"]["range"] == [c for _, _, c in LIFECYCLE_GROUPS]
    rows = pd.DataFrame(next(iter(spec["datasets"].values())))
    assert len(rows) == 4 * len(growth)
    apr = rows[rows["period"] == "2020-04"].set_index("stack")
    assert apr["customers"].tolist() == [0, 1, 1, -2]          # dormant negative
    assert set(apr["quick_ratio_text"]) == {"0.50"} and set(apr["active_text"]) == {"2"}
    with pytest.raises(MissingColumnsError):
        chart_lifecycle(growth.drop(columns="quick_ratio"))
