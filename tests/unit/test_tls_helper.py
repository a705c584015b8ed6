"""The throwaway PKI (tests/helpers/tls.py) serves HTTPS on loopback to its CA's clients only."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from tests.helpers.e2e import wait_until
from tests.helpers.tls import TestPki


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A minimal ASGI app: every request gets 200 "hello"."""
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture
def https_port(test_pki: TestPki) -> Iterator[int]:
    """uvicorn serving over TLS with the test server certificate, on 127.0.0.1 (the port)."""
    config = uvicorn.Config(
        _hello,
        lifespan="off",
        log_config=None,
        access_log=False,
        ssl_certfile=str(test_pki.server_cert),
        ssl_keyfile=str(test_pki.server_key),
    )
    server = uvicorn.Server(config)
    sock = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "the HTTPS server to start")
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _trusting(cafile: object) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


def test_a_client_trusting_the_ca_gets_through(test_pki: TestPki, https_port: int) -> None:
    url = f"https://127.0.0.1:{https_port}/"
    response = httpx.get(url, verify=_trusting(test_pki.ca_cert))
    assert (response.status_code, response.text) == (200, "hello")


def test_a_client_trusting_another_ca_refuses_the_server(
    test_pki: TestPki, https_port: int
) -> None:
    url = f"https://127.0.0.1:{https_port}/"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(url, verify=_trusting(test_pki.other_ca_cert))


def test_the_certificate_names_localhost_too_and_nothing_else(
    test_pki: TestPki, https_port: int
) -> None:
    context = _trusting(test_pki.ca_cert)
    with (
        socket.create_connection(("127.0.0.1", https_port)) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() is not None  # the handshake, hostname check included, succeeded
    with (
        socket.create_connection(("127.0.0.1", https_port)) as raw,
        pytest.raises(ssl.SSLCertVerificationError, match="mismatch"),
    ):
        context.wrap_socket(raw, server_hostname="central.example.org")


def test_the_server_key_is_private_to_its_owner(test_pki: TestPki) -> None:
    assert test_pki.server_key.stat().st_mode & 0o077 == 0
    assert test_pki.ca_key.stat().st_mode & 0o077 == 0
