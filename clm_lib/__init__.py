"""clm_lib: the logic behind the customer-lifecycle analytics workbench.

Public names are re-exported here. The light ones (exceptions, the data-quality record)
are imported at once; the rest on first use (PEP 562), so that ``import clm_lib`` and the
``clm`` command stay fast while ``clm_lib.load_transactions`` etc. still work.
Study modules are used as modules: ``from clm_lib.studies.cohort_retention import compute as cohorts, survival, lifecycle``.
"""
from importlib import import_module

from clm_lib.exceptions import (
    ClmError,
    ClmWarning,
    ConvergenceError,
    ConvergenceWarning,
    DataContractError,
    DataQualityWarning,
    FileFormatError,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
    StudyNotFoundError,
)
from clm_lib.io.quality import DataQuality

__version__ = "0.1.0"

# name -> module that defines it
_LAZY = {
    # data contract and loading
    "read_table": "clm_lib.io.load",
    "load_transactions": "clm_lib.io.load",
    "load_subscriptions": "clm_lib.io.load",
    "load_leads": "clm_lib.io.load",
    "validate_file": "clm_lib.io.load",
    # reductions (on the default engine)
    "get_engine": "clm_lib.reduce.engine",
    "summary_data": "clm_lib.reduce.engine",
    "compress": "clm_lib.reduce.engine",
    "subscription_durations": "clm_lib.reduce.engine",
    # customer-base models
    "BetaGeoModel": "clm_lib.clv",
    "ParetoNBDModel": "clm_lib.clv",
    "ModifiedBetaGeoModel": "clm_lib.clv",
    "GammaGammaModel": "clm_lib.clv",
    "BetaGeoBetaBinomModel": "clm_lib.clv",
    "ShiftedBetaGeometric": "clm_lib.clv",
    # notebook helpers (the report's building blocks)
    "Decision": "clm_lib.reporting",
    "show_decision": "clm_lib.reporting",
    "show_figure": "clm_lib.reporting",
    "show_chart": "clm_lib.reporting",
    "show_note": "clm_lib.reporting",
    "omit_section": "clm_lib.reporting",
    "Column": "clm_lib.reporting",
    "show_summary": "clm_lib.reporting",
    "show_table": "clm_lib.reporting",
    "save_metrics": "clm_lib.reporting",
    "save_export": "clm_lib.reporting",
    "pseudonymise": "clm_lib.reporting",
    # batch runs (imports nbformat/papermill: keep it lazy)
    "run_studies": "clm_lib.run.execute",
    "list_studies": "clm_lib.run.discovery",
}

__all__ = [
    "ClmError",
    "ClmWarning",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataContractError",
    "DataQuality",
    "DataQualityWarning",
    "FileFormatError",
    "InsufficientDataError",
    "MissingColumnsError",
    "ParameterError",
    "StudyNotFoundError",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'clm_lib' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
