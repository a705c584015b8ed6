"""Protectors wrap the data key (DEK) so that only their holder can unwrap it.

* :class:`FileMachineProtector` (Linux/macOS): a random 32-byte key file outside the data
  directory, AES-256-GCM. Like DPAPI user scope it stops a copy of the data directory or of a
  backup from opening elsewhere; it does not stop malware or root on the live machine.
* :class:`DpapiMachineProtector` (Windows): CryptProtectData in user scope via ctypes.
* :class:`RecoveryProtector`: the printed recovery key, for a new machine or a restore.

A protector returns JSON-able envelope fields (base64 strings); the keystore adds ``purpose``,
``protector`` and ``kind`` and passes the whole envelope back to ``unwrap``.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import re
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.config import default_key_dir
from app.domain.errors import ClinicDeskError, ErrorCode
from app.security.fsperms import make_private_dir, readable_by_others, write_new_file
from app.security.recovery_key import RecoveryKey

KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
RECOVERY_HKDF_INFO = b"clinicdesk recovery v1"
_MACHINE_KEY_ID = re.compile(r"[0-9a-f]{16}")


class Protector(Protocol):
    """Something that can wrap a DEK and unwrap it again."""

    kind: str

    def wrap(self, dek: bytes, aad: bytes) -> dict[str, str]:
        """Envelope fields (base64 strings) holding ``dek`` sealed to this protector."""
        ...

    def unwrap(self, envelope: Mapping[str, str], aad: bytes) -> bytes:
        """The DEK from ``envelope``, authenticated together with ``aad``."""
        ...


class MachineProtector(Protector, Protocol):
    """A protector that lets this machine start unattended after a reboot."""

    def storage_problems(self) -> list[str]:
        """Stable codes for weaknesses in how the machine key is stored; ``[]`` when fine."""
        ...


# --- shared envelope helpers ---------------------------------------------------------------


def b64(data: bytes) -> str:
    """Standard base64 text for an envelope field."""
    return base64.b64encode(data).decode("ascii")


def envelope_bytes(envelope: Mapping[str, str], name: str, size: int | None = None) -> bytes:
    """Base64 field ``name`` decoded; missing, invalid or wrongly sized is KEYSTORE_CORRUPT."""
    try:
        data = base64.b64decode(envelope[name], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise ClinicDeskError(ErrorCode.KEYSTORE_CORRUPT, reason="bad_field", field=name) from None
    if size is not None and len(data) != size:
        raise ClinicDeskError(ErrorCode.KEYSTORE_CORRUPT, reason="bad_field", field=name)
    return data


def seal(key: bytes, plaintext: bytes, aad: bytes) -> dict[str, str]:
    """AES-256-GCM, fresh random 96-bit nonce (safe at random: each key seals only a few DEKs)."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return {"nonce": b64(nonce), "ciphertext": b64(AESGCM(key).encrypt(nonce, plaintext, aad))}


def unseal(key: bytes, envelope: Mapping[str, str], aad: bytes, wrong: ClinicDeskError) -> bytes:
    """Open what :func:`seal` made; raise ``wrong`` if authentication fails (wrong key or edit)."""
    nonce = envelope_bytes(envelope, "nonce", NONCE_BYTES)
    ciphertext = envelope_bytes(envelope, "ciphertext")
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise wrong from None


# --- Linux / macOS: key file ---------------------------------------------------------------


class FileMachineProtector:
    """Wraps with a random key kept in ``<key_dir>/<machine_key_id>.key`` (0600, dir 0700).

    Every wrap makes a new key, so installations sharing a key folder never share a key and a
    re-wrap after recovery never depends on an old key. Old key files are never deleted here.
    """

    kind = "linux-file"

    def __init__(self, key_dir: Path) -> None:
        self.key_dir = key_dir

    def wrap(self, dek: bytes, aad: bytes) -> dict[str, str]:
        """Seal ``dek`` under a newly created machine key; the envelope names that key."""
        key_id, key = self._new_key()
        return {"machine_key_id": key_id, **seal(key, dek, aad)}

    def unwrap(self, envelope: Mapping[str, str], aad: bytes) -> bytes:
        """MACHINE_KEY_MISSING if the named key file is gone; MACHINE_KEY_WRONG if it fails."""
        key_id = envelope.get("machine_key_id", "")
        if not isinstance(key_id, str) or not _MACHINE_KEY_ID.fullmatch(key_id):
            # Validated before it becomes part of a path: a crafted id must not escape key_dir.
            raise ClinicDeskError(
                ErrorCode.KEYSTORE_CORRUPT, reason="bad_field", field="machine_key_id"
            )
        wrong = ClinicDeskError(ErrorCode.MACHINE_KEY_WRONG, machine_key_id=key_id)
        return unseal(self._read_key(key_id), envelope, aad, wrong)

    def storage_problems(self) -> list[str]:
        """Codes for a key folder or key file that group or others can read."""
        problems = []
        if readable_by_others(self.key_dir):
            problems.append("machine_key_dir_readable_by_others")
        if any(readable_by_others(path) for path in self._key_files()):
            problems.append("machine_key_readable_by_others")
        return problems

    def key_path(self, key_id: str) -> Path:
        """Where the key named ``key_id`` lives."""
        return self.key_dir / f"{key_id}.key"

    def _new_key(self) -> tuple[str, bytes]:
        make_private_dir(self.key_dir)
        key_id, key = secrets.token_hex(8), secrets.token_bytes(KEY_BYTES)
        write_new_file(self.key_path(key_id), key, 0o600)
        return key_id, key

    def _read_key(self, key_id: str) -> bytes:
        try:
            key = self.key_path(key_id).read_bytes()
        except FileNotFoundError:
            raise ClinicDeskError(ErrorCode.MACHINE_KEY_MISSING, machine_key_id=key_id) from None
        except OSError:  # e.g. another account's key: for this account it is not there
            raise ClinicDeskError(
                ErrorCode.MACHINE_KEY_MISSING, machine_key_id=key_id, reason="unreadable"
            ) from None
        if len(key) != KEY_BYTES:
            raise ClinicDeskError(ErrorCode.MACHINE_KEY_WRONG, machine_key_id=key_id, reason="size")
        return key

    def _key_files(self) -> list[Path]:
        return sorted(self.key_dir.glob("*.key")) if self.key_dir.is_dir() else []


# --- Windows: DPAPI ------------------------------------------------------------------------

CRYPTPROTECT_UI_FORBIDDEN = 0x1
# DPAPI could not find the master key for this blob: another user or another PC ("new PC").
NTE_BAD_KEY_STATE = 0x8009000B


class DpapiError(Exception):
    """A failed DPAPI call, with the Windows error code (GetLastError)."""

    def __init__(self, winerror: int) -> None:
        self.winerror = winerror & 0xFFFFFFFF  # ctypes may hand back HRESULTs as negative ints
        super().__init__(f"DPAPI error 0x{self.winerror:08X}")


class _DataBlob(ctypes.Structure):
    """DATA_BLOB: a length and a pointer (DWORD = 32-bit unsigned on every Windows)."""

    _fields_ = (("cbData", ctypes.c_uint32), ("pbData", ctypes.POINTER(ctypes.c_char)))


def _in_blob(data: bytes) -> tuple[_DataBlob, ctypes.Array[ctypes.c_char]]:
    """A DATA_BLOB over a copy of ``data``; keep the buffer alive while the blob is used."""
    buffer = ctypes.create_string_buffer(data, len(data))
    return _DataBlob(len(data), ctypes.cast(buffer, ctypes.POINTER(ctypes.c_char))), buffer


def _crypt_protect(data: bytes, entropy: bytes) -> bytes:
    """CryptProtectData, user scope, no UI. Raises DpapiError. (Tests replace this function.)"""
    return _call_dpapi("CryptProtectData", data, entropy)


def _crypt_unprotect(blob: bytes, entropy: bytes) -> bytes:
    """CryptUnprotectData, no UI. Raises DpapiError. (Tests replace this function.)"""
    return _call_dpapi("CryptUnprotectData", blob, entropy)


def _call_dpapi(function: str, data: bytes, entropy: bytes) -> bytes:
    """Call a crypt32 DPAPI function (both share one argument layout); Windows only."""
    if sys.platform != "win32":
        raise ClinicDeskError(ErrorCode.MACHINE_KEY_MISSING, reason="dpapi_unavailable")
    crypt32 = ctypes.WinDLL("crypt32", use_last_error=True)
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    data_in, _data_buffer = _in_blob(data)
    extra, _extra_buffer = _in_blob(entropy)
    data_out = _DataBlob()
    # (pDataIn, description, pOptionalEntropy, pvReserved, pPromptStruct, dwFlags, pDataOut)
    call = getattr(crypt32, function)
    ok = call(
        ctypes.byref(data_in),
        None,
        ctypes.byref(extra),
        None,
        None,
        CRYPTPROTECT_UI_FORBIDDEN,
        ctypes.byref(data_out),
    )
    if not ok:
        raise DpapiError(ctypes.get_last_error())
    try:
        return ctypes.string_at(data_out.pbData, data_out.cbData)
    finally:
        kernel32.LocalFree(data_out.pbData)


class DpapiMachineProtector:
    """Wraps with Windows DPAPI in user scope; the envelope's ``aad`` is DPAPI's entropy.

    Only this Windows account on this PC can unwrap (it survives password changes, not a
    reinstall or a new PC). Imports on any OS; crypt32 is loaded only when a method runs.
    """

    kind = "dpapi"

    def wrap(self, dek: bytes, aad: bytes) -> dict[str, str]:
        """Seal ``dek`` with CryptProtectData (entropy = ``aad``)."""
        try:
            return {"blob": b64(_crypt_protect(dek, aad))}
        except DpapiError as exc:
            raise ClinicDeskError(ErrorCode.MACHINE_KEY_MISSING, winerror=exc.winerror) from exc

    def unwrap(self, envelope: Mapping[str, str], aad: bytes) -> bytes:
        """MACHINE_KEY_MISSING if this account/PC lacks the DPAPI master key, else
        MACHINE_KEY_WRONG when DPAPI rejects the blob (edited blob or different ``aad``)."""
        blob = envelope_bytes(envelope, "blob")
        try:
            return _crypt_unprotect(blob, aad)
        except DpapiError as exc:
            code = ErrorCode.MACHINE_KEY_MISSING
            if exc.winerror != NTE_BAD_KEY_STATE:
                code = ErrorCode.MACHINE_KEY_WRONG
            raise ClinicDeskError(code, winerror=exc.winerror) from exc

    def storage_problems(self) -> list[str]:
        """Nothing to check: the DPAPI blob is the protection (ACLs are not inspected)."""
        return []


# --- recovery key --------------------------------------------------------------------------


class RecoveryProtector:
    """Wraps with a key derived from the recovery key: HKDF-SHA256, then AES-256-GCM."""

    kind = "recovery-key-v1"

    def __init__(self, rk: RecoveryKey) -> None:
        self._rk = rk

    def wrap(self, dek: bytes, aad: bytes) -> dict[str, str]:
        """Seal ``dek`` under a KEK derived with a fresh random salt."""
        salt = secrets.token_bytes(SALT_BYTES)
        return {"kdf": "hkdf-sha256", "salt": b64(salt), **seal(self._kek(salt), dek, aad)}

    def unwrap(self, envelope: Mapping[str, str], aad: bytes) -> bytes:
        """RECOVERY_KEY_WRONG when the key (or the envelope) does not authenticate."""
        if envelope.get("kdf") != "hkdf-sha256":
            raise ClinicDeskError(ErrorCode.KEYSTORE_CORRUPT, reason="bad_field", field="kdf")
        kek = self._kek(envelope_bytes(envelope, "salt", SALT_BYTES))
        return unseal(kek, envelope, aad, ClinicDeskError(ErrorCode.RECOVERY_KEY_WRONG))

    def _kek(self, salt: bytes) -> bytes:
        # The recovery key is 128 uniformly random bits, not a password: guessing it costs 2**128
        # tries whatever the KDF, so a slow KDF (Argon2/PBKDF2) would add start-up time and no
        # security. HKDF only turns it into a 256-bit AES key bound to this salt and purpose.
        hkdf = HKDF(algorithm=SHA256(), length=KEY_BYTES, salt=salt, info=RECOVERY_HKDF_INFO)
        return hkdf.derive(self._rk.raw)


def default_machine_protector(key_dir: Path | None = None) -> MachineProtector:
    """DPAPI on Windows, otherwise a key file in ``key_dir`` (default: :func:`default_key_dir`)."""
    if sys.platform == "win32":
        return DpapiMachineProtector()
    return FileMachineProtector(key_dir or default_key_dir())
