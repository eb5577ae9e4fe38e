"""``make evaluate``: MovieLens-100K, the whole tuning and evaluation, one table.

    python -m devtools evaluate [--trials N] [--timeout S] [--seed K]
                                       [--start-from prior|gensim-defaults] [--no-taste] [--offline]

MovieLens is fetched by ``recsys.adapters.movielens.fetch`` (a no-op when the files are
already in ``--data-dir``) and turned into like/dislike events in memory by
``recsys.services.bootstrap.events_from_ratings``, exactly the events the bootstrap
writes to the log (rating >= 4 like, <= 2 dislike, 3 no event; the same event
ids, so timestamp ties sort the same); no Redis, RabbitMQ or object storage is
involved.  The protocol
and the models are exactly those of the training job (recsys.training.experiment).

Then the taste check (recsys.training.taste, run by
devtools.taste_check): new users like a genre's most-liked films through
the real functions on the real Redis and RabbitMQ, and the share of that genre
in their next answers is measured; ``--no-taste`` skips it.  Both tables are
printed together at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from recsys.adapters import movielens
from recsys.domain.events import Event
from recsys.services.bootstrap import events_from_ratings
from recsys.settings import Settings
from recsys.training.data import Catalogue, build_interactions
from recsys.training.experiment import Experiment, ExperimentConfig, run_experiment
from recsys.training.item2vec import GENSIM_DEFAULTS, quiet_gensim
from recsys.training.taste import format_table as format_taste_table
from recsys.training.tuning import STARTING_POINT, TrialReport

LABELS = {
    "popularity": "popularity",
    "itemknn_cosine": "ItemKNN (cosine)",
    "ease": "EASE",
    "item2vec_gensim_defaults": "item2vec (gensim defaults)",
    "item2vec_tuned": "item2vec (tuned)",
}


def movielens_events(data_dir: str | Path) -> list[Event]:
    """The events the bootstrap writes to the log, with the same ids (ties sort the same)."""
    return events_from_ratings(movielens.read_ratings(data_dir))


def format_table(experiment: Experiment) -> str:
    header = (
        f"{'model':<28} {'HR@10':>7} {'NDCG@10':>8} {'Recall@20':>9} {'Cov@10':>7} {'fit s':>7}"
    )
    lines = [header, "-" * len(header)]
    for name, row in experiment.rows.items():
        m = row.metrics
        lines.append(
            f"{LABELS.get(name, name):<28} {m.hr_at_10:>7.4f} {m.ndcg_at_10:>8.4f} "
            f"{m.recall_at_20:>9.4f} {m.coverage_at_10:>7.4f} {row.fit_seconds:>7.1f}"
        )
    return "\n".join(lines)


def print_progress(report: TrialReport) -> None:
    value = f"{report.value:.4f}" if report.value is not None else "-"
    best = f"{report.best_value:.4f}" if report.best_value is not None else "-"
    print(
        f"  trial {report.number + 1} of {report.n_trials}: {report.state.lower():<8} "
        f"NDCG@10 {value}, best so far {best} ({report.seconds:.1f}s)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=settings.data_dir)
    parser.add_argument("--trials", type=int, default=settings.train_trials)
    parser.add_argument("--timeout", type=float, default=settings.train_timeout_s)
    parser.add_argument("--seed", type=int, default=settings.seed)
    parser.add_argument("--offline", action="store_true", help="skip the GroupLens download")
    parser.add_argument(
        "--start-from",
        choices=["prior", "gensim-defaults"],
        # As the job: a cold start begins at the prior (tuning.STARTING_POINT,
        # itself the result of a blind validation-only search); gensim-defaults
        # shows what a blind search reaches on the same budget.
        default="prior",
        help="first trial: the job's cold-start prior (the default, as in the job) or "
        "gensim's defaults (a blind search)",
    )
    parser.add_argument("--report", type=Path, help="also write the full report as JSON here")
    parser.add_argument(
        "--write-figures",
        action="store_true",
        help="also write docs/figures/evaluation.{md,json} and the README's quote of it",
    )
    parser.add_argument(
        "--no-taste",
        action="store_true",
        help="skip the taste check (it needs Redis and RabbitMQ)",
    )
    args = parser.parse_args(argv)

    quiet_gensim()
    started = time.monotonic()
    movielens.fetch(args.data_dir, offline=args.offline)
    events = movielens_events(args.data_dir)
    catalogue = Catalogue(movielens.read_items(args.data_dir))
    interactions = build_interactions(events)
    print(f"MovieLens-100K: {len(events)} like/dislike events", flush=True)

    config = ExperimentConfig(
        n_trials=args.trials,
        timeout_s=args.timeout,
        seed=args.seed,
        starting_point=STARTING_POINT if args.start_from == "prior" else GENSIM_DEFAULTS,
    )
    experiment = run_experiment(
        interactions,
        catalogue,
        config,
        progress=print_progress,
        step=lambda message: print(message, flush=True),
    )
    tuning = experiment.tuning
    taste = None
    if not args.no_taste:
        from devtools.taste_check import run_taste_check

        taste = run_taste_check(
            args.data_dir,
            tuning.best_params.as_dict(),
            say=lambda message: print(message, flush=True),
        )
    summary = "\n".join(
        [
            "Protocol: likes = rating >= 4; test = each user's last like, validation = the one "
            "before; full-catalogue ranking, rated items excluded; "
            f"{experiment.tuned.metrics.n_users} test users.",
            f"Tuning: {tuning.n_complete} trials complete, {tuning.n_pruned} pruned, "
            f"{tuning.seconds:.0f}s; best {json.dumps(tuning.best_params.as_dict())}",
            "",
            format_table(experiment),
            *(
                ["", format_taste_table(taste), f"(taste check {taste.seconds:.0f}s)"]
                if taste is not None
                else []
            ),
            "",
            f"total {time.monotonic() - started:.0f}s",
        ]
    )
    print()
    print(summary)
    if args.write_figures:
        from devtools import figures

        # `make evaluate` is this command with --write-figures and no other option.
        options = [
            a for a in (argv if argv is not None else sys.argv[1:]) if a != "--write-figures"
        ]
        figures.publish(
            "evaluation",
            command=" ".join(["python -m devtools evaluate", *options])
            if options
            else "make evaluate",
            body=f"```\n{summary}\n```\n",
            data={
                "experiment": experiment.report(),
                "taste": None if taste is None else taste.as_dict(),
            },
        )
    if args.report:
        report = experiment.report()
        if taste is not None:
            report["taste"] = taste.as_dict()
        args.report.write_text(json.dumps(report, indent=2, default=str))
    return 0
