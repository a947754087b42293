// A Node plugin written in TypeScript against the generated declarations of
// tests/schema/features.capnp (../generated/features_capnp.d.ts) and the runtime's
// (polyhost/*). Never run: tests/tests/node_typescript.rs type-checks it with
// `tsc --noEmit` under strict settings (tsconfig.json), so a declaration that does not
// match what plugins write fails the build. wrong.ts holds the mistakes that must fail.

import * as F from "features_capnp.mjs";
import * as context from "polyhost/context";
import { RpcError, type CallPromise, type HandlerContext } from "polyhost/rpc";
import type { Inbound, Producer } from "polyhost/streams";
import type { Factory, Host } from "polyhost/worker";

/** A capability handed out by `Calculator.counter`. */
class CounterImpl extends F.Counter {
  value: bigint;

  constructor(start: bigint) {
    super();
    this.value = start;
  }

  override async increment({ by }: F.Counter_IncrementParams): Promise<F.Counter_IncrementResults> {
    this.value += by;
    return new F.Counter_IncrementResults({ value: this.value });
  }

  override read(): F.Counter_ReadResults$Init { // synchronous, a plain object of the fields
    return { value: this.value };
  }
}

class CalculatorImpl extends F.Calculator {
  constructor(private readonly logger: F.LoggerClient | null) {
    super();
  }

  override name(_params: F.Named_NameParams, ctx: HandlerContext): F.Named_NameResults$Init {
    const session: string = context.current()?.session ?? ctx.context?.session ?? "";
    return { name: `calc pid=${process.pid} session=${session}` };
  }

  override add({ a, b }: F.Calculator_AddParams) {
    return { sum: a + b };
  }

  override async describe({ shape }: F.Calculator_DescribeParams) {
    if (shape === null) return { area: 0, label: "" }; // a constructed params struct may hold null
    let area = 0;
    switch (shape.which) {
      case "circle": area = 3 * (shape.circle ?? 0) ** 2; break;
      case "rectangle": area = (shape.rectangle?.x ?? 0) * (shape.rectangle?.y ?? 0); break;
      case "polygon": area = (shape.polygon ?? []).length; break;
      case "empty": case null: break;
    }
    const kind: F.Shape_Label_Kind = shape.label?.kind ?? F.Shape_Label_Kind.PLAIN;
    const corner: F.Point | null = shape.anchor.which === "corner" ? shape.anchor.corner : null;
    const width: number = shape.style.width + (corner?.x ?? 0);
    return new F.Calculator_DescribeResults({ area: area * width, label: `${shape.name}/${kind}` });
  }

  override counter({ start }: F.Calculator_CounterParams) {
    return { counter: new CounterImpl(start) };
  }

  override async useLogger({ logger }: F.Calculator_UseLoggerParams, ctx: HandlerContext): Promise<void> {
    const log = logger ?? this.logger;
    if (log === null) throw new RpcError("no logger", "failed");
    const lines: Inbound<string, F.Logger_LinesResults> = log.lines();
    const seen: string[] = [];
    for await (const line of lines) seen.push(line);
    const { count } = await lines.results();
    await log.log({ level: F.Color.BLUEISH, message: `${seen.length} of ${count}` }, { signal: ctx.signal });
  }

  override async numbers({ count }: F.Calculator_NumbersParams, out: Producer<F.Point>, ctx: HandlerContext) {
    for (let i = 0; i < count && !ctx.signal.aborted; i++) await out.send(new F.Point({ x: i, y: -i }));
  }

  override async sum(_params: F.Calculator_SumParams, input: Producer<F.Point>) {
    await input.sendMany([0, 1, 2].map((x) => new F.Point({ x, y: 1 })));
    return { total: { x: 3, y: 3 } };
  }

  override tick(_params: F.Calculator_TickParams): void {}

  override echo({ value }: F.Calculator_EchoParams): F.Calculator_EchoResults$Init {
    return { value };
  }

  override holder() {
    return { holder: new F.Holder({ counter: new CounterImpl(7n), counters: [new CounterImpl(1n), null], any: null }) };
  }
}

/** The entry point: `plugin.mjs:make`. */
export const make: Factory = (host: Host) => {
  const logger = host.has(F.LoggerClient) ? host.client(F.LoggerClient) : null;
  return [new CalculatorImpl(logger), new CounterImpl(100n)];
};

/** The caller's side: typed clients, promise pipelining, streams, struct values. */
export async function drive(calc: F.CalculatorClient): Promise<number> {
  const { sum } = await calc.add({ a: 1, b: 2 });
  const pending: F.Calculator_CounterPromise = calc.counter({ start: 5n });
  const later: CallPromise<F.Calculator_CounterResults> = pending;
  const counter: F.CounterClient = pending.counter; // pipelined: usable before it returns
  const { value } = await counter.increment({ by: 1 });
  counter.close();
  (await later).counter?.close();
  let xs = 0;
  for await (const point of calc.numbers({ count: 3 })) xs += point.x;
  const shape = new F.Shape({ name: "c", circle: 1.5, style: { color: F.Color.RED }, anchor: { which: "center" } });
  const { area, label } = await calc.describe({ shape });
  await calc.tick({ n: 1 });
  const { name } = await calc.castAs(F.NamedClient).name();
  const primitives = new F.Primitives({ i64: 5, u64: 6n, data: new Uint8Array(2), color: F.Color.GREEN });
  const bigs: bigint = primitives.i64 + primitives.u64;
  const lists = new F.Lists({ points: [{ x: 1 }, new F.Point()], nested: [[1, 2]], words: [["a"]] });
  const origin: F.Point = F.ORIGIN;
  return sum + Number(value + bigs) + xs + area + label.length + name.length + (lists.points?.length ?? 0) + origin.x + F.ANSWER;
}
