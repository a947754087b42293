// Canonical form of a Cap'n Proto value (encoding spec, "Canonicalization").
//
// The canonical form is a single segment (no framing) starting with the root pointer,
// every object laid out in pre-order, struct sections truncated (see copy.mjs),
// zero-sized structs encoded with offset -1, bit lists with their unused bits cleared,
// and no capabilities. canonicalize() produces exactly the bytes of the reference
// implementation's `message::Reader::canonicalize()`.

import { MessageBuilder } from "./builder.mjs";
import { copyInto } from "./copy.mjs";
import { WrongType } from "./errors.mjs";
import { ListReader, MessageReader, PointerReader, StructReader, typeName } from "./reader.mjs";

function sizeHint(value) {
  const msg = value instanceof MessageReader ? value : value._msg;
  if (!msg) return 64;
  let words = 1;
  for (const s of msg._segs) words += s.byteLength / 8;
  return Math.max(64, Math.min(words, 1 << 24));
}

/**
 * Canonical bytes (a Uint8Array) of `value`: a StructReader (the usual case: the struct
 * becomes the root), a PointerReader (AnyPointer: a null pointer gives one zero word),
 * a ListReader, or a MessageReader (its root pointer).
 */
export function canonicalize(value) {
  if (value instanceof MessageReader) {
    value = value.rootPointer();
  } else if (!(value instanceof StructReader || value instanceof PointerReader || value instanceof ListReader)) {
    throw new WrongType(`canonicalize() takes a StructReader, PointerReader, ListReader or MessageReader, got ${typeName(value)}`);
  }
  let words = sizeHint(value);
  for (;;) {
    const mb = new MessageBuilder({ firstSegmentWords: words });
    const budget = value._msg ? value._msg._budget : 0;
    const zero = value._msg ? value._msg._zeroBudget : 0;
    copyInto(mb, 0, mb._views[0], 0, value, true);
    if (mb._used.length === 1) return mb.segments()[0].slice();
    // The value outgrew the first segment (shared subtrees are copied once per
    // reference): again, with room for everything the first attempt wrote.
    if (value._msg) {
      value._msg._budget = budget;
      value._msg._zeroBudget = zero;
    }
    words = mb.sizeInWords();
  }
}
