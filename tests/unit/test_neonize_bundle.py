"""The PyInstaller spec finds neonize's Go library (else a frozen worker would download it)."""

from __future__ import annotations

import re
from pathlib import Path

from PyInstaller.utils.hooks import collect_dynamic_libs

from app.channels.transports.wa_neonize import load_neonize

SPEC = Path(__file__).resolve().parents[2] / "build.spec"


def test_the_spec_patterns_collect_the_library_neonize_loads() -> None:
    text = SPEC.read_text(encoding="utf-8")
    patterns = re.findall(r'"(neonize-\*\.\w+)"', text)
    assert patterns, "build.spec no longer names neonize's library"
    found = collect_dynamic_libs("neonize", search_patterns=patterns)
    loaded = Path(load_neonize().client.gocode._name).name
    assert [(Path(src).name, dest) for src, dest in found] == [(loaded, "neonize")]
