"""GET /recs and the admin endpoints on the real Redis and RabbitMQ."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from mangum import Mangum

from functions.recs.app import create_app
from recsys.clients import Clients
from recsys.domain.events import Event
from recsys.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.integration.helpers import load_event, queue_depth
from tests.lambda_context import LambdaContext
from tests.support import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def client(settings: Settings, clients: Clients, catalogue: list[str]) -> TestClient:
    return TestClient(create_app(settings))


def recs(client: TestClient, user: str, n: int = 12) -> dict:
    response = client.get(f"/recs/{user}", params={"n": n})
    assert response.status_code == 200, response.text
    return response.json()


def test_unknown_user_gets_popular_then_random(client, clients):
    clients.cache.set_popular(["50", "100", "181"])
    body = recs(client, "nobody-yet")
    assert body["item_ids"][:3] == ["50", "100", "181"]
    assert len(body["item_ids"]) == 12
    assert len(set(body["item_ids"])) == 12
    assert [i["source"] for i in body["items"]] == ["popular"] * 3 + ["random"] * 9
    assert body["sources"] == {"popular": 3, "random": 9}


def test_personal_then_popular_and_never_a_rated_item(client, clients):
    cache = clients.cache
    cache.set_personal({"carol": ["1", "2", "3"]})
    cache.set_popular(["2", "4", "5", "6"])
    cache.record_interactions([("carol", "1", "like"), ("carol", "5", "dislike")], keep_likes=10)
    body = recs(client, "carol", n=5)
    assert body["item_ids"][:4] == ["2", "3", "4", "6"]
    assert not {"1", "5"} & set(body["item_ids"])
    assert [i["source"] for i in body["items"]][:4] == [
        "personal",
        "personal",
        "popular",
        "popular",
    ]


def test_realtime_neighbours_of_a_recent_like_come_with_their_reason(client, clients):
    cache = clients.cache
    cache.set_neighbours({"50": ["172", "181", "50"]})
    cache.record_interactions([("dave", "50", "like")], keep_likes=10)
    body = recs(client, "dave", n=4)
    assert body["items"][0] == {"item_id": "172", "source": "realtime", "because": "50"}
    assert body["items"][1] == {"item_id": "181", "source": "realtime", "because": "50"}
    assert "50" not in body["item_ids"]


def test_a_user_who_rated_almost_everything_still_gets_only_unrated_items(
    client, clients, catalogue
):
    unrated = set(catalogue[-5:])
    clients.cache.mark_seen(("erin", item) for item in catalogue[:-5])
    body = recs(client, "erin", n=12)
    assert set(body["item_ids"]) == unrated


def test_exploration_mixes_in_random_items_below_the_top_half(settings, clients, catalogue):
    clients.cache.set_popular(catalogue[:50])
    exploring = TestClient(create_app(settings.model_copy(update={"exploration_rate": 0.5})))
    body = exploring.get("/recs/frank", params={"n": 12}).json()
    sources = [i["source"] for i in body["items"]]
    assert sources[:6] == ["popular"] * 6
    assert sources.count("explore") == 6


def test_bad_user_ids_and_n_get_422(client):
    assert client.get("/recs/bad%20user").status_code == 422
    assert client.get("/recs/" + "u" * 65).status_code == 422
    assert client.get("/recs/u", params={"n": 0}).status_code == 422
    assert client.get("/recs/u", params={"n": "lots"}).status_code == 422


def test_items_returns_catalogue_metadata(client):
    body = client.get("/items", params={"ids": "50,181,nope"}).json()
    assert body["items"]["50"]["title"] == "Star Wars"
    assert body["items"]["50"]["year"] == 1977
    assert "Sci-Fi" in body["items"]["50"]["genres"]
    assert "nope" not in body["items"]
    assert client.get("/items", params={"ids": "a b"}).status_code == 422


def test_admin_endpoints_refuse_without_the_token(client, clients):
    assert client.post("/add_items", json={"item_ids": ["new-1"]}).status_code == 401
    assert (
        client.post(
            "/add_items", json={"item_ids": ["new-1"]}, headers={"Authorization": "Bearer nope"}
        ).status_code
        == 403
    )
    assert client.post("/cleanup").status_code == 401
    assert client.post("/cleanup", headers={"Authorization": "Bearer wrong"}).status_code == 403
    # One scheme only: the old X-Admin-Token header is not a way in any more.
    right = {"X-Admin-Token": ADMIN_TOKEN}
    assert client.post("/cleanup", headers=right).status_code == 401
    assert clients.cache.known_items(["new-1"]) == [False]
    assert clients.cache.catalogue_size() > 0


def test_admin_endpoints_are_off_when_no_token_is_configured(settings, catalogue):
    no_token = TestClient(create_app(settings.model_copy(update={"admin_token": None})))
    response = no_token.post("/cleanup", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 403
    assert "RECSYS_ADMIN_TOKEN" in response.json()["detail"]


def test_add_items_with_the_token(client, clients):
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    response = client.post(
        "/add_items",
        json={
            "item_ids": ["new-1"],
            "items": [{"item_id": "new-2", "title": "Fresh", "year": 2026}],
        },
        headers=auth,
    )
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 2
    assert clients.cache.known_items(["new-1", "new-2"]) == [True, True]
    assert clients.cache.item_metadata(["new-2"])["new-2"]["title"] == "Fresh"
    bad = client.post("/add_items", json={"item_ids": ["bad id"]}, headers=auth)
    assert bad.status_code == 422


def test_cleanup_deletes_only_this_prefix_and_purges_only_this_queue(
    client, clients, settings, run_id
):
    neighbour_key = f"test:other-{run_id}:popular"
    clients.cache._client.set(neighbour_key, "must survive")
    clients.broker.publish([Event.new("u", "50", "like")])
    try:
        response = client.post("/cleanup", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert response.status_code == 200
        assert response.json()["purged_messages"] == 1
        assert response.json()["deleted_keys"] >= 2
        assert clients.cache.catalogue_size() == 0
        assert list(clients.cache._client.scan_iter(match=settings.key_prefix + "*")) == []
        assert clients.cache._client.get(neighbour_key) == "must survive"
        assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 0
    finally:
        clients.cache._client.delete(neighbour_key)


def test_redis_down_from_the_start_gives_an_empty_degraded_list(settings):
    broken = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    client = TestClient(create_app(broken))
    response = client.get("/recs/someone")
    assert response.status_code == 200
    assert response.json()["degraded"] is True
    assert response.json()["item_ids"] == []  # nothing kept yet: the process never saw Redis
    health = client.get("/healthcheck")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert client.get("/stats").status_code == 503


def test_healthcheck_and_model(client, clients):
    clients.cache.set_model_info({"version": "v1", "trained_at": "2026-11-30T10:00:00Z"})
    body = client.get("/healthcheck").json()
    assert body["status"] == "ok"
    assert body["dependencies"]["catalogue"]["size"] == 1664  # 18 duplicate films merged
    assert body["model"] == {"version": "v1", "trained_at": "2026-11-30T10:00:00Z"}
    assert client.get("/model").json()["model"]["version"] == "v1"


def test_mangum_handler_with_a_function_url_event(settings, clients, catalogue):
    clients.cache.set_popular(["50"])
    handler = Mangum(create_app(settings), lifespan="off")
    response = handler(load_event("function_url_get_recs.json"), LambdaContext())
    assert response["statusCode"] == 200, response
    assert '"item_ids":["50"' in response["body"]
    health = handler(load_event("function_url_get_healthcheck.json"), LambdaContext())
    assert health["statusCode"] == 200
