"""A patient's data as a password-protected ZIP (WinZip AES-256, through pyzipper).

Inside: ``LEIA-ME.txt`` (what this is), ``conversas.html`` (the conversations as a person reads
them), ``dados.json`` (the same, for another system: LGPD portability) and ``anexos/`` (the
attachments, decrypted from the media store). Every member is encrypted with the password, so
the file can travel by e-mail or pen drive while the password goes another way. 7-Zip, WinRAR
and common phone apps open it; Windows Explorer's built-in ZIP support does not (it knows only
the old, weak ZIP encryption), which LEIA-ME cannot say because it is inside: the desk says it.

Written to ``<target>.partial`` and renamed once complete: a failed export leaves no file that
looks like a good one.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import pyzipper

from app.domain.errors import ClinicDeskError
from app.infra.atomic import fsync_dir
from app.services.patient_export import PatientData
from app.services.ports_messaging import MessageRecord, TicketRecord

log = logging.getLogger(__name__)
FORMAT = "clinicdesk-dados-do-paciente/1"
STATUS = {"pending": "aguardando", "open": "em atendimento", "closed": "encerrada"}
REMINDER_STATUS = {
    "scheduled": "agendado", "done": "enviado", "cancelled": "cancelado",
    "skipped_opt_out": "não enviado (pediu para não receber)",
}  # fmt: skip
ANSWERS = {"confirmed": "confirmou", "declined": "pediu para remarcar"}
_UNSAFE = re.compile(r"[^\w.\- ]+")

README = """Dados do paciente guardados pela clínica {clinic}
Gerado em {when}, a pedido do titular (Lei 13.709/2018, art. 18).

conversas.html  as conversas por WhatsApp, para ler no navegador
dados.json      os mesmos dados em formato aberto, para levar a outro serviço
anexos/         as fotos, áudios e documentos trocados

Anotações internas da equipe e nomes de funcionários não fazem parte deste arquivo.
"""

PAGE = jinja2.Template(
    """<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8">
<title>Conversas com {{ clinic }}</title>
<style>
body { font-family: sans-serif; max-width: 860px; margin: 2em auto; color: #202124; }
.msg { margin: .4em 0; padding: .5em .8em; border-radius: 8px; white-space: pre-wrap; }
.in { background: #F1F3F4; margin-right: 20%; } .out { background: #E6F4EA; margin-left: 20%; }
.when { color: #5F6368; font-size: .85em; }
</style></head><body>
<h1>{{ patient }}</h1>
<p>Conversas por WhatsApp com {{ clinic }}. Gerado em {{ generated }}.</p>
{% for c in conversations %}
<h2>Conversa nº {{ c.numero }} ({{ c.situacao }}{% if c.fila %}, {{ c.fila }}{% endif %})</h2>
{% for m in c.mensagens %}
<div class="msg {{ 'in' if m.de == 'paciente' else 'out' }}"><span class="when">{{ m.quando }}
· {{ 'Você' if m.de == 'paciente' else clinic }}</span>
{% if m.texto %}{{ m.texto }}{% endif %}{% if m.anexo %}
<a href="{{ m.anexo.arquivo }}">{{ m.anexo.nome }}</a>{% endif %}</div>
{% endfor %}{% endfor %}
</body></html>
""",
    autoescape=True,
)


class ZipPatientArchive:
    """:class:`app.services.patient_export.PatientArchive` as an AES-encrypted ZIP."""

    def write(
        self, data: PatientData, blob: Callable[[str], bytes], target: Path, password: str
    ) -> int:
        """Write the archive to ``target`` through ``<target>.partial`` (see the module);
        the number of attachments written."""
        partial = target.with_name(target.name + ".partial")
        try:
            files = self._write(data, blob, partial, password)
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)
        return files

    def _write(
        self, data: PatientData, blob: Callable[[str], bytes], path: Path, password: str
    ) -> int:
        with pyzipper.AESZipFile(
            path, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
        ) as archive:
            archive.setpassword(password.encode("ascii"))
            archive.setencryption(pyzipper.WZ_AES, nbits=256)
            files = _write_attachments(archive, blob, _attachment_names(data.messages))
            document = _document(data, files)
            when = _local(data.exported_at, data.timezone)
            archive.writestr("LEIA-ME.txt", README.format(clinic=data.clinic, when=when))
            archive.writestr("dados.json", json.dumps(document, ensure_ascii=False, indent=2))
            archive.writestr("conversas.html", _html(data, document))
        with path.open("rb+") as done:  # the central directory is written on close
            os.fsync(done.fileno())
        return len(files)


def _write_attachments(
    archive: pyzipper.AESZipFile, blob: Callable[[str], bytes], files: dict[str, str]
) -> dict[str, str]:
    """Write each attachment; those the media store no longer has (erased, or damaged) are
    left out, and the messages say the file was not kept, rather than failing the export."""
    written = {}
    for sha, name in files.items():
        try:
            archive.writestr(name, blob(sha))
        except ClinicDeskError as err:
            log.warning("attachment left out of an export", extra={"code": err.code.value})
            continue
        written[sha] = name
    return written


def _attachment_names(messages: list[MessageRecord]) -> dict[str, str]:
    """One file per stored attachment: ``anexos/<n>-<its name, made safe>``."""
    names: dict[str, str] = {}
    for m in messages:
        if m.media_sha256 and m.media_sha256 not in names:
            safe = _UNSAFE.sub("_", m.media_name or "anexo").strip(" .") or "anexo"
            names[m.media_sha256] = f"anexos/{len(names) + 1:04d}-{safe[:80]}"
    return names


def _document(data: PatientData, files: dict[str, str]) -> dict[str, Any]:
    """The archive's content as JSON-ready values (``dados.json``)."""
    c = data.contact
    by_ticket: dict[int, list[MessageRecord]] = {}
    for m in data.messages:
        by_ticket.setdefault(m.ticket_id or 0, []).append(m)
    return {
        "formato": FORMAT, "clinica": data.clinic, "gerado_em": _iso(data.exported_at),
        "paciente": {
            "nome": c.display_name, "telefone": c.phone_e164, "cadastrado_em": _iso(c.created_at),
            "whatsapp": [{"tipo": kind, "valor": value} for kind, value in data.identities],
            "nao_quer_lembretes_desde": _iso(data.opted_out_at),
        },
        "conversas": [
            _conversation(t, data, by_ticket.get(t.id, []), files) for t in data.tickets
        ],
        "escolhas": [{"palavra": word, "em": _iso(at)} for word, at in data.choices],
        "lembretes": [
            {
                "texto": r.body, "proximo_envio": _iso(r.next_run_at),
                "ultimo_envio": _iso(r.last_sent_at),
                "situacao": REMINDER_STATUS.get(r.status, r.status),
                "resposta": ANSWERS.get(r.answer or ""),
            }
            for r in data.reminders
        ],
    }  # fmt: skip


def _conversation(
    t: TicketRecord, data: PatientData, messages: list[MessageRecord], files: dict[str, str]
) -> dict[str, Any]:
    return {
        "numero": t.id, "situacao": STATUS.get(t.status, t.status),
        "fila": data.queue_names.get(t.queue_id) if t.queue_id else None,
        "iniciada_em": _iso(t.created_at), "encerrada_em": _iso(t.closed_at),
        "mensagens": [_message(m, files, data.timezone) for m in messages],
    }  # fmt: skip


def _message(m: MessageRecord, files: dict[str, str], tz: str) -> dict[str, Any]:
    attachment = None
    if m.media_name or m.media_sha256:
        attachment = {
            "nome": m.media_name or "anexo", "tipo": m.media_mime, "tamanho": m.media_size,
            "arquivo": files.get(m.media_sha256 or ""),  # None: the file was not kept
        }  # fmt: skip
    return {
        "em": _iso(m.sent_at), "quando": _local(m.sent_at, tz),
        "de": "paciente" if m.direction == "in" else "clinica",
        "automatica": m.automatic, "texto": m.body, "anexo": attachment,
    }  # fmt: skip


def _html(data: PatientData, document: dict[str, Any]) -> str:
    patient = data.contact.display_name or data.contact.phone_e164 or "Paciente"
    page: str = PAGE.render(
        clinic=data.clinic, patient=patient, conversations=document["conversas"],
        generated=_local(data.exported_at, data.timezone),
    )  # fmt: skip
    return page


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _local(at: datetime, tz: str) -> str:
    """``dd/mm/aaaa hh:mm`` on the branch's clock."""
    return at.astimezone(ZoneInfo(tz)).strftime("%d/%m/%Y %H:%M")
