"""A business day's payouts: every approved amount not yet covered by a live
payout item is paid exactly once, in batches of at most 3,000 items per paying
province, as CSV and ISO 20022 pain.001 files; the manifest, written last at
release, publishes the day.

Exactly once lives in the database: a payout item per (claim, instalment) while
live (partial unique index), a batch per (day, province, sequence), a ledger
transaction per (kind, reference). Files are rendered from the ledger: a re-run
verifies what was published against the ledger and rewrites nothing.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import (
    Column,
    Date,
    Engine,
    Integer,
    MetaData,
    Table,
    TextClause,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from claims.calendar import SHANGHAI, as_utc
from claims.csvtext import csv_lines, dict_csv_bytes
from claims.ledger.bulk import fetch_tuples, insert_rows
from claims.ledger.db import ordered_join
from claims.ledger.models import (
    BankReturn,
    BankReturnResult,
    Decision,
    LedgerTransaction,
    PayoutBatch,
    PayoutException,
    PayoutItem,
    PayoutRelease,
    PayoutWork,
)
from claims.payouts import pain001
from claims.payouts.ledger import post_approvals, post_disbursements, post_many
from claims.privacy import Cipher
from claims.settings import setting
from claims.store import Store
from claims.workdays import WorkCalendar

MAX_BATCH_ITEMS = 3000
CURRENCY = "CNY"
CSV_COLUMNS = ["batch_id", "end_to_end_id", "claim_id", "platform_code", "province_code", "payee_name",
               "payee_account", "payee_bank_code", "amount_fen", "currency", "remark"]
AGENCIES = Path(__file__).resolve().parents[1] / "reference" / "data" / "paying_agencies.csv"
_BATCH_COLUMNS = ["batch_id", "business_day", "province_code", "sequence", "item_count", "control_sum_fen",
                  "requested_execution_date", "created_at", "csv_sha256", "xml_sha256"]
_ITEM_FIELDS = ["end_to_end_id", "batch_id", "platform_code", "claim_id", "instalment", "decision_id",
                "claim_version_id", "province_code", "amount_fen", "payee_name_enc", "payee_account_enc",
                "payee_account_masked", "payee_bank_code"]
#: The day's new items, staged before their batches exist (a batch needs its files'
#: digests): the disbursements are posted from here while the files render.
_STAGED_ITEMS = Table("payouts_staged_item", MetaData(), Column("seq", Integer, nullable=False),
                      *(Column(column.name, column.type) for column in PayoutItem.__table__.columns
                        if column.name != "id"),
                      prefixes=["TEMPORARY"])
_INSERT_STAGED_ITEMS = text(
    f"INSERT INTO payout_item ({', '.join([*_ITEM_FIELDS, 'business_day'])}) "
    f"SELECT {', '.join([*_ITEM_FIELDS, 'business_day'])} FROM {_STAGED_ITEMS.name} ORDER BY province_code, seq")
_RENDER_FIELDS = ["end_to_end_id", "platform_code", "claim_id", "amount_fen", "payee_name_enc", "payee_account_enc",
                  "payee_bank_code"]
#: The work list's rows this run reads (payout_work, up to its day): the claims it
#: looks at, and the rows it removes once they are settled. Rows added meanwhile by
#: another transaction are not in it, so they stay for the next run.
_WORK_SEEN = "payouts_work_seen"
#: Their claims, once each; ``keep`` marks those whose rows must stay on the list.
_WORK_CLAIMS = "payouts_work_claims"
#: What the day owes, per claim, before it is numbered into batches.
_OWED_TABLE = "payouts_owed"
_OWED_COLUMNS = ["platform_code", "claim_id", "decision_id", "amount_fen", "instalment", "returned_items",
                 "claim_version_id", "province_code", "payee_name_enc", "payee_account_enc", "payee_account_masked",
                 "payee_bank_code"]
_CREATE_OWED_TABLE = (
    f"CREATE TEMPORARY TABLE {_OWED_TABLE} (platform_code VARCHAR(32) NOT NULL, claim_id VARCHAR(64) NOT NULL, "
    "decision_id BIGINT NOT NULL, amount_fen BIGINT NOT NULL, instalment INTEGER NOT NULL, "
    "returned_items INTEGER NOT NULL, claim_version_id BIGINT NOT NULL, province_code VARCHAR(6), "
    "payee_name_enc TEXT NOT NULL, payee_account_enc TEXT NOT NULL, payee_account_masked VARCHAR(32) NOT NULL, "
    "payee_bank_code VARCHAR(12) NOT NULL)")

#: What each claim is owed on a day, in one query: what its current decision (the
#: last one made, of any basis, by a run up to the day: a re-run of an earlier day
#: decides after the later days' runs) approves minus what its live
#: items cover, where that is more than zero (a claim whose current decision pays
#: nothing, under review or rejected, is owed nothing, a re-payment after a return
#: included); to the payee of its current version as of the day (the last in contract
#: order: partition date, file name, line, in code points whatever the database's
#: collation), in the province where the version's order was accepted (the paying
#: province; null while the order is unknown: such a claim is held, see _hold). The
#: rows go to the temporary table _OWED_TABLE, with the next instalment of each claim.
_OWED_INTO_TABLE = f"""
INSERT INTO {_OWED_TABLE} ({', '.join(_OWED_COLUMNS)})
WITH latest AS (
    SELECT d.id, d.platform_code, d.claim_id, d.payable_fen,
           ROW_NUMBER() OVER (PARTITION BY d.platform_code, d.claim_id
                              ORDER BY d.id DESC) AS newest_first
    FROM {_WORK_CLAIMS} w
    {{join}} decision d ON d.platform_code = w.platform_code AND d.claim_id = w.claim_id
    WHERE d.business_day <= :day
),
items AS (
    SELECT i.platform_code, i.claim_id, i.amount_fen AS covered_fen, i.instalment, 0 AS returned
    FROM {_WORK_CLAIMS} w
    {{join}} payout_item i ON i.platform_code = w.platform_code AND i.claim_id = w.claim_id AND i.returned_on IS NULL
    UNION ALL
    SELECT i.platform_code, i.claim_id, 0, i.instalment, 1
    FROM {_WORK_CLAIMS} w
    {{join}} payout_item i ON i.platform_code = w.platform_code AND i.claim_id = w.claim_id
                      AND i.returned_on IS NOT NULL
),
paid AS (
    SELECT platform_code, claim_id, SUM(covered_fen) AS covered_fen, MAX(instalment) AS last_instalment,
           SUM(returned) AS returned_items
    FROM items
    GROUP BY platform_code, claim_id
),
due AS (
    SELECT l.platform_code, l.claim_id, l.id AS decision_id, l.payable_fen - COALESCE(p.covered_fen, 0) AS due_fen,
           COALESCE(p.last_instalment, 0) AS last_instalment, COALESCE(p.returned_items, 0) AS returned_items
    FROM latest l
    LEFT JOIN paid p ON p.platform_code = l.platform_code AND p.claim_id = l.claim_id
    WHERE l.newest_first = 1 AND l.payable_fen IS NOT NULL AND l.payable_fen > COALESCE(p.covered_fen, 0)
),
payee AS (
    SELECT due.*, (
        SELECT c.id FROM claim_version c
        WHERE c.platform_code = due.platform_code AND c.claim_id = due.claim_id AND c.business_day <= :day
        ORDER BY c.partition_date DESC, c.file_name{{collate}} DESC, c.line DESC
        LIMIT 1) AS claim_version_id
    FROM due
)
SELECT payee.platform_code, payee.claim_id, payee.decision_id, payee.due_fen, payee.last_instalment + 1,
       payee.returned_items, payee.claim_version_id,
       NULLIF(o.province_code, '') AS province_code,
       v.worker_name_enc, v.payee_account_enc, v.payee_account_masked, v.payee_bank_code
FROM payee
JOIN claim_version v ON v.id = payee.claim_version_id
LEFT JOIN claim_order o ON o.platform_code = v.platform_code AND o.order_id = v.order_id
"""


def _owed_into_table(dialect: str) -> TextClause:
    """_OWED_INTO_TABLE for a dialect: each claim's decisions and items are read by
    index from the work list, not by a pass over the history (``ordered_join``)."""
    collate = ' COLLATE "C"' if dialect == "postgresql" else ""  # code points, whatever the database's locale
    return text(_OWED_INTO_TABLE.replace("{join}", ordered_join(dialect)).replace("{collate}", collate)
                ).bindparams(bindparam("day", type_=Date))


_READ_WORK = (
    text(f"CREATE TEMPORARY TABLE {_WORK_SEEN} (id BIGINT PRIMARY KEY, platform_code VARCHAR(32) NOT NULL, "
         "claim_id VARCHAR(64) NOT NULL)"),
    text(f"INSERT INTO {_WORK_SEEN} (id, platform_code, claim_id) "
         "SELECT id, platform_code, claim_id FROM payout_work WHERE business_day <= :day"
         ).bindparams(bindparam("day", type_=Date)),
    text(f"CREATE TEMPORARY TABLE {_WORK_CLAIMS} (platform_code VARCHAR(32) NOT NULL, claim_id VARCHAR(64) NOT NULL, "
         "keep INTEGER NOT NULL, PRIMARY KEY (platform_code, claim_id))"),
    text(f"INSERT INTO {_WORK_CLAIMS} (platform_code, claim_id, keep) "
         f"SELECT DISTINCT platform_code, claim_id, 0 FROM {_WORK_SEEN}"),
)


def _number_items(dialect: str) -> TextClause:
    """The owed items numbered into the day's batches (by province, then platform,
    claim and instalment in code-point order; at most MAX_BATCH_ITEMS a batch):
    deterministic batch ids PO<day><province><sequence> and end-to-end ids
    <batch id><position>, staged with their place in the province (``seq``: the
    day's order is province, then seq)."""
    collate = ' COLLATE "C"' if dialect == "postgresql" else ""  # code points, whatever the database's locale

    def padded(number: str, width: int) -> str:  # zero-padded, never truncated (same SQL on SQLite and PostgreSQL)
        value = f"CAST({number} AS TEXT)"
        return f"CASE WHEN length({value}) >= {width} THEN {value} ELSE substr('{'0' * width}' || {value}, length({value}) + 1) END"

    order = f"platform_code{collate}, claim_id{collate}, instalment"
    batch_id = f"'PO' || :stamp || province_code || {padded(f'(n - 1) / {MAX_BATCH_ITEMS} + 1', 3)}"
    fields = [name for name in _ITEM_FIELDS if name not in ("end_to_end_id", "batch_id")]
    return text(f"""
        INSERT INTO {_STAGED_ITEMS.name} (seq, end_to_end_id, batch_id, {', '.join(fields)}, business_day)
        SELECT n, {batch_id} || {padded(f'(n - 1) % {MAX_BATCH_ITEMS} + 1', 4)}, {batch_id}, {', '.join(fields)}, :day
        FROM (SELECT o.*, ROW_NUMBER() OVER (PARTITION BY province_code ORDER BY {order}) AS n
              FROM {_OWED_TABLE} o) numbered
    """).bindparams(bindparam("day", type_=Date))


class PublishedFileMismatch(RuntimeError):
    """A published file differs from what the ledger says was published."""


class PayingAgencies:
    """Each province's paying agency over time (reference data: a row per agency
    and the day it takes effect). The agency in force on a payout day is that
    batch's debtor, so a future row changes nothing for past days."""

    def __init__(self, rows: Iterable[tuple[str, date, pain001.Debtor]]) -> None:
        self._by_province: dict[str, list[tuple[date, pain001.Debtor]]] = defaultdict(list)
        for province, effective_from, debtor in rows:
            self._by_province[province].append((effective_from, debtor))
        for history in self._by_province.values():
            history.sort(key=lambda entry: entry[0])
            starts = [start for start, _debtor in history]
            if len(set(starts)) != len(starts):
                raise ValueError("paying agencies: two rows of a province take effect on the same day")

    def on(self, province: str | None, day: date) -> pain001.Debtor | None:
        """The province's agency in force on ``day`` (None when it has none yet)."""
        in_force = [debtor for start, debtor in self._by_province.get(province or "", []) if start <= day]
        return in_force[-1] if in_force else None

    def provinces_on(self, day: date) -> list[str]:
        return sorted(province for province in self._by_province if self.on(province, day) is not None)


def paying_agencies(path: Path | None = None) -> PayingAgencies:
    """The paying agencies of the reference data (``CLAIMS_REFERENCE_DIR`` when set)."""
    if path is None:
        configured = setting("CLAIMS_REFERENCE_DIR")
        path = Path(configured) / AGENCIES.name if configured else AGENCIES
    with open(path, encoding="utf-8", newline="") as handle:
        return PayingAgencies(
            (row["province_code"], date.fromisoformat(row["effective_from"]),
             pain001.Debtor(row["agency_name"], row["account"], row["bank_code"]))
            for row in csv.DictReader(handle))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class PayDay:
    day: date
    batches: int = 0
    items: int = 0
    total_fen: int = 0
    released: bool = False
    files_written: int = 0
    files_verified: int = 0
    #: owed amounts held out of the day's files, by reason code (payout_exception)
    held: dict[str, int] = field(default_factory=dict)


class UnpayablePayees(Exception):
    """Owed items whose payee a bank file cannot carry: the day is prepared again
    without them (they are held)."""

    def __init__(self, claims: set[tuple[str, str]]) -> None:
        super().__init__(f"{len(claims)} payee(s) a bank file cannot carry")
        self.claims = claims


class Paymaster:
    def __init__(self, engine: Engine, outbox: Store, cipher: Cipher, calendar: WorkCalendar,
                 agencies: PayingAgencies, max_item_fen: int = 200_000_000) -> None:
        self.engine = engine
        self.outbox = outbox
        self.cipher = cipher
        self.calendar = calendar
        self.agencies = agencies
        self.max_item_fen = max_item_fen
        #: Files rendered while preparing, with their digests, kept for publishing in the
        #: same run (the digests are in the ledger either way; a later run renders again).
        self._rendered: dict[str, tuple[bytes, bytes, str, str]] = {}

    def run(self, day: date, *, auto_release: bool, operator: str = "claims") -> PayDay:
        result = PayDay(day)
        with self._day_lock(day):
            self._once(lambda session: self._apply_returns(session, day))
            unpayable: set[tuple[str, str]] = set()
            while True:  # (at most twice: the second attempt holds whatever the first found unpayable)
                try:
                    self._once(functools.partial(self._prepare, day=day, unpayable=unpayable))
                    break
                except UnpayablePayees as found:
                    if found.claims <= unpayable:
                        raise
                    unpayable |= found.claims
                    self._rendered.clear()
            self._publish_files(day, result)
            if auto_release:
                self.release(day, released_by="automatic", automatic=True, prepared_by=operator)
            result.released = self._write_manifest(day, result)
            self._write_reports(day)
        with Session(self.engine) as session:
            batches = session.execute(select(PayoutBatch).where(PayoutBatch.business_day == day)).scalars().all()
            result.batches = len(batches)
            result.items = sum(b.item_count for b in batches)
            result.total_fen = sum(b.control_sum_fen for b in batches)
            result.held = dict(Counter(session.execute(
                select(PayoutException.reason_code).where(PayoutException.business_day == day)).scalars()))
        return result

    @contextlib.contextmanager
    def _day_lock(self, day: date) -> Iterator[None]:
        """One payer per day at a time. PostgreSQL: an advisory lock, so a second
        process waits, then finds the day's work done. SQLite has one writer anyway;
        the unique keys are the last line of defence either way."""
        if self.engine.dialect.name != "postgresql":
            yield
            return
        key = 7_300_000_000 + (day - date(2000, 1, 1)).days
        with self.engine.connect() as connection:
            connection.execute(select(func.pg_advisory_lock(key)))
            try:
                yield
            finally:
                connection.execute(select(func.pg_advisory_unlock(key)))
                connection.commit()

    def _once(self, work: Callable[[Session], None]) -> None:
        """Run ``work`` in one transaction; a unique-key conflict means another run
        did the same work at the same moment: its rows stand, ours roll back. (Bulk
        inserts go to the driver directly: its own IntegrityError means the same.)"""
        driver_conflict = getattr(self.engine.dialect.dbapi, "IntegrityError", IntegrityError)
        try:
            with Session(self.engine) as session, session.begin():
                work(session)
        except (IntegrityError, driver_conflict):
            pass

    # -- the bank's answers --------------------------------------------------------------------
    def _apply_returns(self, session: Session, day: date) -> None:
        """Settled: the item is closed (in transit -> bank). Failed: reversed (in
        transit -> payable again) and the claim waits for an amended payee account.
        Unknown or contradictory answers are reported with a reason, never ignored.

        A day's answers come by the hundred thousand (one per item paid the day
        before): they are read with their items in two queries, decided in order
        (processed time, then line), and written in bulk."""
        returns = session.execute(
            select(BankReturn.id, BankReturn.end_to_end_id, BankReturn.batch_id, BankReturn.status)
            .outerjoin(BankReturnResult, BankReturnResult.bank_return_id == BankReturn.id)
            .where(BankReturn.business_day == day, BankReturnResult.bank_return_id.is_(None))
            .order_by(BankReturn.processed_at, BankReturn.id)
        ).all()
        if not returns:
            return
        answered = (select(BankReturn.end_to_end_id)
                    .where(BankReturn.business_day == day).distinct().scalar_subquery())
        items = {row.end_to_end_id: row for row in session.execute(
            select(PayoutItem.id, PayoutItem.end_to_end_id, PayoutItem.batch_id, PayoutItem.returned_on,
                   PayoutItem.province_code, PayoutItem.platform_code, PayoutItem.claim_id, PayoutItem.amount_fen)
            .where(PayoutItem.end_to_end_id.in_(answered)))}
        final = {reference[len("item:"):] for (reference,) in session.execute(
            select(LedgerTransaction.reference).where(
                LedgerTransaction.kind == "settle",
                LedgerTransaction.reference.in_(select(literal("item:") + BankReturn.end_to_end_id)
                                                .where(BankReturn.business_day == day).scalar_subquery())))}
        final |= {e2e for e2e, item in items.items() if item.returned_on is not None}
        results, transactions, reversed_items, work = [], [], [], []
        for answer in returns:
            item = items.get(answer.end_to_end_id)
            if item is None:
                code = "RETURN_UNKNOWN_ITEM"
            elif item.batch_id != answer.batch_id:
                code = "RETURN_BATCH_MISMATCH"
            elif item.end_to_end_id in final:
                code = "RETURN_ALREADY_FINAL"
            else:
                final.add(item.end_to_end_id)
                province, amount = item.province_code, item.amount_fen
                settled = answer.status == "settled"
                code = "RETURN_SETTLED" if settled else "RETURN_FAILED_REVERSED"
                transactions.append({
                    "day": day, "kind": "settle" if settled else "return", "reference": f"item:{item.end_to_end_id}",
                    "platform_code": item.platform_code, "claim_id": item.claim_id,
                    "postings": [(f"in_transit:{province}", amount),
                                 (f"bank:{province}" if settled else f"benefits_payable:{province}", -amount)]})
                if not settled:
                    reversed_items.append(item.id)
                    work.append((item.platform_code, item.claim_id, day, "returned"))
            results.append((answer.id, day, code))
        post_many(session, transactions)
        for start in range(0, len(reversed_items), 5000):
            session.execute(update(PayoutItem).where(PayoutItem.id.in_(reversed_items[start: start + 5000]))
                            .values(returned_on=day).execution_options(synchronize_session=False))
        insert_rows(session, BankReturnResult.__table__, ["bank_return_id", "business_day", "result_code"], results)
        insert_rows(session, PayoutWork.__table__, ["platform_code", "claim_id", "business_day", "reason"], work)

    # -- money owed ------------------------------------------------------------------------
    def _approve(self, session: Session, day: date) -> None:
        """An 'approve' transaction per payable decision not yet posted: the claim's
        approved total moves to the new amount (a raise adds the difference, a cut
        reverses some)."""
        post_approvals(session, day, _WORK_CLAIMS)

    # -- batches ----------------------------------------------------------------------------
    def _prepare(self, session: Session, day: date, unpayable: set[tuple[str, str]]) -> None:
        """Approvals posted, then the day's batches (once), in one transaction: the
        approvals are posted while the files render (the amounts owed come from the
        decisions, not from the approval postings).

        The items are planned in SQL: what is owed goes to a temporary table, a
        window numbers it into batches, and only the rendering reads the rows into
        Python; the rare claims re-paid after a return are settled in between."""
        connection = session.connection()
        staged = _STAGED_ITEMS.name
        for name in (staged, _OWED_TABLE, _WORK_SEEN, _WORK_CLAIMS):
            connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
        for statement in _READ_WORK:
            connection.execute(statement, {"day": day})
        if connection.dialect.name == "postgresql":  # autovacuum never analyses temporary tables
            connection.execute(text(f"ANALYZE {_WORK_SEEN}"))
            connection.execute(text(f"ANALYZE {_WORK_CLAIMS}"))
        if self._closed(session, day):
            self._approve(session, day)
            connection.execute(text(f"DROP TABLE {_WORK_SEEN}"))
            connection.execute(text(f"DROP TABLE {_WORK_CLAIMS}"))
            return  # a re-run adds no batch to a prepared or released day: what it owes is paid the next day
        _STAGED_ITEMS.create(connection)
        connection.execute(text(_CREATE_OWED_TABLE))
        connection.execute(_owed_into_table(connection.dialect.name), {"day": day})
        self._repay_returned(session)
        self._hold(session, day, unpayable)
        connection.execute(_number_items(connection.dialect.name), {"day": day, "stamp": f"{day:%Y%m%d}"})
        connection.execute(text(f"DROP TABLE {_OWED_TABLE}"))
        batches_planned = connection.execute(text(
            f"SELECT batch_id, province_code, COUNT(*), SUM(amount_fen) FROM {staged} "
            "GROUP BY batch_id, province_code ORDER BY province_code, MIN(seq)")).all()
        if not batches_planned:
            self._approve(session, day)
            self._settle_work(session, day)
            connection.execute(text(f"DROP TABLE {staged}"))
            return
        _names, rows = fetch_tuples(connection, text(
            f"SELECT {', '.join(_RENDER_FIELDS)} FROM {staged} ORDER BY province_code, seq"))
        created_at = datetime.now(UTC)
        execution = self.calendar.next_working_day(day).date
        plan: list[tuple[str, str, int, int, list]] = []
        sequences: dict[str, int] = defaultdict(int)
        start = 0
        for batch_id, province, count, total in batches_planned:
            sequences[province] += 1
            plan.append((batch_id, province, sequences[province], int(total), rows[start: start + count]))
            start += count
        # The files render in a thread while the database posts the approvals and the
        # disbursements and (SQLite: foreign keys checked at commit) writes the items:
        # rendering is Python, the rest a few SQL statements that run without the GIL.
        # (Row-by-row inserts stay out of this window: each row would wait for the
        # GIL behind the rendering, which measured five times slower.)
        items_first = connection.dialect.name == "sqlite"
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="payouts-render")
        try:
            renders = [pool.submit(self._render_with_digests, batch_id, province, day, created_at, execution, chunk)
                       for batch_id, province, _sequence, _total, chunk in plan]
            self._approve(session, day)
            post_disbursements(session, day, staged)
            if items_first:
                connection.execute(text("PRAGMA defer_foreign_keys = ON"))
                connection.execute(_INSERT_STAGED_ITEMS)
            self._refuse_unpayable(plan, renders)
            batches = []
            for (batch_id, province, sequence, total, chunk), render in zip(plan, renders, strict=True):
                csv_bytes, xml_bytes, csv_digest, xml_digest = render.result()
                self._rendered[batch_id] = (csv_bytes, xml_bytes, csv_digest, xml_digest)
                batches.append((batch_id, day, province, sequence, len(chunk), total, execution, created_at,
                                csv_digest, xml_digest))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        insert_rows(session, PayoutBatch.__table__, _BATCH_COLUMNS, batches)
        if not items_first:
            connection.execute(_INSERT_STAGED_ITEMS)
        connection.execute(text(f"DROP TABLE {staged}"))
        self._settle_work(session, day)

    def _hold(self, session: Session, day: date, unpayable: set[tuple[str, str]]) -> None:
        """Hold out of the day's files what cannot or may not be paid automatically,
        each with its reason: the claim's order unknown (the paying province is the
        order's), no paying agency in force for the province on the day, an item
        above the per-item ceiling, a payee a bank file cannot carry (found by an
        earlier attempt to render the day). Every other item of the day is paid;
        the held claims stay on the work list for the next day's run."""
        provinces = self.agencies.provinces_on(day)
        suspect = list(session.execute(text(
            f"SELECT platform_code, claim_id, decision_id, province_code, amount_fen FROM {_OWED_TABLE} "
            "WHERE province_code IS NULL OR amount_fen > :ceiling OR province_code NOT IN :provinces "
            "ORDER BY platform_code, claim_id").bindparams(bindparam("provinces", expanding=True)),
            {"ceiling": self.max_item_fen, "provinces": provinces}))
        for platform, claim in sorted(unpayable):  # (a few: found by an earlier attempt to render the day)
            suspect += session.execute(text(
                f"SELECT platform_code, claim_id, decision_id, province_code, amount_fen FROM {_OWED_TABLE} "
                "WHERE platform_code = :platform_code AND claim_id = :claim_id"),
                {"platform_code": platform, "claim_id": claim}).all()
        held: dict[tuple[str, str], dict] = {}
        for platform, claim, decision_id, province, amount in suspect:
            if province is None:
                code = "PAYOUT_ORDER_UNKNOWN"
            elif province not in provinces:
                code = "PAYOUT_NO_PAYING_AGENCY"
            elif amount > self.max_item_fen:
                code = "PAYOUT_OVER_ITEM_CEILING"
            else:
                code = "PAYOUT_PAYEE_UNPAYABLE"
            held.setdefault((platform, claim), {
                "business_day": day, "platform_code": platform, "claim_id": claim, "decision_id": int(decision_id),
                "province_code": province, "amount_fen": int(amount), "reason_code": code})
        if not held:
            return
        keys = [{"platform_code": platform, "claim_id": claim} for platform, claim in sorted(held)]
        session.execute(insert(PayoutException), [held[key] for key in sorted(held)])
        session.execute(text(f"DELETE FROM {_OWED_TABLE} WHERE platform_code = :platform_code "
                             "AND claim_id = :claim_id"), keys)
        session.execute(text(f"UPDATE {_WORK_CLAIMS} SET keep = 1 WHERE platform_code = :platform_code "
                             "AND claim_id = :claim_id"), keys)

    def _refuse_unpayable(self, plan: list[tuple[str, str, int, int, list]], renders: list) -> None:
        """A batch whose bank file cannot be rendered names its payees a bank file
        cannot carry (UnpayablePayees): the day is then prepared again without them."""
        unpayable: set[tuple[str, str]] = set()
        for (_batch_id, _province, _sequence, _total, chunk), render in zip(plan, renders, strict=True):
            if render.exception() is None:
                continue
            if not isinstance(render.exception(), pain001.Pain001Error):
                raise render.exception()
            for end_to_end_id, platform_code, claim_id, amount_fen, name_enc, account_enc, bank_code in chunk:
                item = pain001.PaymentItem(end_to_end_id, amount_fen, self.cipher.decrypt(name_enc),
                                           self.cipher.decrypt(account_enc), bank_code, f"职业伤害保障 {claim_id}")
                try:
                    pain001.check_item(item)
                except pain001.Pain001Error:
                    unpayable.add((platform_code, claim_id))
        if unpayable:
            raise UnpayablePayees(unpayable)

    @staticmethod
    def _closed(session: Session, day: date) -> bool:
        """Prepared (it has batches) or released (an empty day's manifest is out)."""
        return bool(session.execute(select(PayoutBatch.id).where(PayoutBatch.business_day == day).limit(1)).first()
                    or session.get(PayoutRelease, day) is not None)

    @staticmethod
    def _settle_work(session: Session, day: date) -> None:
        """Remove the work list rows this run read: their claims, judged as of
        ``day``, are paid or owe nothing. Kept: claims waiting for an amended
        account (marked by _repay_returned), and claims with a payable decision
        after ``day`` (a run of an old day judged them on old facts: a later day
        looks again)."""
        connection = session.connection()
        latest = session.execute(select(func.max(Decision.business_day))).scalar()
        if latest is not None and latest > day:  # only when an old day is run
            connection.execute(text(
                f"UPDATE {_WORK_CLAIMS} SET keep = 1 WHERE EXISTS (SELECT 1 FROM decision d "
                f"WHERE d.platform_code = {_WORK_CLAIMS}.platform_code AND d.claim_id = {_WORK_CLAIMS}.claim_id "
                "AND d.payable_fen IS NOT NULL AND d.business_day > :day)").bindparams(bindparam("day", type_=Date)),
                {"day": day})
        connection.execute(text(
            f"DELETE FROM payout_work WHERE id IN (SELECT s.id FROM {_WORK_SEEN} s JOIN {_WORK_CLAIMS} c "
            "ON c.platform_code = s.platform_code AND c.claim_id = s.claim_id WHERE c.keep = 0)"))
        connection.execute(text(f"DROP TABLE {_WORK_SEEN}"))
        connection.execute(text(f"DROP TABLE {_WORK_CLAIMS}"))

    def _repay_returned(self, session: Session) -> None:
        """Owed claims with a returned item: paid again only to an amended account
        (otherwise dropped from the day), under the instalment of the returned item
        that no live item covers yet. Three queries for all of them (returned
        items are found through their partial index). A claim left waiting keeps
        its place on the work list."""
        owed = session.execute(text(
            f"SELECT platform_code, claim_id, payee_account_enc FROM {_OWED_TABLE} WHERE returned_items > 0 "
            "ORDER BY platform_code, claim_id")).all()
        if not owed:
            return
        items: dict[bool, dict[tuple[str, str], list[tuple[int, str]]]] = {True: defaultdict(list),
                                                                          False: defaultdict(list)}
        for returned in (True, False):
            for platform, claim_id, instalment, account_enc in session.execute(text(
                f"SELECT i.platform_code, i.claim_id, i.instalment, i.payee_account_enc FROM payout_item i "
                f"WHERE i.returned_on IS {'NOT NULL' if returned else 'NULL'} AND (i.platform_code, i.claim_id) IN "
                f"(SELECT platform_code, claim_id FROM {_OWED_TABLE} WHERE returned_items > 0) ORDER BY i.id")):
                items[returned][(platform, claim_id)].append((instalment, account_enc))
        dropped, moved = [], []
        for platform, claim_id, account_enc in owed:
            key = {"platform_code": platform, "claim_id": claim_id}
            failed = items[True][(platform, claim_id)]
            if self.cipher.decrypt(failed[-1][1]) == self.cipher.decrypt(account_enc):
                dropped.append(key)  # a failed payment is paid again only to an amended account
                continue
            live = {instalment for instalment, _account in items[False][(platform, claim_id)]}
            instalment = min((i for i, _account in failed if i not in live), default=None)
            if instalment is not None:
                moved.append(dict(key, instalment=instalment))
        if dropped:  # (the claims table has the claims as its key: one lookup each, then one delete)
            session.execute(text(f"UPDATE {_WORK_CLAIMS} SET keep = 1 WHERE platform_code = :platform_code "
                                 "AND claim_id = :claim_id"), dropped)
            session.execute(text(f"DELETE FROM {_OWED_TABLE} WHERE (platform_code, claim_id) IN "
                                 f"(SELECT platform_code, claim_id FROM {_WORK_CLAIMS} WHERE keep = 1)"))
        if moved:
            session.execute(text(f"UPDATE {_OWED_TABLE} SET instalment = :instalment "
                                 "WHERE platform_code = :platform_code AND claim_id = :claim_id"), moved)

    def _render_with_digests(self, *batch: object) -> tuple[bytes, bytes, str, str]:
        csv_bytes, xml_bytes = self._render(*batch)  # type: ignore[arg-type]
        return csv_bytes, xml_bytes, sha256(csv_bytes), sha256(xml_bytes)

    def _render(self, batch_id: str, province: str, day: date, created_at: datetime, execution: date,
                items: Sequence[Sequence]) -> tuple[bytes, bytes]:
        """A batch's CSV and pain.001 XML; ``items`` are rows of _RENDER_FIELDS."""
        payments = []
        rows: list[list] = [CSV_COLUMNS]
        decrypt = self.cipher.decrypt
        payment = pain001.PaymentItem
        for end_to_end_id, platform_code, claim_id, amount_fen, name_enc, account_enc, bank_code in items:
            name = decrypt(name_enc)
            account = decrypt(account_enc)
            remark = f"职业伤害保障 {claim_id}"
            rows.append([batch_id, end_to_end_id, claim_id, platform_code, province, name, account, bank_code,
                         str(amount_fen), CURRENCY, remark])
            payments.append(payment(end_to_end_id, amount_fen, name, account, bank_code, remark))
        csv_data = ("\n".join(csv_lines(rows)) + "\n").encode("utf-8")  # every cell safe in a spreadsheet
        debtor = self.agencies.on(province, day)  # (the day's agency: a batch of a province without one is held)
        if debtor is None:
            raise LookupError(f"batch {batch_id}: no paying agency in force for {province} on {day}")
        xml = pain001.render_pain001(pain001.PayoutBatch(
            batch_id, province, as_utc(created_at).astimezone(SHANGHAI), execution, debtor, tuple(payments)))
        return csv_data, xml

    # -- files and release ------------------------------------------------------------------
    def _batch_files(self, session: Session, batch: PayoutBatch) -> tuple[bytes, bytes]:
        rows = session.execute(
            select(*(PayoutItem.__table__.c[name] for name in _RENDER_FIELDS))
            .where(PayoutItem.batch_id == batch.batch_id).order_by(PayoutItem.end_to_end_id)
        ).all()
        return self._render(batch.batch_id, batch.province_code, batch.business_day, batch.created_at,
                            batch.requested_execution_date, rows)

    def _publish_files(self, day: date, result: PayDay) -> None:
        with Session(self.engine) as session:
            for batch in session.execute(
                select(PayoutBatch).where(PayoutBatch.business_day == day).order_by(PayoutBatch.batch_id)
            ).scalars():
                cached = self._rendered.pop(batch.batch_id, None)
                if cached is None or cached[2:] != (batch.csv_sha256, batch.xml_sha256):
                    csv_bytes, xml_bytes = self._batch_files(session, batch)  # not ours: from the ledger
                    cached = (csv_bytes, xml_bytes, sha256(csv_bytes), sha256(xml_bytes))
                csv_bytes, xml_bytes, csv_digest, xml_digest = cached
                for suffix, data, digest, recorded in (("csv", csv_bytes, csv_digest, batch.csv_sha256),
                                                       ("xml", xml_bytes, xml_digest, batch.xml_sha256)):
                    if digest != recorded:
                        raise PublishedFileMismatch(f"{batch.batch_id}.{suffix}: the ledger renders other bytes")
                    self._put_once(batch_key(batch, suffix), data, result, digest)

    def _put_once(self, key: str, data: bytes, result: PayDay, digest: str | None = None) -> None:
        """Published files are verified, never rewritten."""
        if self.outbox.exists(key):
            if sha256(self.outbox.read_bytes(key)) != (digest or sha256(data)):
                raise PublishedFileMismatch(f"{key} differs from the ledger's record")
            result.files_verified += 1
            return
        self.outbox.write_bytes(key, data)
        result.files_written += 1

    def release(self, day: date, *, released_by: str, automatic: bool, prepared_by: str = "claims") -> bool:
        """Record who released the day's batches (once); the manifest follows."""
        done: list[bool] = []

        def record(session: Session) -> None:
            if session.get(PayoutRelease, day) is not None:
                return
            released_at = datetime.now(UTC)
            manifest = self._manifest(session, day, released_at, released_by, automatic)
            session.add(PayoutRelease(business_day=day, released_at=released_at, released_by=released_by,
                                      prepared_by=prepared_by, automatic=automatic, manifest_sha256=sha256(manifest)))
            session.flush()
            done.append(True)

        self._once(record)
        return bool(done)

    def _manifest(self, session: Session, day: date, released_at: datetime, released_by: str, automatic: bool) -> bytes:
        batches = session.execute(
            select(PayoutBatch).where(PayoutBatch.business_day == day).order_by(PayoutBatch.batch_id)
        ).scalars().all()
        body = {
            "business_day": day.isoformat(),
            "released_at": as_utc(released_at).astimezone(SHANGHAI).replace(microsecond=0).isoformat(),
            "released_by": released_by,
            "automatic_release": automatic,
            "currency": CURRENCY,
            "batch_count": len(batches),
            "item_count": sum(b.item_count for b in batches),
            "control_sum_fen": sum(b.control_sum_fen for b in batches),
            "files": [
                {"path": batch_key(batch, suffix), "batch_id": batch.batch_id, "province_code": batch.province_code,
                 "sha256": digest, "item_count": batch.item_count, "control_sum_fen": batch.control_sum_fen,
                 "requested_execution_date": batch.requested_execution_date.isoformat()}
                for batch in batches for suffix, digest in (("csv", batch.csv_sha256), ("xml", batch.xml_sha256))
            ],
        }
        return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    def _write_reports(self, day: date) -> None:
        """The owed items the run held out of its files. (The day's finance summary and
        bank answers are the reports stage's: claims.reports.totals, from the same
        day figures as the payout reconciliation.)"""
        with Session(self.engine) as session:
            holds = sorted(session.execute(select(PayoutException).where(PayoutException.business_day == day))
                           .scalars(), key=lambda hold: (hold.platform_code, hold.claim_id))
        prefix = f"reports/date={day.isoformat()}"
        self.outbox.write_bytes(f"{prefix}/payout_holds.csv", dict_csv_bytes(HOLD_COLUMNS, [
            {"claim_id": hold.claim_id, "platform_code": hold.platform_code, "province_code": hold.province_code or "",
             "amount_fen": hold.amount_fen, "reason_code": hold.reason_code} for hold in holds]))

    def _write_manifest(self, day: date, result: PayDay) -> bool:
        with Session(self.engine) as session:
            release = session.get(PayoutRelease, day)
            if release is None:
                return False  # prepared, awaiting release: nothing reaches the bank yet
            manifest = self._manifest(session, day, release.released_at, release.released_by, release.automatic)
        if sha256(manifest) != release.manifest_sha256:
            raise PublishedFileMismatch(f"manifest of {day}: the ledger renders other bytes")
        self._put_once(f"payouts/date={day.isoformat()}/manifest.json", manifest, result)
        return True


HOLD_COLUMNS = ["claim_id", "platform_code", "province_code", "amount_fen", "reason_code"]


def batch_key(batch: PayoutBatch, suffix: str) -> str:
    return f"payouts/date={batch.business_day.isoformat()}/province={batch.province_code}/{batch.batch_id}.{suffix}"
