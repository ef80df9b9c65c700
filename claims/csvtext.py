"""The CSV files the system publishes: UTF-8, a header row, ``\\n`` line ends,
quoting only where a value needs it (Python's csv defaults)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    return ("\n".join(csv_lines([columns, *rows])) + "\n").encode("utf-8")


def csv_lines(rows: Sequence[Sequence[object]]) -> list[str]:
    """Each row as the csv module writes it, without its line end. Rows of plain
    text (codes, ids, timestamps: a day's decisions) are joined directly, in a third
    of the csv module's time; a row with a value that is not text or needs quoting
    (a comma, quote or line break; a lone empty value) is written by the csv module."""
    try:
        lines = list(map(",".join, rows))  # type: ignore[arg-type]
    except TypeError:
        lines = None  # a value that is not text: row by row below
    if lines is not None:
        text = "\n".join(lines)
        widths = list(map(len, rows))
        if (text.count(",") == sum(widths) - len(widths)  # no value holds a comma,
                and text.count("\n") == len(lines) - 1  # nor a line break,
                and '"' not in text and "\r" not in text  # nor a quote
                and (min(widths, default=2) > 1 or not any(len(row) == 1 and not row[0] for row in rows))):
            return lines
    return [_line(row) for row in rows]


def _line(row: Sequence[object]) -> str:
    if all(type(value) is str for value in row):
        line = ",".join(row)  # type: ignore[arg-type]
        if (line.count(",") == len(row) - 1 and not any(special in line for special in '"\r\n')
                and (len(row) != 1 or line)):
            return line
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row)
    return buffer.getvalue()[:-1]


def dict_csv_bytes(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> bytes:
    """Rows as mappings with exactly ``columns`` as keys."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
