"""The "remove" action end to end on the real Redis and RabbitMQ: POST /interact
takes a rating back, the user's state honours it at once, the popularity job's
repair never brings it back, the log keeps the removal, and the film returns."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from functions.interact.app import create_app as create_interact
from functions.recs.app import create_app as create_recs
from recsys.clients import Clients
from recsys.domain.events import Action, Event
from recsys.services import popularity
from recsys.settings import Settings
from tests.integration.helpers import queue_depth, queued_messages

pytestmark = pytest.mark.integration


@pytest.fixture
def interact(settings: Settings, clients: Clients, catalogue: list[str]) -> TestClient:
    return TestClient(create_interact(settings))


def send(client: TestClient, user: str, item: str, action: str) -> dict:
    response = client.post(
        "/interact", json={"user_id": user, "item_ids": [item], "actions": [action]}
    )
    assert response.status_code == 200, response.text
    return response.json()


def run_job(clients: Clients, settings: Settings) -> popularity.PopularityReport:
    return popularity.run(
        broker=clients.broker, event_log=clients.event_log, cache=clients.cache, settings=settings
    )


def test_store_applies_remove_in_order(clients):
    cache = clients.cache
    cache.record_interactions(
        [("u", "1", "like"), ("u", "2", "like"), ("u", "3", "dislike")], keep_likes=10
    )
    cache.record_interactions([("u", "2", "remove"), ("u", "3", "remove")], keep_likes=10)
    assert cache._client.smembers(cache.seen_key("u")) == {"1"}
    assert cache._client.lrange(cache.likes_key("u"), 0, -1) == ["1"]
    # Like, remove and like again in one batch: the last one wins.
    cache.record_interactions(
        [("u", "4", "like"), ("u", "4", "remove"), ("u", "4", "like")], keep_likes=10
    )
    assert cache._client.smembers(cache.seen_key("u")) == {"1", "4"}
    assert cache._client.lrange(cache.likes_key("u"), 0, -1) == ["4", "1"]


def test_remove_over_http_is_logged_and_clears_seen_and_recent_likes(interact, clients, settings):
    cache = clients.cache
    liked = send(interact, "ada", "50", "like")
    removed = send(interact, "ada", "50", "remove")
    assert removed["seen_marked"] is True
    assert cache._client.smembers(cache.seen_key("ada")) == set()
    assert cache._client.lrange(cache.likes_key("ada"), 0, -1) == []

    messages = [m for _, m in queued_messages(settings.rabbitmq_url, settings.queue_name)]
    assert [(m["item_id"], m["action"]) for m in messages] == [("50", "like"), ("50", "remove")]
    assert [m["event_id"] for m in messages] == liked["event_ids"] + removed["event_ids"]

    # The job drains both: the log holds the removal, and its seen-set repair
    # does not mark the film seen again.
    report = run_job(clients, settings)
    assert report.drained == 2
    logged = {e.event_id: e for e in clients.event_log.read()}
    assert logged[removed["event_ids"][0]].action is Action.REMOVE
    assert cache._client.smembers(cache.seen_key("ada")) == set()
    # Nobody likes "50" any more: it is not popular.
    assert "50" not in cache.popular()


def test_the_job_repairs_a_removal_redis_missed(clients, settings):
    cache = clients.cache
    # Redis has the like; the removal was confirmed by RabbitMQ but Redis failed after it.
    cache.record_interactions([("bo", "181", "like"), ("bo", "7", "like")], keep_likes=10)
    clients.broker.publish([Event.new("bo", "181", "remove"), Event.new("bo", "7", "like")])
    run_job(clients, settings)
    assert cache._client.smembers(cache.seen_key("bo")) == {"7"}
    assert cache._client.lrange(cache.likes_key("bo"), 0, -1) == ["7"]


def test_a_removed_film_may_be_recommended_again(interact, clients, settings):
    recs = TestClient(create_recs(settings))
    clients.cache.set_popular(["50", "181", "100"])

    def first_three(user: str) -> list[str]:
        body = recs.get(f"/recs/{user}", params={"n": 3}).json()
        return list(body["item_ids"])

    send(interact, "cy", "50", "like")
    assert "50" not in first_three("cy")
    send(interact, "cy", "50", "remove")
    assert first_three("cy") == ["50", "181", "100"]


def test_removing_an_unknown_item_is_422_and_publishes_nothing(interact, settings):
    response = interact.post(
        "/interact", json={"user_id": "di", "item_ids": ["999999"], "actions": ["remove"]}
    )
    assert response.status_code == 422
    assert "unknown item" in response.text
    assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 0
