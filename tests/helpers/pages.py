"""Every page of an installation's database, decrypted: what an erasure test scans for text
that must be gone (free pages included, which a SQL query never sees)."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from app.bootstrap import unlock
from app.config import DataDir
from app.security.protectors import FileMachineProtector

PAGE, RESERVE = 4096, 80  # SQLCipher 4 defaults: the store's pages (STORE_CIPHER)


def decrypted_pages(root: Path, key_dir: Path) -> bytes:
    """The database file of ``root`` decrypted page by page: AES-256-CBC with the raw data
    key and each page's IV (page 1 starts with the salt). Close the store first, so that the
    WAL is checkpointed into the file."""
    result, _, _ = unlock(DataDir(root), machine=FileMachineProtector(key_dir))
    raw, key, out = DataDir(root).db.read_bytes(), bytes(result.dek), []
    for start in range(0, len(raw), PAGE):
        page = raw[start : start + PAGE]
        iv = page[PAGE - RESERVE : PAGE - RESERVE + 16]
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        body = page[16 if start == 0 else 0 : PAGE - RESERVE]
        out.append(decryptor.update(body) + decryptor.finalize())
    return b"".join(out)
