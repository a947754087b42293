// Errors of the RPC layer and their conversion to and from capnp `Exception`.
//
// Owns RpcError (a capnp exception as a JS error: `type`, `reason`, `trace`),
// RemoteError (one that came from the peer), DisconnectedError (the connection is
// gone), CanceledError (the call was canceled), ProtocolError (the peer broke the
// protocol: the connection aborts), and the conversions between JS errors and
// rpc_capnp's Exception. A sent reason is "<ErrorName>: <message>" and ends with the
// stack after TRACEBACK_MARKER (polyhost's convention, shared with the Rust runtime and
// the other adapters); a received one has it taken off again.

import { Exception, Exception_Type } from "../rpc_capnp.mjs";

/** Exception types as strings (capnp's Exception.Type). */
export const ExceptionType = Object.freeze({
  FAILED: "failed", OVERLOADED: "overloaded", DISCONNECTED: "disconnected", UNIMPLEMENTED: "unimplemented",
});
const TYPE_NAMES = ["failed", "overloaded", "disconnected", "unimplemented"];

/** Separates "<Type>: <message>" from the stack in an exception's reason (the same
 *  string as `polyhost::connection::TRACEBACK_MARKER` in the Rust runtime). */
import { TRACEBACK_MARKER } from "../polyhost_constants.mjs"; export { TRACEBACK_MARKER }; // generated from schema/polyhost.capnp

/** A capnp exception. Throw one from a handler to choose the `type` the caller sees
 *  ("failed", "overloaded", "disconnected", "unimplemented"). */
export class RpcError extends Error {
  constructor(reason, type = ExceptionType.FAILED, trace = "") {
    super(reason);
    this.reason = reason;
    this.type = type;
    this.trace = trace;
  }

  get name() { return this.constructor.name; }
}

/** An exception the peer returned (or aborted with): `type`, `reason` and the remote
 *  `trace` (for a JS or Python peer, the handler's stack or traceback). */
export class RemoteError extends RpcError {}

/** The connection is closed or was aborted; calls on its capabilities fail with it. */
export class DisconnectedError extends RpcError {
  constructor(reason, trace = "") {
    super(reason, ExceptionType.DISCONNECTED, trace);
  }
}

/** The call was canceled (by `promise.cancel()`, an aborted signal, or the peer). */
export class CanceledError extends RpcError {
  constructor(reason = "the call was canceled") {
    super(reason, ExceptionType.FAILED);
  }
}

/** The peer violated the RPC protocol; the connection sends Abort and closes. */
export class ProtocolError extends Error {
  get name() { return "ProtocolError"; }
}

/** The type name of a thrown value as the peer should see it ("TypeError",
 *  "ConformanceError" for `class ConformanceError extends Error {}`, ...). */
export function errorName(err) {
  if (err === null || typeof err !== "object") return typeof err === "string" ? "Error" : typeof err;
  const own = err.name;
  if (typeof own === "string" && own && own !== "Error") return own;
  const ctor = err.constructor?.name;
  return ctor || (typeof own === "string" && own) || "Error";
}

/** An RpcError describing any thrown value as the peer should see it: an RpcError keeps
 *  its type and reason; anything else becomes "failed" with reason
 *  "<ErrorName>: <message>"; the trace is the JS stack. */
export function fromJsError(err) {
  if (err instanceof RpcError) {
    // A peer's error passing through: its remote trace, then where it passed here.
    const local = err.stack || "";
    return new RpcError(err.reason, err.type, err.trace && local ? `${err.trace}\n${local}` : err.trace || local);
  }
  if (err instanceof Error) {
    return new RpcError(`${errorName(err)}: ${err.message}`, ExceptionType.FAILED, err.stack || "");
  }
  return new RpcError(`${errorName(err)}: ${String(err)}`, ExceptionType.FAILED, "");
}

/** rpc_capnp's Exception for any thrown value. The trace goes in `trace` and at the end
 *  of `reason` after TRACEBACK_MARKER (capnp-rpc's Rust peer drops `trace`). */
export function toCapnpException(err) {
  if (!(err instanceof RpcError) || err instanceof CanceledError) err = fromJsError(err);
  let code = TYPE_NAMES.indexOf(err.type);
  if (code < 0) code = typeof err.type === "number" && err.type >= 0 && err.type < 4 ? err.type : Exception_Type.FAILED;
  const trace = err.trace || "";
  const reason = trace ? err.reason + TRACEBACK_MARKER + trace : err.reason;
  return new Exception({ reason, type: code, trace });
}

/** [reason, trace] of a received exception: the part after TRACEBACK_MARKER is taken off
 *  the reason, and is the trace when the `trace` field is empty. */
export function splitReason(reason, trace = "") {
  const at = reason.indexOf(TRACEBACK_MARKER);
  if (at < 0) return [reason, trace];
  return [reason.slice(0, at).trimEnd(), trace || reason.slice(at + TRACEBACK_MARKER.length).replace(/^\n+/, "")];
}

/** The JS error (RemoteError by default) for an rpc_capnp Exception. */
export function fromCapnpException(exc, Cls = RemoteError) {
  const [reason, trace] = splitReason(exc.reason, exc.trace);
  const type = TYPE_NAMES[exc.type] ?? ExceptionType.FAILED;
  if (Cls === DisconnectedError) return new DisconnectedError(reason, trace);
  return new Cls(reason, type, trace);
}

/** `value`, a struct field of a received message, unless it is a null pointer: a peer
 *  that leaves a struct the protocol needs null breaks the protocol. */
export function present(value, what) {
  if (value === null || value === undefined) throw new ProtocolError(`${what} is a null pointer`);
  return value;
}
