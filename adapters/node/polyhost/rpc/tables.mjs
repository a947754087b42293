// The id tables of a connection and their entries.
//
// Owns IdTable (ids we allocate: questions, exports, embargoes; the lowest free id is
// reused, as the reference implementations do), Answer (a call the peer asked us, keyed
// by the peer's question id) and Export (a capability we exported, with the peer's
// reference count). Questions and imports live in remote.mjs.

export class IdTable {
  constructor() {
    this._slots = new Map();
    this._free = []; // a min-heap of released ids
    this._next = 0;
  }

  alloc(value) {
    let i;
    if (this._free.length) i = heapPop(this._free);
    else i = this._next++;
    this._slots.set(i, value);
    return i;
  }

  get(i) { return this._slots.get(i); }

  has(i) { return this._slots.has(i); }

  pop(i) {
    const v = this._slots.get(i);
    if (v !== undefined) {
      this._slots.delete(i);
      heapPush(this._free, i);
    }
    return v;
  }

  values() { return [...this._slots.values()]; }

  clear() {
    this._slots.clear();
    this._free = [];
    this._next = 0;
  }

  get size() { return this._slots.size; }
}

function heapPush(h, v) {
  h.push(v);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p] <= h[i]) break;
    [h[p], h[i]] = [h[i], h[p]];
    i = p;
  }
}

function heapPop(h) {
  const top = h[0];
  const last = h.pop();
  if (h.length) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l] < h[m]) m = l;
      if (r < h.length && h[r] < h[m]) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
  return top;
}

/** A call the peer asked (or its bootstrap): removed once Return is sent and Finish
 *  received. */
export class Answer {
  constructor(id) {
    this.id = id;
    this.pending = null;
    this.returnSent = false;
    this.finishReceived = false;
    this.resultExports = [];
    this.paramCaps = null;
  }
}

/** A hook we exported (we own one reference) and how many times the peer holds it. */
export class Export {
  constructor(hook, isPromise = false) {
    this.hook = hook;
    this.refcount = 1;
    this.isPromise = isPromise;
  }
}
