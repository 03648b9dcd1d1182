"""Customer-base overview: every figure checked against answers computed by hand."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import InsufficientDataError, MissingColumnsError
from clm_lib.studies.overview.compute import (
    customer_base_summary,
    format_money,
    format_share,
    interpurchase_times,
    key_figures,
    monthly_activity,
    monthly_table,
    orders_per_customer,
    overview_metrics,
    revenue_concentration,
    segment_summary,
    segment_table,
    summary_lines,
)


def make_tx(rows, **extra) -> pd.DataFrame:
    cid, ts, amt = zip(*rows)
    df = pd.DataFrame({"customer_id": pd.array(cid, dtype="string"),
                       "timestamp": pd.to_datetime(list(ts)),
                       "amount": np.asarray(amt, dtype=float)})
    for k, v in extra.items():
        df[k] = v
    return df


@pytest.fixture
def tx() -> pd.DataFrame:
    # a: two orders on 1 Jan (same-day repeat), a free item on 11 Jan, 20 on 10 Feb
    # b: one order; c: two orders in Feb; d: one order in March.
    return make_tx([
        ("a", "2020-01-01", 10.0),
        ("a", "2020-01-01", 5.0),
        ("a", "2020-01-11", 0.0),
        ("a", "2020-02-10", 20.0),
        ("b", "2020-01-05", 30.0),
        ("c", "2020-02-03", 40.0),
        ("c", "2020-02-13", 10.0),
        ("d", "2020-03-01", 35.0),
    ], channel=["web", "web", "web", "shop", "shop", "web", "web", None])


# ----------------------------------------------------------------- customer_base_summary
def test_summary_by_hand(tx):
    s = customer_base_summary(tx)
    assert s["customers"] == 4
    assert s["orders"] == 8  # the same-day repeat and the free item are orders
    assert s["revenue"] == pytest.approx(150.0)
    assert s["first_date"] == pd.Timestamp("2020-01-01")
    assert s["last_date"] == pd.Timestamp("2020-03-01")
    # zero-amount order is not a spend observation: 150 / 7 paid orders
    assert s["average_order_value"] == pytest.approx(150 / 7)
    assert s["zero_amount_orders"] == 1
    assert s["orders_per_customer"] == pytest.approx(2.0)
    assert s["one_time_buyer_share"] == pytest.approx(0.5)  # b and d
    assert s["repeat_customer_share"] == pytest.approx(0.5)
    # revenues a 35, b 30, c 50, d 35; top ceil(0.4) = 1 customer: c
    assert s["top10_revenue_share"] == pytest.approx(50 / 150)
    # gaps: a 10, 30 (same-day repeat adds none); c 10
    assert s["median_days_between_purchases"] == pytest.approx(10.0)
    assert s["mean_days_between_purchases"] == pytest.approx(50 / 3)


def test_summary_does_not_mutate_input(tx):
    before = tx.copy()
    customer_base_summary(tx)
    pd.testing.assert_frame_equal(tx, before)


def test_identical_rows_are_two_orders_but_no_gap():
    t = make_tx([("a", "2020-01-01", 10.0), ("a", "2020-01-01", 10.0),
                 ("b", "2020-01-02", 5.0)])
    s = customer_base_summary(t)
    assert s["orders"] == 3
    assert s["one_time_buyer_share"] == pytest.approx(0.5)  # a is a repeat customer
    assert math.isnan(s["median_days_between_purchases"])  # nobody came back another day
    assert len(interpurchase_times(t)) == 0


def test_order_id_groups_rows_per_customer():
    t = make_tx([("x", "2020-01-01", 10.0), ("x", "2020-01-01", 5.0),
                 ("x", "2020-01-03", 7.0), ("y", "2020-01-02", 3.0),
                 ("y", "2020-01-04", 4.0)],
                order_id=["o1", "o1", "o2", "o1", None])
    s = customer_base_summary(t)
    # x: o1 (15) and o2 (7); y: o1 (3) and one row without an id (an order of its own)
    assert s["orders"] == 4
    assert s["revenue"] == pytest.approx(29.0)
    assert s["average_order_value"] == pytest.approx(29 / 4)
    assert s["one_time_buyer_share"] == 0.0
    assert interpurchase_times(t).to_dict() == {2: 2}  # two gaps of 2 days


def test_top10_share_with_ties_is_deterministic():
    # 11 customers with equal revenue: top ceil(1.1) = 2 customers -> 2/11 whatever the order
    rows = [(f"c{i:02d}", "2020-01-01", 5.0) for i in range(11)]
    t1 = make_tx(rows)
    t2 = make_tx(rows[::-1])
    s1, s2 = customer_base_summary(t1), customer_base_summary(t2)
    assert s1["top10_revenue_share"] == pytest.approx(2 / 11)
    assert s1["top10_revenue_share"] == s2["top10_revenue_share"]
    # 20 customers: one big (100), then ties at 10 -> top 2 = 100 + 10 of 290
    rows = [("big", "2020-01-01", 100.0)] + [(f"t{i:02d}", "2020-01-01", 10.0)
                                             for i in range(19)]
    assert customer_base_summary(make_tx(rows))["top10_revenue_share"] == \
        pytest.approx(110 / 290)


def test_missing_columns_named(tx):
    with pytest.raises(MissingColumnsError) as err:
        customer_base_summary(tx.drop(columns="amount"))
    assert err.value.missing == ["amount"]
    assert "customer_id" in err.value.found
    for fn in (monthly_activity, orders_per_customer, interpurchase_times,
               revenue_concentration):
        with pytest.raises(MissingColumnsError):
            fn(tx.drop(columns="timestamp"))


def test_empty_frame_is_insufficient(tx):
    with pytest.raises(InsufficientDataError):
        customer_base_summary(tx.iloc[:0])
    with pytest.raises(InsufficientDataError):
        revenue_concentration(tx.iloc[:0])


# ----------------------------------------------------------------- monthly_activity
def test_monthly_activity_by_hand(tx):
    m = monthly_activity(tx)
    assert m["period"].tolist() == ["2020-01", "2020-02", "2020-03"]
    assert m["period_start"].tolist() == list(pd.to_datetime(
        ["2020-01-01", "2020-02-01", "2020-03-01"]))
    assert m["new_customers"].tolist() == [2, 1, 1]       # a, b | c | d
    assert m["active_customers"].tolist() == [2, 2, 1]    # a, b | a, c | d
    assert m["orders"].tolist() == [4, 3, 1]
    assert m["revenue"].tolist() == pytest.approx([45.0, 70.0, 35.0])
    assert m["revenue_new"].tolist() == pytest.approx([45.0, 50.0, 35.0])
    assert m["revenue_returning"].tolist() == pytest.approx([0.0, 20.0, 0.0])


def test_monthly_activity_fills_empty_months(tx):
    t = pd.concat([tx, make_tx([("e", "2020-05-20", 8.0)])], ignore_index=True)
    m = monthly_activity(t)
    assert m["period"].tolist() == ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05"]
    apr = m.iloc[3]
    assert (apr["orders"], apr["new_customers"], apr["active_customers"]) == (0, 0, 0)
    assert apr["revenue"] == 0.0
    assert m["orders"].sum() == 9


def test_quarterly_activity(tx):
    m = monthly_activity(tx, freq="Q")
    assert m["period"].tolist() == ["2020Q1"]
    assert m["new_customers"].tolist() == [4]
    assert m["revenue_returning"].tolist() == [0.0]


# ----------------------------------------------------------------- orders_per_customer
def test_orders_per_customer_by_hand(tx):
    d = orders_per_customer(tx, cap=3)
    assert d["orders"].tolist() == ["1", "2", "3+"]
    assert d["customers"].tolist() == [2, 1, 1]   # b, d | c | a (4 orders)
    assert d["share"].tolist() == pytest.approx([0.5, 0.25, 0.25])


def test_orders_per_customer_default_cap_keeps_empty_classes(tx):
    d = orders_per_customer(tx)
    assert d["orders"].tolist() == [str(i) for i in range(1, 10)] + ["10+"]
    assert d["customers"].sum() == 4
    assert d.set_index("orders").loc["4", "customers"] == 1
    assert d.set_index("orders").loc["10+", "customers"] == 0
    with pytest.raises(ValueError):
        orders_per_customer(tx, cap=1)


# ----------------------------------------------------------------- interpurchase_times
def test_interpurchase_times_by_hand(tx):
    g = interpurchase_times(tx)  # gaps of 10 and 30 days (a) and 10 days (c)
    assert g.name == "gaps" and g.index.name == "days_between_purchases"
    assert g.to_dict() == {10: 2, 30: 1}


def test_interpurchase_times_truncate_to_day():
    t = make_tx([("a", "2020-01-01 23:00", 1.0), ("a", "2020-01-02 01:00", 1.0),
                 ("a", "2020-01-02 22:00", 1.0)])
    assert interpurchase_times(t).to_dict() == {1: 1}


# ----------------------------------------------------------------- revenue_concentration
def test_revenue_concentration_by_hand(tx):
    rc = revenue_concentration(tx)
    assert rc.customers == 4
    assert rc.curve["customer_share"].tolist() == pytest.approx([0, .25, .5, .75, 1])
    assert rc.curve["revenue_share"].tolist() == pytest.approx(
        [0, 50 / 150, 85 / 150, 120 / 150, 1])
    assert rc.top10_share == pytest.approx(50 / 150)
    # mean absolute difference: sum over ordered pairs 120 / (2 * 16 * 37.5) = 0.1
    assert rc.gini == pytest.approx(0.1)


def test_revenue_concentration_equal_spend_and_thinning():
    t = make_tx([(f"c{i:04d}", "2020-01-01", 2.0) for i in range(5000)])
    rc = revenue_concentration(t, max_points=101)
    assert len(rc.curve) <= 101
    assert rc.curve.iloc[0].tolist() == [0.0, 0.0]
    assert rc.curve.iloc[-1].tolist() == pytest.approx([1.0, 1.0])
    assert rc.gini == pytest.approx(0.0, abs=1e-12)
    assert rc.top10_share == pytest.approx(0.1)


# ----------------------------------------------------------------- segment_summary
def test_segment_summary_by_hand(tx):
    seg = segment_summary(tx, "channel").set_index("segment")
    # web: a 10+5+0, c 40+10 -> 65, orders 5 (4 paid); shop: a 20, b 30 -> 50; missing: d 35
    assert seg.index.tolist() == ["web", "shop", "(missing)"]
    assert seg["customers"].tolist() == [2, 2, 1]
    assert seg["orders"].tolist() == [5, 2, 1]
    assert seg["revenue"].tolist() == pytest.approx([65, 50, 35])
    assert seg["revenue_share"].tolist() == pytest.approx([65 / 150, 50 / 150, 35 / 150])
    assert seg.loc["web", "average_order_value"] == pytest.approx(65 / 4)
    with pytest.raises(MissingColumnsError):
        segment_summary(tx, "country")
    shown = segment_table(segment_summary(tx, "channel"), currency="€")
    assert shown.iloc[0].tolist() == ["web", "2", "5", "€65.00", "43.3 %", "€16.25"]


# ----------------------------------------------------------------- wording
def test_formatting():
    assert format_money(2_500_315.63) == "$2.50 M"
    assert format_money(393_155.0) == "$393.2 k"
    assert format_money(35.9349) == "$35.93"
    assert format_money(1234.5, "€") == "€1,234.50"
    assert format_money(float("nan")) == "n/a"
    assert format_share(0.5052) == "51 %"
    assert format_share(0.5052, 1) == "50.5 %"


def test_summary_lines_use_computed_numbers(tx):
    s = customer_base_summary(tx)
    lines = summary_lines(s, monthly_activity(tx), currency="€")
    text = " ".join(lines)
    assert lines[0] == ("4 customers placed 8 orders worth €150.00 between January 2020 "
                        "and March 2020.")
    assert lines[1] == ("50 % of customers bought only once; the top 10 % of customers "
                        "brought 33 % of revenue.")
    assert "€21.43" in text            # average order value 150 / 7
    assert "median of 10 days" in text
    assert "mean 17 days" in text
    assert "New customers arrived in every month; the most (2) in Jan 2020." in lines
    assert ("Revenue peaked at €70.00 in Feb 2020 and was €35.00 in Mar 2020, the last "
            "month observed.") in lines
    assert "$" not in text


def test_summary_lines_single_acquisition_window(tx):
    # only a, b, c: new customers in Jan and Feb; add a March order from a returning buyer
    t = pd.concat([tx[tx["customer_id"] != "d"], make_tx([("b", "2020-03-15", 12.0)])],
                  ignore_index=True)
    lines = summary_lines(customer_base_summary(t), monthly_activity(t))
    assert any(line.startswith("New customers were acquired only in Jan–Feb 2020; all later")
               for line in lines)


def test_summary_lines_without_repeat_days():
    t = make_tx([("a", "2020-01-01", 1.0), ("b", "2020-01-02", 3.0)])
    lines = summary_lines(customer_base_summary(t))
    assert lines[0].startswith("2 customers placed 2 orders worth $4.00")
    assert lines[1].startswith("100 % of customers bought only once")
    assert "no customer bought on two different days" in lines[2]


def test_key_figures_table(tx):
    kf = key_figures(customer_base_summary(tx)).set_index("Measure")["Value"]
    assert kf["Customers"] == "4"
    assert kf["Orders"] == "8"
    assert kf["Revenue"] == "$150.00"
    assert kf["One-time buyers (share of customers)"] == "50.0 %"
    assert kf["Time between purchases, median"] == "10 days"


def test_monthly_table_formats_for_display(tx):
    t = monthly_table(monthly_activity(tx), currency="€")
    assert t.columns.tolist() == ["Month", "New customers", "Active customers", "Orders",
                                  "Revenue (€)", "from new (€)", "from returning (€)"]
    assert t.iloc[1].tolist() == ["2020-02", "1", "2", "3", "70", "50", "20"]
    big = monthly_activity(make_tx([("a", "2020-01-01", 1234567.4)]))
    assert monthly_table(big).iloc[0]["Revenue ($)"] == "1,234,567"
    assert monthly_table(monthly_activity(tx, freq="Q")).columns[0] == "Period"


def test_overview_metrics_json_ready(tx):
    s = customer_base_summary(tx)
    m = monthly_activity(tx)
    out = overview_metrics(s, m, revenue_concentration(tx), currency="€")
    assert out["customers"] == 4 and out["orders"] == 8
    assert out["revenue"] == pytest.approx(150.0)
    assert out["one_time_buyer_share"] == pytest.approx(0.5)
    assert out["top10_revenue_share"] == pytest.approx(1 / 3)
    assert out["average_order_value"] == pytest.approx(150 / 7)
    assert out["median_days_between_purchases"] == 10.0
    assert out["gini"] == pytest.approx(0.1)
    assert out["first_date"] == "2020-01-01" and out["last_date"] == "2020-03-01"
    assert out["monthly"][1] == {"period": "2020-02", "period_start": "2020-02-01",
                                 "new_customers": 1, "active_customers": 2, "orders": 3,
                                 "revenue": 70.0, "revenue_new": 50.0,
                                 "revenue_returning": 20.0}
    assert out["headline"] == {"Customers": "4", "Revenue": "€150.00",
                               "One-time buyers": "50 %",
                               "Top 10 % revenue share": "33 %"}
    json.dumps(out)  # serialisable as is


# ----------------------------------------------------------------- the notebook, end to end
NOTEBOOK = "00_overview.ipynb"


def _run_notebook(tmp_path, **parameters):
    import papermill as pm

    from clm_lib.config import NOTEBOOKS_DIR

    out = tmp_path / "executed.ipynb"
    pm.execute_notebook(str(NOTEBOOKS_DIR / NOTEBOOK), str(out), parameters=parameters,
                        cwd=str(NOTEBOOKS_DIR), kernel_name="python3", progress_bar=False)
    import nbformat

    nb = nbformat.read(out, as_version=4)
    text = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            text.append(str(data.get("text/html", "")) + str(data.get("text/markdown", "")))
    return nb, "\n".join(text)


@pytest.mark.slow
def test_notebook_on_cdnow_master(tmp_path):
    out_dir = tmp_path / "overview"
    nb, html_text = _run_notebook(tmp_path, output_dir=str(out_dir))
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["customers"] == 23570
    assert metrics["orders"] == 69659
    assert metrics["revenue"] == pytest.approx(2_500_315.63)
    assert metrics["one_time_buyer_share"] == pytest.approx(11908 / 23570)
    assert 0 < metrics["top10_revenue_share"] < 1
    assert metrics["median_days_between_purchases"] > 0
    assert len(metrics["monthly"]) == 18
    assert sum(m["new_customers"] for m in metrics["monthly"]) == 23570
    assert 3 <= len(metrics["headline"]) <= 4
    dq = metrics["data_quality"]
    assert dq["rows_in"] == dq["rows_used"] + sum(dq["dropped"].values()) == 69659
    assert (out_dir / "exports" / "monthly_activity.csv").exists()
    assert (out_dir / "exports" / "orders_per_customer.csv").exists()
    assert "23,570 customers placed 69,659 orders" in html_text
    # the first cell is the report title; the first code cell is tagged parameters
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", [])


@pytest.mark.slow
def test_notebook_with_segment_and_own_columns(tmp_path):
    src = tmp_path / "shop.csv"
    pd.DataFrame({
        "client": ["007", "007", "012", "031"],
        "day": ["03/01/2021", "20/02/2021", "05/01/2021", "09/03/2021"],
        "value": [10.0, 20.0, 5.5, 7.25],
        "channel": ["web", "shop", "web", "web"],
    }).to_csv(src, index=False)
    out_dir = tmp_path / "overview"
    _, html_text = _run_notebook(
        tmp_path, transactions=str(src), output_dir=str(out_dir),
        columns={"client": "customer_id", "day": "timestamp", "value": "amount"},
        as_of="2021-03-31", date_format="%d/%m/%Y", currency="€", segment="channel")
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["customers"] == 3 and metrics["orders"] == 4
    assert metrics["headline"]["Revenue"] == "€42.75"
    assert "Customers and revenue by channel" in html_text
    assert ">007<" not in html_text and "012" not in html_text  # no raw customer ids
