"""make bench's floors: RabbitMQ alone (the real one) and the disk."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmarks.api import broker_alone, disk_sync, disk_watch
from recsys.settings import Settings
from tests.integration.helpers import queued_messages

pytestmark = pytest.mark.integration


def test_the_broker_alone_publishes_persistent_confirmed_messages_at_the_pace(
    settings: Settings, clients: object
) -> None:
    floor = broker_alone(
        settings.rabbitmq_url, settings.queue_name, connections=4, delay_ms=20, duration_s=1
    )
    messages = queued_messages(settings.rabbitmq_url, settings.queue_name)
    # Four senders pausing 20 ms on average after each confirm: about 200 a
    # second at most, and surely under 400 (the pauses are random).
    assert 0 < len(messages) < 400
    assert floor["messages_per_s"] == len(messages)
    assert all(props.delivery_mode == 2 for props, _ in messages)
    assert 0 < floor["p50_ms"] <= floor["p99_ms"]


def test_the_disk_probe_syncs_at_its_pace_and_leaves_no_file(tmp_path: Path) -> None:
    disk = disk_sync(str(tmp_path), per_s=100, duration_s=0.3)
    assert 1 <= disk["syncs"] <= 31
    assert 0 < disk["p50_ms"] <= disk["p99_ms"] <= disk["max_ms"]
    assert list(tmp_path.iterdir()) == []


def test_the_disk_watch_samples_while_its_block_runs(tmp_path: Path) -> None:
    with disk_watch(str(tmp_path), per_s=50) as disk:
        time.sleep(0.3)
    assert 1 <= disk["syncs"] <= 17
    assert 0 < disk["p50_ms"] <= disk["max_ms"]
    assert list(tmp_path.iterdir()) == []
