"""RabbitMQ with pika: drain events in batches (the jobs), and the queue's admin.

Publishing for the API lives in ``recsys.adapters.publisher`` (aio-pika), so the job
zips need neither aio-pika nor its dependencies.

Messages are persistent JSON events on a durable queue, with
``message_id = event_id``.  A drain acks a batch only after the caller's
``handle(batch)`` returned (i.e. after the batch is in the event log), so a
job that dies mid-batch leaves its messages on the queue for the next run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from recsys.domain.errors import DependencyUnavailable
from recsys.domain.events import Event

log = logging.getLogger(__name__)

# pika logs every failed connection attempt at ERROR with a traceback, even
# when the caller handles it; we report those failures ourselves, once.
if logging.getLogger("pika").level == logging.NOTSET:
    logging.getLogger("pika").setLevel(logging.CRITICAL)


# Classic queues with the version 2 index (RabbitMQ 3.10+; the only kind from
# 4.0).  A persistent message is confirmed once the queue has synced it, and
# with the version 1 index (3.10's default) confirms stalled now and then for
# hundreds of ms, up to about a second: the one-second clicks on the page.
# `make bench-queues` measures the kinds side by side (docs/figures/bench-queues.md).
QUEUE_ARGUMENTS: dict[str, Any] = {"x-queue-version": 2}

# An older version of this project declared its queues without the argument,
# and RabbitMQ refuses to declare an existing queue with different arguments.
OLDER_QUEUE_HINT = (
    "queue %r was declared by an older version of recsys (classic queue, version 1 "
    "index); it is used as it is.  Confirms are faster on a version 2 index: convert it "
    "in place with `rabbitmqctl set_policy --apply-to queues recsys-cqv2 '^%s$' "
    "'{\"queue-version\": 2}'`, or delete it once it is drained and it will be declared "
    "anew"
)


# A broker that does not take the argument (one without that queue version)
# refuses it on a new queue; the queue is then declared with its defaults.
UNSUPPORTED_ARGUMENT_HINT = (
    "this RabbitMQ refused the queue arguments (%s); %r is declared without them"
)


def is_inequivalent_arguments(reply_code: int, reply_text: str) -> bool:
    """The broker's answer to declaring an existing queue with other arguments."""
    return reply_code == 406 and "inequivalent arg" in reply_text


def is_unsupported_argument(reply_code: int, reply_text: str) -> bool:
    """The broker's answer to a queue argument it does not support."""
    return reply_code == 406 and "invalid arg" in reply_text


class BrokerUnavailable(DependencyUnavailable):
    """The broker could not be reached or did not confirm in time."""

    def __init__(self, reason: str) -> None:
        super().__init__("rabbitmq", reason)


def connection_parameters(url: str, timeout_s: float) -> pika.URLParameters:
    params = pika.URLParameters(url)
    # One quick attempt: callers answer 503 fast instead of hanging.
    params.connection_attempts = 1
    params.retry_delay = 0
    params.socket_timeout = timeout_s
    params.stack_timeout = timeout_s
    params.blocked_connection_timeout = timeout_s * 5
    params.heartbeat = 60
    return params


class Broker:
    """One lazily opened connection, re-opened after a failure.

    pika's BlockingConnection is not thread-safe, so calls are serialised by a
    lock; on Lambda there is one request at a time anyway.
    """

    def __init__(self, url: str, queue: str, timeout_s: float = 2.0) -> None:
        self.url = url
        self.queue = queue
        self.timeout_s = timeout_s
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._lock = threading.Lock()

    # --- connection -------------------------------------------------------------
    def _open(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self.close()
        try:
            self._connection = pika.BlockingConnection(
                connection_parameters(self.url, self.timeout_s)
            )
            channel = self._declared_channel(self.queue)
            channel.confirm_delivery()
        except Exception as exc:
            # pika's connection workflow raises many unrelated types (socket
            # errors, handshake and stack timeouts); all mean "not reachable".
            self.close()
            raise BrokerUnavailable(f"RabbitMQ is not reachable: {exc!r}") from exc
        self._channel = channel
        return channel

    def _declared_channel(self, queue: str) -> BlockingChannel:
        """A new channel on which ``queue`` is declared (durable, version 2 index)."""
        assert self._connection is not None
        channel = self._connection.channel()
        try:
            channel.queue_declare(queue=queue, durable=True, arguments=QUEUE_ARGUMENTS)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if is_inequivalent_arguments(exc.reply_code, exc.reply_text):
                log.warning(OLDER_QUEUE_HINT, queue, queue)
                channel = self._connection.channel()  # the refusal closed the other one
                channel.queue_declare(queue=queue, durable=True, passive=True)
            elif is_unsupported_argument(exc.reply_code, exc.reply_text):
                log.warning(UNSUPPORTED_ARGUMENT_HINT, exc.reply_text, queue)
                channel = self._connection.channel()
                channel.queue_declare(queue=queue, durable=True)
            else:
                raise
        return channel

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # a broken connection may raise anything on close; it is gone anyway
                log.debug("error while closing a broken connection", exc_info=True)

    def __enter__(self) -> Broker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- publishing -------------------------------------------------------------
    def publish(self, events: list[Event]) -> None:
        """Publish and wait for the broker's confirm of every event."""
        with self._lock:
            # A cached connection may have died since the last call (broker
            # restart, idle timeout): then retry once on a fresh one.  A fresh
            # connection that fails is not retried, so callers answer fast.
            reused = self._channel is not None and self._channel.is_open
            try:
                self._publish_on(self._open(), events)
            except BrokerUnavailable:
                raise
            except (pika.exceptions.AMQPError, OSError) as exc:
                self.close()
                if not reused:
                    raise BrokerUnavailable(f"RabbitMQ failed while publishing: {exc!r}") from exc
                log.info("cached RabbitMQ connection was dead (%r); reconnecting", exc)
                try:
                    self._publish_on(self._open(), events)
                except (pika.exceptions.AMQPError, OSError) as retry_exc:
                    self.close()
                    raise BrokerUnavailable(
                        f"RabbitMQ failed while publishing: {retry_exc!r}"
                    ) from retry_exc

    def _publish_on(self, channel: BlockingChannel, events: list[Event]) -> None:
        for event in events:
            try:
                channel.basic_publish(
                    exchange="",
                    routing_key=self.queue,
                    body=event.to_json().encode(),
                    properties=pika.BasicProperties(
                        content_type="application/json",
                        delivery_mode=pika.DeliveryMode.Persistent,
                        message_id=event.event_id,
                        timestamp=int(event.timestamp),
                        type="interaction",
                    ),
                    mandatory=True,
                )
            except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
                raise BrokerUnavailable(f"RabbitMQ did not accept the events: {exc!r}") from exc

    # --- consuming --------------------------------------------------------------
    def drain(
        self,
        handle: Callable[[list[Event]], None],
        *,
        batch_size: int = 500,
        max_seconds: float = 60.0,
        idle_s: float = 0.5,
    ) -> int:
        """Hand batches to ``handle`` and ack each after it returns; returns events acked.

        Stops when the queue has been idle for ``idle_s`` or after ``max_seconds``.
        A message that is not a valid event is moved to the dead-letter queue
        ``<queue>.dead`` (published there, confirmed, then acked here), so it
        neither blocks the queue nor disappears.
        """
        with self._lock:
            channel = self._open()
            channel.basic_qos(prefetch_count=batch_size)
            dead_letters_declared = False
            deadline = time.monotonic() + max_seconds
            total = 0
            try:
                while time.monotonic() < deadline:
                    batch: list[Event] = []
                    last_tag: int | None = None
                    for method, properties, body in channel.consume(
                        self.queue, inactivity_timeout=idle_s
                    ):
                        if method is None:
                            break
                        try:
                            batch.append(Event.from_json(body))
                            last_tag = method.delivery_tag
                        except ValueError as exc:
                            if not dead_letters_declared:
                                self._declared_channel(self.dead_letter_queue).close()
                                dead_letters_declared = True
                            self._dead_letter(channel, method.delivery_tag, properties, body, exc)
                        if len(batch) >= batch_size or time.monotonic() >= deadline:
                            break
                    if last_tag is None:
                        break
                    handle(batch)
                    channel.basic_ack(delivery_tag=last_tag, multiple=True)
                    total += len(batch)
            except (pika.exceptions.AMQPError, OSError) as exc:
                self.close()
                raise BrokerUnavailable(f"RabbitMQ failed during drain: {exc!r}") from exc
            finally:
                if self._channel is not None and self._channel.is_open:
                    # Unacked messages (none after a clean batch) go back to the queue.
                    self._channel.cancel()
            return total

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dead"

    def _dead_letter(
        self,
        channel: BlockingChannel,
        delivery_tag: int,
        properties: pika.BasicProperties,
        body: bytes,
        error: ValueError,
    ) -> None:
        # Published to our own dead-letter queue rather than through an
        # x-dead-letter-exchange: adding that argument to the existing durable
        # queue would fail (PRECONDITION_FAILED).  Confirmed before the ack, so
        # a crash in between leaves a copy on each queue, never on none.
        log.error(
            "moving a message that is not an event to %s: %r", self.dead_letter_queue, body[:200]
        )
        headers = dict(properties.headers or {})
        headers["x-recsys-error"] = str(error)[:500]
        headers["x-recsys-source-queue"] = self.queue
        channel.basic_publish(
            exchange="",
            routing_key=self.dead_letter_queue,
            body=body,
            properties=pika.BasicProperties(
                content_type=properties.content_type,
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=properties.message_id,
                headers=headers,
            ),
            mandatory=True,
        )
        channel.basic_ack(delivery_tag)

    def queue_depth(self) -> int:
        with self._lock:
            channel = self._open()
            result = channel.queue_declare(queue=self.queue, durable=True, passive=True)
            return int(result.method.message_count)

    def purge(self) -> int:
        with self._lock:
            channel = self._open()
            result = channel.queue_purge(self.queue)
            return int(result.method.message_count)

    def delete_queue(self) -> None:
        with self._lock:
            channel = self._open()
            channel.queue_delete(self.queue)
            self.close()

    def ping(self) -> None:
        with self._lock:
            self._open()
