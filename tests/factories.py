"""Valid records to start from in tests; each test changes one thing."""

from __future__ import annotations

import csv
import io

from stdnum import luhn
from stdnum.iso7064 import mod_11_2

from claims.ingest.checks import CLAIM_COLUMNS, ORDER_COLUMNS


def resident_id(body17: str) -> str:
    """A resident ID with its correct MOD 11-2 check character."""
    assert len(body17) == 17
    return body17 + mod_11_2.calc_check_digit(body17)


def wrong_check(valid_id: str) -> str:
    alternatives = "0123456789X".replace(valid_id[-1], "")
    return valid_id[:-1] + alternatives[0]


def card_number(body: str) -> str:
    return body + luhn.calc_check_digit(body)


WORKER = resident_id("11010519900307123")
HK_WORKER = resident_id("81000019880815004")
ABOLISHED_COUNTY_WORKER = resident_id("46902719850101003")  # a retired Hainan county code stdnum.cn.ric rejects
ACCOUNT = card_number("621700000000000001")


def order(**changes: str) -> dict[str, str]:
    row = {
        "order_id": "DD-20250901-0001",
        "platform_code": "didi",
        "worker_id": WORKER,
        "worker_name": "张三",
        "industry": "ride_hailing",
        "province_code": "110000",
        "city_code": "110100",
        "accepted_at": "2025-09-01T12:00:00+08:00",
        "completed_at": "2025-09-01T12:40:00+08:00",
        "status": "completed",
        "premium_fen": "1",
    }
    row.update(changes)
    return row


def claim(**changes: str) -> dict[str, str]:
    row = {
        "claim_id": "CL-0001",
        "platform_code": "didi",
        "order_id": "DD-20250901-0001",
        "worker_id": WORKER,
        "worker_name": "张三",
        "incident_at": "2025-09-01T12:20:00+08:00",
        "incident_province_code": "110000",
        "incident_city_code": "110100",
        "injury_type": "sprain",
        "treatment": "outpatient",
        "inpatient_days": "0",
        "medical_cost_fen": "45000",
        "disability_assessment": "false",
        "liability_disputed": "false",
        "documents": "application_form;consent;diagnosis;receipts;liability_determination",
        "reported_at": "2025-09-01T12:45:00+08:00",
        "payee_account": ACCOUNT,
        "payee_bank_code": "102100099996",
    }
    row.update(changes)
    return row


def csv_text(rows: list[dict[str, str]], columns: list[str] | None = None) -> str:
    columns = columns or (ORDER_COLUMNS if "premium_fen" in rows[0] else CLAIM_COLUMNS)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
