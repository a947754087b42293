"""Errors of the RPC layer and their conversion to and from capnp ``Exception``.

Owns: :class:`RpcError` (a capnp exception as a Python exception: ``type``, ``reason``,
``trace``), :class:`RemoteError` (one that came from the peer), :class:`DisconnectedError`
(the connection is gone), :class:`ProtocolError` (the peer broke the protocol: the
connection aborts), and the two conversions between Python exceptions and
``rpc_capnp.Exception_``. A sent reason ends with the traceback after
:data:`TRACEBACK_MARKER` (polyhost's convention, shared with the Rust runtime); a
received one has it taken off again.
"""

import traceback as _traceback

from polyhost.rpc_capnp import Exception_, Exception_Type

__all__ = [
    "ExceptionType", "RpcError", "RemoteError", "DisconnectedError", "ProtocolError",
    "to_capnp_exception", "from_capnp_exception", "from_python_exception",
    "split_reason", "present", "TRACEBACK_MARKER",
]

ExceptionType = Exception_Type

#: separates ``"<Type>: <message>"`` from the traceback in an exception's reason (the
#: same string as ``polyhost::connection::TRACEBACK_MARKER`` in the Rust runtime)
from polyhost.polyhost_constants import TRACEBACK_MARKER  # noqa: E402 (generated from schema/polyhost.capnp)


class RpcError(Exception):
    """A capnp exception. Raise one from a handler to choose the ``type`` the caller sees
    (``ExceptionType.FAILED``, ``OVERLOADED``, ``DISCONNECTED``, ``UNIMPLEMENTED``)."""

    def __init__(self, reason, type=ExceptionType.FAILED, trace=""):
        super().__init__(reason)
        self.reason = reason
        self.type = type
        self.trace = trace

    def __str__(self):
        return self.reason

    def __repr__(self):
        t = self.type.name.lower() if isinstance(self.type, ExceptionType) else self.type
        return "%s(%r, type=%s)" % (type(self).__name__, self.reason, t)


class RemoteError(RpcError):
    """An exception the peer returned (or aborted with): ``type``, ``reason`` and the
    remote ``trace`` (for a Python peer, the handler's formatted traceback)."""


class DisconnectedError(RpcError):
    """The connection is closed or was aborted; calls on its capabilities fail with it."""

    def __init__(self, reason, trace=""):
        super().__init__(reason, ExceptionType.DISCONNECTED, trace)


class ProtocolError(Exception):
    """The peer violated the RPC protocol; the connection sends Abort and closes."""


def from_python_exception(exc):
    """An :class:`RpcError` describing ``exc`` as the peer should see it: an RpcError keeps
    its type and reason; anything else becomes ``failed`` with reason
    ``"<ExceptionType>: <message>"``; the trace is the formatted Python traceback."""
    trace = "".join(_traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, RpcError):
        if exc.trace:
            trace = exc.trace
        return RpcError(exc.reason, exc.type, trace)
    return RpcError("%s: %s" % (type(exc).__name__, exc), ExceptionType.FAILED, trace)


def to_capnp_exception(err):
    """``rpc_capnp.Exception_`` for an exception (RpcError or any Python exception).

    The traceback goes in ``trace`` and also at the end of ``reason``, after
    :data:`TRACEBACK_MARKER`: some implementations (capnp-rpc's Rust one) drop
    ``trace``, and polyhost's convention is that the reason carries it."""
    if not isinstance(err, RpcError):
        err = from_python_exception(err)
    t = err.type
    try:
        t = ExceptionType(t)
    except ValueError:
        t = ExceptionType.FAILED
    trace = err.trace or ""
    reason = err.reason + TRACEBACK_MARKER + trace if trace else err.reason
    return Exception_(reason=reason, type=t, trace=trace)


def split_reason(reason, trace=""):
    """``(reason, trace)`` of a received exception: the traceback part after
    :data:`TRACEBACK_MARKER` is taken off the reason, and is the trace when the
    ``trace`` field is empty."""
    head, marker, tail = reason.partition(TRACEBACK_MARKER)
    if not marker:
        return reason, trace
    return head.rstrip(), trace or tail.lstrip("\n")


def from_capnp_exception(exc, cls=RemoteError):
    """The Python exception (``RemoteError`` by default) for an ``rpc_capnp.Exception_``
    (its reason without the traceback part, see :func:`to_capnp_exception`)."""
    reason, trace = split_reason(exc.reason, exc.trace)
    return cls(reason, exc.type, trace)


def present(value, what):
    """``value``, a struct field of a received message, unless it is a null pointer: a
    peer that leaves a struct the protocol needs null breaks the protocol."""
    if value is None:
        raise ProtocolError("%s is a null pointer" % what)
    return value
