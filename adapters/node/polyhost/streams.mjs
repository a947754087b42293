// Streams over polyhost's `Sink(T)` capability: the producing and the consuming end.
//
// A method that takes a `Sink(T)` parameter streams items from its callee (the
// producer) to its caller (the consumer). Generated modules use this module on both
// sides:
//
// - the server base class hands the handler one Producer per Sink parameter:
//
//     async numbers({ count }, out, ctx) {          // out: Producer<Point>
//       for (let i = 0; i < count; i++) await out.send(new Point({ x: i, y: -i }));
//     }                                             // or: await out.feed(asyncIterable)
//
//   When the handler returns, the rest is flushed and the stream ends (`end(null)`);
//   when it throws, the stream ends with a Failure and the call fails too (produce()).
//   Items are batched: `send` resolves at once while the batch fills; a batch goes out
//   (one `push`) when the handler yields to the event loop (setImmediate) or the batch
//   reaches `maxBatch` items; while the stream's flow-control window is full, items
//   accumulate, so batches grow with the backlog, and `send` waits (backpressure) once
//   `maxBatch` items are waiting.
//
// - the typed client returns an Inbound (a local Sink server passed in the call):
//
//     const points = calc.numbers({ count: 3 });    // Inbound<Point, NumbersResults>
//     for await (const p of points) { ... }         // `break` cancels the call
//     const results = await points.results();       // the call's results struct
//
//   Its queue is bounded (`maxBatches` batches): a slow consumer holds up `push`, which
//   holds up the producer. The iteration ends at `end`; an `end` carrying a Failure
//   throws StreamError after the items pushed before it, and a failed call throws its
//   error. `close()` (or leaving a `for await` early) stops: later pushes fail and the
//   call is cancelled.

import * as P from "./polyhost_capnp.mjs";
import { ExceptionType, RemoteError, RpcError, errorName } from "./rpc/index.mjs";

/** Most items per `push` by default. */
export const MAX_BATCH = 1024;

/** The producer ended the stream with a Failure: `remoteType` is the error's type name
 *  in the producer's language, `reason` its message, `trace` its stack/traceback. */
export class StreamError extends RemoteError {
  constructor(remoteType, message, trace = "") {
    super(remoteType ? `${remoteType}: ${message}` : message, ExceptionType.FAILED, trace);
    this.remoteType = remoteType;
  }
}

/** The `batch` AnyList of one push: written straight into the outgoing message. */
class Batch {
  constructor(codec, items) {
    this.codec = codec;
    this.items = items;
  }

  $writePointer(b, i) {
    this.codec.writeList(b, i, this.items);
  }
}

// ---------------------------------------------------------------------------------------
// The producing end

/** Pushes items into a `Sink(T)` capability (see the module comment). */
export class Producer {
  constructor(sink, codec, { maxBatch = MAX_BATCH } = {}) {
    if (sink == null) throw new RpcError("no Sink was passed for the stream");
    this._sink = sink;
    this._codec = codec;
    this._max = Math.max(1, maxBatch);
    this._buf = [];
    this._window = null;     // the flow-control promise of the last push
    this._windowOpen = true;
    this._scheduled = false;
    this._error = null;
    this._closed = false;
    /** Items handed to `push` calls so far. */
    this.sent = 0;
    this._flushSoon = () => {
      this._scheduled = false;
      if (this._buf.length && this._error === null && !this._closed && this._windowOpen) this._push();
    };
  }

  toString() { return `<Producer sent=${this.sent} buffered=${this._buf.length}${this._closed ? " closed" : ""}>`; }

  get closed() { return this._closed; }

  /** Queues one item; waits only while `maxBatch` items are already waiting for the
   *  flow-control window. Rejects with the error of a failed push (e.g. the consumer
   *  stopped reading). */
  send(item) {
    if (this._error !== null) return Promise.reject(this._error);
    if (this._closed) return Promise.reject(new Error("send() on a closed stream"));
    const buf = this._buf;
    buf.push(item);
    if (buf.length >= this._max) return this._flush();
    if (!this._scheduled) {
      this._scheduled = true;
      setImmediate(this._flushSoon);
    }
    return RESOLVED;
  }

  /** Queues several items (as if by `send` each). */
  async sendMany(items) {
    for (const item of items) await this.send(item);
  }

  /** Sends every item of an async iterable (or a plain iterable); resolves to the count. */
  async feed(source) {
    let n = 0;
    for await (const item of source) {
      await this.send(item);
      n++;
    }
    return n;
  }

  /** Pushes everything queued now, waiting for the window as needed. */
  async flush() {
    while (this._buf.length) await this._flush();
  }

  /** Flushes, then ends the stream without error and waits until the consumer has taken
   *  every push and the end. Rejects with the error of a failed push. */
  async close() {
    if (this._closed) return;
    try {
      await this.flush();
    } finally {
      this._closed = true;
    }
    await this._sink.end({ error: null });
    await this._sink.$waitStreams();
  }

  /** Ends the stream with `err` as a Failure (after what is already queued). */
  async fail(err) {
    if (this._closed) return;
    this._closed = true;
    const failure = new P.Failure({
      type: errorName(err),
      message: err instanceof Error ? err.message : String(err),
      traceback: err instanceof Error ? err.stack ?? "" : "",
    });
    try {
      if (this._buf.length && this._error === null) this._push();
      await this._sink.end({ error: failure });
    } catch {
      // the consumer is gone: nobody to tell
    }
  }

  async _flush() {
    if (!this._windowOpen) await this._window;
    if (this._error !== null) throw this._error;
    if (this._buf.length) this._push();
  }

  _push() {
    const batch = this._buf;
    this._buf = [];
    this.sent += batch.length;
    const w = this._sink.push({ batch: new Batch(this._codec, batch) });
    this._windowOpen = false;
    const mine = this._window = w.then(
      () => {
        if (this._window === mine) this._windowOpen = true;
        if (this._buf.length && !this._scheduled && !this._closed) {
          this._scheduled = true;
          setImmediate(this._flushSoon);
        }
      },
      (e) => {
        if (this._error === null) this._error = e;
        if (this._window === mine) this._windowOpen = true;
      });
  }
}

const RESOLVED = Promise.resolve();

/** Runs a handler that takes Producers (the generated `$serve_<method>`), then closes
 *  every producer, or ends them with the handler's error (which the call then throws). */
export async function produce(server, handler, params, producers, ctx) {
  let res;
  try {
    res = await handler.call(server, params, ...producers, ctx);
  } catch (e) {
    for (const p of producers) await p.fail(e);
    throw e;
  }
  for (const p of producers) await p.close();
  return res;
}

// ---------------------------------------------------------------------------------------
// The consuming end

/** The items of a `Sink(T)` stream and the results of the call that produces them (see
 *  the module comment). Served as the Sink capability of the call. */
export class Inbound extends P.Sink {
  constructor(codec, { maxBatches = 16 } = {}) {
    super();
    this._codec = codec;
    this._max = Math.max(1, maxBatches);
    this._batches = [];
    this._cur = EMPTY;
    this._pos = 0;
    this._ended = false;
    this._failure = null;
    this._closed = false;
    this._callError = null;
    this._promise = null;
    this._data = null;   // resolver waiting for data
    this._space = null;  // resolver waiting for queue space
    /** Items received so far. */
    this.received = 0;
  }

  toString() {
    const state = this._ended ? "ended" : this._closed ? "closed" : "open";
    return `<Inbound ${state} received=${this.received}>`;
  }

  $attach(promise) {
    this._promise = promise;
    promise.$pending.addListener((p) => {
      if (p.error !== null) {
        this._callError = p.error;
        this._wake();
      }
    });
    return this;
  }

  /** The CallPromise of the producing call (pipelining, cancel). */
  get promise() {
    if (this._promise === null) throw new Error("this stream is not attached to a call");
    return this._promise;
  }

  // -- the Sink server ------------------------------------------------------------------

  async push(params) {
    if (this._closed) throw new RpcError("the consumer closed the stream");
    const batch = params.batch;
    if (batch == null || typeof batch.asList !== "function") throw new RpcError("push without a batch list");
    const codec = this._codec;
    const items = codec.readList(batch.asList(codec.es));
    while (this._batches.length >= this._max && !this._closed) {
      await new Promise((resolve) => { this._space = resolve; });
    }
    if (this._closed) throw new RpcError("the consumer closed the stream");
    if (items.length) {
      this._batches.push(items);
      this.received += items.length;
      this._wake();
    }
  }

  end(params) {
    const f = params.error;
    if (f != null && (f.type || f.message || f.traceback)) this._failure = f;
    this._ended = true;
    this._wake();
  }

  _wake() {
    const d = this._data;
    if (d !== null) {
      this._data = null;
      d();
    }
  }

  _free() {
    const s = this._space;
    if (s !== null) {
      this._space = null;
      s();
    }
  }

  // -- the consumer's API ---------------------------------------------------------------

  [Symbol.asyncIterator]() { return this; }

  async next() {
    for (;;) {
      const cur = this._cur;
      if (this._pos < cur.length) return { value: cur[this._pos++], done: false };
      if (!(await this._nextBatch())) return { value: undefined, done: true };
    }
  }

  async return() {
    await this.close();
    return { value: undefined, done: true };
  }

  /** Makes the next batch current; false at the end of the stream. */
  async _nextBatch() {
    for (;;) {
      if (this._batches.length) {
        this._cur = this._batches.shift();
        this._pos = 0;
        this._free();
        return true;
      }
      this._cur = EMPTY;
      this._pos = 0;
      if (this._ended) {
        const f = this._failure;
        if (f !== null) throw new StreamError(f.type, f.message, f.traceback);
        return false;
      }
      if (this._callError !== null) throw this._callError;
      if (this._closed) return false;
      await new Promise((resolve) => { this._data = resolve; });
    }
  }

  /** The remaining items, a received batch at a time. */
  async* batches() {
    if (this._pos < this._cur.length) {
      const rest = this._cur.slice(this._pos);
      this._cur = EMPTY;
      this._pos = 0;
      yield rest;
    }
    while (await this._nextBatch()) {
      const batch = this._cur;
      this._cur = EMPTY;
      this._pos = 0;
      yield batch;
    }
  }

  /** Every remaining item, as an array. */
  async collect() {
    const out = [];
    for await (const batch of this.batches()) for (const item of batch) out.push(item);
    return out;
  }

  /** Skips the items not read yet, then resolves to the call's results. */
  async results() {
    // eslint-disable-next-line no-unused-vars
    for await (const _ of this.batches()) { /* skip */ }
    return await this.promise;
  }

  /** Stops reading: queued items are dropped, later pushes fail and the call is
   *  cancelled unless the stream already ended. */
  async close() {
    if (this._closed) return;
    this._closed = true;
    this._batches = [];
    this._cur = EMPTY;
    this._pos = 0;
    this._free();
    this._wake();
    const p = this._promise;
    if (p !== null && !this._ended && !p.$pending.done) p.cancel();
  }
}

const EMPTY = Object.freeze([]);
