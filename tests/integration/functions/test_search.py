"""GET /search on recs, against the real Redis and the MovieLens catalogue."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from functions.recs.app import create_app
from recsys.clients import Clients
from recsys.settings import Settings
from tests.support import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def client(settings: Settings, clients: Clients, catalogue: list[str]) -> TestClient:
    return TestClient(create_app(settings))


def search(client: TestClient, q: str, n: int = 12) -> dict:
    response = client.get("/search", params={"q": q, "n": n})
    assert response.status_code == 200, response.text
    return response.json()


def titles(body: dict) -> list[str]:
    return [item["title"] for item in body["items"]]


def test_title_prefix_finds_the_film_with_its_card_fields(client):
    body = search(client, "star wa")
    assert body["query"] == "star wa"
    assert body["items"][0] == {
        "item_id": "50",
        "title": "Star Wars",
        "year": 1977,
        "genres": ["Action", "Adventure", "Romance", "Sci-Fi", "War"],
    }
    assert body["item_ids"] == [item["item_id"] for item in body["items"]]


def test_words_in_any_order_case_and_accents_are_folded(client):
    # "Misérables, Les" (1995) is item 1423 in MovieLens-100K; typed without accents.
    body = search(client, "MISERABLES")
    assert "Misérables, Les" in titles(body)
    assert search(client, "les misérables")["item_ids"] == body["item_ids"]
    # Every word must match: "usual" and "suspects" intersect to one film.
    assert titles(search(client, "suspects usual")) == ["Usual Suspects, The"]
    # The article moved to the end by MovieLens is found at the front too.
    assert search(client, "the usual sus")["item_ids"] == search(client, "usual")["item_ids"]


def test_titles_that_start_with_the_query_come_first_then_popular(client, clients):
    body = search(client, "toy", n=50)
    assert titles(body)[0] == "Toy Story"
    every = set(body["item_ids"])
    clients.cache.set_popular([i for i in body["item_ids"] if i != "1"][::-1])
    reranked = search(client, "toy", n=50)
    assert reranked["item_ids"][0] == "1"  # still first: its title starts with "toy"
    assert set(reranked["item_ids"]) == every


def test_no_match_is_an_empty_list_and_n_caps_the_answer(client):
    assert search(client, "zzzqqq") == {"query": "zzzqqq", "item_ids": [], "items": []}
    assert search(client, "?!") == {"query": "?!", "item_ids": [], "items": []}
    assert len(search(client, "the", n=5)["items"]) == 5


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"q": ""}, "q must not be empty"),
        ({"q": "   "}, "q must not be empty"),
        ({"q": "x" * 101}, "at most 100 characters"),
        ({"q": "x" * 1001}, "at most 1000 characters"),
        ({}, "Field required"),
        ({"q": "star", "n": 0}, "greater than or equal to 1"),
        ({"q": "star", "n": 51}, "less than or equal to 50"),
    ],
)
def test_bad_queries_are_422_with_a_reason(client, params, reason):
    response = client.get("/search", params=params)
    assert response.status_code == 422
    assert reason in response.text


def test_a_catalogue_loaded_before_the_index_existed_is_indexed_on_first_search(client, clients):
    cache = clients.cache
    cache._client.delete(cache.search_key)
    assert search(client, "star wars")["item_ids"][0] == "50"
    assert cache._client.zcard(cache.search_key) > 1682


def test_a_renamed_item_is_found_by_its_new_title_only(client, clients):
    clients.cache.add_items({"5000": {"title": "Old Name", "year": 2001, "genres": []}})
    clients.cache.add_items({"5000": {"title": "Brand New", "year": 2001, "genres": []}})
    assert search(client, "brand new")["item_ids"] == ["5000"]
    assert "5000" not in search(client, "old name")["item_ids"]


def test_redis_down_is_a_503(settings):
    broken = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    response = TestClient(create_app(broken)).get("/search", params={"q": "star"})
    assert response.status_code == 503
    assert response.json()["dependency"] == "redis"
