// Capability references, call promises and pipelining: the client API.
//
// A Capability is one reference to a capability: remote (imported from the peer), local
// (a Server in this process) or promised (a pipelined result). Typed clients generated
// from schemas extend it and wrap `$call` / `$stream`.
//
//   const cap = conn.bootstrap();                 // usable at once: calls are pipelined
//   const p = cap.$call(IFACE_ID, 0, params, Results);   // the Call is sent right away
//   const model = p.pipeline(0);                  // the capability at results pointer 0,
//                                                 // usable before p returns
//   const r = await p;                            // a Results instance; a peer exception
//                                                 // rejects with RemoteError
//   model.close();                                // sends Release (also `using`, and
//                                                 // garbage collection releases it)
//
// - `new Capability(source)`: a new reference to `source` (a Capability, or a Server to
//   serve locally). `cap.dup()`, `cap.castAs(Cls)` (same capability as another class,
//   e.g. a typed client), `cap.close()`, `cap.isClosed`, `await cap.whenResolved()`.
// - `cap.$call(interfaceId, methodId, params, Results, PromiseCls = CallPromise, opts)`:
//   `params` is a generated struct instance (or null for empty params); capabilities in
//   it may be Capability or Server objects; `opts.signal` (an AbortSignal) cancels the
//   call when aborted.
// - `cap.$stream(interfaceId, methodId, params)` for `-> stream` methods: the call is sent
//   at once; the returned promise resolves when the capability's flow-control window has
//   room (in-flight stream calls under STREAM_WINDOW_BYTES and STREAM_WINDOW_CALLS).
//   After a stream call fails, later ones reject with that error. `cap.$waitStreams()`
//   resolves when every stream call sent on the capability returned (or rejects with
//   the first failure).
// - CallPromise: a thenable (`await p`) with `p.pipeline(...pointerPath)` (a Capability
//   for the capability at that pointer path of the results), `p.pipelineAs(Cls, ...path)`
//   and `p.cancel()` (sends Finish: the callee's handler signal is aborted; awaiting
//   rejects with CanceledError). A rejection's stack is where the call was awaited.

import { WireError } from "../wire/index.mjs";
import { ObjContent } from "./content.mjs";
import { RpcError } from "./errors.mjs";
import { HOOK, PromiseHook, factory, hookOf, innermost } from "./hooks.mjs";

/** Flow-control window of `$stream` per capability: bytes of calls in flight... */
export const STREAM_WINDOW_BYTES = 64 * 1024;
/** ... and number of calls in flight. */
export const STREAM_WINDOW_CALLS = 256;
const MIN_STREAM_CALL_BYTES = 64;

// Capabilities dropped without close() release their reference when collected.
const collected = new FinalizationRegistry((hook) => {
  try {
    hook.release();
  } catch {
    // the connection is gone: nothing to tell the peer
  }
});

/** Stream flow control of one capability (hook). */
class Flow {
  constructor() {
    this.bytes = 0;
    this.calls = 0;
    this.error = null;
    this._waiters = [];
    this._idle = [];
  }

  hasRoom() {
    return this.bytes < STREAM_WINDOW_BYTES && this.calls < STREAM_WINDOW_CALLS;
  }

  sent(pending) {
    const size = Math.max(pending.size, MIN_STREAM_CALL_BYTES);
    this.bytes += size;
    this.calls++;
    pending.addListener((p) => this._returned(p, size));
    if (this.error !== null) return Promise.reject(this.error);
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve, reject) => this._waiters.push([resolve, reject]));
  }

  _returned(p, size) {
    this.bytes -= size;
    this.calls--;
    if (p.error !== null && this.error === null) this.error = p.error;
    const w = this._waiters;
    while (w.length && (this.error !== null || this.hasRoom())) {
      const [resolve, reject] = w.shift();
      if (this.error !== null) reject(this.error);
      else resolve();
    }
    if (this.calls === 0) {
      const idle = this._idle;
      this._idle = [];
      for (const resolve of idle) resolve();
    }
  }
}

/** One reference to a capability (see the module comment). */
export class Capability {
  constructor(source) {
    const hook = source instanceof Capability ? source._liveHook().addRef() : hookOf(source).addRef();
    this._hook = hook;
    collected.register(this, hook, this);
  }

  /** Wraps `hook` (steals one reference) as an instance of this class. */
  static _fromHook(hook) {
    const c = Object.create(this.prototype);
    c._hook = hook;
    collected.register(c, hook, c);
    return c;
  }

  _liveHook() {
    const h = this._hook;
    if (h === null) throw new RpcError("this capability reference was closed");
    return h;
  }

  get [HOOK]() { return this._liveHook(); }

  get isClosed() { return this._hook === null; }

  toString() { return `<${this.constructor.name} ${this._hook}>`; }

  /** A new, independent reference to the same capability. */
  dup() {
    return this.constructor._fromHook(this._liveHook().addRef());
  }

  /** A new reference to the same capability, as an instance of `Cls`. */
  castAs(Cls) {
    return Cls._fromHook(this._liveHook().addRef());
  }

  /** Releases this reference (idempotent). The last reference to an imported
   *  capability sends Release to the peer. */
  close() {
    const hook = this._hook;
    if (hook === null) return;
    this._hook = null;
    collected.unregister(this);
    hook.release();
  }

  [Symbol.dispose ?? Symbol.for("Symbol.dispose")]() {
    this.close();
  }

  /** Resolves once this capability is no longer an unresolved promise. */
  async whenResolved() {
    for (;;) {
      const h = innermost(this._liveHook());
      if (!(h instanceof PromiseHook) || h.isResolved) return;
      await new Promise((resolve) => h.whenResolved(() => resolve()));
    }
  }

  /** Sends a call now; returns a PromiseCls (CallPromise) for its results. */
  $call(interfaceId, methodId, params = null, Results = null, PromiseCls = CallPromise, opts = undefined) {
    const pending = this._liveHook().call(interfaceId, methodId, new ObjContent(params), null);
    return new (PromiseCls ?? CallPromise)(pending, Results, opts);
  }

  /** Sends a `-> stream` call now; resolves when the flow-control window has room. */
  $stream(interfaceId, methodId, params = null) {
    let hook;
    try {
      hook = this._liveHook();
    } catch (e) {
      return Promise.reject(e);
    }
    let flow = hook._flow;
    if (flow === null) flow = hook._flow = new Flow();
    if (flow.error !== null) return Promise.reject(flow.error);
    return flow.sent(hook.call(interfaceId, methodId, new ObjContent(params), null));
  }

  /** Resolves when every stream call sent on this capability returned; rejects with the
   *  first failure. */
  async $waitStreams() {
    const flow = this._liveHook()._flow;
    if (flow === null) return;
    if (flow.calls) await new Promise((resolve) => flow._idle.push(resolve));
    if (flow.error !== null) throw flow.error;
  }
}

factory.newCapability = (hook) => Capability._fromHook(hook);

/** Rethrows an RpcError (shared by every promise of its call) as this promise's own
 *  copy, whose stack is taken here: in a promise reaction, so V8's async stack trace
 *  names the functions awaiting this call ("at async callHost (plugin.mjs:12:5)")
 *  rather than the connection code that received the Return. Costs nothing on success. */
function rethrownHere(err) {
  if (!(err instanceof RpcError)) throw err;
  const e = Object.create(Object.getPrototypeOf(err));
  Object.assign(e, err);
  Object.defineProperty(e, "message", { value: err.message, writable: true, configurable: true });
  Error.captureStackTrace(e, rethrownHere);
  throw e;
}

/** The results of a call in progress (see the module comment). */
export class CallPromise {
  constructor(pending, Results, opts) {
    this.$pending = pending;
    this._Results = Results;
    this._promise = null;
    const signal = opts?.signal;
    if (signal != null && !pending.done) {
      if (signal.aborted) {
        pending.cancel();
      } else {
        const onAbort = () => pending.cancel();
        signal.addEventListener("abort", onAbort, { once: true });
        pending.addListener(() => signal.removeEventListener("abort", onAbort));
      }
    }
  }

  toString() { return `<${this.constructor.name} ${this.$pending.done ? "done" : "pending"}>`; }

  _get() {
    if (this._promise === null) {
      this._promise = new Promise((resolve, reject) => {
        this.$pending.addListener((p) => {
          if (p.error !== null) {
            reject(p.error);
            return;
          }
          const Results = this._Results;
          if (Results === null || Results === undefined) {
            resolve(undefined);
            return;
          }
          try {
            resolve(Results.$read(p.content.struct()));
          } catch (e) {
            reject(e instanceof WireError ? new RpcError(`malformed results: ${e.name}: ${e.message}`) : e);
          }
        });
      }).then(undefined, rethrownHere);
    }
    return this._promise;
  }

  then(onFulfilled, onRejected) { return this._get().then(onFulfilled, onRejected); }

  catch(onRejected) { return this._get().catch(onRejected); }

  finally(onFinally) { return this._get().finally(onFinally); }

  /** Cancels the call: Finish is sent, the callee's handler signal is aborted. */
  cancel() { this.$pending.cancel(); }

  /** A Capability for the capability at `pointerPath` (pointer-field indices from the
   *  results struct inward); calls on it are sent before the results arrive. */
  pipeline(...pointerPath) {
    return Capability._fromHook(this.$pending.pipelinedHook(pointerPath));
  }

  /** `pipeline(...pointerPath)` as an instance of `Cls` (a typed client). */
  pipelineAs(Cls, ...pointerPath) {
    return Cls._fromHook(this.$pending.pipelinedHook(pointerPath));
  }
}
