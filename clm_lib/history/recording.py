"""What a finished study puts in the history store, read from its output folder.

The runner calls :func:`study_record` for each successful study of a run and writes the
records with :meth:`~clm_lib.history.store.HistoryStore.record_run`, all in one
transaction. Tests and notebooks that fill a store by hand use the same function.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from clm_lib.history.ledger import read_forecasts, source_key
from clm_lib.history.store import StudyRecord

__all__ = ["INPUT_PARAMETERS", "fingerprint", "study_inputs", "study_key", "study_record"]

#: The parameters that name a study's input files (what makes two runs comparable).
INPUT_PARAMETERS = ("transactions", "subscriptions", "leads", "customers")


def study_inputs(parameters: Mapping) -> dict:
    """``{kind: path}`` of the input files among a study's parameters."""
    return {k: parameters[k] for k in INPUT_PARAMETERS if parameters.get(k) is not None}


def study_key(study: str, parameters: Mapping) -> str:
    """The source key of a study run with ``parameters`` (:func:`source_key` of its input
    files; ``"<study>|"`` for a study without input files)."""
    return source_key(study, study_inputs(parameters)) or f"{study}|"


def fingerprint(parameters: Mapping, metrics: Mapping) -> dict:
    """What the study read: its input files' names, the rows in and used per data-quality
    record, and a hash of each record (so that two runs on the same rows can be told
    from two runs on different ones)."""
    files = {k: Path(str(v)).name for k, v in study_inputs(parameters).items()}
    records = {}
    for key, dq in metrics.items():
        if not (key == "data_quality" or key.endswith("_data_quality")) or not isinstance(dq, Mapping):
            continue
        text = json.dumps(dq, sort_keys=True, default=str)
        records[key] = {"source": dq.get("source"), "rows_in": dq.get("rows_in"),
                        "rows_used": dq.get("rows_used"),
                        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    return {"files": files, "data_quality": records}


def study_record(study: str, study_dir: str | os.PathLike, parameters: Mapping) -> StudyRecord:
    """The record of a finished study from its output folder: ``metrics.json`` (the
    ``as_of``, the numeric ``figures``, the whole metrics) and ``forecasts.parquet`` (the
    ledger rows, :func:`clm_lib.history.ledger.save_forecasts`)."""
    folder = Path(study_dir)
    try:
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        metrics = {}
    if not isinstance(metrics, dict):
        metrics = {}
    key = study_key(study, parameters)
    as_of = metrics.get("as_of")
    return StudyRecord(
        study=study, source_key=key, as_of=None if as_of is None else str(as_of)[:10],
        fingerprint=fingerprint(parameters, metrics),
        parameters={k: v for k, v in parameters.items() if k != "output_dir"},
        figures=metrics.get("figures") or {}, metrics=metrics,
        forecasts=read_forecasts(folder))
