"""The keystore: the data key (DEK) wrapped by each protector, in two identical copies.

``keystore.json`` and ``keystore.bak`` hold the same versioned JSON document. Losing this file is
losing the database (Signal Desktop #2609), so every write is atomic, there is a second copy, and
the recovery envelope opens the store on a new machine. Nothing here ever creates a new key over
an existing keystore; only :meth:`KeyStore.rewrap_for_machine` and :meth:`KeyStore.repair_from`
replace a copy, and only with complete content they have decrypted back first.

The DEK is returned as ``bytes``. CPython may keep copies of it that cannot be wiped; keeping it
out of ``repr`` and logs is best effort, not a guarantee (see docs/SECURITY.md, "Keys").
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.config import DataDir
from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.atomic import atomic_write_bytes
from app.security import recovery_key
from app.security.fsperms import make_private_dir, write_new_file
from app.security.protectors import MachineProtector, Protector, RecoveryProtector
from app.security.recovery_key import RecoveryKey

FORMAT = "clinicdesk-keystore"
VERSION = 1
DEK_BYTES = 32
PURPOSE_DATA = "data"
PURPOSE_BACKUP = "backup"  # the backup key: its own envelopes, each naming the key's own key_id
MACHINE = "machine"
RECOVERY = "recovery"
PRIMARY = "primary"
BACKUP = "backup"
_KEY_ID = re.compile(r"[0-9a-f]{16}")

log = logging.getLogger(__name__)

# When no copy opens, the most actionable reason is reported: "machine key missing" tells IT to
# use the recovery key, which helps more than "corrupt" from the other copy.
_ERROR_PRIORITY = (
    ErrorCode.MACHINE_KEY_MISSING,
    ErrorCode.MACHINE_KEY_WRONG,
    ErrorCode.RECOVERY_KEY_WRONG,
    ErrorCode.DEK_MISMATCH,
    ErrorCode.KEYSTORE_CORRUPT,
)
# With no envelope for a protector: a keystore made on another OS has no machine envelope for
# this one (like a new PC); every keystore has a recovery envelope, so its absence is damage.
_NO_ENVELOPE = {MACHINE: ErrorCode.MACHINE_KEY_MISSING, RECOVERY: ErrorCode.KEYSTORE_CORRUPT}

Document = dict[str, Any]
Opener = Callable[[Document], bytes]


def key_id_for(dek: bytes) -> str:
    """The non-secret fingerprint of a DEK: 16 hex digits of a domain-separated SHA-256."""
    return hashlib.sha256(b"clinicdesk-dek-id" + dek).hexdigest()[:16]


def envelope_aad(purpose: str, protector: str, key_id: str) -> bytes:
    """Associated data binding an envelope to its purpose, protector and DEK, so envelopes cannot
    be swapped between purposes or keystores without failing authentication."""
    return f"clinicdesk-keystore-v1|{purpose}|{protector}|{key_id}".encode()


@dataclass
class UnlockResult:
    """The unwrapped DEK (kept out of ``repr``), which copy gave it, and its fingerprint."""

    dek: bytes = field(repr=False)
    source: str  # "primary" or "backup"
    key_id: str


@dataclass(frozen=True)
class _Copy:
    """One keystore file as read: absent, unusable (``error``) or a validated ``doc``."""

    source: str
    path: Path
    present: bool
    raw: bytes = b""
    doc: Document | None = None
    error: ClinicDeskError | None = None

    @property
    def state(self) -> str:
        if not self.present:
            return "missing"
        if self.doc is not None:
            return "ok"
        unsupported = self.error and self.error.code is ErrorCode.KEYSTORE_UNSUPPORTED_VERSION
        return "unsupported_version" if unsupported else "corrupt"


class KeyStore:
    """Creates, opens, re-wraps and repairs the keystore of one data directory."""

    def __init__(self, data_dir: DataDir, machine: MachineProtector) -> None:
        self.data_dir = data_dir
        self.machine = machine

    # --- public operations ---------------------------------------------------------------

    def exists(self) -> bool:
        """True when either copy is present (then nothing may create a new keystore here)."""
        return self.data_dir.keystore.exists() or self.data_dir.keystore_backup.exists()

    def create(self) -> tuple[bytes, RecoveryKey]:
        """A new 32-byte DEK and recovery key, saved as keystore.json then keystore.bak.

        Raises DATA_DIR_ALREADY_INITIALISED, touching nothing, if either copy exists.
        """
        if self.exists():
            raise ClinicDeskError(
                ErrorCode.DATA_DIR_ALREADY_INITIALISED, path=str(self.data_dir.root)
            )
        dek, rk = secrets.token_bytes(DEK_BYTES), recovery_key.generate()
        self._create_with(dek, rk, secrets.token_bytes(DEK_BYTES))
        return dek, rk

    def create_restored(self, rk: RecoveryKey, backup_key: bytes) -> bytes:
        """A keystore for a data directory restored from a backup: a NEW data key, wrapped for
        this machine and the existing recovery key ``rk``, and the archive's ``backup_key`` (so
        the restored installation keeps opening its older archives). Returns the new DEK.

        Refuses like :meth:`create` if either copy exists.
        """
        if self.exists():
            raise ClinicDeskError(
                ErrorCode.DATA_DIR_ALREADY_INITIALISED, path=str(self.data_dir.root)
            )
        dek = secrets.token_bytes(DEK_BYTES)
        self._create_with(dek, rk, backup_key)
        return dek

    def _create_with(self, dek: bytes, rk: RecoveryKey, backup_key: bytes) -> None:
        make_private_dir(self.data_dir.root)
        document = self._new_document(dek, rk)
        document["envelopes"] += backup_envelopes(backup_key, self.machine, rk)
        raw = self._verified(document, dek, recovery=RecoveryProtector(rk))
        self._write_new_copies(raw)

    def unlock(self) -> UnlockResult:
        """The DEK via the machine protector, from the primary copy or else the backup copy."""
        return self._open_any(self._machine_opener)

    def unlock_with_recovery(self, rk: RecoveryKey) -> UnlockResult:
        """The DEK via the recovery key; RECOVERY_KEY_WRONG if it does not open either copy."""
        protector = RecoveryProtector(rk)
        return self._open_any(lambda doc: _unwrap(doc, PURPOSE_DATA, RECOVERY, protector))

    def rewrap_for_machine(self, dek: bytes, backup_key: bytes | None = None) -> None:
        """Replace the data key's machine envelope with one for this machine (a new machine key),
        and the backup key's too when ``backup_key`` is given, keeping every other envelope as
        it is; both copies are rewritten atomically."""
        base = self._document_for(dek)
        document = _replace_envelope(base, _seal(PURPOSE_DATA, MACHINE, self.machine, dek, base))
        if backup_key is not None:
            document = _replace_envelope(document, seal_backup(MACHINE, self.machine, backup_key))
        raw = self._verified(document, dek)
        for path in self._paths():
            atomic_write_bytes(path, raw)

    def repair_from(self, result: UnlockResult) -> bool:
        """Rewrite the other copy from the one that gave ``result``; True if it wrote anything.

        Writes only when the good copy still opens with the machine protector to ``result.dek``,
        and never over a copy of a newer format or of a different data key (left for a person).
        Returns False (and logs) if the bad copy cannot be replaced. After a recovery unlock,
        call :meth:`rewrap_for_machine` instead.
        """
        copies = {copy.source: copy for copy in self._read_copies()}
        good = copies[result.source]
        bad = copies[BACKUP if result.source == PRIMARY else PRIMARY]
        if not (self._opens_to(good, result.dek) and _needs_repair(bad, good)):
            return False
        try:
            atomic_write_bytes(bad.path, good.raw)
        except OSError:
            # Repair is opportunistic: the key is already open, so a copy that cannot be replaced
            # (e.g. a directory in its place) must not stop start-up; describe() still shows it.
            log.warning("keystore copy could not be repaired", extra={"code": bad.source})
            return False
        return True

    # --- the backup key ------------------------------------------------------------------

    def has_backup_key(self) -> bool:
        """True when a valid copy holds backup-key envelopes (keystores made before backups
        existed have none until :meth:`add_backup_key`)."""
        docs = [copy.doc for copy in self._read_copies() if copy.doc is not None]
        return any(_backup_envelope(doc, RECOVERY) is not None for doc in docs)

    def unlock_backup_key(self) -> bytes:
        """The backup key via the machine protector; BACKUP_KEY_MISSING if none was made."""
        return self._backup_key_with(MACHINE, self.machine)

    def unlock_backup_key_with_recovery(self, rk: RecoveryKey) -> bytes:
        """The backup key via the recovery key (RECOVERY_KEY_WRONG if it does not open it)."""
        return self._backup_key_with(RECOVERY, RecoveryProtector(rk))

    def backup_recovery_envelope(self) -> dict[str, str]:
        """The backup key sealed to the recovery key: written into every archive's header, so
        a new PC with only the recovery key can open the archive (it holds nothing else)."""
        for copy in self._read_copies():
            envelope = _backup_envelope(copy.doc, RECOVERY) if copy.doc else None
            if envelope is not None:
                return dict(envelope)
        raise ClinicDeskError(ErrorCode.BACKUP_KEY_MISSING)

    def add_backup_key(self, rk: RecoveryKey) -> bytes:
        """Give a keystore made before backups existed a backup key (machine and recovery
        envelopes); ``rk`` must open the data key. Returns the (new or existing) backup key."""
        if self.has_backup_key():
            return self.unlock_backup_key()
        dek = self.unlock_with_recovery(rk).dek
        backup_key = secrets.token_bytes(DEK_BYTES)
        document = self._document_for(dek)
        document = {
            **document,
            "envelopes": [*document["envelopes"], *backup_envelopes(backup_key, self.machine, rk)],
        }
        raw = self._verified(document, dek)
        for path in self._paths():
            atomic_write_bytes(path, raw)
        return backup_key

    def _backup_key_with(self, name: str, protector: Protector) -> bytes:
        copies = self._read_copies()
        _refuse_missing_or_newer(copies)
        errors: list[ClinicDeskError] = []
        for doc in (copy.doc for copy in copies if copy.doc is not None):
            envelope = _backup_envelope(doc, name, protector.kind)
            if envelope is None:
                errors.append(ClinicDeskError(ErrorCode.BACKUP_KEY_MISSING))
                continue
            try:
                return open_backup_envelope(envelope, protector)
            except ClinicDeskError as exc:
                errors.append(exc)
        raise min(errors or [_corrupt("unreadable")], key=_error_rank)

    def describe(self) -> dict[str, object]:
        """What ``clinicdesk status`` shows about the keys (nothing secret, nothing decrypted)."""
        primary, backup = self._read_copies()
        doc = primary.doc or backup.doc or {}
        envelopes = doc.get("envelopes", [])
        return {
            "format_version": doc.get("version"),
            "key_id": doc.get("key_id"),
            "protector_kinds": sorted({envelope["kind"] for envelope in envelopes}),
            "machine_kind": self.machine.kind,
            "primary_ok": primary.doc is not None,
            "backup_ok": backup.doc is not None,
            "primary_state": primary.state,
            "backup_state": backup.state,
            "copies_identical": primary.doc is not None and primary.raw == backup.raw,
        }

    # --- reading -------------------------------------------------------------------------

    def _paths(self) -> tuple[Path, Path]:
        return self.data_dir.keystore, self.data_dir.keystore_backup

    def _read_copies(self) -> tuple[_Copy, _Copy]:
        primary, backup = self._paths()
        return _read_copy(PRIMARY, primary), _read_copy(BACKUP, backup)

    def _open_any(self, opener: Opener) -> UnlockResult:
        """The first copy that opens; otherwise the most useful of the copies' errors."""
        copies = self._read_copies()
        _refuse_missing_or_newer(copies)
        errors: list[ClinicDeskError] = []
        for copy in (c for c in copies if c.present):
            try:
                return _open_copy(copy, opener)
            except ClinicDeskError as exc:
                errors.append(exc)
        raise min(errors, key=_error_rank)

    def _document_for(self, dek: bytes) -> Document:
        """A valid copy's document for this DEK, to re-wrap from."""
        copies = self._read_copies()
        _refuse_missing_or_newer(copies)
        documents = [copy.doc for copy in copies if copy.doc is not None]
        for doc in documents:
            if doc["key_id"] == key_id_for(dek):
                return doc
        code = ErrorCode.DEK_MISMATCH if documents else ErrorCode.KEYSTORE_CORRUPT
        raise ClinicDeskError(code)

    def _opens_to(self, copy: _Copy, dek: bytes) -> bool:
        """True when ``copy`` is valid and its machine envelope opens to ``dek`` right now."""
        if copy.doc is None:
            return False
        try:
            return _open_copy(copy, self._machine_opener).dek == dek
        except ClinicDeskError:
            return False

    def _machine_opener(self, doc: Document) -> bytes:
        return _unwrap(doc, PURPOSE_DATA, MACHINE, self.machine)

    # --- writing -------------------------------------------------------------------------

    def _new_document(self, dek: bytes, rk: RecoveryKey) -> Document:
        doc: Document = {
            "format": FORMAT,
            "version": VERSION,
            "key_id": key_id_for(dek),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        doc["envelopes"] = [
            _seal(PURPOSE_DATA, MACHINE, self.machine, dek, doc),
            _seal(PURPOSE_DATA, RECOVERY, RecoveryProtector(rk), dek, doc),
        ]
        return doc

    def _verified(
        self, document: Document, dek: bytes, recovery: RecoveryProtector | None = None
    ) -> bytes:
        """``document`` serialised, after parsing it back and opening its data envelopes with
        the machine protector (and ``recovery``): content that does not give back ``dek`` is
        never written."""
        raw = serialise(document)
        parsed = parse_document(raw)
        _check_dek(dek, parsed["key_id"])
        checks: list[tuple[str, Protector]] = [(MACHINE, self.machine)]
        if recovery is not None:
            checks.append((RECOVERY, recovery))
        for name, protector in checks:
            if _unwrap(parsed, PURPOSE_DATA, name, protector) != dek:
                raise ClinicDeskError(ErrorCode.DEK_MISMATCH)
        return raw

    def _write_new_copies(self, raw: bytes) -> None:
        for path in self._paths():
            try:
                write_new_file(path, raw)
            except FileExistsError as exc:  # appeared since exists(): someone else is initialising
                raise ClinicDeskError(
                    ErrorCode.DATA_DIR_ALREADY_INITIALISED, path=str(self.data_dir.root)
                ) from exc


# --- document format -----------------------------------------------------------------------


def serialise(document: Document) -> bytes:
    """The on-disk form: UTF-8 JSON with sorted keys (stable bytes for identical content)."""
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def parse_document(raw: bytes) -> Document:
    """A validated keystore document; KEYSTORE_CORRUPT for anything malformed and
    KEYSTORE_UNSUPPORTED_VERSION for a version this program does not know."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _corrupt("not_json") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _corrupt("not_a_keystore")
    version = doc.get("version")
    if type(version) is not int:
        raise _corrupt("bad_version")
    if version != VERSION:
        raise ClinicDeskError(ErrorCode.KEYSTORE_UNSUPPORTED_VERSION, version=version)
    _check_fields(doc)
    return doc


def _check_fields(doc: Document) -> None:
    key_id, envelopes = doc.get("key_id"), doc.get("envelopes")
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise _corrupt("bad_key_id")
    if not isinstance(doc.get("created_at"), str) or not isinstance(envelopes, list):
        raise _corrupt("missing_field")
    if not all(_is_envelope(envelope) for envelope in envelopes):
        raise _corrupt("bad_envelope")


def _is_envelope(envelope: object) -> bool:
    """A JSON object of strings naming at least its purpose, protector and kind."""
    if not isinstance(envelope, dict):
        return False
    strings = all(isinstance(k, str) and isinstance(v, str) for k, v in envelope.items())
    return strings and {"purpose", "protector", "kind"} <= envelope.keys()


def _corrupt(reason: str) -> ClinicDeskError:
    return ClinicDeskError(ErrorCode.KEYSTORE_CORRUPT, reason=reason)


def _read_copy(source: str, path: Path) -> _Copy:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return _Copy(source, path, present=False)
    except OSError:  # a directory in its place, an I/O error: this copy cannot be used
        return _Copy(source, path, present=True, error=_corrupt("unreadable"))
    try:
        return _Copy(source, path, present=True, raw=raw, doc=parse_document(raw))
    except ClinicDeskError as exc:
        return _Copy(source, path, present=True, raw=raw, error=exc)


def _refuse_missing_or_newer(copies: tuple[_Copy, _Copy]) -> None:
    """KEYSTORE_MISSING with no copy at all; KEYSTORE_UNSUPPORTED_VERSION if either copy was
    written by a newer program (using or repairing from the older copy could undo its work)."""
    if not any(copy.present for copy in copies):
        raise ClinicDeskError(ErrorCode.KEYSTORE_MISSING)
    for copy in copies:
        if copy.state == "unsupported_version" and copy.error is not None:
            raise copy.error


def _open_copy(copy: _Copy, opener: Opener) -> UnlockResult:
    if copy.doc is None:
        raise copy.error or _corrupt("unreadable")
    dek = opener(copy.doc)
    _check_dek(dek, copy.doc["key_id"])
    return UnlockResult(dek=dek, source=copy.source, key_id=copy.doc["key_id"])


def _check_dek(dek: bytes, key_id: str) -> None:
    """DEK_MISMATCH unless ``dek`` is a 32-byte key with fingerprint ``key_id``."""
    if len(dek) != DEK_BYTES or not secrets.compare_digest(key_id_for(dek), key_id):
        raise ClinicDeskError(ErrorCode.DEK_MISMATCH)


def _needs_repair(bad: _Copy, good: _Copy) -> bool:
    """True when ``bad`` is missing, unreadable, corrupt, or a stale copy of the same key."""
    if not bad.present or bad.state == "corrupt":
        return True
    if bad.doc is None:  # a newer format: not ours to overwrite
        return False
    same_key = good.doc is not None and bad.doc["key_id"] == good.doc["key_id"]
    return same_key and bad.raw != good.raw


def _error_rank(error: ClinicDeskError) -> int:
    code = error.code
    return _ERROR_PRIORITY.index(code) if code in _ERROR_PRIORITY else len(_ERROR_PRIORITY)


# --- envelopes -----------------------------------------------------------------------------


def _seal(
    purpose: str, name: str, protector: Protector, dek: bytes, doc: Document
) -> dict[str, str]:
    """A complete envelope: the protector's fields plus what identifies the envelope."""
    fields = protector.wrap(dek, envelope_aad(purpose, name, doc["key_id"]))
    return {**fields, "purpose": purpose, "protector": name, "kind": protector.kind}


def _unwrap(doc: Document, purpose: str, name: str, protector: Protector) -> bytes:
    """The DEK from ``doc``'s envelope for ``purpose`` sealed by ``protector``."""
    matching = [
        envelope
        for envelope in doc["envelopes"]
        if (envelope["purpose"], envelope["protector"], envelope["kind"])
        == (purpose, name, protector.kind)
    ]
    if not matching:
        raise ClinicDeskError(_NO_ENVELOPE[name], reason="no_envelope", kind=protector.kind)
    return protector.unwrap(matching[0], envelope_aad(purpose, name, doc["key_id"]))


def _replace_envelope(doc: Document, envelope: dict[str, str]) -> Document:
    """A copy of ``doc`` where ``envelope`` replaces every envelope of its purpose and protector
    (any kind: a keystore moved from Windows to Linux drops its DPAPI envelope)."""
    slot = (envelope["purpose"], envelope["protector"])
    kept = [e for e in doc["envelopes"] if (e["purpose"], e["protector"]) != slot]
    return {**doc, "envelopes": [*kept, envelope]}


# --- backup-key envelopes ------------------------------------------------------------------


def backup_envelopes(
    backup_key: bytes, machine: Protector, rk: RecoveryKey
) -> list[dict[str, str]]:
    """The backup key sealed to this machine and to the recovery key."""
    return [
        seal_backup(MACHINE, machine, backup_key),
        seal_backup(RECOVERY, RecoveryProtector(rk), backup_key),
    ]


def seal_backup(name: str, protector: Protector, backup_key: bytes) -> dict[str, str]:
    """A backup-key envelope; it names the backup key's own fingerprint (``key_id``), which its
    associated data binds, so it is valid in any keystore and in an archive header."""
    kid = key_id_for(backup_key)
    fields = protector.wrap(backup_key, envelope_aad(PURPOSE_BACKUP, name, kid))
    return {
        **fields,
        "purpose": PURPOSE_BACKUP,
        "protector": name,
        "kind": protector.kind,
        "key_id": kid,
    }


def open_backup_envelope(envelope: dict[str, str], protector: Protector) -> bytes:
    """The backup key from ``envelope``; DEK_MISMATCH if it does not match its ``key_id``."""
    kid = envelope.get("key_id", "")
    if not isinstance(kid, str) or not _KEY_ID.fullmatch(kid):
        raise _corrupt("bad_key_id")
    key = protector.unwrap(envelope, envelope_aad(PURPOSE_BACKUP, envelope["protector"], kid))
    _check_dek(key, kid)
    return key


def _backup_envelope(doc: Document, name: str, kind: str | None = None) -> dict[str, str] | None:
    for envelope in doc["envelopes"]:
        slot = envelope["purpose"] == PURPOSE_BACKUP and envelope["protector"] == name
        if slot and (kind is None or envelope["kind"] == kind):
            return dict(envelope)
    return None
