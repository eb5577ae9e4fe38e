"""make bench-queues on the real RabbitMQ: every kind measured, nothing left behind."""

from __future__ import annotations

import asyncio

import pika
import pika.exceptions
import pytest

from benchmarks import queue_versions
from recsys.settings import Settings

pytestmark = pytest.mark.integration


def test_each_queue_kind_is_measured(settings: Settings) -> None:
    results = queue_versions.measure(
        settings.rabbitmq_url, rounds=1, seconds=0.5, senders=2, pause_ms=10
    )
    assert list(results) == list(queue_versions.KINDS)
    for row in results.values():
        assert row["confirms"] > 0
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
    assert len(queue_versions.format_table(results).splitlines()) == 2 + len(results)


def test_the_measured_queue_is_deleted_afterwards(settings: Settings, run_id: str) -> None:
    queue = f"test.{run_id}.bench-queues"
    latencies = asyncio.run(
        queue_versions.confirm_latencies(
            settings.rabbitmq_url,
            queue_versions.KINDS["classic, version 2 index"],
            senders=1,
            pause_ms=10,
            seconds=0.2,
            queue=queue,
        )
    )
    assert latencies
    connection = pika.BlockingConnection(pika.URLParameters(settings.rabbitmq_url))
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            connection.channel().queue_declare(queue, passive=True)
        assert refused.value.reply_code == 404
    finally:
        if connection.is_open:
            connection.close()
