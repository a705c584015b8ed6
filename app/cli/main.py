"""Dispatch of ``clinicdesk`` commands, with one-line errors and stable exit codes.

Exit codes: 0 success; 1 the command failed (message on stderr); 2 bad usage; 3 the audit
chain is damaged; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import cast

from app.cli.messages import message_for
from app.cli.output import EXIT_AUDIT_BROKEN, EXIT_ERROR, AuditBrokenError, fail, quiet_logging
from app.cli.parser import build_parser
from app.domain.errors import ClinicDeskError

Handler = Callable[[argparse.Namespace], int]

# "module:function" per command, imported only when that command runs: a command must not pay
# for the engine, FastAPI, the store and backups when it needs none of them (docs/CLI.md,
# "Start-up time"). tests/unit/test_cli_startup.py resolves every entry.
HANDLERS: dict[str, str] = {
    "init": "app.cli.commands:cmd_init",
    "recover": "app.cli.commands:cmd_recover",
    "engine": "app.cli.commands:cmd_engine",
    "status": "app.cli.status:cmd_status",
    "branch": "app.cli.admin_cmd:cmd_branch",
    "user": "app.cli.admin_cmd:cmd_user",
    "audit": "app.cli.admin_cmd:cmd_audit",
    "channel": "app.cli.channel_cmd:cmd_channel",
    "simulator": "app.cli.simulator_cmd:cmd_simulator",
    "desk": "app.cli.desk_launch:cmd_desk",
    "channel-worker": "app.channels.worker:cmd_channel_worker",
    "backup": "app.cli.backup_cmd:cmd_backup",
    "central": "app.cli.central_cmd:cmd_central",
    "sync": "app.cli.sync_cmd:cmd_sync",
    "queue": "app.cli.clinic_cmd:cmd_queue",
    "quick-reply": "app.cli.clinic_cmd:cmd_quick_reply",
    "reminder": "app.cli.reminder_cmd:cmd_reminder",
}


def handler_for(command: str) -> Handler:
    """The function that runs ``command`` (its module imported now)."""
    module, _, name = HANDLERS[command].partition(":")
    return cast(Handler, getattr(importlib.import_module(module), name))


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.demo:
        from app.cli.demo import run_demo

        return run_demo(args)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command not in ("engine", "channel-worker"):
        quiet_logging()
    return handler_for(args.command)(args)


def run(argv: list[str]) -> int:
    """Run the command named in ``argv``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args, parser)
    except AuditBrokenError as exc:
        fail(message_for(exc))
        return EXIT_AUDIT_BROKEN
    except ClinicDeskError as exc:
        fail(message_for(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
