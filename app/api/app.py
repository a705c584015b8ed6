"""The engine's FastAPI application, built around an already-wired core."""

from __future__ import annotations

from fastapi import FastAPI

from app import __version__
from app.api import (
    events_ws,
    routes_admin,
    routes_auth,
    routes_backups,
    routes_channels,
    routes_exports,
    routes_media,
    routes_outbound,
    routes_reminders,
    routes_search,
    routes_stats,
    routes_sync,
    routes_tickets,
)
from app.api.errors import install_error_handlers
from app.api.schemas import HealthOut
from app.bootstrap import Core


def create_app(core: Core, engine_meta: dict[str, object] | None = None) -> FastAPI:
    """An API app bound to ``core``; ``engine_meta`` is echoed by ``/status``."""
    app = FastAPI(title="ClinicDesk engine", version=__version__, docs_url=None, redoc_url=None)
    app.state.core = core
    app.state.engine_meta = engine_meta or {}
    install_error_handlers(app)
    app.include_router(routes_auth.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_channels.router)
    app.include_router(routes_outbound.router)
    app.include_router(routes_media.router)
    app.include_router(routes_tickets.router)
    app.include_router(routes_search.router)
    app.include_router(routes_stats.router)
    app.include_router(routes_reminders.router)
    app.include_router(routes_exports.router)
    app.include_router(routes_backups.router)
    app.include_router(routes_sync.router)
    app.include_router(events_ws.router)

    @app.get("/health")
    async def health() -> HealthOut:
        """Liveness, without authentication and without any data."""
        return HealthOut(status="ok", version=__version__)

    return app
