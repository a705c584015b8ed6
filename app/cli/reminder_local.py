"""``reminder`` commands on the store opened by this process (no engine running), as the local
administrator. Kept apart from ``reminder_cmd`` so that the engine path never imports the
services and the API schemas (docs/CLI.md, "Start-up time")."""

from __future__ import annotations

import asyncio
from typing import Any

from app.api.routes_reminders import reminder_out
from app.bootstrap import Core
from app.domain.errors import ClinicDeskError, ErrorCode
from app.services.reminders import ReminderFilters

Json = dict[str, Any]


class LocalReminders:
    """On the store opened here."""

    def __init__(self, core: Core) -> None:
        self.core, self.actor = core, core.local_actor()

    def branch_id(self, name: str) -> int:
        return asyncio.run(self.core.branches.get_by_name(self.actor, name)).id

    def page(self, params: Json) -> list[Json]:
        limit = int(params.get("limit", 50))
        if not 1 <= limit <= 200:
            raise ClinicDeskError(ErrorCode.INVALID_INPUT, field="limit", maximum=200)
        filters = ReminderFilters(
            branch_id=params.get("branch_id"), status=params.get("status"),
            answer=params.get("answer"), limit=limit,
        )  # fmt: skip
        page = asyncio.run(self.core.reminders.list(self.actor, filters))
        return [self._json(r) for r in page.items]

    def cancel(self, reminder_id: int) -> Json:
        return self._json(asyncio.run(self.core.reminders.cancel(self.actor, reminder_id)))

    def cancel_campaign(self, campaign: str) -> list[Json]:
        done = asyncio.run(self.core.reminders.cancel_campaign(self.actor, campaign))
        return [self._json(r) for r in done]

    def _json(self, row: Any) -> Json:
        return reminder_out(row, self.core.reminders).model_dump(mode="json")

    def close(self) -> None:
        self.core.close()
