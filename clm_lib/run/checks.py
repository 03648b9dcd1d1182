"""The rules every study parameter must follow, checked before any kernel starts.

:data:`RULES` holds one rule per parameter name, the meaning a name has in every study
that takes it; :data:`STUDY_RULES` overrides it where a study gives the name another
meaning (survival's ``margin`` is a column name or a number per period; CLV's is a
fraction of spend). :data:`RELATIONS` are the rules between parameters (calibration end
before as_of, one input of two, increasing thresholds). :func:`check_values` applies
them all to the values of one study and returns every problem, each naming the study and
the parameter, what is expected and what was given::

    clv: horizon must be a positive whole number of time units (time_unit), got 'abc'

A rule returns the problems of one value (an empty list when it is fine); the values it
sees are typed (``-p`` text is converted by :func:`clm_lib.run.parameters.coerce_value`
first). Type and range rules apply to the values given for the run; relations and the
required inputs apply to the values the study will use (the notebook's defaults where
nothing was given), since a notebook default is trusted on its own but not in every
combination with what the user gives.
"""
from __future__ import annotations

import codecs
import datetime as _dt
import glob
import math
import os
from collections.abc import Callable, Mapping, Sequence

from clm_lib.checks import TIME_UNITS
from clm_lib.io.contract import ID_NUMBER_POLICIES, NEGATIVE_AMOUNT_POLICIES
from clm_lib.io.options import CONTRACT_OPTIONS
from clm_lib.reduce.engine import ENGINES
from clm_lib.reduce.periods import COHORT_PERIODS
from clm_lib.studies.lifecycle_segments.stages import TIME_UNITS as UNITS_OF_PURCHASE_MODELS

__all__ = ["FILE_PARAMETERS", "RELATIONS", "RULES", "STUDY_RULES", "Rule", "check_values",
           "rule_for"]

#: ``Rule(name, value) -> problems``: the messages (without the study) of a bad value.
Rule = Callable[[str, object], list]

#: Parameters naming an input file (a path, a glob, a Parquet folder or a URL).
FILE_PARAMETERS = ("transactions", "subscriptions", "leads")


# --------------------------------------------------------------------------- value tests

def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_date(v) -> bool:
    return _as_datetime(v) is not None


def _as_datetime(v) -> _dt.datetime | None:
    """An ISO date or date-time as a naive datetime; None when ``v`` is not one."""
    if isinstance(v, _dt.datetime):
        return v.replace(tzinfo=None)
    if isinstance(v, _dt.date):
        return _dt.datetime(v.year, v.month, v.day)
    if isinstance(v, str):
        try:
            return _dt.datetime.fromisoformat(v.strip()).replace(tzinfo=None)
        except ValueError:
            return None
    return None


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _rule(expected: str, ok: Callable[[object], bool], *, optional: bool = False) -> Rule:
    """A rule from a test: ``"<name> must be <expected>, got <value>"`` when it fails.
    ``optional``: None is accepted (it means "not given" or "from the data")."""
    def rule(name: str, value) -> list:
        if optional and value is None:
            return []
        try:
            good = bool(ok(value))
        except (TypeError, ValueError):
            good = False
        return [] if good else [f"{name} must be {expected}, got {_show(value)}"]
    rule.expected = expected + (" (or None)" if optional else "")
    return rule


def _one_of(choices: Sequence[str], optional: bool = False) -> Rule:
    return _rule(f"one of {', '.join(map(str, choices))}", lambda v: v in choices,
                 optional=optional)


def _list_of(test: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda v: isinstance(v, (list, tuple)) and all(test(x) for x in v)


def _increasing(v) -> bool:
    return all(a < b for a, b in zip(v, v[1:]))


def _day_brackets(v) -> bool:
    """Day ranges since the start day, e.g. ``"1-7,8-30"``, ``["1-7", "8-30"]`` or
    ``[[1, 7], [8, 30]]``:
    whole days, each range low <= high, the ranges increasing and not overlapping."""
    if isinstance(v, str):
        v = [b.strip() for b in v.split(",")]
    if not isinstance(v, (list, tuple)) or not v:
        return False
    pairs = []
    for b in v:
        if isinstance(b, str):
            lo, sep, hi = b.partition("-")
            if not sep:
                return False
            b = (int(lo), int(hi))
        if not (isinstance(b, (list, tuple)) and len(b) == 2 and all(_is_int(x) for x in b)):
            return False
        pairs.append(tuple(b))
    return all(0 <= lo <= hi for lo, hi in pairs) and all(
        a[1] < b[0] for a, b in zip(pairs, pairs[1:]))


def _encoding(v) -> bool:
    try:
        codecs.lookup(v)
    except LookupError:
        return False
    return True


def _date_format(v) -> bool:
    # a strptime format has at least one directive; formatting a date with it must work
    return isinstance(v, str) and "%" in v and bool(_dt.datetime(2001, 2, 3).strftime(v))


# --------------------------------------------------------------------------- compound rules

def _file(name: str, value) -> list:
    if value is None:  # switched off (-p leads=null); a required input is a relation
        return []
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value).strip():
        return [f"{name} must be a path to a file (CSV or Parquet), a glob or a Parquet "
                f"folder, got {_show(value)}"]
    text = os.fspath(value)
    if "://" in text or os.path.exists(text) or glob.glob(text):
        return []
    if glob.has_magic(text):
        return [f"{name}: no file matches {text}"]
    return [f"{name} file {text} does not exist"]


def _columns(name: str, value) -> list:
    if value is None:
        return []
    if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return [f"{name} must be a mapping of source column name to canonical name "
                f"(text: text), got {_show(value)}"]
    return []


def _contract_options() -> dict[str, Rule]:
    return {
        "negative_amounts": _one_of(NEGATIVE_AMOUNT_POLICIES),
        "cancellation_prefix": _rule("a text prefix of order ids (e.g. 'C')",
                                     lambda v: isinstance(v, str) and v != "", optional=True),
        "max_amount": _rule("a positive number (currency)", lambda v: _is_number(v) and v > 0,
                            optional=True),
        "earliest_date": _rule("an ISO date (YYYY-MM-DD)", _is_date, optional=True),
        "id_numbers": _one_of(ID_NUMBER_POLICIES),
        "max_tenure": _rule("a positive number (periods of the data)",
                            lambda v: _is_number(v) and v > 0, optional=True),
    }


def _contract(name: str, value) -> list:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [f"{name} must be a mapping of contract options "
                f"(e.g. {{negative_amounts: drop}}), got {_show(value)}"]
    known = {n for names in CONTRACT_OPTIONS.values() for n in names}
    rules = _contract_options()
    problems = []
    for key, v in value.items():
        if key not in known:
            problems.append(f"{name}: unknown option {key!r} (the options are "
                            f"{', '.join(sorted(known))})")
        elif key in rules:
            problems += rules[key](f"{name}.{key}", v)
    return problems


def _covariates(name: str, value) -> list:
    # None: chosen from the columns present; []: no covariates
    if value is None or _list_of(lambda c: isinstance(c, str))(value):
        return []
    return [f"{name} must be a list of column names (None: chosen from the columns, "
            f"[]: none), got {_show(value)}"]


def _process_covariates(name: str, value) -> list:
    # None: the same as `covariates`; []: none on this process
    if value is None or _list_of(lambda c: isinstance(c, str) and c != "")(value):
        return []
    return [f"{name} must be a list of column names (None: the same as covariates, "
            f"[]: none), got {_show(value)}"]


def _baselines(name: str, value) -> list:
    if isinstance(value, Mapping) and all(
            isinstance(k, str) and (v is None or isinstance(v, (str, int, float, bool)))
            for k, v in value.items()):
        return []
    return [f"{name} must be a mapping of covariate to its reference level "
            f"(column: level), got {_show(value)}"]


_DISCOUNT = "a number in [0, 1)"


def _discount(unit: str) -> Rule:
    return _rule(f"{_DISCOUNT} ({unit})", lambda v: _is_number(v) and 0 <= v < 1)


_TEXT = _rule("text", lambda v: isinstance(v, str), optional=True)
_COLUMN = _rule("a column name (text)", lambda v: isinstance(v, str) and v != "",
                optional=True)
_BOOL = _rule("true or false", lambda v: isinstance(v, bool))
_SEED = _rule("a whole number", _is_int)
_POSITIVE_DAYS = _rule("a positive number of days", lambda v: _is_number(v) and v > 0,
                       optional=True)


def _reserved(name: str, value) -> list:
    return []  # set by the runner; resolve_parameters refuses a given value


#: The rule of each parameter name, the meaning it has in every study that takes it.
RULES: dict[str, Rule] = {
    # inputs and reading (every study)
    "transactions": _file,
    "subscriptions": _file,
    "leads": _file,
    "columns": _columns,
    "date_format": _rule("a strptime format (e.g. '%d/%m/%Y')", _date_format, optional=True),
    "encoding": _rule("a text encoding Python knows (e.g. 'utf-8', 'latin-1')",
                      lambda v: isinstance(v, str) and _encoding(v), optional=True),
    "delimiter": _rule("one character (e.g. ';')", lambda v: isinstance(v, str) and len(v) == 1,
                       optional=True),
    "contract": _contract,
    "segment": _COLUMN,
    "engine": _one_of(ENGINES),
    "as_of": _rule("an ISO date (YYYY-MM-DD; None: the last date in the data)", _is_date,
                   optional=True),
    "currency": _TEXT,
    "output_dir": _reserved,
    "history": _reserved,
    # shared by several studies with one meaning
    "time_unit": _one_of(tuple(TIME_UNITS)),
    "horizon": _rule("a positive whole number of time units (time_unit)",
                     lambda v: _is_int(v) and v >= 1),
    "margin": _rule("a fraction of spend in (0, 1] (None: value reads as revenue)",
                    lambda v: _is_number(v) and 0 < v <= 1, optional=True),
    "seed": _SEED,
    # cohort retention
    "cohort_period": _one_of(COHORT_PERIODS),
    "churn_inactivity_periods": _rule("a whole number of periods >= 1",
                                      lambda v: _is_int(v) and v >= 1),
    "holdout_periods": _rule("a whole number of periods >= 0", lambda v: _is_int(v) and v >= 0),
    "horizon_periods": _rule("a whole number of periods >= 1", lambda v: _is_int(v) and v >= 1),
    "discount_rate": _discount("per period"),
    "return_start": _one_of(("first", "recurring")),
    "return_windows": _rule(
        "'calendar' (or None: calendar periods), a whole number of days >= 1 (rolling "
        "windows) or increasing day ranges such as '1-7,8-30' or ['1-7', '8-30']",
        lambda v: v == "calendar" or (_is_int(v) and v >= 1) or _day_brackets(v),
        optional=True),
    "return_min_purchases": _rule("a whole number of purchase days >= 1",
                                  lambda v: _is_int(v) and v >= 1),
    "return_base": _one_of(("cohort", "previous")),
    "segment_bins": _rule("a list of increasing numbers (the lower edges of the bins)",
                          lambda v: len(v) > 0 and _list_of(_is_number)(v) and _increasing(list(v)),
                          optional=True),
    # survival
    "inactivity_days": _rule("a positive number of days", lambda v: _is_number(v) and v > 0),
    "covariates": _covariates,
    "baselines": _baselines,
    "horizons": _rule("a non-empty list of positive numbers of periods (time_unit)",
                      lambda v: len(v) > 0 and _list_of(lambda h: _is_number(h) and h > 0)(v)),
    "rmst_horizon": _rule("a positive number of periods (time_unit)",
                          lambda v: _is_number(v) and v > 0, optional=True),
    "revenue": _rule("a number per period or a column name",
                     lambda v: _is_number(v) or (isinstance(v, str) and v != ""),
                     optional=True),
    "remaining_horizon": _rule("a positive number of periods (time_unit)",
                               lambda v: _is_number(v) and v > 0, optional=True),
    "extrapolate": _BOOL,
    "risk_thresholds": _rule(
        "two increasing numbers in (0, 1), e.g. [0.1, 0.3]",
        lambda v: len(v) == 2 and _list_of(lambda x: _is_number(x) and 0 < x < 1)(v)
        and _increasing(v)),
    "holdout_fraction": _rule("a fraction in [0, 1)", lambda v: _is_number(v) and 0 <= v < 1),
    "max_model_customers": _rule("a whole number >= 1 (None: every customer)",
                                 lambda v: _is_int(v) and v >= 1, optional=True),
    "reason": _COLUMN,
    "hazard_bands": _rule("a list of increasing positive numbers of periods",
                          lambda v: _list_of(lambda x: _is_number(x) and x > 0)(v)
                          and _increasing(list(v)), optional=True),
    # CLV
    "calibration_end": _rule("an ISO date (YYYY-MM-DD; None: derived from the data)",
                             _is_date, optional=True),
    "n_draws": _rule("a whole number >= 0 (0: no intervals)", lambda v: _is_int(v) and v >= 0),
    "covariates_purchase": _process_covariates,
    "covariates_dropout": _process_covariates,
    "covariates_spend": _process_covariates,
    "customers": _file,
    # lifecycle and segments
    "flow_start": _rule("an ISO date (YYYY-MM-DD)", _is_date, optional=True),
    "new_days": _POSITIVE_DAYS,
    "at_risk_days": _POSITIVE_DAYS,
    "lapsed_days": _POSITIVE_DAYS,
    "what_if_points": _rule("a list of numbers in (0, 100) (percentage points)",
                            _list_of(lambda x: _is_number(x) and 0 < x < 100)),
    "what_if_assumption": _one_of(("absolute", "proportional")),
    "what_if_intervals": _BOOL,
    "action_value": _rule("a number >= 0 (currency)", lambda v: _is_number(v) and v >= 0,
                          optional=True),
    "action_value_quantile": _rule("a fraction in (0, 1)",
                                   lambda v: _is_number(v) and 0 < v < 1),
    # the leads funnel (lifecycle)
    "leads_period": _one_of(COHORT_PERIODS),
    "conversion_window_days": _rule("a whole number of days >= 0",
                                    lambda v: _is_int(v) and v >= 0),
    "conversion_level": _rule("a fraction in (0, 1), e.g. 0.95",
                              lambda v: _is_number(v) and 0 < v < 1),
    "conversion_milestones": _rule("a list of increasing whole numbers of days >= 0, e.g. [7, 30, 90]",
                                   lambda v: _list_of(lambda x: _is_int(x) and x >= 0)(v)
                                   and _increasing(list(v))),
    "leads_note": _TEXT,
}

#: Where a study gives a name another meaning: ``{study: {name: rule}}``.
STUDY_RULES: dict[str, dict[str, Rule]] = {
    "survival_churn": {
        "margin": _rule("a number per period or a column name",
                        lambda v: _is_number(v) or (isinstance(v, str) and v != ""),
                        optional=True),
        "discount_rate": _discount("per period (time_unit)"),
    },
    "clv": {
        "time_unit": _one_of(UNITS_OF_PURCHASE_MODELS),
        "discount_rate": _discount("annual, converted per time unit"),
    },
    "lifecycle_segments": {
        "time_unit": _one_of(UNITS_OF_PURCHASE_MODELS),
        "discount_rate": _discount("annual, converted per time unit"),
    },
}


def rule_for(study: str, name: str) -> Rule | None:
    """The rule of parameter ``name`` of ``study``; None when the name has none."""
    return STUDY_RULES.get(study, {}).get(name) or RULES.get(name)


# --------------------------------------------------------------------------- relations

def _dates_before(first: str, second: str, *, strict: bool) -> Callable:
    def relation(study: str, values: Mapping) -> list:
        a, b = _as_datetime(values.get(first)), _as_datetime(values.get(second))
        if a is None or b is None:
            return []
        if a < b or (not strict and a == b):
            return []
        word = "before" if strict else "on or before"
        return [f"{first} ({values[first]}) must be {word} {second} ({values[second]})"]
    return relation


def _one_input(study: str, values: Mapping) -> list:
    given = [n for n in ("transactions", "subscriptions") if values.get(n) is not None]
    if len(given) == 1:
        return []
    if given:
        return ["give transactions or subscriptions, not both"]
    return ["transactions or subscriptions is required (a path to the input file)"]


def _transactions_required(study: str, values: Mapping) -> list:
    if values.get("transactions") is None:
        return ["transactions is required (a path to the transaction log)"]
    return []


def _thresholds(study: str, values: Mapping) -> list:
    names = ("new_days", "at_risk_days", "lapsed_days")
    given = [(n, values.get(n)) for n in names if _is_number(values.get(n))]
    bad = [f"{a} ({va}) must be less than {b} ({vb})"
           for (a, va), (b, vb) in zip(given, given[1:]) if not va < vb]
    return bad


#: The rules between parameters, per study (applied to the values the study will use).
RELATIONS: dict[str, tuple[Callable, ...]] = {
    "overview": (_transactions_required,),
    "cohort_retention": (_one_input,),
    "survival_churn": (_one_input,),
    "clv": (_transactions_required, _dates_before("calibration_end", "as_of", strict=True)),
    "lifecycle_segments": (_transactions_required,
                           _dates_before("flow_start", "as_of", strict=True), _thresholds),
}


_INVALID = object()


def check_values(study: str, given: Mapping, defaults: Mapping) -> list[str]:
    """Every problem of the values of ``study``, each as ``"<study>: <problem>"``.

    Parameters
    ----------
    study : str
        The study's name (selects :data:`STUDY_RULES` and :data:`RELATIONS`).
    given : mapping
        The typed values given for the run (config files, ``-p``, the API).
    defaults : mapping
        The notebook's defaults; with ``given`` over them, the values the relations see.

    Returns
    -------
    list of str
        Empty when every value is valid. Names without a rule (the fixtures' own, say)
        are not checked.
    """
    problems: list[str] = []
    valid = dict(defaults)
    for name, value in given.items():
        rule = rule_for(study, name)
        found = rule(name, value) if rule is not None else []
        problems += found
        # a relation must not read a bad value (nor report it again): it sees a marker
        # that is "given" but neither a date nor a number
        valid[name] = _INVALID if found else value
    for relation in RELATIONS.get(study, ()):
        problems += relation(study, valid)
    return [f"{study}: {p}" for p in problems]
