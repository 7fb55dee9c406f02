"""Database fixtures: every integration test runs on SQLite and on PostgreSQL.

``db_url`` is an empty, un-migrated database; ``engine`` is that database migrated to head;
``uow_factory`` makes units of work on it. PostgreSQL: one fresh database per session, its ``public``
schema recreated before each test. Without a server the postgres cases skip, unless
``ABOGUARD_REQUIRE_POSTGRES=1`` (CI), which turns that into a failure.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from aboguard.cli import main
from aboguard.store import migrate
from aboguard.store.engine import make_engine, sqlite_url
from aboguard.store.sql import SqlUnitOfWorkFactory

POSTGRES_SERVER = os.environ.get("ABOGUARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
START_HINT = ("PostgreSQL is not reachable at {url}: start it, e.g. `docker run --rm -p 5432:5432 "
              "-e POSTGRES_HOST_AUTH_METHOD=trust postgres:16`, or point ABOGUARD_TEST_POSTGRES_URL at a server "
              "({error})")


class _PostgresServer:
    """Creates the session's test database on first use and drops it at the end."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.error: str | None = None
        self._admin: Engine | None = None

    def database_url(self) -> str:
        if self.url is None and self.error is None:
            self._create()
        if self.error is not None:
            message = START_HINT.format(url=make_url(POSTGRES_SERVER).render_as_string(), error=self.error)
            if os.environ.get("ABOGUARD_REQUIRE_POSTGRES") == "1":
                pytest.fail(message)
            pytest.skip(message)
        assert self.url is not None
        return self.url

    def _create(self) -> None:
        name = f"aboguard_test_{uuid.uuid4().hex[:12]}"
        self._admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        try:
            with self._admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError as exc:
            self.error = str(exc.orig or exc).strip().splitlines()[0]
            self._admin.dispose()
            self._admin = None
            return
        self.url = make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)

    def reset(self) -> None:
        """Empty the test database: drop and recreate the public schema."""
        assert self.url is not None
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        finally:
            engine.dispose()

    def drop(self) -> None:
        if self._admin is None or self.url is None:
            return
        name = make_url(self.url).database
        try:
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            self._admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[_PostgresServer]:
    server = _PostgresServer()
    yield server
    server.drop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, not migrated: SQLite in a temporary directory, or the session's PostgreSQL one."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "data")
    server: _PostgresServer = request.getfixturevalue("postgres_server")
    url = server.database_url()
    server.reset()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """The database migrated to head."""
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def uow_factory(engine: Engine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


@pytest.fixture
def cli_run(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            tmp_path: Path) -> Callable[..., Any]:
    """``run(*args, expect=0)``: the aboguard CLI in this process on the test's database (data directory
    ``tmp_path/data``, Berlin time). Returns the parsed JSON with ``--json``, stderr when a failure is expected,
    else stdout; a different exit code fails the test with both outputs."""
    monkeypatch.setenv("ABOGUARD_DATABASE_URL", db_url)
    monkeypatch.setenv("ABOGUARD_DATA_DIR", str(tmp_path / "data"))  # secret key and sandbox gateway files
    monkeypatch.setenv("ABOGUARD_MERCHANT_TZ", "Europe/Berlin")

    def run(*args: str, expect: int = 0) -> Any:
        code = main(list(args))
        out, err = capsys.readouterr()
        assert code == expect, f"exit {code}, stdout={out!r}, stderr={err!r}"
        if expect != 0:
            return err
        return json.loads(out) if "--json" in args else out

    return run
