"""The run-history store: every run's studies, headline figures and forecasts, in a DuckDB
file (the default, ``reports/history.duckdb``) or a PostgreSQL database (for teams).

A store is named by a URL-like text, the ``history`` setting of a run:

* a file path (``reports/history.duckdb``, ``duckdb:///abs/path.duckdb``): an embedded
  DuckDB file, created on first use;
* ``postgresql://user:password@host:port/dbname`` (or ``postgres://``): a PostgreSQL
  server through psycopg, the standard driver; the tables are created on first use.

Three tables (text columns hold JSON, so both databases read them alike):

``runs``
    one row per run: ``run_id``, ``started``, ``finished``, ``out_dir``, ``ok``,
    ``alerts`` (JSON list), ``committed`` (when the row landed).
``studies``
    one row per successful study of a run: ``run_id``, ``study``, ``source_key`` (what
    makes two runs comparable: the study's input files), ``as_of``, ``fingerprint`` (file
    names, row counts, hash of the data-quality record), ``parameters``, ``figures``
    (the numeric headline figures), ``metrics`` (the study's whole ``metrics.json``),
    ``n_forecasts`` (how many ledger rows it wrote, so a reader can check completeness).
``forecasts``
    the ledger (:mod:`clm_lib.history.ledger`): one row per forecast value.

Writes are transactional: :meth:`HistoryStore.record_run` writes a run with all its
studies and forecasts in one transaction, so a run that fails or is killed part-way
leaves no row; a DuckDB file is locked by one writing process at a time, so a second
run waits (with back-off, up to ``lock_timeout`` seconds) and then lands after the first.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from clm_lib.exceptions import ClmError

__all__ = ["HistoryError", "HistoryStore", "StudyRecord", "open_store", "is_postgres"]

#: Columns of the ledger table, in order (see :mod:`clm_lib.history.ledger`).
FORECAST_COLUMNS = ("run_id", "study", "name", "scope", "key", "step", "unit",
                    "value", "lower", "upper", "level")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT PRIMARY KEY, started TEXT, finished TEXT, out_dir TEXT,
        ok BOOLEAN, alerts TEXT, committed TEXT)""",
    """CREATE TABLE IF NOT EXISTS studies (
        run_id TEXT NOT NULL, study TEXT NOT NULL, source_key TEXT NOT NULL, as_of TEXT,
        fingerprint TEXT, parameters TEXT, figures TEXT, metrics TEXT,
        n_forecasts INTEGER NOT NULL, committed TEXT, PRIMARY KEY (run_id, study))""",
    """CREATE TABLE IF NOT EXISTS forecasts (
        run_id TEXT NOT NULL, study TEXT NOT NULL, name TEXT NOT NULL, scope TEXT NOT NULL,
        key TEXT NOT NULL, step DOUBLE PRECISION NOT NULL, unit TEXT NOT NULL,
        value DOUBLE PRECISION, lower DOUBLE PRECISION, upper DOUBLE PRECISION,
        level DOUBLE PRECISION)""",
    "CREATE INDEX IF NOT EXISTS forecasts_run ON forecasts (run_id, study)",
    "CREATE INDEX IF NOT EXISTS studies_source ON studies (study, source_key)",
)


class HistoryError(ClmError):
    """The history store cannot be opened, read or written (the message says which store
    and why)."""


def is_postgres(url: str) -> bool:
    return str(url).startswith(("postgresql://", "postgres://"))


def _duckdb_path(url: str) -> Path:
    text = str(url)
    if text.startswith("duckdb://"):
        text = text[len("duckdb://"):]
    return Path(text)


def _label(url: str) -> str:
    """The store's name for messages: a file path, or a server URL without its password."""
    if not is_postgres(url):
        return str(_duckdb_path(url))
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(str(url))
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


@dataclass(frozen=True)
class StudyRecord:
    """What one successful study of a run puts in the store (see the module docstring).

    ``forecasts`` is a ledger frame (:func:`clm_lib.history.ledger.ledger_frame`) without the
    ``run_id`` and ``study`` columns, which the store adds.
    """

    study: str
    source_key: str
    as_of: str | None
    fingerprint: Mapping
    parameters: Mapping
    figures: Mapping
    metrics: Mapping
    forecasts: pd.DataFrame | None = None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(obj) -> str:
    return json.dumps(obj, default=str, sort_keys=True)


@dataclass
class HistoryStore:
    """A run-history store (see the module docstring); open one with :func:`open_store`.

    Each method opens a connection, does its work and closes it, so that a DuckDB file is
    held only for the moment it is read or written and several processes can share it.
    """

    url: str
    lock_timeout: float = 120.0
    _ready: bool = field(default=False, repr=False)

    @property
    def label(self) -> str:
        return _label(self.url)

    @property
    def postgres(self) -> bool:
        return is_postgres(self.url)

    # -- connections ---------------------------------------------------------------
    def _connect_duckdb(self, read_only: bool):
        import duckdb

        path = _duckdb_path(self.url)
        if read_only and not path.exists():
            return None
        if not read_only:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HistoryError(f"history store {self.label}: cannot create its folder "
                                   f"({exc.strerror or exc})") from None
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(path), read_only=read_only)
            except duckdb.IOException as exc:
                # another process holds the file's lock: wait for it, with jittered back-off
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise HistoryError(f"history store {self.label}: cannot open it "
                                       f"({str(exc).splitlines()[0]})") from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 1.0)
            except duckdb.Error as exc:
                raise HistoryError(f"history store {self.label}: cannot open it "
                                   f"({type(exc).__name__}: {str(exc).splitlines()[0]})") from None

    def _connect_postgres(self):
        try:
            import psycopg
        except ImportError:  # pragma: no cover - psycopg is in the lock
            raise HistoryError("a PostgreSQL history store needs the psycopg package "
                               "(pip install 'psycopg[binary]')") from None
        try:
            return psycopg.connect(self.url, connect_timeout=int(min(self.lock_timeout, 30)))
        except psycopg.Error as exc:
            raise HistoryError(f"history store {self.label}: cannot connect "
                               f"({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})"
                               ) from None

    @contextlib.contextmanager
    def _connection(self, read_only: bool = False) -> Iterator:
        """A connection with the schema in place, closed afterwards; None for a DuckDB
        file that does not exist yet when only reading."""
        con = self._connect_postgres() if self.postgres else self._connect_duckdb(read_only)
        try:
            if con is not None and not self._ready:
                if not read_only:
                    self._create_schema(con)
                    self._ready = True
                elif self._has_schema(con):
                    self._ready = True
                else:
                    # a new PostgreSQL database, or a file whose first writer was killed
                    # before its tables were committed: nothing recorded yet
                    yield None
                    return
            yield con
        finally:
            if con is not None:
                con.close()

    def _has_schema(self, con) -> bool:
        """Whether the three tables are there (they are created together, in one
        transaction)."""
        found = self._query(con, """SELECT COUNT(*) AS n FROM information_schema.tables
            WHERE table_schema = current_schema()
              AND table_name IN ('runs', 'studies', 'forecasts')""")
        return int(found["n"].iloc[0]) == 3

    def _create_schema(self, con) -> None:
        """Create the tables unless they are there. No DDL on an existing schema: on
        PostgreSQL, ``CREATE INDEX IF NOT EXISTS`` locks its table even when the index
        exists, and so deadlocked with another process's run being written."""
        if self.postgres:
            with con.transaction():
                if self._has_schema(con):
                    return
                # one creator at a time: two first runs at once must not both create
                con.execute("SELECT pg_advisory_xact_lock(734201)")
                if self._has_schema(con):  # the other one did, while this one waited
                    return
                for stmt in _SCHEMA:
                    con.execute(stmt)
        else:
            if self._has_schema(con):
                return
            con.execute("BEGIN")
            for stmt in _SCHEMA:
                con.execute(stmt)
            con.execute("COMMIT")

    def _sql(self, text: str) -> str:
        """``?`` placeholders for the database at hand (psycopg uses ``%s``)."""
        return text.replace("?", "%s") if self.postgres else text

    def _query(self, con, text: str, params: Sequence = ()) -> pd.DataFrame:
        if con is None:
            return pd.DataFrame()
        if self.postgres:
            with con.cursor() as cur:
                cur.execute(self._sql(text), list(params))
                cols = [d.name for d in cur.description]
                return pd.DataFrame(cur.fetchall(), columns=cols)
        return con.execute(text, list(params)).df()

    # -- writing -------------------------------------------------------------------
    def record_run(self, run: Mapping, records: Sequence[StudyRecord]) -> int:
        """Write one run and its studies' records in one transaction.

        Parameters
        ----------
        run : mapping
            ``run_id``, ``started``, ``finished``, ``out_dir``, ``ok``, ``alerts``.
        records : sequence of StudyRecord
            One per successful study.

        Returns
        -------
        int
            The number of ledger rows written.

        Raises
        ------
        HistoryError
            The store cannot be written; nothing of the run is in it then.
        """
        committed = _now()
        run_row = (str(run["run_id"]), run.get("started"), run.get("finished"),
                   str(run.get("out_dir") or ""), bool(run.get("ok")),
                   _json(list(run.get("alerts") or [])), committed)
        study_rows, ledgers = [], []
        for rec in records:
            fc = rec.forecasts
            n = 0 if fc is None else int(len(fc))
            study_rows.append((str(run["run_id"]), rec.study, rec.source_key, rec.as_of,
                               _json(rec.fingerprint), _json(rec.parameters),
                               _json(rec.figures), _json(rec.metrics), n, committed))
            if n:
                frame = fc.copy()
                frame.insert(0, "study", rec.study)
                frame.insert(0, "run_id", str(run["run_id"]))
                ledgers.append(frame[list(FORECAST_COLUMNS)])
        ledger = (pd.concat(ledgers, ignore_index=True) if ledgers
                  else pd.DataFrame(columns=list(FORECAST_COLUMNS)))
        try:
            with self._connection() as con:
                if self.postgres:
                    self._write_postgres(con, run_row, study_rows, ledger)
                else:
                    self._write_duckdb(con, run_row, study_rows, ledger)
        except HistoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - the driver's error, named
            raise HistoryError(f"history store {self.label}: the run was not recorded "
                               f"({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''})"
                               ) from None
        return int(len(ledger))

    def _write_duckdb(self, con, run_row, study_rows, ledger: pd.DataFrame) -> None:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)", list(run_row))
            if study_rows:
                con.executemany("INSERT INTO studies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                [list(r) for r in study_rows])
            if len(ledger):
                con.register("clm_ledger_in", _typed_ledger(ledger))
                con.execute("INSERT INTO forecasts SELECT * FROM clm_ledger_in")
                con.unregister("clm_ledger_in")
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                con.execute("ROLLBACK")
            raise

    def _write_postgres(self, con, run_row, study_rows, ledger: pd.DataFrame) -> None:
        with con.transaction():
            with con.cursor() as cur:
                cur.execute("INSERT INTO runs VALUES (%s, %s, %s, %s, %s, %s, %s)", run_row)
                if study_rows:
                    cur.executemany("INSERT INTO studies VALUES "
                                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", study_rows)
                if len(ledger):
                    cols = ", ".join(FORECAST_COLUMNS)
                    with cur.copy(f"COPY forecasts ({cols}) FROM STDIN") as copy:
                        for row in _typed_ledger(ledger).itertuples(index=False, name=None):
                            copy.write_row([None if isinstance(v, float) and v != v else v
                                            for v in row])

    # -- reading -------------------------------------------------------------------
    def runs(self) -> pd.DataFrame:
        """Every run, oldest first (``alerts`` decoded)."""
        with self._connection(read_only=True) as con:
            df = self._query(con, "SELECT * FROM runs ORDER BY committed, run_id")
        if len(df):
            df["alerts"] = df["alerts"].map(json.loads)
        return df

    def studies(self, study: str | None = None, source_key: str | None = None) -> pd.DataFrame:
        """Study rows, oldest first, JSON columns decoded; filtered by ``study`` and
        ``source_key`` when given."""
        where, params = [], []
        if study is not None:
            where.append("study = ?")
            params.append(study)
        if source_key is not None:
            where.append("source_key = ?")
            params.append(source_key)
        text = "SELECT * FROM studies" + (" WHERE " + " AND ".join(where) if where else "")
        with self._connection(read_only=True) as con:
            df = self._query(con, text + " ORDER BY committed, run_id", params)
        for col in ("fingerprint", "parameters", "figures", "metrics"):
            if col in df:
                df[col] = df[col].map(json.loads)
        return df

    def forecasts(self, run_ids: Sequence[str], study: str,
                  names: Sequence[str] | None = None, scope: str | None = None) -> pd.DataFrame:
        """Ledger rows of ``study`` in the runs ``run_ids`` (optionally only some forecast
        ``names`` and one ``scope``)."""
        run_ids = [str(r) for r in run_ids]
        if not run_ids:
            return pd.DataFrame(columns=list(FORECAST_COLUMNS))
        marks = ", ".join("?" for _ in run_ids)
        text = f"SELECT * FROM forecasts WHERE study = ? AND run_id IN ({marks})"
        params: list = [study, *run_ids]
        if names:
            text += f" AND name IN ({', '.join('?' for _ in names)})"
            params += list(names)
        if scope is not None:
            text += " AND scope = ?"
            params.append(scope)
        with self._connection(read_only=True) as con:
            df = self._query(con, text, params)
        if not len(df):
            return pd.DataFrame(columns=list(FORECAST_COLUMNS))
        return df

    def check(self) -> list[str]:
        """Problems with the store's consistency (empty when consistent): study rows whose
        ledger rows are not all there, ledger or study rows without their run."""
        problems = []
        with self._connection(read_only=True) as con:
            if con is None:
                return problems
            counts = self._query(con, """
                SELECT s.run_id, s.study, s.n_forecasts, COUNT(f.run_id) AS found
                FROM studies s LEFT JOIN forecasts f
                  ON f.run_id = s.run_id AND f.study = s.study
                GROUP BY s.run_id, s.study, s.n_forecasts""")
            orphans = self._query(con, """
                SELECT COUNT(*) AS n FROM forecasts f
                WHERE NOT EXISTS (SELECT 1 FROM studies s
                                  WHERE s.run_id = f.run_id AND s.study = f.study)""")
            lonely = self._query(con, """
                SELECT COUNT(*) AS n FROM studies s
                WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = s.run_id)""")
        for row in counts.itertuples(index=False):
            if int(row.n_forecasts) != int(row.found):
                problems.append(f"run {row.run_id} {row.study}: {int(row.found)} of "
                                f"{int(row.n_forecasts)} ledger rows")
        if len(orphans) and int(orphans["n"].iloc[0]):
            problems.append(f"{int(orphans['n'].iloc[0])} ledger rows without their study")
        if len(lonely) and int(lonely["n"].iloc[0]):
            problems.append(f"{int(lonely['n'].iloc[0])} study rows without their run")
        return problems


def _typed_ledger(ledger: pd.DataFrame) -> pd.DataFrame:
    out = ledger[list(FORECAST_COLUMNS)].copy()
    for col in ("run_id", "study", "name", "scope", "key", "unit"):
        out[col] = out[col].astype(str)
    for col in ("step", "value", "lower", "upper", "level"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    return out


def open_store(url: str | os.PathLike | HistoryStore | None,
               lock_timeout: float = 120.0) -> HistoryStore | None:
    """The store named by ``url`` (see the module docstring); None for None, ``""``,
    ``"none"`` or ``"off"`` (no history)."""
    if isinstance(url, HistoryStore):
        return url
    if url is None or str(url).strip().lower() in ("", "none", "off", "false"):
        return None
    return HistoryStore(str(url), lock_timeout=lock_timeout)
