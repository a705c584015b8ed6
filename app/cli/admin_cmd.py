"""``clinicdesk branch``, ``user`` and ``audit``: through the running engine, else on the store
(``backends``); each returns the process exit code."""

from __future__ import annotations

import argparse

from app.cli.backends import AdminBackend, admin_backend
from app.cli.clinic_cmd import cmd_branch_settings
from app.cli.output import EXIT_OK, AuditBrokenError, print_json, print_table
from app.cli.prompts import password_from
from app.domain.audit import Anchor
from app.domain.errors import ClinicDeskError, ErrorCode


def cmd_branch(args: argparse.Namespace) -> int:
    """``branch add`` / ``branch list`` (``show`` / ``configure``: ``clinic_cmd``)."""
    if args.action in ("show", "configure"):
        return cmd_branch_settings(args)
    backend = admin_backend(args)
    try:
        if args.action == "add":
            branch = backend.add_branch(args.name)
            print(f"Branch {branch['name']} created (id {branch['id']})")
            return EXIT_OK
        branches = backend.list_branches()
    finally:
        backend.close()
    _show(args, branches, ["id", "name", "timezone"])
    return EXIT_OK


def cmd_user(args: argparse.Namespace) -> int:
    """``user add`` / ``user list`` / ``user passwd``."""
    if args.action in ("add", "passwd"):
        args.password = password_from(args.password_file)
    backend = admin_backend(args)
    try:
        return _user_action(args, backend)
    finally:
        backend.close()


def _user_action(args: argparse.Namespace, backend: AdminBackend) -> int:
    if args.action == "add":
        user = backend.add_user(args)
        print(f"User {user['username']} created (id {user['id']})")
    elif args.action == "passwd":
        backend.set_password(args.username, args.password)
        print(f"Password of {args.username} changed")
    else:
        _show(args, backend.list_users(), ["id", "username", "display_name", "roles"])
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    """``audit verify``: exit 0 on an intact chain, 3 naming the first bad entry otherwise."""
    anchor = _parse_anchor(args.anchor) if args.anchor else None
    backend = admin_backend(args)
    try:
        result = backend.verify_audit(anchor)
    finally:
        backend.close()
    if args.json:
        print_json(result)
    if not result["ok"]:
        seq, problem = result["first_bad_seq"], result["problem"]
        raise AuditBrokenError(ErrorCode.AUDIT_CHAIN_BROKEN, seq=seq, problem=problem)
    if not args.json:
        print(f"Audit log intact: {result['checked']} entries, head {result['head_hash'][:16]}")
    return EXIT_OK


def _parse_anchor(text: str) -> Anchor:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="--anchor (SEQ:HASH)")
    return Anchor(int(seq), digest.lower())


def _show(args: argparse.Namespace, rows: list[dict[str, object]], columns: list[str]) -> None:
    if getattr(args, "json", False):
        print_json(rows)
    else:
        print_table(rows, columns)
