"""Talking to the engine that runs on a data directory (the CLI's path while one is up)."""

from __future__ import annotations

from typing import Any

import httpx

from app.config import DataDir
from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.engine_info import read_engine_info
from app.infra.lock import is_locked_by_other


class EngineClient:
    """A small synchronous client of the engine API with the local admin token."""

    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        self.url = url
        self.auth_header = f"Bearer {token}"
        headers = {"Authorization": self.auth_header}
        # trust_env=False: never route loopback calls through a proxy from the environment
        self._http = httpx.Client(base_url=url, headers=headers, timeout=timeout, trust_env=False)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request; return its JSON; raise the engine's error code on a 4xx/5xx."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError:
            raise ClinicDeskError(ErrorCode.ENGINE_UNREACHABLE, url=self.url) from None
        if response.status_code >= 400:
            raise _error_from(response)
        return response.json() if response.content else None

    def close(self) -> None:
        self._http.close()


def _error_from(response: httpx.Response) -> ClinicDeskError:
    try:
        body = response.json()["error"]
        return ClinicDeskError(ErrorCode(body["code"]), **body.get("params", {}))
    except (ValueError, KeyError, TypeError):
        return ClinicDeskError(ErrorCode.ENGINE_UNREACHABLE, url=str(response.url))


def running_engine(data_dir: DataDir) -> EngineClient | None:
    """A client of the engine running on ``data_dir``, or None when none runs.

    A left-over ``engine.json`` without a live lock holder (a crashed engine) means none runs.
    An engine that holds the lock but does not answer is an error, not a reason to open the
    store a second time.
    """
    info = read_engine_info(data_dir)
    if info is None or not is_locked_by_other(data_dir.engine_lock):
        return None
    client = EngineClient(str(info.get("url")), str(info.get("token")))
    client.call("GET", "/health")
    return client
