"""Small helpers shared by the integration, e2e and benchmark code."""

from __future__ import annotations

import os
import socket

from recsys.domain.events import Action, Event
from recsys.settings import Settings


def free_port() -> int:
    """A local port nothing listens on: free for a server, refused for a client."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def settings_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """This process's environment plus the settings that isolate a test run.

    For subprocesses (servers, jobs) that must see the same key prefix, queue
    and storage as the test that started them.
    """
    env = dict(os.environ)
    env.update(
        RECSYS_KEY_PREFIX=settings.key_prefix,
        RECSYS_QUEUE_NAME=settings.queue_name,
        RECSYS_EVENT_LOG_URI=settings.event_log_uri,
        RECSYS_ARTIFACT_URI=settings.artifact_uri,
        RECSYS_DATA_DIR=settings.data_dir,
        RECSYS_DRAIN_BATCH_SIZE=str(settings.drain_batch_size),
        RECSYS_EXPLORATION_RATE=str(settings.exploration_rate),
        RECSYS_POPULARITY_MIN_USERS=str(settings.popularity_min_users),
    )
    env.update(overrides)
    return env


def event(user: str, item: str, action: str, t: float, event_id: str | None = None) -> Event:
    """An event with a readable, deterministic id (unless one is given)."""
    return Event(
        event_id=event_id or f"{user}-{item}-{t}",
        user_id=user,
        item_id=item,
        action=Action(action),
        timestamp=t,
    )
