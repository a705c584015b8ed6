"""The PostgreSQL test cluster (tests/helpers/postgres.py): real, a database per test, loopback."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect, select

from tests.helpers import postgres
from tests.helpers.postgres import PostgresServer, running_postgres

LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp*
seen_databases: list[str] = []


def test_a_table_round_trips_through_sqlalchemy_and_psycopg(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    notes = Table(
        "notes",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("body", String(50)),
    )
    try:
        notes.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(notes.insert(), [{"body": "olá"}, {"body": "tchau"}])
        with engine.connect() as conn:
            rows = conn.execute(select(notes.c.body).order_by(notes.c.id)).scalars().all()
        assert engine.dialect.driver == "psycopg"
        assert rows == ["olá", "tchau"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_gets_a_new_empty_database(
    turn: int, postgres_url: str, postgres_server: PostgresServer
) -> None:
    engine = create_engine(postgres_url)
    try:
        assert inspect(engine).get_table_names() == []  # nothing left by the other turn
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE marker (turn integer)")
        name = engine.url.database
    finally:
        engine.dispose()
    assert name not in seen_databases
    assert _databases(postgres_server).isdisjoint(seen_databases)  # earlier ones were dropped
    seen_databases.append(str(name))


def test_the_cluster_listens_on_127_0_0_1_only(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.conninfo()) as conn:
        row = conn.execute("SHOW listen_addresses").fetchone()
    assert row == ("127.0.0.1",)
    assert _listening_addresses(postgres_server.port) == {"127.0.0.1"}
    assert (postgres_server.socket_dir / f".s.PGSQL.{postgres_server.port}").exists()


def test_the_test_cluster_trades_durability_for_speed(postgres_server: PostgresServer) -> None:
    assert _settings(postgres_server) == ("off", "off", "off")


def test_a_durable_cluster_keeps_the_crash_safe_settings_and_is_gone_after() -> None:
    with running_postgres(durable=True) as server:
        assert _settings(server) == ("on", "on", "on")
        root = server.data_dir.parent
    assert not root.exists()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), 5):
        pass


def _settings(server: PostgresServer) -> tuple[str, ...]:
    names = ("fsync", "synchronous_commit", "full_page_writes")
    with psycopg.connect(server.conninfo()) as conn:
        rows = [conn.execute(f"SHOW {name}").fetchone() for name in names]
    return tuple(str(row[0]) for row in rows if row is not None)


def _databases(server: PostgresServer) -> set[str]:
    with psycopg.connect(server.conninfo()) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def _listening_addresses(port: int) -> set[str]:
    """The local addresses with a listening TCP socket on ``port`` (IPv4 and IPv6)."""
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = Path("/proc/net") / table
        lines = path.read_text().splitlines()[1:] if path.exists() else []
        for fields in (line.split() for line in lines):
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == LISTEN:
                found.add(_proc_address(address, family))
    return found


def _proc_address(hex_address: str, family: socket.AddressFamily) -> str:
    # /proc/net/tcp* print each 32-bit word of the address in host (little-endian) byte order.
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, words)


def test_missing_binaries_say_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(postgres, "_bin_dir_candidates", lambda: iter([tmp_path]))
    with pytest.raises(postgres.PostgresUnavailableError, match=r"run `bash \.ci/setup\.sh`"):
        postgres.find_tools()
