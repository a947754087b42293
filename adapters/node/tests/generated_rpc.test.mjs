// Generated server base classes and typed clients, and Sink(T) streams in both
// directions: two connections over a socket pair (a "host" side calling a "worker" side,
// which calls back into the host). Uses tests/generated/features_capnp.mjs and the
// plugin in tests/plugin_calc.mjs.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as rpc from "../polyhost/rpc/index.mjs";
import * as streams from "../polyhost/streams.mjs";
import { installSearchPath } from "../polyhost/worker.mjs";
import * as F from "./generated/features_capnp.mjs";
import { HERE, sleep, socketPair } from "./support.mjs";

// The plugin imports its generated module by name, as in a worker.
installSearchPath([`${HERE}/generated`, HERE]);
const { CalculatorImpl } = await import("./plugin_calc.mjs");

/** The host's callback: log() records, lines() produces a stream. */
class HostLogger extends F.Logger {
  constructor(nLines = 5, failAfter = null) {
    super();
    this.logs = [];
    this.nLines = nLines;
    this.failAfter = failAfter;
  }

  log({ level, message }) {
    this.logs.push([level, message]);
  }

  async lines(params, sink) {
    for (let i = 0; i < this.nLines; i++) {
      if (i === this.failAfter) throw new SyntaxError("no more lines");
      await sink.send(`line ${i}`);
    }
    return { count: this.nLines };
  }
}

/** A worker-side and a host-side connection; `fn(pair)` runs with them. */
async function withPair(workerObj, hostObj, fn) {
  const [a, b] = await socketPair();
  const worker = new rpc.Connection(a, { bootstrap: workerObj, name: "worker" });
  const host = new rpc.Connection(b, { bootstrap: hostObj, name: "host" });
  try {
    await fn({ worker, host, client: (Cls) => host.bootstrap().castAs(Cls) });
  } finally {
    host.close();
    worker.close();
    await Promise.all([host.closed$, worker.closed$]);
  }
}

describe("calls", () => {
  test("calls, results and pipelining", () => withPair(new CalculatorImpl(), null, async (p) => {
    const calc = p.client(F.CalculatorClient);
    const res = await calc.add({ a: 2, b: 40 });
    assert.ok(res instanceof F.Calculator_AddResults);
    assert.equal(res.sum, 42);
    assert.match((await calc.name()).name, /^calc pid=/);
    const d = await calc.describe({ shape: { name: "round", circle: 2 } });
    assert.deepEqual([d.area, d.label], [12, "round"]);
    // pipelining: call the returned capability before the call returns
    const counter = calc.counter({ start: 5 }).counter;
    assert.ok(counter instanceof F.CounterClient);
    assert.equal((await counter.increment({ by: 3 })).value, 8n);
    assert.equal((await counter.read()).value, 8n);
    // capabilities in returned structs are typed clients
    const h = (await calc.holder()).holder;
    assert.ok(h.counter instanceof F.CounterClient);
    assert.equal((await h.counter.read()).value, 7n);
    // a generic instantiation through a call
    const e = await calc.echo({ value: new F.Pair({ key: "k", value: new F.Point({ x: 1, y: 2 }) }) });
    assert.equal(e.value.key, "k");
    assert.deepEqual({ ...e.value.value }, { x: 1, y: 2 });
  }));

  test("stream methods and unimplemented ones", async () => {
    const impl = new CalculatorImpl();
    await withPair(impl, null, async (p) => {
      const calc = p.client(F.CalculatorClient);
      for (let i = 0; i < 50; i++) await calc.tick({ n: i });
      await calc.$waitStreams();
      assert.deepEqual(impl.ticks, Array.from({ length: 50 }, (_, i) => i));
      const counter = p.client(F.CounterClient); // the worker serves no Counter
      const err = await counter.read().then(() => null, (e) => e);
      assert.equal(err.type, "unimplemented");
    });
    await withPair(new F.Calculator(), null, async (p) => { // the bare base class
      const err = await p.client(F.CalculatorClient).add({ a: 1, b: 2 }).then(() => null, (e) => e);
      assert.equal(err.type, "unimplemented");
      assert.match(err.reason, /Calculator\.add/);
    });
  });

  test("handler errors", async () => {
    class Bad extends F.Calculator {
      async add() { throw new RangeError("nope"); }
      describe() { throw new rpc.RpcError("busy", rpc.ExceptionType.OVERLOADED); }
    }
    await withPair(new Bad(), null, async (p) => {
      const calc = p.client(F.CalculatorClient);
      let err = await calc.add().then(() => null, (e) => e);
      assert.match(err.reason, /^RangeError: nope$/);
      assert.match(err.trace, /generated_rpc\.test\.mjs/);
      err = await calc.describe({ shape: {} }).then(() => null, (e) => e);
      assert.equal(err.type, "overloaded");
    });
  });
});

describe("streams", () => {
  test("worker to host", () => withPair(new CalculatorImpl(), null, async (p) => {
    const calc = p.client(F.CalculatorClient);
    const points = calc.numbers({ count: 10 });
    assert.ok(points instanceof streams.Inbound);
    const got = [];
    for await (const pt of points) got.push([pt.x, pt.y]);
    assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => [i, -i]));
    assert.ok((await points.results()) instanceof F.Calculator_NumbersResults);
    // many items: batching and the bounded queue with a slow consumer
    let n = 0;
    const big = calc.numbers({ count: 20000 });
    for await (const pt of big) {
      if (n % 2000 === 0) await sleep(1);
      assert.equal(pt.x, n);
      n++;
    }
    assert.equal(n, 20000);
    // a producer using sendMany
    const summed = calc.sum();
    assert.deepEqual((await summed.collect()).map((pt) => pt.x), [0, 1, 2, 3, 4]);
    assert.deepEqual({ ...(await summed.results()).total }, { x: 10, y: 5 });
    // nothing to stream
    assert.deepEqual(await calc.numbers({ count: 0 }).collect(), []);
  }));

  test("batches grow with the backlog", () => withPair(new CalculatorImpl(), null, async (p) => {
    const sizes = [];
    for await (const batch of p.client(F.CalculatorClient).numbers({ count: 30000 }).batches()) sizes.push(batch.length);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 30000);
    assert.ok(sizes.length < 1000, `${sizes.length} pushes`);
  }));

  test("host to worker", async () => {
    const logger = new HostLogger(7);
    const impl = new CalculatorImpl();
    await withPair(impl, logger, async (p) => {
      const calc = p.client(F.CalculatorClient);
      await calc.useLogger({ logger });
      assert.deepEqual(impl.linesSeen, Array.from({ length: 7 }, (_, i) => `line ${i}`));
      assert.deepEqual(logger.logs, [[F.Color.BLUEISH, "got 7 lines, count=7"]]);
      // the same through the worker's bootstrap of the host
      const lines = p.worker.bootstrap().castAs(F.LoggerClient).lines();
      assert.deepEqual(await lines.collect(), Array.from({ length: 7 }, (_, i) => `line ${i}`));
      assert.equal((await lines.results()).count, 7);
    });
  });

  test("a producer's failure reaches the consumer after the items before it", () => withPair(new CalculatorImpl(), new HostLogger(10, 4), async (p) => {
    const calc = p.client(F.CalculatorClient);
    const got = [];
    const stream = calc.numbers({ count: 13000 }); // the plugin throws at item 13
    const err = await (async () => {
      for await (const pt of stream) got.push(pt);
    })().then(() => null, (e) => e);
    assert.equal(got.length, 13);
    assert.ok(err instanceof streams.StreamError, String(err));
    assert.equal(err.remoteType, "RangeError");
    assert.match(err.reason, /unlucky/);
    assert.match(err.trace, /plugin_calc\.mjs/);
    await assert.rejects(stream.promise, rpc.RemoteError); // the call fails too
    const lines = p.worker.bootstrap().castAs(F.LoggerClient).lines();
    const err2 = await lines.collect().then(() => null, (e) => e);
    assert.equal(err2.remoteType, "SyntaxError");
  }));

  test("the consumer stops early", async () => {
    class Endless extends F.Calculator {
      constructor() {
        super();
        this.error = null;
        this.aborted = false;
      }

      add({ a, b }) { return { sum: a + b }; }

      async numbers(params, out, ctx) {
        try {
          for (let i = 0; ; i++) await out.send(new F.Point({ x: i }));
        } catch (e) {
          this.error = e;
          this.aborted = ctx.signal.aborted;
          throw e;
        }
      }
    }
    const impl = new Endless();
    await withPair(impl, null, async (p) => {
      const calc = p.client(F.CalculatorClient);
      for await (const pt of calc.numbers()) if (pt.x >= 100) break; // cancels the call
      for (let i = 0; i < 200 && impl.error === null; i++) await sleep(10);
      assert.ok(impl.error !== null); // its push failed
      assert.ok(impl.aborted); // and its signal was aborted
      assert.equal((await calc.add({ a: 1, b: 1 })).sum, 2); // still serving
    });
  });

  test("a failed call ends the iteration", async () => {
    class NoSink extends F.Calculator {
      async numbers() { throw new rpc.RpcError("refused", rpc.ExceptionType.OVERLOADED); }
    }
    await withPair(new NoSink(), null, async (p) => {
      const err = await p.client(F.CalculatorClient).numbers({ count: 3 }).collect().then(() => null, (e) => e);
      assert.ok(err instanceof rpc.RpcError);
    });
  });
});
