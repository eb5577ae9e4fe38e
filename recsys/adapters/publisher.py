"""Confirmed publishing for the API: aio-pika, many messages in flight at once.

Messages are persistent JSON events on a durable queue, with
``message_id = event_id`` and mandatory routing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import struct
import threading
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import aio_pika
import aio_pika.exceptions
import aiormq
import aiormq.exceptions
import pamqp.frame
from aiormq import spec
from aiormq.abc import ChannelFrame
from pamqp.header import ContentHeader

from recsys.adapters.broker import (
    OLDER_QUEUE_HINT,
    QUEUE_ARGUMENTS,
    UNSUPPORTED_ARGUMENT_HINT,
    BrokerUnavailable,
    is_inequivalent_arguments,
    is_unsupported_argument,
)
from recsys.domain.events import Event

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractConnection

log = logging.getLogger(__name__)
T = TypeVar("T")


def message_properties(event: Event) -> spec.Basic.Properties:
    """The AMQP properties of an event's message: persistent JSON, id = event_id."""
    return spec.Basic.Properties(
        content_type="application/json",
        delivery_mode=int(aio_pika.DeliveryMode.PERSISTENT),
        headers={},
        priority=0,
        message_id=event.event_id,
        timestamp=datetime.fromtimestamp(int(event.timestamp), tz=UTC),
        message_type="interaction",
    )


# The content header of an event's message, encoded here: pamqp's generic
# encoder was a third of the CPU of a 100-event request.  Properties present:
# content_type, headers (empty table), delivery_mode, priority, message_id,
# timestamp, type; the same bytes as pamqp gives for message_properties()
# (tests/unit/adapters/test_publisher.py compares them).
_PROPERTY_FLAGS = (1 << 15) | (1 << 13) | (1 << 12) | (1 << 11) | (1 << 7) | (1 << 6) | (1 << 5)
_CONTENT_TYPE = b"\x10application/json"
_EMPTY_TABLE_PERSISTENT_PRIORITY_0 = b"\x00\x00\x00\x00\x02\x00"
_TYPE_INTERACTION = b"\x0binteraction"
_FRAME_END = b"\xce"
_HEADER_FRAME, _BODY_FRAME = 2, 3


def content_frames(channel_number: int, event: Event, body: bytes) -> bytes:
    """The header and body frames of one event's message (a body within one frame)."""
    message_id = event.event_id.encode()
    header = b"".join(
        (
            struct.pack(">HHQH", 60, 0, len(body), _PROPERTY_FLAGS),
            _CONTENT_TYPE,
            _EMPTY_TABLE_PERSISTENT_PRIORITY_0,
            bytes((len(message_id),)),
            message_id,
            struct.pack(">Q", int(event.timestamp)),
            _TYPE_INTERACTION,
        )
    )
    return b"".join(
        (
            struct.pack(">BHI", _HEADER_FRAME, channel_number, len(header)),
            header,
            _FRAME_END,
            struct.pack(">BHI", _BODY_FRAME, channel_number, len(body)),
            body,
            _FRAME_END,
        )
    )


class _BatchConfirms:
    """Settles when every confirm of a batch succeeded, or at the first that failed.

    One callback per confirm (cheaper than gathering them).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.remaining = size
        self.done: asyncio.Future[None] = loop.create_future()

    def settled(self, confirm: asyncio.Future[Any]) -> None:
        failure = (
            RuntimeError("a confirm was cancelled") if confirm.cancelled() else confirm.exception()
        )
        if self.done.done():
            return
        if failure is not None:
            self.done.set_exception(failure)
            return
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set_result(None)


def _reraise_own_cancellation(exc: BaseException) -> None:
    """Re-raise a CancelledError aimed at the current task (not one from aiormq)."""
    task = asyncio.current_task()
    if isinstance(exc, asyncio.CancelledError) and task is not None and task.cancelling():
        raise exc


class Publisher:
    """Confirmed publishing with many messages in flight at once, from any thread.

    One AMQP connection and one channel in publisher-confirm mode, driven by
    aio-pika on an event loop of its own (a daemon thread).  Callers submit a
    batch and wait for its confirms with a deadline: ``publish`` from a worker
    thread, ``publish_async`` from an event loop.  Batches from many requests
    are in flight together; nothing is serialised behind a lock.

    The private loop is what keeps this working under Mangum, which runs each
    Lambda invocation in whatever loop it finds: the connection never belongs
    to a request's loop, so a closed request loop cannot strand it.

    Deadline: a batch not confirmed within ``timeout_s`` raises
    ``BrokerUnavailable`` and the connection it used is dropped, so the next
    request opens a fresh one (a broker that hangs on an open connection is
    noticed without waiting for heartbeats).  Some of a timed-out batch may
    still have reached the queue: at-least-once, deduplicated by event_id.
    """

    def __init__(self, url: str, queue: str, timeout_s: float = 2.0) -> None:
        self.url = url
        self.queue = queue
        # Every event goes the same way: default exchange, mandatory routing.
        self._publish_method = spec.Basic.Publish(exchange="", routing_key=queue, mandatory=True)
        self.timeout_s = timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        # Owned by the private loop:
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._opening: asyncio.Future[AbstractChannel] | None = None
        # When a publish on the current connection was last confirmed.
        self._last_confirm = 0.0
        self._closing: set[asyncio.Future[None]] = set()
        # Frames of this loop turn's batches, not yet handed to aiormq's writer.
        self._outgoing: list[bytes] = []
        self._outgoing_channel: aiormq.Channel | None = None

    # --- the private loop ---------------------------------------------------------
    def _usable(self) -> bool:
        loop, thread = self._loop, self._thread
        return (
            loop is not None
            and thread is not None
            and thread.is_alive()
            and not loop.is_closed()
            # A private loop may not have started running yet; an adopted one
            # (a server's) that stopped is of no use any more.
            and (loop.is_running() or thread.name == "rabbitmq-publisher")
        )

    def adopt_running_loop(self) -> None:
        """Publish on the caller's event loop from now on (a long-lived server's loop).

        Called at server startup (uvicorn lifespan): async endpoints then
        publish without any thread hop.  Mangum runs with lifespan off, so a
        Lambda keeps the private loop.  If the adopted loop stops, the next
        call starts a private loop again.
        """
        loop = asyncio.get_running_loop()
        with self._start_lock:
            old_loop, old_thread = self._loop, self._thread
            if (
                old_loop is not None
                and old_loop is not loop
                and old_thread is not None
                and old_thread.name == "rabbitmq-publisher"
                and old_loop.is_running()
            ):
                old_loop.call_soon_threadsafe(old_loop.stop)
            self._connection = self._channel = None
            self._opening = None
            self._outgoing, self._outgoing_channel = [], None
            self._loop, self._thread = loop, threading.current_thread()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._usable():
            return loop
        with self._start_lock:
            if not self._usable():
                loop = asyncio.new_event_loop()
                self._connection = self._channel = None
                self._opening = None
                self._outgoing, self._outgoing_channel = [], None
                thread = threading.Thread(
                    target=loop.run_forever, name="rabbitmq-publisher", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            assert self._loop is not None
            return self._loop

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())

    # --- connection (runs on the private loop) --------------------------------------
    async def _open(self) -> AbstractChannel:
        channel = self._channel
        if channel is not None and not channel.is_closed:
            return channel
        if self._opening is not None and self._opening.done():
            # A finished attempt whose waiters all gave up (their deadlines
            # passed first) must not answer for the next request: retry.
            if not self._opening.cancelled():
                self._opening.exception()  # retrieved: it was reported when it failed
            self._opening = None
        if self._opening is None:
            # One attempt at a time: concurrent requests wait for the same one.
            self._opening = asyncio.ensure_future(self._connect())
        opening = self._opening
        try:
            return await asyncio.shield(opening)
        finally:
            if self._opening is opening and opening.done():
                self._opening = None

    async def _connect(self) -> AbstractChannel:
        try:
            connection = await asyncio.wait_for(
                aio_pika.connect(self.url, timeout=self.timeout_s), self.timeout_s
            )
        except Exception as exc:
            # connect raises socket errors, timeouts and AMQP handshake errors:
            # all mean "not reachable" here.
            raise BrokerUnavailable(f"RabbitMQ is not reachable: {exc!r}") from exc
        try:
            channel = await asyncio.wait_for(
                connection.channel(publisher_confirms=True, on_return_raises=True),
                self.timeout_s,
            )
            try:
                await asyncio.wait_for(
                    channel.declare_queue(self.queue, durable=True, arguments=QUEUE_ARGUMENTS),
                    self.timeout_s,
                )
            except aiormq.exceptions.ChannelPreconditionFailed as refused:
                existing = is_inequivalent_arguments(406, str(refused))
                if existing:
                    log.warning(OLDER_QUEUE_HINT, self.queue, self.queue)
                elif is_unsupported_argument(406, str(refused)):
                    log.warning(UNSUPPORTED_ARGUMENT_HINT, refused, self.queue)
                else:
                    raise
                # The refusal closed that channel: declare again on a new one, the
                # existing queue as it is, or a new one with the broker's defaults.
                channel = await asyncio.wait_for(
                    connection.channel(publisher_confirms=True, on_return_raises=True),
                    self.timeout_s,
                )
                await asyncio.wait_for(
                    channel.declare_queue(self.queue, durable=True, passive=existing),
                    self.timeout_s,
                )
        except Exception as exc:
            await self._discard(connection)
            raise BrokerUnavailable(f"RabbitMQ did not open a channel: {exc!r}") from exc
        self._connection, self._channel = connection, channel
        self._last_confirm = time.monotonic()
        return channel

    def _drop_if_hung(self, connection: AbstractConnection | None = None) -> None:
        """After a deadline: drop the connection if nothing was confirmed on it for a
        whole deadline (hung); a merely slow broker keeps it, so the other requests
        in flight on it are not failed along with this one."""
        if time.monotonic() - self._last_confirm >= self.timeout_s:
            self._discard_soon(connection or self._connection)

    def _discard_soon(self, connection: AbstractConnection | None) -> None:
        """Forget a connection now, close it in the background.

        Closing a hung connection can take a while; the request that found it
        hung answers at once, and the next one opens a fresh connection.
        """
        if connection is None:
            return
        if connection is self._connection:
            self._connection = self._channel = None
        task = asyncio.ensure_future(self._discard(connection))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _discard(self, connection: AbstractConnection | None) -> None:
        """Drop a connection without waiting on a broker that may not answer."""
        if connection is None:
            return
        closing: AbstractConnection = connection
        if closing is self._connection:
            self._connection = self._channel = None
        try:
            await asyncio.wait_for(closing.close(), 0.5)
        except Exception:  # a hung or broken connection may fail to close in any way
            log.debug("closing a broken RabbitMQ connection failed", exc_info=True)

    async def _publish(self, events: list[Event]) -> None:
        channel = await self._open()
        connection = self._connection
        try:
            await asyncio.wait_for(self._send_confirmed(channel, events), self.timeout_s)
            self._last_confirm = time.monotonic()
        except TimeoutError as exc:
            self._drop_if_hung(connection)
            raise BrokerUnavailable("RabbitMQ did not confirm in time") from exc
        except aio_pika.exceptions.DeliveryError as exc:
            raise BrokerUnavailable(f"RabbitMQ did not accept the events: {exc!r}") from exc
        except (Exception, asyncio.CancelledError) as exc:
            # AMQP and socket errors, a channel closed under us, and the
            # CancelledError aiormq hands to pending publishes when their
            # connection is dropped: all mean this connection is done.
            # Our own cancellation (the caller's deadline) must propagate.
            _reraise_own_cancellation(exc)
            self._discard_soon(connection)
            raise BrokerUnavailable(f"RabbitMQ failed while publishing: {exc!r}") from exc

    async def _send_confirmed(self, channel: AbstractChannel, events: list[Event]) -> None:
        """Publish a batch in one frame write and wait for every confirm.

        What aiormq's ``basic_publish`` does per message (a delivery tag and a
        confirm future each, the message id mapped to its tag so a returned
        message fails its own future), done once for the whole batch: one
        channel lock, one queued write, no task per message.  Per-message
        ``exchange.publish`` cost about 0.25 ms of CPU per event (a profile of
        100-event requests), most of it locking, tasks and one socket write per
        message.  The messages are the same bytes aio-pika would send
        (tests/unit/adapters/test_publisher.py compares the bytes).
        """
        underlay = await channel.get_underlay_channel()
        # The concrete aiormq channel: its confirm bookkeeping is used below.
        assert isinstance(underlay, aiormq.Channel)
        loop = asyncio.get_running_loop()
        frames: list[bytes] = []
        publish_method = pamqp.frame.marshal(self._publish_method, underlay.number)
        # Plain futures (aiormq's tracked ones cost more than the rest of the
        # publish); one tracked future per batch stands for them all, as
        # aiormq rejects its tracked futures when the channel closes.
        confirms: list[asyncio.Future[Any]] = []
        batch = _BatchConfirms(loop, len(events))
        closed = underlay.create_future()
        async with underlay.lock:
            first_tag = underlay.delivery_tag
            try:
                for event in events:
                    body = event.to_json().encode()
                    message_id = event.event_id.encode()
                    underlay.delivery_tag += 1
                    tag = underlay.delivery_tag
                    confirm = loop.create_future()
                    underlay.confirmations[tag] = confirm
                    underlay.message_id_delivery_tag[event.event_id] = tag
                    confirm.add_done_callback(batch.settled)
                    confirms.append(confirm)
                    frames.append(publish_method)
                    if len(body) < underlay.max_content_size and len(message_id) < 256:
                        frames.append(content_frames(underlay.number, event, body))
                    else:  # never for our events; pamqp splits a body and checks lengths
                        frames.append(
                            ChannelFrame.marshall(
                                channel_number=underlay.number,
                                frames=[
                                    ContentHeader(
                                        properties=message_properties(event),
                                        body_size=len(body),
                                    ),
                                    *underlay._split_body(body),
                                ],
                            ).payload
                        )
                self._queue_frames(underlay, b"".join(frames))
            except BaseException:
                # Nothing reached the broker: give the delivery tags back.
                underlay.delivery_tag = first_tag
                for tag in range(first_tag + 1, first_tag + len(confirms) + 1):
                    underlay.confirmations.pop(tag, None)
                batch.done.cancel()
                for confirm in confirms:
                    confirm.cancel()
                closed.cancel()
                raise
        try:
            await asyncio.wait((batch.done, closed), return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Confirms still pending are left to aiormq (cancelling one would make
            # its late return fail inside aiormq's reader); batch.settled reads
            # each outcome, so none is logged as never retrieved.
            tags = range(first_tag + 1, first_tag + len(events) + 1)
            for event, tag in zip(events, tags, strict=True):
                # As aiormq does per publish: the id -> tag map serves returns only.
                if underlay.message_id_delivery_tag.get(event.event_id) == tag:
                    del underlay.message_id_delivery_tag[event.event_id]
            batch.done.cancel()
            closed.cancel()
        if closed.done() and not closed.cancelled():
            raise closed.exception() or RuntimeError("the channel closed")
        batch.done.result()  # the first failed confirm (nack, return), if any

    def _queue_frames(self, underlay: aiormq.Channel, payload: bytes) -> None:
        """Write a batch's frames with the other batches of this loop turn, in one write.

        Under load many requests publish in the same turn; one socket write
        for all of them costs less CPU than one each.  Called under the
        channel lock, so frames keep the order of their delivery tags.
        """
        if self._outgoing_channel is not underlay:
            self._write_outgoing()
            self._outgoing_channel = underlay
        self._outgoing.append(payload)
        if len(self._outgoing) == 1:
            asyncio.get_running_loop().call_soon(self._write_outgoing)

    def _write_outgoing(self) -> None:
        channel, payloads = self._outgoing_channel, self._outgoing
        self._outgoing = []
        if channel is None or not payloads:
            return
        frame = ChannelFrame(payload=b"".join(payloads), should_close=False)
        try:
            channel.write_queue.put_nowait(frame)
        except asyncio.QueueFull:
            # aiormq's writer is behind (a stalled broker): wait for room in the
            # background; the batches' deadlines still bound their callers.
            task = asyncio.ensure_future(channel.write_queue.put(frame))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _publish_with_retry(self, events: list[Event]) -> None:
        # A connection cached across Lambda freezes may have been closed by the
        # broker meanwhile: retry once on a fresh connection, within the deadline.
        reused = self._channel is not None and not self._channel.is_closed
        try:
            await self._publish(events)
        except BrokerUnavailable as exc:
            if not reused or isinstance(exc.__cause__, TimeoutError):
                raise
            log.info("cached RabbitMQ connection failed (%s); reconnecting", exc.reason)
            await self._publish(events)

    async def _ping(self) -> None:
        channel = await self._open()
        connection = self._connection
        try:
            await asyncio.wait_for(
                channel.declare_queue(self.queue, durable=True, passive=True), self.timeout_s
            )
        except (Exception, asyncio.CancelledError) as exc:
            _reraise_own_cancellation(exc)
            self._discard_soon(connection)
            raise BrokerUnavailable(f"RabbitMQ did not answer a probe: {exc!r}") from exc

    # --- public API -----------------------------------------------------------------
    def _wait(self, future: concurrent.futures.Future[None]) -> None:
        try:
            future.result(timeout=self.timeout_s + 0.1)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise BrokerUnavailable("RabbitMQ did not answer in time") from exc
        except concurrent.futures.CancelledError as exc:
            raise BrokerUnavailable("RabbitMQ connection was dropped") from exc

    async def _await(self, future: concurrent.futures.Future[None]) -> None:
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_s + 0.1)
        except TimeoutError as exc:
            raise BrokerUnavailable("RabbitMQ did not answer in time") from exc
        except asyncio.CancelledError as exc:
            if future.cancelled():  # cancelled on the private loop, not this request
                raise BrokerUnavailable("RabbitMQ connection was dropped") from exc
            raise

    def publish(self, events: list[Event]) -> None:
        """Publish and wait (at most ``timeout_s``) for the confirm of every event."""
        if events:
            self._wait(self._submit(self._publish_with_retry(events)))

    async def publish_async(self, events: list[Event]) -> None:
        if not events:
            return
        if self._loop is asyncio.get_running_loop():
            try:
                await asyncio.wait_for(self._publish_with_retry(events), self.timeout_s)
            except TimeoutError as exc:
                self._drop_if_hung()
                raise BrokerUnavailable("RabbitMQ did not answer in time") from exc
            return
        await self._await(self._submit(self._publish_with_retry(events)))

    def ping(self) -> None:
        """A real round trip to the broker, within the deadline."""
        self._wait(self._submit(self._ping()))

    async def ping_async(self) -> None:
        if self._loop is asyncio.get_running_loop():
            try:
                await asyncio.wait_for(self._ping(), self.timeout_s)
            except TimeoutError as exc:
                self._drop_if_hung()
                raise BrokerUnavailable("RabbitMQ did not answer in time") from exc
            return
        await self._await(self._submit(self._ping()))

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None or not thread.is_alive() or loop.is_closed():
            return
        connection, self._connection, self._channel = self._connection, None, None
        if threading.current_thread() is thread:
            # On an adopted loop, from that loop: cannot block; close in the background.
            loop.create_task(self._discard(connection))
            return
        try:
            asyncio.run_coroutine_threadsafe(self._discard(connection), loop).result(2)
        except Exception:  # closing is best effort; the broker drops the connection anyway
            log.debug("closing the publisher failed", exc_info=True)
        if thread.name == "rabbitmq-publisher":  # never stop a server's loop
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=2)

    async def aclose(self) -> None:
        """Close from the adopted loop (server shutdown)."""
        connection, self._connection, self._channel = self._connection, None, None
        await self._discard(connection)
