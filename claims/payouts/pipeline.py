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
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from pathlib import Path

from sqlalchemy import Column, Date, Engine, Integer, MetaData, Table, bindparam, func, literal, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from claims.calendar import SHANGHAI, as_utc
from claims.csvtext import dict_csv_bytes
from claims.ledger.bulk import insert_rows
from claims.ledger.models import (
    BankReturn,
    BankReturnResult,
    LedgerTransaction,
    PayoutBatch,
    PayoutItem,
    PayoutRelease,
)
from claims.payouts import pain001
from claims.payouts.ledger import post_approvals, post_disbursements, post_many
from claims.privacy import Cipher
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
    f"SELECT {', '.join([*_ITEM_FIELDS, 'business_day'])} FROM {_STAGED_ITEMS.name} ORDER BY seq")
_ITEM_ORDER = itemgetter("platform_code", "claim_id", "instalment")
_RENDER_FIELDS = ["end_to_end_id", "platform_code", "claim_id", "amount_fen", "payee_name_enc", "payee_account_enc",
                  "payee_bank_code"]

#: What each claim is owed on a day, in one query: its latest payable decision (by
#: business day, then id) minus what its live items cover, where that is more than
#: zero; to the payee of its current version as of the day (the last in contract
#: order: partition date, file name, line), in the province where the version's
#: order was accepted (the incident's province when the order is unknown). The
#: columns' order is the one ``Paymaster._owed`` unpacks.
_OWED = text("""
WITH latest AS (
    SELECT d.id, d.platform_code, d.claim_id, d.payable_fen,
           ROW_NUMBER() OVER (PARTITION BY d.platform_code, d.claim_id
                              ORDER BY d.business_day DESC, d.id DESC) AS newest_first
    FROM decision d
    WHERE d.payable_fen IS NOT NULL AND d.business_day <= :day
),
paid AS (
    SELECT platform_code, claim_id,
           SUM(CASE WHEN returned_on IS NULL THEN amount_fen ELSE 0 END) AS covered_fen,
           MAX(instalment) AS last_instalment,
           SUM(CASE WHEN returned_on IS NULL THEN 0 ELSE 1 END) AS returned_items
    FROM payout_item
    GROUP BY platform_code, claim_id
),
due AS (
    SELECT l.platform_code, l.claim_id, l.id AS decision_id, l.payable_fen - COALESCE(p.covered_fen, 0) AS due_fen,
           COALESCE(p.last_instalment, 0) AS last_instalment, COALESCE(p.returned_items, 0) AS returned_items
    FROM latest l
    LEFT JOIN paid p ON p.platform_code = l.platform_code AND p.claim_id = l.claim_id
    WHERE l.newest_first = 1 AND l.payable_fen > COALESCE(p.covered_fen, 0)
),
payee AS (
    SELECT due.*, (
        SELECT c.id FROM claim_version c
        WHERE c.platform_code = due.platform_code AND c.claim_id = due.claim_id AND c.business_day <= :day
        ORDER BY c.partition_date DESC, c.file_name DESC, c.line DESC
        LIMIT 1) AS claim_version_id
    FROM due
)
SELECT payee.platform_code, payee.claim_id, payee.decision_id, payee.due_fen, payee.last_instalment,
       payee.returned_items, v.id, COALESCE(NULLIF(o.province_code, ''), v.incident_province_code) AS province_code,
       v.worker_name_enc, v.payee_account_enc, v.payee_account_masked, v.payee_bank_code
FROM payee
JOIN claim_version v ON v.id = payee.claim_version_id
LEFT JOIN claim_order o ON o.platform_code = v.platform_code AND o.order_id = v.order_id
""")


class PublishedFileMismatch(RuntimeError):
    """A published file differs from what the ledger says was published."""


def paying_agencies(path: Path = AGENCIES) -> dict[str, pain001.Debtor]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["province_code"]: pain001.Debtor(row["agency_name"], row["account"], row["bank_code"])
                for row in csv.DictReader(handle)}


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


class Paymaster:
    def __init__(self, engine: Engine, outbox: Store, cipher: Cipher, calendar: WorkCalendar,
                 agencies: dict[str, pain001.Debtor]) -> None:
        self.engine = engine
        self.outbox = outbox
        self.cipher = cipher
        self.calendar = calendar
        self.agencies = agencies
        #: Files rendered while preparing, with their digests, kept for publishing in the
        #: same run (the digests are in the ledger either way; a later run renders again).
        self._rendered: dict[str, tuple[bytes, bytes, str, str]] = {}

    def run(self, day: date, *, auto_release: bool, operator: str = "claims") -> PayDay:
        result = PayDay(day)
        with self._day_lock(day):
            self._once(lambda session: self._apply_returns(session, day))
            self._once(lambda session: self._prepare(session, day))
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
        results, transactions, reversed_items = [], [], []
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
            results.append((answer.id, day, code))
        post_many(session, transactions)
        for start in range(0, len(reversed_items), 5000):
            session.execute(update(PayoutItem).where(PayoutItem.id.in_(reversed_items[start: start + 5000]))
                            .values(returned_on=day).execution_options(synchronize_session=False))
        insert_rows(session, BankReturnResult.__table__, ["bank_return_id", "business_day", "result_code"], results)

    # -- money owed ------------------------------------------------------------------------
    def _approve(self, session: Session, day: date) -> None:
        """An 'approve' transaction per payable decision not yet posted: the claim's
        approved total moves to the new amount (a raise adds the difference, a cut
        reverses some)."""
        post_approvals(session, day)

    # -- batches ----------------------------------------------------------------------------
    def _prepare(self, session: Session, day: date) -> None:
        """Approvals posted, then the day's batches (once), in one transaction: the
        approvals are posted while the files render (the amounts owed come from the
        decisions, not from the approval postings)."""
        if session.execute(select(PayoutBatch.id).where(PayoutBatch.business_day == day).limit(1)).first():
            self._approve(session, day)
            return  # prepared before: a re-run adds no batch
        owed = self._owed(session, day)
        if not owed:
            self._approve(session, day)
            return
        created_at = datetime.now(UTC)
        execution = self.calendar.next_working_day(day).date
        by_province: dict[str, list[dict]] = defaultdict(list)
        for item in owed:
            by_province[item["province_code"]].append(item)
        plan: list[tuple[str, str, int, list[dict]]] = []
        for province, owed_here in sorted(by_province.items()):
            owed_here.sort(key=_ITEM_ORDER)
            for sequence, start in enumerate(range(0, len(owed_here), MAX_BATCH_ITEMS), start=1):
                chunk = owed_here[start: start + MAX_BATCH_ITEMS]
                batch_id = f"PO{day:%Y%m%d}{province}{sequence:03d}"
                for number, item in enumerate(chunk, start=1):
                    item["batch_id"] = batch_id
                    item["end_to_end_id"] = f"{batch_id}{number:04d}"
                plan.append((batch_id, province, sequence, chunk))
        connection = session.connection()
        staged = _STAGED_ITEMS.name
        connection.execute(text(f"DROP TABLE IF EXISTS {staged}"))
        _STAGED_ITEMS.create(connection)
        item_row = itemgetter(*_ITEM_FIELDS)
        insert_rows(session, _STAGED_ITEMS, ["seq", *_ITEM_FIELDS, "business_day"],
                    [(seq, *item_row(item), day) for seq, item in enumerate(item for *_b, chunk in plan for item in chunk)])
        # The files render in a thread while the database posts the approvals and the
        # disbursements and (SQLite: foreign keys checked at commit) writes the items:
        # rendering is Python, the rest a few SQL statements that run without the GIL.
        # (Row-by-row inserts stay out of this window: each row would wait for the
        # GIL behind the rendering, which measured five times slower.)
        items_first = connection.dialect.name == "sqlite"
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="payouts-render")
        try:
            renders = [pool.submit(self._render_with_digests, batch_id, province, created_at, execution, chunk)
                       for batch_id, province, _sequence, chunk in plan]
            self._approve(session, day)
            post_disbursements(session, day, staged)
            if items_first:
                connection.execute(text("PRAGMA defer_foreign_keys = ON"))
                connection.execute(_INSERT_STAGED_ITEMS)
            batches = []
            for (batch_id, province, sequence, chunk), render in zip(plan, renders, strict=True):
                csv_bytes, xml_bytes, csv_digest, xml_digest = render.result()
                self._rendered[batch_id] = (csv_bytes, xml_bytes, csv_digest, xml_digest)
                batches.append((batch_id, day, province, sequence, len(chunk), sum(item["amount_fen"] for item in chunk),
                                execution, created_at, csv_digest, xml_digest))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        insert_rows(session, PayoutBatch.__table__, _BATCH_COLUMNS, batches)
        if not items_first:
            connection.execute(_INSERT_STAGED_ITEMS)
        connection.execute(text(f"DROP TABLE {staged}"))

    def _owed(self, session: Session, day: date) -> list[dict]:
        """Per claim: its latest payable amount minus what live items already cover,
        to the payee of the claim's current version (as of ``day``)."""
        rows = session.execute(_OWED.bindparams(bindparam("day", day, type_=Date))).all()
        returned: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        if any(row[5] for row in rows):
            for platform, claim_id, instalment, account_enc in session.execute(
                select(PayoutItem.platform_code, PayoutItem.claim_id, PayoutItem.instalment, PayoutItem.payee_account_enc)
                .where(PayoutItem.returned_on.is_not(None)).order_by(PayoutItem.id)
            ):
                returned[(platform, claim_id)].append((instalment, account_enc))
        owed = []
        for (platform, claim_id, decision_id, due_fen, last_instalment, returned_items, version_id, province,
             name_enc, account_enc, account_masked, bank_code) in rows:
            instalment = int(last_instalment) + 1
            if returned_items:
                failed = returned[(platform, claim_id)]
                if self.cipher.decrypt(failed[-1][1]) == self.cipher.decrypt(account_enc):
                    continue  # a failed payment is paid again only to an amended account
                live = {i for (_p, _c, i) in self._live_instalments(session, (platform, claim_id))}
                instalment = min((i for i, _account in failed if i not in live), default=instalment)
            owed.append({
                "platform_code": platform, "claim_id": claim_id, "instalment": instalment,
                "decision_id": int(decision_id), "claim_version_id": int(version_id), "province_code": province,
                "amount_fen": int(due_fen), "payee_name_enc": name_enc, "payee_account_enc": account_enc,
                "payee_account_masked": account_masked, "payee_bank_code": bank_code,
            })
        return owed

    @staticmethod
    def _live_instalments(session: Session, key: tuple[str, str]) -> list[tuple[str, str, int]]:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(PayoutItem.platform_code, PayoutItem.claim_id, PayoutItem.instalment)
            .where(PayoutItem.platform_code == key[0], PayoutItem.claim_id == key[1], PayoutItem.returned_on.is_(None))
        )]

    def _render_with_digests(self, *batch: object) -> tuple[bytes, bytes, str, str]:
        csv_bytes, xml_bytes = self._render(*batch)  # type: ignore[arg-type]
        return csv_bytes, xml_bytes, sha256(csv_bytes), sha256(xml_bytes)

    def _render(self, batch_id: str, province: str, created_at: datetime, execution: date,
                items: list[dict]) -> tuple[bytes, bytes]:
        payments = []
        rows: list[list] = [CSV_COLUMNS]
        decrypt = self.cipher.decrypt
        payment = pain001.PaymentItem
        for item in items:
            name = decrypt(item["payee_name_enc"])
            account = decrypt(item["payee_account_enc"])
            remark = f"职业伤害保障 {item['claim_id']}"
            rows.append([batch_id, item["end_to_end_id"], item["claim_id"], item["platform_code"], province,
                         name, account, item["payee_bank_code"], item["amount_fen"], CURRENCY, remark])
            payments.append(payment(item["end_to_end_id"], item["amount_fen"], name, account,
                                    item["payee_bank_code"], remark))
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        debtor = self.agencies[province]
        xml = pain001.render_pain001(pain001.PayoutBatch(
            batch_id, province, as_utc(created_at).astimezone(SHANGHAI), execution, debtor, tuple(payments)))
        return buffer.getvalue().encode("utf-8"), xml

    # -- files and release ------------------------------------------------------------------
    def _batch_files(self, session: Session, batch: PayoutBatch) -> tuple[bytes, bytes]:
        rows = [dict(row._mapping) for row in session.execute(
            select(*(PayoutItem.__table__.c[name] for name in _RENDER_FIELDS))
            .where(PayoutItem.batch_id == batch.batch_id).order_by(PayoutItem.end_to_end_id)
        )]
        return self._render(batch.batch_id, batch.province_code, batch.created_at, batch.requested_execution_date, rows)

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
        """For finance: what the bank answered, and the day by province and platform."""
        groups: dict[tuple[str, str], dict] = {}

        def group(province: str, platform: str) -> dict:
            return groups.setdefault((province, platform), {
                "province_code": province, "platform_code": platform, "items": 0,
                "amount_fen": 0, "repaid_items": 0, "returned_items": 0, "returned_fen": 0, "settled_items": 0,
                "settled_fen": 0})

        by_group = (PayoutItem.province_code, PayoutItem.platform_code)
        counted = (*by_group, func.count(), func.sum(PayoutItem.amount_fen))
        with Session(self.engine) as session:
            answers = session.execute(
                select(BankReturn, BankReturnResult.result_code)
                .join(BankReturnResult, BankReturnResult.bank_return_id == BankReturn.id)
                .where(BankReturnResult.business_day == day).order_by(BankReturn.end_to_end_id, BankReturn.id)
            ).all()
            for columns, condition, count_field, fen_field in (
                (counted, PayoutItem.business_day == day, "items", "amount_fen"),
                (counted, PayoutItem.returned_on == day, "returned_items", "returned_fen"),
            ):
                for province, platform, count, total in session.execute(
                        select(*columns).where(condition).group_by(*by_group)):
                    entry = group(province, platform)
                    entry[count_field] += int(count)
                    entry[fen_field] += int(total)
            for province, platform, count, total in session.execute(
                select(*counted).join(LedgerTransaction, (LedgerTransaction.kind == "settle")
                                      & (LedgerTransaction.reference == literal("item:") + PayoutItem.end_to_end_id))
                .where(LedgerTransaction.business_day == day).group_by(*by_group)
            ):
                entry = group(province, platform)
                entry["settled_items"] += int(count)
                entry["settled_fen"] += int(total)
            # Items of the day that pay again an instalment returned before.
            earlier = {(p, c, i) for p, c, i in session.execute(
                select(PayoutItem.platform_code, PayoutItem.claim_id, PayoutItem.instalment)
                .where(PayoutItem.business_day < day, PayoutItem.returned_on.is_not(None)))}
            if earlier:
                for province, platform, claim_id, instalment in session.execute(
                    select(*by_group, PayoutItem.claim_id, PayoutItem.instalment).where(PayoutItem.business_day == day)
                ):
                    if (platform, claim_id, instalment) in earlier:
                        group(province, platform)["repaid_items"] += 1
        prefix = f"reports/date={day.isoformat()}"
        self.outbox.write_bytes(f"{prefix}/bank_returns.csv", dict_csv_bytes(REPORT_RETURN_COLUMNS, [
            {"end_to_end_id": answer.end_to_end_id, "batch_id": answer.batch_id, "status": answer.status,
             "failure_code": answer.failure_code, "result_code": code} for answer, code in answers
        ]))
        self.outbox.write_bytes(f"{prefix}/finance_summary.csv",
                                dict_csv_bytes(SUMMARY_COLUMNS, [groups[key] for key in sorted(groups)]))

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


REPORT_RETURN_COLUMNS = ["end_to_end_id", "batch_id", "status", "failure_code", "result_code"]
SUMMARY_COLUMNS = ["province_code", "platform_code", "items", "amount_fen", "repaid_items", "returned_items",
                   "returned_fen", "settled_items", "settled_fen"]


def batch_key(batch: PayoutBatch, suffix: str) -> str:
    return f"payouts/date={batch.business_day.isoformat()}/province={batch.province_code}/{batch.batch_id}.{suffix}"
