"""Drives the real pipeline for the model-based test: an environment (ledger on
SQLite or PostgreSQL, landing zone, outbox and lake in a folder) reset for each
history, landing files written from the model's rows, runs of a day the way
``claims run-day`` chains them (ingestion, adjudication, payouts, reports; without
Airflow), and the outputs read back."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import text

from tests import factories as f
from tests.model.reference import BankAnswerRow, ClaimRow, DeterminationRow, LandingFile, OrderRow

CITY = {"110000": "110100", "460000": "460100", "130000": "130100"}
_TEMPLATES: dict[str, Path] = {}


@dataclass
class PipelineEnv:
    """Where one history runs: ``root`` holds landing/, outbox/ and lake/."""

    root: Path
    database_url: str

    @classmethod
    def sqlite(cls, root: Path) -> PipelineEnv:
        return cls(root, f"sqlite:///{root / 'claims.db'}")

    def variables(self) -> dict[str, str]:
        return {"CLAIMS_DATABASE_URL": self.database_url, "CLAIMS_LANDING_URL": str(self.root / "landing"),
                "CLAIMS_OUTBOX_URL": str(self.root / "outbox"), "CLAIMS_LAKE_URL": str(self.root / "lake"),
                # Great Expectations' second opinion is left out: its results go to quality/ only, and
                # it costs more than the rest of a small day
                "CLAIMS_GE_MAX_ROWS": "0"}

    def activate(self) -> None:
        os.environ.update(self.variables())

    def reset(self) -> None:
        """An empty ledger at the latest schema and empty folders."""
        from claims.ledger.db import engine_for, upgrade

        self.activate()
        for folder in ("landing", "outbox", "lake"):
            shutil.rmtree(self.root / folder, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        engine = engine_for(self.database_url)
        if self.database_url.startswith("sqlite:///"):
            engine.dispose()
            path = Path(self.database_url[len("sqlite:///"):])
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            template = _TEMPLATES.get("sqlite")
            if template is None:  # migrated once per process, copied for each history
                template = self.root.parent / f"template-{os.getpid()}.db"
                template.unlink(missing_ok=True)
                template_url = f"sqlite:///{template}"
                upgrade(template_url)
                with engine_for(template_url).connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                engine_for(template_url).dispose()
                _TEMPLATES["sqlite"] = template
            shutil.copyfile(template, path)
            return
        upgrade(self.database_url)
        with engine.begin() as connection:
            tables = [name for (name,) in connection.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))

    # -- landing
    def write(self, file: LandingFile, orders: dict[str, OrderRow]) -> str:
        """Write a landing file (and its partition's marker); returns its sha256."""
        data = render(file, orders)
        folder = self.root / "landing" / file.key.rsplit("/", 1)[0]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / file.name).write_bytes(data)
        (folder / "_SUCCESS").write_bytes(b"")
        return hashlib.sha256(data).hexdigest()

    # -- a run, as run-day chains its DAGs
    def run_day(self, day: date) -> dict:
        from claims.adjudication import adjudicate_day
        from claims.ingest import ingest_source, publish_day
        from claims.payouts import pay_day
        from claims.reports import report_day

        self.activate()
        for source in ("orders", "claims", "determinations", "bank_returns"):
            ingest_source(source, day)
        publish_day(day)
        adjudicate_day(day)
        paid = pay_day(day, auto_release=True)
        report_day(day)  # raises when the payout tie-out (ledger against payout records) does not hold
        self.check_claim_states(day)
        return paid

    def check_claim_states(self, day: date) -> None:
        """The province report's claim states, refreshed run after run (re-runs,
        returns, amendments, determinations), equal a derivation from scratch, and
        the cells the report kept for later reports equal the states aggregated anew."""
        from claims.ledger.db import engine_for
        from claims.reports.claim_state import derived_again_differs, load_cells
        from claims.reports.province import detail_window_start

        engine = engine_for(self.database_url)
        with engine.connect() as connection:
            kept, fresh = (load_cells(connection, day, detail_window_start(day), cache=cache) for cache in (True, False))
            for name in ("filed", "first_paid", "money"):
                assert ({key: sorted(rows, key=repr) for key, rows in getattr(kept, name).items() if rows}
                        == {key: sorted(rows, key=repr) for key, rows in getattr(fresh, name).items() if rows}), name
        differences = derived_again_differs(engine)
        assert not differences, "\n".join(differences[:20])

    # -- outputs
    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    def outputs_of(self, day: date, only: str | None = None) -> dict[str, bytes]:
        """Every output file under date=D (quality/ aside: exempt from byte-identity)."""
        stamp = f"date={day.isoformat()}"
        found = {}
        for path in sorted(self.outbox.rglob("*")):
            relative = path.relative_to(self.outbox).as_posix()
            if path.is_file() and stamp in relative.split("/") and not relative.startswith("quality/"):
                if only is None or relative.startswith(only):
                    found[relative] = path.read_bytes()
        return found

    def payout_rows(self, day: date) -> list[dict[str, str]]:
        rows = []
        for path in sorted((self.outbox / "payouts" / f"date={day.isoformat()}").glob("province=*/*.csv")):
            rows.extend(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
        return rows

    def manifest_exists(self, day: date) -> bool:
        return (self.outbox / "payouts" / f"date={day.isoformat()}" / "manifest.json").is_file()

    def decisions(self, day: date) -> list[dict[str, str]]:
        path = self.outbox / "decisions" / f"date={day.isoformat()}" / "decisions.csv"
        return list(csv.DictReader(io.StringIO(path.read_text("utf-8")))) if path.is_file() else []

    def payout_exceptions(self, day: date) -> set[str]:
        """Claims listed as payout exceptions on the day (reports/date=D/payout_exceptions.csv)."""
        path = self.outbox / "reports" / f"date={day.isoformat()}" / "payout_exceptions.csv"
        if not path.is_file():
            return set()
        return {row["claim_id"] for row in csv.DictReader(io.StringIO(path.read_text("utf-8")))}

    def rejections(self, day: date) -> dict[tuple[str, int], list[str]]:
        """The reason codes of every (source file, line) in the day's feedback files."""
        found: dict[tuple[str, int], list[str]] = {}
        for path in (self.outbox / "feedback").glob(f"*/date={day.isoformat()}/rejections.csv"):
            for row in csv.DictReader(io.StringIO(path.read_text("utf-8"))):
                found.setdefault((row["source_file"], int(row["line"])), []).append(row["reason_code"])
        return found

    def loaded_lines(self) -> tuple[dict[str, set[int]], dict[str, int]]:
        """Lines loaded into the ledger, by the sha256 of the file they came from
        (claim versions, determinations, bank answers); and for orders (kept in the
        lake) the count of rows loaded or unchanged, by sha256."""
        from claims.ledger.db import engine_for

        lines: dict[str, set[int]] = {}
        orders: dict[str, int] = {}
        with engine_for(self.database_url).connect() as connection:
            for table in ("claim_version", "determination", "bank_return"):
                for sha, line in connection.execute(text(
                        f"SELECT lf.sha256, t.line FROM {table} t JOIN landing_file lf ON lf.id = t.file_id")):
                    lines.setdefault(sha, set()).add(int(line))
            for sha, count in connection.execute(text(
                    "SELECT sha256, rows_loaded + rows_unchanged FROM landing_file WHERE source = 'orders'")):
                orders[sha] = orders.get(sha, 0) + int(count)
        return lines, orders


def render(file: LandingFile, orders: dict[str, OrderRow]) -> bytes:
    """A landing file's bytes (CSV) from the model's rows."""
    from claims.ingest.checks import BANK_RETURN_COLUMNS, DETERMINATION_COLUMNS

    rows: list[dict[str, str]] = []
    for row in file.rows:
        if isinstance(row, OrderRow):
            day = row.accepted_on.isoformat()
            rows.append(f.order(order_id=row.order_id, province_code=row.province_code,
                                city_code=CITY[row.province_code], accepted_at=f"{day}T12:00:00+08:00",
                                completed_at=f"{day}T12:40:00+08:00"))
        elif isinstance(row, ClaimRow):
            day = orders[row.order_id].accepted_on.isoformat()
            facts = row.facts
            rows.append(f.claim(claim_id=row.claim_id, order_id=row.order_id, worker_name=row.worker_name,
                                incident_at=f"{day}T12:20:00+08:00", reported_at=f"{day}T12:45:00+08:00",
                                incident_province_code=facts.incident_province_code,
                                incident_city_code=CITY[facts.incident_province_code], treatment=facts.treatment,
                                inpatient_days=str(facts.inpatient_days), medical_cost_fen=str(facts.medical_cost_fen),
                                liability_disputed="true" if facts.liability_disputed else "false",
                                payee_account=row.payee_account))
        elif isinstance(row, DeterminationRow):
            rows.append({"claim_id": row.claim_id, "platform_code": "didi",
                         "decision": "approved" if row.approved else "rejected",
                         "approved_amount_fen": "" if row.amount_fen is None else str(row.amount_fen),
                         "reason": "" if row.approved else "not work related",
                         "decided_at": f"{file.partition_date.isoformat()}T10:00:00+08:00", "decided_by": "HRSS"})
        elif isinstance(row, BankAnswerRow):
            rows.append({"batch_id": row.batch_id, "end_to_end_id": row.end_to_end_id, "status": row.status,
                         "failure_code": "AC04" if row.status == "failed" else "",
                         "failure_reason": "closed account" if row.status == "failed" else "",
                         "processed_at": f"{file.partition_date.isoformat()}T09:00:00+08:00"})
    columns = {"determinations": DETERMINATION_COLUMNS, "bank_returns": BANK_RETURN_COLUMNS}.get(file.source)
    return f.csv_text(rows, columns).encode("utf-8")
