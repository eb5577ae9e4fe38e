"""GET /recs survives Redis: a degraded list from the process, within 1 s, marked degraded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI

from functions.recs.app import create_app
from recsys.settings import Settings
from tests.faults import FaultProxy, fault_proxy, serving

pytestmark = pytest.mark.integration

POPULAR = ["50", "100", "181", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]


@pytest.fixture
def redis_proxy() -> Iterator[FaultProxy]:
    with fault_proxy("127.0.0.1", 6379) as proxy:
        yield proxy


@pytest.fixture
def proxied_app(settings, clients, catalogue, redis_proxy) -> Iterator[FastAPI]:
    clients.cache.set_popular(POPULAR)
    shipped_deadline = Settings.model_fields["recs_redis_timeout_s"].default
    app = create_app(
        settings.model_copy(
            update={
                "redis_url": redis_proxy.url("redis", path="/0"),
                "recs_redis_timeout_s": shipped_deadline,
            }
        )
    )
    yield app
    app.state.clients.close()


def timed_get(http: httpx.Client, path: str) -> tuple[int, float, dict]:
    started = time.monotonic()
    response = http.get(path)
    return response.status_code, time.monotonic() - started, response.json()


@pytest.mark.parametrize("mode", ["hung", "down"])
def test_with_redis_failing_50_recs_answer_200_within_1s_degraded(proxied_app, redis_proxy, mode):
    with serving(proxied_app) as url, httpx.Client(base_url=url, timeout=10) as http:
        warm = http.get("/recs/alice", params={"n": 12}).json()
        assert warm["degraded"] is False
        redis_proxy.set_mode(mode)
        with ThreadPoolExecutor(10) as pool:
            results = list(pool.map(lambda i: timed_get(http, f"/recs/user-{i}?n=12"), range(50)))
        statuses = [status for status, _, _ in results]
        slowest = max(elapsed for _, elapsed, _ in results)
        assert statuses == [200] * 50
        assert slowest < 1.0, f"slowest /recs took {slowest:.2f} s"
        for _, _, body in results:
            assert body["degraded"] is True
            assert body["item_ids"] == POPULAR[:12]
            assert {item["source"] for item in body["items"]} == {"popular"}

        status, elapsed, health = timed_get(http, "/healthcheck")
        assert status == 200 and elapsed < 2.0
        assert health["status"] == "degraded" and health["degraded"] is True
        assert health["dependencies"]["redis"]["ok"] is False
        assert "127.0.0.1" not in str(health)

        # Redis back: the next requests are personal again, after the retry pause.
        redis_proxy.set_mode("pass")
        deadline = time.monotonic() + 10
        body = {"degraded": True}
        while body["degraded"] and time.monotonic() < deadline:
            time.sleep(0.2)
            body = http.get("/recs/alice").json()
        assert body["degraded"] is False
        assert http.get("/healthcheck").json()["status"] == "ok"


def test_the_kept_popular_list_follows_redis_while_it_answers(
    proxied_app, redis_proxy, clients, settings
):
    resilient = proxied_app.state.resilient_recs
    resilient.refresh_every_s = 0.0
    with serving(proxied_app) as url, httpx.Client(base_url=url, timeout=10) as http:
        http.get("/recs/alice")
        clients.cache.set_popular(["1682", "1681"])
        http.get("/recs/alice")
        redis_proxy.set_mode("hung")
        body = http.get("/recs/bob", params={"n": 5}).json()
    assert body["degraded"] is True
    assert body["item_ids"] == ["1682", "1681"]
