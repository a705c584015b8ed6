"""One-time enrolment codes and the enrolment itself.

A code is 80 random bits shown as four base32 groups (``ABCD-EFGH-IJKL-MNOP``), read over the
phone or pasted by the clinic's IT person. Only its SHA-256 is stored; it expires (24 h by
default) and works once: the UPDATE that consumes it is the check, so two appliances racing
with one code cannot both enrol.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, and_, func, insert, update

from app.central.db import appliances, enrolment_codes
from app.central.settings import DEFAULT_TTL_HOURS
from app.sync.protocol import unb64

MAX_LABEL = 200
_CODE_BYTES = 10  # 80 bits -> 16 base32 characters


class BadCodeError(Exception):
    """The code is unknown, used or expired (deliberately not told apart)."""


class BadKeyError(Exception):
    """The public key is not 32 bytes of a valid Ed25519 key."""


@dataclass(frozen=True, slots=True)
class Enrolled:
    """A new appliance."""

    appliance_id: str
    label: str


def new_code() -> str:
    """A fresh code: 16 base32 characters in groups of four."""
    text = base64.b32encode(secrets.token_bytes(_CODE_BYTES)).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def code_hash(code: str) -> str:
    """What is stored for ``code``: SHA-256 of its characters without dashes or case."""
    plain = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(plain.encode("ascii", "replace")).hexdigest()


def clean_label(label: str) -> str:
    """``label`` trimmed; ValueError when empty, too long or holding control characters."""
    text = label.strip()
    if not text or len(text) > MAX_LABEL or any(ord(ch) < 32 for ch in text):
        raise ValueError("label")
    return text


def issue_code(engine: Engine, label: str, now: float, ttl_hours: float = DEFAULT_TTL_HOURS) -> str:
    """Store a new code for an appliance to be called ``label``; returns the code (shown once)."""
    code = new_code()
    row = {
        "code_hash": code_hash(code),
        "label": clean_label(label),
        "created_at": now,
        "expires_at": now + ttl_hours * 3600.0,
    }
    with engine.begin() as conn:
        conn.execute(insert(enrolment_codes).values(**row))
    return code


def public_key_of(text: str) -> bytes:
    """The raw 32-byte Ed25519 key in ``text`` (unpadded url-safe base64); BadKeyError if not."""
    try:
        raw = unb64(text)
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise BadKeyError from exc
    return raw


def enrol(engine: Engine, code: str, public_key: bytes, app_version: str, now: float) -> Enrolled:
    """Consume ``code`` and register an appliance with ``public_key``; BadCodeError if the
    code is unknown, already used or expired."""
    appliance_id = uuid.uuid4().hex
    digest = code_hash(code)
    codes = enrolment_codes.c
    consume = (
        update(enrolment_codes)
        .where(and_(codes.code_hash == digest, codes.used_at.is_(None), codes.expires_at > now))
        .values(used_at=now, appliance_id=appliance_id)
        .returning(codes.label)
    )
    with engine.begin() as conn:
        label = conn.execute(consume).scalar_one_or_none()
        if label is None:
            raise BadCodeError
        conn.execute(
            insert(appliances).values(
                id=appliance_id,
                label=label,
                public_key=public_key,
                enrolled_at=now,
                last_seq=0,
                app_version=app_version,
            )
        )
    return Enrolled(appliance_id, label)


def revoke(engine: Engine, appliance_id: str, now: float) -> bool:
    """Mark an appliance revoked (its reports are refused from now on); False if unknown.
    Revoking twice keeps the first time."""
    a = appliances.c
    with engine.begin() as conn:
        found = conn.execute(
            update(appliances)
            .where(a.id == appliance_id)
            .values(revoked_at=func.coalesce(a.revoked_at, now))
        ).rowcount
    return bool(found)
