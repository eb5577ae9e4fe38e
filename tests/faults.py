"""A small TCP fault proxy for tests: put it in front of Redis or RabbitMQ.

Modes (switchable while connections are open):

- ``pass``: forward bytes both ways;
- ``down``: refuse new connections (close them at once) and cut open ones;
- ``hung``: accept connections and read what the client sends, but forward
  nothing either way: a service that hangs on an already-open connection;
- ``slow``: forward, but wait ``delay_s`` before each chunk.

The shared services are never stopped or touched: only the proxy misbehaves.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Literal

Mode = Literal["pass", "down", "hung", "slow"]


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, *, delay_s: float = 0.2) -> None:
        self.target = (target_host, target_port)
        self.delay_s = delay_s
        self.mode: Mode = "pass"
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(256)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._lock = threading.Lock()
        self._cuts: list[threading.Event] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fault-proxy", daemon=True)
        self._thread.start()

    def url(self, scheme: str, *, userinfo: str = "", path: str = "") -> str:
        return f"{scheme}://{userinfo}127.0.0.1:{self.port}{path}"

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        if mode == "down":
            self.cut()

    def cut(self) -> None:
        """Close every open connection (both sides); done by the proxy thread."""
        done = threading.Event()
        self._cuts.append(done)
        done.wait(timeout=5)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in list(self._pairs):
            _close(sock)
        _close(self._listener)

    def _accept(self, selector: selectors.BaseSelector) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        if self.mode == "down":
            _close(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=2)
        except OSError:
            _close(client)
            return
        for sock in (client, upstream):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._pairs[client] = upstream
            self._pairs[upstream] = client
        selector.register(client, selectors.EVENT_READ)
        selector.register(upstream, selectors.EVENT_READ)

    def _forward(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        with self._lock:
            peer = self._pairs.get(sock)
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if peer is None or not data:
            self._drop(selector, sock, peer)
            return
        if self.mode == "hung":
            return  # swallow: the other side never hears anything
        if self.mode == "slow":
            time.sleep(self.delay_s)
        try:
            peer.setblocking(True)
            peer.sendall(data)
            peer.setblocking(False)
        except OSError:
            self._drop(selector, sock, peer)

    def _drop(
        self, selector: selectors.BaseSelector, sock: socket.socket, peer: socket.socket | None
    ) -> None:
        with self._lock:
            self._pairs.pop(sock, None)
            if peer is not None:
                self._pairs.pop(peer, None)
        for s in (sock, peer):
            if s is not None:
                with suppress(KeyError, ValueError):
                    selector.unregister(s)
                _close(s)

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        while not self._stop.is_set():
            for key, _ in selector.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    self._accept(selector)
                elif sock in self._pairs:
                    self._forward(selector, sock)
            while self._cuts:
                for sock in list(self._pairs):
                    self._drop(selector, sock, None)
                self._cuts.pop().set()
        selector.close()


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.close()


@contextmanager
def fault_proxy(host: str, port: int, *, delay_s: float = 0.2) -> Iterator[FaultProxy]:
    proxy = FaultProxy(host, port, delay_s=delay_s)
    try:
        yield proxy
    finally:
        proxy.close()


@contextmanager
def serving(app: object) -> Iterator[str]:
    """Run an ASGI app under uvicorn in a thread, lifespan on; yields its base URL.

    Real HTTP with real concurrency, as ``make run`` serves it (the lifespan
    lets /interact publish on the server's loop).  TestClient without a
    ``with`` block and Mangum run the other path: the publisher's own loop.
    """
    import uvicorn

    from tests.support import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, name="uvicorn-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
