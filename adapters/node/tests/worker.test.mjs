// The worker process: node polyhost/worker.mjs module.mjs:factory on a socketpair end
// (fd 3), driven through the WorkerProcess protocol.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as P from "../polyhost/polyhost_capnp.mjs";
import * as rpc from "../polyhost/rpc/index.mjs";
import * as F from "./generated/features_capnp.mjs";
import { startWorker } from "./support.mjs";
import { tuneTierUp } from "../polyhost/worker.mjs";

/** The host's Logger callback. */
class HostLogger extends F.Logger {
  constructor() {
    super();
    this.logs = [];
  }

  log({ message }) {
    this.logs.push(message);
  }

  async lines(params, sink) {
    await sink.send("only line");
    return { count: 1 };
  }
}

function connect(w) {
  const conn = new rpc.Connection(w.socket, { name: "host" });
  return { conn, process: conn.bootstrap().castAs(P.WorkerProcessClient) };
}

describe("worker process", () => {
  test("handshake, calls, scoped context, ping and shutdown", async () => {
    const w = startWorker("plugin_calc.mjs:factory");
    const { conn, process: wp } = connect(w);
    const logger = new HostLogger();
    const started = await wp.start({
      callbacks: [new P.Service({ interfaceId: F.Logger.$interfaceId, name: "Logger", cap: logger })],
    });
    const info = started.info;
    assert.equal(info.language, "node");
    assert.equal(info.runtimeVersion, `Node.js ${process.versions.node}`);
    assert.equal(info.pid, w.child.pid);
    const fps = Object.fromEntries(info.fingerprints.map((f) => [f.schema, f.fingerprint]));
    assert.deepEqual(fps, { "polyhost.capnp": P.FINGERPRINT, "features.capnp": F.FINGERPRINT });
    assert.deepEqual(started.services.map((s) => s.name), ["Calculator", "Counter"]);
    assert.deepEqual(started.services.map((s) => s.interfaceId), [F.Calculator.$interfaceId, F.Counter.$interfaceId]);

    const calc = started.services[0].cap.castAs(F.CalculatorClient);
    assert.equal((await calc.add({ a: 20, b: 22 })).sum, 42);
    await calc.useLogger({}); // the worker calls the callback it got at start
    assert.deepEqual(logger.logs, ["got 1 lines, count=1"]);
    const counter = started.services[1].cap.castAs(F.CounterClient);
    assert.equal((await counter.increment({ by: 1 })).value, 101n);

    // A scoped view: handlers see the context.
    const scoped = wp.scoped({ context: { session: "user-7", traceParent: "00-abc" }, interfaceId: F.Calculator.$interfaceId });
    const name = (await scoped.service.castAs(F.CalculatorClient).name()).name;
    assert.match(name, /session=user-7 ctx=user-7$/);
    assert.match((await calc.name()).name, /session= ctx=$/);
    await assert.rejects(wp.scoped({ interfaceId: 5n }).service.castAs(F.CalculatorClient).add({}), /serves no interface/);

    assert.equal((await wp.ping({ nonce: 0xFFFFFFFFFFFFFFFFn })).nonce, 0xFFFFFFFFFFFFFFFFn);
    await assert.rejects(wp.start({}), /already called/);
    await wp.shutdown();
    const exit = await w.exited;
    assert.equal(exit.code, 0, exit.stderr);
    conn.close();
  });

  test("EOF exits with status 0", async () => {
    const w = startWorker("plugin_calc.mjs:factory");
    const { conn, process: wp } = connect(w);
    await wp.ping({ nonce: 1n });
    conn.close();
    assert.equal((await w.exited).code, 0);
  });

  test("an import error exits with status 3 and the stack", async () => {
    const w = startWorker("plugin_broken.mjs:factory");
    const exit = await w.exited;
    assert.equal(exit.code, 3);
    assert.match(exit.stderr, /this plugin is broken on purpose/);
    assert.match(exit.stderr, /plugin_broken\.mjs:4/);
    const missing = await startWorker("no_such_plugin.mjs:factory").exited;
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /no_such_plugin/);
    const notAFunction = await startWorker("plugin_calc.mjs:nothing").exited;
    assert.equal(notAFunction.code, 3);
    assert.match(notAFunction.stderr, /is not a function/);
  });

  test("usage errors exit with status 2", async () => {
    const w = startWorker(null);
    const exit = await w.exited;
    assert.equal(exit.code, 2);
    assert.match(exit.stderr, /usage/);
    assert.equal((await startWorker("plugin_calc.mjs:factory", { env: { POLYHOST_FD: "x" } }).exited).code, 2);
  });

  test("factory errors fail start, and the worker carries on", async () => {
    const w = startWorker("plugin_calc.mjs:badFactory");
    const { conn, process: wp } = connect(w);
    const err = await wp.start({}).then(() => null, (e) => e);
    assert.ok(err instanceof rpc.RemoteError);
    assert.match(err.reason, /^Error: the factory refuses/);
    assert.equal((await wp.ping({ nonce: 3n })).nonce, 3n);
    conn.close();
    assert.equal((await w.exited).code, 0);
    // An async factory works.
    const w2 = startWorker("plugin_calc.mjs:slowFactory");
    const c2 = connect(w2);
    assert.deepEqual((await c2.process.start({})).services.map((s) => s.name), ["Calculator"]);
    c2.conn.close();
    await w2.exited;
  });

  test("shutdown lets running calls finish; POLYHOST_CONCURRENCY bounds them", async () => {
    const w = startWorker("plugin_calc.mjs:slow", { env: { POLYHOST_CONCURRENCY: "2" } });
    const { conn, process: wp } = connect(w);
    const calc = (await wp.start({})).services[0].cap.castAs(F.CalculatorClient);
    const t0 = Date.now();
    const calls = [150, 150, 150].map((ms) => calc.add({ a: ms, b: 1 }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await wp.shutdown();
    assert.deepEqual((await Promise.all(calls)).map((r) => r.sum), [151, 151, 151]);
    assert.ok(Date.now() - t0 >= 290, "two at a time: the third waited"); // 2 x 150 ms
    assert.equal((await w.exited).code, 0);
    conn.close();
  });

  test("the interrupt budget is lowered unless the command line or NODE_OPTIONS sets it", () => {
    assert.equal(tuneTierUp(["--interrupt-budget=70000"], {}), false);
    assert.equal(tuneTierUp([], { NODE_OPTIONS: "--max-old-space-size=64 --interrupt_budget=70000" }), false);
    assert.equal(tuneTierUp(["--interrupt-budget-for-feedback-allocation=900"], {}), true);
  });
});
