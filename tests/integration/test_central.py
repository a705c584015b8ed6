"""The central office server over real loopback HTTP: enrolment, signed ingest (and every way a
request is refused, each logged once with its reason), the admin API, CSV, /metrics and the
dashboard. Time is a FakeClock injected into the app."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.central.db import reports
from app.sync import protocol
from tests.helpers.central import (
    CentralServer,
    EnrolledAppliance,
    FakeClock,
    batch_body,
    central_server,
    enrol,
    enrolled_appliance,
    make_report,
    signed_headers,
    signed_post,
    sqlite_url,
)

DAY = 86400.0


def _db_params() -> list[object]:
    params: list[object] = ["sqlite"]
    try:
        from tests.helpers import postgres  # noqa: F401  # written alongside this module
    except ImportError:
        return params
    return [*params, "postgresql"]


@pytest.fixture(params=_db_params())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: SQLite always, PostgreSQL when its fixture is available."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CentralServer]:
    with central_server(sqlite_url(tmp_path), FakeClock()) as running:
        yield running


def _rows(server: CentralServer, appliance_id: str) -> int:
    query = select(func.count()).select_from(reports).where(reports.c.appliance_id == appliance_id)
    with server.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "app.central" and r.levelno == logging.WARNING
    ]


def assert_refused(
    response: httpx.Response, status: int, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused with ``status`` and ``error``, and exactly one warning line naming it."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["server_time"], int)
    lines = _refusals(caplog)
    assert len(lines) == 1, lines
    assert error in lines[0]
    caplog.clear()


def _batch(appliance: EnrolledAppliance, now: float, seqs: range) -> bytes:
    return batch_body(appliance.appliance_id, [make_report(s, now - 60 * s) for s in seqs])


# ---- enrolment ---------------------------------------------------------------------------


def test_enrolment_code_works_once(server: CentralServer, caplog: pytest.LogCaptureFixture) -> None:
    code = server.code("Rede Sorriso")
    first = enrol(server.http, code)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["label"] == "Rede Sorriso"
    assert len(answer["appliance_id"]) == 32
    assert_refused(enrol(server.http, code), 403, "bad_code", caplog)


def test_expired_and_wrong_codes_are_refused(
    server: CentralServer, caplog: pytest.LogCaptureFixture
) -> None:
    code = server.code("Rede Norte", ttl_hours=1)
    server.clock.advance(3601)
    assert_refused(enrol(server.http, code), 403, "bad_code", caplog)
    assert_refused(enrol(server.http, "AAAA-BBBB-CCCC-DDDD"), 403, "bad_code", caplog)


def test_code_is_accepted_without_dashes(server: CentralServer) -> None:
    code = server.code("Rede Leste")
    # The request pattern takes upper case only; dashes are optional.
    assert enrol(server.http, code.replace("-", "")).status_code == 200


def test_guessing_codes_is_throttled(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from app.central.settings import CentralSettings

    settings = CentralSettings(enrol_max_failures=3, run_retention=False)
    with central_server(sqlite_url(tmp_path), FakeClock(), settings) as server:
        good = server.code()
        for _ in range(3):
            assert enrol(server.http, "AAAA-BBBB-CCCC-DDDD").status_code == 403
        caplog.clear()
        blocked = enrol(server.http, good)
        assert_refused(blocked, 429, "throttled", caplog)
        assert int(blocked.headers["Retry-After"]) > 0
        server.clock.advance(601)
        assert enrol(server.http, good).status_code == 200


# ---- ingest ------------------------------------------------------------------------------


def test_signed_batch_is_stored_and_a_retry_counts_duplicates(db_url: str) -> None:
    with central_server(db_url, FakeClock()) as server:
        appliance = enrolled_appliance(server)
        now = server.clock()
        first = signed_post(server.http, appliance, _batch(appliance, now, range(1, 4)), now)
        assert first.status_code == 200, first.text
        assert first.json() | {"server_time": 0} == {
            "accepted": 3, "duplicates": 0, "last_seq": 3, "server_time": 0,
        }  # fmt: skip
        # The agent's honest retry: new nonce and timestamp, overlapping reports.
        server.clock.advance(30)
        retry = signed_post(server.http, appliance, _batch(appliance, now, range(2, 6)), now + 30)
        assert retry.status_code == 200, retry.text
        assert (retry.json()["accepted"], retry.json()["duplicates"]) == (2, 2)
        assert retry.json()["last_seq"] == 5
        assert _rows(server, appliance.appliance_id) == 5


@pytest.mark.parametrize(
    ("later", "status", "error"),
    [
        (120, 409, protocol.REJECT_REPLAYED),  # within the window: the nonce is known
        (protocol.TOLERANCE_S + 1, 401, protocol.REJECT_STALE),  # after it: too old
    ],
)
def test_a_captured_request_replayed_is_refused_and_stores_nothing(
    server: CentralServer, caplog: pytest.LogCaptureFixture, later: int, status: int, error: str
) -> None:
    appliance = enrolled_appliance(server)
    now = server.clock()
    body = _batch(appliance, now, range(1, 3))
    headers = signed_headers(appliance.key, appliance.appliance_id, body, now)
    assert server.http.post(protocol.REPORTS_PATH, content=body, headers=headers).status_code == 200
    caplog.clear()
    server.clock.advance(later)
    replayed = server.http.post(protocol.REPORTS_PATH, content=body, headers=headers)
    assert_refused(replayed, status, error, caplog)
    assert _rows(server, appliance.appliance_id) == 2
    assert abs(replayed.json()["server_time"] - server.clock()) < 1


def test_clock_ahead_is_stale_too(server: CentralServer, caplog: pytest.LogCaptureFixture) -> None:
    appliance = enrolled_appliance(server)
    ahead = server.clock() + protocol.TOLERANCE_S + 5
    response = signed_post(server.http, appliance, _batch(appliance, ahead, range(1, 2)), ahead)
    assert_refused(response, 401, protocol.REJECT_STALE, caplog)


def test_one_flipped_body_byte_breaks_the_signature(
    server: CentralServer, caplog: pytest.LogCaptureFixture
) -> None:
    appliance = enrolled_appliance(server)
    now = server.clock()
    body = _batch(appliance, now, range(1, 2))
    headers = signed_headers(appliance.key, appliance.appliance_id, body, now)
    at = body.index(b'"messages_in":3') + len('"messages_in":')
    tampered = body[:at] + b"4" + body[at + 1 :]
    response = server.http.post(protocol.REPORTS_PATH, content=tampered, headers=headers)
    assert_refused(response, 401, protocol.REJECT_BAD_SIGNATURE, caplog)
    assert _rows(server, appliance.appliance_id) == 0


def test_another_appliances_key_cannot_speak_for_this_one(
    server: CentralServer, caplog: pytest.LogCaptureFixture
) -> None:
    victim = enrolled_appliance(server, "Clínica A")
    other = enrolled_appliance(server, "Clínica B")
    now = server.clock()
    body = _batch(victim, now, range(1, 2))
    forged = EnrolledAppliance(victim.appliance_id, victim.label, other.key)
    assert_refused(
        signed_post(server.http, forged, body, now), 401, protocol.REJECT_BAD_SIGNATURE, caplog
    )


def test_unknown_appliance_is_refused(
    server: CentralServer, caplog: pytest.LogCaptureFixture
) -> None:
    real = enrolled_appliance(server)
    stranger = EnrolledAppliance("0" * 32, "x", real.key)
    now = server.clock()
    response = signed_post(server.http, stranger, _batch(stranger, now, range(1, 2)), now)
    assert_refused(response, 401, protocol.REJECT_UNKNOWN_APPLIANCE, caplog)


def test_revoked_appliance_is_refused(
    server: CentralServer, caplog: pytest.LogCaptureFixture
) -> None:
    appliance = enrolled_appliance(server)
    with server.admin() as admin:
        revoked = admin.post(f"/api/appliances/{appliance.appliance_id}/revoke")
        assert revoked.status_code == 200, revoked.text
        assert admin.post(f"/api/appliances/{'f' * 32}/revoke").status_code == 404
    now = server.clock()
    response = signed_post(server.http, appliance, _batch(appliance, now, range(1, 2)), now)
    assert_refused(response, 403, protocol.REJECT_REVOKED, caplog)


def _raw_post(server: CentralServer, head: dict[str, str], body: bytes) -> tuple[int, str]:
    """Send a request on a raw socket and read the answer: httpx would keep writing a body the
    server has already refused, and see the connection reset instead of the answer."""
    host, port = server.url.removeprefix("http://").split(":")
    lines = [f"POST {protocol.REPORTS_PATH} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in head.items()]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2].decode()


def test_oversize_bodies_are_refused_before_reading_them(
    server: CentralServer, caplog: pytest.LogCaptureFixture
) -> None:
    appliance = enrolled_appliance(server)
    signed = signed_headers(appliance.key, appliance.appliance_id, b"", server.clock())
    declared = signed | {"Content-Length": str(protocol.MAX_BODY_BYTES + 1)}
    status, text = _raw_post(server, declared, b"")  # nothing sent: refused on the header
    assert (status, json.loads(text)["error"]) == (413, protocol.REJECT_TOO_LARGE)
    assert len(_refusals(caplog)) == 1
    caplog.clear()
    chunk = b"x" * 65536
    size = protocol.MAX_BODY_BYTES // len(chunk) + 1  # just past the cap, no Content-Length
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(size))
    status, text = _raw_post(server, signed | {"Transfer-Encoding": "chunked"}, chunked)
    assert status == 413
    assert_refused_lines = _refusals(caplog)
    assert len(assert_refused_lines) == 1 and protocol.REJECT_TOO_LARGE in assert_refused_lines[0]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"appliance_id": "x", "reports": []}',
        b'{"appliance_id": "' + b"a" * 32 + b'", "reports": [{"seq": 0}]}',
    ],
)
def test_malformed_signed_bodies_are_4xx(
    server: CentralServer, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    appliance = enrolled_appliance(server)
    response = signed_post(server.http, appliance, body, server.clock())
    assert_refused(response, 422, protocol.REJECT_MALFORMED, caplog)


def test_batch_for_another_appliance_id_is_malformed(
    server: CentralServer, caplog: pytest.LogCaptureFixture
) -> None:
    appliance = enrolled_appliance(server)
    now = server.clock()
    body = batch_body("b" * 32, [make_report(1, now)])
    assert_refused(
        signed_post(server.http, appliance, body, now), 400, protocol.REJECT_MALFORMED, caplog
    )


def test_missing_or_garbled_headers_are_malformed(
    server: CentralServer, caplog: pytest.LogCaptureFixture
) -> None:
    appliance = enrolled_appliance(server)
    body = _batch(appliance, server.clock(), range(1, 2))
    headers = signed_headers(appliance.key, appliance.appliance_id, body, server.clock())
    for name in (protocol.H_TIMESTAMP, protocol.H_NONCE, protocol.H_SIGNATURE):
        broken = headers | {name: "!!"}
        response = server.http.post(protocol.REPORTS_PATH, content=body, headers=broken)
        assert_refused(response, 400, protocol.REJECT_MALFORMED, caplog)
    bare = server.http.post(protocol.REPORTS_PATH, content=body)
    assert_refused(bare, 400, protocol.REJECT_MALFORMED, caplog)


# ---- admin API, CSV, metrics, dashboard --------------------------------------------------


def _fleet(server: CentralServer) -> tuple[EnrolledAppliance, EnrolledAppliance]:
    """Two clinics: one healthy, one with a number needing pairing and an old backup."""
    good = enrolled_appliance(server, "Clínica Boa Vista")
    bad = enrolled_appliance(server, "Clínica <Centro>")
    now = server.clock()
    ok = [make_report(1, now - 60, messages=(5, 4))]
    worry = [
        make_report(7, now - 60, channels=((11, "CONNECTED"), (12, "QR_REQUIRED")),
                    backup_age_h=72, queued=3, dropped=2),
    ]  # fmt: skip
    assert signed_post(server.http, good, batch_body(good.appliance_id, ok), now).status_code == 200
    assert (
        signed_post(server.http, bad, batch_body(bad.appliance_id, worry), now).status_code == 200
    )
    return good, bad


def test_admin_api_needs_the_token(server: CentralServer) -> None:
    good, bad = _fleet(server)
    for path in ("/api/appliances", "/api/appliances.csv"):
        assert server.http.get(path).status_code == 401
        wrong = {"Authorization": "Bearer cdc_not-a-token"}
        assert server.http.get(path, headers=wrong).status_code == 401
    assert server.http.post(f"/api/appliances/{good.appliance_id}/revoke").status_code == 401
    with server.admin() as admin:
        listed = {a["appliance_id"]: a for a in admin.get("/api/appliances").json()}
    assert set(listed) == {good.appliance_id, bad.appliance_id}
    assert listed[bad.appliance_id]["last_seq"] == 7
    assert listed[bad.appliance_id]["online"] is True
    assert listed[bad.appliance_id]["latest_figures"]["sync"]["queued"] == 3
    server.clock.advance(601)
    with server.admin() as admin:
        assert all(not a["online"] for a in admin.get("/api/appliances").json())


def test_csv_export_has_one_row_per_appliance(server: CentralServer) -> None:
    import csv

    good, bad = _fleet(server)
    with server.admin() as admin:
        response = admin.get("/api/appliances.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = {r["appliance_id"]: r for r in csv.DictReader(response.text.splitlines())}
    assert rows[good.appliance_id]["label"] == "Clínica Boa Vista"
    assert rows[good.appliance_id]["messages_in_today"] == "5"
    assert rows[bad.appliance_id]["channels_disconnected"] == "1"
    assert rows[bad.appliance_id]["channels_total"] == "2"
    assert rows[bad.appliance_id]["backup_alert"] == "yes"
    assert rows[good.appliance_id]["backup_alert"] == "no"


def test_metrics_count_reports_duplicates_and_refusals(server: CentralServer) -> None:
    good, bad = _fleet(server)
    now = server.clock()
    signed_post(server.http, good, batch_body(good.appliance_id, [make_report(1, now)]), now)
    signed_post(server.http, good, b"garbage", now)
    text = server.http.get("/metrics").text
    assert "clinicdesk_central_reports_ingested_total 2.0" in text
    assert "clinicdesk_central_report_duplicates_total 1.0" in text
    assert 'clinicdesk_central_rejections_total{reason="malformed"} 1.0' in text
    assert "clinicdesk_central_appliances 2.0" in text
    assert "clinicdesk_central_appliances_online 2.0" in text
    assert f'clinicdesk_central_channels_disconnected{{appliance="{bad.appliance_id}"' in text


def test_dashboard_shows_the_fleet_after_login(server: CentralServer) -> None:
    good, _bad = _fleet(server)
    token = server.token()
    first = server.http.get("/dashboard", follow_redirects=False)
    assert (first.status_code, first.headers["location"]) == (303, "/login")
    wrong = server.http.post("/login", content=b"token=nope", headers=_FORM)
    assert wrong.status_code == 401
    login = server.http.post("/login", content=f"token={token}".encode(), headers=_FORM)
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = server.http.get("/dashboard")  # the client keeps the cookie
    assert page.status_code == 200
    html = page.text
    assert "Clínica Boa Vista" in html
    assert "Clínica &lt;Centro&gt;" in html and "<Centro>" not in html  # escaped
    assert "Números desconectados" in html
    assert "Número nº 12" in html  # the disconnected number, by its id
    assert "Atenção" in html  # the backup alert (72 h > 48 h)
    assert "2 de 2" in html  # online
    assert good.appliance_id not in html  # no technical ids on the staff's page


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
