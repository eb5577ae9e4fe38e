"""The whole loop on the real services: interact -> RabbitMQ -> event log -> popularity -> recs."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from functions.interact.app import create_app as create_interact
from functions.recs.app import create_app as create_recs
from recsys.domain.events import Event
from recsys.services import popularity

pytestmark = pytest.mark.integration

LIKED = ["172", "1", "127"]


def test_likes_become_popular_for_new_users_and_never_return_to_their_author(
    settings, clients, catalogue
):
    interact = TestClient(create_interact(settings))
    recs = TestClient(create_recs(settings))
    # Background history, a year old (as bootstrapped MovieLens ratings are):
    # more likes than the author's, but not recent ones.
    year_ago = time.time() - 365 * 86_400
    clients.broker.publish(
        [
            Event.new(user, item, "like", timestamp=year_ago, source="bootstrap")
            for user, item in [("bg1", "50"), ("bg2", "50"), ("bg3", "181")]
        ]
    )
    popularity.run(
        broker=clients.broker, event_log=clients.event_log, cache=clients.cache, settings=settings
    )

    response = interact.post(
        "/interact", json={"user_id": "author", "item_ids": LIKED, "actions": ["like"] * 3}
    )
    assert response.status_code == 200, response.text
    # Before the job runs, the author's own recs already exclude what they rated.
    assert not set(LIKED) & set(recs.get("/recs/author").json()["item_ids"])

    report = popularity.run(
        broker=clients.broker, event_log=clients.event_log, cache=clients.cache, settings=settings
    )
    assert report.drained == 3
    assert report.events_in_log == 6

    newcomer = recs.get("/recs/newcomer").json()
    assert sorted(newcomer["item_ids"][:3]) == sorted(LIKED)
    assert newcomer["item_ids"][3:5] == ["50", "181"]
    author = recs.get("/recs/author", params={"n": 100}).json()
    assert not set(LIKED) & set(author["item_ids"])
    assert len(author["item_ids"]) == 100


def test_a_dislike_is_never_shown_again_either(settings, clients, catalogue):
    interact = TestClient(create_interact(settings))
    recs = TestClient(create_recs(settings))
    clients.cache.set_popular(["50", "181", "1"])
    interact.post("/interact", json={"user_id": "zed", "item_ids": ["50"], "actions": ["dislike"]})
    assert recs.get("/recs/zed").json()["item_ids"][:2] == ["181", "1"]
