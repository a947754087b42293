// A generated module's structs, enums and constants: every struct of
// tests/schema/features.capnp through wire bytes and back.
//
// The module under test is tests/generated/features_capnp.mjs, checked in and kept
// current by the Rust test tests/tests/guest_modules_current.rs (regenerate with
// `cargo run -p polyhost-tests --bin regenerate -- node`).

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";

import * as P from "../polyhost/polyhost_capnp.mjs";
import * as wire from "../polyhost/wire/index.mjs";
import * as F from "./generated/features_capnp.mjs";
import { ADAPTER } from "./support.mjs";

function encode(obj, capTable = null) {
  const mb = new wire.MessageBuilder({ capTable });
  obj.$write(mb.initRoot(obj.constructor.$dataWords, obj.constructor.$ptrCount));
  return [Buffer.concat(mb.segments()), mb.capTable];
}

const decode = (Cls, data, capTable = null) => Cls.$read(new wire.MessageReader([data], null, capTable).root());

function roundTrip(obj) {
  const [data, caps] = encode(obj);
  const back = decode(obj.constructor, data, caps);
  const [again] = encode(back);
  return [back, data, again];
}

class CounterImpl extends F.Counter {}

/** One instance of every non-group struct of features.capnp, every field other than
 *  its default. */
function samples() {
  const pt = new F.Point({ x: 1.25, y: -3.5 });
  const shapeCircle = new F.Shape({
    name: "disc", circle: 2.5, style: { color: F.Color.BLUEISH, width: 2 },
    anchor: { corner: { x: 9, y: 8 } }, origin: { x: 4, y: 5 },
    label: { text: "big", kind: F.Shape_Label_Kind.BOLD },
  });
  const counter = new F.CounterClient(new CounterImpl());
  return new Map([
    [F.Point, pt],
    [F.Primitives, new F.Primitives({
      flag: true, i8: -128, i16: -32768, i32: -(2 ** 31), i64: -(2n ** 63n), u8: 255, u16: 65535,
      u32: 2 ** 32 - 1, u64: 2n ** 64n - 1n, f32: 1.5, f64: -2.25e300, text: "héllo\n", data: Uint8Array.of(0, 1),
      flagOn: false, minus: 7, big: 0n, ratio: -0.25, notANumber: 1, infinity: -1, named: "", bytes: new Uint8Array(0),
      color: F.Color.RED,
    })],
    [F.Lists, new F.Lists({
      bools: Array.from({ length: 21 }, (_, i) => i % 3 !== 1), ints: [1, -2, 3], floats: [0.5, -1],
      texts: ["a", "", "ü"], blobs: [Uint8Array.of(120), new Uint8Array(0)], points: [pt, new F.Point()],
      colors: [F.Color.BLUEISH, F.Color.RED], nested: [[1, 2], [], [-3]], matrix: [[pt], [pt, pt]],
      words: [["a", "b"], []], defaulted: [9],
    })],
    [F.Shape, shapeCircle],
    [F.Shape_Label, new F.Shape_Label({ text: "t", kind: F.Shape_Label_Kind.BOLD })],
    [F.Tagged, new F.Tagged({ entry: new F.Pair({ key: "k", value: pt }), points: new F.Pair({ key: { x: 1, y: 2 }, value: { x: 3, y: 4 } }) })],
    [F.Holder, new F.Holder({ counter, counters: [counter, null], any: pt })],
    [F.Chain, new F.Chain({
      value: 1, next: { value: 2, branches: [] },
      branches: [new F.Chain({ value: 3, next: { value: 4, branches: [] }, branches: [] }), new F.Chain({ branches: [] })],
    })],
    [F.Ping, new F.Ping({ pong: { ping: { back: { which: "stop" } } }, again: { again: {} } })],
    [F.Pong, new F.Pong({ ping: { back: { again: { pong: {} } } } })],
    [F.Silent, new F.Silent({ hush: { which: "d" } })],
    [F.Nothing, new F.Nothing()],
    [F.Counter_IncrementParams, new F.Counter_IncrementParams({ by: -5n })],
    [F.Logger_LogParams, new F.Logger_LogParams({ level: F.Color.GREEN, message: "m" })],
    [F.Calculator_AddParams, new F.Calculator_AddParams({ a: 1, b: -2 })],
    [F.Calculator_DescribeParams, new F.Calculator_DescribeParams({ shape: shapeCircle })],
    [F.Calculator_DescribeResults, new F.Calculator_DescribeResults({ area: 1.5, label: "l" })],
    [F.Calculator_CounterResults, new F.Calculator_CounterResults({ counter })],
    [F.Calculator_SumResults, new F.Calculator_SumResults({ total: pt })],
    [F.Calculator_TickParams, new F.Calculator_TickParams({ n: 2 })],
  ]);
}

/** Deep equality where capabilities compare by the hook they reference. */
function same(a, b) {
  assert.deepEqual(JSON.stringify(a, replacer), JSON.stringify(b, replacer));
}

function replacer(key, v) {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString("hex")}`;
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  if (v instanceof wire.PointerReader) return "<pointer>";
  if (v !== null && typeof v === "object" && typeof v.castAs === "function") return "<capability>";
  return v;
}

describe("round trips", () => {
  test("every struct round-trips (and encodes the same bytes again)", () => {
    for (const [Cls, obj] of samples()) {
      const [back, data, again] = roundTrip(obj);
      assert.ok(back instanceof Cls, Cls.name);
      if (Cls === F.Holder) {
        same(F.Point.$read(back.any.asStruct()), obj.any); // an AnyPointer reads as a PointerReader
        same({ ...back, any: null }, { ...obj, any: null });
      } else {
        same(back, obj);
      }
      assert.deepEqual(again, data, Cls.name);
    }
  });

  test("union members round-trip", () => {
    for (const init of [{ circle: 1 }, { rectangle: { x: 2, y: 3 } }, { polygon: [{ x: 1, y: 1 }] }, { which: "empty" }]) {
      const [back] = roundTrip(new F.Shape(init));
      assert.equal(back.which, Object.keys(init)[0] === "which" ? "empty" : Object.keys(init)[0]);
    }
    const [back] = roundTrip(new F.Shape({ anchor: { which: "center" } }));
    assert.equal(back.anchor.which, "center");
    assert.equal(back.anchor.corner, null);
  });

  test("union selection", () => {
    assert.equal(new F.Shape().which, "circle");
    assert.equal(new F.Shape().circle, 0);
    assert.equal(new F.Shape({ polygon: [] }).which, "polygon");
    assert.equal(new F.Shape({ which: "rectangle" }).rectangle, null);
    assert.equal(new F.Shape({ polygon: [] }).circle, null);
    assert.throws(() => new F.Shape({ which: "triangle" }), TypeError);
  });

  test("an unknown discriminant reads as which = null", () => {
    const [data] = encode(new F.Shape({ circle: 1 }));
    data[8 + 8] = 77; // the discriminant: data word 1, bytes 0..1
    const back = decode(F.Shape, data);
    assert.equal(back.which, null);
    assert.equal(back.circle, null);
  });

  test("defaults", () => {
    const empty = decode(F.Primitives, new Uint8Array(8));
    const fresh = new F.Primitives();
    same(empty, fresh);
    assert.deepEqual([fresh.flagOn, fresh.minus, fresh.big, fresh.ratio, fresh.named, fresh.color],
      [true, -7, 2n ** 64n - 1n, 0.5, "polyhost", F.Color.GREEN]);
    assert.deepEqual(fresh.bytes, Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
    assert.equal(fresh.infinity, Infinity);
    assert.ok(Number.isNaN(fresh.notANumber));
    // Scalars equal to their default are zero bits; Text and Data are always written.
    const [data] = encode(new F.Primitives());
    const back = decode(F.Primitives, data);
    assert.deepEqual([back.text, back.named], ["", "polyhost"]);
    const root = new wire.MessageReader([data]).root();
    for (let i = 0; i < 4; i++) assert.ok(root.hasPointer(i), `pointer ${i}`);
    assert.deepEqual(new Uint8Array(data.subarray(8, 8 + 8 * F.Primitives.$dataWords)), new Uint8Array(8 * F.Primitives.$dataWords));
    // Pointer defaults: fresh objects each time.
    assert.deepEqual(new F.Lists().defaulted, [1, 2, 3]);
    assert.deepEqual(decode(F.Lists, new Uint8Array(8)).defaulted, [1, 2, 3]);
    assert.deepEqual(decode(F.Lists, new Uint8Array(8)).ints, []);
    same(new F.Shape().origin, new F.Point({ x: 0.5, y: 0.5 }));
    same(decode(F.Shape, new Uint8Array(8)).origin, new F.Point({ x: 0.5, y: 0.5 }));
    assert.equal(decode(F.Shape, new Uint8Array(8)).label, null); // a null struct is absent
    same(new F.Shape().style, new F.Shape_Style({ width: 1 }));
    const a = new F.Lists();
    a.defaulted.push(4);
    assert.deepEqual(new F.Lists().defaulted, [1, 2, 3]);
    const p = new F.Primitives();
    p.bytes[0] = 0;
    assert.equal(new F.Primitives().bytes[0], 0xde);
  });

  test("numbers are accepted for 64-bit fields and read back as BigInts", () => {
    const [back] = roundTrip(new F.Primitives({ i64: -5, u64: 7 }));
    assert.deepEqual([back.i64, back.u64], [-5n, 7n]);
  });

  test("generics", () => {
    const [back] = roundTrip(samples().get(F.Tagged));
    assert.equal(back.entry.key, "k");
    assert.ok(back.entry.value instanceof F.Point);
    same(back.points.key, new F.Point({ x: 1, y: 2 }));
    // Used without type arguments, the parameters read as PointerReaders.
    const raw = decode(F.Pair, encode(new F.Pair({ key: new F.Point({ x: 5, y: 6 }) }))[0]);
    assert.ok(raw.key instanceof wire.PointerReader);
    same(F.Point.$read(raw.key.asStruct()), new F.Point({ x: 5, y: 6 }));
    assert.ok(raw.value.isNull());
  });

  test("AnyPointer and capabilities", () => {
    const [inner] = encode(new F.Point({ x: 7, y: 8 }));
    const reader = new wire.MessageReader([inner]).rootPointer();
    const holder = new F.Holder({ counter: new CounterImpl(), any: reader });
    assert.ok(holder.counter instanceof F.CounterClient);
    const [data, caps] = encode(holder);
    assert.equal(caps.length, 1);
    const back = decode(F.Holder, data, caps);
    assert.ok(back.counter instanceof F.CounterClient);
    same(F.Point.$read(back.any.asStruct()), new F.Point({ x: 7, y: 8 }));
    assert.deepEqual(back.counters, []);
    assert.equal(decode(F.Holder, new Uint8Array(8)).counter, null);
    const back2 = decode(F.Holder, encode(new F.Holder({ any: new F.Point({ x: 1, y: 1 }) }))[0]);
    same(F.Point.$read(back2.any.asStruct()), new F.Point({ x: 1, y: 1 }));
  });

  test("multi-segment messages", () => {
    const obj = samples().get(F.Lists);
    const mb = new wire.MessageBuilder({ firstSegmentWords: 2 });
    obj.$write(mb.initRoot(F.Lists.$dataWords, F.Lists.$ptrCount));
    const segs = mb.segments();
    assert.ok(segs.length > 1);
    same(F.Lists.$read(new wire.MessageReader(segs).root()), obj);
  });

  test("null struct fields read as null (recursive structs too)", () => {
    // A reader that built a default for a null field recursed without end (RangeError).
    assert.equal(decode(F.Chain, new Uint8Array(8)).next, null);
    const ping = decode(F.Ping, new Uint8Array(16));
    assert.deepEqual([ping.pong, ping.which, ping.again], [null, "stop", null]);
    assert.equal(decode(F.Pong, new Uint8Array(8)).ping.back, null);
    const [back, data, again] = roundTrip(new F.Ping({ which: "again" }));
    assert.deepEqual([back.which, back.again], ["again", null]);
    assert.deepEqual(again, data);
    const [chain] = roundTrip(new F.Chain({ value: 5, next: { value: 6 } }));
    assert.deepEqual([chain.next.value, chain.next.next], [6, null]);
    // present but empty is not absent (a null list reads as empty)
    same(roundTrip(new F.Chain({ next: {} }))[0].next, new F.Chain({ branches: [] }));
  });

  test("a constant of a recursive type", () => {
    same(F.CHAINED, new F.Chain({
      value: 1, branches: [], next: { value: 2, branches: [], next: { value: 3, branches: [] } },
    }));
    assert.equal(F.CHAINED.next.next.next, null);
  });

  test("all-Void structs and groups", () => {
    for (const obj of [new F.Silent(), new F.Silent({ hush: { which: "d" } }), new F.Nothing()]) {
      const [back, data, again] = roundTrip(obj);
      same(back, obj);
      assert.deepEqual(again, data);
    }
    assert.equal(roundTrip(new F.Silent({ hush: { which: "d" } }))[0].hush.which, "d");
  });

  test("the canonical form matches the schema's default", () => {
    same(F.ORIGIN, new F.Point({ x: 1.5, y: -2 }));
    const [data] = encode(F.ORIGIN);
    assert.equal(Buffer.from(wire.canonicalize(new wire.MessageReader([data]).root())).toString("hex"),
      "0000000002000000000000000000f83f00000000000000c0");
  });

  test("an unknown enumerant stays a number", () => {
    const [data] = encode(new F.Shape_Label({ kind: F.Shape_Label_Kind.BOLD }));
    data[8] = 9;
    assert.equal(decode(F.Shape_Label, data).kind, 9);
    assert.deepEqual(roundTrip(new F.Lists({ colors: [F.Color.GREEN, 7] }))[0].colors, [1, 7]);
  });
});

describe("naming", () => {
  test("names", () => {
    assert.equal(F.Shape.Label, F.Shape_Label);
    assert.equal(F.Shape_Label.Kind, F.Shape_Label_Kind);
    assert.equal(F.Color.BLUEISH, 2);
    assert.deepEqual(Object.keys(F.Color), ["RED", "GREEN", "BLUEISH"]);
    assert.equal(F.Color.$names[2], "BLUEISH");
    assert.ok(Object.isFrozen(F.Color));
    assert.ok("notANumber" in new F.Primitives());
    assert.deepEqual(Object.keys(new F.Shape())[0], "which");
    assert.deepEqual([F.Shape.$dataWords, F.Shape.$ptrCount], [3, 5]);
    assert.equal(F.Point.$typeId, 0xb882adc16721ff38n);
    assert.deepEqual([F.ANSWER, F.GREETING], [42, 'hello, "world"']);
    assert.equal(F.SCHEMA, "features.capnp");
    assert.match(F.FINGERPRINT, /^[0-9a-f]{16}$/);
    assert.equal(P.SCHEMA, "polyhost.capnp");
  });

  test("interface classes", () => {
    assert.equal(F.Calculator.$interfaceId, 0x85ddd1953920fd53n);
    assert.equal(F.CalculatorClient.$interfaceName, "Calculator");
    assert.ok(F.Calculator.prototype instanceof F.Named);
    assert.ok(F.CalculatorClient.prototype instanceof F.NamedClient);
    const table = F.Calculator.$methods;
    assert.equal(table.get(F.Named.$interfaceId)[0].name, "name"); // inherited
    assert.equal(table.get(F.Calculator.$interfaceId)[6].isStream, true);
    assert.equal(table.get(F.Calculator.$interfaceId)[4].name, "$serve_numbers");
  });

  test("the naming rules are the same in both READMEs", () => {
    const section = (file) => {
      const text = fs.readFileSync(file, "utf8");
      const start = text.indexOf("## Naming rules of the generated modules");
      assert.ok(start >= 0, file);
      const end = text.indexOf("\n## ", start + 1);
      return text.slice(start, end < 0 ? undefined : end).trim();
    };
    assert.equal(section(path.join(ADAPTER, "README.md")), section(path.join(ADAPTER, "templates/README.md")));
  });
});
