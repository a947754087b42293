// Building Cap'n Proto messages: MessageBuilder, StructBuilder, ListBuilder, PointerBuilder.
//
// Owns segment allocation (a configurable first segment, further segments allocated
// when one is full, with far pointers and landing pads emitted automatically), pointer
// encoding, default (XOR) encoding of primitive fields, range checks of written values,
// and Text/Data/capability writing. Deep copies of readers live in copy.mjs.
//
// Space is never reused: re-initialising a pointer leaves the old object in the message
// as unreachable words, like orphaned space in the reference implementation.

import { Buffer } from "node:buffer";

import {
  IncompatibleListElement, IndexOutOfRange, ValueOutOfRange, WrongType,
} from "./errors.mjs";
import {
  BIT, BYTE, DATA_BITS, INLINE_COMPOSITE, MAX_LIST_COUNT, MAX_SEGMENT_WORDS, POINTER, POINTERS,
  PRIMITIVE_KINDS, STEP_BITS, elementSizeName, float32Bits, float64Bits, floatDefaultIsSet,
} from "./layout.mjs";
import { MessageReader, typeName } from "./reader.mjs";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const textEncoder = new TextEncoder();

/**
 * A message under construction.
 * Options: `capTable` (the array written capabilities are appended to; a new one by
 * default), `firstSegmentWords` (size of the first segment; further segments are
 * allocated when it is full, so a small value forces multi-segment messages),
 * `scratch` (a Scratch whose zeroed space becomes the first segment: no allocation for
 * a message that fits; call `scratch.release(builder)` once the bytes are taken).
 */
export class MessageBuilder {
  constructor({ capTable = null, firstSegmentWords = 256, scratch = null } = {}) {
    this.capTable = capTable === null ? [] : capTable;
    if (scratch !== null) {
      this._views = [scratch.view];
      this._bytes = [scratch.bytes];
      this._next = scratch.bytes.length;
    } else {
      if (!Number.isInteger(firstSegmentWords) || firstSegmentWords < 1 || firstSegmentWords > MAX_SEGMENT_WORDS) {
        throw new ValueOutOfRange(`firstSegmentWords must be an integer in 1..${MAX_SEGMENT_WORDS}, got ${firstSegmentWords}`);
      }
      const buf = new ArrayBuffer(firstSegmentWords * 8);
      this._views = [new DataView(buf)];
      this._bytes = [new Uint8Array(buf)];
      this._next = firstSegmentWords * 8;
    }
    this._used = [8]; // word 0 of segment 0 is the root pointer
  }

  /** The root pointer slot as a PointerBuilder. */
  rootPointer() {
    return new PointerBuilder(this, 0, this._views[0], 0);
  }

  /** Allocates the root struct and returns its StructBuilder. */
  initRoot(dataWords, ptrCount) {
    return initStruct(this, 0, this._views[0], 0, dataWords, ptrCount);
  }

  /** The used part of each segment (Uint8Array views, no copy). */
  segments() {
    return this._bytes.map((b, i) => b.subarray(0, this._used[i]));
  }

  /** The message in the standard stream framing, as one Buffer. */
  toBytes() {
    const n = this._used.length;
    const header = (4 + 4 * n + 7) & ~7;
    let total = header;
    for (let i = 0; i < n; i++) total += this._used[i];
    const out = Buffer.allocUnsafe(total);
    out.writeUInt32LE(n - 1, 0);
    for (let i = 0; i < n; i++) out.writeUInt32LE(this._used[i] / 8, 4 + 4 * i);
    if ((n & 1) === 0) out.writeUInt32LE(0, 4 + 4 * n);
    let pos = header;
    for (let i = 0; i < n; i++) {
      out.set(this._bytes[i].subarray(0, this._used[i]), pos);
      pos += this._used[i];
    }
    return out;
  }

  /** A MessageReader over a copy of the current segments (sharing `capTable`). */
  asReader(limits = null) {
    return new MessageReader(this.segments().map((s) => s.slice()), limits, this.capTable);
  }

  sizeInWords() {
    let n = 0;
    for (const u of this._used) n += u;
    return n / 8;
  }

  toString() { return `<MessageBuilder ${this._used.length} segment(s), ${this.sizeInWords()} words>`; }
}

/**
 * A reusable first segment for messages that are encoded and copied out at once (the
 * RPC connection's outgoing messages): `take()` lends it (null while lent), and
 * `release(builder)` zeroes what the builder wrote and takes it back.
 */
export class Scratch {
  constructor(words = 1024) {
    const buf = new ArrayBuffer(words * 8);
    this.view = new DataView(buf);
    this.bytes = new Uint8Array(buf);
    this._lent = false;
  }

  take() {
    if (this._lent) return null;
    this._lent = true;
    return this;
  }

  release(builder) {
    this.bytes.fill(0, 0, builder._used[0]);
    this._lent = false;
  }
}

// ---------------------------------------------------------------------------------------
// Allocation and pointer writing

function allocLocal(mb, segi, nbytes) {
  const used = mb._used[segi];
  const end = used + nbytes;
  if (end <= mb._views[segi].byteLength) {
    mb._used[segi] = end;
    return used;
  }
  return -1;
}

// Result slots of allocate(): where the object is and where its pointer goes.
let aSegi = 0;
let aSeg = null;
let aTarget = 0;
let aPSeg = null;
let aPRef = 0;

function allocate(mb, segi, seg, ref, nbytes) {
  const off = allocLocal(mb, segi, nbytes);
  if (off >= 0) {
    aSegi = segi; aSeg = seg; aTarget = off; aPSeg = seg; aPRef = ref;
    return;
  }
  // A new place with room for a landing pad in front of the object.
  const need = nbytes + 8;
  const limit = MAX_SEGMENT_WORDS * 8;
  if (need > limit) throw new ValueOutOfRange(`object of ${nbytes / 8} words does not fit in a segment`);
  let nsegi = mb._views.length - 1;
  let noff = allocLocal(mb, nsegi, need);
  if (noff < 0) {
    const size = Math.min(Math.max(need, mb._next), limit);
    mb._next = Math.min(mb._next + size, limit);
    const buf = new ArrayBuffer(size);
    mb._views.push(new DataView(buf));
    mb._bytes.push(new Uint8Array(buf));
    mb._used.push(need);
    nsegi = mb._views.length - 1;
    noff = 0;
  }
  const nseg = mb._views[nsegi];
  seg.setUint32(ref, noff | 2, true); // far pointer to the landing pad
  seg.setUint32(ref + 4, nsegi, true);
  aSegi = nsegi; aSeg = nseg; aTarget = noff + 8; aPSeg = nseg; aPRef = noff;
}

function checkStructSize(dw, pc) {
  if (!(Number.isInteger(dw) && Number.isInteger(pc) && dw >= 0 && dw <= 0xFFFF && pc >= 0 && pc <= 0xFFFF)) {
    throw new ValueOutOfRange(`struct size out of range: ${dw} data words, ${pc} pointers`);
  }
}

export function initStruct(mb, segi, seg, ref, dw, pc) {
  checkStructSize(dw, pc);
  const words = dw + pc;
  if (words === 0) {
    seg.setInt32(ref, -4, true); // empty struct: offset -1, distinct from null
    seg.setUint32(ref + 4, 0, true);
    return new StructBuilder(mb, seg, segi, ref, 0, ref, 0);
  }
  allocate(mb, segi, seg, ref, words * 8);
  const t = aTarget;
  aPSeg.setInt32(aPRef, (t - aPRef - 8) >> 1, true);
  aPSeg.setUint32(aPRef + 4, (dw | (pc << 16)) >>> 0, true);
  const d = dw * 8;
  return new StructBuilder(mb, aSeg, aSegi, t, d, t + d, pc);
}

export function initList(mb, segi, seg, ref, es, count) {
  if (es === INLINE_COMPOSITE) throw new WrongType("lists of structs are created with initStructList()");
  if (!(Number.isInteger(es) && es >= 0 && es < 7)) throw new WrongType(`invalid element size ${es}`);
  if (!(Number.isInteger(count) && count >= 0 && count <= MAX_LIST_COUNT)) {
    throw new ValueOutOfRange(`list element count ${count} out of range 0..${MAX_LIST_COUNT}`);
  }
  const step = STEP_BITS[es];
  allocate(mb, segi, seg, ref, Math.ceil((count * step) / 64) * 8);
  const t = aTarget;
  aPSeg.setInt32(aPRef, ((t - aPRef - 8) >> 1) | 1, true);
  aPSeg.setUint32(aPRef + 4, count * 8 + es, true);
  return new ListBuilder(mb, aSeg, aSegi, t, count, step, DATA_BITS[es], POINTERS[es], es);
}

export function initStructList(mb, segi, seg, ref, count, dw, pc) {
  checkStructSize(dw, pc);
  if (!(Number.isInteger(count) && count >= 0)) throw new ValueOutOfRange(`list element count ${count} is not a non-negative integer`);
  const per = dw + pc;
  const words = count * per;
  if (words > MAX_LIST_COUNT || count > MAX_LIST_COUNT) {
    throw new ValueOutOfRange(`struct list of ${count} elements of ${per} words is too large`);
  }
  allocate(mb, segi, seg, ref, (words + 1) * 8);
  const t = aTarget;
  aPSeg.setInt32(aPRef, ((t - aPRef - 8) >> 1) | 1, true);
  aPSeg.setUint32(aPRef + 4, words * 8 + INLINE_COMPOSITE, true);
  aSeg.setInt32(t, count << 2, true); // tag: a struct pointer whose offset is the count
  aSeg.setUint32(t + 4, (dw | (pc << 16)) >>> 0, true);
  return new ListBuilder(mb, aSeg, aSegi, t + 8, count, per * 64, dw * 64, pc, INLINE_COMPOSITE);
}

/** Allocates a byte list of `n` elements; returns its byte offset in segment aSegi. */
function allocBytes(mb, segi, seg, ref, n) {
  if (n > MAX_LIST_COUNT) throw new ValueOutOfRange(`byte list of ${n} bytes is too large`);
  allocate(mb, segi, seg, ref, Math.ceil(n / 8) * 8);
  const t = aTarget;
  aPSeg.setInt32(aPRef, ((t - aPRef - 8) >> 1) | 1, true);
  aPSeg.setUint32(aPRef + 4, n * 8 + BYTE, true);
  return t;
}

function clear(seg, ref) {
  seg.setUint32(ref, 0, true);
  seg.setUint32(ref + 4, 0, true);
}

export function setText(mb, segi, seg, ref, s) {
  if (s === null || s === undefined) {
    clear(seg, ref);
    return;
  }
  if (typeof s !== "string") throw new WrongType(`Text must be a string, got ${typeName(s)}`);
  const len = s.length;
  if (len < 64) {
    let ascii = true;
    for (let i = 0; i < len; i++) {
      if (s.charCodeAt(i) >= 0x80) { ascii = false; break; }
    }
    if (ascii) {
      const t = allocBytes(mb, segi, seg, ref, len + 1);
      const bytes = mb._bytes[aSegi];
      for (let i = 0; i < len; i++) bytes[t + i] = s.charCodeAt(i);
      return;
    }
  }
  const n = Buffer.byteLength(s, "utf8");
  const t = allocBytes(mb, segi, seg, ref, n + 1);
  textEncoder.encodeInto(s, mb._bytes[aSegi].subarray(t, t + n));
}

export function setData(mb, segi, seg, ref, b) {
  if (b === null || b === undefined) {
    clear(seg, ref);
    return;
  }
  let raw;
  if (b instanceof Uint8Array) raw = b;
  else if (ArrayBuffer.isView(b)) raw = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  else if (b instanceof ArrayBuffer) raw = new Uint8Array(b);
  else if (Array.isArray(b)) raw = Uint8Array.from(b);
  else throw new WrongType(`Data must be a Uint8Array (or bytes-like), got ${typeName(b)}`);
  const t = allocBytes(mb, segi, seg, ref, raw.length);
  if (raw.length) mb._bytes[aSegi].set(raw, t);
}

export function setCapability(mb, seg, ref, obj) {
  if (obj === null || obj === undefined) {
    clear(seg, ref);
    return;
  }
  const table = mb.capTable;
  const idx = table.length;
  table.push(obj);
  seg.setUint32(ref, 3, true);
  seg.setUint32(ref + 4, idx, true);
}

// ---------------------------------------------------------------------------------------
// Value checks (the DataView setters would wrap silently)

function badValue(name, off, v) {
  return new ValueOutOfRange(`${name}(${off}, ${typeof v === "bigint" ? `${v}n` : String(v)}): value out of range`);
}

function big(v, name, off) {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  throw badValue(name, off, v);
}

export function checkInt64(v, name, off) {
  const b = big(v, name, off);
  if (b < INT64_MIN || b > INT64_MAX) throw badValue(name, off, v);
  return b;
}

export function checkUint64(v, name, off) {
  const b = big(v, name, off);
  if (b < 0n || b > UINT64_MAX) throw badValue(name, off, v);
  return b;
}

function checkFloat(v, name, off) {
  if (typeof v !== "number") throw badValue(name, off, v);
  return v;
}

// ---------------------------------------------------------------------------------------
// StructBuilder

/** A struct being written: data section and pointer section. */
export class StructBuilder {
  constructor(msg, seg, segi, data, dsize, ptrs, pcount) {
    this._msg = msg;
    this._seg = seg;
    this._segi = segi;
    this._data = data;
    this._dsize = dsize;
    this._ptrs = ptrs;
    this._pcount = pcount;
  }

  get dataWords() { return this._dsize / 8; }
  get pointerCount() { return this._pcount; }
  get message() { return this._msg; }

  _o(off, size, name) {
    const o = off * size;
    if (!(o >= 0 && o + size <= this._dsize)) {
      throw new IndexOutOfRange(`${name} offset ${off} is outside the ${this._dsize}-byte data section`);
    }
    return this._data + o;
  }

  setBool(bit, v, d = false) {
    if (!(bit >= 0 && bit < this._dsize * 8)) {
      throw new IndexOutOfRange(`setBool bit ${bit} is outside the ${this._dsize}-byte data section`);
    }
    const i = this._data + (bit >>> 3);
    const m = 1 << (bit & 7);
    const b = this._seg.getUint8(i);
    this._seg.setUint8(i, !v === !d ? b & ~m : b | m);
  }

  setInt8(off, v, d = 0) {
    if ((v << 24 >> 24) !== v) throw badValue("setInt8", off, v);
    this._seg.setInt8(this._o(off, 1, "setInt8"), v ^ d);
  }

  setUint8(off, v, d = 0) {
    if ((v & 0xFF) !== v) throw badValue("setUint8", off, v);
    this._seg.setUint8(this._o(off, 1, "setUint8"), v ^ d);
  }

  setInt16(off, v, d = 0) {
    if ((v << 16 >> 16) !== v) throw badValue("setInt16", off, v);
    this._seg.setInt16(this._o(off, 2, "setInt16"), v ^ d, true);
  }

  setUint16(off, v, d = 0) {
    if ((v & 0xFFFF) !== v) throw badValue("setUint16", off, v);
    this._seg.setUint16(this._o(off, 2, "setUint16"), v ^ d, true);
  }

  setInt32(off, v, d = 0) {
    if ((v | 0) !== v) throw badValue("setInt32", off, v);
    this._seg.setInt32(this._o(off, 4, "setInt32"), v ^ d, true);
  }

  setUint32(off, v, d = 0) {
    if ((v >>> 0) !== v) throw badValue("setUint32", off, v);
    this._seg.setUint32(this._o(off, 4, "setUint32"), (v ^ d) >>> 0, true);
  }

  setInt64(off, v, d = 0n) {
    if (typeof v !== "bigint" || v < INT64_MIN || v > INT64_MAX) v = checkInt64(v, "setInt64", off);
    this._seg.setBigInt64(this._o(off, 8, "setInt64"), d ? v ^ d : v, true);
  }

  setUint64(off, v, d = 0n) {
    if (typeof v !== "bigint" || v < 0n || v > UINT64_MAX) v = checkUint64(v, "setUint64", off);
    this._seg.setBigUint64(this._o(off, 8, "setUint64"), d ? v ^ d : v, true);
  }

  setFloat32(off, v, d = 0) {
    if (typeof v !== "number") checkFloat(v, "setFloat32", off);
    const o = this._o(off, 4, "setFloat32");
    if (floatDefaultIsSet(d)) this._seg.setUint32(o, (float32Bits(v) ^ float32Bits(d)) >>> 0, true);
    else this._seg.setFloat32(o, v, true);
  }

  setFloat64(off, v, d = 0) {
    if (typeof v !== "number") checkFloat(v, "setFloat64", off);
    const o = this._o(off, 8, "setFloat64");
    if (floatDefaultIsSet(d)) this._seg.setBigUint64(o, float64Bits(v) ^ float64Bits(d), true);
    else this._seg.setFloat64(o, v, true);
  }

  _ref(i) {
    if (!(i >= 0 && i < this._pcount)) {
      throw new IndexOutOfRange(`pointer index ${i} is outside the pointer section (${this._pcount} pointers)`);
    }
    return this._ptrs + i * 8;
  }

  getPointer(i) { return new PointerBuilder(this._msg, this._segi, this._seg, this._ref(i)); }
  setText(i, s) { setText(this._msg, this._segi, this._seg, this._ref(i), s); }
  setData(i, b) { setData(this._msg, this._segi, this._seg, this._ref(i), b); }
  initStruct(i, dataWords, ptrCount) {
    return initStruct(this._msg, this._segi, this._seg, this._ref(i), dataWords, ptrCount);
  }
  initList(i, elementSize, count) {
    return initList(this._msg, this._segi, this._seg, this._ref(i), elementSize, count);
  }
  initStructList(i, count, dataWords, ptrCount) {
    return initStructList(this._msg, this._segi, this._seg, this._ref(i), count, dataWords, ptrCount);
  }
  setCapability(i, obj) { setCapability(this._msg, this._seg, this._ref(i), obj); }
  copyPointer(i, src) { copyHook(this._msg, this._segi, this._seg, this._ref(i), src, false); }
  clearPointer(i) { clear(this._seg, this._ref(i)); }

  toString() { return `<StructBuilder data=${this._dsize} bytes, pointers=${this._pcount}>`; }
}

// copy.mjs installs the deep copy here (it imports this module, not the reverse).
let copyHook = () => { throw new Error("polyhost/wire/copy.mjs is not loaded"); };
export function installCopy(fn) { copyHook = fn; }

// ---------------------------------------------------------------------------------------
// ListBuilder

function listOutOfRange(i, n) {
  return new IndexOutOfRange(`list index ${i} out of range (length ${n})`);
}

/** A list being written (same element model as ListReader). */
export class ListBuilder {
  constructor(msg, seg, segi, off, count, step, dbits, pcount, esize) {
    this._msg = msg;
    this._seg = seg;
    this._segi = segi;
    this._off = off;
    this._count = count;
    this._step = step;
    this._dbits = dbits;
    this._pcount = pcount;
    this._esize = esize;
  }

  get length() { return this._count; }
  len() { return this._count; }
  get elementSize() { return this._esize; }

  _at(i, bits, name) {
    if (!(i >= 0 && i < this._count)) throw listOutOfRange(i, this._count);
    if (this._step !== bits) throw new IncompatibleListElement(`${name} on a ${elementSizeName(this._esize)} list`);
    return this._off + i * (bits >>> 3);
  }

  setBool(i, v) {
    if (!(i >= 0 && i < this._count)) throw listOutOfRange(i, this._count);
    if (this._esize !== BIT) throw new IncompatibleListElement(`setBool on a ${elementSizeName(this._esize)} list`);
    const j = this._off + (i >>> 3);
    const m = 1 << (i & 7);
    const b = this._seg.getUint8(j);
    this._seg.setUint8(j, v ? b | m : b & ~m);
  }

  setInt8(i, v) {
    if ((v << 24 >> 24) !== v) throw badValue("setInt8", i, v);
    this._seg.setInt8(this._at(i, 8, "setInt8"), v);
  }
  setUint8(i, v) {
    if ((v & 0xFF) !== v) throw badValue("setUint8", i, v);
    this._seg.setUint8(this._at(i, 8, "setUint8"), v);
  }
  setInt16(i, v) {
    if ((v << 16 >> 16) !== v) throw badValue("setInt16", i, v);
    this._seg.setInt16(this._at(i, 16, "setInt16"), v, true);
  }
  setUint16(i, v) {
    if ((v & 0xFFFF) !== v) throw badValue("setUint16", i, v);
    this._seg.setUint16(this._at(i, 16, "setUint16"), v, true);
  }
  setInt32(i, v) {
    if ((v | 0) !== v) throw badValue("setInt32", i, v);
    this._seg.setInt32(this._at(i, 32, "setInt32"), v, true);
  }
  setUint32(i, v) {
    if ((v >>> 0) !== v) throw badValue("setUint32", i, v);
    this._seg.setUint32(this._at(i, 32, "setUint32"), v, true);
  }
  setFloat32(i, v) { this._seg.setFloat32(this._at(i, 32, "setFloat32"), checkFloat(v, "setFloat32", i), true); }
  setInt64(i, v) { this._seg.setBigInt64(this._at(i, 64, "setInt64"), checkInt64(v, "setInt64", i), true); }
  setUint64(i, v) { this._seg.setBigUint64(this._at(i, 64, "setUint64"), checkUint64(v, "setUint64", i), true); }
  setFloat64(i, v) { this._seg.setFloat64(this._at(i, 64, "setFloat64"), checkFloat(v, "setFloat64", i), true); }

  /**
   * Writes every element from `values` (an array or typed array of exactly `length`
   * values) as `kind` ("bool", "int8" .. "uint64", "float32", "float64").
   */
  setPrimitives(kind, values) {
    const spec = PRIMITIVE_KINDS[kind];
    if (spec === undefined) throw new WrongType(`unsupported primitive kind ${JSON.stringify(kind)}`);
    const n = this._count;
    if (values.length !== n) throw new IndexOutOfRange(`setPrimitives got ${values.length} values for a list of ${n}`);
    if (spec[1] !== this._esize) {
      throw new IncompatibleListElement(`setPrimitives(${JSON.stringify(kind)}) on a ${elementSizeName(this._esize)} list`);
    }
    const seg = this._seg;
    const off = this._off;
    let v;
    switch (kind) {
      case "bool": {
        const bytes = this._msg._bytes[this._segi];
        for (let i = 0; i < n; i += 8) {
          let acc = 0;
          const end = Math.min(8, n - i);
          for (let k = 0; k < end; k++) if (values[i + k]) acc |= 1 << k;
          bytes[off + (i >>> 3)] = acc;
        }
        return;
      }
      case "int8":
        for (let i = 0; i < n; i++) { v = values[i]; if ((v << 24 >> 24) !== v) throw badValue("setInt8", i, v); seg.setInt8(off + i, v); }
        return;
      case "uint8":
        for (let i = 0; i < n; i++) { v = values[i]; if ((v & 0xFF) !== v) throw badValue("setUint8", i, v); seg.setUint8(off + i, v); }
        return;
      case "int16":
        for (let i = 0; i < n; i++) { v = values[i]; if ((v << 16 >> 16) !== v) throw badValue("setInt16", i, v); seg.setInt16(off + 2 * i, v, true); }
        return;
      case "uint16":
        for (let i = 0; i < n; i++) { v = values[i]; if ((v & 0xFFFF) !== v) throw badValue("setUint16", i, v); seg.setUint16(off + 2 * i, v, true); }
        return;
      case "int32":
        for (let i = 0; i < n; i++) { v = values[i]; if ((v | 0) !== v) throw badValue("setInt32", i, v); seg.setInt32(off + 4 * i, v, true); }
        return;
      case "uint32":
        for (let i = 0; i < n; i++) { v = values[i]; if ((v >>> 0) !== v) throw badValue("setUint32", i, v); seg.setUint32(off + 4 * i, v, true); }
        return;
      case "float32":
        for (let i = 0; i < n; i++) seg.setFloat32(off + 4 * i, checkFloat(values[i], "setFloat32", i), true);
        return;
      case "int64":
        for (let i = 0; i < n; i++) seg.setBigInt64(off + 8 * i, checkInt64(values[i], "setInt64", i), true);
        return;
      case "uint64":
        for (let i = 0; i < n; i++) seg.setBigUint64(off + 8 * i, checkUint64(values[i], "setUint64", i), true);
        return;
      default:
        for (let i = 0; i < n; i++) seg.setFloat64(off + 8 * i, checkFloat(values[i], "setFloat64", i), true);
    }
  }

  getStruct(i) {
    if (!(i >= 0 && i < this._count)) throw listOutOfRange(i, this._count);
    if (this._esize !== INLINE_COMPOSITE) {
      throw new IncompatibleListElement(`getStruct on a ${elementSizeName(this._esize)} list`);
    }
    const start = this._off + i * (this._step >>> 3);
    const d = this._dbits >>> 3;
    return new StructBuilder(this._msg, this._seg, this._segi, start, d, start + d, this._pcount);
  }

  _ref(i) {
    if (!(i >= 0 && i < this._count)) throw listOutOfRange(i, this._count);
    if (this._esize !== POINTER) {
      throw new IncompatibleListElement(`pointer element access on a ${elementSizeName(this._esize)} list`);
    }
    return this._off + i * 8;
  }

  getPointer(i) { return new PointerBuilder(this._msg, this._segi, this._seg, this._ref(i)); }
  setText(i, s) { setText(this._msg, this._segi, this._seg, this._ref(i), s); }
  setData(i, b) { setData(this._msg, this._segi, this._seg, this._ref(i), b); }
  initList(i, elementSize, count) {
    return initList(this._msg, this._segi, this._seg, this._ref(i), elementSize, count);
  }
  initStructList(i, count, dataWords, ptrCount) {
    return initStructList(this._msg, this._segi, this._seg, this._ref(i), count, dataWords, ptrCount);
  }
  initStruct(i, dataWords, ptrCount) {
    return initStruct(this._msg, this._segi, this._seg, this._ref(i), dataWords, ptrCount);
  }
  setCapability(i, obj) { setCapability(this._msg, this._seg, this._ref(i), obj); }
  copyPointer(i, src) { copyHook(this._msg, this._segi, this._seg, this._ref(i), src, false); }

  toString() { return `<ListBuilder ${this._count} x ${elementSizeName(this._esize)}>`; }
}

// ---------------------------------------------------------------------------------------
// PointerBuilder

/** One pointer slot of a builder (root pointer, AnyPointer field or list element). */
export class PointerBuilder {
  constructor(msg, segi, seg, off) {
    this._msg = msg;
    this._segi = segi;
    this._seg = seg;
    this._off = off;
  }

  isNull() {
    return this._seg.getUint32(this._off, true) === 0 && this._seg.getUint32(this._off + 4, true) === 0;
  }
  clear() { clear(this._seg, this._off); }
  initStruct(dataWords, ptrCount) {
    return initStruct(this._msg, this._segi, this._seg, this._off, dataWords, ptrCount);
  }
  initList(elementSize, count) { return initList(this._msg, this._segi, this._seg, this._off, elementSize, count); }
  initStructList(count, dataWords, ptrCount) {
    return initStructList(this._msg, this._segi, this._seg, this._off, count, dataWords, ptrCount);
  }
  setText(s) { setText(this._msg, this._segi, this._seg, this._off, s); }
  setData(b) { setData(this._msg, this._segi, this._seg, this._off, b); }
  setCapability(obj) { setCapability(this._msg, this._seg, this._off, obj); }
  /** Deep-copies a PointerReader / StructReader / ListReader (null clears). */
  copyFrom(src) { copyHook(this._msg, this._segi, this._seg, this._off, src, false); }

  toString() { return `<PointerBuilder segment ${this._segi} word ${this._off / 8}>`; }
}
