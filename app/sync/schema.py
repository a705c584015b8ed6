"""The report document (schema version 1) and the request/answer bodies of the sync API, as
pydantic models shared by the agent (which builds them) and the central (which validates them).

Everything here is a count, a duration, a state code, an id or a timestamp: there is no field
that could carry message text, a name or a phone number (tests/unit/test_sync_schema.py walks
these models and fails on any free-text field). Strings are constrained to short code-like
patterns; unknown fields are refused so that nothing rides along unnoticed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.sync.protocol import MAX_BATCH_REPORTS, SCHEMA_VERSION

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Version = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z.+-]{1,32}$")]
HexHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{0,128}$")]
ApplianceId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Count = Annotated[int, Field(ge=0, le=2**53)]
Seconds = Annotated[float, Field(ge=0, le=1e12)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelFigures(_Strict):
    """One WhatsApp number, identified by its local id only (never its phone number or name)."""

    channel_id: Count
    kind: Code
    state: Code
    state_reason: Code | None = None
    state_seconds: dict[Code, Seconds] = Field(default_factory=dict)  # in the period
    reconnects: Count = 0  # in the period
    warning: Code | None = None  # e.g. deaf_suspected


class BranchFigures(_Strict):
    """Volumes of one branch in the period (``messages_*``, ``tickets_opened/closed``) and now
    (``tickets_waiting``); first-response times of tickets answered in the period."""

    branch_id: Count
    channels: list[ChannelFigures] = Field(default_factory=list)
    messages_in: Count = 0
    messages_out: Count = 0
    tickets_opened: Count = 0
    tickets_closed: Count = 0
    tickets_waiting: Count = 0
    first_response_p50_s: Seconds | None = None
    first_response_p95_s: Seconds | None = None


class BackupFigures(_Strict):
    """Backup freshness: times of the last success, verify and restore test, and the last
    failure's error code (None when the last run succeeded)."""

    last_success: datetime | None = None
    last_verify: datetime | None = None
    last_restore_test: datetime | None = None
    last_error: Code | None = None


class AuditFigures(_Strict):
    """The audit chain's head: anchoring it off-machine lets a later check prove no entry
    before it was changed (``clinicdesk audit verify --anchor SEQ:HASH``)."""

    head_seq: Count
    head_hash: HexHash


class SystemFigures(_Strict):
    """The appliance itself."""

    app_version: Version
    uptime_s: Seconds
    disk_free_bytes: Count
    db_bytes: Count
    insecure_key_storage: bool = False


class SyncFigures(_Strict):
    """The agent's own health: reports dropped at the buffer's cap (since enrolment), and how
    many were queued when this one was made."""

    dropped_total: Count = 0
    queued: Count = 0


class Figures(_Strict):
    """What one report says about the period ``period_start``..``period_end``."""

    period_start: datetime
    period_end: datetime
    system: SystemFigures
    branches: list[BranchFigures] = Field(default_factory=list)
    backup: BackupFigures = Field(default_factory=BackupFigures)
    audit: AuditFigures
    errors: dict[Code, Count] = Field(default_factory=dict)  # error code -> count in the period
    sync: SyncFigures = Field(default_factory=SyncFigures)


class Report(_Strict):
    """One report: its sequence number (monotonic per appliance, never reused) and figures."""

    seq: Annotated[int, Field(ge=1, le=2**53)]
    created_at: datetime
    schema_version: Annotated[int, Field(ge=1, le=SCHEMA_VERSION)] = SCHEMA_VERSION
    figures: Figures


class ReportBatch(_Strict):
    """The body of ``POST /api/v1/reports``."""

    appliance_id: ApplianceId
    reports: Annotated[list[Report], Field(min_length=1, max_length=MAX_BATCH_REPORTS)]


class IngestAnswer(_Strict):
    """The central's answer to a batch: duplicates are a normal outcome (a retry)."""

    accepted: Count
    duplicates: Count
    last_seq: Count
    server_time: int


class Rejection(_Strict):
    """The central's answer to a refused request: ``error`` is one of the ``REJECT_*`` codes of
    :mod:`app.sync.protocol` (or ``bad_code`` at enrolment); ``server_time`` lets the agent
    correct a clock offset."""

    error: Code
    detail: str = ""
    server_time: int


class EnrollRequest(_Strict):
    """The body of ``POST /api/v1/enroll``."""

    code: Annotated[str, StringConstraints(pattern=r"^[A-Z2-7-]{8,64}$")]
    public_key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]
    app_version: Version


class EnrollAnswer(_Strict):
    """What the central answers a successful enrolment."""

    appliance_id: ApplianceId
    label: str
    server_time: int
