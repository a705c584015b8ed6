"""A patient's data export (LGPD access, RELIABILITY_SECURITY §5.3 L1): one patient with
5,000 messages and 200 attachments, exported as the desk asks for it.

    .venv/bin/python -m tests.bench.bench_export [--scale 1.0] [--json]

Seeding goes through the real inbound pipeline (contact, ticket, audit, media store), one
patient on one channel; at ``--scale 1.0`` 4,800 texts and 200 attachments of 256 KiB (50 MB of
encrypted blobs). Then ``PatientExportService.export`` writes the AES ZIP (gather in one read
snapshot, decrypt each attachment, deflate, encrypt, fsync, rename). Goal (L1): ≤ 60 s.

The floor, in the same run: reading the same attachments from the media store (decrypting
them) and writing them with the same JSON into a plain ZIP (stored, not deflated, no
encryption), then fsync: what any export of this content must do. The export's time over
the floor says what the archive's own work costs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.bootstrap import Core, FirstAdmin, init_installation, open_core
from app.domain.roles import local_admin
from app.security.protectors import FileMachineProtector
from app.services.inbound import InboundPipeline
from app.services.patient_export import gather
from app.services.ports import NewChannel
from app.services.transport import EventKind, InboundMessage, TransportEvent
from app.simulator.patients import patient_jid
from app.store.schema import contacts
from app.store.types import utcnow
from tests.bench.common import machine

MESSAGES, ATTACHMENTS, ATTACHMENT_KIB = 5_000, 200, 256
GOAL_S = 60.0
PASSWORD = "bench password 123"


async def build(workdir: Path, scale: float) -> tuple[Core, int, dict[str, Any]]:
    """An installation with one patient's history; the core and the patient's contact id."""
    keys = FileMachineProtector(workdir / "keys")
    root = workdir / "data"
    core, _ = await init_installation(root, FirstAdmin("bench", "Bench", PASSWORD), machine=keys)
    core.close()
    core = open_core(root, machine=keys)
    branch = await core.branches.add(core.local_actor(), "Centro")
    new = NewChannel(branch.id, "canal", "Recepção", "simulator")
    channel = await core.store.transaction(lambda tx: tx.channels.add(new, utcnow()))
    pipeline = InboundPipeline(
        core.store, core.clock, core.auditor, core.bus, media=core.media.blobs
    )
    total, files = max(50, int(MESSAGES * scale)), max(2, int(ATTACHMENTS * scale))
    started = time.perf_counter()
    for seq in range(total):
        await pipeline.ingest(int(channel), _event(seq, seq % (total // files) == 0))
    contact = await core.store.read(lambda tx: tx.conn.execute(select(contacts.c.id)).scalar_one())
    seeded = {"seed_s": round(time.perf_counter() - started, 1), "messages": total}
    return core, int(contact), seeded


def _event(seq: int, attachment: bool) -> TransportEvent:
    """Message ``seq`` of the patient: a line of text, or a PDF-looking attachment."""
    jid = patient_jid(1)
    fields: dict[str, Any] = {"wa_id": f"EXP{seq:08d}", "chat_jid": jid, "sender_jid": jid}
    fields |= {"timestamp": time.time(), "push_name": "Maria", "text": f"mensagem {seq}"}
    if attachment:
        data = b"%PDF-1.4\n" + secrets.token_bytes(ATTACHMENT_KIB * 1024)
        fields |= {"text": None, "kind": "document", "media_name": f"exame-{seq}.pdf"}
        fields["media_b64"] = base64.b64encode(data).decode("ascii")
    message = InboundMessage(**fields)
    return TransportEvent(EventKind.INBOUND, "canal", message=message, ack_ref=str(seq))


async def floor(core: Core, contact: int, target: Path) -> float:
    """Seconds to gather the same data, decrypt the attachments and store them in a plain ZIP."""
    start = time.perf_counter()
    actor = local_admin("bench")
    data = await core.store.read(lambda tx: gather(tx, actor, contact, utcnow()))
    await asyncio.to_thread(_plain_zip, core, data.media, target)
    return time.perf_counter() - start


def _plain_zip(core: Core, shas: list[str], target: Path) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("dados.json", json.dumps({"anexos": shas}))
        for n, sha in enumerate(shas):
            archive.writestr(f"anexos/{n}", core.media.blobs.get(sha))
    with target.open("rb+") as done:
        os.fsync(done.fileno())


async def measure(core: Core, contact: int, workdir: Path) -> dict[str, Any]:
    floor_s = await floor(core, contact, workdir / "floor.zip")
    start = time.perf_counter()
    result = await core.exports.export(local_admin("bench"), contact, workdir / "export.zip")
    export_s = time.perf_counter() - start
    return {
        "export_s": round(export_s, 2), "goal_s": GOAL_S,
        "export_over_goal": round(export_s / GOAL_S, 3),
        "floor_s": round(floor_s, 2), "export_over_floor": round(export_s / floor_s, 2),
        "messages": result.messages, "attachments": result.attachments,
        "archive_mb": round(result.path.stat().st_size / 2**20, 1),
    }  # fmt: skip


async def run_benchmark(scale: float, workdir: Path) -> dict[str, Any]:
    report: dict[str, Any] = {"machine": machine(), "scale": scale}
    core, contact, report["store"] = await build(workdir, scale)
    try:
        report["figures"] = await measure(core, contact, workdir)
    finally:
        core.close()
    report["goals"] = {"export<=60s": report["figures"]["export_s"] <= GOAL_S}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        report = asyncio.run(run_benchmark(args.scale, Path(folder)))
    print(json.dumps(report, indent=1) if args.json else render(report))
    return 0


def render(report: dict[str, Any]) -> str:
    lines = [f"{k}: {v}" for k, v in report["machine"].items()]
    lines += [f"store: {report['store']}", *(f"{k}: {v}" for k, v in report["figures"].items())]
    lines += [f"goal {k}: {'met' if v else 'MISSED'}" for k, v in report["goals"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
