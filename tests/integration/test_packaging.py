"""The PyInstaller bundle builds and its binary runs: ``--version`` and a real ``init``.

Slow (a full build, about 1-2 minutes on 2 cores), built once per module. ``init`` in the frozen
binary proves what only a bundle can get wrong: SQLCipher's native library, the dialect import,
and the Alembic migrations that are loaded from disk at run time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from app import __version__

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXE_NAME = "clinicdesk.exe" if sys.platform == "win32" else "clinicdesk"
BUILD_TIMEOUT_S = 900
RECOVERY_KEY = re.compile(r"(?<!\d)\d{6}(?:-\d{6}){7}(?!\d)")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build ``build.spec`` into a temporary dist folder; returns the bundled executable."""
    tmp = tmp_path_factory.mktemp("pyinstaller")
    cmd = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--distpath",
        str(tmp / "dist"),
        "--workpath",
        str(tmp / "build"),
        "build.spec",
    ]
    done = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, f"PyInstaller failed:\n{done.stderr[-5000:]}"
    exe = tmp / "dist" / "clinicdesk" / EXE_NAME
    assert exe.is_file()
    return exe


def _run(
    exe: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # cwd outside the repo, so nothing can be imported from the source tree by accident.
    return subprocess.run(
        [str(exe), *args],
        cwd=exe.parent,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_frozen_version(bundle: Path) -> None:
    done = _run(bundle, "--version")
    assert done.returncode == 0, done.stderr
    assert __version__ in done.stdout


def test_frozen_init_creates_encrypted_store(bundle: Path, tmp_path: Path) -> None:
    password_file = tmp_path / "admin-password.txt"
    password_file.write_text("correct horse battery staple 42\n", encoding="utf-8")
    password_file.chmod(0o600)
    data_dir, recovery_file = tmp_path / "d", tmp_path / "rk.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINICDESK_")}
    env["CLINICDESK_KEY_DIR"] = str(tmp_path / "keys")

    done = _run(
        bundle,
        "init",
        "--data-dir",
        str(data_dir),
        "--admin-user",
        "admin",
        "--admin-password-file",
        str(password_file),
        "--recovery-key-file",
        str(recovery_file),
        env=env,
    )

    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    db = data_dir / "clinicdesk.db"
    assert db.is_file()
    assert not db.read_bytes()[:16].startswith(b"SQLite format 3\0")
    match = RECOVERY_KEY.search(recovery_file.read_text(encoding="utf-8"))
    assert match is not None, "rk.txt holds no 48-digit recovery key"
    assert len(re.sub(r"\D", "", match.group())) == 48


def test_frozen_central_enrols_and_serves_its_dashboard(bundle: Path, tmp_path: Path) -> None:
    """The central runs from the bundle: codes and tokens on SQLite, the dashboard's templates
    shipped (the login page renders), and the PostgreSQL driver importable."""
    db = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    code = _run(bundle, "central", "enroll", "--db", db, "--name", "Clínica")
    assert code.returncode == 0, code.stderr
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3,}", code.stdout.strip().splitlines()[-1])
    assert (bundle.parent / "_internal" / "app" / "central" / "templates" / "login.html").is_file()
    proc = subprocess.Popen(
        [str(bundle), "central", "serve", "--db", db, "--port", "0"],
        cwd=bundle.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url = _listening_url(proc)
        page = httpx.get(f"{url}/login", timeout=10, trust_env=False)
        assert page.status_code == 200 and "<form" in page.text
    finally:
        proc.terminate()
        proc.wait(15)
    driver = _run(bundle, "central", "token", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert driver.returncode != 0 and "cannot open the central database" in driver.stderr


def _listening_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if "central listening on " in line:
            return line.split("central listening on ", 1)[1].split()[0]
    raise AssertionError("the frozen central did not start")


def test_frozen_whatsapp_worker_loads_the_bundled_neonize(bundle: Path, tmp_path: Path) -> None:
    """neonize's Go library ships in the bundle (nothing is downloaded at first run) and the
    frozen whatsapp-web worker loads it: open + connect without a device → ``not_paired``."""
    from neonize.utils.platform import generated_name

    assert (bundle.parent / "_internal" / "neonize" / generated_name()).is_file()
    config = {"device_store_key": "00" * 32}
    requests = [
        {"v": 1, "op": "open", "id": 1, "channel": "1", "kind": "whatsapp-web",
         "config": config, "private_dir": str(tmp_path)},
        {"v": 1, "op": "connect", "id": 2, "channel": "1"},
    ]  # fmt: skip
    cmd = [str(bundle), "channel-worker", "--kinds", "whatsapp-web", "--heartbeat", "0.5"]
    proc = subprocess.Popen(
        cmd, cwd=bundle.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    killer = threading.Timer(120, proc.kill)
    killer.start()
    try:
        for request in requests:
            proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        seen: list[dict[str, object]] = []
        while not _worker_done(seen) and (line := proc.stdout.readline()):
            seen.append(json.loads(line))
        proc.stdin.close()
        assert proc.wait(30) == 0
    finally:
        killer.cancel()
    assert _worker_done(seen), proc.stderr.read()[-3000:] if proc.stderr else seen
    assert "download" not in (proc.stderr.read() if proc.stderr else "").lower()


def _worker_done(seen: list[dict[str, object]]) -> bool:
    """Both requests answered ok and the ``not_paired`` event arrived."""
    ok = {m["id"] for m in seen if m.get("op") == "result" and m.get("ok")}
    events = [m["event"] for m in seen if m.get("op") == "event"]
    return {1, 2} <= ok and any(e.get("reason") == "not_paired" for e in events)  # type: ignore[attr-defined]
