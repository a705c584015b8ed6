"""``clinicdesk channel add|list|pair|logout|suspend|resume``."""

from __future__ import annotations

import argparse
import io
import json
import time
from typing import Any

import qrcode
from websockets.sync.client import ClientConnection, connect

from app.cli.backends import admin_backend
from app.cli.output import print_json, print_table
from app.cli.remote import EngineClient, running_engine
from app.config import DataDir, resolve_data_dir
from app.domain.errors import ClinicDeskError, ErrorCode

EXIT_OK = 0
COLUMNS = ["name", "kind", "state", "reason", "reconnects"]


def _engine(args: argparse.Namespace) -> EngineClient:
    client = running_engine(DataDir(resolve_data_dir(args.data_dir)))
    if client is None:
        raise ClinicDeskError(ErrorCode.CHANNEL_NOT_RUNNING)
    return client


def cmd_channel(args: argparse.Namespace) -> int:
    """Dispatch the channel sub-commands (all but ``add``/``list`` need a running engine)."""
    if args.action in ("add", "list"):
        return _offline_or_engine(args)
    client = _engine(args)
    try:
        if args.action == "pair":
            return pair(client, args.name, args.phone, args.timeout)
        client.call("POST", f"/channels/{args.name}/{args.action}")
        print(f"Channel {args.name}: {args.action} requested")
        return EXIT_OK
    finally:
        client.close()


def _offline_or_engine(args: argparse.Namespace) -> int:
    backend = admin_backend(args)
    try:
        if args.action == "add":
            channel = backend.add_channel(_channel_body(args))
            print(f"Channel {channel['name']} created (id {channel['id']}, {channel['state']})")
            return EXIT_OK
        channels = backend.list_channels()
    finally:
        backend.close()
    if args.json:
        print_json(channels)
    else:
        print_table(channels, COLUMNS)
    return EXIT_OK


def _channel_body(args: argparse.Namespace) -> dict[str, Any]:
    body = {"branch": args.branch, "name": args.name, "kind": args.kind, "phone": args.phone}
    body |= {"display_name": args.display_name, "simulator_url": args.simulator_url}
    return body


def pair(client: EngineClient, name: str, phone: str | None, timeout: float) -> int:
    """Ask the engine to pair ``name``; show the QR or code; wait for CONNECTED or the end."""
    channel = client.call("GET", f"/channels/{name}")
    with _event_stream(client) as ws:
        result = client.call("POST", f"/channels/{name}/pair", json={"phone": phone})
        if result.get("code"):
            print(f"On the phone: Linked devices > Link with phone number: {result['code']}")
        try:
            return _follow(ws, int(channel["id"]), time.monotonic() + timeout)
        except (ClinicDeskError, KeyboardInterrupt):
            # nobody is watching any more: close the window so no QR is made for nobody
            client.call("POST", f"/channels/{name}/pair/cancel")
            raise


def _event_stream(client: EngineClient) -> ClientConnection:
    url = client.url.replace("http://", "ws://", 1) + "/events"
    ws = connect(url, additional_headers={"Authorization": client.auth_header})
    json.loads(ws.recv(timeout=10))  # Hello: subscribed before pairing starts
    return ws


def _follow(ws: ClientConnection, channel_id: int, deadline: float) -> int:
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            break
        if event.get("channel_id") != channel_id:
            continue
        outcome = _on_event(event)
        if outcome is not None:
            return outcome
    raise ClinicDeskError(ErrorCode.CHANNEL_PAIRING_TIMEOUT)


def _on_event(event: dict[str, Any]) -> int | None:
    if event["type"] == "PairingQr":
        print(render_qr(event["qr"]), flush=True)
        print("Scan with WhatsApp > Linked devices > Link a device", flush=True)
        return None
    if event["type"] != "ChannelStateChanged":
        return None
    if event["state"] == "CONNECTED":
        print("Connected.")
        return EXIT_OK
    if event["state"] in ("ERROR", "QR_REQUIRED") and event["reason"] != "not_paired":
        raise ClinicDeskError(ErrorCode.CHANNEL_PAIRING_FAILED, reason=event["reason"])
    return None


def render_qr(payload: str) -> str:
    """The QR as terminal text (two characters per module, readable by phone cameras)."""
    qr = qrcode.QRCode(border=2)
    qr.add_data(payload)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()
