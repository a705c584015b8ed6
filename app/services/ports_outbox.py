"""Ports of outbound sending (outbox rows, outbound messages, receipts).

Filled in by the outbound work; ``Tx.outbox`` exposes them inside a transaction.
"""

from __future__ import annotations

from typing import Protocol


class OutboxRepo(Protocol):
    """The outbox and outbound message rows inside one transaction."""
