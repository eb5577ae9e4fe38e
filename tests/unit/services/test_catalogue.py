from recsys.adapters.movielens import Rating
from recsys.services.catalogue import normalise_item, prior_popular


def test_prior_popular_counts_distinct_likers_and_skips_disliked_films():
    ratings = [
        Rating("u1", "10", 5, 1),
        Rating("u2", "10", 4, 2),
        Rating("u1", "20", 5, 3),
        Rating("u1", "20", 5, 4),  # the same user twice counts once
        Rating("u3", "30", 1, 5),
        Rating("u3", "40", 3, 6),
    ]
    assert prior_popular(ratings, top_n=10) == ["10", "20"]


def test_the_latest_rating_of_a_pair_counts():
    ratings = [Rating("u1", "10", 5, 1), Rating("u1", "10", 1, 9), Rating("u2", "20", 4, 3)]
    assert prior_popular(ratings, top_n=10) == ["20"]


def test_added_items_never_carry_the_unknown_genre():
    _, meta = normalise_item({"item_id": "x", "genres": ["unknown", "Drama"]})
    assert meta["genres"] == ["Drama"]
