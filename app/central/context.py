"""What every route of one central app shares (built by :func:`app.central.app.create_app`)."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from app.central.dashboard import Dashboard
from app.central.fleet import ApplianceView, load_fleet
from app.central.metrics import CentralMetrics
from app.central.settings import CentralSettings
from app.sync.schema import Rejection

log = logging.getLogger("app.central")


class EnrolThrottle:
    """Bad enrolment codes per client address in a sliding window (in memory, per process:
    enough to make guessing an 80-bit code hopeless; a restart only resets the window)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self._limit = limit
        self._window = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str, now: float) -> int | None:
        """Seconds until ``address`` may try again, or None when it may now."""
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self._limit:
                return None
            return max(1, int(times[0] + self._window - now) + 1)

    def failed(self, address: str, now: float) -> None:
        """Count one bad code from ``address``."""
        with self._lock:
            self._recent(address, now).append(now)

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.setdefault(address, deque())
        while times and times[0] <= now - self._window:
            times.popleft()
        return times


@dataclass
class Central:
    """The engine, settings, clock, metrics and renderers of one app."""

    engine: Engine
    settings: CentralSettings
    clock: Callable[[], float]
    dashboard: Dashboard = field(default_factory=Dashboard)
    metrics: CentralMetrics = field(init=False)
    throttle: EnrolThrottle = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = CentralMetrics(self.clock, self.fleet)
        s = self.settings
        self.throttle = EnrolThrottle(s.enrol_max_failures, s.enrol_failure_window_s)

    def fleet(self) -> list[ApplianceView]:
        """Every appliance as shown now."""
        return load_fleet(self.engine, self.clock(), self.settings)

    def reject(
        self,
        status: int,
        error: str,
        detail: str = "",
        appliance: str = "-",
        headers: dict[str, str] | None = None,
    ) -> JSONResponse:
        """Log one warning line (reason and appliance id, never the body), count it, and
        answer the Rejection body."""
        log.warning(
            "request refused: %s (appliance %s)",
            error,
            appliance,
            extra={"code": f"central.{error}"},
        )
        self.metrics.rejections.labels(reason=error).inc()
        body = Rejection(error=error, detail=detail, server_time=int(self.clock()))
        return JSONResponse(body.model_dump(), status_code=status, headers=headers)
