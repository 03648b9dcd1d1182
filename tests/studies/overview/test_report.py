"""The overview report: wording, display tables, metrics and exports from the result of
hand-built logs, and the notebook end to end on the bundled data."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from clm_lib.exceptions import ParameterError
from clm_lib.studies.overview import report
from clm_lib.studies.overview.compute import overview_study
from clm_lib.studies.overview.report import (
    export_frames,
    format_money,
    format_share,
    key_figures,
    monthly_caption,
    monthly_table,
    overview_metrics,
    segment_caption,
    segment_table,
    summary_lines,
)


def test_formatting():
    assert format_money(2_500_315.63) == "$2.50 M"
    assert format_money(393_155.0) == "$393.2 k"
    assert format_money(35.9349) == "$35.93"
    assert format_money(1234.5, "€") == "€1,234.50"
    assert format_money(float("nan")) == "n/a"
    assert format_share(0.5052) == "51 %"
    assert format_share(0.5052, 1) == "50.5 %"


def test_summary_lines_use_computed_numbers(tx):
    lines = summary_lines(overview_study(tx), currency="€")
    text = " ".join(lines)
    assert lines[0] == ("4 customers placed 8 orders worth €150.00 between January 2020 "
                        "and March 2020.")
    assert lines[1] == ("50 % of customers bought only once; the top 10 % of customers "
                        "brought 33 % of revenue.")
    assert "€21.43" in text            # average order value 150 / 7
    assert "consecutive purchase days was 10 days" in text
    assert "frequent buyers weigh more" in text   # the median is over gaps, not customers
    assert "mean 17 days" in text
    assert "New customers arrived in every month; the most (2) in Jan 2020." in lines
    assert ("Revenue peaked at €70.00 in Feb 2020 and was €35.00 in Mar 2020, the last "
            "month observed.") in lines
    assert "$" not in text


def test_summary_lines_single_acquisition_window(tx, make_tx):
    # only a, b, c: new customers in Jan and Feb; add a March order from a returning buyer
    t = pd.concat([tx[tx["customer_id"] != "d"], make_tx([("b", "2020-03-15", 12.0)])],
                  ignore_index=True)
    lines = summary_lines(overview_study(t))
    assert any(line.startswith("New customers were acquired only in Jan–Feb 2020; all later")
               for line in lines)


def test_summary_lines_without_repeat_days(make_tx):
    t = make_tx([("a", "2020-01-01", 1.0), ("b", "2020-01-02", 3.0)])
    lines = summary_lines(overview_study(t))
    assert lines[0].startswith("2 customers placed 2 orders worth $4.00")
    assert lines[1].startswith("100 % of customers bought only once")
    assert "no customer bought on two different days" in lines[2]


def test_summary_lines_name_periods_other_than_months(tx):
    lines = summary_lines(overview_study(tx, period="quarter"))
    assert "New customers arrived in every period; the most (4) in 2020Q1." in lines
    assert lines[-1].endswith("in 2020Q1, the last period observed.")


def test_key_figures_table(tx):
    kf = key_figures(overview_study(tx)).set_index("Measure")["Value"]
    assert kf["Customers"] == "4"
    assert kf["Orders"] == "8"
    assert kf["Revenue"] == "$150.00"
    assert kf["Orders with zero amount"] == "1"
    assert kf["One-time buyers (share of customers)"] == "50.0 %"
    assert kf["Time between purchases, median"] == "10 days"
    assert kf["Time between purchases, mean"] == "17 days"


def test_monthly_table_formats_for_display(tx, make_tx):
    t = monthly_table(overview_study(tx), currency="€")
    assert t.columns.tolist() == ["Month", "New customers", "Active customers", "Orders",
                                  "Revenue (€)", "from new (€)", "from returning (€)"]
    assert t.iloc[1].tolist() == ["2020-02", "1", "2", "3", "70", "50", "20"]
    big = overview_study(make_tx([("a", "2020-01-01", 1234567.4)]))
    assert monthly_table(big).iloc[0]["Revenue ($)"] == "1,234,567"
    assert monthly_table(overview_study(tx, period="quarter")).columns[0] == "Period"
    assert monthly_caption("€").startswith(
        "Customers, orders and revenue per calendar month (revenue in €, split")


def test_segment_table_and_caption(tx):
    r = overview_study(tx, segment="channel")
    shown = segment_table(r, currency="€")
    assert shown.columns.tolist() == ["Segment", "Customers", "Orders", "Revenue",
                                      "Share of revenue", "Average order value"]
    assert shown.iloc[0].tolist() == ["web", "2", "5", "€65.00", "43.3 %", "€16.25"]
    assert shown["Segment"].tolist() == ["web", "shop", "(missing)"]
    assert segment_caption(r) == "Customers and revenue by channel"
    with pytest.raises(ParameterError):
        segment_table(overview_study(tx))


def test_overview_metrics_json_ready(tx):
    out = overview_metrics(overview_study(tx), currency="€")
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
    assert "data_quality" not in out  # a frame passed in as loaded has no record
    json.dumps(out)  # serialisable as is


def test_metrics_carry_the_data_quality_of_a_loaded_path(tmp_path):
    src = tmp_path / "orders.csv"
    pd.DataFrame({"customer_id": ["1", "2", "2"], "timestamp": ["2021-01-04"] * 3,
                  "amount": ["5", "-1", "7"]}).to_csv(src, index=False)
    out = overview_metrics(overview_study(str(src)))
    dq = out["data_quality"]
    assert dq["rows_in"] == 3 and dq["rows_used"] == 2  # the negative amount is dropped
    assert sum(dq["dropped"].values()) == 1


def test_export_frames(tx):
    r = overview_study(tx, cap=3)
    ex = export_frames(r)
    assert list(ex) == ["monthly_activity", "orders_per_customer"]
    assert ex["monthly_activity"].columns.tolist() == [
        "period", "period_start", "new_customers", "active_customers", "orders", "revenue",
        "revenue_new", "revenue_returning"]
    assert ex["orders_per_customer"]["customers"].tolist() == [2, 1, 1]


def test_show_segments_displays_table_or_note(tx, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    report.show_segments(overview_study(tx))
    report.show_segments(overview_study(tx, segment="channel"))
    assert shown[0].data == report.NO_SEGMENT_NOTE
    assert "Customers and revenue by channel" in shown[1].data
    assert "web" in shown[1].data


# ----------------------------------------------------------------- the notebook, end to end
NOTEBOOK = "00_overview.ipynb"


def _outputs_text(folder) -> tuple:
    import nbformat

    nb = nbformat.read(folder.parent / "run.ipynb", as_version=4)
    text = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            text.append(str(data.get("text/html", "")) + str(data.get("text/markdown", "")))
    return nb, "\n".join(text)


@pytest.mark.slow
def test_notebook_on_cdnow_master(run_notebook):
    out_dir = run_notebook(NOTEBOOK)
    nb, html_text = _outputs_text(out_dir)
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
    assert report.NO_SEGMENT_NOTE in html_text
    # the first cell is the report title; the first code cell is tagged parameters
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", [])
    assert 'engine = "duckdb"' in first_code.source


@pytest.mark.slow
def test_notebook_with_segment_and_own_columns(run_notebook, tmp_path):
    src = tmp_path / "shop.csv"
    pd.DataFrame({
        "client": ["007", "007", "012", "031"],
        "day": ["03/01/2021", "20/02/2021", "05/01/2021", "09/03/2021"],
        "value": [10.0, 20.0, 5.5, 7.25],
        "channel": ["web", "shop", "web", "web"],
    }).to_csv(src, index=False)
    out_dir = run_notebook(
        NOTEBOOK, transactions=str(src),
        columns={"client": "customer_id", "day": "timestamp", "value": "amount"},
        as_of="2021-03-31", date_format="%d/%m/%Y", currency="€", segment="channel")
    _, html_text = _outputs_text(out_dir)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["customers"] == 3 and metrics["orders"] == 4
    assert metrics["headline"]["Revenue"] == "€42.75"
    assert "Customers and revenue by channel" in html_text
    assert ">007<" not in html_text and "012" not in html_text  # no raw customer ids
