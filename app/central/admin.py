"""The admin API (bearer admin token) and the dashboard (the same token, kept in a cookie).

The cookie is HttpOnly and SameSite=Strict (Secure over TLS) and is accepted only by the
read-only dashboard page: state-changing routes (revoke) take the bearer header only, so a
cross-site form cannot use a logged-in browser's cookie.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, HTTPException, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.central.context import Central
from app.central.dashboard import fleet_csv
from app.central.enrolment import revoke
from app.central.fleet import ApplianceView
from app.central.tokens import is_valid

COOKIE = "clinicdesk_central"
_bearer = HTTPBearer(auto_error=False, description="admin token from 'clinicdesk central token'")
ApplianceIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


class ApplianceOut(BaseModel):
    """One appliance in ``GET /api/appliances``."""

    appliance_id: str
    label: str
    enrolled_at: datetime
    revoked: bool
    last_seen: datetime | None
    online: bool
    last_seq: int
    app_version: str | None
    latest_figures: dict[str, Any] | None


class Revoked(BaseModel):
    """The answer to a revocation."""

    appliance_id: str
    revoked: bool


def _out(a: ApplianceView) -> ApplianceOut:
    return ApplianceOut(
        appliance_id=a.appliance_id,
        label=a.label,
        enrolled_at=datetime.fromtimestamp(a.enrolled_at, UTC),
        revoked=a.revoked,
        last_seen=None if a.last_seen is None else datetime.fromtimestamp(a.last_seen, UTC),
        online=a.online,
        last_seq=a.last_seq,
        app_version=a.app_version,
        latest_figures=a.latest_figures,
    )


def add_admin_routes(app: FastAPI, central: Central) -> None:
    """Register the admin API and the dashboard pages on ``app``."""

    def admin(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        if creds is None or not is_valid(central.engine, creds.credentials):
            raise HTTPException(401, "admin token required", headers={"WWW-Authenticate": "Bearer"})

    guarded = [Depends(admin)]

    @app.get(
        "/api/appliances", response_model=list[ApplianceOut], dependencies=guarded, tags=["admin"]
    )
    def list_appliances() -> list[ApplianceOut]:
        """Every appliance with last seen, last sequence and latest figures."""
        return [_out(a) for a in central.fleet()]

    @app.get("/api/appliances.csv", dependencies=guarded, tags=["admin"], response_class=Response)
    def appliances_csv() -> Response:
        """The fleet as CSV (one row per appliance)."""
        headers = {"Content-Disposition": 'attachment; filename="clinicas.csv"'}
        return Response(
            fleet_csv(central.fleet()), media_type="text/csv; charset=utf-8", headers=headers
        )

    @app.post(
        "/api/appliances/{appliance_id}/revoke",
        response_model=Revoked,
        dependencies=guarded,
        tags=["admin"],
    )
    def revoke_appliance(appliance_id: ApplianceIdPath) -> Revoked:
        """Refuse this appliance's reports from now on."""
        if not revoke(central.engine, appliance_id, central.clock()):
            raise HTTPException(404, "no such appliance")
        return Revoked(appliance_id=appliance_id, revoked=True)

    _add_pages(app, central)


def _add_pages(app: FastAPI, central: Central) -> None:
    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard", status_code=303)

    @app.get("/login", response_class=HTMLResponse, tags=["dashboard"])
    def login_form() -> HTMLResponse:
        """The login form."""
        return HTMLResponse(central.dashboard.login_page())

    @app.post("/login", response_class=HTMLResponse, tags=["dashboard"], openapi_extra=_LOGIN_FORM)
    async def login(request: Request) -> Response:
        """Token in a form field -> cookie, then the dashboard."""
        token = _form_token(await request.body())
        if not await _valid(central, token):
            return HTMLResponse(central.dashboard.login_page(error=True), status_code=401)
        page = RedirectResponse("/dashboard", status_code=303)
        secure = request.url.scheme == "https"
        page.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/")
        return page

    @app.post("/logout", tags=["dashboard"])
    def logout() -> RedirectResponse:
        """Forget the cookie."""
        page = RedirectResponse("/login", status_code=303)
        page.delete_cookie(COOKIE, path="/")
        return page

    @app.get("/dashboard", response_class=HTMLResponse, tags=["dashboard"])
    def dashboard(request: Request) -> Response:
        """The fleet page (cookie or bearer token, else to the login form)."""
        token = request.cookies.get(COOKIE) or _bearer_of(request)
        if not token or not is_valid(central.engine, token):
            return RedirectResponse("/login", status_code=303)
        return HTMLResponse(central.dashboard.fleet_page(central.fleet(), central.clock()))


async def _valid(central: Central, token: str) -> bool:
    return bool(token) and await run_in_threadpool(is_valid, central.engine, token)


def _form_token(body: bytes) -> str:
    """The ``token`` field of a urlencoded form ("" when absent or not such a form)."""
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=5)
    except ValueError:  # more fields than a login form has
        return ""
    return (fields.get("token") or [""])[0].strip()


def _bearer_of(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


_LOGIN_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"token": {"type": "string"}},
                    "required": ["token"],
                }
            }
        },
    }
}
