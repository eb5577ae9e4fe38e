from recsys.adapters.movielens import Rating
from recsys.services.bootstrap import events_from_ratings


def test_ratings_map_to_likes_and_dislikes_and_threes_are_skipped():
    ratings = [Rating("1", "10", r, 1000 + r) for r in (1, 2, 3, 4, 5)]
    events = events_from_ratings(ratings)
    assert [(e.item_id, e.action.value) for e in events] == [
        ("10", "dislike"),
        ("10", "dislike"),
        ("10", "like"),
        ("10", "like"),
    ]
    assert {e.user_id for e in events} == {"ml-1"}
    assert {e.source for e in events} == {"bootstrap"}
    assert [e.timestamp for e in events] == [1001.0, 1002.0, 1004.0, 1005.0]


def test_event_ids_are_deterministic_so_a_second_bootstrap_deduplicates():
    ratings = [Rating("7", "50", 5, 881250949), Rating("8", "50", 1, 881250950)]
    first = [e.event_id for e in events_from_ratings(ratings)]
    second = [e.event_id for e in events_from_ratings(ratings)]
    assert first == second
    assert len(set(first)) == 2
