"""One entry function per ``clinicdesk`` command; each returns the process exit code."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from app.bootstrap import FirstAdmin, init_installation, recover_installation
from app.cli.backends import data_dir_of
from app.cli.output import EXIT_OK
from app.cli.prompts import password_from
from app.domain.errors import ClinicDeskError, ErrorCode
from app.engine import EngineOptions, run_engine
from app.infra.lock import is_locked_by_other
from app.infra.logging import configure_logging
from app.security import recovery_key
from app.security.fsperms import make_private_dir


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
