"""A small generated event log with an obvious pattern, for tests and smoke runs.

Users come in "tastes": a user of taste t likes only items of group t (in a
random order) and dislikes a few items of other groups.  Any model worth
publishing must recommend a user the unseen items of their own group.
"""

from __future__ import annotations

import random

from recsys.domain.events import Action, Event


def item_groups(n_groups: int, items_per_group: int) -> list[list[str]]:
    """Item ids "1".."n", group g holding a contiguous block."""
    return [
        [str(g * items_per_group + j + 1) for j in range(items_per_group)] for g in range(n_groups)
    ]


def taste_of(user_id: str, n_groups: int) -> int:
    return int(user_id.removeprefix("u")) % n_groups


def taste_events(
    *,
    n_users: int = 120,
    n_groups: int = 3,
    items_per_group: int = 15,
    likes_per_user: int = 8,
    dislikes_per_user: int = 2,
    seed: int = 7,
    start: float = 1_700_000_000.0,
) -> list[Event]:
    """Each user likes ``likes_per_user`` items of their own group, one per minute."""
    rng = random.Random(seed)
    groups = item_groups(n_groups, items_per_group)
    events: list[Event] = []
    for u in range(n_users):
        user_id = f"u{u}"
        own = groups[taste_of(user_id, n_groups)]
        others = [
            item
            for g, items in enumerate(groups)
            if g != taste_of(user_id, n_groups)
            for item in items
        ]
        clock = start + u * 3600.0
        for item_id in rng.sample(own, likes_per_user):
            clock += 60.0
            events.append(_event(user_id, item_id, Action.LIKE, clock))
        for item_id in rng.sample(others, dislikes_per_user):
            clock += 60.0
            events.append(_event(user_id, item_id, Action.DISLIKE, clock))
    return events


def _event(user_id: str, item_id: str, action: Action, timestamp: float) -> Event:
    return Event(
        event_id=f"synthetic-{user_id}-{item_id}",
        user_id=user_id,
        item_id=item_id,
        action=action,
        timestamp=timestamp,
        source="synthetic",
    )
