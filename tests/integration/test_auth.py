"""Login on a real store: credentials, throttling (S1), audit of failures, argon2id hashes (S2).

Time is a ``FakeClock`` handed to an ``AuthService`` built here around the installation's real
store, so waiting out a throttle takes no wall time.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import argon2
import pytest
from sqlalchemy import func, select

from app.domain.errors import ClinicDeskError, ErrorCode
from app.domain.models import User
from app.domain.policies import FREE_FAILURES, throttle_delay
from app.domain.roles import Role
from app.security.passwords import Argon2Hasher
from app.services.audit import Auditor
from app.services.auth import AuthService
from app.store.repositories import SqlTx
from app.store.schema import audit_log
from tests.integration.conftest import EVERYONE, PASSWORD, SUPER, FakeClock, Installation

WRONG = "not the password at all"
HOUR = timedelta(hours=1)
PHC = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def auth(fresh: Installation, clock: FakeClock) -> AuthService:
    """The installation's store with a clock the test controls."""
    return AuthService(fresh.core.store, clock, Argon2Hasher(), Auditor(clock))


async def login_code(auth: AuthService, username: str, password: str) -> ErrorCode:
    with pytest.raises(ClinicDeskError) as info:
        await auth.login(username, password)
    return info.value.code


async def fail_times(auth: AuthService, username: str, times: int) -> list[ErrorCode]:
    return [await login_code(auth, username, WRONG) for _ in range(times)]


async def stored_user(inst: Installation, username: str) -> User:
    user = await inst.core.store.read(lambda tx: tx.users.get_by_username(username))
    assert user is not None
    return user


def _failed_rows(tx: SqlTx) -> int:
    query = select(func.count()).where(audit_log.c.action == "auth.login_failed")
    return int(tx.conn.execute(query).scalar_one())


async def failed_login_rows(inst: Installation) -> int:
    return await inst.core.store.read(_failed_rows)


def attempts_possible(window: timedelta) -> int:
    """Wrong guesses an attacker gets on one account in ``window`` under ``throttle_delay``.

    Each guess is made the moment the previous wait ends; guesses without a wait are instant.
    """
    elapsed, failures = timedelta(0), 0
    while elapsed < window:
        failures += 1
        elapsed += throttle_delay(failures) or timedelta(0)
    return failures


# --- credentials ------------------------------------------------------------------------------


async def test_login_returns_the_actor_with_roles(fresh: Installation, auth: AuthService) -> None:
    await fresh.add_staff(Role.RECEPTIONIST, "Centro")
    outcome = await auth.login("Receptionist.Centro", PASSWORD, "balcao-1")
    actor = outcome.actor
    assert (actor.username, actor.super_admin, actor.roles, actor.workstation) == (
        "receptionist.centro",
        False,
        {fresh.branch_ids["Centro"]: Role.RECEPTIONIST},
        "balcao-1",
    )


async def test_super_admin_login_is_super(auth: AuthService) -> None:
    outcome = await auth.login(SUPER, PASSWORD)
    assert outcome.actor.super_admin


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param(SUPER, WRONG, id="wrong-password"),
        pytest.param(SUPER, PASSWORD.upper(), id="password-case-matters"),
        pytest.param("nobody.here", PASSWORD, id="unknown-user"),
        pytest.param("not a name!", PASSWORD, id="malformed-username"),
    ],
)
async def test_bad_credentials_give_one_code(
    auth: AuthService, username: str, password: str
) -> None:
    assert await login_code(auth, username, password) is ErrorCode.AUTH_INVALID_CREDENTIALS


# --- throttling (S1) --------------------------------------------------------------------------


async def test_five_free_failures_then_throttled(auth: AuthService) -> None:
    codes = await fail_times(auth, SUPER, FREE_FAILURES + 1)
    assert codes == [ErrorCode.AUTH_INVALID_CREDENTIALS] * FREE_FAILURES + [
        ErrorCode.AUTH_THROTTLED
    ]


async def test_throttle_says_how_long_to_wait(auth: AuthService) -> None:
    await fail_times(auth, SUPER, FREE_FAILURES)
    with pytest.raises(ClinicDeskError) as info:
        await auth.login(SUPER, WRONG)
    assert 30 <= int(str(info.value.params["retry_after"])) <= 31


async def test_throttled_account_refuses_the_right_password(auth: AuthService) -> None:
    await fail_times(auth, SUPER, FREE_FAILURES)
    assert await login_code(auth, SUPER, PASSWORD) is ErrorCode.AUTH_THROTTLED


async def test_throttle_holds_until_just_before_the_wait_ends(
    auth: AuthService, clock: FakeClock
) -> None:
    await fail_times(auth, SUPER, FREE_FAILURES)
    clock.advance(timedelta(seconds=29))
    assert await login_code(auth, SUPER, PASSWORD) is ErrorCode.AUTH_THROTTLED


async def test_right_password_works_after_the_wait(auth: AuthService, clock: FakeClock) -> None:
    await fail_times(auth, SUPER, FREE_FAILURES)
    clock.advance(timedelta(seconds=30))
    outcome = await auth.login(SUPER, PASSWORD)
    assert outcome.actor.username == SUPER


async def test_success_resets_the_failure_count(
    fresh: Installation, auth: AuthService, clock: FakeClock
) -> None:
    await fail_times(auth, SUPER, FREE_FAILURES)
    clock.advance(timedelta(seconds=30))
    await auth.login(SUPER, PASSWORD)
    user = await stored_user(fresh, SUPER)
    assert (user.failed_logins, user.throttled_until) == (0, None)


async def test_wait_doubles_after_the_next_failure(auth: AuthService, clock: FakeClock) -> None:
    await fail_times(auth, SUPER, FREE_FAILURES)
    clock.advance(timedelta(seconds=30))
    await login_code(auth, SUPER, WRONG)
    clock.advance(timedelta(seconds=59))
    assert await login_code(auth, SUPER, PASSWORD) is ErrorCode.AUTH_THROTTLED


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [
        (0, None),
        (1, None),
        (4, None),
        (5, 30),
        (6, 60),
        (7, 120),
        (8, 240),
        (9, 480),
        (10, 900),
        (11, 900),
        (15, 900),
        (1000, 900),
    ],
)
def test_throttle_delay_doubles_to_a_cap(failures: int, seconds: int | None) -> None:
    delay = throttle_delay(failures)
    assert (delay and delay.total_seconds()) == seconds


def test_at_most_100_failures_an_hour() -> None:
    """ASVS v4.0.3-2.2.1. The policy allows 12 guesses in the first hour (the worst hour)."""
    assert attempts_possible(HOUR) <= 100


def test_failures_an_hour_is_twelve() -> None:
    """Pins the figure reported for S1: 5 free, then 30+60+120+240+480+900+900 s of waits."""
    assert attempts_possible(HOUR) == 12


async def test_a_parallel_burst_is_counted_and_throttled(
    fresh: Installation, auth: AuthService
) -> None:
    """Each parallel guess is claimed one by one: the free ones count, the rest wait."""
    burst = 8
    codes = await asyncio.gather(
        *(login_code(auth, SUPER, f"{WRONG} {i}") for i in range(burst)),
    )
    assert (await stored_user(fresh, SUPER)).failed_logins == FREE_FAILURES
    assert sorted(codes) == sorted(
        [ErrorCode.AUTH_INVALID_CREDENTIALS] * FREE_FAILURES
        + [ErrorCode.AUTH_THROTTLED] * (burst - FREE_FAILURES)
    )


# --- audit of failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "username",
    [
        pytest.param(SUPER, id="wrong-password"),
        pytest.param("nobody.here", id="unknown-user"),
        pytest.param("not a name!", id="malformed-username"),
    ],
)
async def test_every_failure_is_audited(
    fresh: Installation, auth: AuthService, username: str
) -> None:
    before = await failed_login_rows(fresh)
    await fail_times(auth, username, 3)
    assert await failed_login_rows(fresh) == before + 3


async def test_failure_audit_names_the_account_and_count(
    fresh: Installation, auth: AuthService
) -> None:
    await fail_times(auth, SUPER, 2)
    head = await fresh.core.audit.head()
    assert head is not None
    user = await stored_user(fresh, SUPER)
    entry = head.entry
    assert (entry.action, entry.object_id, dict(entry.details)) == (
        "auth.login_failed",
        str(user.id),
        {"failures": 2},
    )


async def test_audit_chain_stays_valid_after_failures(
    fresh: Installation, auth: AuthService
) -> None:
    await fail_times(auth, SUPER, 3)
    result = await fresh.core.audit.verify(fresh.super_admin)
    assert result.ok


# --- hashes (S2) ------------------------------------------------------------------------------


@pytest.mark.parametrize("username", EVERYONE)
async def test_stored_hash_is_argon2id_at_owasp_minimum(
    installation: Installation, username: str
) -> None:
    user = await stored_user(installation, username)
    match = PHC.match(user.password_hash)
    assert match is not None
    memory, time_cost, _parallelism = (int(g) for g in match.groups())
    assert memory >= 19456
    assert time_cost >= 2


@pytest.fixture
async def weak_hash(fresh: Installation) -> str:
    """Replace the super admin's hash with one made at the OWASP floor (weaker than today's)."""
    weak = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash(PASSWORD)
    user = await stored_user(fresh, SUPER)
    await fresh.core.store.transaction(
        lambda tx: tx.users.set_password(user.id, weak, user.created_at)
    )
    return weak


async def test_weak_hash_still_logs_in(auth: AuthService, weak_hash: str) -> None:
    outcome = await auth.login(SUPER, PASSWORD)
    assert outcome.actor.username == SUPER


async def test_weak_hash_is_upgraded_on_login(
    fresh: Installation, auth: AuthService, weak_hash: str
) -> None:
    await auth.login(SUPER, PASSWORD)
    stored = (await stored_user(fresh, SUPER)).password_hash
    assert (stored != weak_hash, Argon2Hasher().needs_rehash(stored)) == (True, False)


async def test_upgraded_hash_verifies_the_same_password(
    fresh: Installation, auth: AuthService, weak_hash: str
) -> None:
    await auth.login(SUPER, PASSWORD)
    stored = (await stored_user(fresh, SUPER)).password_hash
    assert Argon2Hasher().verify(stored, PASSWORD)


async def test_weak_hash_is_kept_after_a_failed_login(
    fresh: Installation, auth: AuthService, weak_hash: str
) -> None:
    await login_code(auth, SUPER, WRONG)
    assert (await stored_user(fresh, SUPER)).password_hash == weak_hash
