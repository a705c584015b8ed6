"""The wire contract between an appliance's sync agent and the central office (both sides import
this module; docs/SYNC.md describes it for people).

Trust: at enrolment the appliance makes an Ed25519 key pair and gives the central its public key
with a one-time code; the private key never leaves the appliance's encrypted store, so a leak of
the central's database lets nobody forge reports. Every report request is signed over
``method, path, appliance, timestamp, nonce and SHA-256 of the raw body``; the central rejects a
bad signature, a timestamp more than :data:`TOLERANCE_S` from its clock (answering with its own
time so the agent can correct an offset), and a nonce it has already seen (a captured request
replayed); it stores reports idempotently on ``(appliance, seq)``, so an agent's honest retry
(new nonce, new timestamp, same reports) only counts duplicates.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SCHEMA_VERSION = 1
TOLERANCE_S = 300  # Stripe-style replay window: older (or newer) signatures are stale
MAX_BODY_BYTES = 1024 * 1024  # one request; the agent's batches stay far below it
MAX_BATCH_REPORTS = 100
MAX_BATCH_BYTES = 256 * 1024
ENROLL_PATH = "/api/v1/enroll"
REPORTS_PATH = "/api/v1/reports"
H_APPLIANCE = "X-ClinicDesk-Appliance"
H_TIMESTAMP = "X-ClinicDesk-Timestamp"
H_NONCE = "X-ClinicDesk-Nonce"
H_SIGNATURE = "X-ClinicDesk-Signature"
_DOMAIN = b"clinicdesk-report-v1"


# Why a request was refused: the central logs one of these and answers it as ``error``; the
# agent decides from it whether to retry, correct its clock, or stop and alert.
REJECT_UNKNOWN_APPLIANCE = "unknown_appliance"
REJECT_REVOKED = "revoked"
REJECT_BAD_SIGNATURE = "bad_signature"
REJECT_STALE = "stale_timestamp"
REJECT_REPLAYED = "replayed"
REJECT_MALFORMED = "malformed"
REJECT_TOO_LARGE = "too_large"


def b64(data: bytes) -> str:
    """URL-safe base64 without padding (header- and JSON-friendly)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    """The inverse of :func:`b64`; raises ValueError on anything that is not such text."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64") from exc


def new_nonce() -> str:
    """128 random bits: a request's one-time identity inside the replay window."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    """The four headers of a signed request."""

    appliance: str
    timestamp: int
    nonce: str
    signature: str

    def as_dict(self) -> dict[str, str]:
        """HTTP header names to values."""
        return {
            H_APPLIANCE: self.appliance,
            H_TIMESTAMP: str(self.timestamp),
            H_NONCE: self.nonce,
            H_SIGNATURE: self.signature,
        }


def canonical(path: str, appliance: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    """The exact bytes that are signed (always a POST): the raw body enters only through its
    hash, so no JSON re-serialisation on either side can change what was signed."""
    head = "\n".join(("POST", path, appliance, str(timestamp), nonce)).encode("utf-8")
    return _DOMAIN + b"\n" + head + b"\n" + hashlib.sha256(body).hexdigest().encode("ascii")


def sign(
    key: Ed25519PrivateKey, appliance: str, path: str, body: bytes, timestamp: int
) -> SignedHeaders:
    """Headers that let the central check ``body`` came from ``appliance`` at ``timestamp``."""
    nonce = new_nonce()
    signature = key.sign(canonical(path, appliance, timestamp, nonce, body))
    return SignedHeaders(appliance, timestamp, nonce, b64(signature))


def verify(public_key: bytes, headers: SignedHeaders, path: str, body: bytes) -> bool:
    """True when ``headers.signature`` is ``public_key``'s signature of this request."""
    try:
        signature = unb64(headers.signature)
        key = Ed25519PublicKey.from_public_bytes(public_key)
        message = canonical(path, headers.appliance, headers.timestamp, headers.nonce, body)
        key.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def is_fresh(timestamp: int, now: float) -> bool:
    """Inside the replay window around the receiver's clock."""
    return abs(now - timestamp) <= TOLERANCE_S


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key (what enrolment sends)."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def encode(document: object) -> bytes:
    """Compact UTF-8 JSON: what goes on the wire (and what is signed)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
