"""The event queue's declaration on the real RabbitMQ: a version 2 index, and a
queue left by an older version still used as it is."""

from __future__ import annotations

import logging

import pika
import pika.exceptions
import pytest

from recsys.adapters.broker import QUEUE_ARGUMENTS, Broker
from recsys.adapters.publisher import Publisher
from recsys.domain.events import Event
from recsys.settings import Settings
from tests.integration.helpers import queued_messages

pytestmark = pytest.mark.integration


def declared_with(url: str, queue: str, arguments: dict[str, object] | None) -> bool:
    """Whether declaring ``queue`` with these arguments is accepted (RabbitMQ
    refuses arguments that differ from the queue's own)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().queue_declare(queue=queue, durable=True, arguments=arguments)
        return True
    except pika.exceptions.ChannelClosedByBroker as exc:
        assert exc.reply_code == 406, exc
        return False
    finally:
        connection.close()


def test_the_publisher_and_the_jobs_declare_a_version_2_queue(settings: Settings, clients) -> None:
    publisher = Publisher(settings.rabbitmq_url, settings.queue_name, timeout_s=1.5)
    try:
        publisher.publish([Event.new("v2", "50", "like")])
    finally:
        publisher.close()
    assert declared_with(settings.rabbitmq_url, settings.queue_name, QUEUE_ARGUMENTS)
    assert not declared_with(settings.rabbitmq_url, settings.queue_name, None)
    assert clients.broker.queue_depth() == 1  # the jobs' broker declares it the same way


def test_a_queue_from_an_older_version_is_used_as_it_is_with_a_hint(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    old_queue = settings.queue_name + ".v1"
    assert declared_with(settings.rabbitmq_url, old_queue, None)  # as older versions did
    publisher = Publisher(settings.rabbitmq_url, old_queue, timeout_s=1.5)
    broker = Broker(settings.rabbitmq_url, old_queue)
    try:
        with caplog.at_level(logging.WARNING, logger="recsys.adapters"):
            events = [Event.new("old", str(i + 1), "like") for i in range(3)]
            publisher.publish(events)
            assert [
                m["event_id"] for _, m in queued_messages(settings.rabbitmq_url, old_queue)
            ] == [e.event_id for e in events]
            drained: list[Event] = []
            assert broker.drain(drained.extend, batch_size=10, idle_s=0.5, max_seconds=10) == 3
        assert [e.event_id for e in drained] == [e.event_id for e in events]
        hints = [r for r in caplog.records if "older version of recsys" in r.getMessage()]
        assert len(hints) == 2 and "set_policy" in hints[0].getMessage()  # publisher, jobs
    finally:
        publisher.close()
        broker.delete_queue()


def test_a_broker_that_refuses_the_argument_gets_a_queue_with_its_defaults(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # RabbitMQ 3.10 has no queue version 3: it refuses the argument as a broker
    # without version 2 would refuse ours.
    unsupported = {"x-queue-version": 3}
    monkeypatch.setattr("recsys.adapters.broker.QUEUE_ARGUMENTS", unsupported)
    monkeypatch.setattr("recsys.adapters.publisher.QUEUE_ARGUMENTS", unsupported)
    published_to, drained_from = settings.queue_name + ".p", settings.queue_name + ".d"
    publisher = Publisher(settings.rabbitmq_url, published_to, timeout_s=1.5)
    broker = Broker(settings.rabbitmq_url, drained_from)
    try:
        with caplog.at_level(logging.WARNING, logger="recsys.adapters"):
            publisher.publish([Event.new("defaults", "50", "like")])  # declares its queue
            assert broker.queue_depth() == 0  # declares the other one
        refused = [r.name for r in caplog.records if "refused the queue arg" in r.getMessage()]
        assert sorted(refused) == ["recsys.adapters.broker", "recsys.adapters.publisher"]
        for queue in (published_to, drained_from):
            assert declared_with(settings.rabbitmq_url, queue, None)  # the broker's defaults
        assert Broker(settings.rabbitmq_url, published_to).queue_depth() == 1
    finally:
        publisher.close()
        broker.delete_queue()
        Broker(settings.rabbitmq_url, published_to).delete_queue()
