"""One entry function per ``clinicdesk`` command; each returns the process exit code."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from app.bootstrap import FirstAdmin, init_installation, recover_installation
from app.cli.backends import AdminBackend, LocalBackend, RemoteBackend, engine_or_store
from app.cli.clinic_cmd import cmd_branch_settings
from app.cli.output import print_json, print_table
from app.cli.prompts import password_from
from app.cli.remote import EngineClient
from app.config import DataDir, resolve_data_dir
from app.domain.audit import Anchor
from app.domain.errors import ClinicDeskError, ErrorCode
from app.engine import EngineOptions, run_engine
from app.infra.lock import is_locked_by_other
from app.infra.logging import configure_logging
from app.security import recovery_key
from app.security.fsperms import make_private_dir

EXIT_OK, EXIT_ERROR, EXIT_AUDIT_BROKEN = 0, 1, 3


def data_dir_of(args: argparse.Namespace) -> DataDir:
    """The data directory named by ``--data-dir``, the environment or the platform default."""
    return DataDir(resolve_data_dir(args.data_dir))


def cmd_init(args: argparse.Namespace) -> int:
    """Create keys, store and first super admin; show (or write) the recovery key once."""
    data_dir = data_dir_of(args)
    key_file = Path(args.recovery_key_file) if args.recovery_key_file else None
    if key_file is not None and key_file.exists():
        raise ClinicDeskError(ErrorCode.ALREADY_EXISTS, entity=f"recovery key file {key_file}")
    password = password_from(args.admin_password_file, "Password for the new super admin: ")
    admin = FirstAdmin(args.admin_user, args.admin_display_name, password)
    core, rk = asyncio.run(init_installation(data_dir.root, admin))
    core.close()
    _hand_over_recovery_key(rk, key_file)
    print(f"Initialised ClinicDesk in {data_dir.root}")
    return EXIT_OK


def _hand_over_recovery_key(rk: recovery_key.RecoveryKey, key_file: Path | None) -> None:
    if key_file is not None:
        try:
            recovery_key.write_recovery_key_file(key_file, rk)
            print(f"Recovery key written to {key_file}")
            return
        except (OSError, ClinicDeskError):
            print(f"Could not write {key_file}; the key is shown below instead.")
    print("RECOVERY KEY (shown once; print it and keep it safe, away from this PC):")
    print(f"    {rk.formatted()}")


def cmd_recover(args: argparse.Namespace) -> int:
    """Unlock with the recovery key and re-wrap the data key for this machine."""
    data_dir = data_dir_of(args)
    if args.recovery_key is not None:
        rk = recovery_key.parse(args.recovery_key)
    else:
        rk = recovery_key.read_recovery_key_file(Path(args.recovery_key_file))
    if is_locked_by_other(data_dir.engine_lock):
        raise ClinicDeskError(ErrorCode.ENGINE_ALREADY_RUNNING)
    status = recover_installation(data_dir.root, rk)
    print(f"Recovered: this machine ({status.machine_protector}) can now unlock {data_dir.root}")
    return EXIT_OK


def cmd_engine(args: argparse.Namespace) -> int:
    """Run the engine in the foreground until SIGTERM or Ctrl+C."""
    data_dir = data_dir_of(args)
    if data_dir.root.is_dir():
        make_private_dir(data_dir.logs)
        configure_logging(data_dir.logs)
    options = EngineOptions(data_dir.root, args.host, args.port, args.insecure_key_storage)
    return run_engine(options)


def open_backend(args: argparse.Namespace) -> AdminBackend:
    """The running engine's API if one runs on the data dir, else the store opened here."""
    target = engine_or_store(args)
    return RemoteBackend(target) if isinstance(target, EngineClient) else LocalBackend(target)


def cmd_branch(args: argparse.Namespace) -> int:
    """``branch add`` / ``branch list`` (``show`` / ``configure``: ``clinic_cmd``)."""
    if args.action in ("show", "configure"):
        return cmd_branch_settings(args)
    backend = open_backend(args)
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
    backend = open_backend(args)
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
    backend = open_backend(args)
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


class AuditBrokenError(ClinicDeskError):
    """The audit chain failed verification (its own exit code)."""


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


def quiet_logging() -> None:
    """Console warnings only, for short CLI commands (the engine logs to files)."""
    configure_logging(None, level=logging.WARNING)
