"""recsys.adapters.publisher's own frame encoding: the bytes aio-pika and pamqp would send."""

from __future__ import annotations

import aio_pika
import pamqp.frame
import pytest
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from recsys.adapters.publisher import content_frames, message_properties
from recsys.domain.events import Event, idempotent_event_id


def aio_pika_frames(channel_number: int, event: Event, body: bytes) -> bytes:
    """What aio-pika's exchange.publish writes for the same message (header and body)."""
    message = aio_pika.Message(
        body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event.event_id,
        timestamp=int(event.timestamp),
        type="interaction",
    )
    header = ContentHeader(properties=message.properties, body_size=len(body))
    return pamqp.frame.marshal(header, channel_number) + pamqp.frame.marshal(
        ContentBody(body), channel_number
    )


@pytest.mark.parametrize(
    "event",
    [
        Event.new("alice", "50", "like"),
        Event.new("bob", "1682", "dislike", timestamp=0.0),
        Event.new("u" * 64, "7", "remove", timestamp=4_102_444_800.9),
        Event.with_id(idempotent_event_id("c", "key-12345678", 3), "c", "9", "like", timestamp=1.5),
        Event.with_id("x" * 255, "d", "9", "like", timestamp=1e9),
    ],
)
@pytest.mark.parametrize("channel_number", [1, 300])
def test_content_frames_are_the_bytes_aio_pika_sends(event: Event, channel_number: int) -> None:
    body = event.to_json().encode()
    assert content_frames(channel_number, event, body) == aio_pika_frames(
        channel_number, event, body
    )
    header = ContentHeader(properties=message_properties(event), body_size=len(body))
    assert content_frames(channel_number, event, body).startswith(
        pamqp.frame.marshal(header, channel_number)
    )
