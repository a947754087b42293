// Resource limits applied while decoding frames and reading messages.
//
// The defaults match the reference implementation (capnp's ReaderOptions): a traversal
// limit of 8 Mi words, a nesting limit of 64, at most 512 segments, and a frame of at
// most 64 MiB of segment data.

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
 */
export class Limits {
  constructor({
    traversalWords = 8 * 1024 * 1024, nesting = 64, maxSegments = 512,
    maxMessageBytes = 64 * 1024 * 1024,
  } = {}) {
    this.traversalWords = traversalWords === null ? null : check("traversalWords", traversalWords);
    this.nesting = check("nesting", nesting);
    this.maxSegments = check("maxSegments", maxSegments);
    this.maxMessageBytes = check("maxMessageBytes", maxMessageBytes);
    Object.freeze(this);
  }

  /** The initial traversal budget in words (a huge number when unlimited). */
  traversalBudget() {
    return this.traversalWords === null ? UNLIMITED_TRAVERSAL : this.traversalWords;
  }
}

export const DEFAULT_LIMITS = new Limits();
