"""Opt-out keywords in inbound messages: SAIR, PARAR or STOP stops reminders and campaigns to
the patient; VOLTAR starts them again (``app.domain.reminders.opt_keyword`` says what counts).

Called from routing inside the inbound transaction. The message itself is stored and ticketed
as usual (a person may need to read it); this only records the choice (an ``opt_outs`` row, the
contact's ``opted_out_at``, an audit entry) and names the one confirmation reply owed.
"""

from __future__ import annotations

from app.domain.auto_texts import DEFAULTS, OPT_IN_REPLY, OPT_OUT_REPLY
from app.domain.reminders import OPT_OUT_KEYWORDS, opt_keyword
from app.services.inbound_arrival import Arrival
from app.services.ports import NewAuditEntry, Tx

DEFAULT_OPT_OUT_REPLY = DEFAULTS[OPT_OUT_REPLY]
DEFAULT_OPT_IN_REPLY = DEFAULTS[OPT_IN_REPLY]
ACTOR_NAME = "system.inbound"


def opt_reply(
    tx: Tx,
    msg: Arrival,
    defaults: tuple[str, str] = (DEFAULT_OPT_OUT_REPLY, DEFAULT_OPT_IN_REPLY),
) -> tuple[str, str] | None:
    """Record an opt-out / opt-in keyword; the ``(purpose, text)`` reply owed, or None when the
    message is no keyword (or VOLTAR from a patient who never opted out)."""
    keyword = opt_keyword(msg.text)
    if keyword is None:
        return None
    facts = tx.reminders.contact(msg.contact_id)
    opted_out = facts is not None and facts.opted_out_at is not None
    if keyword in OPT_OUT_KEYWORDS:
        if not opted_out:
            tx.reminders.set_opted_out(msg.contact_id, msg.at)
        _record(tx, msg, keyword, "contact.opt_out")
        return "opt_out", branch_text(tx, msg.branch_id, OPT_OUT_REPLY, defaults[0])
    if not opted_out:
        return None
    tx.reminders.set_opted_out(msg.contact_id, None)
    _record(tx, msg, keyword, "contact.opt_in")
    return "opt_in", branch_text(tx, msg.branch_id, OPT_IN_REPLY, defaults[1])


def _record(tx: Tx, msg: Arrival, keyword: str, action: str) -> None:
    """The opt_outs row (VOLTAR rows too: the history of the patient's choices) and its audit."""
    row_id = tx.reminders.add_opt_out(msg.contact_id, keyword, msg.message_id, msg.at)
    details: dict[str, object] = {"keyword": keyword, "message_id": msg.message_id}
    details["opt_out_id"] = row_id
    entry = NewAuditEntry(
        at=msg.at, actor_user_id=None, actor_name=ACTOR_NAME, workstation="", action=action,
        object_type="contact", object_id=str(msg.contact_id), branch_id=msg.branch_id,
        details=details,
    )  # fmt: skip
    tx.audit.append(entry)


def branch_text(tx: Tx, branch_id: int, key: str, default: str) -> str:
    """The branch's text setting ``key``, or ``default`` when it is unset or blank."""
    value = tx.messaging.setting(branch_id, key)
    return value if isinstance(value, str) and value.strip() else default
