"""Event contract: the request body of POST /interact and the event on the queue."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Ids are opaque strings; this keeps them safe inside Redis keys, log lines and URLs.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$")
# The hard cap on an id's length; Settings.max_id_length (default 64) may be lower.
MAX_ID_LENGTH = 256
# An Idempotency-Key: what clients usually send (a UUID, a ULID, a counter).
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:@-]{8,128}$")


class Action(StrEnum):
    LIKE = "like"
    DISLIKE = "dislike"
    # Takes back the user's rating of the item: the pair counts as not rated.
    REMOVE = "remove"


# The actions that are a vote; anything else (``remove``) means "not rated".
RATINGS = frozenset({Action.LIKE, Action.DISLIKE})


class InteractionRequest(BaseModel):
    """Body of POST /interact (the original service's shape)."""

    model_config = ConfigDict(extra="forbid")

    user_id: str
    item_ids: list[str] = Field(min_length=1)
    actions: list[Action] = Field(min_length=1)


class Event(BaseModel):
    """One interaction, as published to RabbitMQ and stored in the event log."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    user_id: str
    item_id: str
    action: Action
    # Seconds since the epoch, stamped by the server (or the data set's time
    # for bootstrapped history).
    timestamp: float
    source: str = "api"

    @classmethod
    def new(
        cls,
        user_id: str,
        item_id: str,
        action: Action | str,
        *,
        timestamp: float | None = None,
        source: str = "api",
    ) -> Event:
        return cls(
            event_id=uuid.uuid4().hex,
            user_id=user_id,
            item_id=item_id,
            action=Action(action),
            timestamp=time.time() if timestamp is None else timestamp,
            source=source,
        )

    @classmethod
    def with_id(
        cls,
        event_id: str,
        user_id: str,
        item_id: str,
        action: Action | str,
        *,
        timestamp: float,
        source: str = "api",
    ) -> Event:
        return cls(
            event_id=event_id,
            user_id=user_id,
            item_id=item_id,
            action=Action(action),
            timestamp=timestamp,
            source=source,
        )

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        return cls.model_validate_json(raw)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def idempotent_event_id(user_id: str, idempotency_key: str, index: int) -> str:
    """The event id of the ``index``-th event of a request sent with an Idempotency-Key.

    Deterministic, so a retried request yields the same ids and every copy of
    a retried event collapses into one when the log is read (``dedupe``).
    The user is part of it: two users' keys never collide.
    """
    digest = hashlib.sha256(f"{user_id}\x1f{idempotency_key}\x1f{index}".encode()).hexdigest()
    return digest[:32]


def request_fingerprint(item_ids: list[str], actions: list[str]) -> str:
    """What a request asked for, to tell a retry from a reuse of the key for other events."""
    return hashlib.sha256(
        "\x1f".join(f"{i}\x1e{a}" for i, a in zip(item_ids, actions, strict=False)).encode()
    ).hexdigest()[:32]


def natural_key(item_id: str) -> tuple[int, int | str]:
    """Order ids as people count: "2" before "10"; numeric ids before the others."""
    return (0, int(item_id)) if item_id.isdigit() else (1, item_id)


def event_order(event: Event) -> tuple[float, str]:
    """The log's order: by server time, ties broken by event_id (a total order)."""
    return (event.timestamp, event.event_id)


def dedupe(events: list[Event]) -> list[Event]:
    """Drop repeated event_ids (at-least-once delivery); keep the first copy, stable order."""
    seen: set[str] = set()
    unique: list[Event] = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            unique.append(event)
    return unique


def latest_actions(events: list[Event]) -> dict[tuple[str, str], Event]:
    """The last event of each (user, item) pair: a later dislike undoes a like.

    A pair whose latest event is ``remove`` is *not rated*; see ``rated_latest``.
    """
    latest: dict[tuple[str, str], Event] = {}
    for event in sorted(dedupe(events), key=event_order):
        latest[(event.user_id, event.item_id)] = event
    return latest


def rated_latest(events: list[Event]) -> dict[tuple[str, str], Event]:
    """The latest event of each pair that is still a rating (like or dislike)."""
    return {pair: e for pair, e in latest_actions(events).items() if e.action in RATINGS}
