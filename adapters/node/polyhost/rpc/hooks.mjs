// Capability hooks and pending calls: the engine's internal model of capabilities.
//
// A hook is what every capability reference (client.mjs's Capability) points at:
// - server.mjs's LocalHook: an object served in this process (a Server);
// - remote.mjs's ImportHook / PipelineTargetHook: an object on the peer, named by an
//   import id or by a promised answer (question id + pointer path);
// - PromiseHook: a capability not known yet (a pipelined result, a promise the peer
//   exported). Calls go to a provisional target (or queue locally) until it resolves;
//   resolving applies the embargo rules of rpc.capnp;
// - BrokenHook: every call fails with one error.
//
// Hooks are reference counted explicitly: a new hook has one reference owned by its
// creator; addRef() returns the hook; release() drops one, the last one disposes it.
//
// A Pending is one call in progress: it completes once, with a content (content.mjs)
// or an error, notifies its listeners synchronously, and hands out pipelined
// capabilities (pipelinedHook(ops)) before and after it completes.

import { CanceledError, RpcError } from "./errors.mjs";

/** The property through which Capability, Server and Hook objects expose their hook. */
export const HOOK = Symbol.for("polyhost.hook");

/** Set by client.mjs: newCapability(hook) -> Capability (steals the reference). */
export const factory = { newCapability: null };

export function canceledError() {
  return new CanceledError();
}

/** The hook behind a capability-like object (Capability, Server, Hook), borrowed. */
export function hookOf(obj) {
  const h = obj == null ? undefined : obj[HOOK];
  if (h === undefined) throw new TypeError(`not a capability (Capability, Server or hook): ${String(obj)}`);
  return h;
}

/** Follows promises to the hook calls currently go to. */
export function innermost(hook) {
  while (hook instanceof PromiseHook && hook._inner !== null) hook = hook._inner;
  return hook;
}

function report(what, e) {
  process.stderr.write(`polyhost rpc: ${what}: ${e?.stack ?? e}\n`);
}

/** Base of all hooks. `conn` is the Connection a remote hook belongs to, else null. */
export class Hook {
  constructor() {
    this._refs = 1;
    this._flow = null;
    this.conn = null;
  }

  addRef() {
    this._refs++;
    return this;
  }

  release() {
    if (--this._refs === 0) this._dispose();
  }

  _dispose() {}

  get [HOOK]() { return this; }

  /** Starts a call; returns a Pending. `conn` is the Connection that delivered the
   *  call (null for a call made in this process). */
  call(_interfaceId, _methodId, _content, _conn) {
    throw new Error("abstract");
  }

  /** cb(this) once this hook is no longer a promise (now for non-promises). */
  whenResolved(cb) {
    cb(this);
  }
}

/** A capability whose every call fails with `error`. */
export class BrokenHook extends Hook {
  constructor(error) {
    super();
    this.error = error;
  }

  call() {
    const p = new Pending();
    p._complete(null, this.error);
    return p;
  }

  toString() { return `<BrokenHook ${this.error}>`; }
}

function opsKey(ops) {
  return ops.length === 0 ? "" : ops.join(",");
}

/** One call in progress. `content` / `error` are set once `done`. */
export class Pending {
  constructor() {
    this.done = false;
    this.content = null;
    this.error = null;
    this.size = 0;
    this._listeners = null;
    this._pipelined = null;
    this._redirect = null;
  }

  /** cb(pending) when done (at once if already done). */
  addListener(cb) {
    if (this.done) cb(this);
    else if (this._listeners === null) this._listeners = [cb];
    else this._listeners.push(cb);
  }

  _complete(content, error = null) {
    if (this.done) return false;
    this.done = true;
    this.content = content;
    this.error = error;
    const pipelined = this._pipelined;
    this._pipelined = null;
    if (pipelined !== null) {
      for (const [ops, hook] of pipelined.values()) {
        hook.resolve(this._capHook(ops));
        hook.release();
      }
    }
    const listeners = this._listeners;
    this._listeners = null;
    if (listeners !== null) {
      for (const cb of listeners) {
        try {
          cb(this);
        } catch (e) {
          report("a listener of a completed call failed", e);
        }
      }
    }
    return true;
  }

  _capHook(ops) {
    let err = this.error;
    if (err !== null) {
      if (err instanceof CanceledError) err = new RpcError("the call was canceled");
      return new BrokenHook(err);
    }
    try {
      return this.content.capHook(ops);
    } catch (e) {
      return new BrokenHook(new RpcError(`no capability at pointer path [${ops}] of the results: ${e.message}`));
    }
  }

  /** A new reference to the capability at pointer path `ops` of the results. */
  pipelinedHook(ops) {
    if (this._redirect !== null) return this._redirect.pipelinedHook(ops);
    if (this.done) return this._capHook(ops);
    if (this._pipelined === null) this._pipelined = new Map();
    const key = opsKey(ops);
    let entry = this._pipelined.get(key);
    if (entry === undefined) {
      entry = [ops, new PromiseHook(this._pipelineTarget(ops))];
      this._pipelined.set(key, entry);
    }
    return entry[1].addRef();
  }

  _pipelineTarget(_ops) {
    return null;
  }

  /** Asks for cancellation (the caller no longer wants the result). */
  cancel() {}
}

/** A call queued in an unresolved local promise; forwarded once it resolves. */
export class QueuedPending extends Pending {
  forward(real) {
    this._redirect = real;
    this.size = real.size;
    const pipelined = this._pipelined;
    this._pipelined = null;
    if (pipelined !== null) {
      for (const [ops, h] of pipelined.values()) {
        h.resolve(real.pipelinedHook(ops));
        h.release();
      }
    }
    real.addListener((p) => this._complete(p.content, p.error));
  }

  cancel() {
    if (this._redirect !== null) this._redirect.cancel();
    else this._complete(null, canceledError());
  }
}

/**
 * A capability that will be resolved later. `inner` is the provisional target (a remote
 * hook: calls are sent to it and marked so that a later local resolution is embargoed)
 * or null (calls queue here, in order).
 */
export class PromiseHook extends Hook {
  constructor(inner = null) {
    super();
    this._inner = inner; // owned reference, or null
    this.isResolved = false;
    this._receivedCall = false;
    this._queue = null;
    this._waiters = null;
    this._dead = false;
  }

  toString() { return `<PromiseHook resolved=${this.isResolved} inner=${this._inner}>`; }

  call(interfaceId, methodId, content, conn) {
    const inner = this._inner;
    if (inner === null) {
      const p = new QueuedPending();
      if (this._queue === null) this._queue = [];
      this._queue.push([interfaceId, methodId, content, conn, p]);
      return p;
    }
    if (!this.isResolved) this._receivedCall = true;
    return inner.call(interfaceId, methodId, content, conn);
  }

  markReceivedCall() {
    if (!this.isResolved) this._receivedCall = true;
  }

  whenResolved(cb) {
    if (this.isResolved) cb(this);
    else if (this._waiters === null) this._waiters = [cb];
    else this._waiters.push(cb);
  }

  /** Resolves to `next` (steals its reference). */
  resolve(next) {
    if (this.isResolved) {
      next.release();
      return;
    }
    const old = this._inner;
    const conn = old !== null ? old.conn : null;
    if (this._receivedCall && conn !== null && !conn.closed && !(next instanceof BrokenHook)
        && innermost(next).conn !== conn) {
      // Calls already went to the peer through `old`; hold new calls until a Disembargo
      // echoes back, so they cannot overtake those (rpc.capnp, Disembargo).
      const target = next;
      const held = new PromiseHook(null);
      conn._startEmbargo(old, (err) => held.resolve(err === null ? target : broken(target, err)));
      next = held;
    }
    this._inner = next;
    this.isResolved = true;
    const queue = this._queue;
    this._queue = null;
    if (queue !== null) {
      for (const [interfaceId, methodId, content, c, p] of queue) {
        if (!p.done) p.forward(next.call(interfaceId, methodId, content, c));
      }
    }
    const waiters = this._waiters;
    this._waiters = null;
    if (waiters !== null) {
      for (const cb of waiters) {
        try {
          cb(this);
        } catch (e) {
          report("a promise resolution listener failed", e);
        }
      }
    }
    if (old !== null) old.release();
    if (this._dead) {
      this._inner = null;
      next.release();
    }
  }

  _dispose() {
    this._dead = true;
    const inner = this._inner;
    if (inner !== null && (this.isResolved || this._queue === null || this._queue.length === 0)) {
      this._inner = null;
      inner.release();
    }
  }
}

function broken(hook, err) {
  hook.release();
  return new BrokenHook(err);
}
