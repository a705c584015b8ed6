"""``clinicdesk backup run|list|verify|restore|init-key`` (contract in docs/CLI.md).

Progress goes to standard error; ``run`` prints the archive path on its last line of standard
output. While an engine runs on the data directory, ``run`` asks it through the API (the engine
owns the store and the one backup at a time); otherwise it opens the store here, holding the
engine lock so no engine starts in the middle.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from app.backup.archive import header_of
from app.backup.restore import (
    RestoreReport,
    backup_key_from_recovery,
    check_target,
    restore_archive,
)
from app.backup.service import BackupSettings, list_rows
from app.backup.verify import open_file
from app.bootstrap import open_core
from app.cli.output import print_json, print_table
from app.cli.remote import EngineClient, running_engine
from app.config import DataDir, resolve_data_dir
from app.domain.errors import ClinicDeskError, ErrorCode
from app.infra.lock import SingleInstanceLock
from app.security import recovery_key
from app.security.keystore import KeyStore
from app.security.protectors import default_machine_protector

EXIT_OK = 0
RUN_TIMEOUT_S = 3600.0
POLL_S = 0.5  # how often a backup run through the engine asks for its step


def progress(step: str) -> None:
    """One progress line on standard error."""
    print(f"backup: {step}", file=sys.stderr, flush=True)


def cmd_backup(args: argparse.Namespace) -> int:
    """Dispatch ``backup`` actions."""
    action = {
        "run": _run,
        "list": _list,
        "verify": _verify,
        "restore": _restore,
        "init-key": _init_key,
    }[args.action]
    return action(args)


def _data_dir(args: argparse.Namespace) -> DataDir:
    return DataDir(resolve_data_dir(args.data_dir))


def _run(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    target = Path(args.target).absolute() if args.target else None
    client = running_engine(data_dir)
    if client is not None:
        progress("asking the running engine")
        body = {"target": str(target)} if target else {}
        try:
            path = _run_through(client, body, running_engine(data_dir))
        finally:
            client.close()
    else:
        path = str(_run_here(data_dir, target, args.insecure_key_storage))
    print(path)
    return EXIT_OK


def _run_through(client: EngineClient, body: dict[str, str], watcher: EngineClient | None) -> str:
    """``POST /backups/run`` on the engine; meanwhile ``watcher`` (a second client) reports each
    step the engine is at. The engine answers when the archive is written and verified:
    minutes for a big store, far beyond the client's default 30 s."""
    with ThreadPoolExecutor(1, "clinicdesk-backup-call") as pool:
        answer = pool.submit(client.call, "POST", "/backups/run", json=body, timeout=RUN_TIMEOUT_S)
        if watcher is not None:
            try:
                follow_steps(watcher, answer)
            finally:
                watcher.close()
        return str(answer.result()["archive"])


def follow_steps(watcher: EngineClient, answer: Future[Any], every_s: float = POLL_S) -> None:
    """Print each new step of the engine's running backup until ``answer`` is done (a failed
    poll is skipped: the run's own answer says how it ended)."""
    shown: object = None
    while not wait([answer], timeout=every_s).done:
        with contextlib.suppress(ClinicDeskError, KeyError, TypeError):
            running = watcher.call("GET", "/backups")["status"]["running"]
            if running and running != shown:
                progress(f"{running['step']} (step {running['index']} of {running['total']})")
                shown = running


def _run_here(data_dir: DataDir, target: Path | None, insecure: bool) -> Path:
    with SingleInstanceLock(data_dir.engine_lock):
        core = open_core(data_dir.root, insecure=insecure)
        try:
            assert core.backups is not None  # open_core always sets it
            return core.backups.run(target, progress)
        finally:
            core.close()


def _list(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    if not data_dir.is_initialised():
        raise ClinicDeskError(ErrorCode.DATA_DIR_NOT_INITIALISED, path=str(data_dir.root))
    rows = list_rows(BackupSettings.load(data_dir).targets, _last_verified(data_dir, args))
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["created_at", "size", "readable", "last_verified", "path"])
    return EXIT_OK


def _last_verified(data_dir: DataDir, args: argparse.Namespace) -> str | None:
    """From the store (read only; an engine may run): which archive was verified last. The
    list is still useful without it (e.g. a folder of archives on a PC that cannot unlock)."""
    try:
        core = open_core(data_dir.root, insecure=getattr(args, "insecure", False), migrate=False)
    except ClinicDeskError:
        return None
    try:
        return core.backups.last_verified() if core.backups else None
    finally:
        core.close()


def _verify(args: argparse.Namespace) -> int:
    archive = Path(args.archive)
    header_of(archive)  # a missing or foreign file is refused before any key work
    if args.recovery_key_file:
        rk = recovery_key.read_recovery_key_file(Path(args.recovery_key_file))
        key = backup_key_from_recovery(archive, rk)
    else:
        data_dir = _data_dir(args)
        if not data_dir.is_initialised():
            raise ClinicDeskError(ErrorCode.DATA_DIR_NOT_INITIALISED, path=str(data_dir.root))
        key = KeyStore(data_dir, default_machine_protector()).unlock_backup_key()
    with tempfile.TemporaryDirectory(prefix="clinicdesk-verify-") as folder:
        opened = open_file(archive, key, Path(folder) / "archive", progress, keep_media=False)
        report = opened.report()
    if args.json:
        print_json(report)
    else:
        print(f"OK: {archive} ({report['rows']} rows, audit head {report['audit_head_seq']})")
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    root = Path(args.data_dir).expanduser().absolute()
    archive = Path(args.archive)
    rk = recovery_key.read_recovery_key_file(Path(args.recovery_key_file))
    header_of(archive)
    if check_target(root, replace=args.replace) and not args.yes:
        _confirm_replace(root)
    report = restore_archive(
        archive, root, rk, default_machine_protector(), replace=args.replace, progress=progress
    )
    if args.json:
        print_json(report.as_json())
        return EXIT_OK
    print_restored(report)
    return EXIT_OK


def print_restored(report: RestoreReport) -> None:
    """What a restore did, for the person at the keyboard."""
    print(f"Restored the backup of {report.created_at} into {report.data_dir}")
    if report.erasures_replayed:
        print(f"Erased again {report.erasures_replayed} patient(s) listed in the erasure ledger")
    if report.ledger == "unreadable":
        print("Warning: the erasure ledger beside the archive is damaged; repeat any LGPD "
              "erasure made after this backup")  # fmt: skip
    if report.replaced:
        print(f"The previous contents were kept in {report.replaced}")
    for channel in report.channels:
        what = "will reconnect" if channel["expect"] == "reconnect" else "needs pairing"
        print(f"  channel {channel['name']}: {what}" + _reason(channel))


def _reason(channel: dict[str, object]) -> str:
    return f" ({channel['reason']}: no device store in the backup)" if channel["reason"] else ""


def _confirm_replace(root: Path) -> None:
    """IT staff must type the folder's name to replace it (or pass --yes in scripts)."""
    if not sys.stdin.isatty():
        raise ClinicDeskError(ErrorCode.RESTORE_NOT_CONFIRMED, path=str(root))
    print(f"{root} already holds data. It will be moved aside, not deleted.", file=sys.stderr)
    answer = input(f"Type the folder name ({root.name}) to replace it: ")
    if answer.strip() != root.name:
        raise ClinicDeskError(ErrorCode.RESTORE_NOT_CONFIRMED, path=str(root))


def _init_key(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    rk = recovery_key.read_recovery_key_file(Path(args.recovery_key_file))
    if not data_dir.is_initialised():
        raise ClinicDeskError(ErrorCode.DATA_DIR_NOT_INITIALISED, path=str(data_dir.root))
    KeyStore(data_dir, default_machine_protector()).add_backup_key(rk)
    print(f"Backup key ready for {data_dir.root}")
    return EXIT_OK
