"""Helpers shared by the repositories."""

from __future__ import annotations

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
