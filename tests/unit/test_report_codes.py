"""What may go to the central office as a code: a code-looking text, else "other" (a stored
reason could be free text holding a name or a number)."""

from __future__ import annotations

import pytest

from app.domain.codes import as_code


@pytest.mark.parametrize("code", ["logged_out", "store.write_failed", "media_failed:OSError", "a"])
def test_codes_pass_as_they_are(code: str) -> None:
    assert as_code(code) == code


@pytest.mark.parametrize(
    "text", ["", "Maria disse oi", "+5511987654321", "logged_out\n", "ação", "x" * 65]
)
def test_anything_else_is_other(text: str) -> None:
    assert as_code(text) == "other"


def test_a_shorter_limit_holds() -> None:
    assert as_code("x" * 40, 40) == "x" * 40
    assert as_code("x" * 41, 40) == "other"
