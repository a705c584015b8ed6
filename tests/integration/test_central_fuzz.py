"""Schemathesis fuzzes the central's OpenAPI over real loopback HTTP: whatever it sends (with
and without a valid admin token), the server never answers 5xx. Deterministic (derandomized
Hypothesis) and small enough for CI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation

from tests.helpers.central import CentralServer, FakeClock, central_server, sqlite_url


@pytest.fixture(scope="module")
def fuzzed_central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralServer]:
    folder: Path = tmp_path_factory.mktemp("central-fuzz")
    with central_server(sqlite_url(folder), FakeClock()) as server:
        yield server


@pytest.fixture(scope="module")
def admin_token(fuzzed_central: CentralServer) -> str:
    return fuzzed_central.token()


def _operations(server: CentralServer) -> list[APIOperation]:
    api = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    return [result.ok() for result in api.get_all_operations()]


# schemathesis.pytest.from_fixture fails under pytest 9 ("'Function' object has no attribute
# '_nodeid'", schemathesis 4.32), so the operations' Hypothesis strategies are driven here.
def test_no_request_makes_a_server_error(fuzzed_central: CentralServer, admin_token: str) -> None:
    operations = _operations(fuzzed_central)
    assert len(operations) >= 9, [op.label for op in operations]
    for operation in operations:
        _fuzz(operation, admin_token)


def _fuzz(operation: APIOperation, admin_token: str) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=30,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        for headers in ({}, {"Authorization": f"Bearer {admin_token}"}):
            response = case.call(headers=headers, timeout=10)
            case.validate_response(response, checks=[not_a_server_error])

    run()
