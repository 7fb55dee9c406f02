"""Helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, all_, any_, literal
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
