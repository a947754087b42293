// Support code for generated modules (`*_capnp.mjs`), imported as `$gen`.
//
// Owns what generated struct and interface code calls but does not spell out inline:
// list readers and writers per element type, Codec objects (how a value travels in one
// pointer slot: generic arguments, Sink items, pointer constants), enum objects, struct
// conversion of plain objects, AnyPointer and capability fields, pointer and Data
// defaults decoded once per process. It depends on polyhost/wire only, so rpc_capnp.mjs
// can use it; the RPC layer installs what capabilities need (`install`) when it loads.

import * as wire from "./wire/index.mjs";

/** Passed to a generated constructor by `$read`: leave the fields to the reader. */
export const READING = Symbol("polyhost.reading");
/** The init object of a constructor called without one. */
export const EMPTY = Object.freeze({});
export const EMPTY_BYTES = wire.EMPTY_BYTES;

// Set by polyhost/rpc when it loads: { Capability, Server, RpcError, ExceptionType }.
let rt = null;

/** Called by polyhost/rpc/index.mjs (generated code never needs it). */
export function install(runtime) {
  rt = runtime;
}

function runtime() {
  if (rt === null) throw new Error("polyhost/rpc is not loaded (import it before using capabilities)");
  return rt;
}

// ---------------------------------------------------------------------------------------
// Enums and scalar conversions

/** A frozen enum object: `members` plus non-enumerable `$typeId` and `$names`
 *  (value -> name). An unknown value read from the wire stays the plain number. */
export function enumOf(members, typeId) {
  const names = [];
  for (const [k, v] of Object.entries(members)) names[v] = k;
  Object.defineProperty(members, "$typeId", { value: typeId });
  Object.defineProperty(members, "$names", { value: Object.freeze(names) });
  return Object.freeze(members);
}

/** An Int64/UInt64 field value: numbers become BigInts (range is checked on write). */
export function big(v) {
  return typeof v === "bigint" || typeof v !== "number" || !Number.isInteger(v) ? v : BigInt(v);
}

/** A struct field value: null stays null, an instance of `cls` stays, a plain object of
 *  its fields becomes `new cls(obj)`. */
export function struct(v, cls) {
  if (v === null || v === undefined) return null;
  return v instanceof cls ? v : new cls(v);
}

const BYTES = new Map();

/** A Data default from its decimal byte list ("222, 173"): a fresh copy per call (the
 *  empty default is the shared, immutable EMPTY_BYTES). */
export function bytes(decimals) {
  if (decimals === "") return EMPTY_BYTES;
  let b = BYTES.get(decimals);
  if (b === undefined) {
    b = Uint8Array.from(decimals.split(",").map((x) => Number(x.trim())));
    BYTES.set(decimals, b);
  }
  return b.slice();
}

/** Byte-wise equality of two Data values (null equals the empty value). */
export function bytesEqual(a, b) {
  const n = a == null ? 0 : a.length;
  if (n !== (b == null ? 0 : b.length)) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------
// Lists: `read(listReader) -> array` and `write(builder, index, values)`

function primitive(kind, es) {
  return [
    (lr) => lr.primitives(kind),
    (b, i, values) => b.initList(i, es, values.length).setPrimitives(kind, values),
  ];
}

export const [readBools, writeBools] = primitive("bool", wire.BIT);
export const [readI8, writeI8] = primitive("int8", wire.BYTE);
export const [readI16, writeI16] = primitive("int16", wire.TWO_BYTES);
export const [readI32, writeI32] = primitive("int32", wire.FOUR_BYTES);
export const [readI64, writeI64] = primitive("int64", wire.EIGHT_BYTES);
export const [readU8, writeU8] = primitive("uint8", wire.BYTE);
export const [readU16, writeU16] = primitive("uint16", wire.TWO_BYTES);
export const [readU32, writeU32] = primitive("uint32", wire.FOUR_BYTES);
export const [readU64, writeU64] = primitive("uint64", wire.EIGHT_BYTES);
export const [readF32, writeF32] = primitive("float32", wire.FOUR_BYTES);
export const [readF64, writeF64] = primitive("float64", wire.EIGHT_BYTES);

export function readVoids(lr) {
  return new Array(lr.length).fill(null);
}

export function writeVoids(b, i, values) {
  b.initList(i, wire.VOID, values.length);
}

export function readTexts(lr) {
  const n = lr.length;
  const out = new Array(n);
  for (let j = 0; j < n; j++) out[j] = lr.getText(j);
  return out;
}

export function writeTexts(b, i, values) {
  const lb = b.initList(i, wire.POINTER, values.length);
  for (let j = 0; j < values.length; j++) if (values[j] != null) lb.setText(j, values[j]);
}

export function readDatas(lr) {
  const n = lr.length;
  const out = new Array(n);
  for (let j = 0; j < n; j++) out[j] = lr.getData(j);
  return out;
}

export function writeDatas(b, i, values) {
  const lb = b.initList(i, wire.POINTER, values.length);
  for (let j = 0; j < values.length; j++) if (values[j] != null) lb.setData(j, values[j]);
}

export function readPointers(lr) {
  const n = lr.length;
  const out = new Array(n);
  for (let j = 0; j < n; j++) out[j] = lr.getPointer(j);
  return out;
}

export function writePointers(b, i, values) {
  const lb = b.initList(i, wire.POINTER, values.length);
  for (let j = 0; j < values.length; j++) writeAny(lb, j, values[j]);
}

/** Reader of a list of lists whose inner lists have element size `es`. */
export function listsReader(es, read) {
  return (lr) => {
    const n = lr.length;
    const out = new Array(n);
    for (let j = 0; j < n; j++) out[j] = read(lr.getList(j, es));
    return out;
  };
}

export function listsWriter(es, write) {
  return (b, i, values) => {
    const lb = b.initList(i, wire.POINTER, values.length);
    for (let j = 0; j < values.length; j++) if (values[j] != null) write(lb, j, values[j]);
  };
}

export function capsReader(cls) {
  return (lr) => {
    const n = lr.length;
    const out = new Array(n);
    for (let j = 0; j < n; j++) out[j] = typedCap(lr.getCapability(j), cls);
    return out;
  };
}

export function writeCaps(b, i, values) {
  const lb = b.initList(i, wire.POINTER, values.length);
  for (let j = 0; j < values.length; j++) if (values[j] != null) lb.setCapability(j, asClient(values[j], null));
}

/** `read` (a struct class's `$readList`) with generic arguments `a` bound. */
export function bindRead(read, a) {
  return a === undefined ? read : (lr) => read(lr, a);
}

export function bindWrite(write, a) {
  return a === undefined ? write : (b, i, values) => write(b, i, values, a);
}

/** The body of a struct class's `$readList`. */
export function readStructs(cls, lr, a) {
  const n = lr.length;
  const out = new Array(n);
  for (let j = 0; j < n; j++) out[j] = cls.$read(lr.getStruct(j), a);
  return out;
}

/** The body of a struct class's `$writeList`: plain objects are converted, null
 *  elements stay all-default. */
export function writeStructs(cls, b, i, values, a) {
  const lb = b.initStructList(i, values.length, cls.$dataWords, cls.$ptrCount);
  for (let j = 0; j < values.length; j++) {
    const v = values[j];
    if (v != null) (v instanceof cls ? v : new cls(v)).$write(lb.getStruct(j), a);
  }
}

// ---------------------------------------------------------------------------------------
// Codecs: one type in one pointer slot (generic arguments, Sink items, constants)

/**
 * How values of one pointer type travel in a pointer slot: `read(pointerReader)` and
 * `write(builder, index, value)` for one value; `es` (the element size of a list of
 * them), `readList` and `writeList` for a list of them (a Sink batch is such a list).
 */
export class Codec {
  constructor(es, readList, writeList) {
    this.es = es;
    this.readList = readList;
    this.writeList = writeList;
  }

  read(p) { return p; }

  write(b, i, v) { writeAny(b, i, v); }
}

class TextCodec extends Codec {
  read(p) { return p == null ? "" : p.asText(); }
  write(b, i, v) { if (v != null) b.setText(i, v); }
}

class DataCodec extends Codec {
  read(p) { return p == null ? EMPTY_BYTES : p.asData(); }
  write(b, i, v) { if (v != null) b.setData(i, v); }
}

export const TEXT = new TextCodec(wire.POINTER, readTexts, writeTexts);
export const DATA = new DataCodec(wire.POINTER, readDatas, writeDatas);
export const ANY = new Codec(wire.POINTER, readPointers, writePointers);

/** A generated struct class (with the codecs of its generic arguments, if any). */
export class StructCodec extends Codec {
  constructor(cls, a) {
    super(wire.INLINE_COMPOSITE, bindRead((lr, aa) => cls.$readList(lr, aa), a),
      bindWrite((b, i, values, aa) => cls.$writeList(b, i, values, aa), a));
    this.cls = cls;
    this.args = a;
  }

  read(p) {
    if (p == null) return new this.cls();
    return this.cls.$read(p.asStruct(), this.args);
  }

  write(b, i, v) {
    if (v == null) return;
    const cls = this.cls;
    struct(v, cls).$write(b.initStruct(i, cls.$dataWords, cls.$ptrCount), this.args);
  }
}

/** A list type, from its element's element size, list reader and list writer. */
export class ListCodec extends Codec {
  constructor(elemEs, readElems, writeElems) {
    super(wire.POINTER, listsReader(elemEs, readElems), listsWriter(elemEs, writeElems));
    this.elemEs = elemEs;
    this.readElems = readElems;
    this.writeElems = writeElems;
  }

  read(p) { return p == null ? [] : this.readElems(p.asList(this.elemEs)); }

  write(b, i, v) { if (v != null) this.writeElems(b, i, v); }
}

/** An interface type, read as its typed client class. */
export class CapCodec extends Codec {
  constructor(cls) {
    super(wire.POINTER, capsReader(cls), writeCaps);
    this.cls = cls;
  }

  read(p) { return p == null ? null : typedCap(p.asCapability(), this.cls); }

  write(b, i, v) { if (v != null) b.setCapability(i, asClient(v, this.cls)); }
}

/** Generic argument `index` of a struct being read or written (ANY when the struct is
 *  used without arguments: the field is then a PointerReader). */
export function arg(a, index) {
  return a !== undefined && index < a.length ? a[index] : ANY;
}

// ---------------------------------------------------------------------------------------
// Pointer fields

const DEFAULTS = new Map();

/** The root of a canonical single-segment message given in hex (a schema's struct or
 *  list default), decoded once per process. */
export function pointer(hex) {
  let p = DEFAULTS.get(hex);
  if (p === undefined) {
    const b = new Uint8Array(hex.length / 2);
    for (let i = 0; i < b.length; i++) b[i] = parseInt(hex.substr(2 * i, 2), 16);
    p = new wire.MessageReader([b], new wire.Limits({ traversalWords: null })).rootPointer();
    DEFAULTS.set(hex, p);
  }
  return p;
}

/** Writes an AnyPointer value: null (null pointer), a reader (deep copy), an object with
 *  `$writePointer(builder, index)`, or a generated struct instance. */
export function writeAny(b, i, v) {
  if (v == null) return;
  if (v instanceof wire.PointerReader || v instanceof wire.StructReader || v instanceof wire.ListReader) {
    b.copyPointer(i, v);
  } else if (typeof v.$writePointer === "function") {
    v.$writePointer(b, i);
  } else if (typeof v.$write === "function" && v.constructor.$dataWords !== undefined) {
    const c = v.constructor;
    v.$write(b.initStruct(i, c.$dataWords, c.$ptrCount));
  } else {
    throw new wire.WrongType(`cannot write ${v?.constructor?.name ?? typeof v} into an AnyPointer`);
  }
}

/** A capability read from a message, as the typed client `cls` (a new reference to the
 *  same capability: the message's own reference ends with the call that carried it);
 *  values that are not capabilities are returned as they are. */
export function typedCap(obj, cls) {
  if (obj == null) return null;
  return typeof obj.castAs === "function" ? obj.castAs(cls ?? obj.constructor) : obj;
}

/** A capability field's value: a Server object becomes a client of it (a local
 *  capability), a capability of another class is cast to `cls`; null stays null. */
export function asClient(obj, cls) {
  if (obj == null) return null;
  if (cls !== null && obj instanceof cls) return obj;
  const { Capability, Server } = runtime();
  const c = cls === null ? Capability : cls;
  if (obj instanceof Capability) return obj instanceof c ? obj : obj.castAs(c);
  if (obj instanceof Server) return new c(obj);
  return obj;
}

export function asClients(values, cls) {
  return values == null ? null : values.map((v) => asClient(v, cls));
}

// ---------------------------------------------------------------------------------------
// Servers

/** The error a server base class's default method throws (the caller sees
 *  `unimplemented`). */
export function unimplemented(server, method) {
  const { RpcError, ExceptionType } = runtime();
  return new RpcError(`${server.constructor.name} does not implement ${method}`, ExceptionType.UNIMPLEMENTED);
}
