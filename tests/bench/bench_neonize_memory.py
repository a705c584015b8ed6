"""Idle RSS of a whatsapp-web channel worker with the real neonize library (docs/PERFORMANCE.md).

Usage: ``.venv/bin/python -m tests.bench.bench_neonize_memory`` (Linux: reads /proc). Starts a
real ``channel-worker --kinds whatsapp-web``, opens a channel (neonize + Go library loaded),
connects it without a device (no client, ``not_paired``), then starts a pairing client (the
real Go client dials WhatsApp: offline it fails, online it waits for a scan), and prints VmRSS
and VmHWM after each step once the process has settled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def rss(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in MiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) // 1024
    return found


def main() -> int:
    cmd = [sys.executable, "-m", "app", "channel-worker", "--kinds", "whatsapp-web"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    ids = iter(range(1, 100))

    def ask(op: str, **args: object) -> None:
        body = {"v": 1, "op": op, "id": next(ids), **args}
        proc.stdin.write(json.dumps(body).encode() + b"\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    proc.stdout.readline()  # hello
    time.sleep(2)
    print("worker idle, no transport:", rss(proc.pid))
    with tempfile.TemporaryDirectory() as private:
        config = {"device_store_key": os.urandom(32).hex()}
        ask("open", channel="1", kind="whatsapp-web", config=config, private_dir=private)
        ask("connect", channel="1")
        time.sleep(5)
        print("transport open, no device (not_paired):", rss(proc.pid))
        ask("pair_qr", channel="1")
        time.sleep(15)
        print("pairing client started (real Go client):", rss(proc.pid))
        ask("shutdown")
        proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
