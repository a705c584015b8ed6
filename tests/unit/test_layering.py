"""The dependency rule of ARCHITECTURE.md, checked on the source (AST), one test per file.

- ``app/domain`` imports nothing of ``app`` outside ``app.domain``;
- ``app/services`` imports only ``app.domain`` and ``app.services`` from ``app``;
- only ``app/ui`` (plus ``app/__main__.py`` and ``app/cli/desk_launch*.py``, which start the
  desk) imports PySide6, qasync or shiboken6.

Imports under ``if TYPE_CHECKING:`` count too: a type-only dependency is still a dependency of
the layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app"
QT_ROOTS = {"PySide6", "qasync", "shiboken6"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(path: Path) -> str:
    """The package a relative import in ``path`` is resolved against."""
    name = _module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Absolute names of every module ``path`` imports (``from a import b`` yields ``a.b``).

    ``source`` overrides the file's text (for the scanner's own test).
    """
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = _package_of(path).split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # "from app import x" may name a submodule; keep both spellings for the checks.
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def _files(under: Path) -> list[Path]:
    return sorted(under.rglob("*.py"))


def _ids(paths: list[Path]) -> list[str]:
    return [p.relative_to(REPO).as_posix() for p in paths]


def _within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _app_imports(path: Path) -> set[str]:
    """The ``app`` modules imported by ``path``, minus the bare ``app`` package prefix."""
    return {m for m in imported_modules(path) if _within(m, "app") and m != "app"}


def _may_import_qt(path: Path) -> bool:
    rel = path.relative_to(APP)
    if rel.parts[0] == "ui" or rel.as_posix() == "__main__.py":
        return True
    return rel.parent.as_posix() == "cli" and rel.name.startswith("desk_launch")


DOMAIN_FILES = _files(APP / "domain")
SERVICE_FILES = _files(APP / "services")
NON_UI_FILES = [p for p in _files(APP) if not _may_import_qt(p)]


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=_ids(DOMAIN_FILES))
def test_domain_imports_only_domain(path: Path) -> None:
    bad = sorted(m for m in _app_imports(path) if not _within(m, "app.domain"))
    assert not bad, f"{path.relative_to(REPO)} imports {bad}"


@pytest.mark.parametrize("path", SERVICE_FILES, ids=_ids(SERVICE_FILES))
def test_services_import_only_domain_and_services(path: Path) -> None:
    bad = sorted(m for m in _app_imports(path) if not _within(m, "app.domain", "app.services"))
    assert not bad, f"{path.relative_to(REPO)} imports {bad}"


@pytest.mark.parametrize("path", NON_UI_FILES, ids=_ids(NON_UI_FILES))
def test_no_qt_outside_ui(path: Path) -> None:
    bad = sorted(m for m in imported_modules(path) if m.split(".")[0] in QT_ROOTS)
    assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def test_scanner_sees_relative_and_qt_imports() -> None:
    """Guard the scanner itself: a parser that saw nothing would make every check above pass."""
    source = "from ..store import schema\nfrom . import errors\nimport PySide6.QtCore\n"
    found = imported_modules(APP / "domain" / "probe.py", source)
    assert {"app.store", "app.store.schema", "app.domain.errors", "PySide6.QtCore"} <= found
