"""The serving cache's error boundary: whatever redis-py raises leaves it as one error type."""

from __future__ import annotations

import socket

import pytest
import redis

from recsys.adapters.serving_cache import CacheUnavailable, ServingCache
from recsys.domain.errors import DependencyUnavailable


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unreachable_store() -> ServingCache:
    client = redis.Redis(
        port=_closed_port(), socket_connect_timeout=0.5, socket_timeout=0.5, decode_responses=True
    )
    return ServingCache(client, "test:unreachable:")


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.ping(),
        lambda s: s.popular(5),
        lambda s: s.known_items(["1"]),
        lambda s: s.flag("anything"),
        lambda s: s.record_interactions([("u", "1", "like")], keep_likes=5),
    ],
)
def test_every_store_call_raises_cache_unavailable(unreachable_store: ServingCache, call) -> None:
    with pytest.raises(CacheUnavailable) as caught:
        call(unreachable_store)
    # One type for callers that answer 503 (or fall back): no redis-py type leaks out.
    assert isinstance(caught.value, DependencyUnavailable)
    assert not isinstance(caught.value, redis.RedisError)
    assert caught.value.dependency == "redis"


def test_key_names_need_no_connection(unreachable_store: ServingCache) -> None:
    assert unreachable_store.seen_key("u1") == "test:unreachable:seen:u1"
