"""Admin tokens for the central's API and dashboard: random, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Engine, and_, insert, select

from app.central.db import admin_tokens

PREFIX = "cdc_"  # recognisable in a secret scanner or a paste


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def issue_token(engine: Engine, now: float) -> str:
    """A new admin token (256 random bits); only its hash is stored."""
    token = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(insert(admin_tokens).values(token_hash=_digest(token), created_at=now))
    return token


def is_valid(engine: Engine, token: str) -> bool:
    """True when ``token`` was issued here and not revoked."""
    if not token.startswith(PREFIX) or len(token) > 128:
        return False
    t = admin_tokens.c
    query = select(t.token_hash).where(and_(t.token_hash == _digest(token), t.revoked_at.is_(None)))
    with engine.connect() as conn:
        return conn.execute(query).first() is not None
