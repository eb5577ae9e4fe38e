"""make bench's floors (RabbitMQ alone, the disk) and its load script, on real services."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmarks.api import POST_SCRIPT, broker_alone, disk_sync, disk_watch, wrk
from functions.interact.app import create_app
from recsys.clients import Clients
from recsys.services import catalogue
from recsys.settings import Settings
from tests.faults import serving
from tests.integration.helpers import queued_messages

pytestmark = pytest.mark.integration


def test_the_broker_alone_publishes_persistent_confirmed_messages_at_the_pace(
    settings: Settings, clients: Clients
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


def test_the_post_script_reads_each_answers_server_timing(
    settings: Settings, clients: Clients
) -> None:
    """The wrk script and its parser, against the real /interact: each step's summary."""
    # As make bench loads it: the script posts every MovieLens id, duplicates too.
    catalogue.load_movielens(clients.cache, settings.data_dir)
    with serving(create_app(settings)) as url:
        run = wrk(url, POST_SCRIPT, connections=2, duration_s=1)
    assert run["requests"] > 0 and run["non_2xx"] == 0
    steps = run["server_timing_ms"]
    assert sorted(steps) == ["publish", "seen", "validate"]
    for step in steps.values():
        assert 0 <= step["mean"] <= step["max"] and step["p99"] <= step["max"]
    # The publish step waits for RabbitMQ's confirm of a persistent message.
    assert steps["publish"]["mean"] > 0
