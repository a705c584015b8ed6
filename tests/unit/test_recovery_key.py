"""The recovery key's printed form: round trips, and typos caught in the right group."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.domain.errors import ClinicDeskError, ErrorCode
from app.security.recovery_key import (
    RecoveryKey,
    generate,
    parse,
    read_recovery_key_file,
    write_recovery_key_file,
)

raw_keys = st.binary(min_size=16, max_size=16)
POSIX_ONLY = pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits; Windows uses ACLs")


def digits_of(rk: RecoveryKey) -> str:
    return rk.formatted().replace("-", "")


def regroup(digits: str) -> str:
    return "-".join(digits[i : i + 6] for i in range(0, 48, 6))


def error_of(text: str) -> ClinicDeskError:
    with pytest.raises(ClinicDeskError) as info:
        parse(text)
    return info.value


# --- format ------------------------------------------------------------------------------


def test_known_vectors_pin_the_printed_format() -> None:
    assert RecoveryKey(bytes(16)).formatted() == "-".join(["000000"] * 8)
    assert RecoveryKey(b"\xff" * 16).formatted() == "-".join(["720885"] * 8)  # 11 * 65535
    # words 0x0001, 0x0203, ... big-endian
    expected = "-".join(f"{11 * ((2 * i) * 256 + 2 * i + 1):06d}" for i in range(8))
    assert RecoveryKey(bytes(range(16))).formatted() == expected
    assert expected.startswith("000011-005665-")


@given(raw_keys)
def test_formatted_is_eight_groups_of_six_digits_each_divisible_by_11(raw: bytes) -> None:
    text = RecoveryKey(raw).formatted()
    assert re.fullmatch(r"(\d{6}-){7}\d{6}", text)
    for group in text.split("-"):
        assert int(group) % 11 == 0
        assert int(group) // 11 < 65536


@given(raw_keys)
def test_parse_of_formatted_round_trips(raw: bytes) -> None:
    assert parse(RecoveryKey(raw).formatted()).raw == raw


def test_generate_gives_distinct_128_bit_keys() -> None:
    keys = {generate().raw for _ in range(64)}
    assert len(keys) == 64
    assert all(len(raw) == 16 for raw in keys)


def test_repr_and_str_never_show_the_secret() -> None:
    rk = RecoveryKey(bytes(range(16)))
    for shown in (repr(rk), str(rk)):
        assert rk.formatted() not in shown
        assert "000011" not in shown
        assert rk.raw.hex() not in shown
        assert str(rk.raw) not in shown


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_a_raw_key_of_the_wrong_size_is_refused(size: int) -> None:
    with pytest.raises(ClinicDeskError) as info:
        RecoveryKey(bytes(size))
    assert info.value.code is ErrorCode.RECOVERY_KEY_MALFORMED


# --- separators --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spell",
    [
        regroup,
        lambda d: d,
        lambda d: " ".join(d[i : i + 6] for i in range(0, 48, 6)),
        lambda d: (
            "\n".join(regroup(d).split("-")[:4]) + "\r\n" + "-".join(regroup(d).split("-")[4:])
        ),
        lambda d: "  " + regroup(d).replace("-", " - ") + " \n",
        lambda d: regroup(d).replace("-", "\u2013"),  # en dash from a word processor
        lambda d: "\t".join(d[i : i + 3] for i in range(0, 48, 3)),
    ],
    ids=["dashes", "bare", "spaces", "newlines", "padded", "en-dash", "tabs"],
)
def test_spaces_dashes_and_newlines_are_ignored(spell: Callable[[str], str]) -> None:
    rk = generate()
    assert parse(spell(digits_of(rk))) == rk


# --- length and characters ---------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 42, 47, 49, 54])
def test_wrong_number_of_digits_is_malformed_and_says_how_many(count: int) -> None:
    digits = (digits_of(generate()) * 2)[:count]
    error = error_of(digits)
    assert error.code is ErrorCode.RECOVERY_KEY_MALFORMED
    assert error.params["digits"] == count


def test_a_letter_instead_of_a_digit_is_malformed() -> None:
    digits = digits_of(generate())
    error = error_of(regroup("O" + digits[1:]))
    assert error.code is ErrorCode.RECOVERY_KEY_MALFORMED
    assert error.params["digits"] == 47


def test_non_ascii_digits_are_not_accepted() -> None:
    arabic_indic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    error = error_of(regroup(digits_of(generate())).translate(arabic_indic))
    assert error.code is ErrorCode.RECOVERY_KEY_MALFORMED


# --- groups ------------------------------------------------------------------------------


@given(raw_keys, st.integers(0, 47), st.integers(1, 9))
def test_any_single_digit_typo_is_reported_in_its_group(raw: bytes, pos: int, shift: int) -> None:
    digits = digits_of(RecoveryKey(raw))
    typo = str((int(digits[pos]) + shift) % 10)
    error = error_of(regroup(digits[:pos] + typo + digits[pos + 1 :]))
    assert error.code is ErrorCode.RECOVERY_KEY_GROUP_INVALID
    assert error.params["group"] == pos // 6 + 1


@given(raw_keys, st.integers(0, 46))
def test_any_adjacent_transposition_is_detected(raw: bytes, pos: int) -> None:
    digits = digits_of(RecoveryKey(raw))
    assume(digits[pos] != digits[pos + 1])
    swapped = digits[:pos] + digits[pos + 1] + digits[pos] + digits[pos + 2 :]
    error = error_of(regroup(swapped))
    assert error.code is ErrorCode.RECOVERY_KEY_GROUP_INVALID
    # Inside a group that group is wrong; across a dash both change and the first is named.
    assert error.params["group"] == pos // 6 + 1


def test_single_digit_typos_in_every_position_of_many_keys() -> None:
    # Exhaustive over positions and replacement digits, for a hundred random keys.
    for _ in range(100):
        digits = digits_of(generate())
        for pos in range(48):
            for digit in "0123456789".replace(digits[pos], ""):
                error = error_of(digits[:pos] + digit + digits[pos + 1 :])
                assert error.params["group"] == pos // 6 + 1


@pytest.mark.parametrize("group", ["720896", "999999", "720907"])
def test_a_multiple_of_11_above_the_largest_word_is_invalid(group: str) -> None:
    digits = digits_of(generate())
    error = error_of(regroup(digits[:18] + group + digits[24:]))
    assert error.code is ErrorCode.RECOVERY_KEY_GROUP_INVALID
    assert error.params["group"] == 4


def test_the_first_bad_group_is_reported() -> None:
    digits = digits_of(RecoveryKey(bytes(16)))
    bad = "000001"
    error = error_of(regroup(digits[:12] + bad + digits[18:42] + bad))
    assert error.params["group"] == 3


# --- files -------------------------------------------------------------------------------


def test_file_round_trip(tmp_path: Path) -> None:
    rk, path = generate(), tmp_path / "recovery.txt"
    write_recovery_key_file(path, rk)
    assert read_recovery_key_file(path) == rk
    assert path.read_text(encoding="ascii") == rk.formatted() + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recovery.txt"]  # no temp leftovers


@POSIX_ONLY
def test_file_is_written_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "recovery.txt"
    write_recovery_key_file(path, generate())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "recovery.txt"
    write_recovery_key_file(path, first := generate())
    before = path.read_bytes()
    with pytest.raises(ClinicDeskError) as info:
        write_recovery_key_file(path, generate())
    assert info.value.code is ErrorCode.ALREADY_EXISTS
    assert path.read_bytes() == before
    assert read_recovery_key_file(path) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recovery.txt"]


def test_a_hand_typed_file_is_accepted(tmp_path: Path) -> None:
    rk, path = generate(), tmp_path / "typed.txt"
    path.write_text("  " + rk.formatted().replace("-", " ") + "\r\n\r\n", encoding="utf-8")
    assert read_recovery_key_file(path) == rk


@pytest.mark.parametrize("kind", ["missing", "directory", "binary"])
def test_an_unreadable_file_is_malformed_with_a_reason(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "recovery.txt"
    if kind == "directory":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe\x00\x81" * 20)
    with pytest.raises(ClinicDeskError) as info:
        read_recovery_key_file(path)
    assert info.value.code is ErrorCode.RECOVERY_KEY_MALFORMED
    assert info.value.params["reason"] == "unreadable"


def test_a_file_with_a_typo_names_the_group(tmp_path: Path) -> None:
    digits = digits_of(generate())
    path = tmp_path / "recovery.txt"
    wrong = "1" if digits[30] != "1" else "2"
    path.write_text(regroup(digits[:30] + wrong + digits[31:]), encoding="utf-8")
    with pytest.raises(ClinicDeskError) as info:
        read_recovery_key_file(path)
    assert info.value.code is ErrorCode.RECOVERY_KEY_GROUP_INVALID
    assert info.value.params["group"] == 6
