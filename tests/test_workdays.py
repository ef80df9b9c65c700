"""Official working days: schedule files, then chinesecalendar, then Mon-Fri (estimated)."""

from __future__ import annotations

import datetime
import shutil
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claims.workdays import ENV_VAR, PACKAGED_DIR, WorkCalendar, WorkdayAnswer, read_schedule

LIBRARY_YEARS = {d.year for d in chinese_calendar.holidays}
UNKNOWN_YEAR = 2031
SOURCE = "# source: test notice 国办发明电〔2030〕99号\n"

CALENDAR = WorkCalendar.load()


def write(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(body, encoding="utf-8")
    return path


def d(text: str) -> date:
    return date.fromisoformat(text)


# -- the library is what we think it is ---------------------------------------------


def test_library_covers_2025_and_2026_and_not_the_unknown_year() -> None:
    assert {2025, 2026} <= CALENDAR.known_years()
    assert UNKNOWN_YEAR not in CALENDAR.known_years()
    assert CALENDAR.known_years() == LIBRARY_YEARS  # nothing loadable is shipped yet


def test_golden_week_2025_matches_chinesecalendar() -> None:
    for offset in range(8):
        day = d("2025-10-01") + timedelta(days=offset)
        assert not chinese_calendar.is_workday(day)
        assert CALENDAR.is_working_day(day) == (False, False)
    for make_up in (d("2025-09-28"), d("2025-10-11")):
        assert make_up.weekday() >= 5 and chinese_calendar.is_workday(make_up)
        assert CALENDAR.is_working_day(make_up) == (True, False)
    assert CALENDAR.is_working_day(d("2025-10-09")) == (True, False)


@pytest.mark.parametrize("year", sorted(LIBRARY_YEARS))
def test_every_library_day_agrees_with_chinesecalendar(year: int) -> None:
    day = date(year, 1, 1)
    while day.year == year:
        assert CALENDAR.is_working_day(day) == (chinese_calendar.is_workday(day), False)
        day += timedelta(days=1)


# -- deadlines ------------------------------------------------------------------------

DEADLINES = [
    # start, n, expected, why
    ("2025-09-26", 1, "2025-09-28", "Sunday make-up day before Golden Week"),
    ("2025-09-28", 1, "2025-09-29", "from a make-up day"),
    ("2025-09-30", 1, "2025-10-09", "over Golden Week 2025"),
    ("2025-09-30", 3, "2025-10-11", "Saturday make-up day after Golden Week"),
    ("2025-09-30", 7, "2025-10-16", "7 working days (fast confirmation) over Golden Week"),
    ("2025-10-03", 1, "2025-10-09", "start inside the holiday"),
    ("2026-02-13", 1, "2026-02-14", "Saturday make-up day before Spring Festival 2026"),
    ("2026-02-13", 2, "2026-02-24", "over Spring Festival 2026 (15th..23rd off)"),
    ("2026-02-14", 5, "2026-02-28", "Saturday make-up day after Spring Festival 2026"),
    ("2026-02-10", 30, "2026-03-30", "30 working days (normal confirmation) over Spring Festival"),
    ("2025-12-31", 1, "2026-01-04", "year boundary: New Year 1..3 off, Sunday 4th worked"),
    ("2025-12-26", 7, "2026-01-07", "year boundary, 7 working days"),
    ("2025-12-30", 0, "2025-12-30", "n == 0 is start itself"),
    ("2025-10-04", 0, "2025-10-04", "n == 0 even on a holiday"),
]


@pytest.mark.parametrize(("start", "n", "expected", "why"), DEADLINES)
def test_add_working_days(start: str, n: int, expected: str, why: str) -> None:
    assert CALENDAR.add_working_days(d(start), n) == WorkdayAnswer(d(expected), False), why


def test_working_days_between_over_golden_week_and_spring_festival() -> None:
    assert CALENDAR.working_days_between(d("2025-09-30"), d("2025-10-16")) == (7, False)
    assert CALENDAR.working_days_between(d("2026-02-13"), d("2026-02-24")) == (2, False)
    assert CALENDAR.working_days_between(d("2025-12-26"), d("2026-01-07")) == (7, False)
    assert CALENDAR.working_days_between(d("2025-10-05"), d("2025-10-05")) == (0, False)
    # a whole year: 2025 has 250 working days (chinesecalendar), counted from 31 Dec 2024
    expected = sum(chinese_calendar.is_workday(d("2025-01-01") + timedelta(days=i)) for i in range(365))
    assert CALENDAR.working_days_between(d("2024-12-31"), d("2025-12-31")) == (expected, False)


def test_next_working_day() -> None:
    assert CALENDAR.next_working_day(d("2025-10-01")) == WorkdayAnswer(d("2025-10-09"), False)
    assert CALENDAR.next_working_day(d("2025-10-10")) == WorkdayAnswer(d("2025-10-11"), False)


# -- unknown years --------------------------------------------------------------------


def test_unknown_year_falls_back_to_weekdays_estimated() -> None:
    new_year = date(UNKNOWN_YEAR, 1, 1)  # a Wednesday
    assert CALENDAR.is_working_day(new_year) == (True, True)
    assert CALENDAR.is_working_day(date(UNKNOWN_YEAR, 1, 4)) == (False, True)  # Saturday
    assert CALENDAR.add_working_days(new_year, 3) == WorkdayAnswer(date(UNKNOWN_YEAR, 1, 6), True)
    assert CALENDAR.next_working_day(new_year) == WorkdayAnswer(date(UNKNOWN_YEAR, 1, 2), True)
    assert CALENDAR.working_days_between(new_year, date(UNKNOWN_YEAR, 1, 6)) == (3, True)
    assert "estimated" in CALENDAR.source(UNKNOWN_YEAR)
    assert CALENDAR.is_working_day(date(1, 1, 1)) == (True, True)


def test_estimated_only_when_a_day_on_the_way_is_estimated() -> None:
    last_known = max(LIBRARY_YEARS)
    # from inside the last known year into the first unknown one
    answer = CALENDAR.add_working_days(date(last_known, 12, 20), 30)
    assert answer.date.year == last_known + 1 and answer.estimated
    # staying inside the known year
    assert not CALENDAR.add_working_days(date(last_known, 12, 1), 3).estimated
    # from 31 December of an unknown year, the days on the way are all in the next year
    calendar = WorkCalendar({})
    assert CALENDAR.add_working_days(date(2003, 12, 31), 1) == WorkdayAnswer(d("2004-01-02"), False)
    assert calendar.working_days_between(date(2003, 12, 31), d("2004-01-02")) == (1, False)
    assert calendar.working_days_between(date(2003, 12, 30), d("2004-01-02")) == (2, True)


def test_schedule_file_makes_the_unknown_year_exact(tmp_path: Path) -> None:
    write(
        tmp_path,
        f"{UNKNOWN_YEAR}.csv",
        SOURCE
        + "date,kind\n"
        + f"{UNKNOWN_YEAR}-01-01,holiday\n"
        + f"{UNKNOWN_YEAR}-01-02,holiday\n"
        + f"{UNKNOWN_YEAR}-01-04,workday\n",
    )
    calendar = WorkCalendar.load(tmp_path)
    assert UNKNOWN_YEAR in calendar.known_years()
    new_year = date(UNKNOWN_YEAR, 1, 1)
    assert calendar.is_working_day(new_year) == (False, False)
    assert calendar.is_working_day(date(UNKNOWN_YEAR, 1, 4)) == (True, False)  # Saturday make-up
    # from 2030-12-31: 1st and 2nd off, then the 3rd (Fri), 4th (Sat, make-up), 6th (Mon)
    assert calendar.add_working_days(date(UNKNOWN_YEAR - 1, 12, 31), 3) == WorkdayAnswer(
        date(UNKNOWN_YEAR, 1, 6), False
    )
    assert calendar.working_days_between(date(UNKNOWN_YEAR - 1, 12, 31), date(UNKNOWN_YEAR, 1, 6)) == (3, False)
    assert "国办发明电〔2030〕99号" in calendar.source(UNKNOWN_YEAR)
    # the year before still has no schedule
    assert calendar.add_working_days(date(UNKNOWN_YEAR - 1, 12, 30), 1).estimated


def test_environment_variable_names_the_schedule_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, f"{UNKNOWN_YEAR}.csv", SOURCE + f"date,kind\n{UNKNOWN_YEAR}-01-01,holiday\n")
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert WorkCalendar.load().is_working_day(date(UNKNOWN_YEAR, 1, 1)) == (False, False)
    # an explicit directory replaces the environment's
    empty = tmp_path / "empty"
    empty.mkdir()
    assert WorkCalendar.load(empty).is_working_day(date(UNKNOWN_YEAR, 1, 1)) == (True, True)


def test_missing_schedule_directory_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="nowhere.*does not exist"):
        WorkCalendar.load()


def test_schedule_file_overrides_the_library(tmp_path: Path) -> None:
    # A 2025 file that knows only New Year's Day: Golden Week becomes ordinary days.
    write(tmp_path, "2025.csv", SOURCE + "date,kind,note\n2025-01-01,holiday,元旦\n")
    calendar = WorkCalendar.load(tmp_path)
    assert calendar.is_working_day(d("2025-10-01")) == (True, False)
    assert calendar.is_working_day(d("2025-09-28")) == (False, False)
    assert calendar.add_working_days(d("2025-09-30"), 1) == WorkdayAnswer(d("2025-10-01"), False)
    # other years still come from the library
    assert calendar.is_working_day(d("2026-02-16")) == (False, False)
    assert "chinesecalendar" in calendar.source(2026)


def test_the_example_file_agrees_with_the_library(tmp_path: Path) -> None:
    shutil.copy(PACKAGED_DIR / "2025.csv.example", tmp_path / "2025.csv")
    calendar = WorkCalendar.load(tmp_path)
    assert "国办发明电〔2024〕12号" in calendar.source(2025)
    day = d("2025-01-01")
    while day.year == 2025:
        assert calendar.is_working_day(day) == (chinese_calendar.is_workday(day), False), day
        day += timedelta(days=1)


# -- bad schedule files ---------------------------------------------------------------

BAD_FILES = [
    # name, body, message (regex, after "<file>, line N: ")
    ("2031.csv", SOURCE + "date,kind\n2031-02-30,holiday\n", r"line 3: bad date '2031-02-30'"),
    ("2031.csv", SOURCE + "date,kind\n20310101,holiday\n", r"line 3: bad date '20310101'"),
    ("2031.csv", SOURCE + "date,kind\n2031-1-1,holiday\n", r"line 3: bad date '2031-1-1'"),
    (
        "2031.csv",
        SOURCE + "date,kind\n2031-01-01,holiday\n\n2031-01-01,holiday\n",
        r"line 5: duplicate date 2031-01-01 \(first on line 3\)",
    ),
    ("2031.csv", SOURCE + "date,kind\n2030-12-31,holiday\n", r"line 3: 2030-12-31 is outside 2031"),
    ("2031.csv", SOURCE + "date,kind\n2031-01-01,vacation\n", r"line 3: unknown kind 'vacation'"),
    ("2031.csv", SOURCE + "date,kind\n2031-01-01,Holiday\n", r"line 3: unknown kind 'Holiday'"),
    ("2031.csv", SOURCE + "date,kind\n2031-01-06,workday\n", r"line 3: 2031-01-06 is a Monday"),
    ("2031.csv", SOURCE + "date,kind\n2031-01-01\n", r"line 3: expected 2 columns, got 1"),
    ("2031.csv", SOURCE + "day,type\n2031-01-01,holiday\n", r"line 2: the header must be"),
    ("2031.csv", SOURCE, r"no header line"),
    ("2031.csv", "date,kind\n2031-01-01,holiday\n", r"no '# source:' comment"),
    ("2031-draft.csv", SOURCE + "date,kind\n", r"named YYYY.csv"),
]


@pytest.mark.parametrize(("name", "body", "message"), BAD_FILES)
def test_bad_schedule_files_are_rejected(tmp_path: Path, name: str, body: str, message: str) -> None:
    path = write(tmp_path, name, body)
    with pytest.raises(ValueError, match=message) as caught:
        WorkCalendar.load(tmp_path)
    assert str(path) in str(caught.value)


def test_a_good_file_reads_back(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "2031.csv",
        "\ufeff# header comment\n"
        + SOURCE
        + "date,kind,note\n"
        + '2031-01-01,holiday,"New Year, 元旦"\n'
        + "# a comment between rows\n"
        + " 2031-01-04 , workday , make-up\n",
    )
    schedule = read_schedule(path)
    assert schedule.year == 2031
    assert schedule.holidays == {d("2031-01-01")}
    assert schedule.workdays == {d("2031-01-04")}
    assert schedule.source == "test notice 国办发明电〔2030〕99号"


def test_other_files_in_the_directory_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "notes")
    write(tmp_path, "2031.csv.example", "not even CSV")
    assert WorkCalendar.load(tmp_path).known_years() == LIBRARY_YEARS


# -- misuse ---------------------------------------------------------------------------


def test_misuse_is_refused() -> None:
    with pytest.raises(ValueError, match="n must be"):
        CALENDAR.add_working_days(d("2025-01-02"), -1)
    with pytest.raises(TypeError, match="not a datetime"):
        CALENDAR.is_working_day(datetime.datetime(2025, 1, 2, 12, 0))
    with pytest.raises(ValueError, match="before start"):
        CALENDAR.working_days_between(d("2025-01-02"), d("2025-01-01"))
    with pytest.raises(OverflowError):
        CALENDAR.add_working_days(date(9999, 12, 30), 5)


# -- properties -----------------------------------------------------------------------

days = st.dates(min_value=date(2002, 1, 1), max_value=date(2033, 12, 31))
counts = st.integers(min_value=0, max_value=400)


@settings(max_examples=300, deadline=None)
@given(start=days, n=st.integers(min_value=1, max_value=400))
def test_the_answer_is_a_working_day(start: date, n: int) -> None:
    answer = CALENDAR.add_working_days(start, n)
    assert answer.date > start
    assert CALENDAR.is_working_day(answer.date)[0]


@settings(max_examples=300, deadline=None)
@given(start=days, n=st.integers(min_value=0, max_value=399))
def test_strictly_increasing_in_n(start: date, n: int) -> None:
    assert CALENDAR.add_working_days(start, n).date < CALENDAR.add_working_days(start, n + 1).date


@settings(max_examples=300, deadline=None)
@given(start=days, n=counts)
def test_between_inverts_add(start: date, n: int) -> None:
    answer = CALENDAR.add_working_days(start, n)
    assert CALENDAR.working_days_between(start, answer.date) == (n, answer.estimated)


@settings(max_examples=200, deadline=None)
@given(start=days, n=st.integers(min_value=0, max_value=60))
def test_add_agrees_with_walking_day_by_day(start: date, n: int) -> None:
    day, left, estimated = start, n, False
    while left:
        day += timedelta(days=1)
        working, guessed = CALENDAR.is_working_day(day)
        estimated = estimated or guessed
        left -= working
    assert CALENDAR.add_working_days(start, n) == WorkdayAnswer(day, estimated)


@settings(max_examples=200, deadline=None)
@given(start=days, end=days)
def test_between_counts_the_working_days(start: date, end: date) -> None:
    start, end = min(start, end), max(start, end)
    if (end - start).days > 800:
        end = start + timedelta(days=800)
    walked = [CALENDAR.is_working_day(start + timedelta(days=i)) for i in range(1, (end - start).days + 1)]
    expected = (sum(w for w, _ in walked), any(e for _, e in walked))
    assert CALENDAR.working_days_between(start, end) == expected
