"""A throwaway PostgreSQL cluster on loopback, for the central server's tests and benchmarks.

:func:`running_postgres` runs ``initdb`` into a fresh temporary folder, starts the server on a
free port listening on 127.0.0.1 only (its unix socket inside that folder), and on exit stops it
and deletes the folder. Tests use the fixtures: ``postgres_server`` (one cluster per session) and
``postgres_url`` (a new empty database per test, dropped afterwards). They are registered for
every test by tests/conftest.py.

PostgreSQL refuses to run as root, so as root every server command runs as the ``postgres`` OS
user (``runuser``), which owns the folder. Missing binaries are a failure, never a skip: the
central's PostgreSQL tests are part of CI, and ``bash .ci/setup.sh`` installs them.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

HOST = "127.0.0.1"
SUPERUSER = "postgres"
SETUP_HINT = "run `bash .ci/setup.sh` (it installs the Debian package `postgresql`)"
START_ATTEMPTS = 3  # a free port can be taken by someone else between probing and binding
# Test speed over crash safety: the cluster is deleted at the end anyway.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
DURABLE_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


class PostgresUnavailableError(RuntimeError):
    """The PostgreSQL server binaries (or the user to run them as) are not on this machine."""


@dataclass(frozen=True)
class PostgresServer:
    """A running cluster: superuser ``postgres``, trust authentication, loopback only."""

    port: int
    data_dir: Path
    socket_dir: Path
    durable: bool
    host: str = HOST

    def url(self, dbname: str = "postgres") -> str:
        """The SQLAlchemy URL (psycopg 3 driver) of database ``dbname`` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """The libpq connection string of ``dbname`` on this server (for psycopg directly)."""
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={dbname}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a unique ``test_…`` name unless given) and return its name."""
        name = name or f"test_{uuid.uuid4().hex[:16]}"
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, disconnecting whoever is still connected to it."""
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        self._admin(statement.format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composed) -> None:
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(statement)


@dataclass(frozen=True)
class _Tools:
    bin_dir: Path
    owner: pwd.struct_passwd | None  # the user to run the server as (None: ourselves)


@contextlib.contextmanager
def running_postgres(durable: bool = False) -> Iterator[PostgresServer]:
    """Run a new cluster for the duration of the ``with`` block, then stop and delete it.

    ``durable=False`` turns fsync, synchronous commit and full-page writes off (tests);
    ``durable=True`` keeps PostgreSQL's crash-safe defaults (benchmarks that should measure what
    a real deployment pays). Raises :class:`PostgresUnavailableError` if PostgreSQL is missing.
    """
    tools = find_tools()
    root = _make_root(tools.owner)
    try:
        data_dir, socket_dir = _init_cluster(tools, root, durable)
        port = _start(tools, data_dir, root / "server.log")
        try:
            yield PostgresServer(port, data_dir, socket_dir, durable)
        finally:
            _run(tools, ["pg_ctl", "-D", str(data_dir), "-m", "fast", "-w", "stop"], cwd=root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def find_tools() -> _Tools:
    """The server's bin folder and, as root, the ``postgres`` user (PostgresUnavailableError)."""
    bin_dir = find_bin_dir()
    if os.geteuid() != 0:
        return _Tools(bin_dir, None)
    try:
        owner = pwd.getpwnam(SUPERUSER)
    except KeyError:
        msg = f"PostgreSQL cannot run as root and there is no `{SUPERUSER}` user: {SETUP_HINT}"
        raise PostgresUnavailableError(msg) from None
    if _runuser() is None:
        raise PostgresUnavailableError(f"running PostgreSQL as root needs `runuser`: {SETUP_HINT}")
    return _Tools(bin_dir, owner)


def find_bin_dir() -> Path:
    """The folder holding initdb and pg_ctl: pg_config's, else the newest Debian one, else PATH."""
    for candidate in _bin_dir_candidates():
        if all(os.access(candidate / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return candidate
    msg = f"PostgreSQL server binaries (initdb, pg_ctl) not found: {SETUP_HINT}"
    raise PostgresUnavailableError(msg)


def _bin_dir_candidates() -> Iterator[Path]:
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, check=True)
            yield Path(out.stdout.decode().strip())
    yield from sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_major, reverse=True)
    if initdb := shutil.which("initdb"):
        yield Path(initdb).resolve().parent


def _major(bin_dir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))


def _runuser() -> str | None:
    found = shutil.which("runuser")
    if found is None and os.access("/usr/sbin/runuser", os.X_OK):
        found = "/usr/sbin/runuser"
    return found


def _make_root(owner: pwd.struct_passwd | None) -> Path:
    """A new private folder for the cluster, owned by the user the server runs as."""
    root = Path(tempfile.mkdtemp(prefix="clinicdesk-pg-", dir=_temp_base(owner)))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    return root


def _temp_base(owner: pwd.struct_passwd | None) -> str | None:
    # As root, $TMPDIR may sit under a private folder the postgres user cannot enter; /tmp can.
    base = Path(tempfile.gettempdir())
    if owner is None or all(p.stat().st_mode & 0o001 for p in (base, *base.parents)):
        return None
    return "/tmp"


def _init_cluster(tools: _Tools, root: Path, durable: bool) -> tuple[Path, Path]:
    """initdb into ``root/data`` and write the loopback-only settings; return (data, socket)."""
    data_dir, socket_dir = root / "data", root / "run"
    initdb = ["initdb", "-D", str(data_dir), "-U", SUPERUSER, "--auth=trust"]
    _run(tools, [*initdb, "--encoding=UTF8", "--locale=C", "--no-sync"], cwd=root)
    socket_dir.mkdir(mode=0o700)
    if tools.owner is not None:
        os.chown(socket_dir, tools.owner.pw_uid, tools.owner.pw_gid)
    settings = {
        "listen_addresses": f"'{HOST}'",
        "unix_socket_directories": f"'{socket_dir}'",
        **(DURABLE_SETTINGS if durable else FAST_SETTINGS),
    }
    with (data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n# tests/helpers/postgres.py\n")
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    return data_dir, socket_dir


def _start(tools: _Tools, data_dir: Path, log: Path) -> int:
    """Start the server on a free loopback port and return the port."""
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        start = ["pg_ctl", "-D", str(data_dir), "-l", str(log), "-w", "-t", "60"]
        try:
            _run(tools, [*start, "-o", f"-p {port}", "start"], cwd=data_dir.parent)
        except RuntimeError:
            if "could not bind" not in _tail(log):
                raise
            continue
        return port
    raise RuntimeError(f"PostgreSQL found no free port in {START_ATTEMPTS} tries:\n{_tail(log)}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _run(tools: _Tools, argv: list[str], cwd: Path) -> None:
    """Run a server command (as the owner when we are root); fail with its output."""
    command = [str(tools.bin_dir / argv[0]), *argv[1:]]
    if tools.owner is not None:
        command = [str(_runuser()), "-u", tools.owner.pw_name, "--", *command]
    # PG* variables (PGDATA, PGPORT, ...) in the caller's environment must not redirect us.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        log = cwd / "server.log"
        detail = f"{done.stdout}{done.stderr}{_tail(log) if log.exists() else ''}"
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}):\n{detail}")


def _tail(log: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return ""


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One fast (non-durable) PostgreSQL cluster for the whole test session."""
    try:
        find_tools()
    except PostgresUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty database of its own, dropped after the test."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
