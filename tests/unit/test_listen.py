"""The servers' listening sockets: every accepted connection has Nagle's algorithm off.

Without it, uvicorn's separate header and body writes made each request after the first on a
kept-alive connection wait for the client's delayed ACK (~40 ms on loopback; see
app/infra/listen.py). The check is on the socket option, not on a time.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from app.engine import bind_socket
from app.infra.listen import listening_socket
from app.simulator.server import bind


@pytest.mark.parametrize("make", [listening_socket, bind_socket, bind])
def test_accepted_connections_have_nodelay(make) -> None:  # type: ignore[no-untyped-def]
    server = make("127.0.0.1", 0)
    try:
        server.setblocking(True)
        client = socket.create_connection(server.getsockname()[:2], timeout=5)
        accepted, _ = server.accept()
        with client, accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        server.close()


async def test_asyncio_serves_the_socket_with_nodelay() -> None:
    seen: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(handle, sock=listening_socket("127.0.0.1", 0))
    async with server:
        host, port = server.sockets[0].getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
    assert seen and seen[0] != 0


def test_a_taken_port_is_refused_and_nothing_stays_open() -> None:
    first = listening_socket("127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            listening_socket("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()
