"""Great Expectations as a second opinion on the rows the exact checks judged.

The exact, vectorised checks decide rejections. GE validates the same rows with
the suites in ``validations/`` (built independently on python-stdnum), and the
result records both counts per (field, reason code) and whether they agree, so a
disagreement is visible to administrators in ``quality/`` and fails a test.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from claims.ingest import checks
from claims.reference import Reference


def exact_counts(source: str, table: pa.Table, partition: checks.Partition, reference: Reference) -> Counter:
    """Rows failing each (field, reason code) by the exact checks."""
    _columns, check, _key = checks.CHECKS[source]
    verdicts = check(table, partition, reference)
    return Counter({(failure.field, failure.code): int(failure.rows.size) for failure in verdicts.failures})


def validate_with_great_expectations(
    source: str, partition: checks.Partition, table: pa.Table, reference: Reference
) -> dict:
    from validations.runner import frame_from_arrow, unexpected_counts, validate_frame
    from validations.suites import claims_suite, orders_suite

    build = orders_suite if source == "orders" else claims_suite
    suite = build(
        partition_date=partition.day,
        partition_platform=partition.platform_code,
        platforms={code: platform.industry for code, platform in reference.platforms.items()},
        province_codes=set(reference.provinces),
        pilot_province_codes=reference.pilot_provinces(partition.day),
        prefecture_codes=set(reference.prefectures),
    )
    result = validate_frame(source, frame_from_arrow(table), suite)
    ge_counts = unexpected_counts(result)
    exact = exact_counts(source, table, partition, reference)
    covered = set(ge_counts)
    disagreements = {
        f"{field}:{code}": {"great_expectations": ge_counts[(field, code)], "exact": exact.get((field, code), 0)}
        for field, code in sorted(covered)
        if ge_counts[(field, code)] != exact.get((field, code), 0)
    }
    result["rows"] = table.num_rows
    result["agrees_with_exact_checks"] = not disagreements
    result["disagreements"] = disagreements
    result.pop("validated_at", None)  # the ledger keeps no clock time for re-rendered files
    return result
