"""The grid follows the clicks: like 5 films of one genre on the page, and most
of the grid is then of that genre (issue 8's browser check)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recsys.adapters import movielens
from recsys.services.bootstrap import events_from_ratings
from recsys.training.baselines import Popularity
from recsys.training.data import Catalogue, build_interactions
from recsys.training.item2vec import Item2Vec
from recsys.training.publish import neighbour_lists
from recsys.training.taste import make_personas
from recsys.training.tuning import STARTING_POINT
from tests.e2e.browser import card_ids, is_interact_post, open_page
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

GENRE = "Sci-Fi"
# The train job's cold-start parameters: the page's behaviour is under test, not the tuning.
QUICK = STARTING_POINT


@pytest.fixture
def neighbours_published(stack: Stack, request: pytest.FixtureRequest) -> None:
    """Neighbour lists as the train job publishes them, from the MovieLens history."""
    data_dir = stack.settings.data_dir
    interactions = build_interactions(events_from_ratings(movielens.read_ratings(data_dir)))
    items = movielens.read_items(data_dir)
    catalogue = Catalogue(items)
    counts = Popularity(catalogue).fit(interactions.sequences).counts
    model = Item2Vec(catalogue, QUICK, seed=42, fallback_counts=counts)
    model.fit(interactions.sequences)
    genres = {item_id: meta["genres"] for item_id, meta in items.items()}
    lists = neighbour_lists(model, stack.settings.neighbours_top_m, genres)
    cache = stack.clients.cache
    cache.set_neighbours(lists)
    request.addfinalizer(lambda: cache.set_neighbours({key: [] for key in lists}))


def genre_share(stack: Stack, ids: list[str]) -> float:
    meta = stack.clients.cache.item_metadata(ids)
    return sum(GENRE in meta[i]["genres"] for i in ids) / len(ids)


def test_five_likes_of_one_genre_turn_most_of_the_grid_to_it(
    page: Any, stack: Stack, neighbours_published: None, artifacts_dir: Path
) -> None:
    open_page(page, stack.site_url)
    # The persona of `make evaluate`'s taste check: the genre's 5 most-liked films,
    # found with the page's search box and liked from the results, one click each.
    (persona,) = make_personas(
        movielens.read_ratings(stack.settings.data_dir),
        stack.clients.cache.item_metadata(stack.clients.cache.all_item_ids()),
        genres=[GENRE],
    )
    liked: list[str] = []
    search = page.get_by_role("searchbox", name="Search the catalogue")
    for target in persona.likes:
        title = stack.clients.cache.item_metadata([target])[target]["title"]
        with page.expect_response(lambda r: "/search?" in r.url):
            search.fill(title)
            page.keyboard.press("Enter")
        result = page.locator(f'#results-grid .card[data-item-id="{target}"]')
        with page.expect_response(lambda r: is_interact_post(r.request)) as response_info:
            result.locator(".btn--like").click()
        assert response_info.value.status == 200
        liked.append(target)

    page.wait_for_load_state("networkidle")  # the grid's own refreshes have settled
    body = open_page(page, stack.site_url)
    grid = card_ids(page)
    assert not set(liked) & set(grid)
    share = genre_share(stack, grid)
    page.screenshot(path=str(artifacts_dir / "e2e-taste-scifi.png"), full_page=True)
    assert share > 0.5, (
        share,
        [meta["title"] for meta in stack.clients.cache.item_metadata(grid).values()],
    )
    # Each "because" names one of the likes.
    assert {e["because"] for e in body["items"] if e.get("because")} <= set(liked)
