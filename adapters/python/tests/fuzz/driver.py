"""Fuzz driver for the Python guest runtime (run by the polyhost-fuzz crate).

    python3 driver.py KIND        # KIND: framing | reader | rpc

Writes one byte (``R``) once it is ready, then reads batches from stdin: a little-endian
u32 count, then that many inputs, each a u32
length and its bytes. Answers each input with one record: a status byte (0: handled,
1: refused with a typed error, 2: failure), a u32 length and a UTF-8 detail (empty
unless it failed). A failure is an exception that is not the runtime's typed error
(``wire.WireError``; for RPC also ``ProtocolError`` / ``RpcError`` where the API
promises them), an internal error the connection logged, an exception the event loop
reported, a task still running after the connection closed, or the process's peak
memory growing by more than ``MEMORY_SLACK``. A hang is detected by the caller, which
gives each input a time limit (an input still running after ``STACK_DUMP_S`` seconds
has the stacks of every thread written to stderr, which the caller reports). The
process stays alive across inputs.

- framing: the input is a byte stream fed to a ``FrameDecoder`` whole and again in
  small chunks, and passed to ``read_message``;
- reader: the input is one framed message, read with the default limits: every
  pointer followed (structs, lists of every element size, text), the root
  canonicalized, and decoded as an rpc Message and as each struct of the worker protocol;
- rpc: the input is the bytes a peer sends: a fresh ``Connection`` serving a small
  ``WorkerProcess`` (that returns capabilities and raises) with a bootstrap question
  and a call of its own outstanding is fed them, runs until idle, and is closed.
"""

import asyncio
import faulthandler
import logging
import os
import resource
import struct
import sys
import traceback

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from polyhost import wire  # noqa: E402
from polyhost import polyhost_capnp as proto  # noqa: E402
from polyhost import rpc_capnp  # noqa: E402
from polyhost.rpc import Connection, RpcError  # noqa: E402

OK, TYPED, FAILURE = 0, 1, 2
MEMORY_SLACK = 256 * 1024 * 1024
STACK_DUMP_S = 3
_u32 = struct.Struct("<I")


class Failure(Exception):
    """What the driver reports as a failure of the input."""


# -- framing --------------------------------------------------------------------------

_CHUNKS = (1, 3, 8, 13, 64)


def run_framing(data):
    typed = False
    try:
        wire.read_message(data)
    except wire.WireError:
        typed = True
    for size in (len(data) or 1, _CHUNKS[len(data) % len(_CHUNKS)]):
        decoder = wire.FrameDecoder()
        messages = []
        try:
            for i in range(0, len(data), size):
                messages += decoder.feed(data[i:i + size])
            decoder.at_boundary()
            _ = decoder.buffered
        except wire.WireError:
            typed = True
            # a failed decoder keeps failing, with a typed error
            try:
                decoder.feed(b"\0" * 8)
                raise Failure("a failed FrameDecoder accepted more bytes")
            except wire.WireError:
                pass
        for mr in messages:
            try:
                mr.root_pointer().is_null()
            except wire.WireError:
                typed = True
    return typed


# -- reader ---------------------------------------------------------------------------

def walk_pointer(p):
    t = p.target()
    if t is None or isinstance(t, wire.Capability):
        return
    if isinstance(t, wire.StructReader):
        walk_struct(t)
    else:
        walk_list(t, p)


def walk_struct(s):
    bytes(s.data_section())
    s.get_bool(0)
    for i in range(s.pointer_count):
        walk_pointer(s.get_pointer(i))


def walk_list(lr, p):
    es = lr.element_size
    n = lr.len()
    if es == wire.POINTER:
        for i in range(n):
            walk_pointer(lr.get_pointer(i))
    elif es == wire.INLINE_COMPOSITE:
        for i in range(n):
            walk_struct(lr.get_struct(i))
    elif es == wire.BIT:
        lr.primitives("?")
    elif es == wire.BYTE:
        lr.primitives("B")
        try:
            p.as_text()
        except wire.MalformedText:
            pass
        p.as_data()
    elif es == wire.TWO_BYTES:
        lr.primitives("H")
    elif es == wire.FOUR_BYTES:
        lr.primitives("I")
    elif es == wire.EIGHT_BYTES:
        lr.primitives("Q")


# rpc.capnp's Message (its members' structs are read through it) and every struct of
# the worker protocol, each read from the root of a message.
_DECODERS = [rpc_capnp.Message] + [
    getattr(proto, name) for name in sorted(dir(proto))
    if isinstance(getattr(proto, name), type) and hasattr(getattr(proto, name), "_polyhost_read")
    and hasattr(getattr(proto, name), "_polyhost_data_words")
]


def run_reader(data):
    typed = False
    try:
        mr = wire.read_message(data)
    except wire.WireError:
        return True
    try:
        walk_pointer(mr.root_pointer())
    except wire.WireError:
        typed = True
    try:
        wire.canonicalize(wire.read_message(data).root())
    except wire.WireError:
        typed = True
    for cls in _DECODERS:
        try:
            cls._polyhost_read(wire.read_message(data).root())
        except wire.WireError:
            typed = True
    return typed


# -- rpc ------------------------------------------------------------------------------

class FuzzWorker(proto.WorkerProcess):
    """Answers every method: with results, a capability (itself or a new one), or an
    exception, so received calls reach every path of the connection."""

    def __init__(self, depth=0):
        self.depth = depth

    async def start(self, params):
        for s in params.callbacks:
            s.name, s.interface_id
        return proto.WorkerProcess_StartResults(
            info=proto.WorkerInfo(language="fuzz"),
            services=[proto.Service(interface_id=1, name="self", cap=self)])

    async def scoped(self, params):
        if params.interface_id & 1:
            raise ValueError("odd interface id")
        return proto.WorkerProcess_ScopedResults(
            service=FuzzWorker(self.depth + 1) if self.depth < 4 else self)

    async def ping(self, params):
        if params.nonce & 1:
            raise RpcError("odd nonce")
        if params.nonce & 2:
            await asyncio.sleep(0)
        return proto.WorkerProcess_PingResults(nonce=params.nonce)

    async def shutdown(self, params):
        return None


class NullWriter:
    def write(self, data):
        pass

    def close(self):
        pass

    async def wait_closed(self):
        pass


class Collector(logging.Handler):
    """Failures the connection reports through logging: internal errors."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.failures = []

    def emit(self, record):
        if record.exc_info and "internal error" in record.getMessage():
            self.failures.append("".join(traceback.format_exception(*record.exc_info)))


_collector = Collector()
logging.getLogger("polyhost.rpc").addHandler(_collector)
logging.getLogger("polyhost.rpc").propagate = False
_loop_errors = []


def _on_loop_error(loop, context):
    exc = context.get("exception")
    text = context.get("message", "")
    if exc is not None:
        text += "\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    _loop_errors.append(text)


async def _settle(turns=8):
    for _ in range(turns):
        await asyncio.sleep(0)


def _consume(promise):
    # Our own call fails when the peer's bytes are bad: that must be an RpcError.
    exc = promise.exception()
    if exc is not None and not isinstance(exc, RpcError):
        _loop_errors.append("our call failed with %s: %s" % (type(exc).__name__, exc))


async def rpc_one(data):
    before = set(asyncio.all_tasks())
    conn = Connection(NullWriter(), bootstrap=FuzzWorker(), limits=wire.Limits())
    peer = conn.bootstrap()                                  # question 0
    client = peer.cast_as(proto.WorkerProcessClient)
    call = client.ping(nonce=4)                              # question 1
    call.add_done_callback(_consume)
    cut = len(data) // 2 if len(data) % 3 == 0 else len(data)
    for chunk in (data[:cut], data[cut:]):
        if chunk and not conn.closed:
            conn._on_data(chunk)
            await _settle()
    typed = conn.closed
    await _settle()
    await conn.close()
    await _settle()
    call.cancel()
    client.close()
    peer.close()
    await _settle(2)
    left = [t for t in asyncio.all_tasks() if t not in before and not t.done()]
    if left:
        for t in left:
            t.cancel()
        await _settle(2)
        raise Failure("%d task(s) still running after the connection closed: %r"
                      % (len(left), left[:3]))
    return typed


def main():
    kind = sys.argv[1]
    try:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    except (ValueError, OSError):
        pass
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(_on_loop_error)
    if kind == "rpc":
        def run(data):
            return loop.run_until_complete(rpc_one(data))
    else:
        run = {"framing": run_framing, "reader": run_reader}[kind]
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    stdout.write(b"R")
    stdout.flush()
    while True:
        head = stdin.read(4)
        if len(head) < 4:
            return
        (count,) = _u32.unpack(head)
        out = []
        for _ in range(count):
            (n,) = _u32.unpack(stdin.read(4))
            data = stdin.read(n)
            detail = b""
            faulthandler.dump_traceback_later(STACK_DUMP_S)
            try:
                status = TYPED if run(data) else OK
            except Exception:
                status, detail = FAILURE, traceback.format_exc().encode()
            faulthandler.cancel_dump_traceback_later()
            if _collector.failures or _loop_errors:
                status = FAILURE
                detail += "\n".join(_collector.failures + _loop_errors).encode()
                _collector.failures.clear()
                _loop_errors.clear()
            now = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            if now > peak + MEMORY_SLACK:
                status = FAILURE
                detail += b"peak memory grew by %d MiB on this input" % ((now - peak) >> 20)
            peak = max(peak, now)
            out.append(bytes([status]) + _u32.pack(len(detail)) + detail)
        stdout.write(b"".join(out))
        stdout.flush()


if __name__ == "__main__":
    main()
