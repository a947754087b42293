// Deep copies of reader values into a builder, plain or canonical.
//
// Owns `copyInto` (what StructBuilder.copyPointer / PointerBuilder.copyFrom and
// generated AnyPointer fields use) and its canonical mode (used by canonical.mjs):
// objects in pre-order, struct data sections without trailing zero words, pointer
// sections without trailing nulls (struct lists use the largest truncated size over
// their elements), bit-list padding cleared, capabilities refused.

import {
  CanonicalizationError, InvalidCapability, NestingLimitExceeded, TraversalLimitExceeded, WrongType,
} from "./errors.mjs";
import { initList, initStruct, initStructList, installCopy, setCapability } from "./builder.mjs";
import { INLINE_COMPOSITE, POINTER, VOID } from "./layout.mjs";
import { Capability, ListReader, PointerReader, StructReader, typeName } from "./reader.mjs";

function bytesOf(view, off, n) {
  return new Uint8Array(view.buffer, view.byteOffset + off, n);
}

function zeroWord(view, off) {
  return view.getUint32(off, true) === 0 && view.getUint32(off + 4, true) === 0;
}

function copy(mb, segi, seg, ref, src, canonical) {
  if (src === null || src === undefined) {
    seg.setUint32(ref, 0, true);
    seg.setUint32(ref + 4, 0, true);
  } else if (src instanceof PointerReader) {
    const t = src.target();
    if (t === null) {
      seg.setUint32(ref, 0, true);
      seg.setUint32(ref + 4, 0, true);
      return;
    }
    if (--src._msg._walk < 0) {
      throw new TraversalLimitExceeded("copying follows more pointers than the message has words: its pointers share targets or form a cycle");
    }
    if (t instanceof Capability) {
      if (canonical) throw new CanonicalizationError("cannot create a canonical message with a capability");
      const table = src._msg.capTable;
      const n = table === null || table === undefined ? 0 : table.length;
      if (t.index >= n) {
        throw new InvalidCapability(`capability pointer index ${t.index} is outside the capability table (${n} entries)`);
      }
      setCapability(mb, seg, ref, table[t.index]);
    } else if (t instanceof StructReader) {
      copyStruct(mb, segi, seg, ref, t, canonical);
    } else {
      copyList(mb, segi, seg, ref, t, canonical);
    }
  } else if (src instanceof StructReader) {
    copyStruct(mb, segi, seg, ref, src, canonical);
  } else if (src instanceof ListReader) {
    copyList(mb, segi, seg, ref, src, canonical);
  } else {
    throw new WrongType(`cannot copy a ${typeName(src)} into a pointer (expected PointerReader, StructReader, ListReader or null)`);
  }
}

function copyStruct(mb, segi, seg, ref, sr, canonical) {
  let dsize = sr._dsize;
  let pc = sr._pcount;
  const sseg = sr._seg;
  const d0 = sr._data;
  const p0 = sr._ptrs;
  if (canonical) {
    while (dsize) {
      const w = dsize & 7 || 8;
      let zero = true;
      for (let k = dsize - w; k < dsize; k++) {
        if (sseg.getUint8(d0 + k) !== 0) { zero = false; break; }
      }
      if (!zero) break;
      dsize -= w;
    }
    while (pc && zeroWord(sseg, p0 + (pc - 1) * 8)) pc--;
  }
  const sb = initStruct(mb, segi, seg, ref, Math.ceil(dsize / 8), pc);
  if (dsize) mb._bytes[sb._segi].set(bytesOf(sseg, d0, dsize), sb._data);
  if (pc) {
    const smsg = sr._msg;
    const ssegi = sr._segi;
    const nest = sr._nest;
    for (let j = 0; j < pc; j++) {
      copy(mb, sb._segi, sb._seg, sb._ptrs + j * 8, new PointerReader(smsg, ssegi, p0 + j * 8, nest), canonical);
    }
  }
}

function copyList(mb, segi, seg, ref, lr, canonical) {
  const es = lr._esize;
  const n = lr._count;
  const sseg = lr._seg;
  const so = lr._off;
  if (es !== INLINE_COMPOSITE) {
    const lb = initList(mb, segi, seg, ref, es, n);
    if (es === POINTER) {
      for (let i = 0; i < n; i++) {
        copy(mb, lb._segi, lb._seg, lb._off + i * 8, new PointerReader(lr._msg, lr._segi, so + i * 8, lr._nest), canonical);
      }
    } else if (es !== VOID) {
      const bits = n * lr._step;
      const whole = Math.floor(bits / 8);
      const left = bits & 7;
      const dest = mb._bytes[lb._segi];
      if (whole) dest.set(bytesOf(sseg, so, whole), lb._off);
      if (left) dest[lb._off + whole] = sseg.getUint8(so + whole) & ((1 << left) - 1);
    }
    return;
  }
  const ddw = lr._dbits / 64;
  const dpc = lr._pcount;
  const stride = lr._step / 8;
  let dw = ddw;
  let pc = dpc;
  if (canonical) {
    dw = 0;
    pc = 0;
    for (let i = 0; i < n; i++) {
      const e = so + i * stride;
      let ldw = ddw;
      while (ldw > dw && zeroWord(sseg, e + (ldw - 1) * 8)) ldw--;
      if (ldw > dw) dw = ldw;
      let lpc = dpc;
      const p = e + ddw * 8;
      while (lpc > pc && zeroWord(sseg, p + (lpc - 1) * 8)) lpc--;
      if (lpc > pc) pc = lpc;
    }
  }
  const lb = initStructList(mb, segi, seg, ref, n, dw, pc);
  const dest = mb._bytes[lb._segi];
  const dstride = (dw + pc) * 8;
  const db = dw * 8;
  for (let i = 0; i < n; i++) {
    const e = so + i * stride;
    const d = lb._off + i * dstride;
    if (db) dest.set(bytesOf(sseg, e, db), d);
    const sp = e + ddw * 8;
    for (let j = 0; j < pc; j++) {
      copy(mb, lb._segi, lb._seg, d + db + j * 8, new PointerReader(lr._msg, lr._segi, sp + j * 8, lr._nest), canonical);
    }
  }
}

/** Deep-copies `src` into the pointer slot `seg[ref]` of `mb`; runaway recursion
 *  becomes NestingLimitExceeded. */
export function copyInto(mb, segi, seg, ref, src, canonical = false) {
  // A copy may follow at most as many pointers as the source message has words (plus
  // 64): a message whose pointers do not share targets never needs more, and pointers
  // that share targets (lists whose elements all point at the next list) would
  // otherwise make the copy cost exponential in the nesting limit, within the
  // traversal limit.
  const m = src === null || src === undefined ? null : src._msg ?? null;
  let saved;
  if (m !== null) {
    saved = m._walk;
    let words = 64;
    for (const s of m._segs) words += s.byteLength / 8;
    m._walk = words;
  }
  try {
    copy(mb, segi, seg, ref, src, canonical);
  } catch (e) {
    if (e instanceof RangeError && /call stack/.test(e.message)) {
      throw new NestingLimitExceeded("value nests too deeply to copy (JS stack exhausted)");
    }
    throw e;
  } finally {
    if (m !== null) m._walk = saved;
  }
}

installCopy(copyInto);
