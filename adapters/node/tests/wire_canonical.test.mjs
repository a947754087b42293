// canonicalize(): expected bytes computed by hand from the encoding spec's rules (single
// segment, pre-order, truncated data/pointer sections, offset -1 for empty structs,
// cleared bit-list padding, no capabilities).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as wire from "../polyhost/wire/index.mjs";
import {
  bytes, capPtr, farPtr, listPtr, msg, seg, structPtr, tag, u64, word, zeros,
} from "./support.mjs";

const { BYTE, INLINE_COMPOSITE: IC } = wire;
const canonOf = (...segments) => wire.canonicalize(msg(segments).root());
const same = (a, b) => assert.deepEqual(Buffer.from(a).toString("hex"), Buffer.from(b).toString("hex"));

describe("canonical bytes", () => {
  test("trailing zero data words are truncated", () => {
    same(canonOf(seg(structPtr(0, 3, 0), u64(0x1111111111111111n), u64(0x8000000000000000n), u64(0))),
      seg(structPtr(0, 2, 0), u64(0x1111111111111111n), u64(0x8000000000000000n)));
  });

  test("an all-zero struct becomes the empty struct pointer", () => {
    same(canonOf(seg(structPtr(0, 2, 1), u64(0), u64(0), u64(0))), word(-4, 0));
  });

  test("trailing null pointers are truncated", () => {
    same(canonOf(seg(structPtr(0, 1, 3), u64(9), listPtr(2, BYTE, 2), u64(0), u64(0), seg(bytes(120, 0), zeros(6)))),
      seg(structPtr(0, 1, 1), u64(9), listPtr(0, BYTE, 2), seg(bytes(120, 0), zeros(6))));
  });

  test("inner null pointers are kept", () => {
    const s = seg(structPtr(0, 0, 3), u64(0), u64(0), listPtr(0, BYTE, 1), zeros(8));
    same(canonOf(s), s);
  });

  test("objects are laid out in pre-order", () => {
    const d1 = bytes(7, 6, 5, 4, 3, 2, 1, 0);
    const d2 = bytes(0, 1, 2, 3, 4, 5, 6, 7);
    same(canonOf(seg(structPtr(0, 0, 2), structPtr(2, 1, 0), structPtr(0, 1, 0), d2, d1)),
      seg(structPtr(0, 0, 2), structPtr(1, 1, 0), structPtr(1, 1, 0), d1, d2));
  });

  test("pre-order is depth first", () => {
    const mb = new wire.MessageBuilder();
    const root = mb.initRoot(0, 2);
    const b = root.initStruct(1, 1, 0);
    const a = root.initStruct(0, 1, 1);
    b.setUint64(0, 0xBn);
    a.setUint64(0, 0xAn);
    a.initStruct(0, 1, 0).setUint64(0, 0xA1n);
    same(wire.canonicalize(mb.asReader().root()), seg(structPtr(0, 0, 2), structPtr(1, 1, 1), structPtr(3, 1, 0),
      u64(0xA), structPtr(0, 1, 0), u64(0xA1), u64(0xB)));
  });

  test("an empty struct field uses offset -1", () => {
    same(canonOf(seg(structPtr(0, 0, 1), structPtr(1, 0, 0), u64(0xEEEEEEEEEEEEEEEEn), u64(0xEEEEEEEEEEEEEEEEn))),
      seg(structPtr(0, 0, 1), word(-4, 0)));
  });

  test("a struct list is truncated to its largest element", () => {
    same(canonOf(seg(structPtr(0, 0, 1), listPtr(0, IC, 3), tag(1, 3, 0), u64(0x2222222222222222n), u64(0x8000000000000000n), u64(0))),
      seg(structPtr(0, 0, 1), listPtr(0, IC, 2), tag(1, 2, 0), u64(0x2222222222222222n), u64(0x8000000000000000n)));
  });

  test("struct list sections use the maximum over the elements", () => {
    const mb = new wire.MessageBuilder();
    const lb = mb.initRoot(0, 1).initStructList(0, 2, 2, 2);
    lb.getStruct(0).setUint64(0, 5n);
    lb.getStruct(1).setText(0, "a");
    same(wire.canonicalize(mb.asReader().root()), seg(structPtr(0, 0, 1), listPtr(0, IC, 4), tag(2, 1, 1),
      u64(5), u64(0), u64(0), listPtr(0, BYTE, 2), seg(bytes(97, 0), zeros(6))));
  });

  test("pointer truncation in a struct list", () => {
    same(wire.canonicalize(msg([seg(listPtr(0, IC, 4), tag(2, 1, 1), u64(0), u64(0), u64(0xAAAAAAAAAAAAAAAAn), u64(0))])),
      seg(listPtr(0, IC, 2), tag(2, 1, 0), u64(0), u64(0xAAAAAAAAAAAAAAAAn)));
  });

  test("empty struct lists", () => {
    same(canonOf(seg(structPtr(0, 0, 1), listPtr(0, IC, 0), tag(0, 0, 0))), seg(structPtr(0, 0, 1), listPtr(0, IC, 0), tag(0, 0, 0)));
    same(canonOf(seg(structPtr(0, 0, 1), listPtr(0, IC, 6), tag(3, 1, 1), ...Array(6).fill(u64(0)))),
      seg(structPtr(0, 0, 1), listPtr(0, IC, 0), tag(3, 0, 0)));
  });

  test("bit list padding is cleared", () => {
    same(canonOf(seg(structPtr(0, 0, 1), listPtr(0, wire.BIT, 3), u64(0xFFFFFFFFFFFFFFFFn))),
      seg(structPtr(0, 0, 1), listPtr(0, wire.BIT, 3), u64(0b111)));
  });

  test("text padding is cleared", () => {
    same(canonOf(seg(structPtr(0, 0, 1), listPtr(0, BYTE, 3), bytes(104, 105, 0, 103, 97, 114, 98, 103))),
      seg(structPtr(0, 0, 1), listPtr(0, BYTE, 3), bytes(104, 105, 0), zeros(5)));
  });

  test("a void list's offset is normalised", () => {
    same(canonOf(seg(structPtr(0, 0, 1), listPtr(3, wire.VOID, 5), u64(0), u64(0), u64(0))),
      seg(structPtr(0, 0, 1), listPtr(0, wire.VOID, 5)));
  });

  test("primitive and pointer lists are copied", () => {
    same(canonOf(seg(structPtr(0, 0, 2), listPtr(1, wire.TWO_BYTES, 3), listPtr(1, wire.POINTER, 2),
      bytes(1, 0, 2, 0, 3, 0, 0xEE, 0xEE), structPtr(1, 1, 0), u64(0), u64(42))),
    seg(structPtr(0, 0, 2), listPtr(1, wire.TWO_BYTES, 3), listPtr(1, wire.POINTER, 2),
      bytes(1, 0, 2, 0, 3, 0, 0, 0), structPtr(1, 1, 0), u64(0), u64(42)));
  });

  test("a multi-segment message becomes one segment", () => {
    const d = bytes(0, 1, 2, 3, 4, 5, 6, 7);
    same(canonOf(seg(farPtr(0, 1)), seg(structPtr(0, 1, 0), d)), seg(structPtr(0, 1, 0), d));
    same(canonOf(seg(structPtr(0, 1, 0), d), seg(structPtr(0, 1, 0))), seg(structPtr(0, 1, 0), d));
  });

  test("null and default roots", () => {
    const m = msg([u64(0)]);
    same(wire.canonicalize(m.rootPointer()), u64(0));
    same(wire.canonicalize(m), u64(0));
    same(wire.canonicalize(m.root()), word(-4, 0));
  });

  test("capabilities cannot be canonical", () => {
    const m = msg([seg(structPtr(0, 0, 1), capPtr(0))], null, ["cap"]);
    assert.throws(() => wire.canonicalize(m.root()), wire.CanonicalizationError);
    assert.throws(() => wire.canonicalize(new Uint8Array(8)), wire.WrongType);
  });

  test("values shared by many pointers still canonicalize (first segment too small)", () => {
    // 40 pointers to one 100-word struct: the canonical form has 40 copies, far more
    // than the message's own size.
    const words = [structPtr(0, 0, 40)];
    for (let i = 0; i < 40; i++) words.push(structPtr(40 - i - 1, 100, 0));
    for (let i = 0; i < 100; i++) words.push(u64(i + 1));
    const c = canonOf(seg(...words));
    assert.equal(c.length, 8 * (1 + 40 + 40 * 100));
    same(wire.canonicalize(msg([c]).root()), c);
  });
});

describe("canonical properties", () => {
  function build(firstSegmentWords, reverse) {
    const mb = new wire.MessageBuilder({ firstSegmentWords });
    const root = mb.initRoot(4, 4); // oversized sections, truncated canonically
    const steps = [
      () => root.setUint32(0, 7),
      () => root.setText(1, "canonical"),
      () => root.initList(2, wire.EIGHT_BYTES, 3).setPrimitives("int64", [1n, -1n, 0n]),
      () => root.setBool(70, true),
    ];
    for (const s of reverse ? steps.reverse() : steps) s();
    root.initStructList(0, 2, 3, 2).getStruct(1).setData(0, bytes(1, 2));
    return mb;
  }

  test("equal values have equal canonical bytes", () => {
    const forms = new Set();
    for (const f of [1, 3, 64]) {
      for (const rev of [false, true]) {
        forms.add(Buffer.from(wire.canonicalize(wire.readMessage(build(f, rev).toBytes()).root())).toString("hex"));
      }
    }
    assert.equal(forms.size, 1);
  });

  test("canonicalize is idempotent and its result readable", () => {
    const c = wire.canonicalize(build(2, false).asReader().root());
    same(wire.canonicalize(msg([c]).root()), c);
    const r = msg([c]).root();
    assert.deepEqual([r.getUint32(0), r.getText(1), r.getBool(70)], [7, "canonical", true]);
    assert.equal(r.dataWords, 2);
    assert.equal(r.pointerCount, 3);
  });
});
