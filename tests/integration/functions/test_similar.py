"""GET /items/{id}/similar, one card per film, and no cold window, on the real Redis."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from functions.interact.app import create_app as create_interact_app
from functions.recs.app import create_app as create_recs_app
from recsys.adapters import movielens
from recsys.clients import Clients
from recsys.services.catalogue import load_movielens
from recsys.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def loaded(settings: Settings, clients: Clients) -> Settings:
    """The catalogue as the loader writes it: merged duplicates, aliases, prior popular list."""
    load_movielens(clients.cache, settings.data_dir)
    return settings


@pytest.fixture
def recs(loaded: Settings) -> TestClient:
    return TestClient(create_recs_app(loaded))


def film_keys(clients: Clients, ids: list[str]) -> list[tuple[str, object]]:
    meta = clients.cache.item_metadata(ids)
    return [movielens.film_key(meta[i]) for i in ids]


def test_similar_answers_the_published_neighbours_first(recs, clients):
    clients.cache.set_neighbours({"50": ["172", "181", "50", "172", "1"]})
    body = recs.get("/items/50/similar", params={"n": 12}).json()
    assert body["item_id"] == "50"
    assert body["item_ids"][:3] == ["172", "181", "1"]
    assert body["items"][0] == {"item_id": "172", "source": "similar"}
    assert "50" not in body["item_ids"]
    assert len(body["item_ids"]) == len(set(body["item_ids"])) <= 12


def test_similar_without_a_model_fills_with_popular_films_of_the_same_kind(recs, clients):
    body = recs.get("/items/50/similar", params={"n": 12}).json()  # Star Wars: Sci-Fi, Action...
    assert len(body["item_ids"]) == 12
    assert "50" not in body["item_ids"]
    star_wars = set(clients.cache.item_metadata(["50"])["50"]["genres"]) - {"Drama", "Comedy"}
    for meta in clients.cache.item_metadata(body["item_ids"]).values():
        assert star_wars & set(meta["genres"])
    keys = film_keys(clients, body["item_ids"])
    assert len(keys) == len(set(keys))


def test_similar_of_an_unknown_item_is_404_and_a_bad_id_422(recs):
    response = recs.get("/items/no-such-film/similar")
    assert response.status_code == 404
    assert "no-such-film" in response.json()["detail"]
    assert recs.get("/items/bad id!/similar").status_code == 422
    assert recs.get("/items/50/similar", params={"n": 0}).status_code == 422


def test_a_duplicate_id_answers_for_its_film(recs, clients):
    # 268 is MovieLens' second copy of Chasing Amy (246).
    clients.cache.set_neighbours({"246": ["1", "2"]})
    body = recs.get("/items/268/similar", params={"n": 2}).json()
    assert body["item_ids"] == ["1", "2"]


def test_duplicate_films_are_one_card(loaded, clients):
    cache = clients.cache
    assert cache.catalogue_size() == 1664
    assert cache.known_items(["246", "268"]) == [True, False]
    assert cache.canonical_items(["246", "268", "nope"]) == ["246", "246", None]
    # Every film of the catalogue once: /recs can never show one film twice.
    everything = cache.all_item_ids()
    keys = film_keys(clients, everything)
    assert len(keys) == len(set(keys))
    assert all("unknown" not in m["genres"] for m in cache.item_metadata(everything).values())


def test_no_cold_window_before_the_first_popularity_run(recs, clients):
    body = recs.get("/recs/first-visitor", params={"n": 12}).json()
    assert body["sources"].get("popular", 0) >= 10  # exploration may take a slot or two
    assert body["item_ids"][0] == clients.cache.popular_prior(1)[0]
    # The most-liked films of the history, not random obscure ones: Star Wars leads.
    assert clients.cache.popular_prior(1) == ["50"]


def test_the_published_popular_list_replaces_the_prior(recs, clients):
    clients.cache.set_popular(["181", "1"])
    body = recs.get("/recs/second-visitor", params={"n": 2}).json()
    assert set(body["item_ids"]) <= {"181", "1"} | set(clients.cache.all_item_ids())
    assert body["items"][0] == {"item_id": "181", "source": "popular"}


def test_interact_with_a_duplicate_id_is_accepted(loaded, clients):
    interact = TestClient(create_interact_app(loaded))
    response = interact.post(
        "/interact", json={"user_id": "amy-fan", "item_ids": ["268"], "actions": ["like"]}
    )
    assert response.status_code == 200, response.text
    assert clients.cache.seen_items("amy-fan") == {"246"}
