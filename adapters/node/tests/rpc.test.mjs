// polyhost/rpc: two connections over a Unix socket pair talking to each other.
//
// The test interfaces use small hand-made params/results classes in the generated shape
// (see adapters/node/README.md).

import assert from "node:assert/strict";
import { once } from "node:events";
import { afterEach, beforeEach, describe, test } from "node:test";

import * as M from "../polyhost/rpc_capnp.mjs";
import * as rpc from "../polyhost/rpc/index.mjs";
import * as client from "../polyhost/rpc/client.mjs";
import { fromCapnpException, toCapnpException } from "../polyhost/rpc/errors.mjs";
import { eventually, gc, sleep, socketPair } from "./support.mjs";

// ---------------------------------------------------------------------------------------
// Hand-made struct classes in the generated shape.

/** (a :Int32, b :Int32, c :Int32) */
class Ints {
  static $dataWords = 2;
  static $ptrCount = 0;
  constructor({ a = 0, b = 0, c = 0 } = {}) { Object.assign(this, { a, b, c }); }
  static $read(r) { return new Ints({ a: r.getInt32(0), b: r.getInt32(1), c: r.getInt32(2) }); }
  $write(b) { b.setInt32(0, this.a); b.setInt32(1, this.b); b.setInt32(2, this.c); }
}

/** (text :Text) */
class Text {
  static $dataWords = 0;
  static $ptrCount = 1;
  constructor({ text = "" } = {}) { this.text = text; }
  static $read(r) { return new Text({ text: r.getText(0) }); }
  $write(b) { b.setText(0, this.text); }
}

/** (cap :SomeInterface, n :Int32) */
class Cap {
  static $dataWords = 1;
  static $ptrCount = 1;
  constructor({ cap = null, n = 0 } = {}) { this.cap = cap; this.n = n; }
  static $read(r) {
    const c = r.getCapability(0);
    return new Cap({ cap: c === null ? null : c.dup(), n: r.getInt32(0) });
  }
  $write(b) { b.setCapability(0, this.cap); b.setInt32(0, this.n); }
}

/** (inner :Cap) */
class Nested {
  static $dataWords = 0;
  static $ptrCount = 1;
  constructor({ inner = null } = {}) { this.inner = inner; }
  static $read(r) { return new Nested({ inner: Cap.$read(r.getStruct(0)) }); }
  $write(b) { if (this.inner) this.inner.$write(b.initStruct(0, Cap.$dataWords, Cap.$ptrCount)); }
}

class Empty {
  static $dataWords = 0;
  static $ptrCount = 0;
  static $read() { return new Empty(); }
  $write() {}
}

// ---------------------------------------------------------------------------------------
// Test interfaces.

const ROOT = 0xB000000000000001n;
const COUNTER = 0xB000000000000002n;
const SINK = 0xB000000000000003n;
const FACTORY = 0xB000000000000004n;
const [ADD, FAIL, OVERLOAD, SLEEP, SYNC_ADD, GET_COUNTER, HOLD, CALL_HELD, DROP_HELD, ECHO_CAP, GET_NESTED, GET_SINK, NOT_THERE, BAD_RESULT] =
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
const [INC, GET] = [0, 1];
const [PUSH, END] = [0, 1];

class Counter extends rpc.Server {
  static $methods = rpc.methodTable([], [
    [COUNTER, INC, "inc", Ints, Ints, false],
    [COUNTER, GET, "get", Empty, Ints, false],
  ]);

  constructor(start = 0) {
    super();
    this.value = start;
    this.seen = [];
  }

  async inc(p) {
    this.value += p.a;
    this.seen.push(p.b);
    return new Ints({ a: this.value });
  }

  get() { return { a: this.value }; }
}

class Sink extends rpc.Server {
  static $methods = rpc.methodTable([], [
    [SINK, PUSH, "push", Ints, null, true],
    [SINK, END, "end", Empty, Ints, false],
  ]);

  constructor(delay = 0, failAt = null) {
    super();
    this.items = [];
    this.delay = delay;
    this.failAt = failAt;
    this.running = 0;
    this.maxRunning = 0;
    this.endedAfter = null;
  }

  async push(p) {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      if (this.delay) await sleep(this.delay);
      if (p.a === this.failAt) throw new RangeError(`bad item ${p.a}`);
      this.items.push(p.a);
    } finally {
      this.running--;
    }
  }

  end() {
    this.endedAfter = this.items.length;
    return { a: this.items.length };
  }
}

function innerHelper(text) {
  throw new TypeError(text);
}

class Root extends rpc.Server {
  static $methods = rpc.methodTable([], [
    [ROOT, ADD, "add", Ints, Ints, false],
    [ROOT, FAIL, "fail", Text, Empty, false],
    [ROOT, OVERLOAD, "overload", Empty, Empty, false],
    [ROOT, SLEEP, "sleep", Ints, Ints, false],
    [ROOT, SYNC_ADD, "syncAdd", Ints, Ints, false],
    [ROOT, GET_COUNTER, "getCounter", Ints, Cap, false],
    [ROOT, HOLD, "hold", Cap, Empty, false],
    [ROOT, CALL_HELD, "callHeld", Ints, Ints, false],
    [ROOT, DROP_HELD, "dropHeld", Empty, Empty, false],
    [ROOT, ECHO_CAP, "echoCap", Cap, Cap, false],
    [ROOT, GET_NESTED, "getNested", Ints, Nested, false],
    [ROOT, GET_SINK, "getSink", Ints, Cap, false],
    [ROOT, NOT_THERE, "notThere", Empty, Empty, false],
    [ROOT, BAD_RESULT, "badResult", Empty, Ints, false],
  ]);

  constructor() {
    super();
    this.counter = new Counter(100);
    this.held = null;
    this.running = 0;
    this.maxRunning = 0;
    this.sleepStarted = 0;
    this.sleepCancelled = 0;
    this.sink = null;
    this.contexts = [];
  }

  async add(p) { return new Ints({ a: p.a + p.b }); }

  fail(p) { innerHelper(p.text); }

  overload() { throw new rpc.RpcError("too busy", rpc.ExceptionType.OVERLOADED); }

  async sleep(p, ctx) {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    this.sleepStarted++;
    try {
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, p.a);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(t);
          this.sleepCancelled++;
          reject(ctx.signal.reason);
        }, { once: true });
      });
    } finally {
      this.running--;
    }
    return { a: p.a };
  }

  syncAdd(p, ctx) {
    this.contexts.push(ctx);
    return { a: p.a + p.b };
  }

  getCounter(p) { return { cap: p.a ? new Counter(p.a) : this.counter }; }

  hold(p) { this.held = p.cap; }

  async callHeld(p) {
    const r = await this.held.$call(COUNTER, INC, new Ints({ a: p.a }), Ints);
    return { a: r.a };
  }

  dropHeld() {
    this.held.close();
    this.held = null;
  }

  echoCap(p) { return new Cap({ cap: p.cap, n: p.n }); }

  getNested(p) { return { inner: new Cap({ cap: new Counter(p.a), n: 7 }) }; }

  getSink(p) {
    this.sink = new Sink(p.a, p.b || null);
    return { cap: this.sink };
  }

  badResult() { return "not a struct"; }
}

/** Lets messages in flight arrive and deferred releases (of collected capabilities) run. */
async function settle() {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(5);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const EMPTY_TABLES = { questions: 0, answers: 0, exports: 0, imports: 0, embargoes: 0 };

/** A client and a server connection, the server serving a Root. */
function fixture(serverOptions = {}) {
  const f = {};
  beforeEach(async () => {
    const [a, b] = await socketPair();
    f.root = new Root();
    f.server = new rpc.Connection(b, { bootstrap: f.root, name: "server", ...serverOptions });
    f.client = new rpc.Connection(a, { name: "client" });
    f.cap = f.client.bootstrap();
  });
  afterEach(async () => {
    f.client.close();
    f.server.close();
    await Promise.all([f.client.closed$, f.server.closed$]);
  });
  f.assertTablesEmpty = async () => {
    f.cap.close();
    await eventually(async () => {
      await settle();
      return f.client.tableSizes().imports + f.server.tableSizes().imports === 0;
    }, 3000);
    assert.deepEqual(f.client.tableSizes(), EMPTY_TABLES);
    assert.deepEqual(f.server.tableSizes(), EMPTY_TABLES);
  };
  return f;
}

describe("basic calls", () => {
  const f = fixture();

  test("bootstrap and call", async () => {
    assert.equal((await f.cap.$call(ROOT, ADD, new Ints({ a: 2, b: 40 }), Ints)).a, 42);
    assert.equal(f.client.stats["sent.bootstrap"], 1);
    assert.equal(f.server.stats["recv.call"], 1);
  });

  test("results without capabilities need no Finish", async () => {
    await f.cap.$call(ROOT, ADD, new Ints({ a: 1, b: 1 }), Ints);
    await settle();
    assert.equal(f.client.stats["sent.finish"], 1); // the bootstrap's Return carries a capability
    assert.equal(f.server.stats["recv.finish"], 1);
    assert.equal(f.server.tableSizes().answers, 0);
  });

  test("a synchronous handler completes the call without a promise, and sees its context", async () => {
    assert.equal((await f.cap.$call(ROOT, SYNC_ADD, new Ints({ a: 3, b: 4 }), Ints)).a, 7);
    const ctx = f.root.contexts[0];
    assert.equal(ctx.connection, f.server);
    assert.equal(ctx.context, null);
    assert.equal(ctx.signal.aborted, false);
  });

  test("local capability calls", async () => {
    const c = new rpc.Capability(new Counter(1));
    assert.equal((await c.$call(COUNTER, INC, new Ints({ a: 2 }), Ints)).a, 3);
    const p = f.cap.$call(ROOT, GET_COUNTER, new Ints({ a: 0 }), Cap);
    assert.equal((await p.pipeline(0).$call(COUNTER, GET, null, Ints)).a, 100);
  });
});

class CounterClient extends rpc.Capability {
  inc(a) { return this.$call(COUNTER, INC, new Ints({ a }), Ints, IncPromise); }
}
class IncPromise extends rpc.CallPromise {}

describe("typed clients", () => {
  const f = fixture();

  test("castAs and promise classes; closed references fail", async () => {
    const r = await f.cap.$call(ROOT, GET_COUNTER, new Ints({ a: 1 }), Cap);
    const typed = r.cap.castAs(CounterClient);
    const p = typed.inc(2);
    assert.ok(p instanceof IncPromise);
    assert.equal((await p).a, 3);
    const typed2 = new CounterClient(typed);
    assert.equal(typed2[rpc.HOOK], r.cap[rpc.HOOK]);
    for (const c of [typed, typed2, r.cap]) c.close();
    assert.ok(typed.isClosed);
    assert.throws(() => typed.inc(1), rpc.RpcError);
    await f.assertTablesEmpty();
  });

  test("a server wrapped directly", async () => {
    const c = new CounterClient(new Counter(5));
    assert.equal((await c.inc(1)).a, 6);
    c.close();
    assert.ok(c.isClosed);
  });
});

describe("errors", () => {
  const f = fixture();

  test("the reason carries the stack after the marker", () => {
    let exc;
    try {
      innerHelper("boom");
    } catch (err) {
      exc = toCapnpException(err);
    }
    const at = exc.reason.indexOf(rpc.TRACEBACK_MARKER);
    assert.equal(exc.reason.slice(0, at), "TypeError: boom");
    assert.equal(rpc.TRACEBACK_MARKER, "\n--- polyhost traceback ---\n");
    assert.equal(exc.reason.slice(at + rpc.TRACEBACK_MARKER.length), exc.trace);
    assert.match(exc.trace, /innerHelper/);
    const back = fromCapnpException(exc);
    assert.deepEqual([back.reason, back.trace], ["TypeError: boom", exc.trace]);
    // A peer that drops `trace` still gets it from the reason.
    const onlyReason = new M.Exception({ reason: exc.reason, type: exc.type });
    assert.equal(fromCapnpException(onlyReason).trace, exc.trace);
    // No stack: the reason is left as it is.
    const plain = toCapnpException(new rpc.RpcError("too busy", "overloaded"));
    assert.deepEqual([plain.reason, plain.trace, plain.type], ["too busy", "", M.Exception_Type.OVERLOADED]);
    // A subclass without its own `name` is named after its class.
    class ConformanceError extends Error {}
    assert.equal(rpc.errorName(new ConformanceError("x")), "ConformanceError");
    assert.equal(rpc.fromJsError(new ConformanceError("x")).reason, "ConformanceError: x");
  });

  test("an RpcError keeps its type", async () => {
    const e = await f.cap.$call(ROOT, OVERLOAD, null, Empty).then(() => null, (err) => err);
    assert.deepEqual([e.type, e.reason], ["overloaded", "too busy"]);
  });

  test("a bad handler result", async () => {
    const e = await f.cap.$call(ROOT, BAD_RESULT, null, Ints).then(() => null, (err) => err);
    assert.match(e.reason, /^TypeError:/);
  });

  test("a pipelined call on a failed call fails", async () => {
    const p = f.cap.$call(ROOT, FAIL, new Text({ text: "x" }), Cap);
    const c = p.pipeline(0);
    await assert.rejects(c.$call(COUNTER, GET, null, Ints), rpc.RemoteError);
    await assert.rejects(p, rpc.RemoteError);
  });

  test("a disconnect fails outstanding calls and aborts running handlers", async () => {
    const p = f.cap.$call(ROOT, SLEEP, new Ints({ a: 10000 }), Ints);
    await eventually(() => f.root.sleepStarted === 1);
    f.server.close();
    await assert.rejects(p, rpc.DisconnectedError);
    await assert.rejects(f.cap.$call(ROOT, ADD, new Ints(), Ints), rpc.DisconnectedError);
    assert.ok(await eventually(() => f.root.sleepCancelled === 1));
  });
});

describe("cancellation", () => {
  const f = fixture();

  test("an aborted AbortSignal cancels the call", async () => {
    const ac = new AbortController();
    const p = f.cap.$call(ROOT, SLEEP, new Ints({ a: 10000 }), Ints, null, { signal: ac.signal });
    await eventually(() => f.root.sleepStarted === 1);
    ac.abort();
    await assert.rejects(p, rpc.CanceledError);
    assert.ok(await eventually(() => f.root.sleepCancelled === 1));
    await f.assertTablesEmpty();
  });
});

describe("concurrency", () => {
  const f = fixture({ maxConcurrency: 2 });

  test("the concurrency limit", async () => {
    await Promise.all(Array.from({ length: 6 }, () => f.cap.$call(ROOT, SLEEP, new Ints({ a: 20 }), Ints)));
    assert.equal(f.root.maxRunning, 2);
  });
});

describe("pipelining", () => {
  const f = fixture();

  test("pipelining on the bootstrap", async () => {
    const cap = f.client.bootstrap();
    const p = cap.$call(ROOT, ADD, new Ints({ a: 1, b: 2 }), Ints);
    assert.equal(f.client.stats["recv.return"], undefined);
    assert.equal((await p).a, 3);
    cap.close();
  });

  test("a nested pointer path", async () => {
    const p = f.cap.$call(ROOT, GET_NESTED, new Ints({ a: 9 }), Nested);
    const c = p.pipeline(0, 0);
    assert.equal((await c.$call(COUNTER, GET, null, Ints)).a, 9);
    const r = await p;
    assert.equal(r.inner.n, 7);
    assert.equal((await r.inner.cap.$call(COUNTER, GET, null, Ints)).a, 9);
  });

  test("E-order on a pipelined capability", async () => {
    const c = f.cap.$call(ROOT, GET_COUNTER, new Ints({ a: 1 }), Cap).pipeline(0);
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => c.$call(COUNTER, INC, new Ints({ a: 1, b: i }), Ints)));
    assert.deepEqual(rs.map((r) => r.a), Array.from({ length: 50 }, (_, i) => i + 2));
  });

  test("an embargo when a pipelined capability resolves to a local one", async () => {
    const local = new Counter(0);
    const p = f.cap.$call(ROOT, ECHO_CAP, new Cap({ cap: local }), Cap);
    const echoed = p.pipeline(0);
    // Before the Return: these go to the server, which reflects them back to us.
    const first = [0, 1, 2].map((i) => echoed.$call(COUNTER, INC, new Ints({ a: 1, b: i }), Ints));
    const r = await p; // resolves to our own `local`: embargoed until the Disembargo echoes
    const later = [3, 4, 5].map((i) => echoed.$call(COUNTER, INC, new Ints({ a: 1, b: i }), Ints));
    await Promise.all([...first, ...later]);
    assert.deepEqual(local.seen, [0, 1, 2, 3, 4, 5]);
    assert.equal(f.client.stats["sent.disembargo"], 1);
    assert.equal(f.client.stats["recv.disembargo"], 1);
    echoed.close();
    r.cap.close();
    p.$pending.content.dispose();
    await f.assertTablesEmpty();
  });
});

describe("capability passing", () => {
  const f = fixture();

  test("the same capability received three times is one import with three references", async () => {
    const ps = [];
    for (let i = 0; i < 3; i++) ps.push(f.cap.$call(ROOT, GET_COUNTER, new Ints({ a: 0 }), Cap));
    const rs = await Promise.all(ps);
    assert.equal(f.server.tableSizes().exports, 2); // root + counter
    const imp = [...f.client._imports.values()].find((i) => i.importId !== 0);
    assert.equal(imp.remoteRefs, 3);
    for (const p of ps) p.$pending.content.dispose();
    rs[0].cap.close();
    rs[1].cap.close();
    await settle();
    assert.equal(f.server.tableSizes().exports, 2);
    rs[2].cap.close();
    await settle();
    assert.equal(f.server.tableSizes().exports, 1);
    await f.assertTablesEmpty();
  });

  test("a capability sent back is receiver-hosted", async () => {
    const r = await f.cap.$call(ROOT, GET_COUNTER, new Ints({ a: 1 }), Cap);
    const back = await f.cap.$call(ROOT, ECHO_CAP, new Cap({ cap: r.cap, n: 3 }), Cap);
    assert.equal(back.n, 3);
    assert.equal(back.cap[rpc.HOOK], r.cap[rpc.HOOK]);
    assert.equal(f.client.tableSizes().exports, 0);
  });

  test("a pipelined capability passed as a parameter", async () => {
    const p = f.cap.$call(ROOT, GET_COUNTER, new Ints({ a: 5 }), Cap);
    const c = p.pipeline(0);
    await f.cap.$call(ROOT, HOLD, new Cap({ cap: c }), Empty); // receiverAnswer
    assert.equal((await f.cap.$call(ROOT, CALL_HELD, new Ints({ a: 1 }), Ints)).a, 6);
    await f.cap.$call(ROOT, DROP_HELD, null, Empty);
    c.close();
    (await p).cap.close();
    p.$pending.content.dispose();
    await f.assertTablesEmpty();
  });

  test("a dropped reference is released once collected", async () => {
    await f.cap.$call(ROOT, GET_COUNTER, new Ints({ a: 3 }), Cap);
    assert.equal(f.server.tableSizes().exports, 2);
    assert.ok(await eventually(async () => {
      await settle();
      return f.server.tableSizes().exports === 1;
    }, 5000));
  });
});

describe("-> stream flow control", () => {
  const f = fixture();
  let saved;
  beforeEach(() => {
    saved = client.STREAM_WINDOW_CALLS;
  });
  afterEach(() => {
    assert.equal(client.STREAM_WINDOW_CALLS, saved);
  });

  test("stream calls arrive in order, one at a time, within the window", async () => {
    const r = await f.cap.$call(ROOT, GET_SINK, new Ints({ a: 1 }), Cap);
    const sink = r.cap;
    let maxInFlight = 0;
    for (let i = 0; i < 300; i++) {
      await sink.$stream(SINK, PUSH, new Ints({ a: i }));
      maxInFlight = Math.max(maxInFlight, sink[rpc.HOOK]._flow.calls);
    }
    assert.ok(maxInFlight <= client.STREAM_WINDOW_CALLS, `${maxInFlight}`);
    assert.ok(maxInFlight > 1);
    assert.equal((await sink.$call(SINK, END, null, Ints)).a, 300);
    assert.deepEqual(f.root.sink.items, Array.from({ length: 300 }, (_, i) => i));
    assert.equal(f.root.sink.maxRunning, 1);
    await sink.$waitStreams();
  });

  test("a failed stream call is reported by later ones", async () => {
    const sink = (await f.cap.$call(ROOT, GET_SINK, new Ints({ a: 0, b: 5 }), Cap)).cap;
    const err = await (async () => {
      for (let i = 1; i < 1000; i++) {
        await sink.$stream(SINK, PUSH, new Ints({ a: i }));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })().then(() => null, (e) => e);
    assert.match(err.reason, /bad item 5/);
    await assert.rejects(sink.$waitStreams(), rpc.RemoteError);
  });

  test("a local stream", async () => {
    const s = new Sink();
    const cap = new rpc.Capability(s);
    for (let i = 0; i < 20; i++) await cap.$stream(SINK, PUSH, new Ints({ a: i }));
    assert.equal((await cap.$call(SINK, END, null, Ints)).a, 20);
    assert.equal(s.endedAfter, 20);
  });
});

/** Makes a Counter once `go()` is called (a local call that stays unresolved a while). */
class Factory extends rpc.Server {
  static $methods = rpc.methodTable([], [[FACTORY, 0, "make", Ints, Cap, false]]);

  constructor() {
    super();
    this.ready = new Promise((resolve) => { this.go = resolve; });
  }

  async make(p) {
    await this.ready;
    if (p.b) throw new Error("no counter today");
    return { cap: new Counter(p.a) };
  }
}

describe("exported promises", () => {
  const f = fixture();

  test("a local promise exported, then resolved", async () => {
    const fac = new Factory();
    const lp = new rpc.Capability(fac).$call(FACTORY, 0, new Ints({ a: 50 }), Cap);
    const promised = lp.pipeline(0); // a local promise: exported as senderPromise
    await f.cap.$call(ROOT, HOLD, new Cap({ cap: promised }), Empty);
    const held = f.cap.$call(ROOT, CALL_HELD, new Ints({ a: 1 }), Ints);
    await settle();
    assert.equal(held.$pending.done, false); // queued at our export until it resolves
    fac.go();
    assert.equal((await held).a, 51);
    assert.equal(f.client.stats["sent.resolve"], 1);
    assert.equal(f.server.stats["sent.disembargo"], undefined);
    assert.equal((await f.cap.$call(ROOT, CALL_HELD, new Ints({ a: 1 }), Ints)).a, 52);
    await f.cap.$call(ROOT, DROP_HELD, null, Empty);
    promised.close();
    (await lp).cap.close();
    lp.$pending.content.raw().dispose();
    await f.assertTablesEmpty();
  });

  test("a local promise resolved to an error", async () => {
    const fac = new Factory();
    const lp = new rpc.Capability(fac).$call(FACTORY, 0, new Ints({ a: 1, b: 1 }), Cap);
    const promised = lp.pipeline(0);
    await f.cap.$call(ROOT, HOLD, new Cap({ cap: promised }), Empty);
    const held = f.cap.$call(ROOT, CALL_HELD, new Ints({ a: 1 }), Ints);
    fac.go();
    const e = await held.then(() => null, (err) => err);
    assert.match(e.reason, /no counter today/);
    assert.equal(f.client.stats["sent.resolve"], 1);
    await assert.rejects(f.cap.$call(ROOT, CALL_HELD, new Ints({ a: 1 }), Ints), rpc.RemoteError);
    await f.cap.$call(ROOT, DROP_HELD, null, Empty);
    promised.close();
    await lp.catch(() => {});
    await f.assertTablesEmpty();
  });
});
