"""Media end to end: a real ``clinicdesk engine``, its real channel worker and a real simulator
on loopback. A patient's image arrives, is stored encrypted and handed out only to who may see
the ticket; an EXE named ``.jpg`` is refused while its message is kept; a PDF sent from the desk
reaches the simulated WhatsApp byte for byte and its receipts come back. Waits poll with a
deadline; nothing is timed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.helpers.channels import Simulator
from tests.helpers.cli import PASSWORD
from tests.helpers.e2e import Engine, engine_and_simulator, login, sim_account, wait_until

pytestmark = [
    pytest.mark.slow,  # about 20 s: CLI init, engine and worker start-up, paced sends
    pytest.mark.skipif(sys.platform == "win32", reason="worker processes and SIGTERM: POSIX"),
]

EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + b"This program cannot be run in DOS mode"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) + b"\n%%EOF\n"
PATIENT = 7


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class Desk:
    engine: Engine
    sim: Simulator
    data: Path
    account: str
    tokens: dict[str, str]
    ticket_id: int
    sha: str
    image: bytes

    def as_user(self, who: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.Client(base_url=self.engine.url, headers=headers, timeout=30, trust_env=False)

    def messages(self) -> list[dict[str, Any]]:
        page = self.engine.call("GET", f"/tickets/{self.ticket_id}/messages")
        return list(page["items"])

    def patient_sends(self, **body: Any) -> None:
        body |= {"channel": self.account, "patient": PATIENT, "kind": "image"}
        self.sim.post("/control/inbound", **body).raise_for_status()


def _user(engine: Engine, username: str, branch: str, role: str) -> int:
    body = {"username": username, "display_name": username.title(), "password": PASSWORD}
    return int(engine.call("POST", "/users", json=body | {"branch": branch, "role": role})["id"])


def _queue(engine: Engine, branch_id: int, name: str, member: int) -> None:
    queue = engine.call("POST", "/queues", json={"branch_id": branch_id, "name": name})
    engine.call("POST", f"/queues/{queue['id']}/members", json={"user_id": member})


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    base = tmp_path_factory.mktemp("media-e2e")
    with engine_and_simulator(base, "--auto-pair", "--receipt-delay", "0.05") as (engine, sim):
        yield _setup(engine, sim, base / "data")


def _setup(engine: Engine, sim: Simulator, data: Path) -> Desk:
    centro = engine.call("POST", "/branches", json={"name": "Centro"})["id"]
    engine.call("POST", "/branches", json={"name": "Sul"})
    recep_a = _user(engine, "recep.a", "Centro", "receptionist")
    recep_b = _user(engine, "recep.b", "Centro", "receptionist")
    _user(engine, "super.sul", "Sul", "supervisor")
    _queue(engine, centro, "A", recep_a)  # the only queue: the patient's ticket goes there
    account = sim_account(sim, engine.linked_channel("Centro", "midia", sim))
    image = png()
    body = {"channel": account, "patient": PATIENT, "kind": "image", "text": "segue o exame"}
    body |= {"media_b64": b64(image), "media_name": "exame.png", "media_mime": "image/png"}
    sim.post("/control/inbound", **body).raise_for_status()
    tickets = wait_until(lambda: engine.call("GET", "/tickets")["items"], "the patient's ticket")
    _queue(engine, centro, "B", recep_b)  # after routing: B is someone else's queue
    tokens = {u: login(engine, u) for u in ("recep.a", "recep.b", "super.sul")}
    sha = hashlib.sha256(image).hexdigest()
    return Desk(engine, sim, data, account, tokens, int(tickets[0]["id"]), sha, image)


def test_the_image_is_on_disk_encrypted_and_named_in_the_conversation(desk: Desk) -> None:
    (message,) = [m for m in desk.messages() if m["direction"] == "in" and m["media_sha256"]]
    assert (message["media_mime"], message["media_size"]) == ("image/png", len(desk.image))
    assert (message["media_name"], message["has_thumbnail"]) == ("exame.png", True)
    assert message["media_refused"] is False
    raw = (desk.data / "media" / desk.sha[:2] / desk.sha).read_bytes()
    assert raw.startswith(b"CDM1")
    assert b"\x89PNG" not in raw and desk.image not in raw and b"IHDR" not in raw


def test_an_allowed_user_gets_the_exact_bytes_as_a_safe_download(desk: Desk) -> None:
    with desk.as_user("recep.a") as api:
        got = api.get(f"/media/{desk.sha}")
        thumb = api.get(f"/media/{desk.sha}/thumbnail")
    assert got.status_code == 200 and got.content == desk.image
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["cache-control"] == "no-store"
    assert got.headers["content-disposition"].startswith('attachment; filename="exame.png"')
    assert thumb.status_code == 200 and thumb.content.startswith(b"\xff\xd8\xff")
    assert thumb.headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize("who", ["recep.b", "super.sul"])
def test_another_queue_or_branch_gets_404_as_for_an_unknown_blob(desk: Desk, who: str) -> None:
    with desk.as_user(who) as api:
        answers = [api.get(f"/media/{desk.sha}"), api.get(f"/media/{desk.sha}/thumbnail")]
        answers.append(api.get(f"/media/{'0' * 64}"))
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert answers[0].json() == answers[2].json()  # nothing tells the two apart
    assert all(desk.image not in a.content for a in answers)


def test_an_exe_named_jpg_is_refused_as_media_and_the_message_kept(desk: Desk) -> None:
    desk.patient_sends(text="meu exame em jpg", media_b64=b64(EXE), media_name="foto.jpg")

    def refused() -> list[dict[str, Any]]:
        return [m for m in desk.messages() if m["body"] == "meu exame em jpg"]

    (message,) = wait_until(refused, "the refused file's message")
    assert (message["kind"], message["media_refused"], message["media_sha256"]) == (
        "image", True, None,
    )  # fmt: skip
    assert (message["media_mime"], message["media_name"]) == (None, "foto.jpg")
    stored = [p.name for p in (desk.data / "media").rglob("*") if p.is_file()]
    assert hashlib.sha256(EXE).hexdigest() not in stored


def test_a_pdf_sent_from_the_desk_reaches_the_patient_intact(desk: Desk) -> None:
    body = {"data_b64": b64(PDF), "filename": "Receita médica.pdf", "caption": "Sua receita"}
    with desk.as_user("recep.a") as api:
        first = api.post(f"/tickets/{desk.ticket_id}/attachments", json=body | {"client_key": "r1"})
        again = api.post(f"/tickets/{desk.ticket_id}/attachments", json=body | {"client_key": "r1"})
    assert first.status_code == again.status_code == 202, first.text
    view = first.json()
    assert again.json()["outbox_id"] == view["outbox_id"]
    assert (view["media_mime"], view["media_name"]) == ("application/pdf", "Receita médica.pdf")

    def delivered() -> list[dict[str, Any]]:
        sent = desk.sim.http.get(f"/control/outbox/{desk.account}").json()["messages"]
        return [m for m in sent if m.get("kind") == "media"]

    (sent,) = wait_until(delivered, "the PDF at the simulator", timeout=60)
    assert (sent["sha256"], sent["size"]) == (hashlib.sha256(PDF).hexdigest(), len(PDF))
    assert (sent["mime"], sent["filename"], sent["caption"]) == (
        "application/pdf", "Receita médica.pdf", "Sua receita",
    )  # fmt: skip

    def read() -> bool:
        mine = [m for m in desk.messages() if m["id"] == view["message_id"]]
        return bool(mine) and mine[0]["ack"] == "read"

    wait_until(read, "the PDF's read receipt", timeout=60)
    assert desk.sim.count(desk.account, "duplicate_sends") == 0
