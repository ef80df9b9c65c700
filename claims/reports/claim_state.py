"""The claims side of the province report, derived once and aggregated in SQL.

A claim's figures in the province report of D depend on the ledger as of D: its
filing day and claimant, its insuring province (the order's once the order is
known, the incident's before), its current outcome (the last decision made),
the day of its first released payment, and whether a payment or confirmation
deadline has passed. Each changes only on the business days its detail rows are
stamped with, so a claim has a short history of *states*, each valid from one
business day to the next change (``report_claim_state``); and its benefits paid
are a list of (day, fen) rows: released items on their day, returns (negative)
on theirs (``report_claim_money``).

``refresh`` derives the states of every claim whose detail changed since it last
ran (new versions, decisions, items, returns, orders, confirmation rows,
releases: found by the detail tables' ids, so a re-run of an old day is seen as
well as a new day), replacing their rows. Each state is computed from the rows
stamped up to its first day only, so the states valid on D are the ledger as of
D whatever ran later: a re-run of D reads the same states and renders the same
bytes.

A day's report then reads *cells*: per filing day (or first-payment day, or
money day), province, platform and outcome, the count, the number of distinct
claimants (when 5 or more, only that they are 5 or more) and, when fewer than 5,
who they are. A figure over a period is the union of its cells: it rests on 5
or more workers when any of its cells does, else on the union of the cells'
claimants, which are all known. So small-cell suppression stays exact without
reading claims into Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Date, Engine, String, bindparam, text

ClaimKey = tuple[str, str]  # (platform_code, claim_id)
#: A cell resting on more distinct claimants than this is "many": suppression
#: needs to know only that (claims.reports.province.SMALL_CELL_MAX is 4).
FEW = 4
#: Claims derived per round (a temporary table of their keys, then a join per table).
CHUNK = 20_000

_SOURCES = {
    "claim_version": "SELECT platform_code, claim_id FROM claim_version WHERE id > :low AND id <= :high",
    "decision": "SELECT platform_code, claim_id FROM decision WHERE id > :low AND id <= :high",
    "payout_item": "SELECT platform_code, claim_id FROM payout_item WHERE id > :low AND id <= :high",
    # a return is applied to its item in place; the ledger's return transaction is new
    "ledger_transaction": "SELECT platform_code, claim_id FROM ledger_transaction "
                          "WHERE id > :low AND id <= :high AND kind = 'return'",
    # a confirmation row is closed in place, with the claim's next decision (new)
    "awaiting_confirmation": "SELECT platform_code, claim_id FROM awaiting_confirmation "
                             "WHERE id > :low AND id <= :high",
    # an order becoming known moves its claims to the order's province
    "claim_order": "SELECT v.platform_code, v.claim_id FROM claim_order o "
                   "JOIN claim_version v ON v.platform_code = o.platform_code AND v.order_id = o.order_id "
                   "WHERE o.id > :low AND o.id <= :high",
}
_RELEASE = "release:"


_DATES: dict[object, date] = {}


def as_date(value: object) -> date:
    """A date, from SQLite's text or PostgreSQL's date (parsed once per distinct text)."""
    if isinstance(value, date):
        return value
    known = _DATES.get(value)
    if known is None:
        if len(_DATES) > 100_000:
            _DATES.clear()
        known = _DATES[value] = date.fromisoformat(str(value))
    return known


def _maybe_date(value: object) -> date | None:
    return None if value is None else as_date(value)


# -- deriving the states -------------------------------------------------------------------------
@dataclass
class _Version:
    business_day: date
    position: tuple[date, bytes, int]  # contract order, file names in code points
    worker_ref: str
    incident_province: str
    order_province: str | None
    order_known_on: date | None


@dataclass
class _Claim:
    versions: list[_Version] = field(default_factory=list)
    #: (id, business day, outcome, payable fen, pay_by)
    decisions: list[tuple[int, date, str, int | None, date | None]] = field(default_factory=list)
    #: (business day, fen, returned on, paying province, released)
    items: list[tuple[date, int, date | None, str, bool]] = field(default_factory=list)
    #: (id, opened on, closed on, confirm by)
    awaiting: list[tuple[int, date, date | None, date]] = field(default_factory=list)


State = tuple[date, str, str, str | None, date | None, date | None]  # filed, province, worker, outcome, paid, late


def _state(claim: _Claim, day: date) -> State | None:
    """The claim as the ledger held it at the end of ``day`` (rows stamped up to it),
    as claims.reports.province counts it; None before its first version."""
    versions = [v for v in claim.versions if v.business_day <= day]
    if not versions:
        return None
    filed = min(v.position[0] for v in versions)
    current = max(versions, key=lambda v: v.position)
    known = current.order_known_on is not None and current.order_known_on <= day
    province = current.order_province if known and current.order_province else current.incident_province
    outcome = None
    payable = None
    for decision in claim.decisions:  # in the order made (id)
        if decision[1] <= day:
            outcome = decision[2]
            if decision[3] is not None or decision[2] == "rejected":
                payable = decision
    first_paid = None
    covered = 0
    for item_day, fen, returned_on, _province, released in claim.items:
        if item_day <= day:
            if released and (first_paid is None or item_day < first_paid):
                first_paid = item_day
            if returned_on is None or returned_on > day:
                covered += fen
    late = None
    if payable is not None and (payable[3] or 0) - covered > 0 and payable[4] is not None:
        late = payable[4]
    opened = None
    for row in claim.awaiting:  # in the order opened (id): the last one open on the day
        if row[1] <= day and (row[2] is None or row[2] > day):
            opened = row
    if opened is not None and (late is None or opened[3] < late):
        late = opened[3]
    return (filed, province, current.worker_ref, outcome, first_paid, late)


def _timeline(claim: _Claim) -> list[tuple[date, date | None, State]]:
    """The claim's states: (valid from, valid to or None, state), consecutive equal ones merged."""
    days: set[date] = set()
    for version in claim.versions:
        days.add(version.business_day)
        if version.order_known_on is not None:
            days.add(version.order_known_on)
    for decision in claim.decisions:
        days.add(decision[1])
    for item in claim.items:
        days.add(item[0])
        if item[2] is not None:
            days.add(item[2])
    for row in claim.awaiting:
        days.add(row[1])
        if row[2] is not None:
            days.add(row[2])
    states: list[tuple[date, State]] = []
    for day in sorted(days):
        state = _state(claim, day)
        if state is not None and (not states or states[-1][1] != state):
            states.append((day, state))
    return [(start, states[index + 1][0] if index + 1 < len(states) else None, state)
            for index, (start, state) in enumerate(states)]


def _worker_on(timeline: list[tuple[date, date | None, State]], day: date) -> str:
    worker = timeline[0][2][2]
    for start, _end, state in timeline:
        if start <= day:
            worker = state[2]
    return worker


def _money(claim: _Claim, timeline: list[tuple[date, date | None, State]]) -> list[tuple[date, str, int, str]]:
    """(day, paying province, fen, claimant): released items, and their returns."""
    rows = []
    for business_day, fen, returned_on, province, released in claim.items:
        if released:
            rows.append((business_day, province, fen, _worker_on(timeline, business_day)))
        if returned_on is not None:
            rows.append((returned_on, province, -fen, _worker_on(timeline, returned_on)))
    return rows


# -- refreshing ------------------------------------------------------------------------------------
def refresh(engine: Engine) -> int:
    """Derive again the states of every claim whose detail changed since the last
    refresh; returns how many claims were derived. One refresh at a time (a lock
    on the marks), in one transaction."""
    with engine.begin() as connection:
        _lock(connection)
        return _refresh(connection)


def cells_as_of(engine: Engine, day: date, start: date) -> ClaimCells:
    """Refresh the states, then read the cells of ``day`` from ``start`` on, under
    the refresh's lock (no refresh changes the states between the two, so the
    cells kept for later reports are those of the states read)."""
    with engine.begin() as connection:
        _lock(connection)
        _refresh(connection)
        return load_cells(connection, day, start)


def _refresh(connection: Connection) -> int:
    raw = _Raw(connection)
    marks = {str(source): int(last) for source, last in raw.rows("SELECT source, last_id FROM report_state_mark")}
    touched: set[ClaimKey] = set()
    new_marks: dict[str, int] = {}
    for source, sql in _SOURCES.items():
        high = int(raw.rows(f"SELECT COALESCE(MAX(id), 0) FROM {source}")[0][0])
        low = marks.get(source, 0)
        if high > low:
            touched.update(raw.rows(sql.replace(":low", raw.mark).replace(":high", raw.mark), (low, high)))
            new_marks[source] = high
    released = {as_date(day) for (day,) in raw.rows("SELECT business_day FROM payout_release")}
    seen = {date.fromisoformat(source[len(_RELEASE):]) for source in marks if source.startswith(_RELEASE)}
    for day in sorted(released - seen):
        touched.update(raw.rows(f"SELECT platform_code, claim_id FROM payout_item WHERE business_day = {raw.mark}",
                                (raw.day(day),)))
        new_marks[f"{_RELEASE}{day.isoformat()}"] = 0
    keys = sorted(touched)
    for start in range(0, len(keys), CHUNK):
        _derive(raw, keys[start:start + CHUNK], released)
    for source, last in sorted(new_marks.items()):
        if source in marks:
            raw.run(f"UPDATE report_state_mark SET last_id = {raw.mark} WHERE source = {raw.mark}", (last, source))
        else:
            raw.run(f"INSERT INTO report_state_mark (source, last_id) VALUES ({raw.mark}, {raw.mark})",
                    (source, last))
    return len(keys)


def _lock(connection: Connection) -> None:
    """Serialise refreshes: two at once would both derive the same claims."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("LOCK TABLE report_state_mark IN SHARE ROW EXCLUSIVE MODE"))
    else:  # SQLite: a write takes the database's write lock for the transaction
        connection.execute(text("UPDATE report_state_mark SET last_id = last_id WHERE source = ''"))


class _Raw:
    """The driver's cursor on the connection's transaction: a day's hundred thousand
    claims are read and written as plain tuples (SQLAlchemy's per-row processing
    would cost more than the derivation)."""

    def __init__(self, connection: Connection) -> None:
        self.sqlite = connection.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"
        self.cursor = connection.connection.cursor()
        self._texts: dict[date, str] = {}

    def day(self, value: date | None) -> object:
        """A date as the driver stores it (SQLAlchemy keeps SQLite's dates as ISO text)."""
        if not self.sqlite or value is None:
            return value
        known = self._texts.get(value)
        if known is None:
            known = self._texts[value] = value.isoformat()
        return known

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        self.cursor.execute(sql, params)
        return list(self.cursor.fetchall())

    def run(self, sql: str, params: tuple = ()) -> None:
        self.cursor.execute(sql, params)

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if rows:
            self.cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                                    f"VALUES ({', '.join([self.mark] * len(columns))})", rows)


_KEYS = "report_state_keys"
_STATE_COLUMNS = ("platform_code", "claim_id", "valid_from", "valid_to", "filed_on", "province_code", "worker_ref",
                  "outcome", "first_paid_on", "late_after")
_MONEY_COLUMNS = ("platform_code", "claim_id", "day", "province_code", "fen", "worker_ref")


def _derive(raw: _Raw, keys: list[ClaimKey], released: set[date]) -> None:
    from claims.ledger.db import ordered_join

    join = ordered_join("sqlite" if raw.sqlite else "postgresql")
    raw.run(f"DROP TABLE IF EXISTS {_KEYS}")
    raw.run(f"CREATE TEMPORARY TABLE {_KEYS} (platform_code VARCHAR(32) NOT NULL, "
            "claim_id VARCHAR(64) NOT NULL, PRIMARY KEY (platform_code, claim_id))")
    raw.insert(_KEYS, ("platform_code", "claim_id"), keys)
    of_keys = f"FROM {_KEYS} k {join}"
    claims: dict[ClaimKey, _Claim] = defaultdict(_Claim)
    for (platform, claim_id, business_day, partition, file_name, line, worker, incident, order_province,
         known_on) in raw.rows(
            "SELECT v.platform_code, v.claim_id, v.business_day, v.partition_date, v.file_name, v.line, "
            "v.worker_ref, v.incident_province_code, o.province_code, f.business_day "
            f"{of_keys} claim_version v ON v.platform_code = k.platform_code AND v.claim_id = k.claim_id "
            "LEFT JOIN claim_order o ON o.platform_code = v.platform_code AND o.order_id = v.order_id "
            "LEFT JOIN landing_file f ON f.id = o.file_id"):
        claims[(platform, claim_id)].versions.append(_Version(
            as_date(business_day), (as_date(partition), file_name.encode("utf-8"), line), worker,
            incident, order_province, _maybe_date(known_on)))
    for platform, claim_id, id_, business_day, outcome, payable, pay_by in raw.rows(
            "SELECT d.platform_code, d.claim_id, d.id, d.business_day, d.outcome, d.payable_fen, d.pay_by "
            f"{of_keys} decision d ON d.platform_code = k.platform_code AND d.claim_id = k.claim_id"):
        claims[(platform, claim_id)].decisions.append(
            (id_, as_date(business_day), outcome, payable, _maybe_date(pay_by)))
    for returned in ("IS NULL", "IS NOT NULL"):  # each through its partial index
        for platform, claim_id, business_day, fen, returned_on, province in raw.rows(
                "SELECT i.platform_code, i.claim_id, i.business_day, i.amount_fen, i.returned_on, i.province_code "
                f"{of_keys} payout_item i ON i.platform_code = k.platform_code AND i.claim_id = k.claim_id "
                f"AND i.returned_on {returned}"):
            item_day = as_date(business_day)
            claims[(platform, claim_id)].items.append(
                (item_day, fen, _maybe_date(returned_on), province,
                 item_day in released))
    for platform, claim_id, id_, opened, closed, confirm_by in raw.rows(
            "SELECT a.platform_code, a.claim_id, a.id, a.opened_on, a.closed_on, a.confirm_by "
            f"{of_keys} awaiting_confirmation a ON a.platform_code = k.platform_code AND a.claim_id = k.claim_id"):
        claims[(platform, claim_id)].awaiting.append((id_, as_date(opened), _maybe_date(closed),
                                                      as_date(confirm_by)))
    # the key days whose cells change: of the rows replaced, and of the rows derived
    stale: set[tuple[str, date]] = set()
    for filed, paid in raw.rows(f"SELECT s.filed_on, s.first_paid_on {of_keys} report_claim_state s "
                                "ON s.platform_code = k.platform_code AND s.claim_id = k.claim_id"):
        stale.add(("filed", as_date(filed)))
        if paid is not None:
            stale.add(("paid", as_date(paid)))
    stale |= {("money", as_date(day)) for (day,) in raw.rows(
        f"SELECT m.day {of_keys} report_claim_money m ON m.platform_code = k.platform_code AND m.claim_id = k.claim_id")}
    replaced = bool(stale)  # a claim derived before has state rows (new claims have none: nothing to delete)
    for table in ("report_claim_state", "report_claim_money") if replaced else ():
        raw.run(f"DELETE FROM {table} WHERE id IN (SELECT s.id {of_keys} {table} s "
                "ON s.platform_code = k.platform_code AND s.claim_id = k.claim_id)")
    raw.run(f"DROP TABLE IF EXISTS {_KEYS}")
    day = raw.day
    states: list[tuple] = []
    money: list[tuple] = []
    for (platform, claim_id), claim in sorted(claims.items()):
        if not claim.versions:
            continue  # a decision or item without a version: nothing the report counts
        claim.decisions.sort()
        claim.awaiting.sort()
        timeline = _timeline(claim)
        for start, end, (filed, province, worker, outcome, paid, late) in timeline:
            states.append((platform, claim_id, day(start), day(end), day(filed), province, worker, outcome, day(paid),
                           day(late)))
        for money_day, province, fen, worker in _money(claim, timeline):
            money.append((platform, claim_id, day(money_day), province, fen, worker))
    raw.insert("report_claim_state", _STATE_COLUMNS, states)
    raw.insert("report_claim_money", _MONEY_COLUMNS, money)
    stale |= {("filed", filed) for filed in {row[4] for row in states}}
    stale |= {("paid", paid) for paid in {row[8] for row in states} if paid is not None}
    stale |= {("money", money_day) for money_day in {row[2] for row in money}}
    for kind, key_day in sorted(stale, key=str):
        raw.run(f"DELETE FROM report_cell_cache WHERE kind = {raw.mark} AND key_day = {raw.mark}",
                (kind, raw.day(as_date(key_day))))
    # a past month of the trends kept as it stood at its end: kept again when its claims change
    for month in sorted({as_date(key_day).strftime("%Y-%m") for _kind, key_day in stale}):
        raw.run(f"DELETE FROM report_trend_month WHERE month = {raw.mark}", (month,))


# -- reading the cells of a day ----------------------------------------------------------------
@dataclass(frozen=True)
class Claimants:
    """Who a cell rests on: 5 or more distinct workers (``many``), or exactly these."""

    many: bool
    workers: frozenset[str]


@dataclass
class ClaimCells:
    """The claims side of the province report of ``day``, by day, from ``start`` on."""

    day: date
    #: filing day -> (province, platform, outcome or None, late (past a deadline on D), claims, claimants)
    filed: dict[date, list[tuple[str, str, str | None, bool, int, Claimants]]] = field(
        default_factory=lambda: defaultdict(list))
    #: first-payment day -> (province, platform, {days from filing: claims}, claimants)
    first_paid: dict[date, list[tuple[str, str, dict[int, int], Claimants]]] = field(
        default_factory=lambda: defaultdict(list))
    #: day -> (paying province, platform, fen, claimants)
    money: dict[date, list[tuple[str, str, int, Claimants]]] = field(default_factory=lambda: defaultdict(list))


def _claimants(dialect: str) -> str:
    """The aggregate that lists a cell's distinct claimants when they are few."""
    listed = ("string_agg(DISTINCT worker_ref, ',')" if dialect == "postgresql"
              else "group_concat(DISTINCT worker_ref)")
    return f"COUNT(DISTINCT worker_ref), CASE WHEN COUNT(DISTINCT worker_ref) <= {FEW} THEN {listed} END"


def _who(distinct: object, listed: object) -> Claimants:
    if int(distinct or 0) > FEW:  # type: ignore[call-overload]
        return Claimants(True, frozenset())
    return Claimants(False, frozenset(str(listed).split(",")) if listed else frozenset())


_VALID_ON = "valid_from <= :day AND (valid_to IS NULL OR valid_to > :day)"
KINDS = ("filed", "paid", "money")
#: per kind: the cells of one key day as of :day, and the days around :day at which they change
_CELLS = {
    "filed": ("SELECT province_code, platform_code, outcome, late_after, COUNT(*), {who} FROM report_claim_state "
              f"WHERE filed_on = :key AND {_VALID_ON} GROUP BY province_code, platform_code, outcome, late_after"),
    "paid": ("SELECT province_code, platform_code, filed_on, COUNT(*) FROM report_claim_state "
             f"WHERE first_paid_on = :key AND {_VALID_ON} GROUP BY province_code, platform_code, filed_on"),
    "paid_who": ("SELECT province_code, platform_code, {who} FROM report_claim_state "
                 f"WHERE first_paid_on = :key AND {_VALID_ON} GROUP BY province_code, platform_code"),
    "money": ("SELECT province_code, platform_code, SUM(fen), {who} FROM report_claim_money WHERE day = :key "
              "GROUP BY province_code, platform_code"),
}
_CHANGES = ("SELECT MAX(CASE WHEN valid_from <= :day THEN valid_from END), "
            "MAX(CASE WHEN valid_to <= :day THEN valid_to END), "
            "MIN(CASE WHEN valid_from > :day THEN valid_from END), MIN(CASE WHEN valid_to > :day THEN valid_to END) "
            "FROM report_claim_state WHERE {key} = :key")


def load_cells(connection: Connection, day: date, start: date, *, cache: bool = True) -> ClaimCells:
    """The cells of the claims filed, first paid and paid from ``start`` to ``day``, as
    of ``day``: each key day's from ``report_cell_cache`` while its states have not
    changed (and ``cache``), else aggregated from the states (and kept)."""
    import json

    cells = ClaimCells(day)
    key_days = [start + timedelta(days=offset) for offset in range((day - start).days + 1)]
    for kind in KINDS:
        kept = {} if not cache else {as_date(key): (_maybe_date(low), _maybe_date(high), body)
                                      for key, low, high, body in _query(connection, (
                                          "SELECT key_day, valid_from, valid_to, body FROM report_cell_cache "
                                          "WHERE kind = :kind AND key_day >= :start AND key_day <= :day"),
                                          kind=kind, start=start, day=day)}
        for key in key_days:
            entry = kept.get(key)
            if entry is not None and (entry[0] is None or entry[0] <= day) and (entry[1] is None or day < entry[1]):
                rows = json.loads(entry[2])
            else:
                rows, low, high = _aggregate(connection, kind, key, day)
                if cache:
                    _keep(connection, kind, key, low, high, json.dumps(rows, separators=(",", ":")))
            for row in rows:
                *group, many, workers = row
                who = Claimants(bool(many), frozenset(workers))
                if kind == "filed":
                    province, platform, outcome, late_after, claims = group
                    late = late_after is not None and date.fromisoformat(late_after) < day
                    cells.filed[key].append((province, platform, outcome, late, claims, who))
                elif kind == "paid":
                    province, platform, histogram = group
                    cells.first_paid[key].append((province, platform, {int(k): v for k, v in histogram.items()}, who))
                else:
                    province, platform, fen = group
                    cells.money[key].append((province, platform, fen, who))
    return cells


def _query(connection: Connection, sql: str, **params: object) -> Iterable[Any]:
    binds = [bindparam(name, type_=String() if name == "kind" else Date()) for name in params]
    return connection.execute(text(sql).bindparams(*binds), params)


def _who_row(distinct: object, listed: object) -> list[object]:
    who = _who(distinct, listed)
    return [who.many, sorted(who.workers)]


def _aggregate(connection: Connection, kind: str, key: date, day: date) -> tuple[list[list], date | None, date | None]:
    """One key day's cells as of ``day`` (JSON-ready rows), and the days from which
    and up to which they stand (None: no bound)."""
    who = _claimants(connection.dialect.name)
    rows: list[list] = []
    if kind == "filed":
        for province, platform, outcome, late_after, claims, distinct, listed in _query(
                connection, _CELLS["filed"].format(who=who), key=key, day=day):
            rows.append([str(province), str(platform), outcome,
                         None if late_after is None else as_date(late_after).isoformat(), int(claims),
                         *_who_row(distinct, listed)])
    elif kind == "paid":
        days: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for province, platform, filed, claims in _query(connection, _CELLS["paid"], key=key, day=day):
            waited = str((key - as_date(filed)).days)
            histogram = days[(str(province), str(platform))]
            histogram[waited] = histogram.get(waited, 0) + int(claims)
        for province, platform, distinct, listed in _query(connection, _CELLS["paid_who"].format(who=who),
                                                           key=key, day=day):
            rows.append([str(province), str(platform), dict(sorted(days[(str(province), str(platform))].items(),
                                                                   key=lambda item: int(item[0]))),
                         *_who_row(distinct, listed)])
    else:
        for province, platform, fen, distinct, listed in _query(connection, _CELLS["money"].format(who=who), key=key):
            rows.append([str(province), str(platform), int(fen), *_who_row(distinct, listed)])
        return rows, None, None  # a day's money rows hold from their day on
    column = "filed_on" if kind == "filed" else "first_paid_on"
    changes = next(iter(_query(connection, _CHANGES.format(key=column), key=key, day=day)))
    before = [as_date(value) for value in changes[:2] if value is not None]
    after = [as_date(value) for value in changes[2:] if value is not None]
    return rows, max(before) if before else None, min(after) if after else None


def _keep(connection: Connection, kind: str, key: date, low: date | None, high: date | None, body: str) -> None:
    connection.execute(text("DELETE FROM report_cell_cache WHERE kind = :kind AND key_day = :key")
                       .bindparams(bindparam("kind", type_=String()), bindparam("key", type_=Date())),
                       {"kind": kind, "key": key})
    connection.execute(text("INSERT INTO report_cell_cache (kind, key_day, valid_from, valid_to, body) "
                            "VALUES (:kind, :key, :low, :high, :body)")
                       .bindparams(bindparam("kind", type_=String()), bindparam("key", type_=Date()),
                                   bindparam("low", type_=Date()), bindparam("high", type_=Date()),
                                   bindparam("body", type_=String())),
                       {"kind": kind, "key": key, "low": low, "high": high, "body": body})


# -- checking the derivation -------------------------------------------------------------------
_STATE_ROWS = f"SELECT {', '.join(_STATE_COLUMNS)} FROM report_claim_state"
_MONEY_ROWS = f"SELECT {', '.join(_MONEY_COLUMNS)} FROM report_claim_money"


def derived_again_differs(engine: Engine) -> list[str]:
    """Derive every claim from scratch and compare with the rows the refreshes
    left (the states are a cache of the detail: they must be equal). Returns the
    differences, as text; the rows derived from scratch are kept. For tests and
    for an administrator in doubt; it reads every claim."""
    refresh(engine)
    with engine.begin() as connection:
        _lock(connection)
        raw = _Raw(connection)
        before = (sorted(raw.rows(_STATE_ROWS), key=repr), sorted(raw.rows(_MONEY_ROWS), key=repr))
        for table in ("report_claim_state", "report_claim_money", "report_cell_cache"):
            raw.run(f"DELETE FROM {table}")
        raw.run(f"DELETE FROM report_state_mark WHERE source NOT LIKE {raw.mark}", ("totals%",))  # totals' own stay
    refresh(engine)
    with engine.connect() as connection:
        raw = _Raw(connection)
        after = (sorted(raw.rows(_STATE_ROWS), key=repr), sorted(raw.rows(_MONEY_ROWS), key=repr))
    differences = []
    for name, kept, fresh in zip(("state", "money"), before, after, strict=True):
        differences += [f"{name} kept, not derived: {row}" for row in sorted(set(kept) - set(fresh), key=repr)]
        differences += [f"{name} derived, not kept: {row}" for row in sorted(set(fresh) - set(kept), key=repr)]
        if len(kept) != len(fresh):
            differences.append(f"{name}: {len(kept)} rows kept, {len(fresh)} derived")
    return differences
