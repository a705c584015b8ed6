"""Retention on a simulated clock: old raw reports go, their daily rollups stay, recent reports
and nonces inside the replay window stay."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, Table, func, select

from app.central.db import daily_rollups, open_engine, reports, seen_nonces
from app.central.enrolment import enrol, issue_code
from app.central.ingest import ingest
from app.central.retention import run_retention
from app.sync import protocol
from tests.helpers.central import NOW, batch_body, make_report, signed_headers, sqlite_url

DAY = 86400.0


def _count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _send(engine: Engine, key: Ed25519PrivateKey, who: str, seq: int, at: float) -> None:
    body = batch_body(who, [make_report(seq, at, messages=(4, 1))])
    ingest(engine, signed_headers(key, who, body, at), body, at)


def test_old_reports_go_rollups_stay(tmp_path: Path) -> None:
    engine = open_engine(sqlite_url(tmp_path))
    key = Ed25519PrivateKey.generate()
    start = NOW - 100 * DAY
    code = issue_code(engine, "Clínica", start)
    who = enrol(engine, code, protocol.public_bytes(key), "1.0.0", start).appliance_id
    _send(engine, key, who, 1, start)
    _send(engine, key, who, 2, start + 60)
    _send(engine, key, who, 3, NOW - 10 * DAY)
    _send(engine, key, who, 4, NOW - 60)
    pruned = run_retention(engine, NOW, keep_days=90)
    assert (pruned.reports, pruned.nonces) == (2, 3)  # the last nonce is inside 2 x 300 s
    with engine.connect() as conn:
        kept = sorted(conn.execute(select(reports.c.seq)).scalars())
        days = conn.execute(select(daily_rollups.c.reports, daily_rollups.c.messages_in)).all()
    assert kept == [3, 4]
    assert sorted(tuple(d) for d in days) == [(1, 4), (1, 4), (2, 8)]
    assert _count(engine, seen_nonces) == 1
    assert run_retention(engine, NOW, keep_days=90).reports == 0  # idempotent
    engine.dispose()
