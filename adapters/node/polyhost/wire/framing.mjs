// The standard Cap'n Proto stream framing.
//
// A frame is: a little-endian u32 holding the segment count minus one, one u32 per
// segment holding its size in words, zero padding to a word boundary, then the segments
// in order. Owns `frame` (segments -> bytes), `readMessage` (one whole frame ->
// MessageReader) and `FrameDecoder` (an incremental decoder over a byte stream that
// checks the segment count and declared size against the limits as soon as the header
// arrives, before buffering the body).

import { Buffer } from "node:buffer";

import { MalformedFrame, MessageTooLarge, TooManySegments } from "./errors.mjs";
import { MAX_SEGMENT_WORDS } from "./layout.mjs";
import { DEFAULT_LIMITS } from "./limits.mjs";
import { MessageReader, toView } from "./reader.mjs";

/** Serialises `segments` (bytes-like, each a whole number of words) with the stream
 *  framing; returns a Buffer. */
export function frame(segments) {
  const views = segments.map((s, i) => {
    const v = toView(s);
    if (v.byteLength % 8) throw new MalformedFrame(`segment ${i} is ${v.byteLength} bytes, not a whole number of words`);
    if (v.byteLength / 8 > MAX_SEGMENT_WORDS) throw new MalformedFrame(`segment ${i} is too large to frame`);
    return v;
  });
  const n = views.length;
  if (n === 0) throw new MalformedFrame("a message needs at least one segment");
  const header = (4 + 4 * n + 7) & ~7;
  let total = header;
  for (const v of views) total += v.byteLength;
  const out = Buffer.alloc(total);
  out.writeUInt32LE(n - 1, 0);
  let pos = header;
  views.forEach((v, i) => {
    out.writeUInt32LE(v.byteLength / 8, 4 + 4 * i);
    out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), pos);
    pos += v.byteLength;
  });
  return out;
}

// Result slots of parseHeader.
let hdrBytes = 0;
let hdrSizes = null;

/** Parses a frame header at `buf[start..start+avail)`: false when more bytes are needed,
 *  else true with hdrBytes / hdrSizes (segment sizes in words) set. */
function parseHeader(dv, start, avail, limits) {
  if (avail < 4) return false;
  const count = dv.getUint32(start, true) + 1;
  if (count > limits.maxSegments) {
    throw new TooManySegments(`frame declares ${count} segments, the limit is ${limits.maxSegments}`);
  }
  const hdr = (4 + 4 * count + 7) & ~7;
  if (avail < hdr) return false;
  const sizes = new Array(count);
  let words = 0;
  for (let i = 0; i < count; i++) {
    sizes[i] = dv.getUint32(start + 4 + 4 * i, true);
    words += sizes[i];
  }
  if (words * 8 > limits.maxMessageBytes) {
    throw new MessageTooLarge(`frame declares ${words * 8} bytes of segments, the limit is ${limits.maxMessageBytes}`);
  }
  const tw = limits.traversalWords;
  if (tw !== null && words > tw) {
    throw new MessageTooLarge(`frame declares ${words} words, more than the traversal limit of ${tw}`);
  }
  hdrBytes = hdr;
  hdrSizes = sizes;
  return true;
}

function split(buffer, byteOffset, sizes) {
  const segs = new Array(sizes.length);
  let pos = byteOffset;
  for (let i = 0; i < sizes.length; i++) {
    const len = sizes[i] * 8;
    segs[i] = new DataView(buffer, pos, len);
    pos += len;
  }
  return segs;
}

function totalBytes(sizes) {
  let w = 0;
  for (const s of sizes) w += s;
  return w * 8;
}

/** Decodes exactly one framed message from `data` (bytes-like). Throws MalformedFrame
 *  when it is truncated or followed by extra bytes. The segments are views of `data`. */
export function readMessage(data, limits = null, capTable = null) {
  if (limits === null || limits === undefined) limits = DEFAULT_LIMITS;
  const dv = toView(data, "data");
  if (!parseHeader(dv, 0, dv.byteLength, limits)) {
    throw new MalformedFrame(`truncated frame header (${dv.byteLength} bytes)`);
  }
  const total = hdrBytes + totalBytes(hdrSizes);
  if (dv.byteLength < total) throw new MalformedFrame(`truncated frame: header declares ${total} bytes, got ${dv.byteLength}`);
  if (dv.byteLength > total) throw new MalformedFrame(`${dv.byteLength - total} unexpected bytes after the frame`);
  return MessageReader._fromViews(split(dv.buffer, dv.byteOffset + hdrBytes, hdrSizes), limits, capTable);
}

/**
 * Incremental decoder: `feed(chunk)` returns the MessageReaders completed by it.
 * Chunks may split frames anywhere. Limits are checked as soon as a header is complete;
 * after an error the decoder is unusable and throws again on every feed. Messages that
 * lie whole inside one chunk are views of it (no copy); a frame split across chunks is
 * assembled in a buffer of exactly its size.
 */
export class FrameDecoder {
  constructor(limits = null) {
    this.limits = limits === null || limits === undefined ? DEFAULT_LIMITS : limits;
    this._buf = null;   // the partial frame
    this._len = 0;      // bytes of _buf in use
    this._need = 0;     // total bytes of the buffered frame once its header is parsed
    this._hdr = 0;
    this._sizes = null;
    this._failed = null;
  }

  /** Bytes received but not yet part of a returned message. */
  get buffered() { return this._len; }

  /** True when no partial frame is buffered (a clean place for the stream to end). */
  atBoundary() { return this._len === 0; }

  feed(chunk) {
    if (this._failed !== null) throw new MalformedFrame(`frame decoder already failed: ${this._failed}`);
    if (!(chunk instanceof Uint8Array)) {
      const v = toView(chunk, "chunk");
      chunk = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    }
    try {
      return this._feed(chunk);
    } catch (e) {
      if (e instanceof MalformedFrame) {
        this._failed = e.message;
        this._buf = null;
        this._len = 0;
      }
      throw e;
    }
  }

  _feed(chunk) {
    const out = [];
    const limits = this.limits;
    const end = chunk.byteLength;
    let pos = 0;
    if (this._len > 0) {
      pos = this._complete(chunk, out);
      if (this._len > 0) return out;
    }
    const dv = new DataView(chunk.buffer, chunk.byteOffset, end);
    while (pos < end) {
      if (!parseHeader(dv, pos, end - pos, limits)) break;
      const total = hdrBytes + totalBytes(hdrSizes);
      if (end - pos < total) break;
      out.push(MessageReader._fromViews(split(chunk.buffer, chunk.byteOffset + pos + hdrBytes, hdrSizes), limits));
      pos += total;
    }
    if (pos < end) {
      // A partial frame: its header (when complete) was checked above.
      this._buf = new Uint8Array(Math.max(64, end - pos));
      this._take(chunk, pos, end - pos);
      this._header();
    }
    return out;
  }

  /** Appends `n` bytes of `chunk`; the buffer grows with what arrives (doubling, up to
   *  the frame's size), never to what a header merely declares. */
  _take(chunk, pos, n) {
    if (this._len + n > this._buf.length) {
      let size = Math.max(this._len + n, this._buf.length * 2);
      if (this._need) size = Math.min(size, this._need);
      const next = new Uint8Array(size);
      next.set(this._buf.subarray(0, this._len));
      this._buf = next;
    }
    this._buf.set(chunk.subarray(pos, pos + n), this._len);
    this._len += n;
  }

  /** Parses the buffered header when it is complete; sizes the buffer to the frame. */
  _header() {
    if (this._need) return;
    const dv = new DataView(this._buf.buffer, this._buf.byteOffset, this._len);
    if (!parseHeader(dv, 0, this._len, this.limits)) return;
    this._hdr = hdrBytes;
    this._sizes = hdrSizes;
    this._need = hdrBytes + totalBytes(hdrSizes);
  }

  /** Feeds the buffered frame from the start of `chunk`, never past its end; emits it
   *  when complete. Returns how many bytes of `chunk` were used. */
  _complete(chunk, out) {
    const end = chunk.byteLength;
    let pos = 0;
    while (!this._need && pos < end) {
      // Bytes up to the end of the header: 4, then the whole segment table.
      let want = 4;
      if (this._len >= 4) {
        const count = new DataView(this._buf.buffer, this._buf.byteOffset).getUint32(0, true) + 1;
        if (count > this.limits.maxSegments) this._header(); // throws TooManySegments
        want = (4 + 4 * count + 7) & ~7;
      }
      const n = Math.min(want - this._len, end - pos);
      this._take(chunk, pos, n);
      pos += n;
      this._header();
    }
    if (!this._need) return pos;
    const n = Math.min(this._need - this._len, end - pos);
    if (n > 0) {
      this._take(chunk, pos, n);
      pos += n;
    }
    if (this._len === this._need) {
      // The buffer is exactly the frame unless it was allocated before the header.
      const frameBuf = this._buf.length === this._need ? this._buf : this._buf.slice(0, this._need);
      out.push(MessageReader._fromViews(split(frameBuf.buffer, this._hdr, this._sizes), this.limits));
      this._buf = null;
      this._len = 0;
      this._need = 0;
      this._sizes = null;
    }
    return pos;
  }
}
