"""A small reference model of CONTRACT.md's money semantics, in plain Python.

It knows nothing of the pipeline's code: it is written from CONTRACT.md, DOMAIN.md
and issue 12 item 1, and it is kept small enough to be read at once. What it
models:

- landing files in partitions, read by the run of day D when they sit in D's
  partition or one of the 6 before and were never read (a file is its bytes: a
  replaced file is read again); rows the contract rejects (a claimant's name with
  a control character, an order id already loaded on another date) are rejected;
- claims and their versions, ordered by partition date, file name (code points),
  line; the current version is the last;
- decisions by the rules, kept to a tiny explicit subset of the rule sets of
  ``claims/reference/data/rule_sets/``: the generated claims are either clearly
  eligible for the fast track (outpatient, no stay, undisputed, the five
  documents, treated in the insuring province, under the 3,000-yuan authority
  limit) or clearly not (disputed, a hospital stay, over the limit, treated
  elsewhere); eligible pays the medical cost, anything else is standard review;
- before a claim has a payout item a changed current version is decided afresh;
  after it, a change of the payee only acts by itself (no decision), any other
  change goes to standard review (no amount);
- determinations apply to a claim whose last decision by the rules is standard
  review: approved pays the approved amount (a second approval raises or cuts
  it), rejected pays nothing;
- payout items and the bank's answers (settled, failed, unknown end-to-end id).

Money rules (CONTRACT.md, issue 12 item 1):
- what a claim is owed follows its CURRENT decision (the last one made): its
  amount minus what its live items (paid, not returned) cover;
- after a failed payment the claim is paid again only while that decision still
  pays, and only to an amended account (the current version's account differs
  from the account that failed);
- paid net of returns never exceeds the approved amount.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

FAST_TRACK = "fast_track"
STANDARD_REVIEW = "standard_review"
REJECTED = "rejected"
RULES = "rules"
DETERMINATION = "determination"

LATE_WINDOW_DAYS = 6
#: The authority limit of automatic payment, exclusive (Hainan's published cap; the
#: national default's 3,000 yuan for Beijing, which published none: issue 12 item 5).
AUTHORITY_LIMIT_FEN = {"110000": 300_000, "460000": 300_000}
FAST_TRACK_TREATMENTS = ("outpatient", "emergency")
#: What ingestion rejects in a name (issue 12 item 7, docs/validation-rules.md): control
#: characters, bidi controls, more than 140 characters, a spreadsheet formula's first character.
BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
FORMULA_FIRST = "=+-@\t\r"


def name_is_acceptable(name: str) -> bool:
    return (0 < len(name.strip()) and len(name) <= 140 and name[0] not in FORMULA_FIRST
            and not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in BIDI_CONTROLS for c in name))


@dataclass(frozen=True)
class Facts:
    """What a claim version says about the injury (the payee aside)."""

    medical_cost_fen: int
    liability_disputed: bool
    treatment: str
    inpatient_days: int
    incident_province_code: str


def fast_track_pays(facts: Facts, insuring_province: str) -> int | None:
    """The amount the fast track pays, or None when the claim goes to standard review.
    Only the conditions the generated claims vary are modelled; the others (the five
    documents, no disability assessment, filing deadline, coverage, the claimant is
    the order's worker) always hold for them."""
    eligible = (facts.treatment in FAST_TRACK_TREATMENTS and facts.inpatient_days == 0
                and not facts.liability_disputed
                and facts.incident_province_code == insuring_province
                and facts.medical_cost_fen < AUTHORITY_LIMIT_FEN[insuring_province])
    return facts.medical_cost_fen if eligible else None


Position = tuple[date, str, int]  # partition date, file name, line


@dataclass(frozen=True)
class Version:
    position: Position
    facts: Facts
    payee_account: str


@dataclass(frozen=True)
class Decision:
    day: date  # the business day of the run that made it
    basis: str  # rules | determination
    outcome: str  # fast_track | standard_review | rejected
    payable_fen: int | None

    @property
    def published_outcome(self) -> str:
        return self.outcome


@dataclass
class Item:
    end_to_end_id: str
    claim_id: str
    amount_fen: int
    payee_account: str
    day: date
    answer: str | None = None  # settled | failed, the first answer that applied

    @property
    def live(self) -> bool:
        return self.answer != "failed"


@dataclass
class Claim:
    claim_id: str
    order_id: str
    insuring_province: str
    versions: list[Version] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    def current(self) -> Version:
        return max(self.versions, key=lambda version: version.position)

    def decision(self) -> Decision | None:
        return self.decisions[-1] if self.decisions else None

    def last_rules_outcome(self) -> str | None:
        return next((d.outcome for d in reversed(self.decisions) if d.basis == RULES), None)

    @property
    def live_fen(self) -> int:
        return sum(item.amount_fen for item in self.items if item.live)

    @property
    def settled_fen(self) -> int:
        return sum(item.amount_fen for item in self.items if item.answer == "settled")

    @property
    def approved_ever_fen(self) -> int:
        return max((d.payable_fen for d in self.decisions if d.payable_fen is not None), default=0)

    def owed(self) -> Owed:
        """What the claim must be paid now, and to which account."""
        decision = self.decision()
        account = self.current().payee_account
        if decision is None or decision.payable_fen is None:
            return Owed(0, account, "current decision pays nothing")
        due = decision.payable_fen - self.live_fen
        if due <= 0:
            return Owed(0, account, "covered by live items")
        failed = [item for item in self.items if item.answer == "failed"]
        if failed and failed[-1].payee_account == account:
            return Owed(0, account, "returned: waits for an amended account")
        return Owed(due, account, "owed")


@dataclass(frozen=True)
class Owed:
    fen: int
    payee_account: str
    why: str


# -------------------------------------------------------------------------- inputs

@dataclass(frozen=True)
class ClaimRow:
    claim_id: str
    order_id: str
    facts: Facts
    payee_account: str
    worker_name: str


@dataclass(frozen=True)
class OrderRow:
    order_id: str
    accepted_on: date
    province_code: str


@dataclass(frozen=True)
class DeterminationRow:
    claim_id: str
    approved: bool
    amount_fen: int | None


@dataclass(frozen=True)
class BankAnswerRow:
    batch_id: str
    end_to_end_id: str
    status: str  # settled | failed


Row = ClaimRow | OrderRow | DeterminationRow | BankAnswerRow


@dataclass
class LandingFile:
    source: str  # orders | claims | determinations | bank_returns
    partition_date: date
    name: str
    rows: list[Row]  # data rows; line = index + 2 (the header is line 1)
    read_by: date | None = None  # the business day of the run that read its current bytes
    generation: int = 0  # bumped when the file is replaced by other bytes
    sha256: str = ""  # of its current bytes (a file is its bytes: the same bytes again load nothing)

    @property
    def key(self) -> str:
        platform = "platform=didi/" if self.source in ("orders", "claims") else ""
        return f"{self.source}/{platform}date={self.partition_date.isoformat()}/{self.name}"


@dataclass
class RowVerdict:
    file: LandingFile
    line: int  # 0: the whole file (bytes already received: DUPLICATE_FILE)
    row: Row | None
    loaded: bool  # else rejected with a code
    unchanged: bool = False  # a claim version identical to the current one: changes nothing


# -------------------------------------------------------------------------- the model

@dataclass
class RunOutcome:
    """What one run of a day should do."""

    day: date
    first: bool
    files: list[LandingFile]
    verdicts: list[RowVerdict]
    #: decisions made by this run, (claim_id, outcome), rules first then determinations
    decided: list[tuple[str, str]]
    #: on a first run: what each claim is owed by the day's payout files
    owed: dict[str, Owed]


class MoneyModel:
    SOURCE_ORDER = ("orders", "claims", "determinations", "bank_returns")

    def __init__(self) -> None:
        self.files: list[LandingFile] = []
        self.claims: dict[str, Claim] = {}
        self.orders: dict[str, OrderRow] = {}
        self.days_run: set[date] = set()
        self.bytes_read: set[str] = set()  # sha256 of every file read
        #: every decision by stamped business day: (claim_id, outcome)
        self.decisions_of_day: dict[date, list[tuple[str, str]]] = {}

    # -- inputs
    def add_file(self, file: LandingFile) -> None:
        self.files.append(file)

    def unread(self, day: date) -> list[LandingFile]:
        """The files the run of ``day`` reads: never read, in its window."""
        window = day - timedelta(days=LATE_WINDOW_DAYS)
        found = [f for f in self.files if f.read_by is None and window <= f.partition_date <= day]
        return sorted(found, key=lambda f: (self.SOURCE_ORDER.index(f.source), f.key))

    def _verdict(self, row: Row, position: Position) -> bool:
        if isinstance(row, ClaimRow):
            known = self.claims.get(row.claim_id)
            if known is not None and any(version.position == position for version in known.versions):
                return False  # a replaced file's line already loaded from other bytes: a second row for a key
            return name_is_acceptable(row.worker_name)
        if isinstance(row, OrderRow):
            known = self.orders.get(row.order_id)
            return known is None or known == row  # a second, different row for a loaded key is rejected
        return True

    # -- a run
    def run(self, day: date, first: bool) -> RunOutcome:
        files = self.unread(day)
        before = {cid: claim.current() for cid, claim in self.claims.items()}
        verdicts: list[RowVerdict] = []
        determinations: list[DeterminationRow] = []
        answers: list[BankAnswerRow] = []
        for file in files:
            file.read_by = day
            if file.sha256 in self.bytes_read:  # the same bytes under another name load nothing
                verdicts.append(RowVerdict(file, 0, None, False))
                continue
            self.bytes_read.add(file.sha256)
            for index, row in enumerate(file.rows):
                loaded = self._verdict(row, (file.partition_date, file.name, index + 2))
                verdict = RowVerdict(file, index + 2, row, loaded)
                verdicts.append(verdict)
                if not loaded:
                    continue
                if isinstance(row, OrderRow):
                    self.orders.setdefault(row.order_id, row)
                elif isinstance(row, ClaimRow):
                    known = self.claims.get(row.claim_id)
                    if known is not None and (known.current().facts, known.current().payee_account) == (
                            row.facts, row.payee_account):
                        verdict.unchanged = True
                        continue
                    order = self.orders[row.order_id]
                    claim = self.claims.setdefault(row.claim_id, Claim(row.claim_id, row.order_id, order.province_code))
                    claim.versions.append(Version((file.partition_date, file.name, index + 2), row.facts,
                                                  row.payee_account))
                elif isinstance(row, DeterminationRow):
                    determinations.append(row)
                else:
                    answers.append(row)
        decided: list[tuple[str, str]] = []
        for claim_id in sorted(self.claims):
            claim = self.claims[claim_id]
            current, previous = claim.current(), before.get(claim_id)
            if current == previous:
                continue
            if not claim.items:  # decided afresh
                amount = fast_track_pays(current.facts, claim.insuring_province)
                decision = Decision(day, RULES, FAST_TRACK if amount is not None else STANDARD_REVIEW, amount)
            elif previous is not None and current.facts == previous.facts:
                continue  # the payee changed only: acts by itself
            else:
                decision = Decision(day, RULES, STANDARD_REVIEW, None)  # amended after payment
            claim.decisions.append(decision)
            decided.append((claim_id, decision.outcome))
        applied: set[str] = set()
        for determination in determinations:
            claim = self.claims.get(determination.claim_id)
            if claim is None or determination.claim_id in applied or claim.last_rules_outcome() != STANDARD_REVIEW:
                continue
            applied.add(determination.claim_id)
            decision = (Decision(day, DETERMINATION, STANDARD_REVIEW, determination.amount_fen) if determination.approved
                        else Decision(day, DETERMINATION, REJECTED, None))
            claim.decisions.append(decision)
            decided.append((determination.claim_id, decision.outcome))
        for answer in answers:
            item = self.item(answer.end_to_end_id)
            if item is not None and item.answer is None:
                item.answer = answer.status
        self.decisions_of_day.setdefault(day, []).extend(decided)
        self.days_run.add(day)
        owed = {claim_id: claim.owed() for claim_id, claim in sorted(self.claims.items())} if first else {}
        return RunOutcome(day, first, files, verdicts, decided, owed)

    # -- what the bank was sent
    def item(self, end_to_end_id: str) -> Item | None:
        return next((item for claim in self.claims.values() for item in claim.items
                     if item.end_to_end_id == end_to_end_id), None)

    def pay(self, item: Item) -> None:
        self.claims[item.claim_id].items.append(item)

    def items(self) -> list[Item]:
        return [item for claim in self.claims.values() for item in claim.items]
