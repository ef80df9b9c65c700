"""Adjudicate a business day: decide every claim whose current version has no
decision yet, look again at pending ones, apply the HRSS determinations, and keep
every decision with its reasons, rule-set version, rule inputs and deadlines."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Date, Engine, TextClause, bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from claims.adjudication.batch import decide, distinct
from claims.adjudication.orders import LakeSearch, plan_lake_search, read_lake, save_links
from claims.adjudication.rules import (
    ClaimFacts,
    OrderFacts,
    Policy,
    RuleBook,
    RuleSet,
    find_duplicates,
)
from claims.calendar import as_utc, local_time
from claims.csvtext import csv_lines
from claims.ledger.bulk import fetch_tuples, insert_columns, object_array, read_frame
from claims.ledger.db import ordered_join
from claims.ledger.models import (
    AWAITING_OUTCOMES,
    CONFIRMATION_OPEN,
    DECISION_PENDING,
    AwaitingConfirmation,
    ClaimOrder,
    ClaimVersion,
    Decision,
    Determination,
    DeterminationResult,
    PayoutWork,
)
from claims.store import Store
from claims.workdays import WorkCalendar

RULES = "rules"
DETERMINATION = "determination"


@dataclass
class DayAdjudication:
    day: date
    orders_linked: int = 0
    decided: dict[str, int] = field(default_factory=dict)
    determinations: dict[str, int] = field(default_factory=dict)
    calendar_estimated: int = 0
    #: The run's decisions by the rules as ``decisions.csv`` lists them, in platform
    #: and claim order, when no earlier run of the day decided by the rules (they
    #: are then all the day's); else None (``publish_decisions`` reads the ledger).
    rules_published: PublishedDecisions | None = None

    def count(self, rows: dict[str, list]) -> None:
        """Count decisions by the rules (columns as ``Adjudicator._decision_rows`` gives them)."""
        self.calendar_estimated += sum(map(bool, rows["calendar_estimated"]))
        for outcome, count in Counter(rows["outcome"]).items():
            self.decided[outcome] = self.decided.get(outcome, 0) + count


#: The claims a run decides by the rules: those with a version loaded by the run of
#: the day, and those still pending (their order may have arrived since).
RULES_WANTED = (
    "SELECT platform_code, claim_id FROM claim_version WHERE business_day = :day "
    f"UNION SELECT platform_code, claim_id FROM decision WHERE {DECISION_PENDING} AND business_day < :day"
)
#: The claims that the determinations loaded by the run of the day are about.
DETERMINATIONS_WANTED = "SELECT DISTINCT platform_code, claim_id FROM determination WHERE business_day = :day"

VERSION_COLUMNS = (
    "id", "platform_code", "claim_id", "partition_date", "file_name", "line", "order_id",
    "worker_ref", "incident_at", "reported_at", "incident_province_code", "incident_city_code", "injury_type",
    "treatment", "inpatient_days", "medical_cost_fen", "disability_assessment", "liability_disputed", "documents",
)
#: A decision's columns as ``Adjudicator._decision_rows`` gives them: the note's
#: text, which ``_insert_decisions`` stores once (``decision_note``) and the
#: decision refers to by ``note_id``.
DECISION_INSERT_COLUMNS = [
    "platform_code", "claim_id", "claim_version_id", "business_day", "basis", "outcome", "reason_codes", "rule_set",
    "rule_version", "payable_fen", "filed_on", "confirm_by", "pay_by", "calendar_estimated", "note", "decided_at",
]


#: A decision's columns in decisions.csv (decided_at as stored; the file shows it in Asia/Shanghai).
PUBLISHED_COLUMNS = ("claim_id", "platform_code", "outcome", "reason_codes", "rule_version", "decided_at")


@dataclass(frozen=True)
class PublishedDecisions:
    """Decisions as decisions.csv lists them: a line each (without its line end) and
    the (platform_code, claim_id) it is about, in the file's order."""

    keys: list[tuple[str, str]]
    lines: list[str]


def published_decisions(rows: list[tuple]) -> PublishedDecisions:
    """Decisions given as PUBLISHED_COLUMNS (decided_at as stored: a datetime, or
    SQLite's text) as decisions.csv lists them, decided_at in Asia/Shanghai."""
    times: dict[object, str] = {}
    for *_, decided_at in rows:
        if decided_at not in times:
            stamp = decided_at if isinstance(decided_at, datetime) else datetime.fromisoformat(decided_at)
            times[decided_at] = local_time(stamp)
    return PublishedDecisions([(row[1], row[0]) for row in rows],
                              csv_lines([(*row[:5], times[row[5]]) for row in rows]))


#: The rules' wanted claims once materialised for the run (see ``_wanted_table``).
WANTED_TABLE = "SELECT platform_code, claim_id FROM adjudication_wanted"


@contextlib.contextmanager
def _wanted_table(session: Session, day: date) -> Iterator[None]:
    """RULES_WANTED as a temporary table for the run's transaction: the half-dozen
    queries of a run join it instead of each computing the union again."""
    postgres = session.connection().dialect.name == "postgresql"
    # (SQLite's driver runs DDL outside the transaction: a run that failed may have
    # left the table on this pooled connection)
    session.execute(text("DROP TABLE IF EXISTS adjudication_wanted"))
    session.execute(text(
        "CREATE TEMPORARY TABLE adjudication_wanted (platform_code VARCHAR(32) NOT NULL, claim_id VARCHAR(64) NOT NULL, "
        "PRIMARY KEY (platform_code, claim_id))" + (" ON COMMIT DROP" if postgres else "")))
    try:
        session.execute(_query(f"INSERT INTO adjudication_wanted (platform_code, claim_id) {RULES_WANTED}"),
                        {"day": day})
        if postgres:
            session.execute(text("ANALYZE adjudication_wanted"))  # autovacuum never analyses temporary tables
        yield
    finally:
        if not postgres:
            session.execute(text("DROP TABLE IF EXISTS adjudication_wanted"))


def _shanghai_date(dialect: str, column: str) -> str:
    """SQL for the business date (Asia/Shanghai) of a stored UTC instant."""
    if dialect == "postgresql":
        return f"CAST(({column} AT TIME ZONE 'Asia/Shanghai') AS DATE)"
    # SQLite: SQLAlchemy stores UTC as text without an offset ('2025-09-01 16:10:00.000000');
    # Shanghai has kept UTC+8 since 1991 (summer time 1986-91 is before any order). Whole seconds only:
    # SQLite's date() rounds to the millisecond, which moves 23:59:59.9995 to the next day.
    return f"date(substr({column}, 1, 19), '+8 hours')"


def _from_wanted(dialect: str, table: str, alias: str, wanted: str = WANTED_TABLE) -> str:
    """A FROM clause of ``table``'s rows of the wanted claims, read claim by claim
    through its (platform_code, claim_id) index: the work is bounded by the day's
    claims, not by the ledger's history (see ``ordered_join``)."""
    return (f"({wanted}) w {ordered_join(dialect)} {table} {alias} "
            f"ON {alias}.platform_code = w.platform_code AND {alias}.claim_id = w.claim_id")


def _dialect(session: Session) -> str:
    return session.connection().dialect.name


def _query(sql: str) -> TextClause:
    query = text(sql)
    for name in ("day", "horizon"):
        if f":{name}" in sql:
            query = query.bindparams(bindparam(name, type_=Date))
    return query


#: Whether another claim's version (loaded by runs up to the day) names the order
#: version ``v`` names: one seek in the index of orders' claims.
ORDER_SHARED = (
    "EXISTS (SELECT 1 FROM claim_version c WHERE c.platform_code = v.platform_code AND c.order_id = v.order_id "
    "AND c.claim_id <> v.claim_id AND c.business_day <= :day)")

#: The order a version names, as linked by earlier runs (``claim_order``), beside the version.
LINKED_ORDER_COLUMNS = {"worker_ref": "order_worker_ref", "province_code": "order_province_code",
                        "accepted_at": "order_accepted_at", "completed_at": "order_completed_at"}


def _versions(session: Session, day: date, wanted: str, with_orders: bool = False) -> pd.DataFrame:
    """Every version loaded by runs up to ``day`` of the wanted claims; with
    ``with_orders``, also the linked order's LINKED_ORDER_COLUMNS (null where the
    order is not linked yet), ``order_linked``, and ``order_shared``: whether
    another claim names the same order (only then is there a duplicate to look
    for), in the same query."""
    columns = ", ".join("v." + name for name in VERSION_COLUMNS)
    joined = ""
    datetimes = ["incident_at", "reported_at"]
    if with_orders:
        columns += ", o.id AS order_link, " + ", ".join(f"o.{name} AS {alias}"
                                                       for name, alias in LINKED_ORDER_COLUMNS.items())
        columns += f", {ORDER_SHARED} AS order_shared"
        joined = "LEFT JOIN claim_order o ON o.platform_code = v.platform_code AND o.order_id = v.order_id "
        datetimes += ["order_accepted_at", "order_completed_at"]
    versions = read_frame(
        session, _query(f"SELECT {columns} FROM {_from_wanted(_dialect(session), 'claim_version', 'v', wanted)} {joined}"
                        "WHERE v.business_day <= :day"),
        {"day": day}, dates=["partition_date"], datetimes=datetimes,
        bools=["disability_assessment", "liability_disputed"])
    if with_orders:
        versions["order_linked"] = versions.pop("order_link").notna()
        versions["order_shared"] = versions["order_shared"].astype(bool)
    return versions


def _linked(current: pd.DataFrame) -> pd.DataFrame:
    """The orders linked by earlier runs that the current versions name."""
    linked = current[current["order_linked"].to_numpy(dtype=bool)]
    linked = linked[["platform_code", "order_id", *LINKED_ORDER_COLUMNS.values()]].rename(
        columns={alias: name for name, alias in LINKED_ORDER_COLUMNS.items()})
    return linked.drop_duplicates(["platform_code", "order_id"]).reset_index(drop=True)


def _latest(session: Session, day: date, wanted: str) -> pd.DataFrame:
    """The latest decision by the rules (as of ``day``) of each wanted claim."""
    latest = read_frame(session, _query(
        "SELECT d.platform_code, d.claim_id, d.id, d.claim_version_id, d.business_day, d.outcome, d.rule_version, "
        f"d.filed_on, d.confirm_by, d.calendar_estimated FROM {_from_wanted(_dialect(session), 'decision', 'd', wanted)} "
        "WHERE d.business_day <= :day AND d.basis = 'rules'"),
        {"day": day}, dates=["business_day", "filed_on", "confirm_by"], bools=["calendar_estimated"])
    if latest.empty:
        return latest
    ordinal = latest["business_day"].map(lambda d: d.toordinal())
    latest = latest.assign(_day=ordinal.astype("int64"), _id=latest["id"].astype("int64"))
    latest = latest.sort_values(["_day", "_id"]).drop_duplicates(["platform_code", "claim_id"], keep="last")
    return latest.drop(columns=["_day", "_id"]).reset_index(drop=True)


def _current(versions: pd.DataFrame) -> pd.DataFrame:
    """The current version of each claim (last in partition date, file name, line),
    with the first version's filing date (the earliest partition date)."""
    if versions.empty:
        return versions.assign(first_filed_on=pd.Series(dtype=object))
    if not versions.duplicated(["platform_code", "claim_id"]).any():  # one version each (the usual day): no ranking
        single = versions.assign(first_filed_on=versions["partition_date"])
        return single.sort_values(["platform_code", "claim_id"], kind="stable").reset_index(drop=True)
    ordinal = versions["partition_date"].map({d: d.toordinal() for d in set(versions["partition_date"])})
    ordered = versions.assign(_day=ordinal.astype("int64"), _line=versions["line"].astype("int64")).sort_values(
        ["platform_code", "claim_id", "_day", "file_name", "_line"], kind="stable")
    first = ordered.groupby(["platform_code", "claim_id"], sort=False)["_day"].transform("min")
    ordered = ordered.assign(first_filed_on=first.map({n: date.fromordinal(n) for n in set(first)}).astype(object))
    current = ordered.drop_duplicates(["platform_code", "claim_id"], keep="last").drop(columns=["_day", "_line"])
    return current.reset_index(drop=True)


#: Whether a run of a later day has loaded anything (then a re-run of an earlier day
#: may see a claim whose current version that later run loaded): one index seek.
LOADED_LATER = "SELECT 1 FROM claim_version WHERE business_day > :day LIMIT 1"


def _superseded_dropped(session: Session, day: date, current: pd.DataFrame) -> pd.DataFrame:
    """``current`` without the claims whose current version over everything loaded
    is not the one seen as of ``day``: a re-run of an earlier day sees only the
    versions loaded by runs up to it, and a version it loads that orders before one
    a later run loaded changes nothing (that later run decided the current one)."""
    if current.empty or session.execute(_query(LOADED_LATER), {"day": day}).first() is None:
        return current  # (the usual run: the latest day)
    later = read_frame(session, _query(
        "SELECT v.platform_code, v.claim_id, v.id, v.partition_date, v.file_name, v.line "
        f"FROM {_from_wanted(_dialect(session), 'claim_version', 'v')} WHERE v.business_day > :day"),
        {"day": day}, dates=["partition_date"])
    if later.empty:
        return current
    seen = current[["platform_code", "claim_id", "id", "partition_date", "file_name", "line"]]
    both = pd.concat([seen, later], ignore_index=True)
    both = both.assign(_day=both["partition_date"].map(lambda d: d.toordinal()).astype("int64"),
                       _line=both["line"].astype("int64"))
    last = both.sort_values(["platform_code", "claim_id", "_day", "file_name", "_line"], kind="stable").drop_duplicates(
        ["platform_code", "claim_id"], keep="last")
    loaded_later = {int(i) for i in later["id"]}
    superseded = {(p, c) for p, c, i in zip(last["platform_code"], last["claim_id"], last["id"], strict=True)
                  if int(i) in loaded_later}
    keep = [key not in superseded for key in zip(current["platform_code"], current["claim_id"], strict=True)]
    return current[keep].reset_index(drop=True)


def _decided_later(session: Session, day: date) -> set[tuple[str, str]]:
    """The wanted claims that a run of a day after ``day`` decided (usually none:
    the latest day is the usual run)."""
    if session.execute(_query("SELECT 1 FROM decision WHERE business_day > :day LIMIT 1"), {"day": day}).first() is None:
        return set()
    return {(platform, claim) for platform, claim in session.execute(_query(
        f"SELECT DISTINCT d.platform_code, d.claim_id FROM {_from_wanted(_dialect(session), 'decision', 'd')} "
        "WHERE d.business_day > :day"), {"day": day})}


def _order_facts(known: pd.DataFrame) -> pd.DataFrame:
    """Orders as ``batch.decide`` reads them."""
    orders = known.rename(columns={"worker_ref": "order_worker_ref", "province_code": "order_province_code"})
    orders["accepted_us"] = _micros(orders["accepted_at"])
    orders["completed_us"] = _micros(orders["completed_at"])
    return orders[["platform_code", "order_id", "order_worker_ref", "order_province_code", "accepted_us",
                   "completed_us"]]


def _micros(values: pd.Series) -> pd.Series:
    """Datetimes (naive = UTC, as SQLite returns them) as UTC microseconds (float,
    exact below 2**53; NaN where there is none)."""
    stamps = pd.to_datetime(values, utc=True).dt.as_unit("us")
    missing = stamps.isna().to_numpy()
    raw = stamps.fillna(pd.Timestamp(0, tz="UTC")).astype("int64")
    return pd.Series(np.where(missing, np.nan, raw.to_numpy(dtype=np.float64)), index=values.index)


#: What a claim version says about the injury (everything but the payee).
CLAIM_FACT_COLUMNS = (
    "order_id", "worker_ref", "incident_at", "reported_at", "incident_province_code", "incident_city_code",
    "injury_type", "treatment", "inpatient_days", "medical_cost_fen", "disability_assessment",
    "liability_disputed", "documents",
)


def _same(left: Any, right: Any) -> bool:
    if hasattr(left, "tzinfo") and hasattr(right, "tzinfo"):
        return bool(as_utc(left) == as_utc(right))
    return bool(left == right)


def _duplicate_facts(row: Any) -> ClaimFacts:
    """The facts find_duplicates reads (worker, order, incident, filing order)."""
    return ClaimFacts(
        platform_code=row.platform_code, claim_id=row.claim_id, order_id=row.order_id, worker_ref=row.worker_ref,
        incident_at=as_utc(row.incident_at), reported_at=as_utc(row.reported_at), filed_on=row.partition_date,
        first_filed_on=row.first_filed_on, position=(row.partition_date, row.file_name, row.line),
        incident_province_code="", incident_city_code="", injury_type="", treatment="", inpatient_days=0,
        medical_cost_fen=0, disability_assessment=False, liability_disputed=False, documents=(),
    )


def claim_facts(version: Any, first_filed_on: date) -> ClaimFacts:
    """A stored claim version (an ORM object or a row with the same names) as facts."""
    return ClaimFacts(
        platform_code=version.platform_code, claim_id=version.claim_id, order_id=version.order_id,
        worker_ref=version.worker_ref, incident_at=as_utc(version.incident_at), reported_at=as_utc(version.reported_at),
        filed_on=version.partition_date, first_filed_on=first_filed_on,
        position=(version.partition_date, version.file_name, version.line),
        incident_province_code=version.incident_province_code, incident_city_code=version.incident_city_code,
        injury_type=version.injury_type, treatment=version.treatment, inpatient_days=version.inpatient_days,
        medical_cost_fen=version.medical_cost_fen, disability_assessment=version.disability_assessment,
        liability_disputed=version.liability_disputed,
        documents=tuple(name for name in version.documents.split(";") if name),
    )


def order_facts(order: ClaimOrder) -> OrderFacts:
    return OrderFacts(
        platform_code=order.platform_code, order_id=order.order_id, worker_ref=order.worker_ref,
        province_code=order.province_code, city_code=order.city_code, industry=order.industry,
        accepted_at=as_utc(order.accepted_at),
        completed_at=as_utc(order.completed_at) if order.completed_at is not None else None, status=order.status,
    )


#: A claim's confirmation awaited on ``day`` ends that day (a new decision by the
#: rules, or a determination). A day is usually run after the days before it, and
#: the row is then the open one; run late, after later days, it is the row that
#: spans it (the later runs closed it later).
CLOSE_CONFIRMATION = _query(
    "UPDATE awaiting_confirmation SET closed_on = :day WHERE platform_code = :platform_code "
    "AND claim_id = :claim_id AND opened_on <= :day AND (closed_on IS NULL OR closed_on > :day)")
#: Rows opened by a day run late, after later days: they end at the claim's next decision.
END_LATE_ROWS = _query(
    "UPDATE awaiting_confirmation SET closed_on = (SELECT MIN(d.business_day) FROM decision d "
    "  WHERE d.platform_code = awaiting_confirmation.platform_code AND d.claim_id = awaiting_confirmation.claim_id "
    "    AND d.business_day > :day) "
    f"WHERE opened_on = :day AND {CONFIRMATION_OPEN} AND EXISTS (SELECT 1 FROM decision d "
    "  WHERE d.platform_code = awaiting_confirmation.platform_code AND d.claim_id = awaiting_confirmation.claim_id "
    "    AND d.business_day > :day)")


#: Notes are stored once, the first time a run makes them.
INSERT_NOTE = text("INSERT INTO decision_note (sha256, body) VALUES (:sha256, :body) ON CONFLICT (sha256) DO NOTHING")
NOTE_IDS = text("SELECT sha256, id FROM decision_note WHERE sha256 IN :digests").bindparams(
    bindparam("digests", expanding=True))


def note_ids(session: Session, bodies: list[str]) -> dict[str, int]:
    """The ``decision_note`` id of each of ``bodies`` (distinct), stored when new."""
    digests = {body: hashlib.sha256(body.encode()).hexdigest() for body in bodies}
    ids: dict[str, int] = {}
    for start in range(0, len(bodies), 500):
        chunk = bodies[start: start + 500]
        session.execute(INSERT_NOTE, [{"sha256": digests[body], "body": body} for body in chunk])
        ids.update(tuple(row) for row in session.execute(NOTE_IDS, {"digests": [digests[body] for body in chunk]}))
    return {body: ids[digest] for body, digest in digests.items()}


def _insert_decisions(session: Session, day: date, columns: dict[str, list],
                      awaited_before: set[tuple[str, str]]) -> None:
    """Insert the decisions by the rules, the payable ones into the payout run's
    work list, and those awaiting confirmation into ``awaiting_confirmation``,
    closing what the claims decided awaited before (``awaited_before``: the
    claims whose last decision by the rules awaited confirmation)."""
    notes = note_ids(session, list(dict.fromkeys(columns["note"])))  # (a handful of distinct texts)
    insert_columns(session, Decision.__table__, {
        **{name: values for name, values in columns.items() if name != "note"},
        "note_id": list(map(notes.__getitem__, columns["note"]))})
    # The payout run's work list: claims with a payable decision, and rejected claims
    # (a rejection withdraws whatever an earlier decision approved; they are few).
    listed = [index for index, (amount, outcome) in enumerate(zip(columns["payable_fen"], columns["outcome"],
                                                                  strict=True))
              if amount is not None or outcome == "rejected"]
    if listed:
        insert_columns(session, PayoutWork.__table__, {
            "platform_code": [columns["platform_code"][index] for index in listed],
            "claim_id": [columns["claim_id"][index] for index in listed],
            "business_day": [day] * len(listed),
            "reason": ["payable" if columns["payable_fen"][index] is not None else "withdrawn" for index in listed]})
    if awaited_before:
        session.execute(CLOSE_CONFIRMATION, [{"day": day, "platform_code": platform_code, "claim_id": claim_id}
                                             for platform_code, claim_id in sorted(awaited_before)])
    awaiting = [index for index, (outcome, confirm_by) in enumerate(zip(
        columns["outcome"], columns["confirm_by"], strict=True)) if outcome in AWAITING_OUTCOMES and confirm_by is not None]
    if awaiting:
        insert_columns(session, AwaitingConfirmation.__table__, {
            **{name: [columns[name][index] for index in awaiting]
               for name in ("platform_code", "claim_id", "outcome", "filed_on", "confirm_by", "calendar_estimated")},
            "opened_on": [day] * len(awaiting)})
        last_day = session.execute(select(func.max(Decision.business_day))).scalar_one()  # (one index seek)
        if last_day > day:  # a day run late, after later days
            session.execute(END_LATE_ROWS, {"day": day})


class Adjudicator:
    def __init__(self, engine: Engine, lake: Store, book: RuleBook, calendar: WorkCalendar, policy: Policy) -> None:
        self.engine = engine
        self.lake = lake
        self.book = book
        self.calendar = calendar
        self.policy = policy

    def run(self, day: date) -> DayAdjudication:
        result = DayAdjudication(day)
        # (decisions.csv's lines are rendered on a thread while the decisions are
        # committed: the database does that without the GIL. Rendered while they
        # were written, the two took turns at the GIL: 0.17 s slower)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="render") as renderer:
            with Session(self.engine) as session, session.begin():
                rendering = self._decide_by_rules(session, day, result, renderer)
            with Session(self.engine) as session, session.begin():
                self._apply_determinations(session, day, result)
            if rendering is not None:
                result.rules_published = rendering.result()
        return result

    # -- the rules ---------------------------------------------------------------------------
    def _decide_by_rules(self, session: Session, day: date, result: DayAdjudication, renderer: ThreadPoolExecutor
                         ) -> Future[PublishedDecisions] | None:
        """Decide, all at once, the claims with a version loaded by this day's run
        and the claims still pending; the work is bounded by the day's claims.
        Every read is one set-based query over those claims (RULES_WANTED), never a
        query per claim or a list of keys."""
        with _wanted_table(session, day), ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake") as pool:
            # the lake is read (Arrow, mostly without the GIL) while the ledger answers the rest
            reading = pool.submit(read_lake, self.lake, self._plan_lake_search(session, day))
            return self._decide_wanted(session, day, result, reading, renderer)

    def _decide_wanted(self, session: Session, day: date, result: DayAdjudication, reading: Future[pd.DataFrame],
                       renderer: ThreadPoolExecutor) -> Future[PublishedDecisions] | None:
        """Decide; with the day's first decisions by the rules (they are then all
        the day's), also render them as decisions.csv lists them (on ``renderer``)."""
        versions = _versions(session, day, WANTED_TABLE, with_orders=True)
        shared = bool(versions["order_shared"].any())
        current = _superseded_dropped(session, day, _current(versions))
        known = _linked(current)
        current = current.drop(columns=["order_linked", "order_shared", *LINKED_ORDER_COLUMNS.values()])
        to_decide, after_payment, duplicate_of, awaited_before = self._select(session, day, current, shared)
        first_of_day = session.execute(_query(  # (to decide by the rules: its decisions are all the day's)
            "SELECT 1 FROM decision WHERE business_day = :day AND basis = 'rules' LIMIT 1"), {"day": day}
        ).first() is None
        found = reading.result()
        # The orders found are written while the rules run: the database does its
        # part without the GIL (SQLite's steps; PostgreSQL's server), and deciding
        # needs no ledger access, so nothing else uses the session meanwhile.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="links") as writer:
            linking = writer.submit(save_links, session, found)
            decided = self._decide(to_decide, known, found, after_payment, duplicate_of, day)
            rows = self._decision_rows(day, *decided) if decided is not None else None
            result.orders_linked += linking.result()
        if rows is not None:
            _insert_decisions(session, day, rows, awaited_before)
            result.count(rows)
        if not first_of_day:
            return None
        # (to_decide is in platform and claim order: see _current)
        published = [] if rows is None else [rows[name] for name in PUBLISHED_COLUMNS]
        return renderer.submit(lambda: published_decisions(list(zip(*published, strict=True))))

    def _decide(self, to_decide: pd.DataFrame, known: pd.DataFrame, found: pd.DataFrame,
                after_payment: dict[tuple[str, str], str], duplicate_of: dict[tuple[str, str], str], day: date,
                ) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """The claims to decide with their orders' facts, and the verdicts (no ledger access)."""
        if to_decide.empty:
            return None
        linked = found[known.columns] if known.empty else known if found.empty else pd.concat(
            [known, found[known.columns]], ignore_index=True)  # (concatenating an empty frame costs a conversion)
        orders = _order_facts(linked)
        frame = to_decide.merge(orders, on=["platform_code", "order_id"], how="left")
        frame["order_found"] = frame["order_worker_ref"].notna()
        frame["duplicate_of"] = object_array([None] * len(frame) if not duplicate_of else [  # (usually none)
            duplicate_of.get(key) for key in zip(frame["platform_code"], frame["claim_id"], strict=True)])
        frame["incident_us"] = _micros(frame["incident_at"])
        frame["reported_us"] = _micros(frame["reported_at"])
        frame["filed_on"] = frame["partition_date"]
        decided_frame = decide(frame, self.book, day, self.policy)
        if after_payment:  # after a payout, any change but the payee's goes to standard review
            amended = np.array([after_payment.get(key) == "amended" for key in
                                zip(frame["platform_code"], frame["claim_id"], strict=True)], dtype=bool)
            decided_frame.loc[amended, "outcome"] = "standard_review"
            decided_frame.loc[amended, "reasons"] = "AMENDED_AFTER_PAYMENT"
            decided_frame.loc[amended, "amount_fen"] = pd.NA
        return frame, decided_frame

    def _select(self, session: Session, day: date, current: pd.DataFrame, shared: bool
                ) -> tuple[pd.DataFrame, dict[tuple[str, str], str], dict[tuple[str, str], str], set[tuple[str, str]]]:
        """The current versions to decide (new, changed or pending), what a payout
        makes of them, which of them duplicate an earlier claim (looked for when a
        version names an order that another claim names too: ``shared``), and which of them
        had a last decision by the rules that awaited confirmation."""
        latest = _latest(session, day, WANTED_TABLE)[["platform_code", "claim_id", "id", "claim_version_id",
                                                       "business_day", "outcome"]]
        merged = current.merge(latest.rename(columns={"id": "previous_id", "business_day": "previous_day",
                                                      "claim_version_id": "previous_version", "outcome": "previous"}),
                               on=["platform_code", "claim_id"], how="left")
        decided = merged["previous_id"].notna().to_numpy()
        decided_today = decided & (merged["previous_day"] == day).to_numpy()
        changed = merged["previous_version"].to_numpy(dtype=object) != merged["id"].to_numpy(dtype=object)
        # A re-run of the day changes nothing, except that a version it loaded (a late
        # file in the day's partition) is decided by it: every loaded version that
        # changes a claim is decided by the run that loaded it.
        # A pending claim is looked at again, unless a run of a later day did (a day run
        # late, after later days): its decision, made last, would count as current.
        relook = (merged["previous"] == "pending").to_numpy() & ~decided_today
        if relook.any():
            later = _decided_later(session, day)
            if later:
                relook &= np.array([key not in later for key in zip(
                    merged["platform_code"], merged["claim_id"], strict=True)], dtype=bool)
        keep = (changed & decided) | ~decided | relook
        to_decide = current[keep].reset_index(drop=True)
        after_payment = self._after_payment(session, day, to_decide)
        if after_payment:
            to_decide = to_decide[[after_payment.get(key) != "payee_only" for key in
                                   zip(to_decide["platform_code"], to_decide["claim_id"], strict=True)]]
            to_decide = to_decide.reset_index(drop=True)
        duplicate_of = self._duplicates(session, day) if shared and not to_decide.empty else {}
        awaited = merged[keep & merged["previous"].isin(AWAITING_OUTCOMES).to_numpy()]
        awaited_before = {key for key in zip(awaited["platform_code"], awaited["claim_id"], strict=True)
                          if after_payment.get(key) != "payee_only"}  # (those are not decided again)
        return to_decide, after_payment, duplicate_of, awaited_before

    def _decision_rows(self, day: date, frame: pd.DataFrame, verdicts: pd.DataFrame) -> dict[str, list]:
        """The decisions' columns as inserted, with deadlines and the note
        (no ledger access)."""
        outcomes = verdicts["outcome"].to_numpy(dtype=object)
        rule_versions = verdicts["rule_version"].to_numpy(dtype=object)
        first_filed = frame["first_filed_on"].to_numpy(dtype=object)
        duplicate_of = frame["duplicate_of"].to_numpy(dtype=object)  # (a claim id, or None)
        # deadlines and notes depend on these four only: worked out once per distinct combination
        codes, keys = distinct(rule_versions, outcomes, first_filed, duplicate_of)
        deadlines = {key[:3]: self._deadlines(self.book.get(key[0]), key[1], key[2]) for key in keys}
        policy_note = {"coverage_grace_seconds": int(self.policy.coverage_grace.total_seconds()),
                       "pending_max_days": self.policy.pending_max_days}
        notes = []
        for key in keys:
            confirm_by, pay_by, estimated = deadlines[key[:3]]
            notes.append(json.dumps(dict(
                policy_note, duplicate_of=key[3],
                deadlines={"confirm_by": confirm_by.isoformat() if confirm_by else None,
                           "pay_by": pay_by.isoformat() if pay_by else None, "calendar_estimated": estimated},
            ), sort_keys=True))

        def spread(values: list) -> list:  # one value per distinct combination -> one per row
            array = np.empty(len(values), dtype=object)
            array[:] = values
            return array[codes].tolist()

        flagged = np.array([deadlines[key[:3]][2] for key in keys], dtype=bool)[codes]
        reasons = verdicts["reasons"].to_numpy(dtype=object)
        reasons = np.where(flagged, np.where(reasons == "", "CALENDAR_ESTIMATED", reasons + ";CALENDAR_ESTIMATED"),
                           reasons)
        amounts = verdicts["amount_fen"].to_numpy(dtype=object)
        decided_at = datetime.now(UTC)
        n = len(codes)
        columns = dict(zip(DECISION_INSERT_COLUMNS, (
            frame["platform_code"].tolist(), frame["claim_id"].tolist(), [int(v) for v in frame["id"].tolist()],
            [day] * n, [RULES] * n, outcomes.tolist(), reasons.tolist(), verdicts["rule_set"].tolist(),
            rule_versions.tolist(),
            [None if amount is None or amount is pd.NA else int(amount) for amount in amounts.tolist()],
            first_filed.tolist(), spread([deadlines[key[:3]][0] for key in keys]),
            spread([deadlines[key[:3]][1] for key in keys]), flagged.tolist(), spread(notes), [decided_at] * n,
        ), strict=True))
        return columns

    def _after_payment(self, session: Session, day: date, claims: pd.DataFrame) -> dict[tuple[str, str], str]:
        """For claims with a payout item: 'payee_only' when the new version changes
        only the payee compared with the version the claim was last decided on (it
        acts by itself: a failed payment is paid again to it, and a review or a
        rejection is not reopened), 'amended' when anything else changed (standard
        review)."""
        if claims.empty:
            return {}
        paid_items = _from_wanted(_dialect(session), "payout_item", "i")
        paid = {(platform, claim) for platform, claim in session.execute(_query(  # each half through its partial index
            f"SELECT i.platform_code, i.claim_id FROM {paid_items} WHERE i.returned_on IS NULL UNION "
            f"SELECT i.platform_code, i.claim_id FROM {paid_items} WHERE i.returned_on IS NOT NULL"), {"day": day})}
        if not paid:
            return {}
        decided = _from_wanted(_dialect(session), "decision", "d")
        last_decided: dict[tuple[str, str], tuple[int, int]] = {}
        for platform, claim, version_id, decision_id in session.execute(_query(
                f"SELECT d.platform_code, d.claim_id, d.claim_version_id, d.id FROM {decided} "
                "WHERE d.business_day <= :day AND (EXISTS (SELECT 1 FROM payout_item i WHERE i.returned_on IS NULL "
                "AND i.platform_code = d.platform_code AND i.claim_id = d.claim_id) OR EXISTS (SELECT 1 FROM "
                "payout_item i WHERE i.returned_on IS NOT NULL AND i.platform_code = d.platform_code "
                "AND i.claim_id = d.claim_id))"), {"day": day}):
            key = (platform, claim)
            if key not in paid:
                continue
            stamp = (decision_id, version_id)  # the last decision made (a re-run of an earlier day decides later)
            if key not in last_decided or stamp[0] > last_decided[key][0]:
                last_decided[key] = stamp
        versions = ClaimVersion.metadata.tables["claim_version"]
        ids = sorted({stamp[1] for stamp in last_decided.values()})
        before = {}
        for start in range(0, len(ids), 5000):
            before.update({row.id: row for row in session.execute(
                select(versions).where(versions.c.id.in_(ids[start: start + 5000])))})
        result = {}
        for claim in claims.itertuples(index=False):
            key = (claim.platform_code, claim.claim_id)
            if key not in last_decided:
                continue
            old = before[last_decided[key][1]]
            same = all(_same(getattr(old, name), getattr(claim, name)) for name in CLAIM_FACT_COLUMNS)
            result[key] = "payee_only" if same else "amended"
        return result

    def _deadlines(self, rule_set: RuleSet, outcome: str, first_filed_on: date) -> tuple[date | None, date | None, bool]:
        if outcome not in ("fast_track", "standard_review", "pending"):
            return None, None, False
        fast = outcome == "fast_track"
        confirm = self._working_days(first_filed_on, rule_set.confirm_working_days(fast))
        pay_days = rule_set.pay_working_days_fast_track if fast else None
        if pay_days is None:
            return confirm.date, None, confirm.estimated
        pay = self._working_days(first_filed_on, pay_days)
        return confirm.date, pay.date, confirm.estimated or pay.estimated

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - one adjudicator per run; few distinct (day, n)
    def _working_days(self, start: date, count: int):  # type: ignore[no-untyped-def]
        return self.calendar.add_working_days(start, count)

    def _plan_lake_search(self, session: Session, day: date) -> LakeSearch:
        """Where in the lake to look for the orders of the wanted claims that are not
        linked yet (a light query: the search starts before the claims are read). The
        order ids come grouped by platform and incident date, one JSON array each:
        a few values to fetch instead of one row per claim."""
        dialect = _dialect(session)
        incident_day = _shanghai_date(dialect, "v.incident_at")
        order_ids = "CAST(json_agg(v.order_id) AS TEXT)" if dialect == "postgresql" else "json_group_array(v.order_id)"
        _names, rows = fetch_tuples(session, _query(
            f"SELECT v.platform_code, {incident_day} AS incident_day, {order_ids} "
            f"FROM {_from_wanted(dialect, 'claim_version', 'v')} LEFT JOIN claim_order o "
            "ON o.platform_code = v.platform_code AND o.order_id = v.order_id "
            "WHERE v.business_day <= :day AND o.id IS NULL GROUP BY v.platform_code, incident_day"), {"day": day})
        return plan_lake_search(session, day, (
            (platform, local if isinstance(local, date) else date.fromisoformat(local), json.loads(ids))
            for platform, local, ids in rows), self.policy.coverage_grace)

    def _duplicates(self, session: Session, day: date) -> dict[tuple[str, str], str]:
        """Earlier claims of the same worker, order and incident (rules.find_duplicates
        decides, over every claim filed for the orders that another claim names too)."""
        shared = read_frame(session, _query(  # (one index seek per wanted version finds the shared orders)
            "SELECT v.id, v.platform_code, v.claim_id, v.order_id, v.worker_ref, v.incident_at, v.reported_at, "
            "v.partition_date, v.file_name, v.line FROM claim_version v JOIN ("
            f"  SELECT DISTINCT v.platform_code, v.order_id FROM {_from_wanted(_dialect(session), 'claim_version', 'v')} "
            f"   WHERE v.business_day <= :day AND {ORDER_SHARED}"
            ") s ON s.platform_code = v.platform_code AND s.order_id = v.order_id WHERE v.business_day <= :day"),
            {"day": day}, dates=["partition_date"], datetimes=["incident_at", "reported_at"])
        if shared.empty:
            return {}
        everyone = _current(shared)
        return find_duplicates(_duplicate_facts(row) for row in everyone.itertuples(index=False))

    # -- standard review ------------------------------------------------------------------------
    def _apply_determinations(self, session: Session, day: date, result: DayAdjudication) -> None:
        """Determinations loaded by the run of ``day``: applied to a claim under
        standard review (approved: payable with the approved amount; rejected), or
        recorded as not applicable with a reason code."""
        pending = session.execute(
            select(Determination)
            .outerjoin(DeterminationResult, DeterminationResult.determination_id == Determination.id)
            .where(Determination.business_day == day, DeterminationResult.determination_id.is_(None))
            .order_by(Determination.platform_code, Determination.claim_id, Determination.decided_at.desc(),
                      Determination.id)
        ).scalars().all()
        if not pending:
            return
        current = _current(_versions(session, day, DETERMINATIONS_WANTED))
        versions = {(row.platform_code, row.claim_id): row for row in current.itertuples(index=False)}
        latest = {(row.platform_code, row.claim_id): row
                  for row in _latest(session, day, DETERMINATIONS_WANTED).itertuples(index=False)}
        applied_today: set[tuple[str, str]] = set()
        decided_at = datetime.now(UTC)
        for determination in pending:
            key = (determination.platform_code, determination.claim_id)
            code, decision_id = self._determination_outcome(session, determination, key, versions, latest,
                                                            applied_today, day, decided_at)
            session.execute(insert(DeterminationResult), [{
                "determination_id": determination.id, "business_day": day, "reason_code": code,
                "decision_id": decision_id,
            }])
            result.determinations[code] = result.determinations.get(code, 0) + 1

    def _determination_outcome(self, session, determination, key, versions, latest, applied_today, day,  # type: ignore[no-untyped-def]
                               decided_at) -> tuple[str, int | None]:
        if key not in versions:
            return "DETERMINATION_UNKNOWN_CLAIM", None
        if key in applied_today:
            return "DETERMINATION_SUPERSEDED", None  # a later determination of the same day was applied
        review = latest.get(key)
        if review is None or review.outcome != "standard_review":
            return "DETERMINATION_NOT_UNDER_REVIEW", None
        approved = determination.decision == "approved"
        code = "APPROVED_BY_DETERMINATION" if approved else "REJECTED_BY_DETERMINATION"
        explanation = {
            "outcome": "standard_review" if approved else "rejected", "reasons": [code],
            "determination": {"decision": determination.decision, "approved_amount_fen": determination.approved_amount_fen,
                              "reason": determination.reason, "decided_at": as_utc(determination.decided_at).isoformat(),
                              "decided_by": determination.decided_by},
            "review_decision_business_day": review.business_day.isoformat(),
        }
        row = {
            "platform_code": key[0], "claim_id": key[1], "claim_version_id": int(versions[key].id), "business_day": day,
            "basis": DETERMINATION, "outcome": "standard_review" if approved else "rejected", "reason_codes": code,
            "rule_set": "hrss-determination", "rule_version": review.rule_version,
            "payable_fen": determination.approved_amount_fen if approved else None, "filed_on": review.filed_on,
            "confirm_by": review.confirm_by, "pay_by": None, "calendar_estimated": review.calendar_estimated,
            "decided_at": decided_at,
        }
        note = json.dumps(explanation, ensure_ascii=False, sort_keys=True)
        row["note_id"] = note_ids(session, [note])[note]
        decision_id = session.execute(insert(Decision).returning(Decision.id), [row]).scalar_one()
        session.execute(CLOSE_CONFIRMATION, {"day": day, "platform_code": key[0], "claim_id": key[1]})
        # the payout run's work list: what the claim is owed follows this decision
        # (a rejection withdraws an earlier approval)
        session.execute(insert(PayoutWork), [{"platform_code": key[0], "claim_id": key[1], "business_day": day,
                                              "reason": "payable" if row["payable_fen"] is not None else "withdrawn"}])
        applied_today.add(key)
        return code, decision_id


def open_deadlines(session: Session, day: date, calendar: WorkCalendar, warning_working_days: int) -> list[dict]:
    """Claims awaiting confirmation on ``day`` whose deadline has passed or falls
    within the warning window: for administrators. Read from the confirmations
    still open and those closed after ``day`` (a re-run of an earlier day gives
    its report again), not from every decision ever made."""
    horizon = calendar.add_working_days(day, warning_working_days).date
    columns = "platform_code, claim_id, outcome, filed_on, confirm_by, calendar_estimated"
    awaited = read_frame(session, _query(
        f"SELECT {columns} FROM awaiting_confirmation WHERE {CONFIRMATION_OPEN} AND confirm_by <= :horizon "
        "AND opened_on <= :day "
        f"UNION ALL SELECT {columns} FROM awaiting_confirmation WHERE closed_on > :day AND opened_on <= :day "
        "AND confirm_by <= :horizon"), {"day": day, "horizon": horizon},
        dates=["filed_on", "confirm_by"], bools=["calendar_estimated"])
    rows = [{
        "claim_id": claim_id, "platform_code": platform_code, "outcome": outcome,
        "filed_on": filed_on.isoformat(), "confirm_by": confirm_by.isoformat(),
        "status": "overdue" if confirm_by < day else "due_soon",
        "calendar_estimated": str(bool(estimated)).lower(),
    } for platform_code, claim_id, outcome, filed_on, confirm_by, estimated in awaited.itertuples(index=False)]
    return sorted(rows, key=lambda row: (row["platform_code"], row["claim_id"]))
