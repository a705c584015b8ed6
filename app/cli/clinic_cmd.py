"""``clinicdesk branch show|configure``, ``clinicdesk queue add|list|member`` and ``clinicdesk
quick-reply add|list``: what IT staff set up before the first patient writes (business hours,
the out-of-hours reply, the queues of the numbered menu and who answers each, the answers the
receptionists type with ``/shortcut``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from app.cli.backends import ClinicBackend, clinic_backend
from app.cli.output import EXIT_OK, print_json, print_table
from app.domain.errors import ClinicDeskError, ErrorCode

# --option → the API's field name (settings of ``branch configure``)
SETTING_OPTIONS = {
    "timezone": "timezone",
    "hours": "hours",
    "out_of_hours_message": "out_of_hours_message",
    "reopen_minutes": "reopen_window_minutes",
    "menu_header": "menu_header",
    "clinic_name": "clinic_name",
    "opt_out_reply": "opt_out_reply",
    "opt_in_reply": "opt_in_reply",
    "confirmation_prompt": "confirmation_prompt",
    "confirmed_reply": "confirmed_reply",
    "declined_reply": "declined_reply",
}
SHOWN = (
    ("timezone", "timezone"),
    ("hours", "hours"),
    ("out-of-hours message", "out_of_hours_message"),
    ("reopen window (minutes)", "reopen_window_minutes"),
    ("menu header", "menu_header"),
    ("clinic name", "clinic_name"),
    ("reply to SAIR", "opt_out_reply"),
    ("reply to VOLTAR", "opt_in_reply"),
    ("confirmation question", "confirmation_prompt"),
    ("reply to a confirmation", "confirmed_reply"),
    ("reply to a reschedule", "declined_reply"),
)


def _with_clinic(args: argparse.Namespace, action: Callable[[ClinicBackend], int]) -> int:
    backend = clinic_backend(args)
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
        options = ", ".join(f"--{o.replace('_', '-')}" for o in SETTING_OPTIONS)
        raise ClinicDeskError(
            ErrorCode.INVALID_INPUT, field="settings", reason="nothing_to_change", options=options
        )
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
    """``queue add|list|change|member``."""
    return _with_clinic(args, lambda backend: _queue_action(args, backend))


def _queue_action(args: argparse.Namespace, backend: ClinicBackend) -> int:
    if args.action == "add":
        body = {"name": args.name, "greeting": args.greeting, "menu_order": args.order}
        made = backend.add_queue(args.branch, body | {"color": args.color})
        print(f"Queue {made['name']} created (id {made['id']}, menu position {args.order})")
    elif args.action == "change":
        return _change_queue(args, backend)
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
    """``quick-reply add|list|change|remove``."""
    return _with_clinic(args, lambda backend: _reply_action(args, backend))


def _reply_action(args: argparse.Namespace, backend: ClinicBackend) -> int:
    if args.action == "add":
        made = backend.add_quick_reply(args.branch, args.shortcut, args.text)
        print(f"Quick reply /{made['shortcut']} created (id {made['id']})")
    elif args.action == "change":
        return _change_reply(args, backend)
    elif args.action == "remove":
        backend.remove_quick_reply(args.branch, args.shortcut)
        print(f"Quick reply /{args.shortcut.lstrip('/')} removed")
    elif args.json:
        print_json(backend.list_quick_replies(args.branch))
    else:
        print_table(backend.list_quick_replies(args.branch), ["shortcut", "body"])
    return EXIT_OK


def _change_reply(args: argparse.Namespace, backend: ClinicBackend) -> int:
    """A new shortcut and/or text; what is not given stays as it is."""
    if args.new_shortcut is None and args.text is None:
        raise ClinicDeskError(
            ErrorCode.INVALID_INPUT, field="reply", reason="nothing_to_change",
            options="--new-shortcut or --text",
        )  # fmt: skip
    current = next(
        (r for r in backend.list_quick_replies(args.branch)
         if r["shortcut"] == args.shortcut.lstrip("/").lower()),
        None,
    )  # fmt: skip
    if current is None:
        raise ClinicDeskError(ErrorCode.NOT_FOUND, entity="quick_reply")
    new = {
        "shortcut": args.new_shortcut or current["shortcut"],
        "body": args.text or current["body"],
    }
    done = backend.change_quick_reply(args.branch, args.shortcut, new)
    print(f"Quick reply /{done['shortcut']} changed")
    return EXIT_OK


QUEUE_OPTIONS = {"name": "name", "greeting": "greeting", "order": "menu_order", "color": "color"}


def _change_queue(args: argparse.Namespace, backend: ClinicBackend) -> int:
    """New name, greeting ("" clears it), menu position or colour; the rest stays."""
    change = {field: getattr(args, option) for option, field in QUEUE_OPTIONS.items()}
    change = {field: value for field, value in change.items() if value is not None}
    if not change:
        raise ClinicDeskError(
            ErrorCode.INVALID_INPUT, field="queue", reason="nothing_to_change",
            options="--name, --greeting, --order or --color",
        )  # fmt: skip
    done = backend.change_queue(args.branch, args.queue, change)
    print(f"Queue {done['name']} changed (menu position {done['menu_order']})")
    return EXIT_OK
