"""``clinicdesk simulator serve``: the hub behind a Starlette app (WebSocket + control API).

Loopback only. The control API has no authentication: it is test and demo tooling that binds
127.0.0.1 and holds nothing but fake data. docs/SIMULATOR.md describes every route.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.infra.listen import listening_socket
from app.simulator import patients, protocol
from app.simulator.connection import Connection
from app.simulator.hub import Hub, HubOptions

MAX_BURST = 10_000


@dataclass(slots=True)
class ServeOptions:
    port: int = protocol.DEFAULT_PORT
    host: str = protocol.DEFAULT_HOST
    hub: HubOptions = field(default_factory=HubOptions)


class BadRequestError(ValueError):
    """A control request with a missing or invalid field (→ 400 with a short code)."""


def build_app(hub: Hub) -> Starlette:
    """The ASGI app: ``/ws`` for transports, ``/control/*`` for tests, the CLI and the demo."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    def route(path: str, fn: Callable[[Hub, dict[str, Any]], Any], method: str) -> Route:
        async def endpoint(request: Request) -> Response:
            return await _call(hub, request, fn)

        return Route(path, endpoint, methods=[method])

    async def websocket(ws: WebSocket) -> None:
        await _serve_socket(hub, ws)

    routes = [
        WebSocketRoute(protocol.WS_PATH, websocket),
        route("/control/health", _health, "GET"),
        route("/control/accounts", lambda h, _: h.snapshot(), "GET"),
        route("/control/accounts/{name}", _account, "GET"),
        route("/control/outbox/{name}", _outbox, "GET"),
        route("/control/scan", _scan, "POST"),
        route("/control/fault", _fault, "POST"),
        route("/control/burst", _burst, "POST"),
        route("/control/inbound", _inbound, "POST"),
        route("/control/reset", _reset, "POST"),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


# ---- WebSocket ---------------------------------------------------------------------------


async def _serve_socket(hub: Hub, ws: WebSocket) -> None:
    if hub.refusing(ws.query_params.get("account")):
        await _deny(ws)
        return
    await ws.accept()
    conn = Connection(ws.send_text, ws.close)
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("text") or message.get("bytes")
            if data is not None:
                await hub.on_text(conn, data)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await hub.on_closed(conn)


async def _deny(ws: WebSocket) -> None:
    """The ``refuse`` fault: the handshake fails with HTTP 503 (403 if the server can't say)."""
    try:
        await ws.send_denial_response(Response(status_code=503))
    except RuntimeError:
        await ws.close(protocol.CLOSE_UNAVAILABLE)


# ---- control API -------------------------------------------------------------------------


async def _call(hub: Hub, request: Request, fn: Callable[[Hub, dict[str, Any]], Any]) -> Response:
    try:
        body = await _body(request)
        result = fn(hub, body)
        if hasattr(result, "__await__"):
            result = await result
    except LookupError as exc:
        return JSONResponse({"error": str(exc).strip("'")}, status_code=404)
    except ValueError as exc:  # BadRequestError included
        return JSONResponse({"error": str(exc)}, status_code=400)
    if isinstance(result, tuple):
        return JSONResponse(result[1], status_code=result[0])
    return JSONResponse(result)


async def _body(request: Request) -> dict[str, Any]:
    """Path parameters plus, for POST, the JSON object in the body."""
    body: dict[str, Any] = dict(request.path_params)
    if request.method == "POST":
        try:
            payload = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise BadRequestError("not_json") from exc
        if not isinstance(payload, dict):
            raise BadRequestError("not_object")
        body.update(payload)
    return body


def _channel(body: dict[str, Any], *, required: bool = True) -> str | None:
    value = body.get("channel")
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 200:
        raise BadRequestError("channel_required")
    return value


def _existing(hub: Hub, name: str) -> Any:
    account = hub.registry.find(name)
    if account is None:
        raise LookupError("unknown_channel")
    return account


def _health(hub: Hub, _: dict[str, Any]) -> dict[str, Any]:
    snap = hub.snapshot()
    return {
        "ok": True,
        "protocol": protocol.VERSION,
        "accounts": len(snap["accounts"]),
        "connected": snap["connected"],
    }


def _account(hub: Hub, body: dict[str, Any]) -> dict[str, Any]:
    snap: dict[str, Any] = _existing(hub, str(body["name"])).snapshot()
    return snap


def _outbox(hub: Hub, body: dict[str, Any]) -> dict[str, Any]:
    account = _existing(hub, str(body["name"]))
    return {"channel": account.name, "messages": list(account.outbox)}


async def _scan(hub: Hub, body: dict[str, Any]) -> Any:
    account = _existing(hub, str(_channel(body)))
    if not await hub.scan(account):
        return 409, {"error": "not_pairing"}
    return {"paired": True, "channel": account.name}


async def _fault(hub: Hub, body: dict[str, Any]) -> dict[str, Any]:
    seconds = body.get("seconds")
    if seconds is not None and not _is_number(seconds):
        raise BadRequestError("bad_seconds")
    kind = body.get("kind")
    if not isinstance(kind, str):
        raise BadRequestError("kind_required")
    return await hub.apply_fault(kind, _channel(body, required=False), seconds)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _count(body: dict[str, Any], default: int | None = None) -> int:
    count = body.get("count", default)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= MAX_BURST:
        raise BadRequestError("bad_count")
    return count


def _burst(hub: Hub, body: dict[str, Any]) -> dict[str, Any]:
    account = hub.registry.get(str(_channel(body)))
    kind = body.get("kind", "text")
    if kind not in ("text", "image"):
        raise BadRequestError("bad_kind")
    count = _count(body)
    wa_ids = hub.burst(account, count, kind)
    connected = account.conn is not None
    return {"channel": account.name, "queued": count, "connected": connected, "wa_ids": wa_ids}


def _inbound(hub: Hub, body: dict[str, Any]) -> dict[str, Any]:
    """One message with a given text from patient ``patient`` (an index, default 0)."""
    account = hub.registry.get(str(_channel(body)))
    text, index = body.get("text"), body.get("patient", 0)
    if not isinstance(text, str) or not isinstance(index, int) or index < 0:
        raise BadRequestError("bad_message")
    kind = str(body.get("kind", "text"))
    extra = _reaction(body) if kind == "reaction" else _media(body)
    message = patients.make_message(index, text, kind, extra)
    hub.add_inbound(account, message)
    return {"channel": account.name, "wa_id": message["wa_id"]}


def _reaction(body: dict[str, Any]) -> dict[str, Any]:
    """``reacted_to``: the WhatsApp id of the message the patient reacts to."""
    on = body.get("reacted_to")
    if not isinstance(on, str) or not on:
        raise BadRequestError("bad_message")
    return {"reacted_to": on}


def _media(body: dict[str, Any]) -> dict[str, Any] | None:
    """Optional ``media_b64`` / ``media_mime`` / ``media_name`` of a non-text inbound message,
    passed on as given (tests send disguised or broken files through it)."""
    keys = ("media_b64", "media_mime", "media_name")
    media: dict[str, Any] = {k: body[k] for k in keys if k in body}
    if not media:
        return None
    if not all(isinstance(v, str) for v in media.values()):
        raise BadRequestError("bad_message")
    return media


async def _reset(hub: Hub, body: dict[str, Any]) -> dict[str, Any]:
    name = str(_channel(body))
    if not await hub.reset(name):
        raise LookupError("unknown_channel")
    return {"reset": name}


# ---- serving -----------------------------------------------------------------------------


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 picks a free one); large backlog for connect storms."""
    sock = listening_socket(host, port, backlog=4096)
    sock.set_inheritable(True)
    return sock


async def serve_async(options: ServeOptions, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until cancelled or signalled; ``on_ready`` gets the base URL once listening."""
    hub = Hub(options.hub)
    sock = bind(options.host, options.port)
    config = uvicorn.Config(
        build_app(hub),
        log_level="warning",
        access_log=False,
        ws="websockets-sansio",
        ws_max_size=protocol.MAX_FRAME,
        lifespan="on",
        backlog=4096,
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    host, port = sock.getsockname()[:2]
    if on_ready is not None:
        on_ready(f"http://{host}:{port}")
    await server.serve(sockets=[sock])
