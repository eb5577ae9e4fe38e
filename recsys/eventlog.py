"""Append-only event log on object storage.

Each drained batch becomes one immutable JSON-lines object (a "part").  Parts
are never edited; duplicates (a batch written, then redelivered because the
job died before its ack) are removed on read by ``event_id``.  Compaction
merges parts into one and deletes only the parts it merged, so it is safe
while writers append and even when two compactions race.
"""

from __future__ import annotations

import time
import uuid

from recsys.events import Event, dedupe
from recsys.storage import ObjectStore

PARTS_PREFIX = "parts/"


class EventLog:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def append(self, events: list[Event]) -> str | None:
        """Write a batch as one new part; returns its key (None for an empty batch)."""
        if not events:
            return None
        # Time-ordered, unique names: concurrent writers never collide.
        key = f"{PARTS_PREFIX}{time.time_ns():020d}-{uuid.uuid4().hex}.jsonl"
        body = "".join(event.to_json() + "\n" for event in events).encode()
        self.store.put(key, body, content_type="application/x-ndjson")
        return key

    def part_keys(self) -> list[str]:
        return [k for k in self.store.list_keys(PARTS_PREFIX) if k.endswith(".jsonl")]

    def _read_part(self, key: str) -> list[Event]:
        try:
            raw = self.store.get(key)
        except KeyError:
            return []  # deleted by a concurrent compaction; its events are in the merged part
        return [Event.from_json(line) for line in raw.splitlines() if line.strip()]

    def read(self) -> list[Event]:
        """Every event once, in timestamp order."""
        events: list[Event] = []
        for key in self.part_keys():
            events.extend(self._read_part(key))
        unique = dedupe(events)
        unique.sort(key=lambda e: (e.timestamp, e.event_id))
        return unique

    def compact(self) -> int:
        """Merge all current parts into one; returns how many parts were removed."""
        keys = self.part_keys()
        if len(keys) < 2:
            return 0
        events: list[Event] = []
        for key in keys:
            events.extend(self._read_part(key))
        unique = dedupe(events)
        unique.sort(key=lambda e: (e.timestamp, e.event_id))
        # Write the merged part before deleting anything: a crash in between
        # leaves duplicates, which readers drop.
        self.append(unique)
        self.store.delete(keys)
        return len(keys)

    def clear(self) -> None:
        self.store.delete(self.store.list_keys(PARTS_PREFIX))
