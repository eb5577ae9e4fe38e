"""The movie catalogue in Redis: loaded from MovieLens, extended by /add_items."""

from __future__ import annotations

from collections import Counter
from typing import Any

from recsys.adapters import movielens
from recsys.adapters.serving_cache import ServingCache
from recsys.domain.events import natural_key


def load_movielens(cache: ServingCache, data_dir: str, *, offline: bool = False) -> int:
    """Fetch MovieLens-100K if needed and load its movies; returns the catalogue size.

    Duplicate films are loaded once (``movielens.merge_duplicates``); their
    other ids are stored as aliases, so an event naming one still reaches the
    film.  The load also writes the starting popular list (most-liked films in
    the MovieLens history), which /recs serves until the popularity job has
    published one: no cold window of random films.
    """
    movielens.fetch(data_dir, offline=offline)
    items = movielens.read_items(data_dir)
    cache.add_items(items)
    cache.set_aliases(movielens.aliases(data_dir))
    cache.set_popular_prior(prior_popular(movielens.read_ratings(data_dir), top_n=200))
    return cache.catalogue_size()


def prior_popular(ratings: list[movielens.Rating], *, top_n: int) -> list[str]:
    """Films by how many distinct users liked them (ties: fewer dislikes, then id)."""
    likes: Counter[str] = Counter()
    dislikes: Counter[str] = Counter()
    # The latest rating of a (user, film) pair counts: merged duplicates may have two.
    latest = {(r.user_id, r.item_id): r for r in sorted(ratings, key=lambda r: r.timestamp)}
    for rating in latest.values():
        if rating.action == "like":
            likes[rating.item_id] += 1
        elif rating.action == "dislike":
            dislikes[rating.item_id] += 1
    ranked = sorted(likes, key=lambda i: (-likes[i], dislikes[i], natural_key(i)))
    return ranked[:top_n]


def normalise_item(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split an /add_items entry into its id and the metadata stored for it."""
    item_id = str(raw["item_id"])
    meta: dict[str, Any] = {
        "title": raw.get("title") or f"Item {item_id}",
        "year": raw.get("year"),
        # "unknown" is MovieLens' placeholder, not a genre: the page shows no genre.
        "genres": [g for g in raw.get("genres") or [] if g and g.lower() != "unknown"],
    }
    if raw.get("poster_url"):
        meta["poster_url"] = raw["poster_url"]
    return item_id, meta
