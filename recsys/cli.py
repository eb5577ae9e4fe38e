"""Command line: ``recsys <command>`` (or ``python -m recsys``).

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

import redis

from recsys import catalogue, movielens
from recsys.clients import Clients
from recsys.errors import DependencyUnavailable
from recsys.settings import Settings

HOW_TO_START = """\
Redis (127.0.0.1:6379) and RabbitMQ (127.0.0.1:5672) must be running. Start them with
  Debian/Ubuntu:  sudo apt-get install redis-server rabbitmq-server
                  redis-server --daemonize yes && rabbitmq-server -detached
  Docker:         docker compose up -d redis rabbitmq
or point RECSYS_REDIS_URL / RECSYS_RABBITMQ_URL at running servers."""


def _print(data: object) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_fetch_data(args: argparse.Namespace, settings: Settings) -> int:
    path = movielens.fetch(settings.data_dir, offline=args.offline)
    print(f"MovieLens-100K ready in {path}")
    return 0


def cmd_load_catalogue(args: argparse.Namespace, settings: Settings) -> int:
    clients = Clients(settings)
    size = catalogue.load_movielens(clients.store, settings.data_dir, offline=args.offline)
    print(f"catalogue: {size} items under prefix {settings.key_prefix!r}")
    return 0


def cmd_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    from recsys.bootstrap import bootstrap

    clients = Clients(settings)
    catalogue.load_movielens(clients.store, settings.data_dir)

    def progress(done: int, total: int) -> None:
        if done == total or done % 10_000 < 1000:
            print(f"  published {done:,} / {total:,} events", flush=True)

    published = bootstrap(
        broker=clients.broker,
        store=clients.store,
        settings=settings,
        force=args.force,
        progress=progress,
    )
    print(f"bootstrap: published {published:,} MovieLens events to {settings.queue_name!r}")
    clients.close()
    return 0


def cmd_popularity(args: argparse.Namespace, settings: Settings) -> int:
    from recsys import popularity

    clients = Clients(settings)
    report = popularity.run(
        broker=clients.broker,
        event_log=clients.event_log,
        store=clients.store,
        settings=settings,
        full_recompute=args.rebuild,
    )
    clients.close()
    _print(report.as_dict())
    return 0


def cmd_cleanup(args: argparse.Namespace, settings: Settings) -> int:
    clients = Clients(settings)
    deleted = clients.store.delete_all()
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args, Settings()))
    except (DependencyUnavailable, redis.RedisError) as exc:
        print(f"error: {exc}\n{HOW_TO_START}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
