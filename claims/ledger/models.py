"""The ledger's tables. Rows are inserted, never updated in place, except the
status fields of a landing file that a single transaction writes once.

Personal data never appears in plaintext here: workers are keyed pseudonyms
(HMAC), names and bank accounts are ciphertexts; each records its key id.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class LandingFile(Base):
    """A file identified by its bytes (sha256): loaded or rejected once, ever."""


    __tablename__ = "landing_file"
    # The same bytes under a name of another format are a new file only when the
    # earlier one was rejected for its format (a platform fixing a file's name).
    __table_args__ = (UniqueConstraint("sha256", "file_format", name="uq_landing_file_sha_format"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(32))
    platform_code: Mapped[str] = mapped_column(String(32))
    partition_date: Mapped[date] = mapped_column(Date)
    file_key: Mapped[str] = mapped_column(String(1024))
    file_format: Mapped[str] = mapped_column(String(16))
    encoding: Mapped[str | None] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    business_day: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16))  # loaded | rejected
    reject_code: Mapped[str | None] = mapped_column(String(32))
    rows_in: Mapped[int] = mapped_column(BigInteger)
    rows_loaded: Mapped[int] = mapped_column(BigInteger)
    rows_unchanged: Mapped[int] = mapped_column(BigInteger)
    rows_rejected: Mapped[int] = mapped_column(BigInteger)
    premium_mismatches: Mapped[int] = mapped_column(BigInteger, default=0)
    extra_columns: Mapped[str] = mapped_column(Text, default="")
    lake_key: Mapped[str | None] = mapped_column(String(1024))
    validation: Mapped[str | None] = mapped_column(Text)  # Great Expectations summary (JSON, no values)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Orders: the smallest and largest order id of the file (code points), so a
    #: new file is compared only with the loaded files whose range overlaps its own.
    order_id_min: Mapped[str | None] = mapped_column(String(64))
    order_id_max: Mapped[str | None] = mapped_column(String(64))


class LandingDelivery(Base):
    """Every object found in the landing zone, once: the same key and bytes are
    never read twice, and bytes seen before under another key are a re-delivery."""

    __tablename__ = "landing_delivery"
    __table_args__ = (UniqueConstraint("file_key", "sha256", name="uq_landing_delivery_key_sha"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_key: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[int] = mapped_column(ForeignKey("landing_file.id"))
    business_day: Mapped[date] = mapped_column(Date, index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # read | duplicate_file
    #: The store's size and version tag (S3 ETag, local modification time) when the
    #: key was last seen with these bytes: an object listed with the same pair is
    #: not hashed again; any other pair is hashed (same-size replacements included).
    object_version: Mapped[str | None] = mapped_column(String(160))


class LandingSkip(Base):
    """An object of a marked partition that the run of a day did not read, and why
    (a hidden name, a sub-folder): quality/ accounts for every object."""

    __tablename__ = "landing_skip"
    __table_args__ = (UniqueConstraint("business_day", "file_key", name="uq_landing_skip_day_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    business_day: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(32))
    platform_code: Mapped[str] = mapped_column(String(32))
    partition_date: Mapped[date] = mapped_column(Date)
    file_key: Mapped[str] = mapped_column(String(1024))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    reason_code: Mapped[str] = mapped_column(String(32))


class Rejection(Base):
    """One failed check of one row (or of a whole file, line 0)."""

    __tablename__ = "rejection"
    __table_args__ = (Index("ix_rejection_day_feedback", "business_day", "feedback_key"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("landing_delivery.id"), index=True)
    business_day: Mapped[date] = mapped_column(Date)
    feedback_key: Mapped[str] = mapped_column(String(64))  # platform=didi | source=declarations
    seq: Mapped[int] = mapped_column(BigInteger)
    source_file: Mapped[str] = mapped_column(String(1024))
    line: Mapped[int] = mapped_column(BigInteger)
    record_id: Mapped[str] = mapped_column(String(128))
    field: Mapped[str] = mapped_column(String(64))
    reason_code: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)


class OrderStats(Base):
    """Per-file aggregates of the orders kept in the order lake (Parquet)."""

    __tablename__ = "order_stats"
    __table_args__ = (
        UniqueConstraint("file_id", "province_code", "city_code", "industry", name="uq_order_stats_group"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("landing_file.id"))
    platform_code: Mapped[str] = mapped_column(String(32))
    accepted_date: Mapped[date] = mapped_column(Date, index=True)
    business_day: Mapped[date] = mapped_column(Date, index=True)
    province_code: Mapped[str] = mapped_column(String(6))
    city_code: Mapped[str] = mapped_column(String(6))
    industry: Mapped[str] = mapped_column(String(32))
    order_count: Mapped[int] = mapped_column(BigInteger)
    completed_count: Mapped[int] = mapped_column(BigInteger)
    cancelled_count: Mapped[int] = mapped_column(BigInteger)
    premium_fen: Mapped[int] = mapped_column(BigInteger)
    expected_premium_fen: Mapped[int] = mapped_column(BigInteger)
    premium_mismatches: Mapped[int] = mapped_column(BigInteger)


class ClaimVersion(Base):
    """One version of a claim as filed. A later version replaces an earlier one;
    versions are ordered by (partition_date, file_name, line) as CONTRACT.md says."""

    __tablename__ = "claim_version"
    __table_args__ = (
        UniqueConstraint(
            "platform_code", "claim_id", "partition_date", "file_name", "line",
            name="uq_claim_version_position",
        ),
        Index("ix_claim_version_claim", "platform_code", "claim_id"),
        Index("ix_claim_version_order", "platform_code", "order_id", "claim_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_code: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str] = mapped_column(String(64))
    partition_date: Mapped[date] = mapped_column(Date)
    file_name: Mapped[str] = mapped_column(String(512))
    line: Mapped[int] = mapped_column(BigInteger)
    file_id: Mapped[int] = mapped_column(ForeignKey("landing_file.id"))
    business_day: Mapped[date] = mapped_column(Date, index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(64))
    worker_ref: Mapped[str] = mapped_column(String(64), index=True)
    pseudonym_key_id: Mapped[str] = mapped_column(String(32))
    worker_name_enc: Mapped[str] = mapped_column(Text)
    payee_account_enc: Mapped[str] = mapped_column(Text)
    payee_account_masked: Mapped[str] = mapped_column(String(32))
    encryption_key_id: Mapped[str] = mapped_column(String(32))
    payee_bank_code: Mapped[str] = mapped_column(String(12))
    incident_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    incident_province_code: Mapped[str] = mapped_column(String(6))
    incident_city_code: Mapped[str] = mapped_column(String(6))
    injury_type: Mapped[str] = mapped_column(String(32))
    treatment: Mapped[str] = mapped_column(String(16))
    inpatient_days: Mapped[int] = mapped_column(Integer)
    medical_cost_fen: Mapped[int] = mapped_column(BigInteger)
    disability_assessment: Mapped[bool] = mapped_column(Boolean)
    liability_disputed: Mapped[bool] = mapped_column(Boolean)
    documents: Mapped[str] = mapped_column(Text)


class ClaimOrder(Base):
    """The orders that claims refer to, copied from the order lake so that
    adjudication reads them from the database (claims are few, orders many)."""

    __tablename__ = "claim_order"
    __table_args__ = (UniqueConstraint("platform_code", "order_id", name="uq_claim_order_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_code: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str] = mapped_column(String(64))
    worker_ref: Mapped[str] = mapped_column(String(64))
    province_code: Mapped[str] = mapped_column(String(6))
    city_code: Mapped[str] = mapped_column(String(6))
    industry: Mapped[str] = mapped_column(String(32))
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[int] = mapped_column(ForeignKey("landing_file.id"))


#: Outcomes by the rules that await the HRSS office's confirmation.
AWAITING_OUTCOMES = ("standard_review", "pending")
#: Decisions by the rules still waiting for the claim's order.
DECISION_PENDING = "basis = 'rules' AND outcome = 'pending'"


class DecisionNote(Base):
    """What a decision records beyond its columns, as JSON: for a decision by the
    rules, the policy it was made under (coverage grace, pending period), its
    deadlines and the claim it duplicates; for a determination, the determination.
    Kept once per distinct text (``sha256``): a day's 100,000 decisions by the
    rules share a handful of notes, and each used to hold its own copy (16 MB a day,
    a third of what a run wrote)."""

    __tablename__ = "decision_note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # of the body's UTF-8
    body: Mapped[str] = mapped_column(Text)


class Decision(Base):
    """A decision on a claim's version by the run of a business day: by the
    fast-track rules, or the HRSS office's determination after standard review.
    Never updated: a new version, a pending claim's next look or a determination
    adds a new decision."""

    __tablename__ = "decision"
    __table_args__ = (
        # one decision per claim, day, basis and version: a re-run decides nothing twice,
        # and a version that a re-run loads is decided by it
        UniqueConstraint("platform_code", "claim_id", "business_day", "basis", "claim_version_id",
                         name="uq_decision_claim_day_version"),
        # the claims a run looks at again (their order had not arrived)
        Index("ix_decision_pending", "business_day",
              sqlite_where=text(DECISION_PENDING), postgresql_where=text(DECISION_PENDING)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_code: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str] = mapped_column(String(64))
    claim_version_id: Mapped[int] = mapped_column(ForeignKey("claim_version.id"))
    business_day: Mapped[date] = mapped_column(Date, index=True)
    basis: Mapped[str] = mapped_column(String(16))  # rules | determination
    outcome: Mapped[str] = mapped_column(String(16))  # fast_track | standard_review | pending | rejected
    reason_codes: Mapped[str] = mapped_column(Text)  # ';'-joined, in a stable order
    rule_set: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[str] = mapped_column(String(64))
    payable_fen: Mapped[int | None] = mapped_column(BigInteger)  # the approved amount, when payable
    filed_on: Mapped[date] = mapped_column(Date)
    confirm_by: Mapped[date | None] = mapped_column(Date)
    pay_by: Mapped[date | None] = mapped_column(Date)
    calendar_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    note_id: Mapped[int] = mapped_column(ForeignKey("decision_note.id"))  # (no personal data)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[DecisionNote] = relationship(lazy="joined", innerjoin=True)


class Determination(Base):
    """An outcome of standard review by the HRSS office (the determinations feed)."""

    __tablename__ = "determination"
    __table_args__ = (
        UniqueConstraint("platform_code", "claim_id", "decided_at", name="uq_determination_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("landing_file.id"))
    line: Mapped[int] = mapped_column(BigInteger)
    business_day: Mapped[date] = mapped_column(Date, index=True)
    platform_code: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))  # approved | rejected
    approved_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str] = mapped_column(String(128))
    content_hash: Mapped[str] = mapped_column(String(64))


class DeterminationResult(Base):
    """What adjudication made of a determination: applied to a claim under review,
    or not (unknown claim, not under review), with a reason code."""

    __tablename__ = "determination_result"

    determination_id: Mapped[int] = mapped_column(ForeignKey("determination.id"), primary_key=True)
    business_day: Mapped[date] = mapped_column(Date, index=True)
    reason_code: Mapped[str] = mapped_column(String(40))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decision.id"))


class LedgerTransaction(Base):
    """A money movement: its postings sum to zero. Never updated; a correction is
    a reversing transaction."""

    __tablename__ = "ledger_transaction"
    __table_args__ = (
        UniqueConstraint("kind", "reference", name="uq_ledger_transaction_kind_reference"),
        # a day's transactions by platform, read by the reports from the index alone
        Index("ix_ledger_transaction_day_platform", "business_day", "platform_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    business_day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # approve | disburse | settle | return
    reference: Mapped[str] = mapped_column(String(128))  # what makes it unique: decision id, end-to-end id
    platform_code: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LedgerPosting(Base):
    """One side of a transaction, in integer fen: debit positive, credit negative."""

    __tablename__ = "ledger_posting"
    # a transaction's postings with their accounts and amounts, read from the index alone
    __table_args__ = (Index("ix_ledger_posting_transaction_amount", "transaction_id", "account", "amount_fen"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transaction.id"))
    account: Mapped[str] = mapped_column(String(64), index=True)  # e.g. benefits_payable:110000
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class PayoutBatch(Base):
    """One bank batch of a province and day: at most 3,000 items."""

    __tablename__ = "payout_batch"
    __table_args__ = (
        UniqueConstraint("business_day", "province_code", "sequence", name="uq_payout_batch_day_province_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(35), unique=True)
    business_day: Mapped[date] = mapped_column(Date, index=True)
    province_code: Mapped[str] = mapped_column(String(6))
    sequence: Mapped[int] = mapped_column(Integer)
    item_count: Mapped[int] = mapped_column(Integer)
    control_sum_fen: Mapped[int] = mapped_column(BigInteger)
    requested_execution_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    csv_sha256: Mapped[str] = mapped_column(String(64))
    xml_sha256: Mapped[str] = mapped_column(String(64))


class PayoutItem(Base):
    """One payment of a claim's instalment. At most one live item per instalment
    (a partial unique index); a returned item is marked and paid again later."""

    __tablename__ = "payout_item"
    __table_args__ = (
        Index("uq_payout_item_live_instalment", "platform_code", "claim_id", "instalment", unique=True,
              sqlite_where=text("returned_on IS NULL"), postgresql_where=text("returned_on IS NULL")),
        Index("ix_payout_item_returned", "platform_code", "claim_id",
              sqlite_where=text("returned_on IS NOT NULL"), postgresql_where=text("returned_on IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("payout_batch.batch_id"), index=True)
    business_day: Mapped[date] = mapped_column(Date, index=True)
    platform_code: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str] = mapped_column(String(64))
    instalment: Mapped[int] = mapped_column(Integer)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decision.id"))
    claim_version_id: Mapped[int] = mapped_column(ForeignKey("claim_version.id"))
    province_code: Mapped[str] = mapped_column(String(6))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    payee_name_enc: Mapped[str] = mapped_column(Text)
    payee_account_enc: Mapped[str] = mapped_column(Text)
    payee_account_masked: Mapped[str] = mapped_column(String(32))
    payee_bank_code: Mapped[str] = mapped_column(String(12))
    returned_on: Mapped[date | None] = mapped_column(Date)


#: The confirmations still awaited, and those no longer awaited.
CONFIRMATION_OPEN = "closed_on IS NULL"
CONFIRMATION_CLOSED = "closed_on IS NOT NULL"


class AwaitingConfirmation(Base):
    """A decision by the rules that awaits the HRSS office's confirmation by a
    deadline (standard review, pending), from the run that made it (``opened_on``)
    until the run that made the claim's next decision by the rules or applied a
    determination to it (``closed_on``). The deadlines report of day D reads the
    rows open on D: those still open and those closed after D (a re-run of an
    earlier day), each through a partial index, not every decision ever made."""

    __tablename__ = "awaiting_confirmation"
    __table_args__ = (
        Index("ix_awaiting_confirmation_open", "confirm_by",
              sqlite_where=text(CONFIRMATION_OPEN), postgresql_where=text(CONFIRMATION_OPEN)),
        Index("ix_awaiting_confirmation_closed", "closed_on",
              sqlite_where=text(CONFIRMATION_CLOSED), postgresql_where=text(CONFIRMATION_CLOSED)),
        Index("ix_awaiting_confirmation_claim", "platform_code", "claim_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_code: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # standard_review | pending
    filed_on: Mapped[date] = mapped_column(Date)
    confirm_by: Mapped[date] = mapped_column(Date)
    calendar_estimated: Mapped[bool] = mapped_column(Boolean)
    opened_on: Mapped[date] = mapped_column(Date)  # the business day of the decision
    closed_on: Mapped[date | None] = mapped_column(Date)


class PayoutWork(Base):
    """The payout run's work list: a claim that may be owed money or have an
    approval to post. A row is added when a payable decision is recorded or a
    payment fails, and removed by the payout run that leaves the claim settled;
    the run reads this list, not the whole history of decisions and items."""

    __tablename__ = "payout_work"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_code: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str] = mapped_column(String(64))
    business_day: Mapped[date] = mapped_column(Date)  # the run that added it
    reason: Mapped[str] = mapped_column(String(16))  # payable | withdrawn | returned | migrated


class PayoutException(Base):
    """An owed amount the payout run of a day held out of its files, with a reason
    code (PAYOUT_*): the rest of the day is paid; the claim stays on the work list
    and is looked at again by the next day's run."""

    __tablename__ = "payout_exception"
    __table_args__ = (
        UniqueConstraint("business_day", "platform_code", "claim_id", name="uq_payout_exception_day_claim"),
        Index("ix_payout_exception_claim", "platform_code", "claim_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    business_day: Mapped[date] = mapped_column(Date, index=True)
    platform_code: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str] = mapped_column(String(64))
    decision_id: Mapped[int] = mapped_column(ForeignKey("decision.id"))
    province_code: Mapped[str | None] = mapped_column(String(6))  # the paying province, when known
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason_code: Mapped[str] = mapped_column(String(40))


class PayoutRelease(Base):
    """A day's payout files released to the bank: the manifest is written at release."""

    __tablename__ = "payout_release"

    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    released_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[str] = mapped_column(String(128))
    prepared_by: Mapped[str] = mapped_column(String(128))
    automatic: Mapped[bool] = mapped_column(Boolean)
    manifest_sha256: Mapped[str] = mapped_column(String(64))


class BankReturn(Base):
    """The bank's answer for a payout item (the bank_returns feed)."""

    __tablename__ = "bank_return"
    __table_args__ = (UniqueConstraint("end_to_end_id", "status", name="uq_bank_return_item_status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("landing_file.id"))
    line: Mapped[int] = mapped_column(BigInteger)
    business_day: Mapped[date] = mapped_column(Date, index=True)
    batch_id: Mapped[str] = mapped_column(String(64))
    end_to_end_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # settled | failed
    failure_code: Mapped[str] = mapped_column(String(64))
    failure_reason: Mapped[str] = mapped_column(Text)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    content_hash: Mapped[str] = mapped_column(String(64))


class BankReturnResult(Base):
    """What the payouts run made of a bank return (applied, or why not)."""

    __tablename__ = "bank_return_result"

    bank_return_id: Mapped[int] = mapped_column(ForeignKey("bank_return.id"), primary_key=True)
    business_day: Mapped[date] = mapped_column(Date, index=True)
    result_code: Mapped[str] = mapped_column(String(40))


class Declaration(Base):
    """A version of a platform's monthly premium filing for one (province,
    industry), checked against the per-order records in reconciliation. An
    amendment is a new version (the history is kept); the current one is the last
    loaded (business day, then id); a row identical to the current one loads nothing."""

    __tablename__ = "declaration"
    __table_args__ = (
        Index("ix_declaration_key", "platform_code", "province_code", "industry", "month"),
        UniqueConstraint("file_id", "line", name="uq_declaration_file_line"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("landing_file.id"))
    line: Mapped[int] = mapped_column(BigInteger)
    business_day: Mapped[date] = mapped_column(Date, index=True)
    platform_code: Mapped[str] = mapped_column(String(32))
    province_code: Mapped[str] = mapped_column(String(6))
    industry: Mapped[str] = mapped_column(String(32))
    month: Mapped[str] = mapped_column(String(7))
    order_count: Mapped[int] = mapped_column(BigInteger)
    premium_fen: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(64))


class ReportDayClose(Base):
    """A business day's payout figures closed into the running totals below by the
    reports stage, with what it counted of the day's detail (decisions, payout
    items, bank results, ledger transactions and postings, the release): a later
    report compares those counts for the recent days and closes a day again when
    they changed (a re-run of that day)."""

    __tablename__ = "report_day_close"

    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(200))


class ReportPayoutDay(Base):
    """Running totals: one business day's payout figures per paying province and
    platform, the records' side (approvals, items, the bank's answers) and the
    ledger's (postings of the day's transactions, by account). Cumulative figures
    as of D are the sums up to D; ``finance_summary.csv`` of D is D's rows."""

    __tablename__ = "report_payout_day"

    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    province_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    platform_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    approved_fen: Mapped[int] = mapped_column(BigInteger)
    items: Mapped[int] = mapped_column(BigInteger)
    items_fen: Mapped[int] = mapped_column(BigInteger)
    repaid_items: Mapped[int] = mapped_column(BigInteger)
    settled_items: Mapped[int] = mapped_column(BigInteger)
    settled_fen: Mapped[int] = mapped_column(BigInteger)
    returned_items: Mapped[int] = mapped_column(BigInteger)
    returned_fen: Mapped[int] = mapped_column(BigInteger)
    ledger_payable_fen: Mapped[int] = mapped_column(BigInteger)  # debits positive, as posted
    ledger_in_transit_fen: Mapped[int] = mapped_column(BigInteger)
    ledger_bank_fen: Mapped[int] = mapped_column(BigInteger)


class ReportAnsweredDay(Base):
    """The bank's answers applied on a business day, by the day of the items they
    answer: what is still in transit from an item day is its released items less
    these, so the report reads only item days with money still in transit."""

    __tablename__ = "report_answered_day"

    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    item_day: Mapped[date] = mapped_column(Date, primary_key=True)
    province_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    answered_fen: Mapped[int] = mapped_column(BigInteger)


class ReportTrendMonth(Base):
    """A past month's row of the monthly trends, per province, as the month stood at
    its end (the claims filed in it, as of its last day): a deterministic function of
    the ledger, kept once so that a day's report reads one row, not a month of claims."""

    __tablename__ = "report_trend_month"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    body: Mapped[str] = mapped_column(Text)  # JSON: province ('*' the country) -> the trend row


FIRST_PAID = "first_paid_on IS NOT NULL"


class ReportClaimState(Base):
    """What the province report needs of a claim, as of each business day: a claim's
    states over time (``valid_from`` up to, not including, ``valid_to``; open-ended
    while current), derived from its versions, decisions, payout items, returns,
    order and confirmation deadlines by claims.reports.claim_state. A day's report
    aggregates the states valid on D of the claims filed in its periods in SQL,
    instead of reading 30 days of claims into Python. A cache of the detail: a
    claim's rows are derived again whenever any of its detail changes."""

    __tablename__ = "report_claim_state"
    __table_args__ = (
        Index("ix_report_claim_state_claim", "platform_code", "claim_id"),
        Index("ix_report_claim_state_filed", "filed_on", "province_code", "platform_code", "outcome", "late_after",
              "valid_from", "valid_to", "worker_ref"),
        Index("ix_report_claim_state_paid", "first_paid_on", "province_code", "platform_code", "filed_on",
              "valid_from", "valid_to", "worker_ref",
              sqlite_where=text(FIRST_PAID), postgresql_where=text(FIRST_PAID)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_code: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    filed_on: Mapped[date] = mapped_column(Date)  # partition date of the first version
    province_code: Mapped[str] = mapped_column(String(6))  # the insuring province
    worker_ref: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(16))  # the last decision made, none yet
    first_paid_on: Mapped[date | None] = mapped_column(Date)  # the day of the first released item
    #: past a payment or confirmation deadline on any day after this one (none: no deadline runs)
    late_after: Mapped[date | None] = mapped_column(Date)


class ReportClaimMoney(Base):
    """Benefits paid by day: a released payout item on its day, a return (negative)
    on the day it was applied, with the claimant (the claim's worker on that day);
    derived with the claim's states."""

    __tablename__ = "report_claim_money"
    __table_args__ = (
        Index("ix_report_claim_money_claim", "platform_code", "claim_id"),
        Index("ix_report_claim_money_day", "day", "province_code", "platform_code", "worker_ref", "fen"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_code: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    province_code: Mapped[str] = mapped_column(String(6))  # the paying province of the item
    fen: Mapped[int] = mapped_column(BigInteger)
    worker_ref: Mapped[str] = mapped_column(String(64))


class ReportStateMark(Base):
    """How far claims.reports.claim_state has read each detail table (its highest
    id), and the release days it has seen (source ``release:YYYY-MM-DD``)."""

    __tablename__ = "report_state_mark"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)


class ReportCellCache(Base):
    """The province report's cells of one key day (``kind``: ``filed``, ``paid`` or
    ``money``, by filing, first-payment or money day), as they stand for any day
    from ``valid_from`` up to, not including, ``valid_to`` (the claims' states of
    that key day change at neither): a later report reuses them instead of
    aggregating the day's claims again. Deleted whenever a claim with rows of that
    key day is derived again (claims.reports.claim_state)."""

    __tablename__ = "report_cell_cache"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    key_day: Mapped[date] = mapped_column(Date, primary_key=True)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    body: Mapped[str] = mapped_column(Text)  # JSON: the cells
