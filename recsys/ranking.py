"""Blend candidate sources into one list: pure logic, no I/O.

Order of the sources (each fills what the one before it left):

1. the personalised tier: the model's ``personal`` list interleaved with the
   ``realtime`` neighbours of the user's most recent likes (personal first).
   Interleaving lets a like change the very next answer even for a user whose
   personal list alone would fill every slot;
2. ``popular`` items;
3. ``random`` catalogue items.

Then a share ``exploration_rate`` of the slots is given to random items
(``explore``).  They replace the last exploitation items and are shuffled into
the lower half of the list, so the top of the list stays the best guess.
Nothing the user already rated ever appears.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import zip_longest


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    source: str  # personal | realtime | popular | random | explore
    because: str | None = None  # for realtime: the liked item it is a neighbour of

    def as_dict(self) -> dict[str, str]:
        data = {"item_id": self.item_id, "source": self.source}
        if self.because is not None:
            data["because"] = self.because
        return data


def interleave_realtime(
    seeds: Sequence[str], neighbour_lists: Sequence[Sequence[str]]
) -> list[tuple[str, str]]:
    """Round-robin over the neighbour lists of the most recent likes: (item, because)."""
    merged: list[tuple[str, str]] = []
    for row in zip_longest(*neighbour_lists):
        for seed, item in zip(seeds, row, strict=False):
            if item is not None:
                merged.append((item, seed))
    return merged


def exploration_slots(n: int, rate: float, rng: random.Random) -> int:
    """How many of n slots explore: n*rate in expectation, rounded at random."""
    expected = n * rate
    whole = math.floor(expected)
    return min(n, whole + (1 if rng.random() < expected - whole else 0))


def blend(
    n: int,
    *,
    personal: Sequence[str] = (),
    realtime: Sequence[tuple[str, str]] = (),
    popular: Sequence[str] = (),
    random_pool: Sequence[str] = (),
    exclude: Iterable[str] = (),
    exploration_rate: float = 0.0,
    rng: random.Random | None = None,
) -> list[Recommendation]:
    if n <= 0:
        return []
    rng = rng or random.Random()
    taken = set(exclude)
    chosen: list[Recommendation] = []

    def take(item_id: str, source: str, because: str | None = None) -> None:
        if item_id not in taken and len(chosen) < n:
            taken.add(item_id)
            chosen.append(Recommendation(item_id, source, because))

    personal_tier: list[Recommendation] = []
    for mine, near in zip_longest(personal, realtime):
        if mine is not None:
            personal_tier.append(Recommendation(mine, "personal"))
        if near is not None:
            personal_tier.append(Recommendation(near[0], "realtime", near[1]))
    for rec in personal_tier:
        take(rec.item_id, rec.source, rec.because)
    for item_id in popular:
        take(item_id, "popular")

    # Exploration draws from random items the exploitation list did not pick.
    n_explore = exploration_slots(n, exploration_rate, rng)
    pool = [item for item in dict.fromkeys(random_pool) if item not in taken]
    explore_items = pool[:n_explore]
    for item_id in pool[n_explore:]:
        take(item_id, "random")

    if explore_items:
        # Drop exploitation items from the tail to make room, then place the
        # explore items at random positions in the lower half.
        keep = max(0, min(len(chosen), n - len(explore_items)))
        chosen = chosen[:keep]
        for item_id in explore_items:
            low = min(len(chosen), max(1, n // 2))
            chosen.insert(rng.randint(low, len(chosen)), Recommendation(item_id, "explore"))
    return chosen[:n]
