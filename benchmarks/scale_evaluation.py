"""CPU cost of one tuning checkpoint, before and after ``tuning.ValidationSet``.

    python -m benchmarks.scale_evaluation [--data-dir data] [--repeats 5]

Fits one small item2vec model on MovieLens-100K's validation split, checks that
``ValidationSet`` gives exactly ``metrics.evaluate``'s metrics, then measures
the CPU time (``time.process_time``) of each, so the figure does not depend on
what else the machine is running.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace

from recsys.adapters import movielens
from recsys.services.bootstrap import events_from_ratings
from recsys.training.baselines import Popularity
from recsys.training.data import Catalogue, build_interactions, make_splits
from recsys.training.item2vec import Item2Vec, quiet_gensim
from recsys.training.metrics import evaluate
from recsys.training.tuning import CHECKPOINTS, STARTING_POINT, ValidationSet


def cpu_seconds(work: Callable[[], object], repeats: int) -> float:
    started = time.process_time()
    for _ in range(repeats):
        work()
    return (time.process_time() - started) / repeats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    quiet_gensim()
    movielens.fetch(args.data_dir, offline=True)
    catalogue = Catalogue(movielens.read_items(args.data_dir))
    events = events_from_ratings(movielens.read_ratings(args.data_dir))
    split = make_splits(build_interactions(events)).validation
    counts = Popularity(catalogue).fit(split.train).counts
    params = replace(STARTING_POINT, epochs=4)
    model = Item2Vec(catalogue, params, seed=1, fallback_counts=counts).fit(split.train)
    arrays = ValidationSet(split, catalogue)
    if arrays.metrics(model.score) != evaluate(model.score, split, catalogue):
        print("ValidationSet and metrics.evaluate disagree", file=sys.stderr)
        return 1
    before = cpu_seconds(lambda: evaluate(model.score, split, catalogue), args.repeats)
    objective = cpu_seconds(lambda: arrays.objective(model.score), args.repeats)
    final = cpu_seconds(lambda: arrays.metrics(model.score), args.repeats)
    per_trial_before = CHECKPOINTS * before
    per_trial_after = (CHECKPOINTS - 1) * objective + final
    print(
        f"CPU s per checkpoint: metrics.evaluate {before:.3f}; "
        f"ValidationSet.objective {objective:.3f}, ValidationSet.metrics {final:.3f}"
    )
    print(
        f"per {CHECKPOINTS}-checkpoint trial: {per_trial_before:.2f} s -> {per_trial_after:.2f} s "
        f"({per_trial_before / per_trial_after:.2f}x less evaluation work)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
