// Mistakes a plugin author can make, each of which the generated declarations must
// reject: tsc -p tsconfig.wrong.json must report exactly the errors marked
// `// error TSnnnn` on their lines (tests/tests/node_typescript.rs). If a declaration
// became too loose (`any`), a marked line would pass and the test fails.

import * as F from "features_capnp.mjs";
import type { Host } from "polyhost/worker";

class BadCalculator extends F.Calculator {
  override add({ a, b }: F.Calculator_AddParams) { // error TS2416
    return { sum: `${a}${b}` };
  }

  override divide() {} // error TS4113
}

export async function misuse(calc: F.CalculatorClient, host: Host): Promise<void> {
  await calc.add({ a: 1, b: "2" }); // error TS2322
  const text: string = (await calc.add({ a: 1, b: 2 })).sum; // error TS2322
  const point = new F.Point({ x: 1, z: 2 }); // error TS2353
  await calc.frobnicate(); // error TS2339
  const counter: F.CounterClient = calc.counter({ start: 1n }).count; // error TS2551
  const small: number = new F.Primitives().i64; // error TS2322
  const color: F.Color = 7; // error TS2322
  const shape = new F.Shape({ which: "square" }); // error TS2322
  for await (const p of calc.numbers({ count: 3 })) p.z; // error TS2339
  const client = host.client(F.Calculator); // error TS2345
  await calc.tick({ n: 1 }).counter; // error TS2339
  void [text, point, counter, small, color, shape, client, BadCalculator];
}
