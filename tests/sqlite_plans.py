"""SQLite's query plans of what a piece of code runs: to hold a day's work to index
plans, bounded by the day's rows whatever the size of the history."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator

from sqlalchemy import Engine, event


@contextlib.contextmanager
def captured_plans(engine: Engine) -> Iterator[dict[str, list[str]]]:
    """The plan (EXPLAIN QUERY PLAN steps) of every statement that reads (updates and
    deletes find their rows), by its text."""
    plans: dict[str, list[str]] = {}

    def explain(connection, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        head = statement.lstrip().upper()
        reads = head.startswith(("SELECT", "WITH", "UPDATE", "DELETE")) or (head.startswith("INSERT") and " SELECT " in head)
        if reads and not executemany:
            rows = connection.connection.driver_connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plans[" ".join(statement.split())] = [row[3] for row in rows]

    event.listen(engine, "before_cursor_execute", explain)
    try:
        yield plans
    finally:
        event.remove(engine, "before_cursor_execute", explain)


def history_scans(plans: dict[str, list[str]], tables: Iterable[str], bounded: Iterable[str] = (),
                  windows: bool = False) -> list[str]:
    """The steps that read a table of ``tables`` (named, or by its alias in the
    statement) whole or over an open range, such as every day before this one, or
    build an index of it on the fly (reading it whole), each with the start of its
    statement. A step through an index of ``bounded`` (partial indexes of the few
    rows still open, say) is allowed, and so is an existence probe (``SELECT 1 ...
    LIMIT 1``). With ``windows``, a range is allowed unless it is bounded above only
    (everything up to a day): bounded windows and what came after a day."""
    history, allowed = set(tables), set(bounded)
    found = []
    for statement, steps in plans.items():
        if re.fullmatch(r"SELECT 1 FROM \w+ WHERE .* LIMIT 1", statement, flags=re.IGNORECASE):
            continue  # an existence probe: it reads one index entry at most, over any range
        aliases = {alias: table for table, alias in
                   re.findall(r"\b(?:FROM|JOIN)\s+(\w+)\s+(?:AS\s+)?(\w+)", statement, flags=re.IGNORECASE)}
        for step in steps:
            words = step.split()
            if words[0] not in ("SCAN", "SEARCH") or aliases.get(words[1], words[1]) not in history:
                continue
            index = re.search(r"USING (?:COVERING )?INDEX (\w+)", step)
            if index and index.group(1) in allowed:
                continue
            first = re.search(r"\((\w+)([<>])", step)  # the index's first constraint is a range
            ranged = first is not None and not (
                windows and (first.group(2) == ">" or f"{first.group(1)}>" in step))
            if words[0] == "SCAN" or ranged or "AUTOMATIC" in step:
                found.append(f"{step}  <-  {statement[:240]}")
    return found
