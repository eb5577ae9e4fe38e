"""The one command line: ``recsys <command>`` (or ``python -m devtools <command>``).

Data and admin commands, the job runs, evaluation, the local stack and the page.

Commands that talk to Redis or RabbitMQ use the same Settings as the
functions, so ``RECSYS_KEY_PREFIX=demo: recsys load-catalogue`` loads a
catalogue the functions started with the same variable will see.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from devtools import HOW_TO_START, localrun, requirements, scheduler, site
from recsys.adapters import movielens
from recsys.clients import Clients
from recsys.domain.errors import DependencyUnavailable
from recsys.services import catalogue
from recsys.settings import Settings


def _print(data: object) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_fetch_data(args: argparse.Namespace, settings: Settings) -> int:
    path = movielens.fetch(settings.data_dir, offline=args.offline)
    print(f"MovieLens-100K ready in {path}")
    return 0


def cmd_load_catalogue(args: argparse.Namespace, settings: Settings) -> int:
    clients = Clients(settings)
    size = catalogue.load_movielens(clients.cache, settings.data_dir, offline=args.offline)
    print(f"catalogue: {size} items under prefix {settings.key_prefix!r}")
    return 0


def cmd_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    from recsys.services.bootstrap import bootstrap

    clients = Clients(settings)
    catalogue.load_movielens(clients.cache, settings.data_dir)

    def progress(done: int, total: int) -> None:
        if done == total or done % 10_000 < 1000:
            print(f"  published {done:,} / {total:,} events", flush=True)

    published = bootstrap(
        broker=clients.broker,
        cache=clients.cache,
        settings=settings,
        force=args.force,
        progress=progress,
    )
    print(f"bootstrap: published {published:,} MovieLens events to {settings.queue_name!r}")
    clients.close()
    return 0


def cmd_popularity(args: argparse.Namespace, settings: Settings) -> int:
    from recsys.services import popularity

    clients = Clients(settings)
    report = popularity.run(
        broker=clients.broker,
        event_log=clients.event_log,
        cache=clients.cache,
        settings=settings,
        full_recompute=args.rebuild,
    )
    clients.close()
    _print(report.as_dict())
    return 0


def cmd_cleanup(args: argparse.Namespace, settings: Settings) -> int:
    clients = Clients(settings)
    deleted = clients.cache.delete_all()
    purged = clients.broker.purge()
    clients.close()
    print(f"deleted {deleted} keys under {settings.key_prefix!r}, purged {purged} messages")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recsys", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fetch-data", help="download MovieLens-100K into data_dir")
    p.add_argument("--offline", action="store_true", help="skip GroupLens, use the recbole copy")
    p.set_defaults(func=cmd_fetch_data)

    p = sub.add_parser("load-catalogue", help="load the MovieLens movies into Redis")
    p.add_argument("--offline", action="store_true")
    p.set_defaults(func=cmd_load_catalogue)

    p = sub.add_parser("bootstrap", help="publish MovieLens ratings as like/dislike events")
    p.add_argument("--force", action="store_true", help="publish again even if done before")
    p.set_defaults(func=cmd_bootstrap)

    p = sub.add_parser("popularity", help="run the popularity job once")
    p.add_argument(
        "--rebuild", action="store_true", help="recompute the aggregates from the whole log"
    )
    p.set_defaults(func=cmd_popularity)

    p = sub.add_parser(
        "cleanup", help="delete this service's Redis keys (its prefix only) and purge its queue"
    )
    p.set_defaults(func=cmd_cleanup)

    # add_help=False: their --help (and every option) belongs to the module's parser.
    p = sub.add_parser(
        "train", add_help=False, help="one training run (read the log, tune, gate, publish)"
    )
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate", add_help=False, help="train and evaluate on MovieLens-100K, print the tables"
    )
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("run", help="the whole service on this machine (make run)")
    localrun.add_arguments(p)
    p.set_defaults(func=lambda args, settings: localrun.run(args))

    p = sub.add_parser("scheduler", help="call the job handlers on a timer, like EventBridge")
    scheduler.add_arguments(p)
    p.set_defaults(func=lambda args, settings: scheduler.run(args))

    p = sub.add_parser("deploy-page", help="upload the page to an S3 website bucket")
    site.add_deploy_arguments(p)
    p.set_defaults(func=site.deploy)

    p = sub.add_parser("serve-page", help="serve the page locally with a generated config.js")
    site.add_serve_arguments(p)
    p.set_defaults(func=site.serve)

    p = sub.add_parser("requirements", help="write each function's requirements.txt")
    p.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    p.set_defaults(func=lambda args, settings: requirements.main(check=args.check))
    return parser


def _passthrough(args: argparse.Namespace) -> list[str]:
    return [a for a in args.args if a != "--"]


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from recsys.training import job

    return job.main(_passthrough(args))


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from devtools import evaluate

    return evaluate.main(_passthrough(args))


# Subcommands whose own options are parsed by the module they run.
PASSTHROUGH = ("train", "evaluate")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command in PASSTHROUGH:
        args.args = [*unknown, *args.args]  # e.g. `recsys evaluate --no-taste`
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args, Settings()))
    except DependencyUnavailable as exc:
        print(f"error: {exc}\n{HOW_TO_START}", file=sys.stderr)
        return 2
