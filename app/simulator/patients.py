"""Simulated patients: deterministic fake Brazilian numbers, names and Portuguese sample texts.

Numbers are ``55 11 9XXXX-XXXX`` built from an index, so the same index always gives the same
patient (tests and benchmarks can predict them); none of it is real data.
"""

from __future__ import annotations

import base64
import random
import re
import secrets
import time
from typing import Any

from app.simulator.protocol import JID_SUFFIX

PATIENT_COUNT = 50

_FIRST = (
    "Maria", "João", "Ana", "Pedro", "Juliana", "Lucas", "Fernanda", "Rafael", "Beatriz",
    "Gabriel", "Camila", "Mateus", "Larissa", "Thiago", "Patrícia", "Bruno", "Aline",
)  # fmt: skip
_LAST = (
    "Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Ferreira",
    "Rodrigues", "Almeida", "Carvalho", "Gomes", "Ribeiro",
)  # fmt: skip

OPENERS = (
    "Bom dia! Gostaria de marcar uma consulta.",
    "Boa tarde, vocês atendem pelo convênio?",
    "Oi, preciso remarcar meu horário de amanhã.",
    "Olá! Qual o valor da consulta particular?",
    "Bom dia, o resultado do meu exame já saiu?",
    "Oi, vocês abrem no sábado?",
    "Boa noite, posso levar meu filho junto na consulta?",
    "Olá, preciso de uma segunda via do recibo.",
    "Bom dia! A doutora está atendendo hoje?",
    "Oi, qual o endereço da clínica?",
)
REPLIES = (
    "Perfeito, obrigado!",
    "Pode ser às 14h?",
    "Combinado, até lá.",
    "Ok, vou verificar e te aviso.",
    "Obrigada pelo retorno 😊",
    "Tem algum horário mais cedo?",
    "Certo! Preciso levar algum documento?",
)

# A line of a numbered menu as the clinic sends it ("2 - Exames").
_MENU_LINE = re.compile(r"^(\d{1,2}) - (.+)$", re.MULTILINE)


def answer(said: str | None, rng: random.Random) -> str:
    """What a simulated patient writes back to the clinic's ``said``: to a numbered menu, a
    choice the way people make it (the number, its keycap emoji, "opção N" or the option's
    name); to anything else, one of :data:`REPLIES`."""
    options = _MENU_LINE.findall(said or "")
    if not options:
        return rng.choice(REPLIES)
    number, name = rng.choice(options)
    return rng.choice((number, f"{number}\ufe0f\u20e3", f"opção {number}", name.lower()))


# A 1x1 transparent PNG for simulated image messages.
TINY_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
    )
).decode("ascii")


def patient_jid(index: int) -> str:
    """The JID of patient ``index`` (``55119`` + 8 digits)."""
    number = (87_650_000 + (index % 10_000) * 7_919) % 100_000_000
    return f"55119{number:08d}{JID_SUFFIX}"


def patient_name(index: int) -> str:
    """A plausible push name for patient ``index``: the first 221 indexes all differ, and
    neighbours have different surnames (a demo inbox is not a family of Silvas)."""
    first = index % len(_FIRST)
    # 5 steps the surname with every index; 86 = 5 * 17 + 1 ≡ 8 (mod 13), coprime with 13, so
    # each first name meets all 13 surnames before a pair repeats.
    last = (5 * index + index // len(_FIRST)) % len(_LAST)
    return f"{_FIRST[first]} {_LAST[last]}"


def account_jid(account: str) -> str:
    """The clinic's own (virtual) number for an account: ``551130XXXXXX`` from a stable hash."""
    digest = sum((i + 1) * b for i, b in enumerate(account.encode("utf-8")))
    return f"551130{digest % 1_000_000:06d}{JID_SUFFIX}"


def new_wa_id(prefix: str = "3EB0") -> str:
    """A WhatsApp-like message id (prefix + 18 upper-case hex digits)."""
    return prefix + secrets.token_hex(9).upper()


def make_message(
    index: int, text: str | None, kind: str = "text", media: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``message`` object of an inbound frame from patient ``index``; a non-text message
    carries ``media`` (``media_b64``, ``media_mime``, ``media_name``) or else a tiny PNG; a
    reaction carries ``media["reacted_to"]``, the WhatsApp id it is on."""
    jid = patient_jid(index)
    message: dict[str, Any] = {
        "wa_id": new_wa_id("SIM"),
        "chat": jid,
        "sender": jid,
        "timestamp": time.time(),
        "kind": kind,
        "push_name": patient_name(index),
    }
    if kind == "text":
        message["text"] = text or OPENERS[index % len(OPENERS)]
    elif kind == "reaction":  # ``media`` holds {"reacted_to": wa_id} here
        message["text"] = text or "👍"
        message["extra"] = {"reacted_to": (media or {}).get("reacted_to", "")}
    else:
        default = {"media_b64": TINY_PNG, "media_mime": "image/png", "media_name": "foto.png"}
        message.update(media or default)
        if text:
            message["text"] = text
    return message


def index_of(jid: str) -> int | None:
    """The patient index behind ``jid``, if it is one of ours (for scripted replies)."""
    for index in range(PATIENT_COUNT):
        if patient_jid(index) == jid:
            return index
    return None
