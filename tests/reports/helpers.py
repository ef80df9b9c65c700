"""Landing helpers for the reports' tests: orders and claims of distinct workers,
declarations, bank answers, and reading the reports back."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from tests import factories as f
from tests.ingest.test_pipeline import drop, drop_feed

PLATFORM_INDUSTRY = {"didi": "ride_hailing", "caocao": "ride_hailing", "meituan": "instant_delivery",
                     "eleme": "instant_delivery", "huolala": "freight"}


def worker_id(index: int) -> str:
    """A distinct valid resident ID per index."""
    return f.resident_id(f"110105{1980 + index % 20}0101{index:03d}"[:17])


def card(index: int) -> str:
    return f.card_number(f"6222{index:014d}")


def land_day(root: Path, day: date, platform: str, province: str, workers: list[int], *, claims: list[int] = (),
             cost: str = "45000", premium: str | None = None, tag: str = "") -> None:
    """One order per worker index in ``workers`` (and a claim for those in
    ``claims``), in one orders file and one claims file of ``platform`` on ``day``."""
    city = province[:2] + "0100"
    industry = PLATFORM_INDUSTRY[platform]
    orders, filed = [], []
    for index in workers:
        order_id = f"O{tag}{day:%m%d}{province}{index}"
        row = f.order(order_id=order_id, platform_code=platform, worker_id=worker_id(index),
                      worker_name=f"工人{index}", industry=industry, province_code=province, city_code=city,
                      accepted_at=f"{day}T12:00:00+08:00", completed_at=f"{day}T12:40:00+08:00")
        if premium is not None:
            row["premium_fen"] = premium
        elif industry == "instant_delivery":
            row["premium_fen"] = "25" if platform in ("meituan", "eleme") else "7"
        elif industry == "freight":
            row["premium_fen"] = "18"
        orders.append(row)
        if index in claims:
            filed.append(f.claim(claim_id=f"C{tag}{province}{index}", platform_code=platform, order_id=order_id,
                                 worker_id=worker_id(index), worker_name=f"工人{index}",
                                 incident_province_code=province, incident_city_code=city,
                                 incident_at=f"{day}T12:20:00+08:00", reported_at=f"{day}T12:45:00+08:00",
                                 medical_cost_fen=cost, payee_account=card(index)))
    if orders:
        drop(root, "orders", platform, day, f"orders-{tag}{province}.csv", f.csv_text(orders).encode())
    if filed:
        drop(root, "claims", platform, day, f"claims-{tag}{province}.csv", f.csv_text(filed).encode())


def land_declarations(root: Path, platform: str, month: str, rows: list[dict[str, str]], name: str = "decl.csv") -> None:
    from claims.ingest.checks import DECLARATION_COLUMNS

    folder = root / "landing" / "declarations" / f"platform={platform}" / f"month={month}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f.csv_text(rows, DECLARATION_COLUMNS), encoding="utf-8")
    (folder / "_SUCCESS").write_bytes(b"")


def land_answers(root: Path, day: date, answers: list[tuple[str, str, str]]) -> None:
    """Bank answers (batch_id, end_to_end_id, status) processed on ``day``."""
    from claims.ingest.checks import BANK_RETURN_COLUMNS

    rows = [{"batch_id": batch, "end_to_end_id": e2e, "status": status,
             "failure_code": "AC04" if status == "failed" else "",
             "failure_reason": "closed account" if status == "failed" else "",
             "processed_at": f"{day}T09:00:00+08:00"} for batch, e2e, status in answers]
    drop_feed(root, "bank_returns", day, "bank.csv", f.csv_text(rows, BANK_RETURN_COLUMNS).encode())


def report_rows(root: Path, day: date, name: str) -> list[dict[str, str]]:
    text = (root / "outbox" / "reports" / f"date={day.isoformat()}" / name).read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def report_files(root: Path, day: date) -> dict[str, bytes]:
    base = root / "outbox" / "reports" / f"date={day.isoformat()}"
    return {p.name: p.read_bytes() for p in sorted(base.iterdir()) if p.is_file()}
