"""The engine API in process (httpx ASGI transport) over a real core: auth, errors, RBAC (S4).

Tokens for the shared installation's accounts are issued straight from ``core.tokens`` (login
itself is tested on fresh installations, since a login writes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi.routing import APIRoute

from app.api import routes_admin
from app.api.app import create_app
from app.security.tokens import DEFAULT_TTL, TokenIssuer
from tests.integration.conftest import (
    ALL_STAFF,
    EVERYONE,
    PASSWORD,
    SUPER,
    FakeClock,
    Installation,
)

ANONYMOUS = "anonymous"


def client_for(inst: Installation) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(inst.core))
    return httpx.AsyncClient(transport=transport, base_url="http://engine.test")


@pytest.fixture
async def api(installation: Installation) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(installation) as client:
        yield client


@pytest.fixture
async def fresh_api(fresh: Installation) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(fresh) as client:
        yield client


@pytest.fixture
def tokens(installation: Installation) -> dict[str, str]:
    """A bearer token for every account of the shared installation."""
    return {
        name: installation.core.tokens.issue(installation.actor(name).user_id) for name in EVERYONE
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"username": username, "password": password})


# --- health, login, /me -----------------------------------------------------------------------


async def test_health_needs_no_token(api: httpx.AsyncClient) -> None:
    response = await api.get("/health")
    assert (response.status_code, response.json()["status"]) == (200, "ok")


async def test_login_returns_a_token(fresh_api: httpx.AsyncClient) -> None:
    response = await login(fresh_api, SUPER, PASSWORD)
    assert response.status_code == 200
    assert len(response.json()["token"]) >= 32
    assert response.json()["expires_at"] is not None


async def test_login_token_opens_me(fresh_api: httpx.AsyncClient) -> None:
    token = (await login(fresh_api, SUPER, PASSWORD)).json()["token"]
    me = await fresh_api.get("/me", headers=bearer(token))
    assert (me.status_code, me.json()["username"], me.json()["super_admin"]) == (
        200,
        SUPER,
        True,
    )


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param(SUPER, "not the password at all", id="wrong-password"),
        pytest.param("nobody.here", PASSWORD, id="unknown-user"),
    ],
)
async def test_bad_login_is_401_invalid_credentials(
    fresh_api: httpx.AsyncClient, username: str, password: str
) -> None:
    response = await login(fresh_api, username, password)
    assert (response.status_code, error_code(response)) == (401, "auth.invalid_credentials")


async def test_throttled_login_is_429_with_retry_after(fresh_api: httpx.AsyncClient) -> None:
    for _ in range(5):
        await login(fresh_api, SUPER, "not the password at all")
    response = await login(fresh_api, SUPER, PASSWORD)
    assert (response.status_code, error_code(response)) == (429, "auth.throttled")
    assert 1 <= int(response.headers["Retry-After"]) <= 31


@pytest.mark.parametrize(
    ("username", "branches"),
    [
        (SUPER, []),
        ("admin.centro", [("Centro", "admin")]),
        ("supervisor.centro", [("Centro", "supervisor")]),
        ("receptionist.centro", [("Centro", "receptionist")]),
        ("admin.sul", [("Sul", "admin")]),
        ("supervisor.sul", [("Sul", "supervisor")]),
        ("receptionist.sul", [("Sul", "receptionist")]),
    ],
)
async def test_me_shows_branches_and_roles(
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    username: str,
    branches: list[tuple[str, str]],
) -> None:
    body = (await api.get("/me", headers=bearer(tokens[username]))).json()
    got = [(b["branch_name"], b["role"]) for b in body["branches"]]
    assert (body["username"], got) == (username, branches)


# --- tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"Authorization": "Bearer "}, id="empty-bearer"),
        pytest.param({"Authorization": "Basic cm9vdDpwdw=="}, id="basic-scheme"),
        pytest.param({"Authorization": "Bearer not-a-real-token"}, id="unknown-token"),
        pytest.param({"Authorization": "not-a-real-token"}, id="no-scheme"),
    ],
)
async def test_missing_or_bad_token_is_401(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await api.get("/me", headers=headers)
    assert (response.status_code, response.json()) == (
        401,
        {"error": {"code": "auth.token_invalid", "params": {}}},
    )


async def test_401_names_the_bearer_scheme(api: httpx.AsyncClient) -> None:
    response = await api.get("/me")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_expired_token_is_401(
    installation: Installation, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(installation.core, "tokens", TokenIssuer(clock.now))
    token = installation.core.tokens.issue(installation.super_admin.user_id)
    clock.advance(DEFAULT_TTL + timedelta(seconds=1))
    response = await api.get("/me", headers=bearer(token))
    assert (response.status_code, error_code(response)) == (401, "auth.token_invalid")


async def test_token_is_valid_just_before_expiry(
    installation: Installation, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(installation.core, "tokens", TokenIssuer(clock.now))
    token = installation.core.tokens.issue(installation.super_admin.user_id)
    clock.advance(DEFAULT_TTL - timedelta(seconds=1))
    response = await api.get("/me", headers=bearer(token))
    assert response.status_code == 200


async def test_logout_revokes_the_token(installation: Installation, api: httpx.AsyncClient) -> None:
    token = installation.core.tokens.issue(installation.actor("receptionist.sul").user_id)
    logout = await api.post("/auth/logout", headers=bearer(token))
    after = await api.get("/me", headers=bearer(token))
    assert (logout.status_code, after.status_code, error_code(after)) == (
        204,
        401,
        "auth.token_invalid",
    )


async def test_logout_leaves_other_sessions_alone(
    installation: Installation, api: httpx.AsyncClient
) -> None:
    user_id = installation.actor("receptionist.sul").user_id
    mine, other = installation.core.tokens.issue(user_id), installation.core.tokens.issue(user_id)
    await api.post("/auth/logout", headers=bearer(mine))
    assert (await api.get("/me", headers=bearer(other))).status_code == 200


# --- RBAC matrix (S4) -------------------------------------------------------------------------

ROLES = (ANONYMOUS, *EVERYONE)
# The account whose password PUT /users/{u}/password targets; it is set to the same value, so
# a success changes nothing other tests rely on.
PASSWORD_TARGET = "receptionist.centro"

# endpoint -> expected status per caller, in ROLES order:
#           anon  super  adm-C  sup-C  rec-C  adm-S  sup-S  rec-S
MATRIX: dict[str, tuple[int, ...]] = {
    "GET /branches": (401, 200, 200, 200, 200, 200, 200, 200),
    "POST /branches": (401, 201, 403, 403, 403, 403, 403, 403),
    "GET /users": (401, 200, 200, 403, 403, 200, 403, 403),
    "POST /users": (401, 201, 201, 403, 403, 201, 403, 403),
    "PUT /users/{u}/password": (401, 204, 204, 403, 204, 403, 403, 403),
    "GET /audit/verify": (401, 200, 200, 403, 403, 200, 403, 403),
    "GET /status": (401, 200, 200, 403, 403, 200, 403, 403),
    # Centro's settings: read by anyone working there, changed by its admins
    "GET /branches/{branch_id}/settings": (401, 200, 200, 200, 200, 403, 403, 403),
    "PATCH /branches/{branch_id}/settings": (401, 200, 200, 403, 403, 403, 403, 403),
}
CENTRO_ID = 1  # the first branch build_installation adds (BRANCHES)
SUCCESS = range(200, 300)


def successes_in(matrix: dict[str, tuple[int, ...]]) -> dict[str, set[str]]:
    """Per endpoint, the callers whose expected status is a 2xx."""
    return {
        endpoint: {c for c, s in zip(ROLES, statuses, strict=True) if s in SUCCESS}
        for endpoint, statuses in matrix.items()
    }


def headers_of(tokens: dict[str, str], caller: str) -> dict[str, str]:
    """The Authorization header of ``caller`` (none for the anonymous caller)."""
    return {} if caller == ANONYMOUS else bearer(tokens[caller])


def own_branch(caller: str) -> str:
    """The branch a caller's POST /users targets: its own (Centro for the super admin)."""
    return "Sul" if caller.endswith(".sul") else "Centro"


def request_for(endpoint: str, caller: str) -> tuple[str, str, dict[str, object] | None]:
    """Method, path and JSON body of a valid request to ``endpoint`` made by ``caller``."""
    case = caller.replace(".", "-")
    bodies: dict[str, tuple[str, dict[str, object] | None]] = {
        "GET /branches": ("/branches", None),
        "POST /branches": ("/branches", {"name": f"Filial {case}"}),
        "GET /users": ("/users", None),
        "POST /users": (
            "/users",
            {
                "username": f"novo.{case}",
                "display_name": "Novo",
                "password": PASSWORD,
                "branch": own_branch(caller),
                "role": "receptionist",
            },
        ),
        "PUT /users/{u}/password": (f"/users/{PASSWORD_TARGET}/password", {"password": PASSWORD}),
        "GET /audit/verify": ("/audit/verify", None),
        "GET /status": ("/status", None),
        "GET /branches/{branch_id}/settings": (f"/branches/{CENTRO_ID}/settings", None),
        # the same value every time: a success changes nothing other tests rely on
        "PATCH /branches/{branch_id}/settings": (
            f"/branches/{CENTRO_ID}/settings",
            {"clinic_name": "Clínica Centro"},
        ),
    }
    path, body = bodies[endpoint]
    return endpoint.split(" ", maxsplit=1)[0], path, body


RBAC_CASES = [
    pytest.param(endpoint, caller, expected, id=f"{endpoint}-{caller}")
    for endpoint, statuses in MATRIX.items()
    for caller, expected in zip(ROLES, statuses, strict=True)
]


@pytest.mark.parametrize(("endpoint", "caller", "expected"), RBAC_CASES)
async def test_rbac_matrix(
    api: httpx.AsyncClient, tokens: dict[str, str], endpoint: str, caller: str, expected: int
) -> None:
    method, path, body = request_for(endpoint, caller)
    response = await api.request(method, path, json=body, headers=headers_of(tokens, caller))
    assert response.status_code == expected


def test_rbac_matrix_covers_every_admin_route() -> None:
    """Every route of the administration router has a matrix row (a new route needs one).

    The channel routes (``/channels``) and the event WebSocket are not in this matrix yet.
    """
    routes = {
        f"{method} {route.path}".replace("{username}", "{u}")
        for route in routes_admin.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    assert routes == set(MATRIX)


def test_rbac_matrix_routes_are_served_by_the_app(installation: Installation) -> None:
    paths = create_app(installation.core).openapi()["paths"]
    served = {f"{m.upper()} {p}".replace("{username}", "{u}") for p in paths for m in paths[p]}
    assert set(MATRIX) <= served


def test_rbac_matrix_allows_no_unauthorised_success() -> None:
    """The table itself: only roles that hold the permission may succeed."""
    allowed = {
        "POST /branches": {SUPER},
        "GET /users": {SUPER, "admin.centro", "admin.sul"},
        "POST /users": {SUPER, "admin.centro", "admin.sul"},
        "PUT /users/{u}/password": {SUPER, "admin.centro", PASSWORD_TARGET},
        "GET /audit/verify": {SUPER, "admin.centro", "admin.sul"},
        "GET /status": {SUPER, "admin.centro", "admin.sul"},
        "GET /branches": set(EVERYONE),
        "GET /branches/{branch_id}/settings": {
            SUPER, "admin.centro", "supervisor.centro", "receptionist.centro",
        },
        "PATCH /branches/{branch_id}/settings": {SUPER, "admin.centro"},
    }  # fmt: skip
    assert successes_in(MATRIX) == allowed


async def test_branch_list_never_crosses_branches(
    api: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    names = {
        caller: [
            b["name"] for b in (await api.get("/branches", headers=bearer(tokens[caller]))).json()
        ]
        for caller in ALL_STAFF
    }
    assert names == {caller: [own_branch(caller)] for caller in ALL_STAFF}


async def test_receptionist_posting_user_into_other_branch_is_403(
    api: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    body = {
        "username": "intruso.sul",
        "display_name": "Intruso",
        "password": PASSWORD,
        "branch": "Sul",
        "role": "admin",
    }
    response = await api.post("/users", json=body, headers=bearer(tokens["receptionist.centro"]))
    assert response.status_code == 403


async def test_posting_user_into_other_branch_creates_nothing(
    installation: Installation, api: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    body = {
        "username": "intruso.sul",
        "display_name": "Intruso",
        "password": PASSWORD,
        "branch": "Sul",
        "role": "admin",
    }
    await api.post("/users", json=body, headers=bearer(tokens["receptionist.centro"]))
    user = await installation.core.store.read(lambda tx: tx.users.get_by_username("intruso.sul"))
    assert user is None


async def test_admin_user_list_shows_only_own_branch(
    api: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    users = (await api.get("/users", headers=bearer(tokens["admin.sul"]))).json()
    assert {branch for u in users for branch in u["roles"]} == {"Sul"}


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", "/branches", {}, id="branch-missing-name"),
        pytest.param("POST", "/branches", {"name": ""}, id="branch-empty-name"),
        pytest.param("POST", "/branches", {"name": "   "}, id="branch-blank-name"),
        pytest.param("POST", "/branches", {"name": "x" * 121}, id="branch-long-name"),
        pytest.param("POST", "/branches", {"name": 42}, id="branch-name-not-text"),
        pytest.param(
            "POST",
            "/users",
            {"username": "a.b", "display_name": "A", "password": PASSWORD, "branch": "Centro"},
            id="user-missing-role",
        ),
        pytest.param(
            "POST",
            "/users",
            {
                "username": "a.b",
                "display_name": "A",
                "password": PASSWORD,
                "branch": "Centro",
                "role": "king",
            },
            id="user-unknown-role",
        ),
        pytest.param(
            "POST",
            "/users",
            {
                "username": "bad name",
                "display_name": "A",
                "password": PASSWORD,
                "branch": "Centro",
                "role": "receptionist",
            },
            id="user-bad-username",
        ),
        pytest.param("PUT", "/users/admin.centro/password", {}, id="password-missing"),
        pytest.param("POST", "/auth/login", {"username": "x"}, id="login-missing-password"),
    ],
)
async def test_validation_error_is_400_input_invalid(
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    method: str,
    path: str,
    body: dict[str, object],
) -> None:
    response = await api.request(method, path, json=body, headers=bearer(tokens[SUPER]))
    assert (response.status_code, error_code(response)) == (400, "input.invalid")


async def test_short_password_is_400_with_its_own_code(
    api: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    response = await api.put(
        "/users/admin.centro/password", json={"password": "short"}, headers=bearer(tokens[SUPER])
    )
    assert (response.status_code, error_code(response)) == (400, "password.too_short")


async def test_malformed_json_is_400(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    headers = bearer(tokens[SUPER]) | {"Content-Type": "application/json"}
    response = await api.post("/branches", content=b"{not json", headers=headers)
    assert (response.status_code, error_code(response)) == (400, "input.invalid")
