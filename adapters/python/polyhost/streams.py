"""Streams over polyhost's ``Sink(T)`` capability: the producing and the consuming end.

A method that takes a ``Sink(T)`` parameter streams items from its callee (the
producer) to its caller (the consumer). Generated modules use this module on both sides:

- the server base class hands the handler one :class:`Producer` per Sink parameter::

      async def numbers(self, params, out):        # out: Producer[Point]
          for i in range(params.count):
              await out.send(Point(x=i, y=i))      # or: await out.feed(async_generator)

  When the handler returns, the rest is flushed and the stream ends (``end(null)``);
  when it raises, the stream ends with a ``Failure`` and the call fails too
  (:func:`produce`). A sync handler (run in a thread) uses ``out.send_blocking(item)``.
  Items are batched: ``send`` returns at once while the batch fills; a batch goes out
  (one ``push``) when the handler yields to the event loop or the batch reaches
  ``max_batch`` items; while the stream's flow-control window is full, items
  accumulate, so batches grow with the backlog, and ``send`` waits (backpressure) once
  ``max_batch`` items are waiting.

- the typed client returns an :class:`Inbound` (a local Sink server passed in the call)::

      async with calc.numbers(count=3) as points:   # Inbound[Point, NumbersResults]
          async for p in points: ...
          results = await points                    # the call's results struct

  Its queue is bounded (``max_batches`` batches): a slow consumer holds up ``push``,
  which holds up the producer. The iteration ends at ``end``; an ``end`` carrying a
  Failure raises :class:`StreamError` after the items pushed before it, and a failed
  call raises its error. ``aclose()`` (or leaving ``async with``) stops early: later
  pushes fail and the call is cancelled.
"""

from __future__ import annotations

import asyncio
import collections
from array import array as _array
import contextvars
import inspect
import traceback
from typing import (
    Any, AsyncIterable, AsyncIterator, Awaitable, Callable, Deque, Generator, Generic, Iterable,
    List, Optional, TypeVar, Union, cast,
)

from polyhost import gen as _gen
from polyhost import polyhost_capnp as _P
from polyhost import wire as _wire
from polyhost.gen import Builder, Codec
from polyhost.rpc import ExceptionType, Promise, RemoteError, RpcError

__all__ = ["Producer", "Inbound", "StreamError", "produce", "MAX_BATCH"]

T = TypeVar("T")
R = TypeVar("R")

#: most items per ``push`` by default; a push of as many small structs fits the
#: flow-control window (rpc.STREAM_WINDOW_BYTES) several times over
MAX_BATCH = 2048


class StreamError(RemoteError):
    """The producer ended the stream with a Failure: ``remote_type`` is the exception's
    type name in the producer's language, ``reason`` its message, ``trace`` its
    traceback."""

    def __init__(self, remote_type: str, message: str, trace: str = "") -> None:
        super().__init__("%s: %s" % (remote_type, message) if remote_type else message,
                         ExceptionType.FAILED, trace)
        self.remote_type = remote_type


class _Batch:
    """The ``batch`` AnyList of one push: written straight into the outgoing message."""

    __slots__ = ("codec", "items")

    def __init__(self, codec: Codec, items: List[Any]) -> None:
        self.codec = codec
        self.items = items

    def _polyhost_write_pointer(self, b: Builder, i: int) -> None:
        self.codec.write_list(b, i, self.items)


# ---------------------------------------------------------------------------------------
# The producing end


class Producer(Generic[T]):
    """Pushes items of type ``T`` into a ``Sink(T)`` capability (see the module doc)."""

    __slots__ = ("_sink", "_codec", "_max", "_buf", "_window", "_scheduled", "_loop",
                 "_error", "_closed", "_ready", "_limit", "sent")

    def __new__(cls, sink: Optional[_P.SinkClient], codec: Codec, *,
                max_batch: int = MAX_BATCH) -> Producer[T]:
        # items of a struct made only of numbers are kept as columns (see
        # _ColumnProducer); anything else as a list of items
        if cls is Producer and _ColumnProducer.fits(codec):
            cls = _ColumnProducer
        return object.__new__(cls)

    def __init__(self, sink: Optional[_P.SinkClient], codec: Codec, *,
                 max_batch: int = MAX_BATCH) -> None:
        if sink is None:
            raise RpcError("no Sink was passed for the stream")
        self._sink = sink
        self._codec = codec
        self._max = max(1, max_batch)
        self._buf: List[T] = []
        self._window: Optional[asyncio.Future[None]] = None
        self._scheduled = False
        self._loop = asyncio.get_running_loop()
        self._ready = self._loop.create_future()     # what send() hands back when queued
        self._ready.set_result(None)
        self._error: Optional[BaseException] = None
        self._closed = False
        # send()'s quick test: the batch has room for one more item before it is full,
        # and no error or close happened (then -1: every send takes the long way); a
        # list, so that a send function made for this producer shares it
        self._limit = [self._max - 1]
        #: items handed to ``push`` calls so far
        self.sent = 0

    def __repr__(self) -> str:
        return "<Producer sent=%d buffered=%d%s>" % (
            self.sent, self._pending(), " closed" if self._closed else "")

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, item: T) -> Awaitable[None]:
        """Queue one item (await the result); waits only while ``max_batch`` items are
        already waiting for the flow-control window. Raises the error of a failed push
        (e.g. the consumer stopped reading).

        Not a coroutine function: while the batch has room, the item is queued at once
        and an already completed future is handed back, which costs less than running
        a coroutine per item."""
        buf = self._buf
        if len(buf) < self._limit[0]:
            buf.append(item)
            if not self._scheduled:
                self._scheduled = True
                self._loop.call_soon(self._flush_soon)
            return self._ready
        return self._send_slowly(item)

    def _send_slowly(self, item: T) -> Awaitable[None]:
        """send() when the quick test fails: a closed or failed stream, a full batch."""
        if self._error is not None or self._closed:
            return self._refuse()
        self._queue(item)
        if self._pending() >= self._max:
            return self._flush()
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush_soon)
        return self._ready

    def _queue(self, item: T) -> None:
        self._buf.append(item)

    async def _refuse(self) -> None:
        if self._error is not None:
            raise self._error
        raise RuntimeError("send() on a closed stream")

    async def send_many(self, items: Iterable[T]) -> None:
        """Queue several items (as if by ``send`` each)."""
        for item in items:
            await self.send(item)

    async def feed(self, source: Union[AsyncIterable[T], Iterable[T]]) -> int:
        """Send every item of an async generator / async iterable (or a plain iterable);
        returns how many."""
        n = 0
        if isinstance(source, AsyncIterable):
            async for item in source:
                await self.send(item)
                n += 1
        else:
            for item in source:
                await self.send(item)
                n += 1
        return n

    def send_blocking(self, item: T, timeout: Optional[float] = None) -> None:
        """``send`` from another thread (a sync handler): blocks until queued."""
        asyncio.run_coroutine_threadsafe(self._send_async(item), self._loop).result(timeout)

    async def _send_async(self, item: T) -> None:
        await self.send(item)

    async def flush(self) -> None:
        """Push everything queued now, waiting for the window as needed."""
        while self._pending():
            await self._flush()

    async def close(self) -> None:
        """Flush, then end the stream without error and wait until the consumer has
        taken every push and the end. Raises the error of a failed push."""
        if self._closed:
            return
        try:
            await self.flush()
        finally:
            self._closed = True
            self._limit[0] = -1
        await self._sink.end(error=None)
        await self._sink.wait_streams()

    async def fail(self, exc: BaseException) -> None:
        """End the stream with ``exc`` as a Failure (after what is already queued)."""
        if self._closed:
            return
        self._closed = True
        self._limit[0] = -1
        failure = _P.Failure(
            type=type(exc).__name__, message=str(exc),
            traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        try:
            if self._pending() and self._error is None:
                self._push()
            await self._sink.end(error=failure)
        except Exception:
            pass                    # the consumer is gone: nobody to tell

    # -- batching ----------------------------------------------------------------------

    def _flush_soon(self) -> None:
        self._scheduled = False
        w = self._window
        if self._pending() and self._error is None and not self._closed and (w is None or w.done()):
            self._push()

    async def _flush(self) -> None:
        w = self._window
        if w is not None and not w.done():
            await w
        if self._error is not None:
            raise self._error
        if self._pending():
            self._push()

    def _pending(self) -> int:
        """Items queued and not pushed yet."""
        return len(self._buf)

    def _take(self) -> Any:
        """The queued items as a ``batch`` pointer (and an empty queue)."""
        batch = self._buf
        self._buf = []
        return _Batch(self._codec, batch)

    def _push(self) -> None:
        self.sent += self._pending()
        fut = self._sink.push(batch=self._take())
        if not isinstance(fut, asyncio.Future):
            fut = asyncio.ensure_future(fut)
        self._window = fut
        fut.add_done_callback(self._room)

    def _room(self, fut: asyncio.Future[None]) -> None:
        if fut.cancelled():
            return
        e = fut.exception()
        if e is not None:
            if self._error is None:
                self._error = e
                self._limit[0] = -1
            return
        if self._pending() and not self._scheduled and not self._closed:
            self._scheduled = True
            self._loop.call_soon(self._flush_soon)


class _ColumnProducer(Producer[T]):
    """A Producer of a struct made only of numbers (``gen.read_rows`` / ``write_rows``
    can pack it): queued items are not kept, their fields are appended to one array
    per field, and a push writes the arrays into the message
    (``ListBuilder.put_columns``). Its ``send`` is a function made for the struct
    (``gen.column_sender``) that reads each field by name, so an item is dropped as
    soon as it is sent: the cycle collector never traces the queue, and a push packs
    no objects."""

    __slots__ = ("send", "_cls", "_columns", "_rows")

    @staticmethod
    def fits(codec: Codec) -> bool:
        cls = getattr(codec, "cls", None)
        return (cls is not None and not getattr(codec, "args", ())
                and _gen.column_sender(cls) is not None)

    def __init__(self, sink: Optional[_P.SinkClient], codec: Codec, *,
                 max_batch: int = MAX_BATCH) -> None:
        super().__init__(sink, codec, max_batch=max_batch)
        cls = getattr(codec, "cls")
        self._cls = cls
        self._rows = _gen.rows_of(cls)
        columns = self._columns = [_array(code) for code, _pos in self._rows.columns]
        # the first item of a batch takes the slow way, which schedules the flush
        make = cast(Callable[..., Callable[[Any], Awaitable[None]]], _gen.column_sender(cls))
        self.send = make(cls, columns[-1], self._limit, self._ready, self._send_slowly,
                         *(c.append for c in columns))

    def _pending(self) -> int:
        return len(self._columns[-1])

    def _queue(self, item: T) -> None:
        columns = self._columns
        n = len(columns[-1])
        for column in columns:              # a quick send that raised part-way
            del column[n:]
        if not isinstance(item, self._cls):
            raise TypeError("this stream sends %s items, not %s"
                            % (self._cls.__name__, type(item).__name__))
        try:
            for column, get in zip(columns, self._rows.getters):
                column.append(get(item))
        except (OverflowError, TypeError, ValueError):
            for column in columns:
                del column[n:]
            # the error the struct's own writer gives for that value
            scratch = _wire.MessageBuilder().init_root(self._cls._polyhost_data_words,
                                                        self._cls._polyhost_ptr_count)
            item._polyhost_write(scratch)
            raise

    def _take(self) -> Any:
        columns = [_array(c.typecode, c) for c in self._columns]
        for column in self._columns:
            del column[:]
        return _ColumnBatch(self._cls, self._rows.columns, columns)


class _ColumnBatch:
    """The ``batch`` of a _ColumnProducer's push: its columns written into the
    message's struct list."""

    __slots__ = ("cls", "fields", "columns")

    def __init__(self, cls: Any, fields: List[Any], columns: List[Any]) -> None:
        self.cls = cls
        self.fields = fields
        self.columns = columns

    def _polyhost_write_pointer(self, b: Builder, i: int) -> None:
        cls = self.cls
        lb = b.init_struct_list(i, len(self.columns[0]), cls._polyhost_data_words,
                                cls._polyhost_ptr_count)
        if not lb.put_columns(self.fields, self.columns):
            raise RpcError("%s items cannot be written by columns here" % cls.__name__)


async def produce(handler: Callable[..., Any], params: Any, *producers: Producer[Any]) -> Any:
    """Run a handler that takes Producers (the generated ``_polyhost_serve_<method>``):
    an ``async def`` on the loop, a plain ``def`` in a thread; then close every
    producer, or end them with the handler's exception (which the call then raises)."""
    try:
        if inspect.iscoroutinefunction(handler):
            res = await handler(params, *producers)
        else:
            ctx = contextvars.copy_context()
            res = await asyncio.get_running_loop().run_in_executor(
                None, ctx.run, handler, params, *producers)
        if inspect.isawaitable(res):
            res = await res
    except asyncio.CancelledError:
        raise                       # the caller cancelled the call: its Inbound is closed
    except BaseException as e:
        for p in producers:
            await p.fail(e)
        raise
    for p in producers:
        await p.close()
    return res


# ---------------------------------------------------------------------------------------
# The consuming end


class Inbound(_P.Sink, Generic[T, R]):
    """The items of a ``Sink(T)`` stream and the results ``R`` of the call that
    produces them (see the module doc). Served as the Sink capability of the call."""

    def __init__(self, codec: Codec, *, max_batches: int = 16) -> None:
        self._codec = codec
        self._max = max(1, max_batches)
        self._batches: Deque[List[T]] = collections.deque()
        self._cur: List[T] = []
        self._pos = 0
        self._ended = False
        self._failure: Optional[_P.Failure] = None
        self._closed = False
        self._call_error: Optional[BaseException] = None
        self._promise: Optional[Promise[R]] = None
        self._data: Optional[asyncio.Future[None]] = None
        self._space: Optional[asyncio.Future[None]] = None
        #: items received so far
        self.received = 0

    def __repr__(self) -> str:
        state = "ended" if self._ended else "closed" if self._closed else "open"
        return "<Inbound %s received=%d>" % (state, self.received)

    def _polyhost_attach(self, promise: Promise[R]) -> Inbound[T, R]:
        self._promise = promise
        promise.add_done_callback(self._call_done)
        return self

    @property
    def promise(self) -> Promise[R]:
        """The Promise of the producing call (pipelining, cancel)."""
        if self._promise is None:
            raise RuntimeError("this stream is not attached to a call")
        return self._promise

    # -- the Sink server ---------------------------------------------------------------

    async def push(self, params: _P.Sink_PushParams) -> None:
        if self._closed:
            raise RpcError("the consumer closed the stream")
        batch = params.batch
        if batch is None or not hasattr(batch, "as_list"):
            raise RpcError("push without a batch list")
        codec = self._codec
        items = codec.read_list(batch.as_list(codec.es))
        while len(self._batches) >= self._max and not self._closed:
            fut = self._space = asyncio.get_running_loop().create_future()
            await fut
        if self._closed:
            raise RpcError("the consumer closed the stream")
        if items:
            self._batches.append(items)
            self.received += len(items)
            self._wake()

    async def end(self, params: _P.Sink_EndParams) -> None:
        f = params.error
        if f is not None and (f.type or f.message or f.traceback):
            self._failure = f
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        d = self._data
        if d is not None and not d.done():
            d.set_result(None)

    def _free(self) -> None:
        s = self._space
        if s is not None and not s.done():
            s.set_result(None)

    def _call_done(self, promise: Promise[R]) -> None:
        e = promise.exception()
        if e is not None:
            self._call_error = e
            self._wake()

    # -- the consumer's API ------------------------------------------------------------

    def __aiter__(self) -> Inbound[T, R]:
        return self

    async def __anext__(self) -> T:
        while True:
            cur = self._cur
            pos = self._pos
            if pos < len(cur):
                self._pos = pos + 1
                return cur[pos]
            if not await self._next_batch():
                raise StopAsyncIteration

    async def _next_batch(self) -> bool:
        """Make the next batch current; False at the end of the stream."""
        while True:
            if self._batches:
                self._cur = self._batches.popleft()
                self._pos = 0
                self._free()
                return True
            self._cur = []
            self._pos = 0
            if self._ended:
                f = self._failure
                if f is not None:
                    raise StreamError(f.type, f.message, f.traceback)
                return False
            if self._call_error is not None:
                raise self._call_error
            if self._closed:
                return False
            fut = self._data = asyncio.get_running_loop().create_future()
            await fut

    async def batches(self) -> AsyncIterator[List[T]]:
        """The remaining items, a received batch at a time (fewer awaits per item)."""
        if self._pos < len(self._cur):
            rest = self._cur[self._pos:]
            self._cur = []
            self._pos = 0
            yield rest
        while await self._next_batch():
            batch = self._cur
            self._cur = []
            self._pos = 0
            yield batch

    async def collect(self) -> List[T]:
        """Every remaining item, as a list."""
        out: List[T] = []
        async for batch in self.batches():
            out.extend(batch)
        return out

    async def results(self) -> R:
        """Skip the items not read yet, then return the call's results."""
        async for _ in self.batches():
            pass
        return await self.promise

    def __await__(self) -> Generator[Any, None, R]:
        return self.results().__await__()

    async def aclose(self) -> None:
        """Stop reading: queued items are dropped, later pushes fail and the call is
        cancelled unless the stream already ended."""
        if self._closed:
            return
        self._closed = True
        self._batches.clear()
        self._cur = []
        self._pos = 0
        self._free()
        self._wake()
        p = self._promise
        if p is not None and not self._ended and not p.done():
            p.cancel()

    async def __aenter__(self) -> Inbound[T, R]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
