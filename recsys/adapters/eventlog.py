"""Append-only event log on object storage, in Parquet parts partitioned by date.

Layout (Hive-style, so DuckDB, Athena or Spark read the folder as one table
with a ``date`` column)::

    parts/date=2026-12-01/<time_ns>-<uuid>.parquet

Each drained batch becomes one immutable Parquet object per UTC date of its
events (usually one).  Parts are never edited; duplicates (a batch written,
then redelivered because the job died before its ack) are removed on read by
``event_id``.  Compaction merges each date's parts into one and deletes only
the parts it merged; the caller holds a lease so two compactions never run
at once (``popularity.compact_if_due``).  JSON-lines parts written before the
columnar log (``parts/*.jsonl``) stay readable, and compaction folds them in.

pyarrow is imported on use: the API functions import this module (through
``recsys.clients``) but never read the log.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from recsys.adapters.storage import ObjectStore
from recsys.domain.events import Event

log = logging.getLogger(__name__)

PARTS_PREFIX = "parts/"
PARQUET = ".parquet"
JSONL = ".jsonl"
COLUMNS = ("event_id", "user_id", "item_id", "action", "timestamp", "source")
# A part that vanished between listing and reading was merged by a
# compaction: list again (the merged part is there) this many times.
READ_ATTEMPTS = 5


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("event_id", pa.string()),
            ("user_id", pa.string()),
            ("item_id", pa.string()),
            ("action", pa.string()),
            ("timestamp", pa.float64()),  # seconds since the epoch, as in Event
            ("source", pa.string()),
        ]
    )


def event_date(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def partition_of(key: str) -> str | None:
    """``date=YYYY-MM-DD`` of a Parquet part, None for a legacy JSON-lines part."""
    folder = key[len(PARTS_PREFIX) :].rpartition("/")[0]
    return folder if folder.startswith("date=") else None


def events_table(events: Sequence[Event]) -> Any:
    import pyarrow as pa

    return pa.table(
        {
            "event_id": [e.event_id for e in events],
            "user_id": [e.user_id for e in events],
            "item_id": [e.item_id for e in events],
            "action": [str(e.action) for e in events],
            "timestamp": [e.timestamp for e in events],
            "source": [e.source for e in events],
        },
        schema=_schema(),
    )


def dedupe_table(table: Any) -> Any:
    """Each event_id once, in (timestamp, event_id) order.

    Copies of an event are identical, so after the sort they are neighbours.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return table
    table = table.sort_by([("timestamp", "ascending"), ("event_id", "ascending")])
    ids = table.column("event_id").combine_chunks()
    changed = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1))
    return table.filter(pa.concat_arrays([pa.array([True]), changed]))


def table_events(table: Any) -> list[Event]:
    return [Event.model_validate(row) for row in table.to_pylist()]


class EventLog:
    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    # --- writing ----------------------------------------------------------------
    def append(self, events: list[Event]) -> list[str]:
        """Write a batch as one Parquet part per date of its events; returns the keys."""
        by_date: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            by_date[event_date(event.timestamp)].append(event)
        return [self._write_part(date, events_table(batch)) for date, batch in by_date.items()]

    def _write_part(self, date: str, table: Any) -> str:
        import pyarrow as pa
        import pyarrow.parquet as pq

        # Time-ordered, unique names: concurrent writers never collide.
        key = f"{PARTS_PREFIX}date={date}/{time.time_ns():020d}-{uuid.uuid4().hex}{PARQUET}"
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        self.objects.put(key, sink.getvalue().to_pybytes(), content_type="application/x-parquet")
        return key

    # --- listing ------------------------------------------------------------------
    def part_keys(self, partitions: Iterable[str] | None = None) -> list[str]:
        """Every part, or only those of the given ``date=...`` partitions."""
        prefixes = (
            [PARTS_PREFIX]
            if partitions is None
            else [f"{PARTS_PREFIX}{p}/" for p in sorted(set(partitions))]
        )
        return [
            k
            for prefix in prefixes
            for k in self.objects.list_keys(prefix)
            if k.endswith(PARQUET) or k.endswith(JSONL)
        ]

    def surplus_parts(self, partitions: Iterable[str] | None = None) -> int:
        """Parts beyond one per date partition (legacy JSON-lines parts all count).

        ``partitions`` limits the count to those partitions: the job asks about
        the ones it just wrote to, so its check costs what it wrote, not a
        listing of the whole log.
        """
        keys = self.part_keys(partitions)
        found = {p for p in map(partition_of, keys) if p is not None}
        return len(keys) - len(found)

    # --- reading ------------------------------------------------------------------
    def read_part_table(self, key: str, columns: Sequence[str] | None = None) -> Any:
        """One part as a table (duplicates not removed); raises KeyError if it vanished."""
        return self._read_part(key, columns)

    def _read_part(self, key: str, columns: Sequence[str] | None) -> Any:
        """One part as a table; raises KeyError if it vanished."""
        import pyarrow as pa

        raw = self.objects.get(key)
        if key.endswith(JSONL):
            import pyarrow.json as pj

            options = pj.ParseOptions(explicit_schema=_schema(), unexpected_field_behavior="ignore")
            table = pj.read_json(pa.BufferReader(raw), parse_options=options)
            return table.select(list(columns)) if columns else table.select(list(COLUMNS))
        import pyarrow.parquet as pq

        # ParquetFile, not read_table, and one thread: parts are small, and the
        # per-file cost of a dataset and a thread pool dominates.
        return pq.ParquetFile(pa.BufferReader(raw)).read(
            columns=list(columns) if columns else None, use_threads=False
        )

    def read_table(self, columns: Sequence[str] | None = None) -> Any:
        """Every event once, in (timestamp, event_id) order, as a pyarrow Table.

        ``columns`` limits what is read (``event_id`` and ``timestamp`` are
        always read: they deduplicate and order the events).  A part that
        vanished while reading was merged by a compaction: the log is listed
        again and only the new parts are read, so the result is never partial.
        """
        import pyarrow as pa

        wanted = list(COLUMNS) if columns is None else list(columns)
        for needed in ("timestamp", "event_id"):
            if needed not in wanted:
                wanted.append(needed)
        schema = pa.schema([_schema().field(name) for name in wanted])
        tables: dict[str, Any] = {}
        for _ in range(READ_ATTEMPTS):
            keys = self.part_keys()
            try:
                for key in keys:
                    if key not in tables:
                        tables[key] = self._read_part(key, wanted).cast(schema)
            except KeyError as exc:
                log.info("part %s vanished while reading (compacted); listing again", exc)
                continue
            combined = pa.concat_tables([tables[k] for k in keys]) if keys else schema.empty_table()
            result = dedupe_table(combined)
            return result.select(list(columns)) if columns is not None else result
        raise RuntimeError(f"the event log changed {READ_ATTEMPTS} times while being read")

    def stored_rows(self) -> int:
        """Rows stored in all parts, from the Parquet footers: no event is decoded.

        An upper bound on the events in the log (a redelivered batch counts
        twice until compaction), for a cheap "has the log grown?" check.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        total = 0
        for key in self.part_keys():
            try:
                raw = self.objects.get(key)
            except KeyError:
                continue  # merged by a compaction: its rows are in a part listed after it
            if key.endswith(JSONL):
                total += sum(1 for line in raw.splitlines() if line.strip())
            else:
                total += pq.read_metadata(pa.BufferReader(raw)).num_rows
        return total

    def read(self) -> list[Event]:
        """Every event once, in timestamp order, as Event objects."""
        return table_events(self.read_table())

    # --- compaction -----------------------------------------------------------------
    def compact(self, still_leased: Callable[[], bool] | None = None) -> int:
        """Merge each date's parts (and any legacy JSON-lines parts) into one part.

        Returns how many parts were removed.  Merged parts are written before
        anything is deleted, and only the parts merged are deleted, so a crash
        leaves duplicates (dropped on read) and a part appended meanwhile
        survives.  ``still_leased`` is asked before deleting: a compaction
        that lost its lease removes what it wrote and leaves the rest alone.
        """
        import pyarrow as pa

        keys = self.part_keys()
        by_partition: dict[str, list[str]] = defaultdict(list)
        legacy: list[str] = []
        for key in keys:
            partition = partition_of(key)
            if partition is None:
                legacy.append(key)
            else:
                by_partition[partition].append(key)
        targets = {p: ks for p, ks in by_partition.items() if len(ks) >= 2}
        written: list[str] = []
        try:
            legacy_table = (
                pa.concat_tables([self._read_part(k, COLUMNS).cast(_schema()) for k in legacy])
                if legacy
                else None
            )
            legacy_dates: list[str] = []
            if legacy_table is not None:
                legacy_dates = [event_date(t) for t in legacy_table["timestamp"].to_pylist()]
            for date in set(legacy_dates):
                targets.setdefault(f"date={date}", by_partition.get(f"date={date}", []))
            merged_inputs = [k for ks in targets.values() for k in ks] + legacy
            if len(merged_inputs) < 2:
                return 0
            for partition, part_keys in sorted(targets.items()):
                date = partition[len("date=") :]
                tables = [self._read_part(k, COLUMNS).cast(_schema()) for k in part_keys]
                if legacy_table is not None:
                    mask = pa.array([d == date for d in legacy_dates], type=pa.bool_())
                    tables.append(legacy_table.filter(mask))
                written.append(self._write_part(date, dedupe_table(pa.concat_tables(tables))))
        except KeyError:
            # Another writer removed an input: delete nothing of theirs, retry another time.
            log.warning("a part vanished during compaction; compaction skipped")
            self.objects.delete(written)
            return 0
        if still_leased is not None and not still_leased():
            log.warning("compaction lease lost before deleting; removing the merged parts")
            self.objects.delete(written)
            return 0
        self.objects.delete(merged_inputs)
        return len(merged_inputs)

    def clear(self) -> None:
        self.objects.delete(self.objects.list_keys(PARTS_PREFIX))
