"""clm_lib: the logic behind the customer-lifecycle analytics workbench."""
from clm_lib.exceptions import (
    ClmError,
    ClmWarning,
    ConvergenceError,
    ConvergenceWarning,
    DataContractError,
    DataQualityWarning,
    InsufficientDataError,
    MissingColumnsError,
    ParameterError,
    StudyNotFoundError,
)
from clm_lib.quality import DataQuality

__version__ = "0.1.0"

__all__ = [
    "ClmError",
    "ClmWarning",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataContractError",
    "DataQuality",
    "DataQualityWarning",
    "InsufficientDataError",
    "MissingColumnsError",
    "ParameterError",
    "StudyNotFoundError",
    "__version__",
]
