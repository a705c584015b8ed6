"""SQL behind :class:`app.services.ports_erase.ErasureRepo`: removing one patient's data.

Runs inside the caller's transaction (the single writer). Deleting ``messages`` rows fires the
FTS triggers; the FTS5 ``secure-delete`` option (migration 0010) and the ``secure_delete``
pragma make the removed text leave the index and the freed pages at once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from app.services.ports_erase import ErasureCounts
from app.store.schema import (
    contact_identities,
    contacts,
    erasures,
    inbound_quarantine,
    media_blobs,
    messages,
    notes,
    opt_outs,
    outbox,
    reminders,
    ticket_tags,
    tickets,
)

MERGE_DEPTH = 8  # contacts merged into merged contacts: a short chain at most


class ErasureRepository:
    """Erases a patient: rows deleted, the contact row emptied, the ledger written."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def erase(self, contact_id: int, at: datetime) -> ErasureCounts:
        """Remove everything of ``contact_id`` (and of contacts merged into it) but the
        tickets' bare rows, which the reports count; see the module docstring."""
        people = self._merged_into(contact_id)
        their_tickets = select(tickets.c.id).where(tickets.c.contact_id.in_(people))
        theirs = or_(messages.c.contact_id.in_(people), messages.c.ticket_id.in_(their_tickets))
        shas = self._shas(theirs)
        ids = select(messages.c.id).where(theirs)
        self._c.execute(delete(outbox).where(outbox.c.message_id.in_(ids)))
        self._delete_by_contact(opt_outs, people)  # they point at messages: first
        removed = self._c.execute(delete(messages).where(theirs)).rowcount
        for table in (notes, ticket_tags):
            self._c.execute(delete(table).where(table.c.ticket_id.in_(their_tickets)))
        closed = self._close(their_tickets, at)
        reminders_gone = self._delete_by_contact(reminders, people)
        quarantined = self._forget_identities(people)
        self._empty(people, at)
        files, thumbs = self._drop_unused_blobs(shas)
        return ErasureCounts(
            removed, len(files), closed, reminders_gone, quarantined, files + thumbs
        )

    def record(self, branch_id: int, contact_id: int, at: datetime, actor: int | None,
               counts: dict[str, int]) -> None:  # fmt: skip
        """The ledger row (ids and counts only)."""
        row = {"branch_id": branch_id, "contact_id": contact_id, "at": at}
        row |= {"actor_user_id": actor, "counts": json.dumps(counts, sort_keys=True)}
        self._c.execute(insert(erasures).values(**row))

    def _merged_into(self, contact_id: int) -> list[int]:
        people, frontier = [contact_id], [contact_id]
        for _ in range(MERGE_DEPTH):
            query = select(contacts.c.id).where(contacts.c.merged_into_id.in_(frontier))
            frontier = [int(i) for i in self._c.execute(query).scalars()]
            if not frontier:
                break
            people.extend(frontier)
        return people

    def _shas(self, theirs: Any) -> set[str]:
        query = select(messages.c.media_sha256).where(theirs & messages.c.media_sha256.is_not(None))
        return {str(s) for s in self._c.execute(query.distinct()).scalars()}

    def _close(self, their_tickets: Any, at: datetime) -> int:
        """Their conversations end (closed, nothing unread); the rows stay for the reports."""
        where = tickets.c.id.in_(their_tickets)
        self._c.execute(update(tickets).where(where).values(unread_count=0))
        still = where & (tickets.c.status != "closed")
        return int(
            self._c.execute(
                update(tickets).where(still).values(status="closed", closed_at=at)
            ).rowcount
        )

    def _delete_by_contact(self, table: Any, people: list[int]) -> int:
        return int(self._c.execute(delete(table).where(table.c.contact_id.in_(people))).rowcount)

    def _forget_identities(self, people: list[int]) -> int:
        """Delete their WhatsApp ids and numbers, and quarantined events that name them."""
        c = contact_identities.c
        values = {str(v) for v in self._c.execute(select(c.value).where(c.contact_id.in_(people)))}
        phones = select(contacts.c.phone_e164).where(contacts.c.id.in_(people))
        values |= {str(p).lstrip("+") for p in self._c.execute(phones).scalars() if p}
        values |= {v.split("@")[0] for v in values}  # a JID's number alone, in any payload
        self._c.execute(delete(contact_identities).where(c.contact_id.in_(people)))
        if not values:
            return 0
        q = inbound_quarantine.c
        named = or_(*(q.payload.contains(v, autoescape=True) for v in sorted(values) if v))
        return int(self._c.execute(delete(inbound_quarantine).where(named)).rowcount)

    def _empty(self, people: list[int], at: datetime) -> None:
        values: dict[str, object] = {"display_name": None, "phone_e164": None, "wa_lid": None}
        values |= {"opted_out_at": None, "erased_at": at, "updated_at": at}
        self._c.execute(update(contacts).where(contacts.c.id.in_(people)).values(**values))

    def _drop_unused_blobs(self, shas: set[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The media rows no other message uses, gone; (their blobs, their thumbnails), the
        files to delete after the commit."""
        if not shas:
            return (), ()
        used = select(messages.c.media_sha256).where(messages.c.media_sha256.in_(sorted(shas)))
        unused = sorted(shas - {str(s) for s in self._c.execute(used).scalars()})
        b = media_blobs.c
        thumbs = select(b.thumb_sha256).where(b.sha256.in_(unused) & b.thumb_sha256.is_not(None))
        found = [str(t) for t in self._c.execute(thumbs).scalars()]
        self._c.execute(delete(media_blobs).where(b.sha256.in_(unused + found)))  # thumbs too
        return tuple(unused), tuple(found)
