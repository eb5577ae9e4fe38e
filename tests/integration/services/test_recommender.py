"""recsys.services.recommender on the real Redis: what it reads, and how often it asks."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from recsys.adapters.serving_cache import AsyncServingCache, ServingCache
from recsys.services.recommender import RecsResult, recommend, recommend_async

pytestmark = pytest.mark.integration


class RoundTripCounter:
    """A Redis client wrapper that counts round trips: commands and pipeline executes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.round_trips = 0

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        pipe = self.inner.pipeline(*args, **kwargs)
        execute = pipe.execute

        def counted_execute(*a: Any, **k: Any) -> Any:
            self.round_trips += 1
            return execute(*a, **k)

        pipe.execute = counted_execute
        return pipe

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def counted(*a: Any, **k: Any) -> Any:
            self.round_trips += 1
            return attribute(*a, **k)

        return counted


@pytest.mark.parametrize("user", ["brand-new", "regular"])
def test_a_request_costs_two_round_trips(clients, settings, catalogue, user):
    cache = clients.cache
    cache.set_popular(catalogue[:50])
    cache.set_personal({"regular": catalogue[100:130]})
    cache.set_neighbours({item: catalogue[200:220] for item in catalogue[:3]})
    cache.record_interactions([("regular", item, "like") for item in catalogue[:3]], 50)

    counter = RoundTripCounter(cache._client)
    counted: Any = counter  # quacks like redis.Redis
    result = recommend(
        user, 12, cache=ServingCache(counted, cache.prefix), settings=settings, exploration_rate=0.2
    )
    assert counter.round_trips == 2
    assert len(result.item_ids) == 12
    if user == "regular":
        assert {"personal", "realtime"} <= set(result.sources)
        assert not set(catalogue[:3]) & set(result.item_ids)
    else:
        assert "popular" in result.sources


def test_reads_only_the_heads_of_long_lists(clients, settings, catalogue):
    cache = clients.cache
    cache.set_popular(catalogue[:200])
    cache.set_personal({"regular": catalogue[200:300]})
    result = recommend("regular", 12, cache=cache, settings=settings, exploration_rate=0.0)
    assert result.item_ids == catalogue[200:212]
    view = cache.read_user_view("regular", recent_likes=10, personal=32, popular=32)
    assert len(view.personal) == len(view.popular) == 32


def test_a_user_who_rated_the_popular_head_gets_a_top_up_round_trip(clients, settings, catalogue):
    cache = clients.cache
    cache.set_popular(catalogue[:200])
    # Rated the whole head /recs reads (2n + 8 = 32 items) and then some.
    cache.record_interactions([("fan", item, "dislike") for item in catalogue[:40]], 50)
    counter = RoundTripCounter(cache._client)
    counted: Any = counter
    result = recommend(
        "fan",
        12,
        cache=ServingCache(counted, cache.prefix),
        settings=settings,
        exploration_rate=0.0,
    )
    assert counter.round_trips == 3
    assert result.item_ids == catalogue[40:52]
    assert set(result.sources) == {"popular"}


def test_the_async_recommender_reads_and_ranks_like_the_blocking_one(clients, settings, catalogue):
    cache = clients.cache
    cache.set_popular(catalogue[:50])
    cache.set_personal({"regular": catalogue[100:130]})
    cache.set_neighbours({item: catalogue[200:220] for item in catalogue[:3]})
    cache.record_interactions([("regular", item, "like") for item in catalogue[:3]], 50)

    async def async_result() -> RecsResult:
        async_cache = AsyncServingCache(settings)
        try:
            return await recommend_async(
                "regular",
                12,
                cache=async_cache,
                settings=settings,
                rng=random.Random(7),
                exploration_rate=0,
            )
        finally:
            await async_cache.aclose()

    expected = recommend(
        "regular", 12, cache=cache, settings=settings, rng=random.Random(7), exploration_rate=0
    )
    got = asyncio.run(async_result())
    # Same reads and seed, no exploration: the same list but for Redis' random sample.
    assert [r for r in got.recommendations if r.source != "random"] == [
        r for r in expected.recommendations if r.source != "random"
    ]
    assert got.rated_count == expected.rated_count == 3
