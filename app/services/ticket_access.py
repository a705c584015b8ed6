"""Who may see which ticket, enforced in the services (never left to the UI or the API).

- super admins: every ticket;
- supervisors and admins (VIEW_ALL_TICKETS): every ticket of their branches;
- receptionists: tickets in the queues they belong to, tickets assigned to them, and — when the
  branch setting ``unqueued_visible_to_receptionists`` is true, the default — pending tickets
  with no queue yet. The default favours a patient not waiting unseen in a branch whose menu is
  off or unanswered; ticketz#20 argues the opposite (confidentiality between sectors), and a
  branch that agrees sets it to false, leaving those tickets to supervisors.

A ticket outside the actor's branches is "not found" (its existence is not revealed); one in
the actor's branch but outside their queues is "access denied".
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from app.domain.errors import AccessDeniedError, ClinicDeskError, ErrorCode, NotFoundError
from app.domain.roles import Actor, Permission
from app.services.ports import Tx
from app.services.ports_messaging import TicketRecord, TicketScope

UNQUEUED_SETTING = "unqueued_visible_to_receptionists"
UNQUEUED_DEFAULT = True


def scope_for(tx: Tx, actor: Actor) -> TicketScope:
    """The tickets ``actor`` may see, as a :class:`TicketScope`."""
    if actor.super_admin:
        return TicketScope(branches=None, whole_branches=None)
    handle = frozenset(b for b in actor.roles if actor.can(Permission.HANDLE_TICKETS, b))
    whole = frozenset(b for b in handle if actor.can(Permission.VIEW_ALL_TICKETS, b))
    unqueued = frozenset(b for b in handle - whole if _unqueued_visible(tx, b))
    queues = frozenset(tx.messaging.queues_of_user(actor.user_id)) if actor.user_id else frozenset()
    return TicketScope(handle, whole, queues, actor.user_id, unqueued)


def _unqueued_visible(tx: Tx, branch_id: int) -> bool:
    value = tx.messaging.setting(branch_id, UNQUEUED_SETTING)
    return value if isinstance(value, bool) else UNQUEUED_DEFAULT


def visible_ticket(tx: Tx, actor: Actor, ticket_id: int) -> TicketRecord:
    """The ticket, if ``actor`` may see it; else not-found (other branch) or access-denied."""
    ticket = tx.messaging.get_ticket(ticket_id)
    if ticket is None or not actor.can(Permission.HANDLE_TICKETS, ticket.branch_id):
        raise NotFoundError(ErrorCode.NOT_FOUND, entity="ticket")
    if not tx.messaging.ticket_visible(ticket_id, scope_for(tx, actor)):
        raise AccessDeniedError(ErrorCode.ACCESS_DENIED, permission="ticket_queue")
    return ticket


def require_user(actor: Actor) -> int:
    """The actor's user id; actions that name a person (accept, notes) need a real account."""
    if actor.user_id is None:
        raise AccessDeniedError(ErrorCode.ACCESS_DENIED, permission="staff_account")
    return actor.user_id


# ---- keyset cursors -----------------------------------------------------------------------


def encode_cursor(at: datetime, row_id: int) -> str:
    """An opaque cursor for the sort key ``(at, id)``."""
    raw = f"{round(at.timestamp() * 1000)}:{row_id}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The sort key inside ``cursor`` (None: from the start); ``input.invalid`` if tampered."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        millis, row_id = (int(part) for part in raw.split(":"))
        return datetime.fromtimestamp(millis / 1000, tz=UTC), row_id
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError, OSError):
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="cursor") from None


def clamp_limit(limit: int, maximum: int = 200) -> int:
    """A page size between 1 and ``maximum``."""
    if limit < 1 or limit > maximum:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="limit")
    return limit
