"""Helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, all_, any_, bindparam, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable


def execute_guarded(connection: Connection, statement: Executable) -> IntegrityError | None:
    """Run ``statement`` inside a savepoint; return the IntegrityError instead of raising it.

    The savepoint keeps the outer transaction usable after a constraint violation (PostgreSQL aborts
    the whole transaction otherwise), so the caller can look up the cause and raise a domain error.
    """
    try:
        with connection.begin_nested():
            connection.execute(statement)
    except IntegrityError as exc:
        return exc
    return None


def one_of(connection: Connection, column: ColumnElement[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``, one parameter however many values.

    A thousand-value IN list costs PostgreSQL (and the driver) a placeholder each to render and parse.
    """
    if connection.dialect.name == "postgresql":
        return column == any_(literal(list(values), ARRAY(column.type)))
    return column.in_(list(values))


def none_of(connection: Connection, column: ColumnElement[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """``column NOT IN (values)`` for a column without NULLs; on PostgreSQL ``column <> ALL(:array)``."""
    if connection.dialect.name == "postgresql":
        return column != all_(literal(list(values), ARRAY(column.type)))
    return column.not_in(list(values))


# -- statements built once ---------------------------------------------------------------------------------
#
# Building a Core statement (``select(t).where(t.c.id == x)``) and its cache key costs several times more
# than running it on SQLite. The hot lookups and optimistic updates are built once per table and run with
# bound parameters; the statement text then comes from SQLAlchemy's compiled cache.

_statements: dict[tuple[Any, ...], Any] = {}


def select_where(table: Table, *columns: str, order_by: tuple[str, ...] = ()) -> Select[Any]:
    """``SELECT * FROM table WHERE c1 = :w_c1 AND ...`` built once; run with ``{"w_c1": value, ...}``."""
    key = ("select", table.name, columns, order_by)
    statement = _statements.get(key)
    if statement is None:
        statement = select(table).where(*(table.c[c] == bindparam(f"w_{c}") for c in columns))
        if order_by:
            statement = statement.order_by(*(table.c[c] for c in order_by))
        _statements[key] = statement
    return statement


def where(**values: Any) -> dict[str, Any]:
    """The parameters for :func:`select_where`."""
    return {f"w_{name}": value for name, value in values.items()}


def update_versioned(connection: Connection, table: Table, values: dict[str, Any], row_id: Any,
                     version: int) -> int:
    """``UPDATE table SET <values>, version = version + 1 WHERE id = :id AND version = :version`` with the
    statement built once per column set; returns the number of rows changed (0: someone else changed it)."""
    columns = tuple(values)
    key = ("update", table.name, columns)
    statement = _statements.get(key)
    if statement is None:
        statement = (update(table).where(table.c.id == bindparam("w_id"), table.c.version == bindparam("w_version"))
                     .values({**{c: bindparam(f"v_{c}") for c in columns}, "version": table.c.version + 1}))
        _statements[key] = statement
    params = {f"v_{c}": v for c, v in values.items()}
    params.update(w_id=row_id, w_version=version)
    return connection.execute(statement, params).rowcount


def insert_row(connection: Connection, table: Table, row: dict[str, Any]) -> None:
    """INSERT one row through a statement built once per table (no per-call ``.values()`` compilation)."""
    key = ("insert", table.name)
    statement = _statements.get(key)
    if statement is None:
        statement = _statements[key] = insert(table)
    connection.execute(statement, row)


def insert_if_new(connection: Connection, table: Table, row: dict[str, Any]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL): 1 if the row was stored, 0 if a row with the
    same unique key exists. One statement, no savepoint, and the transaction stays usable either way."""
    dialect = connection.dialect.name
    key = ("insert_if_new", dialect, table.name)
    statement = _statements.get(key)
    if statement is None:
        if dialect == "postgresql":  # psycopg reports no row count here: ask for the stored key back
            statement = postgresql.insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
        else:
            statement = sqlite.insert(table).on_conflict_do_nothing()
        _statements[key] = statement
    result = connection.execute(statement, row)
    return len(result.all()) if dialect == "postgresql" else result.rowcount
