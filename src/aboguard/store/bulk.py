"""Fast ``executemany`` for the billing run's hot path.

SQLAlchemy Core's executemany compiles parameters row by row through its general machinery, which
costs more than the database needs to store the row. Here the statement text is built once per table
and column set, each value goes through its column type's own bind processor (so ``UtcDateTime``,
``Date``, ``JSON`` and ``Boolean`` are stored exactly as Core would store them), and the driver gets
plain tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect

Processor = Callable[[Any], Any] | None
_cache: dict[tuple[str, str, str, tuple[str, ...]], tuple[str, list[Processor]]] = {}


def _placeholder(dialect: Dialect) -> str:
    return "?" if dialect.paramstyle in {"qmark", "numeric"} else "%s"


def _processors(table: Table, columns: Sequence[str], dialect: Dialect) -> list[Processor]:
    return [table.c[name].type._cached_bind_processor(dialect) for name in columns]


def _values(rows: Sequence[dict[str, Any]], columns: Sequence[str], processors: list[Processor]
            ) -> list[Any]:
    get = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    converted = [(i, proc) for i, proc in enumerate(processors) if proc is not None]
    if not converted:
        return [get(row) for row in rows]
    # A batch repeats the same dates and instants (issue date, due date, now) thousands of times:
    # convert each distinct hashable value once. Dicts and lists (JSON) are converted every time.
    memos: list[dict[Any, Any]] = [{} for _ in converted]
    out = []
    for row in rows:
        values = list(get(row))
        for (i, proc), memo in zip(converted, memos, strict=True):
            value = values[i]
            if value is None:
                continue
            if type(value) in _MEMOIZABLE:
                found = memo.get(value, _MISSING)
                if found is _MISSING:
                    found = memo[value] = proc(value)
                values[i] = found
            else:
                values[i] = proc(value)
        out.append(tuple(values))
    return out


_MISSING = object()
_MEMOIZABLE = frozenset({date, datetime, str, int, bool})


COPY_FROM = 32  # on PostgreSQL, this many rows or more go through COPY, the fastest way in


def insert_many(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT all ``rows`` (dicts with the same keys): COPY on PostgreSQL, else one executemany.

    Constraints hold either way: a duplicate key fails the whole statement, like an INSERT.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        _copy(conn, table, columns, rows)
        return
    key = ("insert", conn.dialect.name, table.name, columns)
    cached = _cache.get(key)
    if cached is None:
        mark = _placeholder(conn.dialect)
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(mark for _ in columns)})"
        cached = _cache[key] = (sql, _processors(table, columns, conn.dialect))
    sql, processors = cached
    conn.exec_driver_sql(sql, _values(rows, columns, processors))


def update_many_versioned(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """UPDATE each row by ``id`` where ``version`` still matches, bumping the version; returns rows changed.

    Each dict holds the new column values plus ``id`` and ``version`` (the version the caller read).
    """
    if not rows:
        return 0
    columns = tuple(name for name in rows[0] if name not in {"id", "version"})
    key = ("update", conn.dialect.name, table.name, columns)
    cached = _cache.get(key)
    if cached is None:
        mark = _placeholder(conn.dialect)
        sets = ", ".join(f"{name} = {mark}" for name in columns)
        sql = f"UPDATE {table.name} SET {sets}, version = version + 1 WHERE id = {mark} AND version = {mark}"
        cached = _cache[key] = (sql, _processors(table, (*columns, "id", "version"), conn.dialect))
    sql, processors = cached
    result = conn.exec_driver_sql(sql, _values(rows, (*columns, "id", "version"), processors))
    return result.rowcount


def _copy(conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[dict[str, Any]]) -> None:
    key = ("copy", conn.dialect.name, table.name, columns)
    cached = _cache.get(key)
    if cached is None:
        cached = _cache[key] = (f"COPY {table.name} ({', '.join(columns)}) FROM STDIN",
                                _processors(table, columns, conn.dialect))
    sql, processors = cached
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(sql) as copy:
        for values in _values(rows, columns, processors):
            copy.write_row(values)
