"""The fleet as the office sees it: one view per appliance, derived from its latest figures
and the daily rollups. The admin API, the CSV export, the dashboard and /metrics all read it,
so they never disagree."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, Row, select

from app.central.db import appliances, daily_rollups
from app.central.settings import CentralSettings
from app.domain.channels import LinkState
from app.sync.schema import Figures

CONNECTED = LinkState.CONNECTED.value


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A WhatsApp number that is not connected: its local id, branch and state code."""

    channel_id: int
    branch_id: int
    state: str


@dataclass(frozen=True, slots=True)
class Volumes:
    """Messages in and out from the daily rollups."""

    today_in: int = 0
    today_out: int = 0
    week_in: int = 0
    week_out: int = 0


@dataclass(frozen=True, slots=True)
class ApplianceView:
    """One appliance, ready to show."""

    appliance_id: str
    label: str
    enrolled_at: float
    revoked: bool
    last_seen: float | None
    online: bool
    last_seq: int
    app_version: str | None
    figures: Figures | None
    channels_total: int
    disconnected: tuple[ChannelView, ...]
    backup_age_h: float | None
    backup_error: str | None
    backup_alert: bool
    volumes: Volumes

    @property
    def audit_head(self) -> str | None:
        """``SEQ:HASH`` of the audit chain's head (hash shortened for people)."""
        if self.figures is None:
            return None
        audit = self.figures.audit
        return f"{audit.head_seq}:{audit.head_hash[:12]}"

    @property
    def queued(self) -> int:
        return 0 if self.figures is None else self.figures.sync.queued

    @property
    def dropped(self) -> int:
        return 0 if self.figures is None else self.figures.sync.dropped_total

    @property
    def latest_figures(self) -> dict[str, Any] | None:
        return None if self.figures is None else self.figures.model_dump(mode="json")


def utc_day(moment: float) -> date:
    """The UTC calendar day of a unix time."""
    return datetime.fromtimestamp(moment, UTC).date()


def load_fleet(engine: Engine, now: float, settings: CentralSettings) -> list[ApplianceView]:
    """Every enrolled appliance (revoked ones too), by label."""
    today = utc_day(now)
    with engine.connect() as conn:
        rows = conn.execute(select(appliances).order_by(appliances.c.label, appliances.c.id)).all()
        rollups = conn.execute(
            select(daily_rollups).where(daily_rollups.c.day >= today - timedelta(days=6))
        ).all()
    volumes = _volumes(rollups, today)
    return [_view(row, volumes.get(row.id, Volumes()), now, settings) for row in rows]


def _volumes(rollups: Sequence[Row[Any]], today: date) -> dict[str, Volumes]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in rollups:
        acc = sums[r.appliance_id]
        acc[2] += r.messages_in
        acc[3] += r.messages_out
        if r.day == today:
            acc[0] += r.messages_in
            acc[1] += r.messages_out
    return {key: Volumes(*acc) for key, acc in sums.items()}


def _figures(text: str | None) -> Figures | None:
    if text is None:
        return None
    try:
        return Figures.model_validate_json(text)
    except ValidationError:  # stored by an older schema: show the appliance without figures
        return None


def _view(row: Row[Any], volumes: Volumes, now: float, settings: CentralSettings) -> ApplianceView:
    figures = _figures(row.latest_figures)
    channels = [(b.branch_id, c) for b in (figures.branches if figures else []) for c in b.channels]
    down = tuple(
        ChannelView(c.channel_id, bid, c.state) for bid, c in channels if c.state != CONNECTED
    )
    age_h, error, alert = _backup(figures, now, settings)
    last_seen = row.last_seen
    return ApplianceView(
        appliance_id=row.id,
        label=row.label,
        enrolled_at=row.enrolled_at,
        revoked=row.revoked_at is not None,
        last_seen=last_seen,
        online=last_seen is not None and now - last_seen <= settings.online_window_s,
        last_seq=int(row.last_seq or 0),
        app_version=row.app_version,
        figures=figures,
        channels_total=len(channels),
        disconnected=down,
        backup_age_h=age_h,
        backup_error=error,
        backup_alert=alert,
        volumes=volumes,
    )


def _backup(
    figures: Figures | None, now: float, settings: CentralSettings
) -> tuple[float | None, str | None, bool]:
    """(age in hours of the last good backup, last error code, alert?)."""
    if figures is None:
        return None, None, False
    backup = figures.backup
    last = backup.last_success
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    age_h = None if last is None else max(0.0, (now - last.timestamp()) / 3600.0)
    alert = age_h is None or age_h > settings.backup_alert_hours or backup.last_error is not None
    return age_h, backup.last_error, alert


@dataclass(frozen=True, slots=True)
class Summary:
    """The dashboard's headline (revoked appliances are not counted)."""

    online: int
    total: int
    disconnected: int
    backup_alerts: int


def summarise(fleet: list[ApplianceView]) -> Summary:
    """N online of M, K disconnected numbers, J backup alerts."""
    active = [a for a in fleet if not a.revoked]
    return Summary(
        online=sum(a.online for a in active),
        total=len(active),
        disconnected=sum(len(a.disconnected) for a in active),
        backup_alerts=sum(a.backup_alert for a in active),
    )


def iso(moment: float | None) -> str | None:
    """ISO 8601 UTC text of a unix time (None stays None)."""
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat()
