"""The central office's database: SQLAlchemy 2 Core tables and the engine factory.

SQLite (the default, one file) and PostgreSQL (``postgresql://`` URLs, through psycopg 3) are
supported; ingest uses each dialect's ``INSERT … ON CONFLICT``, so no other backend is. The
tables are created at open (``metadata.create_all``): the central has no Alembic history yet.
Times are unix seconds (float); days are UTC dates.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from app.domain.errors import ClinicDeskError, ErrorCode

metadata = MetaData()

appliances = Table(
    "appliances",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("label", String(200), nullable=False),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("enrolled_at", Float, nullable=False),
    Column("revoked_at", Float),
    Column("last_seen", Float),
    Column("last_seq", BigInteger, nullable=False, default=0),
    Column("app_version", String(32)),
    Column("latest_figures", Text),  # JSON of the Figures of the highest seq received
    Column("latest_report_at", Float),  # that report's created_at
)

enrolment_codes = Table(
    "enrolment_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),  # SHA-256 hex; the code itself is not kept
    Column("label", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float),
    Column("appliance_id", String(32)),
)

admin_tokens = Table(
    "admin_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
)

reports = Table(
    "reports",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("appliance_id", String(32), ForeignKey("appliances.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("day", Date, nullable=False),  # UTC day of created_at: the rollup it counts in
    Column("received_at", Float, nullable=False),
    Column("payload", Text, nullable=False),
    UniqueConstraint("appliance_id", "seq", name="uq_reports_appliance_seq"),
    Index("ix_reports_created_at", "created_at"),
)

seen_nonces = Table(
    "seen_nonces",
    metadata,
    Column("appliance_id", String(32), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen_at", Float, nullable=False),
    Index("ix_seen_nonces_seen_at", "seen_at"),
)

daily_rollups = Table(
    "daily_rollups",
    metadata,
    Column("appliance_id", String(32), ForeignKey("appliances.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("reports", BigInteger, nullable=False, default=0),
    Column("messages_in", BigInteger, nullable=False, default=0),
    Column("messages_out", BigInteger, nullable=False, default=0),
    Column("tickets_opened", BigInteger, nullable=False, default=0),
    Column("tickets_closed", BigInteger, nullable=False, default=0),
)

ROLLUP_FIELDS = ("reports", "messages_in", "messages_out", "tickets_opened", "tickets_closed")


def normalise_url(text: str) -> URL:
    """A SQLAlchemy URL for ``text``; ``postgresql://`` gets the psycopg 3 driver. Raises
    CENTRAL_DB_URL_INVALID for anything that is not a SQLite or PostgreSQL URL."""
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise ClinicDeskError(ErrorCode.CENTRAL_DB_URL_INVALID, url=_shown(text)) from exc
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        return url
    raise ClinicDeskError(ErrorCode.CENTRAL_DB_URL_INVALID, url=_shown(text))


def _shown(text: str) -> str:
    """The URL as it may appear in a message: never with its password."""
    try:
        return make_url(text).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable)"


def open_engine(text: str, *, create: bool = True) -> Engine:
    """A pooled Engine on ``text`` with the tables created. Raises CENTRAL_DB_URL_INVALID or
    CENTRAL_DB_UNREACHABLE (one clear line for the CLI) instead of a driver traceback."""
    url = normalise_url(text)
    try:
        engine = create_engine(url, pool_pre_ping=True, **_engine_options(url))
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ClinicDeskError(ErrorCode.CENTRAL_DB_URL_INVALID, url=_shown(text)) from exc
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        if create:
            metadata.create_all(engine)
        else:
            engine.connect().close()
    except (SQLAlchemyError, OSError) as exc:
        engine.dispose()
        raise ClinicDeskError(ErrorCode.CENTRAL_DB_UNREACHABLE, url=_shown(text)) from exc
    return engine


def _engine_options(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "postgresql":
        return {"connect_args": {"connect_timeout": 10}, "pool_size": 10, "max_overflow": 10}
    return {"connect_args": {"timeout": 10}}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the dashboard read while a batch is written; busy_timeout makes concurrent
    # writers from the thread pool wait their turn instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
