"""ServingCache methods not covered through the functions and jobs."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import Any

import pytest
import redis

from recsys.adapters.serving_cache import AsyncServingCache, CacheUnavailable
from recsys.clients import Clients
from recsys.settings import Settings
from tests.faults import Mode, fault_proxy


def test_memory_usage_counts_each_kind_of_key(clients: Clients) -> None:
    cache = clients.cache
    cache.set_popular(["1", "2", "3"])
    cache.set_personal({"u1": ["1", "2"], "u2": ["3"]})
    usage = cache.memory_usage("popular", "personal", "neighbours")
    assert usage["popular"][0] == 1 and usage["popular"][1] > 0
    assert usage["personal"][0] == 2 and usage["personal"][1] > usage["popular"][1]
    assert usage["neighbours"] == (0, 0)


def test_a_value_redis_cannot_send_is_a_bug_not_an_outage(clients: Clients) -> None:
    # A 503 would hide it as "Redis is down" and send callers to their fallbacks.
    with pytest.raises(redis.DataError):
        clients.cache.known_items([None])  # type: ignore[list-item]


def test_the_async_cache_reads_and_writes_what_the_blocking_one_does(
    clients: Clients, settings: Settings, catalogue: list[str]
) -> None:
    blocking = clients.cache
    blocking.set_popular(catalogue[:30])
    blocking.set_personal({"u1": catalogue[40:60]})
    blocking.set_neighbours({catalogue[0]: catalogue[100:110]})
    blocking.set_aliases({"dup-1": catalogue[0]})

    async def scenario() -> None:
        cache = AsyncServingCache(settings, user_state_ttl_s=600)
        try:
            await cache.record_interactions(
                [("u1", catalogue[0], "like"), ("u1", catalogue[1], "dislike")], keep_likes=50
            )
            assert await cache.ping() is True
            assert await cache.canonical_items([catalogue[2], "dup-1", "nope"]) == (
                blocking.canonical_items([catalogue[2], "dup-1", "nope"])
            )
            assert await cache.popular(5) == blocking.popular(5)
            view = await cache.read_user_view("u1", recent_likes=3, personal=10, popular=10)
            assert view == blocking.read_user_view("u1", recent_likes=3, personal=10, popular=10)
            assert view.seen == {catalogue[0], catalogue[1]}
            pool, neighbours = await cache.read_candidates(
                [catalogue[0]], per_seed=5, random_draw=3
            )
            assert len(pool) == 3 and neighbours == [catalogue[100:105]]
            top_up = await cache.read_top_up(popular_from=10, popular=5, random_draw=2)
            assert top_up.popular == catalogue[10:15] and len(top_up.random_pool) == 2
            first = await cache.remember_idempotency_key("u1", "key-0001", "fp", 1.5, 60)
            again = await cache.remember_idempotency_key("u1", "key-0001", "other", 9.0, 60)
            assert first == again == ("fp", 1.5)
        finally:
            await cache.aclose()

    asyncio.run(scenario())
    assert 0 < blocking.user_state_ttls("u1")["seen"] <= 600
    # A new event loop (Mangum, test clients): the cache opens a client on it.
    asyncio.run(scenario())


@pytest.mark.parametrize("mode", ["hung", "down"])
def test_the_async_cache_gives_cache_unavailable_within_its_deadline(
    settings: Settings, mode: Mode
) -> None:
    with fault_proxy("127.0.0.1", 6379) as proxy:
        proxied = settings.model_copy(update={"redis_url": proxy.url("redis", path="/0")})

        async def scenario() -> float:
            cache = AsyncServingCache(proxied, timeout_s=0.3)
            await cache.ping()
            proxy.set_mode(mode)
            started = time.monotonic()
            with pytest.raises(CacheUnavailable):
                await cache.read_user_view("u1", recent_likes=3, personal=10, popular=10)
            elapsed = time.monotonic() - started
            proxy.set_mode("pass")
            # The connection cut by the deadline is not reused half-read.
            assert (
                await cache.read_user_view("u1", recent_likes=1, personal=1, popular=1)
            ).seen == set()
            await cache.aclose()
            return elapsed

        assert asyncio.run(scenario()) < 1.0


def test_a_batch_of_interactions_ends_as_the_same_events_applied_one_by_one(
    clients: Clients,
) -> None:
    cache = clients.cache
    rng = random.Random(11)
    for round_ in range(20):
        events = [
            (f"u{rng.randrange(3)}-{round_}", str(rng.randrange(8)), rng.choice(ACTIONS))
            for _ in range(rng.randrange(1, 30))
        ]
        users = {user for user, _, _ in events}
        cache.record_interactions(events, keep_likes=5)
        batched = {
            u: (
                cache.seen_items(u),
                cache.read_user_view(u, recent_likes=10, personal=1, popular=1).recent_likes,
            )
            for u in users
        }
        for user, item, action in events:
            cache.record_interactions([(f"{user}-one", item, action)], keep_likes=5)
        one_by_one = {
            u: (
                cache.seen_items(f"{u}-one"),
                cache.read_user_view(
                    f"{u}-one", recent_likes=10, personal=1, popular=1
                ).recent_likes,
            )
            for u in users
        }
        assert batched == one_by_one, events


ACTIONS = ["like", "like", "dislike", "remove"]


def test_calls_of_one_loop_turn_share_one_write_and_each_gets_its_own_replies(
    clients: Clients, settings: Settings, catalogue: list[str]
) -> None:
    blocking = clients.cache
    requests = [[catalogue[i], catalogue[i + 1], "no-such-film"] for i in range(0, 40, 2)]
    expected = [blocking.canonical_items(ids) for ids in requests]

    async def scenario() -> tuple[list[list[str | None]], int]:
        cache = AsyncServingCache(settings)
        batches = 0
        on_a_connection = cache._on_a_connection

        async def counted(commands: Sequence[tuple[Any, ...]]) -> list[Any]:
            nonlocal batches
            batches += 1
            return await on_a_connection(commands)

        cache._on_a_connection = counted  # type: ignore[method-assign]
        answers = await asyncio.gather(*(cache.canonical_items(ids) for ids in requests))
        await cache.aclose()
        return list(answers), batches

    answers, batches = asyncio.run(scenario())
    assert answers == expected
    assert batches == 1


def test_an_error_reply_fails_only_the_call_that_sent_it(
    clients: Clients, settings: Settings
) -> None:
    not_a_list = settings.key_prefix + "not-a-list"
    clients.cache._client.set(not_a_list, "text")

    async def scenario() -> list[object]:
        cache = AsyncServingCache(settings)
        outcomes = await asyncio.gather(
            cache.ping(),
            cache._execute([("PING",), ("LRANGE", not_a_list, 0, -1), ("PING",)]),
            cache.popular(),
            return_exceptions=True,
        )
        # The connection read every reply, so the next call gets its own.
        outcomes.append(await cache.ping())
        await cache.aclose()
        return outcomes

    first, failed, popular, after = asyncio.run(scenario())
    assert first is True and popular == [] and after is True
    assert isinstance(failed, redis.ResponseError) and "WRONGTYPE" in str(failed)


def test_a_returning_user_gets_rated_films_and_older_likes_back(clients: Clients) -> None:
    cache = clients.cache
    cache.user_state_ttl_s = 3600
    t = 1_700_000_000.0
    cache.apply_votes(
        [
            ("back", "1", t, "e1", "like"),
            ("back", "2", t + 1, "e2", "dislike"),
            ("back", "3", t + 2, "e3", "like"),
            ("back", "4", t + 3, "e4", "like"),
            ("back", "4", t + 4, "e5", "remove"),  # taken back: stays unrated
        ],
        half_life_s=3600,
    )
    # The keys expired while the user was away; back, they like film 5.
    cache.record_interactions([("back", "5", "like")], keep_likes=3)

    assert cache.restore_returning_users(["back", "back"], keep_likes=3) == 1
    assert cache.seen_items("back") == {"1", "2", "3", "5"}
    # The like since the return first, then the older ones, newest first, up to 3.
    assert cache._client.lrange(cache.likes_key("back"), 0, -1) == ["5", "3", "1"]
    assert 3500 < cache.user_state_ttls("back")["seen"] <= 3600

    # Idempotent: read again (the removed film keeps the aggregates ahead), same state.
    cache.restore_returning_users(["back"], keep_likes=3)
    assert cache.seen_items("back") == {"1", "2", "3", "5"}
    assert cache._client.lrange(cache.likes_key("back"), 0, -1) == ["5", "3", "1"]


def test_users_whose_seen_set_is_complete_are_not_read(clients: Clients) -> None:
    cache = clients.cache
    cache.apply_votes([("steady", "1", 1_700_000_000.0, "e1", "like")], half_life_s=3600)
    cache.record_interactions([("steady", "1", "like")], keep_likes=3)
    assert cache.restore_returning_users(["steady", "new-user"], keep_likes=3) == 0
    assert cache.seen_items("new-user") == set()
