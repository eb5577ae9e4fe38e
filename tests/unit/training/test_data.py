"""Sequences from events, and splits that leak nothing."""

from __future__ import annotations

import random

from recsys.adapters.eventlog import EventLog
from recsys.adapters.storage import LocalStore
from recsys.domain.events import Event
from recsys.training.data import (
    TRAINING_COLUMNS,
    Catalogue,
    build_interactions,
    interactions_from_table,
    make_splits,
)
from recsys.training.synthetic import taste_events
from tests.support import event


def test_sequences_hold_likes_in_time_order_and_never_dislikes() -> None:
    events = [
        event("u", "3", "like", 30),
        event("u", "1", "like", 10),
        event("u", "2", "dislike", 20),
        event("u", "4", "like", 40),
        event("u", "4", "dislike", 50),  # a later dislike undoes the like
        event("v", "1", "dislike", 5),
    ]
    interactions = build_interactions(events)
    assert interactions.sequences == {"u": ["1", "3"]}
    assert interactions.rated == {"u": {"1", "2", "3", "4"}, "v": {"1"}}
    assert interactions.disliked == {"u": {"2", "4"}, "v": {"1"}}


def test_duplicated_events_count_once() -> None:
    like = event("u", "1", "like", 10, event_id="same")
    interactions = build_interactions([like, like, event("u", "2", "like", 20)])
    assert interactions.sequences == {"u": ["1", "2"]}


def test_relike_moves_the_item_to_the_time_of_its_latest_like() -> None:
    events = [event("u", "1", "like", 10), event("u", "2", "like", 20), event("u", "1", "like", 30)]
    assert build_interactions(events).sequences == {"u": ["2", "1"]}


def test_test_split_holds_out_the_last_like_of_users_with_two_or_more() -> None:
    events = [
        event("a", "1", "like", 1),
        event("a", "2", "like", 2),
        event("a", "3", "like", 3),
        event("a", "9", "dislike", 4),
        event("b", "1", "like", 1),  # one like: trains, not evaluated
    ]
    splits = make_splits(build_interactions(events))
    assert splits.test.targets == {"a": "3"}
    assert splits.test.train == {"a": ["1", "2"], "b": ["1"]}
    assert splits.test.exclude == {"a": {"1", "2", "9"}}
    # Validation is carved from the test split's training data: the second-to-last like.
    assert splits.validation.targets == {"a": "2"}
    assert splits.validation.train == {"a": ["1"], "b": ["1"]}
    assert splits.validation.exclude["a"] == {"1", "3", "9"}


def test_no_held_out_item_appears_in_that_users_training_data() -> None:
    splits = make_splits(build_interactions(taste_events(n_users=60, seed=3)))
    assert splits.test.targets and splits.validation.targets
    for user, target in splits.test.targets.items():
        assert target not in splits.test.train[user]
        # The tuner never sees the test item either.
        assert target not in splits.validation.train[user]
    for user, target in splits.validation.targets.items():
        assert target not in splits.validation.train[user]
        assert target not in splits.validation.exclude[user]
        assert target in splits.test.train[user]


def test_catalogue_orders_ids_naturally_and_skips_unknown_ones() -> None:
    catalogue = Catalogue(["10", "2", "1", "x"])
    assert catalogue.ids == ["1", "2", "10", "x"]
    assert catalogue.indices(["10", "nope", "1"]) == [2, 0]
    assert len(catalogue) == 4 and "x" in catalogue


def test_a_removed_like_leaves_the_sequence_and_the_rated_set() -> None:
    events = [
        event("u", "1", "like", 10),
        event("u", "2", "like", 20),
        event("u", "2", "remove", 30),  # taken back: no longer steers, may come back
        event("u", "3", "dislike", 40),
        event("u", "3", "remove", 50),
        event("u", "4", "remove", 60),  # a removal of something never rated
        event("v", "2", "like", 5),
    ]
    interactions = build_interactions(events)
    assert interactions.sequences == {"u": ["1"], "v": ["2"]}
    assert interactions.rated == {"u": {"1"}, "v": {"2"}}
    assert interactions.disliked == {}
    assert "4" not in interactions.items


def test_the_columnar_reader_builds_the_same_interactions(tmp_path):
    rng = random.Random(3)
    events = [
        Event.new(
            f"u{rng.randrange(20)}",
            str(rng.randrange(40)),
            rng.choice(["like", "like", "dislike"]),
            timestamp=float(rng.randrange(500)),  # ties on purpose: event_id breaks them
        )
        for _ in range(800)
    ]
    log = EventLog(LocalStore(tmp_path))
    log.append(events[:500])
    log.append(events[300:])  # a redelivered overlap
    table = log.read_table(columns=TRAINING_COLUMNS)
    assert "source" not in table.column_names
    assert interactions_from_table(table) == build_interactions(events)
