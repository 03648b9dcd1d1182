"""Overview figures return Axes with the expected titles, labels (with units) and data."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from matplotlib.colors import to_hex  # noqa: E402

from clm_lib.exceptions import MissingColumnsError  # noqa: E402
from clm_lib.plotting.style import PALETTE  # noqa: E402
from clm_lib.studies.overview.compute import overview_study  # noqa: E402
from clm_lib.plotting.overview import (  # noqa: E402
    chart_monthly_activity,
    plot_interpurchase_times,
    plot_monthly_activity,
    plot_monthly_revenue,
    plot_orders_per_customer,
    plot_revenue_concentration,
)


@pytest.fixture(scope="module")
def result():
    return overview_study(pd.DataFrame({
        "customer_id": pd.array(["a", "a", "a", "b", "c", "c"], dtype="string"),
        "timestamp": pd.to_datetime(["2020-01-01", "2020-01-20", "2020-03-02",
                                     "2020-01-05", "2020-02-03", "2020-02-13"]),
        "amount": [10.0, 5.0, 20.0, 30.0, 40.0, 10.0],
    }), cap=3)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_monthly_activity_plot(result):
    m = result.monthly
    ax = plot_monthly_activity(m)
    assert isinstance(ax, Axes)
    assert ax.get_title() == "Customers who ordered, per month"
    assert ax.get_xlabel() == "Calendar month"
    assert ax.get_ylabel() == "Customers (count)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2020-01", "2020-02", "2020-03"]
    # stacked bars: new + returning heights add up to active customers
    heights = np.array([p.get_height() for p in ax.patches]).reshape(2, -1).sum(axis=0)
    assert heights.tolist() == m["active_customers"].tolist()
    # colour-blind-safe: new and returning in the Okabe-Ito blue and orange
    assert {to_hex(p.get_facecolor()) for p in ax.patches} == {PALETTE[0].lower(),
                                                                PALETTE[1].lower()}
    # a count axis: ticks on whole customers only
    assert all(float(v).is_integer() for v in ax.get_yticks())


def test_monthly_revenue_plot_on_given_axes(result):
    m = result.monthly
    _, given = plt.subplots()
    ax = plot_monthly_revenue(m, ax=given, currency="€")
    assert ax is given
    assert ax.get_title() == "Revenue per month"
    assert ax.get_ylabel() == "Revenue (€)"
    heights = np.array([p.get_height() for p in ax.patches]).reshape(2, -1).sum(axis=0)
    assert heights.tolist() == pytest.approx(m["revenue"].tolist())


def test_orders_per_customer_plot(result):
    ax = plot_orders_per_customer(result.orders_per_customer)
    assert ax.get_title() == "How many orders each customer placed"
    assert ax.get_xlabel() == "Orders per customer (count)"
    assert ax.get_ylabel() == "Customers (% of all customers)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3+"]
    assert [p.get_height() for p in ax.patches] == pytest.approx([100 / 3, 100 / 3, 100 / 3])


def test_interpurchase_plot(result):
    ax = plot_interpurchase_times(result.gaps, median=result.gap_median)
    assert ax.get_title() == "Time between purchases (customers who came back)"
    assert ax.get_xlabel() == "Days between consecutive purchase days"
    assert ax.get_ylabel() == "Repeat purchases (count per 1 day)"
    assert sum(p.get_height() for p in ax.patches) == 3  # gaps 19, 42, 10
    assert "median: 19 days" in [t.get_text() for t in ax.get_legend().get_texts()]
    median_line = ax.get_lines()[0]
    assert list(median_line.get_xdata()) == [19.0, 19.0]
    # three gaps on a 0-45 day axis: without integer ticks the counts read 0.5, 1.5, ...
    assert all(float(v).is_integer() for v in ax.get_yticks())
    assert all(float(v).is_integer() for v in ax.get_xticks())


def test_interpurchase_plot_draws_the_median_it_is_given(result):
    # the plot draws the value of the result, it does not compute one
    ax = plot_interpurchase_times(result.gaps, median=30.0)
    assert "median: 30 days" in [t.get_text() for t in ax.get_legend().get_texts()]
    ax = plot_interpurchase_times(result.gaps)
    assert ax.get_legend() is None and not ax.get_lines()


def test_interpurchase_plot_empty_series():
    ax = plot_interpurchase_times(pd.Series([], dtype="int64"))
    assert ax.get_xlabel() == "Days between consecutive purchase days"


def test_revenue_concentration_plot(result):
    rc = result.concentration
    ax = plot_revenue_concentration(rc)
    assert ax.get_title() == "How concentrated revenue is"
    assert ax.get_xlabel() == "Customers, biggest spenders first (cumulative % of customers)"
    assert ax.get_ylabel() == "Revenue (cumulative % of total)"
    line = ax.get_lines()[0]
    assert line.get_ydata()[-1] == pytest.approx(100.0)
    assert "top 10 % of customers: 43 % of revenue" in [t.get_text() for t in ax.texts]
    ax2 = plot_revenue_concentration(rc.curve)  # a bare curve: no top 10 % marker
    assert isinstance(ax2, Axes) and not ax2.texts


def test_plots_check_columns():
    with pytest.raises(MissingColumnsError):
        plot_monthly_activity(pd.DataFrame({"period": ["2020-01"]}))
    with pytest.raises(MissingColumnsError):
        plot_orders_per_customer(pd.DataFrame({"orders": ["1"]}))


def test_monthly_activity_chart_spec(result):
    m = result.monthly
    spec = chart_monthly_activity(m, currency="€").to_dict()
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v5")
    assert spec["mark"]["type"] == "bar"
    assert spec["width"] == "container" and spec["height"] == 300
    enc = spec["encoding"]
    assert enc["x"]["field"] == "period" and enc["x"]["sort"] == ["2020-01", "2020-02", "2020-03"]
    assert enc["y"]["field"] == "customers" and enc["y"]["stack"] == "zero"
    assert enc["y"]["title"] == "Customers who ordered (count)"
    assert enc["color"]["scale"]["range"] == [PALETTE[0], PALETTE[1]]
    titles = [t["title"] for t in enc["tooltip"]]
    assert titles == ["Month", "Customers", "Count", "Share of the month's active customers",
                      "Revenue from them (€)", "All active customers", "All orders",
                      "All revenue (€)"]
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 2 * len(m)          # aggregated: one row per month and group
    by = {(r["period"], r["group"]): r for r in rows}
    new, back = "new customers", "returning customers"
    # January: a and b new (15 and 30); March: a returns (20), nobody new
    assert by["2020-01", new]["customers"] == 2 and by["2020-01", back]["customers"] == 0
    assert by["2020-01", new]["revenue_text"] == "€45.00"
    assert by["2020-03", back]["customers"] == 1 and by["2020-03", new]["customers"] == 0
    assert by["2020-03", back]["revenue_text"] == "€20.00"
    assert by["2020-03", back]["share_text"] == "100.0 %"
    assert by["2020-03", back]["total_revenue_text"] == "€20.00"
    # the stacked heights add up to the active customers of each month
    per = pd.DataFrame(rows).groupby("period")["customers"].sum()
    assert per.tolist() == m["active_customers"].tolist()


def test_monthly_activity_chart_checks_columns():
    with pytest.raises(MissingColumnsError):
        chart_monthly_activity(pd.DataFrame({"period": ["2020-01"], "new_customers": [1]}))
