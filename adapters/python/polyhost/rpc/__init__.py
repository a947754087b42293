"""Level-1 Cap'n Proto RPC on asyncio (two-party): connection, capabilities, servers.

Modules: ``connection`` (message loop, protocol), ``client`` (Capability, Promise),
``server`` (Server base class, dispatch), ``hooks`` (capability hooks, pending calls),
``remote`` (imports, questions), ``content`` (payload contents), ``tables`` (id
tables, answers, exports), ``errors``.
"""

from .client import STREAM_WINDOW_BYTES, STREAM_WINDOW_CALLS, Capability, Promise
from .connection import Connection
from .errors import (
    DisconnectedError, ExceptionType, ProtocolError, RemoteError, RpcError,
)
from .server import MethodEntry, Server, current_connection

__all__ = [
    "Connection", "Capability", "Promise", "Server", "MethodEntry", "RpcError",
    "RemoteError", "DisconnectedError", "ProtocolError", "ExceptionType",
    "STREAM_WINDOW_BYTES", "STREAM_WINDOW_CALLS", "current_connection",
]
