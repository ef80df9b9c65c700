"""csv_bytes gives the csv module's bytes, whether or not it takes its fast path."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from claims.csvtext import csv_bytes, csv_lines


def reference(columns: list[str], rows: list[list[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


VALUES = st.one_of(st.text(alphabet='ab,"\r\n -;@', max_size=5), st.none(), st.integers(-5, 5))


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
    csv.writer(buffer, lineterminator="\n").writerow(row)
    return buffer.getvalue()[:-1]


def test_lines_of_plain_rows_and_of_rows_that_need_quoting_among_them() -> None:
    rows = [["C1", "a;b"], ["C2", 'say "no"'], ["C3", ""], [""], ["C4", None, 7]]
    assert csv_lines(rows) == ["C1,a;b", 'C2,"say ""no"""', "C3,", '""', "C4,,7"]
