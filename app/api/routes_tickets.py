"""The ticket desk: tickets (keyset pages, conversation, actions, tags, notes), quick replies,
contact merges and queues. Every rule (visibility, roles) lives in the services.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.api.deps import ActorDep, CoreDep
from app.api.schemas_tickets import (
    ContactOut,
    IdOut,
    MemberIn,
    MergeIn,
    MessageOut,
    MessagePageOut,
    NoteIn,
    NoteOut,
    QueueChangeIn,
    QueueIn,
    QueueOut,
    QuickReplyChangeIn,
    QuickReplyIn,
    QuickReplyOut,
    RenderedOut,
    StartIn,
    TagsOut,
    TicketDetailOut,
    TicketListQuery,
    TicketOut,
    TicketPageOut,
    TransferIn,
)
from app.services.queues import QueueChange, QueueService
from app.services.ticket_start import StartRequest
from app.services.tickets import TicketFilters, TicketService, TicketView

router = APIRouter()


# The services are stateless over the core's store, clock, auditor and bus: built per request
# until the composition root carries them.
def _tickets(core: CoreDep) -> TicketService:
    return core.tickets


def _queues(core: CoreDep) -> QueueService:
    return core.queues


TicketsDep = Annotated[TicketService, Depends(_tickets)]
QueuesDep = Annotated[QueueService, Depends(_queues)]
Limit = Annotated[int, Query(ge=1, le=200)]


def _out(view: TicketView) -> TicketOut:
    return TicketOut.model_validate(view)


@router.get("/tickets")
async def list_tickets(
    params: Annotated[TicketListQuery, Query()], actor: ActorDep, tickets: TicketsDep
) -> TicketPageOut:
    """Visible tickets, most recent activity first (tabs: status=pending|open|closed)."""
    p = params
    ids = tuple(p.ids) if p.ids else None
    filters = TicketFilters(p.status, p.queue, p.channel, p.tag, p.mine, p.cursor, p.limit, ids)
    page = await tickets.list(actor, filters)
    return TicketPageOut(items=[_out(t) for t in page.items], next_cursor=page.next_cursor)


@router.get("/tickets/{ticket_id}")
async def get_ticket(ticket_id: int, actor: ActorDep, tickets: TicketsDep) -> TicketDetailOut:
    """One ticket and its internal notes (the read is audited)."""
    detail = await tickets.get(actor, ticket_id)
    notes = [NoteOut.model_validate(n) for n in detail.notes]
    return TicketDetailOut(ticket=_out(detail.ticket), notes=notes)


@router.get("/tickets/{ticket_id}/messages")
async def ticket_messages(
    ticket_id: int,
    actor: ActorDep,
    tickets: TicketsDep,
    cursor: str | None = None,
    limit: Limit = 50,
) -> MessagePageOut:
    """The conversation, newest first, one keyset page at a time (the read is audited)."""
    page = await tickets.messages(actor, ticket_id, cursor, limit)
    items = [MessageOut.model_validate(m) for m in page.items]
    return MessagePageOut(items=items, next_cursor=page.next_cursor)


@router.post("/tickets", status_code=201)
async def start_ticket(
    body: StartIn, actor: ActorDep, tickets: TicketsDep, response: Response
) -> TicketOut:
    """Start a conversation with a patient by phone number: 201 with a new open ticket
    assigned to the caller, or 200 with the patient's active ticket on that channel.
    Errors: 400 ``phone.invalid``; 404 channel or queue; 403 a queue the caller cannot see;
    409 the patient's active ticket there is in a queue the caller cannot see."""
    request = StartRequest(body.channel_id, body.phone, body.queue_id, body.name)
    view, created = await tickets.start(actor, request)
    if not created:
        response.status_code = 200
    return _out(view)


@router.post("/tickets/{ticket_id}/accept")
async def accept(ticket_id: int, actor: ActorDep, tickets: TicketsDep) -> TicketOut:
    return _out(await tickets.accept(actor, ticket_id))


@router.post("/tickets/{ticket_id}/read")
async def mark_read(ticket_id: int, actor: ActorDep, tickets: TicketsDep) -> TicketOut:
    """The caller has seen the conversation: its unread count goes back to zero."""
    return _out(await tickets.mark_read(actor, ticket_id))


@router.post("/tickets/{ticket_id}/resolve")
async def resolve(ticket_id: int, actor: ActorDep, tickets: TicketsDep) -> TicketOut:
    return _out(await tickets.resolve(actor, ticket_id))


@router.post("/tickets/{ticket_id}/reopen")
async def reopen(ticket_id: int, actor: ActorDep, tickets: TicketsDep) -> TicketOut:
    return _out(await tickets.reopen(actor, ticket_id))


@router.post("/tickets/{ticket_id}/transfer")
async def transfer(
    ticket_id: int, body: TransferIn, actor: ActorDep, tickets: TicketsDep
) -> TicketOut:
    """To a queue and/or a person of the ticket's branch."""
    return _out(await tickets.transfer(actor, ticket_id, body.queue_id, body.user_id))


@router.post("/tickets/{ticket_id}/tags/{tag}")
async def add_tag(ticket_id: int, tag: str, actor: ActorDep, tickets: TicketsDep) -> TagsOut:
    return TagsOut(tags=await tickets.add_tag(actor, ticket_id, tag))


@router.delete("/tickets/{ticket_id}/tags/{tag}")
async def remove_tag(ticket_id: int, tag: str, actor: ActorDep, tickets: TicketsDep) -> TagsOut:
    return TagsOut(tags=await tickets.remove_tag(actor, ticket_id, tag))


@router.post("/tickets/{ticket_id}/notes", status_code=201)
async def add_note(ticket_id: int, body: NoteIn, actor: ActorDep, tickets: TicketsDep) -> IdOut:
    """An internal note: never sent to the patient."""
    return IdOut(id=await tickets.add_note(actor, ticket_id, body.body))


@router.get("/tickets/{ticket_id}/quick-replies/{shortcut}")
async def render_quick_reply(
    ticket_id: int, shortcut: str, actor: ActorDep, tickets: TicketsDep
) -> RenderedOut:
    """``/shortcut`` with this ticket's placeholders filled (for the composer; not sent)."""
    return RenderedOut(text=await tickets.render_quick_reply(actor, ticket_id, shortcut))


@router.get("/quick-replies")
async def list_quick_replies(
    branch_id: int, actor: ActorDep, tickets: TicketsDep
) -> list[QuickReplyOut]:
    return [QuickReplyOut.model_validate(q) for q in await tickets.quick_replies(actor, branch_id)]


@router.post("/quick-replies", status_code=201)
async def add_quick_reply(
    body: QuickReplyIn, actor: ActorDep, tickets: TicketsDep
) -> QuickReplyOut:
    reply = await tickets.add_quick_reply(actor, body.branch_id, body.shortcut, body.body)
    return QuickReplyOut.model_validate(reply)


@router.put("/quick-replies/{reply_id}")
async def change_quick_reply(
    reply_id: int, body: QuickReplyChangeIn, actor: ActorDep, tickets: TicketsDep
) -> QuickReplyOut:
    """New shortcut and text (supervisors and admins of its branch); 409 if another reply of
    the branch has that shortcut; 404 for a reply outside the caller's branches."""
    reply = await tickets.change_quick_reply(actor, reply_id, body.shortcut, body.body)
    return QuickReplyOut.model_validate(reply)


@router.delete("/quick-replies/{reply_id}", status_code=204)
async def remove_quick_reply(reply_id: int, actor: ActorDep, tickets: TicketsDep) -> None:
    """Delete a quick reply (supervisors and admins of its branch)."""
    await tickets.remove_quick_reply(actor, reply_id)


@router.post("/contacts/merge")
async def merge_contacts(body: MergeIn, actor: ActorDep, core: CoreDep) -> IdOut:
    """Merge ``drop_id`` into ``keep_id`` (same branch); identities and tickets follow."""
    service = core.merges
    return IdOut(id=await service.merge(actor, body.keep_id, body.drop_id))


@router.get("/contacts/{contact_id}")
async def get_contact(contact_id: int, actor: ActorDep, core: CoreDep) -> ContactOut:
    """Name, phone, identity kinds, consent and tickets (newest 50); 404 unless the caller may
    see one of the contact's tickets (the read is audited)."""
    return ContactOut.model_validate(await core.contacts.profile(actor, contact_id))


@router.get("/queues")
async def list_queues(branch_id: int, actor: ActorDep, queues: QueuesDep) -> list[QueueOut]:
    """The branch's queues in menu order; ``member`` marks the caller's own."""
    records, mine = await queues.list(actor, branch_id), await queues.member_of(actor)
    return [QueueOut.model_validate(q).model_copy(update={"member": q.id in mine}) for q in records]


@router.post("/queues", status_code=201)
async def create_queue(body: QueueIn, actor: ActorDep, queues: QueuesDep) -> QueueOut:
    queue = await queues.create(
        actor, body.branch_id, body.name, greeting=body.greeting,
        menu_order=body.menu_order, color=body.color,
    )  # fmt: skip
    return QueueOut.model_validate(queue)


@router.patch("/queues/{queue_id}")
async def change_queue(
    queue_id: int, body: QueueChangeIn, actor: ActorDep, queues: QueuesDep
) -> QueueOut:
    """Rename a queue or change its greeting, menu position or colour (admins of its branch);
    409 if another queue of the branch has that name."""
    queue = await queues.change(actor, queue_id, QueueChange(**body.model_dump()))
    return QueueOut.model_validate(queue)


@router.get("/queues/{queue_id}/members")
async def queue_members(queue_id: int, actor: ActorDep, queues: QueuesDep) -> list[int]:
    """The ids of the queue's members (admins of its branch; names: ``GET /users``)."""
    return await queues.members(actor, queue_id)


@router.post("/queues/{queue_id}/members", status_code=204)
async def add_member(queue_id: int, body: MemberIn, actor: ActorDep, queues: QueuesDep) -> None:
    await queues.add_member(actor, queue_id, body.user_id)


@router.delete("/queues/{queue_id}/members/{user_id}", status_code=204)
async def remove_member(queue_id: int, user_id: int, actor: ActorDep, queues: QueuesDep) -> None:
    await queues.remove_member(actor, queue_id, user_id)
