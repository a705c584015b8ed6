"""Tables of the encrypted store (SQLAlchemy Core).

Every change here ships with an Alembic revision in ``app/store/migrations/versions``; a test
checks that the migrated schema matches this metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from app.store.types import UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

ROLES = ("super_admin", "admin", "supervisor", "receptionist")
CHANNEL_KINDS = ("simulator", "whatsapp-web", "cloud-api")
CHANNEL_STATES = (
    "INITIALIZING",
    "DISCONNECTED",
    "CONNECTING",
    "QR_REQUIRED",
    "PAIRING",
    "CONNECTED",
    "ERROR",
    "SUSPENDED",
)
TICKET_STATUSES = ("pending", "open", "closed")
DIRECTIONS = ("in", "out")
ACKS = ("pending", "sent", "delivered", "read", "failed")
OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "needs_review")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


branches = Table(
    "branches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("timezone", String(64), nullable=False, server_default="America/Sao_Paulo"),
    Column("business_hours", Text, nullable=True),  # JSON: weekday -> [[open, close], ...]
    Column("out_of_hours_message", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),  # stored lower-case
    Column("display_name", String(120), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("super_admin", Boolean, nullable=False, server_default=text("0")),
    Column("disabled", Boolean, nullable=False, server_default=text("0")),
    Column("failed_logins", Integer, nullable=False, server_default=text("0")),
    Column("throttled_until", UtcDateTime, nullable=True),
    Column("last_login_at", UtcDateTime, nullable=True),
    Column("password_changed_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("branch_id", ForeignKey("branches.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(20), nullable=False),
    CheckConstraint(_in("role", ROLES), name="role"),
    Index(None, "branch_id"),
)

channels = Table(
    "channels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("branch_id", ForeignKey("branches.id"), nullable=False),
    Column("name", String(64), nullable=False, unique=True),
    Column("display_name", String(120), nullable=False),
    Column("phone_e164", String(20), nullable=True),
    Column("kind", String(20), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("1")),
    Column("state", String(20), nullable=False, server_default="INITIALIZING"),
    Column("state_reason", String(64), nullable=True),
    Column("state_since", UtcDateTime, nullable=True),
    Column("send_limits", Text, nullable=True),  # JSON, overrides of the safe defaults
    Column("config", Text, nullable=True),  # JSON, transport-specific (e.g. simulator URL)
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint(_in("kind", CHANNEL_KINDS), name="kind"),
    CheckConstraint(_in("state", CHANNEL_STATES), name="state"),
    Index(None, "branch_id"),
)

channel_state_history = Table(
    "channel_state_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel_id", ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("from_state", String(20), nullable=True),
    Column("to_state", String(20), nullable=False),
    Column("reason", String(64), nullable=True),
    Index(None, "channel_id", "at"),
)

queues = Table(
    "queues",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("branch_id", ForeignKey("branches.id"), nullable=False),
    Column("name", String(80), nullable=False),
    Column("color", String(9), nullable=False, server_default="#3B82F6"),
    Column("greeting", Text, nullable=True),
    Column("menu_order", Integer, nullable=False, server_default=text("0")),
    UniqueConstraint("branch_id", "name"),
)

queue_members = Table(
    "queue_members",
    metadata,
    Column("queue_id", ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "user_id"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("branch_id", ForeignKey("branches.id"), nullable=False),
    Column("phone_e164", String(20), nullable=True),
    Column("wa_lid", String(64), nullable=True),
    Column("display_name", String(120), nullable=True),
    Column("consent_status", String(16), nullable=False, server_default="unknown"),
    Column("consent_at", UtcDateTime, nullable=True),
    Column("consent_text_hash", String(64), nullable=True),
    Column("consent_channel", String(32), nullable=True),
    Column("merged_into_id", ForeignKey("contacts.id"), nullable=True),
    Column("opted_out_at", UtcDateTime, nullable=True),  # SAIR/PARAR/STOP: no reminders
    Column("erased_at", UtcDateTime, nullable=True),  # LGPD erasure (migration 0010)
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("branch_id", "phone_e164"),
    UniqueConstraint("branch_id", "wa_lid"),
    CheckConstraint(
        _in("consent_status", ("unknown", "granted", "revoked")), name="consent_status"
    ),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("branch_id", ForeignKey("branches.id"), nullable=False),
    Column("contact_id", ForeignKey("contacts.id"), nullable=False),
    Column("channel_id", ForeignKey("channels.id"), nullable=False),
    Column("queue_id", ForeignKey("queues.id"), nullable=True),
    Column("assignee_id", ForeignKey("users.id"), nullable=True),
    Column("status", String(10), nullable=False, server_default="pending"),
    Column("unread_count", Integer, nullable=False, server_default=text("0")),
    Column("last_activity_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("accepted_at", UtcDateTime, nullable=True),
    Column("first_response_at", UtcDateTime, nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("last_inbound_at", UtcDateTime, nullable=True),
    Column("awaiting_menu", Boolean, nullable=False, server_default=text("0")),
    Column("menu_prompts", Integer, nullable=False, server_default=text("0")),  # menus sent
    # the staff member who started the conversation (migration 0008); null: the patient wrote
    Column("started_by_id", ForeignKey("users.id"), nullable=True),
    CheckConstraint(_in("status", TICKET_STATUSES), name="status"),
    # the inbox: a branch's tickets by status (and queue), most recent activity first
    Index("ix_tickets_inbox", "branch_id", "status", "queue_id", "last_activity_at"),
    # ... and without a queue filter: walked in order, no sort (migration 0005)
    Index("ix_tickets_status_activity", "status", "last_activity_at", "id"),
    Index("ix_tickets_branch_activity", "branch_id", "status", "last_activity_at", "id"),
    Index("ix_tickets_assignee", "assignee_id", "status", "last_activity_at"),
    Index(None, "contact_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ticket_id", ForeignKey("tickets.id"), nullable=True),
    Column("channel_id", ForeignKey("channels.id"), nullable=False),
    Column("contact_id", ForeignKey("contacts.id"), nullable=True),
    Column("chat_jid", String(80), nullable=False),
    Column("sender_jid", String(80), nullable=False, server_default=""),
    Column("wa_id", String(80), nullable=True),  # set for outbound once WhatsApp accepted it
    Column("direction", String(3), nullable=False),
    Column("kind", String(16), nullable=False, server_default="text"),
    Column("body", Text, nullable=True),
    Column("media_sha256", String(64), nullable=True),
    Column("media_mime", String(100), nullable=True),
    Column("media_name", String(255), nullable=True),
    Column("media_size", Integer, nullable=True),
    Column("ack", String(10), nullable=False, server_default="pending"),
    Column("author_id", ForeignKey("users.id"), nullable=True),
    Column("automatic", Boolean, nullable=False, server_default=text("0")),  # greeting, menu
    Column("reminder_id", Integer, nullable=True),
    Column("sent_at", UtcDateTime, nullable=False),  # WhatsApp timestamp (or local, outbound)
    Column("stored_at", UtcDateTime, nullable=False),
    CheckConstraint(_in("direction", DIRECTIONS), name="direction"),
    CheckConstraint(_in("ack", ACKS), name="ack"),
    # natural key of a WhatsApp message: redelivery must change nothing
    UniqueConstraint("channel_id", "chat_jid", "sender_jid", "wa_id", "direction"),
    Index("ix_messages_ticket_time", "ticket_id", "sent_at"),
)

tags = Table(
    "tags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("branch_id", ForeignKey("branches.id"), nullable=False),
    Column("name", String(60), nullable=False),
    Column("color", String(9), nullable=False, server_default="#64748B"),
    UniqueConstraint("branch_id", "name"),
)

ticket_tags = Table(
    "ticket_tags",
    metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "tag_id"),
)

quick_replies = Table(
    "quick_replies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("branch_id", ForeignKey("branches.id"), nullable=False),
    Column("shortcut", String(40), nullable=False),
    Column("body", Text, nullable=False),
    UniqueConstraint("branch_id", "shortcut"),
)

notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("author_id", ForeignKey("users.id"), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "ticket_id", "created_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel_id", ForeignKey("channels.id"), nullable=False),
    Column("message_id", ForeignKey("messages.id"), nullable=False, unique=True),
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("status", String(14), nullable=False, server_default="queued"),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("last_error", String(120), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
    Index("ix_outbox_drain", "channel_id", "status", "next_attempt_at"),
)

settings = Table(
    "settings",
    metadata,
    Column("branch_id", Integer, primary_key=True, server_default=text("0")),  # 0: global
    Column("key", String(80), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", UtcDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor_user_id", Integer, nullable=True),
    Column("actor_name", String(64), nullable=False),
    Column("workstation", String(120), nullable=False, server_default=""),
    Column("action", String(64), nullable=False),
    Column("object_type", String(32), nullable=True),
    Column("object_id", String(64), nullable=True),
    Column("branch_id", Integer, nullable=True),
    Column("details", Text, nullable=False, server_default="{}"),  # JSON; ids and codes only
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)


contact_identities = Table(
    "contact_identities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("branch_id", ForeignKey("branches.id"), nullable=False),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),  # phone (canonical E.164), lid, jid
    Column("value", String(80), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("branch_id", "kind", "value"),
    CheckConstraint(_in("kind", ("phone", "lid", "jid")), name="kind"),
    Index(None, "contact_id"),
)

inbound_quarantine = Table(
    "inbound_quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel_id", ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("reason", String(64), nullable=False),
    Column("payload", Text, nullable=False),  # the event as received (inside the encrypted DB)
    Index(None, "channel_id", "received_at"),
)

media_blobs = Table(
    "media_blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("mime", String(100), nullable=False),
    Column("thumb_sha256", String(64), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

reminders = Table(
    "reminders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("branch_id", ForeignKey("branches.id"), nullable=False),
    Column("channel_id", ForeignKey("channels.id"), nullable=False),
    Column("contact_id", ForeignKey("contacts.id"), nullable=False),
    Column("body", Text, nullable=False),
    Column("next_run_at", UtcDateTime, nullable=True),  # None: done or cancelled
    Column("every_days", Integer, nullable=True),  # None: once (or cron)
    Column("cron", String(64), nullable=True),  # 5-field crontab in the branch's zone
    Column("campaign", String(32), nullable=True),  # groups the reminders of one campaign
    Column("status", String(12), nullable=False, server_default="scheduled"),
    Column("created_by", ForeignKey("users.id"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_sent_at", UtcDateTime, nullable=True),
    # "Responda 1 para confirmar ou 2 para remarcar" (migration 0009): the latest occurrence's
    # ticket, and the patient's answer to it (confirmed / declined; null: none yet)
    Column("ask_confirmation", Boolean, nullable=False, server_default=text("0")),
    Column("asked_ticket_id", Integer, nullable=True),
    Column("answer", String(10), nullable=True),
    Column("answered_at", UtcDateTime, nullable=True),
    CheckConstraint(
        _in("status", ("scheduled", "done", "cancelled", "skipped_opt_out")), name="status"
    ),
    Index("ix_reminders_due", "status", "next_run_at"),
    # the inbound pipeline looks up an unanswered question only for a message that is an answer
    Index(
        "ix_reminders_awaiting",
        "contact_id",
        "channel_id",
        sqlite_where=text("ask_confirmation = 1 AND answer IS NULL"),
    ),
    Index("ix_reminders_campaign", "campaign"),
    Index("ix_reminders_list", "branch_id", "created_at"),
)

opt_outs = Table(
    "opt_outs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("keyword", String(16), nullable=False),
    Column("message_id", ForeignKey("messages.id"), nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "contact_id"),
)

# The erasure ledger (LGPD): who erased which patient when, with counts; never any of the
# patient's data. Kept for accountability and for replaying erasures (docs/SECURITY.md).
erasures = Table(
    "erasures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("branch_id", ForeignKey("branches.id"), nullable=False),
    Column("contact_id", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor_user_id", ForeignKey("users.id"), nullable=True),
    Column("counts", Text, nullable=False),  # JSON: messages, attachments, tickets, …
)

sync_outbox = Table(
    "sync_outbox",
    metadata,
    Column("seq", Integer, primary_key=True),  # AUTOINCREMENT: never reused after deletes
    Column("created_at", UtcDateTime, nullable=False),
    Column("body", Text, nullable=False),  # the Report JSON, as it goes on the wire
    Column("size", Integer, nullable=False),  # len(body) in bytes, for the buffer's cap
    Index(None, "created_at"),
    sqlite_autoincrement=True,
)

# Full-text search (FTS5, external content, accent-insensitive): created by migration 0002 with
# their triggers; not SQLAlchemy tables (Alembic comparison skips names containing "_fts").
FTS_DDL = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages WHEN new.body IS NOT NULL BEGIN "
    "INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages WHEN old.body IS NOT NULL BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER messages_fts_au AFTER UPDATE OF body ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, body) SELECT 'delete', old.id, old.body "
    "WHERE old.body IS NOT NULL; "
    "INSERT INTO messages_fts(rowid, body) SELECT new.id, new.body WHERE new.body IS NOT NULL; END",
    "CREATE VIRTUAL TABLE contacts_fts USING fts5(display_name, content='contacts', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER contacts_fts_ai AFTER INSERT ON contacts WHEN new.display_name IS NOT NULL "
    "BEGIN INSERT INTO contacts_fts(rowid, display_name) VALUES (new.id, new.display_name); END",
    "CREATE TRIGGER contacts_fts_ad AFTER DELETE ON contacts WHEN old.display_name IS NOT NULL "
    "BEGIN INSERT INTO contacts_fts(contacts_fts, rowid, display_name) "
    "VALUES ('delete', old.id, old.display_name); END",
    "CREATE TRIGGER contacts_fts_au AFTER UPDATE OF display_name ON contacts BEGIN "
    "INSERT INTO contacts_fts(contacts_fts, rowid, display_name) "
    "SELECT 'delete', old.id, old.display_name WHERE old.display_name IS NOT NULL; "
    "INSERT INTO contacts_fts(rowid, display_name) SELECT new.id, new.display_name "
    "WHERE new.display_name IS NOT NULL; END",
)
FTS_DROP = (
    "DROP TRIGGER IF EXISTS contacts_fts_au",
    "DROP TRIGGER IF EXISTS contacts_fts_ad",
    "DROP TRIGGER IF EXISTS contacts_fts_ai",
    "DROP TABLE IF EXISTS contacts_fts",
    "DROP TRIGGER IF EXISTS messages_fts_au",
    "DROP TRIGGER IF EXISTS messages_fts_ad",
    "DROP TRIGGER IF EXISTS messages_fts_ai",
    "DROP TABLE IF EXISTS messages_fts",
)
