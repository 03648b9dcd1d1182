"""Cohort figures return Axes with titles and labels carrying units."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from clm_lib.clv.sbg import ShiftedBetaGeometric, sbg_data_from_counts  # noqa: E402
from clm_lib.studies.cohort_retention.compute import (  # noqa: E402
    churn_rate,
    cohort_study,
    retention_by_segment,
    retention_tables,
)
from clm_lib.studies.cohort_retention.tables import average_retention  # noqa: E402
from clm_lib.exceptions import MissingColumnsError  # noqa: E402
from clm_lib.plotting.cohorts import (  # noqa: E402
    AVERAGE_LABEL,
    chart_retention_curves,
    plot_churn_rate,
    plot_retention_curves,
    plot_retention_heatmap,
    plot_retention_projection,
    plot_segment_curves,
    plot_value_curves,
)
from tests.studies.cohort_retention.test_cohorts import AS_OF, tiny_log  # noqa: E402


@pytest.fixture(scope="module")
def tables():
    return retention_tables(tiny_log(), "month", as_of=AS_OF)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_heatmap(tables):
    ax = plot_retention_heatmap(tables.bounded_rates, unit="month")
    assert ax.get_xlabel() == "months since acquisition (k; k = 0 left out)"
    assert "cohort" in ax.get_ylabel() and ax.get_title()
    # k = 0 (100 % by definition) left out: 3 cohorts x k = 1..3 with 4 unobservable
    # cells -> 5 annotated cells, none for NaN, readable (>= 9 pt)
    assert len(ax.texts) == 5
    assert min(t.get_fontsize() for t in ax.texts) >= 9
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]


def test_heatmap_scale_is_set_without_the_acquisition_period():
    """The colour scale ends at the largest share from k = 1 on (40 %), not at month 0's
    100 %; a sequential, colour-blind-safe map; the cohort sizes beside the rows."""
    rates = pd.DataFrame({0: [1.0, 1.0], 1: [0.4, 0.2], 2: [0.3, None]},
                         index=pd.Index(["2020-01", "2020-02"], name="cohort"))
    sizes = pd.Series([1200, 50], index=rates.index)
    ax = plot_retention_heatmap(rates, sizes=sizes, unit="month")
    mesh = ax.collections[0]
    assert mesh.get_clim() == (0, pytest.approx(40))
    assert mesh.get_cmap().name == "viridis"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["2020-01  (n = 1,200)", "2020-02  (n = 50)"]
    assert sorted(t.get_text() for t in ax.texts) == ["20", "30", "40"]


def test_period_axes_have_whole_number_ticks(tables):
    from matplotlib.ticker import MaxNLocator

    avg = average_retention(tables.bounded_counts, tables.sizes)
    for ax in (plot_retention_curves(tables.bounded_rates, average=avg),
               plot_value_curves(tables.value_curves)):
        loc = ax.xaxis.get_major_locator()
        assert isinstance(loc, MaxNLocator) and loc._integer


def test_retention_curves_chart(tables):
    """The interactive chart: one row per observable (cohort, k >= 1) plus the average,
    with the share, the customers behind it and formatted tooltips; k = 0 (100 % by
    definition) left out so that it does not set the scale."""
    avg = average_retention(tables.bounded_counts, tables.sizes)
    spec = chart_retention_curves(tables.bounded_rates, tables.bounded_counts, average=avg,
                                  unit="month").to_dict()
    rows = next(iter(spec["datasets"].values()))
    n_cells = int(tables.bounded_rates.drop(columns=0).notna().sum().sum())
    n_avg = int(avg["retention"].drop(index=0).notna().sum())
    assert min(r["k"] for r in rows) == 1
    assert len(rows) == n_cells + n_avg
    jan2 = next(r for r in rows if r["cohort"] == "2020-01" and r["k"] == 2)
    assert jan2["share"] == 0.5 and jan2["customers"] == 1 and jan2["series"] == "cohort"
    avg1 = next(r for r in rows if r["cohort"] == AVERAGE_LABEL and r["k"] == 1)
    assert avg1["share"] == pytest.approx(avg.loc[1, "retention"]) and avg1["series"] == "average"
    enc = spec["encoding"]
    assert enc["x"]["field"] == "k" and enc["y"]["field"] == "share"
    assert enc["x"]["axis"]["format"] == "d" and enc["y"]["axis"]["format"] == "%"
    tips = {t["field"]: t for t in enc["tooltip"]}
    assert set(tips) == {"cohort", "k", "share", "customers"}
    assert tips["share"]["format"] == ".1%" and tips["customers"]["format"] == ","
    assert spec["width"] == "container" and spec["height"] == 300
    assert spec["params"][0]["bind"] == "legend" and "opacity" in enc
    # one cohort (a snapshot): no average line of its own
    one = chart_retention_curves(tables.bounded_rates.iloc[:1], tables.bounded_counts.iloc[:1],
                                 average=avg).to_dict()
    assert {r["cohort"] for r in next(iter(one["datasets"].values()))} == {"2020-01"}


def test_curves_and_value(tables):
    avg = average_retention(tables.bounded_counts, tables.sizes)
    ax = plot_retention_curves(tables.bounded_rates, average=avg, unit="week", highlight=2)
    assert ax.get_xlabel() == "weeks since acquisition (k)" and "%" in ax.get_ylabel()
    assert len(ax.get_legend().get_texts()) == 4  # 2 highlighted, average, band
    ax = plot_value_curves(tables.value_curves)
    assert "$" in ax.get_ylabel()


def test_churn_and_segments():
    cr = churn_rate(tiny_log(), "month", as_of=AS_OF, inactivity_periods=1)
    ax = plot_churn_rate(cr)
    assert "%" in ax.get_ylabel() and "month" in ax.get_xlabel()
    assert plot_churn_rate(cr, xlabel="tenure (months)").get_xlabel() == "tenure (months)"
    seg = retention_by_segment(tiny_log(), "channel", "month", as_of=AS_OF)
    ax = plot_segment_curves(seg)
    assert len(ax.get_legend().get_texts()) == 2
    with pytest.raises(MissingColumnsError):
        plot_churn_rate(pd.DataFrame({"x": [1]}))


def test_churn_plot_marks_provisional_periods():
    # window of 3 months, data to April: Feb settled, Mar and Apr provisional
    cr = churn_rate(tiny_log(), "month", as_of=AS_OF, inactivity_periods=3)
    assert cr["provisional"].tolist() == [False, True, True]
    ax = plot_churn_rate(cr)
    hollow = [ln for ln in ax.lines if ln.get_markerfacecolor() == "white"]
    assert len(hollow) == 1 and list(hollow[0].get_xdata()) == [1, 2]
    assert any("provisional" in t.get_text() for t in ax.get_legend().get_texts())


def test_sbg_projection():
    m = ShiftedBetaGeometric().fit(sbg_data_from_counts([1000, 869, 743, 653, 593]),
                                   weights="weights")
    pr = m.projection(8)
    table = pd.DataFrame({"actual": [1, .869, .743, .653, .593] + [None] * 4,
                          "fitted": pr["survival"], "lower": pr["survival_lower"],
                          "upper": pr["survival_upper"], "in_fit": pr.index <= 4})
    ax = plot_retention_projection(table, unit="year")
    assert ax.get_xlabel() == "years since acquisition (k)"
    assert len(ax.lines) == 2


def test_sbg_projection_draws_the_study_table():
    from tests.studies.cohort_retention.test_report import _many_cohorts

    st = cohort_study(_many_cohorts(), "month", as_of="2020-12-31", holdout_periods=2)
    ax = plot_retention_projection(st.fit_table, unit="month")
    assert ax.get_xlabel() == "months since acquisition (k)"
    assert len(ax.lines) == 2 and ax.get_legend() is not None
    # the chart draws the all-data fit the summary quotes, not the holdout-check fit
    line = ax.lines[0]
    H = int(st.projection.index.max())
    assert line.get_xdata()[-1] == H
    assert line.get_ydata()[-1] == pytest.approx(100 * st.projection.loc[H, "buying"])
    assert st.holdout_model is not None
    assert st.holdout_model.params_["r"] != pytest.approx(st.model.params_["r"], rel=1e-6)
