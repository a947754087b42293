"""The per-call context a worker's handlers run with.

The host sends context (W3C trace parent, deadline, session) by calling a service
through ``WorkerProcess.scoped(context, interfaceId)``; every call made on that scoped
view runs with the context set here, so handlers read it without a change to their
signatures. Calls made directly on a service have no context (``current()`` is None).
"""

from __future__ import annotations

import contextvars
import os
import time
from typing import Optional

from polyhost.polyhost_capnp import CallContext

__all__ = ["current", "deadline_remaining", "child_trace_parent", "CallContext"]

_current: contextvars.ContextVar[Optional[CallContext]] = contextvars.ContextVar(
    "polyhost_call_context", default=None)


def current() -> Optional[CallContext]:
    """The context of the call being handled, or None."""
    return _current.get()


def deadline_remaining() -> Optional[float]:
    """Seconds left before the current call's deadline (negative when past); None
    without a deadline."""
    ctx = _current.get()
    if ctx is None or not ctx.deadline_unix_ms:
        return None
    return ctx.deadline_unix_ms / 1000.0 - time.time()


def child_trace_parent() -> Optional[str]:
    """A W3C ``traceparent`` for a span of this worker that is a child of the host's
    span (same trace, new span id, same flags), to hand to a tracer; None when the
    host sent no trace context."""
    ctx = _current.get()
    parts = ctx.trace_parent.split("-") if ctx is not None and ctx.trace_parent else []
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    return "-".join((parts[0], parts[1], os.urandom(8).hex(), parts[3]))
