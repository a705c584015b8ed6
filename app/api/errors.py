"""Core error codes → HTTP status and a JSON body ``{"error": {"code", "params"}}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.domain.errors import ClinicDeskError, ErrorCode

_STATUS: dict[ErrorCode, int] = {
    ErrorCode.AUTH_INVALID_CREDENTIALS: 401,
    ErrorCode.AUTH_TOKEN_INVALID: 401,
    ErrorCode.AUTH_USER_DISABLED: 403,
    ErrorCode.AUTH_THROTTLED: 429,
    ErrorCode.ACCESS_DENIED: 403,
    ErrorCode.ACCESS_BRANCH_DENIED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.ALREADY_EXISTS: 409,
}


def status_for(code: ErrorCode) -> int:
    """HTTP status for a core error: 4xx for the caller's mistakes, 503 for store trouble."""
    if code in _STATUS:
        return _STATUS[code]
    if code.value.startswith(("store.", "keystore.", "key.")):
        return 503
    return 400


def error_body(code: str, params: dict[str, object]) -> dict[str, object]:
    """The one error shape every endpoint uses."""
    return {"error": {"code": code, "params": params}}


async def _core_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClinicDeskError)
    headers = {}
    if exc.code is ErrorCode.AUTH_THROTTLED:
        headers["Retry-After"] = str(exc.params.get("retry_after", 30))
    if status_for(exc.code) == 401:
        headers["WWW-Authenticate"] = "Bearer"
    body = error_body(exc.code.value, exc.params)
    return JSONResponse(body, status_code=status_for(exc.code), headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [".".join(str(p) for p in err.get("loc", ())[1:]) for err in exc.errors()]
    body = error_body(ErrorCode.INVALID_INPUT.value, {"field": ",".join(fields)})
    return JSONResponse(body, status_code=400)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into the error shape."""
    app.add_exception_handler(ClinicDeskError, _core_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
