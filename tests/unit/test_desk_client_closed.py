"""A desk call made after the desk closed its client fails like an unreachable engine.

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
