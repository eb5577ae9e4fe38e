"""Published lists never hold an item the user rated; artifacts round-trip."""

from __future__ import annotations

import json

import pytest
from gensim.models import Word2Vec

from recsys.adapters.storage import LocalStore
from recsys.training.baselines import Popularity
from recsys.training.data import Catalogue, build_interactions
from recsys.training.item2vec import Item2Vec, Item2VecParams
from recsys.training.publish import (
    BEST_PARAMS_KEY,
    LATEST_KEY,
    load_best_params,
    personal_lists,
    save_best_params,
    save_model,
)
from recsys.training.synthetic import taste_events
from recsys.training.tuning import tune

PARAMS = Item2VecParams(
    sg=0, window=10, vector_size=16, negative=5, ns_exponent=-0.5, epochs=15, sample=0.0,
    min_count=1, context_size=3,
)  # fmt: skip


@pytest.fixture(scope="module")
def fitted():
    interactions = build_interactions(taste_events(n_users=60, dislikes_per_user=4, seed=2))
    catalogue = Catalogue(interactions.items)
    counts = Popularity(catalogue).fit(interactions.sequences).counts
    model = Item2Vec(catalogue, PARAMS, seed=1, fallback_counts=counts)
    return interactions, model.fit(interactions.sequences)


def test_personal_lists_never_contain_rated_or_disliked_items(fitted) -> None:
    interactions, model = fitted
    lists = personal_lists(model, interactions, top_n=100)
    assert set(lists) == set(interactions.rated)
    assert any(interactions.disliked.values())
    for user, items in lists.items():
        assert items, f"{user} got no list"
        assert not set(items) & interactions.rated[user]
        assert not set(items) & interactions.disliked.get(user, set())
        assert len(items) == len(set(items))


def test_a_user_with_only_dislikes_gets_an_empty_list(fitted) -> None:
    interactions, model = fitted
    interactions.rated["grumpy"] = {"1", "2"}
    interactions.disliked["grumpy"] = {"1", "2"}
    try:
        assert personal_lists(model, interactions, top_n=10)["grumpy"] == []
    finally:
        del interactions.rated["grumpy"], interactions.disliked["grumpy"]


def test_model_report_and_warm_start_params_land_in_storage(fitted, tmp_path) -> None:
    interactions, model = fitted
    artifacts = LocalStore(tmp_path)
    assert load_best_params(artifacts) is None
    save_best_params(artifacts, PARAMS.as_dict(), {"version": "v1"})
    assert Item2VecParams.from_dict(load_best_params(artifacts) or {}) == PARAMS
    assert json.loads(artifacts.get(BEST_PARAMS_KEY))["version"] == "v1"

    from recsys.training.data import make_splits

    splits = make_splits(interactions)
    counts = Popularity(model.catalogue).fit(splits.validation.train).counts
    result = tune(splits.validation, model.catalogue, counts, n_trials=2, timeout_s=30, seed=1)
    keys = save_model(artifacts, "v1", model, {"test": {"hr_at_10": 0.5}}, result.study)
    assert keys == [
        "item2vec/models/v1/model.pkl",
        "item2vec/models/v1/report.json",
        "item2vec/models/v1/optimisation_history.png",
    ]
    assert artifacts.get(keys[2]).startswith(b"\x89PNG")
    assert json.loads(artifacts.get(LATEST_KEY))["version"] == "v1"
    # A downloaded model.pkl loads with plain gensim.
    local_copy = tmp_path / "downloaded.pkl"
    local_copy.write_bytes(artifacts.get(keys[0]))
    loaded = Word2Vec.load(str(local_copy))
    assert model.model is not None
    assert loaded.wv.index_to_key == model.model.wv.index_to_key


def test_unreadable_best_params_are_ignored(tmp_path) -> None:
    artifacts = LocalStore(tmp_path)
    artifacts.put(BEST_PARAMS_KEY, b"{not json")
    assert load_best_params(artifacts) is None
