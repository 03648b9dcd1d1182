"""The package's exceptions and warnings: one base class, specific subclasses with fields."""
from __future__ import annotations

from collections.abc import Mapping, Sequence


class ClmError(Exception):
    """Base class of every error raised by ``clm_lib``."""


class DataContractError(ClmError, ValueError):
    """Input data break the data contract.

    The message names the column, the reason, the number of offending rows and at most
    five row numbers (0-based positions in the input); raw values are never included,
    since they may be customer data.
    """

    def __init__(self, column: str | None, reason: str, n_rows: int = 0,
                 rows: Sequence[int] = ()):
        self.column = column
        self.reason = reason
        self.n_rows = int(n_rows)
        self.rows = [int(r) for r in list(rows)[:5]]
        where = f"column '{column}'" if column is not None else "input"
        msg = f"{where}: {reason}"
        if self.n_rows:
            msg += f" ({self.n_rows} row{'s' if self.n_rows != 1 else ''}"
            if self.rows:
                msg += f", e.g. rows {', '.join(map(str, self.rows))}"
            msg += ")"
        super().__init__(msg)


class MissingColumnsError(DataContractError):
    """Required columns are absent; names what is missing and what was found."""

    def __init__(self, missing: Sequence[str], found: Sequence[str], what: str = "input",
                 suggestion: Mapping[str, str] | None = None):
        self.missing = list(missing)
        self.found = list(found)
        #: {source name: canonical name}, the likely mapping of the missing columns
        #: (:func:`clm_lib.io.sniff.suggest_columns`), quoted in the message.
        self.suggestion = dict(suggestion or {})
        msg = f"{what} lacks required column(s) {self.missing}; found {self.found}"
        if self.suggestion:
            pairs = ", ".join(f"{k}: {v}" for k, v in self.suggestion.items())
            msg += f"; did you mean columns {{{pairs}}}?"
        ClmError.__init__(self, msg)
        self.column = self.missing[0] if self.missing else None
        self.reason = "missing column"
        self.n_rows = 0
        self.rows = []


class FileFormatError(ClmError, ValueError):
    """A file cannot be read as the reading options say: its bytes are not in the
    ``encoding`` given (UTF-8 by default), or its header reads as one column because the
    ``delimiter`` is another. ``option`` names the option to set and ``value`` the likely
    right value (None when no guess)."""

    def __init__(self, message: str, *, option: str, value: str | None = None):
        super().__init__(message)
        self.option = option
        self.value = value


class _ModelFailure:
    """Fields of an error about a model's fit: ``model``, the model's name (e.g.
    "BG/NBD"), and ``reason``, the message without that name, so that a report can name
    several models that failed for one reason once. Raise with ``model=`` and
    ``reason=`` (the message is then built from ``_template``) or with a message alone
    (``reason`` is then the message)."""

    _template = "{model}: {reason}"

    def __init__(self, message: str | None = None, *, model: str | None = None,
                 reason: str | None = None):
        if message is None:
            message = self._template.format(model=model, reason=reason)
        super().__init__(message)
        self.model = model
        self.reason = message if reason is None else reason


class InsufficientDataError(_ModelFailure, ClmError, ValueError):
    """Too little data to compute or fit what was asked for; from a model, the message
    is "<model> cannot be fitted: <reason>"."""

    _template = "{model} cannot be fitted: {reason}"


class ConvergenceError(_ModelFailure, ClmError, RuntimeError):
    """A model fit did not converge or landed on a degenerate boundary; the message is
    "<model>: <reason>"."""


class ParameterError(ClmError, ValueError):
    """A study parameter is unknown or has an invalid value."""


class StudyNotFoundError(ClmError, LookupError):
    """No study of that name exists."""


class ClmWarning(UserWarning):
    """Base class of the package's warnings."""


class DataQualityWarning(ClmWarning):
    """Something in the data deserves attention but was kept (e.g. identical rows)."""


class ConvergenceWarning(ClmWarning):
    """A fit converged with a caveat (e.g. a parameter near a boundary)."""
