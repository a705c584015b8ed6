"""Prometheus metrics of one central app (its own registry: no process-wide state).

Only aggregates: counts per reason, and per appliance its disconnected numbers, backup age and
last-seen age. Counters are per server process (they restart at zero, as Prometheus expects).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.central.fleet import ApplianceView
from app.sync import protocol as p

REASONS = (
    p.REJECT_UNKNOWN_APPLIANCE,
    p.REJECT_REVOKED,
    p.REJECT_BAD_SIGNATURE,
    p.REJECT_STALE,
    p.REJECT_REPLAYED,
    p.REJECT_MALFORMED,
    p.REJECT_TOO_LARGE,
    "bad_code",
    "throttled",
)
_PER_APPLIANCE = ["appliance", "label"]


class CentralMetrics:
    """The counters the app updates, plus fleet gauges read at scrape time."""

    def __init__(self, now: Callable[[], float], fleet: Callable[[], list[ApplianceView]]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.reports = Counter(
            "clinicdesk_central_reports_ingested", "New reports stored", registry=self.registry
        )
        self.duplicates = Counter(
            "clinicdesk_central_report_duplicates",
            "Reports received again (agent retries)",
            registry=self.registry,
        )
        self.rejections = Counter(
            "clinicdesk_central_rejections",
            "Refused requests by reason",
            ["reason"],
            registry=self.registry,
        )
        for reason in REASONS:
            self.rejections.labels(reason=reason)
        self.registry.register(_FleetCollector(now, fleet))

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)


class _FleetCollector(Collector):
    def __init__(self, now: Callable[[], float], fleet: Callable[[], list[ApplianceView]]) -> None:
        self._now = now
        self._fleet = fleet

    def collect(self) -> Iterator[Metric]:
        now = self._now()
        fleet = [a for a in self._fleet() if not a.revoked]
        yield GaugeMetricFamily(
            "clinicdesk_central_appliances", "Enrolled appliances (not revoked)", len(fleet)
        )
        yield GaugeMetricFamily(
            "clinicdesk_central_appliances_online",
            "Appliances heard from within the online window",
            sum(a.online for a in fleet),
        )
        yield from self._per_appliance(fleet, now)

    @staticmethod
    def _per_appliance(fleet: list[ApplianceView], now: float) -> Iterator[Metric]:
        down = GaugeMetricFamily(
            "clinicdesk_central_channels_disconnected",
            "WhatsApp numbers not connected",
            labels=_PER_APPLIANCE,
        )
        backup = GaugeMetricFamily(
            "clinicdesk_central_backup_age_seconds",
            "Age of the last good backup",
            labels=_PER_APPLIANCE,
        )
        seen = GaugeMetricFamily(
            "clinicdesk_central_last_seen_age_seconds",
            "Seconds since the last accepted report",
            labels=_PER_APPLIANCE,
        )
        for a in fleet:
            labels = [a.appliance_id, a.label]
            down.add_metric(labels, len(a.disconnected))
            if a.backup_age_h is not None:
                backup.add_metric(labels, a.backup_age_h * 3600.0)
            if a.last_seen is not None:
                seen.add_metric(labels, max(0.0, now - a.last_seen))
        yield from (down, backup, seen)
