// Builders and readers agree: primitives with XOR defaults, Text/Data, structs, every
// list kind, list upgrades, far and double-far pointers, capabilities, deep copies.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as wire from "../polyhost/wire/index.mjs";
import { ascii, bytes, farPtr, listPtr, msg, seg, structPtr, tag, u64, word, zeros } from "./support.mjs";

const roundTrip = (mb) => wire.readMessage(mb.toBytes(), null, mb.capTable);

describe("primitives", () => {
  test("integers round-trip with XOR defaults", () => {
    const cases = [
      ["Int8", 0, -128, -8], ["Uint8", 1, 255, 200], ["Int16", 1, -32768, -1600], ["Uint16", 2, 65535, 60000],
      ["Int32", 1, -2147483648, -320000], ["Uint32", 2, 4294967295, 4000000000],
      ["Int64", 1, -(2n ** 63n), -6400000000n], ["Uint64", 2, 2n ** 64n - 1n, 2n ** 64n - 1n],
    ];
    for (const [name, off, value, d] of cases) {
      const mb = new wire.MessageBuilder();
      const b = mb.initRoot(3, 0);
      b[`set${name}`](off, value, d);
      const r = roundTrip(mb).root();
      assert.equal(r[`get${name}`](off, d), value, name);
      // A value equal to its default is zero on the wire; zero bits read as the default.
      const mb2 = new wire.MessageBuilder();
      mb2.initRoot(3, 0)[`set${name}`](off, d, d);
      assert.deepEqual(mb2.segments()[0].subarray(8), zeros(24), name);
      assert.equal(roundTrip(mb2).root()[`get${name}`](off, d), d, name);
    }
  });

  test("floats round-trip with defaults, NaN and -0.0", () => {
    for (const [v, d] of [[1.5, 0], [-0, 0], [NaN, 0], [Infinity, 3.5], [0, -2.25], [3.5, 3.5], [-0, -0], [1e300, NaN]]) {
      const mb = new wire.MessageBuilder();
      const b = mb.initRoot(2, 0);
      b.setFloat64(0, v, d);
      b.setFloat32(2, Math.fround(v), Math.fround(d));
      const r = roundTrip(mb).root();
      assert.ok(Object.is(r.getFloat64(0, d), v), `${v} / ${d}`);
      assert.ok(Object.is(r.getFloat32(2, Math.fround(d)), Math.fround(v)), `f32 ${v} / ${d}`);
    }
  });

  test("bools with defaults, and overwriting clears the bit", () => {
    const mb = new wire.MessageBuilder();
    const b = mb.initRoot(1, 0);
    b.setBool(0, true);
    b.setBool(1, false, true);
    b.setBool(63, true, true);
    b.setBool(5, true);
    b.setBool(5, false);
    const r = roundTrip(mb).root();
    assert.deepEqual([r.getBool(0), r.getBool(1, true), r.getBool(63, true), r.getBool(5)], [true, false, true, false]);
    assert.equal(mb.segments()[0][8], 0b11);
  });

  test("fields beyond the data section read as their defaults", () => {
    const r = msg([seg(structPtr(0, 1, 0), u64(0x0102030405060708n))]).root();
    assert.equal(r.getUint32(0), 0x05060708);
    assert.equal(r.getUint32(2, 77), 77);
    assert.equal(r.getInt64(1, -5n), -5n);
    assert.equal(r.getBool(64, true), true);
    assert.equal(r.getText(0, "dflt"), "dflt");
    assert.equal(r.getStruct(3).getUint8(0, 9), 9);
    assert.equal(r.getList(0, wire.FOUR_BYTES).length, 0);
    assert.equal(r.getCapability(0), null);
  });

  test("range and type checks on write", () => {
    const b = new wire.MessageBuilder().initRoot(2, 1);
    assert.throws(() => b.setInt8(0, 128), wire.ValueOutOfRange);
    assert.throws(() => b.setUint16(0, -1), wire.ValueOutOfRange);
    assert.throws(() => b.setInt32(0, 1.5), wire.ValueOutOfRange);
    assert.throws(() => b.setUint32(0, 2 ** 32), wire.ValueOutOfRange);
    assert.throws(() => b.setInt64(0, 2n ** 63n), wire.ValueOutOfRange);
    assert.throws(() => b.setUint64(0, -1n), wire.ValueOutOfRange);
    assert.throws(() => b.setFloat64(0, "1"), wire.ValueOutOfRange);
    assert.throws(() => b.setInt32(4, 1), wire.IndexOutOfRange);
    assert.throws(() => b.setText(1, "x"), wire.IndexOutOfRange);
    assert.throws(() => b.setText(0, 5), wire.WrongType);
    assert.throws(() => b.setData(0, "x"), wire.WrongType);
    b.setInt64(0, 5); // numbers are accepted for 64-bit fields
    assert.throws(() => new wire.MessageBuilder().initRoot(70000, 0), wire.ValueOutOfRange);
  });
});

describe("Text and Data", () => {
  test("values, including non-ASCII and long ones", () => {
    const texts = ["", "a", "héllo ✓", "日本語のテキスト", "x".repeat(100), "🎉".repeat(40)];
    const mb = new wire.MessageBuilder();
    const lb = mb.initRoot(0, 1).initList(0, wire.POINTER, texts.length);
    texts.forEach((t, i) => lb.setText(i, t));
    const lr = roundTrip(mb).root().getList(0, wire.POINTER);
    assert.deepEqual(texts.map((_, i) => lr.getText(i)), texts);
  });

  test("null, default and empty", () => {
    const mb = new wire.MessageBuilder();
    const b = mb.initRoot(0, 3);
    b.setText(1, "");
    b.setData(2, new Uint8Array(0));
    const r = roundTrip(mb).root();
    assert.equal(r.getText(0, "dflt"), "dflt");
    assert.equal(r.getText(1, "dflt"), "");
    assert.ok(r.hasPointer(1) && r.hasPointer(2) && !r.hasPointer(0));
    assert.deepEqual(r.getData(2, bytes(1)), new Uint8Array(0));
  });

  test("Data values are copies; any bytes-like is accepted", () => {
    const mb = new wire.MessageBuilder();
    const b = mb.initRoot(0, 3);
    b.setData(0, bytes(1, 2, 3));
    b.setData(1, Buffer.from("xyz"));
    b.setData(2, new Uint16Array([0x0102]).buffer);
    const r = roundTrip(mb).root();
    const d = r.getData(0);
    assert.deepEqual(d, bytes(1, 2, 3));
    d[0] = 9;
    assert.deepEqual(r.getData(0), bytes(1, 2, 3));
    assert.deepEqual(r.getData(1), ascii("xyz"));
    assert.deepEqual(r.getData(2), bytes(2, 1));
  });

  test("encoding on the wire", () => {
    const mb = new wire.MessageBuilder();
    mb.initRoot(0, 1).setText(0, "hi");
    assert.deepEqual(mb.segments()[0], seg(structPtr(0, 0, 1), listPtr(0, wire.BYTE, 3), bytes(104, 105, 0), zeros(5)));
  });
});

describe("structs and pointers", () => {
  test("nested structs, null structs and layout", () => {
    const mb = new wire.MessageBuilder();
    const root = mb.initRoot(1, 2);
    root.setUint64(0, 1n);
    root.initStruct(0, 1, 1).setUint64(0, 2n);
    root.initStruct(1, 0, 0);
    assert.deepEqual(mb.segments()[0].subarray(0, 40), seg(structPtr(0, 1, 2), u64(1), structPtr(1, 1, 1), word(-4, 0), u64(2)));
    const r = roundTrip(mb).root();
    assert.equal(r.getStruct(0).getUint64(0), 2n);
    assert.equal(r.getStruct(0).getStruct(0).getUint64(0, 7n), 7n);
    assert.equal(r.getStruct(1).dataWords, 0);
  });

  test("root pointer and AnyPointer copies", () => {
    const src = new wire.MessageBuilder({ firstSegmentWords: 2 });
    const s = src.initRoot(1, 2);
    s.setUint32(1, 42);
    s.setText(0, "copied");
    s.initList(1, wire.TWO_BYTES, 3).setPrimitives("int16", [1, -2, 3]);
    const reader = roundTrip(src);
    const dst = new wire.MessageBuilder();
    dst.initRoot(0, 1).copyPointer(0, reader.rootPointer());
    const r = roundTrip(dst).root().getStruct(0);
    assert.equal(r.getUint32(1), 42);
    assert.equal(r.getText(0), "copied");
    assert.deepEqual(r.getList(1, wire.TWO_BYTES).primitives("int16"), [1, -2, 3]);
    const t = reader.rootPointer().target();
    assert.ok(t instanceof wire.StructReader);
    assert.equal(msg([u64(0)]).rootPointer().target(), null);
    dst.rootPointer().copyFrom(null);
    assert.ok(dst.rootPointer().isNull());
  });
});

describe("lists", () => {
  test("primitive lists, element-wise and bulk", () => {
    const kinds = [
      ["int8", wire.BYTE, [-128, 0, 127]], ["uint8", wire.BYTE, [0, 255]], ["int16", wire.TWO_BYTES, [-32768, 5]],
      ["uint16", wire.TWO_BYTES, [65535]], ["int32", wire.FOUR_BYTES, [-1, 2 ** 31 - 1]], ["uint32", wire.FOUR_BYTES, [2 ** 32 - 1]],
      ["float32", wire.FOUR_BYTES, [1.5, -0.25]], ["int64", wire.EIGHT_BYTES, [-1n, 2n ** 62n]],
      ["uint64", wire.EIGHT_BYTES, [2n ** 64n - 1n]], ["float64", wire.EIGHT_BYTES, [Math.PI, -Infinity]],
      ["bool", wire.BIT, [true, false, true, true, false, false, false, false, true]],
    ];
    const mb = new wire.MessageBuilder();
    const root = mb.initRoot(0, kinds.length);
    kinds.forEach(([kind, es, values], i) => root.initList(i, es, values.length).setPrimitives(kind, values));
    const r = roundTrip(mb).root();
    kinds.forEach(([kind, es, values], i) => {
      const lr = r.getList(i, es);
      assert.deepEqual(lr.primitives(kind), values, kind);
      const name = kind === "bool" ? "Bool" : kind[0].toUpperCase() + kind.slice(1);
      assert.deepEqual(values.map((_, j) => lr[`get${name}`](j)), values, kind);
    });
  });

  test("bit lists: element-wise writes and wire layout", () => {
    const mb = new wire.MessageBuilder();
    const lb = mb.initRoot(0, 1).initList(0, wire.BIT, 10);
    for (const i of [0, 3, 9]) lb.setBool(i, true);
    lb.setBool(3, false);
    assert.deepEqual(mb.segments()[0].subarray(16, 18), bytes(0b00000001, 0b10));
    assert.deepEqual(roundTrip(mb).root().getList(0, wire.BIT).primitives("bool"),
      [true, false, false, false, false, false, false, false, false, true]);
  });

  test("void, empty and long lists", () => {
    const mb = new wire.MessageBuilder();
    const root = mb.initRoot(0, 3);
    root.initList(0, wire.VOID, 1000);
    root.initList(1, wire.FOUR_BYTES, 0);
    root.initList(2, wire.FOUR_BYTES, 5000).setPrimitives("int32", Array.from({ length: 5000 }, (_, i) => i * 3));
    const r = roundTrip(mb).root();
    assert.equal(r.getList(0, wire.VOID).length, 1000);
    assert.equal(r.getList(1, wire.FOUR_BYTES).length, 0);
    assert.equal(r.getList(2, wire.FOUR_BYTES).getInt32(4999), 14997);
  });

  test("composite lists", () => {
    const mb = new wire.MessageBuilder();
    const lb = mb.initRoot(0, 1).initStructList(0, 3, 1, 1);
    for (let i = 0; i < 3; i++) {
      lb.getStruct(i).setInt32(1, -i);
      lb.getStruct(i).setText(0, `s${i}`);
    }
    const lr = roundTrip(mb).root().getList(0, wire.INLINE_COMPOSITE);
    assert.equal(lr.elementSize, wire.INLINE_COMPOSITE);
    assert.deepEqual([0, 1, 2].map((i) => [lr.getStruct(i).getInt32(1), lr.getStruct(i).getText(0)]), [[0, "s0"], [-1, "s1"], [-2, "s2"]]);
  });

  test("pointer lists: Text, Data, lists of lists", () => {
    const mb = new wire.MessageBuilder();
    const root = mb.initRoot(0, 2);
    const outer = root.initList(0, wire.POINTER, 2);
    outer.initList(0, wire.FOUR_BYTES, 2).setPrimitives("int32", [1, 2]);
    outer.initList(1, wire.FOUR_BYTES, 1).setPrimitives("int32", [3]);
    const dl = root.initList(1, wire.POINTER, 2);
    dl.setData(0, bytes(1));
    const r = roundTrip(mb).root();
    const lr = r.getList(0, wire.POINTER);
    assert.deepEqual([0, 1].map((i) => lr.getList(i, wire.FOUR_BYTES).primitives("int32")), [[1, 2], [3]]);
    assert.deepEqual(r.getList(1, wire.POINTER).getData(0), bytes(1));
    assert.deepEqual(r.getList(1, wire.POINTER).getData(1), new Uint8Array(0));
  });

  test("list builder errors", () => {
    const root = new wire.MessageBuilder().initRoot(0, 2);
    const lb = root.initList(0, wire.FOUR_BYTES, 2);
    assert.throws(() => lb.setInt32(2, 1), wire.IndexOutOfRange);
    assert.throws(() => lb.setInt64(0, 1n), wire.IncompatibleListElement);
    assert.throws(() => lb.setText(0, "x"), wire.IncompatibleListElement);
    assert.throws(() => lb.getStruct(0), wire.IncompatibleListElement);
    assert.throws(() => lb.setPrimitives("int32", [1]), wire.IndexOutOfRange);
    assert.throws(() => lb.setPrimitives("float64", [1, 2]), wire.IncompatibleListElement);
    assert.throws(() => root.initList(1, wire.INLINE_COMPOSITE, 1), wire.WrongType);
    assert.throws(() => root.initList(1, 9, 1), wire.WrongType);
    assert.throws(() => root.initList(1, wire.BYTE, 2 ** 29), wire.ValueOutOfRange);
  });

  test("upgrades: primitive and pointer lists read as struct lists, and back", () => {
    const mb = new wire.MessageBuilder();
    const root = mb.initRoot(0, 3);
    root.initList(0, wire.FOUR_BYTES, 2).setPrimitives("int32", [7, 8]);
    root.initList(1, wire.POINTER, 1).setText(0, "p");
    const sl = root.initStructList(2, 2, 1, 1);
    sl.getStruct(1).setUint64(0, 9n);
    sl.getStruct(1).setText(0, "q");
    const r = roundTrip(mb).root();
    const a = r.getList(0, wire.INLINE_COMPOSITE);
    assert.equal(a.getStruct(1).getInt32(0), 8);
    assert.equal(a.getStruct(1).getInt32(1, 5), 5);
    assert.equal(r.getList(1, wire.INLINE_COMPOSITE).getStruct(0).getText(0), "p");
    assert.equal(r.getList(2, wire.EIGHT_BYTES).getUint64(1), 9n);
    assert.equal(r.getList(2, wire.POINTER).getText(1), "q");
    assert.throws(() => r.getList(0, wire.EIGHT_BYTES), wire.IncompatibleListElement);
    assert.throws(() => r.getList(0, wire.POINTER), wire.IncompatibleListElement);
    assert.throws(() => r.getList(1, wire.FOUR_BYTES), wire.IncompatibleListElement);
  });
});

describe("segments", () => {
  test("a small first segment emits far pointers that read back", () => {
    const mb = new wire.MessageBuilder({ firstSegmentWords: 1 });
    const root = mb.initRoot(1, 2);
    root.setUint64(0, 11n);
    root.setText(0, "far away");
    const lb = root.initStructList(1, 4, 1, 0);
    for (let i = 0; i < 4; i++) lb.getStruct(i).setUint64(0, BigInt(i));
    assert.ok(mb.segments().length > 1);
    const r = roundTrip(mb).root();
    assert.equal(r.getUint64(0), 11n);
    assert.equal(r.getText(0), "far away");
    assert.equal(r.getList(1, wire.INLINE_COMPOSITE).getStruct(3).getUint64(0), 3n);
  });

  test("a large first segment keeps one segment", () => {
    const mb = new wire.MessageBuilder({ firstSegmentWords: 1000 });
    mb.initRoot(4, 4).setText(0, "x".repeat(100));
    assert.equal(mb.segments().length, 1);
  });

  test("hand-built far and double-far pointers", () => {
    const d = bytes(1, 2, 3, 4, 5, 6, 7, 8);
    assert.deepEqual(msg([seg(farPtr(0, 1)), seg(structPtr(0, 1, 0), d)]).root().dataSection(), d);
    // double-far: pad (segment 1, word 0) = far pointer to segment 2 word 0 + a struct tag
    const m = msg([seg(farPtr(0, 1, true)), seg(farPtr(0, 2), structPtr(0, 1, 0)), seg(d)]);
    assert.deepEqual(m.root().dataSection(), d);
  });
});

describe("capabilities", () => {
  test("capabilities go through the cap table", () => {
    const mb = new wire.MessageBuilder();
    const b = mb.initRoot(0, 3);
    b.setCapability(0, "first");
    b.setCapability(2, "second");
    const lb = b.initList(1, wire.POINTER, 1);
    lb.setCapability(0, "third");
    assert.deepEqual(mb.capTable, ["first", "second", "third"]);
    const r = roundTrip(mb).root();
    assert.equal(r.getCapability(0), "first");
    assert.equal(r.getCapability(2), "second");
    assert.equal(r.getList(1, wire.POINTER).getCapability(0), "third");
    assert.equal(r.getPointer(2).target().index, 1);
    b.setCapability(0, null);
    assert.equal(roundTrip(mb).root().getCapability(0), null);
  });

  test("copyPointer moves capabilities into the new table", () => {
    const src = new wire.MessageBuilder();
    src.initRoot(0, 1).initStruct(0, 0, 1).setCapability(0, "cap");
    const dst = new wire.MessageBuilder({ capTable: ["existing"] });
    dst.initRoot(0, 1).copyPointer(0, roundTrip(src).root().getPointer(0));
    assert.deepEqual(dst.capTable, ["existing", "cap"]);
    assert.equal(roundTrip(dst).root().getStruct(0).getCapability(0), "cap");
  });
});
