"""The socket end of a connection made by ``Connection.connect``: an asyncio Protocol.

Bytes are handed to the connection in ``data_received``, so a chunk of frames is
decoded and handled in the event-loop pass that read it (a reader task on an
``asyncio.StreamReader`` costs one more pass, a future and a task step per chunk).
:class:`Writer` is the small part of ``asyncio.StreamWriter`` the connection uses.
"""

import asyncio

__all__ = ["StreamProtocol", "Writer"]


class StreamProtocol(asyncio.Protocol):
    """Feeds one Connection: ``conn._on_data(bytes)``, ``conn._on_eof()``,
    ``conn._on_lost(exc)``. Data that arrives before :meth:`attach` is kept."""

    def __init__(self, loop):
        self.conn = None
        self.transport = None
        self.closed = loop.create_future()
        self._early = []            # events before attach(): ("data", b) / ("eof",) / ...

    def attach(self, conn):
        self.conn = conn
        early, self._early = self._early, None
        for ev in early:
            self._dispatch(*ev)
        # from now on the transport hands bytes straight to the connection (which
        # ignores them once closed)
        self.data_received = conn._on_data

    def _dispatch(self, kind, arg=None):
        conn = self.conn
        if conn is None:
            self._early.append((kind, arg))
        elif conn.closed:
            return
        elif kind == "data":
            conn._on_data(arg)
        elif kind == "eof":
            conn._on_eof()
        else:
            conn._on_lost(arg)

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        conn = self.conn
        if conn is not None and not conn.closed:
            conn._on_data(data)
        else:
            self._dispatch("data", data)

    def eof_received(self):
        self._dispatch("eof")
        return False                # close the transport

    def connection_lost(self, exc):
        if exc is None:
            self._dispatch("eof")
        else:
            self._dispatch("lost", exc)
        if not self.closed.done():
            self.closed.set_result(None)


class Writer:
    """``write`` / ``close`` / ``wait_closed`` over the protocol's transport."""

    __slots__ = ("_proto",)

    def __init__(self, proto):
        self._proto = proto

    def write(self, data):
        self._proto.transport.write(data)

    def close(self):
        self._proto.transport.close()

    async def wait_closed(self):
        await asyncio.shield(self._proto.closed)
