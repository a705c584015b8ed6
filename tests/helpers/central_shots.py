"""A picture of the central office's fleet dashboard with a realistic fleet: five clinics, one
silent for two hours, one with a disconnected number, one whose backup is three days old and
one whose last backup failed.

    python -m tests.helpers.central_shots docs/screenshots

Writes ``central.html`` (the page as served, to a temporary folder) and ``central.png`` (with a
headless Chromium from Debian's ``chromium`` package, when installed).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.helpers.central import (
    CentralServer,
    FakeClock,
    batch_body,
    enrolled_appliance,
    make_report,
    signed_post,
    sqlite_url,
)

HOUR = 3600.0
FLEET = (  # label, channels, (messages in, out), backup age (h), backup error
    ("Clínica Centro", ((1, "CONNECTED"), (2, "CONNECTED")), (42, 37), 5.0, None),
    ("Clínica Zona Sul", ((1, "CONNECTED"), (2, "DISCONNECTED")), (18, 11), 6.0, None),
    ("Odonto Jardins", ((1, "CONNECTED"),), (9, 9), 75.0, None),
    ("Clínica Moema", ((1, "CONNECTED"),), (25, 20), 30.0, "backup.target_failed"),
)


def post_fleet(server: CentralServer) -> None:
    """Enrol the fleet; one silent clinic reports two hours before the others."""
    quiet = enrolled_appliance(server, "Clínica Pinheiros")
    body = batch_body(quiet.appliance_id, [make_report(1, server.clock())])
    signed_post(server.http, quiet, body, server.clock()).raise_for_status()
    server.clock.advance(2 * HOUR)
    for label, channels, messages, backup_h, error in FLEET:
        appliance = enrolled_appliance(server, label)
        now = server.clock()
        reports = [
            make_report(seq, now - (6 - seq) * 600, channels=channels, messages=messages,
                        backup_age_h=backup_h, backup_error=error)
            for seq in range(1, 6)
        ]  # fmt: skip
        body = batch_body(appliance.appliance_id, reports)
        signed_post(server.http, appliance, body, now).raise_for_status()


def main(out: Path) -> int:
    with tempfile.TemporaryDirectory() as folder:
        with CentralServer(sqlite_url(Path(folder)), FakeClock()) as server:
            post_fleet(server)
            with server.admin() as admin:
                page = admin.get("/dashboard").raise_for_status().text
        html = Path(folder) / "central.html"
        html.write_text(page, encoding="utf-8")
        browser = shutil.which("chromium") or shutil.which("chromium-browser")
        if browser is None:
            print("chromium not installed: apt-get install chromium", file=sys.stderr)
            return 1
        target = out / "central.png"
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu",
                   "--hide-scrollbars", f"--screenshot={target}", "--window-size=1280,760",
                   html.as_uri()]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
