"""Helpers for integration tests on the real services."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pika

from recsys.adapters.broker import Broker
from tests.conftest import EVENTS_DIR


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


def queued_messages(url: str, queue: str) -> list[tuple[pika.BasicProperties, dict[str, Any]]]:
    """Read (and requeue) every message on a queue, to inspect without consuming."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        messages = []
        while True:
            method, props, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            messages.append((props, json.loads(body)))
        return messages  # closing the channel requeues everything unacked
    finally:
        connection.close()


def queue_depth(url: str, queue: str) -> int:
    """Messages waiting on the queue (declaring it, empty, if nothing was ever published)."""
    with Broker(url, queue) as broker:
        return broker.queue_depth()


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a hung dependency."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()
