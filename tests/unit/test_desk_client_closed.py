"""The desk client: a call made after the desk closed its client fails like an unreachable engine;
the batched ticket read keeps to the API's 200 ids per call.

Pages refresh on timers and events; one may still be on its way while the desk closes. It must
end in the ClinicDeskError every caller handles, not in httpx's RuntimeError (an unhandled task
exception and a traceback on the console).
"""

from __future__ import annotations

import pytest

from app.domain.errors import ClinicDeskError, ErrorCode
from app.ui.client import DeskClient


async def test_a_call_after_close_is_engine_unreachable() -> None:
    client = DeskClient("http://127.0.0.1:9")
    await client.close()
    with pytest.raises(ClinicDeskError) as caught:
        await client.call("GET", "/stats/dashboard")
    assert caught.value.code is ErrorCode.ENGINE_UNREACHABLE
    assert await client.health() is False


async def test_tickets_by_id_reads_at_most_200_per_call_and_leaves_out_the_unseen() -> None:
    from app.ui.client_types import TicketPage
    from tests.helpers.desk import make_ticket

    asked: list[list[int]] = []

    class Recording(DeskClient):
        async def tickets(self, status, cursor=None, limit=50, **filters):  # type: ignore[no-untyped-def]
            asked.append(list(filters["ids"]))
            assert limit == len(filters["ids"])
            return TicketPage(tuple(make_ticket(i) for i in filters["ids"] if i % 2), None)

    client = Recording("http://127.0.0.1:9")
    try:
        found = await client.tickets_by_id(list(range(1, 451)))
    finally:
        await client.close()
    assert [len(chunk) for chunk in asked] == [200, 200, 50]
    assert sorted(found) == list(range(1, 451, 2)) and found[3].id == 3
