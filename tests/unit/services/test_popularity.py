"""The "popular now" score: distinct users, a decayed trend blended with a long-run prior."""

import pytest

from recsys.domain.events import Action, Event
from recsys.services.popularity import ItemVotes, popular_items, rank_popular, tally, vote_sign

DAY = 86_400.0
NOW = 2_000_000_000.0
WEEK = 7 * DAY


def event(user, item, action, age_days):
    return Event(
        event_id=f"{user}-{item}-{action}-{age_days}",
        user_id=user,
        item_id=item,
        action=Action(action),
        timestamp=NOW - age_days * DAY,
    )


def likes(item, users, age_days, prefix="u"):
    return [event(f"{prefix}{i}", item, "like", age_days) for i in range(users)]


def ranked(events, top_n=12, min_users=3, prior_weight=0.1):
    return [
        item
        for item, _ in popular_items(
            events, half_life_s=WEEK, top_n=top_n, min_users=min_users, prior_weight=prior_weight
        )
    ]


def test_a_fresh_trend_of_many_users_outranks_an_old_modest_history():
    events = likes("classic", 50, age_days=3650) + likes("new", 20, age_days=1, prefix="n")
    # Measured from the latest event: "new" trends at 20, "classic" has only its prior 5.
    assert ranked(events) == ["new", "classic"]


def test_a_handful_of_fresh_likes_cannot_outrank_a_large_history():
    events = likes("classic", 400, age_days=3650) + likes("fad", 5, age_days=0, prefix="f")
    assert ranked(events) == ["classic", "fad"]


def test_one_users_burst_puts_nothing_in_the_list():
    history = [x for i in range(15) for x in likes(f"hit{i}", 40 - i, age_days=10_000)]
    burst = [event("visitor", f"obscure{i}", "like", 0) for i in range(5)]
    top = ranked(history + burst)
    assert top == [f"hit{i}" for i in range(12)]
    assert not any(item.startswith("obscure") for item in ranked(history + burst, top_n=100))


def test_one_user_clicking_like_again_and_again_is_one_vote():
    repeated = [
        Event(event_id=f"r{k}", user_id="fan", item_id="x", action=Action.LIKE, timestamp=NOW + k)
        for k in range(50)
    ]
    assert tally(repeated, half_life_s=WEEK)["x"].likes == 1
    assert ranked(repeated + likes("y", 3, age_days=1)) == ["y"]


def test_history_older_than_the_half_life_keeps_its_own_trend():
    # Bootstrapped MovieLens: everything is decades old; the trend is measured
    # from the log's latest event, so spring 1998 still ranks spring 1998.
    events = likes("old-hit", 10, age_days=9_000, prefix="a") + likes(
        "recent-then", 10, age_days=8_990, prefix="b"
    )
    votes = tally(events, half_life_s=WEEK)
    assert votes["recent-then"].trend == pytest.approx(10.0)
    assert votes["old-hit"].trend == pytest.approx(10 * 2 ** (-10 / 7))
    assert ranked(events) == ["recent-then", "old-hit"]


def test_the_prior_orders_items_whose_trend_has_decayed_to_nothing():
    events = likes("a", 3, age_days=10_000) + likes("b", 5, age_days=10_000, prefix="v")
    events += likes("fresh", 3, age_days=0, prefix="w")
    assert ranked(events) == ["fresh", "b", "a"]


def test_a_later_dislike_replaces_a_like():
    events = [*likes("a", 3, age_days=2), event("u0", "a", "dislike", 1)]
    votes = tally(events, half_life_s=WEEK)["a"]
    assert (votes.likes, votes.dislikes) == (2, 1)
    assert votes.trend == pytest.approx(2 * 2 ** (-1 / 7) - 1)
    assert ranked(events) == []  # two fans left: fewer than min_users


def test_duplicated_events_count_once():
    events = likes("a", 3, age_days=1)
    assert ranked(events + events + events) == ["a"]
    assert tally(events * 3, half_life_s=WEEK)["a"].likes == 3


def test_more_dislikes_than_likes_is_not_popular():
    events = likes("a", 3, age_days=1) + [event(f"d{i}", "a", "dislike", 0.5) for i in range(5)]
    assert ranked(events) == []


def test_actions_other_than_like_and_dislike_are_no_vote():
    assert [vote_sign(a) for a in ("like", "dislike", "remove", "")] == [1, -1, 0, 0]


def test_ties_go_to_the_net_count_then_the_item_id():
    votes = {
        "10": ItemVotes(1.0, 3, 0),
        "9": ItemVotes(1.0, 3, 0),
        "b": ItemVotes(-0.5, 6, 0),
    }
    # All three score 2.5 exactly; "b" has the larger net count.
    assert [i for i, _ in rank_popular(votes, top_n=5, min_users=3, prior_weight=0.5)] == [
        "b",
        "9",
        "10",
    ]


def test_top_n_is_respected():
    events = [x for i in range(20) for x in likes(str(i), 3, age_days=i, prefix=f"p{i}-")]
    assert ranked(events, top_n=5) == ["0", "1", "2", "3", "4"]


def test_a_removed_rating_is_no_vote():
    events = [event("u1", "a", "like", 1), event("u1", "a", "remove", 0.5)]
    events += [event("u2", "b", "dislike", 1), event("u2", "b", "remove", 0.5)]
    events += [event("u3", "c", "like", 1)]
    # "a" loses its like; "b" is not pushed down by a dislike that was taken back.
    assert ranked(events, min_users=1) == ["c"]
    events += [event("u4", "b", "like", 2)]
    assert ranked(events, min_users=1) == ["c", "b"]


def test_an_item_as_disliked_as_liked_is_not_popular_even_when_its_like_is_newer():
    events = [event("u1", "a", "dislike", 2), event("u2", "a", "like", 1)]
    assert ranked(events, min_users=1) == []
