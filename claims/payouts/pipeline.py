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
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from claims.calendar import SHANGHAI, as_utc
from claims.ledger.models import (
    BankReturn,
    BankReturnResult,
    ClaimOrder,
    ClaimVersion,
    Decision,
    LedgerTransaction,
    PayoutBatch,
    PayoutItem,
    PayoutRelease,
)
from claims.payouts import pain001
from claims.payouts.ledger import post, post_many
from claims.privacy import Cipher
from claims.store import Store
from claims.workdays import WorkCalendar

MAX_BATCH_ITEMS = 3000
CURRENCY = "CNY"
CSV_COLUMNS = ["batch_id", "end_to_end_id", "claim_id", "platform_code", "province_code", "payee_name",
               "payee_account", "payee_bank_code", "amount_fen", "currency", "remark"]
AGENCIES = Path(__file__).resolve().parents[1] / "reference" / "data" / "paying_agencies.csv"


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
        #: Files rendered while preparing, kept for publishing in the same run (their
        #: digests are in the ledger either way; a later run renders them again).
        self._rendered: dict[str, tuple[bytes, bytes]] = {}

    def run(self, day: date, *, auto_release: bool, operator: str = "claims") -> PayDay:
        result = PayDay(day)
        with self._day_lock(day):
            self._once(lambda session: self._apply_returns(session, day))
            self._once(lambda session: self._approve(session, day))
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
        did the same work at the same moment: its rows stand, ours roll back."""
        try:
            with Session(self.engine) as session, session.begin():
                work(session)
        except IntegrityError:
            pass

    # -- the bank's answers --------------------------------------------------------------------
    def _apply_returns(self, session: Session, day: date) -> None:
        """Settled: the item is closed (in transit -> bank). Failed: reversed (in
        transit -> payable again) and the claim waits for an amended payee account.
        Unknown or contradictory answers are reported with a reason, never ignored."""
        returns = session.execute(
            select(BankReturn)
            .outerjoin(BankReturnResult, BankReturnResult.bank_return_id == BankReturn.id)
            .where(BankReturn.business_day == day, BankReturnResult.bank_return_id.is_(None))
            .order_by(BankReturn.processed_at, BankReturn.id)
        ).scalars().all()
        for answer in returns:
            session.add(BankReturnResult(bank_return_id=answer.id, business_day=day,
                                         result_code=self._apply_return(session, answer, day)))

    def _apply_return(self, session: Session, answer: BankReturn, day: date) -> str:
        item = session.execute(
            select(PayoutItem).where(PayoutItem.end_to_end_id == answer.end_to_end_id)
        ).scalar_one_or_none()
        if item is None:
            return "RETURN_UNKNOWN_ITEM"
        if item.batch_id != answer.batch_id:
            return "RETURN_BATCH_MISMATCH"
        settled = session.execute(
            select(LedgerTransaction.id).where(LedgerTransaction.kind == "settle",
                                               LedgerTransaction.reference == f"item:{item.end_to_end_id}")
        ).first()
        if settled is not None or item.returned_on is not None:
            return "RETURN_ALREADY_FINAL"
        province = item.province_code
        if answer.status == "settled":
            post(session, day=day, kind="settle", reference=f"item:{item.end_to_end_id}",
                 platform_code=item.platform_code, claim_id=item.claim_id,
                 postings=[(f"in_transit:{province}", item.amount_fen), (f"bank:{province}", -item.amount_fen)])
            return "RETURN_SETTLED"
        post(session, day=day, kind="return", reference=f"item:{item.end_to_end_id}",
             platform_code=item.platform_code, claim_id=item.claim_id,
             postings=[(f"in_transit:{province}", item.amount_fen), (f"benefits_payable:{province}", -item.amount_fen)])
        item.returned_on = day
        return "RETURN_FAILED_REVERSED"

    # -- money owed ------------------------------------------------------------------------
    def _approve(self, session: Session, day: date) -> None:
        """An 'approve' transaction per payable decision: the claim's approved total
        moves to the new amount (a raise adds the difference, a cut reverses some)."""
        payable = session.execute(
            select(Decision.id, Decision.platform_code, Decision.claim_id, Decision.claim_version_id,
                   Decision.business_day, Decision.payable_fen)
            .where(Decision.payable_fen.is_not(None), Decision.business_day <= day)
            .order_by(Decision.business_day, Decision.id)
        ).all()
        posted = {reference for (reference,) in session.execute(
            select(LedgerTransaction.reference).where(LedgerTransaction.kind == "approve"))}
        provinces = self._provinces(session, {row.claim_version_id for row in payable})
        approved: dict[tuple[str, str], int] = defaultdict(int)
        new = []
        for decision in payable:
            key = (decision.platform_code, decision.claim_id)
            change = int(decision.payable_fen or 0) - approved[key]
            approved[key] = int(decision.payable_fen or 0)
            if f"decision:{decision.id}" in posted:
                continue
            province = provinces[decision.claim_version_id]
            new.append({"day": decision.business_day, "kind": "approve", "reference": f"decision:{decision.id}",
                        "platform_code": key[0], "claim_id": key[1],
                        "postings": [(f"benefit_expense:{province}", change), (f"benefits_payable:{province}", -change)]})
        post_many(session, new)

    def _provinces(self, session: Session, version_ids: set[int]) -> dict[int, str]:
        """The paying province of claim versions: where the order was accepted (the
        incident's province when the order is unknown)."""
        found: dict[int, str] = {}
        ids = sorted(version_ids)
        for start in range(0, len(ids), 5000):
            for version_id, incident_province, order_province in session.execute(
                select(ClaimVersion.id, ClaimVersion.incident_province_code, ClaimOrder.province_code)
                .outerjoin(ClaimOrder, (ClaimOrder.platform_code == ClaimVersion.platform_code)
                           & (ClaimOrder.order_id == ClaimVersion.order_id))
                .where(ClaimVersion.id.in_(ids[start: start + 5000]))
            ):
                found[version_id] = order_province or incident_province
        return found

    # -- batches ----------------------------------------------------------------------------
    def _prepare(self, session: Session, day: date) -> None:
        if session.execute(select(PayoutBatch.id).where(PayoutBatch.business_day == day).limit(1)).first():
            return  # prepared before: a re-run adds nothing
        owed = self._owed(session, day)
        if not owed:
            return
        created_at = datetime.now(UTC)
        execution = self.calendar.next_working_day(day).date
        by_province: dict[str, list[dict]] = defaultdict(list)
        for item in owed:
            by_province[item["province_code"]].append(item)
        for province, items in sorted(by_province.items()):
            items.sort(key=lambda i: (i["platform_code"], i["claim_id"], i["instalment"]))
            for sequence, start in enumerate(range(0, len(items), MAX_BATCH_ITEMS), start=1):
                chunk = items[start: start + MAX_BATCH_ITEMS]
                batch_id = f"PO{day:%Y%m%d}{province}{sequence:03d}"
                for number, item in enumerate(chunk, start=1):
                    item["batch_id"] = batch_id
                    item["end_to_end_id"] = f"{batch_id}{number:04d}"
                csv_bytes, xml_bytes = self._render(batch_id, province, created_at, execution, chunk)
                self._rendered[batch_id] = (csv_bytes, xml_bytes)
                session.add(PayoutBatch(
                    batch_id=batch_id, business_day=day, province_code=province, sequence=sequence,
                    item_count=len(chunk), control_sum_fen=sum(i["amount_fen"] for i in chunk),
                    requested_execution_date=execution, created_at=created_at,
                    csv_sha256=sha256(csv_bytes), xml_sha256=sha256(xml_bytes),
                ))
                session.flush()
                session.execute(insert(PayoutItem.metadata.tables["payout_item"]),
                                [dict(item, business_day=day, returned_on=None) for item in chunk])
                post_many(session, [
                    {"day": day, "kind": "disburse", "reference": f"item:{item['end_to_end_id']}",
                     "platform_code": item["platform_code"], "claim_id": item["claim_id"],
                     "postings": [(f"benefits_payable:{province}", item["amount_fen"]),
                                  (f"in_transit:{province}", -item["amount_fen"])]}
                    for item in chunk
                ])

    def _owed(self, session: Session, day: date) -> list[dict]:
        """Per claim: its latest payable amount minus what live items already cover."""
        latest: dict[tuple[str, str], Decision] = {}
        for decision in session.execute(
            select(Decision).where(Decision.payable_fen.is_not(None), Decision.business_day <= day)
            .order_by(Decision.business_day, Decision.id)
        ).scalars():
            latest[(decision.platform_code, decision.claim_id)] = decision
        covered = {(platform, claim): int(total) for platform, claim, total in session.execute(
            select(PayoutItem.platform_code, PayoutItem.claim_id, func.sum(PayoutItem.amount_fen))
            .where(PayoutItem.returned_on.is_(None)).group_by(PayoutItem.platform_code, PayoutItem.claim_id)
        )}
        instalments = {(platform, claim): int(last) for platform, claim, last in session.execute(
            select(PayoutItem.platform_code, PayoutItem.claim_id, func.max(PayoutItem.instalment))
            .group_by(PayoutItem.platform_code, PayoutItem.claim_id)
        )}
        returned: dict[tuple[str, str], list[PayoutItem]] = defaultdict(list)
        for item in session.execute(select(PayoutItem).where(PayoutItem.returned_on.is_not(None))).scalars():
            returned[(item.platform_code, item.claim_id)].append(item)
        due_keys = [key for key, decision in latest.items() if int(decision.payable_fen or 0) > covered.get(key, 0)]
        payees = self._payee_versions(session, due_keys, day)
        provinces = self._provinces(session, {version.id for version in payees.values()})
        owed = []
        for key in sorted(due_keys):
            platform, claim_id = key
            decision = latest[key]
            due = int(decision.payable_fen or 0) - covered.get(key, 0)
            version = payees[key]
            instalment = instalments.get(key, 0) + 1
            if returned.get(key):
                failed = returned[key][-1]
                if self.cipher.decrypt(failed.payee_account_enc) == self.cipher.decrypt(version.payee_account_enc):
                    continue  # a failed payment is paid again only to an amended account
                live = {i for (_p, _c, i) in self._live_instalments(session, key)}
                instalment = min((i.instalment for i in returned[key] if i.instalment not in live), default=instalment)
            owed.append({
                "platform_code": platform, "claim_id": claim_id, "instalment": instalment,
                "decision_id": decision.id, "claim_version_id": version.id,
                "province_code": provinces[version.id], "amount_fen": due,
                "payee_name_enc": version.worker_name_enc, "payee_account_enc": version.payee_account_enc,
                "payee_account_masked": version.payee_account_masked, "payee_bank_code": version.payee_bank_code,
            })
        return owed

    def _payee_versions(self, session: Session, keys: list[tuple[str, str]], day: date) -> dict[tuple[str, str], ClaimVersion]:
        """The current version (as of ``day``) of each claim: its payee is the one to pay."""
        found: dict[tuple[str, str], ClaimVersion] = {}
        by_platform: dict[str, list[str]] = defaultdict(list)
        for platform, claim_id in keys:
            by_platform[platform].append(claim_id)
        for platform, claim_ids in sorted(by_platform.items()):
            claim_ids.sort()
            for start in range(0, len(claim_ids), 5000):
                for version in session.execute(
                    select(ClaimVersion).where(ClaimVersion.platform_code == platform,
                                               ClaimVersion.claim_id.in_(claim_ids[start: start + 5000]),
                                               ClaimVersion.business_day <= day)
                    .order_by(ClaimVersion.partition_date, ClaimVersion.file_name, ClaimVersion.line)
                ).scalars():
                    found[(platform, version.claim_id)] = version  # the last in contract order wins
        return found

    @staticmethod
    def _live_instalments(session: Session, key: tuple[str, str]) -> list[tuple[str, str, int]]:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(PayoutItem.platform_code, PayoutItem.claim_id, PayoutItem.instalment)
            .where(PayoutItem.platform_code == key[0], PayoutItem.claim_id == key[1], PayoutItem.returned_on.is_(None))
        )]

    def _render(self, batch_id: str, province: str, created_at: datetime, execution: date,
                items: list[dict]) -> tuple[bytes, bytes]:
        payments = []
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for item in items:
            name = self.cipher.decrypt(item["payee_name_enc"])
            account = self.cipher.decrypt(item["payee_account_enc"])
            remark = f"职业伤害保障 {item['claim_id']}"
            writer.writerow([batch_id, item["end_to_end_id"], item["claim_id"], item["platform_code"], province,
                             name, account, item["payee_bank_code"], item["amount_fen"], CURRENCY, remark])
            payments.append(pain001.PaymentItem(item["end_to_end_id"], item["amount_fen"], name, account,
                                                item["payee_bank_code"], remark))
        debtor = self.agencies[province]
        xml = pain001.render_pain001(pain001.PayoutBatch(
            batch_id, province, as_utc(created_at).astimezone(SHANGHAI), execution, debtor, tuple(payments)))
        return buffer.getvalue().encode("utf-8"), xml

    # -- files and release ------------------------------------------------------------------
    def _batch_files(self, session: Session, batch: PayoutBatch) -> tuple[bytes, bytes]:
        items = session.execute(
            select(PayoutItem).where(PayoutItem.batch_id == batch.batch_id).order_by(PayoutItem.end_to_end_id)
        ).scalars().all()
        rows = [{column.name: getattr(item, column.name) for column in PayoutItem.__table__.columns} for item in items]
        return self._render(batch.batch_id, batch.province_code, batch.created_at, batch.requested_execution_date, rows)

    def _publish_files(self, day: date, result: PayDay) -> None:
        with Session(self.engine) as session:
            for batch in session.execute(
                select(PayoutBatch).where(PayoutBatch.business_day == day).order_by(PayoutBatch.batch_id)
            ).scalars():
                cached = self._rendered.pop(batch.batch_id, None)
                if cached is None or (sha256(cached[0]), sha256(cached[1])) != (batch.csv_sha256, batch.xml_sha256):
                    cached = self._batch_files(session, batch)  # not ours (another run prepared it): from the ledger
                csv_bytes, xml_bytes = cached
                for suffix, data, recorded in (("csv", csv_bytes, batch.csv_sha256), ("xml", xml_bytes, batch.xml_sha256)):
                    if sha256(data) != recorded:
                        raise PublishedFileMismatch(f"{batch.batch_id}.{suffix}: the ledger renders other bytes")
                    self._put_once(batch_key(batch, suffix), data, result)

    def _put_once(self, key: str, data: bytes, result: PayDay) -> None:
        """Published files are verified, never rewritten."""
        if self.outbox.exists(key):
            if sha256(self.outbox.read_bytes(key)) != sha256(data):
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
        with Session(self.engine) as session:
            answers = session.execute(
                select(BankReturn, BankReturnResult.result_code)
                .join(BankReturnResult, BankReturnResult.bank_return_id == BankReturn.id)
                .where(BankReturnResult.business_day == day).order_by(BankReturn.end_to_end_id, BankReturn.id)
            ).all()
            items = session.execute(select(PayoutItem).where(PayoutItem.business_day == day)).scalars().all()
            returned = session.execute(select(PayoutItem).where(PayoutItem.returned_on == day)).scalars().all()
            settled: list[PayoutItem] = []
            settle_refs = {ref for (ref,) in session.execute(
                select(LedgerTransaction.reference).where(LedgerTransaction.kind == "settle",
                                                          LedgerTransaction.business_day == day))}
            if settle_refs:
                settled = [item for item in session.execute(
                    select(PayoutItem).where(PayoutItem.end_to_end_id.in_(sorted(r[5:] for r in settle_refs)))
                ).scalars()]
        prefix = f"reports/date={day.isoformat()}"
        self.outbox.write_bytes(f"{prefix}/bank_returns.csv", _csv_bytes(REPORT_RETURN_COLUMNS, [
            {"end_to_end_id": answer.end_to_end_id, "batch_id": answer.batch_id, "status": answer.status,
             "failure_code": answer.failure_code, "result_code": code} for answer, code in answers
        ]))
        groups: dict[tuple[str, str], dict] = {}

        def group(item: PayoutItem) -> dict:
            return groups.setdefault((item.province_code, item.platform_code), {
                "province_code": item.province_code, "platform_code": item.platform_code, "items": 0,
                "amount_fen": 0, "repaid_items": 0, "returned_items": 0, "returned_fen": 0, "settled_items": 0,
                "settled_fen": 0})

        repeated = self._repeated_instalments(day)
        for item in items:
            entry = group(item)
            entry["items"] += 1
            entry["amount_fen"] += item.amount_fen
            entry["repaid_items"] += int(item.end_to_end_id in repeated)
        for item in returned:
            entry = group(item)
            entry["returned_items"] += 1
            entry["returned_fen"] += item.amount_fen
        for item in settled:
            entry = group(item)
            entry["settled_items"] += 1
            entry["settled_fen"] += item.amount_fen
        self.outbox.write_bytes(f"{prefix}/finance_summary.csv",
                                _csv_bytes(SUMMARY_COLUMNS, [groups[key] for key in sorted(groups)]))

    def _repeated_instalments(self, day: date) -> set[str]:
        """End-to-end ids of the day's items that pay again an instalment returned before."""
        with Session(self.engine) as session:
            earlier = {(p, c, i) for p, c, i in session.execute(
                select(PayoutItem.platform_code, PayoutItem.claim_id, PayoutItem.instalment)
                .where(PayoutItem.business_day < day, PayoutItem.returned_on.is_not(None)))}
            if not earlier:
                return set()
            return {e2e for e2e, p, c, i in session.execute(
                select(PayoutItem.end_to_end_id, PayoutItem.platform_code, PayoutItem.claim_id, PayoutItem.instalment)
                .where(PayoutItem.business_day == day)) if (p, c, i) in earlier}

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


def _csv_bytes(columns: list[str], rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def batch_key(batch: PayoutBatch, suffix: str) -> str:
    return f"payouts/date={batch.business_day.isoformat()}/province={batch.province_code}/{batch.batch_id}.{suffix}"
