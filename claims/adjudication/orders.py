"""Bring the orders that claims refer to from the order lake into the ledger.

Claims are few (tens per million orders): for each claim whose order is not yet in
``claim_order``, the lake files of its platform for the incident's date and the day
before (an order covers at most 24 hours after acceptance, plus a grace) are read
for just those order ids.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pyarrow.parquet as pq
from sqlalchemy import and_, insert, select
from sqlalchemy.orm import Session

from claims.calendar import as_utc, business_day_of
from claims.ledger.models import ClaimOrder, ClaimVersion, LandingFile
from claims.store import Store

#: Claims loaded this many days back still look for their order (a pending claim
#: waits at most CLAIMS_PENDING_MAX_DAYS, which must stay below this).
LOOK_BACK_DAYS = 31
ORDER_COLUMNS = ["order_id", "worker_ref", "province_code", "city_code", "industry", "accepted_at",
                 "completed_at", "status"]


def link_claim_orders(session: Session, lake: Store, day: date, grace: timedelta = timedelta(0)) -> int:
    """Copy into ``claim_order`` the lake orders that claims loaded up to ``day``
    refer to and that are not there yet. Returns how many were added."""
    missing = session.execute(
        select(ClaimVersion.platform_code, ClaimVersion.order_id, ClaimVersion.incident_at)
        .outerjoin(ClaimOrder, and_(ClaimOrder.platform_code == ClaimVersion.platform_code,
                                    ClaimOrder.order_id == ClaimVersion.order_id))
        .where(ClaimVersion.business_day <= day, ClaimVersion.business_day >= day - timedelta(days=LOOK_BACK_DAYS),
               ClaimOrder.id.is_(None))
    ).all()
    wanted: dict[tuple[str, date], set[str]] = defaultdict(set)
    span = 1 + (grace.days + (1 if grace.seconds else 0))
    for platform_code, order_id, incident_at in missing:
        incident_day = business_day_of(as_utc(incident_at))
        for back in range(span + 1):
            wanted[(platform_code, incident_day - timedelta(days=back))].add(order_id)
    found: dict[tuple[str, str], dict] = {}
    for (platform_code, accepted_date), order_ids in sorted(wanted.items()):
        files = session.execute(
            select(LandingFile.id, LandingFile.lake_key).where(
                LandingFile.source == "orders", LandingFile.platform_code == platform_code,
                LandingFile.partition_date == accepted_date, LandingFile.lake_key.is_not(None),
                LandingFile.business_day <= day,
            ).order_by(LandingFile.id)
        ).all()
        for file_id, lake_key in files:
            if lake_key is None:
                continue
            with lake.local_copy(lake_key) as path:
                table = pq.read_table(path, columns=ORDER_COLUMNS, filters=[("order_id", "in", sorted(order_ids))])
            for row in table.to_pylist():
                found.setdefault((platform_code, row["order_id"]), dict(row, platform_code=platform_code, file_id=file_id))
    if found:
        session.execute(insert(ClaimOrder), [found[key] for key in sorted(found)])
    return len(found)
