"""POST /interact on the real Redis and RabbitMQ, over HTTP (TestClient) and via Mangum."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from mangum import Mangum

from functions.interact.app import create_app
from recsys.clients import Clients
from recsys.settings import Settings
from tests.integration.helpers import (
    load_event,
    queue_depth,
    queued_messages,
    silent_server,
)
from tests.lambda_context import LambdaContext
from tests.support import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def client(settings: Settings, clients: Clients, catalogue: list[str]) -> Iterator[TestClient]:
    app = create_app(settings)
    yield TestClient(app)
    app.state.clients.close()  # its publisher thread and connection


def post(client: TestClient, body: object) -> httpx.Response:
    return client.post("/interact", json=body)


def test_events_are_published_persistent_and_confirmed_then_marked_seen(client, settings, clients):
    response = post(
        client, {"user_id": "alice", "item_ids": ["50", "181"], "actions": ["like", "dislike"]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["seen_marked"] is True
    assert len(body["event_ids"]) == 2

    messages = queued_messages(settings.rabbitmq_url, settings.queue_name)
    assert [m["item_id"] for _, m in messages] == ["50", "181"]
    assert [m["action"] for _, m in messages] == ["like", "dislike"]
    for props, message in messages:
        assert props.delivery_mode == 2
        assert props.message_id == message["event_id"]
        assert props.content_type == "application/json"
        assert abs(message["timestamp"] - time.time()) < 60
    assert [m["event_id"] for _, m in messages] == body["event_ids"]

    assert clients.cache._client.smembers(clients.cache.seen_key("alice")) == {"50", "181"}
    assert clients.cache._client.lrange(clients.cache.likes_key("alice"), 0, -1) == ["50"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"user_id": "u", "item_ids": ["999999"], "actions": ["like"]}, "unknown item '999999'"),
        ({"user_id": "u", "item_ids": ["50", "181"], "actions": ["like"]}, "same length"),
        ({"user_id": "u", "item_ids": ["50"], "actions": ["love"]}, "'dislike' or 'remove'"),
        ({"user_id": "bad user!", "item_ids": ["50"], "actions": ["like"]}, "user_id may hold"),
        ({"user_id": "u" * 65, "item_ids": ["50"], "actions": ["like"]}, "longer than 64"),
        ({"user_id": "u", "item_ids": ["5 0"], "actions": ["like"]}, "may hold only"),
        ({"user_id": "u", "item_ids": ["50"] * 101, "actions": ["like"] * 101}, "at most 100"),
        ({"user_id": "u", "item_ids": [], "actions": []}, "at least 1"),
        ({"user_id": "u", "item_ids": ["50"]}, "Field required"),
        ({"user_id": "u", "item_ids": [50], "actions": ["like"]}, "valid string"),
        ({"user_id": "u", "item_ids": ["50"], "actions": ["like"], "x": 1}, "not permitted"),
        ([1, 2, 3], "valid dictionary"),
    ],
)
def test_bad_requests_get_422_with_a_reason_and_publish_nothing(
    client, settings, clients, body, expected
):
    response = post(client, body)
    assert response.status_code == 422
    assert expected in response.text
    assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 0
    assert not clients.cache._client.exists(clients.cache.seen_key("u"))


def test_a_body_that_is_not_json_gets_422(client, settings):
    response = client.post(
        "/interact", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON decode error" in response.text
    assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 0


@pytest.mark.parametrize("broker", ["refused", "silent"])
def test_broker_down_gives_a_fast_503_and_writes_nothing(settings, clients, catalogue, broker):
    with silent_server() as silent_port:
        port = free_port() if broker == "refused" else silent_port
        broken = settings.model_copy(
            update={"rabbitmq_url": f"amqp://guest:guest@127.0.0.1:{port}/%2F"}
        )
        client = TestClient(create_app(broken))
        started = time.monotonic()
        response = post(client, {"user_id": "bob", "item_ids": ["50"], "actions": ["like"]})
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["dependency"] == "rabbitmq"
    assert "RabbitMQ" in response.json()["detail"]
    assert elapsed < 2.0, f"503 took {elapsed:.2f} s"
    assert not clients.cache._client.exists(clients.cache.seen_key("bob"))


def test_redis_down_gives_503(settings, catalogue):
    broken = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    response = post(
        TestClient(create_app(broken)), {"user_id": "c", "item_ids": ["50"], "actions": ["like"]}
    )
    assert response.status_code == 503
    assert response.json()["dependency"] == "redis"
    assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 0


def test_healthcheck_reports_each_dependency(client, settings):
    response = client.get("/healthcheck")
    assert response.status_code == 200
    deps = response.json()["dependencies"]
    assert deps["redis"]["ok"] and deps["rabbitmq"]["ok"]

    broken = settings.model_copy(
        update={"rabbitmq_url": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"}
    )
    response = TestClient(create_app(broken)).get("/healthcheck")
    assert response.status_code == 503
    deps = response.json()["dependencies"]
    assert deps["redis"]["ok"] is True
    assert deps["rabbitmq"]["ok"] is False
    assert "error" in deps["rabbitmq"]


def test_an_answer_says_where_its_time_went(client, settings):
    response = client.post(
        "/interact", json={"user_id": "timed", "item_ids": ["50"], "actions": ["like"]}
    )
    assert response.status_code == 200, response.text
    steps = dict(
        part.strip().split(";dur=") for part in response.headers["server-timing"].split(",")
    )
    assert list(steps) == ["validate", "publish", "seen"]
    assert all(float(ms) >= 0 for ms in steps.values())
    # The page may read these timings: the same origins as CORS.
    assert response.headers["timing-allow-origin"] == ", ".join(settings.cors_origins)


def test_cors_allows_only_the_configured_origins(client):
    allowed = client.options(
        "/interact",
        headers={"Origin": "http://localhost:8000", "Access-Control-Request-Method": "POST"},
    )
    assert allowed.headers.get("access-control-allow-origin") == "http://localhost:8000"
    refused = client.options(
        "/interact",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in refused.headers


def test_mangum_handler_with_a_function_url_event(settings, clients, catalogue):
    handler = Mangum(create_app(settings), lifespan="off")
    response = handler(load_event("function_url_post_interact.json"), LambdaContext())
    assert response["statusCode"] == 200, response
    assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 2
    assert clients.cache._client.smembers(clients.cache.seen_key("lambda-user-1")) == {"50", "181"}

    invalid = handler(load_event("function_url_post_interact_invalid.json"), LambdaContext())
    assert invalid["statusCode"] == 422
    assert "same length" in invalid["body"]
    assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 2
