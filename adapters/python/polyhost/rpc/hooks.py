"""Capability hooks and pending calls: the engine's internal model of capabilities.

A *hook* is what every capability reference (``client.Capability``) points at:

- ``server.LocalHook``: an object served in this process (a ``Server``);
- ``remote.ImportHook`` / ``remote.PipelineTargetHook``: an object on the peer, named by
  an import id or by a promised answer (question id + pointer path);
- :class:`PromiseHook`: a capability not known yet (a pipelined result, a promise the
  peer exported). Calls go to a provisional target (or queue locally) until it
  resolves; resolving applies the embargo rules of rpc.capnp;
- :class:`BrokenHook`: every call fails with one error.

Hooks are reference counted explicitly: a new hook has one reference owned by whoever
created it; ``add_ref()`` returns the hook; ``release()`` drops one, and the last one
disposes the hook (for an import: sends Release).

A :class:`Pending` is one call in progress: it completes once, with a *content* (see
``content.py``) or an error, notifies its listeners synchronously, and hands out
pipelined capabilities (``pipelined_hook(ops)``) before and after it completes.
"""

import asyncio
import logging

from .errors import RpcError

__all__ = ["Hook", "BrokenHook", "PromiseHook", "Pending", "QueuedPending", "hook_of",
           "innermost", "canceled_error"]

log = logging.getLogger("polyhost.rpc")

#: set by client.py: ``new_capability(hook) -> Capability`` (steals the reference)
new_capability = None


def canceled_error():
    """The error a pending call completes with when it is canceled."""
    return asyncio.CancelledError()


def hook_of(obj):
    """The hook behind a capability-like object (Capability, Server, Hook), borrowed."""
    try:
        return obj._polyhost_capability_hook
    except AttributeError:
        raise TypeError("not a capability (Capability, Server or hook): %r" % (obj,)) from None


def innermost(hook):
    """Follow promises to the hook calls currently go to."""
    while isinstance(hook, PromiseHook) and hook._inner is not None:
        hook = hook._inner
    return hook


class Hook:
    """Base of all hooks. ``conn`` is the Connection a remote hook belongs to, else None."""

    __slots__ = ("_refs", "_flow")
    conn = None

    def __init__(self):
        self._refs = 1
        self._flow = None

    def add_ref(self):
        self._refs += 1
        return self

    def release(self):
        self._refs -= 1
        if self._refs == 0:
            self._dispose()

    def _dispose(self):
        pass

    @property
    def _polyhost_capability_hook(self):
        return self

    def call(self, interface_id, method_id, content, ctx=None):
        """Start a call; returns a Pending. ``ctx`` is the Connection that delivered the
        call (None for a call made in this process)."""
        raise NotImplementedError

    def when_resolved(self, cb):
        """Call ``cb(self)`` once this hook is no longer a promise (now for non-promises)."""
        cb(self)


class BrokenHook(Hook):
    """A capability whose every call fails with ``error``."""

    __slots__ = ("error",)

    def __init__(self, error):
        super().__init__()
        self.error = error

    def call(self, interface_id, method_id, content, ctx=None):
        p = Pending()
        p._complete(error=self.error)
        return p

    def __repr__(self):
        return "<BrokenHook %r>" % (self.error,)


class Pending:
    """One call in progress. ``content`` / ``error`` are set once ``done``."""

    __slots__ = ("done", "content", "error", "size", "_listeners", "_pipelined", "_redirect")

    def __init__(self):
        self.done = False
        self.content = None
        self.error = None
        self.size = 0
        self._listeners = None
        self._pipelined = None
        self._redirect = None

    def add_listener(self, cb):
        """``cb(pending)`` when done (immediately if already done)."""
        if self.done:
            cb(self)
        elif self._listeners is None:
            self._listeners = [cb]
        else:
            self._listeners.append(cb)

    def _complete(self, content=None, error=None):
        if self.done:
            return False
        self.done = True
        self.content = content
        self.error = error
        pipelined = self._pipelined
        self._pipelined = None
        if pipelined:
            for ops, hook in pipelined.items():
                hook.resolve(self._cap_hook(ops))
                hook.release()
        listeners = self._listeners
        self._listeners = None
        if listeners:
            for cb in listeners:
                try:
                    cb(self)
                except Exception:
                    log.exception("listener of a completed call failed")
        return True

    def _cap_hook(self, ops):
        err = self.error
        if err is not None:
            if isinstance(err, asyncio.CancelledError):
                err = RpcError("the call was canceled")
            return BrokenHook(err)
        try:
            return self.content.cap_hook(ops)
        except Exception as e:
            return BrokenHook(RpcError("no capability at pointer path %r of the results: %s"
                                       % (list(ops), e)))

    def pipelined_hook(self, ops):
        """A new reference to the capability at pointer path ``ops`` of the results."""
        if self._redirect is not None:
            return self._redirect.pipelined_hook(ops)
        if self.done:
            return self._cap_hook(ops)
        if self._pipelined is None:
            self._pipelined = {}
        h = self._pipelined.get(ops)
        if h is None:
            h = PromiseHook(self._pipeline_target(ops))
            self._pipelined[ops] = h
        return h.add_ref()

    def _pipeline_target(self, ops):
        return None

    def cancel(self):
        """Ask for cancellation (the caller no longer wants the result)."""


class QueuedPending(Pending):
    """A call queued in an unresolved local promise; forwarded once it resolves."""

    __slots__ = ()

    def forward(self, real):
        self._redirect = real
        self.size = real.size
        pipelined = self._pipelined
        self._pipelined = None
        if pipelined:
            for ops, h in pipelined.items():
                h.resolve(real.pipelined_hook(ops))
                h.release()
        real.add_listener(lambda p: self._complete(p.content, p.error))

    def cancel(self):
        if self._redirect is not None:
            self._redirect.cancel()
        else:
            self._complete(error=canceled_error())


class PromiseHook(Hook):
    """A capability that will be resolved later.

    ``inner`` is the provisional target (a remote hook: calls are sent to it and marked
    so that a later local resolution is embargoed) or None (calls queue here, in order).
    """

    __slots__ = ("_inner", "is_resolved", "_received_call", "_queue", "_waiters", "_dead")

    def __init__(self, inner=None):
        super().__init__()
        self._inner = inner          # owned reference, or None
        self.is_resolved = False
        self._received_call = False
        self._queue = None
        self._waiters = None
        self._dead = False

    def __repr__(self):
        return "<PromiseHook resolved=%s inner=%r>" % (self.is_resolved, self._inner)

    def call(self, interface_id, method_id, content, ctx=None):
        inner = self._inner
        if inner is None:
            p = QueuedPending()
            if self._queue is None:
                self._queue = []
            self._queue.append((interface_id, method_id, content, ctx, p))
            return p
        if not self.is_resolved:
            self._received_call = True
        return inner.call(interface_id, method_id, content, ctx)

    def mark_received_call(self):
        if not self.is_resolved:
            self._received_call = True

    def when_resolved(self, cb):
        if self.is_resolved:
            cb(self)
        elif self._waiters is None:
            self._waiters = [cb]
        else:
            self._waiters.append(cb)

    def resolve(self, new):
        """Resolve to ``new`` (steals its reference)."""
        if self.is_resolved:
            new.release()
            return
        old = self._inner
        conn = old.conn if old is not None else None
        if (self._received_call and conn is not None and not conn.closed
                and not isinstance(new, BrokenHook) and innermost(new).conn is not conn):
            # Calls already went to the peer through `old`; hold new calls until a
            # Disembargo echoes back, so they cannot overtake those (rpc.capnp, Disembargo).
            target = new
            held = PromiseHook(None)
            conn._start_embargo(
                old, lambda err: held.resolve(target if err is None else _broken(target, err)))
            new = held
        self._inner = new
        self.is_resolved = True
        queue = self._queue
        self._queue = None
        if queue:
            for interface_id, method_id, content, ctx, p in queue:
                if not p.done:
                    p.forward(new.call(interface_id, method_id, content, ctx))
        waiters = self._waiters
        self._waiters = None
        if waiters:
            for cb in waiters:
                try:
                    cb(self)
                except Exception:
                    log.exception("promise resolution listener failed")
        if old is not None:
            old.release()
        if self._dead:
            self._inner = None
            new.release()

    def _dispose(self):
        self._dead = True
        inner = self._inner
        if inner is not None and (self.is_resolved or not self._queue):
            self._inner = None
            inner.release()


def _broken(hook, err):
    hook.release()
    return BrokenHook(err)
