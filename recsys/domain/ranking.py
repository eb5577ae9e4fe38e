"""Blend candidate sources into one list: pure logic, no I/O.

Order of the sources (each fills what the one before it left):

1. the personalised tier: the model's ``personal`` list interleaved with the
   ``realtime`` neighbours of the user's recent likes (personal first).
   Interleaving lets a like change the very next answer even for a user whose
   personal list alone would fill every slot.  The real-time candidates are
   scored over the whole recent history (``score_realtime``): each like's
   neighbours count with a weight that decays with the like's age, so films
   close to several of the user's likes rise, and older likes still count;
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


def score_realtime(
    seeds: Sequence[str], neighbour_lists: Sequence[Sequence[str]], *, decay: float = 0.85
) -> list[tuple[str, str]]:
    """Neighbours of the recent likes (most recent first), best first: (item, because).

    A neighbour at rank k of the like at age a scores decay**a / log2(k + 2)
    (the discount of DCG); an item near several likes sums them.  Its
    ``because`` is the like that contributes most, so the label names the
    like it is closest to.  Neighbour lists hold only films close to their
    seed (see recsys.training.similarity), so every label is earned.
    """
    score: dict[str, float] = {}
    best: dict[str, tuple[float, str]] = {}
    liked = set(seeds)
    for age, (seed, neighbours) in enumerate(zip(seeds, neighbour_lists, strict=False)):
        weight = decay**age
        for rank, item_id in enumerate(neighbours):
            if item_id in liked:
                continue
            contribution = weight / math.log2(rank + 2)
            score[item_id] = score.get(item_id, 0.0) + contribution
            if item_id not in best or contribution > best[item_id][0]:
                best[item_id] = (contribution, seed)
    ranked = sorted(score, key=lambda item: -score[item])  # stable: ties keep list order
    return [(item_id, best[item_id][1]) for item_id in ranked]


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
    explore_slots: int | None = None,
    realtime_share: float = 0.5,
) -> list[Recommendation]:
    """The list of n; ``explore_slots`` fixes how many explore (else drawn from the rate)."""
    if n <= 0:
        return []
    rng = rng or random.Random()
    taken = set(exclude)
    chosen: list[Recommendation] = []

    def take(item_id: str, source: str, because: str | None = None) -> bool:
        if item_id in taken or len(chosen) >= n:
            return False
        taken.add(item_id)
        chosen.append(Recommendation(item_id, source, because))
        return True

    # The personalised tier: personal first, then realtime holds a share
    # ``realtime_share`` of the tier's places (counted on what is taken).
    # Personal items that are also near a recent like go first: the model and
    # the latest clicks agree on them.
    near_ids = {item_id for item_id, _ in realtime}
    agreed = [item_id for item_id in personal if item_id in near_ids]
    mine = iter([*agreed, *(item_id for item_id in personal if item_id not in near_ids)])
    near = iter(realtime)
    n_mine = n_near = 0
    while len(chosen) < n:
        order = ("mine", "near")
        if n_mine >= (1.0 - realtime_share) * (n_mine + n_near + 1):
            order = ("near", "mine")
        for source in order:
            if source == "mine" and (item_id := next(mine, None)) is not None:
                n_mine += take(item_id, "personal")
                break
            if source == "near" and (pair := next(near, None)) is not None:
                n_near += take(pair[0], "realtime", pair[1])
                break
        else:
            break  # both lists are used up
    for item_id in popular:
        take(item_id, "popular")

    # Exploration draws from random items the exploitation list did not pick.
    if explore_slots is None:
        n_explore = exploration_slots(n, exploration_rate, rng)
    else:
        n_explore = min(n, explore_slots)
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
