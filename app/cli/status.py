"""``clinicdesk status``: what runs, how the key is kept, and what the store holds."""

from __future__ import annotations

import argparse
from typing import Any

from app import __version__
from app.cli.messages import message_for
from app.cli.output import print_json
from app.cli.remote import running_engine
from app.config import DataDir, resolve_data_dir
from app.domain.errors import ClinicDeskError


def _offline_status(data_dir: DataDir) -> dict[str, Any]:
    """Open the store here (no engine runs) without migrating it, and describe it."""
    # Imported here: with an engine running, status needs none of the store's code (~1 s of
    # start-up; docs/CLI.md, "Start-up time").
    from app.bootstrap import core_report, open_core

    core = open_core(data_dir.root, insecure=True, migrate=False)
    try:
        report: dict[str, Any] = core_report(core)
    finally:
        core.close()
    # status opened the store despite any permission problem only to report it: the flag
    # that would allow running like that was not given
    report["key_storage"]["insecure_allowed"] = False
    return {"engine": {"running": False}, **report}


def collect_status(data_dir: DataDir) -> dict[str, Any]:
    """Status as a dict; ``error`` holds a code and message when something is wrong."""
    base: dict[str, Any] = {"data_dir": str(data_dir.root), "version": __version__}
    base["initialised"] = data_dir.is_initialised()
    if not base["initialised"]:
        return base
    try:
        client = running_engine(data_dir)
        if client is not None:
            remote: dict[str, Any] = client.call("GET", "/status")
            return base | remote
        return base | _offline_status(data_dir)
    except ClinicDeskError as exc:
        return base | {"error": {"code": exc.code.value, "message": message_for(exc)}}


def _lines(status: dict[str, Any]) -> list[str]:
    lines = [f"Data directory: {status['data_dir']}", f"Version: {status['version']}"]
    if not status["initialised"]:
        return [*lines, "Installation: none (run 'clinicdesk init')"]
    if "error" in status:
        return [*lines, f"Error: {status['error']['message']}"]
    engine, key, store = status["engine"], status["key_storage"], status["store"]
    lines.append(
        f"Engine: running at {engine.get('url')} (pid {engine.get('pid')})"
        if engine["running"]
        else "Engine: not running"
    )
    lines.append(_key_line(key))
    lines.append(_store_line(store))
    audit = status["audit"]
    lines.append(f"Audit log: {audit['head_seq']} entries, head {audit['head_hash'][:16]}")
    lines += _backup_lines(status.get("backups"))
    lines += status_lines(status["sync"]) if status.get("sync") else []
    return lines + _warning_lines(status.get("channels", {}))


def _backup_lines(backups: dict[str, Any] | None) -> list[str]:
    """Last success, next run, last verify and restore test, free space per target."""
    if not backups:
        return []

    def at(key: str) -> str:
        return str((backups.get(key) or {}).get("at") or "never")

    lines = [
        f"Backups: last success {at('last_success')}, next run {backups.get('next_run') or '-'}",
        f"Backups: last verify {at('last_verify')}, last restore test {at('last_restore_test')}",
    ]
    if backups.get("last_failure"):
        failure = backups["last_failure"]
        lines.append(f"Backups: last failure {failure['at']} ({failure['code']})")
    if backups.get("running"):
        run = backups["running"]
        lines.append(f"Backups: running since {run['started_at']}, step {run['index']} of "
                     f"{run['total']} ({run['step']})")  # fmt: skip
    for target in backups.get("targets", []):
        free = target.get("free_bytes")
        space = f"{free / 2**30:.1f} GiB free" if free is not None else "free space unknown"
        lines.append(f"Backup target: {target['path']} ({space})")
    return lines


WARNINGS = {
    "deaf_suspected": "connected, but no patient messages arrive while sends work; reconnecting",
}


def _warning_lines(channels: dict[str, Any]) -> list[str]:
    """One line per channel with a live warning (docs/CHANNELS.md "Deaf channels")."""
    return [
        f"Warning: channel {c['name']} (id {cid}): {WARNINGS.get(c['warning'], c['warning'])}"
        f" (since {c.get('warning_since')})"
        for cid, c in sorted(channels.items(), key=lambda item: str(item[0]))
        if c.get("warning")
    ]


def _key_line(key: dict[str, Any]) -> str:
    if key["secure"]:
        return f"Key storage: {key['machine_protector']}, private"
    allowed = " (allowed by --insecure-key-storage)" if key["insecure_allowed"] else ""
    return f"Key storage: INSECURE: {', '.join(key['problems'])}{allowed}"


def _store_line(store: dict[str, Any]) -> str:
    current, head = store.get("schema_revision"), store.get("head_revision")
    state = "up to date" if current == head else f"needs upgrade to {head}"
    return f"Store: SQLCipher {store.get('cipher_version')}, schema {current} ({state})"


def cmd_status(args: argparse.Namespace) -> int:
    """Print the status; exit 1 if the installation cannot be opened."""
    status = collect_status(DataDir(resolve_data_dir(args.data_dir)))
    if args.json:
        print_json(status)
    else:
        print("\n".join(_lines(status)))
    return 1 if "error" in status else 0


def status_lines(status: dict[str, Any]) -> list[str]:
    """Human lines for ``sync status`` (also used by ``clinicdesk status``)."""
    if not status.get("enrolled"):
        return ["Sync: not enrolled"]
    return [
        f"Sync: appliance {status['appliance_id']} -> {status['central_url']} ({status['state']})",
        f"Sync: {status['queued']} queued, {status['dropped_total']} dropped, "
        f"{status['dead_letter_total']} refused; "
        f"last success {status['last_success_at'] or 'never'}"
        + (f", last error {status['last_error']}" if status.get("last_error") else ""),
    ]
