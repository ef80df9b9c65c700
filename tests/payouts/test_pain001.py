"""The pain.001.001.09 writer: schema validity, control sums, determinism, refusals,
and the paying agencies' reference data."""

from __future__ import annotations

import csv
import dataclasses
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from claims.payouts import pain001
from claims.payouts.pain001 import (
    MAX_ITEMS,
    NAMESPACE,
    Debtor,
    Pain001Error,
    PaymentItem,
    PayoutBatch,
    control_sum_yuan,
    render_pain001,
    validate_pain001,
)

DATA_DIR = Path(pain001.__file__).resolve().parents[1] / "reference" / "data"
NS = {"p": NAMESPACE}
CST = timezone(timedelta(hours=8))
DEBTOR = Debtor(name="北京市社会保险基金管理中心", account="9999110000000000001", bank_code="999110000001")


def item(number: int, amount_fen: int = 12345, **changes: object) -> PaymentItem:
    base = PaymentItem(
        end_to_end_id=f"PO-20250701-110000-{number:06d}",
        amount_fen=amount_fen,
        payee_name="张伟",
        payee_account=f"6222020200{number:09d}",
        payee_bank_code="102100099996",
        remark=f"职业伤害保障待遇 claim C{number:08d}",
    )
    return dataclasses.replace(base, **changes)


def batch(items: tuple[PaymentItem, ...] | list[PaymentItem], **changes: object) -> PayoutBatch:
    base = PayoutBatch(
        batch_id="PB-20250701-110000-0001",
        province_code="110000",
        created_at=datetime(2025, 7, 1, 18, 30, 5, tzinfo=CST),
        requested_execution_date=date(2025, 7, 2),
        debtor=DEBTOR,
        items=tuple(items),
    )
    return dataclasses.replace(base, **changes)


def three() -> PayoutBatch:
    return batch([
        item(1, 100_00, payee_name="王芳"),
        item(2, 2_345_67, payee_name="李娜 & <欧阳>", remark="误工费 \"7月\" 'A&B' <备注>"),
        item(3, 1, payee_name="Ayşe Zhang-Müller", remark=""),
    ])


def parse(xml: bytes) -> ET.Element:
    return ET.fromstring(xml)


# --------------------------------------------------------------------- validity


def test_a_batch_of_three_validates_against_the_xsd() -> None:
    xml = render_pain001(three())
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    validate_pain001(xml)
    root = parse(xml)
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    payment = root.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert header is not None and payment is not None
    assert header.findtext("p:MsgId", namespaces=NS) == "PB-20250701-110000-0001"
    assert header.findtext("p:CreDtTm", namespaces=NS) == "2025-07-01T18:30:05+08:00"
    assert header.findtext("p:InitgPty/p:Nm", namespaces=NS) == DEBTOR.name
    assert payment.findtext("p:PmtInfId", namespaces=NS) == "PB-20250701-110000-0001"
    assert payment.findtext("p:PmtMtd", namespaces=NS) == "TRF"
    assert payment.findtext("p:BtchBookg", namespaces=NS) == "true"
    assert payment.findtext("p:ReqdExctnDt/p:Dt", namespaces=NS) == "2025-07-02"
    assert payment.findtext("p:Dbtr/p:Nm", namespaces=NS) == DEBTOR.name
    assert payment.findtext("p:DbtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == DEBTOR.account
    assert payment.findtext("p:DbtrAgt/p:FinInstnId/p:ClrSysMmbId/p:ClrSysId/p:Cd", namespaces=NS) == "CNAPS"
    assert payment.findtext("p:DbtrAgt/p:FinInstnId/p:ClrSysMmbId/p:MmbId", namespaces=NS) == DEBTOR.bank_code
    assert payment.findtext("p:ChrgBr", namespaces=NS) == "DEBT"
    transactions = payment.findall("p:CdtTrfTxInf", NS)
    assert [t.findtext("p:PmtId/p:EndToEndId", namespaces=NS) for t in transactions] == [
        "PO-20250701-110000-000001", "PO-20250701-110000-000002", "PO-20250701-110000-000003",
    ]
    amounts = [t.find("p:Amt/p:InstdAmt", NS) for t in transactions]
    assert [(a.text, a.get("Ccy")) for a in amounts if a is not None] == [
        ("100.00", "CNY"), ("2345.67", "CNY"), ("0.01", "CNY"),
    ]
    first = transactions[0]
    assert first.findtext("p:CdtrAgt/p:FinInstnId/p:ClrSysMmbId/p:MmbId", namespaces=NS) == "102100099996"
    assert first.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == "6222020200000000001"
    assert first.findtext("p:RmtInf/p:Ustrd", namespaces=NS) == "职业伤害保障待遇 claim C00000001"
    # an empty remark leaves out the optional RmtInf (Ustrd may not be empty)
    assert transactions[2].find("p:RmtInf", NS) is None


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        ([1], "0.01"),
        ([99], "0.99"),
        ([100], "1.00"),
        ([123456789012], "1234567890.12"),
        ([1, 99, 100, 123456789012], "1234567892.12"),
        ([10, 10, 10], "0.30"),
    ],
)
def test_control_sums_and_counts_equal_the_items(amounts: list[int], expected: str) -> None:
    assert control_sum_yuan(amounts) == expected
    items = [item(n, amount) for n, amount in enumerate(amounts, start=1)]
    xml = render_pain001(batch(items))
    validate_pain001(xml)
    root = parse(xml)
    for path in ("p:CstmrCdtTrfInitn/p:GrpHdr", "p:CstmrCdtTrfInitn/p:PmtInf"):
        assert root.findtext(f"{path}/p:CtrlSum", namespaces=NS) == expected
        assert root.findtext(f"{path}/p:NbOfTxs", namespaces=NS) == str(len(amounts))
    listed = root.findall(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", NS)
    assert sum(Decimal(a.text or "") for a in listed) == Decimal(expected)
    assert [int(Decimal(a.text or "") * 100) for a in listed] == amounts


def test_control_sum_yuan_is_exact_integer_arithmetic() -> None:
    assert control_sum_yuan([123456]) == "1234.56"
    assert control_sum_yuan([]) == "0.00"
    assert control_sum_yuan(iter([5, 5])) == "0.10"
    assert control_sum_yuan([10**17 + 1]) == "1000000000000000.01"  # beyond float precision
    assert control_sum_yuan([-5]) == "-0.05"
    for bad in ([1.0], [Decimal("1")], [True], ["100"]):
        with pytest.raises(Pain001Error, match="integer fen"):
            control_sum_yuan(bad)  # type: ignore[arg-type]


def test_a_full_batch_of_3000_items_renders_and_validates() -> None:
    """(Its speed is measured by bench/payouts.py, not asserted here: a loaded machine
    must not fail the suite.)"""
    items = [item(n, 1000 + n, payee_name=f"测试{n}") for n in range(1, MAX_ITEMS + 1)]
    full = batch(items)
    xml = render_pain001(full)
    validate_pain001(xml)
    root = parse(xml)
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "3000"
    assert root.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:CtrlSum", namespaces=NS) == control_sum_yuan(
        i.amount_fen for i in items
    )


def test_chinese_names_and_special_characters_round_trip() -> None:
    source = three()
    xml = render_pain001(source)
    assert "王芳".encode() in xml  # UTF-8 text, not character references
    assert b"&amp;" in xml and b"&lt;" in xml
    root = parse(xml)
    transactions = root.findall(".//p:CdtTrfTxInf", NS)
    assert [t.findtext("p:Cdtr/p:Nm", namespaces=NS) for t in transactions] == [
        i.payee_name for i in source.items
    ]
    assert transactions[1].findtext("p:RmtInf/p:Ustrd", namespaces=NS) == source.items[1].remark
    assert root.findtext(".//p:Dbtr/p:Nm", namespaces=NS) == "北京市社会保险基金管理中心"


def test_rendering_is_byte_identical() -> None:
    assert render_pain001(three()) == render_pain001(three())
    items = [item(n, n * 7) for n in range(1, 200)]
    assert render_pain001(batch(items)) == render_pain001(batch(list(items)))


def test_created_at_keeps_its_offset() -> None:
    utc = render_pain001(batch([item(1)], created_at=datetime(2025, 7, 1, 10, 30, 5, 123456, tzinfo=UTC)))
    assert b"<CreDtTm>2025-07-01T10:30:05+00:00</CreDtTm>" in utc
    validate_pain001(utc)


# ------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: batch([item(1, 0)]), "greater than zero"),
        (lambda: batch([item(1, -100)]), "greater than zero"),
        (lambda: batch([item(1, 1.5)]), "integer fen"),  # type: ignore[arg-type]
        (lambda: batch([item(1, True)]), "integer fen"),  # type: ignore[arg-type]
        (lambda: batch([item(1, end_to_end_id="E" * 36)]), "end_to_end_id: 36 characters, at most 35"),
        (lambda: batch([item(1)], batch_id="B" * 36), "batch_id: 36 characters, at most 35"),
        (lambda: batch([item(1, end_to_end_id="")]), "end_to_end_id: must not be empty"),
        (lambda: batch([]), "no items"),
        (lambda: batch([item(1), item(1)]), "more than once"),
        (lambda: batch([item(n) for n in range(MAX_ITEMS + 1)]), "at most 3000"),
        (lambda: batch([item(1, payee_name="张" * 141)]), "payee_name: 141 characters, at most 140"),
        (lambda: batch([item(1, payee_name="  ")]), "payee_name: must not be empty"),
        (lambda: batch([item(1, remark="备" * 141)]), "remark: 141 characters, at most 140"),
        (lambda: batch([item(1, remark="line\nbreak")]), "U\\+000A is not allowed"),
        (lambda: batch([item(1, payee_name="a\x00b")]), "U\\+0000 is not allowed"),
        (lambda: batch([item(1, payee_account="6" * 35)]), "payee_account: 35 characters, at most 34"),
        (lambda: batch([item(1, payee_bank_code="10210009999")]), "12-digit CNAPS"),
        (lambda: batch([item(1, payee_bank_code="10210009999X")]), "12-digit CNAPS"),
        (lambda: batch([item(1)], debtor=dataclasses.replace(DEBTOR, bank_code="")), "debtor.bank_code"),
        (lambda: batch([item(1)], debtor=dataclasses.replace(DEBTOR, name="")), "debtor.name"),
        (lambda: batch([item(1)], created_at=datetime(2025, 7, 1, 18, 0)), "timezone-aware"),
        (lambda: batch([item(1)], requested_execution_date=datetime(2025, 7, 2, tzinfo=CST)), "expected a date"),
        (lambda: batch([item(1, 10**18)]), "18-digit"),
        (lambda: batch([item(1, 10**18 - 1), item(2, 1)]), "18-digit"),
    ],
)
def test_bad_inputs_are_refused(make, message: str) -> None:
    with pytest.raises(Pain001Error, match=message):
        render_pain001(make())


def test_the_largest_amount_still_fits_the_schema() -> None:
    xml = render_pain001(batch([item(1, 10**18 - 1)]))
    assert b">9999999999999999.99<" in xml
    validate_pain001(xml)


# ---------------------------------------------------------- validating by hand


def _drop(xml: bytes, tag: str) -> bytes:
    return re.sub(rb"\s*<" + tag.encode() + rb">[^<]*</" + tag.encode() + rb">", b"", xml)


def test_a_message_without_control_sums_is_still_valid() -> None:
    xml = render_pain001(three())
    stripped = _drop(xml, "CtrlSum")
    assert b"CtrlSum" not in stripped
    validate_pain001(stripped)


def test_an_element_out_of_order_is_invalid() -> None:
    xml = render_pain001(three())
    message_id = re.search(rb"<MsgId>[^<]*</MsgId>", xml)
    created = re.search(rb"<CreDtTm>[^<]*</CreDtTm>", xml)
    assert message_id and created
    swapped = (
        xml[: message_id.start()] + created.group() + xml[message_id.end() : created.start()]
        + message_id.group() + xml[created.end() :]
    )
    with pytest.raises(Pain001Error, match="not valid against pain.001.001.09 XSD"):
        validate_pain001(swapped)


def test_a_creditor_before_its_agent_is_invalid() -> None:
    root_xml = render_pain001(batch([item(1)])).decode()
    agent = re.search(r"\s*<CdtrAgt>.*?</CdtrAgt>", root_xml, re.S)
    assert agent
    without = root_xml[: agent.start()] + root_xml[agent.end() :]
    moved = without.replace("</Cdtr>", "</Cdtr>" + agent.group(), 1)
    with pytest.raises(Pain001Error, match="CdtrAgt"):
        validate_pain001(moved.encode())


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"<Cd>CNAPS</Cd>", b"<Cd>CNAPS2</Cd>", "XSD"),  # ExternalClearingSystemIdentification1Code: max 5
        (b'Ccy="CNY">100.00<', b'Ccy="CNY">100.001<', "reconcile"),  # schema allows 5 decimals; sums differ
        (b'Ccy="CNY">100.00<', b'Ccy="CNY">100.0.0<', "XSD"),
        (b"<NbOfTxs>3</NbOfTxs>", b"<NbOfTxs>4</NbOfTxs>", "NbOfTxs is 4 but there are 3"),
        (b"<CtrlSum>2445.68</CtrlSum>", b"<CtrlSum>2445.69</CtrlSum>", "CtrlSum is 2445.69"),
        (b'Ccy="CNY">0.01<', b'Ccy="CNY">0.00<', "not greater than zero"),
        (b"<PmtMtd>TRF</PmtMtd>", b"", "XSD"),
        (b"</Document>", b"", "not well-formed"),
        (NAMESPACE.encode(), b"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03", "root element"),
    ],
)
def test_hand_broken_messages_are_reported(old: bytes, new: bytes, message: str) -> None:
    xml = render_pain001(three())
    assert old in xml
    with pytest.raises(Pain001Error, match=message):
        validate_pain001(xml.replace(old, new))


def test_without_sepaxml_validation_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    xml = render_pain001(three())
    pain001._schema.cache_clear()
    monkeypatch.setitem(sys.modules, "sepaxml", None)  # import sepaxml now fails
    try:
        with pytest.raises(Pain001Error, match="sepaxml package.*is not installed"):
            validate_pain001(xml)
    finally:
        pain001._schema.cache_clear()
    monkeypatch.undo()
    validate_pain001(xml)


def test_the_xsd_is_the_one_shipped_by_sepaxml() -> None:
    assert pain001.xsd_path().endswith("sepaxml/schemas/pain.001.001.09.xsd")


def test_the_module_does_not_import_airflow() -> None:
    code = (
        "import sys, claims.payouts.pain001\n"
        "assert not [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------ paying agencies


def _rows(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_pilot_province_has_a_paying_agency() -> None:
    agencies = _rows("paying_agencies.csv")
    pilots = {row["province_code"]: row["pilot_from"] for row in _rows("provinces.csv") if row["pilot_from"]}
    codes = [row["province_code"] for row in agencies]
    assert len(codes) == len(set(codes))
    assert set(pilots) <= set(codes), sorted(set(pilots) - set(codes))
    for row in agencies:
        assert list(row) == ["province_code", "agency_name", "account", "bank_code", "effective_from", "note"]
        assert row["effective_from"] == pilots[row["province_code"]]
        date.fromisoformat(row["effective_from"])


def test_every_paying_agency_makes_a_valid_debtor() -> None:
    for row in _rows("paying_agencies.csv"):
        debtor = Debtor(name=row["agency_name"], account=row["account"], bank_code=row["bank_code"])
        assert re.fullmatch(r"9999[0-9]{15}", debtor.account), row  # placeholder, fictitious
        assert re.fullmatch(r"999[0-9]{9}", debtor.bank_code), row
        assert row["note"].startswith("placeholder")
        xml = render_pain001(batch([item(1)], province_code=row["province_code"], debtor=debtor))
        validate_pain001(xml)


# ------------------------------------------------------- templates against ElementTree


AWKWARD = ["李娜 & <欧阳>", "&<>\"'", "&amp; already escaped", "]]> end of CDATA", "Ayşe Zhang-Müller",
           "张三", "𠀋 astral plane", "a > b", "tab\u00a0nbsp", "x" * 140]


@pytest.mark.parametrize("text", AWKWARD)
def test_the_templates_write_the_bytes_elementtree_writes(text: str) -> None:
    """The text templates are a faster ElementTree: same escaping, same indentation,
    byte for byte, for names, remarks, ids, debtors and with or without a remark."""
    debtor = Debtor(name=text, account=f"A&<{text[:20]}>"[:34], bank_code="999110000001")
    messages = [
        batch([item(1, payee_name=text), item(2, remark=text[:140]), item(3, remark=""),
               item(4, payee_account=f"<{text}>"[:34], end_to_end_id=f"E&{text}"[:35])], debtor=debtor),
        batch([item(1, 1)], batch_id=f"B<{text}>"[:35], created_at=datetime(2025, 7, 1, 10, 30, 5, 123456, tzinfo=UTC)),
        batch([item(n, n * 101) for n in range(1, 40)]),
    ]
    for message in messages:
        assert render_pain001(message) == pain001.render_pain001_etree(message)


def test_the_templates_write_a_full_batch_as_elementtree_does() -> None:
    full = batch([item(n, n * 7 + 1, payee_name=AWKWARD[n % len(AWKWARD)],
                       remark="" if n % 5 == 0 else AWKWARD[(n + 3) % len(AWKWARD)])
                  for n in range(1, MAX_ITEMS + 1)])
    xml = render_pain001(full)
    assert xml == pain001.render_pain001_etree(full)
    validate_pain001(xml)
