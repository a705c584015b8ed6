"""Reports per second ingested by the central office server, on PostgreSQL and on SQLite.

    python -m tests.bench.bench_central [--scale S] [--only postgresql,sqlite] [--json]

The central runs as its own process (``clinicdesk central serve``) on loopback; this process
enrols appliances through the real API, signs every request beforehand (so the client's Ed25519
work is not timed) and posts them with 16 connections at once, in two shapes:

* **steady** — one report per request: every appliance online, each reporting once a minute;
* **backlog** — 100 reports per request: appliances coming back after an outage.

The same-run limit is the database itself: the same report rows written with one
``executemany`` per 100 rows into a scratch table of the same database (no HTTP, no JSON
validation, no signature check), so each figure is also printed as ingest ÷ raw insert rate.
Goal (issue 8): ≥ 1,000 reports/s on PostgreSQL. PostgreSQL runs with its durable defaults
(fsync and synchronous commit on).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, insert

from app.central.db import open_engine
from app.central.enrolment import issue_code
from app.sync import protocol
from tests.bench.common import REPO, cpu_s, figure_lines, fmt, machine
from tests.helpers.central import batch_body, make_report, signed_headers
from tests.helpers.postgres import running_postgres

GOAL_PER_S = 1000.0
CONCURRENCY = 16
READY = "central listening on "


@dataclass(frozen=True)
class Shape:
    name: str
    appliances: int
    requests_each: int
    per_request: int

    @property
    def reports(self) -> int:
        return self.appliances * self.requests_each * self.per_request


def shapes(scale: float) -> list[Shape]:
    return [
        Shape("steady", 40, max(1, round(50 * scale)), 1),
        Shape("backlog", 40, max(1, round(5 * scale)), 100),
    ]


# ---- the server process ------------------------------------------------------------------------


@contextlib.contextmanager
def central_process(db_url: str) -> Iterator[tuple[str, int]]:
    """``clinicdesk central serve`` on a free loopback port: (its URL, its pid)."""
    command = [sys.executable, "-m", "app", "central", "serve", "--db", db_url, "--port", "0"]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        yield _wait_url(proc), proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if READY in line:
            return line.split(READY, 1)[1].split()[0]
    raise RuntimeError(f"central did not start (exit {proc.wait()})")


# ---- requests ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Appliance:
    appliance_id: str
    key: Ed25519PrivateKey


def enrol_many(db_url: str, url: str, count: int) -> list[Appliance]:
    """``count`` appliances enrolled through the real API (codes issued straight in the DB)."""
    engine = open_engine(db_url)
    try:
        codes = [issue_code(engine, f"Bench {n}", time.time()) for n in range(count)]
    finally:
        engine.dispose()
    found = []
    with httpx.Client(base_url=url, trust_env=False) as http:
        for code in codes:
            key = Ed25519PrivateKey.generate()
            body = {"code": code, "public_key": protocol.b64(protocol.public_bytes(key)),
                    "app_version": "1.0.0"}  # fmt: skip
            answer = http.post(protocol.ENROLL_PATH, json=body).raise_for_status().json()
            found.append(Appliance(answer["appliance_id"], key))
    return found


def signed_requests(appliances: list[Appliance], shape: Shape) -> list[tuple[bytes, dict]]:
    """Every request of ``shape``, signed now (bodies and headers ready to send)."""
    now, prepared = time.time(), []
    for appliance in appliances:
        seq = 0
        for _ in range(shape.requests_each):
            reports = []
            for _ in range(shape.per_request):
                seq += 1
                reports.append(make_report(seq, now - 60 * (10_000 - seq)))
            body = batch_body(appliance.appliance_id, reports)
            prepared.append(
                (body, signed_headers(appliance.key, appliance.appliance_id, body, now))
            )
    return prepared


async def post_all(url: str, prepared: list[tuple[bytes, dict]]) -> dict[str, Any]:
    """Send everything with ``CONCURRENCY`` connections; counts and the wall time."""
    queue: asyncio.Queue[tuple[bytes, dict]] = asyncio.Queue()
    for item in prepared:
        queue.put_nowait(item)
    totals = {"accepted": 0, "duplicates": 0, "errors": 0}
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, trust_env=False, timeout=60) as http:

        async def worker() -> None:
            while not queue.empty():
                body, headers = queue.get_nowait()
                response = await http.post(protocol.REPORTS_PATH, content=body, headers=headers)
                if response.status_code != 200:
                    totals["errors"] += 1
                    continue
                answer = response.json()
                totals["accepted"] += answer["accepted"]
                totals["duplicates"] += answer["duplicates"]

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        totals["seconds"] = time.perf_counter() - start
    return totals


# ---- the same-run limit ------------------------------------------------------------------------


def raw_insert_rate(db_url: str, prepared: list[tuple[bytes, dict]]) -> float:
    """Rows/s of the same report rows through ``executemany`` (100 a statement, one commit
    each) into a scratch table of the same database."""
    meta = MetaData()
    scratch = Table(
        "bench_raw_reports", meta,
        Column("id", Integer, primary_key=True), Column("appliance_id", String(32)),
        Column("seq", Integer), Column("created_at", Float), Column("payload", Text),
    )  # fmt: skip
    rows = []
    for body, _headers in prepared:
        batch = json.loads(body)
        rows += [
            {"appliance_id": batch["appliance_id"], "seq": r["seq"], "created_at": time.time(),
             "payload": json.dumps(r["figures"])}
            for r in batch["reports"]
        ]  # fmt: skip
    engine = open_engine(db_url)
    try:
        meta.create_all(engine)
        start = time.perf_counter()
        for first in range(0, len(rows), 100):
            with engine.begin() as conn:
                conn.execute(insert(scratch), rows[first : first + 100])
        return len(rows) / (time.perf_counter() - start)
    finally:
        meta.drop_all(engine)
        engine.dispose()


# ---- one database ------------------------------------------------------------------------------


def measure(db_name: str, db_url: str, scale: float) -> list[dict[str, Any]]:
    """Both shapes against one database: figures for the report."""
    figures = []
    with central_process(db_url) as (url, pid):
        for shape in shapes(scale):
            appliances = enrol_many(db_url, url, shape.appliances)
            prepared = signed_requests(appliances, shape)
            cpu_before = cpu_s(pid) or 0.0
            got = asyncio.run(post_all(url, prepared))
            server_cpu = (cpu_s(pid) or 0.0) - cpu_before
            raw = raw_insert_rate(db_url, prepared)
            figures.append(_figure(db_name, shape, got, raw, server_cpu))
    return figures


def _figure(
    db: str, shape: Shape, got: dict[str, Any], raw: float, server_cpu: float
) -> dict[str, Any]:
    rate = got["accepted"] / got["seconds"]
    goal = GOAL_PER_S if db == "postgresql" else None
    return {
        "figure": f"{db} {shape.name}: reports/s ({shape.per_request}/request)",
        "value": rate,
        "goal": f">= {GOAL_PER_S:.0f}" if goal else "-",
        "value_per_goal": rate / goal if goal else None,
        "meets_goal": rate >= goal if goal else None,
        "reports": shape.reports,
        "accepted": got["accepted"],
        "duplicates": got["duplicates"],
        "errors": got["errors"],
        "raw_insert_per_s": raw,
        "ingest_per_raw": rate / raw,
        "server_cpu_ms_per_report": 1000 * server_cpu / max(1, got["accepted"]),
    }


def run(scale: float, only: set[str], workdir: Path) -> dict[str, Any]:
    figures: list[dict[str, Any]] = []
    if "postgresql" in only:
        with running_postgres(durable=True) as server:
            name = server.create_database()
            figures += measure("postgresql", server.url(name), scale)
    if "sqlite" in only:
        figures += measure("sqlite", f"sqlite:///{workdir / 'central.sqlite3'}", scale)
    checks = {f["figure"]: f["accepted"] == f["reports"] and not f["errors"] for f in figures}
    return {"machine": machine(), "figures": figures, "checks": checks, "errors": []}


def render(report: dict[str, Any]) -> str:
    lines = [f"{k}: {v}" for k, v in report["machine"].items()]
    lines += figure_lines(report["figures"])
    for f in report["figures"]:
        lines.append(
            f"{f['figure']}: raw insert {fmt(f['raw_insert_per_s'])}/s, ingest ÷ raw "
            f"{fmt(f['ingest_per_raw'])}, central CPU {fmt(f['server_cpu_ms_per_report'])} "
            f"ms/report, accepted {f['accepted']}/{f['reports']}, errors {f['errors']}"
        )
    lines += [f"check {k}: {'ok' if v else 'FAILED'}" for k, v in report["checks"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--only", default="postgresql,sqlite")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-central-") as folder:
        report = run(args.scale, set(args.only.split(",")), Path(folder))
    print(json.dumps(report, indent=1) if args.json else render(report))
    return 0 if all(report["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
