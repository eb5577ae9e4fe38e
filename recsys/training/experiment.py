"""One honest comparison: tune on validation, then score every model on the test split.

The protocol (docs/training.md):

1. Sequences of likes; the test split holds out each user's last like, the
   validation split (carved from the test split's training data) the
   second-to-last.
2. optuna tunes item2vec on the validation split only.  EASE's L2 weight is
   chosen on the same validation split.
3. Every model is then fitted on the test split's training data and ranks the
   full catalogue for each test user, rated items excluded.

The training job and the ``make evaluate`` CLI both run this; the job then
publishes, the CLI prints the table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

from recsys.training.baselines import EASE, ItemKNN, Popularity
from recsys.training.data import Catalogue, Interactions, Splits, make_splits
from recsys.training.item2vec import GENSIM_DEFAULTS, Item2Vec, Item2VecParams
from recsys.training.metrics import Metrics, evaluate
from recsys.training.tuning import (
    STARTING_POINT,
    ProgressFn,
    TuningResult,
    sample_users,
    tune,
)

log = logging.getLogger(__name__)

EASE_L2_GRID = (100.0, 250.0, 500.0, 1000.0)
# EASE inverts an items x items matrix: past this many items it is skipped.
EASE_MAX_ITEMS = 10_000

POPULARITY = "popularity"
ITEMKNN = "itemknn_cosine"
EASE_NAME = "ease"
ITEM2VEC_DEFAULTS = "item2vec_gensim_defaults"
ITEM2VEC_TUNED = "item2vec_tuned"


class _Model(Protocol):
    def score(self, users: Sequence[str], histories: Sequence[Sequence[str]]) -> np.ndarray: ...


ModelT = TypeVar("ModelT", bound=_Model)


@dataclass(frozen=True)
class ExperimentConfig:
    n_trials: int = 30
    timeout_s: float = 180.0
    seed: int = 42
    parallel_trials: int = 2
    # ItemKNN and EASE: always in `make evaluate`; in the job only while the catalogue is small.
    item_baselines: bool = True
    warm_start: Sequence[Mapping[str, Any]] = ()
    # The first trial of a cold start (see tuning.STARTING_POINT).
    starting_point: Item2VecParams = STARTING_POINT
    # Past this many training likes the search runs on a seeded sample of
    # users; the test fits and the published model still see everyone
    # (docs/scale.md).  MovieLens-100K (~52k) is far below it.
    tune_max_likes: int = 200_000


@dataclass(frozen=True)
class Row:
    name: str
    metrics: Metrics
    fit_seconds: float
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Experiment:
    splits: Splits
    rows: dict[str, Row]
    tuning: TuningResult
    popularity_counts: np.ndarray
    # final_fit's model (the job's refit on every like), when one was asked for.
    final_model: Item2Vec | None = None

    @property
    def tuned(self) -> Row:
        return self.rows[ITEM2VEC_TUNED]

    @property
    def popularity(self) -> Row:
        return self.rows[POPULARITY]

    def beats_popularity(self) -> bool:
        return self.tuned.metrics.hr_at_10 > self.popularity.metrics.hr_at_10

    def report(self) -> dict[str, Any]:
        return {
            "protocol": {
                "split": "leave-last-like-out (test); second-to-last like (validation)",
                "ranking": "full catalogue, items the user rated excluded",
                "test_users": len(self.splits.test.targets),
                "validation_users": len(self.splits.validation.targets),
            },
            "test": {
                name: {
                    **row.metrics.as_dict(),
                    "fit_seconds": row.fit_seconds,
                    "params": row.params,
                }
                for name, row in self.rows.items()
            },
            "tuning": {
                "best_params": self.tuning.best_params.as_dict(),
                "best_validation_ndcg_at_10": self.tuning.best_value,
                "best_validation_metrics": self.tuning.best_metrics,
                "trials_complete": self.tuning.n_complete,
                "trials_pruned": self.tuning.n_pruned,
                "seconds": self.tuning.seconds,
                "history": self.tuning.history(),
            },
        }


StepFn = Callable[[str], None]
FinalFitFn = Callable[[Item2VecParams], Item2Vec]


def run_experiment(
    interactions: Interactions,
    catalogue: Catalogue,
    config: ExperimentConfig,
    *,
    progress: ProgressFn | None = None,
    step: StepFn | None = None,
    final_fit: FinalFitFn | None = None,
) -> Experiment:
    """Tune, then score every model on the test split.

    ``final_fit`` (the job's refit on all likes) is called with the tuned
    parameters as soon as they are known, on a core of its own while the test
    split is scored: the job then needs no refit after the gate.
    """
    say = step or (lambda message: log.info("%s", message))
    splits = make_splits(interactions)
    if not splits.validation.targets:
        raise ValueError("no user has 3 likes: nothing to validate on")
    validation, test = splits.validation, splits.test
    say(
        f"{len(interactions.sequences)} users with likes, {interactions.n_likes} likes, "
        f"{len(catalogue)} catalogue items; {len(validation.targets)} validation and "
        f"{len(test.targets)} test users"
    )

    validation_popularity = Popularity(catalogue).fit(validation.train)
    tuning_split = sample_users(validation, config.tune_max_likes, config.seed)
    if tuning_split is not validation:
        say(
            f"tuning on a sample of {len(tuning_split.train)} of {len(validation.train)} users "
            f"(at most {config.tune_max_likes} likes); the final fit sees everyone"
        )
    say(f"tuning item2vec: up to {config.n_trials} trials, {config.timeout_s:.0f}s")
    tuning = tune(
        tuning_split,
        catalogue,
        validation_popularity.counts,
        n_trials=config.n_trials,
        timeout_s=config.timeout_s,
        seed=config.seed,
        warm_start=config.warm_start,
        starting_point=config.starting_point,
        parallel=config.parallel_trials,
        progress=progress,
    )

    rows: dict[str, Row] = {}

    def measure(name: str, fit: Callable[[], ModelT], params: dict[str, Any]) -> ModelT:
        started = time.monotonic()
        model = fit()
        seconds = time.monotonic() - started
        rows[name] = Row(name, evaluate(model.score, test, catalogue), seconds, params)
        return model

    counts = measure(POPULARITY, lambda: Popularity(catalogue).fit(test.train), {}).counts

    def fit_item2vec(params: Item2VecParams) -> Item2Vec:
        # Same segmented schedule as in tuning, so the test model is the tuned model.
        model = Item2Vec(catalogue, params, seed=config.seed, fallback_counts=counts)
        return model.fit(test.train, checkpoints=4)

    best = tuning.best_params

    def fit_both() -> None:
        # The tuned model first: the job's gate waits for it, not for the defaults.
        measure(ITEM2VEC_TUNED, lambda: fit_item2vec(best), best.as_dict())
        measure(ITEM2VEC_DEFAULTS, lambda: fit_item2vec(GENSIM_DEFAULTS), GENSIM_DEFAULTS.as_dict())

    # The two item2vec fits run on the second core (gensim releases the GIL)
    # while this thread scores the baselines; each fit is seeded, single-threaded
    # and independent, so the rows do not depend on the overlap.
    with ThreadPoolExecutor(max_workers=2 if final_fit else 1) as pool:
        item2vec_done = pool.submit(fit_both)
        final_done = pool.submit(final_fit, best) if final_fit else None
        if config.item_baselines:
            measure(ITEMKNN, lambda: ItemKNN(catalogue).fit(test.train), {})
            if len(catalogue) <= EASE_MAX_ITEMS:
                l2 = _choose_ease_l2(splits, catalogue)
                measure(EASE_NAME, lambda: EASE(catalogue, l2).fit(test.train), {"l2": l2})
        item2vec_done.result()
        final_model = final_done.result() if final_done else None
    order = [POPULARITY, ITEMKNN, EASE_NAME, ITEM2VEC_DEFAULTS, ITEM2VEC_TUNED]
    rows = {name: rows[name] for name in order if name in rows}
    for row in rows.values():
        say(f"{row.name}: HR@10 {row.metrics.hr_at_10:.4f} (fit {row.fit_seconds:.1f}s)")
    return Experiment(
        splits=splits,
        rows=rows,
        tuning=tuning,
        popularity_counts=counts,
        final_model=final_model,
    )


def _choose_ease_l2(splits: Splits, catalogue: Catalogue) -> float:
    """EASE's one hyper-parameter, picked on the validation split like item2vec's."""
    scores = {
        l2: evaluate(
            EASE(catalogue, l2).fit(splits.validation.train).score, splits.validation, catalogue
        ).ndcg_at_10
        for l2 in EASE_L2_GRID
    }
    return max(scores, key=lambda l2: scores[l2])
