"""The optuna search: seeded, warm-started, budgeted, pruned."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np
import optuna
import pytest

from recsys.training.baselines import Popularity
from recsys.training.data import Catalogue, build_interactions, make_splits
from recsys.training.item2vec import GENSIM_DEFAULTS, Item2Vec
from recsys.training.metrics import evaluate
from recsys.training.synthetic import taste_events
from recsys.training.tuning import (
    SEARCH_SPACE,
    STARTING_POINT,
    TrialReport,
    ValidationSet,
    clearly_better,
    keep_incumbent_unless_beaten,
    params_from_trial,
    sample_users,
    trial_values,
    tune,
)

# Small and fast: ~600 likes; a corpus this small needs many epochs to learn the groups.
WARM = replace(STARTING_POINT, vector_size=32, epochs=40, window=10, context_size=3)


@pytest.fixture(scope="module")
def problem():
    interactions = build_interactions(taste_events(n_users=80, seed=4))
    catalogue = Catalogue(interactions.items)
    validation = make_splits(interactions).validation
    counts = Popularity(catalogue).fit(validation.train).counts
    return validation, catalogue, counts


def run(problem, **kwargs):
    validation, catalogue, counts = problem
    options: dict[str, Any] = {
        "n_trials": 4,
        "timeout_s": 60.0,
        "seed": 3,
        "warm_start": [WARM.as_dict()],
    }
    options.update(kwargs)
    return tune(validation, catalogue, counts, **options)


def test_the_first_trial_is_the_warm_start(problem) -> None:
    result = run(problem, n_trials=1)
    first = result.study.trials[0]
    assert first.params["window"] == WARM.window
    assert first.params["epochs"] == WARM.epochs
    assert result.best_params == WARM
    assert result.best_metrics is not None and result.best_metrics["hr_at_10"] > 0.9


def test_same_seed_same_trials(problem) -> None:
    # Time limits only decide where a search stops; with room to spare, a seed decides all.
    one = run(problem, max_trial_s=600.0)
    two = run(problem, max_trial_s=600.0)
    assert [t.params for t in one.study.trials] == [t.params for t in two.study.trials]
    assert [t.value for t in one.study.trials] == [t.value for t in two.study.trials]
    assert one.best_params == two.best_params


def test_no_trials_means_the_warm_start_without_search(problem) -> None:
    result = run(problem, n_trials=0)
    assert result.n_complete == 0 and result.best_params == WARM


def test_the_deadline_stops_the_search(problem) -> None:
    started = time.monotonic()
    result = run(problem, n_trials=1000, timeout_s=1.5)
    assert time.monotonic() - started < 15
    assert len(result.study.trials) < 1000


def test_progress_reports_every_trial_with_the_best_so_far(problem) -> None:
    reports: list[TrialReport] = []
    run(problem, n_trials=3, progress=reports.append)
    assert [r.number for r in reports] == [0, 1, 2]
    assert all(r.n_trials == 3 for r in reports)
    values = [r.value for r in reports if r.value is not None]
    assert reports[-1].best_value == max(values)


def test_hopeless_trials_are_pruned_but_never_the_starts(problem) -> None:
    # With a per-trial time cap no trial can meet, every sampled trial stops after
    # its second epoch; the enqueued starts (WARM, then STARTING_POINT) are the
    # fallback and always finish.
    result = run(problem, n_trials=4, max_trial_s=1e-6)
    states = [t.state.name for t in result.study.trials]
    assert states == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED"]
    assert result.study.trials[1].params["window"] == STARTING_POINT.window != WARM.window


def test_stored_params_outside_the_space_start_from_the_nearest_point() -> None:
    values = trial_values(GENSIM_DEFAULTS)  # 100 dimensions, 5 epochs: off the grid
    assert values["vector_size"] == 96
    assert values["epochs"] == 10
    assert values["window"] == GENSIM_DEFAULTS.window
    assert set(values) == set(SEARCH_SPACE)
    # Downsampling "off" (0) maps to the bottom of its log range, which reads back as off.
    assert params_from_trial(trial_values(STARTING_POINT)) == STARTING_POINT


def test_validation_set_matches_evaluate(problem) -> None:
    validation, catalogue, counts = problem
    model = Item2Vec(catalogue, WARM, seed=3, fallback_counts=counts).fit(validation.train)
    # Small batches: the excluded items of each batch must land on its own rows.
    fast = ValidationSet(validation, catalogue, batch_size=7)
    expected = evaluate(model.score, validation, catalogue)
    assert fast.metrics(model.score) == expected
    assert fast.objective(model.score) == expected.ndcg_at_10
    assert 0 < expected.ndcg_at_10 < 1


def test_tuning_samples_whole_users_past_the_like_budget(problem) -> None:
    validation, _, _ = problem
    n_likes = sum(len(items) for items in validation.train.values())
    assert sample_users(validation, n_likes, seed=1) is validation
    sample = sample_users(validation, n_likes // 4, seed=1)
    assert sample_users(validation, n_likes // 4, seed=1) == sample
    assert 0 < len(sample.train) < len(validation.train)
    for user_id, items in sample.train.items():
        assert items == validation.train[user_id]
        assert sample.targets.get(user_id) == validation.targets.get(user_id)
    assert set(sample.targets) <= set(sample.train)
    sampled_likes = sum(len(items) for items in sample.train.values())
    longest = max(len(items) for items in validation.train.values())
    assert n_likes // 4 <= sampled_likes < n_likes // 4 + longest


def test_clearly_better_needs_more_than_noise() -> None:
    rng = np.random.default_rng(0)
    incumbent = rng.choice([0.0, 1.0, 0.5], size=900)
    assert not clearly_better(incumbent, incumbent)
    # One user better, the rest equal: a mean ahead, but not by two standard errors.
    one_lucky_user = incumbent.copy()
    one_lucky_user[np.argmin(incumbent)] += 0.5
    assert not clearly_better(one_lucky_user, incumbent)
    # A third of the users better by 0.1, nobody worse: clearly ahead.
    broadly_better = incumbent + np.where(np.arange(900) % 3 == 0, 0.1, 0.0)
    assert clearly_better(broadly_better, incumbent)
    assert not clearly_better(incumbent, broadly_better)


def _trial(number: int, value: float) -> optuna.trial.FrozenTrial:
    trial = optuna.trial.create_trial(value=value, params={}, distributions={})
    trial.number = number
    return trial


def test_a_sampled_trial_replaces_the_start_only_when_clearly_better() -> None:
    start, sampled = _trial(0, 0.110), _trial(1, 0.111)
    gains = np.linspace(0.0, 1.0, 900)
    near_tie = gains.copy()
    near_tie[-1] += 0.9  # the same mean gain within noise
    clear = gains + 0.01
    pick = keep_incumbent_unless_beaten
    assert pick(sampled, [start, sampled], 1, {0: gains, 1: near_tie}) is start
    assert pick(sampled, [start, sampled], 1, {0: gains, 1: clear}) is sampled
    # Among the starts themselves (the last run's best, the prior) the best wins outright.
    assert pick(sampled, [start, sampled], 2, {0: gains, 1: near_tie}) is sampled
    # No start finished: nothing to defend.
    assert pick(sampled, [sampled], 1, {1: near_tie}) is sampled
