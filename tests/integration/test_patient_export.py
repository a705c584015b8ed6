"""A patient's data for an LGPD request (app.services.patient_export, app.infra.patient_archive)
on a real encrypted store with real attachments: everything of that patient and nothing of
another, readable only with the one-time password, audited, and refused to those who may not."""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import pyzipper

from app.api.app import create_app
from app.domain.errors import AccessDeniedError, ClinicDeskError, NotFoundError
from app.domain.roles import Role
from tests.helpers.messaging import Desk, make_media_desk, patient, png
from tests.integration.conftest import FakeClock, Installation

CANARY = "Canário-de-exame-7391"
OTHER_CANARY = "segredo-de-outra-pessoa-5518"


@pytest.fixture
async def desk(fresh: Installation) -> Desk:
    return await make_media_desk(fresh, FakeClock())


async def _patient_with_history(desk: Desk) -> tuple[int, bytes]:
    """Patient 1 writes text, an HTML-looking line and a photo; patient 2 writes a secret."""
    image = png()
    await desk.ingest(desk.event(chat=patient(1), text=f"Olá, {CANARY}"))
    await desk.ingest(desk.event(chat=patient(1), text="<script>alert(1)</script>"))
    photo = base64.b64encode(image).decode("ascii")
    await desk.ingest(
        desk.event(chat=patient(1), text=None, kind="image", media_b64=photo,
                   media_name="../exame de sangue.png")
    )  # fmt: skip
    await desk.ingest(desk.event(chat=patient(1), text="SAIR"))
    await desk.ingest(desk.event(chat=patient(2), text=OTHER_CANARY))
    [row] = await desk.rows("contact_identities", kind="jid", value=patient(1))
    return int(row.contact_id), image


def _open(path: Path, password: str) -> dict[str, bytes]:
    with pyzipper.AESZipFile(path) as archive:
        archive.setpassword(password.encode("ascii"))
        return {name: archive.read(name) for name in archive.namelist()}


async def _supervisor(desk: Desk, branch: str = "Centro") -> Any:
    return await desk.inst.add_staff(Role.SUPERVISOR, branch)


async def test_the_archive_holds_the_patient_and_nobody_else(desk: Desk, tmp_path: Path) -> None:
    contact, image = await _patient_with_history(desk)
    target = tmp_path / "paciente.zip"
    result = await desk.inst.core.exports.export(await _supervisor(desk), contact, target)
    files = _open(target, result.password)
    assert set(files) == {
        "LEIA-ME.txt", "dados.json", "conversas.html", "anexos/0001-exame de sangue.png",
    }  # fmt: skip
    assert files["anexos/0001-exame de sangue.png"] == image  # decrypted, byte for byte
    data = json.loads(files["dados.json"])
    stored = await desk.rows("messages", contact_id=contact)
    exported = [m for c in data["conversas"] for m in c["mensagens"]]
    assert len(exported) == len(stored) == result.messages  # the replies to SAIR included
    assert [m["texto"] for m in exported if m["de"] == "paciente"][:2] == [
        f"Olá, {CANARY}", "<script>alert(1)</script>",
    ]  # fmt: skip
    assert data["paciente"]["telefone"] == "+" + patient(1).split("@")[0]
    assert data["paciente"]["nao_quer_lembretes_desde"] is not None
    assert [c["palavra"] for c in data["escolhas"]] == ["SAIR"]
    everything = b"".join(files.values()).decode("utf-8", "replace")
    assert OTHER_CANARY not in everything and patient(2).split("@")[0] not in everything
    html = files["conversas.html"].decode("utf-8")
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert (result.attachments, result.path) == (1, target)


async def test_the_archive_is_unreadable_without_its_password(desk: Desk, tmp_path: Path) -> None:
    contact, image = await _patient_with_history(desk)
    target, supervisor = tmp_path / "paciente.zip", await _supervisor(desk)
    result = await desk.inst.core.exports.export(supervisor, contact, target)
    raw = target.read_bytes()
    assert CANARY.encode() not in raw and image not in raw and b"\x89PNG" not in raw
    with pyzipper.AESZipFile(target) as archive:
        archive.setpassword(b"WRONG-PASS")
        with pytest.raises(RuntimeError):
            archive.read("dados.json")
    with zipfile.ZipFile(target) as plain, pytest.raises(RuntimeError):
        plain.read("dados.json")  # no password at all: refused
    again = await desk.inst.core.exports.export(supervisor, contact, tmp_path / "de-novo.zip")
    assert again.password != result.password  # a new password every time


async def test_who_may_export_and_where_nothing_is_overwritten(desk: Desk, tmp_path: Path) -> None:
    contact, _ = await _patient_with_history(desk)
    exports, inst = desk.inst.core.exports, desk.inst
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    with pytest.raises(AccessDeniedError):
        await exports.export(await inst.add_staff(Role.RECEPTIONIST, "Centro"), contact,
                             tmp_path / "a.zip")  # fmt: skip
    with pytest.raises(NotFoundError):
        await exports.export(await _supervisor(desk, "Sul"), contact, tmp_path / "b.zip")
    existing = tmp_path / "existente.zip"
    existing.write_bytes(b"do not touch")
    with pytest.raises(ClinicDeskError) as refused:
        await exports.export(await _supervisor(desk), contact, existing)
    assert refused.value.params == {"field": "target", "reason": "exists"}
    assert existing.read_bytes() == b"do not touch"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existente.zip"]  # no partials
    assert await desk.count("audit_log", action="contact.export") == 0


async def test_the_export_is_audited_with_counts_only(desk: Desk, tmp_path: Path) -> None:
    contact, _ = await _patient_with_history(desk)
    supervisor = await _supervisor(desk)
    result = await desk.inst.core.exports.export(supervisor, contact, tmp_path / "p.zip")
    [entry] = await desk.rows("audit_log", action="contact.export")
    assert entry.object_id == str(contact) and entry.actor_user_id == supervisor.user_id
    assert json.loads(entry.details) == {
        "tickets": 1, "messages": result.messages, "attachments": 1,
    }  # fmt: skip


async def test_the_api_sends_the_archive_once_and_keeps_no_copy(desk: Desk) -> None:
    contact, _ = await _patient_with_history(desk)
    inst = desk.inst
    tokens = {
        "supervisor": inst.core.tokens.issue((await _supervisor(desk)).user_id),
        "receptionist": inst.core.tokens.issue(
            (await inst.add_staff(Role.RECEPTIONIST, "Centro")).user_id
        ),
        "other": inst.core.tokens.issue((await _supervisor(desk, "Sul")).user_id),
    }
    transport = httpx.ASGITransport(app=create_app(inst.core))
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as api:

        async def export(who: str, contact_id: int = contact) -> httpx.Response:
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            return await api.post(f"/contacts/{contact_id}/export", headers=headers)

        assert (await export("receptionist")).status_code == 403
        assert (await export("other")).status_code == 404
        assert (await export("supervisor", 999_999)).status_code == 404
        answer = await export("supervisor")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    assert answer.headers["cache-control"] == "no-store"
    archive = inst.core.data_dir.exports / "received.zip"
    archive.write_bytes(answer.content)
    files = _open(archive, answer.headers["x-export-password"])
    assert CANARY in files["dados.json"].decode("utf-8")
    archive.unlink()
    assert list(inst.core.data_dir.exports.iterdir()) == []  # the engine kept nothing


async def test_an_attachment_the_store_no_longer_has_does_not_stop_the_export(
    desk: Desk, tmp_path: Path
) -> None:
    contact, _ = await _patient_with_history(desk)
    [photo] = [m for m in await desk.rows("messages", contact_id=contact) if m.media_sha256]
    assert desk.inst.core.media.blobs.delete(photo.media_sha256)  # e.g. erased, or lost
    target = tmp_path / "sem-anexo.zip"
    result = await desk.inst.core.exports.export(await _supervisor(desk), contact, target)
    files = _open(target, result.password)
    assert not [name for name in files if name.startswith("anexos/")]
    data = json.loads(files["dados.json"])
    [attachment] = [m["anexo"] for c in data["conversas"] for m in c["mensagens"] if m["anexo"]]
    assert attachment["arquivo"] is None and attachment["nome"] == "exame de sangue.png"
    assert result.attachments == 0  # what the archive holds (and what the audit says)


async def test_a_merged_away_id_exports_the_patient_it_became(desk: Desk, tmp_path: Path) -> None:
    kept, _ = await _patient_with_history(desk)
    await desk.ingest(desk.event(chat=patient(3), text="sou a mesma pessoa, outro número"))
    [row] = await desk.rows("contact_identities", kind="jid", value=patient(3))
    dropped = int(row.contact_id)
    await desk.inst.core.merges.merge(desk.inst.super_admin, kept, dropped)
    supervisor = await _supervisor(desk)
    result = await desk.inst.core.exports.export(supervisor, dropped, tmp_path / "m.zip")
    data = json.loads(_open(tmp_path / "m.zip", result.password)["dados.json"])
    texts = [m["texto"] for c in data["conversas"] for m in c["mensagens"]]
    assert f"Olá, {CANARY}" in texts and "sou a mesma pessoa, outro número" in texts
    [entry] = await desk.rows("audit_log", action="contact.export")
    assert entry.object_id == str(kept)
