"""Optuna search over item2vec's hyper-parameters, on the validation split only.

- Seeded: a seeded TPE sampler, gensim with one worker thread and a fixed seed.
  Trials run two at a time (this machine has two cores), but their parameters
  are sampled and their results told in trial order, and the pruner only
  compares with finished trials, so the same data, seed and number of
  finished trials give the same result.  The time limits only decide where a
  run stops.
- Budgeted: at most ``n_trials`` trials and ``timeout_s`` seconds.  No new
  trial starts after the deadline, and a running trial stops at the end of
  its current epoch once the deadline has passed.
- Pruned: each trial reports validation NDCG@10 at four checkpoints of its
  learning-rate schedule; a median pruner stops trials below the median of
  finished trials at the same point, and a trial whose projected fit time
  exceeds ``max_trial_s`` stops after its second epoch (never the enqueued
  starts: they are the fallback).
- Warm-started: the previous run's best parameters (kept in artifact storage)
  are the first trial, ``starting_point`` (by default ``STARTING_POINT``) the
  next; a cold start begins from the latter."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from recsys.training.data import Catalogue, Split
from recsys.training.item2vec import Item2Vec, Item2VecParams
from recsys.training.metrics import (
    Metrics,
    ScoreFn,
    coverage,
    hit_rate,
    ndcg,
    recall,
    target_ranks,
    top_k,
)

log = logging.getLogger(__name__)

CHECKPOINTS = 4
# A sampled trial replaces the incumbent (the best finished start: the last
# run's best or the prior) only if it beats it on validation NDCG@10 by
# this many standard errors of the paired per-user difference.  Validation
# NDCG@10 on ~940 users has a standard error of ~0.008; without the margin the
# search swaps a good start for a near-tie that is worse on test
# (docs/training.md, "The search").
MIN_IMPROVEMENT_SE = 2.0
# The objective.  NDCG@10 rewards the position of the hit, so it separates
# close trials better than HR@10 on a ~900-user validation set.
OBJECTIVE = "ndcg_at_10"

# A cold start's first trial: the best parameters of a blind search (seeded
# TPE from gensim's defaults, 30 trials, validation NDCG@10 only; commit
# b25947d's README table).  Small (32 dimensions), CBOW, so one fit takes a few
# seconds: a short search that starts here is already good, and the default
# budget fits a one-minute job (docs/training.md, "The search").
STARTING_POINT = Item2VecParams(
    sg=0,
    window=14,
    vector_size=32,
    negative=10,
    ns_exponent=-0.226,
    epochs=45,
    sample=0.0098,
    min_count=3,
    context_size=7,
    context_decay=0.562,
)

# Below this, downsampling is off: sampled on a log scale, stored as 0.
SAMPLE_OFF_BELOW = 1e-5

# The search space, one distribution per Item2VecParams field (docs/training.md).
SEARCH_SPACE: dict[str, optuna.distributions.BaseDistribution] = {
    "sg": optuna.distributions.CategoricalDistribution([0, 1]),
    "window": optuna.distributions.IntDistribution(2, 64, log=True),
    "vector_size": optuna.distributions.IntDistribution(32, 256, step=32),
    "negative": optuna.distributions.IntDistribution(2, 25, log=True),
    "ns_exponent": optuna.distributions.FloatDistribution(-1.0, 1.0),
    "epochs": optuna.distributions.IntDistribution(10, 100, step=5),
    "sample": optuna.distributions.FloatDistribution(1e-6, 1e-2, log=True),
    "min_count": optuna.distributions.IntDistribution(1, 5),
    "context_size": optuna.distributions.IntDistribution(1, 30, log=True),
    "context_decay": optuna.distributions.FloatDistribution(0.3, 1.0),
}


def suggest_params(trial: optuna.Trial) -> Item2VecParams:
    values = {name: _suggest(trial, name, space) for name, space in SEARCH_SPACE.items()}
    return params_from_trial(values)


def params_from_trial(values: Mapping[str, Any]) -> Item2VecParams:
    params = dict(values)
    if params.get("sample", 0.0) < SAMPLE_OFF_BELOW:
        params["sample"] = 0.0
    return Item2VecParams.from_dict(params)


def trial_values(params: Item2VecParams) -> dict[str, Any]:
    """The nearest point of the search space, as trial values for enqueue_trial.

    Stored parameters may lie outside today's space (gensim's defaults do:
    100 dimensions, 5 epochs); optuna would warn and the sampler would learn
    from a point it can never suggest again.
    """
    values = params.as_dict()
    return {name: _nearest(values[name], space) for name, space in SEARCH_SPACE.items()}


def _suggest(trial: optuna.Trial, name: str, space: optuna.distributions.BaseDistribution) -> Any:
    if isinstance(space, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(name, space.choices)
    if isinstance(space, optuna.distributions.IntDistribution):
        return trial.suggest_int(name, space.low, space.high, step=space.step, log=space.log)
    if isinstance(space, optuna.distributions.FloatDistribution):
        return trial.suggest_float(name, space.low, space.high, step=space.step, log=space.log)
    raise TypeError(f"unsupported distribution for {name}: {space!r}")


def _nearest(value: Any, space: optuna.distributions.BaseDistribution) -> Any:
    if isinstance(space, optuna.distributions.CategoricalDistribution):
        return value if value in space.choices else space.choices[0]
    if isinstance(space, optuna.distributions.IntDistribution):
        on_grid = space.low + round((int(value) - space.low) / space.step) * space.step
        return min(max(on_grid, space.low), space.high)
    if isinstance(space, optuna.distributions.FloatDistribution):
        # "sample = 0" (off) lands on the bottom of the log-scale range, which also means off.
        return min(max(float(value), space.low), space.high)
    raise TypeError(f"unsupported distribution: {space!r}")


@dataclass(frozen=True)
class TrialReport:
    """One finished trial, for progress lines."""

    number: int
    n_trials: int
    state: str
    value: float | None
    best_value: float | None
    params: Item2VecParams | None
    seconds: float


ProgressFn = Callable[[TrialReport], None]


@dataclass
class TuningResult:
    best_params: Item2VecParams
    best_value: float | None
    best_metrics: dict[str, float | int] | None
    n_complete: int
    n_pruned: int
    seconds: float
    study: optuna.Study

    def history(self) -> list[dict[str, Any]]:
        return [
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "params": t.params,
                "seconds": t.duration.total_seconds() if t.duration else None,
            }
            for t in self.study.trials
            if t.state.is_finished()  # not the enqueued starts a short budget never reached
        ]


class ValidationSet:
    """The validation split as arrays, built once per search.

    Every checkpoint of every trial ranks the same users against the same
    excluded items and targets, so the catalogue look-ups are done once here
    instead of at each of the ~100 checkpoints of a search.  The metrics are
    exactly ``metrics.evaluate``'s (``test_validation_set_matches_evaluate``);
    intermediate checkpoints compute only the objective, which skips the
    full sort that coverage@10 needs.
    """

    def __init__(self, split: Split, catalogue: Catalogue, batch_size: int = 1024) -> None:
        self.catalogue = catalogue
        self.batch_size = batch_size
        self.users = [u for u in split.users if split.targets[u] in catalogue]
        self.histories = [split.train.get(u, []) for u in self.users]
        self.targets = np.array(
            [catalogue.index[split.targets[u]] for u in self.users], dtype=np.int64
        )
        rows: list[int] = []
        columns: list[int] = []
        for row, user_id in enumerate(self.users):
            excluded = catalogue.indices(split.exclude.get(user_id, ()))
            rows.extend([row] * len(excluded))
            columns.extend(excluded)
        self.excluded_rows = np.array(rows, dtype=np.int64)
        self.excluded_columns = np.array(columns, dtype=np.int64)

    def _ranks(self, score: ScoreFn, with_tops: bool) -> tuple[np.ndarray, np.ndarray]:
        ranks: list[np.ndarray] = []
        tops: list[np.ndarray] = []
        for start in range(0, len(self.users), self.batch_size):
            end = min(start + self.batch_size, len(self.users))
            scores = np.array(
                score(self.users[start:end], self.histories[start:end]), dtype=np.float64
            )
            lo, hi = np.searchsorted(self.excluded_rows, [start, end])
            scores[self.excluded_rows[lo:hi] - start, self.excluded_columns[lo:hi]] = -np.inf
            ranks.append(target_ranks(scores, self.targets[start:end]))
            if with_tops:
                tops.append(top_k(scores, 10))
        all_ranks = np.concatenate(ranks) if ranks else np.array([], dtype=int)
        all_tops = np.concatenate(tops) if tops else np.empty((0, 10), dtype=int)
        return all_ranks, all_tops

    def objective(self, score: ScoreFn) -> float:
        """Validation NDCG@10 (OBJECTIVE), without the rest of the metrics."""
        ranks, _ = self._ranks(score, with_tops=False)
        return ndcg(ranks, 10)

    def metrics(self, score: ScoreFn) -> Metrics:
        return self.metrics_and_gains(score)[0]

    def metrics_and_gains(self, score: ScoreFn) -> tuple[Metrics, np.ndarray]:
        """The metrics, and each user's NDCG@10 gain (for paired comparisons)."""
        ranks, tops = self._ranks(score, with_tops=True)
        gains = np.where(ranks < 10, 1.0 / np.log2(ranks + 2.0), 0.0)
        metrics = Metrics(
            hr_at_10=hit_rate(ranks, 10),
            ndcg_at_10=ndcg(ranks, 10),
            recall_at_20=recall(ranks, 20),
            coverage_at_10=coverage(tops, len(self.catalogue)),
            n_users=len(self.users),
        )
        return metrics, gains


def clearly_better(challenger: np.ndarray, incumbent: np.ndarray) -> bool:
    """Per-user gains: is the challenger's mean ahead by MIN_IMPROVEMENT_SE standard errors?"""
    difference = challenger - incumbent
    if difference.size < 2:
        return bool(difference.sum() > 0)
    standard_error = difference.std(ddof=1) / np.sqrt(difference.size)
    return bool(difference.mean() > MIN_IMPROVEMENT_SE * standard_error)


def sample_users(split: Split, max_likes: int, seed: int) -> Split:
    """A seeded sample of whole users whose training likes add up to about ``max_likes``.

    Tuning cost grows with the corpus (each epoch of each trial) and the
    validation users (each checkpoint); past ``max_likes`` the search runs on a
    sample and only the final fit sees everyone.  Whole users, so sequences and
    their held-out likes stay intact; the split is returned as is when small.
    """
    n_likes = sum(len(items) for items in split.train.values())
    if n_likes <= max_likes:
        return split
    users = sorted(split.train)
    order = np.random.default_rng(seed).permutation(len(users))
    kept: list[str] = []
    total = 0
    for index in order:
        user_id = users[int(index)]
        if total >= max_likes:
            break
        kept.append(user_id)
        total += len(split.train[user_id])
    keep = set(kept)
    return Split(
        train={u: items for u, items in split.train.items() if u in keep},
        targets={u: item for u, item in split.targets.items() if u in keep},
        exclude={u: items for u, items in split.exclude.items() if u in keep},
    )


class _Objective:
    def __init__(
        self,
        split: Split,
        catalogue: Catalogue,
        fallback_counts: np.ndarray,
        seed: int,
        deadline: float,
        max_trial_s: float,
        n_starts: int = 0,
    ) -> None:
        self.split = split
        self.catalogue = catalogue
        self.validation = ValidationSet(split, catalogue)
        self.fallback_counts = fallback_counts
        self.seed = seed
        self.deadline = deadline
        self.max_trial_s = max_trial_s
        # The enqueued starts (the last run's best, the prior) are what the job
        # falls back to: a loaded machine must not cut them for a slow first epoch.
        self.n_starts = n_starts

    def __call__(
        self, trial: optuna.Trial, params: Item2VecParams
    ) -> tuple[float, Metrics, np.ndarray]:
        started = time.monotonic()
        model = Item2Vec(
            self.catalogue, params, seed=self.seed, fallback_counts=self.fallback_counts
        )
        final: list[tuple[Metrics, np.ndarray]] = []
        steps = [0]

        def checkpoint(epochs_done: int, fitted: Item2Vec) -> None:
            steps[0] += 1
            if epochs_done >= params.epochs:
                final.append(self.validation.metrics_and_gains(fitted.score))
                return  # the final value is returned, not reported
            step = steps[0]
            trial.report(self.validation.objective(fitted.score), step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"below the median at checkpoint {step}")

        def check_time(epochs_done: int, epoch_seconds: float) -> None:
            # Every epoch, not just at checkpoints: a slow trial (sg=1 with a wide
            # window) is stopped after a few epochs, not after a quarter of its run.
            now = time.monotonic()
            if now > self.deadline:
                raise optuna.TrialPruned("the tuning deadline passed")
            if epochs_done < 2 or trial.number < self.n_starts:
                return  # the first epoch also pays for warming up; judge from the second
            projected = now - started + epoch_seconds * (params.epochs - epochs_done)
            if projected > self.max_trial_s:
                raise optuna.TrialPruned(f"projected fit time {projected:.0f}s is too long")

        model.fit(
            self.split.train,
            checkpoints=CHECKPOINTS,
            on_checkpoint=checkpoint,
            on_epoch=check_time,
        )
        metrics, gains = final[-1]
        return getattr(metrics, OBJECTIVE), metrics, gains


def tune(
    split: Split,
    catalogue: Catalogue,
    fallback_counts: np.ndarray,
    *,
    n_trials: int,
    timeout_s: float,
    seed: int,
    warm_start: Sequence[Mapping[str, Any]] = (),
    starting_point: Item2VecParams = STARTING_POINT,
    parallel: int = 2,
    max_trial_s: float | None = None,
    progress: ProgressFn | None = None,
) -> TuningResult:
    """Search for the item2vec parameters with the best validation NDCG@10."""
    started = time.monotonic()
    deadline = started + timeout_s
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=8),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0),
        study_name="item2vec",
    )
    starts = [dict(values) for values in warm_start] + [starting_point.as_dict()]
    enqueued = [trial_values(Item2VecParams.from_dict(values)) for values in _unique(starts)]
    for values in _unique(enqueued):
        study.enqueue_trial(values, skip_if_exists=True)
    n_starts = len(_unique(enqueued))
    objective = _Objective(
        split,
        catalogue,
        fallback_counts,
        seed,
        deadline,
        # One slow trial must not eat the whole budget.
        max_trial_s if max_trial_s is not None else max(20.0, timeout_s / 4),
        n_starts=n_starts,
    )

    metrics_by_trial: dict[int, Metrics] = {}
    gains_by_trial: dict[int, np.ndarray] = {}
    asked = 0  # not len(study.trials): that counts the enqueued, waiting trials too
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        while asked < n_trials and time.monotonic() < deadline:
            batch = [study.ask() for _ in range(min(parallel, n_trials - asked))]
            asked += len(batch)
            # Sample every parameter here, in trial order: the sampler's random
            # state must not be consumed by two threads in a racy order.
            sampled = [suggest_params(trial) for trial in batch]
            futures = [
                pool.submit(_run, objective, trial, params)
                for trial, params in zip(batch, sampled, strict=True)
            ]
            # Tell in ask order, whatever finished first: the study's history is reproducible.
            for trial, future in zip(batch, futures, strict=True):
                outcome = future.result()
                if outcome.metrics is not None:
                    study.tell(trial, outcome.value)
                    metrics_by_trial[trial.number] = outcome.metrics
                    if outcome.gains is not None:
                        gains_by_trial[trial.number] = outcome.gains
                else:
                    study.tell(trial, state=outcome.state)
                    log.info("trial %d %s: %s", trial.number, outcome.state.name, outcome.message)
                if progress is not None:
                    progress(_report(study, trial.number, n_trials, outcome.seconds))

    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    if complete:
        best = keep_incumbent_unless_beaten(study.best_trial, complete, n_starts, gains_by_trial)
        best_params = params_from_trial(best.params)
        best_value: float | None = best.value
        best_metrics: dict[str, float | int] | None = metrics_by_trial[best.number].as_dict()
    else:
        # No budget (n_trials=0) or everything pruned: use the best-known start.
        best_params = Item2VecParams.from_dict(starts[0])
        best_value, best_metrics = None, None
    return TuningResult(
        best_params=best_params,
        best_value=best_value,
        best_metrics=best_metrics,
        n_complete=len(complete),
        n_pruned=len(pruned),
        seconds=time.monotonic() - started,
        study=study,
    )


@dataclass(frozen=True)
class _Outcome:
    state: optuna.trial.TrialState
    seconds: float
    value: float | None = None
    metrics: Metrics | None = None
    message: str = ""
    gains: np.ndarray | None = None


def _run(objective: _Objective, trial: optuna.Trial, params: Item2VecParams) -> _Outcome:
    started = time.monotonic()
    try:
        value, metrics, gains = objective(trial, params)
    except optuna.TrialPruned as exc:
        return _Outcome(
            optuna.trial.TrialState.PRUNED, time.monotonic() - started, message=str(exc)
        )
    except ValueError as exc:
        # e.g. a min_count that leaves no vocabulary on a small log: this trial
        # fails, the search goes on.
        return _Outcome(optuna.trial.TrialState.FAIL, time.monotonic() - started, message=str(exc))
    return _Outcome(
        optuna.trial.TrialState.COMPLETE, time.monotonic() - started, value, metrics, gains=gains
    )


def keep_incumbent_unless_beaten(
    best: optuna.trial.FrozenTrial,
    complete: Sequence[optuna.trial.FrozenTrial],
    n_starts: int,
    gains_by_trial: Mapping[int, np.ndarray],
) -> optuna.trial.FrozenTrial:
    """The best trial, unless it is a sampled one that only ties the best finished start."""
    starts = [t for t in complete if t.number < n_starts]
    if not starts or best.number < n_starts:
        return best
    incumbent = max(starts, key=lambda t: t.value if t.value is not None else float("-inf"))
    if best.number not in gains_by_trial or incumbent.number not in gains_by_trial:
        return best
    if clearly_better(gains_by_trial[best.number], gains_by_trial[incumbent.number]):
        return best
    log.info(
        "kept start trial %d (validation NDCG@10 %.4f): trial %d (%.4f) is not ahead by %.0f "
        "standard errors",
        incumbent.number,
        incumbent.value,
        best.number,
        best.value,
        MIN_IMPROVEMENT_SE,
    )
    return incumbent


def _report(study: optuna.Study, number: int, n_trials: int, seconds: float) -> TrialReport:
    trial = study.trials[number]
    try:
        best_value: float | None = study.best_value
    except ValueError:  # no finished trial yet
        best_value = None
    return TrialReport(
        number=number,
        n_trials=n_trials,
        state=trial.state.name,
        value=trial.value,
        best_value=best_value,
        params=params_from_trial(trial.params) if trial.params else None,
        seconds=seconds,
    )


def _unique(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen
