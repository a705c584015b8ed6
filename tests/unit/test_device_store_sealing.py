"""Sealing the WhatsApp device store at rest (app.security.sealing, wa_store.DeviceStore)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from app.channels.transports.wa_store import (
    LIVE_DIR,
    SEALED_NAME,
    DeviceStore,
    reseal_device_store,
)
from app.domain.errors import ClinicDeskError, ErrorCode
from app.security.sealing import DeviceStoreKeys, seal_bytes, unseal_bytes

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def _refusal(exc: pytest.ExceptionInfo[ClinicDeskError]) -> str:
    assert exc.value.code is ErrorCode.DEVICE_STORE_UNREADABLE
    return str(exc.value.params["reason"])


def test_round_trip_and_each_refusal() -> None:
    blob = seal_bytes(b"device keys", KEY, b"channel:1")
    assert b"device keys" not in blob
    assert unseal_bytes(blob, KEY, b"channel:1") == b"device keys"
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(ClinicDeskError) as exc:
        unseal_bytes(tampered, KEY, b"channel:1")
    assert _refusal(exc) == "wrong_key_or_tampered"
    with pytest.raises(ClinicDeskError) as exc:
        unseal_bytes(blob, OTHER, b"channel:1")
    assert _refusal(exc) == "wrong_key_or_tampered"
    with pytest.raises(ClinicDeskError) as exc:
        unseal_bytes(blob, KEY, b"channel:2")  # another channel's file copied over
    assert _refusal(exc) == "wrong_key_or_tampered"
    with pytest.raises(ClinicDeskError) as exc:
        unseal_bytes(b"SQLite format 3\x00" + bytes(100), KEY, b"channel:1")
    assert _refusal(exc) == "not_sealed"


def test_channel_keys_are_derived_apart_and_never_shown() -> None:
    keys = DeviceStoreKeys.from_dek(os.urandom(32))
    assert keys.for_channel("1") != keys.for_channel("2")
    assert keys.for_channel("1") == keys.for_channel("1")
    assert len(keys.for_channel("1")) == 32
    assert "hidden" in repr(keys)


def _make_device(store: DeviceStore, jid: str) -> None:
    with sqlite3.connect(store.db_path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS whatsmeow_device (jid TEXT PRIMARY KEY)")
        db.execute("DELETE FROM whatsmeow_device")
        db.execute("INSERT INTO whatsmeow_device VALUES (?)", (jid,))
    db.close()


def _jid(store: DeviceStore) -> str:
    with sqlite3.connect(store.db_path) as db:
        value = str(db.execute("SELECT jid FROM whatsmeow_device").fetchone()[0])
    db.close()
    return value


def test_plaintext_exists_only_while_running(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path, "7", KEY)
    store.open()
    assert not store.has_credentials()
    _make_device(store, "first")
    assert store.has_credentials()
    store.close()
    assert not (tmp_path / LIVE_DIR).exists()
    assert [p.name for p in tmp_path.iterdir()] == [SEALED_NAME]
    sealed = (tmp_path / SEALED_NAME).read_bytes()
    assert b"first" not in sealed and not sealed.startswith(b"SQLite format 3")
    again = DeviceStore(tmp_path, "7", KEY)
    again.open()
    assert again.has_credentials() and _jid(again) == "first"
    again.destroy()  # logout
    assert not (tmp_path / SEALED_NAME).exists()
    assert list(tmp_path.iterdir()) == []


def test_a_crash_leaves_the_sealed_copy_and_stale_plaintext_is_wiped(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path, "7", KEY)
    store.open()
    _make_device(store, "sealed-state")
    assert store.seal()  # a periodic seal
    _make_device(store, "unsealed-later")  # then the worker dies: no close()
    assert (tmp_path / LIVE_DIR / "device.sqlite").exists()
    restarted = DeviceStore(tmp_path, "7", KEY)
    restarted.open()
    assert _jid(restarted) == "sealed-state"  # never the unauthenticated leftover


def test_wrong_key_or_missing_key_is_refused_and_the_sealed_copy_kept(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path, "7", KEY)
    store.open()
    _make_device(store, "kept")
    store.close()
    before = (tmp_path / SEALED_NAME).read_bytes()
    for key, reason in ((OTHER, "wrong_key_or_tampered"), (None, "no_key")):
        with pytest.raises(ClinicDeskError) as exc:
            DeviceStore(tmp_path, "7", key).open()
        assert _refusal(exc) == reason
    with pytest.raises(ClinicDeskError):
        DeviceStore(tmp_path, "8", KEY).open()  # the same file under another channel
    assert (tmp_path / SEALED_NAME).read_bytes() == before


def test_an_empty_store_never_seals_over_a_device(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path, "7", KEY)
    store.open()
    _make_device(store, "old")
    store.close()
    pairing = DeviceStore(tmp_path, "7", KEY)
    pairing.open()
    pairing.fresh_live()  # a new pairing starts from an empty database and fails
    with sqlite3.connect(pairing.db_path) as db:
        db.execute("CREATE TABLE whatsmeow_device (jid TEXT PRIMARY KEY)")
    db.close()
    pairing.close()
    check = DeviceStore(tmp_path, "7", KEY)
    check.open()
    assert _jid(check) == "old"


def test_a_restore_can_reseal_under_the_new_data_key(tmp_path: Path) -> None:
    old, new = DeviceStoreKeys.from_dek(os.urandom(32)), DeviceStoreKeys.from_dek(os.urandom(32))
    store = DeviceStore(tmp_path, "7", old.for_channel("7"))
    store.open()
    _make_device(store, "moved")
    store.close()
    sealed = tmp_path / SEALED_NAME
    reseal_device_store(sealed, "7", old.for_channel("7"), new.for_channel("7"))
    restored = DeviceStore(tmp_path, "7", new.for_channel("7"))
    restored.open()
    assert _jid(restored) == "moved"
