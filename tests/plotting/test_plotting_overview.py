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
from clm_lib.studies.overview.compute import (  # noqa: E402
    interpurchase_times,
    monthly_activity,
    orders_per_customer,
    revenue_concentration,
)
from clm_lib.plotting.overview import (  # noqa: E402
    plot_interpurchase_times,
    plot_monthly_activity,
    plot_monthly_revenue,
    plot_orders_per_customer,
    plot_revenue_concentration,
)


@pytest.fixture
def tx() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": pd.array(["a", "a", "a", "b", "c", "c"], dtype="string"),
        "timestamp": pd.to_datetime(["2020-01-01", "2020-01-20", "2020-03-02",
                                     "2020-01-05", "2020-02-03", "2020-02-13"]),
        "amount": [10.0, 5.0, 20.0, 30.0, 40.0, 10.0],
    })


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_monthly_activity_plot(tx):
    m = monthly_activity(tx)
    ax = plot_monthly_activity(m)
    assert isinstance(ax, Axes)
    assert ax.get_title() == "Customers who ordered, per month"
    assert ax.get_xlabel() == "Calendar month"
    assert ax.get_ylabel() == "Customers (count)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2020-01", "2020-02", "2020-03"]
    # stacked bars: new + returning heights add up to active customers
    heights = np.array([p.get_height() for p in ax.patches]).reshape(2, -1).sum(axis=0)
    assert heights.tolist() == m["active_customers"].tolist()


def test_monthly_revenue_plot_on_given_axes(tx):
    m = monthly_activity(tx)
    _, given = plt.subplots()
    ax = plot_monthly_revenue(m, ax=given, currency="€")
    assert ax is given
    assert ax.get_title() == "Revenue per month"
    assert ax.get_ylabel() == "Revenue (€)"
    heights = np.array([p.get_height() for p in ax.patches]).reshape(2, -1).sum(axis=0)
    assert heights.tolist() == pytest.approx(m["revenue"].tolist())


def test_orders_per_customer_plot(tx):
    d = orders_per_customer(tx, cap=3)
    ax = plot_orders_per_customer(d)
    assert ax.get_title() == "How many orders each customer placed"
    assert ax.get_xlabel() == "Orders per customer (count)"
    assert ax.get_ylabel() == "Customers (% of all customers)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3+"]
    assert [p.get_height() for p in ax.patches] == pytest.approx([100 / 3, 100 / 3, 100 / 3])


def test_interpurchase_plot(tx):
    ax = plot_interpurchase_times(interpurchase_times(tx))
    assert ax.get_title() == "Time between purchases (customers who came back)"
    assert ax.get_xlabel() == "Days between consecutive purchase days"
    assert ax.get_ylabel() == "Repeat purchases (count per 1 day)"
    assert sum(p.get_height() for p in ax.patches) == 3  # gaps 19, 42, 10
    assert "median: 19 days" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_interpurchase_plot_empty_series():
    ax = plot_interpurchase_times(pd.Series([], dtype="int64"))
    assert ax.get_xlabel() == "Days between consecutive purchase days"


def test_revenue_concentration_plot(tx):
    rc = revenue_concentration(tx)
    ax = plot_revenue_concentration(rc)
    assert ax.get_title() == "How concentrated revenue is"
    assert ax.get_xlabel() == "Customers, biggest spenders first (cumulative % of customers)"
    assert ax.get_ylabel() == "Revenue (cumulative % of total)"
    line = ax.get_lines()[0]
    assert line.get_ydata()[-1] == pytest.approx(100.0)
    ax2 = plot_revenue_concentration(rc.curve)
    assert isinstance(ax2, Axes)


def test_plots_check_columns(tx):
    with pytest.raises(MissingColumnsError):
        plot_monthly_activity(pd.DataFrame({"period": ["2020-01"]}))
    with pytest.raises(MissingColumnsError):
        plot_orders_per_customer(pd.DataFrame({"orders": ["1"]}))
