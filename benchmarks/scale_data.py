"""Synthetic event logs with the shape of MovieLens, at any size: ``make bench-scale``'s input.

The shape, scaled from MovieLens-100K (72,935 like/dislike events, 943 users,
1,682 items) and MovieLens-1M/10M (about 165 and 143 ratings per user; 3.7k
and 10.7k items):

- **items**: ``1682 * (events / 100k) ** 0.4`` (1.7k, 4.2k, 10.6k at 100k, 1M,
  10M), each in one of 18 genres, popularity Zipf-distributed (exponent 0.8)
  over a random order of the ids, as in MovieLens where id and popularity are
  unrelated;
- **users**: one per 100 events, with a heavy-tailed (log-normal) number of
  events each, at least 5 and at most half the catalogue;
- **taste**: each user has two favourite genres and picks items with
  probability proportional to popularity, 30 times more in those genres,
  without repeats (Gumbel top-k);
- **dislikes**: a favourite-genre item is liked with probability 0.92, any
  other with 0.67: about a quarter of all events are dislikes, as in MovieLens;
- **sessions**: a user's events come in sessions of ~12 (geometric), 20-120 s
  apart, sessions about 3 days apart (exponential), the first one anywhere in
  a year;
- **re-rates**: 2% of events change an earlier action of the same user on the
  same item (the latest action wins downstream).

Deterministic for a seed, and generated in chunks of users, so memory stays
flat whatever the size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from recsys.domain.events import Action, Event

GENRES = (
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
ZIPF_EXPONENT = 0.8
TASTE_BOOST = 30.0
LIKE_IN_TASTE = 0.92
LIKE_OUT_OF_TASTE = 0.67
RERATE_SHARE = 0.02
MIN_EVENTS_PER_USER = 5
EVENTS_PER_USER = 100
START = 1_700_000_000.0
YEAR_S = 365 * 24 * 3600.0


@dataclass(frozen=True)
class LogShape:
    n_events: int
    n_users: int
    n_items: int

    @classmethod
    def for_events(cls, n_events: int) -> LogShape:
        if n_events < 100:
            raise ValueError("a synthetic log needs at least 100 events")
        n_items = max(50, round(1682 * (n_events / 100_000) ** 0.4))
        n_users = max(10, n_events // EVENTS_PER_USER)
        return cls(n_events=n_events, n_users=n_users, n_items=n_items)


@dataclass(frozen=True)
class Items:
    ids: list[str]
    genre: np.ndarray  # genre index of each item
    popularity: np.ndarray  # Zipf weight of each item, summing to 1

    def catalogue(self) -> dict[str, dict[str, Any]]:
        """Metadata in the shape ServingCache.add_items takes."""
        return {
            item_id: {
                "title": f"Synthetic film {item_id}",
                "year": 1950 + int(item_id) % 75,
                "genres": [GENRES[int(self.genre[j])]],
            }
            for j, item_id in enumerate(self.ids)
        }


def make_items(n_items: int, rng: np.random.Generator) -> Items:
    ranks = rng.permutation(n_items) + 1
    weights = ranks.astype(np.float64) ** -ZIPF_EXPONENT
    return Items(
        ids=[str(j + 1) for j in range(n_items)],
        genre=rng.integers(0, len(GENRES), n_items),
        popularity=weights / weights.sum(),
    )


def events_per_user(shape: LogShape, rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed counts (log-normal), each in [5, n_items / 2], summing to about n_events."""
    first_actions = round(shape.n_events / (1 + RERATE_SHARE))
    cap = max(MIN_EVENTS_PER_USER, shape.n_items // 2)
    weights = rng.lognormal(0.0, 1.0, shape.n_users)
    counts = np.full(shape.n_users, MIN_EVENTS_PER_USER, dtype=np.int64)
    for _ in range(20):  # hand what the cap cuts off to the users below it
        missing = first_actions - int(counts.sum())
        open_users = counts < cap
        if missing <= 0 or not open_users.any():
            break
        share = np.where(open_users, weights, 0.0)
        extra = np.floor(share / share.sum() * missing).astype(np.int64)
        extra[int(np.argmax(share))] += missing - int(extra.sum())
        counts = np.minimum(counts + extra, cap)
    return counts


def generate(n_events: int, *, seed: int = 7, chunk_users: int = 512) -> Iterator[list[Event]]:
    """The log's events, in chunks of users (each user's events in time order)."""
    shape = LogShape.for_events(n_events)
    rng = np.random.default_rng(seed)
    items = make_items(shape.n_items, rng)
    counts = events_per_user(shape, rng)
    genre_popularity = np.bincount(items.genre, items.popularity, minlength=len(GENRES))
    log_popularity = np.log(items.popularity)
    serial = 0
    for first in range(0, shape.n_users, chunk_users):
        users = range(first, min(first + chunk_users, shape.n_users))
        tastes = np.stack(
            [rng.choice(len(GENRES), 2, replace=False, p=genre_popularity) for _ in users]
        )
        in_taste = (items.genre[None, :] == tastes[:, :1]) | (items.genre[None, :] == tastes[:, 1:])
        # Gumbel top-k: sampling without replacement, proportional to the weights.
        keys = log_popularity + np.where(in_taste, math.log(TASTE_BOOST), 0.0)
        keys = keys - np.log(-np.log(rng.random(keys.shape)))
        chunk: list[Event] = []
        for row, user in enumerate(users):
            k = int(counts[user])
            picked = np.argpartition(-keys[row], k - 1)[:k]
            picked = rng.permutation(picked)
            like_share = np.where(in_taste[row, picked], LIKE_IN_TASTE, LIKE_OUT_OF_TASTE)
            liked = rng.random(k) < like_share
            times = _session_times(k, rng)
            user_id = f"s{user}"
            for j, like, at in zip(picked, liked, times, strict=True):
                chunk.append(_event(seed, serial, user_id, items.ids[j], bool(like), float(at)))
                serial += 1
            n_rerates = int(rng.binomial(k, RERATE_SHARE))
            if n_rerates:
                again = rng.choice(k, n_rerates, replace=False)
                later = times[-1] + np.cumsum(rng.exponential(7 * 24 * 3600.0, n_rerates))
                for index, at in zip(again, later, strict=True):
                    like = bool(rng.random() < 0.5)
                    item_id = items.ids[picked[index]]
                    chunk.append(_event(seed, serial, user_id, item_id, like, float(at)))
                    serial += 1
        yield chunk


def _session_times(k: int, rng: np.random.Generator) -> np.ndarray:
    """k timestamps: sessions of ~12 events 20-120 s apart, ~3 days between sessions."""
    new_session = rng.random(k) < 1 / 12
    new_session[0] = True
    gaps = np.where(new_session, rng.exponential(3 * 24 * 3600.0, k), rng.uniform(20.0, 120.0, k))
    gaps[0] = rng.uniform(0.0, YEAR_S)
    return START + np.cumsum(gaps)


def _event(seed: int, serial: int, user_id: str, item_id: str, like: bool, at: float) -> Event:
    # model_construct: the values are valid by construction, and validation of
    # millions of events would dominate generation time.
    return Event.model_construct(
        event_id=f"syn{seed}-{serial:010x}",
        user_id=user_id,
        item_id=item_id,
        action=Action.LIKE if like else Action.DISLIKE,
        timestamp=round(at, 3),
        source="synthetic",
    )


def items_for(n_events: int, *, seed: int = 7) -> Items:
    """The catalogue ``generate(n_events, seed=seed)`` draws from."""
    shape = LogShape.for_events(n_events)
    return make_items(shape.n_items, np.random.default_rng(seed))
