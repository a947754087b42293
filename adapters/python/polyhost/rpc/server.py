"""The Server base class and the dispatch of calls to it.

A capability implementation subclasses :class:`Server`. Generated interface base
classes (and hand-written ones in tests) provide the dispatch table::

    class Calculator(Server):
        _polyhost_methods = {
            # (interface_id, method_id): MethodEntry(name, params class, results class,
            #                                        is_stream)
            (0x97983392df35cc36, 0): MethodEntry("evaluate", Calculator_EvaluateParams,
                                                 Calculator_EvaluateResults, False),
        }

On a call the engine decodes the params with the params class (capabilities in them read
as ``Capability`` objects), then calls ``getattr(server, name)(params)``:

- an ``async def`` handler runs as a task on the event loop; a plain ``def`` handler runs
  in a thread pool executor (the connection's, else the loop's default), so it cannot
  block the loop. At most ``max_concurrency`` handlers of one connection run at once
  (``limiter.Limiter``); a server class that sets ``_polyhost_unlimited = True`` (the
  worker's own control interface: pings, shutdown) is not counted, so a busy worker
  still answers them. A handler's first step runs at once, in the event-loop pass
  that read the call: one that completes without suspending answers without a task
  (its Return goes out in the same write as the others of that read); one that
  suspends continues in a task. (A call from a connection, to an ``async def``
  method, takes :func:`run_direct`: the same steps without the LocalCall and Pending
  objects when the handler does not suspend.)
- It returns an instance of the results class, or None (empty results), or a dict of
  the results' fields; an awaitable result is awaited.
- A raised exception becomes an rpc Exception: an ``RpcError`` keeps its type and
  reason; any other becomes ``failed`` with reason ``"<ExceptionType>: <message>"``;
  the Python traceback travels in ``trace``.
- If the caller cancels (Finish before Return) the handler task is cancelled (the
  handler sees ``asyncio.CancelledError``; a sync handler's thread runs to completion
  but its result is discarded) and the caller gets ``canceled``.
- ``-> stream`` methods (``is_stream``) of one object run one at a time, in arrival
  order; a non-stream call that arrives while stream calls are queued or running waits
  for them to finish before it starts (so ``end()`` runs after the last ``push()``).

A method missing from the table or from the object answers ``unimplemented``.
"""

import asyncio
import collections
import collections.abc
import contextvars
import inspect
import types

from .content import ObjContent
from .errors import ExceptionType, RpcError, from_python_exception
from .hooks import Hook, Pending, canceled_error

__all__ = ["Server", "LocalHook", "MethodEntry", "run_direct"]

#: the shape of one dispatch-table value
MethodEntry = collections.namedtuple("MethodEntry",
                                     "name params_cls results_cls is_stream")


class Server:
    """Base class of objects served as capabilities (see the module docstring)."""

    _polyhost_methods = {}

    @property
    def _polyhost_capability_hook(self):
        h = self.__dict__.get("_polyhost_local_hook")
        if h is None:
            h = LocalHook(self)
            self.__dict__["_polyhost_local_hook"] = h
        return h


class LocalCall(Pending):
    __slots__ = ("task",)

    def __init__(self):
        super().__init__()
        self.task = None

    def cancel(self):
        if self.done:
            return
        if self.task is not None:
            # A task cancelled before its first step never runs `_run`, which is what
            # completes the call; complete it here then, so a Return still goes out.
            self.task.add_done_callback(self._cancelled_before_start)
            self.task.cancel()
        else:
            self._complete(error=canceled_error())

    def _cancelled_before_start(self, task):
        if not self.done:
            self._complete(error=canceled_error())


_connection = contextvars.ContextVar("polyhost_rpc_connection", default=None)


def current_connection():
    """The connection whose call the running handler serves (None outside a handler
    or for local calls): its ``stats`` count the messages received so far."""
    return _connection.get()


def _unimplemented(server, interface_id, method_id):
    return RpcError("method @%d of interface 0x%016x is not implemented by %s"
                    % (method_id, interface_id, type(server).__name__),
                    ExceptionType.UNIMPLEMENTED)


def _coerce(res, results_cls):
    if results_cls is None:
        return None
    if res is None:
        return results_cls()
    if isinstance(res, results_cls):
        return res
    if isinstance(res, dict):
        return results_cls(**res)
    raise TypeError("handler returned %r; expected %s, a dict of its fields, or None"
                    % (res, results_cls.__name__))


class LocalHook(Hook):
    """The hook of one Server object (one per object; reference counts are not used)."""

    __slots__ = ("server", "_queue", "_worker", "_limited", "_dispatch")

    def __init__(self, server):
        super().__init__()
        self.server = server
        self._limited = not getattr(server, "_polyhost_unlimited", False)
        self._queue = collections.deque()
        self._worker = None
        # (interface_id, method_id) -> (entry, bound handler, direct): ``direct`` when the
        # handler is an ``async def`` of a non-stream method (see run_direct)
        self._dispatch = {}

    def _lookup(self, interface_id, method_id):
        """The method entry and bound handler of a call, or None (cached once found)."""
        key = (interface_id, method_id)
        entry = self.server._polyhost_methods.get(key)
        handler = None if entry is None else getattr(self.server, entry[0], None)
        if handler is None:
            return None
        direct = not entry[3] and _is_async(handler)
        found = self._dispatch[key] = (entry, handler, direct)
        return found

    def direct_entry(self, interface_id, method_id):
        """The dispatch entry of a call :func:`run_direct` may run (an ``async def`` of a
        non-stream method, nothing queued on this object), else None."""
        found = self._dispatch.get((interface_id, method_id))
        if found is None:
            found = self._lookup(interface_id, method_id)
            if found is None:
                return None
        if found[2] and not self._queue:
            return found
        return None

    def __repr__(self):
        return "<LocalHook %s>" % type(self.server).__name__

    def call(self, interface_id, method_id, content, ctx=None):
        p = LocalCall()
        found = self._dispatch.get((interface_id, method_id))
        if found is None:
            found = self._lookup(interface_id, method_id)
            if found is None:
                p._complete(error=_unimplemented(self.server, interface_id, method_id))
                return p
        entry, handler = found[0], found[1]
        if entry[3] or self._queue:
            self._queue.append((entry, content, ctx, p))
            if self._worker is None:
                self._worker = asyncio.get_running_loop().create_task(self._drain())
        else:
            loop = asyncio.get_running_loop()
            coro = self._run(entry, content, ctx, p, handler)
            if _current_task(loop) is not None or _enter_task is None:
                # called from a task (a local call): a task of its own, as always
                p.task = loop.create_task(coro)
                return p
            # Run the call's first step now, in the pass that read it: a handler that
            # does not suspend (the usual async def) completes here, without a task and
            # a later loop pass; one that suspends continues in a task. Meanwhile
            # asyncio.current_task() is an _EagerTask standing for that task.
            context = _copy_context()
            eager = _EagerTask(loop)
            _enter_task(loop, eager)
            try:
                first = context.run(coro.send, None)
            except StopIteration:
                return p
            finally:
                _leave_task(loop, eager)
            task = p.task = loop.create_task(_Resumed(coro, first, context))
            eager.task = task
            if eager.cancels:
                task.cancel()
        return p

    async def _drain(self):
        q = self._queue
        loop = asyncio.get_running_loop()
        try:
            while q:
                entry, content, ctx, p = q[0]
                if not p.done:
                    t = loop.create_task(self._run(entry, content, ctx, p))
                    p.task = t
                    if entry[3]:
                        await asyncio.wait({t})
                q.popleft()
        finally:
            self._worker = None

    async def _run(self, entry, content, ctx, p, handler=None):
        if ctx is not None:
            _connection.set(ctx)  # this task's own context: seen by the handler only
            limiter = ctx._limiter if self._limited else None
        else:
            limiter = None
        if limiter is not None and not limiter.try_acquire():
            try:
                await limiter.acquire()
            except asyncio.CancelledError:
                p._complete(error=canceled_error())
                return
            except Exception as e:
                p._complete(error=from_python_exception(e))
                return
        await _finish(self._call(entry, content, ctx, handler), entry[2], limiter, p, True)

    async def _call(self, entry, content, ctx, handler):
        """Reads the params and runs the handler (a plain ``def`` on the executor)."""
        name, params_cls = entry[0], entry[1]
        params = (params_cls._polyhost_read(content.struct())
                  if params_cls is not None else None)
        if handler is None:
            handler = getattr(self.server, name)
        if _is_async(handler):
            return await handler(params)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            ctx._executor if ctx is not None else None, handler, params)


class _StructContent:
    """Params already read as a StructReader (``run_direct``'s, when it needs a task)."""

    __slots__ = ("reader",)

    def __init__(self, reader):
        self.reader = reader

    def struct(self):
        return self.reader


def _failed(error):
    p = LocalCall()
    p._complete(error=error)
    return p


def run_direct(hook, found, params, conn):
    """Run a call from ``conn`` to ``hook`` (``found``: its ``direct_entry``; ``params``:
    the params as a StructReader) the short way: the handler's first step runs here, as
    ``call`` runs it, without a LocalCall. Returns the results object when the handler
    completed without suspending (the common case: the caller encodes the Return at
    once); otherwise a LocalCall (failed, or continuing in a task)."""
    entry, handler = found[0], found[1]
    loop = conn._loop
    if loop is None:
        loop = conn._loop = _get_running_loop()
    limiter = conn._limiter if hook._limited else None
    if (_current_task(loop) is not None or _enter_task is None
            or (limiter is not None and (limiter.free <= 0 or limiter._waiters))):
        p = LocalCall()     # (no slot free now: the task waits for one)
        p.task = loop.create_task(hook._run(entry, _StructContent(params), conn, p, handler))
        return p
    # A free slot of the limiter is not taken for the first step: nothing else can take
    # or give back one while it runs (handlers run in tasks, later); the call takes it
    # if it continues in a task.
    context = conn._handler_context
    if context is None:
        context = conn._handler_context = _copy_context()
        context.run(_connection.set, conn)
    context = context.copy()
    eager = _EagerTask(loop)
    _enter_task(loop, eager)
    try:
        try:
            params_cls = entry[1]
            coro = handler(params_cls._polyhost_read(params) if params_cls is not None
                           else None)
            first = context.run(coro.send, None)
        finally:
            _leave_task(loop, eager)
    except StopIteration as e:
        res = e.value
    except asyncio.CancelledError:
        return _failed(canceled_error())
    except Exception as e:
        return _failed(from_python_exception(e))
    else:
        if limiter is not None:
            limiter.free -= 1
        p = LocalCall()
        task = p.task = loop.create_task(
            _finish(_Resumed(coro, first, context), entry[2], limiter, p, True))
        eager.task = task
        if eager.cancels:
            task.cancel()
        return p
    results_cls = entry[2]
    if type(res) is results_cls:
        return res
    if res is not None and inspect.isawaitable(res):
        if limiter is not None:
            limiter.free -= 1
        p = LocalCall()
        p.task = context.run(loop.create_task, _finish(res, results_cls, limiter, p, False))
        return p
    try:
        return _coerce(res, results_cls)
    except Exception as e:
        return _failed(from_python_exception(e))


async def _finish(aw, results_cls, limiter, p, again):
    """The rest of a call, in a task: await ``aw`` (the handler's call, or a
    ``run_direct`` handler resumed, or the awaitable it returned; ``again``: an
    awaitable result is awaited too), give the limiter slot back and complete ``p``."""
    try:
        try:
            res = await aw
            if (again and res is not None and type(res) is not results_cls
                    and inspect.isawaitable(res)):
                res = await res
            results = _coerce(res, results_cls)
        finally:
            if limiter is not None:
                limiter.release()
    except asyncio.CancelledError:
        p._complete(error=canceled_error())
    except Exception as e:
        p._complete(error=from_python_exception(e))
    else:
        p._complete(content=ObjContent(results))


_get_running_loop = asyncio.get_running_loop
_copy_context = contextvars.copy_context
_current_task = asyncio.current_task
# (asyncio's own bookkeeping of the running task; without it, no eager first step)
_enter_task = getattr(asyncio.tasks, "_enter_task", None)
_leave_task = getattr(asyncio.tasks, "_leave_task", None)
_NOTHING = object()


class _EagerTask:
    """``asyncio.current_task()`` while a handler takes its eager first step (no task
    runs it yet): what ``asyncio.timeout()`` and ``TaskGroup`` use of a task. Once the
    handler suspends, ``task`` is the task that continues it and every method goes to
    it; a cancel asked for before that is applied to it when it is made."""

    __slots__ = ("_loop", "task", "cancels")

    def __init__(self, loop):
        self._loop = loop
        self.task = None
        self.cancels = 0

    def get_loop(self):
        return self._loop

    def cancel(self, msg=None):
        if self.task is not None:
            return self.task.cancel(msg)
        self.cancels += 1
        return True

    def cancelling(self):
        return self.task.cancelling() if self.task is not None else self.cancels

    def uncancel(self):
        if self.task is not None:
            return self.task.uncancel()
        if self.cancels:
            self.cancels -= 1
        return self.cancels

    def done(self):
        return self.task is not None and self.task.done()

    def cancelled(self):
        return self.task is not None and self.task.cancelled()

    def get_name(self):
        return self.task.get_name() if self.task is not None else "polyhost-call"

    def add_done_callback(self, fn, *, context=None):
        if self.task is None:
            raise RuntimeError("a call's eager first step has no task to wait on yet")
        self.task.add_done_callback(fn, context=context)

    def remove_done_callback(self, fn):
        return 0 if self.task is None else self.task.remove_done_callback(fn)


class _Resumed(collections.abc.Coroutine):
    """A coroutine already stepped once (eagerly, in ``LocalHook.call``), continued by a
    task: its first ``send`` hands the task what the first step yielded (the future it
    waits on), later steps go to the coroutine, in the call's own context."""

    __slots__ = ("_coro", "_first", "_context")

    def __init__(self, coro, first, context):
        self._coro = coro
        self._first = first
        self._context = context

    @property
    def cr_code(self):
        return self._coro.cr_code

    def send(self, value):
        first = self._first
        if first is not _NOTHING:
            self._first = _NOTHING
            return first
        return self._context.run(self._coro.send, value)

    def throw(self, *args):
        self._first = _NOTHING
        return self._context.run(self._coro.throw, *args)

    def close(self):
        self._coro.close()

    def __await__(self):
        return self

    def __iter__(self):
        return self

    def __next__(self):
        return self.send(None)


# inspect.iscoroutinefunction costs ~1 us; cache it per function of a bound method (the
# usual handler: a method defined in a class, so the cache stays small).
_ASYNC = {}


def _is_async(handler):
    if type(handler) is types.MethodType:
        fn = handler.__func__
        r = _ASYNC.get(fn)
        if r is None:
            r = _ASYNC[fn] = inspect.iscoroutinefunction(handler)
        return r
    return inspect.iscoroutinefunction(handler)
