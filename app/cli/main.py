"""Dispatch of ``clinicdesk`` commands, with one-line errors and stable exit codes.

Exit codes: 0 success; 1 the command failed (message on stderr); 2 bad usage; 3 the audit
chain is damaged; 130 interrupted.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from app.channels.worker import cmd_channel_worker
from app.cli import commands
from app.cli.backup_cmd import cmd_backup
from app.cli.central_cmd import cmd_central
from app.cli.channel_cmd import cmd_channel
from app.cli.clinic_cmd import cmd_queue, cmd_quick_reply
from app.cli.desk_launch import cmd_desk
from app.cli.messages import message_for
from app.cli.output import fail
from app.cli.parser import build_parser
from app.cli.simulator_cmd import cmd_simulator
from app.cli.status import cmd_status
from app.cli.sync_cmd import cmd_sync
from app.domain.errors import ClinicDeskError

Handler = Callable[[argparse.Namespace], int]

HANDLERS: dict[str, Handler] = {
    "init": commands.cmd_init,
    "recover": commands.cmd_recover,
    "engine": commands.cmd_engine,
    "status": cmd_status,
    "branch": commands.cmd_branch,
    "user": commands.cmd_user,
    "audit": commands.cmd_audit,
    "channel": cmd_channel,
    "simulator": cmd_simulator,
    "desk": cmd_desk,
    "channel-worker": cmd_channel_worker,
    "backup": cmd_backup,
    "central": cmd_central,
    "sync": cmd_sync,
    "queue": cmd_queue,
    "quick-reply": cmd_quick_reply,
}


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.demo:
        from app.cli.demo import run_demo

        return run_demo(args)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command not in ("engine", "channel-worker"):
        commands.quiet_logging()
    return HANDLERS[args.command](args)


def run(argv: list[str]) -> int:
    """Run the command named in ``argv``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args, parser)
    except commands.AuditBrokenError as exc:
        fail(message_for(exc))
        return commands.EXIT_AUDIT_BROKEN
    except ClinicDeskError as exc:
        fail(message_for(exc))
        return commands.EXIT_ERROR
    except KeyboardInterrupt:
        return 130
