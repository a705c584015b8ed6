"""The snapshot's SQLCipher settings as a manifest records them: the defaults when absent (older
archives), known settings only, valid values only (they become PRAGMAs)."""

from __future__ import annotations

from typing import Any

import pytest

from app.backup.snapshot import SNAPSHOT_CIPHER, snapshot_cipher


@pytest.mark.parametrize("manifest", [{}, {"snapshot_cipher": {}}])
def test_no_recorded_settings_mean_sqlciphers_defaults(manifest: dict[str, Any]) -> None:
    assert snapshot_cipher(manifest) == ()


def test_the_settings_a_backup_records_come_back() -> None:
    recorded = {"snapshot_cipher": dict(SNAPSHOT_CIPHER)}
    assert dict(snapshot_cipher(recorded)) == dict(SNAPSHOT_CIPHER)
    assert dict(SNAPSHOT_CIPHER) == {
        "cipher_page_size": "65536",
        "cipher_hmac_algorithm": "HMAC_SHA256",
    }


@pytest.mark.parametrize(
    "recorded",
    [
        {"cipher_page_size": "16384; DROP TABLE messages"},
        {"cipher_page_size": 3000},
        {"cipher_hmac_algorithm": "HMAC_MD5"},
        {"kdf_iter": "1"},
        ["cipher_page_size", "4096"],
    ],
)
def test_unknown_settings_or_values_are_refused(recorded: object) -> None:
    with pytest.raises(ValueError, match="snapshot_cipher"):
        snapshot_cipher({"snapshot_cipher": recorded})
