"""Capability references, promises and pipelining: the client API.

A :class:`Capability` is one reference to a capability: remote (imported from the
peer), local (a ``Server`` in this process) or promised (a pipelined result). Typed
clients generated from schemas subclass it and wrap :meth:`Capability.call`.

    cap = conn.bootstrap()                       # Capability (usable at once: pipelined)
    p = cap.call(IFACE_ID, 0, Params(x=1), Results)
                                                 # Promise; the Call is sent right away
    model = p.pipeline(0)                        # Capability at results pointer 0, usable
                                                 # before p returns (promise pipelining)
    r = await p                                  # a Results instance; a peer exception
                                                 # raises RemoteError(type, reason, trace)
    await model.call(IFACE_ID, 1, None, Results2)
    model.close()                                # sends Release; also `with cap:` /
                                                 # `async with cap:`; dropping the last
                                                 # Python reference releases it too

API (names are used by the generated code):

- ``Capability(source)``: a new reference to ``source`` (a Capability, or a ``Server``
  to serve locally). ``cap.dup()``, ``cap.cast_as(cls)`` (same capability as another
  Capability subclass, e.g. a typed client), ``cap.close()``, ``cap.is_closed``,
  ``await cap.when_resolved()``.
- ``cap.call(interface_id, method_id, params, results_cls, promise_cls=None)`` ->
  ``promise_cls`` (default :class:`Promise`). ``params`` is a generated struct instance
  (or None for empty params); capabilities in it may be Capability or Server objects.
- ``cap.stream(interface_id, method_id, params)`` -> awaitable, for ``-> stream``
  methods: the call is sent at once; the awaitable completes when the capability's
  flow-control window has room (in-flight stream calls under ``STREAM_WINDOW_BYTES``
  and ``STREAM_WINDOW_CALLS``). After a stream call fails, later ``stream()`` calls
  fail with that error. ``await cap.wait_streams()`` waits until every stream call sent
  on the capability returned and raises the first failure.
- :class:`Promise` (``Promise[Results]`` in annotations): ``await p`` (results
  instance); ``p.pipeline(*pointer_path, cls=None)`` -> Capability at that pointer
  path of the results (pointer-field indices, outermost first); ``p.cancel()`` (sends
  Finish: the callee's handler is cancelled; awaiting raises
  ``asyncio.CancelledError``); ``p.done()``; ``p.exception()`` (the error once
  failed); ``p.add_done_callback(fn)``; ``p.wait(timeout=None)`` blocks for the
  results from a thread other than the loop's. Cancelling the task that awaits a
  promise cancels the call.

Calls and ``close()`` may be made from other threads (e.g. sync handlers running in the
executor): they are handed to the capability's event loop; use ``p.wait()`` there.
"""

import asyncio
import collections
import concurrent.futures

from polyhost.wire import WireError

from . import hooks
from .content import ObjContent
from .errors import RpcError

__all__ = ["Capability", "Promise", "STREAM_WINDOW_BYTES", "STREAM_WINDOW_CALLS"]

#: flow-control window of ``Capability.stream`` per capability: bytes of calls in flight
#: (room for a few pushes of MAX_BATCH small items: with one, the producer waits for
#: each push's Return before it sends the next)
STREAM_WINDOW_BYTES = 128 * 1024
#: ... and number of calls in flight
STREAM_WINDOW_CALLS = 256
_MIN_STREAM_CALL_BYTES = 64


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _on_loop(loop):
    """True when called on ``loop``'s thread (or no loop is known yet)."""
    running = _running_loop()
    if running is None:
        if loop is None:
            raise RuntimeError("no event loop: use capabilities from a coroutine or from "
                               "a thread while their loop runs")
        return False
    if loop is not None and running is not loop:
        raise RuntimeError("capability belongs to another event loop")
    return True


def _threadsafe(loop, fn, *args):
    fut = concurrent.futures.Future()

    def run():
        try:
            fut.set_result(fn(*args))
        except BaseException as e:
            fut.set_exception(e)
    loop.call_soon_threadsafe(run)
    return fut.result()


class _Flow:
    """Stream flow control of one capability (hook)."""

    __slots__ = ("bytes", "calls", "error", "_waiters", "_idle")

    def __init__(self):
        self.bytes = 0
        self.calls = 0
        self.error = None
        self._waiters = collections.deque()
        self._idle = []

    def has_room(self):
        return self.bytes < STREAM_WINDOW_BYTES and self.calls < STREAM_WINDOW_CALLS

    def sent(self, pending, loop):
        size = max(pending.size, _MIN_STREAM_CALL_BYTES)
        self.bytes += size
        self.calls += 1
        pending.add_listener(lambda p: self._returned(p, size))
        fut = loop.create_future()
        if self.error is not None:
            fut.set_exception(self.error)
        elif self.has_room():
            fut.set_result(None)
        else:
            self._waiters.append(fut)
        return fut

    def _returned(self, p, size):
        self.bytes -= size
        self.calls -= 1
        if p.error is not None and self.error is None:
            self.error = p.error
        w = self._waiters
        while w and (self.error is not None or self.has_room()):
            fut = w.popleft()
            if not fut.done():
                if self.error is not None:
                    fut.set_exception(self.error)
                else:
                    fut.set_result(None)
        if self.calls == 0:
            idle, self._idle = self._idle, []
            for fut in idle:
                if not fut.done():
                    fut.set_result(None)


class Capability:
    """One reference to a capability (see the module docstring)."""

    __slots__ = ("_hook", "_loop", "__weakref__")

    def __init__(self, source):
        if isinstance(source, Capability):
            self._hook = source._live_hook().add_ref()
            self._loop = source._loop
        else:
            self._hook = hooks.hook_of(source).add_ref()
            self._loop = _running_loop()

    @classmethod
    def _from_hook(cls, hook, loop=None):
        """Wrap ``hook`` (steals one reference)."""
        self = cls.__new__(cls)
        self._hook = hook
        self._loop = loop if loop is not None else _running_loop()
        return self

    def _here(self):
        """True on the loop's thread (binding the loop if none was known)."""
        if _on_loop(self._loop):
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            return True
        return False

    def _live_hook(self):
        h = self._hook
        if h is None:
            raise RpcError("this capability reference was closed")
        return h

    @property
    def _polyhost_capability_hook(self):
        return self._live_hook()

    @property
    def is_closed(self):
        return self._hook is None

    def __repr__(self):
        return "<%s %r>" % (type(self).__name__, self._hook)

    # -- references -----------------------------------------------------------------------

    def dup(self):
        """A new, independent reference to the same capability."""
        return type(self)._from_hook(self._live_hook().add_ref(), self._loop)

    def cast_as(self, cls):
        """A new reference to the same capability, as an instance of ``cls``."""
        return cls._from_hook(self._live_hook().add_ref(), self._loop)

    def close(self):
        """Release this reference (idempotent). The last reference to an imported
        capability sends Release to the peer."""
        hook = self._hook
        if hook is None:
            return
        self._hook = None
        loop = self._loop
        if loop is None or _running_loop() is loop:
            hook.release()
        else:
            try:
                loop.call_soon_threadsafe(hook.release)
            except RuntimeError:
                pass        # the loop is closed: nothing left to tell the peer

    def __del__(self):
        try:
            hook = self._hook
        except AttributeError:
            return
        if hook is None:
            return
        self._hook = None
        loop = self._loop
        if loop is None:
            hook.release()
            return
        try:
            loop.call_soon_threadsafe(hook.release)
        except RuntimeError:
            pass            # the loop is closed: nothing left to tell the peer

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()

    async def when_resolved(self):
        """Wait until this capability is no longer an unresolved promise."""
        while True:
            h = hooks.innermost(self._live_hook())
            if not isinstance(h, hooks.PromiseHook) or h.is_resolved:
                return
            fut = asyncio.get_running_loop().create_future()
            h.when_resolved(lambda _h: fut.done() or fut.set_result(None))
            await fut

    # -- calls ----------------------------------------------------------------------------

    def call(self, interface_id, method_id, params=None, results_cls=None, promise_cls=None):
        """Send a call now; returns a Promise (or ``promise_cls``) for its results."""
        if not self._here():
            return _threadsafe(self._loop, self.call, interface_id, method_id, params,
                               results_cls, promise_cls)
        pending = self._live_hook().call(interface_id, method_id, ObjContent(params), None)
        return (promise_cls or Promise)(pending, results_cls, self._loop)

    def stream(self, interface_id, method_id, params=None):
        """Send a ``-> stream`` call now; the returned awaitable completes when the
        flow-control window has room (raises the error of an earlier failed stream call)."""
        if not self._here():
            fut = _threadsafe(self._loop, self.stream, interface_id, method_id, params)
            return asyncio.run_coroutine_threadsafe(_await(fut), self._loop).result()
        hook = self._live_hook()
        flow = hook._flow
        if flow is None:
            flow = hook._flow = _Flow()
        loop = self._loop
        if flow.error is not None:
            fut = loop.create_future()
            fut.set_exception(flow.error)
            return fut
        return flow.sent(hook.call(interface_id, method_id, ObjContent(params), None), loop)

    async def wait_streams(self):
        """Wait until all stream calls sent on this capability returned; raise the first
        failure if one failed."""
        flow = self._live_hook()._flow
        if flow is None:
            return
        if flow.calls:
            fut = asyncio.get_running_loop().create_future()
            flow._idle.append(fut)
            await fut
        if flow.error is not None:
            raise flow.error


async def _await(fut):
    return await fut


class Promise:
    """The results of a call in progress (see the module docstring)."""

    __slots__ = ("_pending", "_results_cls", "_loop", "_future", "_value", "_decoded")

    def __init__(self, pending, results_cls, loop):
        self._pending = pending
        self._results_cls = results_cls
        self._loop = loop
        self._future = None
        self._value = None
        self._decoded = False

    def __repr__(self):
        return "<%s %s>" % (type(self).__name__, "done" if self._pending.done else "pending")

    def __class_getitem__(cls, item):
        # ``Promise[Results]`` (generated typed promises subclass it): the class itself
        return cls

    def done(self):
        return self._pending.done

    def exception(self):
        """The call's error once it failed; None while pending or after success."""
        return self._pending.error

    def add_done_callback(self, fn):
        """``fn(promise)`` once the call has completed (at once if it already has)."""
        self._pending.add_listener(lambda _p: fn(self))

    def cancel(self):
        """Cancel the call: Finish is sent, the callee's handler is cancelled."""
        if not _on_loop(self._loop):
            return _threadsafe(self._loop, self.cancel)
        self._pending.cancel()

    def pipeline(self, *pointer_path, cls=None):
        """A Capability for the capability at ``pointer_path`` (pointer-field indices from
        the results struct inward); calls on it are sent before the results arrive."""
        if not _on_loop(self._loop):
            return _threadsafe(self._loop, lambda: self.pipeline(*pointer_path, cls=cls))
        hook = self._pending.pipelined_hook(tuple(pointer_path))
        return (cls or Capability)._from_hook(hook, self._loop)

    def __await__(self):
        return self._get().__await__()

    async def _get(self):
        p = self._pending
        if not p.done:
            fut = self._future
            if fut is None:
                fut = self._future = asyncio.get_running_loop().create_future()
                p.add_listener(lambda _p: fut.done() or fut.set_result(None))
                fut.add_done_callback(lambda f: f.cancelled() and p.cancel())
            await fut
        return self._result()

    def _result(self):
        p = self._pending
        if p.error is not None:
            raise p.error
        if not self._decoded:
            cls = self._results_cls
            if cls is not None:
                try:
                    self._value = cls._polyhost_read(p.content.struct())
                except WireError as e:
                    raise RpcError("malformed results: %s: %s" % (type(e).__name__, e))
            self._decoded = True
        return self._value

    def wait(self, timeout=None):
        """Block until the results are there (from a thread other than the loop's)."""
        return asyncio.run_coroutine_threadsafe(self._get(), self._loop).result(timeout)


hooks.new_capability = Capability._from_hook
