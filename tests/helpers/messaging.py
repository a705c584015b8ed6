"""A real store with a channel, queues and an inbound pipeline on a hand-moved clock."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PIL import Image
from sqlalchemy import func, select

from app.services.audit import Auditor
from app.services.events import Event
from app.services.inbound import InboundPipeline
from app.services.ports import NewChannel
from app.services.transport import EventKind, InboundMessage, TransportEvent
from app.store import schema
from app.store.repositories import SqlTx
from tests.integration.conftest import FakeClock, Installation

PATIENT = "5511987654321@s.whatsapp.net"
PATIENT_NO_NINE = "551187654321@s.whatsapp.net"
PATIENT_LID = "204812345678901@lid"


@dataclass
class Desk:
    """One installation with a channel in branch "Centro" and the pipeline feeding it."""

    inst: Installation
    clock: FakeClock
    pipeline: InboundPipeline
    branch_id: int
    channel_id: int
    events: list[Event] = field(default_factory=list)
    _seq: int = 0

    @property
    def store(self) -> Any:
        return self.inst.core.store

    def event(self, chat: str = PATIENT, text: str | None = "Olá", **kw: Any) -> TransportEvent:
        """An inbound text event with a fresh WhatsApp id (pass ``wa_id`` to repeat one)."""
        self._seq += 1
        fields: dict[str, Any] = {
            "wa_id": f"WA{self._seq:06d}",
            "chat_jid": chat,
            "sender_jid": chat,
            "timestamp": self.clock.now().timestamp(),
            "text": text,
            "push_name": "Maria Silva",
        }
        fields.update(kw)
        message = InboundMessage(**fields)
        return TransportEvent(EventKind.INBOUND, "canal", message=message, ack_ref=str(self._seq))

    async def ingest(self, event: TransportEvent) -> None:
        await self.pipeline.ingest(self.channel_id, event)

    async def count(self, table: str, **where: object) -> int:
        t = schema.metadata.tables[table]

        def work(tx: SqlTx) -> int:
            query = select(func.count()).select_from(t)
            for key, value in where.items():
                query = query.where(t.c[key] == value)
            return int(tx.conn.execute(query).scalar_one())

        return int(await self.store.read(work))

    async def rows(self, table: str, **where: object) -> list[Any]:
        t = schema.metadata.tables[table]

        def work(tx: SqlTx) -> list[Any]:
            query = select(t)
            for key, value in where.items():
                query = query.where(t.c[key] == value)
            return list(tx.conn.execute(query.order_by(*t.primary_key.columns)))

        return list(await self.store.read(work))

    async def counts(self) -> dict[str, int]:
        tables = ("messages", "contacts", "tickets", "outbox", "contact_identities")
        return {name: await self.count(name) for name in (*tables, "inbound_quarantine")}

    async def add_queue(self, name: str, greeting: str | None = None, order: int = 0) -> int:
        def work(tx: SqlTx) -> int:
            return tx.messaging.add_queue(self.branch_id, name, greeting, order, None)

        return int(await self.store.transaction(work))

    async def set_branch(self, **values: object) -> None:
        def work(tx: SqlTx) -> None:
            t = schema.branches
            tx.conn.execute(t.update().where(t.c.id == self.branch_id).values(**values))

        await self.store.transaction(work)

    async def set_setting(self, key: str, value: str, at: datetime) -> None:
        def work(tx: SqlTx) -> None:
            row = {"branch_id": self.branch_id, "key": key, "value": value, "updated_at": at}
            tx.conn.execute(schema.settings.insert().values(**row))

        await self.store.transaction(work)


async def make_desk(inst: Installation, clock: FakeClock, branch: str = "Centro") -> Desk:
    """Add a simulator channel to ``branch`` and build the pipeline on ``clock``."""
    branch_id = inst.branch_ids[branch]
    name = f"canal-{branch.lower()}"
    new = NewChannel(branch_id, name, name, "simulator")
    channel_id = await inst.core.store.transaction(lambda tx: tx.channels.add(new, clock.now()))
    core = inst.core
    pipeline = InboundPipeline(core.store, clock, Auditor(clock), core.bus)
    desk = Desk(inst, clock, pipeline, branch_id, int(channel_id))
    core.bus.subscribe(desk.events.append, None)
    return desk


async def make_media_desk(inst: Installation, clock: FakeClock) -> Desk:
    """:func:`make_desk` whose pipeline stores attachments in the real media store."""
    desk = await make_desk(inst, clock)
    core = inst.core
    desk.pipeline = InboundPipeline(
        core.store, clock, Auditor(clock), core.bus, media=core.media.blobs
    )
    return desk


def png(colour: tuple[int, int, int] = (20, 120, 200)) -> bytes:
    """A small PNG of one colour (the colour makes two files differ)."""
    out = io.BytesIO()
    Image.new("RGB", (24, 16), colour).save(out, format="PNG")
    return out.getvalue()


def patient(n: int) -> str:
    """The phone JID of test patient ``n`` (a valid São Paulo mobile)."""
    return f"55119{87_000_000 + n:08d}@s.whatsapp.net"
