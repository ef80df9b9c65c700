"""Find what a business day's run should read in the landing zone.

A partition (``{source}/platform={code}/date={YYYY-MM-DD}/``) is complete when its
``_SUCCESS`` marker exists. The run of day D reads D's partitions and those of the
``late_window_days`` days before; a partition without its marker is reported as
not arrived, and never waited for here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from claims.store import Store, StoredObject

MARKER = "_SUCCESS"
_PARTITION = re.compile(
    r"^(?P<source>[a-z_]+)/(?:platform=(?P<platform>[^/]+)/)?(?P<level>date|month)=(?P<date>[^/]+)/(?P<name>.+)$"
)
#: Feeds partitioned by month (``month=YYYY-MM``): the run of D reads D's month and
#: the month before (a month is declared after it ends), each once per file.
MONTHLY = ("declarations",)
#: Feeds without a platform level: ``{source}/date={YYYY-MM-DD}/`` (CONTRACT.md).
PLATFORMLESS = ("determinations", "bank_returns")


#: Why an object of a complete partition is not read (reason codes, reported in quality/).
HIDDEN = "HIDDEN_FILE"
IN_SUBFOLDER = "IN_SUBFOLDER"


@dataclass(frozen=True)
class LandingObject:
    key: str
    name: str
    size: int
    platform_code: str
    partition_date: date
    version: str = ""  # the store's version tag (ETag, modification time)


@dataclass(frozen=True)
class SkippedObject:
    """An object of a complete partition that is not read, and why."""

    key: str
    size: int
    platform_code: str
    partition_date: date
    reason_code: str


@dataclass
class Discovery:
    source: str
    day: date
    files: list[LandingObject] = field(default_factory=list)
    not_arrived: list[str] = field(default_factory=list)  # partition prefixes
    ignored: list[str] = field(default_factory=list)  # keys outside any valid partition, hidden or in sub-folders
    skipped: list[SkippedObject] = field(default_factory=list)  # those of complete partitions, with the reason


def window(day: date, late_window_days: int, extra_dates: tuple[date, ...] = ()) -> list[date]:
    days = [day - timedelta(days=offset) for offset in range(late_window_days, -1, -1)]
    return sorted(set(days) | set(extra_dates))


def discover(
    landing: Store,
    source: str,
    day: date,
    platforms: list[str],
    late_window_days: int,
    extra_dates: tuple[date, ...] = (),
) -> Discovery:
    """List the files of every complete partition in the window, in contract order
    (partition date, then file name)."""
    if source in PLATFORMLESS:
        platforms = [""]
    monthly = source in MONTHLY
    dates = set(window(day, late_window_days, extra_dates))
    if monthly:
        this_month = day.replace(day=1)
        dates = {this_month, (this_month - timedelta(days=1)).replace(day=1)} | {d.replace(day=1) for d in extra_dates}
    found = Discovery(source, day)
    partitions: dict[tuple[str, date], list[StoredObject]] = {}
    unread: dict[tuple[str, date], list[tuple[StoredObject, str]]] = {}
    markers: set[tuple[str, date]] = set()
    for obj in landing.list(f"{source}/"):
        match = _PARTITION.match(obj.key)
        if (not match or (match["platform"] is None) != (source in PLATFORMLESS)
                or (match["level"] == "month") != monthly):
            found.ignored.append(obj.key)
            continue
        try:
            text = match["date"] + "-01" if monthly else match["date"]
            if monthly and len(match["date"]) != 7:
                raise ValueError(match["date"])
            partition_date = date.fromisoformat(text)
        except ValueError:
            found.ignored.append(obj.key)
            continue
        if partition_date not in dates:
            continue
        name = match["name"]
        slot = (match["platform"] or "", partition_date)
        if "/" in name or name.startswith("."):
            found.ignored.append(obj.key)
            unread.setdefault(slot, []).append((obj, IN_SUBFOLDER if "/" in name else HIDDEN))
            continue
        if name == MARKER:
            markers.add(slot)
        else:
            partitions.setdefault(slot, []).append(obj)
    expected = day.replace(day=1) if monthly else day
    for platform in platforms:
        if (platform, expected) not in markers and not monthly:  # a month's filing is not due every day
            found.not_arrived.append(partition_prefix(source, platform, expected))
    for slot in sorted(unread, key=lambda s: (s[1], s[0])):
        if slot in markers:
            found.skipped.extend(SkippedObject(obj.key, obj.size, slot[0], slot[1], reason)
                                 for obj, reason in sorted(unread[slot], key=lambda item: item[0].key))
    for slot in sorted(partitions, key=lambda s: (s[1], s[0])):
        prefix = partition_prefix(source, slot[0], slot[1])
        if slot not in markers:
            if prefix not in found.not_arrived:
                found.not_arrived.append(prefix)
            continue
        for obj in sorted(partitions[slot], key=lambda o: o.key):
            found.files.append(LandingObject(obj.key, obj.key.rsplit("/", 1)[1], obj.size, slot[0], slot[1],
                                             obj.version))
    found.files.sort(key=lambda f: (f.partition_date, f.name, f.platform_code))
    return found


def partition_prefix(source: str, platform: str, day: date) -> str:
    level = f"platform={platform}/" if platform else ""
    if source in MONTHLY:
        return f"{source}/{level}month={day:%Y-%m}/"
    return f"{source}/{level}date={day.isoformat()}/"
