"""Cohort tables on tiny hand-built logs whose answers are computed by hand."""
import numpy as np
import pandas as pd
import pytest

from clm_lib.studies.cohort_retention.compute import (
    SYNTHETIC_COHORT,
    average_retention,
    churn_rate,
    customer_periods,
    fit_sbg,
    holdout_error,
    last_complete_period,
    period_codes,
    period_labels,
    period_start,
    retention_by_segment,
    retention_tables,
    sbg_holdout,
    snapshot_survival,
    tables_from_customer_periods,
)
from clm_lib.exceptions import DataContractError, MissingColumnsError, ParameterError

NAN = np.nan


def tiny_log():
    rows = [("a", "2020-01-05", 10.0, "web"), ("a", "2020-03-01", 5.0, "web"),
            ("b", "2020-01-09", 7.0, "shop"),
            ("c", "2020-02-10", 3.0, "web"), ("c", "2020-02-20", 2.0, "web"),
            ("c", "2020-04-02", 4.0, "shop"),
            ("d", "2020-04-30", 1.0, "shop"),
            ("e", "2020-05-02", 9.0, "web")]  # after as_of: ignored
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "channel"])
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df["customer_id"] = df["customer_id"].astype("string")
    return df


AS_OF = "2020-04-30"


def assert_rows(mat, expected):
    for label, vals in expected.items():
        np.testing.assert_array_equal(mat.loc[label].to_numpy(dtype=float), np.array(vals, float))


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_matrices_by_hand(engine):
    t = retention_tables(tiny_log(), "month", as_of=AS_OF, engine=engine)
    assert list(t.sizes.index) == ["2020-01", "2020-02", "2020-04"]
    assert t.sizes.tolist() == [2, 1, 1]
    assert t.last_k.tolist() == [3, 2, 0]
    assert_rows(t.bounded_counts, {"2020-01": [2, 0, 1, 0], "2020-02": [1, 0, 1, NAN],
                                   "2020-04": [1, NAN, NAN, NAN]})
    assert_rows(t.unbounded_counts, {"2020-01": [2, 1, 1, 0], "2020-02": [1, 1, 1, NAN],
                                     "2020-04": [1, NAN, NAN, NAN]})
    assert_rows(t.bounded_rates, {"2020-01": [1, 0, 0.5, 0]})
    assert_rows(t.unbounded_rates, {"2020-01": [1, 0.5, 0.5, 0]})
    assert_rows(t.revenue, {"2020-01": [17, 0, 5, 0], "2020-02": [5, 0, 4, NAN]})
    assert_rows(t.revenue_retention, {"2020-01": [1, 0, 5 / 17, 0]})
    assert_rows(t.value_curves, {"2020-01": [8.5, 8.5, 11, 11], "2020-02": [5, 5, 9, NAN]})


def test_unbounded_never_below_bounded_and_non_increasing():
    t = retention_tables(tiny_log(), "month", as_of=AS_OF)
    b, u = t.bounded_counts.to_numpy(), t.unbounded_counts.to_numpy()
    ok = ~np.isnan(b)
    assert np.all(u[ok] >= b[ok])
    assert np.all(np.nan_to_num(np.diff(u, axis=1), nan=0) <= 0)


def test_incomplete_period_is_not_observable():
    # as_of one day before the end of April: April is incomplete, d not acquired yet
    t = retention_tables(tiny_log(), "month", as_of="2020-04-29")
    assert list(t.sizes.index) == ["2020-01", "2020-02"]
    assert t.last_k.tolist() == [2, 1]
    assert np.isnan(t.bounded_counts.loc["2020-02", 2])


def test_duckdb_matches_pandas_on_path(tmp_path):
    df = tiny_log()
    p = tmp_path / "tx.parquet"
    df.to_parquet(p)
    a = customer_periods(df, "week", as_of=AS_OF)
    b = customer_periods(str(p), "week", as_of=AS_OF, engine="duckdb")
    pd.testing.assert_frame_equal(a.astype({"customer_id": object}),
                                  b.astype({"customer_id": object}), check_dtype=False)


@pytest.mark.parametrize("period", ["week", "month", "quarter", "year"])
def test_engines_agree_on_random_log(period, tmp_path):
    rng = np.random.default_rng(7)
    n = 3000
    df = pd.DataFrame({
        "customer_id": pd.array(rng.integers(0, 400, n).astype(str), dtype="string"),
        "timestamp": pd.Timestamp("2019-01-01")
        + pd.to_timedelta(rng.integers(0, 3 * 365 * 24, n), unit="h"),
        "amount": rng.gamma(2.0, 10.0, n).round(2)})
    as_of = "2021-06-30"
    a = retention_tables(df, period, as_of=as_of)
    path = tmp_path / "tx.parquet"
    df.to_parquet(path)
    for src in (df, str(path)):
        b = retention_tables(src, period, as_of=as_of, engine="duckdb")
        pd.testing.assert_frame_equal(a.bounded_counts, b.bounded_counts)
        pd.testing.assert_frame_equal(a.unbounded_counts, b.unbounded_counts)
        pd.testing.assert_frame_equal(a.revenue, b.revenue, rtol=1e-9)
        pd.testing.assert_series_equal(a.sizes, b.sizes)
    c = tables_from_customer_periods(customer_periods(df, period, as_of=as_of), period,
                                     as_of=as_of)
    pd.testing.assert_frame_equal(a.bounded_counts, c.bounded_counts)
    pd.testing.assert_frame_equal(a.unbounded_counts, c.unbounded_counts)
    pd.testing.assert_frame_equal(a.revenue, c.revenue, rtol=1e-9)
    # the bounded matrix equals a direct count of (customer, period) pairs
    p = period_codes(df["timestamp"], period)
    first = pd.Series(p).groupby(df["customer_id"].to_numpy()).transform("min").to_numpy()
    # as_of is an inclusive day: everything before 1 July 2021 counts
    keep = (df["timestamp"] < "2021-07-01").to_numpy() & (p <= last_complete_period(as_of, period))
    pairs = pd.DataFrame({"c": first[keep], "k": (p - first)[keep],
                          "id": df["customer_id"].to_numpy()[keep]}).drop_duplicates()
    direct = pairs.groupby(["c", "k"]).size()
    direct.index = pd.MultiIndex.from_arrays(
        [period_labels(direct.index.get_level_values(0), period),
         direct.index.get_level_values(1)])
    got = a.bounded_counts.stack()
    got = got[got > 0]
    assert got.astype(int).to_dict() == direct.to_dict()


@pytest.mark.parametrize("period", ["week", "month", "quarter", "year"])
def test_fast_period_codes_agree(period):
    from clm_lib.studies.cohort_retention.compute import _fast_period_codes

    rng = np.random.default_rng(1)
    ts = pd.Series(pd.Timestamp("1965-03-01")
                   + pd.to_timedelta(rng.integers(0, 60 * 365 * 24 * 60, 5000), unit="min"))
    np.testing.assert_array_equal(_fast_period_codes(ts, period), period_codes(ts, period))


def test_period_labels_and_codes():
    ts = pd.to_datetime(["1997-01-01", "1997-01-06", "2021-01-03", "1998-12-31"])
    assert period_labels(period_codes(ts, "week"), "week") == [
        "1997-W01", "1997-W02", "2020-W53", "1998-W53"]
    assert period_labels(period_codes(ts, "month"), "month") == [
        "1997-01", "1997-01", "2021-01", "1998-12"]
    assert period_labels(period_codes(ts, "quarter"), "quarter") == [
        "1997-Q1", "1997-Q1", "2021-Q1", "1998-Q4"]
    assert period_labels(period_codes(ts, "year"), "year") == ["1997", "1997", "2021", "1998"]
    for p in ("week", "month", "quarter", "year"):
        c = period_codes(ts, p)
        assert np.all(period_codes(period_start(c, p), p) == c)
    assert period_start(period_codes(ts[:1], "week"), "week")[0] == pd.Timestamp("1996-12-30")
    assert period_labels([last_complete_period("1998-06-30", "month")], "month") == ["1998-06"]
    assert period_labels([last_complete_period("1998-06-29", "month")], "month") == ["1998-05"]
    assert period_labels([last_complete_period("2007-12-31", "year")], "year") == ["2007"]


def test_interval_subscriptions():
    subs = pd.DataFrame({"customer_id": ["x", "y", "z"],
                         "start": pd.to_datetime(["2020-01-15", "2020-01-20", "2020-02-01"]),
                         "end": pd.to_datetime(["2020-03-01", "2020-01-25", None])})
    t = retention_tables(subs, "month", as_of=AS_OF)
    # x: Jan, Feb ([start, end) with end on 1 March); y: Jan only; z: Feb..Apr
    assert_rows(t.bounded_counts, {"2020-01": [2, 1, 0, 0], "2020-02": [1, 1, 1, NAN]})
    pd.testing.assert_frame_equal(t.bounded_counts, t.unbounded_counts)
    assert t.revenue is None
    cr = churn_rate(subs, "month", as_of=AS_OF)
    # Feb: active at start x (y ended in Jan), lost none; Mar: x, z active, x lost (end 1 Mar)
    assert cr.loc["2020-02", "active_start"] == 1 and cr.loc["2020-02", "lost"] == 0
    assert cr.loc["2020-03", "active_start"] == 2 and cr.loc["2020-03", "lost"] == 1
    assert cr.loc["2020-04", "churn_rate"] == 0


def test_churn_rate_transactions_rule_by_hand():
    cr = churn_rate(tiny_log(), "month", as_of=AS_OF, inactivity_periods=2)
    # window of 2 months: only Feb and Mar are settled by end of April
    assert list(cr.index) == ["2020-02", "2020-03"]
    # Feb: a, b active; b lost (bought Jan, nothing in Feb-Mar); a returns in Mar
    assert cr.loc["2020-02"].tolist() == [2, 1, 0.5]
    # Mar: a (gap of 2 months is not churn) and c active; c buys again in Apr: no loss
    assert cr.loc["2020-03"].tolist() == [2, 0, 0]
    cr1 = churn_rate(tiny_log(), "month", as_of=AS_OF, inactivity_periods=1)
    assert cr1["lost"].tolist() == [2, 1, 1] and cr1["active_start"].tolist() == [2, 1, 1]
    with pytest.raises(ParameterError):
        churn_rate(tiny_log(), "month", as_of=AS_OF, inactivity_periods=0)


def test_average_retention_weighted_with_band():
    counts = pd.DataFrame({0: [10.0, 30.0], 1: [5.0, 12.0], 2: [4.0, NAN]}, index=["c1", "c2"])
    sizes = pd.Series([10, 30], index=["c1", "c2"])
    avg = average_retention(counts, sizes)
    assert avg.loc[1, "retention"] == pytest.approx(17 / 40)
    assert avg.loc[2, "retention"] == pytest.approx(0.4) and avg.loc[2, "cohorts"] == 1
    assert avg.loc[2, "upper"] - avg.loc[2, "lower"] == pytest.approx(
        2 * 1.959964 * np.sqrt(0.4 * 0.6 / 10), rel=1e-5)
    assert avg.loc[1, "lower"] < 17 / 40 < avg.loc[1, "upper"]


def test_segments():
    seg = retention_by_segment(tiny_log(), "channel", "month", as_of=AS_OF)
    web = seg[seg.segment == "web"].set_index("k")
    # web customers at acquisition: a (Jan), c (Feb); at k = 2 both active
    assert web.loc[0, "customers"] == 2 and web.loc[2, "retention"] == 1.0
    shop = seg[seg.segment == "shop"].set_index("k")
    assert shop.loc[1, "retention"] == 0.0  # b never returned


def test_segments_duckdb_engine_agrees():
    a = retention_by_segment(tiny_log(), "channel", "month", as_of=AS_OF)
    b = retention_by_segment(tiny_log(), "channel", "month", as_of=AS_OF, engine="duckdb")
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_snapshot_form():
    snap = pd.DataFrame({"customer_id": list("pqrst"), "tenure": [0, 1, 2, 2, 3],
                         "churned": [False, True, True, False, False]})
    km = snapshot_survival(snap)
    # k=1: 4 at risk, 1 lost; k=2: 3 at risk, 1 lost; k=3: 1 at risk, 0 lost
    np.testing.assert_allclose(km["survival"], [1, 0.75, 0.5, 0.5])
    t = retention_tables(snap, "month", as_of="2020-01-31")
    assert list(t.sizes.index) == [SYNTHETIC_COHORT] and t.sizes.iloc[0] == 5
    cr = churn_rate(snap, as_of="2020-01-31")
    assert cr.loc[1, "churn_rate"] == 0.25


def test_sbg_on_snapshot_and_holdout():
    rng = np.random.default_rng(3)
    theta = rng.beta(1.0, 4.0, 5000)
    T = rng.geometric(theta)
    tenure = np.minimum(T, 24)
    snap = pd.DataFrame({"customer_id": np.arange(5000).astype(str), "tenure": tenure,
                         "churned": T <= 24})
    t = retention_tables(snap, "month", as_of="2020-01-31")
    m = fit_sbg(t)
    assert abs(m.params_["alpha"] - 1.0) < 3 * m.se_["alpha"]
    mh = fit_sbg(t, holdout_periods=6)
    tab = sbg_holdout(mh, t, holdout_periods=6, horizon=30)
    assert tab["in_fit"].sum() == 19 and len(tab) == 31
    err = holdout_error(mh, t, holdout_periods=6)
    assert err["cells"] == 6 and abs(err["relative_error"]) < 0.1


def test_contracts():
    with pytest.raises(MissingColumnsError):
        retention_tables(pd.DataFrame({"customer_id": ["a"]}), "month", as_of=AS_OF)
    with pytest.raises(MissingColumnsError):
        customer_periods(tiny_log().drop(columns="customer_id"), "month", as_of=AS_OF)
    with pytest.raises(ParameterError):
        retention_tables(tiny_log(), "day", as_of=AS_OF)
    with pytest.raises(ParameterError):
        retention_tables(tiny_log(), "month", as_of=None)
    bad = pd.DataFrame({"customer_id": ["x"], "start": pd.to_datetime(["2020-02-01"]),
                        "end": pd.to_datetime(["2020-01-01"])})
    with pytest.raises(DataContractError):
        retention_tables(bad, "month", as_of=AS_OF)


def test_inputs_not_mutated():
    df = tiny_log()
    before = df.copy()
    retention_tables(df, "month", as_of=AS_OF)
    churn_rate(df, "month", as_of=AS_OF)
    pd.testing.assert_frame_equal(df, before)


def test_cohort_study_metrics_and_summary():
    import json

    from clm_lib.studies.cohort_retention.compute import cohort_metrics, cohort_study, summary_lines
    from clm_lib.reporting import to_json

    # two yearly cohorts of subscriptions with known survivors: sBG fits, holdout works
    rows = []
    for year, surv in ((2000, [500, 430, 380, 345, 320]), (2001, [400, 350, 310, 285])):
        start = pd.Timestamp(f"{year}-01-01")  # anniversaries on period boundaries
        lost = -np.diff(surv)
        i = 0
        for t, n in enumerate(lost, start=1):
            rows += [(f"{year}-{i + j}", start, start + pd.DateOffset(years=t)) for j in range(n)]
            i += n
        rows += [(f"{year}-{i + j}", start, pd.NaT) for j in range(surv[-1])]
    subs = pd.DataFrame(rows, columns=["customer_id", "start", "end"])
    st = cohort_study(subs, "year", as_of="2004-12-31", holdout_periods=1, horizon_periods=5)
    assert st.tables.bounded_counts.loc["2000"].tolist() == [500, 430, 380, 345, 320]
    assert st.model is not None and st.holdout_error["cells"] == 2
    # held out: k=4 of 2000 and k=3 of 2001
    assert st.holdout_error["actual"] == 320 + 285
    m = cohort_metrics(st)
    assert m["cohort_sizes"] == {"2000": 500, "2001": 400}
    assert m["retention_bounded"]["2001"][-1] is None
    assert m["churn_rate"]["2001"] == pytest.approx(70 / 500)
    assert len(m["sbg"]["projection"]) == 4 + 5 + 1
    assert set(m["sbg"]["se"]) == {"alpha", "beta"} and 2 <= len(m["headline"]) <= 4
    json.loads(to_json(m))
    lines = summary_lines(st)
    assert lines[0].startswith("900 customers were acquired in 2 yearly cohorts from 2000 to 2001")
    assert "86.0 % were still subscribed in their second year" in lines[1]


# ----------------------------------------------------------------- the notebook, end to end
def _run_notebook(tmp_path, **parameters):
    import nbformat
    import papermill as pm

    from clm_lib.config import NOTEBOOKS_DIR

    out = tmp_path / "executed.ipynb"
    pm.execute_notebook(str(NOTEBOOKS_DIR / "10_cohort_retention.ipynb"), str(out),
                        parameters=parameters, cwd=str(NOTEBOOKS_DIR), kernel_name="python3",
                        progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    text = "\n".join(str(o.get("data", {}).get("text/html", ""))
                     + str(o.get("data", {}).get("text/markdown", ""))
                     for c in nb.cells for o in c.get("outputs", []))
    return nb, text


@pytest.mark.slow
def test_notebook_on_cdnow(tmp_path):
    import json

    out_dir = tmp_path / "cohort_retention"
    nb, text = _run_notebook(tmp_path, output_dir=str(out_dir))
    m = json.loads((out_dir / "metrics.json").read_text())
    assert m["cohort_sizes"] == {"1997-01": 7846, "1997-02": 8476, "1997-03": 7248}
    assert len(m["retention_bounded"]["1997-01"]) == 18  # Jan 1997 .. Jun 1998
    assert m["retention_bounded"]["1997-03"][-1] is None  # not observable yet
    assert m["retention_unbounded"]["1997-01"][0] == 1.0
    assert set(m["sbg"]["params"]) == {"alpha", "beta"} and m["sbg"]["loglik"] < 0
    assert len(m["sbg"]["projection"]) == 18 + 12
    assert list(m["churn_rate"])[0] == "1997-02" and list(m["churn_rate"])[-1] == "1998-04"
    assert 2 <= len(m["headline"]) <= 4
    assert m["data_quality"]["rows_in"] == 69659
    assert "Of the customers acquired in January 1997 (7,846)" in text
    assert (out_dir / "exports" / "retention_bounded.csv").exists()
    assert nb.cells[0].source.startswith("# ")
    assert not any(c.cell_type == "code" and ("def " in c.source or "class " in c.source)
                   for c in nb.cells)


@pytest.mark.slow
def test_notebook_on_telco(tmp_path):
    import json

    out_dir = tmp_path / "cohort_retention"
    _, text = _run_notebook(
        tmp_path, output_dir=str(out_dir), subscriptions="../data/telco_churn.csv",
        columns={"customerID": "customer_id", "Churn": "churned"}, segment="Contract")
    m = json.loads((out_dir / "metrics.json").read_text())
    assert m["form"] == "snapshot" and m["cohort_sizes"] == {SYNTHETIC_COHORT: 7043}
    assert len(m["retention_bounded"][SYNTHETIC_COHORT]) == 73  # tenure 0..72 months
    assert m["sbg"]["params"]["alpha"] > 0 and m["sbg"]["holdout"]["cells"] == 3
    assert "7,043 subscribers" in text
