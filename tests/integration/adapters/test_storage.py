"""Object storage and the event log on LocalStack S3 (a real S3 API over HTTP)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from recsys.adapters.eventlog import EventLog
from recsys.adapters.storage import S3Store, open_store, s3_client
from recsys.clients import Clients
from recsys.domain.events import Event
from recsys.services import popularity

pytestmark = pytest.mark.integration


@pytest.fixture
def bucket(s3_endpoint: str) -> Iterator[str]:
    client = s3_client(s3_endpoint)
    name = f"recsys-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield name
    store = S3Store(client, name)
    store.delete(store.list_keys())
    client.delete_bucket(Bucket=name)


def test_s3_store_put_get_list_delete(s3_endpoint: str, bucket: str) -> None:
    store = open_store(f"s3://{bucket}/some/prefix", endpoint_url=s3_endpoint)
    store.put("a/1.json", b"one")
    store.put("a/2.json", b"two")
    store.put("b/3.json", b"three")
    assert store.get("a/2.json") == b"two"
    assert store.list_keys("a/") == ["a/1.json", "a/2.json"]
    assert store.list_keys() == ["a/1.json", "a/2.json", "b/3.json"]
    store.delete(["a/1.json", "missing.json"])
    assert store.list_keys() == ["a/2.json", "b/3.json"]
    with pytest.raises(KeyError):
        store.get("a/1.json")
    raw: Any = s3_client(s3_endpoint).list_objects_v2(Bucket=bucket)
    assert {o["Key"] for o in raw["Contents"]} == {"some/prefix/a/2.json", "some/prefix/b/3.json"}


def test_event_log_on_s3_deduplicates_and_compacts(s3_endpoint: str, bucket: str) -> None:
    log = EventLog(open_store(f"s3://{bucket}/events", endpoint_url=s3_endpoint))
    batch = [Event.new("u", str(i), "like", timestamp=100.0 + i) for i in range(5)]
    log.append(batch)
    log.append(batch)
    log.append([Event.new("v", "9", "dislike", timestamp=200.0)])
    assert len(log.read()) == 6
    assert log.compact() == 3
    assert len(log.part_keys()) == 1
    assert [e.event_id for e in log.read()][:5] == [e.event_id for e in batch]


def test_popularity_job_with_an_s3_event_log(settings, s3_endpoint: str, bucket: str) -> None:
    s3_settings = settings.model_copy(
        update={"event_log_uri": f"s3://{bucket}/events", "s3_endpoint_url": s3_endpoint}
    )
    clients = Clients(s3_settings)
    try:
        clients.broker.publish([Event.new("a", "50", "like"), Event.new("b", "50", "like")])
        report = popularity.run(
            broker=clients.broker,
            event_log=clients.event_log,
            cache=clients.cache,
            settings=s3_settings,
        )
        assert report.drained == 2
        assert report.events_in_log == 2
        assert clients.cache.popular() == ["50"]
        assert clients.event_log.part_keys()[0].startswith("parts/")
    finally:
        clients.cache.delete_all()
        clients.broker.delete_queue()
        clients.close()


def test_local_store_lists_a_prefix_as_s3_does(tmp_path) -> None:
    """Only keys starting with the prefix, whether it ends in a folder or mid-name."""
    store = open_store(str(tmp_path / "store"))
    keys = ["a/1.json", "a/2.json", "a/x/4.json", "ab.json", "b/3.json"]
    for key in keys:
        store.put(key, b"x")
    (tmp_path / "store" / "a" / ".tmp-unfinished").write_bytes(b"")  # a put in progress
    assert store.list_keys() == keys
    for prefix in ("a/", "a", "a/1", "a/x/", "b/", "missing/", "zz"):
        assert store.list_keys(prefix) == [k for k in keys if k.startswith(prefix)], prefix
