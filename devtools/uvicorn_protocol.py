"""HTTP protocol for local uvicorn servers that keeps TCP_NODELAY in multi-worker mode.

With ``--workers N`` uvicorn binds the listening socket itself, as
``socket.socket(AF_INET, SOCK_STREAM)`` (protocol number 0).  asyncio (and
uvloop) set TCP_NODELAY on accepted sockets only when their protocol is
IPPROTO_TCP, so in that mode they do not: a response written as headers then
body meets Nagle's algorithm and the client's delayed ACK, about 40 ms per
request.  This protocol sets TCP_NODELAY on every accepted connection.

Used through ``uvicorn --http devtools.uvicorn_protocol:NoDelayHttpToolsProtocol``
(see ``devtools.localrun.uvicorn_command``); dev tooling, not part of a Lambda zip.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)
