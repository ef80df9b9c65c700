"""Bulk reads and writes of many ledger rows at once, without the per-row cost of
SQLAlchemy's type processing.

A day brings 100,000 claims: adjudication and payouts read and write rows by the
hundred thousand. SQLAlchemy converts every value of every row through Python
(dates to text on SQLite, rows to objects); that alone took seconds. Here:

- ``insert_rows`` writes tuples in the table's column order: on PostgreSQL with
  ``COPY`` (psycopg 3 or psycopg2), on SQLite with one ``executemany`` of values
  already in the form SQLAlchemy stores them (so the ORM reads them back as it
  wrote them); any other database goes through SQLAlchemy Core.
- ``read_frame`` runs a ``text()`` query and returns a DataFrame of the driver's
  own values, typed afterwards with one vectorised step per column.

Both run inside the caller's transaction (the session's connection).
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Boolean, Connection, Date, DateTime, TextClause, insert
from sqlalchemy.orm import Session

#: A ``Table``, or a model's ``__table__`` (which SQLAlchemy types as a FromClause).
TableLike = Any

#: How SQLAlchemy's SQLite dialect stores DateTime and Date values (as text).
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def _kinds(table: TableLike, columns: Sequence[str]) -> list[str]:
    kinds = []
    for name in columns:
        kind = table.c[name].type
        kinds.append("datetime" if isinstance(kind, DateTime) else "date" if isinstance(kind, Date)
                     else "bool" if isinstance(kind, Boolean) else "other")
    return kinds


def datetime_texts(session: Session, stamps: pa.Array) -> list[str | None]:
    """Arrow timestamps (naive = UTC) as ``insert_columns`` accepts datetimes in
    text: SQLite's stored form, or the same with an explicit UTC offset. Arrow's cast
    to string writes exactly that form, thirty times faster than its strftime."""
    # (a zoned timestamp cast to a naive one keeps its UTC instant)
    text = stamps.cast(pa.timestamp("us"), safe=False).cast(pa.string())  # 2025-09-01 03:04:05.000000
    if session.connection().dialect.name != "sqlite":
        text = pc.binary_join_element_wise(text, "+00:00", "")
    return text.to_pylist()


def _sqlite_max_parameters() -> int:
    """SQLite's limit on parameters per statement (32766 since 3.32, 999 before)."""
    return 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


def _utc_naive(value: datetime) -> datetime:
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _sqlite_value(kind: str, value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value  # None, or text already in the stored form
    if kind == "datetime":
        return _utc_naive(value).strftime(SQLITE_DATETIME)
    if kind == "date":
        return value.isoformat()
    return int(bool(value))


_TEXT_OR_NONE = {str, type(None)}


def _sqlite_column(kind: str, values: Sequence[Any]) -> Sequence[Any]:
    """A column's values as SQLAlchemy's SQLite dialect stores them; each distinct
    value is converted once (a day's dates and times repeat a lot)."""
    if kind == "other":
        return values
    if set(map(type, values)) <= _TEXT_OR_NONE:
        return values  # already in the stored form (``datetime_texts``): a day's order times are all distinct
    memo = {value: _sqlite_value(kind, value) for value in set(values)}
    return list(map(memo.__getitem__, values))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(kind: str, value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str) and kind in ("datetime", "date"):
        return value  # already text (a datetime with its UTC offset)
    if kind == "datetime":
        stamp = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return stamp.isoformat(sep=" ")
    if kind == "date":
        return value.isoformat()
    if kind == "bool":
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


def _copy_column(kind: str, values: Sequence[Any]) -> Sequence[str]:
    """A column's values in COPY text format, by the column where it can be."""
    if kind == "other":
        types = set(map(type, values))
        if types == {str}:
            joined = "".join(values)
            if any(special in joined for special in "\\\t\n\r"):
                return [value.translate(_COPY_ESCAPES) for value in values]
            return values  # nothing to escape
        if types == {int}:
            return list(map(str, values))
        return [_copy_text(kind, value) for value in values]
    memo = {value: _copy_text(kind, value) for value in set(values)}
    return list(map(memo.__getitem__, values))


def insert_rows(session: Session, table: TableLike, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` (tuples of ``columns``' values) into ``table`` in the
    session's transaction; returns how many. See ``insert_columns``."""
    rows = list(rows)
    if not rows:
        return 0
    return insert_columns(session, table, dict(zip(columns, zip(*rows, strict=True), strict=True)))


def insert_dicts(session: Session, table: TableLike, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows given as dicts that all have the same keys (the first row's)."""
    if not rows:
        return 0
    columns = list(rows[0])
    if any(len(row) != len(columns) for row in rows):
        raise ValueError(f"{table.name}: rows with different keys")
    values = itemgetter(*columns)
    return insert_rows(session, table, columns, map(values, rows)) if len(columns) > 1 else \
        insert_columns(session, table, {columns[0]: [row[columns[0]] for row in rows]})


def insert_columns(session: Session, table: TableLike, data: Mapping[str, Sequence[Any]]) -> int:
    """Insert rows given column by column (equal lengths) into ``table`` in the
    session's transaction; returns how many. Datetimes are UTC (naive = UTC); a
    date or datetime may also be given as text in the form ``datetime_texts`` gives."""
    columns = list(data)
    count = len(data[columns[0]]) if columns else 0
    if any(len(values) != count for values in data.values()):
        raise ValueError(f"{table.name}: columns of different lengths")
    if not count:
        return 0
    kinds = _kinds(table, columns)
    connection = session.connection()
    dialect = connection.dialect.name
    names = ", ".join(f'"{name}"' for name in columns)
    if dialect == "sqlite":
        # the values row by row in one object array, filled column by column: a
        # statement's parameters are then a slice of it (numpy copies the references)
        grid = np.empty((count, len(columns)), dtype=object)
        for index, (kind, name) in enumerate(zip(kinds, columns, strict=True)):
            grid[:, index] = object_array(_sqlite_column(kind, data[name]))
        # Many rows per statement (as many as SQLite takes parameters): a few
        # statements, not one per row, so the GIL changes hands a few times only and
        # the insert can run beside Python work in another thread.
        per_statement = max(1, _sqlite_max_parameters() // len(columns))
        row = f"({', '.join('?' * len(columns))})"
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            for start in range(0, count, per_statement):
                chunk = grid[start: start + per_statement]
                cursor.execute(f'INSERT INTO "{table.name}" ({names}) VALUES {", ".join([row] * len(chunk))}',
                               chunk.ravel().tolist())
        finally:
            cursor.close()
        return count
    if dialect == "postgresql" and connection.dialect.driver in ("psycopg", "psycopg2"):
        texts = [_copy_column(kind, data[name]) for kind, name in zip(kinds, columns, strict=True)]
        text = "\n".join(map("\t".join, zip(*texts, strict=True))) + "\n"
        statement = f'COPY "{table.name}" ({names}) FROM STDIN'
        raw = connection.connection.driver_connection
        if connection.dialect.driver == "psycopg":
            with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
                copy.write(text)
        else:
            cursor = raw.cursor()  # type: ignore[union-attr]
            try:
                cursor.copy_expert(statement, io.StringIO(text))
            finally:
                cursor.close()
        return count
    session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in zip(*data.values(), strict=True)])
    return count


def fetch_tuples(session: Session | Connection, query: TextClause, params: dict[str, Any] | None = None
                 ) -> tuple[list[str], list[tuple]]:
    """The column names and rows of a ``text()`` query, the rows as the driver's
    tuples: such a query has no result processing, and building SQLAlchemy rows
    for a hundred thousand of them costs more than the query."""
    result = session.execute(query, params or {})
    try:
        columns = list(result.keys())
        cursor = getattr(result, "cursor", None)
        return columns, list(cursor.fetchall() if cursor is not None else result.fetchall())
    finally:
        result.close()


def read_frame(session: Session, query: TextClause, params: dict[str, Any] | None = None,
               dates: Sequence[str] = (), datetimes: Sequence[str] = (), bools: Sequence[str] = ()) -> pd.DataFrame:
    """The rows of a ``text()`` query as a DataFrame of object columns, with the
    named columns typed: ``dates`` as ``datetime.date`` objects, ``datetimes`` as
    UTC pandas timestamps, ``bools`` as Python bools (SQLite answers 0/1)."""
    columns, rows = fetch_tuples(session, query, params)
    grid = np.empty((len(rows), len(columns)), dtype=object)
    if rows:
        grid[:] = rows  # the rows' tuples into one object array in C (a third of the time of zip and columns)
    frame = pd.DataFrame({name: grid[:, index] for index, name in enumerate(columns)}, dtype=object)
    for name in dates:
        frame[name] = _as_dates(frame[name])
    for name in datetimes:
        frame[name] = _as_datetimes(frame[name])
    for name in bools:
        frame[name] = _as_bools(frame[name])
    return frame


def object_array(values: Sequence[Any]) -> np.ndarray:
    """Values as a 1-d object array, kept as they are (no type inference); a
    typed numpy array gives its Python values, as ``tolist`` makes them."""
    if isinstance(values, np.ndarray) and values.dtype != object:
        values = values.tolist()
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _as_datetimes(values: pd.Series) -> pd.Series:
    """SQLAlchemy's SQLite text (naive UTC) or the driver's datetimes, as UTC."""
    if values.empty:
        return pd.Series(pd.to_datetime(values, utc=True), index=values.index)
    present = values.dropna()
    if len(present) and isinstance(present.iat[0], str):
        try:
            return pd.to_datetime(values, utc=True, format=SQLITE_DATETIME)
        except ValueError:
            pass  # written by something else than SQLAlchemy: any ISO 8601
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _as_bools(values: pd.Series) -> pd.Series:
    array = values.to_numpy(dtype=object)
    missing = pd.isna(values).to_numpy()
    if not missing.any():
        return pd.Series(array.astype(bool).astype(object), index=values.index, dtype=object)
    return pd.Series([None if gap else bool(value) for value, gap in zip(array, missing, strict=True)],
                     index=values.index, dtype=object)


def _as_dates(values: pd.Series) -> pd.Series:
    """ISO date strings (SQLite) or dates (PostgreSQL) as ``datetime.date`` objects."""
    if values.empty:
        return values.astype(object)
    array = values.to_numpy(dtype=object)
    mapping = {value: (None if value is None or value != value else value if isinstance(value, date)
                       else date.fromisoformat(value))
               for value in set(array.tolist())}
    return pd.Series(object_array(tuple(mapping[value] for value in array.tolist())), index=values.index, dtype=object)
