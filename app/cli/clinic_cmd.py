"""``clinicdesk branch show|configure``, ``clinicdesk queue add|list|member`` and ``clinicdesk
quick-reply add|list``: what IT staff set up before the first patient writes (business hours,
the out-of-hours reply, the queues of the numbered menu and who answers each, the answers the
receptionists type with ``/shortcut``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from app.cli.backends import engine_or_store
from app.cli.clinic_backends import ClinicBackend, LocalClinic, RemoteClinic
from app.cli.output import print_json, print_table
from app.cli.remote import EngineClient
from app.domain.errors import ClinicDeskError, ErrorCode

EXIT_OK = 0
Subs = Any  # argparse's private _SubParsersAction
# --option → the API's field name (settings of ``branch configure``)
SETTING_OPTIONS = {
    "timezone": "timezone",
    "hours": "hours",
    "out_of_hours_message": "out_of_hours_message",
    "reopen_minutes": "reopen_window_minutes",
    "menu_header": "menu_header",
    "clinic_name": "clinic_name",
}
SHOWN = (
    ("timezone", "timezone"),
    ("hours", "hours"),
    ("out-of-hours message", "out_of_hours_message"),
    ("reopen window (minutes)", "reopen_window_minutes"),
    ("menu header", "menu_header"),
    ("clinic name", "clinic_name"),
)


def add_branch_settings_parsers(branch: Subs, dd: argparse.ArgumentParser) -> None:
    """``branch show`` and ``branch configure`` (added to the ``branch`` command)."""
    show = branch.add_parser("show", parents=[dd], help="a branch's settings")
    show.add_argument("--name", required=True)
    show.add_argument("--json", action="store_true")
    conf = branch.add_parser("configure", parents=[dd], help="change a branch's settings")
    conf.add_argument("--name", required=True)
    conf.add_argument("--timezone", help="e.g. America/Sao_Paulo")
    conf.add_argument("--hours", help='e.g. "seg-sex 08:00-12:00 13:00-18:00; sab 08:00-12:00"')
    conf.add_argument("--out-of-hours-message", help='"" clears it (no out-of-hours reply)')
    conf.add_argument("--reopen-minutes", type=int, help="a patient writing again within it")
    conf.add_argument("--menu-header", help="first line of the numbered menu")
    conf.add_argument("--clinic-name", help="{clinica} in quick replies and reminders")


def add_queue_parser(sub: Subs, dd: argparse.ArgumentParser) -> None:
    """``queue add|list|member``."""
    queue = sub.add_parser("queue", help="queues of the numbered menu").add_subparsers(
        dest="action", required=True
    )
    add = queue.add_parser("add", parents=[dd])
    add.add_argument("--branch", required=True, help="branch name")
    add.add_argument("--name", required=True)
    add.add_argument("--greeting", help="sent when a patient chooses this queue")
    add.add_argument("--order", type=int, default=0, help="position in the menu (1 first)")
    add.add_argument("--color", help="#RRGGBB in the desk")
    listing = queue.add_parser("list", parents=[dd])
    listing.add_argument("--branch", required=True, help="branch name")
    listing.add_argument("--json", action="store_true")
    member = queue.add_parser("member", parents=[dd])
    member.add_argument("--branch", required=True, help="branch name")
    member.add_argument("--queue", required=True, help="queue name")
    member.add_argument("--username", required=True)
    member.add_argument("--remove", action="store_true", help="take the user out of the queue")


def add_quick_reply_parser(sub: Subs, dd: argparse.ArgumentParser) -> None:
    """``quick-reply add|list``."""
    replies = sub.add_parser("quick-reply", help="answers typed as /shortcut").add_subparsers(
        dest="action", required=True
    )
    add = replies.add_parser("add", parents=[dd])
    add.add_argument("--branch", required=True, help="branch name")
    add.add_argument("--shortcut", required=True, help="typed after / in the desk")
    add.add_argument("--text", required=True, help="{nome}, {primeiro_nome}, {clinica}, …")
    listing = replies.add_parser("list", parents=[dd])
    listing.add_argument("--branch", required=True, help="branch name")
    listing.add_argument("--json", action="store_true")


def _with_clinic(args: argparse.Namespace, action: Callable[[ClinicBackend], int]) -> int:
    target = engine_or_store(args)
    backend: ClinicBackend = (
        RemoteClinic(target) if isinstance(target, EngineClient) else LocalClinic(target)
    )
    try:
        return action(backend)
    finally:
        backend.close()


def cmd_branch_settings(args: argparse.Namespace) -> int:
    """``branch show`` / ``branch configure``: prints the settings as they stand after."""
    name = args.name
    if args.action == "show":
        return _with_clinic(args, lambda b: _print_settings(args, b.branch_settings(name)))
    change = {field: getattr(args, option) for option, field in SETTING_OPTIONS.items()}
    change = {field: value for field, value in change.items() if value is not None}
    if not change:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="settings", reason="nothing_to_change")
    return _with_clinic(args, lambda b: _print_settings(args, b.configure_branch(name, change)))


def _print_settings(args: argparse.Namespace, settings: dict[str, Any]) -> int:
    if getattr(args, "json", False):
        print_json(settings)
        return EXIT_OK
    print(f"branch: {settings['name']}")
    for label, key in SHOWN:
        value = settings.get(key)
        print(f"{label}: {'(default)' if value is None else value}")
    return EXIT_OK


def cmd_queue(args: argparse.Namespace) -> int:
    """``queue add`` / ``queue list`` / ``queue member``."""
    return _with_clinic(args, lambda backend: _queue_action(args, backend))


def _queue_action(args: argparse.Namespace, backend: ClinicBackend) -> int:
    if args.action == "add":
        body = {"name": args.name, "greeting": args.greeting, "menu_order": args.order}
        made = backend.add_queue(args.branch, body | {"color": args.color})
        print(f"Queue {made['name']} created (id {made['id']}, menu position {args.order})")
    elif args.action == "member":
        backend.queue_member(args.branch, args.queue, args.username, add=not args.remove)
        verb = "removed from" if args.remove else "added to"
        print(f"{args.username} {verb} queue {args.queue}")
    elif args.json:
        print_json(backend.list_queues(args.branch))
    else:
        print_table(backend.list_queues(args.branch), ["id", "name", "menu_order", "color"])
    return EXIT_OK


def cmd_quick_reply(args: argparse.Namespace) -> int:
    """``quick-reply add`` / ``quick-reply list``."""
    return _with_clinic(args, lambda backend: _reply_action(args, backend))


def _reply_action(args: argparse.Namespace, backend: ClinicBackend) -> int:
    if args.action == "add":
        made = backend.add_quick_reply(args.branch, args.shortcut, args.text)
        print(f"Quick reply /{made['shortcut']} created (id {made['id']})")
    elif args.json:
        print_json(backend.list_quick_replies(args.branch))
    else:
        print_table(backend.list_quick_replies(args.branch), ["shortcut", "body"])
    return EXIT_OK
