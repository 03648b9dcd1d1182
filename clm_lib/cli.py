"""The ``clm`` command line: list the studies, run them, validate an input file, write a
config for a new file (``clm init``).

Exit codes: 0 success; 1 a study failed or timed out, or the run could not be recorded
in the run history (``clm run``, ``clm backtest``); 2 bad usage or a ``clm_lib`` error
(unknown study or parameter, data contract broken), shown as one line without a traceback;
3 an alert fired, with ``--fail-on-alert`` (every study succeeded).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from clm_lib.exceptions import ClmError

__all__ = ["cli", "main"]


class _CleanError(click.ClickException):
    exit_code = 2


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ClmError as exc:
            raise _CleanError(f"{type(exc).__name__}: {exc}") from None


_NOTEBOOKS_OPTION = click.option(
    "--notebooks-dir", type=click.Path(file_okay=False, path_type=Path),
    envvar="CLM_NOTEBOOKS_DIR", default=None,
    help="Folder of the study notebooks (default: the workbench's notebooks/).")


_HISTORY_OPTION = click.option(
    "--history", default=None, metavar="STORE",
    help="Run-history store: a DuckDB file or a postgresql:// URL; 'none' for no history "
         "(default: a config's history:, else $CLM_HISTORY, else history.duckdb beside the "
         "run folders).")
_FAIL_ON_ALERT_OPTION = click.option(
    "--fail-on-alert", is_flag=True,
    help="Exit with 3 when an alert of the config's alerts: rules fires (for cron or Airflow).")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """Customer-lifecycle workbench: run the study notebooks and publish HTML reports."""


def _format_default(param) -> str:
    return param.default_text


@cli.command("list")
@_NOTEBOOKS_OPTION
def list_cmd(notebooks_dir):
    """Show the studies, their titles and their parameters with defaults."""
    from clm_lib.run.parameters import RESERVED_PARAMETERS
    from clm_lib.run.discovery import list_studies

    studies = list_studies(notebooks_dir)
    if not studies:
        click.echo("No study notebooks (NN_name.ipynb) found.")
        return
    for i, study in enumerate(studies):
        if i:
            click.echo("")
        click.echo(f"{study.name}  —  {study.title}")
        params = [p for p in study.parameters.values() if p.name not in RESERVED_PARAMETERS]
        if not params:
            click.echo("    (no parameters)")
        width = max((len(p.name) for p in params), default=0)
        for p in params:
            line = f"    {p.name:<{width}} = {_format_default(p)}"
            if p.help:
                line += f"    # {p.help}"
            click.echo(line)


@cli.command("run")
@click.argument("studies", nargs=-1)
# --out is checked by the runner (a file, a path under a file, no permission: one line)
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Output folder (default: reports/<timestamp>/, with reports/latest).")
@click.option("--config", "config", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file of parameters: shared name: value pairs and per-study sections "
                   "(repeatable; later files override earlier ones).")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Set a parameter (repeatable); STUDY.NAME=VALUE sets it for one study.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Studies run at the same time (default: one per available core).")
@click.option("--timeout", type=click.FloatRange(min=1), default=600, show_default=True,
              help="Time limit per study in seconds; a stuck kernel is stopped.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
@_HISTORY_OPTION
@_FAIL_ON_ALERT_OPTION
@_NOTEBOOKS_OPTION
def run_cmd(studies, out_dir, config, params, jobs, timeout, quiet, history, fail_on_alert,
            notebooks_dir):
    """Run STUDIES (all when none is named) and write their reports.

    Prints the path of the run's index.html; exits with 1 if any study failed or hit the
    time limit (or the run could not be recorded in the run history), 3 with
    --fail-on-alert if an alert fired, 2 if nothing ran: an unknown study or parameter, a value of the wrong
    type or range (every parameter is checked before any study starts), an --out folder
    that cannot be written.

    \b
    Parameters (see `clm list`): -p name=value sets a parameter of every named study
    (when running all studies: of every study that has it); -p study.name=value sets it
    for one study. A value is kept as text when the notebook's default is text
    ("00123" stays "00123"); otherwise it is read as YAML (5, 0.5, true, {a: b}, [1, 2]).
    Relative paths of transactions/subscriptions/leads are taken from the current folder.

    \b
    --config FILE.yml holds the same values, shared and per study:
        as_of: "1998-06-30"
        transactions: data/tx.csv   # relative to the config file's folder
        clv:
          time_unit: week
    --config may be given several times (one file per dataset, say): later files
    override earlier ones, -p values override them all. A file with a top-level
    `studies: [clv, overview]` key is for those studies only; with no STUDIES named,
    the run selects the union of the files' `studies` (all studies when a file has
    no such key):
        clm run --config examples/cdnow.yml --config examples/telco.yml
    """
    from clm_lib.run.execute import run_studies
    from clm_lib.run.parameters import parse_assignment

    assignments = [parse_assignment(p) for p in params]
    result = run_studies(list(studies) or None, out_dir=out_dir, parameters=assignments,
                         config=list(config) or None, jobs=jobs, timeout=timeout,
                         notebooks_dir=notebooks_dir, progress=not quiet, history=history)
    _finish(result, fail_on_alert)


def _finish(result, fail_on_alert: bool) -> None:
    """Say what went wrong or fired, print the index path, exit with the run's code."""
    if result.failed:
        click.echo(f"{len(result.failed)} of {len(result.studies)} studies did not succeed: "
                   f"{', '.join(result.failed)} (details in {result.run_json})", err=True)
    if result.history_error:
        click.echo(f"the run was not recorded in the run history: {result.history_error}",
                   err=True)
    for alert in result.alerts:
        click.echo(f"alert {alert['name']} ({alert['study']}): {alert['message']}", err=True)
    click.echo(str(result.index))
    sys.exit(result.exit_code(fail_on_alert))


@cli.command("backtest")
@click.argument("studies", nargs=-1)
@click.option("--origins", default=None, metavar="DATES",
              help="As-of dates to replay, comma-separated ISO dates, e.g. "
                   "1997-09-30,1997-12-31,1998-03-31,1998-06-30.")
@click.option("--every", type=click.Choice(["month", "quarter", "half-year", "year"]),
              default=None, help="Instead of --origins: month ends this far apart, from "
                                 "--first to --last.")
@click.option("--first", default=None, metavar="DATE", help="First origin with --every.")
@click.option("--last", default=None, metavar="DATE", help="Last origin with --every.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Output folder (default: reports/backtest-<timestamp>/).")
@click.option("--config", "config", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file of parameters, as for clm run (repeatable).")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Set a parameter, as for clm run (not as_of: the origins set it).")
@click.option("--history", default=None, metavar="STORE",
              help="The store to fill (default: history.duckdb in the backtest's folder); "
                   "name the scheduled runs' store to start their track record at once.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Studies run at the same time within one origin.")
@click.option("--timeout", type=click.FloatRange(min=1), default=600, show_default=True,
              help="Time limit per study and origin in seconds.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
@_FAIL_ON_ALERT_OPTION
@_NOTEBOOKS_OPTION
def backtest_cmd(studies, origins, every, first, last, out_dir, config, params, history,
                 jobs, timeout, quiet, fail_on_alert, notebooks_dir):
    """Replay the log at several past as-of dates (rolling origin), as if the runs had been
    scheduled, and report every forecast against what happened.

    \b
    One run per origin, oldest first, with as_of = the origin, all into one history store:
    each run scores the forecasts of the earlier origins that its data cover, so the last
    run's CLV, cohort and survival reports hold the whole track record. The backtest's
    index.html lists the scored forecasts with their errors, intervals and coverage.
        clm backtest clv --config examples/cdnow.yml \\
            --origins 1997-09-30,1997-12-31,1998-03-31,1998-06-30
        clm backtest clv --config examples/cdnow.yml --every quarter \\
            --first 1997-09-30 --last 1998-06-30
    Exit codes as for clm run.
    """
    from clm_lib.run.backtest import origins_every, run_backtest
    from clm_lib.run.parameters import parse_assignment

    if (origins is None) == (every is None):
        raise click.UsageError("give --origins DATES or --every with --first and --last")
    if every is not None:
        if not first or not last:
            raise click.UsageError("--every needs --first and --last")
        dates = origins_every(every, first, last)
    else:
        dates = origins
    result = run_backtest(list(studies) or None, dates, out_dir=out_dir,
                          parameters=[parse_assignment(p) for p in params],
                          config=list(config) or None, history=history, jobs=jobs,
                          timeout=timeout, notebooks_dir=notebooks_dir, progress=not quiet)
    for origin, run in result.runs.items():
        if not run.ok:
            click.echo(f"origin {origin}: {', '.join(run.failed) or 'not recorded'} did not "
                       f"succeed (details in {run.run_json})", err=True)
    for alert in result.alerts:
        click.echo(f"alert {alert['name']} ({alert['study']}): {alert['message']}", err=True)
    click.echo(str(result.index))
    sys.exit(result.exit_code(fail_on_alert))


def _mapping(pairs) -> dict[str, str] | None:
    out = {}
    for pair in pairs:
        source, sep, canonical = pair.partition("=")
        if not sep or not source or not canonical:
            raise click.BadParameter(f"expected source=canonical, got {pair!r}",
                                     param_hint="-c/--column")
        out[source] = canonical
    return out or None


def _print_quality(kind: str, dq) -> None:
    click.echo(f"{dq.source or kind} ({kind})")
    lines = [("rows in the input", dq.rows_in), ("rows used", dq.rows_used)]
    lines += [(f"dropped: {r}", n) for r, n in dq.dropped.items()]
    lines += [(f"kept, with a warning: {r}", n) for r, n in dq.warnings.items()]
    width = max(len(label) for label, _ in lines)
    for label, n in lines:
        click.echo(f"  {label:<{width}}  {int(n):>12,d}")
    for note in dq.notes:
        click.echo(f"  note: {note}")


_KINDS = ("transactions", "subscriptions", "leads")


def _config_values(config: Path) -> dict:
    """The reading values of a config file (``clm init`` writes them), read as the runner
    reads config files (:func:`clm_lib.run.parameters.load_config`: paths against the
    file's folder)."""
    from clm_lib.exceptions import ParameterError
    from clm_lib.run.parameters import load_config

    shared, _ = load_config(config)
    out = {}
    for key in (*_KINDS, "columns", "date_format", "encoding", "delimiter", "contract",
                "as_of", "tz"):
        value = shared.get(key)
        if value is None:
            continue
        if key in ("columns", "contract") and not isinstance(value, dict):
            raise ParameterError(f"config file {config.name}: {key} must be a mapping")
        out[key] = value
    return out


def _suggest(exc, path: Path, kind: str, options: dict, mapping: dict | None) -> str:
    """The message of a missing-columns error with the mapping the file's sample
    suggests, as -c options."""
    from clm_lib.io.sniff import sniff_file

    base = str(exc).split("; did you mean")[0]
    try:
        guess = sniff_file(path, kind=kind, encoding=options.get("encoding"),
                           delimiter=options.get("delimiter")).mapping
    except Exception:  # noqa: BLE001 - a hint only: without one the error stands
        guess = {}
    taken = set((mapping or {}).values())
    pairs = [f"-c {src}={canon}" for src, canon in guess.items()
             if canon in exc.missing and src not in (mapping or {}) and canon not in taken
             and src != canon]
    if not pairs:
        pairs = [f"-c {src}={canon}" for src, canon in exc.suggestion.items()]
    return f"{base}; did you mean {' '.join(pairs)}?" if pairs else base


@cli.command("validate")
@click.option("--transactions", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Transactions file (CSV or Parquet).")
@click.option("--subscriptions", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Subscriptions file (CSV or Parquet).")
@click.option("--leads", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Leads file (CSV or Parquet).")
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A config file (e.g. written by `clm init`): its files, columns, "
                   "date_format, encoding, delimiter and contract; options given here win.")
@click.option("-c", "--column", "columns", multiple=True, metavar="SOURCE=CANONICAL",
              help="Map a source column to a canonical name (repeatable), e.g. -c dollars=amount.")
@click.option("--as-of", default=None, help="Observation end (ISO date); later rows are dropped.")
@click.option("--date-format", default=None, help="strftime format of the date columns.")
@click.option("--tz", default=None, help="Time zone of naive timestamps in the file.")
@click.option("--encoding", default=None,
              help="Encoding of CSV files, e.g. latin-1, cp1252 (default UTF-8).")
@click.option("--delimiter", default=None,
              help="Field delimiter of CSV files, one character, e.g. ';' or '\\t' "
                   "(default: by the file name).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"rows_in", "rows_used", "dropped"} as JSON.')
def validate_cmd(transactions, subscriptions, leads, config, columns, as_of, date_format, tz,
                 encoding, delimiter, as_json):
    """Check an input file against the data contract and print its data-quality record.

    With several files, each is checked (the column mapping applies to all) and --json
    prints {"transactions": {...}, "subscriptions": {...}}. With missing columns, the
    error suggests the likely mapping (-c SOURCE=CANONICAL).
    """
    from clm_lib.exceptions import MissingColumnsError, ParameterError
    from clm_lib.io import validate_file
    from clm_lib.io.options import load_options

    values = _config_values(config) if config is not None else {}
    paths = {"transactions": transactions, "subscriptions": subscriptions, "leads": leads}
    if not any(paths.values()):
        paths = {k: values.get(k) for k in _KINDS}
    if not any(paths.values()):
        raise click.UsageError("give --transactions PATH, --subscriptions PATH, --leads PATH "
                               "or --config FILE")
    mapping = _mapping(columns) or values.get("columns") or None
    given = {"as_of": as_of, "date_format": date_format, "tz": tz, "encoding": encoding,
             "delimiter": delimiter}
    merged = {k: v if v is not None else values.get(k) for k, v in given.items()}
    results = {}
    for kind, path in paths.items():
        if path is None:
            continue
        path = Path(path)
        kwargs = load_options(kind, date_format=merged["date_format"],
                              encoding=merged["encoding"], delimiter=merged["delimiter"],
                              contract=values.get("contract"))
        kwargs.update({k: merged[k] for k in ("as_of", "tz") if merged[k] is not None})
        try:
            results[kind] = validate_file(path, kind=kind, columns=mapping, **kwargs)
        except MissingColumnsError as exc:
            raise _CleanError(f"MissingColumnsError: {_suggest(exc, path, kind, kwargs, mapping)}"
                              ) from None
        except ClmError:
            raise
        except TypeError as exc:
            if "unexpected keyword argument" not in str(exc):
                raise
            raise ParameterError(f"contract: an option the {kind} loader does not take "
                                 f"({str(exc).split('argument')[-1].strip()})") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            # unreadable or malformed file (e.g. a CSV parser error): one clean line
            raise _CleanError(f"cannot read {path.name}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}"
                              ) from None
    if as_json:
        out = {k: {"rows_in": int(dq.rows_in), "rows_used": int(dq.rows_used),
                   "dropped": {str(r): int(n) for r, n in dq.dropped.items()}}
               for k, dq in results.items()}
        click.echo(json.dumps(next(iter(out.values())) if len(out) == 1 else out))
        return
    for i, (kind, dq) in enumerate(results.items()):
        if i:
            click.echo("")
        _print_quality(kind, dq)


@cli.command("init")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the config here (default: print it).")
@click.option("--kind", type=click.Choice(_KINDS), default=None,
              help="What the file holds (default: guessed from its columns).")
@click.option("--encoding", default=None, help="The file's encoding (default: guessed).")
@click.option("--delimiter", default=None, help="The field delimiter (default: guessed).")
@click.option("--force", is_flag=True, help="Overwrite an existing --output file.")
def init_cmd(file, output, kind, encoding, delimiter, force):
    """Write a commented config for FILE: the guessed column mapping, delimiter,
    encoding and date format, and the studies the file can feed.

    Reads the header and the first few thousand rows only (any file size). Check the
    guesses with `clm validate --config CONFIG.yml`, then `clm run --config CONFIG.yml`.
    """
    import os

    from clm_lib.io.config_text import config_yaml
    from clm_lib.io.sniff import sniff_file

    if output is not None and output.exists() and not force:
        raise _CleanError(f"{output} exists; use --force to overwrite it")
    sniffed = sniff_file(file, kind=kind, encoding=encoding, delimiter=delimiter)
    if output is None:
        text = config_yaml(sniffed, str(file.resolve()))
        click.echo(text, nl=False)
        return
    here, folder = file.resolve(), output.resolve().parent
    # relative when the two share a folder below the root (the config can move with
    # the data), absolute otherwise
    source = (os.path.relpath(here, folder) if os.path.commonpath([here, folder]) != os.sep
              else str(here))
    text = config_yaml(sniffed, source, config_name=str(output))
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _CleanError(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"wrote {output} ({sniffed.kind}: {len(sniffed.mapping)} column(s) mapped); "
               f"next: clm validate --config {output}", err=True)


def _skip_slow_optional_imports() -> None:
    """Keep jsonschema (imported by nbformat) from loading ``rfc3987_syntax``.

    That optional package builds a Lark grammar when imported, which costs 0.5-3 s per
    process, and is used only for "iri" format checks that notebook validation never
    makes. Only the ``clm`` process itself does this, never a library import.
    """
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # import now raises ImportError: skipped


def main(argv=None) -> None:
    """Entry point of the ``clm`` script."""
    _skip_slow_optional_imports()
    cli.main(args=argv, prog_name="clm")


if __name__ == "__main__":
    main()
