"""Settings of one central office server (defaults suit one office; tests shorten them)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_KEEP_DAYS = 90
DEFAULT_PORT = 8770
DEFAULT_TTL_HOURS = 24.0  # an enrolment code's life
ENV_DB = "CLINICDESK_CENTRAL_DB"


@dataclass(frozen=True, slots=True)
class CentralSettings:
    """Thresholds and schedules of the central."""

    online_window_s: float = 600.0  # "online" = a report within 10 minutes
    backup_alert_hours: float = 48.0
    keep_days: int = DEFAULT_KEEP_DAYS  # raw reports; daily rollups are kept
    retention_interval_s: float = 3600.0
    enrol_max_failures: int = 20  # bad codes from one address…
    enrol_failure_window_s: float = 600.0  # …within this window, then 429
    run_retention: bool = True  # at start and every retention_interval_s (lifespan)
