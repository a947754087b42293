// Level-1 Cap'n Proto RPC on the Node event loop (two-party): connection, capabilities,
// servers (`polyhost/rpc`).
//
// Modules: connection.mjs (message loop, protocol), client.mjs (Capability,
// CallPromise), server.mjs (Server base class, dispatch), hooks.mjs (capability hooks,
// pending calls), remote.mjs (imports, questions), content.mjs (payload contents),
// tables.mjs (id tables, answers, exports), errors.mjs.

import * as gen from "../gen.mjs";
import { Capability, CallPromise, STREAM_WINDOW_BYTES, STREAM_WINDOW_CALLS } from "./client.mjs";
import { Connection } from "./connection.mjs";
import {
  CanceledError, DisconnectedError, ExceptionType, ProtocolError, RemoteError, RpcError,
  TRACEBACK_MARKER, errorName, fromJsError, splitReason,
} from "./errors.mjs";
import { HOOK } from "./hooks.mjs";
import { HandlerContext, MethodEntry, Server, methodTable, mixin } from "./server.mjs";

gen.install({ Capability, Server, RpcError, ExceptionType });

export {
  Connection, Capability, CallPromise, Server, MethodEntry, HandlerContext, methodTable, mixin,
  RpcError, RemoteError, DisconnectedError, CanceledError, ProtocolError, ExceptionType,
  TRACEBACK_MARKER, errorName, fromJsError, splitReason, HOOK,
  STREAM_WINDOW_BYTES, STREAM_WINDOW_CALLS,
};
