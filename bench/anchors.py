"""Bifrost's three stores as the benchmark's anchors: SQLite, Postgres 15, ClickHouse (chDB).

Each adapter creates the ``logs`` table of :mod:`bench.bifrost_sql` in a temporary
directory, loads rows, builds the indexes after the load, and runs statements. Postgres is a
private cluster (``initdb`` as the ``postgres`` user, a Unix socket only, no TCP port),
installed from Debian's packages with ``apt-get`` when missing. Everything is removed by
:meth:`close`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

import msgspec

from bench.bifrost_sql import (
    COLUMNS,
    Dialect,
    create_statements,
    index_statements,
    sqlite_insert,
    sqlite_time,
)


class QueryTimeout(Exception):
    """A statement ran past the benchmark's per-query limit."""


class Anchor(Protocol):
    dialect: Dialect

    def insert(self, rows: list[dict[str, Any]]) -> None: ...
    def finish_load(self) -> None: ...
    def run(self, statements: list[str], timeout: float) -> None: ...
    def bytes_used(self) -> int: ...
    def close(self) -> None: ...


# ------------------------------------------------------------------ SQLite


class SqliteAnchor:
    """Bifrost's default store: one SQLite file (WAL), GORM's column types and indexes."""

    dialect: Dialect = "sqlite"

    def __init__(self, directory: Path, fresh: bool) -> None:
        self.path = directory / "logs.db"
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        for statement in create_statements("sqlite") if fresh else ():
            self._db.execute(statement)
        self._insert = sqlite_insert()
        self._second = sqlite3.connect(self.path, check_same_thread=False)

    def insert(self, rows: list[dict[str, Any]]) -> None:
        values = [
            tuple(sqlite_time(v) if isinstance(v, datetime) else v for v in r.values())
            for r in rows
        ]
        with self._db:
            self._db.executemany(self._insert, values)

    def finish_load(self) -> None:
        for statement in index_statements("sqlite"):
            self._db.execute(statement)
        self._db.execute("ANALYZE")
        self._db.commit()

    def run(self, statements: list[str], timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        connections = [self._db, self._second]

        def one(n: int) -> None:
            db = connections[n % 2]
            db.set_progress_handler(lambda: int(time.perf_counter() > deadline), 10_000)
            try:
                db.execute(statements[n]).fetchall()
            except sqlite3.OperationalError as exc:
                if "interrupted" in str(exc):
                    raise QueryTimeout from None
                raise

        _concurrently(one, len(statements))

    def bytes_used(self) -> int:
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return self.path.stat().st_size

    def close(self) -> None:
        self._second.close()
        self._db.close()


def _concurrently(one: Any, count: int) -> None:
    """Bifrost runs the list's COUNT and page queries concurrently: so do we (2 at most)."""
    if count == 1:
        one(0)
        return
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(one, n) for n in range(count)]:
            future.result()


# ------------------------------------------------------------------ Postgres

PG_VERSION: Final = "15"
PG_BIN: Final = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")


def ensure_postgres() -> None:
    """Install Debian's ``postgresql-15`` if its binaries are missing."""
    if (PG_BIN / "initdb").exists():
        return
    print(f"installing postgresql-{PG_VERSION} with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", f"postgresql-{PG_VERSION}"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def _as_postgres(args: list[str]) -> list[str]:
    """Postgres refuses to run as root: run its tools as the ``postgres`` user."""
    return args if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *args]


class PostgresAnchor:
    """A private Postgres 15 cluster; rows loaded with COPY, indexes built after the load."""

    dialect: Dialect = "postgres"

    def __init__(self, directory: Path, fresh: bool) -> None:
        import psycopg

        ensure_postgres()
        self.directory = directory / "pg"
        data = self.directory / "data"
        if fresh:
            self.directory.mkdir()
            if os.geteuid() == 0:
                shutil.chown(self.directory, "postgres", "postgres")
            subprocess.run(
                _as_postgres(
                    [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "bench"]
                ),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        options = (
            f"-c listen_addresses='' -k {self.directory} -c shared_buffers=512MB "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_wal_size=4GB -c maintenance_work_mem=512MB"
        )
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-w",
                    "-l",
                    str(self.directory / "log"),
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self._data = data
        self._db = psycopg.connect(
            host=str(self.directory), user="bench", dbname="postgres", autocommit=True
        )
        self._second = psycopg.connect(
            host=str(self.directory), user="bench", dbname="postgres", autocommit=True
        )
        self._timeout = 0.0
        for statement in create_statements("postgres") if fresh else ():
            self._db.execute(statement)

    def insert(self, rows: list[dict[str, Any]]) -> None:
        with (
            self._db.cursor() as cur,
            cur.copy(f"COPY logs ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for r in rows:
                copy.write_row(tuple(r.values()))

    def finish_load(self) -> None:
        for statement in index_statements("postgres"):
            self._db.execute(statement)
        self._db.execute("VACUUM ANALYZE logs")

    def run(self, statements: list[str], timeout: float) -> None:
        import psycopg

        connections = [self._db, self._second]

        if timeout != self._timeout:
            for db in connections:
                db.execute(f"SET statement_timeout = {int(timeout * 1000)}")
            self._timeout = timeout

        def one(n: int) -> None:
            db = connections[n % 2]
            try:
                db.execute(statements[n]).fetchall()
            except psycopg.errors.QueryCanceled:
                raise QueryTimeout from None

        _concurrently(one, len(statements))

    def bytes_used(self) -> int:
        row = self._db.execute("SELECT pg_total_relation_size('logs')").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        for db in (self._second, self._db):
            db.close()
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "pg_ctl"), "-D", str(self._data), "-m", "fast", "-w", "stop"]
            ),
            check=False,
            stdout=subprocess.DEVNULL,
        )


# ------------------------------------------------------------------ ClickHouse


class ClickHouseAnchor:
    """Bifrost's ClickHouse store, in process (chDB); reads use ``final = 1`` like Bifrost."""

    dialect: Dialect = "clickhouse"

    def __init__(self, directory: Path, fresh: bool) -> None:
        from chdb import session

        self._session: Any = session.Session(str(directory / "ch"))
        self._session.query("CREATE DATABASE IF NOT EXISTS bifrost")
        self._session.query("USE bifrost")
        for statement in create_statements("clickhouse") if fresh else ():
            self._session.query(statement)
        self._encode = msgspec.json.Encoder().encode

    def insert(self, rows: list[dict[str, Any]]) -> None:
        lines = b"\n".join(
            self._encode(
                {
                    k: (v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v)
                    for k, v in r.items()
                }
            )
            for r in rows
        )
        self._session.query(
            "INSERT INTO logs SETTINGS date_time_input_format='best_effort' FORMAT JSONEachRow\n"
            + lines.decode()
        )

    def finish_load(self) -> None:
        return None

    def run(self, statements: list[str], timeout: float) -> None:
        for statement in statements:
            sql = statement + (", " if " SETTINGS " in statement else " SETTINGS ")
            try:
                self._session.query(
                    f"{sql}max_execution_time = {timeout}, timeout_overflow_mode = 'throw'", "Null"
                )
            except Exception as exc:
                if "TIMEOUT_EXCEEDED" in str(exc):
                    raise QueryTimeout from None
                raise

    def bytes_used(self) -> int:
        result = self._session.query(
            "SELECT sum(bytes_on_disk) FROM system.parts "
            "WHERE database = 'bifrost' AND table = 'logs' AND active",
            "CSV",
        )
        return int(result.bytes().strip() or 0)

    def close(self) -> None:
        self._session.close()


def open_anchors(names: list[str], keep: Path | None = None) -> tuple[list[Anchor], Path, bool]:
    """The named anchors (``postgres``, ``sqlite``, ``clickhouse``) in one directory: a fresh
    temporary one, or ``keep`` (reused if it holds a completed load, see :func:`mark_loaded`).
    Returns the anchors, the directory and whether they are fresh (empty)."""
    fresh = keep is None or not (keep / _LOADED).exists()
    if keep is None:
        directory = Path(tempfile.mkdtemp(prefix="heimdall-bench-"))
    else:
        directory = keep
        if fresh:
            shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    makers: dict[str, Callable[[Path, bool], Anchor]] = {
        "postgres": PostgresAnchor,
        "sqlite": SqliteAnchor,
        "clickhouse": ClickHouseAnchor,
    }
    anchors: list[Anchor] = []
    try:
        for name in names:
            anchors.append(makers[name](directory, fresh))
    except BaseException:
        close_anchors(anchors, directory, remove=keep is None)
        raise
    return anchors, directory, fresh


_LOADED: Final = "loaded.json"


def mark_loaded(directory: Path, state: dict[str, Any]) -> None:
    """Record a completed load (kept with ``--keep``, for later runs to reuse)."""
    (directory / _LOADED).write_bytes(msgspec.json.encode(state))


def loaded_state(directory: Path) -> dict[str, Any]:
    state: dict[str, Any] = msgspec.json.decode((directory / _LOADED).read_bytes())
    return state


def close_anchors(anchors: list[Anchor], directory: Path, *, remove: bool = True) -> None:
    for anchor in anchors:
        try:
            anchor.close()
        except Exception as exc:  # cleanup goes on for the others
            print(f"warning: closing {anchor.dialect}: {exc}")
    if remove:
        shutil.rmtree(directory, ignore_errors=True)
