"""Fast ``executemany`` for the billing run's hot path.

SQLAlchemy Core's executemany compiles parameters row by row through its general machinery, which
costs more than the database needs to store the row. Here the statement text is built once per table
and column set, and so is a small function that turns a row dict into the driver's tuple: each value goes
through its column type's own bind processor, so ``UtcDateTime``, ``Date``, ``JSON`` and ``Boolean`` are
stored exactly as Core would store them. On SQLite, dates and instants take a faster route to the very
same text (``YYYY-MM-DD`` and ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC), which keeps them sorting as before.
A batch repeats the same dates and instants (issue date, due date, now) thousands of times, so each
distinct one is converted once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

from .types import UtcDateTime

Processor = Callable[[Any], Any]
Converter = Callable[[dict[str, Any]], tuple[Any, ...]]
_cache: dict[tuple[str, str, str, tuple[str, ...]], tuple[str, Converter]] = {}

COPY_FROM = 32  # on PostgreSQL, this many rows or more go through COPY, the fastest way in


def insert_many(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT all ``rows`` (dicts with the same keys): COPY on PostgreSQL, else one executemany.

    Constraints hold either way: a duplicate key fails the whole statement, like an INSERT, and raises
    SQLAlchemy's ``IntegrityError`` on both paths.
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
        cached = _cache[key] = (sql, _converter(table, columns, conn.dialect))
    sql, convert = cached
    conn.exec_driver_sql(sql, list(map(convert, rows)))


def update_many_versioned(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """UPDATE each row by ``id`` where ``version`` still matches, bumping the version; returns rows changed.

    Each dict holds the new column values plus ``id`` and ``version`` (the version the caller read).
    """
    if not rows:
        return 0
    columns = tuple(name for name in rows[0] if name not in {"id", "version"})
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        return _update_from_arrays(conn, table, columns, rows)
    key = ("update", conn.dialect.name, table.name, columns)
    cached = _cache.get(key)
    if cached is None:
        mark = _placeholder(conn.dialect)
        sets = ", ".join(f"{name} = {mark}" for name in columns)
        sql = f"UPDATE {table.name} SET {sets}, version = version + 1 WHERE id = {mark} AND version = {mark}"
        cached = _cache[key] = (sql, _converter(table, (*columns, "id", "version"), conn.dialect))
    sql, convert = cached
    result = conn.exec_driver_sql(sql, list(map(convert, rows)))
    return result.rowcount


def _update_from_arrays(conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[dict[str, Any]]
                        ) -> int:
    """PostgreSQL: one ``UPDATE ... FROM unnest(arrays)`` for all rows, one array parameter per column. An
    ``executemany`` sends a statement per row, which costs PostgreSQL a round of parse, plan and execute each."""
    key = ("update-arrays", conn.dialect.name, table.name, columns)
    cached = _cache.get(key)
    every = (*columns, "id", "version")
    if cached is None:
        arrays = ", ".join(f"%s::{table.c[name].type.compile(dialect=conn.dialect)}[]" for name in every)
        sets = ", ".join(f"{name} = v.{name}" for name in columns)
        sql = (f"UPDATE {table.name} AS t SET {sets}, version = t.version + 1 FROM unnest({arrays}) "
               f"AS v({', '.join(every)}) WHERE t.id = v.id AND t.version = v.version")
        cached = _cache[key] = (sql, _converter(table, every, conn.dialect))
    sql, convert = cached
    values = [list(column) for column in zip(*map(convert, rows), strict=True)]
    return conn.exec_driver_sql(sql, tuple(values)).rowcount


def _copy(conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[dict[str, Any]]) -> None:
    key = ("copy", conn.dialect.name, table.name, columns)
    cached = _cache.get(key)
    if cached is None:
        cached = _cache[key] = (f"COPY {table.name} ({', '.join(columns)}) FROM STDIN",
                                _converter(table, columns, conn.dialect))
    sql, convert = cached
    if not conn.in_transaction():
        conn.begin()  # what Core's autobegin would do: the caller's commit() must include these rows
    driver = conn.connection.driver_connection
    assert driver is not None
    dbapi = conn.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(convert(row))
    except dbapi.Error as exc:  # wrapped as Core wraps it, so callers catch IntegrityError on both paths
        raise DBAPIError.instance(sql, None, exc, dbapi.Error, dialect=conn.dialect) from exc


# -- row dict -> driver tuple ---------------------------------------------------------------------------


def _placeholder(dialect: Dialect) -> str:
    return "?" if dialect.paramstyle in {"qmark", "numeric"} else "%s"


def _converter(table: Table, columns: Sequence[str], dialect: Dialect) -> Converter:
    """A function ``row dict -> tuple`` for these columns, generated once: no loop per value."""
    namespace: dict[str, Any] = {}
    parts = []
    for i, name in enumerate(columns):
        processor = _processor(table.c[name].type, dialect)
        if processor is None:
            parts.append(f"row[{name!r}]")
        else:
            namespace[f"p{i}"] = processor
            parts.append(f"(None if (v{i} := row[{name!r}]) is None else p{i}(v{i}))")
    source = f"def convert(row):\n    return ({', '.join(parts)},)\n"
    exec(compile(source, f"<bulk {table.name}>", "exec"), namespace)
    return namespace["convert"]  # type: ignore[no-any-return]


def _processor(column_type: TypeEngine[Any], dialect: Dialect) -> Processor | None:
    processor: Processor | None = column_type._cached_bind_processor(dialect)
    if isinstance(column_type, UtcDateTime):
        return _memoized(_sqlite_instant if dialect.name == "sqlite" else processor)  # type: ignore[arg-type]
    if type(column_type) is Date:
        if dialect.name == "sqlite":
            fallback = processor
            assert fallback is not None
            return _memoized(lambda value: value.isoformat() if type(value) is date else fallback(value))
        return processor if processor is None else _memoized(processor)
    return processor


MEMO_SIZE = 4096


def _memoized(processor: Processor) -> Processor:
    """``processor`` remembering its last few thousand results (for immutable values: dates and instants).

    Equal aware instants in different zones share one entry; they are stored as the same UTC value anyway.
    """
    memo: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        found = memo.get(value)
        if found is None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            found = memo[value] = processor(value)
        return found

    return convert


def _sqlite_instant(value: datetime) -> str:
    """What ``UtcDateTime`` and SQLite's DATETIME processor write, in one step."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"refusing to store a naive datetime {value!r}: instants must be aware")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
