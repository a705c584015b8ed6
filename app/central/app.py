"""The central office server: a FastAPI app over one SQLAlchemy engine.

``create_app(engine, settings, clock)`` builds it; ``clock`` (unix seconds) is injectable so
tests can move time. Signed ingest and enrolment live here; the admin API and the dashboard in
:mod:`app.central.admin`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.central.admin import add_admin_routes
from app.central.context import Central
from app.central.enrolment import BadCodeError, BadKeyError, enrol, public_key_of
from app.central.ingest import RejectedError, answer, ingest
from app.central.retention import run_retention
from app.central.settings import CentralSettings
from app.sync import protocol as p
from app.sync.schema import EnrollAnswer, EnrollRequest, IngestAnswer, Rejection, ReportBatch

log = logging.getLogger("app.central")
_APPLIANCE = re.compile(r"^[0-9a-f]{32}$")


def create_app(
    engine: Engine,
    settings: CentralSettings | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The central's ASGI app on ``engine`` (which the caller owns and disposes)."""
    central = Central(engine, settings or CentralSettings(), clock)
    app = FastAPI(
        title="ClinicDesk central",
        version="1",
        lifespan=_lifespan(central),
        docs_url=None,
        redoc_url=None,
    )
    app.state.central = central
    app.add_middleware(BodyCap, central=central)
    app.add_exception_handler(SQLAlchemyError, _database_down(central))
    _add_sync_routes(app, central)
    add_admin_routes(app, central)
    _add_ops_routes(app, central)
    _document_report_body(app)
    return app


def _lifespan(
    central: Central,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = (
            asyncio.create_task(_retention_loop(central))
            if central.settings.run_retention
            else None
        )
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return lifespan


async def _retention_loop(central: Central) -> None:
    """Retention at start, then every ``retention_interval_s`` (the DB work in a thread)."""
    s = central.settings
    while True:
        try:
            pruned = await asyncio.to_thread(
                run_retention, central.engine, central.clock(), s.keep_days
            )
            log.info(
                "retention: %d reports, %d nonces removed",
                pruned.reports,
                pruned.nonces,
                extra={"code": "central.retention"},
            )
        except SQLAlchemyError:
            log.warning(
                "retention failed; retrying later", extra={"code": "central.retention_failed"}
            )
        await asyncio.sleep(s.retention_interval_s)


def _database_down(central: Central) -> Callable[[Request, Exception], Any]:
    async def handler(_request: Request, exc: Exception) -> Response:
        status = 503 if isinstance(exc, OperationalError) else 500
        log.error("database error: %s", type(exc).__name__, extra={"code": "central.db_error"})
        body = Rejection(
            error="unavailable", detail="database error", server_time=int(central.clock())
        )
        return JSONResponse(body.model_dump(), status_code=status, headers={"Retry-After": "30"})

    return handler


class BodyCap:
    """Buffers each request body up to MAX_BODY_BYTES and answers 413 ``too_large`` beyond it:
    a declared Content-Length is checked before anything is read, a chunked body as soon as
    it passes the cap. The app then reads the buffered body as usual."""

    def __init__(self, app: ASGIApp, central: Central) -> None:
        self.app = app
        self.central = central

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > p.MAX_BODY_BYTES):
            await self._too_large(scope, receive, send, headers)
            return
        body = await self._read(receive)
        if body is None:
            await self._too_large(scope, receive, send, headers)
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    async def _read(receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)  # client went away: the app sees an empty body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > p.MAX_BODY_BYTES:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]
    ) -> None:
        appliance = headers.get(p.H_APPLIANCE.lower(), "-")
        appliance = appliance if _APPLIANCE.match(appliance) else "-"
        detail = f"request body over {p.MAX_BODY_BYTES} bytes"
        response = self.central.reject(413, p.REJECT_TOO_LARGE, detail, appliance)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # after the body: only a disconnect can come
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


_REJECTIONS: dict[int | str, dict[str, Any]] = {
    code: {"model": Rejection} for code in (400, 401, 403, 409, 413, 422, 429, 503)
}


def _add_sync_routes(app: FastAPI, central: Central) -> None:
    @app.post(p.REPORTS_PATH, response_model=IngestAnswer, responses=_REJECTIONS, tags=["sync"])
    async def post_reports(request: Request) -> Response:
        """Store a signed batch of reports (see app/sync/protocol.py for the signature)."""
        body = await request.body()
        now = central.clock()
        try:
            outcome = await run_in_threadpool(ingest, central.engine, request.headers, body, now)
        except RejectedError as exc:
            return central.reject(exc.status, exc.error, exc.detail, exc.appliance)
        central.metrics.reports.inc(outcome.accepted)
        central.metrics.duplicates.inc(outcome.duplicates)
        return JSONResponse(answer(outcome, now).model_dump())

    @app.post(p.ENROLL_PATH, response_model=EnrollAnswer, responses=_REJECTIONS, tags=["sync"])
    def post_enroll(body: EnrollRequest, request: Request) -> Response:
        """Enrol an appliance with a one-time code and its Ed25519 public key."""
        return _enrol(central, body, request.client.host if request.client else "-")


def _enrol(central: Central, body: EnrollRequest, address: str) -> Response:
    now = central.clock()
    wait = central.throttle.retry_after(address, now)
    if wait is not None:
        detail = "too many bad codes; try later"
        return central.reject(429, "throttled", detail, headers={"Retry-After": str(wait)})
    try:
        key = public_key_of(body.public_key)
    except BadKeyError:
        return central.reject(400, p.REJECT_MALFORMED, "public_key is not an Ed25519 key")
    try:
        enrolled = enrol(central.engine, body.code, key, body.app_version, now)
    except BadCodeError:
        central.throttle.failed(address, now)
        return central.reject(403, "bad_code", "code unknown, used or expired")
    log.info("appliance %s enrolled", enrolled.appliance_id, extra={"code": "central.enrolled"})
    result = EnrollAnswer(
        appliance_id=enrolled.appliance_id, label=enrolled.label, server_time=int(now)
    )
    return JSONResponse(result.model_dump())


def _add_ops_routes(app: FastAPI, central: Central) -> None:
    @app.get("/metrics", tags=["ops"], response_class=Response)
    def metrics() -> Response:
        """Prometheus text exposition (aggregates only; no authentication)."""
        return Response(central.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, bool]:
        """The process answers (no database check)."""
        return {"ok": True}


def _document_report_body(app: FastAPI) -> None:
    """The ingest route reads raw bytes (the signature covers them), so FastAPI cannot infer
    its body; describe it, and the signature headers, in the OpenAPI document by hand."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        defs = ReportBatch.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(defs.pop("$defs", {}))
        components["ReportBatch"] = defs
        operation = schema["paths"][p.REPORTS_PATH]["post"]
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ReportBatch"}}
            },
        }
        operation["parameters"] = [
            {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
            for name in (p.H_APPLIANCE, p.H_TIMESTAMP, p.H_NONCE, p.H_SIGNATURE)
        ]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
