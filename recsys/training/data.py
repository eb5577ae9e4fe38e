"""From events to like sequences, and the leave-last-out splits.

A user's *sequence* is the items they like, oldest first.  Only the latest
action on a (user, item) pair counts: a like later undone by a dislike is a
dislike, and a pair whose latest action is ``remove`` is not rated at all (a
removed like stops steering, and the item may be recommended again).
Dislikes never enter a sequence; their one other use is that the item counts
as *rated*, so it is never ranked or recommended for that user.

Splits (see docs/training.md):

- ``test``: for every user with at least 2 likes, the last like is held out;
  everything before it is training data.
- ``validation``: the same rule applied to the test split's training data, so
  the held-out item is the second-to-last like and the tuner never sees the
  test item, not even as training data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from recsys.domain.events import Action, Event, event_order, natural_key, rated_latest


@dataclass(frozen=True)
class Interactions:
    """What the event log says about each user."""

    # user -> liked items, oldest first (each item once, at the time of its latest like)
    sequences: dict[str, list[str]]
    # user -> every item with a like or a dislike: never ranked for that user
    rated: dict[str, set[str]]
    # user -> items whose latest action is a dislike
    disliked: dict[str, set[str]]

    @property
    def users(self) -> list[str]:
        return sorted(self.rated)

    @property
    def items(self) -> set[str]:
        return {item for items in self.rated.values() for item in items}

    @property
    def n_likes(self) -> int:
        return sum(len(seq) for seq in self.sequences.values())


def build_interactions(events: Iterable[Event]) -> Interactions:
    """Sequences of likes and sets of rated items, from (possibly duplicated) events."""
    latest = rated_latest(list(events))
    likes: dict[str, list[Event]] = {}
    rated: dict[str, set[str]] = {}
    disliked: dict[str, set[str]] = {}
    for (user_id, item_id), event in latest.items():
        rated.setdefault(user_id, set()).add(item_id)
        if event.action is Action.LIKE:
            likes.setdefault(user_id, []).append(event)
        elif event.action is Action.DISLIKE:
            disliked.setdefault(user_id, set()).add(item_id)
    # event_id breaks timestamp ties, as in EventLog.read: the order is reproducible.
    sequences = {
        user_id: [e.item_id for e in sorted(user_likes, key=event_order)]
        for user_id, user_likes in likes.items()
    }
    return Interactions(sequences=sequences, rated=rated, disliked=disliked)


# What training reads of the event log (not ``source``): see EventLog.read_table.
TRAINING_COLUMNS = ("user_id", "item_id", "action", "timestamp", "event_id")


def interactions_from_table(table: Any) -> Interactions:
    """``build_interactions`` for a deduplicated, time-ordered pyarrow table of events.

    Reads the columns as plain lists: no Event object per row.  Anything but
    a like or a dislike (``remove``) leaves the pair unrated.
    """
    columns = [table.column(name).to_pylist() for name in ("user_id", "item_id", "action")]
    latest: dict[tuple[str, str], str] = {}
    # Rows come in (timestamp, event_id) order, so the last one per pair wins
    # and dict insertion order is the order of each pair's latest event.
    for user_id, item_id, action in zip(*columns, strict=True):
        key = (user_id, item_id)
        latest.pop(key, None)
        latest[key] = action
    sequences: dict[str, list[str]] = {}
    rated: dict[str, set[str]] = {}
    disliked: dict[str, set[str]] = {}
    for (user_id, item_id), action in latest.items():
        if action == "like":
            sequences.setdefault(user_id, []).append(item_id)
        elif action == "dislike":
            disliked.setdefault(user_id, set()).add(item_id)
        else:
            continue
        rated.setdefault(user_id, set()).add(item_id)
    return Interactions(sequences=sequences, rated=rated, disliked=disliked)


@dataclass(frozen=True)
class Split:
    """Training sequences plus one held-out like per evaluated user."""

    train: dict[str, list[str]]
    # user -> held-out item (only users with at least 2 likes)
    targets: dict[str, str]
    # user -> items never ranked for that user: everything rated except the target
    exclude: dict[str, set[str]] = field(default_factory=dict)

    @property
    def users(self) -> list[str]:
        """Evaluated users, in a fixed order."""
        return sorted(self.targets)


def leave_last_out(sequences: Mapping[str, Sequence[str]], rated: Mapping[str, set[str]]) -> Split:
    """Hold out the last like of every user with at least 2 likes.

    Users with a single like keep it as training data (it still counts for
    popularity) and are not evaluated: a model has nothing to go on for them.
    """
    train: dict[str, list[str]] = {}
    targets: dict[str, str] = {}
    exclude: dict[str, set[str]] = {}
    for user_id, sequence in sequences.items():
        if len(sequence) >= 2:
            train[user_id] = list(sequence[:-1])
            target = sequence[-1]
            targets[user_id] = target
            exclude[user_id] = set(rated.get(user_id, ())) - {target}
        else:
            train[user_id] = list(sequence)
    return Split(train=train, targets=targets, exclude=exclude)


@dataclass(frozen=True)
class Splits:
    test: Split
    validation: Split


def make_splits(interactions: Interactions) -> Splits:
    """The test split, and the validation split carved out of its training data."""
    test = leave_last_out(interactions.sequences, interactions.rated)
    validation = leave_last_out(test.train, interactions.rated)
    return Splits(test=test, validation=validation)


class Catalogue:
    """A fixed order of every item id: column j of a score matrix is ``ids[j]``.

    Full-catalogue ranking means every item in here, including items nobody
    has liked yet (a model can only rank those last, but they are ranked).
    """

    def __init__(self, item_ids: Iterable[str]) -> None:
        self.ids: list[str] = sorted(set(item_ids), key=natural_key)
        self.index: dict[str, int] = {item_id: j for j, item_id in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.index

    def indices(self, item_ids: Iterable[str]) -> list[int]:
        """Column indices of the known items among item_ids (unknown ones are skipped)."""
        return [self.index[i] for i in item_ids if i in self.index]
