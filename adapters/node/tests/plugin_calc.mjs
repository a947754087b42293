// A test plugin: implements features.capnp's Calculator (and Counter) for the worker and
// stream tests. Run as `node polyhost/worker.mjs plugin_calc.mjs:factory` with tests/
// and tests/generated/ on POLYHOST_NODE_PATH; plugin_broken.mjs fails at import.

import * as context from "polyhost/context";
import * as F from "features_capnp.mjs";

export class CounterImpl extends F.Counter {
  constructor(start) {
    super();
    this.value = BigInt(start);
  }

  async increment({ by }) {
    this.value += by;
    return new F.Counter_IncrementResults({ value: this.value });
  }

  read() { // synchronous: completes without a promise
    return { value: this.value };
  }
}

export class CalculatorImpl extends F.Calculator {
  constructor(logger = null) {
    super();
    this.logger = logger;
    this.ticks = [];
    this.linesSeen = [];
  }

  name(params, ctx) {
    const c = context.current();
    return { name: `calc pid=${process.pid} session=${c?.session ?? ""} ctx=${ctx.context?.session ?? ""}` };
  }

  add({ a, b }) {
    return { sum: a + b };
  }

  async describe({ shape }) {
    const area = shape.which === "circle" ? 3 * shape.circle * shape.circle : 0;
    return { area, label: shape.name };
  }

  counter({ start }) {
    return { counter: new CounterImpl(start) };
  }

  async useLogger({ logger }) {
    const l = logger ?? this.logger;
    const lines = l.lines(); // the host produces, we consume
    this.linesSeen = [];
    for await (const line of lines) this.linesSeen.push(line);
    const res = await lines.results();
    await l.log({ level: F.Color.BLUEISH, message: `got ${this.linesSeen.length} lines, count=${res.count}` });
  }

  async numbers({ count }, out) {
    for (let i = 0; i < count; i++) {
      if (i === 13 && count === 13000) throw new RangeError("unlucky");
      await out.send(new F.Point({ x: i, y: -i }));
    }
  }

  async sum(params, input) {
    await input.sendMany([0, 1, 2, 3, 4].map((x) => ({ x, y: 1 })));
    return { total: { x: 10, y: 5 } };
  }

  tick({ n }) {
    this.ticks.push(n);
  }

  echo({ value }) {
    return { value };
  }

  async holder() {
    return { holder: { counter: new CounterImpl(7) } };
  }
}

export function factory(host) {
  const logger = host.has(F.LoggerClient) ? host.client(F.LoggerClient) : null;
  return [new CalculatorImpl(logger), new CounterImpl(100)];
}

export async function slowFactory(host) {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return new CalculatorImpl();
}

export function badFactory() {
  throw new Error("the factory refuses");
}

export class Slow extends F.Calculator {
  async add({ a, b }) {
    await new Promise((resolve) => setTimeout(resolve, a));
    return { sum: a + b };
  }
}

export function slow() {
  return new Slow();
}
