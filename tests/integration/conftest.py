"""Installations on real SQLCipher files for the service, auth, audit and API tests.

``installation`` (module scope) is built once per test module: a super admin, branches "Centro"
and "Sul", and an admin, a supervisor and a receptionist in each. Tests that only read (or whose
every write is refused) share it. Tests that change state take ``fresh``: a new installation
with the super admin and both branches only, to which they add the few staff they need (each
account costs one argon2id hash, ~0.1-0.4 s).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.bootstrap import Core, FirstAdmin, init_installation
from app.domain.roles import Actor, Role
from app.security.protectors import FileMachineProtector
from app.services.users import NewUser
from app.store.types import utcnow

PASSWORD = "correct horse battery staple"
SUPER = "root.admin"
BRANCHES = ("Centro", "Sul")
STAFF_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.RECEPTIONIST)


def staff_name(role: Role, branch: str) -> str:
    """The username of the staff member with ``role`` in ``branch`` ("admin.centro")."""
    return f"{role.value}.{branch.lower()}"


ALL_STAFF = tuple(staff_name(role, branch) for branch in BRANCHES for role in STAFF_ROLES)
EVERYONE = (SUPER, *ALL_STAFF)


class FakeClock:
    """A clock the test moves by hand (UTC, millisecond precision like the store)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or utcnow()

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@dataclass
class Installation:
    """An initialised data directory, its open core, and the actors of its real accounts."""

    core: Core
    root: Path
    key_dir: Path
    branch_ids: dict[str, int]
    actors: dict[str, Actor]

    def actor(self, username: str) -> Actor:
        return self.actors[username]

    @property
    def super_admin(self) -> Actor:
        return self.actors[SUPER]

    async def add_staff(
        self, role: Role, branch: str, username: str | None = None, password: str = PASSWORD
    ) -> Actor:
        """Create an account (as the local administrator) and return its actor."""
        name = username or staff_name(role, branch)
        new = NewUser(name, name.title(), password, self.branch_ids[branch], role)
        view = await self.core.users.add(self.core.local_actor(), new)
        self.actors[name] = await self.core.auth.actor_of(view.id)
        return self.actors[name]


async def build_installation(root: Path, key_dir: Path, *, staff: bool) -> Installation:
    """``init_installation`` plus both branches, and the six staff accounts when ``staff``."""
    core, _recovery = await init_installation(
        root, FirstAdmin(SUPER, "Super Admin", PASSWORD), machine=FileMachineProtector(key_dir)
    )
    local = core.local_actor()
    branch_ids = {name: (await core.branches.add(local, name)).id for name in BRANCHES}
    super_user = await core.store.read(lambda tx: tx.users.get_by_username(SUPER))
    assert super_user is not None
    inst = Installation(core, root, key_dir, branch_ids, {})
    inst.actors[SUPER] = await core.auth.actor_of(super_user.id)
    if staff:
        await asyncio.gather(
            *(inst.add_staff(role, branch) for branch in BRANCHES for role in STAFF_ROLES)
        )
    return inst


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    """Shared by one test module: do not change its state (use ``fresh`` for that)."""
    base = tmp_path_factory.mktemp("installation")
    inst = asyncio.run(build_installation(base / "data", base / "machine-keys", staff=True))
    yield inst
    inst.core.close()


@pytest.fixture
async def fresh(data_dir: Path, key_dir: Path) -> AsyncIterator[Installation]:
    """A new installation for this test: super admin and both branches, no staff yet."""
    inst = await build_installation(data_dir, key_dir, staff=False)
    yield inst
    inst.core.close()
