"""An inbox page's extras (contact name, tags, newest message) come from three batched reads.

The per-row version made three reads per ticket; this checks the batched one row by row on a
real encrypted store, including the cases a set-based query gets wrong: two messages with the
same timestamp (the later id is the newest), a ticket without messages, a contact without a
name, and tags of another ticket.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from app.config import DataDir
from app.services.ports import NewChannel
from app.services.ports_messaging import ListingExtras
from app.store.repositories import SqlTx
from app.store.schema import messages, tickets
from app.store.store import Store
from app.store.types import utcnow

KEY = bytes(range(32))


def _seed(tx: SqlTx) -> list[int]:
    at = utcnow()
    branch = tx.branches.add("Centro", at)
    channel = tx.channels.add(NewChannel(branch, "centro", "Centro", "simulator"), at)
    ana = tx.messaging.add_contact(branch, "+5511987650000", None, "Ana", at)
    nameless = tx.messaging.add_contact(branch, "+5511987650001", None, None, at)
    ids = []
    for contact in (ana, nameless, ana):
        row = {"branch_id": branch, "contact_id": contact, "channel_id": channel}
        done = tx.conn.execute(insert(tickets).values(**row, last_activity_at=at, created_at=at))
        ids.append(int(done.inserted_primary_key[0]))  # type: ignore[index]
    first, second, _empty = ids
    said = [(first, "in", "Oi", at), (first, "out", "Bom dia", at + timedelta(seconds=5)),
            (first, "in", "Tenho consulta?", at + timedelta(seconds=5)),  # same time, later id
            (second, "in", "Exame", at)]  # fmt: skip
    for n, (ticket_id, direction, body, sent) in enumerate(said):
        chat = f"55119876500{n:02d}@s.whatsapp.net"
        tx.conn.execute(insert(messages).values(
            ticket_id=ticket_id, channel_id=channel, chat_jid=chat, sender_jid=chat,
            wa_id=f"W{n}", direction=direction, body=body, sent_at=sent, stored_at=sent,
        ))  # fmt: skip
    for tag in ("urgente", "retorno"):
        tx.messaging.add_tag(first, branch, tag)
    tx.messaging.add_tag(second, branch, "convenio")
    return ids


def test_each_row_gets_its_own_name_tags_and_newest_message(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    store = Store.create(DataDir(root), KEY)
    try:
        first, second, empty = store.transaction_sync(_seed)

        def read(tx: SqlTx) -> dict[int, ListingExtras]:
            rows = [tx.messaging.get_ticket(i) for i in (empty, second, first)]
            return tx.messaging.listing_extras([r for r in rows if r is not None])

        extras = store.read_sync(read)
        assert store.read_sync(lambda tx: tx.messaging.listing_extras([])) == {}
    finally:
        store.close()
    assert extras[first] == ListingExtras("Ana", ("retorno", "urgente"), "in", "text",
                                          "Tenho consulta?")  # fmt: skip
    assert extras[second] == ListingExtras(None, ("convenio",), "in", "text", "Exame")
    assert extras[empty] == ListingExtras("Ana", (), None, None, None)
