"""The keystore on real files with real crypto: create, unlock, fall back, repair, recover.

Only the Windows DPAPI calls are replaced (by a fake at the ctypes boundary) on other systems.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.config import DataDir
from app.domain.errors import ClinicDeskError, ErrorCode
from app.security import protectors
from app.security.fsperms import storage_problems
from app.security.keystore import KeyStore, UnlockResult, envelope_aad, key_id_for, serialise
from app.security.protectors import (
    DpapiError,
    DpapiMachineProtector,
    FileMachineProtector,
    default_machine_protector,
)
from app.security.recovery_key import RecoveryKey, generate, parse

Doc = dict[str, Any]
POSIX_ONLY = pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits; Windows uses ACLs")


@pytest.fixture
def dd(data_dir: Path) -> DataDir:
    return DataDir(data_dir)


@pytest.fixture
def machine(key_dir: Path) -> FileMachineProtector:
    return FileMachineProtector(key_dir)


@pytest.fixture
def store(dd: DataDir, machine: FileMachineProtector) -> KeyStore:
    return KeyStore(dd, machine)


@pytest.fixture
def created(store: KeyStore) -> tuple[bytes, RecoveryKey]:
    return store.create()


def code_of(action: Callable[[], object]) -> ErrorCode:
    with pytest.raises(ClinicDeskError) as info:
        action()
    return info.value.code


def snapshot(dd: DataDir) -> dict[str, bytes | None]:
    paths = (dd.keystore, dd.keystore_backup)
    return {p.name: p.read_bytes() if p.is_file() else None for p in paths}


def load(path: Path) -> Doc:
    doc: Doc = json.loads(path.read_bytes())
    return doc


def save(path: Path, doc: Doc) -> None:
    path.write_bytes(serialise(doc))


def envelope(doc: Doc, protector: str) -> Doc:
    return next(e for e in doc["envelopes"] if e["protector"] == protector)


def flip_ciphertext(path: Path, protector: str) -> None:
    doc = load(path)
    env = envelope(doc, protector)
    raw = bytearray(base64.b64decode(env["ciphertext"]))
    raw[0] ^= 0x01
    env["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    save(path, doc)


# --- create and unlock --------------------------------------------------------------------


def test_create_then_unlock_from_primary(
    store: KeyStore, dd: DataDir, created: tuple[bytes, RecoveryKey]
) -> None:
    dek, _rk = created
    result = store.unlock()
    assert len(dek) == 32
    assert (result.dek, result.source, result.key_id) == (dek, "primary", key_id_for(dek))
    assert dd.keystore.read_bytes() == dd.keystore_backup.read_bytes()


def test_document_format(dd: DataDir, created: tuple[bytes, RecoveryKey]) -> None:
    dek, _rk = created
    raw = dd.keystore.read_bytes()
    doc = json.loads(raw)
    assert raw == serialise(doc)  # sorted keys, stable bytes
    assert (doc["format"], doc["version"], doc["key_id"]) == (
        "clinicdesk-keystore",
        1,
        key_id_for(dek),
    )
    assert doc["created_at"].endswith("+00:00")
    machine_env, recovery_env = envelope(doc, "machine"), envelope(doc, "recovery")
    assert set(machine_env) == {
        "purpose",
        "protector",
        "kind",
        "machine_key_id",
        "nonce",
        "ciphertext",
    }
    assert (machine_env["purpose"], machine_env["kind"]) == ("data", "linux-file")
    assert set(recovery_env) == {
        "purpose",
        "protector",
        "kind",
        "kdf",
        "salt",
        "nonce",
        "ciphertext",
    }
    assert (recovery_env["kind"], recovery_env["kdf"]) == ("recovery-key-v1", "hkdf-sha256")
    assert len(base64.b64decode(machine_env["nonce"])) == 12
    assert len(base64.b64decode(recovery_env["salt"])) == 16


def test_key_id_and_aad_follow_the_specification() -> None:
    import hashlib

    dek = bytes(range(32))
    assert key_id_for(dek) == hashlib.sha256(b"clinicdesk-dek-id" + dek).hexdigest()[:16]
    assert envelope_aad("data", "machine", "0011223344556677") == (
        b"clinicdesk-keystore-v1|data|machine|0011223344556677"
    )


def test_each_create_makes_new_keys(tmp_path: Path, key_dir: Path) -> None:
    machine = FileMachineProtector(key_dir)
    one = KeyStore(DataDir(tmp_path / "one"), machine).create()
    two = KeyStore(DataDir(tmp_path / "two"), machine).create()
    assert one[0] != two[0]
    assert one[1] != two[1]
    # installations never share a machine key (each has two: data key and backup key)
    assert len(list(key_dir.glob("*.key"))) == 4


def test_unlock_result_repr_hides_the_dek(
    store: KeyStore, created: tuple[bytes, RecoveryKey]
) -> None:
    shown = repr(store.unlock())
    dek = created[0]
    assert dek.hex() not in shown
    assert repr(dek) not in shown


def test_no_leftover_temporary_files(dd: DataDir, key_dir: Path, created: object) -> None:
    assert sorted(p.name for p in dd.root.iterdir()) == ["keystore.bak", "keystore.json"]
    assert all(p.suffix == ".key" for p in key_dir.iterdir())


# --- create refuses -----------------------------------------------------------------------


@pytest.mark.parametrize("which", ["keystore.json", "keystore.bak"])
def test_create_refuses_an_existing_copy_and_changes_nothing(
    store: KeyStore, dd: DataDir, key_dir: Path, which: str
) -> None:
    dd.root.mkdir()
    (dd.root / which).write_bytes(b"precious, whatever it is")
    before = snapshot(dd)
    assert code_of(store.create) is ErrorCode.DATA_DIR_ALREADY_INITIALISED
    assert snapshot(dd) == before
    assert not key_dir.exists()  # not even a machine key was made


def test_create_twice_refuses_and_keeps_the_first_keystore(
    store: KeyStore, dd: DataDir, created: tuple[bytes, RecoveryKey]
) -> None:
    before = snapshot(dd)
    assert code_of(store.create) is ErrorCode.DATA_DIR_ALREADY_INITIALISED
    assert snapshot(dd) == before
    assert store.unlock().dek == created[0]


def test_exists(store: KeyStore, dd: DataDir) -> None:
    assert not store.exists()
    store.create()
    assert store.exists()
    dd.keystore.unlink()
    assert store.exists()
    dd.keystore_backup.unlink()
    assert not store.exists()


# --- damaged copies -----------------------------------------------------------------------

DAMAGE: dict[str, Callable[[Path], object]] = {
    "garbage": lambda p: p.write_bytes(secrets.token_bytes(300)),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "empty": lambda p: p.write_bytes(b""),
    "deleted": lambda p: p.unlink(),
    "not-a-keystore": lambda p: p.write_text('{"hello": "world"}'),
    "tampered-machine-envelope": lambda p: flip_ciphertext(p, "machine"),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_bad_primary_falls_back_to_backup_and_is_repaired(
    store: KeyStore,
    dd: DataDir,
    created: tuple[bytes, RecoveryKey],
    damage: Callable[[Path], object],
) -> None:
    good = dd.keystore_backup.read_bytes()
    damage(dd.keystore)
    result = store.unlock()
    assert (result.dek, result.source) == (created[0], "backup")
    assert store.repair_from(result) is True
    assert dd.keystore.read_bytes() == good
    assert store.unlock().source == "primary"
    assert store.repair_from(store.unlock()) is False  # nothing left to repair


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_bad_backup_is_repaired_from_primary(
    store: KeyStore,
    dd: DataDir,
    created: tuple[bytes, RecoveryKey],
    damage: Callable[[Path], object],
) -> None:
    good = dd.keystore.read_bytes()
    damage(dd.keystore_backup)
    result = store.unlock()
    assert (result.dek, result.source) == (created[0], "primary")
    assert store.repair_from(result) is True
    assert dd.keystore_backup.read_bytes() == good


MALFORMED: dict[str, Callable[[Doc], object]] = {
    "no-key-id": lambda d: d.pop("key_id"),
    "bad-key-id": lambda d: d.update(key_id="../../etc/passwd"),
    "no-envelopes": lambda d: d.pop("envelopes"),
    "envelopes-not-a-list": lambda d: d.update(envelopes={"a": 1}),
    "envelope-not-strings": lambda d: d["envelopes"][0].update(nonce=12),
    "envelope-without-kind": lambda d: d["envelopes"][0].pop("kind"),
    "version-as-text": lambda d: d.update(version="1"),
    "wrong-format": lambda d: d.update(format="something-else"),
    "no-created-at": lambda d: d.pop("created_at"),
    "bad-base64": lambda d: envelope(d, "machine").update(nonce="!!not base64!!"),
    "short-nonce": lambda d: envelope(d, "machine").update(nonce="AAAA"),
    "path-in-machine-key-id": lambda d: envelope(d, "machine").update(machine_key_id="../x"),
}


@pytest.mark.parametrize("mutate", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_primary_counts_as_corrupt(
    store: KeyStore,
    dd: DataDir,
    created: tuple[bytes, RecoveryKey],
    mutate: Callable[[Doc], object],
) -> None:
    doc = load(dd.keystore)
    mutate(doc)
    save(dd.keystore, doc)
    assert store.unlock().source == "backup"
    save(dd.keystore_backup, doc)
    before = snapshot(dd)
    assert code_of(store.unlock) is ErrorCode.KEYSTORE_CORRUPT
    assert snapshot(dd) == before


def test_an_unreadable_primary_falls_back(
    store: KeyStore, dd: DataDir, created: tuple[bytes, RecoveryKey]
) -> None:
    dd.keystore.unlink()
    dd.keystore.mkdir()  # read fails with an OSError even for root
    result = store.unlock()
    assert (result.dek, result.source) == (created[0], "backup")
    assert store.repair_from(result) is False  # cannot replace a directory; does not raise
    assert store.describe()["primary_state"] == "corrupt"


def test_both_copies_corrupt_is_corrupt_and_changes_nothing(
    store: KeyStore, dd: DataDir, created: object
) -> None:
    dd.keystore.write_bytes(b"{not json")
    DAMAGE["truncated"](dd.keystore_backup)
    before = snapshot(dd)
    assert code_of(store.unlock) is ErrorCode.KEYSTORE_CORRUPT
    assert code_of(lambda: store.unlock_with_recovery(generate())) is ErrorCode.KEYSTORE_CORRUPT
    assert snapshot(dd) == before


def test_both_copies_missing(store: KeyStore, dd: DataDir) -> None:
    assert code_of(store.unlock) is ErrorCode.KEYSTORE_MISSING
    store.create()
    dd.keystore.unlink()
    dd.keystore_backup.unlink()
    assert code_of(store.unlock) is ErrorCode.KEYSTORE_MISSING
    assert code_of(lambda: store.unlock_with_recovery(generate())) is ErrorCode.KEYSTORE_MISSING
    assert not dd.keystore.exists()


@pytest.mark.parametrize("which", ["keystore", "keystore_backup"])
def test_a_newer_version_is_refused_not_bypassed(
    store: KeyStore, dd: DataDir, created: object, which: str
) -> None:
    path = getattr(dd, which)
    doc = load(path)
    doc["version"] = 2
    save(path, doc)
    before = snapshot(dd)
    assert code_of(store.unlock) is ErrorCode.KEYSTORE_UNSUPPORTED_VERSION
    assert snapshot(dd) == before


# --- machine key lost: recovery -----------------------------------------------------------


def test_new_pc_recovery_rewrap_and_unlock(
    tmp_path: Path,
    store: KeyStore,
    dd: DataDir,
    key_dir: Path,
    created: tuple[bytes, RecoveryKey],
) -> None:
    dek, rk = created
    recovery_before = envelope(load(dd.keystore), "recovery")
    for key_file in key_dir.glob("*.key"):
        key_file.unlink()
    assert code_of(store.unlock) is ErrorCode.MACHINE_KEY_MISSING

    typed = parse(rk.formatted().replace("-", " "))  # IT types the printed key
    recovered = store.unlock_with_recovery(typed)
    assert (recovered.dek, recovered.source) == (dek, "primary")
    assert store.repair_from(recovered) is False  # no copy opens with the machine: no write

    new_machine = FileMachineProtector(tmp_path / "new-machine-keys")
    new_store = KeyStore(dd, new_machine)
    new_store.rewrap_for_machine(recovered.dek)

    assert new_store.unlock() == UnlockResult(dek=dek, source="primary", key_id=key_id_for(dek))
    assert new_store.unlock_with_recovery(rk).dek == dek
    assert dd.keystore.read_bytes() == dd.keystore_backup.read_bytes()
    doc = load(dd.keystore)
    assert envelope(doc, "recovery") == recovery_before
    data_envelopes = [e for e in doc["envelopes"] if e["purpose"] == "data"]
    assert [e["protector"] for e in data_envelopes].count("machine") == 1
    assert code_of(store.unlock) is ErrorCode.MACHINE_KEY_MISSING  # the old key is gone for good


def test_rewrap_from_the_backup_when_the_primary_is_corrupt(
    tmp_path: Path, dd: DataDir, created: tuple[bytes, RecoveryKey]
) -> None:
    _dek, rk = created
    dd.keystore.write_bytes(b"garbage")
    new_store = KeyStore(dd, FileMachineProtector(tmp_path / "new-keys"))
    new_store.rewrap_for_machine(new_store.unlock_with_recovery(rk).dek)
    assert new_store.unlock().source == "primary"
    assert dd.keystore.read_bytes() == dd.keystore_backup.read_bytes()


def test_rewrap_refuses_a_different_dek(store: KeyStore, dd: DataDir, created: object) -> None:
    before = snapshot(dd)
    assert code_of(lambda: store.rewrap_for_machine(secrets.token_bytes(32))) is (
        ErrorCode.DEK_MISMATCH
    )
    assert snapshot(dd) == before


def test_rewrap_without_a_keystore(store: KeyStore, dd: DataDir) -> None:
    assert code_of(lambda: store.rewrap_for_machine(bytes(32))) is ErrorCode.KEYSTORE_MISSING
    assert not dd.keystore.exists()


def test_machine_key_replaced_is_wrong(
    store: KeyStore, key_dir: Path, dd: DataDir, created: object
) -> None:
    key_file = key_dir / f"{envelope(load(dd.keystore), 'machine')['machine_key_id']}.key"
    key_file.write_bytes(secrets.token_bytes(32))
    assert code_of(store.unlock) is ErrorCode.MACHINE_KEY_WRONG
    key_file.write_bytes(b"short")
    assert code_of(store.unlock) is ErrorCode.MACHINE_KEY_WRONG


def test_a_wrong_recovery_key_is_wrong(store: KeyStore, dd: DataDir, created: object) -> None:
    before = snapshot(dd)
    assert code_of(lambda: store.unlock_with_recovery(generate())) is ErrorCode.RECOVERY_KEY_WRONG
    assert snapshot(dd) == before


def test_the_other_copy_of_a_different_key_is_not_overwritten(
    tmp_path: Path, store: KeyStore, dd: DataDir, key_dir: Path, created: object
) -> None:
    other = DataDir(tmp_path / "other")
    other_machine = FileMachineProtector(tmp_path / "other-keys")
    KeyStore(other, other_machine).create()
    foreign = other.keystore.read_bytes()
    dd.keystore.write_bytes(foreign)  # someone copied another installation's file in
    result = store.unlock()
    assert result.source == "backup"
    assert store.repair_from(result) is False
    assert dd.keystore.read_bytes() == foreign


# --- tampering ----------------------------------------------------------------------------


def test_tampered_machine_ciphertext_in_both_copies_is_an_error(
    store: KeyStore, dd: DataDir, created: object
) -> None:
    for path in (dd.keystore, dd.keystore_backup):
        flip_ciphertext(path, "machine")
    assert code_of(store.unlock) is ErrorCode.MACHINE_KEY_WRONG


def test_tampered_recovery_ciphertext_is_an_error(
    store: KeyStore, dd: DataDir, created: tuple[bytes, RecoveryKey]
) -> None:
    for path in (dd.keystore, dd.keystore_backup):
        flip_ciphertext(path, "recovery")
    assert code_of(lambda: store.unlock_with_recovery(created[1])) is (ErrorCode.RECOVERY_KEY_WRONG)


def test_an_edited_key_id_breaks_authentication(
    store: KeyStore, dd: DataDir, created: object
) -> None:
    for path in (dd.keystore, dd.keystore_backup):
        doc = load(path)
        doc["key_id"] = "0123456789abcdef"
        save(path, doc)
    assert code_of(store.unlock) is ErrorCode.MACHINE_KEY_WRONG


def test_an_envelope_holding_another_dek_is_a_mismatch(
    store: KeyStore, dd: DataDir, machine: FileMachineProtector, created: object
) -> None:
    # A well-formed, authenticated envelope for this key_id that holds a different key.
    for path in (dd.keystore, dd.keystore_backup):
        doc = load(path)
        aad = envelope_aad("data", "machine", doc["key_id"])
        envelope(doc, "machine").update(machine.wrap(secrets.token_bytes(32), aad))
        save(path, doc)
    assert code_of(store.unlock) is ErrorCode.DEK_MISMATCH


# --- secrets on disk ----------------------------------------------------------------------


def encodings(secret: bytes) -> list[bytes]:
    forms = [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret),
        base64.b32encode(secret),
        base64.b85encode(secret),
        base64.a85encode(secret),
    ]
    return forms + [form.rstrip(b"=") for form in forms]


def test_no_copy_of_the_dek_or_recovery_key_on_disk(
    dd: DataDir, key_dir: Path, created: tuple[bytes, RecoveryKey]
) -> None:
    dek, rk = created
    needles = [
        *encodings(dek),
        *encodings(rk.raw),
        rk.formatted().encode(),
        rk.formatted().replace("-", "").encode(),
    ]
    for path in [dd.keystore, dd.keystore_backup, *key_dir.iterdir()]:
        content = path.read_bytes()
        for needle in needles:
            assert needle not in content, (path.name, needle)


@POSIX_ONLY
def test_files_and_folders_are_private(
    dd: DataDir, key_dir: Path, machine: FileMachineProtector, created: object
) -> None:
    assert stat.S_IMODE(dd.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    for path in [dd.keystore, dd.keystore_backup, *key_dir.iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert storage_problems(dd, machine) == []


@POSIX_ONLY
def test_rewrapped_and_repaired_files_stay_private(
    tmp_path: Path, store: KeyStore, dd: DataDir, created: tuple[bytes, RecoveryKey]
) -> None:
    dd.keystore_backup.unlink()
    store.repair_from(store.unlock())
    new_store = KeyStore(dd, FileMachineProtector(tmp_path / "new-keys"))
    new_store.rewrap_for_machine(created[0])
    for path in [dd.keystore, dd.keystore_backup, *(tmp_path / "new-keys").iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE((tmp_path / "new-keys").stat().st_mode) == 0o700


# --- describe -----------------------------------------------------------------------------


def test_describe_reports_state_without_secrets(
    store: KeyStore, dd: DataDir, created: tuple[bytes, RecoveryKey]
) -> None:
    dek, rk = created
    info = store.describe()
    assert info == {
        "format_version": 1,
        "key_id": key_id_for(dek),
        "protector_kinds": ["linux-file", "recovery-key-v1"],
        "machine_kind": "linux-file",
        "primary_ok": True,
        "backup_ok": True,
        "primary_state": "ok",
        "backup_state": "ok",
        "copies_identical": True,
    }
    text = json.dumps(info).encode()
    assert not any(needle in text for needle in encodings(dek) + encodings(rk.raw))
    dd.keystore.write_bytes(b"x")
    dd.keystore_backup.unlink()
    damaged = store.describe()
    assert (damaged["primary_state"], damaged["backup_state"]) == ("corrupt", "missing")
    assert (damaged["primary_ok"], damaged["backup_ok"], damaged["key_id"]) == (False, False, None)


# --- protectors ---------------------------------------------------------------------------


def test_default_protector_off_windows_uses_the_key_dir(key_dir: Path) -> None:
    if sys.platform == "win32":
        assert isinstance(default_machine_protector(), DpapiMachineProtector)
        return
    protector = default_machine_protector()
    assert isinstance(protector, FileMachineProtector)
    assert protector.key_dir == key_dir  # CLINICDESK_KEY_DIR, set by the fixture
    assert isinstance(default_machine_protector(key_dir / "x"), FileMachineProtector)


@pytest.mark.skipif(sys.platform == "win32", reason="checks the behaviour where DPAPI is absent")
def test_dpapi_protector_imports_and_fails_cleanly_off_windows() -> None:
    with pytest.raises(ClinicDeskError) as info:
        DpapiMachineProtector().wrap(bytes(32), b"aad")
    assert info.value.code is ErrorCode.MACHINE_KEY_MISSING
    assert info.value.params["reason"] == "dpapi_unavailable"


class FakeDpapi:
    """Stands in for crypt32 for one Windows account on one PC.

    Like DPAPI, a blob names the master key that made it (unknown elsewhere: NTE_BAD_KEY_STATE,
    handed back negative as ctypes does) and authenticates the entropy (ERROR_INVALID_DATA).
    """

    def __init__(self) -> None:
        self.master_id, self.master = secrets.token_bytes(8), secrets.token_bytes(32)
        self.entropies: list[bytes] = []

    def protect(self, data: bytes, entropy: bytes) -> bytes:
        self.entropies.append(entropy)
        nonce = secrets.token_bytes(12)
        return self.master_id + nonce + AESGCM(self.master).encrypt(nonce, data, entropy)

    def unprotect(self, blob: bytes, entropy: bytes) -> bytes:
        self.entropies.append(entropy)
        if blob[:8] != self.master_id:
            raise DpapiError(protectors.NTE_BAD_KEY_STATE - 2**32)
        try:
            return AESGCM(self.master).decrypt(blob[8:20], blob[20:], entropy)
        except InvalidTag:
            raise DpapiError(13) from None

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(protectors, "_crypt_protect", self.protect)
        monkeypatch.setattr(protectors, "_crypt_unprotect", self.unprotect)


def test_dpapi_envelope_handling_with_a_fake_crypt32(
    monkeypatch: pytest.MonkeyPatch, dd: DataDir
) -> None:
    fake = FakeDpapi()
    fake.install(monkeypatch)
    store = KeyStore(dd, DpapiMachineProtector())
    dek, _rk = store.create()
    assert store.unlock() == UnlockResult(dek=dek, source="primary", key_id=key_id_for(dek))
    machine_env = envelope(load(dd.keystore), "machine")
    assert set(machine_env) == {"purpose", "protector", "kind", "blob"}
    assert machine_env["kind"] == "dpapi"
    data_entropies = {e for e in fake.entropies if b"|data|" in e}  # the backup key has its own
    assert data_entropies == {envelope_aad("data", "machine", key_id_for(dek))}
    assert store.describe()["protector_kinds"] == ["dpapi", "recovery-key-v1"]


def test_dpapi_new_pc_then_recovery(monkeypatch: pytest.MonkeyPatch, dd: DataDir) -> None:
    FakeDpapi().install(monkeypatch)
    dek, rk = KeyStore(dd, DpapiMachineProtector()).create()
    FakeDpapi().install(monkeypatch)  # another PC: its DPAPI has never seen this blob
    store = KeyStore(dd, DpapiMachineProtector())
    assert code_of(store.unlock) is ErrorCode.MACHINE_KEY_MISSING
    store.rewrap_for_machine(store.unlock_with_recovery(rk).dek)
    assert store.unlock().dek == dek


def test_dpapi_rejecting_a_blob_is_wrong(monkeypatch: pytest.MonkeyPatch, dd: DataDir) -> None:
    FakeDpapi().install(monkeypatch)
    store = KeyStore(dd, DpapiMachineProtector())
    store.create()
    for path in (dd.keystore, dd.keystore_backup):
        doc = load(path)
        blob = bytearray(base64.b64decode(envelope(doc, "machine")["blob"]))
        blob[-1] ^= 1
        envelope(doc, "machine")["blob"] = base64.b64encode(bytes(blob)).decode()
        save(path, doc)
    assert code_of(store.unlock) is ErrorCode.MACHINE_KEY_WRONG


def test_a_keystore_from_windows_on_linux_needs_recovery(
    monkeypatch: pytest.MonkeyPatch, dd: DataDir, machine: FileMachineProtector
) -> None:
    FakeDpapi().install(monkeypatch)
    dek, rk = KeyStore(dd, DpapiMachineProtector()).create()
    store = KeyStore(dd, machine)
    assert code_of(store.unlock) is ErrorCode.MACHINE_KEY_MISSING
    store.rewrap_for_machine(store.unlock_with_recovery(rk).dek)
    assert store.unlock().dek == dek
    kinds = [e["kind"] for e in load(dd.keystore)["envelopes"] if e["purpose"] == "data"]
    assert sorted(kinds) == ["linux-file", "recovery-key-v1"]  # the DPAPI envelope is replaced


@pytest.mark.skipif(sys.platform != "win32", reason="real DPAPI (crypt32) exists only on Windows")
def test_real_dpapi_round_trip() -> None:
    protector = DpapiMachineProtector()
    dek = secrets.token_bytes(32)
    fields = protector.wrap(dek, b"aad")
    assert protector.unwrap(fields, b"aad") == dek
    with pytest.raises(ClinicDeskError) as info:
        protector.unwrap(fields, b"other aad")
    assert info.value.code is ErrorCode.MACHINE_KEY_WRONG
