"""recsys.adapters.publisher on the real RabbitMQ: concurrent confirms, any loop, deadlines."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from recsys.adapters.broker import BrokerUnavailable
from recsys.adapters.publisher import Publisher
from recsys.domain.events import Event
from tests.faults import fault_proxy
from tests.integration.helpers import queue_depth, queued_messages

pytestmark = pytest.mark.integration


@pytest.fixture
def publisher(settings, clients):
    publisher = Publisher(settings.rabbitmq_url, settings.queue_name, timeout_s=1.5)
    yield publisher
    publisher.close()


def test_many_threads_publish_at_once_and_every_message_is_confirmed_persistent(
    publisher, settings
):
    batches = [[Event.new(f"u{i}", str(j + 1), "like") for j in range(5)] for i in range(40)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(publisher.publish, batches))
    messages = queued_messages(settings.rabbitmq_url, settings.queue_name)
    assert len(messages) == 200
    sent = {e.event_id for batch in batches for e in batch}
    assert {m["event_id"] for _, m in messages} == sent
    for props, message in messages:
        assert props.delivery_mode == 2
        assert props.message_id == message["event_id"]


def test_publishing_works_from_one_event_loop_after_another(publisher, settings):
    """Mangum runs each invocation in a loop of its own choosing."""
    for _ in range(3):
        asyncio.run(publisher.publish_async([Event.new("loop", "50", "like")]))
    assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 3


def test_an_adopted_server_loop_publishes_in_place_then_hands_back(publisher, settings):
    async def server_lifetime() -> None:
        publisher.adopt_running_loop()
        await asyncio.gather(
            *(publisher.publish_async([Event.new("srv", str(i + 1), "like")]) for i in range(20))
        )
        await publisher.aclose()

    asyncio.run(server_lifetime())
    publisher.publish([Event.new("after", "50", "like")])  # that loop is gone: a private one
    assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 21


def test_a_hung_broker_costs_one_deadline_and_a_healed_one_works_again(settings, clients):
    with fault_proxy("127.0.0.1", 5672) as proxy:
        publisher = Publisher(
            proxy.url("amqp", userinfo="guest:guest@", path="/%2F"), settings.queue_name, 1.0
        )
        try:
            publisher.publish([Event.new("h", "50", "like")])
            proxy.set_mode("hung")
            started = time.monotonic()
            with pytest.raises(BrokerUnavailable):
                publisher.publish([Event.new("h", "51", "like")])
            assert time.monotonic() - started < 1.5
            proxy.set_mode("pass")
            publisher.publish([Event.new("h", "52", "like")])
        finally:
            publisher.close()


def test_a_batch_is_one_write_with_the_messages_aio_pika_would_send(publisher, settings):
    events = [Event.new("batch", str(j + 1), "like" if j % 3 else "dislike") for j in range(100)]
    publisher.publish(events)
    messages = queued_messages(settings.rabbitmq_url, settings.queue_name)
    assert [m["event_id"] for _, m in messages] == [e.event_id for e in events]
    for (props, message), event in zip(messages, events, strict=True):
        assert message == event.as_dict()
        assert props.delivery_mode == 2
        assert props.content_type == "application/json"
        assert props.message_id == event.event_id
        assert props.type == "interaction"
        assert props.timestamp == int(event.timestamp)


def test_an_unroutable_batch_is_refused_and_the_next_one_is_confirmed(publisher, settings, clients):
    publisher.publish([Event.new("before", "1", "like")])  # declares the queue
    clients.broker.delete_queue()  # now nothing routes the mandatory messages
    with pytest.raises(BrokerUnavailable, match="did not accept"):
        publisher.publish([Event.new("lost", str(j + 1), "like") for j in range(3)])
    publisher.close()
    publisher.publish([Event.new("after", "2", "like")])  # a new connection declares it again
    assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 1


def test_batches_of_one_loop_turn_go_out_in_one_write_in_order(publisher, settings):
    batches = [[Event.new(f"turn{i}", str(j + 1), "like") for j in range(3)] for i in range(10)]
    writes: list[int] = []

    async def server_lifetime() -> None:
        publisher.adopt_running_loop()
        await publisher.publish_async([Event.new("warm", "1", "like")])  # opens the channel
        write_outgoing = publisher._write_outgoing

        def counted() -> None:
            writes.append(len(publisher._outgoing))
            write_outgoing()

        publisher._write_outgoing = counted
        await asyncio.gather(*(publisher.publish_async(batch) for batch in batches))
        await publisher.aclose()

    asyncio.run(server_lifetime())
    assert writes == [10]  # one write of the ten batches' frames
    messages = queued_messages(settings.rabbitmq_url, settings.queue_name)
    assert [m["event_id"] for _, m in messages[1:]] == [
        e.event_id for batch in batches for e in batch
    ]
