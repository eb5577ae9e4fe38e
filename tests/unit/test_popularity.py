from recsys.events import Action, Event
from recsys.popularity import popular_items

DAY = 86_400.0
NOW = 2_000_000_000.0


def event(user, item, action, age_days):
    return Event(
        event_id=f"{user}-{item}-{action}-{age_days}",
        user_id=user,
        item_id=item,
        action=Action(action),
        timestamp=NOW - age_days * DAY,
    )


def ranked(events, top_n=10, half_life_days=7.0):
    return [
        item
        for item, _, _ in popular_items(
            events, now=NOW, half_life_s=half_life_days * DAY, top_n=top_n
        )
    ]


def test_recent_likes_outrank_old_ones():
    events = [event(f"old{i}", "classic", "like", 3650) for i in range(50)]
    events += [event("u1", "new", "like", 0.1)]
    assert ranked(events) == ["new", "classic"]


def test_all_time_count_breaks_ties_when_history_is_ancient():
    events = [event(f"u{i}", "a", "like", 10_000) for i in range(3)]
    events += [event(f"u{i}", "b", "like", 10_000) for i in range(5)]
    assert ranked(events) == ["b", "a"]


def test_a_user_counts_once_per_item_with_their_latest_action():
    events = [
        event("u1", "a", "like", 2),
        event("u1", "a", "like", 1),  # a second like by the same user is not a second vote
        event("u2", "b", "like", 2),
        event("u3", "b", "like", 2),
    ]
    assert ranked(events) == ["b", "a"]


def test_a_later_dislike_cancels_a_like():
    events = [event("u1", "a", "like", 2), event("u1", "a", "dislike", 1)]
    assert ranked(events) == []


def test_duplicated_events_count_once():
    like = event("u1", "a", "like", 1)
    events = [like, like, like, event("u2", "b", "like", 1), event("u3", "b", "like", 1)]
    assert ranked(events) == ["b", "a"]


def test_disliked_items_are_not_popular():
    events = [event("u1", "a", "dislike", 0), event("u2", "b", "like", 30)]
    assert ranked(events) == ["b"]


def test_top_n_is_respected():
    events = [event("u", str(i), "like", i) for i in range(20)]
    assert ranked(events, top_n=5) == ["0", "1", "2", "3", "4"]


def test_a_removed_rating_is_no_vote():
    events = [event("u1", "a", "like", 1), event("u1", "a", "remove", 0.5)]
    events += [event("u2", "b", "dislike", 1), event("u2", "b", "remove", 0.5)]
    events += [event("u3", "c", "like", 1)]
    # "a" loses its like; "b" is not pushed down by a dislike that was taken back.
    scores = {i: (s, n) for i, s, n in popular_items(events, now=NOW, half_life_s=DAY, top_n=10)}
    assert list(scores) == ["c"]
    events += [event("u4", "b", "like", 2)]
    assert ranked(events) == ["c", "b"]
