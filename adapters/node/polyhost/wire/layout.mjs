// Constants of the Cap'n Proto wire layout.
//
// Owns the element-size codes (VOID .. INLINE_COMPOSITE), the pointer kinds, the
// per-element-size bit widths, the primitive kinds of the bulk list accessors, and the
// scratch views used to move float bits, so every other module shares one definition.

// Element sizes of list pointers (encoding spec: 0..7).
export const VOID = 0;
export const BIT = 1;
export const BYTE = 2;
export const TWO_BYTES = 3;
export const FOUR_BYTES = 4;
export const EIGHT_BYTES = 5;
export const POINTER = 6;
export const INLINE_COMPOSITE = 7;

export const ELEMENT_SIZE_NAMES = Object.freeze([
  "VOID", "BIT", "BYTE", "TWO_BYTES", "FOUR_BYTES", "EIGHT_BYTES", "POINTER", "INLINE_COMPOSITE",
]);

/** Data bits, pointer count and step (bits) of one element, by element size. */
export const DATA_BITS = Object.freeze([0, 1, 8, 16, 32, 64, 0, 0]);
export const POINTERS = Object.freeze([0, 0, 0, 0, 0, 0, 1, 0]);
export const STEP_BITS = Object.freeze([0, 1, 8, 16, 32, 64, 64, 0]);

export const MAX_LIST_COUNT = 2 ** 29 - 1;
export const MAX_SEGMENT_WORDS = 2 ** 29 - 1;

/**
 * Primitive kinds accepted by ListReader.primitives / ListBuilder.setPrimitives:
 * kind -> [bytes per element, element size].
 */
export const PRIMITIVE_KINDS = Object.freeze({
  bool: [0, BIT], int8: [1, BYTE], uint8: [1, BYTE], int16: [2, TWO_BYTES],
  uint16: [2, TWO_BYTES], int32: [4, FOUR_BYTES], uint32: [4, FOUR_BYTES],
  float32: [4, FOUR_BYTES], int64: [8, EIGHT_BYTES], uint64: [8, EIGHT_BYTES],
  float64: [8, EIGHT_BYTES],
});

export function elementSizeName(es) {
  return Number.isInteger(es) && es >= 0 && es < 8 ? ELEMENT_SIZE_NAMES[es] : String(es);
}

// Scratch space for float <-> bits conversions (XOR-encoded float defaults).
const SCRATCH = new DataView(new ArrayBuffer(8));

/** IEEE-754 bits of `value` as a float32 (an unsigned 32-bit number). */
export function float32Bits(value) {
  SCRATCH.setFloat32(0, value, true);
  return SCRATCH.getUint32(0, true);
}

/** IEEE-754 bits of `value` as a float64 (an unsigned 64-bit BigInt). */
export function float64Bits(value) {
  SCRATCH.setFloat64(0, value, true);
  return SCRATCH.getBigUint64(0, true);
}

export function float32FromBits(bits) {
  SCRATCH.setUint32(0, bits >>> 0, true);
  return SCRATCH.getFloat32(0, true);
}

export function float64FromBits(bits) {
  SCRATCH.setBigUint64(0, BigInt.asUintN(64, bits), true);
  return SCRATCH.getFloat64(0, true);
}

/** True when a float default is not +0.0 (so the field is XOR-encoded). */
export function floatDefaultIsSet(d) {
  return d !== 0 || Object.is(d, -0);
}

export const EMPTY_VIEW = new DataView(new ArrayBuffer(0));
