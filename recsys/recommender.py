"""Core of GET /recs/{user_id}: two Redis round trips, then pure ranking.

Round trip 1 (one pipeline): the user's rated items, recent likes and personal
list, and the popular list.
Round trip 2: a random sample of the catalogue (its size depends on how many
items the user rated) and the neighbour lists of the most recent likes, for
the real-time part of the personalised tier.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import redis

from recsys.errors import DependencyUnavailable
from recsys.ranking import Recommendation, blend, interleave_realtime
from recsys.settings import Settings
from recsys.store import Store

# Random candidates to draw beyond n: enough to fill the list after removing
# rated items, without reading the whole catalogue for a heavy user.
RANDOM_HEADROOM = 2
RANDOM_MAX_DRAW = 5000


@dataclass(frozen=True)
class RecsResult:
    user_id: str
    recommendations: list[Recommendation]
    rated_count: int
    sources: dict[str, int] = field(default_factory=dict)

    @property
    def item_ids(self) -> list[str]:
        return [rec.item_id for rec in self.recommendations]


def recommend(
    user_id: str,
    n: int,
    *,
    store: Store,
    settings: Settings,
    rng: random.Random | None = None,
    exploration_rate: float | None = None,
) -> RecsResult:
    rate = settings.exploration_rate if exploration_rate is None else exploration_rate
    try:
        pipe = store.r.pipeline(transaction=False)
        pipe.smembers(store.seen_key(user_id))
        # LRANGE 0 -1 would read the whole list, so ask for at least one and slice.
        pipe.lrange(store.likes_key(user_id), 0, max(settings.realtime_seed_likes, 1) - 1)
        pipe.lrange(store.personal_key(user_id), 0, settings.personal_top_n - 1)
        pipe.lrange(store.popular_key, 0, settings.popular_top_n - 1)
        seen, recent_likes, personal, popular = pipe.execute()
        # The random draw size depends on how much the user has rated, so it
        # goes into the second round trip with the neighbour lists.
        draw = min(RANDOM_MAX_DRAW, n * (RANDOM_HEADROOM + 1) + len(seen))
        pipe = store.r.pipeline(transaction=False)
        pipe.srandmember(store.catalogue_ids_key, draw)
        seeds = list(recent_likes)[: settings.realtime_seed_likes]
        for item_id in seeds:
            pipe.lrange(store.neighbours_key(item_id), 0, settings.neighbours_top_m - 1)
        random_pool, *neighbour_lists = pipe.execute()
    except redis.RedisError as exc:
        raise DependencyUnavailable("redis", str(exc)) from exc

    recs = blend(
        n,
        personal=personal,
        realtime=interleave_realtime(seeds, neighbour_lists),
        popular=popular,
        random_pool=random_pool,
        exclude=seen,
        exploration_rate=rate,
        rng=rng,
    )
    counts: dict[str, int] = {}
    for rec in recs:
        counts[rec.source] = counts.get(rec.source, 0) + 1
    return RecsResult(user_id, recs, rated_count=len(seen), sources=counts)
