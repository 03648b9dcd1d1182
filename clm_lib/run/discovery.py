"""Discovery of the study notebooks and of their parameters.

A study is a notebook ``NN_<name>.ipynb`` in the notebooks folder (``NN`` two digits that
fix the order); its name is the file stem without ``NN_`` and its title the first
markdown heading ``# ...``. Its parameters are the assignments of the code cell tagged
``parameters`` (read with :func:`papermill.inspect_notebook`, the same parser papermill
uses when it injects values), with the default evaluated as a Python literal.
"""
from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from clm_lib.config import NOTEBOOKS_DIR
from clm_lib.exceptions import ClmError, StudyNotFoundError

__all__ = ["Parameter", "Study", "get_study", "list_studies"]

_PATTERN = "[0-9][0-9]_*.ipynb"
_NUMBERED = re.compile(r"^(\d\d)_(.+)$")
_NO_DEFAULT = object()


@dataclass(frozen=True)
class Parameter:
    """One assignment of a notebook's ``parameters`` cell.

    Attributes
    ----------
    name : str
        Variable name.
    default_text : str
        The default as written in the notebook (Python source).
    default : object
        The default evaluated as a Python literal; the raw text when it is not a literal.
    type_name : str
        ``type(default).__name__`` for literals, else the annotation papermill found
        (``"None"`` when unknown).
    help : str
        The trailing comment of the assignment, if any.
    """

    name: str
    default_text: str
    default: object
    type_name: str
    help: str = ""

    @property
    def is_string(self) -> bool:
        """True when values given on the command line must stay raw strings."""
        return isinstance(self.default, str) or self.type_name == "str"


@dataclass(frozen=True)
class Study:
    """A study notebook: number, name, title, path and parameters (in cell order)."""

    number: int
    name: str
    title: str
    path: Path
    parameters: dict[str, Parameter] = field(default_factory=dict)

    def defaults(self) -> dict[str, object]:
        """Parameter defaults by name."""
        return {p.name: p.default for p in self.parameters.values()}


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return ""


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _NO_DEFAULT


def _parameters(path: Path) -> dict[str, Parameter]:
    import papermill

    out: dict[str, Parameter] = {}
    for name, p in papermill.inspect_notebook(str(path)).items():
        text = p.get("default", "")
        value = _literal(text)
        annotation = p.get("inferred_type_name") or "None"
        if value is _NO_DEFAULT:
            value, type_name = text, annotation
        else:
            type_name = annotation if annotation != "None" else type(value).__name__
        out[name] = Parameter(name=name, default_text=text, default=value,
                              type_name=type_name, help=p.get("help", "") or "")
    return out


def _load(path: Path) -> Study:
    number, name = _NUMBERED.match(path.stem).groups()
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - invalid JSON or notebook format
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ClmError(f"cannot read study notebook {path.name}: {type(exc).__name__}: "
                       f"{first}") from None
    return Study(number=int(number), name=name, title=_title(nb) or name,
                 path=path.resolve(), parameters=_parameters(path))


# Inspection costs a few ms per notebook; cache by (path, mtime, size) so a long-lived
# process (tests, the runner) re-reads a notebook only when it changed.
_CACHE: dict[tuple[str, int, int], Study] = {}


def _cached(path: Path) -> Study:
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    study = _CACHE.get(key)
    if study is None:
        study = _CACHE[key] = _load(path)
    return study


def list_studies(notebooks_dir: str | os.PathLike | None = None) -> list[Study]:
    """All studies in ``notebooks_dir`` (default :data:`clm_lib.config.NOTEBOOKS_DIR`).

    Ordered by number, then name. A missing folder gives an empty list.
    """
    folder = Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS_DIR
    paths = [p for p in folder.glob(_PATTERN) if _NUMBERED.match(p.stem)]
    studies = [_cached(p) for p in paths]
    return sorted(studies, key=lambda s: (s.number, s.name))


def get_study(name: str, notebooks_dir: str | os.PathLike | None = None) -> Study:
    """The study called ``name``.

    Raises
    ------
    StudyNotFoundError
        When no notebook has that name; the message lists the valid names.
    """
    studies = list_studies(notebooks_dir)
    for study in studies:
        # the file stem (``10_cohort_retention``) is accepted too
        if name in (study.name, study.path.stem, study.path.name):
            return study
    valid = ", ".join(s.name for s in studies) or "(none found)"
    raise StudyNotFoundError(f"unknown study {name!r}; valid studies: {valid}")
