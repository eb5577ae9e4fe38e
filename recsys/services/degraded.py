"""Reads that survive Redis: GET /recs answers even when Redis is down or hung.

``ResilientRecs`` wraps ``recommender.recommend``.  Redis is asked with a
short deadline (``recs_redis_timeout_s``, a ServingCache built for reads).  When it
fails, the answer is a *degraded* list: the popular list this process kept
from the last time Redis answered (refreshed at most every
``refresh_every_s``), marked ``degraded=True``.  After a failure Redis is
skipped for ``recs_retry_after_s``, so a hung Redis costs one request one
deadline, not every request.

What a degraded list cannot do: it does not know what the user rated (the
seen set lives in Redis), so it may show a film the user already rated.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recsys.adapters.serving_cache import AsyncServingCache, CacheUnavailable, ServingCache
from recsys.domain.errors import DependencyUnavailable
from recsys.services import recommender
from recsys.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecsAnswer:
    item_ids: list[str]
    items: list[dict[str, Any]]
    sources: dict[str, int]
    degraded: bool = False
    reason: str | None = field(default=None, compare=False)


class ResilientRecs:
    def __init__(
        self,
        cache: ServingCache,
        settings: Settings,
        *,
        refresh_every_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        async_cache: AsyncServingCache | None = None,
    ) -> None:
        self.cache = cache
        # The same reads on the asyncio client, for async endpoints (recommend_async).
        self.async_cache = async_cache
        self.settings = settings
        self.refresh_every_s = refresh_every_s
        self.clock = clock
        self.popular: list[str] = []
        self._refreshed_at: float | None = None
        self._skip_until = 0.0
        self._lock = threading.Lock()

    @property
    def redis_suspect(self) -> bool:
        """True while Redis is being skipped after a failure."""
        return self.clock() < self._skip_until

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self._skip_until = self.clock() + self.settings.recs_retry_after_s
        log.warning("Redis failed for /recs, serving the degraded list: %s", exc)

    def refresh_popular(self) -> None:
        """Copy the popular list into the process (raises when Redis fails)."""
        self._kept(self.cache.popular(self.settings.max_recs))

    def _kept(self, popular: list[str]) -> None:
        with self._lock:
            self.popular = popular
            self._refreshed_at = self.clock()

    def _stale(self) -> bool:
        refreshed = self._refreshed_at
        return refreshed is None or self.clock() - refreshed >= self.refresh_every_s

    def _refresh_if_stale(self) -> None:
        if not self._stale():
            return
        try:
            self.refresh_popular()
        except CacheUnavailable as exc:
            self._failed(exc)

    def degraded(self, n: int, reason: str) -> RecsAnswer:
        item_ids = self.popular[:n]
        return RecsAnswer(
            item_ids=item_ids,
            items=[{"item_id": item_id, "source": "popular"} for item_id in item_ids],
            sources={"popular": len(item_ids)} if item_ids else {},
            degraded=True,
            reason=reason,
        )

    def recommend(self, user_id: str, n: int) -> RecsAnswer:
        if self.redis_suspect:
            return self.degraded(n, "redis skipped after a recent failure")
        try:
            result = recommender.recommend(user_id, n, cache=self.cache, settings=self.settings)
        except DependencyUnavailable as exc:
            self._failed(exc)
            return self.degraded(n, "redis failed")
        self._refresh_if_stale()
        return self._answer(result)

    @staticmethod
    def _answer(result: recommender.RecsResult) -> RecsAnswer:
        return RecsAnswer(
            item_ids=result.item_ids,
            items=[rec.as_dict() for rec in result.recommendations],
            sources=result.sources,
        )

    async def recommend_async(self, user_id: str, n: int) -> RecsAnswer:
        """``recommend`` on the asyncio cache (raises if none was given)."""
        cache = self.async_cache
        if cache is None:
            raise RuntimeError("ResilientRecs was built without an async_cache")
        if self.redis_suspect:
            return self.degraded(n, "redis skipped after a recent failure")
        try:
            result = await recommender.recommend_async(
                user_id, n, cache=cache, settings=self.settings
            )
        except DependencyUnavailable as exc:
            self._failed(exc)
            return self.degraded(n, "redis failed")
        if self._stale():
            try:
                self._kept(await cache.popular(self.settings.max_recs))
            except CacheUnavailable as exc:
                self._failed(exc)
        return self._answer(result)
