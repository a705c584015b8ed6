"""Retention: raw reports older than ``keep_days`` go once their daily rollup exists (it is
written in the same transaction as the report, so in practice always); rollups stay; nonces
older than 2 x TOLERANCE_S are pruned (a request that old is refused as stale anyway)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, exists, select

from app.central.db import daily_rollups, enrolment_codes, reports, seen_nonces
from app.sync.protocol import TOLERANCE_S

DAY_S = 86400.0
CODE_KEEP_S = 30 * DAY_S  # expired codes are kept a while so "expired" stays explainable


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one retention run removed."""

    reports: int
    nonces: int
    codes: int


def run_retention(engine: Engine, now: float, keep_days: int) -> Pruned:
    """Delete old raw reports (rollups kept), stale nonces and long-expired codes."""
    r, d = reports.c, daily_rollups.c
    has_rollup = exists(select(d.day).where(and_(d.appliance_id == r.appliance_id, d.day == r.day)))
    old_reports = delete(reports).where(and_(r.created_at < now - keep_days * DAY_S, has_rollup))
    old_nonces = delete(seen_nonces).where(seen_nonces.c.seen_at < now - 2 * TOLERANCE_S)
    old_codes = delete(enrolment_codes).where(enrolment_codes.c.expires_at < now - CODE_KEEP_S)
    with engine.begin() as conn:
        counts = [conn.execute(stmt).rowcount for stmt in (old_reports, old_nonces, old_codes)]
    return Pruned(*counts)
