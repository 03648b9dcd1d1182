"""Cohort tables on tiny hand-built logs whose answers are computed by hand (DuckDB, the
default engine; the DuckDB-vs-Spark comparison is in tests/test_spark_parity.py)."""
import numpy as np
import pandas as pd
import pytest

from clm_lib.exceptions import DataContractError, MissingColumnsError, ParameterError
from clm_lib.reduce import get_engine
from clm_lib.reduce.periods import last_complete_period, period_codes, period_labels, period_start
from clm_lib.studies.cohort_retention import report
from clm_lib.studies.cohort_retention.compute import (
    SYNTHETIC_COHORT,
    churn_rate,
    cohort_study,
    fit_sbg,
    holdout_error,
    retention_by_segment,
    retention_tables,
    sbg_holdout,
)
from clm_lib.studies.cohort_retention.snapshot import snapshot_survival
from clm_lib.studies.cohort_retention.tables import average_retention

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


def tiny_subscriptions():
    return pd.DataFrame({"customer_id": ["x", "y", "z"],
                         "start": pd.to_datetime(["2020-01-15", "2020-01-20", "2020-02-01"]),
                         "end": pd.to_datetime(["2020-03-01", "2020-01-25", None]),
                         "plan": ["a", "b", "a"]})


def tiny_snapshot():
    return pd.DataFrame({"customer_id": list("pqrst"), "tenure": [0, 1, 2, 2, 3],
                         "churned": [False, True, True, False, False]})


AS_OF = "2020-04-30"


def assert_rows(mat, expected):
    for label, vals in expected.items():
        np.testing.assert_array_equal(mat.loc[label].to_numpy(dtype=float), np.array(vals, float))


def assert_by_hand(t):
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


def test_matrices_by_hand():
    t = retention_tables(tiny_log(), "month", as_of=AS_OF)
    assert t.form == "transactions"
    assert_by_hand(t)


def test_path_and_engine_table_inputs_by_hand(tmp_path):
    """A Parquet path (loaded with the data contract) and the lazy table of
    load_transactions give the same hand-computed tables as the DataFrame."""
    p = tmp_path / "tx.parquet"
    tiny_log().to_parquet(p)
    assert_by_hand(retention_tables(str(p), "month", as_of=AS_OF))
    table, _ = get_engine("duckdb").load_transactions(str(p))
    assert_by_hand(retention_tables(table, "month", as_of=AS_OF, engine="duckdb"))


def test_transactions_without_amount_have_no_revenue():
    t = retention_tables(tiny_log().drop(columns="amount"), "month", as_of=AS_OF)
    assert t.revenue is None and t.value_curves is None
    assert_rows(t.bounded_counts, {"2020-01": [2, 0, 1, 0]})


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


@pytest.mark.parametrize("period", ["week", "month", "quarter", "year"])
def test_tables_equal_a_direct_count_on_random_log(period, tmp_path):
    """Bounded counts = distinct (customer, period) pairs by cohort and k; unbounded
    counts = customers by their last active k, summed from k on; a Parquet path gives
    the same tables as the DataFrame."""
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
    b = retention_tables(str(path), period, as_of=as_of)
    pd.testing.assert_frame_equal(a.bounded_counts, b.bounded_counts)
    pd.testing.assert_frame_equal(a.unbounded_counts, b.unbounded_counts)
    pd.testing.assert_frame_equal(a.revenue, b.revenue, rtol=1e-9)
    pd.testing.assert_series_equal(a.sizes, b.sizes)
    p = period_codes(df["timestamp"], period)
    # as_of is an inclusive day: everything before 1 July 2021 counts
    keep = (df["timestamp"] < "2021-07-01").to_numpy() & (p <= last_complete_period(as_of, period))
    d = pd.DataFrame({"id": df["customer_id"].to_numpy()[keep], "p": p[keep],
                      "amount": df["amount"].to_numpy()[keep]})
    d["c"] = d.groupby("id")["p"].transform("min")
    d["k"] = d["p"] - d["c"]
    labels = dict(zip(np.unique(d["c"]), period_labels(np.unique(d["c"]), period)))
    direct = d.drop_duplicates(["id", "p"]).groupby(["c", "k"]).size()
    got = a.bounded_counts.stack()
    got = got[got > 0].astype(int)
    assert got.to_dict() == {(labels[c], k): v for (c, k), v in direct.items()}
    last = d.groupby("id").agg(c=("c", "first"), k=("k", "max"))
    for (c, k), v in a.unbounded_counts.stack().items():
        assert v == ((last["c"].map(labels) == c) & (last["k"] >= k)).sum()
    rev = d.groupby(["c", "k"])["amount"].sum()
    for (c, k), v in rev.items():
        assert a.revenue.loc[labels[c], k] == pytest.approx(v, rel=1e-9)


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
    subs = tiny_subscriptions()
    t = retention_tables(subs, "month", as_of=AS_OF)
    # x: Jan, Feb ([start, end) with end on 1 March); y: Jan only; z: Feb..Apr
    assert_rows(t.bounded_counts, {"2020-01": [2, 1, 0, 0], "2020-02": [1, 1, 1, NAN]})
    pd.testing.assert_frame_equal(t.bounded_counts, t.unbounded_counts)
    assert t.revenue is None and t.form == "intervals"
    cr = churn_rate(subs, "month", as_of=AS_OF)
    # Feb: active at start x (y ended in Jan), lost none; Mar: x, z active, x lost (end 1 Mar)
    assert cr.loc["2020-02", "active_start"] == 1 and cr.loc["2020-02", "lost"] == 0
    assert cr.loc["2020-03", "active_start"] == 2 and cr.loc["2020-03", "lost"] == 1
    assert cr.loc["2020-04", "churn_rate"] == 0
    assert list(cr.index) == ["2020-02", "2020-03", "2020-04"]


def test_interval_study_with_segment_by_hand():
    """Subscriptions with a segment: cohort counts, churn and per-plan curves."""
    st = cohort_study(tiny_subscriptions(), "month", as_of=AS_OF, segment="plan",
                      holdout_periods=0)
    assert_rows(st.tables.bounded_counts, {"2020-01": [2, 1, 0, 0], "2020-02": [1, 1, 1, NAN]})
    assert st.churn["lost"].tolist() == [0, 1, 0]
    seg = st.segments.set_index(["segment", "k"])
    # plan a: x (Jan cohort: Jan, Feb) and z (Feb cohort: Feb..Apr); plan b: y (Jan only)
    assert seg.loc[("a", 0), "customers"] == 2 and seg.loc[("a", 1), "retention"] == 1.0
    assert seg.loc[("a", 2), "retention"] == 0.5  # x gone, z active at k = 2
    assert seg.loc[("b", 1), "retention"] == 0.0
    assert set(st.segments["segment"]) == {"a", "b"}


def test_churn_rate_transactions_rule_by_hand():
    cr = churn_rate(tiny_log(), "month", as_of=AS_OF, inactivity_periods=2)
    # window of 2 months: only Feb and Mar are settled by end of April, Apr provisional
    assert list(cr.index) == ["2020-02", "2020-03", "2020-04"]
    # Feb: a, b active; b lost (bought Jan, nothing in Feb-Mar); a returns in Mar
    assert cr.loc["2020-02"].tolist() == [2, 1, 0.5, False]
    # Mar: a (gap of 2 months is not churn) and c active; c buys again in Apr: no loss
    assert cr.loc["2020-03"].tolist() == [2, 0, 0, False]
    # Apr: window not over, provisional: a bought in Mar and not since (upper bound)
    assert cr.loc["2020-04"].tolist() == [2, 1, 0.5, True]
    cr1 = churn_rate(tiny_log(), "month", as_of=AS_OF, inactivity_periods=1)
    assert {k: v.tolist() for k, v in cr1.iterrows()} == {
        "2020-02": [2, 2, 1, False], "2020-03": [1, 1, 1, False],
        "2020-04": [1, 1, 1, False]}
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


def test_segment_at_acquisition_rule_by_hand():
    """Ties at the first purchase -> smallest value; no value on the first purchase ->
    the first purchase that has one; no value at all -> "(missing)"; integers stay
    integers ("1", not "1.0")."""
    tx = pd.DataFrame({
        "customer_id": pd.array(["x", "x", "y", "y", "z", "w"], dtype="string"),
        "timestamp": pd.to_datetime(["2020-01-03", "2020-01-03", "2020-01-04", "2020-02-01",
                                     "2020-01-05", "2020-01-06"]),
        "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "channel": ["web", "shop", None, "web", None, "web"],
        "tier": pd.array([2, 1, None, 3, None, 2], dtype="Int64"),
    })
    seg = retention_by_segment(tx, "channel", "month", as_of="2020-02-29")
    # x -> shop (tie, smallest), y -> web (first with a value), z -> missing, w -> web
    assert seg.loc[seg["k"] == 0].set_index("segment")["customers"].to_dict() == {
        "(missing)": 1, "shop": 1, "web": 2}
    seg = retention_by_segment(tx, "tier", "month", as_of="2020-02-29")
    assert seg.loc[seg["k"] == 0].set_index("segment")["customers"].to_dict() == {
        "(missing)": 1, "1": 1, "2": 1, "3": 1}


def test_snapshot_form():
    counts = pd.DataFrame({"tenure": [0, 1, 2, 2, 3], "churned": [False, True, True, False, False],
                           "customers": [1, 1, 1, 1, 1]})
    km = snapshot_survival(counts)
    # k=1: 4 at risk, 1 lost; k=2: 3 at risk, 1 lost; k=3: 1 at risk, 0 lost
    np.testing.assert_allclose(km["survival"], [1, 0.75, 0.5, 0.5])
    assert km["at_risk"].tolist() == [5, 4, 3, 1]
    snap = tiny_snapshot()
    t = retention_tables(snap, "month", as_of="2020-01-31")
    assert list(t.sizes.index) == [SYNTHETIC_COHORT] and t.sizes.iloc[0] == 5
    assert t.form == "snapshot"
    np.testing.assert_allclose(t.bounded_counts.iloc[0], [5, 3.75, 2.5, 2.5])
    cr = churn_rate(snap, as_of="2020-01-31")
    assert cr.loc[1, "churn_rate"] == 0.25
    seg = retention_by_segment(snap.assign(plan=["a", "a", "b", "b", None]), "plan",
                               as_of="2020-01-31")
    # a: p (0, censored), q (1, churned): survival 1, 0; b: r (2, churned), s (2, censored)
    a = seg[seg.segment == "a"].set_index("k")["retention"].tolist()
    b = seg[seg.segment == "b"].set_index("k")["retention"].tolist()
    assert a == [1.0, 0.0] and b == [1.0, 1.0, 0.5]
    assert set(seg["segment"]) == {"a", "b", "(missing)"}


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
        retention_tables(tiny_log().drop(columns="customer_id"), "month", as_of=AS_OF)
    with pytest.raises(MissingColumnsError):
        retention_by_segment(tiny_log(), "region", "month", as_of=AS_OF)
    with pytest.raises(ParameterError):
        retention_tables(tiny_log(), "day", as_of=AS_OF)
    bad = pd.DataFrame({"customer_id": ["x"], "start": pd.to_datetime(["2020-02-01"]),
                        "end": pd.to_datetime(["2020-01-01"])})
    with pytest.raises(DataContractError, match="ends before it starts"):
        retention_tables(bad, "month", as_of=AS_OF)
    with pytest.raises(DataContractError, match="tenure"):
        retention_tables(tiny_snapshot().assign(tenure=[1, -1, 2, 2, 3]), as_of=AS_OF)


def test_engine_parameter_is_checked():
    with pytest.raises(ParameterError, match="engine must be one of"):
        retention_tables(tiny_log(), "month", as_of=AS_OF, engine="polars")


def test_inputs_not_mutated():
    df = tiny_log()
    before = df.copy()
    retention_tables(df, "month", as_of=AS_OF)
    churn_rate(df, "month", as_of=AS_OF)
    cohort_study(df, "month", as_of=AS_OF, segment="channel")
    pd.testing.assert_frame_equal(df, before)


def test_result_is_frozen():
    import dataclasses

    st = cohort_study(tiny_log(), "month", as_of=AS_OF)
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.churn = None
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.tables.sizes = None


# ----------------------------------------------------------------- CDNOW, by hand
COLUMNS = {"date": "timestamp", "dollars": "amount", "cds": "quantity"}


def test_cdnow_study_facts(cdnow_basket):
    data, dq = get_engine("duckdb").load_transactions(cdnow_basket[1], COLUMNS,
                                                      as_of="1998-06-30")
    study = cohort_study(data, "month", as_of="1998-06-30", segment="basket")
    assert study.tables.sizes.to_dict() == {"1997-01": 7846, "1997-02": 8476, "1997-03": 7248}
    assert dq.rows_in == 69659
    # customers whose purchases all lack a value form "(missing)"
    assert set(study.segments["segment"]) == {"1 CD", "2-3 CDs", "4+ CDs", "(missing)"}
    assert study.segments.groupby("segment")["customers"].first().sum() == 23570


def test_cdnow_log_is_never_brought_into_pandas(cdnow_basket, monkeypatch):
    """The study reduces the lazy table: what comes back from the engine is counts per
    cohort and k (per segment) or per period, and for the purchase model (all data and
    holdout refit) the distinct (frequency, recency, T) triples; never the 69,659 rows of
    the log, nor one row per customer."""
    eng = get_engine("duckdb")
    data, _ = eng.load_transactions(cdnow_basket[1], COLUMNS, as_of="1998-06-30")
    sizes = []
    original = eng.to_pandas

    def counting(expr):
        out = original(expr)
        sizes.append(len(out))
        return out

    monkeypatch.setattr(eng, "to_pandas", counting)
    study = cohort_study(data, "month", as_of="1998-06-30", segment="basket", engine=eng)
    assert study.tables.sizes.sum() == 23570
    assert len(sizes) == 4 and max(sizes[:2]) < 500
    assert max(sizes) < 23570 / 2


def _pct_of(x):
    return f"{100 * x:.1f} %"


# ----------------------------------------------------------------- the notebook, end to end
def _text(folder):
    import nbformat

    nb = nbformat.read(folder.parent / "run.ipynb", as_version=4)
    text = "\n".join(str(o.get("data", {}).get("text/html", ""))
                     + str(o.get("data", {}).get("text/markdown", ""))
                     for c in nb.cells for o in c.get("outputs", []))
    return nb, text


@pytest.mark.slow
def test_notebook_on_cdnow(run_notebook):
    import json

    out_dir = run_notebook("10_cohort_retention.ipynb")
    nb, text = _text(out_dir)
    m = json.loads((out_dir / "metrics.json").read_text())
    assert m["cohort_sizes"] == {"1997-01": 7846, "1997-02": 8476, "1997-03": 7248}
    assert len(m["retention_bounded"]["1997-01"]) == 18  # Jan 1997 .. Jun 1998
    assert m["retention_bounded"]["1997-03"][-1] is None  # not observable yet
    assert m["retention_unbounded"]["1997-01"][0] == 1.0
    assert m["retention_model"] == "bgnbd" and "sbg" not in m
    assert set(m["bgnbd"]["params"]) == {"r", "alpha", "a", "b"} and m["bgnbd"]["loglik"] < 0
    assert len(m["bgnbd"]["projection"]) == 18 + 12 and m["bgnbd"]["holdout"]["cells"] == 9
    assert list(m["churn_rate"])[0] == "1997-02" and list(m["churn_rate"])[-1] == "1998-06"
    assert m["churn_provisional"] == ["1998-05", "1998-06"]
    assert m["headline"]["Churn rate per month (pooled, settled, after acquisition)"] == "33.2 %"
    assert m["headline"]["Expected buying in month k = 29 (BG/NBD)"] == _pct_of(
        m["bgnbd"]["projection"][-1]["buying"])
    assert 2 <= len(m["headline"]) <= 4
    assert m["data_quality"]["rows_in"] == 69659
    assert "Of the customers acquired in January 1997 (7,846)" in text
    # the decision box first, computed from the results, stored in metrics.json
    d = m["decision"]
    assert set(d) == {"findings", "actions", "confidence", "source", "as_of"}
    assert d["source"] == "cdnow_master.csv" and d["as_of"] == "1998-06-30 (as given)"
    assert 3 <= len(d["findings"]) <= 4 and len(d["actions"]) == 2
    assert d["findings"][1].startswith("33.2 % of active customers are lost per month")
    assert d["actions"][0].startswith("Win back the 1,811 customers lapsing now")
    assert "(+10.5 %)" in d["confidence"]
    first = next(o for c in nb.cells if c.cell_type == "code" and "parameters" not in
                 c.metadata.get("tags", []) for o in c.outputs)
    assert first["metadata"]["clm"]["role"] == "decision"
    assert [f["stage"] for f in m["lifecycle"]] == ["retention"] * 3
    assert m["lifecycle"][2]["value"] == "33.2 %"
    # two interactive charts (curves, lifecycle); no section left empty (without a run
    # history, the track record: left out with its reason)
    roles = [o.get("metadata", {}).get("clm", {}).get("role") for c in nb.cells
             for o in c.get("outputs", [])]
    assert roles.count("chart") == 2 and roles.count("omit") == 1
    reasons = [o["metadata"]["clm"]["reason"] for c in nb.cells for o in c.get("outputs", [])
               if o.get("metadata", {}).get("clm", {}).get("role") == "omit"]
    assert reasons[0] == "no run history was given (history)"
    assert m["track_record"]["scored"] == 0 and m["track_record"]["text"] == reasons[0]
    # the options of the example config: day brackets since the first purchase ...
    assert [w["label"] for w in m["returns"]["average"]] == [
        "days 1–30", "days 31–90", "days 91–180", "days 181–365"]
    assert "each range on its own" in m["returns"]["text"] and "days 1–30" in text
    assert set(m["return_comparison"]) == {"first", "recurring", "previous", "min_purchases_2"}
    # ... the same k = 1 as the bounded matrix under the default rule
    assert m["return_comparison"]["first"][1]["retention"] == pytest.approx(
        sum(m["retention_bounded"][c][1] * n for c, n in m["cohort_sizes"].items())
        / sum(m["cohort_sizes"].values()))
    # growth accounting: its identities in every month, and the dormant of June 1998 are
    # the losses the churn table counts for it
    g = pd.DataFrame(m["growth_accounting"]).set_index("period")
    assert (g["active"] == g["new"] + g["returning"] + g["resurrecting"]).all()
    assert (g["dormant"] == g["previous_active"] - g["returning"]).all()
    assert g.loc["1998-06", "active"] == 1506 and g.loc["1998-06", "dormant"] == 1042
    assert len(m["stickiness"]) == 18
    # the CDs of the first purchase in three bins, every difference tested
    diffs = pd.DataFrame(m["segment_differences"])
    assert set(diffs["segment"]) | set(diffs["reference"]) == {
        "quantity 1", "quantity 2", "quantity ≥ 3"}
    assert len(diffs) == 36 and set(diffs["verdict"]) <= {"real", "noise at this size"}
    assert "Holm" in text
    # exports: documented, cohort sizes beside the shares, no float noise
    exports = out_dir / "exports"
    bounded = pd.read_csv(exports / "retention_bounded.csv", dtype={"cohort": str})
    assert bounded["customers_acquired"].tolist() == [7846, 8476, 7248]
    assert list(bounded.columns[2:4]) == ["month_0", "month_1"]
    assert bounded["month_1"].tolist() == [round(m["retention_bounded"][c][1], 4)
                                           for c in ("1997-01", "1997-02", "1997-03")]
    dic = pd.read_csv(exports / "data_dictionary.csv")
    for name in ("retention_bounded", "retention_unbounded", "churn_rate"):
        cols = pd.read_csv(exports / f"{name}.csv", nrows=0).columns
        assert set(dic.loc[dic["export"] == f"{name}.csv", "column"]) == set(cols)
    assert nb.cells[0].source.startswith("# ")
    assert not any(c.cell_type == "code" and ("def " in c.source or "class " in c.source)
                   for c in nb.cells)


@pytest.mark.slow
def test_notebook_on_telco(run_notebook):
    import json

    out_dir = run_notebook("10_cohort_retention.ipynb", subscriptions="../data/telco_churn.csv",
                           columns={"customerID": "customer_id", "Churn": "churned"},
                           segment="Contract", segment_bins=None)
    nb, text = _text(out_dir)
    m = json.loads((out_dir / "metrics.json").read_text())
    assert m["form"] == "snapshot" and m["cohort_sizes"] == {SYNTHETIC_COHORT: 7043}
    assert len(m["retention_bounded"][SYNTHETIC_COHORT]) == 73  # tenure 0..72 months
    assert m["sbg"]["params"]["alpha"] > 0 and m["sbg"]["holdout"]["cells"] == 3
    assert "7,043 subscribers" in text
    d = m["decision"]
    assert d["as_of"] == "1998-06-30 (as given; the snapshot itself has no dates)"
    assert d["source"] == "telco_churn.csv"
    assert d["actions"][0].startswith("Protect subscribers in their first 12 months")
    assert "(+10.6 %)" in d["confidence"]
    assert m["lifecycle"][0]["label"] == "Active 1 month after acquisition"
    # contract types differ for real (log-rank and per month); the purchase-based sections
    # are left out with their reasons
    assert "Log-rank test over all segments" in text
    assert {d["verdict"] for d in m["segment_differences"]} >= {"real"}
    reasons = [o["metadata"]["clm"]["reason"] for c in nb.cells for o in c.get("outputs", [])
               if o.get("metadata", {}).get("clm", {}).get("role") == "omit"]
    assert sum(r.startswith("needs transactions") for r in reasons) == 4  # + revenue
    assert "returns" not in m and "growth_accounting" not in m


# ----------------------------------------------------------------- churn: known then
def test_provisional_losses_leave_the_later_at_risk_counts():
    """x buys in Jan and Feb, y in Jan, Feb and Apr; N = 3, data to April: Feb is settled,
    Mar and Apr are provisional. x has not bought since Feb: provisionally lost in Mar,
    so not at risk in Apr."""
    df = pd.DataFrame({"customer_id": ["x", "x", "y", "y", "y"],
                       "timestamp": pd.to_datetime(["2020-01-03", "2020-02-03", "2020-01-04",
                                                    "2020-02-04", "2020-04-04"])})
    cr = churn_rate(df, "month", as_of=AS_OF, inactivity_periods=3)
    assert {k: v.tolist() for k, v in cr.iterrows()} == {
        "2020-02": [2, 0, 0, False], "2020-03": [2, 1, 0.5, True],
        "2020-04": [1, 0, 0, True]}


def test_pooled_churn_by_hand():
    from clm_lib.studies.cohort_retention.tables import pooled_churn

    churn = pd.DataFrame({"active_start": [100, 50, 40, 30], "lost": [60, 10, 10, 20],
                          "provisional": [False, False, False, True]},
                         index=pd.Index(["2020-02", "2020-03", "2020-04", "2020-05"]))
    s = pooled_churn(churn, after_acquisition=["2020-02"])
    assert s["rate"] == 20 / 90 and s["periods"] == ["2020-03", "2020-04"]
    assert s["basis"] == "after acquisition" and s["rate_all_settled"] == 80 / 190
    assert s["mean_of_rates"] == pytest.approx((10 / 50 + 10 / 40) / 2)
    # customers acquired every period: nothing would remain, every settled period is used
    s = pooled_churn(churn, after_acquisition=["2020-02", "2020-03", "2020-04"])
    assert s["basis"] == "all settled" and s["rate"] == 80 / 190


@pytest.fixture(scope="module")
def cdnow_churn():
    from pathlib import Path

    eng = get_engine("duckdb")
    path = Path(__file__).resolve().parents[3] / "data" / "cdnow_master.csv"
    data, _ = eng.load_transactions(str(path), COLUMNS, as_of="1998-06-30")
    return {a: churn_rate(data, "month", as_of=a, engine=eng)
            for a in ("1997-12-31", "1998-06-30")}


def test_settled_churn_rates_do_not_depend_on_as_of(cdnow_churn):
    early, late = cdnow_churn["1997-12-31"], cdnow_churn["1998-06-30"]
    settled = early.index[~early["provisional"]]
    assert list(settled) == [f"1997-{m:02d}" for m in range(2, 11)]
    pd.testing.assert_frame_equal(early.loc[settled], late.loc[settled], check_exact=True)
    # the provisional months, settled later: upper bounds of the final figures
    prov = early.index[early["provisional"]]
    assert list(prov) == ["1997-11", "1997-12"] and not late.loc[prov, "provisional"].any()
    assert (early.loc[prov, "lost"] >= late.loc[prov, "lost"]).all()
    assert (early.loc[prov, "active_start"] <= late.loc[prov, "active_start"]).all()
    assert (early.loc[prov, "churn_rate"] > late.loc[prov, "churn_rate"]).all()
    assert list(late.index[late["provisional"]]) == ["1998-05", "1998-06"]


def test_cdnow_churn_headline_is_pooled_after_acquisition(cdnow_churn):
    from clm_lib.studies.cohort_retention.tables import pooled_churn

    late = cdnow_churn["1998-06-30"]
    s = pooled_churn(late, after_acquisition=["1997-02", "1997-03", "1997-04"])
    used = late.loc["1997-05":"1998-04"]
    assert s["periods"] == list(used.index) and s["basis"] == "after acquisition"
    assert s["rate"] == used["lost"].sum() / used["active_start"].sum()
    assert round(s["rate"], 3) == 0.332 and round(s["rate_all_settled"], 3) == 0.480
    # not the mean of the monthly rates with the acquisition months (39.8 % before)
    assert round(late.loc[~late["provisional"], "churn_rate"].mean(), 3) == 0.398


def test_as_of_defaults_to_the_last_day_in_the_data():
    """Without as_of the data are observed to their last day (2020-05-02 here), which
    the study records; April is then the last complete month, May is not reported."""
    derived = cohort_study(tiny_log(), "month", holdout_periods=0)
    given = cohort_study(tiny_log(), "month", as_of="2020-05-02", holdout_periods=0)
    assert derived.parameters["as_of"] == "2020-05-02"
    assert derived.parameters["as_of_source"] == "data"
    assert given.parameters["as_of_source"] == "parameter"
    pd.testing.assert_frame_equal(derived.tables.bounded_counts, given.tables.bounded_counts)
    assert str(derived.tables.sizes.index[-1]) == "2020-04"


def test_derived_as_of_of_intervals_names_ends_after_the_last_start():
    """Interval subscriptions without as_of are observed to their last start or end; the
    ends after the last start may be scheduled ends, and the summary says how many."""
    subs = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                         "start": pd.to_datetime(["2024-01-05", "2024-02-10", "2024-03-01",
                                                  "2024-03-20"]),
                         "end": pd.to_datetime(["2024-02-01", None, "2024-06-30", "2024-12-31"])})
    derived = cohort_study(subs, "month", holdout_periods=0)
    assert derived.parameters["as_of"] == "2024-12-31"
    assert derived.parameters["ends_after_last_start"] == 2
    assert any("2 subscriptions end after the last start" in line
               for line in report.summary_lines(derived))
    given = cohort_study(subs, "month", as_of="2024-12-31", holdout_periods=0)
    assert given.parameters["ends_after_last_start"] == 0
    assert not any("scheduled ends" in line for line in report.summary_lines(given))
