"""The issue's scheduled-runs case on CDNOW master: two runs, as of 1998-03-31 and
1998-06-30, into one store. The second run's CLV report scores the first run's 13-week
forecast against the purchases that happened, and its index shows the change of every
headline figure of every study."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from clm_lib.config import CDNOW_MASTER, EXAMPLES_DIR
from clm_lib.history import open_store
from clm_lib.reporting import escape
from clm_lib.run.execute import run_studies

pytestmark = pytest.mark.slow
STUDIES = ("overview", "cohort_retention", "clv", "lifecycle_segments")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scheduled")
    url = str(folder / "history.duckdb")
    runs = {}
    for as_of in ("1998-03-31", "1998-06-30"):
        run = run_studies(out_dir=folder / as_of, config=[EXAMPLES_DIR / "cdnow.yml"],
                          parameters={"as_of": as_of}, history=url, progress=False)
        assert run.ok, {n: r.error for n, r in run.studies.items() if not r.ok}
        runs[as_of] = run
    return folder, url, runs


def _metrics(folder, as_of, study):
    return json.loads((folder / as_of / study / "metrics.json").read_text())


def test_the_second_run_scores_the_first_runs_13_week_forecast(two_runs):
    folder, url, runs = two_runs
    store = open_store(url)
    assert store.check() == []
    assert sorted(store.studies("clv")["as_of"]) == ["1998-03-31", "1998-06-30"]
    record = _metrics(folder, "1998-06-30", "clv")["track_record"]
    entry = next(e for e in record["entries"]
                 if e["name"] == "purchases" and e["as_of"] == "1998-03-31")
    assert entry["step"] == 13 and entry["unit"] == "week"
    assert entry["window"] == ["1998-03-31", "1998-06-30"]
    # what happened, computed here from the file: the purchases (one per customer and day,
    # as the model counts them) of the first run's customers in (1998-03-31, 1998-06-30]
    tx = pd.read_csv(CDNOW_MASTER, dtype={"customer_id": str}, parse_dates=["date"])
    days = tx[["customer_id", "date"]].drop_duplicates()
    known = days.loc[days["date"] <= "1998-03-31", "customer_id"].unique()
    window = days[(days["date"] > "1998-03-31") & (days["date"] <= "1998-06-30")
                  & days["customer_id"].isin(known)]
    assert entry["actual"] == len(window)
    first = _metrics(folder, "1998-03-31", "clv")
    assert first["track_record"]["scored"] == 0  # nothing before it
    assert entry["inside"] == (entry["lower"] <= entry["actual"] <= entry["upper"])
    report = (folder / "1998-06-30" / "clv" / "report.html").read_text()
    assert "Track record" in report


def test_the_index_shows_the_change_of_every_headline_figure(two_runs):
    folder, url, runs = two_runs
    run = json.loads((folder / "1998-06-30" / "run.json").read_text())
    index = (folder / "1998-06-30" / "index.html").read_text()
    assert "Since the last run" in index
    for study in STUDIES:
        metrics = _metrics(folder, "1998-06-30", study)
        figures = metrics["figures"]
        assert len(figures) >= len(metrics["headline"]), study
        changes = run["studies"][study]["changes"]
        assert changes["previous"]["as_of"] == "1998-03-31"
        assert [c["key"] for c in changes["changes"]] == list(figures)
        for c in changes["changes"]:
            assert c["previous"] is not None, (study, c["key"])
            # a change, or two different bases side by side (a projection's end moves on)
            assert (c["change"] is not None) != (c["basis"] != c["previous_basis"]), (study, c)
        for fig in figures.values():
            assert escape(fig["label"]) in index, (study, fig["label"])
