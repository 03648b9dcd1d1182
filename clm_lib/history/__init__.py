"""Run history: the store of every run (:mod:`.store`), the forecast ledger
(:mod:`.ledger`), scoring earlier forecasts (:mod:`.scoring`), headline figures and their
changes (:mod:`.changes`) and what a run records (:mod:`.recording`); the alert rules
for schedulers are the runner's (:mod:`clm_lib.run.history_run`)."""
from clm_lib.history.changes import change_text, changes, figure, value_text
from clm_lib.history.ledger import (FORECASTS_FILE, covered_steps, ledger_frame,
                                    read_forecasts, save_forecasts, source_key, window_end)
from clm_lib.history.scoring import (EarlierRun, calibration, coverage, earlier_runs,
                                     previous_run, score_keys, score_total, summary, TrackRecord)
from clm_lib.history.store import HistoryError, HistoryStore, StudyRecord, open_store
from clm_lib.history.recording import fingerprint, study_inputs, study_key, study_record

__all__ = [
    "EarlierRun", "FORECASTS_FILE", "TrackRecord", "HistoryError", "HistoryStore", "StudyRecord",
    "calibration", "change_text", "changes", "coverage", "covered_steps", "earlier_runs",
    "figure", "ledger_frame", "open_store", "previous_run", "read_forecasts",
    "save_forecasts", "score_keys", "score_total", "source_key", "summary", "value_text",
    "window_end", "fingerprint", "study_inputs", "study_key", "study_record",
]
