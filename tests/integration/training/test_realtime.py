"""A like changes the very next /recs answer, before any retraining.

The training job publishes each item's neighbours; POST /interact records the
like in Redis; GET /recs blends the neighbours of the user's latest likes into
the personalised tier (interleaved with the personal list, personal first).
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from functions.interact.app import create_app as create_interact_app
from functions.recs.app import create_app as create_recs_app
from functions.train import app as train_app
from recsys.clients import Clients
from recsys.settings import Settings
from recsys.training.data import build_interactions
from recsys.training.synthetic import item_groups, taste_of
from tests.integration.training.conftest import ITEMS_PER_GROUP, N_GROUPS

pytestmark = pytest.mark.integration


@pytest.fixture
def trained(train_settings: Settings, clients: Clients, taste_log: list[str]) -> Settings:
    result = train_app.handler({}, None)
    assert result["published"] is True, result["reason"]
    return train_settings


def like(interact: TestClient, user: str, item: str) -> None:
    response = interact.post(
        "/interact", json={"user_id": user, "item_ids": [item], "actions": ["like"]}
    )
    assert response.status_code == 200, response.text


def test_after_a_like_of_x_the_next_recs_start_with_xs_neighbours(
    trained: Settings, clients: Clients
) -> None:
    interact = TestClient(create_interact_app(trained))
    recs = TestClient(create_recs_app(trained))
    x = item_groups(N_GROUPS, ITEMS_PER_GROUP)[1][0]
    neighbours = clients.cache._client.lrange(clients.cache.neighbours_key(x), 0, -1)
    assert neighbours

    before = recs.get("/recs/newcomer", params={"n": 5}).json()
    assert not any(item["source"] == "realtime" for item in before["items"])

    started = time.monotonic()
    like(interact, "newcomer", x)
    after = recs.get("/recs/newcomer", params={"n": 5}).json()
    assert time.monotonic() - started < 1.0

    # No personal list yet: X's neighbours lead, best first, each saying why.
    assert after["item_ids"] == neighbours[:5]
    assert all(item == {"item_id": i, "source": "realtime", "because": x}
               for item, i in zip(after["items"], neighbours[:5], strict=True))  # fmt: skip
    assert x not in after["item_ids"]


def test_a_user_with_a_personal_list_sees_xs_neighbours_next_to_it(
    trained: Settings, clients: Clients, taste_log: list[str]
) -> None:
    interact = TestClient(create_interact_app(trained))
    recs = TestClient(create_recs_app(trained))
    user = taste_log[0]
    groups = item_groups(N_GROUPS, ITEMS_PER_GROUP)
    # An item from another taste group: its neighbours are not in the user's personal list.
    other_group = groups[(taste_of(user, N_GROUPS) + 1) % N_GROUPS]
    rated = build_interactions(clients.event_log.read()).rated[user]
    x = next(item for item in other_group if item not in rated)
    neighbours = clients.cache._client.lrange(clients.cache.neighbours_key(x), 0, -1)
    fresh_neighbours = [i for i in neighbours if i not in rated and i != x]

    like(interact, user, x)
    body = recs.get(f"/recs/{user}", params={"n": 6}).json()
    sources = [item["source"] for item in body["items"]]
    # Personal first, then "because you liked X": two of every three places
    # of the personalised tier (realtime_share) go to the neighbours of recent likes.
    assert trained.realtime_share == 2 / 3
    assert sources == ["personal", "realtime", "realtime", "personal", "realtime", "realtime"]
    realtime = [item for item in body["items"] if item["source"] == "realtime"]
    # X's neighbours in order, except any the personal places already show
    # (a personal item near a recent like takes a personal place first).
    shown_as_personal = {item["item_id"] for item in body["items"] if item["source"] == "personal"}
    expected = [i for i in fresh_neighbours if i not in shown_as_personal]
    assert [item["item_id"] for item in realtime] == expected[: len(realtime)]
    assert all(item["because"] == x for item in realtime)
