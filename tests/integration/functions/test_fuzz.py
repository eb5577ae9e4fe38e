"""Property-based fuzzing of both HTTP functions from their own OpenAPI schemas.

Schemathesis generates valid and invalid requests for every operation; none
may end in a server error, and every answer must match the response model its
route declares (for its status code, when that is documented).  Runs against
the real Redis and RabbitMQ, under a key prefix and queue of its own, deleted
afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from functions.interact.app import create_app as create_interact
from functions.recs.app import create_app as create_recs
from recsys.clients import Clients
from recsys.settings import Settings
from tests.conftest import ADMIN_TOKEN, DATA_DIR

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The schemas are read when the module is collected, so the apps (and their
# isolated settings) are built here rather than in a fixture.
RUN_ID = uuid.uuid4().hex[:12]
FUZZ_SETTINGS = Settings(
    _env_file=None,
    key_prefix=f"test:fuzz-{RUN_ID}:",
    queue_name=f"test.fuzz-{RUN_ID}.interactions",
    data_dir=str(DATA_DIR),
    admin_token=ADMIN_TOKEN,
)
interact = schemathesis.openapi.from_asgi("/openapi.json", create_interact(FUZZ_SETTINGS))
# /cleanup would delete the catalogue under the fuzzer's feet; it has its own tests.
recs = schemathesis.openapi.from_asgi("/openapi.json", create_recs(FUZZ_SETTINGS)).exclude(
    path="/cleanup"
)
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module", autouse=True)
def fuzz_services(movielens_items) -> Iterator[None]:
    clients = Clients(FUZZ_SETTINGS)
    clients.cache.add_items(movielens_items)
    clients.cache.set_popular(sorted(movielens_items, key=int)[:50])
    yield
    clients.cache.delete_all()
    try:
        clients.broker.delete_queue()
    finally:
        clients.close()


CHECKS = [not_a_server_error, response_schema_conformance]


@interact.parametrize()
@FUZZ
def test_interact_answers_match_the_contract_and_never_fail(case):
    response = case.call()
    assert response.status_code < 500, response.text
    case.validate_response(response, checks=CHECKS)


@recs.parametrize()
@FUZZ
def test_recs_answers_match_the_contract_and_never_fail(case):
    response = case.call(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code < 500, response.text
    case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize("create_app", [create_interact, create_recs])
def test_every_route_declares_its_answer(create_app):
    schema = create_app(FUZZ_SETTINGS).openapi()
    missing = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "$ref" not in str(operation["responses"].get("200", {}).get("content", {}))
    ]
    assert missing == []
