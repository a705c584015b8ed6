"""Messaging benchmark (issue 4): ingest, send → worker, search, loop stall during a burst.

    .venv/bin/python -m tests.bench.bench_messaging [--only ingest,send,search,stall]
        [--scale 1.0] [--search-db DIR] [--search-rounds 20] [--json] [--keep]

Every sub-benchmark runs on a new encrypted installation in a temporary folder (the search one
can keep its seeded store in ``--search-db DIR`` and reuse it on the next run):

1. ingest — N inbound text events (several patients per channel, several channels, Portuguese
   text) through the real ``InboundPipeline.ingest`` on a real SQLCipher store, the way the
   supervisor calls it: one event at a time per channel, every channel at once. The floor is a
   raw ``executemany`` of the same N rows into an equivalent ``messages`` table (same columns,
   indexes and FTS trigger) in a fresh encrypted file opened by ``app.store.db`` with the same
   pragmas, in one transaction. Figure: pipeline rate / raw rate (goal ≥ 0.5).
2. send — a real ``clinicdesk engine`` process, a real channel worker and the simulator. An
   authenticated ``POST /tickets/{id}/messages``; the time from just before the request until
   the simulator recorded the send (its ``/control/outbox`` ``at``, same wall clock). Pacing
   cannot be switched off (the bounds are 1 s between sends and 60 a minute per channel), so
   the channels use the fastest allowed pacing and the shortest "typing…" (≤ 1 ms, but its
   request to the worker is part of every send), and each channel gets a new send only
   after its 1 s gap: the pacer grants every turn at once and adds no wait.
3. search — M messages seeded straight through SQLAlchemy core in big transactions (the FTS
   insert trigger off, then one FTS ``rebuild`` and the trigger back), then searches through
   the real ``SearchService`` (one audited transaction each) as a receptionist and as a super admin.
4. stall — the engine in this process (supervisor, inbound pipeline, outbox sender, DB writer
   thread; not the HTTP API), a real worker and the simulator; ``POST /control/burst`` of B
   messages to one channel; a ticker on the loop records its longest lateness until all are
   stored.

``--scale`` multiplies every count (N=2,000, 200 sends, M=1,000,000, B=10,000 at 1.0).
Every figure is printed with its goal and value / goal; exit code 1 when a behaviour check
fails (not every message stored or sent); a missed goal is reported, not an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select

from app.bootstrap import Core, FirstAdmin, SystemClock, build_sender, build_supervisor
from app.bootstrap import init_installation as init_core
from app.config import ENV_KEY_DIR, DataDir
from app.domain.channels import LinkState
from app.domain.roles import Actor, Role
from app.engine import freeze_startup_objects
from app.services.audit import Auditor
from app.services.channels import ChannelSpec
from app.services.events import ChannelStateChanged, Event, EventBus, InboundReceived
from app.services.inbound import InboundPipeline
from app.services.transport import EventKind, InboundMessage, TransportEvent
from app.simulator.patients import patient_jid, patient_name
from app.store import schema
from app.store.db import create_database
from app.store.repositories import SqlTx
from app.store.store import Store
from tests.bench import common
from tests.helpers.channels import Simulator, add_channels, create_store
from tests.helpers.cli import init_installation as init_cli
from tests.helpers.e2e import Engine, login, sim_account, wait_until

GOAL_INGEST_RATIO = 0.5  # at least: pipeline rate / raw executemany rate
GOAL_SEND_P95_MS = 20.0
GOAL_SEARCH_P95_MS = 100.0
GOAL_STALL_MS = 50.0
BENCHES = ("ingest", "send", "search", "stall")
FULL = {"ingest": 2_000, "send": 200, "search": 1_000_000, "stall": 10_000}
MINIMUM = {"ingest": 40, "send": 6, "search": 2_000, "stall": 20}

# Pacing as fast as the bounds allow. "typing…" cannot be switched off (limits must be > 0):
# at most 1 ms of it, but its request to the worker precedes every send and is timed.
FAST_LIMITS = {
    "min_gap_s": 1.0, "max_gap_s": 1.0, "per_chat_gap_s": 1.0, "per_minute": 60,
    "typing_s_per_char": 0.000001, "typing_max_s": 0.001,
}  # fmt: skip
PACER_GAP_S = 1.1  # a send goes out only this long after the channel's previous one

_WORDS = (
    "olá bom dia boa tarde noite gostaria de marcar uma consulta exame retorno com doutor "
    "doutora amanhã hoje semana próxima segunda terça quarta quinta sexta sábado horário "
    "disponível por favor obrigado obrigada convênio particular valor pagamento cartão pix "
    "receita pedido resultado sangue urina coração pressão dor cabeça febre criança filho "
    "filha mãe pai endereço clínica unidade centro estacionamento confirmar cancelar remarcar "
    "atraso chegando já agora ainda não sim talvez preciso urgente vacina atestado laudo"
)
WORDS = tuple(_WORDS.split())
RARE_WORD = "ressonância"  # one message in RARE_EVERY carries it
RARE_EVERY = 5_000


# ---- shared -----------------------------------------------------------------------------


def scaled(bench: str, scale: float) -> int:
    return max(MINIMUM[bench], round(FULL[bench] * scale))


def sentence(rng: random.Random, low: int = 4, high: int = 14) -> str:
    """A WhatsApp-like line of Portuguese words (accents included)."""
    words = rng.choices(WORDS, k=rng.randint(low, high))
    return " ".join(words).capitalize()


def percentiles(samples_s: list[float]) -> dict[str, float | int | None]:
    """p50, p95 and max in milliseconds (nearest-rank), and the sample count."""
    if not samples_s:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    ordered = sorted(samples_s)

    def rank(p: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)

    return {"n": len(ordered), "p50_ms": rank(0.50), "p95_ms": rank(0.95),
            "max_ms": round(1000 * ordered[-1], 2)}  # fmt: skip


@contextlib.contextmanager
def key_dir(workdir: Path) -> Iterator[None]:
    """A private machine-key folder for the run (never the real one)."""
    old = os.environ.get(ENV_KEY_DIR)
    os.environ[ENV_KEY_DIR] = str(workdir / "machine-keys")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV_KEY_DIR, None)
        else:
            os.environ[ENV_KEY_DIR] = old


def inbound_event(channel: str, seq: int, patient: int, text: str) -> TransportEvent:
    """One inbound text from simulated patient ``patient`` (their real name and number)."""
    jid = patient_jid(patient)
    message = InboundMessage(
        wa_id=f"BENCH{seq:08d}", chat_jid=jid, sender_jid=jid, timestamp=time.time(),
        text=text, push_name=patient_name(patient),
    )  # fmt: skip
    return TransportEvent(EventKind.INBOUND, channel, message=message, ack_ref=str(seq))


# ---- 1. ingest ---------------------------------------------------------------------------


async def bench_ingest(workdir: Path, n: int, channels: int, rng: random.Random) -> dict[str, Any]:
    """Pipeline rate vs raw executemany rate, same N rows, same run."""
    per_channel = [list(range(c, n, channels)) for c in range(channels)]
    texts = [sentence(rng) for _ in range(n)]
    patients = [rng.randrange(40) for _ in range(n)]  # 40 patients per channel
    store = create_store(workdir / "ingest")
    try:
        ids = await add_channels(store, [f"canal-{c:02d}" for c in range(channels)], "ws://x")
        clock = SystemClock()
        pipeline = InboundPipeline(store, clock, Auditor(clock), EventBus())
        lanes = [
            [inbound_event(f"canal-{c:02d}", i, 100 * c + patients[i], texts[i]) for i in seqs]
            for c, seqs in enumerate(per_channel)
        ]

        async def lane(channel_id: int, events: list[TransportEvent]) -> None:
            for event in events:  # as the supervisor does: one at a time per channel
                await pipeline.ingest(channel_id, event)

        started = time.perf_counter()
        await asyncio.gather(*(lane(cid, evs) for cid, evs in zip(ids, lanes, strict=True)))
        pipeline_s = time.perf_counter() - started
        stored = await store.read(lambda tx: _count(tx, schema.messages.c.direction == "in"))
        tickets = await store.read(lambda tx: _count(tx, schema.tickets.c.id > 0))
    finally:
        store.close()
    raw_s = await asyncio.to_thread(raw_executemany, workdir / "raw.db", texts, patients)
    return {
        "events": n, "channels": channels, "in_flight_max": channels,
        "stored_inbound": stored, "tickets": tickets,
        "pipeline_s": round(pipeline_s, 3), "pipeline_per_s": round(n / pipeline_s, 1),
        "raw_s": round(raw_s, 3), "raw_per_s": round(n / raw_s, 1),
        "ratio": round((n / pipeline_s) / (n / raw_s), 4),
    }  # fmt: skip


def _count(tx: SqlTx, where: Any) -> int:
    table = where.left.table
    return int(tx.conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())


def raw_executemany(path: Path, texts: list[str], patients: list[int]) -> float:
    """Seconds for one ``executemany`` of the rows into ``messages`` (its indexes and FTS
    trigger included) in a new encrypted file with the app's pragmas, in one transaction."""
    engine = create_database(path, os.urandom(32))
    try:
        with engine.begin() as conn:
            schema.metadata.create_all(conn)
            for ddl in schema.FTS_DDL:
                conn.exec_driver_sql(ddl)
            at = datetime.now(UTC)
            branch = conn.execute(insert(schema.branches).values(name="Centro", created_at=at))
            conn.execute(insert(schema.channels).values(
                branch_id=branch.inserted_primary_key[0], name="raw", display_name="Raw",
                kind="simulator", created_at=at,
            ))  # fmt: skip
        now = datetime.now(UTC).isoformat()
        rows = [
            (1, patient_jid(p), patient_jid(p), f"RAW{i:08d}", "in", "text", text, now, now)
            for i, (text, p) in enumerate(zip(texts, patients, strict=True))
        ]
        sql = (
            "INSERT INTO messages (channel_id, chat_jid, sender_jid, wa_id, direction, kind, "
            "body, sent_at, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        dbapi = engine.raw_connection()
        try:
            cursor = dbapi.cursor()
            started = time.perf_counter()
            cursor.execute("BEGIN")
            cursor.executemany(sql, rows)
            cursor.execute("COMMIT")
            return time.perf_counter() - started
        finally:
            dbapi.close()
    finally:
        engine.dispose()


# ---- 2. send → worker --------------------------------------------------------------------


@dataclass
class SendRig:
    engine: Engine
    sim: Simulator
    api: httpx.Client
    targets: list[tuple[int, str]]  # (ticket id, simulator account) per channel


def _start_send_rig(workdir: Path, sim: Simulator, channels: int) -> Engine:
    """An initialised engine with ``channels`` paired channels at the fastest pacing,
    restarted once so the limits apply (they take effect at a channel's start)."""
    data = workdir / "send-data"
    init_cli(workdir, data)
    engine = Engine(data)
    try:
        engine.call("POST", "/branches", json={"name": "Centro"})
        for c in range(channels):
            engine.linked_channel("Centro", f"envio-{c}", sim)
            engine.call("PUT", f"/channels/envio-{c}/limits", json={"send_limits": FAST_LIMITS})
    finally:
        engine.stop()
    engine = Engine(data)
    for c in range(channels):
        engine.wait_state(f"envio-{c}", "CONNECTED")
    return engine


def _open_tickets(engine: Engine, sim: Simulator, channels: int) -> list[tuple[int, str]]:
    """One patient writes to each channel; the ticket that message opened, per channel."""
    targets = []
    for c in range(channels):
        channel = engine.channel(f"envio-{c}")
        account = sim_account(sim, channel)
        sim.post("/control/inbound", channel=account, text="Olá, quero marcar consulta", patient=c)
        page = wait_until(
            lambda cid=channel["id"]: engine.call("GET", "/tickets", params={"channel": cid})[
                "items"
            ],
            f"a ticket on envio-{c}",
        )
        targets.append((int(page[0]["id"]), account))
    return targets


def _received_at(sim: Simulator, account: str, text: str) -> float | None:
    for entry in sim.http.get(f"/control/outbox/{account}").json()["messages"]:
        if entry.get("text") == text:
            return float(entry["at"])
    return None


def _one_send(rig: SendRig, i: int) -> tuple[float, float]:
    """(request → simulator received, request → 202) in seconds, for send ``i``."""
    ticket_id, account = rig.targets[i % len(rig.targets)]
    text = f"Sua consulta está confirmada para amanhã às 9h (ref {i})"  # unique per send
    started = time.time()
    response = rig.api.post(
        f"/tickets/{ticket_id}/messages", json={"text": text, "client_key": f"bench-{i + 1000}"}
    )
    answered = time.time()
    assert response.status_code == 202, response.text
    at = wait_until(lambda: _received_at(rig.sim, account, text), f"send {i} at the simulator")
    return at - started, answered - started


def run_sends(rig: SendRig, count: int) -> tuple[list[float], list[float]]:
    """``count`` sends round-robin over the channels, each channel at most once per gap.

    One untimed round first: it warms the engine up (imports, statement caches) and leaves
    every channel's pacer last used by a send of ours, so every later turn is known to be due.
    """
    last: dict[int, float] = {}
    worker, api = [], []
    warmup = len(rig.targets)
    for i in range(-warmup, count):
        lane = i % len(rig.targets)
        wait = last.get(lane, 0.0) + PACER_GAP_S - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        to_sim, to_202 = _one_send(rig, i)
        last[lane] = time.monotonic()
        if i >= 0:
            worker.append(to_sim)
            api.append(to_202)
    return worker, api


def bench_send(workdir: Path, count: int, channels: int) -> dict[str, Any]:
    sim = Simulator("--auto-pair")
    engine: Engine | None = None
    try:
        engine = _start_send_rig(workdir, sim, channels)
        targets = _open_tickets(engine, sim, channels)
        token = login(engine, "root")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=engine.url, headers=headers, timeout=30, trust_env=False) as api:
            rig = SendRig(engine, sim, api, targets)
            to_sim, to_202 = run_sends(rig, count)
    finally:
        if engine is not None:
            engine.stop_or_kill()
        sim.stop()
    return {
        "sends": count, "channels": channels, "pacer": FAST_LIMITS,
        "request_to_simulator": percentiles(to_sim), "request_to_202": percentiles(to_202),
    }  # fmt: skip


# ---- 3. search ---------------------------------------------------------------------------

SEED_CHUNK = 50_000
MESSAGES_PER_CONTACT = 100  # 1,000,000 messages: 10,000 contacts, 5,000 per branch
MESSAGES_PER_TICKET = 25


@dataclass
class SearchWorld:
    store: Store
    admin: Actor
    receptionist: Actor
    messages: int
    seeded: dict[str, float] | None  # None: reused from --search-db


def _seed_base(tx: SqlTx, at: datetime) -> tuple[list[int], int, list[int]]:
    """Two branches with a channel and two queues each, plus the receptionist user.
    Returns (branch ids, receptionist id, queue ids)."""
    c = tx.conn
    branches, queues = [], []
    for name in ("Centro", "Sul"):
        b = c.execute(insert(schema.branches).values(name=name, created_at=at))
        bid = int(b.inserted_primary_key[0])
        branches.append(bid)
        c.execute(insert(schema.channels).values(
            branch_id=bid, name=f"canal-{name.lower()}", display_name=name, kind="simulator",
            created_at=at,
        ))  # fmt: skip
        for q in ("Agendamento", "Exames"):
            row = c.execute(insert(schema.queues).values(branch_id=bid, name=q))
            queues.append(int(row.inserted_primary_key[0]))
    user = c.execute(insert(schema.users).values(
        username="rec.bench", display_name="Recepção", password_hash="x", created_at=at,
        password_changed_at=at,
    ))  # fmt: skip
    user_id = int(user.inserted_primary_key[0])
    c.execute(insert(schema.memberships).values(
        user_id=user_id, branch_id=branches[0], role=Role.RECEPTIONIST.value,
    ))  # fmt: skip
    c.execute(insert(schema.queue_members).values(queue_id=queues[0], user_id=user_id))
    return branches, user_id, queues


def _seed_people(tx: SqlTx, branches: list[int], queues: list[int], counts: tuple[int, int],
                 at: datetime) -> None:  # fmt: skip
    """Contacts (real-looking names, FTS-indexed) and tickets spread over queues."""
    c, rng = tx.conn, random.Random(7)
    people, tickets = counts
    contacts = [
        {"branch_id": branches[k % 2], "phone_e164": f"+55119{k:08d}",
         "display_name": patient_name(k), "created_at": at, "updated_at": at}
        for k in range(people)
    ]  # fmt: skip
    c.execute(insert(schema.contacts), contacts)
    rows = []
    for t in range(tickets):
        contact = t % people + 1
        branch = branches[(contact - 1) % 2]
        queue = queues[2 * branches.index(branch) + rng.randrange(2)]
        rows.append({"branch_id": branch, "contact_id": contact, "channel_id": branch,
                     "queue_id": queue, "status": rng.choice(("open", "closed", "pending")),
                     "last_activity_at": at, "created_at": at})  # fmt: skip
    c.execute(insert(schema.tickets), rows)


def _message_rows(
    start: int, stop: int, counts: tuple[int, int], at: datetime
) -> list[dict[str, Any]]:
    rng, (people, tickets) = random.Random(start), counts
    rows = []
    for i in range(start, stop):
        ticket = i % tickets + 1
        contact = (ticket - 1) % people + 1
        text = sentence(rng)
        if i % RARE_EVERY == 0:
            text += f" {RARE_WORD}"
        jid = f"55119{contact:08d}@s.whatsapp.net"
        rows.append({"ticket_id": ticket, "channel_id": (contact - 1) % 2 + 1,
                     "contact_id": contact, "chat_jid": jid, "sender_jid": jid,
                     "wa_id": f"SEED{i:09d}", "direction": "in" if i % 3 else "out", "body": text,
                     "sent_at": at + timedelta(seconds=i), "stored_at": at})  # fmt: skip
    return rows


def _insert_messages(tx: SqlTx, rows: list[dict[str, Any]]) -> None:
    tx.conn.execute(insert(schema.messages), rows)


_FTS_INSERT_TRIGGER = next(ddl for ddl in schema.FTS_DDL if "messages_fts_ai" in ddl)


def _fts_off(tx: SqlTx) -> None:
    # Per-row FTS indexing made seeding take hours here; one rebuild at the end takes minutes.
    # A large page cache for the bulk load only (put back to the default after it).
    tx.conn.exec_driver_sql("PRAGMA cache_size = -262144")
    tx.conn.exec_driver_sql("DROP TRIGGER messages_fts_ai")


def _fts_rebuild(tx: SqlTx) -> None:
    tx.conn.exec_driver_sql("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
    tx.conn.exec_driver_sql(_FTS_INSERT_TRIGGER)
    tx.conn.exec_driver_sql("PRAGMA cache_size = -2000")  # SQLite's default, as in production


async def seed_search(store: Store, count: int) -> dict[str, float]:
    """Seed ``count`` messages in SEED_CHUNK transactions with the FTS insert trigger off,
    then rebuild the FTS index and put the trigger back; seconds per step."""
    at = datetime(2026, 1, 5, 12, tzinfo=UTC)
    counts = (max(2, count // MESSAGES_PER_CONTACT), max(2, count // MESSAGES_PER_TICKET))
    started = time.perf_counter()
    branches, _user, queues = await store.transaction(lambda tx: _seed_base(tx, at))
    await store.transaction(lambda tx: _seed_people(tx, branches, queues, counts, at))
    await store.transaction(_fts_off)
    for start in range(0, count, SEED_CHUNK):
        rows = await asyncio.to_thread(
            _message_rows, start, min(count, start + SEED_CHUNK), counts, at
        )
        await store.transaction(lambda tx, rows=rows: _insert_messages(tx, rows))
    inserted = time.perf_counter()
    await store.transaction(_fts_rebuild)
    done = time.perf_counter()
    return {"insert_s": round(inserted - started, 1), "fts_rebuild_s": round(done - inserted, 1)}


async def open_search_world(workdir: Path, count: int, cached: Path | None) -> SearchWorld:
    """The seeded store: from ``cached`` when it holds one with ``count`` messages, else new
    (kept in ``cached`` when given). The key sits beside it: a benchmark store only."""
    root = cached if cached is not None else workdir / "search-data"
    key_file = root / "bench-search.key"
    seeded: dict[str, float] | None = None
    if key_file.exists():
        store = Store.open(DataDir(root), bytes.fromhex(key_file.read_text()))
    else:
        root.mkdir(parents=True, exist_ok=True)
        key = os.urandom(32)
        store = Store.create(DataDir(root), key)
        seeded = await seed_search(store, count)
        key_file.write_text(key.hex())
        key_file.chmod(0o600)
    found = await store.read(lambda tx: _count(tx, schema.messages.c.id > 0))
    user_id, branch_id = await store.read(_receptionist)
    receptionist = Actor(user_id, "rec.bench", roles={branch_id: Role.RECEPTIONIST})
    admin = Actor(None, "bench.admin", super_admin=True)
    return SearchWorld(store, admin, receptionist, found, seeded)


def _sql(tx: SqlTx, actor: Actor, query: str) -> float:
    """Seconds for the two queries alone (read connection: no audit row, no commit); the
    contacts by phone number when the query is one, as the service does."""
    from app.services.search import match_expression, phone_query
    from app.services.ticket_access import scope_for
    from app.store.repos_search import SearchSql

    match, phone = match_expression(query), phone_query(query)
    assert match is not None
    started = time.perf_counter()
    repo, scope = SearchSql(tx.conn), scope_for(tx, actor)
    repo.messages(match, scope, 50)
    if phone is not None:
        repo.contacts_by_phone(phone, scope, 50)
    else:
        repo.contacts(match, scope, 50)
    return time.perf_counter() - started


def _receptionist(tx: SqlTx) -> tuple[int, int]:
    m = schema.memberships.c
    row = tx.conn.execute(select(m.user_id, m.branch_id).limit(1)).one()
    return int(row.user_id), int(row.branch_id)


SEARCHES = {
    "common word": "consulta",
    "common, no accent": "amanha",
    "common, accented": "coração",
    "rare word": RARE_WORD,
    "rare, no accent": "ressonancia",
    "prefix of two words": "exame sang",
    "contact name": "Fernanda",
    "whole phone number": "(11) 90000-1234",  # contact 1234 (+5511900001234)
    "last four digits": "1234",
}


async def bench_search(workdir: Path, count: int, cached: Path | None, rounds: int
                       ) -> dict[str, Any]:  # fmt: skip
    from app.services.search import SearchService
    from app.store.repos_search import search_repo

    world = await open_search_world(workdir, count, cached)
    try:
        clock = SystemClock()
        service = SearchService(world.store, Auditor(clock), search_repo)
        results: dict[str, Any] = {}
        every: list[float] = []
        for who, actor in (("receptionist", world.receptionist), ("admin", world.admin)):
            for label, query in SEARCHES.items():
                times, sql, hits = [], [], 0
                for _ in range(rounds):
                    started = time.perf_counter()
                    found = await service.search(actor, query)
                    times.append(time.perf_counter() - started)
                    hits = len(found.messages) + len(found.contacts)
                    sql.append(await world.store.read(lambda tx, a=actor, q=query: _sql(tx, a, q)))
                every.extend(times)
                sql_p95 = percentiles(sql)["p95_ms"]
                results[f"{who}: {label}"] = {
                    "query": query,
                    "hits": hits,
                    **percentiles(times),
                    "sql_only_p95_ms": sql_p95,
                }
    finally:
        world.store.close()
    return {
        "messages": world.messages, "seeding_s": world.seeded or "reused from --search-db",
        "rounds": rounds, "all": percentiles(every), "queries": results,
    }  # fmt: skip


# ---- 4. stall during a burst -------------------------------------------------------------


class Stored:
    """Counts InboundReceived events that carry a stored message (pipeline commits)."""

    def __init__(self) -> None:
        self.count = 0
        self.states: dict[int, str] = {}

    def on_event(self, event: Event) -> None:
        if isinstance(event, InboundReceived) and event.message_id is not None:
            self.count += 1
        elif isinstance(event, ChannelStateChanged):
            self.states[event.channel_id] = event.state


async def until(check: Callable[[], bool], deadline: float) -> float | None:
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > deadline:
            return None
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


async def bench_stall(workdir: Path, burst: int) -> dict[str, Any]:
    admin = FirstAdmin("admin", "Bench Admin", "bench-password-0123456789")
    core, _ = await init_core(workdir / "stall-data", admin)
    meter = common.StallMeter()
    try:
        with common.simulator("--auto-pair") as sim:
            return await _burst_run(core, sim, burst, meter)
    finally:
        await meter.stop()
        core.close()


async def _burst_run(
    core: Core, sim: common.SimulatorProcess, burst: int, meter: common.StallMeter
) -> dict[str, Any]:
    actor = core.local_actor()
    branch = await core.branches.add(actor, "Centro")
    config: dict[str, object] = {"simulator_url": sim.url, "account": "rajada"}
    view = await core.channels.create(
        actor, ChannelSpec(branch.id, "rajada", "Rajada", "simulator", config=config)
    )
    seen = Stored()
    core.bus.subscribe(seen.on_event, None)
    supervisor = build_supervisor(core)
    core.channels.runtime = supervisor
    await supervisor.start()
    sender = build_sender(core, supervisor)
    core.outbound.sender = sender
    try:
        await until(lambda: seen.states.get(view.id) == LinkState.QR_REQUIRED.value, 60)
        await core.channels.pair(actor, view.id, None)
        if await until(lambda: seen.states.get(view.id) == LinkState.CONNECTED.value, 60) is None:
            raise RuntimeError("the burst channel never connected")
        await sender.start()
        freeze_startup_objects()  # as app.engine.serve does
        async with httpx.AsyncClient(base_url=sim.url, timeout=60, trust_env=False) as http:
            await http.get("/control/health")  # httpx's lazy imports: before the meter starts
            meter.start()
            meter.enter("burst")
            started = time.perf_counter()
            answer = await http.post("/control/burst", json={"channel": "rajada", "count": burst})
            answer.raise_for_status()
            done = await until(lambda: seen.count >= burst, 1800)  # 600 s was short here
            elapsed = time.perf_counter() - started
            meter.enter("after")
    finally:
        core.outbound.sender = None
        await sender.stop()
        core.channels.runtime = None
        await supervisor.stop()
    return {
        "burst": burst, "stored": seen.count, "all_stored": done is not None,
        "seconds": round(elapsed, 3), "per_s": round(seen.count / elapsed, 1),
        "longest_stall_ms": meter.phase_ms().get("burst"), "ticks": meter.ticks,
        "ticks_over_50ms": meter.over_50ms,
        "worst": [{"late_ms": round(1000 * late, 1), "at_s": round(at, 2)}
                  for late, phase, at in meter.top if phase == "burst"],
        "gc": meter.gc_report(),
    }  # fmt: skip


# ---- report ------------------------------------------------------------------------------


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _figure(name: str, value: float | None, goal: float, at_least: bool, unit: str
            ) -> dict[str, Any]:  # fmt: skip
    ratio = None if value is None else round(value / goal, 3)
    meets = None if value is None else (value >= goal if at_least else value <= goal)
    return {"figure": name, "value": value, "unit": unit,
            "goal": f"{'>=' if at_least else '<='} {goal:g}", "value_per_goal": ratio,
            "meets_goal": meets}  # fmt: skip


def figures(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of issue 4 with its value and value / goal (only for the benches run)."""
    rows = []
    if "ingest" in report:
        rows.append(_figure("ingest: pipeline rate / raw executemany rate",
                            report["ingest"]["ratio"], GOAL_INGEST_RATIO, True, ""))  # fmt: skip
    if "send" in report:
        p95 = report["send"]["request_to_simulator"]["p95_ms"]
        rows.append(_figure("send: API request -> simulator p95 (ms)", p95, GOAL_SEND_P95_MS,
                            False, "ms"))  # fmt: skip
    if "search" in report:
        s = report["search"]
        for who in ("receptionist", "admin"):
            worst = max((q["p95_ms"] for k, q in s["queries"].items() if k.startswith(who)),
                        default=None)  # fmt: skip
            rows.append(_figure(f"search: {who}, worst query p95 (ms)", worst,
                                GOAL_SEARCH_P95_MS, False, "ms"))  # fmt: skip
    if "stall" in report:
        stall = report["stall"]["longest_stall_ms"]
        rows.append(_figure("stall: longest loop stall in the burst (ms)", stall, GOAL_STALL_MS,
                            False, "ms"))  # fmt: skip
    return rows


def checks(report: dict[str, Any]) -> dict[str, bool]:
    found = {}
    if "ingest" in report:
        ingest = report["ingest"]
        found["ingest_all_stored"] = ingest["stored_inbound"] == ingest["events"]
    if "send" in report:
        found["send_all_arrived"] = (
            report["send"]["request_to_simulator"]["n"] == report["send"]["sends"]
        )
    if "search" in report:
        found["search_rare_word_found"] = all(
            q["hits"] > 0 for k, q in report["search"]["queries"].items() if "admin: rare" in k
        )
    if "stall" in report:
        found["stall_all_stored"] = report["stall"]["all_stored"]
    return found


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB, {m['os']} "
        f"(kernel {m['kernel']}), Python {m['python']}, {m['sqlcipher']}; load average "
        f"{m.get('load_avg_1m_at_start')} at start, {m.get('load_avg_1m_at_end')} at end",
        f"scale: {report['scale']}, benches: {', '.join(report['benches'])}",
        "",
        *common.figure_lines(report["figures"]),
    ]
    lines.append("")
    for key in BENCHES:
        if key in report:
            lines.append(f"{key}: {json.dumps(report[key], ensure_ascii=False)}")
    lines.append(f"checks: {json.dumps(report['checks'])}")
    lines.append(f"elapsed (s): {json.dumps(report['elapsed_s'])}")
    if report["errors"]:
        lines.append(f"errors: {report['errors']}")
    return "\n".join(lines)


passed = common.passed


# ---- the run -----------------------------------------------------------------------------


@dataclass
class Options:
    benches: tuple[str, ...] = BENCHES
    scale: float = 1.0
    search_db: Path | None = None
    ingest_channels: int = 32
    send_channels: int = 4
    search_rounds: int = 20


async def run_benchmark(options: Options, workdir: Path) -> dict[str, Any]:
    """Run the chosen sub-benchmarks in ``workdir`` and return the report."""
    report: dict[str, Any] = {
        "machine": common.machine(), "scale": options.scale, "benches": list(options.benches),
        "errors": [], "elapsed_s": {},
    }  # fmt: skip
    rng = random.Random(4)
    with key_dir(workdir):
        for bench in options.benches:
            count, started = scaled(bench, options.scale), time.perf_counter()
            try:
                report[bench] = await _one(bench, options, workdir, count, rng)
            except Exception as exc:  # report the others anyway
                report["errors"].append(f"{bench}: {type(exc).__name__}: {exc}")
            report["elapsed_s"][bench] = round(time.perf_counter() - started, 1)
    report["machine"]["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    report["figures"] = figures(report)
    report["checks"] = checks(report)
    return report


async def _one(bench: str, o: Options, workdir: Path, count: int, rng: random.Random
               ) -> dict[str, Any]:  # fmt: skip
    if bench == "ingest":
        return await bench_ingest(workdir, count, min(o.ingest_channels, count), rng)
    if bench == "send":
        return await asyncio.to_thread(bench_send, workdir, count, o.send_channels)
    if bench == "search":
        return await bench_search(workdir, count, o.search_db, o.search_rounds)
    return await bench_stall(workdir, count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.bench_messaging", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--only", default=",".join(BENCHES),
                        help="comma-separated: ingest,send,search,stall (default all)")  # fmt: skip
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count")
    parser.add_argument("--search-db", type=Path, default=None,
                        help="keep (or reuse) the seeded search store in this folder")  # fmt: skip
    parser.add_argument("--search-rounds", type=int, default=20, help="searches per query")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    benches = tuple(b for b in args.only.split(",") if b)
    if not benches or set(benches) - set(BENCHES) or args.scale <= 0:
        parser.error(f"--only takes {','.join(BENCHES)}; --scale must be > 0")
    options = Options(benches, args.scale, args.search_db, search_rounds=args.search_rounds)
    workdir = Path(tempfile.mkdtemp(prefix="clinicdesk-bench-msg-"))
    try:
        report = asyncio.run(run_benchmark(options, workdir))
    finally:
        if args.keep:
            print(f"work folder kept: {workdir}", file=sys.stderr)
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render(report))
    return 0 if passed(report) else 1


__all__ = ["Options", "passed", "render", "run_benchmark"]

if __name__ == "__main__":
    sys.exit(main())
