"""Overview figures return Axes with the expected titles, labels (with units) and data."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from clm_lib.exceptions import MissingColumnsError  # noqa: E402
from clm_lib.studies.overview.compute import overview_study  # noqa: E402
from clm_lib.plotting.overview import (  # noqa: E402
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
