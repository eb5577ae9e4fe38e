"""One scheduled training run: read the log, tune, gate against popularity, publish.

Also a CLI for measuring a full run on a local log::

    python -m recsys.training.job [--seed-movielens]    # RECSYS_* settings

A new model is published only if its test HR@10 beats popularity's on the
same split.  Otherwise the previous model's lists stay in Redis, and the log
and the ``stats`` hash say why.  The tuner's best parameters are kept either
way: they are only the next run's starting point.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from recsys import movielens
from recsys.clients import Clients
from recsys.events import Event
from recsys.settings import Settings
from recsys.storage import ObjectStore
from recsys.store import Store
from recsys.training.baselines import Popularity
from recsys.training.data import Catalogue, build_interactions
from recsys.training.experiment import (
    EASE_MAX_ITEMS,
    ITEM2VEC_TUNED,
    ExperimentConfig,
    run_experiment,
)
from recsys.training.item2vec import Item2Vec, quiet_gensim
from recsys.training.publish import (
    load_best_params,
    neighbour_lists,
    personal_lists,
    publish_lists,
    save_best_params,
    save_model,
)
from recsys.training.tuning import ProgressFn, TrialReport

log = logging.getLogger(__name__)


@dataclass
class JobResult:
    published: bool
    reason: str
    version: str | None = None
    seconds: float = 0.0
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    artifact_keys: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "reason": self.reason,
            "version": self.version,
            "seconds": round(self.seconds, 1),
            "metrics": self.metrics,
            "artifact_keys": self.artifact_keys,
        }


def run(clients: Clients, *, progress: ProgressFn | None = None) -> JobResult:
    """The scheduled job: everything from the clients' settings, then train_and_publish."""
    return train_and_publish(
        clients.event_log.read(),
        clients.store.all_item_ids(),
        store=clients.store,
        artifacts=clients.artifacts,
        settings=clients.settings,
        progress=progress,
    )


def train_and_publish(
    events: list[Event],
    catalogue_ids: list[str],
    *,
    store: Store,
    artifacts: ObjectStore,
    settings: Settings,
    progress: ProgressFn | None = None,
) -> JobResult:
    started = time.monotonic()
    quiet_gensim()
    trained_at = datetime.now(UTC)
    version = "item2vec-" + trained_at.strftime("%Y%m%dT%H%M%SZ")
    # The stats page shows "training now" while this is set (cleared when the run ends).
    store.set_stats(train_running_since=trained_at.isoformat())
    interactions = build_interactions(events)
    # The catalogue loader fills Redis; before it has run, the logged items are all we know.
    catalogue = Catalogue(catalogue_ids or interactions.items)
    log.info(
        "read %d events: %d users, %d likes",
        len(events),
        len(interactions.rated),
        interactions.n_likes,
    )

    previous_best = load_best_params(artifacts)
    config = ExperimentConfig(
        n_trials=settings.train_trials,
        timeout_s=settings.train_timeout_s,
        seed=settings.seed,
        item_baselines=len(catalogue) <= EASE_MAX_ITEMS,
        warm_start=[previous_best] if previous_best else [],
    )
    try:
        experiment = run_experiment(
            interactions, catalogue, config, progress=progress or log_progress
        )
    except ValueError as exc:
        return _keep_previous(store, f"not enough data to train: {exc}", started)

    report = experiment.report()
    metrics = {name: row.metrics.as_dict() for name, row in experiment.rows.items()}
    best = experiment.tuning.best_params
    save_best_params(
        artifacts,
        best.as_dict(),
        {"version": version, "validation_ndcg_at_10": experiment.tuning.best_value},
    )

    tuned_hr = experiment.tuned.metrics.hr_at_10
    popular_hr = experiment.popularity.metrics.hr_at_10
    if not experiment.beats_popularity():
        reason = (
            f"kept the previous model: tuned item2vec HR@10 {tuned_hr:.4f} does not beat "
            f"popularity's {popular_hr:.4f} on the test split"
        )
        return _keep_previous(store, reason, started, metrics)

    # The published model learns from everything, the held-out likes included.
    counts = Popularity(catalogue).fit(interactions.sequences).counts
    model = Item2Vec(catalogue, best, seed=settings.seed, fallback_counts=counts)
    model.fit(interactions.sequences, checkpoints=4)
    personal = personal_lists(model, interactions, settings.personal_top_n)
    genres = {i: m.get("genres") or [] for i, m in store.item_metadata(catalogue.ids).items()}
    neighbours = neighbour_lists(model, settings.neighbours_top_m, genres)
    report["published"] = {
        "version": version,
        "users_with_lists": sum(1 for items in personal.values() if items),
        "items_with_neighbours": len(neighbours),
    }
    keys = save_model(artifacts, version, model, report, experiment.tuning.study)
    info = {
        "version": version,
        "trained_at": trained_at.isoformat().replace("+00:00", "Z"),
        "published_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "algorithm": "item2vec (gensim Word2Vec, predict_output_word scoring; "
        "cosine neighbours checked by genre)",
        "params": best.as_dict(),
        "metrics": experiment.tuned.metrics.as_dict(),
        "baselines": {k: v for k, v in metrics.items() if k != ITEM2VEC_TUNED},
        "n_users": len(interactions.rated),
        "n_likes": interactions.n_likes,
        "n_items": len(catalogue),
        "artifacts": f"{artifacts.uri.rstrip('/')}/{keys[0].rsplit('/', 1)[0]}/",
    }
    publish_lists(store, personal, neighbours, info)
    reason = (
        f"published {version}: tuned item2vec HR@10 {tuned_hr:.4f} beats popularity's "
        f"{popular_hr:.4f}"
    )
    log.info("%s", reason)
    store.set_stats(
        train_last_run_at=trained_at.isoformat(),
        train_last_outcome=reason,
        train_last_seconds=round(time.monotonic() - started, 1),
        train_running_since="",
    )
    return JobResult(True, reason, version, time.monotonic() - started, metrics, keys)


def _keep_previous(
    store: Store, reason: str, started: float, metrics: dict[str, dict[str, Any]] | None = None
) -> JobResult:
    log.warning("%s", reason)
    store.set_stats(
        train_last_run_at=datetime.now(UTC).isoformat(),
        train_last_outcome=reason,
        train_last_seconds=round(time.monotonic() - started, 1),
        train_running_since="",
    )
    return JobResult(False, reason, None, time.monotonic() - started, metrics or {})


def log_progress(report: TrialReport) -> None:
    value = f"{report.value:.4f}" if report.value is not None else "-"
    best = f"{report.best_value:.4f}" if report.best_value is not None else "-"
    log.info(
        "trial %d of %d %s (validation NDCG@10 %s), best so far %s",
        report.number + 1,
        report.n_trials,
        report.state.lower(),
        value,
        best,
    )


def seed_log_with_movielens(clients: Clients, part_size: int = 500) -> int:
    """Give an empty event log MovieLens-100K's history; returns the events written.

    For measuring a full run without RabbitMQ: the events are those the
    bootstrap publishes, written in parts the size the popularity job drains,
    and the catalogue is loaded into Redis as the catalogue loader does.
    """
    from recsys.bootstrap import events_from_ratings
    from recsys.catalogue import load_movielens

    load_movielens(clients.store, clients.settings.data_dir)
    if clients.event_log.part_keys():
        return 0
    events = events_from_ratings(movielens.read_ratings(clients.settings.data_dir))
    for start in range(0, len(events), part_size):
        clients.event_log.append(events[start : start + part_size])
    return len(events)


def main(argv: list[str] | None = None) -> int:
    """Run the job once on the configured log, Redis and storage; print the outcome.

        RECSYS_EVENT_LOG_URI=/tmp/ml/events RECSYS_ARTIFACT_URI=/tmp/ml/artifacts \
        RECSYS_KEY_PREFIX=trial: python -m recsys.training.job --seed-movielens
    """
    parser = argparse.ArgumentParser(description="One training run (read, tune, gate, publish).")
    parser.add_argument(
        "--seed-movielens",
        action="store_true",
        help="first fill an empty event log with MovieLens-100K and load its catalogue",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    clients = Clients(Settings())
    try:
        if args.seed_movielens:
            log.info("seeded the event log with %d events", seed_log_with_movielens(clients))
        started = time.monotonic()
        result = run(clients)
    finally:
        clients.close()
    log.info("run finished in %.1fs: %s", time.monotonic() - started, result.reason)
    print(json.dumps(result.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
