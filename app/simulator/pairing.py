"""Pairing flows: QR codes that refresh on a schedule, and 8-character pairing codes.

Timing follows whatsmeow: the first QR lives ``first`` seconds (60 by default), each later one
``interval`` seconds (20), ``qr_max`` codes in all (6), then ``pairing_timeout``. A pairing code
lives as long as the whole QR sequence. Nothing here runs unless the transport asked to pair.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.domain.channels import Reason
from app.simulator.connection import Connection
from app.simulator.protocol import QR, STATE

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTVWXYZ23456789"


@dataclass(slots=True)
class PairingTiming:
    interval: float = 20.0
    first: float = 60.0
    qr_max: int = 6
    auto_pair: bool = False
    auto_pair_delay: float = 0.3

    @property
    def lifetime(self) -> float:
        return self.first + self.interval * max(0, self.qr_max - 1)


@dataclass(slots=True)
class Pairing:
    """A pairing in progress on ``conn``; ``scan`` completes it."""

    conn: Connection
    mode: str  # "qr" or "code"
    code: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()


def qr_payload() -> str:
    """A QR string shaped like WhatsApp's (``ref,noiseKey,identityKey,advSecret``)."""
    keys = (base64.b64encode(secrets.token_bytes(32)).decode("ascii") for _ in range(3))
    return ",".join([f"2@{secrets.token_urlsafe(36)}", *keys])


def pairing_code() -> str:
    """``ABCD-EFGH`` from an alphabet without look-alikes (no I, O, U, 0, 1)."""
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def valid_phone(phone: object) -> str | None:
    """Digits of an international number (``+5511987654321`` → ``5511987654321``), or None."""
    if not isinstance(phone, str):
        return None
    digits = phone.removeprefix("+")
    return digits if digits.isdigit() and 10 <= len(digits) <= 15 else None


async def run_qr(
    pairing: Pairing,
    timing: PairingTiming,
    complete: Callable[[], Awaitable[None]],
    count: Callable[[str], None],
) -> None:
    """Send QR codes until scanned (``complete`` is called by the hub), timed out or cancelled."""
    for index in range(timing.qr_max):
        if not await pairing.conn.send(QR, payload=qr_payload(), seq=index):
            return
        count("qr_codes")
        if timing.auto_pair:
            await asyncio.sleep(timing.auto_pair_delay)
            await complete()
            return
        await asyncio.sleep(timing.first if index == 0 else timing.interval)
    await pairing.conn.send(STATE, reason=Reason.PAIRING_TIMEOUT.value)


async def run_code(
    pairing: Pairing, timing: PairingTiming, complete: Callable[[], Awaitable[None]]
) -> None:
    """Wait for the code to be "typed on the phone" (a scan), auto-pair, or time out."""
    if timing.auto_pair:
        await asyncio.sleep(timing.auto_pair_delay)
        await complete()
        return
    await asyncio.sleep(timing.lifetime)
    await pairing.conn.send(STATE, reason=Reason.PAIRING_TIMEOUT.value)
