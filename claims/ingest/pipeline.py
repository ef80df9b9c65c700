"""Ingest one source (orders or claims) for a business day: discover, read,
check, pseudonymise, load idempotently, and record every rejection.

Accounting: for every file, rows in = rows loaded + rows unchanged + rows
rejected, where a row is "unchanged" when an identical record was loaded before
(it is in the ledger already). Every rejected row has at least one line in the
rejections table; a whole-file rejection has one line per reason at line 0.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from claims import reasons
from claims.ingest import checks, messages
from claims.ingest.discovery import Discovery, LandingObject, discover
from claims.ingest.orders import (
    COMPARED,
    OrderStaging,
    lake_key,
    loaded_ids,
    order_stats,
    overlapping_ids,
    to_lake_rows,
)
from claims.ledger.bulk import insert_dicts
from claims.ledger.models import (
    BankReturn,
    ClaimVersion,
    Declaration,
    Determination,
    LandingDelivery,
    LandingFile,
    LandingSkip,
    OrderStats,
    Rejection,
)
from claims.privacy import Cipher, Pseudonymiser, mask_account
from claims.readers import (
    FileReader,
    FileRejected,
    FileScan,
    NeedExactLines,
    NotUtf8,
    count_records,
    detect_encoding,
    file_format,
    scan_file,
)
from claims.reference import Reference
from claims.settings import Settings
from claims.store import Store

log = logging.getLogger(__name__)
RECORD_ID_MAX = 128
FORMAT_REJECTIONS = ("UNSUPPORTED_FORMAT", "UNREADABLE")


@dataclass
class RejectionLine:
    line: int
    record_id: str
    field: str
    reason_code: str
    message: str


@dataclass
class FileOutcome:
    key: str
    source: str
    platform_code: str
    partition_date: date
    sha256: str = ""
    file_format: str = ""
    encoding: str | None = None
    size: int = 0
    status: str = "loaded"  # loaded | rejected | duplicate_file
    reject_code: str | None = None
    rows_in: int = 0
    rows_loaded: int = 0
    rows_unchanged: int = 0
    rows_rejected: int = 0
    premium_mismatches: int = 0
    extra_columns: list[str] = field(default_factory=list)
    rejections: list[RejectionLine] = field(default_factory=list)
    validation: dict | None = None
    object_version: str | None = None

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.rows_loaded + self.rows_unchanged + self.rows_rejected

    def reject_file(self, code: str, message: str, field_name: str = "") -> None:
        self.status = "rejected"
        self.reject_code = code
        self.rows_loaded = self.rows_unchanged = 0
        self.rows_rejected = self.rows_in
        self.rejections = [RejectionLine(0, "", field_name, code, message)]


@dataclass
class SourceRun:
    source: str
    day: date
    discovery: Discovery
    files: list[FileOutcome] = field(default_factory=list)


# -- messages ------------------------------------------------------------------------
def _message(code: str, field_name: str, value: str | None) -> str:
    """The reason's message, and the value only when it matches its field's own short
    code alphabet (claims/ingest/messages.py); otherwise the value is described."""
    note = messages.value_note(field_name, value)
    return f"{reasons.message(code)}: {note}" if note else reasons.message(code)


def _row_rejections(table: pa.Table, lines: np.ndarray, verdicts: checks.Verdicts, key: str) -> list[RejectionLine]:
    found: list[tuple[int, int, RejectionLine]] = []
    order = {name: position for position, name in enumerate(table.column_names)}
    for failure in verdicts.failures:
        values = pc.take(table[failure.field], pa.array(failure.rows)).to_pylist()
        record_ids = pc.take(table[key], pa.array(failure.rows)).to_pylist() if key in order else [""] * len(values)
        for row, value, record_id in zip(failure.rows.tolist(), values, record_ids, strict=True):
            found.append((
                int(lines[row]), order.get(failure.field, 0),
                RejectionLine(int(lines[row]), (record_id or "")[:RECORD_ID_MAX], failure.field, failure.code,
                              _message(failure.code, failure.field, value)),
            ))
    found.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in found]


# -- the run ----------------------------------------------------------------------------
class Ingestor:
    def __init__(self, settings: Settings, reference: Reference, landing: Store, lake: Store, engine: Engine) -> None:
        self.settings = settings
        self.reference = reference
        self.landing = landing
        self.lake = lake
        self.engine = engine
        self.pseudonymiser = Pseudonymiser.from_ring(settings.pseudonym_keys)
        self.cipher = Cipher.from_ring(settings.encryption_keys)

    def run(self, source: str, day: date, extra_dates: tuple[date, ...] = ()) -> SourceRun:
        found = discover(
            self.landing, source, day, sorted(self.reference.platforms),
            self.settings.late_window_days, extra_dates,
        )
        run = SourceRun(source, day, found)
        self._record_skipped(source, day, found)
        for landing_object in found.files:
            if self._already_read(landing_object):
                continue
            outcome = self.ingest_file(source, landing_object, day)
            run.files.append(outcome)
            log.info(
                "%s: %s in=%d loaded=%d unchanged=%d rejected=%d",
                landing_object.key, outcome.status, outcome.rows_in, outcome.rows_loaded,
                outcome.rows_unchanged, outcome.rows_rejected,
            )
        return run

    def _record_skipped(self, source: str, day: date, found: Discovery) -> None:
        """The objects of complete partitions that are not read (hidden, in sub-folders),
        once per business day: quality/ lists them with the reason."""
        if not found.skipped:
            return
        with Session(self.engine) as session, session.begin():
            known = set(session.scalars(select(LandingSkip.file_key).where(
                LandingSkip.business_day == day, LandingSkip.source == source)))
            session.add_all(
                LandingSkip(business_day=day, source=source, platform_code=item.platform_code,
                            partition_date=item.partition_date, file_key=item.key, size_bytes=item.size,
                            reason_code=item.reason_code)
                for item in found.skipped if item.key not in known
            )

    def _already_read(self, obj: LandingObject) -> bool:
        """A file is its bytes. A key listed with the size and version tag (ETag,
        modification time) it had when it was read is not read again; any other
        size or tag (a replacement, even of the same size) has its bytes hashed, and
        only bytes this key already delivered are skipped (their new tag is kept, so
        the next run need not hash them again)."""
        with Session(self.engine) as session:
            deliveries = session.execute(
                select(LandingDelivery.id, LandingDelivery.sha256, LandingDelivery.object_version)
                .where(LandingDelivery.file_key == obj.key)
            ).all()
        if not deliveries:
            return False
        version = object_version(obj)
        if obj.version and any(item.object_version == version for item in deliveries):
            return True
        with self.landing.local_copy(obj.key) as path:
            sha = scan_file(path, ".parquet").sha256  # hash only
        same = [item.id for item in deliveries if item.sha256 == sha]
        if not same:
            return False
        with Session(self.engine) as session, session.begin():
            delivery = session.get(LandingDelivery, same[0])
            if delivery is not None:
                delivery.object_version = version
        return True

    def ingest_file(self, source: str, obj: LandingObject, day: date) -> FileOutcome:
        outcome = FileOutcome(obj.key, source, obj.platform_code, obj.partition_date, size=obj.size,
                              object_version=object_version(obj))
        with self.landing.local_copy(obj.key) as path:
            self._read_and_load(source, obj, day, path, outcome)
        return outcome

    def _read_and_load(self, source: str, obj: LandingObject, day: date, path: Path, outcome: FileOutcome) -> None:
        fmt = file_format(obj.name)
        scan: FileScan | None = None
        try:
            if fmt is None:
                digest = scan_file(path, ".parquet")  # hash only
                outcome.sha256, outcome.size = digest.sha256, digest.size
                outcome.reject_file("UNSUPPORTED_FORMAT", reasons.message("UNSUPPORTED_FORMAT"))
                self._commit(outcome, day, None)
                return
            outcome.file_format = fmt
            scan = scan_file(path, fmt)
        except FileRejected as rejected:
            digest = scan_file(path, ".parquet")
            outcome.sha256, outcome.size = digest.sha256, digest.size
            outcome.rows_in = 0
            outcome.reject_file(rejected.code, rejected.message, rejected.field)
            self._commit(outcome, day, None)
            return
        outcome.sha256, outcome.size, outcome.encoding = scan.sha256, scan.size, scan.encoding

        duplicate_of = self._file_with_sha(outcome.sha256, fmt)
        if duplicate_of is not None:
            outcome.status = "duplicate_file"
            outcome.reject_code = "DUPLICATE_FILE"
            outcome.rows_in = outcome.rows_rejected = duplicate_of.rows_in
            outcome.rejections = [RejectionLine(
                0, "", "", "DUPLICATE_FILE",
                f"{reasons.message('DUPLICATE_FILE')} (first received as {duplicate_of.file_key})",
            )]
            self._commit(outcome, day, duplicate_of.id)
            return

        exact_lines = False
        for _attempt in range(3):
            try:
                self._read_rows(source, obj, day, path, fmt, scan, outcome, exact_lines)
                return
            except NotUtf8:
                scan.encoding = detect_encoding(path, fmt)
                outcome.encoding = scan.encoding
            except NeedExactLines:
                exact_lines = True
        raise RuntimeError(f"{obj.key}: could not settle how to read the file")

    def _read_rows(self, source: str, obj: LandingObject, day: date, path: Path, fmt: str, scan: FileScan,
                   outcome: FileOutcome, exact_lines: bool) -> None:
        """Read, check and load the rows; raises NotUtf8 or NeedExactLines (before
        anything is committed) when the file has to be read another way."""
        columns, check, key = checks.CHECKS[source]
        reader = FileReader(path, fmt, scan, columns, exact_lines=exact_lines,
                            max_line_bytes=self.settings.max_line_bytes)
        try:
            reader.open()
        except FileRejected as rejected:
            outcome.rows_in = count_records(scan, fmt, has_header=not fmt.startswith(".jsonl"))
            outcome.reject_file(rejected.code, rejected.message, rejected.field)
            self._commit(outcome, day, None)
            return
        if fmt.startswith(".jsonl"):
            self._load_rows(source, obj, day, reader, outcome, check, key, columns)
            return
        outcome.rows_in = reader.row_estimate()
        missing = [name for name in columns if name not in reader.header]
        if missing:
            if scan.encoding == "utf-8" and detect_encoding(path, fmt) is None:
                raise NotUtf8("undecodable body behind a readable header")  # UNDECODABLE comes first
            self._reject_missing(outcome, missing, day)
            return
        outcome.extra_columns = [name for name in reader.header if name not in columns]
        self._load_rows(source, obj, day, reader, outcome, check, key, columns)

    def _reject_missing(self, outcome: FileOutcome, missing: list[str], day: date) -> None:
        outcome.reject_file("MISSING_COLUMN", "", missing[0])
        outcome.rejections = [
            RejectionLine(0, "", name, "MISSING_COLUMN", f"{reasons.message('MISSING_COLUMN')}: {name}")
            for name in missing
        ]
        self._commit(outcome, day, None)

    def _file_with_sha(self, sha: str, fmt: str) -> LandingFile | None:
        """The earlier file with these bytes, unless it was rejected for its format
        alone (then the same bytes under a corrected name are read)."""
        with Session(self.engine) as session:
            return session.execute(
                select(LandingFile)
                .where(
                    LandingFile.sha256 == sha,
                    (LandingFile.file_format == fmt) | LandingFile.reject_code.is_(None)
                    | LandingFile.reject_code.not_in(FORMAT_REJECTIONS),
                )
                .order_by(LandingFile.id)
                .limit(1)
            ).scalar_one_or_none()

    # -- rows ----------------------------------------------------------------------------
    def _load_rows(self, source, obj, day, reader, outcome, check, key, columns) -> None:  # type: ignore[no-untyped-def]
        partition = checks.Partition(source, obj.platform_code, obj.partition_date)
        staging = OrderStaging() if source == "orders" else None
        claim_parts: list[pa.Table] = []
        rejections: list[RejectionLine] = []
        rejected_rows = 0
        raw_rows = 0
        ge_frames: list[pa.Table] = []
        try:
            for batch in reader.batches(self.settings.chunk_rows):
                table = checks.normalise(batch.table)
                raw_rows += table.num_rows
                if table.num_rows == 0:
                    continue
                verdicts = check(table, partition, self.reference)
                rejected = verdicts.rejected()
                rejected_rows += int(rejected.sum())
                rejections.extend(_row_rejections(table, batch.lines, verdicts, key))
                room = self.settings.ge_max_rows - sum(frame.num_rows for frame in ge_frames)
                if room > 0:
                    ge_frames.append(table.slice(0, room))
                keep = ~rejected
                if not keep.any():
                    continue
                typed = self._typed(table, batch.lines, verdicts, keep)
                if staging is not None:
                    staging.add(to_lake_rows(typed, obj.partition_date, self.reference, self.pseudonymiser))
                else:
                    claim_parts.append(typed)
            outcome.rows_in = raw_rows + len(reader.malformed)
            if reader.fmt.startswith(".jsonl"):
                # JSONL has no header: its columns are the keys its records use.
                missing = [name for name in columns if name not in reader.header]
                if missing and raw_rows:
                    self._reject_missing(outcome, missing, day)
                    return
                outcome.extra_columns = [name for name in reader.header if name not in columns]
            for malformed in reader.malformed:
                rejections.append(RejectionLine(malformed.line, "", malformed.field, malformed.code,
                                                f"{reasons.message(malformed.code)}: {malformed.detail}"))
            rejected_rows += len(reader.malformed)
            starts = None
            if reader.needs_line_remap(raw_rows):
                starts = reader.line_map()
                for item in rejections:
                    if 0 < item.line < len(starts):
                        item.line = int(starts[item.line])
                claim_parts = [_remap_lines(part, starts) for part in claim_parts]
            if ge_frames and source in ("orders", "claims"):  # the feeds have no GE suite yet
                outcome.validation = self._great_expectations(source, partition, ge_frames)
            outcome.rejections = rejections
            outcome.rows_rejected = rejected_rows
            if staging is not None:
                self._load_orders(obj, day, outcome, staging, starts)
            elif source == "claims":
                self._load_claims(obj, day, outcome, claim_parts, key)
            else:
                self._load_feed(day, outcome, claim_parts, key, FEED_RECORDS[source])
        except FileRejected as rejected:  # met while reading: the whole file, nothing loaded
            outcome.rows_in = reader.row_estimate()
            outcome.reject_file(rejected.code, rejected.message, rejected.field)
            self._commit(outcome, day, None)
        finally:
            if staging is not None:
                staging.discard()

    def _typed(self, table: pa.Table, lines: np.ndarray, verdicts: checks.Verdicts, keep: np.ndarray) -> pa.Table:
        mask = pa.array(keep)
        rows = table.filter(mask)
        data: dict[str, pa.Array] = {}
        for name in rows.column_names:
            if name in verdicts.timestamps:
                values = verdicts.timestamps[name][keep]
                present = ~checks.is_empty(rows[name])
                data[name] = pa.array(values, pa.int64(), mask=~present).cast(pa.timestamp("us", "UTC"))
            elif name in verdicts.integers:
                data[name] = pa.array(verdicts.integers[name][keep], pa.int64())
            elif name in ("disability_assessment", "liability_disputed"):
                data[name] = pc.equal(rows[name], "true")
            else:
                data[name] = rows[name].combine_chunks()
        data["line"] = pa.array(lines[keep], pa.int64())
        return pa.table(data)

    def _great_expectations(self, source: str, partition: checks.Partition, frames: list[pa.Table]) -> dict | None:
        try:
            from claims.ingest.quality import validate_with_great_expectations
        except ImportError:  # pragma: no cover - validations package absent
            return None
        return validate_with_great_expectations(source, partition, pa.concat_tables(frames), self.reference)

    # -- orders ----------------------------------------------------------------------------
    def _load_orders(self, obj: LandingObject, day: date, outcome: FileOutcome, staging: OrderStaging,
                     line_starts: np.ndarray | None) -> None:
        stats: list[dict] = []
        key = None
        if staging.rows:
            staging.close()
            lines = staging.all_lines() if line_starts is None else line_starts[staging.all_lines()]
            ids = staging.all_ids()
            repeat = staging.repeats()
            drop = repeat.copy()
            found = [
                RejectionLine(int(line), order_id[:RECORD_ID_MAX], "order_id", "DUPLICATE_IN_FILE",
                              _message("DUPLICATE_IN_FILE", "order_id", None))
                for line, order_id in zip(lines[repeat].tolist(), pc.filter(ids, pa.array(repeat)).to_pylist(), strict=True)
            ]
            unchanged, clashes, seen = self._against_loaded_orders(obj, staging, ids, ~repeat, lines)
            drop |= seen
            found.extend(clashes)
            id_range = staging.id_range()
            reused = self._reused_on_other_dates(obj, ids, ~drop, id_range)
            drop |= reused
            found.extend(
                RejectionLine(int(line), order_id[:RECORD_ID_MAX], "order_id", "ORDER_ID_REUSED",
                              _message("ORDER_ID_REUSED", "order_id", None))
                for line, order_id in zip(lines[reused].tolist(), pc.filter(ids, pa.array(reused)).to_pylist(),
                                          strict=True)
            )
            outcome.rows_unchanged = unchanged
            outcome.rows_rejected += len(found)
            outcome.rejections = sorted(outcome.rejections + found, key=lambda item: item.line)
            outcome.rows_loaded = int((~drop).sum())
            if outcome.rows_loaded:
                key = lake_key(obj.platform_code, obj.partition_date, outcome.sha256)
                summary = staging.publish(self.lake, key, ~drop, line_starts)
                outcome.premium_mismatches = int(pc.sum(summary["premium_mismatch"]).as_py() or 0)
                stats = [dict(row, platform_code=obj.platform_code, accepted_date=obj.partition_date, business_day=day)
                         for row in order_stats(summary)]
        else:
            outcome.rejections = sorted(outcome.rejections, key=lambda item: item.line)
            id_range = None
        self._commit(outcome, day, None, lake_key=key, order_stats=stats,
                     order_id_range=id_range if key is not None else None)

    def _reused_on_other_dates(self, obj: LandingObject, ids: pa.ChunkedArray, candidates: np.ndarray,
                               id_range: tuple[str, str]) -> np.ndarray:
        """ORDER_ID_REUSED: rows whose order id the platform already used for an order
        of another accepted date. Only the loaded files whose id range overlaps this
        file's are read (the ledger keeps each file's range), and of those only the
        row groups whose id range (Parquet statistics) overlaps it: with ids that grow
        with time, as platforms' are, a new day overlaps no earlier day and reads
        nothing (docs/architecture.md)."""
        reused = np.zeros(len(ids), dtype=bool)
        if not candidates.any():
            return reused
        low, high = id_range
        with Session(self.engine) as session:
            files = session.execute(
                select(LandingFile.lake_key, LandingFile.order_id_min, LandingFile.order_id_max).where(
                    LandingFile.source == "orders",
                    LandingFile.platform_code == obj.platform_code,
                    LandingFile.partition_date != obj.partition_date,
                    LandingFile.lake_key.is_not(None),
                ).order_by(LandingFile.id)
            ).all()
        # Compared here, not in SQL: code-point order whatever the database's collation.
        overlapping = [key for key, first, last in files
                       if key is not None and (first is None or last is None or (first <= high and last >= low))]
        for key in overlapping:
            earlier = overlapping_ids(self.lake, key, low, high)
            if len(earlier):
                reused |= _np_mask(pc.is_in(ids, value_set=earlier)) & candidates
        return reused

    def _loaded_lake_keys(self, platform_code: str, partition_date: date) -> list[str]:
        with Session(self.engine) as session:
            return [
                key for (key,) in session.execute(
                    select(LandingFile.lake_key).where(
                        LandingFile.source == "orders",
                        LandingFile.platform_code == platform_code,
                        LandingFile.partition_date == partition_date,
                        LandingFile.lake_key.is_not(None),
                    ).order_by(LandingFile.id)
                )
                if key is not None
            ]

    def _against_loaded_orders(self, obj: LandingObject, staging: OrderStaging, ids: pa.ChunkedArray,
                               candidates: np.ndarray, lines: np.ndarray) -> tuple[int, list[RejectionLine], np.ndarray]:
        """Orders of this partition loaded before from other files: an identical row
        is already in the ledger (unchanged); a different one is DUPLICATE_KEY.
        Returns (unchanged count, clashes, rows already loaded)."""
        keys = self._loaded_lake_keys(obj.platform_code, obj.partition_date)
        seen = np.zeros(len(ids), dtype=bool)
        if not keys:
            return 0, [], seen
        loaded = loaded_ids(self.lake, keys)
        seen = _np_mask(pc.is_in(ids, value_set=loaded["order_id"])) & candidates
        if not seen.any():
            return 0, [], seen
        rows = staging.rows_where(seen, COMPARED)
        previous = {
            row["order_id"]: row
            for row in loaded.filter(pc.is_in(loaded["order_id"], value_set=rows["order_id"])).to_pylist()
        }
        clashes = []
        for line, row in zip(lines[seen].tolist(), rows.to_pylist(), strict=True):
            before = previous[row["order_id"]]
            if any(_plain(before[name]) != _plain(row[name]) for name in COMPARED):
                clashes.append(RejectionLine(int(line), row["order_id"][:RECORD_ID_MAX], "order_id", "DUPLICATE_KEY",
                                             _message("DUPLICATE_KEY", "order_id", None)))
        return int(seen.sum()) - len(clashes), clashes, seen

    def _drop_repeats(self, valid: pa.Table, key: str,
                      identity_columns: tuple[str, ...] | None = None) -> tuple[pa.Table, list[RejectionLine]]:
        """DUPLICATE_IN_FILE: the second and later rows of a key (``identity_columns``,
        by default the platform and ``key``); the first stands."""
        columns = identity_columns or (("platform_code", key) if "platform_code" in valid.column_names else (key,))
        identity = valid[columns[0]] if len(columns) == 1 else pc.binary_join_element_wise(
            *[valid[name].cast(pa.string()) for name in columns], "\x1f")
        encoded = pc.dictionary_encode(identity).combine_chunks()
        if len(encoded.dictionary) == len(encoded):
            return valid, []  # every key once: the common case needs no sort
        indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False))
        _, first = np.unique(indices, return_index=True)
        repeat = np.ones(indices.size, dtype=bool)
        repeat[first] = False
        lines = valid["line"].to_numpy()[repeat]
        ids = pc.filter(valid[key], pa.array(repeat)).to_pylist()
        found = [
            RejectionLine(int(line), record_id[:RECORD_ID_MAX], key, "DUPLICATE_IN_FILE",
                          _message("DUPLICATE_IN_FILE", key, None))
            for line, record_id in zip(lines.tolist(), ids, strict=True)
        ]
        return valid.filter(pa.array(~repeat)), found

    # -- claims ----------------------------------------------------------------------------
    def _load_claims(self, obj: LandingObject, day: date, outcome: FileOutcome, parts: list[pa.Table], key: str) -> None:
        versions: list[dict] = []
        unchanged = 0
        valid = pa.concat_tables(parts) if parts else None
        if valid is not None and valid.num_rows:
            valid, repeats = self._drop_repeats(valid, key)
            outcome.rejections = sorted(outcome.rejections + repeats, key=lambda item: item.line)
            outcome.rows_rejected += len(repeats)
            rows = valid.to_pylist()
            earlier = self._versions_of(obj.platform_code, sorted({row["claim_id"] for row in rows}))
            clashes: list[RejectionLine] = []
            for row in rows:
                content = self._claim_content_hash(row)
                position = (obj.partition_date, obj.name, row["line"])
                stored = earlier.get(row["claim_id"], [])
                here = [v[1] for v in stored if v[0] == position]
                if here:
                    # A file replaced under the same name: this position already holds a version.
                    if here[0] == content:
                        unchanged += 1
                    else:
                        clashes.append(RejectionLine(
                            row["line"], row["claim_id"][:RECORD_ID_MAX], "claim_id", "DUPLICATE_KEY",
                            f"{reasons.message('DUPLICATE_KEY')}: this line of this file name was loaded from other "
                            "bytes; send a correction as a new file"))
                    continue
                before = [v for v in stored if v[0] < position]
                if before and max(before)[1] == content:
                    unchanged += 1  # identical to the version it follows: changes nothing
                    continue
                versions.append(self._claim_version(row, obj, day, content))
            outcome.rejections = sorted(outcome.rejections + clashes, key=lambda item: item.line)
            outcome.rows_rejected += len(clashes)
        outcome.rows_unchanged = unchanged
        outcome.rows_loaded = len(versions)
        self._commit(outcome, day, None, claim_versions=versions)

    def _versions_of(self, platform_code: str, claim_ids: list[str]) -> dict[str, list[tuple[tuple, str]]]:
        """The stored versions of these claims: claim id -> [(position, content hash)]."""
        found: dict[str, list[tuple[tuple, str]]] = {}
        with Session(self.engine) as session:
            for start in range(0, len(claim_ids), 5000):
                for claim_id, partition_date, file_name, line, content in session.execute(
                    select(ClaimVersion.claim_id, ClaimVersion.partition_date, ClaimVersion.file_name,
                           ClaimVersion.line, ClaimVersion.content_hash)
                    .where(ClaimVersion.platform_code == platform_code,
                           ClaimVersion.claim_id.in_(claim_ids[start: start + 5000]))
                ):
                    found.setdefault(claim_id, []).append(((partition_date, file_name, line), content))
        return found

    def _claim_content_hash(self, row: dict) -> str:
        return self._content_hash(row, checks.CLAIM_COLUMNS)

    def _content_hash(self, row: dict, columns: list[str]) -> str:
        """A keyed digest of everything the sender sent (no plaintext kept)."""
        canonical = "\x1f".join(f"{name}={_plain(row[name])}" for name in columns if name in row)
        return hmac.new(self.pseudonymiser.secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()

    def _claim_version(self, row: dict, obj: LandingObject, day: date, content: str) -> dict:
        return {
            "platform_code": row["platform_code"], "claim_id": row["claim_id"],
            "partition_date": obj.partition_date, "file_name": obj.name, "line": row["line"],
            "business_day": day, "content_hash": content, "order_id": row["order_id"],
            "worker_ref": self.pseudonymiser.pseudonym(row["worker_id"]),
            "pseudonym_key_id": self.pseudonymiser.key_id,
            "worker_name_enc": self.cipher.encrypt(row["worker_name"]),
            "payee_account_enc": self.cipher.encrypt(row["payee_account"]),
            "payee_account_masked": mask_account(row["payee_account"]),
            "encryption_key_id": self.cipher.key_id,
            "payee_bank_code": row["payee_bank_code"],
            "incident_at": row["incident_at"], "reported_at": row["reported_at"],
            "incident_province_code": row["incident_province_code"],
            "incident_city_code": row["incident_city_code"],
            "injury_type": row["injury_type"], "treatment": row["treatment"],
            "inpatient_days": row["inpatient_days"], "medical_cost_fen": row["medical_cost_fen"],
            "disability_assessment": row["disability_assessment"],
            "liability_disputed": row["liability_disputed"],
            "documents": ";".join(name.strip() for name in row["documents"].split(";") if name.strip()),
        }

    # -- the feeds: determinations, bank returns, declarations ------------------------------
    def _load_feed(self, day: date, outcome: FileOutcome, parts: list[pa.Table], key: str, feed: FeedRecord) -> None:
        """Rows of a feed whose natural key the ledger holds once: an identical row
        loaded before changes nothing, a different one is DUPLICATE_KEY. A versioned
        feed (declarations: CONTRACT.md allows amendments) compares a row with the
        key's current version (the last loaded up to ``day``): identical, it changes
        nothing; different, it is loaded as the new version and the history is kept."""
        rows: list[dict] = []
        unchanged = 0
        clashes: list[RejectionLine] = []
        valid = pa.concat_tables(parts) if parts else None
        if valid is not None and valid.num_rows:
            valid, repeats = self._drop_repeats(valid, key, feed.natural_key)
            clashes.extend(repeats)
            with Session(self.engine) as session:
                for row in valid.to_pylist():
                    content = self._content_hash(row, feed.columns)
                    same_key = select(feed.model.content_hash).where(
                        *(getattr(feed.model, name) == row[name] for name in feed.natural_key))
                    if feed.versioned:
                        same_key = same_key.where(feed.model.business_day <= day).order_by(
                            feed.model.business_day.desc(), feed.model.id.desc()).limit(1)
                    earlier = session.execute(same_key).scalar_one_or_none()
                    if earlier == content:
                        unchanged += 1
                    elif earlier is not None and not feed.versioned:
                        clashes.append(RejectionLine(row["line"], row[key][:RECORD_ID_MAX], key, "DUPLICATE_KEY",
                                                     _message("DUPLICATE_KEY", key, None)))
                    else:
                        rows.append(dict(feed.record(row), line=row["line"], business_day=day, content_hash=content))
        outcome.rejections = sorted(outcome.rejections + clashes, key=lambda item: item.line)
        outcome.rows_rejected += len(clashes)
        outcome.rows_unchanged = unchanged
        outcome.rows_loaded = len(rows)
        self._commit(outcome, day, None, feed_rows=(feed.model, rows))

    # -- the one transaction per file -------------------------------------------------------
    def _commit(self, outcome: FileOutcome, day: date, duplicate_of: int | None, *, lake_key: str | None = None,
                order_stats: list[dict] | None = None, claim_versions: list[dict] | None = None,
                feed_rows: tuple[type, list[dict]] | None = None,
                order_id_range: tuple[str, str] | None = None) -> None:
        assert outcome.balanced, f"{outcome.key}: rows do not balance"
        feedback_key = feedback_key_of(outcome.source, outcome.platform_code)
        with Session(self.engine) as session, session.begin():
            file_id = duplicate_of
            if file_id is None:
                landing_file = LandingFile(
                    sha256=outcome.sha256, source=outcome.source, platform_code=outcome.platform_code,
                    partition_date=outcome.partition_date, file_key=outcome.key,
                    file_format=outcome.file_format or "", encoding=outcome.encoding, size_bytes=outcome.size,
                    business_day=day, status=outcome.status, reject_code=outcome.reject_code,
                    rows_in=outcome.rows_in, rows_loaded=outcome.rows_loaded,
                    rows_unchanged=outcome.rows_unchanged, rows_rejected=outcome.rows_rejected,
                    premium_mismatches=outcome.premium_mismatches,
                    extra_columns=",".join(outcome.extra_columns), lake_key=lake_key,
                    validation=json.dumps(outcome.validation, sort_keys=True) if outcome.validation else None,
                    loaded_at=datetime.now(UTC),
                    order_id_min=order_id_range[0] if order_id_range else None,
                    order_id_max=order_id_range[1] if order_id_range else None,
                )
                session.add(landing_file)
                session.flush()
                file_id = landing_file.id
            delivery = LandingDelivery(
                file_key=outcome.key, sha256=outcome.sha256, file_id=file_id, business_day=day,
                outcome="duplicate_file" if duplicate_of is not None else "read",
                object_version=outcome.object_version,
            )
            session.add(delivery)
            session.flush()
            if outcome.rejections:
                insert_dicts(session, Rejection.__table__, [
                    {"delivery_id": delivery.id, "business_day": day, "feedback_key": feedback_key, "seq": seq,
                     "source_file": outcome.key, "line": item.line, "record_id": messages.record_id(item.record_id),
                     "field": item.field, "reason_code": item.reason_code, "message": item.message}
                    for seq, item in enumerate(outcome.rejections)
                ])
            if order_stats:
                session.execute(insert(OrderStats), [dict(stat, file_id=file_id) for stat in order_stats])
            if claim_versions:
                insert_dicts(session, ClaimVersion.__table__, [dict(version, file_id=file_id) for version in claim_versions])
            if feed_rows and feed_rows[1]:
                model, rows = feed_rows
                insert_dicts(session, model.__table__, [dict(row, file_id=file_id) for row in rows])  # type: ignore[attr-defined]


@dataclass(frozen=True)
class FeedRecord:
    """How a feed's valid row becomes a ledger record, and its natural key."""

    model: Any
    columns: list[str]
    natural_key: tuple[str, ...]
    record: Callable[[dict], dict]
    #: a different row for a loaded key is a new version (not DUPLICATE_KEY)
    versioned: bool = False


FEED_RECORDS = {
    "determinations": FeedRecord(
        Determination, checks.DETERMINATION_COLUMNS, ("platform_code", "claim_id", "decided_at"),
        lambda row: {
            "platform_code": row["platform_code"], "claim_id": row["claim_id"], "decision": row["decision"],
            "approved_amount_fen": row["approved_amount_fen"] if row["decision"] == "approved" else None,
            "reason": row["reason"], "decided_at": row["decided_at"], "decided_by": row["decided_by"],
        },
    ),
    "bank_returns": FeedRecord(
        BankReturn, checks.BANK_RETURN_COLUMNS, ("end_to_end_id", "status"),
        lambda row: {name: row[name] for name in checks.BANK_RETURN_COLUMNS},
    ),
    "declarations": FeedRecord(
        Declaration, checks.DECLARATION_COLUMNS, ("platform_code", "province_code", "industry", "month"),
        lambda row: {name: row[name] for name in checks.DECLARATION_COLUMNS},
        versioned=True,
    ),
}
#: Feeds whose rejections go to feedback/source={feed}/ (CONTRACT.md), platform level or not.
SOURCE_FEEDBACK = ("determinations", "declarations", "bank_returns")


def feedback_key_of(source: str, platform_code: str) -> str:
    """Orders and claims go to feedback/platform={code}/, the other feeds to source={feed}/."""
    return f"source={source}" if source in SOURCE_FEEDBACK or not platform_code else f"platform={platform_code}"


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def object_version(obj: LandingObject) -> str:
    """What the store says about an object's bytes without reading them."""
    return f"{obj.size}:{obj.version}"


def _np_mask(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _remap_lines(part: pa.Table, starts: np.ndarray) -> pa.Table:
    lines = starts[part["line"].to_numpy()]
    return part.set_column(part.column_names.index("line"), "line", pa.array(lines, pa.int64()))
