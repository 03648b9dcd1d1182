"""Parameters of a run: from a YAML config file and ``-p name=value``, checked and typed.

Values come from, in increasing priority: a YAML config file, then ``parameters``
(``-p name=value`` on the command line). A config file may hold shared values and
per-study sections::

    as_of: "1998-06-30"          # shared: applies to every selected study that has it
    transactions: data/tx.csv    # relative paths: against the config file's folder
    clv:                         # a section named after a study: only for that study
      time_unit: week

A command-line name may be prefixed with a study, ``-p clv.time_unit=week``.

Several config files may be given (``--config a.yml --config b.yml``): later files
override earlier ones, ``-p`` overrides them all; within one file a study's section
overrides the file's shared values. A config file may say which studies it is for, with
a top-level ``studies`` key (e.g. a config per dataset)::

    studies: [overview, clv]     # this file's values apply to these studies only
    transactions: data/tx.csv

Its shared values and sections then apply to those studies only, and a run that names no
study runs the union of the configs' ``studies`` (every study when a config has no such
key, or when no config is given). A study named for the run that none of the configs is
for (when every config has ``studies``) is an error, as is a section of a config for a
study it is not for.

Checks, all done before anything runs (one :class:`ParameterError` lists every problem):

* ``-p name=value`` when studies are named: every named study must have ``name``; when
  running all studies, it applies to the studies that have it and is an error only when
  none has it. Shared config values follow the all-studies rule (a config file is shared
  between runs of different studies); a name that no study at all has is an error.
* A per-study value must be a parameter of that study. ``output_dir`` is reserved.
* Every value then follows the rules of :mod:`clm_lib.run.checks` (type, range, the
  relations between parameters, the input files exist), each problem naming the study
  and the parameter.

Types: a command-line value (and every scalar in a config file) is taken as text and
converted per study from the notebook's default: when the default is a string (or the
parameter is annotated ``str``), or is ``None`` for one of the text-valued shared names
(:data:`TEXT_PARAMETERS`), the raw text is kept, so ``00123`` stays ``"00123"`` and
``1998-06-30`` stays a date string; the words ``null``, ``None`` and ``~`` give None, so
``-p segment=null`` switches a text parameter off. Otherwise
the text is read as YAML without date conversion: ``5`` -> 5 (decimal, also ``010`` -> 10), ``1e-3`` -> 0.001, ``0.5`` -> 0.5, ``true`` ->
True, ``{a: b}`` -> dict, ``[1, 2]`` -> list; text that is not valid YAML stays text. Values
given as Python objects through the API are passed unchanged.

Paths (:data:`PATH_PARAMETERS`) given relative are made absolute: against the current
working directory for command-line/API values, against the config file's folder for
config values.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from clm_lib.exceptions import ParameterError, StudyNotFoundError
from clm_lib.run.discovery import Study

__all__ = [
    "Config",
    "PATH_PARAMETERS",
    "RESERVED_PARAMETERS",
    "RawValue",
    "TEXT_PARAMETERS",
    "coerce_value",
    "config_studies",
    "load_config",
    "load_configs",
    "parse_assignment",
    "resolve_parameters",
]

#: Parameters holding file paths: relative values are made absolute before a run.
PATH_PARAMETERS = frozenset({"transactions", "subscriptions", "leads", "customers"})
#: Shared names whose values are text even when a notebook's default is None.
TEXT_PARAMETERS = frozenset(PATH_PARAMETERS | {
    "as_of", "calibration_end", "flow_start", "time_unit", "segment", "engine", "currency",
    "date_format", "encoding", "delimiter", "leads_note"})
#: Set by the runner for every study; users cannot set it.
RESERVED_PARAMETERS = frozenset({"output_dir", "history"})
#: The top-level key of a config file naming the studies the file is for.
STUDIES_KEY = "studies"
#: Top-level keys of a config file that set the run, not a study parameter:
#: ``pseudonym_key`` the secret of the pseudonyms shown in reports (default: the
#: ``CLM_PSEUDONYM_KEY`` environment variable, else a random key per run);
#: ``export_ids`` "real" (default: the ids of the input, for the CRM) or "pseudonymised";
#: ``history`` the run-history store (a DuckDB file, relative to the config's folder, or a
#: ``postgresql://`` URL; ``none`` switches it off; :mod:`clm_lib.run.history_run`);
#: ``alerts`` the thresholds of the alerts for schedulers
#: (:data:`clm_lib.run.history_run.ALERT_RULES`).
RUN_KEYS = ("pseudonym_key", "export_ids", "history", "alerts")
EXPORT_IDS = ("real", "pseudonymised")


class RawValue(str):
    """Text from the command line or a config file, converted per study by
    :func:`coerce_value` according to the notebook's default."""


class _NoDatesLoader(yaml.SafeLoader):
    """YAML SafeLoader that keeps ISO dates and times as text (a notebook wants the
    string ``"1998-06-30"``, not a ``datetime.date``)."""


_NoDatesLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_DECIMAL = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


#: Command-line words that mean None, also for text parameters.
_NULL_WORDS = frozenset({"null", "None", "~"})


def _yaml_value(text: str):
    # Plain decimal integers are read as such: YAML 1.1 would read "010" as octal 8.
    if _DECIMAL.fullmatch(text.strip()):
        return int(text.strip(), 10)
    if _FLOAT.fullmatch(text.strip()):  # YAML 1.1 wants a dot: "1e-3" would stay text
        return float(text.strip())
    try:
        return yaml.load(text, Loader=_NoDatesLoader)
    except yaml.YAMLError:
        return text


def coerce_value(study: Study, name: str, value):
    """The value a study receives for ``name`` (see the module docstring for the rule)."""
    if not isinstance(value, RawValue):
        return value
    text = str(value)
    param = study.parameters.get(name)
    is_text = (param is not None and param.is_string) or (
        name in TEXT_PARAMETERS and (param is None or param.default is None))
    if is_text:
        # A text parameter can still be switched off (e.g. -p segment=null).
        return None if text in _NULL_WORDS else text
    return _yaml_value(text)


def parse_assignment(text: str) -> tuple[str, RawValue]:
    """Split ``name=value`` (from ``-p``) into the name and the raw value text."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ParameterError(f"expected name=value, got {text!r}")
    return name, RawValue(value)


def _resolve_path(value, base: Path):
    if isinstance(value, (str, os.PathLike)) and value is not None:
        text = os.fspath(value)
        if text and "://" not in text:
            p = Path(text).expanduser()
            if not p.is_absolute():
                p = base / p
            resolved = str(p.resolve())
            return RawValue(resolved) if isinstance(value, RawValue) else resolved
    return value


def load_config(path: str | os.PathLike, study_names: Sequence[str] = ()
                ) -> tuple[dict, dict[str, dict]]:
    """Read a YAML config file into (shared values, per-study sections).

    A top-level key that is a study name with a mapping value is a per-study section.
    Scalars are returned as :class:`RawValue` (converted per study later); lists and
    mappings keep their YAML types. Relative paths are resolved against the file's folder.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        typed = yaml.load(text, Loader=_NoDatesLoader)
        raw = yaml.load(text, Loader=yaml.BaseLoader)
    except yaml.YAMLError as exc:
        raise ParameterError(f"config file {path.name} is not valid YAML: {exc}") from None
    if typed is None:
        return {}, {}
    if not isinstance(typed, Mapping):
        raise ParameterError(f"config file {path.name} must be a mapping of name: value")
    base = path.resolve().parent

    def convert(t: Mapping, r: Mapping) -> dict:
        out = {}
        for key, value in t.items():
            rv = r.get(str(key))
            if isinstance(value, (Mapping, list)) or value is None:
                v = value
            else:
                v = RawValue(rv if isinstance(rv, str) else str(value))
            if key in PATH_PARAMETERS:
                v = _resolve_path(v, base)
            out[str(key)] = v
        return out

    shared_t = {k: v for k, v in typed.items()
                if not (k in study_names and isinstance(v, Mapping))}
    sections = {k: v for k, v in typed.items() if k in study_names and isinstance(v, Mapping)}
    shared = convert(shared_t, raw)
    per_study = {k: convert(v, raw.get(k, {})) for k, v in sections.items()}
    return shared, per_study


def _split_cli(parameters: Mapping | Sequence | None, base: Path
               ) -> tuple[dict, dict[str, dict]]:
    shared: dict = {}
    per_study: dict[str, dict] = {}
    if parameters is None:
        return shared, per_study
    items = parameters.items() if isinstance(parameters, Mapping) else parameters
    for key, value in items:
        study, dot, name = str(key).rpartition(".")
        target = per_study.setdefault(study, {}) if dot else shared
        if name in PATH_PARAMETERS:
            value = _resolve_path(value, base)
        target[name] = value
    return shared, per_study


def _describe(study: Study) -> str:
    names = ", ".join(n for n in study.parameters if n not in RESERVED_PARAMETERS)
    return f"{study.name} (parameters: {names or 'none'})"


@dataclass(frozen=True)
class Config:
    """One config file (or mapping) of a run, read.

    Attributes
    ----------
    label : str
        The file's path, or ``"config"`` for a mapping given through the API.
    shared : dict
        Values for every study the config is for.
    sections : dict
        ``{study: {name: value}}``, values for one study.
    studies : tuple of str or None
        The studies the config is for (its ``studies`` key); None: every study.
    path : str or None
        The file's absolute path; None for a mapping.
    run : dict
        The run settings it gives (``RUN_KEYS``), e.g. ``{"export_ids": "real"}``.
    """

    label: str
    shared: dict = field(default_factory=dict)
    sections: dict = field(default_factory=dict)
    studies: tuple[str, ...] | None = None
    path: str | None = None
    run: dict = field(default_factory=dict)

    def is_for(self, study: str) -> bool:
        return self.studies is None or study in self.studies


def _one_config(config, names_all: Sequence[str], base: Path) -> tuple[Config, list[str]]:
    if isinstance(config, Config):
        return config, []
    path = None
    if isinstance(config, Mapping):
        label = "config"
        shared = {k: v for k, v in config.items()
                  if not (k in names_all and isinstance(v, Mapping))}
        sections = {k: dict(v) for k, v in config.items()
                    if k in names_all and isinstance(v, Mapping)}
        shared = {k: _resolve_path(v, base) if k in PATH_PARAMETERS else v
                  for k, v in shared.items()}
    else:
        label, path = str(config), str(Path(config).resolve())
        shared, sections = load_config(config, names_all)
    problems = []
    run = {k: shared.pop(k) for k in RUN_KEYS if k in shared}
    if "pseudonym_key" in run and (not isinstance(run["pseudonym_key"], str) or len(run["pseudonym_key"]) < 16):
        problems.append(f"{label}: 'pseudonym_key' must be a secret text of at least 16 characters")
    if "export_ids" in run and run["export_ids"] not in EXPORT_IDS:
        problems.append(f"{label}: 'export_ids' must be one of {', '.join(EXPORT_IDS)}, "
                        f"got {run['export_ids']!r}")
    if "history" in run:
        value = run["history"]
        if value is not None and not isinstance(value, str):
            problems.append(f"{label}: 'history' must be a file path or a postgresql:// URL, "
                            f"got {value!r}")
        elif (isinstance(value, str) and "://" not in value
              and value.strip().lower() not in ("", "none", "off", "false")):
            # relative to the config file's folder, like its data files
            run["history"] = _resolve_path(value, Path(path).parent if path else base)
    if "alerts" in run:
        from clm_lib.run.history_run import check_alert_rules

        try:
            run["alerts"] = check_alert_rules(run["alerts"], label)
        except ParameterError as exc:
            problems.append(str(exc))
    studies = shared.pop(STUDIES_KEY, None)
    if studies is not None:
        if isinstance(studies, str):  # "studies: clv" names one study
            studies = [studies]
        if not isinstance(studies, list) or not all(isinstance(n, str) for n in studies):
            problems.append(f"{label}: '{STUDIES_KEY}' must be a list of study names, "
                            f"got {studies!r}")
            studies = None
        else:
            unknown = [n for n in studies if n not in names_all]
            if unknown:
                problems.append(f"{label}: '{STUDIES_KEY}' names unknown stud"
                                f"{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} "
                                f"(valid studies: {', '.join(names_all)})")
            studies = tuple(dict.fromkeys(n for n in studies if n in names_all))
    return Config(label, shared, sections, studies, path, run), problems


def load_configs(config, all_studies: Sequence[Study], cwd: str | os.PathLike | None = None
                 ) -> list[Config]:
    """Read the config files of a run (see the module docstring), in the order given.

    Parameters
    ----------
    config : path, mapping, Config, or a sequence of them; optional
        YAML config files, or already loaded mappings of the same shape (relative paths
        in a mapping are taken against ``cwd``).
    all_studies : sequence of Study
        Every study found (a top-level key naming one is a per-study section).
    cwd : path, optional
        Base of relative paths in mappings (default: the current directory).

    Raises
    ------
    ParameterError
        A file that cannot be read or is not a mapping; a ``studies`` key that is not a
        list of study names.
    """
    if config is None:
        return []
    items = (list(config) if isinstance(config, Sequence) and not isinstance(config, str)
             else [config])
    names_all = [s.name for s in all_studies]
    base = Path(cwd) if cwd is not None else Path.cwd()
    out, problems = [], []
    for item in items:
        cfg, found = _one_config(item, names_all, base)
        out.append(cfg)
        problems += found
    if problems:
        raise ParameterError("; ".join(problems))
    return out


def config_studies(configs: Sequence[Config], all_studies: Sequence[Study]) -> list[str] | None:
    """The studies a run that names none runs: the union of the configs' ``studies``, in
    study order; None (every study) when there is no config or one has no ``studies``."""
    if not configs or any(c.studies is None for c in configs):
        return None
    wanted = {n for c in configs for n in c.studies}
    return [s.name for s in all_studies if s.name in wanted]


def _config_problems(configs: Sequence[Config], selected: Sequence[Study],
                     all_studies: Sequence[Study], run_all: bool) -> list[str]:
    names_all = [s.name for s in all_studies]
    by_name = {s.name: s for s in all_studies}
    problems: list[str] = []
    for cfg in configs:
        own = [by_name[n] for n in (cfg.studies if cfg.studies is not None else names_all)]
        for name in cfg.shared:
            if name in RESERVED_PARAMETERS:
                problems.append(f"'{name}' is set by the runner and cannot be given")
            elif cfg.studies is None and not any(name in s.parameters for s in own):
                problems.append(f"config entry '{name}' is neither a parameter of any study "
                                f"nor a study name (studies: {', '.join(names_all)})")
            elif not any(name in s.parameters for s in own):
                problems.append(f"config entry '{name}' of {cfg.label} is a parameter of none "
                                f"of the studies it is for ({', '.join(cfg.studies)})")
        for study_name in cfg.sections:
            if not cfg.is_for(study_name):
                problems.append(f"{cfg.label} has a section for {study_name} but is for "
                                f"{', '.join(cfg.studies)} only ('{STUDIES_KEY}')")
    if configs and not run_all and all(c.studies is not None for c in configs):
        lacking = [s.name for s in selected if not any(c.is_for(s.name) for c in configs)]
        if lacking:
            described = "; ".join(f"{c.label} is for {', '.join(c.studies) or 'no study'}"
                                  for c in configs)
            problems.append(f"no config file is for {', '.join(lacking)} ({described})")
    return problems


def resolve_parameters(selected: Sequence[Study], *, all_studies: Sequence[Study],
                       run_all: bool, parameters=None, config=None,
                       cwd: str | os.PathLike | None = None) -> dict[str, dict]:
    """Per-study parameter values for a run, after every check (see the module docstring).

    Parameters
    ----------
    selected : sequence of Study
        The studies to run.
    all_studies : sequence of Study
        Every study found (config sections may name studies that are not selected).
    run_all : bool
        True when no study was named (lenient rule for shared ``-p`` values).
    parameters : mapping or sequence of (name, value), optional
        Command-line/API values; names may be ``study.name``.
    config : path, mapping or Config, or a sequence of them; optional
        YAML config files (later ones override earlier ones), or already loaded mappings
        of the same shape (see :func:`load_configs`).
    cwd : path, optional
        Base for relative paths of ``parameters`` and of config mappings (default: the
        current directory).

    Returns
    -------
    dict
        ``{study name: {parameter: value}}`` for every selected study (only the values
        set for this run; ``output_dir`` is added by the runner).

    Raises
    ------
    ParameterError
        Listing every unknown, misplaced or reserved parameter, or, once the names are
        right, every value that breaks a rule of :mod:`clm_lib.run.checks` (each naming
        the study and the parameter).
    StudyNotFoundError
        When a ``study.name`` value names no study.
    """
    from clm_lib.run.checks import check_values

    names_all = [s.name for s in all_studies]
    by_name = {s.name: s for s in all_studies}
    base = Path(cwd) if cwd is not None else Path.cwd()
    configs = load_configs(config, all_studies, cwd=base)
    cli_shared, cli_sections = _split_cli(parameters, base)

    problems = _config_problems(configs, selected, all_studies, run_all)
    for name in cli_shared:
        if name in RESERVED_PARAMETERS:
            problems.append(f"'{name}' is set by the runner and cannot be given")
            continue
        lacking = [s for s in selected if name not in s.parameters]
        if run_all:
            if len(lacking) == len(selected):
                problems.append(f"unknown parameter '{name}': no study has it")
        else:
            problems += [f"unknown parameter '{name}' for study {_describe(s)}" for s in lacking]
    sections = [("config section", c.sections) for c in configs] + [("-p", cli_sections)]
    for origin, per_study in sections:
        for study_name, values in per_study.items():
            if study_name not in by_name:
                raise StudyNotFoundError(
                    f"unknown study {study_name!r} in {origin} "
                    f"{study_name}.{next(iter(values), '')}; valid studies: {', '.join(names_all)}")
            study = by_name[study_name]
            for name in values:
                if name in RESERVED_PARAMETERS:
                    problems.append(f"'{name}' is set by the runner and cannot be given")
                elif name not in study.parameters:
                    problems.append(f"unknown parameter '{name}' for study {_describe(study)}")
    if problems:
        raise ParameterError("; ".join(dict.fromkeys(problems)))

    out: dict[str, dict] = {}
    for study in selected:
        layers = [layer for c in configs if c.is_for(study.name)
                  for layer in (c.shared, c.sections.get(study.name, {}))]
        layers += [cli_shared, cli_sections.get(study.name, {})]
        values: dict = {}
        for layer in layers:
            for name, value in layer.items():
                if name in study.parameters:
                    values[name] = coerce_value(study, name, value)
        out[study.name] = values
        problems += check_values(study.name, values, study.defaults())
    if problems:
        text = "; ".join(dict.fromkeys(problems))
        if any(" is required (a path" in p for p in problems):
            text += (" -- give the input with -p transactions=FILE (or subscriptions=FILE), "
                     "or a config written by `clm init FILE`; the bundled samples run with "
                     "--config examples/cdnow.yml --config examples/telco.yml")
        raise ParameterError(text)
    return out
