// The stream framing: frame(), readMessage() and the incremental FrameDecoder, with
// the limits checked from the header.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as wire from "../polyhost/wire/index.mjs";
import { seg, structPtr, u64, word, zeros } from "./support.mjs";

const hex = (b) => Buffer.from(b).toString("hex");

function sample(n) {
  const mb = new wire.MessageBuilder({ firstSegmentWords: 3 });
  const r = mb.initRoot(1, 1);
  r.setUint32(0, n);
  r.setText(0, `message ${n} `.repeat(n % 7));
  return mb.toBytes();
}

describe("frame", () => {
  test("headers and padding", () => {
    assert.equal(hex(wire.frame([u64(1)])), "00000000010000000100000000000000");
    assert.equal(hex(wire.frame([u64(1), zeros(16)])).slice(0, 32), "01000000010000000200000000000000");
    assert.equal(hex(wire.frame([u64(1), u64(2), u64(3)])).slice(0, 32), "02000000010000000100000001000000");
  });

  test("bad segments are refused", () => {
    assert.throws(() => wire.frame([]), wire.MalformedFrame);
    assert.throws(() => wire.frame([zeros(5)]), wire.MalformedFrame);
    assert.throws(() => wire.frame(["text"]), wire.WrongType);
  });

  test("readMessage round trip and strictness", () => {
    const data = sample(3);
    const m = wire.readMessage(data);
    assert.equal(m.root().getUint32(0), 3);
    assert.throws(() => wire.readMessage(data.subarray(0, data.length - 1)), /truncated/);
    assert.throws(() => wire.readMessage(Buffer.concat([data, zeros(8)])), /unexpected bytes/);
    assert.throws(() => wire.readMessage(data.subarray(0, 2)), wire.MalformedFrame);
  });
});

describe("FrameDecoder", () => {
  const stream = Buffer.concat(Array.from({ length: 20 }, (_, i) => sample(i)));

  test("messages split at every chunk size", () => {
    for (const size of [1, 2, 3, 7, 8, 13, 64, 1000, stream.length]) {
      const d = new wire.FrameDecoder();
      const got = [];
      for (let i = 0; i < stream.length; i += size) got.push(...d.feed(stream.subarray(i, i + size)));
      assert.deepEqual(got.map((m) => m.root().getUint32(0)), Array.from({ length: 20 }, (_, i) => i), `chunk ${size}`);
      assert.ok(d.atBoundary());
    }
  });

  test("every split point of one message", () => {
    const data = sample(5);
    for (let cut = 0; cut <= data.length; cut++) {
      const d = new wire.FrameDecoder();
      const got = [...d.feed(data.subarray(0, cut)), ...d.feed(data.subarray(cut))];
      assert.equal(got.length, 1, `cut ${cut}`);
      assert.equal(got[0].root().getText(0), "message 5 ".repeat(5));
    }
  });

  test("a partial frame is not at a boundary", () => {
    const d = new wire.FrameDecoder();
    assert.deepEqual(d.feed(sample(2).subarray(0, 10)), []);
    assert.equal(d.atBoundary(), false);
    assert.equal(d.buffered, 10);
  });

  test("too many segments are refused from the header", () => {
    const d = new wire.FrameDecoder(new wire.Limits({ maxSegments: 4 }));
    assert.throws(() => d.feed(word(9, 0)), wire.TooManySegments);
  });

  test("a huge declared size is refused before the body arrives", () => {
    const d = new wire.FrameDecoder();
    const err = assert.throws(() => d.feed(word(0, 2 ** 30)), wire.MessageTooLarge);
    assert.equal(d.buffered, 0);
  });

  test("a size beyond the traversal limit is refused", () => {
    const d = new wire.FrameDecoder(new wire.Limits({ traversalWords: 10 }));
    assert.throws(() => d.feed(word(0, 11)), wire.MessageTooLarge);
  });

  test("a failed decoder stays failed", () => {
    const d = new wire.FrameDecoder(new wire.Limits({ maxSegments: 1 }));
    assert.throws(() => d.feed(word(5, 0)), wire.TooManySegments);
    assert.throws(() => d.feed(sample(1)), /already failed/);
  });

  test("a declared but unsent body is not allocated up front", () => {
    const d = new wire.FrameDecoder();
    d.feed(word(0, 7 * 1024 * 1024)); // 56 MiB declared
    d.feed(zeros(1024));
    assert.ok(d._buf.length < 1 << 20, `buffer of ${d._buf.length} bytes`);
  });

  test("limits reach the readers", () => {
    const d = new wire.FrameDecoder(new wire.Limits({ traversalWords: 3 }));
    const data = wire.frame([seg(structPtr(0, 0, 1), structPtr(0, 1, 0), u64(1))]);
    const [m] = d.feed(data);
    assert.equal(m.limits.traversalWords, 3);
    const r = m.root();
    r.getStruct(0);
    assert.throws(() => r.getStruct(0), wire.TraversalLimitExceeded);
  });

  test("the default limits match the reference implementation", () => {
    const l = new wire.Limits();
    assert.deepEqual([l.traversalWords, l.nesting, l.maxSegments, l.maxMessageBytes], [8 * 1024 * 1024, 64, 512, 64 * 1024 * 1024]);
    assert.throws(() => new wire.Limits({ nesting: -1 }), RangeError);
  });
});
