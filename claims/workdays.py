"""Official Chinese working days, for deadlines counted in working days.

An injury is confirmed within N working days and paid within M; "working day" follows
the official calendar: Monday to Friday, minus public holidays, plus the weekend
make-up working days (调休上班) the State Council announces with them.

Where a year's calendar comes from, first match wins:

1. a schedule file ``YYYY.csv`` maintained by an administrator (the State Council
   publishes each year's schedule late in the year before, often before a new
   ``chinesecalendar`` release); it replaces everything else for that year;
2. the ``chinesecalendar`` package, for the years it holds;
3. otherwise plain weekdays (Monday to Friday), and every answer that relied on such a
   day says ``estimated=True``. No date is ever refused for being in an unknown year.

Schedule files are read from ``claims/reference/data/workdays/`` (shipped with the
package) and from the directory named by ``CLAIMS_WORKDAYS_DIR`` (or the directory
given to :meth:`WorkCalendar.load`); a file there replaces a shipped file for the same
year. The format is documented in ``claims/reference/data/workdays/README.md``.

A year's working days are computed once, as a sorted list of ordinals, so adding
working days is a bisect plus a walk over whole years.
"""

from __future__ import annotations

import csv
import datetime
import operator
import pathlib
import re
from bisect import bisect_right
from dataclasses import dataclass

import chinese_calendar

from claims.settings import setting

ENV_VAR = "CLAIMS_WORKDAYS_DIR"
PACKAGED_DIR = pathlib.Path(__file__).parent / "reference" / "data" / "workdays"
HOLIDAY = "holiday"
WORKDAY = "workday"
KINDS = (HOLIDAY, WORKDAY)

_FILE_NAME = re.compile(r"^([0-9]{4})\.csv$")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_SOURCE = re.compile(r"^#\s*source\s*:\s*(\S.*)$", re.IGNORECASE)
_HEADERS = (("date", "kind"), ("date", "kind", "note"))
_MAX_YEAR = datetime.MAXYEAR


@dataclass(frozen=True, slots=True)
class WorkdayAnswer:
    date: datetime.date
    estimated: bool  # some day on the way came from the weekday fallback


@dataclass(frozen=True)
class Schedule:
    """One year's exceptions to the Monday-to-Friday rule, from one file."""

    year: int
    holidays: frozenset[datetime.date]
    workdays: frozenset[datetime.date]
    source: str  # the "# source:" comment: the notice and its number
    path: pathlib.Path

    def is_working_day(self, day: datetime.date) -> bool:
        return day in self.workdays or (day.weekday() < 5 and day not in self.holidays)


@dataclass(frozen=True)
class _Year:
    ordinals: list[int]  # the year's working days, ascending
    estimated: bool
    source: str


def _library_years() -> frozenset[int]:
    return frozenset(day.year for day in (*chinese_calendar.holidays, *chinese_calendar.workdays))


_LIBRARY_YEARS = _library_years()
_LIBRARY_SOURCE = f"chinesecalendar {getattr(chinese_calendar, '__version__', '?')}"


def read_schedule(path: pathlib.Path) -> Schedule:
    """Read and strictly check one schedule file; any problem is a ValueError naming file and line."""
    match = _FILE_NAME.match(path.name)
    if not match:
        raise ValueError(f"{path}: a schedule file is named YYYY.csv (e.g. 2027.csv)")
    year = int(match.group(1))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 ({error})") from error

    source: str | None = None
    header_seen = False
    width = 0
    holidays: set[datetime.date] = set()
    workdays: set[datetime.date] = set()
    first_line: dict[datetime.date, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{path}, line {number}"
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            found = _SOURCE.match(stripped)
            if found and source is None:
                source = found.group(1).strip()
            continue
        cells = [cell.strip() for cell in next(csv.reader([line]))]
        if not header_seen:
            if tuple(cells) not in _HEADERS:
                raise ValueError(f"{where}: the header must be 'date,kind' or 'date,kind,note', got {stripped!r}")
            header_seen = True
            width = len(cells)
            continue
        if len(cells) != width:
            raise ValueError(f"{where}: expected {width} columns, got {len(cells)}: {stripped!r}")
        text_day, kind = cells[0], cells[1]
        try:
            if not _DAY.match(text_day):
                raise ValueError(text_day)
            day = datetime.date.fromisoformat(text_day)
        except ValueError:
            raise ValueError(f"{where}: bad date {text_day!r}, expected YYYY-MM-DD") from None
        if day.year != year:
            raise ValueError(f"{where}: {day.isoformat()} is outside {year}, the year this file is for")
        if day in first_line:
            raise ValueError(f"{where}: duplicate date {day.isoformat()} (first on line {first_line[day]})")
        first_line[day] = number
        if kind == HOLIDAY:
            holidays.add(day)
        elif kind == WORKDAY:
            if day.weekday() < 5:
                raise ValueError(
                    f"{where}: {day.isoformat()} is a {day.strftime('%A')}, a working day anyway; "
                    "'workday' rows are for weekend make-up working days"
                )
            workdays.add(day)
        else:
            raise ValueError(f"{where}: unknown kind {kind!r}, expected one of {', '.join(KINDS)}")
    if not header_seen:
        raise ValueError(f"{path}: no header line 'date,kind'")
    if source is None:
        raise ValueError(f"{path}: no '# source:' comment naming the notice this schedule comes from")
    return Schedule(year, frozenset(holidays), frozenset(workdays), source, path)


def read_schedules(directory: pathlib.Path) -> dict[int, Schedule]:
    """Every ``YYYY.csv`` in a directory; any other ``*.csv`` there is an error, not silently skipped."""
    if not directory.is_dir():
        raise ValueError(f"working-day schedule directory {directory} does not exist or is not a directory")
    schedules: dict[int, Schedule] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() != ".csv":
            continue
        schedule = read_schedule(path)
        schedules[schedule.year] = schedule
    return schedules


def _check_day(day: object) -> datetime.date:
    if type(day) is not datetime.date:
        if isinstance(day, datetime.datetime):
            raise TypeError("pass a date, not a datetime (claims.calendar.business_day_of gives an instant's day)")
        raise TypeError(f"expected a datetime.date, got {type(day).__name__}")
    return day


class WorkCalendar:
    """Working days by schedule file, then chinesecalendar, then Monday to Friday (estimated)."""

    def __init__(self, schedules: dict[int, Schedule] | None = None) -> None:
        self._schedules: dict[int, Schedule] = dict(schedules or {})
        self._years: dict[int, _Year] = {}

    @classmethod
    def load(cls, schedule_dir: pathlib.Path | None = None) -> WorkCalendar:
        """Shipped schedule files, overridden year by year by those in ``schedule_dir``
        (default: the directory in ``CLAIMS_WORKDAYS_DIR``, when set)."""
        schedules: dict[int, Schedule] = {}
        if PACKAGED_DIR.is_dir():
            schedules.update(read_schedules(PACKAGED_DIR))
        if schedule_dir is None:
            configured = (setting(ENV_VAR) or "").strip()
            schedule_dir = pathlib.Path(configured) if configured else None
        if schedule_dir is not None:
            schedules.update(read_schedules(pathlib.Path(schedule_dir)))
        return cls(schedules)

    # -- per-year cache -------------------------------------------------------------

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is None:
            cached = self._years[year] = self._compute_year(year)
        return cached

    def _compute_year(self, year: int) -> _Year:
        first = datetime.date(year, 1, 1).toordinal()
        last = datetime.date(year, 12, 31).toordinal()
        days = [datetime.date.fromordinal(o) for o in range(first, last + 1)]
        schedule = self._schedules.get(year)
        if schedule is not None:
            working = [d for d in days if schedule.is_working_day(d)]
            source, estimated = f"schedule file {schedule.path} ({schedule.source})", False
        elif year in _LIBRARY_YEARS:
            working = [d for d in days if chinese_calendar.is_workday(d)]
            source, estimated = _LIBRARY_SOURCE, False
        else:
            working = [d for d in days if d.weekday() < 5]
            source, estimated = "Monday to Friday (no published schedule: estimated)", True
        return _Year([d.toordinal() for d in working], estimated, source)

    # -- the API --------------------------------------------------------------------

    def known_years(self) -> set[int]:
        """Years covered by a schedule file or by chinesecalendar."""
        return set(self._schedules) | set(_LIBRARY_YEARS)

    def source(self, year: int) -> str:
        """Where the year's working days come from, for a decision's reasons."""
        return self._year(year).source

    def is_working_day(self, day: datetime.date) -> tuple[bool, bool]:
        """(working?, estimated?)."""
        day = _check_day(day)
        year = self._year(day.year)
        ordinals = year.ordinals
        ordinal = day.toordinal()
        index = bisect_right(ordinals, ordinal)
        return (index > 0 and ordinals[index - 1] == ordinal), year.estimated

    def add_working_days(self, start: datetime.date, n: int) -> WorkdayAnswer:
        """The n-th working day after start (start itself never counts); n == 0 gives start."""
        start = _check_day(start)
        if isinstance(n, bool) or not hasattr(n, "__index__") or operator.index(n) < 0:
            raise ValueError(f"n must be a whole number >= 0, got {n!r}")
        n = operator.index(n)  # numpy integers too
        if n == 0:
            return WorkdayAnswer(start, False)
        year_number = start.year
        year = self._year(year_number)
        ordinals = year.ordinals
        index = bisect_right(ordinals, start.toordinal())
        # A day of the start year lies on the way unless start is 31 December.
        estimated = year.estimated and (start.month, start.day) != (12, 31)
        remaining = n
        while True:
            available = len(ordinals) - index
            if remaining <= available:
                return WorkdayAnswer(datetime.date.fromordinal(ordinals[index + remaining - 1]), estimated)
            remaining -= available
            year_number += 1
            if year_number > _MAX_YEAR:
                raise OverflowError(f"{n} working days after {start} is beyond {datetime.date.max}")
            year = self._year(year_number)
            ordinals = year.ordinals
            index = 0
            estimated = estimated or year.estimated

    def next_working_day(self, day: datetime.date) -> WorkdayAnswer:
        """The first working day strictly after day."""
        return self.add_working_days(day, 1)

    def working_days_between(self, start: datetime.date, end: datetime.date) -> tuple[int, bool]:
        """Working days in (start, end]: 0 when end == start; end before start is an error."""
        start, end = _check_day(start), _check_day(end)
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        if end == start:
            return 0, False
        start_ordinal, end_ordinal = start.toordinal(), end.toordinal()
        count = 0
        estimated = False
        for year_number in range(start.year, end.year + 1):
            year = self._year(year_number)
            ordinals = year.ordinals
            low = bisect_right(ordinals, start_ordinal) if year_number == start.year else 0
            high = bisect_right(ordinals, end_ordinal) if year_number == end.year else len(ordinals)
            count += high - low
            if year.estimated and not (year_number == start.year and (start.month, start.day) == (12, 31)):
                estimated = True
        return count, estimated
