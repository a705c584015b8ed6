"""``clinicdesk backup run`` through a running engine prints each step the engine reports."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

from app.cli.backup_cmd import follow_steps
from app.domain.errors import ClinicDeskError, ErrorCode


class Watcher:
    """Answers ``GET /backups`` from a script; the run ends after the last answer."""

    def __init__(self, answers: list[Any], answer: Future[Any]) -> None:
        self.answers, self.answer = answers, answer

    def call(self, method: str, path: str, **_: Any) -> Any:
        assert (method, path) == ("GET", "/backups")
        reply = self.answers.pop(0)
        if not self.answers:
            self.answer.set_result({"archive": "/b/x.cdbk"})
        if isinstance(reply, Exception):
            raise reply
        return {"status": {"running": reply}}


def test_each_new_step_is_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    answer: Future[Any] = Future()
    snap = {"step": "snapshot", "index": 1, "total": 5, "started_at": "t"}
    verify = {"step": "verifying", "index": 5, "total": 5, "started_at": "t"}
    script = [None, snap, snap, ClinicDeskError(ErrorCode.ENGINE_UNREACHABLE), verify, None]
    follow_steps(Watcher(script, answer), answer, every_s=0.001)  # type: ignore[arg-type]
    assert capsys.readouterr().err.splitlines() == [
        "backup: snapshot (step 1 of 5)",
        "backup: verifying (step 5 of 5)",
    ]
