"""Confirm latency of persistent messages by RabbitMQ queue kind: ``make bench-queues``.

Why the event queue is a classic queue with the version 2 index
(``recsys.adapters.broker.QUEUE_ARGUMENTS``): a user's click waits for the
broker's confirm, and the confirm waits for the queue's disk sync.  Each
kind gets the same load, in turn, on the real RabbitMQ: a few senders on one
aio-pika channel with publisher confirms, each publishing one persistent,
mandatory message, waiting for its confirm, then pausing a random 0 to 2 x
``pause-ms``.  Repeated rounds alternate the kinds, so a noisy minute of the
machine does not land on one kind only.  Each queue is deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from typing import Any

import aio_pika

from recsys.domain.events import Event
from recsys.settings import Settings

KINDS: dict[str, dict[str, Any]] = {
    "classic, version 1 index": {"x-queue-version": 1},
    "classic, version 2 index": {"x-queue-version": 2},
    "quorum": {"x-queue-type": "quorum"},
}


async def confirm_latencies(
    url: str,
    arguments: dict[str, Any],
    *,
    senders: int,
    pause_ms: float,
    seconds: float,
    queue: str | None = None,
    keep_queue: bool = False,
) -> list[float]:
    """Milliseconds from publish to confirm, one per message, on a new queue of that kind.

    Also ``make bench``'s "RabbitMQ alone" floor, which keeps its queue for the
    caller to inspect and delete.
    """
    connection = await aio_pika.connect(url)
    queue = queue or f"bench-queues.{uuid.uuid4().hex[:8]}"
    latencies: list[float] = []
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(queue, durable=True, arguments=arguments)
        body = Event.new("bench-queues", "50", "like").to_json().encode()
        pauses = random.Random(3)
        deadline = time.monotonic() + seconds

        async def sender() -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                await channel.default_exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=queue,
                    mandatory=True,
                )
                latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(pauses.uniform(0, 2 * pause_ms) / 1000)

        await asyncio.gather(*(sender() for _ in range(senders)))
        if not keep_queue:
            await channel.queue_delete(queue)
    finally:
        await connection.close()
    return latencies


def summary(latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    n = len(ordered)
    return {
        "confirms": n,
        "p50_ms": round(ordered[n // 2], 2),
        "p99_ms": round(ordered[int(n * 0.99)], 2),
        "p99_9_ms": round(ordered[int(n * 0.999)], 2),
        "max_ms": round(ordered[-1], 2),
        "over_100_ms": sum(1 for x in ordered if x > 100),
    }


def measure(
    url: str, *, rounds: int, seconds: float, senders: int, pause_ms: float
) -> dict[str, dict[str, Any]]:
    collected: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(rounds):
        for kind, arguments in KINDS.items():
            collected[kind] += asyncio.run(
                confirm_latencies(
                    url, arguments, senders=senders, pause_ms=pause_ms, seconds=seconds
                )
            )
    return {kind: summary(latencies) for kind, latencies in collected.items()}


def format_table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| queue | confirms | p50 ms | p99 ms | p99.9 ms | max ms | over 100 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, row in results.items():
        lines.append(
            f"| {kind} | {row['confirms']:,} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
            f"| {row['p99_9_ms']:.1f} | {row['max_ms']:.1f} | {row['over_100_ms']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15, help="per kind and round")
    parser.add_argument("--senders", type=int, default=5)
    parser.add_argument("--pause-ms", type=float, default=100)
    parser.add_argument("--write-figures", action="store_true")
    args = parser.parse_args()
    results = measure(
        Settings().rabbitmq_url,
        rounds=args.rounds,
        seconds=args.seconds,
        senders=args.senders,
        pause_ms=args.pause_ms,
    )
    table = format_table(results)
    print(json.dumps(results, indent=2))
    print(table)
    if args.write_figures:
        from devtools import figures

        figures.publish(
            "bench-queues",
            command="make bench-queues",
            body=(
                f"{args.senders} senders, each pausing 0-{2 * args.pause_ms:.0f} ms; "
                f"{args.rounds} rounds of {args.seconds:.0f} s per kind, kinds alternating.\n\n"
                f"{table}\n"
            ),
            data={"results": results, "args": vars(args)},
        )


if __name__ == "__main__":
    main()
