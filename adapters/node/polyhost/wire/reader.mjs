// Reading Cap'n Proto messages: MessageReader, StructReader, ListReader, PointerReader.
//
// Owns pointer decoding (struct, list, far and double-far, capability pointers), bounds
// checks, the traversal and nesting limits, default (XOR) decoding of primitive fields,
// schema-evolution rules (fields beyond a struct's sections read as defaults; list
// element-size upgrades accepted like the reference implementation) and Text/Data.
//
// Readers are cheap views: a segment (a DataView), byte offsets and sizes. They never
// copy message data except to produce the JS values asked for. 64-bit integers are
// BigInts; everything else is a number, boolean, string or Uint8Array.

import {
  IncompatibleListElement, IndexOutOfRange, InvalidCapability, InvalidSegmentId,
  MalformedMessage, MalformedPointer, MalformedText, NestingLimitExceeded, PointerOutOfBounds,
  TooManySegments, TraversalLimitExceeded, WrongPointerKind, WrongType,
} from "./errors.mjs";
import {
  BIT, BYTE, DATA_BITS, EMPTY_VIEW, INLINE_COMPOSITE, POINTER, POINTERS, PRIMITIVE_KINDS,
  STEP_BITS, VOID, elementSizeName, float32Bits, float32FromBits, float64Bits, float64FromBits,
  floatDefaultIsSet,
} from "./layout.mjs";
import { DEFAULT_LIMITS } from "./limits.mjs";

const NO_NEST = 2 ** 30;
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** A DataView over any bytes-like segment (Uint8Array, Buffer, ArrayBuffer, DataView). */
export function toView(s, what = "segment") {
  if (s instanceof DataView) return s;
  if (ArrayBuffer.isView(s)) return new DataView(s.buffer, s.byteOffset, s.byteLength);
  if (s instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && s instanceof SharedArrayBuffer)) {
    return new DataView(s);
  }
  throw new WrongType(`${what} must be bytes-like (Uint8Array, ArrayBuffer, DataView), got ${typeName(s)}`);
}

export function typeName(v) {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return v.constructor?.name ?? "object";
}

/**
 * A message made of segments (bytes-like, each a whole number of words).
 * `capTable` is the array capability pointers index into; it may be set after
 * construction. Each MessageReader has its own traversal budget, consumed by reads.
 */
export class MessageReader {
  constructor(segments, limits = null, capTable = null) {
    if (limits === null || limits === undefined) limits = DEFAULT_LIMITS;
    const segs = [];
    for (const s of segments) {
      const v = toView(s);
      if (v.byteLength % 8) {
        throw new MalformedMessage(`segment ${segs.length} is ${v.byteLength} bytes long, not a whole number of 8-byte words`);
      }
      segs.push(v);
    }
    if (segs.length > limits.maxSegments) {
      throw new TooManySegments(`message has ${segs.length} segments, the limit is ${limits.maxSegments}`);
    }
    this._segs = segs;
    this.limits = limits;
    this.capTable = capTable;
    this._budget = limits.traversalBudget();
    this._zeroBudget = limits.zeroSizedBudget();
    this._walk = 0; // pointers a deep copy may still follow (copy.mjs)
  }

  /** Internal: segments already checked DataViews (the frame decoder). */
  static _fromViews(views, limits, capTable = null) {
    const m = Object.create(MessageReader.prototype);
    m._segs = views;
    m.limits = limits;
    m.capTable = capTable;
    m._budget = limits.traversalBudget();
    m._zeroBudget = limits.zeroSizedBudget();
    m._walk = 0;
    return m;
  }

  /** How many words may still be read before TraversalLimitExceeded. */
  get traversalWordsLeft() { return this._budget; }

  /** The segments as Uint8Arrays (views, no copy). */
  segments() {
    return this._segs.map((v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }

  /** The root pointer (word 0 of segment 0). */
  rootPointer() {
    const segs = this._segs;
    if (segs.length === 0) throw new PointerOutOfBounds("message has no segments, so no root pointer");
    if (segs[0].byteLength < 8) throw new PointerOutOfBounds("segment 0 is empty, so there is no root pointer");
    charge(this, 1);
    return new PointerReader(this, 0, 0, this.limits.nesting);
  }

  /** The root struct (a reader of defaults when the root pointer is null). */
  root() {
    return this.rootPointer().asStruct();
  }

  toString() {
    let words = 0;
    for (const s of this._segs) words += s.byteLength / 8;
    return `<MessageReader ${this._segs.length} segment(s), ${words} words>`;
  }
}

/** A capability pointer found by PointerReader.target(): its index in the cap table. */
export class Capability {
  constructor(index) { this.index = index; }
  toString() { return `Capability(${this.index})`; }
}

// ---------------------------------------------------------------------------------------
// Pointer resolution (module functions: they are on the hot path).

export function charge(msg, words) {
  const b = msg._budget - words;
  if (b < 0) {
    throw new TraversalLimitExceeded(
      `traversal limit exceeded: reading ${words} more word(s) with ${msg._budget} of ${msg.limits.traversalWords} left`);
  }
  msg._budget = b;
}

// Zero-sized struct elements take no bytes on the wire but one object each when
// decoded; a Void element is one reference, and counts 1/16.
function chargeZeroSized(msg, count) {
  const b = msg._zeroBudget - count;
  if (b < 0) {
    throw new TraversalLimitExceeded(
      `zero-sized struct element limit exceeded: a list of ${count} zero-sized elements with ${msg._zeroBudget} of ${msg.limits.zeroSizedStructs} left for this message (Limits.zeroSizedStructs)`);
  }
  msg._zeroBudget = b;
}

function segment(msg, segi) {
  const segs = msg._segs;
  if (segi >= segs.length) {
    throw new InvalidSegmentId(`far pointer names segment ${segi} but the message has ${segs.length} segment(s)`);
  }
  return segs[segi];
}

// Result slots of followFar (avoids allocating a tuple per far pointer).
let farSegi = 0;
let farSeg = EMPTY_VIEW;
let farTarget = 0;
let farLo = 0;
let farHi = 0;

/** Resolves a far pointer word (lo, hi) into the far* slots: the segment holding the
 *  object, the object's byte offset (not yet bounds-checked) and the pointer word that
 *  describes it (the landing pad or the double-far tag). */
function followFar(msg, lo, hi) {
  const double = lo & 4;
  const pos = (lo >>> 3) * 8;
  const segi = hi;
  const seg = segment(msg, segi);
  const pad = double ? 16 : 8;
  if (pos + pad > seg.byteLength) {
    throw new PointerOutOfBounds(
      `far pointer landing pad at word ${pos / 8} of segment ${segi} is outside the segment (${seg.byteLength / 8} words)`);
  }
  charge(msg, pad / 8);
  const plo = seg.getInt32(pos, true);
  const phi = seg.getUint32(pos + 4, true);
  if (!double) {
    if ((plo & 3) === 2) {
      throw new MalformedPointer(`far pointer landing pad (segment ${segi}, word ${pos / 8}) is itself a far pointer`);
    }
    farSegi = segi; farSeg = seg; farTarget = pos + 8 + (plo >> 2) * 8; farLo = plo; farHi = phi;
    return;
  }
  if ((plo & 7) !== 2) {
    throw new MalformedPointer(`double-far landing pad (segment ${segi}, word ${pos / 8}) must start with a single far pointer`);
  }
  const tlo = seg.getInt32(pos + 8, true);
  const thi = seg.getUint32(pos + 12, true);
  if ((tlo & 3) === 2) {
    throw new MalformedPointer(`double-far landing pad tag (segment ${segi}, word ${pos / 8 + 1}) is a far pointer`);
  }
  farSegi = phi; farSeg = segment(msg, phi); farTarget = (plo >>> 3) * 8; farLo = tlo; farHi = thi;
}

function kindName(lo) {
  const k = lo & 3;
  if (k === 3) return lo === 3 ? "capability" : "unknown other-kind";
  return ["struct", "list", "far"][k];
}

function structAt(msg, segi, seg, off, lo, hi, nest) {
  if (nest <= 0) {
    throw new NestingLimitExceeded(
      `nesting limit exceeded reading a struct (message too deeply nested or cyclic; limit ${msg.limits.nesting})`);
  }
  if ((lo & 3) === 2) {
    followFar(msg, lo, hi);
    return structResolved(msg, farSegi, farSeg, farTarget, farLo, farHi, nest);
  }
  return structResolved(msg, segi, seg, off + 8 + (lo >> 2) * 8, lo, hi, nest);
}

function structResolved(msg, segi, seg, t, lo, hi, nest) {
  if (lo & 3) throw new WrongPointerKind(`expected a struct pointer, found a ${kindName(lo)} pointer`);
  const dw = hi & 0xFFFF;
  const pc = hi >>> 16;
  const words = dw + pc;
  if (t < 0 || t + words * 8 > seg.byteLength) {
    throw new PointerOutOfBounds(
      `struct pointer target (word ${Math.floor(t / 8)}, ${words} words) is outside segment ${segi} (${seg.byteLength / 8} words)`);
  }
  const b = msg._budget - words;
  if (b < 0) charge(msg, words);
  msg._budget = b;
  const d = dw * 8;
  return new StructReader(msg, seg, segi, t, d, t + d, pc, nest - 1);
}

function listAt(msg, segi, seg, off, lo, hi, nest, expected) {
  if (nest <= 0) {
    throw new NestingLimitExceeded(
      `nesting limit exceeded reading a list (message too deeply nested or cyclic; limit ${msg.limits.nesting})`);
  }
  if ((lo & 3) === 2) {
    followFar(msg, lo, hi);
    return listResolved(msg, farSegi, farSeg, farTarget, farLo, farHi, nest, expected);
  }
  return listResolved(msg, segi, seg, off + 8 + (lo >> 2) * 8, lo, hi, nest, expected);
}

function listResolved(msg, segi, seg, t, lo, hi, nest, expected) {
  if ((lo & 3) !== 1) throw new WrongPointerKind(`expected a list pointer, found a ${kindName(lo)} pointer`);
  const es = hi & 7;
  if (es === INLINE_COMPOSITE) {
    const wc = hi >>> 3;
    if (t < 0 || t + (wc + 1) * 8 > seg.byteLength) {
      throw new PointerOutOfBounds(
        `composite list (word ${Math.floor(t / 8)}, ${wc} words + tag) is outside segment ${segi} (${seg.byteLength / 8} words)`);
    }
    charge(msg, wc + 1);
    const tlo = seg.getInt32(t, true);
    const thi = seg.getUint32(t + 4, true);
    if (tlo & 3) {
      throw new MalformedPointer(`composite list tag is a ${kindName(tlo)} pointer, only struct tags are supported`);
    }
    const count = tlo >>> 2;
    const dw = thi & 0xFFFF;
    const pc = thi >>> 16;
    const per = dw + pc;
    if (count * per > wc) {
      throw new MalformedPointer(
        `composite list elements overrun its word count: ${count} elements of ${per} words in ${wc} words`);
    }
    if (per === 0) { // zero-sized elements cost nothing on the wire
      charge(msg, count);
      chargeZeroSized(msg, count);
    }
    if (expected !== null && expected !== undefined && expected !== VOID && expected !== INLINE_COMPOSITE) {
      if (expected === BIT) throw new IncompatibleListElement("found a struct list where a bit list was expected");
      if (expected === POINTER) {
        if (pc === 0) throw new IncompatibleListElement("expected a pointer list but got a list of data-only structs");
      } else if (dw === 0) {
        throw new IncompatibleListElement(
          `expected a ${elementSizeName(expected)} list but got a list of pointer-only structs`);
      }
    }
    return new ListReader(msg, seg, segi, t + 8, count, per * 64, dw * 64, pc, es, nest - 1);
  }
  const count = hi >>> 3;
  const step = STEP_BITS[es];
  const words = Math.ceil((count * step) / 64);
  if (t < 0 || t + words * 8 > seg.byteLength) {
    throw new PointerOutOfBounds(
      `list of ${count} ${elementSizeName(es)} elements (word ${Math.floor(t / 8)}, ${words} words) is outside segment ${segi} (${seg.byteLength / 8} words)`);
  }
  const b = msg._budget - words;
  if (b < 0) charge(msg, words);
  msg._budget = b;
  if (es === VOID) {
    charge(msg, count);
    chargeZeroSized(msg, Math.ceil(count / 16)); // a reference each: 1/16 of an object
  }
  if (expected !== null && expected !== undefined && expected !== es) {
    if (es === BIT) {
      throw new IncompatibleListElement(`found a bit list where a ${elementSizeName(expected)} list was expected`);
    }
    if (!(expected >= 0 && expected <= 7)) throw new WrongType(`invalid element size ${expected}`);
    if (DATA_BITS[expected] > DATA_BITS[es] || POINTERS[expected] > POINTERS[es]) {
      throw new IncompatibleListElement(
        `found a ${elementSizeName(es)} list where a ${elementSizeName(expected)} list was expected`);
    }
  }
  return new ListReader(msg, seg, segi, t, count, step, DATA_BITS[es], POINTERS[es], es, nest - 1);
}

// Result slots of bytesAt.
let bytesSeg = EMPTY_VIEW;
let bytesStart = 0;

/** Resolves a Text/Data pointer into bytesSeg/bytesStart; returns the byte count. */
function bytesAt(msg, segi, seg, off, lo, hi, what) {
  let t;
  if ((lo & 3) === 2) {
    followFar(msg, lo, hi);
    segi = farSegi; seg = farSeg; t = farTarget; lo = farLo; hi = farHi;
  } else {
    t = off + 8 + (lo >> 2) * 8;
  }
  if ((lo & 3) !== 1) throw new WrongPointerKind(`expected a list pointer for ${what}, found a ${kindName(lo)} pointer`);
  if ((hi & 7) !== BYTE) {
    throw new WrongPointerKind(`expected a byte list for ${what}, found a ${elementSizeName(hi & 7)} list`);
  }
  const n = hi >>> 3;
  const words = Math.ceil(n / 8);
  if (t < 0 || t + words * 8 > seg.byteLength) {
    throw new PointerOutOfBounds(
      `${what} of ${n} bytes (word ${Math.floor(t / 8)}) is outside segment ${segi} (${seg.byteLength / 8} words)`);
  }
  charge(msg, words);
  bytesSeg = seg;
  bytesStart = t;
  return n;
}

/** Decodes `n` bytes of `seg` at `start` as UTF-8 (throws MalformedText). */
export function decodeUtf8(seg, start, n) {
  if (n < 24) {
    // Short ASCII strings: cheaper than a TextDecoder call.
    let s = "";
    for (let i = 0; i < n; i++) {
      const c = seg.getUint8(start + i);
      if (c >= 0x80) return decodeUtf8Slow(seg, start, n);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decodeUtf8Slow(seg, start, n);
}

function decodeUtf8Slow(seg, start, n) {
  try {
    return UTF8.decode(new Uint8Array(seg.buffer, seg.byteOffset + start, n));
  } catch (e) {
    throw new MalformedText(`Text is not valid UTF-8: ${e.message}`);
  }
}

function textAt(msg, segi, seg, off, lo, hi) {
  const n = bytesAt(msg, segi, seg, off, lo, hi, "Text");
  if (n === 0 || bytesSeg.getUint8(bytesStart + n - 1) !== 0) {
    throw new MalformedText(`Text is not NUL-terminated (${n} bytes)`);
  }
  return decodeUtf8(bytesSeg, bytesStart, n - 1);
}

/** A copy of `n` bytes of segment `s` from `start`. TypedArray slice, not
 *  ArrayBuffer slice: a small copy then lives on the JS heap (no off-heap buffer, ~10x
 *  cheaper). */
function copyBytes(s, start, n) {
  return new Uint8Array(s.buffer, s.byteOffset + start, n).slice();
}

function dataAt(msg, segi, seg, off, lo, hi) {
  const n = bytesAt(msg, segi, seg, off, lo, hi, "Data");
  return copyBytes(bytesSeg, bytesStart, n);
}

function capAt(msg, lo, hi) {
  if (lo !== 3) throw new WrongPointerKind(`expected a capability pointer, found a ${kindName(lo)} pointer`);
  const table = msg.capTable;
  const n = table === null || table === undefined ? 0 : table.length;
  if (hi >= n) {
    throw new InvalidCapability(`capability pointer index ${hi} is outside the capability table (${n} entries)`);
  }
  return table[hi];
}

// ---------------------------------------------------------------------------------------
// StructReader

/** A view of one struct: its data section and pointer section. */
export class StructReader {
  constructor(msg, seg, segi, data, dsize, ptrs, pcount, nest) {
    this._msg = msg;
    this._seg = seg;
    this._segi = segi;
    this._data = data;
    this._dsize = dsize; // data section size in bytes
    this._ptrs = ptrs;
    this._pcount = pcount;
    this._nest = nest;
  }

  /** Size of the data section on the wire, in words (rounded up). */
  get dataWords() { return Math.ceil(this._dsize / 8); }
  /** Number of pointers in the pointer section on the wire. */
  get pointerCount() { return this._pcount; }
  /** The MessageReader this struct belongs to (null for a reader of defaults). */
  get message() { return this._msg; }

  /** The raw data section bytes (a copy). */
  dataSection() {
    return copyBytes(this._seg, this._data, this._dsize);
  }

  getBool(bit, d = false) {
    if (bit >= this._dsize * 8) return d;
    const v = (this._seg.getUint8(this._data + (bit >>> 3)) >>> (bit & 7)) & 1;
    return d ? v === 0 : v === 1;
  }

  getInt8(off, d = 0) {
    if (off + 1 > this._dsize) return d;
    const v = this._seg.getInt8(this._data + off);
    return d ? v ^ d : v;
  }

  getUint8(off, d = 0) {
    if (off + 1 > this._dsize) return d;
    const v = this._seg.getUint8(this._data + off);
    return d ? v ^ d : v;
  }

  getInt16(off, d = 0) {
    const o = off * 2;
    if (o + 2 > this._dsize) return d;
    const v = this._seg.getInt16(this._data + o, true);
    return d ? v ^ d : v;
  }

  getUint16(off, d = 0) {
    const o = off * 2;
    if (o + 2 > this._dsize) return d;
    const v = this._seg.getUint16(this._data + o, true);
    return d ? v ^ d : v;
  }

  getInt32(off, d = 0) {
    const o = off * 4;
    if (o + 4 > this._dsize) return d;
    const v = this._seg.getInt32(this._data + o, true);
    return d ? v ^ d : v;
  }

  getUint32(off, d = 0) {
    const o = off * 4;
    if (o + 4 > this._dsize) return d;
    const v = this._seg.getUint32(this._data + o, true);
    return d ? (v ^ d) >>> 0 : v;
  }

  getInt64(off, d = 0n) {
    const o = off * 8;
    if (o + 8 > this._dsize) return d;
    const v = this._seg.getBigInt64(this._data + o, true);
    return d ? v ^ d : v;
  }

  getUint64(off, d = 0n) {
    const o = off * 8;
    if (o + 8 > this._dsize) return d;
    const v = this._seg.getBigUint64(this._data + o, true);
    return d ? v ^ d : v;
  }

  getFloat32(off, d = 0) {
    const o = off * 4;
    if (o + 4 > this._dsize) return d;
    if (floatDefaultIsSet(d)) return float32FromBits(this._seg.getUint32(this._data + o, true) ^ float32Bits(d));
    return this._seg.getFloat32(this._data + o, true);
  }

  getFloat64(off, d = 0) {
    const o = off * 8;
    if (o + 8 > this._dsize) return d;
    if (floatDefaultIsSet(d)) return float64FromBits(this._seg.getBigUint64(this._data + o, true) ^ float64Bits(d));
    return this._seg.getFloat64(this._data + o, true);
  }

  /** True when pointer `i` exists and is not null. */
  hasPointer(i) {
    if (i >= this._pcount || i < 0) return false;
    const o = this._ptrs + i * 8;
    return this._seg.getInt32(o, true) !== 0 || this._seg.getUint32(o + 4, true) !== 0;
  }

  /** Pointer `i` as a PointerReader (a null one beyond the pointer section). */
  getPointer(i) {
    if (i >= this._pcount || i < 0) return NULL_POINTER;
    return new PointerReader(this._msg, this._segi, this._ptrs + i * 8, this._nest);
  }

  getText(i, d = "") {
    if (i >= this._pcount || i < 0) return d;
    const seg = this._seg;
    const off = this._ptrs + i * 8;
    const lo = seg.getInt32(off, true);
    const hi = seg.getUint32(off + 4, true);
    if (lo === 0 && hi === 0) return d;
    return textAt(this._msg, this._segi, seg, off, lo, hi);
  }

  getData(i, d = EMPTY_BYTES) {
    if (i >= this._pcount || i < 0) return d;
    const seg = this._seg;
    const off = this._ptrs + i * 8;
    const lo = seg.getInt32(off, true);
    const hi = seg.getUint32(off + 4, true);
    if (lo === 0 && hi === 0) return d;
    return dataAt(this._msg, this._segi, seg, off, lo, hi);
  }

  /** Struct pointer `i`; a reader of defaults when null or absent. */
  getStruct(i) {
    if (i >= this._pcount || i < 0) return EMPTY_STRUCT;
    const seg = this._seg;
    const off = this._ptrs + i * 8;
    const lo = seg.getInt32(off, true);
    const hi = seg.getUint32(off + 4, true);
    if (lo === 0 && hi === 0) return EMPTY_STRUCT;
    return structAt(this._msg, this._segi, seg, off, lo, hi, this._nest);
  }

  /** List pointer `i` read as a list of `elementSize`; empty when null. */
  getList(i, elementSize) {
    if (i >= this._pcount || i < 0) return emptyList(elementSize);
    const seg = this._seg;
    const off = this._ptrs + i * 8;
    const lo = seg.getInt32(off, true);
    const hi = seg.getUint32(off + 4, true);
    if (lo === 0 && hi === 0) return emptyList(elementSize);
    return listAt(this._msg, this._segi, seg, off, lo, hi, this._nest, elementSize);
  }

  /** The cap-table entry capability pointer `i` names; null when null. */
  getCapability(i) {
    if (i >= this._pcount || i < 0) return null;
    const off = this._ptrs + i * 8;
    const lo = this._seg.getInt32(off, true);
    const hi = this._seg.getUint32(off + 4, true);
    if (lo === 0 && hi === 0) return null;
    return capAt(this._msg, lo, hi);
  }

  toString() { return `<StructReader data=${this._dsize} bytes, pointers=${this._pcount}>`; }
}

export const EMPTY_BYTES = new Uint8Array(0);
Object.freeze(EMPTY_BYTES);
export const EMPTY_STRUCT = new StructReader(null, EMPTY_VIEW, 0, 0, 0, 0, 0, NO_NEST);

// ---------------------------------------------------------------------------------------
// ListReader

function outOfRange(i, n) {
  return new IndexOutOfRange(`list index ${i} out of range (length ${n})`);
}

/**
 * A view of one list: `count` elements of `step` bits each, where each element is read
 * as a struct of `dbits` data bits followed by `pcount` pointers.
 */
export class ListReader {
  constructor(msg, seg, segi, off, count, step, dbits, pcount, esize, nest) {
    this._msg = msg;
    this._seg = seg;
    this._segi = segi;
    this._off = off;
    this._count = count;
    this._step = step;
    this._dbits = dbits;
    this._pcount = pcount;
    this._esize = esize;
    this._nest = nest;
  }

  get length() { return this._count; }
  len() { return this._count; }
  /** The element size on the wire (INLINE_COMPOSITE for struct lists). */
  get elementSize() { return this._esize; }

  _at(i, bits, name) {
    if (!(i >= 0 && i < this._count)) throw outOfRange(i, this._count);
    if (this._dbits < bits) {
      throw new IncompatibleListElement(`${name} of a list whose elements have ${this._dbits} data bits`);
    }
    return this._off + i * (this._step >>> 3);
  }

  getBool(i) {
    if (!(i >= 0 && i < this._count)) throw outOfRange(i, this._count);
    if (this._esize !== BIT) {
      if (this._dbits < 1) throw new IncompatibleListElement("getBool of a list without data");
      return (this._seg.getUint8(this._off + i * (this._step >>> 3)) & 1) === 1; // upgraded list
    }
    return ((this._seg.getUint8(this._off + (i >>> 3)) >>> (i & 7)) & 1) === 1;
  }

  getInt8(i) { return this._seg.getInt8(this._at(i, 8, "getInt8")); }
  getUint8(i) { return this._seg.getUint8(this._at(i, 8, "getUint8")); }
  getInt16(i) { return this._seg.getInt16(this._at(i, 16, "getInt16"), true); }
  getUint16(i) { return this._seg.getUint16(this._at(i, 16, "getUint16"), true); }
  getInt32(i) { return this._seg.getInt32(this._at(i, 32, "getInt32"), true); }
  getUint32(i) { return this._seg.getUint32(this._at(i, 32, "getUint32"), true); }
  getFloat32(i) { return this._seg.getFloat32(this._at(i, 32, "getFloat32"), true); }
  getInt64(i) { return this._seg.getBigInt64(this._at(i, 64, "getInt64"), true); }
  getUint64(i) { return this._seg.getBigUint64(this._at(i, 64, "getUint64"), true); }
  getFloat64(i) { return this._seg.getFloat64(this._at(i, 64, "getFloat64"), true); }

  /**
   * Every element as a JS array, decoded as `kind` ("bool", "int8" .. "uint64",
   * "float32", "float64"): one tight loop instead of a call per element.
   */
  primitives(kind) {
    const spec = PRIMITIVE_KINDS[kind];
    if (spec === undefined) throw new WrongType(`unsupported primitive kind ${JSON.stringify(kind)}`);
    const n = this._count;
    const out = new Array(n);
    if (n === 0) return out;
    const seg = this._seg;
    const off = this._off;
    const size = spec[0];
    if (size === 0) {
      if (this._esize === BIT) {
        for (let i = 0; i < n; i++) out[i] = ((seg.getUint8(off + (i >>> 3)) >>> (i & 7)) & 1) === 1;
      } else {
        for (let i = 0; i < n; i++) out[i] = this.getBool(i);
      }
      return out;
    }
    if (this._dbits < size * 8) {
      throw new IncompatibleListElement(
        `primitives(${JSON.stringify(kind)}) of a list whose elements have ${this._dbits} data bits`);
    }
    const stride = this._step >>> 3;
    switch (kind) {
      case "int8": for (let i = 0; i < n; i++) out[i] = seg.getInt8(off + i * stride); break;
      case "uint8": for (let i = 0; i < n; i++) out[i] = seg.getUint8(off + i * stride); break;
      case "int16": for (let i = 0; i < n; i++) out[i] = seg.getInt16(off + i * stride, true); break;
      case "uint16": for (let i = 0; i < n; i++) out[i] = seg.getUint16(off + i * stride, true); break;
      case "int32": for (let i = 0; i < n; i++) out[i] = seg.getInt32(off + i * stride, true); break;
      case "uint32": for (let i = 0; i < n; i++) out[i] = seg.getUint32(off + i * stride, true); break;
      case "float32": for (let i = 0; i < n; i++) out[i] = seg.getFloat32(off + i * stride, true); break;
      case "int64": for (let i = 0; i < n; i++) out[i] = seg.getBigInt64(off + i * stride, true); break;
      case "uint64": for (let i = 0; i < n; i++) out[i] = seg.getBigUint64(off + i * stride, true); break;
      default: for (let i = 0; i < n; i++) out[i] = seg.getFloat64(off + i * stride, true); break;
    }
    return out;
  }

  /** The list's bytes as a Uint8Array copy (byte lists: List(UInt8) / Data payloads). */
  bytes() {
    if (this._esize !== BYTE) throw new IncompatibleListElement(`bytes() of a ${elementSizeName(this._esize)} list`);
    return copyBytes(this._seg, this._off, this._count);
  }

  /** Element `i` as a struct (struct lists, or upgraded primitive/pointer lists). */
  getStruct(i) {
    if (!(i >= 0 && i < this._count)) throw outOfRange(i, this._count);
    if (this._esize === BIT) throw new IncompatibleListElement("found a bit list where a struct list was expected");
    const start = this._off + i * (this._step >>> 3);
    const d = this._dbits >>> 3;
    return new StructReader(this._msg, this._seg, this._segi, start, d, start + d, this._pcount, this._nest - 1);
  }

  _pointerOff(i) {
    if (!(i >= 0 && i < this._count)) throw outOfRange(i, this._count);
    if (this._pcount === 0) {
      throw new IncompatibleListElement(
        `pointer access to a ${elementSizeName(this._esize)} list whose elements have no pointers`);
    }
    return this._off + i * (this._step >>> 3) + (this._dbits >>> 3);
  }

  getPointer(i) {
    return new PointerReader(this._msg, this._segi, this._pointerOff(i), this._nest);
  }

  getText(i, d = "") {
    const off = this._pointerOff(i);
    const seg = this._seg;
    const lo = seg.getInt32(off, true);
    const hi = seg.getUint32(off + 4, true);
    if (lo === 0 && hi === 0) return d;
    return textAt(this._msg, this._segi, seg, off, lo, hi);
  }

  getData(i, d = EMPTY_BYTES) {
    const off = this._pointerOff(i);
    const seg = this._seg;
    const lo = seg.getInt32(off, true);
    const hi = seg.getUint32(off + 4, true);
    if (lo === 0 && hi === 0) return d;
    return dataAt(this._msg, this._segi, seg, off, lo, hi);
  }

  getList(i, elementSize) {
    const off = this._pointerOff(i);
    const seg = this._seg;
    const lo = seg.getInt32(off, true);
    const hi = seg.getUint32(off + 4, true);
    if (lo === 0 && hi === 0) return emptyList(elementSize);
    return listAt(this._msg, this._segi, seg, off, lo, hi, this._nest, elementSize);
  }

  getCapability(i) {
    const off = this._pointerOff(i);
    const lo = this._seg.getInt32(off, true);
    const hi = this._seg.getUint32(off + 4, true);
    if (lo === 0 && hi === 0) return null;
    return capAt(this._msg, lo, hi);
  }

  toString() { return `<ListReader ${this._count} x ${elementSizeName(this._esize)}>`; }
}

const EMPTY_LISTS = Array.from({ length: 8 },
  (_, es) => new ListReader(null, EMPTY_VIEW, 0, 0, 0, STEP_BITS[es], DATA_BITS[es], POINTERS[es], es, NO_NEST));

export function emptyList(elementSize) {
  if (elementSize === null || elementSize === undefined) return EMPTY_LISTS[VOID];
  const l = EMPTY_LISTS[elementSize];
  if (l === undefined) throw new WrongType(`invalid element size ${elementSize}`);
  return l;
}

// ---------------------------------------------------------------------------------------
// PointerReader

/** One pointer slot, read lazily as whatever the caller expects (AnyPointer). */
export class PointerReader {
  constructor(msg, segi, off, nest) {
    this._msg = msg;
    this._segi = segi;
    this._off = off;
    this._nest = nest;
  }

  /** The MessageReader this pointer belongs to (null for a null default). */
  get message() { return this._msg; }

  _seg() { return this._msg._segs[this._segi]; }

  isNull() {
    if (this._msg === null) return true;
    const seg = this._seg();
    return seg.getInt32(this._off, true) === 0 && seg.getUint32(this._off + 4, true) === 0;
  }

  asStruct() {
    if (this._msg === null) return EMPTY_STRUCT;
    const seg = this._seg();
    const lo = seg.getInt32(this._off, true);
    const hi = seg.getUint32(this._off + 4, true);
    if (lo === 0 && hi === 0) return EMPTY_STRUCT;
    return structAt(this._msg, this._segi, seg, this._off, lo, hi, this._nest);
  }

  /** The list, checked against `elementSize` (null/undefined accepts any list). */
  asList(elementSize = null) {
    if (this._msg === null) return emptyList(elementSize);
    const seg = this._seg();
    const lo = seg.getInt32(this._off, true);
    const hi = seg.getUint32(this._off + 4, true);
    if (lo === 0 && hi === 0) return emptyList(elementSize);
    return listAt(this._msg, this._segi, seg, this._off, lo, hi, this._nest, elementSize);
  }

  asText(d = "") {
    if (this._msg === null) return d;
    const seg = this._seg();
    const lo = seg.getInt32(this._off, true);
    const hi = seg.getUint32(this._off + 4, true);
    if (lo === 0 && hi === 0) return d;
    return textAt(this._msg, this._segi, seg, this._off, lo, hi);
  }

  asData(d = EMPTY_BYTES) {
    if (this._msg === null) return d;
    const seg = this._seg();
    const lo = seg.getInt32(this._off, true);
    const hi = seg.getUint32(this._off + 4, true);
    if (lo === 0 && hi === 0) return d;
    return dataAt(this._msg, this._segi, seg, this._off, lo, hi);
  }

  asCapability() {
    if (this._msg === null) return null;
    const seg = this._seg();
    const lo = seg.getInt32(this._off, true);
    const hi = seg.getUint32(this._off + 4, true);
    if (lo === 0 && hi === 0) return null;
    return capAt(this._msg, lo, hi);
  }

  /** What the pointer designates by its wire kind: null, a StructReader, a ListReader
   *  (its wire element size) or a Capability (its index). */
  target() {
    if (this._msg === null) return null;
    const msg = this._msg;
    let seg = this._seg();
    let lo = seg.getInt32(this._off, true);
    let hi = seg.getUint32(this._off + 4, true);
    if (lo === 0 && hi === 0) return null;
    let kind = lo & 3;
    if (kind === 3) {
      if (lo !== 3) throw new MalformedPointer(`unknown other-kind pointer 0x${hex32(hi)}${hex32(lo)}`);
      return new Capability(hi);
    }
    const nest = this._nest;
    if (nest <= 0) {
      throw new NestingLimitExceeded(
        `nesting limit exceeded (message too deeply nested or cyclic; limit ${msg.limits.nesting})`);
    }
    let segi = this._segi;
    let t;
    if (kind === 2) {
      followFar(msg, lo, hi);
      segi = farSegi; seg = farSeg; t = farTarget; lo = farLo; hi = farHi;
      kind = lo & 3;
      if (kind === 3) {
        if (lo !== 3) throw new MalformedPointer("unknown other-kind pointer behind a far pointer");
        return new Capability(hi);
      }
    } else {
      t = this._off + 8 + (lo >> 2) * 8;
    }
    if (kind === 0) return structResolved(msg, segi, seg, t, lo, hi, nest);
    return listResolved(msg, segi, seg, t, lo, hi, nest, null);
  }

  toString() {
    return this._msg === null ? "<PointerReader null>" : `<PointerReader segment ${this._segi} word ${this._off / 8}>`;
  }
}

function hex32(v) {
  return (v >>> 0).toString(16).padStart(8, "0");
}

export const NULL_POINTER = new PointerReader(null, 0, 0, NO_NEST);
