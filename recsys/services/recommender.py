"""Core of GET /recs/{user_id}: two Redis round trips, then pure ranking.

Round trip 1 (one pipeline): the user's rated items, recent likes, the head of
their personal list and of the popular list.
Round trip 2: the heads of the neighbour lists of the recent likes and a
small random sample of the catalogue (exploration, and the last resort).

Each read asks for what can fill n after filtering, not for whole lists:
personal and popular heads of about 2n, per like as many neighbours as n.  If
filtering out rated items leaves fewer than n (a user who rated much of the
popular list), a third round trip reads further down the popular list and a
larger random sample.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from recsys.adapters.serving_cache import (
    AsyncServingCache,
    Plan,
    ServingCache,
    TopUp,
    UserView,
    run_plan,
    run_plan_async,
)
from recsys.domain.ranking import Recommendation, blend, exploration_slots, score_realtime
from recsys.settings import Settings

# Candidates read beyond n from each ranked list, so that filtering rarely
# leaves a hole (personal lists already exclude what was rated before training).
HEAD_FACTOR = 2
HEAD_EXTRA = 8
RANDOM_EXTRA = 4
TOP_UP_RANDOM_MAX = 5000


@dataclass(frozen=True)
class RecsResult:
    user_id: str
    recommendations: list[Recommendation]
    rated_count: int
    sources: dict[str, int] = field(default_factory=dict)

    @property
    def item_ids(self) -> list[str]:
        return [rec.item_id for rec in self.recommendations]


def head_size(n: int) -> int:
    return HEAD_FACTOR * n + HEAD_EXTRA


def recommend(
    user_id: str,
    n: int,
    *,
    cache: ServingCache,
    settings: Settings,
    rng: random.Random | None = None,
    exploration_rate: float | None = None,
) -> RecsResult:
    return run_plan(cache, _recommend_plan(user_id, n, settings, rng, exploration_rate))


async def recommend_async(
    user_id: str,
    n: int,
    *,
    cache: AsyncServingCache,
    settings: Settings,
    rng: random.Random | None = None,
    exploration_rate: float | None = None,
) -> RecsResult:
    """``recommend`` on the asyncio cache: the same reads and ranking."""
    return await run_plan_async(cache, _recommend_plan(user_id, n, settings, rng, exploration_rate))


def _recommend_plan(
    user_id: str,
    n: int,
    settings: Settings,
    rng: random.Random | None,
    exploration_rate: float | None,
) -> Plan[RecsResult]:
    rng = rng or random.Random()
    rate = settings.exploration_rate if exploration_rate is None else exploration_rate
    # Drawn before reading, so the random sample is sized for it.
    n_explore = exploration_slots(n, rate, rng)
    head = min(head_size(n), max(settings.personal_top_n, settings.popular_top_n))
    view: UserView = yield (
        "read_user_view",
        {
            "user_id": user_id,
            "recent_likes": settings.realtime_seed_likes,
            "personal": min(head, settings.personal_top_n),
            "popular": min(head, settings.popular_top_n),
        },
    )
    seeds = view.recent_likes
    # Random items explore, and fill only when nothing ranked is left: a
    # small sample, unless there is no popular list at all to fall back on.
    draw = 2 * n_explore + RANDOM_EXTRA
    if not view.popular:
        draw = min(TOP_UP_RANDOM_MAX, draw + n + len(view.seen))
    random_pool, neighbour_lists = yield (
        "read_candidates",
        {"seeds": seeds, "per_seed": min(n, settings.neighbours_top_m), "random_draw": draw},
    )
    realtime = score_realtime(seeds, neighbour_lists, decay=settings.realtime_decay)

    def rank(popular: list[str], pool: list[str]) -> list[Recommendation]:
        return blend(
            n,
            personal=view.personal,
            realtime=realtime,
            popular=popular,
            random_pool=pool,
            exclude=view.seen,
            explore_slots=n_explore,
            realtime_share=settings.realtime_share,
            rng=random.Random(rng.random()),
        )

    recs = rank(view.popular, random_pool)
    if len(recs) < n:
        # Filtering removed too much: read further, once.
        top_up: TopUp = yield (
            "read_top_up",
            {
                "popular_from": len(view.popular),
                "popular": max(settings.popular_top_n - len(view.popular), 0),
                "random_draw": min(TOP_UP_RANDOM_MAX, 3 * n + len(view.seen)),
            },
        )
        recs = rank(view.popular + top_up.popular, random_pool + top_up.random_pool)

    counts: dict[str, int] = {}
    for rec in recs:
        counts[rec.source] = counts.get(rec.source, 0) + 1
    return RecsResult(user_id, recs, rated_count=len(view.seen), sources=counts)


def similar(item_id: str, n: int, *, cache: ServingCache, settings: Settings) -> list[str] | None:
    """Films that resemble item_id, most similar first; None if the catalogue lacks it.

    The trained neighbour list (cosine, genre-checked) comes first; when it is
    short or missing (no model yet, or a film few people liked), popular films
    of the same kind fill up.  Never the film itself, never twice the same film.
    """
    (canonical,) = cache.canonical_items([item_id])
    if canonical is None:
        return None
    chosen = [i for i in cache.neighbours(canonical, settings.neighbours_top_m) if i != canonical]
    chosen = list(dict.fromkeys(chosen))[:n]
    if len(chosen) < n:
        popular = cache.popular(settings.popular_top_n) or cache.popular_prior(
            settings.popular_top_n
        )
        meta = cache.item_metadata([canonical, *popular])
        film = (meta.get(canonical) or {}).get("genres") or []
        taken = {canonical, *chosen}
        for other in popular:
            if len(chosen) >= n:
                break
            other_genres = (meta.get(other) or {}).get("genres") or []
            if other not in taken and film and same_kind(film, other_genres):
                chosen.append(other)
                taken.add(other)
    return chosen


def same_kind(film: list[str], other: list[str]) -> bool:
    """A popular film fills "similar" only if it shares a genre other than Drama and Comedy."""
    return bool((set(film) & set(other)) - {"Drama", "Comedy"})
