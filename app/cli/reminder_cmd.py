"""``clinicdesk reminder list|cancel``: what IT staff need of reminders and campaigns without
the desk — see what is scheduled or who answered, and stop a wrong campaign at once.

Through the running engine's API, else on the store opened here, as the local administrator
(every branch). Listing prints ids, times, states and the patient's name, never the text
(``--json`` gives the engine's whole rows).
"""

from __future__ import annotations

import argparse
from typing import Any, Protocol

from app.cli.backends import engine_or_store, named_row
from app.cli.output import EXIT_OK, print_json, print_table
from app.cli.remote import EngineClient

Json = dict[str, Any]
COLUMNS = ("id", "patient", "when", "status", "answer", "campaign")
_ANSWER_WORDS = {
    "confirmed": "confirmed", "declined": "declined", "waiting": "waiting",
    "no_answer": "no answer",
}  # fmt: skip


class ReminderBackend(Protocol):
    def branch_id(self, name: str) -> int: ...
    def page(self, params: Json) -> list[Json]: ...
    def cancel(self, reminder_id: int) -> Json: ...
    def cancel_campaign(self, campaign: str) -> list[Json]: ...
    def close(self) -> None: ...


class RemoteReminders:
    """Through the engine's API."""

    def __init__(self, client: EngineClient) -> None:
        self.client = client

    def branch_id(self, name: str) -> int:
        return int(named_row(self.client.call("GET", "/branches"), name, "name", "branch")["id"])

    def page(self, params: Json) -> list[Json]:
        return list(self.client.call("GET", "/reminders", params=params)["items"])

    def cancel(self, reminder_id: int) -> Json:
        return dict(self.client.call("POST", f"/reminders/{reminder_id}/cancel"))

    def cancel_campaign(self, campaign: str) -> list[Json]:
        return list(self.client.call("POST", f"/campaigns/{campaign}/cancel")["items"])

    def close(self) -> None:
        self.client.close()


def cmd_reminder(args: argparse.Namespace) -> int:
    """``reminder list`` / ``reminder cancel``."""
    target = engine_or_store(args)
    backend: ReminderBackend
    if isinstance(target, EngineClient):
        backend = RemoteReminders(target)
    else:
        from app.cli.reminder_local import LocalReminders  # only without an engine

        backend = LocalReminders(target)
    try:
        return _list(args, backend) if args.action == "list" else _cancel(args, backend)
    finally:
        backend.close()


def _list(args: argparse.Namespace, backend: ReminderBackend) -> int:
    params: Json = {"limit": args.limit}
    params |= {k: v for k, v in (("status", args.status), ("answer", args.answer)) if v}
    if args.branch:
        params["branch_id"] = backend.branch_id(args.branch)
    rows = backend.page(params)
    if args.json:
        print_json(rows)
    else:
        print_table([_row(r) for r in rows], COLUMNS)
    return EXIT_OK


def _row(r: Json) -> Json:
    when = r["next_run_at"] if r["status"] == "scheduled" else r.get("last_sent_at")
    return {
        "id": r["id"], "patient": r.get("contact_name") or f"#{r['contact_id']}",
        "when": (when or "")[:16].replace("T", " "), "status": r["status"],
        "answer": _ANSWER_WORDS.get(str(r.get("answer_state")), ""),
        "campaign": r.get("campaign") or "",
    }  # fmt: skip


def _cancel(args: argparse.Namespace, backend: ReminderBackend) -> int:
    if args.id is not None:
        done = backend.cancel(args.id)
        print(f"Reminder {done['id']}: {done['status']}")
        return EXIT_OK
    cancelled = backend.cancel_campaign(args.campaign)
    print(f"Campaign {args.campaign}: {len(cancelled)} reminder(s) cancelled")
    return EXIT_OK
