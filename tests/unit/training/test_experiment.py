"""The protocol run: tuning, the test rows, and the job's final fit beside them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from recsys.training.data import Catalogue, build_interactions
from recsys.training.experiment import ITEM2VEC_TUNED, POPULARITY, ExperimentConfig, run_experiment
from recsys.training.item2vec import Item2Vec, Item2VecParams
from recsys.training.synthetic import taste_events
from recsys.training.tuning import STARTING_POINT

# Small and fast on ~600 likes (as in test_tuning).
WARM = replace(STARTING_POINT, vector_size=32, epochs=40, window=10, context_size=3)


def test_the_final_fit_gets_the_tuned_params_and_all_likes() -> None:
    interactions = build_interactions(taste_events(n_users=80, seed=4))
    catalogue = Catalogue(interactions.items)
    fitted_with: list[Item2VecParams] = []

    def fit_on_all_likes(params: Item2VecParams) -> Item2Vec:
        fitted_with.append(params)
        return Item2Vec(catalogue, params, seed=3).fit(interactions.sequences)

    config = ExperimentConfig(
        n_trials=1, timeout_s=60.0, seed=3, item_baselines=False, warm_start=[WARM.as_dict()]
    )
    experiment = run_experiment(interactions, catalogue, config, final_fit=fit_on_all_likes)

    assert fitted_with == [experiment.tuning.best_params] == [WARM]
    assert set(experiment.rows) == {POPULARITY, "item2vec_gensim_defaults", ITEM2VEC_TUNED}
    final = experiment.final_model
    assert final is not None and final.model is not None
    # Trained on every like, the held-out ones included (one more per test user).
    all_likes = sum(len(s) for s in interactions.sequences.values() if len(s) >= 2)
    assert final.model.corpus_total_words == all_likes
    test_likes = sum(len(s) for s in experiment.splits.test.train.values() if len(s) >= 2)
    assert test_likes < all_likes
    assert np.isfinite(final.score(["u0"], [interactions.sequences["u0"]])).all()


def test_no_final_fit_unless_asked() -> None:
    interactions = build_interactions(taste_events(n_users=40, seed=4))
    catalogue = Catalogue(interactions.items)
    config = ExperimentConfig(
        n_trials=0, timeout_s=10.0, seed=3, item_baselines=False, warm_start=[WARM.as_dict()]
    )
    assert run_experiment(interactions, catalogue, config).final_model is None
