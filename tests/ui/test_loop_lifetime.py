"""The desk tests' qasync loops outlive their tests: an async test that is not a desk test may
run after them in one pytest process (the suite's order only happens to avoid it today).

Before the fix, this order crashed the whole run with a segfault: Qt delivered a pending timer
of a closed, freed qasync loop during the next test's event processing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DESK_FIRST = [
    "tests/ui/test_i18n.py",  # two windows on their own loops, work still pending when closed
    "tests/integration/test_inbound.py::test_a_new_patient_gets_contact_ticket_message_and_menu",
]


def test_an_async_core_test_after_desk_tests_runs_in_the_same_process() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *DESK_FIRST],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "4 passed" in run.stdout
