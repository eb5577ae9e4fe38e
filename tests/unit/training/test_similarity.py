"""Neighbour lists: cosine of item vectors, only films close in genre."""

from __future__ import annotations

import pytest

from recsys.training.baselines import Popularity
from recsys.training.data import Catalogue, build_interactions
from recsys.training.item2vec import Item2Vec, Item2VecParams
from recsys.training.similarity import close_in_genre, item_neighbours
from recsys.training.synthetic import item_groups, taste_events

PARAMS = Item2VecParams(
    sg=0, window=10, vector_size=16, negative=5, ns_exponent=-0.5, epochs=20, sample=0.0,
    min_count=1, context_size=3,
)  # fmt: skip
GROUPS = item_groups(3, 15)


@pytest.fixture(scope="module")
def model() -> Item2Vec:
    interactions = build_interactions(taste_events(n_users=90, seed=1))
    catalogue = Catalogue(interactions.items)
    counts = Popularity(catalogue).fit(interactions.sequences).counts
    fitted = Item2Vec(catalogue, PARAMS, seed=5, fallback_counts=counts)
    return fitted.fit(interactions.sequences)


@pytest.mark.parametrize(
    ("film", "other", "close"),
    [
        (["Action", "Sci-Fi"], ["Sci-Fi", "Drama"], True),
        (["Action", "Sci-Fi"], ["Drama", "Comedy"], False),  # Drama alone is no kinship
        (["Drama", "War"], ["Drama", "Romance"], False),
        (["Drama"], ["Drama"], True),
        (["Drama"], ["Drama", "Thriller"], False),
        (["Comedy"], ["Drama"], False),
        ([], ["Horror"], True),  # no genre known: the cosine decides
    ],
)
def test_close_in_genre(film, other, close):
    assert close_in_genre(film, other) is close


def test_neighbours_stay_in_the_taste_group_and_exclude_the_film(model):
    lists = item_neighbours(model, 5, min_cosine=-1.0)
    assert lists
    for item, near in lists.items():
        group = next(g for g in GROUPS if item in g)
        assert item not in near
        assert len(near) == 5
        assert set(near) <= set(group)


def test_genres_filter_the_lists(model):
    # Label half of each group "Horror" and the other half "Western": a film's
    # neighbours may then only come from its own half.
    genres = {
        item: ["Horror"] if j % 2 else ["Western"] for g in GROUPS for j, item in enumerate(g)
    }
    lists = item_neighbours(model, 20, genres=genres, min_cosine=-1.0)
    for item, near in lists.items():
        assert near
        assert all(genres[other] == genres[item] for other in near)


def test_a_high_threshold_leaves_short_or_empty_lists(model):
    loose = item_neighbours(model, 10, min_cosine=-1.0)
    strict = item_neighbours(model, 10, min_cosine=0.999)
    assert sum(map(len, strict.values())) < sum(map(len, loose.values()))
