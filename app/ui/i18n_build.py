"""Translation files of the desk: ``python -m app.ui.i18n_build update|release``.

- ``update`` runs ``pyside6-lupdate`` over ``app/ui`` and refreshes
  ``resources/i18n/clinicdesk_en.ts`` (English: every string) and ``clinicdesk_pt_BR.ts``
  (``-pluralonly``: the sources are already Portuguese, only plural forms would need entries).
  Translators then edit the ``.ts`` files (Qt Linguist or any XML editor).
- ``release`` compiles every ``.ts`` into a ``.qm`` next to it with ``pyside6-lrelease``;
  the build (``build.spec``) runs it before bundling ``resources/i18n``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from app.ui.app import i18n_dir

UI_DIR = Path(__file__).resolve().parent


def tool(name: str) -> str:
    """``pyside6-<name>`` from this interpreter's environment, else from PATH."""
    local = Path(sys.executable).parent / f"pyside6-{name}"
    found = str(local) if local.exists() else shutil.which(f"pyside6-{name}")
    if found is None:
        raise SystemExit(f"pyside6-{name} not found (pip install pyside6-essentials)")
    return found


def sources() -> list[str]:
    return sorted(str(p) for p in UI_DIR.glob("*.py"))


def update(out: Path) -> None:
    """Refresh the .ts files from the source strings (obsolete entries are dropped)."""
    out.mkdir(parents=True, exist_ok=True)
    base = [tool("lupdate"), *sources(), "-no-obsolete", "-locations", "none"]
    base += ["-source-language", "pt_BR"]
    en = [*base, "-target-language", "en", "-ts", str(out / "clinicdesk_en.ts")]
    subprocess.run(en, check=True)  # noqa: S603
    pt = [
        *base,
        "-target-language",
        "pt_BR",
        "-pluralonly",
        "-ts",
        str(out / "clinicdesk_pt_BR.ts"),
    ]
    subprocess.run(pt, check=True)  # noqa: S603


def release(out: Path) -> list[Path]:
    """Compile each .ts into a .qm; returns the .qm files written."""
    written = []
    for ts in sorted(out.glob("*.ts")):
        qm = ts.with_suffix(".qm")
        cmd = [tool("lrelease"), str(ts), "-qm", str(qm)]
        subprocess.run(cmd, check=True, capture_output=True)  # noqa: S603
        written.append(qm)
    return written


def main(argv: list[str]) -> int:
    action = argv[0] if argv else "release"
    if action == "update":
        update(i18n_dir())
    elif action == "release":
        for qm in release(i18n_dir()):
            print(qm)
    else:
        print("usage: python -m app.ui.i18n_build update|release", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
