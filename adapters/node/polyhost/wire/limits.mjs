// Resource limits applied while decoding frames and reading messages.
//
// The defaults match the reference implementation (capnp's ReaderOptions): a traversal
// limit of 8 Mi words, a nesting limit of 64, at most 512 segments, and a frame of at
// most 64 MiB of segment data. One limit is polyhost's own: at most 64 Ki elements of
// lists of zero-sized structs per message. They take no bytes on the wire, so the
// traversal limit alone let a 32-byte frame claim 8 Mi of them, each decoded into an
// object. A List(Void) element decodes to one reference (8 bytes) and counts 1/16, so
// a message holds at most 1 Mi of them.

/** Budget used when the traversal limit is disabled (`traversalWords: null`). */
export const UNLIMITED_TRAVERSAL = Number.MAX_SAFE_INTEGER;

function check(name, value) {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

/**
 * Limits for one reader / frame decoder.
 * - `traversalWords`: words a MessageReader may read in total (each struct, list, text,
 *   data and far landing pad read counts its size; zero-sized list elements count one
 *   word each); `null` disables the limit.
 * - `nesting`: how deep struct/list pointers may nest.
 * - `maxSegments`: most segments a message may have.
 * - `maxMessageBytes`: most bytes of segment data one frame may declare.
 * - `zeroSizedStructs`: most zero-sized struct list elements a MessageReader may read in total
 *   (beyond the traversal words they also count); `null` disables the limit.
 */
export class Limits {
  constructor({
    traversalWords = 8 * 1024 * 1024, nesting = 64, maxSegments = 512,
    maxMessageBytes = 64 * 1024 * 1024, zeroSizedStructs = 64 * 1024,
  } = {}) {
    this.traversalWords = traversalWords === null ? null : check("traversalWords", traversalWords);
    this.nesting = check("nesting", nesting);
    this.maxSegments = check("maxSegments", maxSegments);
    this.maxMessageBytes = check("maxMessageBytes", maxMessageBytes);
    this.zeroSizedStructs = zeroSizedStructs === null ? null : check("zeroSizedStructs", zeroSizedStructs);
    Object.freeze(this);
  }

  /** The initial traversal budget in words (a huge number when unlimited). */
  traversalBudget() {
    return this.traversalWords === null ? UNLIMITED_TRAVERSAL : this.traversalWords;
  }

  /** The initial zero-sized struct budget (a huge number when unlimited). */
  zeroSizedBudget() {
    return this.zeroSizedStructs === null ? UNLIMITED_TRAVERSAL : this.zeroSizedStructs;
  }
}

export const DEFAULT_LIMITS = new Limits();
