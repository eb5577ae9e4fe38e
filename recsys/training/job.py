"""One scheduled training run: read the log, tune, gate against popularity, publish.

Also a CLI for measuring a full run on a local log::

    recsys train [--seed-movielens]    # RECSYS_* settings

A new model is published only if its test HR@10 beats popularity's on the
same split.  Otherwise the previous model's lists stay in Redis, and the log
and the ``stats`` hash say why.  The tuner's best parameters are kept either
way: they are only the next run's starting point.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from recsys.adapters import movielens
from recsys.adapters.serving_cache import ServingCache
from recsys.adapters.storage import ObjectStore
from recsys.clients import Clients
from recsys.domain.events import Event
from recsys.settings import Settings
from recsys.training.baselines import Popularity
from recsys.training.data import (
    TRAINING_COLUMNS,
    Catalogue,
    Interactions,
    build_interactions,
    interactions_from_table,
)
from recsys.training.experiment import (
    EASE_MAX_ITEMS,
    ITEM2VEC_TUNED,
    ExperimentConfig,
    run_experiment,
)
from recsys.training.item2vec import Item2Vec, Item2VecParams, quiet_gensim
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
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "skipped": self.skipped,
            "reason": self.reason,
            "version": self.version,
            "seconds": round(self.seconds, 1),
            "metrics": self.metrics,
            "artifact_keys": self.artifact_keys,
        }


@dataclass(frozen=True)
class Watermark:
    """How much of the log a training run saw."""

    events: int
    last_event_id: str
    last_timestamp: float

    @classmethod
    def of(cls, table: Any) -> Watermark:
        """Of a deduplicated, time-ordered events table (EventLog.read_table)."""
        if table.num_rows == 0:
            return cls(0, "", 0.0)
        last = table.num_rows - 1
        return cls(
            table.num_rows,
            str(table.column("event_id")[last].as_py()),
            float(table.column("timestamp")[last].as_py()),
        )


def new_events_needed(seen: int, settings: Settings) -> int:
    """Growth that justifies a retrain: a count or a share of what was seen, the smaller."""
    by_share = math.ceil(settings.train_min_new_share * seen)
    return max(1, min(settings.train_min_new_events, by_share or settings.train_min_new_events))


def run(clients: Clients, *, progress: ProgressFn | None = None, force: bool = False) -> JobResult:
    """The scheduled job: train on the log unless it has not grown since the last run.

    The watermark (events seen, last event) is recorded after every finished
    run, published or not: training again on the same data would give the
    same answer.  ``force`` trains anyway.
    """
    started = time.monotonic()
    previous = clients.cache.train_watermark()
    check = bool(previous) and not force
    seen = int(previous.get("events", 0)) if check else 0
    needed = new_events_needed(seen, clients.settings)
    if check:
        # The parts' row counts (Parquet footers) bound the events from above:
        # when even they have not grown enough, the log is not read at all.
        at_most = clients.event_log.stored_rows() - seen
        if at_most < needed:
            return _no_news(f"at most {max(at_most, 0)}", needed, started)
    table = clients.event_log.read_table(columns=TRAINING_COLUMNS)
    mark = Watermark.of(table)
    if check and mark.events - seen < needed:
        return _no_news(str(max(mark.events - seen, 0)), needed, started)
    result = train_and_publish(
        interactions_from_table(table),
        clients.cache.all_item_ids(),
        cache=clients.cache,
        artifacts=clients.artifacts,
        settings=clients.settings,
        progress=progress,
        n_events=mark.events,
    )
    clients.cache.set_train_watermark(
        events=mark.events, last_event_id=mark.last_event_id, last_timestamp=mark.last_timestamp
    )
    return result


def _no_news(grown: str, needed: int, started: float) -> JobResult:
    reason = (
        f"no new events: {grown} since the last training run "
        f"(at least {needed} needed); nothing published"
    )
    log.info("%s", reason)
    return JobResult(False, reason, None, time.monotonic() - started, skipped=True)


def train_and_publish(
    events: list[Event] | Interactions,
    catalogue_ids: list[str],
    *,
    cache: ServingCache,
    artifacts: ObjectStore,
    settings: Settings,
    progress: ProgressFn | None = None,
    n_events: int | None = None,
) -> JobResult:
    started = time.monotonic()
    quiet_gensim()
    trained_at = datetime.now(UTC)
    version = "item2vec-" + trained_at.strftime("%Y%m%dT%H%M%SZ")
    # The stats page shows "training now" while this is set (cleared when the run ends).
    cache.set_stats(train_running_since=trained_at.isoformat())
    if isinstance(events, Interactions):
        interactions = events
    else:
        interactions = build_interactions(events)
        n_events = len(events)
    # The catalogue loader fills Redis; before it has run, the logged items are all we know.
    catalogue = Catalogue(catalogue_ids or interactions.items)
    log.info(
        "read %d events: %d users, %d likes",
        n_events or 0,
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
    counts = Popularity(catalogue).fit(interactions.sequences).counts

    def fit_on_all_likes(params: Item2VecParams) -> Item2Vec:
        # The published model learns from everything, the held-out likes included.
        model = Item2Vec(catalogue, params, seed=settings.seed, fallback_counts=counts)
        return model.fit(interactions.sequences, checkpoints=4)

    try:
        experiment = run_experiment(
            interactions,
            catalogue,
            config,
            progress=progress or log_progress,
            final_fit=fit_on_all_likes,
        )
    except ValueError as exc:
        return _keep_previous(cache, f"not enough data to train: {exc}", started)

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
        return _keep_previous(cache, reason, started, metrics)

    # Fitted on every like while the test split was scored (fit_on_all_likes).
    model = experiment.final_model or fit_on_all_likes(best)
    personal = personal_lists(model, interactions, settings.personal_top_n)
    genres = {i: m.get("genres") or [] for i, m in cache.item_metadata(catalogue.ids).items()}
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
    publish_lists(cache, personal, neighbours, info)
    reason = (
        f"published {version}: tuned item2vec HR@10 {tuned_hr:.4f} beats popularity's "
        f"{popular_hr:.4f}"
    )
    log.info("%s", reason)
    cache.set_stats(
        train_last_run_at=trained_at.isoformat(),
        train_last_outcome=reason,
        train_last_seconds=round(time.monotonic() - started, 1),
        train_running_since="",
    )
    return JobResult(True, reason, version, time.monotonic() - started, metrics, keys)


def _keep_previous(
    cache: ServingCache,
    reason: str,
    started: float,
    metrics: dict[str, dict[str, Any]] | None = None,
) -> JobResult:
    log.warning("%s", reason)
    cache.set_stats(
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
    from recsys.services.bootstrap import events_from_ratings
    from recsys.services.catalogue import load_movielens

    load_movielens(clients.cache, clients.settings.data_dir)
    if clients.event_log.part_keys():
        return 0
    events = events_from_ratings(movielens.read_ratings(clients.settings.data_dir))
    for start in range(0, len(events), part_size):
        clients.event_log.append(events[start : start + part_size])
    return len(events)


def main(argv: list[str] | None = None) -> int:
    """Run the job once on the configured log, Redis and storage; print the outcome.

        RECSYS_EVENT_LOG_URI=/tmp/ml/events RECSYS_ARTIFACT_URI=/tmp/ml/artifacts \
        RECSYS_KEY_PREFIX=trial: recsys train --seed-movielens
    """
    parser = argparse.ArgumentParser(description="One training run (read, tune, gate, publish).")
    parser.add_argument("--force", action="store_true", help="train even if the log has not grown")
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
        result = run(clients, force=args.force)
    finally:
        clients.close()
    log.info("run finished in %.1fs: %s", time.monotonic() - started, result.reason)
    print(json.dumps(result.as_dict(), indent=2))
    return 0
