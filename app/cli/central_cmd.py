"""``clinicdesk central serve|enroll|token|revoke``: the central office server (docs/CENTRAL.md).

``enroll`` and ``token`` print the secret on their last line of standard output (scripts take
``tail -n 1``); it is shown once and stored only as a hash.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import ssl
import time
from pathlib import Path
from typing import TYPE_CHECKING

from platformdirs import user_data_dir

from app.central.db import open_engine
from app.central.enrolment import clean_label, issue_code, revoke
from app.central.settings import ENV_DB, CentralSettings
from app.central.tokens import issue_token
from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.listen import listening_socket
from app.infra.logging import configure_logging
from app.security.fsperms import make_private_dir

if TYPE_CHECKING:
    import uvicorn
    from sqlalchemy import Engine


log = logging.getLogger("app.central")


def cmd_central(args: argparse.Namespace) -> int:
    """Dispatch ``central`` actions."""
    action = {"serve": _serve, "enroll": _enroll, "token": _token, "revoke": _revoke}
    return action[args.action](args)


def default_db_url() -> str:
    """``$CLINICDESK_CENTRAL_DB``, else a SQLite file in a private user data folder."""
    env = os.environ.get(ENV_DB)
    if env:
        return env
    folder = Path(user_data_dir("clinicdesk-central", appauthor=False))
    make_private_dir(folder)
    return f"sqlite:///{folder / 'central.sqlite3'}"


def _engine(args: argparse.Namespace) -> Engine:
    return open_engine(args.db or default_db_url())


def _enroll(args: argparse.Namespace) -> int:
    try:
        label = clean_label(args.name)
    except ValueError:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="--name") from None
    if not 0 < args.ttl_hours <= 24 * 30:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="--ttl-hours")
    engine = _engine(args)
    try:
        code = issue_code(engine, label, time.time(), args.ttl_hours)
    finally:
        engine.dispose()
    print(f"Enrolment code for {label} (valid {args.ttl_hours:g} h, once):")
    print(code)
    return 0


def _token(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        token = issue_token(engine, time.time())
    finally:
        engine.dispose()
    print("Admin token (shown once; keep it in a password manager):")
    print(token)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        found = revoke(engine, args.appliance_id, time.time())
    finally:
        engine.dispose()
    if not found:
        raise ClinicDeskError(ErrorCode.NOT_FOUND, entity="appliance")
    print(f"Appliance {args.appliance_id} revoked")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn  # only the server needs it

    from app.central.app import create_app

    if bool(args.certfile) != bool(args.keyfile) or args.keep_days < 1:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="--certfile/--keyfile/--keep-days")
    configure_logging(None)
    engine = _engine(args)
    try:
        app = create_app(engine, CentralSettings(keep_days=args.keep_days))
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="on",
            ssl_certfile=args.certfile,
            ssl_keyfile=args.keyfile,
        )
        _load_tls(config)
        sock = _bind(args.host, args.port)
        host, port = sock.getsockname()[:2]
        scheme = "https" if args.certfile else "http"
        log.info(
            "central listening on %s://%s:%d",
            scheme,
            host,
            port,
            extra={"code": "central.listening"},
        )
        asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))
    finally:
        engine.dispose()
    return 0


def _load_tls(config: uvicorn.Config) -> None:
    try:
        config.load()  # reads the certificate files now: a bad one is a clear error, not a trace
    except (OSError, ssl.SSLError) as exc:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="--certfile/--keyfile") from exc


def _bind(host: str, port: int) -> socket.socket:
    try:
        sock = listening_socket(host, port, backlog=1024)
    except OSError as exc:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="--host/--port") from exc
    sock.set_inheritable(True)
    return sock
