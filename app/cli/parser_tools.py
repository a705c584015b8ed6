"""The ``clinicdesk`` sub-commands' arguments for the tools: backups, the central, channels,
clinic set-up, the desk and sync.

Argument definitions only. This module must stay cheap to import: every command, ``--help``
and ``--version`` build the whole parser before the one command's module is loaded
(docs/CLI.md, "Start-up time"). Import constants from light modules only; a test checks it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from app.central.settings import DEFAULT_KEEP_DAYS, DEFAULT_PORT, DEFAULT_TTL_HOURS, ENV_DB

if TYPE_CHECKING:  # generic only in typeshed, not at run time
    Subs = argparse._SubParsersAction[argparse.ArgumentParser]


def add_backup_parser(sub: Subs, dd: argparse.ArgumentParser) -> None:
    """The ``backup`` sub-commands."""
    backup = sub.add_parser("backup", help="encrypted backups and restore").add_subparsers(
        dest="action", required=True
    )
    run = backup.add_parser("run", parents=[dd], help="make a backup now")
    run.add_argument("--target", help="write to this folder instead of the configured targets")
    lst = backup.add_parser("list", parents=[dd], help="archives in the targets")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    verify = backup.add_parser("verify", help="decrypt and check an archive completely")
    verify.add_argument("archive")
    keys = verify.add_mutually_exclusive_group(required=True)
    keys.add_argument("--data-dir", help="use this installation's backup key")
    keys.add_argument("--recovery-key-file", help="use the recovery key (e.g. on a new PC)")
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    restore = backup.add_parser("restore", help="restore an archive into a data directory")
    restore.add_argument("archive")
    restore.add_argument("--data-dir", required=True, help="the folder to restore into")
    restore.add_argument("--recovery-key-file", required=True)
    restore.add_argument("--replace", action="store_true", help="replace an existing folder")
    restore.add_argument("--yes", action="store_true", help="with --replace: do not ask")
    restore.add_argument("--json", action="store_true", help="machine-readable output")
    init_key = backup.add_parser("init-key", parents=[dd], help="give an older install a key")
    init_key.add_argument("--recovery-key-file", required=True)


def _db_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--db",
        help=f"database URL (default: ${ENV_DB}, else central.sqlite3 in the user data folder)",
    )
    return parent


def add_central_parser(sub: Subs) -> None:
    """The ``central`` sub-commands."""
    central = sub.add_parser("central", help="the central office server").add_subparsers(
        dest="action", required=True
    )
    db = _db_parent()
    serve = central.add_parser("serve", parents=[db], help="run the central server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free one")
    serve.add_argument("--certfile", help="TLS certificate (PEM); with --keyfile")
    serve.add_argument("--keyfile", help="TLS private key (PEM); with --certfile")
    serve.add_argument("--keep-days", type=int, default=DEFAULT_KEEP_DAYS)
    enroll = central.add_parser("enroll", parents=[db], help="issue a one-time enrolment code")
    enroll.add_argument("--name", required=True, help="label of the clinic (group)")
    enroll.add_argument("--ttl-hours", type=float, default=DEFAULT_TTL_HOURS)
    central.add_parser("token", parents=[db], help="issue an admin token")
    revoke_p = central.add_parser("revoke", parents=[db], help="refuse an appliance from now on")
    revoke_p.add_argument("appliance_id")


def add_channel_parser(sub: Subs, dd: argparse.ArgumentParser) -> None:
    """The ``channel`` command and its actions."""
    channel = sub.add_parser("channel", help="WhatsApp numbers").add_subparsers(
        dest="action", required=True
    )
    add = channel.add_parser("add", parents=[dd])
    add.add_argument("--branch", required=True)
    add.add_argument("--name", required=True, help="short unique name (letters, digits, - _)")
    add.add_argument("--display-name")
    add.add_argument("--kind", required=True, choices=["simulator", "whatsapp-web", "cloud-api"])
    add.add_argument("--phone", help="the number, for pairing by code and display")
    add.add_argument("--simulator-url", help="simulator address (kind simulator)")
    channel.add_parser("list", parents=[dd]).add_argument("--json", action="store_true")
    pair_p = channel.add_parser("pair", parents=[dd])
    pair_p.add_argument("--name", required=True)
    pair_p.add_argument("--phone", help="pair by code for this number instead of a QR")
    pair_p.add_argument("--timeout", type=float, default=180.0)
    for action in ("logout", "suspend", "resume"):
        channel.add_parser(action, parents=[dd]).add_argument("--name", required=True)


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
    texts = 'automatic text; "" restores the default'
    conf.add_argument("--opt-out-reply", help=f"the answer to SAIR/PARAR/STOP ({texts})")
    conf.add_argument("--opt-in-reply", help=f"the answer to VOLTAR ({texts})")
    conf.add_argument("--confirmation-prompt", help=f"a confirming reminder's last line ({texts})")
    conf.add_argument("--confirmed-reply", help=f"the answer to a confirmation ({texts})")
    conf.add_argument("--declined-reply", help=f"the answer to a reschedule ({texts})")


def add_queue_parser(sub: Subs, dd: argparse.ArgumentParser) -> None:
    """``queue add|list|change|member``."""
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
    change = queue.add_parser("change", parents=[dd])
    change.add_argument("--branch", required=True, help="branch name")
    change.add_argument("--queue", required=True, help="the queue's name now")
    change.add_argument("--name", help="a new name")
    change.add_argument("--greeting", help='"" clears it')
    change.add_argument("--order", type=int, help="position in the menu (0-99)")
    change.add_argument("--color", help="#RRGGBB in the desk")
    member = queue.add_parser("member", parents=[dd])
    member.add_argument("--branch", required=True, help="branch name")
    member.add_argument("--queue", required=True, help="queue name")
    member.add_argument("--username", required=True)
    member.add_argument("--remove", action="store_true", help="take the user out of the queue")


def add_quick_reply_parser(sub: Subs, dd: argparse.ArgumentParser) -> None:
    """``quick-reply add|list|change|remove``."""
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
    change = replies.add_parser("change", parents=[dd])
    change.add_argument("--branch", required=True, help="branch name")
    change.add_argument("--shortcut", required=True, help="the reply to change")
    change.add_argument("--new-shortcut", help="rename it")
    change.add_argument("--text", help="its new text")
    remove = replies.add_parser("remove", parents=[dd])
    remove.add_argument("--branch", required=True, help="branch name")
    remove.add_argument("--shortcut", required=True)


def add_desk_parser(sub: Subs, dd: argparse.ArgumentParser) -> None:
    """``desk``: open the desk on this installation."""
    p = sub.add_parser("desk", parents=[dd], help="open the receptionists' desk")
    p.add_argument("--username", default="", help="fill in the login")


def add_sync_parser(sub: Subs, dd: argparse.ArgumentParser) -> None:
    """The ``sync`` sub-commands."""
    sync = sub.add_parser("sync", help="reports to the central office").add_subparsers(
        dest="action", required=True
    )
    enroll = sync.add_parser("enroll", parents=[dd], help="enrol with the central office")
    enroll.add_argument("--central-url", required=True, help="https://central.example:8443")
    enroll.add_argument("--code", required=True, help="the one-time code from the central")
    enroll.add_argument("--ca-file", help="trust only this CA certificate (PEM) for the central")
    enroll.add_argument("--force", action="store_true", help="enrol again with a new identity")
    push = sync.add_parser("push-now", parents=[dd], help="send the queued reports now")
    push.add_argument("--make-report", action="store_true", help="queue a report first")
    push.add_argument("--json", action="store_true", help="machine-readable output")
    status = sync.add_parser("status", parents=[dd], help="enrolment and queue")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    sync.add_parser("preview", parents=[dd], help="print the JSON of the next report")


def add_reminder_parser(sub: Subs, dd: argparse.ArgumentParser) -> None:
    """``reminder list|cancel``."""
    reminders = sub.add_parser("reminder", help="scheduled reminders and campaigns")
    actions = reminders.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[dd], help="newest first")
    listing.add_argument("--branch", help="branch name (default: every branch)")
    listing.add_argument("--status", choices=("scheduled", "done", "cancelled", "skipped_opt_out"))
    listing.add_argument(
        "--answer", choices=("confirmed", "declined", "waiting"),
        help="the patient's answer to a confirming reminder (waiting: none yet)",
    )  # fmt: skip
    listing.add_argument("--limit", type=int, default=50, help="at most this many (1-200)")
    listing.add_argument("--json", action="store_true")
    cancel = actions.add_parser("cancel", parents=[dd], help="stop a reminder or a campaign")
    which = cancel.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, help="the reminder's id (reminder list)")
    which.add_argument("--campaign", help="every still-scheduled reminder of this campaign")
