"""make bench's broker-alone floor on the real RabbitMQ."""

from __future__ import annotations

import pytest

from benchmarks.api import broker_alone
from recsys.settings import Settings
from tests.integration.helpers import queued_messages

pytestmark = pytest.mark.integration


def test_the_broker_alone_publishes_persistent_confirmed_messages_at_the_pace(
    settings: Settings, clients: object
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
