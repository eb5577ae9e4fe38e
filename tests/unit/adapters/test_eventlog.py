"""The event log on a local folder: append-only parts, dedup on read, safe compaction."""

import pyarrow.parquet as pq
import pytest

from recsys.adapters.eventlog import EventLog, event_date
from recsys.adapters.storage import LocalStore
from recsys.domain.events import Event

DAY = 86_400.0


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
    assert log.append([]) == []
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


def test_parts_are_parquet_partitioned_by_the_events_utc_date(tmp_path):
    log = EventLog(LocalStore(tmp_path))
    day_one = make_events(3, start=DAY * 20_000 + 10)  # 2024-10-04
    day_two = make_events(2, user="v", start=DAY * 20_001 + 10)
    keys = log.append(day_one + day_two)
    assert sorted(k.split("/")[1] for k in keys) == ["date=2024-10-04", "date=2024-10-05"]
    # Hive-style folders: a generic Parquet reader sees one table with a date column.
    table = pq.read_table(tmp_path / "parts")
    assert table.num_rows == 5
    assert set(table.column("date").to_pylist()) == {"2024-10-04", "2024-10-05"}
    assert set(table.column_names) >= {"event_id", "user_id", "item_id", "action", "timestamp"}


def test_read_table_reads_only_the_columns_asked_for(tmp_path):
    log = EventLog(LocalStore(tmp_path))
    log.append(make_events(4))
    table = log.read_table(columns=["user_id", "item_id"])
    assert table.column_names == ["user_id", "item_id"]
    assert table.column("item_id").to_pylist() == ["0", "1", "2", "3"]


def legacy_part(tmp_path, events, name="00000000000000000001-legacy.jsonl"):
    (tmp_path / "parts").mkdir(exist_ok=True)
    (tmp_path / "parts" / name).write_text("".join(e.to_json() + "\n" for e in events))


def test_json_lines_parts_from_before_stay_readable_and_compaction_converts_them(tmp_path):
    old = make_events(3, user="old")
    legacy_part(tmp_path, old)
    log = EventLog(LocalStore(tmp_path))
    log.append(make_events(2, user="new", start=1000.5))
    assert [e.user_id for e in log.read()] == ["old", "new", "old", "new", "old"]
    assert len(log.read()) == 5
    assert log.surplus_parts() == 1
    assert log.compact() == 2
    assert [k.endswith(".parquet") for k in log.part_keys()] == [True]
    assert {e.event_id for e in log.read()} >= {e.event_id for e in old}
    assert len(log.read()) == 5


class VanishingStore(LocalStore):
    """Deletes a part right after the first listing and writes its merged copy: a compaction."""

    def __init__(self, root):
        super().__init__(root)
        self.armed = False

    def list_keys(self, prefix=""):
        keys = super().list_keys(prefix)
        if self.armed:
            self.armed = False
            EventLog(LocalStore(self.root)).compact()
        return keys


def test_a_part_compacted_away_while_reading_is_read_from_the_merged_part(tmp_path):
    store = VanishingStore(tmp_path)
    log = EventLog(store)
    batches = [make_events(3, user=f"u{i}") for i in range(4)]
    for batch in batches:
        log.append(batch)
    store.armed = True
    events = log.read()
    assert len(events) == 12
    assert {e.event_id for e in events} == {e.event_id for b in batches for e in b}


def test_a_compaction_that_lost_its_lease_deletes_only_what_it_wrote(tmp_path):
    log = EventLog(LocalStore(tmp_path))
    for i in range(3):
        log.append(make_events(2, user=f"u{i}"))
    before = log.part_keys()
    assert log.compact(still_leased=lambda: False) == 0
    assert log.part_keys() == before


def test_surplus_parts_of_named_partitions_lists_only_those(tmp_path):
    listed = []

    class RecordingStore(LocalStore):
        def list_keys(self, prefix=""):
            listed.append(prefix)
            return super().list_keys(prefix)

    log = EventLog(RecordingStore(tmp_path))
    for _ in range(3):
        log.append(make_events(2))  # three parts on day 0
    log.append(make_events(2, start=1000.0 + 5 * DAY))  # one part on day 5
    day0, day5 = (f"date={event_date(t)}" for t in (1000.0, 1000.0 + 5 * DAY))
    listed.clear()
    assert log.surplus_parts([day0]) == 2
    assert log.surplus_parts([day5]) == 0
    assert log.surplus_parts([day0, day5]) == log.surplus_parts() == 2
    assert listed[:3] == [f"parts/{day0}/", f"parts/{day5}/", f"parts/{day0}/"]
    assert log.part_keys([day5]) == [k for k in log.part_keys() if f"/{day5}/" in k]


def test_stored_rows_counts_every_stored_row_without_reading_events(tmp_path):
    log = EventLog(LocalStore(tmp_path))
    batch = make_events(5)
    log.append(batch)
    log.append(batch)  # a redelivery: stored twice until compaction
    legacy_part(tmp_path, make_events(3, user="old", start=10.0))
    assert log.stored_rows() == 13 >= len(log.read()) == 8
    log.compact()
    assert log.stored_rows() == len(log.read()) == 8
