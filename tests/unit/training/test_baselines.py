"""Popularity, ItemKNN and EASE on data whose answer is clear."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.training.baselines import EASE, ItemKNN, Popularity
from recsys.training.data import Catalogue

CATALOGUE = Catalogue(["1", "2", "3", "4"])
# "1" and "2" always go together; "3" is liked by everyone; "4" by nobody.
SEQUENCES = {"a": ["1", "2", "3"], "b": ["1", "2", "3"], "c": ["3"], "d": ["3", "1", "2"]}


def test_popularity_counts_likes() -> None:
    model = Popularity(CATALOGUE).fit(SEQUENCES)
    assert model.counts.tolist() == [3.0, 3.0, 4.0, 0.0]
    assert model.score(["x", "y"], [[], ["1"]]).shape == (2, 4)


def test_itemknn_scores_by_cosine_similarity_to_the_liked_items() -> None:
    model = ItemKNN(CATALOGUE).fit(SEQUENCES)
    # cos(1, 2) = 3 / (sqrt(3) * sqrt(3)) = 1; cos(1, 3) = 3 / (sqrt(3) * 2).
    assert model.similarity[0, 1] == pytest.approx(1.0)
    assert np.isclose(model.similarity[0, 2], 3 / (np.sqrt(3) * 2))
    assert model.similarity[0, 0] == 0.0  # an item is not its own neighbour
    scores = model.score(["x"], [["1"]])[0]
    assert scores.argmax() == 1 and scores[3] == 0.0


def test_ease_recommends_the_usual_companion() -> None:
    model = EASE(CATALOGUE, l2=1.0).fit(SEQUENCES)
    assert np.all(np.diag(model.weights) == 0.0)
    scores = model.score(["x"], [["1"]])[0]
    assert scores.argmax() == 1
