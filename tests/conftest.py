"""Shared fixtures.

Integration tests talk to the real Redis (127.0.0.1:6379) and RabbitMQ
(127.0.0.1:5672) on this machine.  Every test gets its own key prefix, queue
name and event-log folder, and deletes exactly those afterwards: never the
whole Redis, never another queue.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from recsys.adapters import movielens
from recsys.clients import Clients
from recsys.settings import Settings
from tests.localstack import LocalStackUnavailable, localstack_s3

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
EVENTS_DIR = Path(__file__).resolve().parent / "events"
ADMIN_TOKEN = "test-admin-token"


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
def settings(tmp_path: Path, run_id: str) -> Settings:
    return Settings(
        _env_file=None,
        key_prefix=f"test:{run_id}:",
        queue_name=f"test.{run_id}.interactions",
        event_log_uri=str(tmp_path / "events"),
        artifact_uri=str(tmp_path / "artifacts"),
        data_dir=str(DATA_DIR),
        admin_token=ADMIN_TOKEN,
        exploration_rate=0.0,
        dependency_timeout_s=1.5,
        # A correctness test must not turn into a degraded answer because a loaded CI
        # machine paused for 0.3 s; the fault tests put the shipped deadline back.
        recs_redis_timeout_s=2.0,
        drain_batch_size=100,
        # Plumbing tests make a film popular with one or two users; the default
        # (3 distinct fans) is tested where it matters, with the burst test.
        popularity_min_users=1,
    )


@pytest.fixture
def clients(settings: Settings) -> Iterator[Clients]:
    clients = Clients(settings)
    yield clients
    clients.cache.delete_all()
    try:
        clients.broker.delete_queue()
    finally:
        clients.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """LocalStack S3's endpoint; started for this session if nothing answers."""
    try:
        with localstack_s3() as endpoint:
            yield endpoint
    except LocalStackUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def movielens_items() -> dict[str, dict[str, object]]:
    movielens.fetch(DATA_DIR)
    return movielens.read_items(DATA_DIR)


@pytest.fixture
def catalogue(clients: Clients, movielens_items: dict[str, dict[str, object]]) -> list[str]:
    """The MovieLens catalogue loaded under this test's prefix; returns its ids."""
    clients.cache.add_items(movielens_items)
    return sorted(movielens_items, key=int)
