"""``clinicdesk sync enroll|push-now|status|preview`` (contract in docs/CLI.md, docs/SYNC.md).

While an engine runs on the data directory the command asks it through the API (the engine
owns the store, the sender and the report job; enrolling there starts them at once);
otherwise it opens the store here, holding the engine lock so no engine starts in the middle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from app.bootstrap import Core, open_core
from app.cli.output import print_json
from app.cli.remote import running_engine
from app.cli.status import status_lines
from app.config import DataDir, resolve_data_dir
from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.lock import SingleInstanceLock
from app.sync.service import SyncService

T = TypeVar("T")
EXIT_OK = 0
PUSH_TIMEOUT_S = 900.0  # many batches, each up to 30 s


def cmd_sync(args: argparse.Namespace) -> int:
    """Dispatch ``sync`` actions."""
    return {"enroll": _enroll, "push-now": _push, "status": _status, "preview": _preview}[
        args.action
    ](args)


def _through(
    args: argparse.Namespace,
    remote: Callable[[Any], T],
    local: Callable[[Core, SyncService], Coroutine[Any, Any, T]],
) -> T:
    """``remote(client)`` when an engine runs, else ``local(core, service)`` here."""
    data_dir = DataDir(resolve_data_dir(args.data_dir))
    if not data_dir.is_initialised():
        raise ClinicDeskError(ErrorCode.DATA_DIR_NOT_INITIALISED, path=str(data_dir.root))
    client = running_engine(data_dir)
    if client is not None:
        try:
            return remote(client)
        finally:
            client.close()
    # the command reports the outcome in one line; the sender's own log lines would repeat it
    logging.getLogger("app.sync").setLevel(logging.ERROR)
    with SingleInstanceLock(data_dir.engine_lock):
        core = open_core(data_dir.root, insecure=args.insecure_key_storage)
        try:
            assert core.sync is not None  # open_core always sets it
            return asyncio.run(_closing(local(core, core.sync), core.sync))
        finally:
            core.close()


async def _closing(work: Coroutine[Any, Any, T], sync: SyncService) -> T:
    try:
        return await work
    finally:
        await sync.sender.stop()  # closes its HTTP client


def _enroll(args: argparse.Namespace) -> int:
    body = {"central_url": args.central_url, "code": args.code, "force": args.force}
    body["ca_file"] = args.ca_file

    async def local(core: Core, sync: SyncService) -> dict[str, Any]:
        return await sync.enroll(
            core.local_actor(), args.central_url, args.code, args.ca_file, force=args.force
        )

    identity = _through(args, lambda c: c.call("POST", "/sync/enroll", json=body), local)
    print(f"Enrolled as appliance {identity['appliance_id']} ({identity.get('label') or '-'})")
    return EXIT_OK


def _push(args: argparse.Namespace) -> int:
    def remote(client: Any) -> dict[str, int]:
        if args.make_report:
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="--make-report")
        return dict(client.call("POST", "/sync/push-now", timeout=PUSH_TIMEOUT_S))

    async def local(_core: Core, sync: SyncService) -> dict[str, int]:
        if args.make_report:
            await sync.make_report()
        return await sync.push_now()

    result = _through(args, remote, local)
    if args.json:
        print_json(result)
    else:
        print(
            f"Sent {result['sent']} report(s) ({result['duplicates']} already at the central);"
            f" {result['left']} left"
        )
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    async def local(_core: Core, sync: SyncService) -> dict[str, Any]:
        return await sync.status()

    status = _through(args, lambda c: c.call("GET", "/sync/status"), local)
    if args.json:
        print_json(status)
    else:
        print("\n".join(status_lines(status)))
    return EXIT_OK


def _preview(args: argparse.Namespace) -> int:
    async def local(_core: Core, sync: SyncService) -> str:
        return await sync.preview()

    def remote(client: Any) -> str:
        return json.dumps(client.call("GET", "/sync/preview"), indent=2, ensure_ascii=False)

    print(_through(args, remote, local))
    return EXIT_OK
