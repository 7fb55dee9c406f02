"""Engine factory: SQLite (WAL, foreign keys, BEGIN IMMEDIATE) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
_POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def sqlite_url(data_dir: Path) -> str:
    """The URL of the SQLite database file inside ``data_dir``."""
    return f"sqlite:///{Path(data_dir).expanduser().resolve() / 'aboguard.db'}"


def normalise_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` go through psycopg 3; anything else is left alone."""
    for scheme in _POSTGRES_SCHEMES:
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def make_engine(url: str, *, durable: bool = True) -> Engine:
    """A new engine for ``url`` (nothing is cached: callers dispose what they make).

    ``durable=False`` (SQLite only) skips the flush to disk at each commit: for throw-away databases
    such as the recovery simulator's, never for an installation's books.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, durable=durable)
    return create_engine(url, pool_pre_ping=True)


def _sqlite_engine(url: str, database: str | None, *, durable: bool = True) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if not durable:
                cursor.execute("PRAGMA synchronous=OFF")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Take the write lock up front: two writers never deadlock upgrading a shared read lock.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
