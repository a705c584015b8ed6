"""The ``clinicdesk`` argument parser (the contract IT staff script against: keep it stable)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from app import __version__
from app.channels.worker import add_worker_parser
from app.cli.parser_tools import (
    add_backup_parser,
    add_branch_settings_parsers,
    add_central_parser,
    add_channel_parser,
    add_desk_parser,
    add_queue_parser,
    add_quick_reply_parser,
    add_reminder_parser,
    add_sync_parser,
)
from app.cli.simulator_cmd import add_simulator_parser
from app.config import DEFAULT_ENGINE_PORT

if TYPE_CHECKING:  # generic only in typeshed, not at run time
    Subs = argparse._SubParsersAction[argparse.ArgumentParser]


def _data_dir_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--data-dir",
        help="installation folder (default: $CLINICDESK_DATA_DIR, else the system data folder)",
    )
    parent.add_argument(
        "--insecure-key-storage",
        action="store_true",
        help="run even though the data dir or key files are readable by other accounts",
    )
    return parent


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _add_init(sub: Subs, dd: argparse.ArgumentParser) -> None:
    p = sub.add_parser("init", parents=[dd], help="create a new installation")
    p.add_argument("--admin-user", required=True, help="username of the first super admin")
    p.add_argument("--admin-display-name", default="Administrador")
    p.add_argument("--admin-password-file", help="file whose first line is the password")
    p.add_argument("--recovery-key-file", help="write the recovery key here (mode 0600)")


def _add_recover(sub: Subs, dd: argparse.ArgumentParser) -> None:
    p = sub.add_parser("recover", parents=[dd], help="unlock with the recovery key on a new PC")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--recovery-key", help="the 48-digit recovery key")
    group.add_argument("--recovery-key-file", help="file holding the recovery key")


def _add_branch(sub: Subs, dd: argparse.ArgumentParser) -> None:
    branch = sub.add_parser("branch", help="clinic branches").add_subparsers(
        dest="action", required=True
    )
    branch.add_parser("add", parents=[dd]).add_argument("--name", required=True)
    _json_flag(branch.add_parser("list", parents=[dd]))
    add_branch_settings_parsers(branch, dd)


def _add_user(sub: Subs, dd: argparse.ArgumentParser) -> None:
    user = sub.add_parser("user", help="staff accounts").add_subparsers(
        dest="action", required=True
    )
    add = user.add_parser("add", parents=[dd])
    add.add_argument("--username", required=True)
    add.add_argument("--display-name", required=True)
    add.add_argument("--password-file")
    add.add_argument("--branch", required=True, help="branch name")
    add.add_argument(
        "--role", required=True, choices=["super_admin", "admin", "supervisor", "receptionist"]
    )
    _json_flag(user.add_parser("list", parents=[dd]))
    passwd = user.add_parser("passwd", parents=[dd])
    passwd.add_argument("--username", required=True)
    passwd.add_argument("--password-file")


def _add_audit(sub: Subs, dd: argparse.ArgumentParser) -> None:
    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="action", required=True
    )
    verify = audit.add_parser("verify", parents=[dd])
    verify.add_argument("--anchor", help="SEQ:HASH recorded elsewhere (backup, central report)")
    _json_flag(verify)


def _add_engine_and_status(sub: Subs, dd: argparse.ArgumentParser) -> None:
    engine = sub.add_parser("engine", parents=[dd], help="run the engine in the foreground")
    engine.add_argument("--port", type=int, default=DEFAULT_ENGINE_PORT, help="0 picks a free one")
    engine.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    _json_flag(sub.add_parser("status", parents=[dd], help="engine, store and key status"))


def build_parser() -> argparse.ArgumentParser:
    """The full parser: global flags plus one sub-command per task."""
    parser = argparse.ArgumentParser(
        prog="clinicdesk", description="ClinicDesk: WhatsApp service desk for clinics."
    )
    parser.add_argument("--version", action="version", version=f"clinicdesk {__version__}")
    parser.add_argument("--demo", action="store_true", help="run a demo in a throwaway folder")
    parser.add_argument("--headless", action="store_true", help="with --demo: no desk window")
    parser.add_argument("--quit-after", type=float, help="with --demo: stop after S seconds")
    parser.add_argument(
        "--screenshot", help="with --demo: save the main window (a .png, or a folder) and exit"
    )
    parser.add_argument("--language", choices=["pt_BR", "en"], help="desk language")
    parser.add_argument("--data-dir", dest="demo_data_dir", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command")
    dd = _data_dir_parent()
    for add in (
        _add_init,
        _add_recover,
        _add_branch,
        _add_user,
        _add_audit,
        _add_engine_and_status,
        add_channel_parser,
        add_simulator_parser,
        add_desk_parser,
        add_backup_parser,
        add_sync_parser,
        add_queue_parser,
        add_quick_reply_parser,
        add_reminder_parser,
    ):
        add(sub, dd)
    add_worker_parser(sub)
    add_central_parser(sub)
    return parser
