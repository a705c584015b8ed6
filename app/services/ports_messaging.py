"""Ports of the messaging pipeline (contacts' identities, messages, tickets, queues, quarantine).

Filled in by the inbound/tickets work; ``Tx.messaging`` exposes them inside a transaction.
"""

from __future__ import annotations

from typing import Protocol


class MessagingRepo(Protocol):
    """Messages, tickets, queues, identities and quarantine inside one transaction."""
