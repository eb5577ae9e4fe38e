"""item2vec on a small generated log: reproducible, and scored by its own output layer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from recsys.training.baselines import Popularity
from recsys.training.data import Catalogue, build_interactions
from recsys.training.item2vec import Item2Vec, Item2VecParams
from recsys.training.synthetic import item_groups, taste_events, taste_of

PARAMS = Item2VecParams(
    sg=0, window=10, vector_size=16, negative=5, ns_exponent=-0.5, epochs=20, sample=0.0,
    min_count=1, context_size=3,
)  # fmt: skip


@pytest.fixture(scope="module")
def data() -> tuple[Catalogue, dict[str, list[str]]]:
    interactions = build_interactions(taste_events(n_users=90, seed=1))
    # Two catalogue items nobody ever liked: they must still be ranked (last).
    catalogue = Catalogue([*interactions.items, "1000", "1001"])
    return catalogue, interactions.sequences


def fit(catalogue: Catalogue, sequences: dict[str, list[str]], **kwargs: Any) -> Item2Vec:
    counts = Popularity(catalogue).fit(sequences).counts
    model = Item2Vec(catalogue, PARAMS, seed=5, fallback_counts=counts)
    return model.fit(sequences, **kwargs)


def test_same_seed_same_model_wherever_the_checkpoints_are(data) -> None:
    catalogue, sequences = data
    once = fit(catalogue, sequences, checkpoints=1)
    again = fit(catalogue, sequences, checkpoints=4)
    assert once.model is not None and again.model is not None
    np.testing.assert_array_equal(once.model.wv.vectors, again.model.wv.vectors)
    np.testing.assert_array_equal(once.model.syn1neg, again.model.syn1neg)


def test_checkpoints_see_the_model_after_each_segment(data) -> None:
    catalogue, sequences = data
    seen: list[int] = []
    fit(catalogue, sequences, checkpoints=4, on_checkpoint=lambda done, _m: seen.append(done))
    assert seen == [5, 10, 15, 20]


def test_scores_match_gensim_predict_output_word(data) -> None:
    catalogue, sequences = data
    model = fit(catalogue, sequences)
    assert model.model is not None
    history = sequences["u0"]
    context = history[-PARAMS.context_size :]
    predicted = model.model.predict_output_word(context, topn=5)
    assert predicted is not None
    scores = model.score(["u0"], [history])[0]
    best_first = [catalogue.ids[j] for j in np.argsort(-scores, kind="stable")[:5]]
    assert best_first == [item for item, _p in predicted]


def test_unknown_items_rank_below_every_known_one(data) -> None:
    catalogue, sequences = data
    scores = fit(catalogue, sequences).score(["u0"], [sequences["u0"]])[0]
    unknown = [catalogue.index["1000"], catalogue.index["1001"]]
    known = [j for j in range(len(catalogue)) if j not in unknown]
    assert scores[unknown].max() < scores[known].min()


def test_a_user_with_no_known_likes_gets_the_popularity_order(data) -> None:
    catalogue, sequences = data
    model = fit(catalogue, sequences)
    scores = model.score(["new"], [["not-an-item"]])[0]
    counts = Popularity(catalogue).fit(sequences).counts
    assert np.argmax(scores) == np.argmax(counts)


def test_recommendations_follow_the_taste_groups(data) -> None:
    catalogue, sequences = data
    groups = item_groups(3, 15)
    model = fit(catalogue, sequences)
    for user in ("u0", "u1", "u2"):
        own = set(groups[taste_of(user, 3)])
        scores = model.score([user], [sequences[user]])[0]
        top = {catalogue.ids[j] for j in np.argsort(-scores, kind="stable")[:5]}
        assert top <= own


def test_params_round_trip_through_stored_values() -> None:
    stored = {**PARAMS.as_dict(), "sample": "0.001", "retired_option": 3}
    assert Item2VecParams.from_dict(stored) == replace(PARAMS, sample=0.001)


def test_context_decay_weighs_recent_likes_more(data) -> None:
    catalogue, sequences = data
    model = fit(catalogue, sequences)
    model.params = replace(PARAMS, context_size=3, context_decay=0.5)
    assert model.model is not None
    wv = model.model.wv
    history = sequences["u0"]
    oldest, middle, newest = (wv.vectors[wv.key_to_index[i]] for i in history[-3:])
    expected = 0.25 * oldest + 0.5 * middle + newest
    context = model.context_vector(history)
    assert context is not None
    np.testing.assert_allclose(context, expected, rtol=1e-5)
