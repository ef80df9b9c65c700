"""The CSV files the system publishes: UTF-8, a header row, ``\\n`` line ends,
quoting only where a value needs it (Python's csv defaults).

Every cell goes through :func:`safe_cell` first, so no file the system writes can
harm the person who opens it in a spreadsheet:
- a text cell a spreadsheet would run as a formula (OWASP: it starts with ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with a single quote
  ``'``; a plain number (``-12``, ``-0.5``) is left as it is, nothing in it runs.
  The same holds after a ``;`` inside a cell, where a spreadsheet whose list
  separator is ``;`` (many European locales) starts a cell of its own;
- every control character (U+0000-U+001F, U+007F-U+009F: NUL, tab, line breaks,
  escape, ...) in a cell is replaced by U+FFFD, so the only control characters in
  a file are the ``\\n`` line ends the format itself writes.
Numbers (``int``, ``float``) and ``None`` are written as the csv module writes them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence

#: What a spreadsheet runs when a cell starts with it (OWASP, CSV injection).
FORMULA_STARTS = frozenset("=+-@\t\r")
#: What a control character in a cell becomes.
REPLACEMENT = "\ufffd"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\Z")
_FORMULA_AFTER_SEMICOLON = re.compile("(?<=;)(?=[=+@\t\r-])")
#: Rows joined by "," and "\n", as UTF-8, in marks (bytes.translate runs at the
#: speed of a copy): a cell's start (or a ";") becomes 1, a formula's first
#: character 2, an ASCII control character other than the line break 4; a C1
#: control character (U+0080-U+009F) is the pair 5 6 (UTF-8 C2 80-9F: C2 only
#: ever leads, 80-9F only ever follow).
_JOINED_MARKS = bytes(
    1 if byte in b",;\n" else 2 if byte in b"=+@-" else 4 if byte < 0x20 or byte == 0x7F
    else 5 if byte == 0xC2 else 6 if 0x80 <= byte <= 0x9F else 0
    for byte in range(256)
)


def safe_cell(value: object) -> object:
    """``value`` as a spreadsheet may open it (see the module's docstring)."""
    if value is None or isinstance(value, (int, float)):
        return value
    text = value if isinstance(value, str) else str(value)
    if text and text[0] in FORMULA_STARTS and not _PLAIN_NUMBER.match(text):
        text = "'" + text
    if ";" in text:
        text = _FORMULA_AFTER_SEMICOLON.sub("'", text)
    if _CONTROL.search(text) is not None:
        text = _CONTROL.sub(REPLACEMENT, text)
    return text


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    return ("\n".join(csv_lines([columns, *rows])) + "\n").encode("utf-8")


def csv_lines(rows: Sequence[Sequence[object]]) -> list[str]:
    """Each row as the csv module writes its safe cells, without its line end. Rows
    of plain text (codes, ids, timestamps: a day's decisions; numbers as their text)
    are joined directly, in a third of the csv module's time; a row with a value
    that needs quoting (a comma, quote or line break; a lone empty value) or is not
    safe as it stands (a formula's start, a control character) is written cell by
    cell, as are all rows when one holds a float."""
    try:
        lines = list(map(",".join, rows))  # type: ignore[arg-type]
    except TypeError:  # a value that is not text: as the csv module writes it
        try:
            rows = [[value if value.__class__ is str else _text(value) for value in row] for row in rows]
        except _NotText:
            return [_line(row) for row in rows]
        lines = list(map(",".join, rows))  # type: ignore[arg-type]
    text = "\n".join(lines)
    widths = list(map(len, rows))
    if (text.count(",") == sum(widths) - len(widths)  # no value holds a comma,
            and text.count("\n") == len(lines) - 1  # nor a line break,
            and '"' not in text and "\r" not in text  # nor a quote
            and (min(widths, default=2) > 1 or not any(len(row) == 1 and not row[0] for row in rows))
            and _safe_as_joined(text)):  # nor a formula's start or a control character
        return lines
    return [_line(row) for row in rows]


class _NotText(Exception):
    pass


def _text(value: object) -> str:
    """A value that is not text as the csv module writes it, where safe_cell treats
    that text as it treats the value (a float is kept: "-1e-05" is safe as a number)."""
    if value is None:
        return ""
    if isinstance(value, float):
        raise _NotText
    return str.__str__(value) if isinstance(value, str) else str(value)


def _safe_as_joined(text: str) -> bool:
    marks = text.encode("utf-8", "surrogatepass").translate(_JOINED_MARKS)
    return (b"\x04" not in marks and b"\x01\x02" not in marks and marks[:1] != b"\x02"
            and (text.isascii() or b"\x05\x06" not in marks))


def _line(row: Sequence[object]) -> str:
    row = [safe_cell(value) for value in row]
    if all(type(value) is str for value in row):
        line = ",".join(row)  # type: ignore[arg-type]
        if (line.count(",") == len(row) - 1 and not any(special in line for special in '"\r\n')
                and (len(row) != 1 or line)):
            return line
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row)
    return buffer.getvalue()[:-1]


def dict_csv_bytes(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> bytes:
    """Rows as mappings with exactly ``columns`` as keys (as csv.DictWriter: a
    missing key is an empty cell, an unknown key an error)."""
    wanted = set(columns)

    def values(row: Mapping[str, object]) -> list[object]:
        if not wanted.issuperset(row):
            raise ValueError(f"dict contains fields not in fieldnames: {sorted(set(row) - wanted)}")
        return [row.get(column, "") for column in columns]

    return csv_bytes(columns, map(values, rows))


_RAW_IN_JSON = re.compile("[\x7f-\x9f]")  # json.dumps escapes U+0000-U+001F itself


def json_bytes(value: object) -> bytes:
    """``value`` as indented JSON (UTF-8, text as it is) with every control
    character escaped: json.dumps leaves DEL and U+0080-U+009F raw, and those can
    only stand inside a string, where ``\\u007f`` means the same."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return _RAW_IN_JSON.sub(lambda found: f"\\u{ord(found.group()):04x}", text).encode("utf-8")
