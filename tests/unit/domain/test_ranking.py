import random

import pytest

from recsys.domain.ranking import blend, exploration_slots, interleave_realtime


def ids(recs):
    return [r.item_id for r in recs]


def sources(recs):
    return [r.source for r in recs]


def test_sources_fill_in_order_personal_popular_random():
    recs = blend(6, personal=["p1", "p2"], popular=["h1", "h2"], random_pool=["r1", "r2", "r3"])
    assert ids(recs) == ["p1", "p2", "h1", "h2", "r1", "r2"]
    assert sources(recs) == ["personal", "personal", "popular", "popular", "random", "random"]


def test_rated_items_never_appear_from_any_source():
    rated = {"p1", "h1", "r1", "x1"}
    recs = blend(
        5,
        personal=["p1", "p2"],
        realtime=[("x1", "p9"), ("x2", "p9")],
        popular=["h1", "h2"],
        random_pool=["r1", "r2", "r3"],
        exclude=rated,
        exploration_rate=0.5,
        rng=random.Random(1),
    )
    assert not rated & set(ids(recs))
    assert len(recs) == 5


def test_an_item_in_several_sources_appears_once_with_its_best_source():
    recs = blend(4, personal=["a"], popular=["a", "b"], random_pool=["b", "c", "d"])
    assert ids(recs) == ["a", "b", "c", "d"]
    assert sources(recs)[:2] == ["personal", "popular"]


def test_realtime_interleaves_with_personal_and_names_its_reason():
    recs = blend(4, personal=["p1", "p2"], realtime=[("n1", "liked"), ("n2", "liked")])
    assert ids(recs) == ["p1", "n1", "p2", "n2"]
    assert recs[1].because == "liked"
    assert recs[1].as_dict() == {"item_id": "n1", "source": "realtime", "because": "liked"}


def test_realtime_fills_the_top_for_a_user_without_a_personal_list():
    recs = blend(3, realtime=[("n1", "x")], popular=["h1", "h2"])
    assert sources(recs) == ["realtime", "popular", "popular"]


def test_interleave_realtime_round_robins_over_recent_likes():
    merged = interleave_realtime(["a", "b"], [["a1", "a2", "a3"], ["b1"]])
    assert merged == [("a1", "a"), ("b1", "b"), ("a2", "a"), ("a3", "a")]


def test_unknown_user_gets_popular_then_random():
    recs = blend(4, popular=["h1", "h2"], random_pool=["r1", "r2", "r3"])
    assert sources(recs) == ["popular", "popular", "random", "random"]


def test_exploration_zero_disables_exploration():
    for seed in range(50):
        recs = blend(
            10,
            popular=[f"h{i}" for i in range(20)],
            random_pool=[f"r{i}" for i in range(20)],
            exploration_rate=0.0,
            rng=random.Random(seed),
        )
        assert "explore" not in sources(recs)


def test_exploration_keeps_the_top_half_and_the_length():
    for seed in range(200):
        recs = blend(
            12,
            personal=[f"p{i}" for i in range(30)],
            random_pool=[f"r{i}" for i in range(40)],
            exploration_rate=0.25,
            rng=random.Random(seed),
        )
        assert len(recs) == 12
        assert sources(recs)[:6] == ["personal"] * 6
        assert sources(recs).count("explore") == 3
        assert len(set(ids(recs))) == 12


@pytest.mark.parametrize(("n", "rate", "expected"), [(12, 0.1, 1.2), (10, 0.5, 5.0), (7, 0.0, 0)])
def test_exploration_slots_match_the_rate_on_average(n, rate, expected):
    rng = random.Random(0)
    draws = [exploration_slots(n, rate, rng) for _ in range(20_000)]
    assert abs(sum(draws) / len(draws) - expected) < 0.05
    assert set(draws) <= {int(expected), int(expected) + 1}


def test_short_catalogue_returns_what_exists():
    recs = blend(10, popular=["a"], random_pool=["a", "b"], exclude={"b"})
    assert ids(recs) == ["a"]


def test_zero_requested_is_empty():
    assert blend(0, popular=["a"]) == []


def test_score_realtime_counts_the_whole_history_with_recency_weights():
    from recsys.domain.ranking import score_realtime

    # b is near the two older likes; a only near the most recent one.
    ranked = score_realtime(["new", "old1", "old2"], [["a", "b"], ["b"], ["b", "c"]], decay=0.8)
    assert [item for item, _ in ranked][:2] == ["b", "a"]
    # b's strongest tie is to "old1" (rank 0, weight 0.8) rather than to "new" (rank 1).
    assert dict(ranked)["b"] == "old1"
    assert dict(ranked)["a"] == "new"


def test_score_realtime_never_proposes_a_liked_film():
    from recsys.domain.ranking import score_realtime

    ranked = score_realtime(["x", "y"], [["y", "z"], ["x"]])
    assert ranked == [("z", "x")]


def test_blend_with_fixed_explore_slots():
    recs = blend(
        4,
        popular=["h1", "h2", "h3", "h4"],
        random_pool=["r1", "r2"],
        explore_slots=1,
        rng=random.Random(1),
    )
    assert len(recs) == 4
    assert sources(recs).count("explore") == 1
    assert ids(recs)[:2] == ["h1", "h2"]


def test_personal_items_near_a_recent_like_come_first_in_the_personal_places():
    recs = blend(
        3,
        personal=["p1", "p2", "shared"],
        realtime=[("shared", "x"), ("r1", "x")],
        realtime_share=1 / 3,
    )
    assert ids(recs) == ["shared", "p1", "r1"]
    assert sources(recs) == ["personal", "personal", "realtime"]
