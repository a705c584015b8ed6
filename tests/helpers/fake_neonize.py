"""A fake of neonize's Go boundary (``gocode``), run inside a real channel-worker process.

The real neonize Python package stays in place (NewAClient, ctypes callbacks, Event.execute,
protobuf parsing); only the Go library is replaced, as in WHATSAPP_ENGINES.md Appendix B.
``Neonize()`` blocks like the real one until ``Stop(uuid)``; events are serialised protobufs
pushed through the very ctypes callbacks neonize handed over, only for subscribed codes (as
goneonize does). The device store is a real SQLite file with a ``whatsmeow_device`` table, so
sealing and "has credentials" work on the file whatsmeow would write.

Run as ``python -m tests.helpers.fake_neonize [worker args]``: it connects to the test's control
server at ``$CLINICDESK_FAKE_NEONIZE`` (host:port on loopback), installs the fake and runs the
real worker. Control lines are JSON: the test sends ``{"id", "cmd", ...}``, the fake answers
``{"id", "ok", ...}`` and reports ``{"note": ...}`` (started, stopped, sent, ...).
"""

from __future__ import annotations

import base64
import ctypes
import gc
import hashlib
import json
import os
import socket
import sqlite3
import sys
import threading
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

ENV = "CLINICDESK_FAKE_NEONIZE"


def fill_required(msg: Any) -> Any:
    """neonize's protos are proto2 with many required fields: give them their defaults."""
    for f in msg.DESCRIPTOR.fields:
        if f.type == FieldDescriptor.TYPE_MESSAGE and not f.is_repeated:
            if f.is_required or msg.HasField(f.name):
                fill_required(getattr(msg, f.name))
        elif f.is_required and not msg.HasField(f.name):
            default = f.enum_type.values[0].number if f.enum_type else f.default_value
            setattr(msg, f.name, default)
    return msg


class Control:
    """The line-based link to the test process."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)))
        self.file = self.sock.makefile("rwb")
        self.lock = threading.Lock()

    def send(self, body: dict[str, Any]) -> None:
        with self.lock:
            self.file.write(json.dumps(body).encode() + b"\n")
            self.file.flush()

    def lines(self) -> Any:
        for raw in self.file:
            yield json.loads(raw)


class FakeGo:
    """Stands in for ``neonize.aioze.client.gocode`` (see the module docstring)."""

    def __init__(self, control: Control) -> None:
        from neonize.events import EVENT_TO_INT
        from neonize.proto import Neonize_pb2 as pb

        self.pb, self.codes = pb, EVENT_TO_INT
        self.control = control
        self.lock = threading.Lock()
        self.clients: dict[str, dict[str, Any]] = {}  # uuid → callbacks, db, stop event
        self.order: list[str] = []
        self.stopped: list[str] = []
        self.blobs: dict[bytes, bytes] = {}
        self.sent = 0
        self.fail_sends = False
        self.refuse_dial = False

    # ---- the Go functions neonize calls ---------------------------------------------------

    def Neonize(self, db: bytes, uuid: bytes, jid: Any, jidsize: int, newdev: int, lvl: int,
                qr_cb: Any, login_cb: Any, event_cb: Any, log_cb: Any, subs: Any, nsubs: int,
                props: bytes, nprops: int, pp: Any, npp: int, proxy: Any) -> bytes:  # fmt: skip
        key = uuid.decode()
        path = db.decode()
        _ensure_schema(path)
        if self.refuse_dial:
            return b"failed to dial whatsapp web websocket"
        stop = threading.Event()
        wanted = set(bytes(subs)[:nsubs])
        with self.lock:
            self.clients[key] = {"qr": qr_cb, "event": event_cb, "db": path, "stop": stop,
                                 "subs": wanted, "level": lvl, "props": bytes(props)}  # fmt: skip
            self.order.append(key)
        paired = _has_device(path)
        level = lvl.decode() if isinstance(lvl, bytes) else str(lvl)
        device = json_format.MessageToDict(_device_props().FromString(bytes(props[:nprops])))
        self.control.send({"note": "started", "uuid": key, "paired": paired, "level": level,
                           "props": device, "subs": sorted(wanted)})  # fmt: skip
        self._emit(key, self.pb.Connected(status=True) if paired else None)
        if not paired:
            self._qr(key, b"2@fake-qr-1")
        stop.wait()
        with self.lock:
            error = self.clients.get(key, {}).get("error", b"")
        return error or b""

    def Stop(self, uuid: bytes) -> None:
        key = uuid.decode()
        with self.lock:
            client = self.clients.pop(key, None)
            self.stopped.append(key)
        if client is not None:
            client["stop"].set()
        self.control.send({"note": "stopped", "uuid": key})

    def SendMessage(self, uuid: bytes, to: bytes, tolen: int, msg: bytes, msglen: int) -> bytes:
        from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

        jid = self.pb.JID.FromString(to)
        message = Message.FromString(msg)
        self.sent += 1
        wa_id = f"3EB0FAKE{self.sent:04d}"
        body = json_format.MessageToDict(message)
        self.control.send({"note": "sent", "uuid": uuid.decode(), "wa_id": wa_id,
                           "to": f"{jid.User}@{jid.Server}", "message": body})  # fmt: skip
        if self.fail_sends:
            return fill_required(
                self.pb.SendMessageReturnFunction(Error="boom")
            ).SerializeToString()
        response = self.pb.SendResponse(ID=wa_id, Timestamp=1)
        result = self.pb.SendMessageReturnFunction(SendResponse=response)
        return fill_required(result).SerializeToString()

    def Upload(self, uuid: bytes, data: bytes, size: int, media_type: int) -> bytes:
        digest = hashlib.sha256(data).digest()
        self.blobs[digest] = bytes(data)
        up = self.pb.UploadResponse(
            url="https://mmg.example/x", DirectPath="/x", Handle="h", MediaKey=b"k" * 32,
            FileEncSHA256=digest, FileSHA256=digest, FileLength=len(data),
        )  # fmt: skip
        return fill_required(self.pb.UploadReturnFunction(UploadResponse=up)).SerializeToString()

    def DownloadAny(self, uuid: bytes, msg: bytes, size: int) -> bytes:
        from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

        message = Message.FromString(msg)
        for name in ("imageMessage", "documentMessage", "audioMessage", "videoMessage"):
            if message.HasField(name):
                data = self.blobs.get(getattr(message, name).fileSHA256)
                if data is not None:
                    return self.pb.DownloadReturnFunction(Binary=data).SerializeToString()
        return self.pb.DownloadReturnFunction(Error="media gone").SerializeToString()

    def MarkRead(self, uuid: bytes, ids: bytes, ts: int, chat: bytes, clen: int,
                 sender: bytes, slen: int, receipt: bytes) -> bytes:  # fmt: skip
        jid = self.pb.JID.FromString(chat)
        self.control.send({"note": "mark_read", "ids": ids.decode().split(" "),
                           "chat": f"{jid.User}@{jid.Server}"})  # fmt: skip
        return b""

    def SendChatPresence(self, uuid: bytes, jid: bytes, size: int, state: int, media: int) -> bytes:
        self.control.send({"note": "presence", "state": state})
        return b""

    def Logout(self, uuid: bytes) -> bytes:
        client = self.clients.get(uuid.decode())
        if client is not None:
            _set_device(client["db"], present=False)
        self.control.send({"note": "logout", "uuid": uuid.decode()})
        return b""

    def PairPhone(self, uuid: bytes, payload: bytes, size: int) -> bytes:
        params = self.pb.PairPhoneParams.FromString(payload)
        self.control.send({"note": "pair_phone", "phone": params.phone,
                           "display": params.clientDisplayName})  # fmt: skip
        return self.pb.PairPhoneReturnFunction(Code="FAKE-CODE").SerializeToString()

    # ---- driving events ---------------------------------------------------------------------

    def current(self) -> str | None:
        with self.lock:
            live = [u for u in self.order if u in self.clients]
        return live[-1] if live else None

    def _emit(self, uuid: str, msg: Any) -> bool:
        """Push ``msg`` through neonize's event callback, like goneonize's CallbackFunction."""
        client = self.clients.get(uuid)
        if msg is None or client is None:
            return False
        code = self.codes[type(msg)]
        if code not in client["subs"]:
            return False  # goneonize marshals only subscribed events
        raw = fill_required(msg).SerializeToString()
        self.raw(uuid, code, raw)
        return True

    def raw(self, uuid: str, code: int, raw: bytes) -> None:
        buf = ctypes.create_string_buffer(raw, len(raw))
        self.clients[uuid]["event"](
            uuid.encode(), ctypes.cast(buf, ctypes.c_void_p), len(raw), code
        )

    def _qr(self, uuid: str, code: bytes) -> None:
        client = self.clients.get(uuid)
        if client is not None:
            buf = ctypes.create_string_buffer(code)
            client["qr"](ctypes.cast(ctypes.c_char_p(uuid.encode()), ctypes.c_void_p),
                         ctypes.cast(buf, ctypes.c_void_p))  # fmt: skip

    def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Run one control command against the newest live client."""
        uuid = self.current()
        name = cmd["cmd"]
        if name == "state":
            return {"current": uuid, "order": self.order, "stopped": self.stopped}
        if name == "gc":
            gc.collect()
            return {"current": uuid}
        if name == "flags":
            self.fail_sends = bool(cmd.get("fail_sends", self.fail_sends))
            self.refuse_dial = bool(cmd.get("refuse_dial", self.refuse_dial))
            return {}
        if name == "blob":
            data = base64.b64decode(cmd["b64"])
            digest = hashlib.sha256(data).digest()
            self.blobs[digest] = data
            return {"sha256_b64": base64.b64encode(digest).decode()}
        if uuid is None:
            return {"error": "no_client"}
        return self._drive(uuid, name, cmd)

    def _drive(self, uuid: str, name: str, cmd: dict[str, Any]) -> dict[str, Any]:
        if name == "qr":
            self._qr(uuid, cmd["code"].encode())
        elif name == "event":
            cls = getattr(self.pb, cmd["type"])
            msg = json_format.ParseDict(cmd.get("fields", {}), cls())
            return {"delivered": self._emit(uuid, msg)}
        elif name == "raw":
            self.raw(uuid, int(cmd["code"]), bytes.fromhex(cmd["hex"]))
        elif name == "pair":
            _set_device(self.clients[uuid]["db"], present=True)
            jid = self.pb.JID(User="5511999990000", Server="s.whatsapp.net")
            self._emit(uuid, self.pb.PairStatus(Status=2, ID=jid))
            self._emit(uuid, self.pb.Connected(status=True))
        elif name == "logged_out":  # whatsmeow deletes the device before the event
            _set_device(self.clients[uuid]["db"], present=False)
            self._emit(uuid, self.pb.LoggedOut(Reason=int(cmd["reason"])))
        elif name == "end":  # Neonize() returns on its own (e.g. a marshal error)
            self.clients[uuid]["error"] = cmd.get("error", "").encode()
            self.clients[uuid]["stop"].set()
        return {"uuid": uuid}


def _device_props() -> Any:
    from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import DeviceProps

    return DeviceProps


def _ensure_schema(path: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS whatsmeow_device (jid TEXT PRIMARY KEY, k BLOB)")


def _has_device(path: str) -> bool:
    with sqlite3.connect(path) as db:
        return bool(db.execute("SELECT count(*) FROM whatsmeow_device").fetchone()[0])


def _set_device(path: str, *, present: bool) -> None:
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM whatsmeow_device")
        if present:
            db.execute(
                "INSERT INTO whatsmeow_device VALUES (?, ?)", ("5511999990000.0:1@s", b"\x01" * 32)
            )


def serve(control: Control, fake: FakeGo) -> None:
    """Answer the test's commands until the control link closes."""
    for cmd in control.lines():
        try:
            reply = fake.handle(cmd)
        except Exception as exc:  # report, keep serving
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        control.send({"id": cmd.get("id"), "ok": "error" not in reply, **reply})


def main(argv: list[str]) -> int:
    from app.infra.logging import configure_logging

    configure_logging(None)  # before neonize is imported (as the real worker does)
    import neonize.aioze.client as client

    control = Control(os.environ[ENV])
    fake = FakeGo(control)
    client.gocode = fake
    control.send({"note": "hello", "pid": os.getpid()})
    threading.Thread(target=serve, args=(control, fake), daemon=True).start()
    from app.channels.worker import run_worker

    return run_worker(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
