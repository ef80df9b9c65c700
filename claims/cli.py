"""The ``claims`` command."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from claims.calendar import SHANGHAI, parse_business_day


def _day(text: str) -> date:
    try:
        return parse_business_day(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


class Refused(Exception):
    """The command refuses to start: said in one line, exit code 2, nothing written."""


def refuse_future_day(day: date, now: datetime | None = None) -> None:
    """A business day after today (Asia/Shanghai) has not begun: running it would
    publish an empty payout manifest that closes the day for its real payouts."""
    today = (now or datetime.now(UTC)).astimezone(SHANGHAI).date()
    if day > today:
        raise Refused(f"{day.isoformat()} is after today ({today.isoformat()} in Asia/Shanghai): "
                      "a business day is run once it has begun, nothing was done")


def cmd_run_day(args: argparse.Namespace) -> int:
    from claims_dags.runner import RunDayBusy, ledger_lock, prepare_airflow_environment, run_day_lock

    from claims.settings import load_settings

    settings = load_settings()
    home = prepare_airflow_environment()
    try:
        with run_day_lock(home, args.day), ledger_lock(settings.database_url, home, args.day):
            return _run_day(args.day, settings, home)
    except RunDayBusy as busy:
        raise Refused(str(busy)) from None


def _run_day(day: date, settings, home: Path) -> int:  # type: ignore[no-untyped-def]
    """Every DAG of the day with all their output (Airflow's, tracebacks) in a log
    file; then the summary, whatever failed, naming each failure in one line."""
    from claims_dags.runner import one_line, output_to, run_dags

    from claims.ingest import SOURCES, pending_partitions
    from claims.ledger.db import engine_for, upgrade
    from claims.store import open_store
    from claims.summary import PublishedFiles, day_summary, deliveries_of

    log_path = home / "logs" / "run-day" / f"{day.isoformat()}_{datetime.now(UTC):%Y%m%dT%H%M%SZ}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = logging.getLogger("claims.run_day")
    dag_lines: list[str] = []
    outcomes = []
    engine = None
    before = 0
    published = PublishedFiles(day)
    with output_to(log_path):
        try:
            upgrade(settings.database_url)
            engine = engine_for(settings.database_url)
            before = deliveries_of(engine, day)
            published.look(engine, open_store(settings.outbox_url))
        except Exception as error:  # noqa: BLE001 - said in the summary, traceback in the log
            log.exception("run-day %s: the ledger could not be prepared", day)
            dag_lines.append(f"  {'(ledger)':<24}FAILED before any DAG ran: {one_line(error)}")
        if engine is not None:
            try:
                # outside production run-day releases its own payouts; production keeps four eyes
                outcomes = run_dags(day, auto_release=settings.environment != "production")
            except Exception as error:  # noqa: BLE001 - Airflow itself failed: said, traceback in the log
                log.exception("run-day %s: Airflow could not run the DAGs", day)
                dag_lines.append(f"  {'(airflow)':<24}FAILED: {one_line(error)}")
    for outcome in outcomes:
        failed = [task for task, state in outcome.task_states.items() if state not in ("success", "skipped")]
        if not outcome.failed:
            dag_lines.append(f"  {outcome.dag_id:<24}ok")
            continue
        named = [task for task in failed if task in outcome.causes] or failed[:1]
        for task in named:
            cause = outcome.causes.get(task, f"state {outcome.task_states.get(task, outcome.state)}, see the log")
            dag_lines.append(f"  {outcome.dag_id:<24}FAILED task {task}: {cause}")
        others = [task for task in failed if task not in named]
        if others:
            dag_lines.append(f"  {'':<24}not run or failed after it: {', '.join(others)}")
        if not failed:
            dag_lines.append(f"  {outcome.dag_id:<24}FAILED (run state {outcome.state}, see the log)")
    ran = bool(outcomes)
    failed_run = not ran or any(outcome.failed for outcome in outcomes)
    try:
        not_arrived = [p for source in SOURCES for p in pending_partitions(source, day.isoformat(), settings)]
    except Exception as error:  # noqa: BLE001 - the landing zone itself is unreachable: say so, keep the summary
        not_arrived = [f"(the landing zone could not be listed: {one_line(error)})"]
    if engine is not None:
        try:
            dag_lines.append(f"  new files read by this run: {deliveries_of(engine, day) - before}")
        except Exception:  # noqa: BLE001 - the summary below says the ledger is unreadable
            pass
    dag_lines.append(_reports_line(settings, day))
    try:
        warnings = published.warnings(engine, open_store(settings.outbox_url)) if engine is not None else []
    except Exception as error:  # noqa: BLE001 - the outbox itself is unreachable: say so, keep the summary
        warnings = [f"the published payout files could not be checked: {one_line(error)}"]
    print(day_summary(engine, day, not_arrived, ["DAG runs:", *dag_lines], warnings))
    print(f"\nfull log (Airflow's output, tracebacks): {log_path}")
    return 1 if failed_run else 0


def _reports_line(settings, day: date) -> str:  # type: ignore[no-untyped-def]
    """The day's reports in one line, from their summary.json."""
    from claims.store import open_store

    key = f"reports/date={day.isoformat()}/summary.json"
    try:
        summary = json.loads(open_store(settings.outbox_url).read_bytes(key))
    except Exception:  # noqa: BLE001 - not written (the reports did not run): say so
        return "  reports: not written"
    tie = "payouts tie out" if summary["payouts_tie_out"] else \
        f"payouts DO NOT tie out in {', '.join(summary['differing_provinces'])}"
    return (f"  reports: {tie}; {summary['payout_exceptions']} payout exception(s); "
            f"{summary['premium_lines_differing']} premium line(s) differing or off the rate")


def cmd_report(args: argparse.Namespace) -> int:
    from claims.reports import PayoutTieOutError, report_day

    try:
        print(json.dumps(report_day(args.day, province=args.province), indent=2))
    except PayoutTieOutError as error:
        print(f"reports written; {error}", file=sys.stderr)
        return 1
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Ingest without Airflow (administrators; also loads older partitions on request)."""
    from claims.ingest import ingest_source, publish_day

    for source in args.source:
        summary = ingest_source(source, args.day, tuple(args.partition_date or ()))
        print(json.dumps(summary, indent=2))
    print(json.dumps(publish_day(args.day), indent=2))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from claims.settings import load_settings
    from claims.simulate import simulate_day
    from claims.store import open_store

    landing = open_store(args.landing or load_settings().landing_url)
    report = simulate_day(args.date, landing, orders=args.orders, seed=args.seed, defect_share=args.defect_share)
    totals = report.totals()
    print(f"simulated {args.date.isoformat()} into {landing.url}")
    for dataset, figures in totals["by_dataset"].items():
        if figures["files"]:
            print(f"  {dataset:<13}{figures['files']:>4} files {figures['rows_in']:>10,} rows "
                  f"({figures['rejected_rows']:,} with planted defects)")
    if args.report:
        Path(args.report).write_text(report.to_json(), encoding="utf-8")
        print(f"  expected outcome of every file: {args.report}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from claims.adjudication.explain import explain
    from claims.ledger.db import engine_for, upgrade
    from claims.privacy import Cipher
    from claims.settings import load_settings

    settings = load_settings()
    upgrade(settings.database_url)
    print(explain(engine_for(settings.database_url), Cipher.from_ring(settings.encryption_keys), args.claim_id,
                  args.platform))
    return 0


def cmd_adjudicate(args: argparse.Namespace) -> int:
    from claims.adjudication import adjudicate_day

    print(json.dumps(adjudicate_day(args.day), indent=2))
    return 0


def cmd_pay(args: argparse.Namespace) -> int:
    from claims.payouts import pay_day

    print(json.dumps(pay_day(args.day), indent=2))
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    from claims.payouts import release_day

    try:
        print(json.dumps(release_day(args.day, approved_by=args.by), indent=2))
    except PermissionError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_trail(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from claims.ledger.db import engine_for, upgrade
    from claims.payouts.ledger import trail
    from claims.settings import load_settings

    settings = load_settings()
    upgrade(settings.database_url)
    with Session(engine_for(settings.database_url)) as session:
        entries = trail(session, args.platform, args.claim_id)
        if not entries:
            print(f"no money has moved for claim {args.claim_id} of platform {args.platform}")
            return 0
        print(f"Money trail of claim {args.claim_id} (platform {args.platform}), in fen:")
        for transaction, postings in entries:
            print(f"  {transaction.business_day}  {transaction.kind:<9} {transaction.reference}")
            for posting in postings:
                side = "debit " if posting.amount_fen > 0 else "credit"
                print(f"      {side} {posting.account:<28}{abs(posting.amount_fen):>14,}")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from claims.ledger.db import current_revision, upgrade
    from claims.settings import load_settings

    url = load_settings().database_url
    if args.action == "upgrade":
        upgrade(url)
    print(f"ledger schema at revision {current_revision(url)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claims", description="Occupational-injury claims for platform workers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    commands = parser.add_subparsers(dest="command", required=True)

    run_day = commands.add_parser("run-day", help="run every DAG of a business day through Airflow's dag.test()")
    run_day.add_argument("day", type=_day, metavar="D", help="business day YYYY-MM-DD (Asia/Shanghai)")
    run_day.set_defaults(handler=cmd_run_day)

    ingest = commands.add_parser("ingest", help="ingest a day without Airflow")
    ingest.add_argument("day", type=_day, metavar="D")
    ingest.add_argument("--source", action="append", choices=["orders", "claims", "determinations", "bank_returns", "declarations"])
    ingest.add_argument("--partition-date", type=_day, action="append",
                        help="also read this (older) partition date: an administrator's explicit request")
    ingest.set_defaults(handler=cmd_ingest)

    simulate = commands.add_parser("simulate", help="write a simulated business day into the landing zone")
    simulate.add_argument("--date", type=_day, required=True)
    simulate.add_argument("--orders", type=int, default=20_000)
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--defect-share", type=float, default=0.01)
    simulate.add_argument("--landing", help="landing URL (default: CLAIMS_LANDING_URL)")
    simulate.add_argument("--report", help="write the expected outcome of every file (JSON) here")
    simulate.set_defaults(handler=cmd_simulate)

    explain = commands.add_parser("explain", help="show how a claim was decided, rule by rule")
    explain.add_argument("claim_id")
    explain.add_argument("--platform", help="the platform code, when several platforms use the id")
    explain.set_defaults(handler=cmd_explain)

    adjudicate = commands.add_parser("adjudicate", help="decide a day's claims without Airflow")
    adjudicate.add_argument("day", type=_day, metavar="D")
    adjudicate.set_defaults(handler=cmd_adjudicate)

    pay = commands.add_parser("pay", help="prepare (and, where allowed, release) a day's payouts without Airflow")
    pay.add_argument("day", type=_day, metavar="D")
    pay.set_defaults(handler=cmd_pay)

    payouts = commands.add_parser("payouts", help="payout release")
    payout_commands = payouts.add_subparsers(dest="payouts_command", required=True)
    approve = payout_commands.add_parser("approve", help="release a day's prepared batches (four eyes)")
    approve.add_argument("day", type=_day, metavar="D")
    approve.add_argument("--by", required=True, help="who approves: not the person who prepared the batches")
    approve.set_defaults(handler=cmd_approve)

    report = commands.add_parser("report", help="render a day's reconciliation and province reports without Airflow")
    report.add_argument("day", type=_day, metavar="D")
    report.add_argument("--province", help="render the HTML page of this province only (the CSVs cover all)")
    report.set_defaults(handler=cmd_report)

    trail = commands.add_parser("trail", help="every ledger posting of a claim")
    trail.add_argument("claim_id")
    trail.add_argument("--platform", required=True)
    trail.set_defaults(handler=cmd_trail)

    db = commands.add_parser("db", help="the ledger schema")
    db.add_argument("action", choices=["upgrade", "current"])
    db.set_defaults(handler=cmd_db)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "ingest" and not args.source:
        args.source = ["orders", "claims", "determinations", "bank_returns", "declarations"]
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from claims.settings import ConfigurationError

    try:
        if isinstance(getattr(args, "day", None), date):
            refuse_future_day(args.day)
        return int(args.handler(args))
    except Refused as refused:
        print(f"claims {args.command}: refused: {refused}", file=sys.stderr)
    except ConfigurationError as error:
        print(f"claims {args.command}: configuration: {error}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
