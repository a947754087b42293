// The Server base class and the dispatch of calls to it.
//
// A capability implementation extends Server. Generated interface base classes provide
// the dispatch table (`static $methods`, built with methodTable): interface id ->
// method ordinal -> { name, Params, Results, isStream }. On a call the engine decodes
// the params with the params class (capabilities in them read as Capability objects),
// then calls `server[name](params, ctx)`, where `ctx` is a HandlerContext:
// - `ctx.signal` is an AbortSignal, aborted when the caller cancels (Finish before
//   Return): the caller gets `canceled` at once, whatever the handler does next;
// - `ctx.context` is the polyhost CallContext (polyhost_capnp) of a scoped call, or null;
// - `ctx.connection` is the Connection that delivered the call (null for local calls).
// The handler returns (or resolves to) an instance of the results class, a plain
// object of its fields, or undefined. A handler that returns a plain value completes
// the call synchronously (no promise, no task). A thrown error becomes an rpc
// Exception: an RpcError keeps its type and reason; anything else becomes "failed"
// with reason "<ErrorName>: <message>" and the JS stack as trace.
// `-> stream` methods of one object run one at a time, in arrival order; a non-stream
// call that arrives while stream calls are queued or running waits for them (so an
// `end()` runs after the last `push()`). A method missing from the table or from the
// object answers `unimplemented`.

import { ObjContent } from "./content.mjs";
import { ExceptionType, RpcError, fromJsError } from "./errors.mjs";
import { HOOK, Hook, Pending, canceledError } from "./hooks.mjs";

const LOCAL_HOOK = Symbol("polyhost.localHook");

/** Base class of objects served as capabilities (see the module comment). */
export class Server {
  get [HOOK]() {
    let h = this[LOCAL_HOOK];
    if (h === undefined) {
      h = new LocalHook(this);
      Object.defineProperty(this, LOCAL_HOOK, { value: h });
    }
    return h;
  }

  /** The dispatch table (the class's `static $methods`). */
  get $methods() {
    return this.constructor.$methods ?? EMPTY_TABLE;
  }
}

const EMPTY_TABLE = new Map();

/** One dispatch-table entry. */
export class MethodEntry {
  constructor(name, Params, Results, isStream) {
    this.name = name;
    this.Params = Params;
    this.Results = Results;
    this.isStream = isStream;
  }
}

/** A dispatch table: the superclasses' tables plus `rows` of
 *  [interfaceId, ordinal, name, Params, Results, isStream]. */
export function methodTable(superclasses, rows) {
  const table = new Map();
  for (const sup of superclasses) {
    for (const [iid, entries] of sup.$methods ?? []) table.set(iid, entries);
  }
  for (const [iid, ordinal, name, Params, Results, isStream] of rows) {
    let entries = table.get(iid);
    if (entries === undefined) table.set(iid, (entries = []));
    entries[ordinal] = new MethodEntry(name, Params, Results, isStream);
  }
  return table;
}

/** Copies the methods of `sources` (and their bases) that `target` lacks onto it: the
 *  second and later superclasses of an interface that extends several. */
export function mixin(target, sources) {
  for (const src of sources) {
    for (let proto = src.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
      for (const key of Object.getOwnPropertyNames(proto)) {
        if (key === "constructor" || key in target.prototype) continue;
        Object.defineProperty(target.prototype, key, Object.getOwnPropertyDescriptor(proto, key));
      }
    }
  }
}

/** What a handler gets as its last argument. */
export class HandlerContext {
  constructor(call, context, connection) {
    this._call = call;
    this._controller = null;
    /** The polyhost CallContext of a scoped call (trace parent, deadline, session). */
    this.context = context;
    /** The Connection that delivered the call (null for a local call); its `stats`
     *  count the messages received so far. */
    this.connection = connection;
  }

  /** Aborted when the caller cancels the call. */
  get signal() {
    if (this._controller === null) {
      this._controller = new AbortController();
      if (this._call.canceled) this._controller.abort(canceledError());
    }
    return this._controller.signal;
  }

  _abort() {
    if (this._controller !== null && !this._controller.signal.aborted) this._controller.abort(canceledError());
  }
}

class LocalCall extends Pending {
  constructor() {
    super();
    this.canceled = false;
    this.ctx = null;
    this.settled = null; // a promise while an async handler runs (stream ordering)
  }

  cancel() {
    if (this.done) return;
    this.canceled = true;
    this._complete(null, canceledError());
    if (this.ctx !== null) this.ctx._abort();
  }
}

function unimplemented(server, interfaceId, methodId) {
  return new RpcError(
    `method @${methodId} of interface 0x${interfaceId.toString(16).padStart(16, "0")} is not implemented by ${server.constructor.name}`,
    ExceptionType.UNIMPLEMENTED);
}

function coerce(res, Results) {
  if (Results === null || Results === undefined) return null;
  if (res === undefined || res === null) return new Results();
  if (res instanceof Results) return res;
  if (typeof res === "object" && !Array.isArray(res)) return new Results(res);
  throw new TypeError(`handler returned ${String(res)}; expected ${Results.name}, a plain object of its fields, or undefined`);
}

function isThenable(v) {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof v.then === "function";
}

/** The hook of one Server object (one per object; reference counts are not used). */
export class LocalHook extends Hook {
  constructor(server) {
    super();
    this.server = server;
    this._queue = [];
    this._draining = false;
  }

  toString() { return `<LocalHook ${this.server.constructor.name}>`; }

  call(interfaceId, methodId, content, conn = null) {
    const p = new LocalCall();
    const server = this.server;
    const entry = server.$methods.get(interfaceId)?.[methodId];
    if (entry === undefined || typeof server[entry.name] !== "function") {
      p._complete(null, unimplemented(server, interfaceId, methodId));
      return p;
    }
    if (entry.isStream || this._queue.length) {
      this._queue.push([entry, content, conn, p]);
      if (!this._draining) this._drain();
    } else {
      this._run(entry, content, conn, p);
    }
    return p;
  }

  async _drain() {
    this._draining = true;
    const q = this._queue;
    try {
      while (q.length) {
        const [entry, content, conn, p] = q[0];
        if (!p.done) {
          this._run(entry, content, conn, p);
          if (entry.isStream && p.settled !== null) await p.settled;
        }
        q.shift();
      }
    } finally {
      this._draining = false;
    }
  }

  _run(entry, content, conn, p) {
    // A server with `$unlimited` (the worker's control interface: pings, shutdown) is
    // not counted, so a worker whose handlers fill every slot still answers them.
    const limiter = conn !== null && this.server.$unlimited !== true ? conn._limiter : null;
    if (limiter !== null && !limiter.tryAcquire()) {
      p.settled = limiter.acquire().then(() => this._start(entry, content, conn, p, limiter));
      return;
    }
    const r = this._start(entry, content, conn, p, limiter);
    if (r !== undefined) p.settled = r;
  }

  /** Runs the handler; returns a promise when it is asynchronous. */
  _start(entry, content, conn, p, limiter) {
    if (p.done) {
      if (limiter !== null) limiter.release();
      return undefined;
    }
    let res;
    try {
      const params = entry.Params !== null ? entry.Params.$read(content.struct()) : null;
      const server = this.server;
      const ctx = p.ctx = new HandlerContext(p, server.$callContext ?? null, conn);
      res = server[entry.name](params, ctx);
    } catch (e) {
      if (limiter !== null) limiter.release();
      p._complete(null, fromJsError(e));
      return undefined;
    }
    if (isThenable(res)) {
      return Promise.resolve(res).then(
        (v) => {
          if (limiter !== null) limiter.release();
          this._finish(p, v, entry);
        },
        (e) => {
          if (limiter !== null) limiter.release();
          p._complete(null, fromJsError(e));
        });
    }
    if (limiter !== null) limiter.release();
    this._finish(p, res, entry);
    return undefined;
  }

  _finish(p, res, entry) {
    if (p.done) return;
    let results;
    try {
      results = coerce(res, entry.Results);
    } catch (e) {
      p._complete(null, fromJsError(e));
      return;
    }
    p._complete(new ObjContent(results));
  }
}

/** Bounds the handlers running at once for one connection. */
export class Limiter {
  constructor(max) {
    this.max = max;
    this.running = 0;
    this._waiters = [];
  }

  tryAcquire() {
    if (this.running < this.max) {
      this.running++;
      return true;
    }
    return false;
  }

  acquire() {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => this._waiters.push(resolve));
  }

  release() {
    const next = this._waiters.shift();
    if (next !== undefined) next();
    else this.running--;
  }
}
