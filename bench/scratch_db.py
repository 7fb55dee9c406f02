"""A fresh, empty database for a benchmark run: a SQLite file in the work directory, or a PostgreSQL database
on the local server (dropped again with :meth:`Database.drop`)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from aboguard.store.engine import sqlite_url

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


class Database:
    """A fresh, empty database of either kind; ``url`` for SQLAlchemy."""

    def __init__(self, kind: str, name: str, workdir: Path) -> None:
        self.kind, self.name = kind, name
        if kind == "sqlite":
            self.url = sqlite_url(workdir / name)
        else:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
            self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

    def drop(self) -> None:
        if self.kind == "postgres":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
