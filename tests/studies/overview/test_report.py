"""The overview report: wording, display tables, metrics and exports from the result of
hand-built logs, and the notebook end to end on the bundled data."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from clm_lib import format as fmt
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
)


def test_formatting():
    assert format_money(2_500_315.63) == "$2.50 M"
    assert format_money(393_155.0) == "$393.2 k"
    assert format_money(35.9349) == "$35.93"
    assert format_money(1234.5, "€") == "€1,234.50"
    assert format_money(float("nan")) == "n/a"
    assert format_share(0.5052) == "51 %"
    assert format_share(0.5052, 1) == "50.5 %"


def test_decision_findings_use_computed_numbers(tx):
    d = report.decision(overview_study(tx), currency="€")
    assert d.findings[0] == ("4 customers placed 8 orders worth €150.00 between January 2020 "
                             "and March 2020.")
    assert d.findings[1] == ("50 % of customers (2) bought only once; the top 10 % of "
                             "customers (1) brought 33 % of revenue.")
    assert "New customers arrived in every month; the most (2) in Jan 2020." in d.findings
    assert ("Revenue peaked at €70.00 in Feb 2020 and was €35.00 in Mar 2020, the last "
            "month observed.") in d.findings
    assert 3 <= len(d.findings) <= 4
    assert "$" not in " ".join(d.findings + d.actions)


def test_decision_actions_carry_the_value_at_stake(tx):
    d = report.decision(overview_study(tx), currency="€")
    # two one-time buyers x average order value 150 / 7 = 42.86
    assert d.actions[0].startswith("Look at second purchases first: 50 % of customers (2) "
                                   "never bought again; one more order from each is worth "
                                   "about €42.86 at the average order value of €21.43")
    assert "cohort retention and lifecycle reports" in d.actions[0]
    # the top 10 % is one customer (c, 50 of 150)
    assert d.actions[1].startswith("Protect the top 10 % (1 customer): they brought €50.00 "
                                   "(33 % of revenue)")
    # February is the last full month (the data end on 1 March): c was new, 40 + 10
    assert d.actions[2].startswith("Check acquisition: 1 new customer in Feb 2020, the last "
                                   "full month, brought €50.00")


def test_decision_confidence_source_and_as_of(tx, tmp_path):
    d = report.decision(overview_study(tx))
    assert d.confidence.startswith("Exact: counts and sums over all 8 orders in the data")
    assert ("The last month, Mar 2020, is only observed to 2020-03-01: it is not comparable "
            "with full months yet.") in d.confidence
    assert d.source == "the data given" and d.as_of == "2020-03-01 (the last date in the data)"
    assert report.decision(overview_study(tx), source="/data/in/log.csv").source == "log.csv"
    src = tmp_path / "orders.csv"
    pd.DataFrame({"customer_id": ["1", "2", "2"], "timestamp": ["2021-01-04"] * 3,
                  "amount": ["5", "-1", "7"]}).to_csv(src, index=False)
    d = report.decision(overview_study(str(src), as_of="2021-01-31"))
    assert d.source == "orders.csv" and d.as_of == "2021-01-31 (as given)"
    assert "1 of 3 input rows (33.3 %) were dropped while loading" in d.confidence
    assert "The last month, Jan 2021, is observed to its end." in d.confidence


def test_gap_note(tx, make_tx):
    text = report.gap_note(overview_study(tx))
    assert "consecutive purchase days was 10 days (mean 17 days)" in text
    assert "frequent buyers weigh more" in text   # the median is over gaps, not customers
    lonely = overview_study(make_tx([("a", "2020-01-01", 1.0), ("b", "2020-01-02", 3.0)]))
    assert report.gap_note(lonely).startswith("No customer bought on two different days")


def test_decision_single_acquisition_window(tx, make_tx):
    # only a, b, c: new customers in Jan and Feb; add a March order from a returning buyer
    t = pd.concat([tx[tx["customer_id"] != "d"], make_tx([("b", "2020-03-15", 12.0)])],
                  ignore_index=True)
    d = report.decision(overview_study(t))
    assert any(line.startswith("New customers were acquired only in Jan–Feb 2020; all later")
               for line in d.findings)
    assert d.actions[-1].startswith(
        "Do not read the later months as an acquisition trend: no customer was new after "
        "Feb 2020, so the 12.00 of Mar 2020 all came from customers acquired by then")


def test_decision_without_repeat_customers(make_tx):
    t = make_tx([("a", "2020-01-01", 1.0), ("b", "2020-01-02", 3.0)])
    d = report.decision(overview_study(t), currency="$")
    assert d.findings[0] == "2 customers placed 2 orders worth $4.00 in January 2020."
    assert d.findings[1].startswith("100 % of customers (2) bought only once")


def test_decision_names_periods_other_than_months(tx):
    d = report.decision(overview_study(tx, period="quarter"))
    assert "New customers arrived in every period; the most (4) in 2020Q1." in d.findings
    assert d.findings[-1].endswith("in 2020Q1, the last period observed.")


def test_lifecycle_figures_by_hand(tx):
    figs = report.lifecycle(overview_study(tx))
    assert [f["stage"] for f in figs] == ["acquisition", "acquisition", "conversion",
                                          "retention"]
    assert figs[0]["value"] == "4" and "2020-01-01 to 2020-03-01" in figs[0]["detail"]
    # February is the last full month: one new customer (c)
    assert figs[1]["label"] == "New customers in Feb 2020" and figs[1]["value"] == "1"
    assert figs[2]["label"] == "Second-purchase rate" and figs[2]["value"] == "50.0 %"
    # a of a and b (acquired in January) ordered in February
    assert figs[3]["value"] == "50.0 %"
    assert figs[3]["detail"] == ("1 of the 2 customers acquired before Feb 2020 ordered in "
                                 "that month")


def test_lifecycle_without_a_full_period(make_tx):
    # the data end mid-month: no month is complete, so no last-month figures
    figs = report.lifecycle(overview_study(make_tx([("a", "2020-01-01", 1.0),
                                                    ("a", "2020-01-09", 2.0)])))
    assert [f["stage"] for f in figs] == ["acquisition", "conversion"]
    assert figs[1]["value"] == "100.0 %"


def test_alt_texts_state_the_main_message(tx):
    r = overview_study(tx)
    assert report.activity_alt(r) == (
        "Stacked bars of the customers who ordered per month, new and returning, Jan 2020 "
        "to Mar 2020; the most active customers (2) in Jan 2020, 1 in the last month, of "
        "whom 1 new.")
    assert "the peak, €70.00, in Feb 2020" in report.revenue_alt(r, currency="€")
    assert report.orders_alt(r).startswith("Bar chart of the share of customers by number "
                                           "of orders: 50 % placed one order")
    assert "the median gap (dashed line) is 10 days" in report.gaps_alt(r)
    assert "top 10 % of customers brought 33 % of revenue" in report.concentration_alt(r)


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
                                  "Revenue", "from new", "from returning"]
    assert t.iloc[1].tolist() == ["2020-02", "1", "2", "3", "€70", "€50", "€20"]
    big = overview_study(make_tx([("a", "2020-01-01", 1234567.4)]))
    assert monthly_table(big).iloc[0]["Revenue"] == "$1,234,567"
    assert monthly_table(big, currency=None).iloc[0]["Revenue"] == "1,234,567"
    assert monthly_table(overview_study(tx, period="quarter")).columns[0] == "Period"
    assert monthly_caption("€").startswith(
        "Customers, orders and revenue per calendar month (revenue in €, split")


def test_show_monthly_sorts_by_the_numbers(tx, make_tx, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj.data))
    report.show_monthly(overview_study(make_tx([("a", "2020-01-01", 1234.5),
                                                ("b", "2020-02-01", 70.0)])), currency="€")
    html = shown[0]
    # the cell reads "€1,234" but sorts by 1234.5, so €70 sorts below it
    assert "data-order='1234.5'>€1,234</td>" in html
    assert "data-order='70.0'>€70</td>" in html
    assert "<th scope='col'>Revenue</th>" in html


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


def _assert_figures_match(metrics):
    """The figures are the headline's numbers: the metrics values they come from, with
    the kinds and good directions the run's alerts and comparisons read."""
    figs = metrics["figures"]
    assert set(figs) == {"customers", "revenue", "one_time_buyer_share", "top10_revenue_share"}
    for key, fig in figs.items():
        assert fig["value"] == pytest.approx(metrics[key]), key
        assert fig["churn"] is False
    assert [figs[k]["kind"] for k in figs] == ["count", "money", "percent", "percent"]
    assert [figs[k]["good"] for k in figs] == ["up", "up", "down", None]
    assert metrics["headline"]["Customers"] == f"{int(figs['customers']['value']):,}"
    assert metrics["headline"]["One-time buyers"] == format_share(
        figs["one_time_buyer_share"]["value"])


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
    _assert_figures_match(out)
    assert out["figures"]["revenue"]["label"] == "Revenue, €"
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


def test_show_segments_displays_table_or_leaves_the_section_out(tx, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display",
                        lambda obj, **kw: shown.append((obj, kw.get("metadata"))))
    report.show_segments(overview_study(tx))
    report.show_segments(overview_study(tx, segment="channel"))
    (omitted, meta), (table, _) = shown
    # no note telling the reader to set a parameter: the page builder drops the section
    assert meta == {"clm": {"role": "omit", "reason": report.NO_SEGMENT_REASON}}
    assert "Customers and revenue by channel" in table.data
    assert "<td>web</td>" in table.data and "€" not in table.data


def test_overview_metrics_carry_decision_and_lifecycle(tx):
    out = overview_metrics(overview_study(tx), currency="€", source="/x/log.csv")
    assert out["decision"] == report.decision(overview_study(tx), currency="€",
                                              source="log.csv").to_dict()
    assert set(out["decision"]) == {"findings", "actions", "confidence", "source", "as_of"}
    assert out["decision"]["source"] == "log.csv"
    assert out["lifecycle"] == report.lifecycle(overview_study(tx))
    json.dumps(out)


def test_exports_are_documented_and_rounded(tx, make_tx, tmp_path):
    r = overview_study(tx, cap=3)
    columns = report.export_columns(r, currency="€")
    for name, frame in export_frames(r).items():
        assert list(columns[name]) == frame.columns.tolist()   # every column documented
    report.save_exports(r, tmp_path, currency="€")
    monthly = pd.read_csv(tmp_path / "exports" / "monthly_activity.csv")
    assert monthly["revenue_returning"].tolist() == [0.0, 20.0, 0.0]
    assert monthly["new_customers"].tolist() == [2, 1, 1]
    assert monthly.columns.tolist() == list(columns["monthly_activity"])
    thirds = overview_study(make_tx([("a", "2020-01-01", 1.0), ("b", "2020-01-02", 1.0),
                                     ("b", "2020-01-03", 1.0), ("c", "2020-01-04", 1.0)]), cap=2)
    report.save_exports(thirds, tmp_path / "b")
    opc = pd.read_csv(tmp_path / "b" / "exports" / "orders_per_customer.csv",
                      dtype={"orders": str})
    assert opc["orders"].tolist() == ["1", "2+"]
    assert opc["share"].tolist() == [0.6667, 0.3333]     # shares to 4 decimals, no float noise
    dic = pd.read_csv(tmp_path / "exports" / "data_dictionary.csv")
    assert len(dic) == sum(len(c) for c in columns.values())
    rev = dic[(dic["export"] == "monthly_activity.csv") & (dic["column"] == "revenue")].iloc[0]
    assert rev["unit"] == "€" and rev["type"] == "number"
    assert report.save_exports(r, None) is None      # interactive use writes nothing


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
    _assert_figures_match(metrics)
    assert metrics["figures"]["customers"]["value"] == 23570
    dq = metrics["data_quality"]
    assert dq["rows_in"] == dq["rows_used"] + sum(dq["dropped"].values()) == 69659
    assert (out_dir / "exports" / "monthly_activity.csv").exists()
    assert (out_dir / "exports" / "orders_per_customer.csv").exists()
    assert "23,570 customers placed 69,659 orders" in html_text
    assert report.NO_SEGMENT_REASON in html_text   # left out, with the reason, not a note
    # the decision box is the first output after the introduction
    first = next(o for c in nb.cells for o in c.get("outputs", []))
    assert first["metadata"]["clm"]["role"] == "decision"
    assert metrics["decision"]["source"] == "cdnow_master.csv"
    assert metrics["decision"]["as_of"] == "1998-06-30 (as given)"
    assert [f["stage"] for f in metrics["lifecycle"]] == [
        "acquisition", "acquisition", "conversion", "retention"]
    assert metrics["lifecycle"][2]["value"] == fmt.percent(metrics["repeat_customer_share"])
    # the main chart is interactive; every figure has alt text from the results
    roles = [o.get("metadata", {}).get("clm", {}).get("role") for c in nb.cells
             for o in c.get("outputs", [])]
    assert roles.count("chart") == 1 and roles.count("figure") == 4
    assert "<img src='data:image/png" not in html_text           # vector figures
    share = fmt.percent(metrics["one_time_buyer_share"], 0)
    assert f"alt='Bar chart of the share of customers by number of orders: {share}" in html_text.replace("\xa0", " ")
    dictionary = pd.read_csv(out_dir / "exports" / "data_dictionary.csv")
    assert set(dictionary["export"]) == {"monthly_activity.csv", "orders_per_customer.csv"}
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


#: Values that would run script in the report if data reached it as markup.
HOSTILE = ["<img src=x onerror=alert(1)>", '"><svg onload=alert(2)>',
           "[click](javascript:alert(3))"]


@pytest.mark.slow
def test_notebook_renders_hostile_data_as_text(run_notebook, tmp_path):
    import nbformat

    from clm_lib.run.html import report_page

    folder = tmp_path / "in"
    folder.mkdir()
    src = folder / f"{HOSTILE[0]}.csv"          # the file name reaches the decision box
    id_col, seg_col = HOSTILE[1], HOSTILE[0]    # column names given through `columns`
    pd.DataFrame({
        id_col: ["1", "1", "2", "3", "3", "4"],
        "day": ["2021-01-03", "2021-02-20", "2021-01-05", "2021-03-09", "2021-03-19",
                "2021-02-01"],
        "value": [10.0, 20.0, 5.5, 7.25, 3.0, 1.0],
        seg_col: HOSTILE + HOSTILE[::-1],
    }).to_csv(src, index=False)
    params = {"transactions": str(src), "segment": seg_col, "currency": "€",
              "as_of": "2021-03-31",
              "columns": {id_col: "customer_id", "day": "timestamp", "value": "amount"}}
    out_dir = run_notebook(NOTEBOOK, **params)
    nb = nbformat.read(out_dir.parent / "run.ipynb", as_version=4)
    page = report_page(nb, title="overview", study="overview",
                       run_date="2026-01-01T00:00:00Z", parameters=params)
    # the run used the hostile values: they are in the page, escaped
    assert "Customers and revenue by &lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;.csv" in page
    assert "[click](javascript:alert(3))" in page
    for live in ("<img src=x", "<svg onload", "href=\"javascript:", "href='javascript:"):
        assert live not in page
