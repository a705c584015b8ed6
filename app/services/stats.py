"""Counts of stored messages and outbox rows per channel, for ``clinicdesk status --json``.

Counts only (no text, no numbers), so crash tests can compare what the simulator saw with what
the store holds after restarts.
"""

from __future__ import annotations

from app.services.ports import Store, Tx

ChannelCountsJson = dict[str, object]


def counts_of(tx: Tx) -> dict[int, ChannelCountsJson]:
    """``{channel_id: {"name", "in", "out", "outbox": {status: n}}}`` inside ``tx``.

    Every channel appears, and every outbox status, with zeros where nothing is stored.
    """
    return {
        c.channel_id: {"name": c.name, "in": c.inbound, "out": c.outbound, "outbox": c.outbox}
        for c in tx.outbox.counts()
    }


async def channel_counts(store: Store) -> dict[int, ChannelCountsJson]:
    """:func:`counts_of` in a read transaction (the engine's ``/status``)."""
    return await store.read(counts_of)
