"""The popularity job on the real RabbitMQ and Redis, with a local event log.

Covers the delivery guarantees: write-then-ack, a job killed mid-drain, two
jobs at once.  None of them may lose an event or count one twice.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pika
import pyarrow.parquet as pq
import pytest

from functions.popularity import app as popularity_app
from recsys.adapters.broker import Broker
from recsys.adapters.eventlog import EventLog
from recsys.adapters.serving_cache import ServingCache
from recsys.adapters.storage import LocalStore
from recsys.clients import Clients
from recsys.domain.events import Event
from recsys.services import popularity
from recsys.settings import Settings, get_settings
from tests.conftest import ROOT
from tests.integration.helpers import load_event, queue_depth
from tests.support import settings_env

pytestmark = pytest.mark.integration


def publish_likes(clients: Clients, n: int, users: int = 50) -> set[str]:
    events = [Event.new(f"user-{i % users}", str(1 + i % 1682), "like") for i in range(n)]
    for start in range(0, n, 200):
        clients.broker.publish(events[start : start + 200])
    return {e.event_id for e in events}


def start_job(settings: Settings, **overrides: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "devtools", "popularity"],
        cwd=ROOT,
        env=settings_env(settings, PYTHONPATH=str(ROOT), **overrides),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_drained_events_reach_the_log_and_the_popular_list(clients, settings):
    clients.broker.publish(
        [Event.new("a", "50", "like"), Event.new("b", "50", "like"), Event.new("a", "181", "like")]
    )
    report = popularity.run(
        broker=clients.broker, event_log=clients.event_log, cache=clients.cache, settings=settings
    )
    assert report.drained == 3
    assert report.events_in_log == 3
    assert clients.cache.popular() == ["50", "181"]
    assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 0
    assert clients.cache.stats()["events_in_log"] == "3"


def test_the_job_repairs_seen_sets_from_the_log(clients, settings):
    # Published but never marked seen: as if Redis failed right after the confirm.
    clients.broker.publish([Event.new("gina", "50", "like")])
    popularity.run(
        broker=clients.broker, event_log=clients.event_log, cache=clients.cache, settings=settings
    )
    assert clients.cache._client.smembers(clients.cache.seen_key("gina")) == {"50"}


def test_a_message_that_is_not_an_event_goes_to_the_dead_letter_queue(clients, settings):
    clients.broker.publish([Event.new("h", "50", "like")])
    channel = clients.broker._open()
    channel.basic_publish(
        "", settings.queue_name, b"not an event", pika.BasicProperties(message_id="bad-1")
    )
    clients.broker.publish([Event.new("h", "181", "like")])
    dead = clients.broker.dead_letter_queue
    try:
        report = popularity.run(
            broker=clients.broker,
            event_log=clients.event_log,
            cache=clients.cache,
            settings=settings,
        )
        assert report.events_in_log == 2
        assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 0
        connection = pika.BlockingConnection(pika.URLParameters(settings.rabbitmq_url))
        try:
            method, props, body = connection.channel().basic_get(dead, auto_ack=True)
        finally:
            connection.close()
        assert method is not None, "the bad message must wait on the dead-letter queue"
        assert body == b"not an event"
        assert props.message_id == "bad-1"
        assert props.headers["x-recsys-source-queue"] == settings.queue_name
        assert "validation error" in props.headers["x-recsys-error"]
        assert queue_depth(settings.rabbitmq_url, dead) == 0
    finally:
        Broker(settings.rabbitmq_url, dead).delete_queue()


def test_handler_runs_with_an_eventbridge_event(clients, settings, monkeypatch):
    clients.broker.publish([Event.new("ivy", "50", "like")])
    for key, value in settings_env(settings).items():
        if key.startswith("RECSYS_"):
            monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = popularity_app.handler(load_event("eventbridge_schedule.json"), None)
    finally:
        get_settings.cache_clear()
    assert result["status"] == "ok"
    assert result["drained"] == 1
    assert clients.cache.popular() == ["50"]


def test_a_job_killed_mid_drain_loses_nothing_and_counts_nothing_twice(clients, settings):
    published = publish_likes(clients, 1000)
    small_batches = settings.model_copy(update={"drain_batch_size": 5})
    job = start_job(small_batches)
    parts_dir = Path(settings.event_log_uri) / "parts"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(parts_dir.rglob("*.parquet"))) < 20:
        time.sleep(0.005)
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=10)
    left = queue_depth(settings.rabbitmq_url, settings.queue_name)
    assert 0 < left < 1000, "the kill must land mid-drain"

    report = popularity.run(
        broker=clients.broker, event_log=clients.event_log, cache=clients.cache, settings=settings
    )
    events = clients.event_log.read()
    assert len(events) == 1000
    assert {e.event_id for e in events} == published
    assert report.events_in_log == 1000
    assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 0


def test_two_jobs_at_once_lose_nothing_and_count_nothing_twice(clients, settings):
    published = publish_likes(clients, 1000)
    small_batches = settings.model_copy(update={"drain_batch_size": 10})
    jobs = [start_job(small_batches), start_job(small_batches)]
    for job in jobs:
        _, stderr = job.communicate(timeout=120)
        assert job.returncode == 0, stderr.decode()[-2000:]
    events = clients.event_log.read()
    assert {e.event_id for e in events} == published
    assert len(events) == 1000
    assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 0
    # Stored once, not only read back once: no compaction merged the same parts twice.
    assert stored_rows(settings) == 1000


def stored_rows(settings: Settings) -> int:
    """Rows in every stored part, duplicates included."""
    parts = sorted(Path(settings.event_log_uri, "parts").rglob("*.parquet"))
    return sum(pq.read_metadata(part).num_rows for part in parts)


class SlowReads(LocalStore):
    """Reads take a while, so two compactions surely overlap."""

    def get(self, key: str) -> bytes:
        time.sleep(0.02)
        return super().get(key)


def test_concurrent_compactions_store_each_event_exactly_once(clients, settings):
    writer = EventLog(LocalStore(settings.event_log_uri))
    published = set()
    for i in range(40):
        batch = [
            Event.new(f"u{i}", str(1 + j), "like", timestamp=1_700_000_000.0 + i) for j in range(25)
        ]
        writer.append(batch)
        published |= {e.event_id for e in batch}
    due = settings.model_copy(update={"compact_after_parts": 8})
    barrier = threading.Barrier(4)

    def compact() -> int:
        cache = ServingCache.from_settings(settings)
        barrier.wait()
        return popularity.compact_if_due(EventLog(SlowReads(settings.event_log_uri)), cache, due)

    with ThreadPoolExecutor(4) as pool:
        removed = list(pool.map(lambda _: compact(), range(4)))
    assert sorted(removed) == [0, 0, 0, 40], "exactly one job merges"
    assert len(writer.part_keys()) == 1
    assert stored_rows(settings) == 1000
    assert {e.event_id for e in writer.read()} == published
