"""Pure pieces of the sync agent: backoff, Retry-After, URL policy, percentiles, time in
state, reconnects, and the batch body splice."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.domain.errors import ClinicDeskError, ErrorCode
from app.services.ports_sync import QueuedReport, Transition
from app.sync.report import code_or_other, percentile, reconnects, state_seconds
from app.sync.schema import ReportBatch
from app.sync.sender import Backoff, batch_body
from app.sync.transport import check_central_url, retry_after

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_backoff_is_full_jitter_doubling_to_the_cap() -> None:
    backoff = Backoff(random.Random(1))
    delays = [backoff.next_delay() for _ in range(40)]
    ceilings = [min(300.0, 2.0**n) for n in range(40)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[20:]) > 150  # it does reach far up once capped
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_backoff_honours_a_floor() -> None:
    backoff = Backoff(random.Random(2))
    assert all(backoff.next_delay(floor=30) >= 30 for _ in range(10))


def test_retry_after_seconds_and_http_date() -> None:
    seconds = httpx.Response(429, headers={"Retry-After": "12"})
    assert retry_after(seconds, T0) == 12
    date = httpx.Response(503, headers={"Retry-After": "Mon, 05 Jan 2026 12:01:30 GMT"})
    assert retry_after(date, T0) == 90
    assert retry_after(httpx.Response(503), T0) is None
    assert retry_after(httpx.Response(503, headers={"Retry-After": "soon"}), T0) is None


@pytest.mark.parametrize(
    "url",
    ["https://central.example.com", "https://10.0.0.5:8443/", "http://127.0.0.1:9000",
     "http://localhost:9000", "http://[::1]:9000"],
)  # fmt: skip
def test_allowed_urls(url: str) -> None:
    assert check_central_url(url) == url.rstrip("/")


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ClinicDeskError) as excinfo:
        check_central_url("http://central.example.com")
    assert excinfo.value.code is ErrorCode.SYNC_HTTP_NOT_ALLOWED


@pytest.mark.parametrize(
    "url", ["ftp://x", "central.example.com", "https://u:p@x", "https://x?a=1"]
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(ClinicDeskError) as excinfo:
        check_central_url(url)
    assert excinfo.value.code is ErrorCode.INVALID_INPUT


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50 and percentile(values, 0.95) == 95
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.95) == 7.0


def _t(minutes: int, state: str) -> Transition:
    return Transition(1, T0 + timedelta(minutes=minutes), state)


def test_time_in_each_state_within_the_period() -> None:
    end = T0 + timedelta(minutes=10)
    changes = [_t(2, "DISCONNECTED"), _t(3, "CONNECTED")]
    assert state_seconds("CONNECTED", changes, T0, end) == {
        "CONNECTED": 540.0,
        "DISCONNECTED": 60.0,
    }
    assert state_seconds(None, changes[1:], T0, end) == {"CONNECTED": 420.0}
    assert state_seconds(None, [], T0, end) == {}


def test_reconnects_do_not_count_the_first_connection() -> None:
    changes = [_t(1, "CONNECTED"), _t(2, "DISCONNECTED"), _t(3, "CONNECTED")]
    assert reconnects(None, changes) == 1
    assert reconnects("DISCONNECTED", changes) == 2


def test_codes_with_free_text_become_other() -> None:
    assert code_or_other("logged_out") == "logged_out"
    assert code_or_other("Maria disse oi") == "other"
    assert code_or_other(None) is None


def test_batch_body_is_a_valid_report_batch() -> None:
    report = (
        '{"seq":1,"created_at":"2026-01-05T12:00:00Z","schema_version":1,"figures":'
        '{"period_start":"2026-01-05T11:59:00Z","period_end":"2026-01-05T12:00:00Z",'
        '"system":{"app_version":"0.1.0","uptime_s":1,"disk_free_bytes":1,"db_bytes":1},'
        '"audit":{"head_seq":0,"head_hash":""}}}'
    )
    queued = [
        QueuedReport(1, T0, len(report), report),
        QueuedReport(2, T0, len(report), report.replace('"seq":1', '"seq":2')),
    ]
    batch = ReportBatch.model_validate_json(batch_body("ab" * 16, queued))
    assert [r.seq for r in batch.reports] == [1, 2]
