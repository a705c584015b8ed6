"""The engine side of the package runs without Qt: importing it must not load PySide6.

Runs in a fresh interpreter, because this test process has long since imported PySide6 through
pytest-qt.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENGINE_MODULES = [
    "app.bootstrap",
    "app.services",
    "app.store",
    "app.security",
    "app.api",
    "app.domain",
    "app.channels",
]
QT_MODULES = ["PySide6", "qasync", "shiboken6"]

# Imports each module in turn and reports, for each, the Qt modules loaded so far, so a failure
# names the first module that pulled Qt in.
PROBE = """
import importlib, json, sys
modules, qt = json.loads(sys.argv[1]), json.loads(sys.argv[2])
report = []
for name in modules:
    importlib.import_module(name)
    report.append([name, sorted(m for m in qt if m in sys.modules)])
print(json.dumps(report))
"""


def test_engine_modules_do_not_import_qt() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(ENGINE_MODULES), json.dumps(QT_MODULES)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"import failed:\n{done.stderr}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    first_with_qt = next(((name, qt) for name, qt in report if qt), None)
    assert first_with_qt is None, f"{first_with_qt[0]} loaded {first_with_qt[1]}"
