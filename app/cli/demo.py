"""``clinicdesk --demo``: a throwaway installation with demo branches, staff and patients.

Until the desk (Qt) and the simulator land, the demo starts the engine, prints how to reach it
and its status, and runs until Ctrl+C or ``--quit-after`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
from pathlib import Path

from app.bootstrap import Core, FirstAdmin, init_installation
from app.domain.roles import Role
from app.engine import EngineOptions, run_engine
from app.infra.logging import configure_logging
from app.services.users import NewUser

DEMO_BRANCHES = ("Clínica Centro", "Clínica Zona Sul")
DEMO_STAFF = (("ana", "Ana Souza", Role.RECEPTIONIST), ("bruno", "Bruno Lima", Role.SUPERVISOR))
DEMO_PATIENTS = (("+55 11 98765-4321", "Maria Oliveira"), ("(21) 99876-5432", "João Santos"))


async def seed(core: Core, password: str) -> None:
    """Demo branches, one receptionist and one supervisor per branch, and a few patients."""
    actor = core.local_actor()
    for index, name in enumerate(DEMO_BRANCHES):
        branch = await core.branches.add(actor, name)
        for username, display, role in DEMO_STAFF:
            new = NewUser(f"{username}{index + 1}", display, password, branch.id, role)
            await core.users.add(actor, new)
        for phone, patient in DEMO_PATIENTS:
            await core.contacts.add(actor, branch.id, phone, patient)


async def create_demo(root: Path, password: str) -> None:
    """A fresh demo installation in ``root``."""
    core, _recovery = await init_installation(root, FirstAdmin("admin", "Administrador", password))
    try:
        await seed(core, password)
    finally:
        core.close()


def run_demo(args: argparse.Namespace) -> int:
    """Create the demo installation and run the engine on it."""
    root = Path(args.demo_data_dir) if args.demo_data_dir else _throwaway_dir()
    password = f"demo-{secrets.token_hex(4)}"
    if not (root / "keystore.json").exists():
        asyncio.run(create_demo(root, password))
    configure_logging(root / "logs")

    def ready(core: Core, url: str) -> None:
        summary = {"data_dir": str(root), "engine_url": url, "login": "admin / ana1 / bruno1"}
        summary["password"] = password
        print(json.dumps(summary, ensure_ascii=False, indent=2), flush=True)

    options = EngineOptions(root, port=0, stop_after=args.quit_after)
    return run_engine(options, on_ready=ready)


def _throwaway_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="clinicdesk-demo-")) / "data"
