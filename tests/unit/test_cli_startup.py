"""The command line starts without loading what the command does not need.

Every ``clinicdesk`` call builds the whole parser; a command that talks to a running engine
must not import the engine, the store or FastAPI (docs/CLI.md, "Start-up time"). Checked on
``sys.modules`` of a fresh interpreter, never on a clock.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from app.cli.main import HANDLERS, handler_for
from app.cli.parser import build_parser

HEAVY = ("sqlalchemy", "fastapi", "alembic", "uvicorn", "app.bootstrap", "app.engine", "app.store")


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nimport json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_every_command_of_the_parser_has_a_handler_that_resolves() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(HANDLERS)
    for command in HANDLERS:
        assert callable(handler_for(command)), command


def test_parsing_any_command_loads_no_engine_store_or_web_framework() -> None:
    code = "from app.cli.main import build_parser\nbuild_parser().parse_args(['status'])"
    assert _heavy(_loaded_after(code)) == []


@pytest.mark.parametrize(
    "module",
    ["app.cli.admin_cmd", "app.cli.clinic_cmd", "app.cli.status", "app.cli.channel_cmd",
     "app.cli.desk_launch", "app.cli.simulator_cmd"],
)  # fmt: skip
def test_commands_that_can_reach_a_running_engine_load_the_store_only_without_one(
    module: str,
) -> None:
    assert _heavy(_loaded_after(f"import {module}")) == []


def test_the_store_side_is_loaded_when_asked_for() -> None:
    # the check above would pass trivially if the probe saw no modules at all
    assert "app.bootstrap" in _heavy(_loaded_after("import app.cli.backends_local"))
