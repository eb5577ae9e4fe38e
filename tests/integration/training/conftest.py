"""Fixtures for the training tests on the real Redis: a generated log, tiny budgets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recsys.clients import Clients
from recsys.settings import Settings, get_settings
from recsys.training.synthetic import item_groups, taste_events

N_GROUPS, ITEMS_PER_GROUP = 3, 15
GROUPS = item_groups(N_GROUPS, ITEMS_PER_GROUP)


@pytest.fixture
def train_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """This test's settings, also visible to the handler through the environment."""
    overrides = {"train_trials": 4, "train_timeout_s": 60.0, "personal_top_n": 10}
    env = {
        "RECSYS_KEY_PREFIX": settings.key_prefix,
        "RECSYS_EVENT_LOG_URI": settings.event_log_uri,
        "RECSYS_ARTIFACT_URI": settings.artifact_uri,
        "RECSYS_TRAIN_TRIALS": str(overrides["train_trials"]),
        "RECSYS_TRAIN_TIMEOUT_S": str(overrides["train_timeout_s"]),
        "RECSYS_PERSONAL_TOP_N": str(overrides["personal_top_n"]),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield settings.model_copy(update=overrides)
    get_settings.cache_clear()


@pytest.fixture
def taste_log(train_settings: Settings, clients: Clients) -> list[str]:
    """The generated history in the event log and its items in the catalogue; returns users."""
    events = taste_events(n_users=90, n_groups=N_GROUPS, items_per_group=ITEMS_PER_GROUP, seed=11)
    clients.event_log.append(events)
    clients.cache.add_items({e.item_id: {"title": f"Item {e.item_id}"} for e in events})
    return sorted({e.user_id for e in events})
