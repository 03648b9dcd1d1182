"""The history store on both databases: a DuckDB file and a PostgreSQL server (the
``history_url`` fixture runs each test on both)."""
import pandas as pd
import pytest

from clm_lib.history import (HistoryError, StudyRecord, earlier_runs, figure, ledger_frame,
                             open_store, previous_run)


def _record(as_of, n_customers=3, study="clv", source="clv|/data/tx.csv"):
    fc = pd.concat([
        ledger_frame("purchases", [10.0, 21.0], step=[1, 2], unit="week", lower=[8, 17],
                     upper=[12, 25], level=0.9),
        ledger_frame("purchases", range(n_customers), step=2, unit="week", scope="customer",
                     key=[f"{i:05d}" for i in range(n_customers)]),
    ])
    return StudyRecord(study, source, as_of, {"files": {"transactions": "tx.csv"}},
                       {"as_of": as_of}, {"total": figure("Total", 10.0, "money")},
                       {"as_of": as_of}, fc)


def test_a_run_lands_with_its_ledger_and_ids_as_text(history_url):
    store = open_store(history_url)
    assert store.record_run({"run_id": "r1", "ok": True}, [_record("1998-03-31")]) == 5
    assert store.check() == []
    runs = earlier_runs(history_url, "clv", "clv|/data/tx.csv", "1998-06-30")
    assert [r.as_of for r in runs] == ["1998-03-31"]
    keys = runs[0].rows("purchases", "customer")["key"].tolist()
    assert keys == ["00000", "00001", "00002"]  # leading zeros kept
    assert runs[0].figures["total"]["value"] == 10.0


def test_only_earlier_as_of_dates_of_the_same_source_are_scored(history_url):
    store = open_store(history_url)
    store.record_run({"run_id": "r1", "ok": True}, [_record("1998-03-31")])
    store.record_run({"run_id": "r2", "ok": True}, [_record("1998-06-30")])
    store.record_run({"run_id": "r3", "ok": True},
                     [_record("1998-01-31", source="clv|/other.csv")])
    got = earlier_runs(history_url, "clv", "clv|/data/tx.csv", "1998-06-30")
    assert [r.run_id for r in got] == ["r1"]
    # a re-run of one as-of date replaces the earlier one in the track record
    store.record_run({"run_id": "r4", "ok": True}, [_record("1998-03-31", n_customers=1)])
    got = earlier_runs(history_url, "clv", "clv|/data/tx.csv", "1998-06-30")
    assert [r.run_id for r in got] == ["r4"]
    assert previous_run(history_url, "clv", "clv|/data/tx.csv")["run_id"] == "r4"
    assert previous_run(history_url, "clv", "clv|/data/tx.csv", exclude="r4")["run_id"] == "r2"


def test_a_failed_write_leaves_nothing(history_url):
    store = open_store(history_url)
    store.record_run({"run_id": "r1", "ok": True}, [_record("1998-03-31")])
    with pytest.raises(HistoryError, match="not recorded"):
        # the same run id again: the second insert fails, and none of its rows stay
        store.record_run({"run_id": "r1", "ok": True}, [_record("1998-06-30")])
    assert len(store.runs()) == 1 and len(store.studies()) == 1
    assert store.check() == []


def test_no_store_means_no_history(tmp_path):
    assert open_store(None) is None and open_store("none") is None
    assert earlier_runs(None, "clv", "k", "1998-01-01") == []
    # reading a store that was never written finds nothing and creates nothing
    path = tmp_path / "never.duckdb"
    assert earlier_runs(str(path), "clv", "k", "1998-01-01") == []
    assert not path.exists()


def test_an_unreachable_server_is_one_clear_error():
    store = open_store("postgresql://clm@127.0.0.1:1/none", lock_timeout=2)
    with pytest.raises(HistoryError, match=r"127\.0\.0\.1:1/none: cannot connect"):
        store.runs()


def test_figures_on_another_basis_are_shown_but_not_compared():
    from clm_lib.history import change_text, changes

    now = {"p": figure("Projection end", 0.054, "percent", basis="k = 29"),
           "c": figure("Churn", 0.332, "percent", churn=True, good="down")}
    before = {"p": figure("Projection end", 0.057, "percent", basis="k = 26"),
              "c": figure("Churn", 0.331, "percent", churn=True, good="down")}
    p, c = changes(now, before)
    assert p["change"] is None and p["previous"] == 0.057
    assert change_text(p) == "not comparable (then k = 26, now k = 29)"
    assert c["change"] == pytest.approx(0.001) and c["news"] == "bad"
    assert change_text(c) == "+0.1 pts"


def test_a_total_is_scored_where_its_interval_is_when_it_has_one():
    from clm_lib.history import score_total

    rows = ledger_frame("purchases", [10.0, 20.0, 30.0], step=[1, 2, 3], unit="week",
                        lower=[8.0, None, None], upper=[12.0, None, None], level=0.9)
    happened = lambda start, end: 9.0 * (end - start).days / 7  # noqa: E731
    got = score_total(rows, happened, "2020-01-01", "2020-01-20")  # weeks 1 and 2 covered
    assert got["step"] == 1 and got["inside"] is True and got["longest_covered"] == 2
    assert got["actual"] == pytest.approx(9.0) and got["error"] == pytest.approx(1 / 9)
    got = score_total(rows, happened, "2020-01-01", "2020-01-20", prefer_interval=False)
    assert got["step"] == 2 and got["inside"] is None
    assert score_total(rows, happened, "2020-01-01", "2020-01-05") is None  # nothing covered
