// Hostile and malformed input: every error kind, thrown promptly and typed.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as wire from "../polyhost/wire/index.mjs";
import {
  bytes, capPtr, farPtr, listPtr, msg, seg, structPtr, tag, throwsQuickly, u64, word, zeros,
} from "./support.mjs";

/** A message whose root struct has words.length pointers, followed by `extra` words. */
function rootWith(words, { extra = [], capTable = null } = {}) {
  return msg([seg(structPtr(0, 0, words.length), ...words, ...extra)], null, capTable).root();
}

describe("bounds", () => {
  test("struct pointer out of bounds", () => {
    throwsQuickly(wire.PointerOutOfBounds, () => msg([seg(structPtr(0, 2, 0), u64(1))]).root());
    throwsQuickly(wire.PointerOutOfBounds, () => msg([seg(structPtr(-5, 1, 0), u64(1))]).root());
  });

  test("huge list counts", () => {
    const huge = 2 ** 29 - 1;
    for (const es of [wire.BIT, wire.BYTE, wire.EIGHT_BYTES, wire.POINTER]) {
      const r = rootWith([listPtr(0, es, huge)]);
      const err = throwsQuickly(wire.PointerOutOfBounds, () => r.getList(0, es));
      assert.match(err.message, /outside segment/);
    }
    const r = rootWith([listPtr(0, wire.INLINE_COMPOSITE, huge)]);
    throwsQuickly(wire.PointerOutOfBounds, () => r.getList(0, wire.INLINE_COMPOSITE));
    const t = rootWith([listPtr(0, wire.BYTE, huge)]);
    throwsQuickly(wire.PointerOutOfBounds, () => t.getText(0));
    throwsQuickly(wire.PointerOutOfBounds, () => t.getData(0));
  });

  test("far pointer to a missing segment", () => {
    const err = throwsQuickly(wire.InvalidSegmentId, () => msg([seg(farPtr(0, 7))]).root());
    assert.match(err.message, /segment 7/);
    assert.ok(new wire.InvalidSegmentId("x") instanceof wire.PointerOutOfBounds);
  });

  test("far landing pad out of bounds", () => {
    throwsQuickly(wire.PointerOutOfBounds, () => msg([seg(farPtr(5, 0))]).root());
    throwsQuickly(wire.PointerOutOfBounds, () => msg([seg(farPtr(0, 1, true)), seg(farPtr(0, 0))]).root());
  });

  test("double-far target out of bounds", () => {
    const m = msg([seg(farPtr(1, 0, true), word(-6, 0), listPtr(0, wire.INLINE_COMPOSITE, 1))]);
    throwsQuickly(wire.PointerOutOfBounds, () => m.rootPointer().asList(wire.BYTE));
  });

  test("far pointer loops are rejected", () => {
    throwsQuickly(wire.MalformedPointer, () => msg([seg(farPtr(0, 0))]).root());
    throwsQuickly(wire.MalformedPointer, () => msg([seg(farPtr(0, 1)), seg(farPtr(0, 0))]).root());
    throwsQuickly(wire.MalformedPointer, () => msg([seg(farPtr(0, 0, true), structPtr(0, 0, 0))]).root());
    throwsQuickly(wire.MalformedPointer, () => msg([seg(farPtr(1, 0, true), farPtr(0, 0), farPtr(0, 0))]).root());
  });

  test("empty messages", () => {
    throwsQuickly(wire.PointerOutOfBounds, () => msg([]).root());
    throwsQuickly(wire.PointerOutOfBounds, () => msg([new Uint8Array(0)]).root());
  });

  test("segment shape", () => {
    assert.throws(() => msg([zeros(12)]), wire.MalformedMessage);
    assert.throws(() => msg([u64(0), u64(0), u64(0)], new wire.Limits({ maxSegments: 2 })), wire.TooManySegments);
    assert.throws(() => new wire.MessageReader([42]), wire.WrongType);
  });

  test("malformed composite lists", () => {
    let r = rootWith([listPtr(0, wire.INLINE_COMPOSITE, 1)], { extra: [listPtr(0, wire.BYTE, 0), u64(0)] });
    assert.match(throwsQuickly(wire.MalformedPointer, () => r.getList(0, wire.INLINE_COMPOSITE)).message, /tag/);
    r = rootWith([listPtr(0, wire.INLINE_COMPOSITE, 2)], { extra: [tag(3, 1, 0), u64(1), u64(2)] });
    assert.match(throwsQuickly(wire.MalformedPointer, () => r.getList(0, wire.INLINE_COMPOSITE)).message, /overrun/);
  });
});

describe("limits", () => {
  test("the traversal limit counts every read", () => {
    const m = msg([seg(structPtr(0, 0, 1), structPtr(0, 4, 0), u64(0), u64(1), u64(2), u64(3))],
      new wire.Limits({ traversalWords: 20 }));
    const r = m.root(); // 1 + 1
    for (let i = 0; i < 4; i++) r.getStruct(0); // 4 words each
    assert.equal(m.traversalWordsLeft, 2);
    assert.match(throwsQuickly(wire.TraversalLimitExceeded, () => r.getStruct(0)).message, /traversal limit/);
  });

  test("unlimited traversal", () => {
    const m = msg([seg(structPtr(0, 0, 1), structPtr(0, 4, 0), u64(0), u64(1), u64(2), u64(3))],
      new wire.Limits({ traversalWords: null }));
    const r = m.root();
    for (let i = 0; i < 1000; i++) r.getStruct(0);
  });

  test("amplification by repeated pointers", () => {
    const n = 1000;
    const size = 50;
    const words = [structPtr(0, 0, 1), listPtr(size, wire.POINTER, n)];
    for (let i = 0; i < size; i++) words.push(u64(7));
    const base = 2 + size;
    for (let i = 0; i < n; i++) words.push(structPtr(2 - (base + i) - 1, size, 0));
    const m = msg([seg(...words)], new wire.Limits({ traversalWords: 10000 }));
    const lr = m.root().getList(0, wire.POINTER);
    assert.equal(lr.getPointer(0).asStruct().getUint64(49), 7n);
    throwsQuickly(wire.TraversalLimitExceeded, () => {
      for (let i = 0; i < n; i++) lr.getPointer(i).asStruct();
    });
  });

  test("void list amplification", () => {
    const r = rootWith([listPtr(0, wire.VOID, 2 ** 29 - 1)]);
    throwsQuickly(wire.TraversalLimitExceeded, () => r.getList(0, wire.VOID));
    const m = msg([seg(structPtr(0, 0, 1), listPtr(0, wire.VOID, 100))]);
    const start = m.traversalWordsLeft;
    assert.equal(m.root().getList(0, wire.VOID).length, 100);
    assert.equal(start - m.traversalWordsLeft, 1 + 1 + 100);
  });

  test("zero-sized struct list amplification", () => {
    const r = rootWith([listPtr(0, wire.INLINE_COMPOSITE, 0)], { extra: [tag(2 ** 30 - 1, 0, 0)] });
    throwsQuickly(wire.TraversalLimitExceeded, () => r.getList(0, wire.INLINE_COMPOSITE));
    throwsQuickly(wire.TraversalLimitExceeded, () => wire.canonicalize(r));
  });

  test("zero-sized structs have a budget per message", () => {
    // Within the traversal limit, a list of 4 Mi zero-sized structs (a frame of a few
    // words) was accepted, and decoding built a value per element (580 MiB for 8 Mi).
    const n = 4 * 1024 * 1024;
    // a root with one list of `count` zero-sized structs per pointer (the tags right
    // after the pointers)
    const zeroSized = (...counts) => rootWith(
      counts.map(() => listPtr(counts.length - 1, wire.INLINE_COMPOSITE, 0)),
      { extra: counts.map((c) => tag(c, 0, 0)) });
    let r = zeroSized(n);
    const err = throwsQuickly(wire.TraversalLimitExceeded, () => r.getList(0, wire.INLINE_COMPOSITE));
    assert.match(err.message, /zero-sized struct element limit/);
    // the budget (64 Ki) is per message: two lists of 40 Ki overdraw it
    const k = 40 * 1024;
    r = zeroSized(k, k);
    assert.equal(r.getList(0, wire.INLINE_COMPOSITE).length, k);
    throwsQuickly(wire.TraversalLimitExceeded, () => r.getList(1, wire.INLINE_COMPOSITE));
    assert.equal(wire.DEFAULT_LIMITS.zeroSizedStructs, 64 * 1024);
    // a Void element (one reference) counts 1/16: 1 Mi fit, 8 Mi (64 MiB) do not
    assert.equal(rootWith([listPtr(0, wire.VOID, 2 ** 20)]).getList(0, wire.VOID).length, 2 ** 20);
    r = rootWith([listPtr(0, wire.VOID, 2 ** 20 + 1)]);
    throwsQuickly(wire.TraversalLimitExceeded, () => r.getList(0, wire.VOID));
    // it is a limit like the others
    const m = msg([seg(structPtr(0, 0, 1), listPtr(0, wire.INLINE_COMPOSITE, 0), tag(n, 0, 0))],
      new wire.Limits({ zeroSizedStructs: null }));
    assert.equal(m.root().getList(0, wire.INLINE_COMPOSITE).length, n);
    assert.throws(() => new wire.Limits({ zeroSizedStructs: -1 }), RangeError);
  });

  test("a copy of pointer lists that share targets", () => {
    // 60 lists of two pointers, both at the next list: a copy (an AnyPointer echoed,
    // canonicalize) followed 2 ** 60 paths until the traversal limit stopped it, for
    // tens of seconds. A copy now follows at most as many pointers as the message has
    // words (+64).
    const words = [listPtr(0, wire.POINTER, 2)];
    for (let level = 0; level < 60; level++) {
      words.push(...(level === 59 ? [u64(0), u64(0)] : [listPtr(1, wire.POINTER, 2), listPtr(0, wire.POINTER, 2)]));
    }
    const m = msg([seg(...words)]);
    const err = throwsQuickly(wire.TraversalLimitExceeded,
      () => new wire.MessageBuilder().initRoot(0, 1).copyPointer(0, m.rootPointer()));
    assert.match(err.message, /share targets or form a cycle/);
    throwsQuickly(wire.TraversalLimitExceeded, () => wire.canonicalize(m.rootPointer()));
    // the budget is per copy: a legal value copies any number of times
    const ok = msg([seg(structPtr(0, 0, 1), listPtr(0, wire.POINTER, 2), structPtr(1, 1, 0), structPtr(1, 1, 0), u64(1), u64(2))]);
    for (let i = 0; i < 3; i++) new wire.MessageBuilder().initRoot(0, 1).copyPointer(0, ok.rootPointer());
  });

  test("the nesting limit stops a cycle", () => {
    const m = msg([seg(structPtr(0, 0, 1), structPtr(-1, 0, 1))], new wire.Limits({ nesting: 10 }));
    let s = m.root();
    let depth = 0;
    const err = throwsQuickly(wire.NestingLimitExceeded, () => {
      for (;;) {
        s = s.getStruct(0);
        depth++;
      }
    });
    assert.match(err.message, /nest/);
    assert.equal(depth, 9);
    throwsQuickly(wire.NestingLimitExceeded, () => wire.canonicalize(m.root()));
    const dst = new wire.MessageBuilder();
    throwsQuickly(wire.NestingLimitExceeded, () => dst.initRoot(0, 1).copyPointer(0, m.rootPointer()));
  });

  test("the nesting limit stops a list cycle", () => {
    const m = msg([seg(listPtr(0, wire.POINTER, 1), listPtr(-1, wire.POINTER, 1))]);
    const lr = m.rootPointer().asList(wire.POINTER);
    throwsQuickly(wire.NestingLimitExceeded, () => {
      let x = lr;
      for (;;) x = x.getList(0, wire.POINTER);
    });
    throwsQuickly(wire.NestingLimitExceeded, () => wire.canonicalize(m.rootPointer()));
  });

  test("deep but legal nesting", () => {
    const mb = new wire.MessageBuilder();
    let s = mb.initRoot(1, 1);
    for (let i = 0; i < 30; i++) {
      s.setUint64(0, BigInt(i));
      s = s.initStruct(0, 1, 1);
    }
    let r = wire.readMessage(mb.toBytes()).root();
    for (let i = 0; i < 30; i++) {
      assert.equal(r.getUint64(0), BigInt(i));
      r = r.getStruct(0);
    }
    let shallow = wire.readMessage(mb.toBytes(), new wire.Limits({ nesting: 5 })).root();
    assert.throws(() => {
      for (let i = 0; i < 30; i++) shallow = shallow.getStruct(0);
    }, wire.NestingLimitExceeded);
  });
});

describe("kinds", () => {
  test("wrong pointer kinds", () => {
    const r = rootWith([listPtr(0, wire.BYTE, 0), word(-4, 0), capPtr(0), listPtr(0, wire.FOUR_BYTES, 0), word(7, 0)]);
    throwsQuickly(wire.WrongPointerKind, () => r.getStruct(0));
    throwsQuickly(wire.WrongPointerKind, () => r.getText(1));
    throwsQuickly(wire.WrongPointerKind, () => r.getData(1));
    throwsQuickly(wire.WrongPointerKind, () => r.getList(1, wire.BYTE));
    throwsQuickly(wire.WrongPointerKind, () => r.getStruct(2));
    throwsQuickly(wire.WrongPointerKind, () => r.getCapability(1));
    throwsQuickly(wire.WrongPointerKind, () => r.getText(3));
    throwsQuickly(wire.WrongPointerKind, () => r.getStruct(4));
    throwsQuickly(wire.MalformedPointer, () => r.getPointer(4).target());
  });

  test("incompatible list elements", () => {
    const r = rootWith([listPtr(0, wire.BIT, 8)], { extra: [u64(0xFF)] });
    throwsQuickly(wire.IncompatibleListElement, () => r.getList(0, wire.INLINE_COMPOSITE));
    const lr = r.getList(0, wire.BIT);
    throwsQuickly(wire.IncompatibleListElement, () => lr.getUint32(0));
    throwsQuickly(wire.IncompatibleListElement, () => lr.getText(0));
    throwsQuickly(wire.IncompatibleListElement, () => lr.primitives("int32"));
    assert.deepEqual(lr.primitives("bool"), new Array(8).fill(true));
  });

  test("Text must be NUL-terminated UTF-8", () => {
    const r = rootWith([listPtr(2, wire.BYTE, 3), listPtr(1, wire.BYTE, 0), listPtr(1, wire.BYTE, 3)],
      { extra: [seg(bytes(97, 98, 99), zeros(5)), seg(bytes(0xff, 0xfe, 0), zeros(5))] });
    assert.match(throwsQuickly(wire.MalformedText, () => r.getText(0)).message, /NUL/);
    throwsQuickly(wire.MalformedText, () => r.getText(1));
    assert.match(throwsQuickly(wire.MalformedText, () => r.getText(2)).message, /UTF-8/);
    assert.deepEqual(r.getData(0), bytes(97, 98, 99));
  });

  test("invalid capability index", () => {
    let r = rootWith([capPtr(2)], { capTable: ["a", "b"] });
    assert.match(throwsQuickly(wire.InvalidCapability, () => r.getCapability(0)).message, /index 2/);
    r = rootWith([capPtr(0)]);
    throwsQuickly(wire.InvalidCapability, () => r.getCapability(0));
  });

  test("list index errors", () => {
    const lr = rootWith([listPtr(0, wire.FOUR_BYTES, 2)], { extra: [u64(0)] }).getList(0, wire.FOUR_BYTES);
    throwsQuickly(wire.IndexOutOfRange, () => lr.getInt32(2));
    throwsQuickly(wire.IndexOutOfRange, () => lr.getInt32(-1));
    throwsQuickly(wire.IndexOutOfRange, () => lr.getStruct(5));
  });

  test("every error is a WireError", () => {
    for (const name of ["MalformedFrame", "TooManySegments", "MessageTooLarge", "MalformedMessage",
      "PointerOutOfBounds", "InvalidSegmentId", "MalformedPointer", "WrongPointerKind",
      "IncompatibleListElement", "MalformedText", "InvalidCapability", "TraversalLimitExceeded",
      "NestingLimitExceeded", "CanonicalizationError", "IndexOutOfRange", "ValueOutOfRange", "WrongType"]) {
      const e = new wire[name]("x");
      assert.ok(e instanceof wire.WireError, name);
      assert.equal(e.name, name);
    }
  });
});

test("every single-byte corruption reads or throws a WireError", () => {
  const mb = new wire.MessageBuilder({ firstSegmentWords: 4 });
  const root = mb.initRoot(1, 3);
  root.setUint64(0, 3n);
  root.setText(0, "text");
  const lb = root.initStructList(1, 2, 1, 1);
  lb.getStruct(0).setText(0, "x");
  root.initList(2, wire.BIT, 9);
  const segs = mb.segments().map((s) => s.slice());
  const readEverything = (m) => {
    const r = m.root();
    r.getText(0);
    const lr = r.getList(1, wire.INLINE_COMPOSITE);
    for (let i = 0; i < lr.length; i++) lr.getStruct(i).getText(0);
    r.getList(2, wire.BIT).primitives("bool");
    wire.canonicalize(r);
  };
  readEverything(new wire.MessageReader(segs));
  const t0 = performance.now();
  for (let si = 0; si < segs.length; si++) {
    for (let pos = 0; pos < segs[si].length; pos++) {
      for (const v of [0x00, 0xff, 0x80, 0x07]) {
        const mutated = segs.map((s) => s.slice());
        mutated[si][pos] = v;
        try {
          readEverything(new wire.MessageReader(mutated));
        } catch (e) {
          assert.ok(e instanceof wire.WireError, `segment ${si} byte ${pos} = ${v}: ${e?.stack}`);
        }
      }
    }
  }
  assert.ok(performance.now() - t0 < 10000);
});
