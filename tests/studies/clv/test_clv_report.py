"""The CLV report layer: captions, display tables, notes, data-quality record, metrics and
exports, read from one study of the CDNOW sample and from a tiny hand-built log."""
import json

import numpy as np
import pandas as pd
import pytest

from clm_lib.config import CDNOW_SAMPLE
from clm_lib.io import DataQuality
from clm_lib.studies.clv import report, tables
from clm_lib.studies.clv.compute import MODELS, clv_study


@pytest.fixture(scope="module")
def study():
    d = pd.read_csv(CDNOW_SAMPLE, dtype={"customer_id": str})
    tx = pd.DataFrame({"customer_id": d["customer_id"].astype("string"),
                       "timestamp": pd.to_datetime(d["date"]), "amount": d["dollars"]})
    return clv_study(tx, calibration_end="1997-09-30", as_of="1998-06-30", n_draws=10, seed=1)


def test_result_is_frozen(study):
    with pytest.raises(AttributeError):
        study.horizon = 10


def test_comparison_table_and_export(study):
    table = report.model_comparison(study)
    assert list(table.index) == ["bgnbd", "pareto_nbd", "mbgnbd"]
    assert list(table.columns) == ["parameters", "log-likelihood", "AIC", "holdout MAE per customer",
                                   "holdout predicted total", "predictive interval low",
                                   "predictive interval high", "holdout actual total",
                                   "aggregate error (%)", "actual inside interval"]
    h = study.holdout["bgnbd"]
    assert table.loc["bgnbd", "aggregate error (%)"] == 100 * h["aggregate_error"]
    assert table.loc["bgnbd", "holdout actual total"] == 1882
    assert table.loc["bgnbd", "parameters"].startswith("r=0.243, alpha=4.41, a=0.793, b=2.43")
    assert [table.loc["bgnbd", "predictive interval low"],
            table.loc["bgnbd", "predictive interval high"]] == h["interval"]
    shown = report.comparison_table(study)
    # report names, the value model marked, no raw keys
    assert list(shown["df"].index) == [("BG/NBD", "Pareto/NBD", "MBG/NBD")[i]
                                       + (" (values customers)" if k == study.value_model else "")
                                       for i, k in enumerate(MODELS)]
    assert set(shown["df"]["inside"]) <= {"yes", "no"}
    assert shown["df"].loc["BG/NBD", "interval"] == f"{h['interval'][0]:,.0f} – {h['interval'][1]:,.0f}"
    exports = report.exports(study)
    assert list(exports) == ["customer_value", "model_comparison", "frequency_fit", "tracking"]
    pd.testing.assert_frame_equal(exports["model_comparison"], table.reset_index())
    assert exports["tracking"].columns[0] == "period"


def test_captions_and_sentences(study):
    c = report.captions(study)
    assert c["comparison"] == ("Model comparison (calibration to 1997-09-30, holdout to 1998-06-30; "
                               "purchases counted as purchase days)")
    assert c["holdout_label"] == "holdout (39 weeks)"          # 273 days
    assert c["p_alive"] == "P(alive) at age 38.9 weeks"        # first purchase 1997-01-02
    assert c["top_customers"].startswith("Top 15 customers by CLV (pseudonymised ids; 90 % predictive intervals")
    assert report.parameters_table(study)["df"].index.tolist() == list(
        study.models[study.value_model].param_names)
    assert report.cond_holdout_table(study)["df"].index[-1] == "7+"
    q = study.clv_quantiles
    assert report.quantiles_sentence(study).startswith(f"CLV quantiles: median ${q['p50']:,.2f}, ")
    assert report.method_sentence(study).startswith("Per-week discount rate used: 0.00268 (from 15.0% a year).")
    assert report.segment_table(study) is None
    for section in ("comparison", "tracking", "cond_holdout", "p_alive", "value"):
        assert report.section_note(study, section) == ""   # every model was fitted


def test_metrics_with_the_data_quality_record(study):
    dq = DataQuality(source="x.csv", rows_in=3, rows_used=3, notes=["a note"])
    m = report.clv_metrics(study, dq)
    assert m["data_quality"]["notes"] == ["a note"] and m["dropped"] == {}
    assert "data_quality" not in report.clv_metrics(study)
    json.dumps(m)


def test_track_record_in_words(study):
    """The forecast carries its model's holdout error in words, and misfit is named when
    the actual total is outside the predictive interval."""
    import dataclasses

    text = report.track_record(study)
    h = study.holdout[study.value_model]
    assert f"by {100 * abs(h['aggregate_error']):.1f} %" in text
    assert ("under-predicted" if h["aggregate_error"] < 0 else "over-predicted") in text
    lo, hi = h["interval"]
    outside = dict(study.holdout, **{study.value_model: dict(h, actual_total=hi * 1.5,
                                                             aggregate_error=-0.4,
                                                             actual_inside=False)})
    worse = dataclasses.replace(study, holdout=outside)
    assert "misfit" in report.track_record(worse) and "misfit" in report.decision(worse).confidence
    assert "allow for more" in report.decision(worse).actions[-1]
    inside = dict(study.holdout, **{study.value_model: dict(h, actual_inside=True)})
    assert "misfit" not in report.track_record(dataclasses.replace(study, holdout=inside))
    assert report.clv_metrics(study)["forecast"]["track_record"]["text"] == text


def test_reduction_exclusions_reach_the_data_quality_notes():
    """A customer whose first purchase is after the calibration end is not part of the
    validated cohort: the record says so, and the loading record itself is not changed."""
    ids = [str(i) for i in range(12)] + ["late"]
    tx = pd.DataFrame({"customer_id": ids * 2,
                       "timestamp": pd.to_datetime(["2020-01-05"] * 12 + ["2020-05-01"]
                                                   + ["2020-02-10"] * 12 + ["2020-06-01"]),
                       "amount": np.arange(26) + 1.0})
    st = clv_study(tx, calibration_end="2020-03-31", as_of="2020-06-30", n_draws=0)
    assert st.dropped["calibration"] == {"customers whose first purchase is after calibration_end": 1}
    assert st.dropped["full"] == {}
    dq = DataQuality(source="tx", rows_in=26, rows_used=26, notes=["loaded"])
    out = report.data_quality(st, dq)
    assert out.notes == ["loaded",
                         "Data observed to 2020-06-30 (as given); models calibrated on purchases "
                         "to 2020-03-31 (as given) and checked on the 13 weeks after it.",
                         "CLV reduction: 1 excluded (calibration: customers whose first "
                         "purchase is after calibration_end)."]
    assert dq.notes == ["loaded"] and out is not dq
    assert report.clv_metrics(st)["dropped"] == {
        "calibration: customers whose first purchase is after calibration_end": 1}


def test_fast_csv_writes_what_to_csv_writes():
    # the fast writer of save_export: byte for byte pandas' to_csv, whatever the floats
    from clm_lib.reporting import _fast_csv, safe_for_spreadsheet

    rng = np.random.default_rng(3)
    n = 2_000
    floats = np.r_[rng.gamma(1.0, 10.0, n - 16), [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-4,
                                                 9.999999999999999e-05, 1e16, 9999999999999998.0,
                                                 5e-324, 1.7976931348623157e308, 1 / 3, 100.0,
                                                 6139926329575202.0, -2.5e-7, 12345.0]]
    df = pd.DataFrame({"customer": pd.array([f"C-{i}" if i % 5 else None for i in range(n)],
                                            dtype="string"),
                       "clv": floats, "wide": 10.0 ** rng.uniform(-300, 300, n),
                       "frequency": rng.integers(0, 40, n), "flag": rng.random(n) > 0.5,
                       "note": np.array(["=risky" if i % 9 == 0 else "ok" for i in range(n)], dtype=object)})
    assert _fast_csv(safe_for_spreadsheet(df)) == safe_for_spreadsheet(df).to_csv(index=False)
    # text the csv module quotes (commas, double quotes, line breaks), written by the fast
    # writer too; carriage returns and formula starts mixed in
    chars = list('ab,"\n\r =+-@\t\'x é')
    text = [None if i % 17 == 0 else "".join(rng.choice(chars, rng.integers(0, 6)))
            for i in range(n)]
    quoted = pd.DataFrame({"a": text, "b": rng.random(n), "c": pd.array(text, dtype="string")})
    text = _fast_csv(safe_for_spreadsheet(quoted))
    assert text is not None and text == safe_for_spreadsheet(quoted).to_csv(index=False)


def test_decision_box_from_the_results(study):
    """Findings, actions with the value at stake and the track record, all computed; the
    numbers formatted (thousands separators, money with its currency, percent)."""
    d = report.decision(study, "/data/in/cdnow_sample.csv", currency="$")
    v = study.values
    f = study.forecast
    assert 3 <= len(d.findings) <= 4 and 2 <= len(d.actions) <= 3
    assert d.findings[0].startswith(f"Over the next 52 weeks after 1998-06-30, the {len(v):,} customers")
    assert f"${f['clv_total']:,.0f} in discounted revenue (no margin was given)" in d.findings[0]
    top = v["clv"].sort_values(ascending=False).head(int(np.ceil(0.1 * len(v))))
    assert f"worth ${top.sum():,.0f} in revenue" in d.actions[0]
    lost = v[(v["frequency"] > 0) & (v["p_alive"] < 0.5)]
    assert d.actions[1].startswith(f"Win back the {len(lost):,} repeat buyers")
    assert f"${(lost['frequency'] * lost['monetary_value']).sum():,.0f} on repeat purchases" in d.actions[1]
    assert report.track_record(study) in d.confidence
    assert d.confidence.startswith(f"Customers are valued with the {report.model_label(study.value_model)}")
    assert d.source == "cdnow_sample.csv" and d.as_of == "1998-06-30 (as given)"
    assert report.clv_metrics(study, currency="$")["decision"] == d.to_dict() | {"source": "the data given"}
    # no float noise or raw formats in the words
    text = " ".join(d.findings + d.actions)
    assert "e-" not in text and ".00 purchases" not in text


def test_lifecycle_figures(study):
    figs = report.lifecycle(study, currency="$")
    assert [x["stage"] for x in figs] == ["loyalty", "loyalty", "retention"]
    v = study.values
    assert figs[0]["value"] == f"{100 * study.top_decile_share:.0f} %"
    assert figs[1]["value"] == f"${study.forecast['clv_total']:,.0f}" and "52 weeks" in figs[1]["detail"]
    alive = int((v["p_alive"] >= 0.5).sum())
    assert figs[2]["value"] == f"{alive:,}" and "have P(alive) ≥ 0.5 at 1998-06-30" in figs[2]["detail"]
    assert report.clv_metrics(study)["lifecycle"] == report.lifecycle(study)


def test_display_tables_read_like_a_report(study):
    """Friendly names with units, counts as integers, shares as percent, standard errors
    with significant digits, pseudonyms only."""
    from clm_lib.reporting import table_html

    html = table_html(**report.parameters_table(study))
    assert "Standard error" in html and "lower 95%" not in html and ">0.00<" not in html
    se = study.models[study.value_model].summary["se"]
    assert f">{tables.significant(se.iloc[0])}<" in html
    html = table_html(**report.frequency_fit_table(study))
    share = study.frequency_fit["actual"].iloc[0]
    assert f">{100 * share:.1f}\u00a0%<" in html and f">{study.frequency_fit['customers'].iloc[0]:,}<" in html
    top = report.top_customers(study, 5)
    assert len(top["df"]) == 5 and top["df"].index.str.startswith("C-").all()
    assert not set(top["df"].index) & set(study.values.index.astype(str))
    html = table_html(**top)
    assert "Customer (pseudonym)" in html and "P(alive)" in html and "customer_id" not in html
    assert tables.significant(0.000123) == "0.000123" and tables.significant(11.234) == "11.2"


def test_alt_texts_state_the_message(study):
    alt = report.alt_texts(study)
    assert set(alt) == {"frequency_fit", "tracking", "tracking_cumulative", "cond_holdout",
                        "p_alive", "clv"}
    hold = study.tracking[study.tracking["holdout"]]
    assert f"{hold['actual'].sum():,.0f} repeat purchases happened" in alt["tracking"]
    assert f"median customer is worth ${study.clv_quantiles['p50']:,.2f}" in alt["clv"]


def test_exports_carry_the_real_ids_and_a_data_dictionary(study, tmp_path):
    from clm_lib.reporting import save_export

    exports = report.exports(study)
    cols = report.export_columns(study)
    ex = exports["customer_value"]
    assert ex.columns[0] == "customer_id"
    assert set(ex["customer_id"]) == set(study.values.index.astype(str))   # the real ids
    for name, frame in exports.items():
        save_export(frame, name, tmp_path, columns=cols[name])
    back = pd.read_csv(tmp_path / "exports" / "customer_value.csv", dtype={"customer_id": str})
    assert back["customer_id"].tolist() == ex["customer_id"].tolist()
    assert (back["clv"] == back["clv"].round(2)).all() and (back["p_alive"] == back["p_alive"].round(4)).all()
    dictionary = pd.read_csv(tmp_path / "exports" / "data_dictionary.csv")
    assert set(dictionary["export"]) == {f"{n}.csv" for n in exports}
    clv = dictionary.set_index(["export", "column"]).loc[("customer_value.csv", "clv")]
    assert clv["unit"] == "$" and "52 weeks" in clv["meaning"]
