"""``clinicdesk`` command line entry point."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; returns the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["channel-worker"]:
        # Fast path: a worker runs per WhatsApp channel; importing the whole CLI (engine,
        # FastAPI, backups) would cost it ~75 MB of RSS for nothing (docs/PERFORMANCE.md).
        from app.channels.worker import run_worker

        return run_worker(args[1:])
    from app.cli.main import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
