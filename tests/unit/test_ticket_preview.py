"""The inbox row's preview of the newest message: one line, bounded."""

from __future__ import annotations

from app.services.tickets import PREVIEW_CHARS, _preview


def test_preview_is_one_line_and_bounded() -> None:
    assert _preview(None) is None
    assert _preview("") is None
    assert _preview("Bom dia,\n\n  tudo   bem?") == "Bom dia, tudo bem?"
    long = _preview("palavra " * 40)
    assert long is not None and len(long) == PREVIEW_CHARS and long.endswith("…")
