"""The synthetic log of the scale benchmark has MovieLens's shape, and is reproducible."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from benchmarks.scale_data import GENRES, LogShape, generate, items_for
from recsys.domain.events import Action, Event, latest_actions

N = 20_000


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return [event for chunk in generate(N, seed=3) for event in chunk]


def test_size_and_shape_scale_like_movielens() -> None:
    assert LogShape.for_events(100_000) == LogShape(100_000, 1_000, 1_682)
    ten_million = LogShape.for_events(10_000_000)
    assert 10_000 < ten_million.n_items < 11_000  # MovieLens-10M: 10,681 movies
    assert ten_million.n_users == 100_000
    with pytest.raises(ValueError):
        LogShape.for_events(10)


def test_about_the_asked_number_of_events_each_once(events: list[Event]) -> None:
    assert abs(len(events) - N) < 0.01 * N
    assert len({e.event_id for e in events}) == len(events)


def test_same_seed_same_log(events: list[Event]) -> None:
    again = [event for chunk in generate(N, seed=3) for event in chunk]
    assert again == events
    other = [event for chunk in generate(N, seed=4) for event in chunk]
    assert other != events


def test_items_are_zipf_and_users_heavy_tailed(events: list[Event]) -> None:
    shape = LogShape.for_events(N)
    per_item = sorted(Counter(e.item_id for e in events).values(), reverse=True)
    per_user = sorted(Counter(e.user_id for e in events).values(), reverse=True)
    assert len(per_user) == shape.n_users
    # A few blockbusters, a long tail: the top item has many times the median's events.
    assert per_item[0] > 8 * per_item[len(per_item) // 2]
    assert per_user[0] > 5 * per_user[len(per_user) // 2]
    assert per_user[-1] >= 5 and per_user[0] <= shape.n_items // 2 * 1.1


def test_a_quarter_dislikes_and_some_rerates(events: list[Event]) -> None:
    dislikes = sum(e.action is Action.DISLIKE for e in events) / len(events)
    assert 0.15 < dislikes < 0.35
    latest = latest_actions(events)
    rerated = len(events) - len(latest)
    assert 0.005 * len(events) < rerated < 0.04 * len(events)


def test_events_come_in_sessions_and_time_order_per_user(events: list[Event]) -> None:
    by_user: dict[str, list[float]] = {}
    for event in events:
        by_user.setdefault(event.user_id, []).append(event.timestamp)
    gaps = [b - a for times in by_user.values() for a, b in itertools.pairwise(times)]
    assert all(gap > 0 for gap in gaps)
    within_session = sum(gap <= 120 for gap in gaps) / len(gaps)
    assert 0.8 < within_session < 0.97  # ~1 in 12 gaps starts a new session


def test_catalogue_covers_the_logged_items_with_metadata(events: list[Event]) -> None:
    catalogue = items_for(N, seed=3).catalogue()
    assert {e.item_id for e in events} <= set(catalogue)
    meta = next(iter(catalogue.values()))
    assert meta["genres"][0] in GENRES and meta["title"]
