"""The event log on a local folder: append-only parts, dedup on read, safe compaction."""

import pytest

from recsys.eventlog import EventLog
from recsys.events import Event
from recsys.storage import LocalStore


def make_events(n, user="u", start=1000.0):
    return [Event.new(user, str(i), "like", timestamp=start + i) for i in range(n)]


def test_each_batch_is_one_part_and_reads_back_in_time_order(tmp_path):
    log = EventLog(LocalStore(tmp_path))
    first, second = make_events(3), make_events(2, user="v", start=1000.5)
    log.append(second)
    log.append(first)
    assert len(log.part_keys()) == 2
    assert [e.event_id for e in log.read()] == [
        e.event_id for e in sorted(first + second, key=lambda e: e.timestamp)
    ]


def test_a_redelivered_batch_is_counted_once(tmp_path):
    log = EventLog(LocalStore(tmp_path))
    batch = make_events(5)
    log.append(batch)
    log.append(batch)  # the job died after writing, before its ack
    assert len(log.read()) == 5


def test_empty_batches_write_nothing(tmp_path):
    log = EventLog(LocalStore(tmp_path))
    assert log.append([]) is None
    assert log.part_keys() == []


def test_compaction_merges_parts_without_losing_or_duplicating(tmp_path):
    log = EventLog(LocalStore(tmp_path))
    batches = [make_events(4, user=f"u{i}") for i in range(5)]
    for batch in batches:
        log.append(batch)
    log.append(batches[0])
    before = {e.event_id for e in log.read()}
    assert log.compact() == 6
    assert len(log.part_keys()) == 1
    assert {e.event_id for e in log.read()} == before
    assert len(log.read()) == 20


class ListHookStore(LocalStore):
    """A local store that runs a callback right after listing: a writer racing a compactor."""

    def __init__(self, root, after_list):
        super().__init__(root)
        self.after_list = after_list

    def list_keys(self, prefix=""):
        keys = super().list_keys(prefix)
        hook, self.after_list = self.after_list, None
        if hook:
            hook()
        return keys


def test_a_part_appended_while_compacting_survives(tmp_path):
    late = make_events(2, user="late")
    store = ListHookStore(tmp_path, after_list=None)
    log = EventLog(store)
    log.append(make_events(3))
    log.append(make_events(3, user="v"))
    store.after_list = lambda: log.append(late)
    assert log.compact() == 2
    assert len(log.part_keys()) == 2  # the merged part and the late one
    assert {e.event_id for e in late} <= {e.event_id for e in log.read()}
    assert len(log.read()) == 8


def test_local_store_rejects_keys_outside_its_folder(tmp_path):
    store = LocalStore(tmp_path / "root")
    with pytest.raises(ValueError, match="escapes"):
        store.put("../escape", b"x")
