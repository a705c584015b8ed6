"""Where an inbound message goes: find, reopen or create its ticket, route it to a queue, and
decide the automatic replies (out-of-hours notice, numbered menu, the queue's greeting). An
answer to a reminder's "1 to confirm, 2 to reschedule" is filed by ``reminder_answers`` first.

Runs inside the pipeline's transaction; the replies are written by the pipeline as outbound
``messages`` rows with ``automatic=1`` and queued in the outbox in that same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.domain.errors import ClinicDeskError
from app.domain.tickets import (
    DEFAULT_REOPEN_WINDOW,
    MenuOption,
    TicketStatus,
    is_open,
    menu_choice,
    menu_text,
    out_of_hours_reply_due,
    parse_hours,
    reopens,
)
from app.services.inbound_arrival import Arrival
from app.services.opt_out import DEFAULT_OPT_IN_REPLY, DEFAULT_OPT_OUT_REPLY, opt_reply
from app.services.ports import Tx
from app.services.ports_messaging import QueueRecord, TicketRecord
from app.services.reminder_answers import Answered, take_answer

DEFAULT_MENU_HEADER = "Olá! Para agilizar o seu atendimento, responda com o número da opção:"
REOPEN_SETTING = "reopen_window_minutes"
MENU_HEADER_SETTING = "menu_header"


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    """Defaults; a branch overrides the reopen window and menu header in ``settings``."""

    reopen_window: timedelta = DEFAULT_REOPEN_WINDOW
    out_of_hours_quiet: timedelta = timedelta(hours=4)
    menu_header: str = DEFAULT_MENU_HEADER
    # A message that is not an option gets the menu again once, and only after a pause: the
    # rest of a burst was written before the menu was read (docs/MESSAGING.md, "Route").
    menu_repeats: int = 1
    menu_repeat_after: timedelta = timedelta(minutes=2)
    opt_out_reply: str = DEFAULT_OPT_OUT_REPLY  # a branch overrides it ("opt_out_reply")
    opt_in_reply: str = DEFAULT_OPT_IN_REPLY  # after VOLTAR ("opt_in_reply")


@dataclass(slots=True)
class Routed:
    """The ticket a message landed in, how, and the replies owed (``(purpose, text)``)."""

    ticket_id: int
    created: bool = False
    reopened: bool = False
    replies: list[tuple[str, str]] = field(default_factory=list)
    answered: Answered | None = None  # when it answered a reminder's question


def route(tx: Tx, arrival: Arrival, settings: RoutingSettings) -> Routed:
    """Put the message in a ticket (see the module docstring) and list the replies owed."""
    answered = _reminder_answer(tx, arrival)
    if answered is not None:  # its acknowledgement is the only reply (reminder_answers)
        return answered
    if arrival.kind == "reaction" and (filed := _file_reaction(tx, arrival)) is not None:
        return filed
    m = tx.messaging
    active = m.active_ticket(arrival.branch_id, arrival.contact_id, arrival.channel_id)
    if active is not None:
        routed, previous = _continue(tx, active, arrival, settings), active.last_inbound_at
    else:
        routed, previous = _reopen_or_create(tx, arrival, settings)
    _touch(tx, routed.ticket_id, arrival.at)
    notice = _out_of_hours(tx, arrival, previous, settings)
    if notice:
        routed.replies.insert(0, ("out_of_hours", notice))
    _opt_keyword(tx, arrival, routed, settings)
    return routed


def _reminder_answer(tx: Tx, arrival: Arrival) -> Routed | None:
    answered = take_answer(tx, arrival)
    if answered is None:
        return None
    routed = Routed(answered.ticket_id, reopened=answered.reopened, replies=[answered.reply])
    routed.answered = answered
    return routed


def _file_reaction(tx: Tx, arrival: Arrival) -> Routed | None:
    """A reaction joins the patient's active conversation, or else their last one without
    reopening it: a 👍 on "até amanhã" needs nobody. No menu, greeting or notice either.
    None when the patient has no conversation on the channel yet (then it is routed as usual)."""
    m, a = tx.messaging, arrival
    active = m.active_ticket(a.branch_id, a.contact_id, a.channel_id)
    if active is not None:
        _touch(tx, active.id, a.at)
        return Routed(active.id)
    last = m.latest_closed_ticket(a.branch_id, a.contact_id, a.channel_id)
    if last is None:
        return None
    m.update_ticket(
        last.id, last_activity_at=max(last.last_activity_at, a.at), last_inbound_at=a.at
    )
    return Routed(last.id)


def _opt_keyword(tx: Tx, arrival: Arrival, routed: Routed, cfg: RoutingSettings) -> None:
    """SAIR/PARAR/STOP or VOLTAR: record it; its confirmation is then the only reply (no menu
    or greeting on top of it). The message stays in its ticket like any other."""
    answer = opt_reply(tx, arrival, (cfg.opt_out_reply, cfg.opt_in_reply))
    if answer is not None:
        routed.replies = [answer]


def _continue(tx: Tx, ticket: TicketRecord, arrival: Arrival, cfg: RoutingSettings) -> Routed:
    routed = Routed(ticket.id)
    if not ticket.awaiting_menu or ticket.assignee_id is not None:
        return routed  # no menu pending, or a person has the ticket: the bot stays quiet
    queues = tx.messaging.queues(arrival.branch_id)
    choice = menu_choice(arrival.text, _options(queues))
    if choice is None:  # not an option: never guess; perhaps show the menu once more
        if _menu_again(ticket, arrival.at, cfg):
            tx.messaging.update_ticket(ticket.id, menu_prompts=ticket.menu_prompts + 1)
            routed.replies.append(("menu", _menu(tx, arrival.branch_id, queues, cfg)))
        return routed
    tx.messaging.update_ticket(ticket.id, queue_id=choice.queue_id, awaiting_menu=False)
    _greet(routed, _by_id(queues, choice.queue_id))
    return routed


def _menu_again(ticket: TicketRecord, at: datetime, cfg: RoutingSettings) -> bool:
    """Whether a message that is not an option gets the menu again: only ``menu_repeats``
    times per ticket, and only after ``menu_repeat_after`` without a message from the patient."""
    if ticket.menu_prompts >= 1 + cfg.menu_repeats:  # the first menu, then the repeats
        return False
    previous = ticket.last_inbound_at
    return previous is None or at - previous >= cfg.menu_repeat_after


def _reopen_or_create(
    tx: Tx, arrival: Arrival, cfg: RoutingSettings
) -> tuple[Routed, datetime | None]:
    m = tx.messaging
    closed = m.latest_closed_ticket(arrival.branch_id, arrival.contact_id, arrival.channel_id)
    window = _reopen_window(tx, arrival.branch_id, cfg)
    if closed is not None and reopens(closed.closed_at, arrival.at, window):
        # Same ticket, queue and person: the conversation simply goes on (ticketz#451).
        status = TicketStatus.OPEN if closed.assignee_id else TicketStatus.PENDING
        m.update_ticket(closed.id, status=status.value, closed_at=None)
        return Routed(closed.id, reopened=True), closed.last_inbound_at
    return _create(tx, arrival, cfg), None


def _create(tx: Tx, arrival: Arrival, cfg: RoutingSettings) -> Routed:
    """A new pending ticket: straight into the only queue, or awaiting the menu choice."""
    m = tx.messaging
    queues = m.queues(arrival.branch_id)
    queue = queues[0] if len(queues) == 1 else None
    ticket_id = m.add_ticket(
        arrival.branch_id, arrival.contact_id, arrival.channel_id,
        queue.id if queue else None, arrival.at,
    )  # fmt: skip
    routed = Routed(ticket_id, created=True)
    if len(queues) > 1:
        m.update_ticket(ticket_id, awaiting_menu=True, menu_prompts=1)
        routed.replies.append(("menu", _menu(tx, arrival.branch_id, queues, cfg)))
    elif queue is not None:
        _greet(routed, queue)
    return routed


def _touch(tx: Tx, ticket_id: int, at: datetime) -> None:
    ticket = tx.messaging.get_ticket(ticket_id)
    unread = (ticket.unread_count if ticket else 0) + 1
    last = max(ticket.last_activity_at, at) if ticket else at
    tx.messaging.update_ticket(
        ticket_id, last_activity_at=last, last_inbound_at=at, unread_count=unread
    )


def _out_of_hours(
    tx: Tx, arrival: Arrival, previous: datetime | None, cfg: RoutingSettings
) -> str | None:
    """The branch's out-of-hours text when it is closed now and a notice is due."""
    branch = tx.messaging.routing(arrival.branch_id)
    if branch is None or not branch.out_of_hours_message:
        return None
    try:
        hours = parse_hours(branch.business_hours)
    except ClinicDeskError:  # a broken setting must not stop messages: treat as always open
        return None
    if is_open(hours, arrival.at, branch.timezone):
        return None
    due = out_of_hours_reply_due(previous, arrival.at, cfg.out_of_hours_quiet)
    return branch.out_of_hours_message if due else None


def _greet(routed: Routed, queue: QueueRecord | None) -> None:
    if queue is not None and queue.greeting:
        routed.replies.append((f"greeting:{queue.id}", queue.greeting))


def _options(queues: list[QueueRecord]) -> list[MenuOption]:
    return [MenuOption(q.id, q.name) for q in queues]


def _by_id(queues: list[QueueRecord], queue_id: int) -> QueueRecord | None:
    return next((q for q in queues if q.id == queue_id), None)


def _menu(tx: Tx, branch_id: int, queues: list[QueueRecord], cfg: RoutingSettings) -> str:
    header = tx.messaging.setting(branch_id, MENU_HEADER_SETTING)
    text = header if isinstance(header, str) and header.strip() else cfg.menu_header
    return menu_text(text, _options(queues))


def _reopen_window(tx: Tx, branch_id: int, cfg: RoutingSettings) -> timedelta:
    minutes = tx.messaging.setting(branch_id, REOPEN_SETTING)
    if isinstance(minutes, int | float) and not isinstance(minutes, bool) and minutes >= 0:
        return timedelta(minutes=minutes)
    return cfg.reopen_window
