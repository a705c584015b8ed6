"""HTTPS to the central office: URL policy, certificate trust, timeouts, Retry-After.

TLS is always verified: against the office CA given at enrolment (``ca_file``: only that CA is
trusted, i.e. pinned) or else the system's default CAs. Plain ``http://`` is refused except to
a loopback host (tests and a central on the same machine).
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from app.domain.errors import ClinicDeskError, ErrorCode

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
CONNECT_TIMEOUT_S = 10.0
TOTAL_TIMEOUT_S = 30.0


def check_central_url(url: str) -> str:
    """``url`` without a trailing slash, if it may be used; else ``SYNC_HTTP_NOT_ALLOWED``
    (plain HTTP to a remote host) or ``INVALID_INPUT`` (not an http(s) URL with a host)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="central_url")
    if parts.username or parts.password:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="central_url")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise ClinicDeskError(ErrorCode.SYNC_HTTP_NOT_ALLOWED, url=url.strip())
    return url.strip().rstrip("/")


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """Verified TLS trusting only ``ca_file`` when given (else the default CAs)."""
    try:
        return (
            ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
        )
    except (OSError, ssl.SSLError) as exc:
        raise ClinicDeskError(ErrorCode.SYNC_CA_FILE_INVALID, path=str(ca_file)) from exc


def client(
    ca_file: str | None, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """An async client for the central: verified TLS, bounded timeouts, no proxies or
    certificates taken from the environment (the appliance's trust is what enrolment set)."""
    timeout = httpx.Timeout(TOTAL_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    return httpx.AsyncClient(
        verify=ssl_context(ca_file), timeout=timeout, trust_env=False, transport=transport
    )


def is_tls_error(exc: BaseException) -> bool:
    """Whether a transport error came from certificate or handshake checks."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSL" in str(exc)


def retry_after(response: httpx.Response, now: datetime) -> float | None:
    """Seconds the central asks us to wait (``Retry-After``: seconds or an HTTP date)."""
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    if raw.strip().isdigit():
        return float(raw.strip())
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
