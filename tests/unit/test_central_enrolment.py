"""Enrolment codes, labels and database URLs of the central (no server)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from app.central.db import enrolment_codes, normalise_url, open_engine
from app.central.enrolment import (
    BadCodeError,
    clean_label,
    code_hash,
    enrol,
    issue_code,
    new_code,
)
from app.domain.errors import ClinicDeskError, ErrorCode
from app.sync import protocol
from tests.helpers.central import NOW, sqlite_url


def test_codes_are_80_bit_base32_groups() -> None:
    codes = {new_code() for _ in range(50)}
    assert len(codes) == 50
    assert all(re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", c) for c in codes)


def test_code_hash_ignores_case_and_dashes() -> None:
    assert code_hash("ABCD-EFGH-IJKL-MNOP") == code_hash("abcdefghijklmnop")
    assert code_hash("ABCD-EFGH-IJKL-MNOP") != code_hash("ABCD-EFGH-IJKL-MNOQ")


@pytest.mark.parametrize("label", ["", "   ", "x" * 201, "a\nb"])
def test_bad_labels_are_refused(label: str) -> None:
    with pytest.raises(ValueError, match="label"):
        clean_label(label)


def test_only_the_hash_of_a_code_is_stored(tmp_path: Path) -> None:
    engine = open_engine(sqlite_url(tmp_path))
    code = issue_code(engine, "Rede", NOW)
    with engine.connect() as conn:
        stored = conn.execute(select(enrolment_codes)).one()
    assert code.replace("-", "") not in repr(tuple(stored))
    key = protocol.public_bytes(Ed25519PrivateKey.generate())
    assert enrol(engine, code, key, "1.0", NOW + 10).label == "Rede"
    with pytest.raises(BadCodeError):
        enrol(engine, code, key, "1.0", NOW + 20)
    engine.dispose()


@pytest.mark.parametrize(
    ("text", "driver"),
    [
        ("postgresql://u@localhost/db", "postgresql+psycopg"),
        ("postgres://u@localhost/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_urls_get_the_installed_driver(text: str, driver: str) -> None:
    assert normalise_url(text).drivername == driver


@pytest.mark.parametrize("text", ["not a url", "mysql://u@h/db", "oracle://x"])
def test_unsupported_urls_are_one_clear_error(text: str) -> None:
    with pytest.raises(ClinicDeskError) as caught:
        normalise_url(text)
    assert caught.value.code is ErrorCode.CENTRAL_DB_URL_INVALID


def test_password_never_appears_in_the_error() -> None:
    with pytest.raises(ClinicDeskError) as caught:
        normalise_url("mysql://u:s3cret@h/db")
    assert "s3cret" not in str(caught.value.params)
